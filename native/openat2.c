/*
 * Paths inside a container root, resolved by the kernel: openat2(2) with RESOLVE_IN_ROOT makes "/" and ".." stop
 * at the directory fd given, for symlinks too, so a container cannot swap in a link that leads the daemon out of
 * its root between a check and a use (CVE-2018-15664). The other *at calls act on one name in a directory fd and
 * never follow a final symlink, so a whole operation stays below a directory that was opened safely.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "berth.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static bool get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) == napi_ok) return true;
  bad_arg(env);
  return false;
}

static bool get_uint(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) == napi_ok) return true;
  bad_arg(env);
  return false;
}

static napi_value Openat2(napi_env env, napi_callback_info info) { /* (dirfd, path, flags, mode, resolve) -> fd */
  napi_value argv[5];
  char path[PATH_MAX];
  int32_t dirfd, flags;
  uint32_t mode, resolve;
  if (!get_args(env, info, 5, argv) || !get_int(env, argv[0], &dirfd) ||
      !get_str(env, argv[1], path, sizeof path, "openat2") || !get_int(env, argv[2], &flags) ||
      !get_uint(env, argv[3], &mode) || !get_uint(env, argv[4], &resolve)) return NULL;
  struct open_how how = { .flags = (uint64_t)(uint32_t)flags | O_CLOEXEC, .resolve = resolve };
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) how.mode = mode; /* else openat2 wants 0 */
  long fd;
  int tries = 0;
  /* EAGAIN: a rename elsewhere raced the in-root walk; the kernel asks to retry. */
  do fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 64)));
  return fd < 0 ? throw_errno(env, errno, "openat2", path) : int_value(env, fd);
}

static napi_value Mkdirat(napi_env env, napi_callback_info info) { /* (dirfd, name, mode) */
  napi_value argv[3];
  char name[PATH_MAX];
  int32_t dirfd;
  uint32_t mode;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &dirfd) ||
      !get_str(env, argv[1], name, sizeof name, "mkdirat") || !get_uint(env, argv[2], &mode)) return NULL;
  if (mkdirat(dirfd, name, mode) < 0) return throw_errno(env, errno, "mkdirat", name);
  return NULL;
}

static napi_value Symlinkat(napi_env env, napi_callback_info info) { /* (target, dirfd, name) */
  napi_value argv[3];
  char target[PATH_MAX], name[PATH_MAX];
  int32_t dirfd;
  if (!get_args(env, info, 3, argv) || !get_str(env, argv[0], target, sizeof target, "symlinkat") ||
      !get_int(env, argv[1], &dirfd) || !get_str(env, argv[2], name, sizeof name, "symlinkat")) return NULL;
  if (symlinkat(target, dirfd, name) < 0) return throw_errno(env, errno, "symlinkat", name);
  return NULL;
}

/* flags 0: a symlink at the old name is linked itself, never followed. */
static napi_value Linkat(napi_env env, napi_callback_info info) { /* (olddirfd, oldname, newdirfd, newname) */
  napi_value argv[4];
  char oldname[PATH_MAX], newname[PATH_MAX];
  int32_t olddirfd, newdirfd;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &olddirfd) ||
      !get_str(env, argv[1], oldname, sizeof oldname, "linkat") || !get_int(env, argv[2], &newdirfd) ||
      !get_str(env, argv[3], newname, sizeof newname, "linkat")) return NULL;
  if (linkat(olddirfd, oldname, newdirfd, newname, 0) < 0) return throw_errno(env, errno, "linkat", newname);
  return NULL;
}

static napi_value Unlinkat(napi_env env, napi_callback_info info) { /* (dirfd, name, isDir) */
  napi_value argv[3];
  char name[PATH_MAX];
  int32_t dirfd;
  bool dir;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &dirfd) ||
      !get_str(env, argv[1], name, sizeof name, "unlinkat")) return NULL;
  CHECK(napi_get_value_bool(env, argv[2], &dir));
  if (unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) < 0) return throw_errno(env, errno, "unlinkat", name);
  return NULL;
}

static napi_value Fchownat(napi_env env, napi_callback_info info) { /* (dirfd, name, uid, gid): never follows */
  napi_value argv[4];
  char name[PATH_MAX];
  int32_t dirfd;
  uint32_t uid, gid;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &dirfd) ||
      !get_str(env, argv[1], name, sizeof name, "fchownat") || !get_uint(env, argv[2], &uid) ||
      !get_uint(env, argv[3], &gid)) return NULL;
  if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) return throw_errno(env, errno, "fchownat", name);
  return NULL;
}

/* glibc does AT_SYMLINK_NOFOLLOW through an O_PATH fd: EOPNOTSUPP for a symlink, whose mode Linux cannot change. */
static napi_value Fchmodat(napi_env env, napi_callback_info info) { /* (dirfd, name, mode): never follows */
  napi_value argv[3];
  char name[PATH_MAX];
  int32_t dirfd;
  uint32_t mode;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &dirfd) ||
      !get_str(env, argv[1], name, sizeof name, "fchmodat") || !get_uint(env, argv[2], &mode)) return NULL;
  if (fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) < 0) return throw_errno(env, errno, "fchmodat", name);
  return NULL;
}

static struct timespec to_timespec(double seconds) {
  double whole = floor(seconds);
  return (struct timespec){ .tv_sec = (time_t)whole, .tv_nsec = (long)((seconds - whole) * 1e9) };
}

static napi_value Utimensat(napi_env env, napi_callback_info info) { /* (dirfd, name, atime, mtime) in s: never follows */
  napi_value argv[4];
  char name[PATH_MAX];
  int32_t dirfd;
  double atime, mtime;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &dirfd) ||
      !get_str(env, argv[1], name, sizeof name, "utimensat")) return NULL;
  CHECK(napi_get_value_double(env, argv[2], &atime));
  CHECK(napi_get_value_double(env, argv[3], &mtime));
  struct timespec ts[2] = { to_timespec(atime), to_timespec(mtime) };
  if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0) return throw_errno(env, errno, "utimensat", name);
  return NULL;
}

void register_openat2(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    {"openat2", Openat2},   {"mkdirat", Mkdirat},   {"symlinkat", Symlinkat}, {"linkat", Linkat},
    {"unlinkat", Unlinkat}, {"fchownat", Fchownat}, {"fchmodat", Fchmodat},   {"utimensat", Utimensat},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}
