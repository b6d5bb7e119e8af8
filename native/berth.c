/*
 * berth_native: the few syscalls Node 20 has no API for.
 *   mknod, lsetxattr, lgetxattr, llistxattr  -> overlay whiteouts (char 0/0) and opaque dirs (trusted.overlay.opaque)
 *   mount (overlay), umount2                 -> container root filesystems without spawning mount(8) (~5 ms each)
 *   SOCK_SEQPACKET unix sockets              -> conmon's attach socket
 *   flock                                    -> one berthd per data root (the lock dies with the process)
 *   sd_notify, FD_CLOEXEC (service.c)        -> running as a systemd service with socket activation
 *
 * Socket reads use a uv_poll handle on the fd, driven by the loop of the thread that owns the JS environment: no
 * extra thread, no locking, callbacks arrive like any other I/O, and each recv() returns exactly one packet, which is
 * the framing conmon uses. (A reader thread + napi_threadsafe_function would cost a thread per socket, a copy per
 * hop and a way to wake a blocked recv() on close.) The JS side decides when to poll (backpressure) and sends with
 * MSG_DONTWAIT, polling for writability on EAGAIN.
 *
 * Errors are thrown like Node's own: Error with .code ('ENOENT'), .errno (negative), .syscall and, when known, .path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "berth.h"

/* ---------- argument and error helpers ---------- */

/* A failed napi call may or may not have left an exception pending (napi_string_expected does not): ensure one is. */
napi_value bad_arg(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, NULL, "berth_native: invalid argument");
  return NULL;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  char msg[PATH_MAX + 256];
  const char *name = strerrorname_np(err);
  napi_value code, text, error, num;
  if (name == NULL) name = "EUNKNOWN";
  if (path) snprintf(msg, sizeof msg, "%s: %s, %s '%s'", name, strerror(err), syscall, path);
  else snprintf(msg, sizeof msg, "%s: %s, %s", name, strerror(err), syscall);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  set_str(env, error, "syscall", syscall);
  if (path) set_str(env, error, "path", path);
  return error;
}

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, errno_error(env, err, syscall, path));
  return NULL;
}

bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= n) return true;
  napi_throw_type_error(env, NULL, "berth_native: missing arguments");
  return false;
}

/* Copies a JS string into buf; throws (and returns false) if it is not a string, too long, or holds a NUL byte. */
bool get_str(napi_env env, napi_value v, char *buf, size_t size, const char *syscall) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) { bad_arg(env); return false; }
  if (len >= size) { throw_errno(env, ENAMETOOLONG, syscall, NULL); return false; }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  if (strlen(buf) != len) { napi_throw_type_error(env, NULL, "berth_native: string contains a NUL byte"); return false; }
  return true;
}

napi_value int_value(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

/* ---------- mknod and xattrs (never follow a final symlink) ---------- */

static napi_value Mknod(napi_env env, napi_callback_info info) { /* (path, mode, major, minor) */
  napi_value argv[4];
  char path[PATH_MAX];
  uint32_t mode, major, minor;
  if (!get_args(env, info, 4, argv) || !get_str(env, argv[0], path, sizeof path, "mknod")) return NULL;
  CHECK(napi_get_value_uint32(env, argv[1], &mode));
  CHECK(napi_get_value_uint32(env, argv[2], &major));
  CHECK(napi_get_value_uint32(env, argv[3], &minor));
  if (mknod(path, mode, makedev(major, minor)) < 0) return throw_errno(env, errno, "mknod", path);
  return NULL;
}

static napi_value Setxattr(napi_env env, napi_callback_info info) { /* (path, name, Buffer) */
  napi_value argv[3];
  char path[PATH_MAX], name[XATTR_NAME_MAX + 1];
  void *data;
  size_t len;
  if (!get_args(env, info, 3, argv) || !get_str(env, argv[0], path, sizeof path, "lsetxattr") ||
      !get_str(env, argv[1], name, sizeof name, "lsetxattr")) return NULL;
  CHECK(napi_get_buffer_info(env, argv[2], &data, &len));
  if (lsetxattr(path, name, data, len, 0) < 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

static napi_value MountOverlay(napi_env env, napi_callback_info info) { /* (target, options) */
  napi_value argv[2];
  char target[PATH_MAX], options[4096];
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], target, sizeof target, "mount") ||
      !get_str(env, argv[1], options, sizeof options, "mount")) return NULL;
  if (mount("overlay", target, "overlay", 0, options) < 0) return throw_errno(env, errno, "mount", target);
  return NULL;
}

static napi_value Umount(napi_env env, napi_callback_info info) { /* (target, detach) */
  napi_value argv[2];
  char target[PATH_MAX];
  bool detach;
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], target, sizeof target, "umount2")) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &detach));
  if (umount2(target, detach ? MNT_DETACH : 0) < 0) return throw_errno(env, errno, "umount2", target);
  return NULL;
}

/* Never blocks the loop: callers pass LOCK_NB (checked on the JS side); EWOULDBLOCK is thrown as an error. */
static napi_value Flock(napi_env env, napi_callback_info info) { /* (fd, op) */
  napi_value argv[2];
  int32_t fd, op;
  if (!get_args(env, info, 2, argv)) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &op));
  if (flock(fd, op) < 0) return throw_errno(env, errno, "flock", NULL);
  return NULL;
}

/* Size query, then read; retried if the value grew in between (ERANGE). */
static napi_value Getxattr(napi_env env, napi_callback_info info) { /* (path, name) -> Buffer | undefined */
  napi_value argv[2], result;
  char path[PATH_MAX], name[XATTR_NAME_MAX + 1];
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], path, sizeof path, "lgetxattr") ||
      !get_str(env, argv[1], name, sizeof name, "lgetxattr")) return NULL;
  for (;;) {
    ssize_t size = lgetxattr(path, name, NULL, 0), got = -1;
    char *buf = size < 0 ? NULL : malloc(size + 1);
    if (buf) got = lgetxattr(path, name, buf, size);
    int err = errno; /* ENOMEM if malloc failed */
    if (got >= 0) napi_create_buffer_copy(env, got, buf, NULL, &result);
    free(buf);
    if (got >= 0) return result;
    if (err == ENODATA) return NULL; /* undefined */
    if (err != ERANGE) return throw_errno(env, err, "lgetxattr", path);
  }
}

static napi_value Listxattr(napi_env env, napi_callback_info info) { /* (path) -> string[] */
  napi_value argv[1], list, name;
  char path[PATH_MAX];
  if (!get_args(env, info, 1, argv) || !get_str(env, argv[0], path, sizeof path, "llistxattr")) return NULL;
  for (;;) {
    ssize_t size = llistxattr(path, NULL, 0), got = -1;
    char *buf = size < 0 ? NULL : malloc(size + 1);
    if (buf) got = llistxattr(path, buf, size);
    int err = errno;
    if (got >= 0) {
      uint32_t n = 0;
      napi_create_array(env, &list);
      for (char *p = buf; p < buf + got; p += strlen(p) + 1) { /* NUL-separated names */
        napi_create_string_utf8(env, p, NAPI_AUTO_LENGTH, &name);
        napi_set_element(env, list, n++, name);
      }
    }
    free(buf);
    if (got >= 0) return list;
    if (err != ERANGE) return throw_errno(env, err, "llistxattr", path);
  }
}

/* ---------- SOCK_SEQPACKET sockets ---------- */

enum { EV_DATA = 1, EV_EOF = 2, EV_WRITABLE = 3, EV_ERROR = 4 }; /* first argument of the JS onEvent callback */

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref on_event;
  napi_async_context async;
  int fd;
  int events;            /* UV_READABLE | UV_WRITABLE currently polled for */
  bool closed;           /* fd closed, uv handle closing */
  bool uv_gone, js_gone; /* the struct is freed once both the uv handle and the JS external are gone */
} sock_t;

static void free_if_unused(sock_t *s) {
  if (s->uv_gone && s->js_gone) free(s);
}

static void on_uv_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  s->uv_gone = true;
  free_if_unused(s);
}

/* uv_close stops polling at once, so closing the fd right after is safe (libuv docs, uv_poll_t). */
static void sock_close(sock_t *s, bool release_js) {
  if (s->closed) return;
  s->closed = true;
  uv_close((uv_handle_t *)&s->poll, on_uv_closed);
  close(s->fd);
  if (release_js) {
    napi_delete_reference(s->env, s->on_event);
    napi_async_destroy(s->env, s->async);
  }
}

/* Only reached before close at env teardown: the JS callback (which holds the external) is a strong reference. */
static void sock_finalize(napi_env env, void *data, void *hint) {
  sock_t *s = data;
  sock_close(s, false);
  s->js_gone = true;
  free_if_unused(s);
}

static void on_poll(uv_poll_t *h, int status, int events);

static int poll_set(sock_t *s, int events) {
  s->events = events;
  return events ? uv_poll_start(&s->poll, events, on_poll) : uv_poll_stop(&s->poll);
}

/* Calls onEvent(kind, arg) from libuv: make_callback runs microtasks/nextTicks after it, like Node's own I/O. */
static void emit(sock_t *s, int kind, napi_value arg) {
  napi_env env = s->env;
  napi_value cb, global, argv[2], result, exception;
  napi_get_reference_value(env, s->on_event, &cb);
  napi_get_global(env, &global); /* make_callback needs an object receiver */
  napi_create_int32(env, kind, &argv[0]);
  if (arg) argv[1] = arg;
  else napi_get_undefined(env, &argv[1]);
  if (napi_make_callback(env, s->async, global, cb, 2, argv, &result) == napi_pending_exception) {
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception); /* no JS caller to throw to: becomes 'uncaughtException' */
  }
}

/* One callback per packet until the socket is drained, or JS pauses (backpressure) or closes it. */
static void read_packets(sock_t *s) {
  char buf[65536]; /* conmon sends at most 1 + 8192 bytes per packet */
  for (int i = 0; i < 64 && !s->closed && (s->events & UV_READABLE); i++) {
    ssize_t n = recv(s->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      napi_value err = n < 0 ? errno_error(s->env, errno, "recv", NULL) : NULL;
      poll_set(s, s->events & ~UV_READABLE);
      emit(s, n < 0 ? EV_ERROR : EV_EOF, err);
      return;
    }
    napi_value data;
    napi_create_buffer_copy(s->env, n, buf, NULL, &data);
    emit(s, EV_DATA, data);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_t *s = h->data;
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  if (status < 0) {
    poll_set(s, 0);
    emit(s, EV_ERROR, errno_error(s->env, -status, "poll", NULL));
  } else {
    if (events & UV_WRITABLE) {
      poll_set(s, s->events & ~UV_WRITABLE);
      emit(s, EV_WRITABLE, NULL);
    }
    if (events & UV_READABLE) read_packets(s);
  }
  napi_close_handle_scope(s->env, scope);
}

static sock_t *get_sock(napi_env env, napi_value v) {
  sock_t *s = NULL;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok) {
    bad_arg(env);
    return NULL;
  }
  if (s->closed) {
    throw_errno(env, EBADF, "socket", NULL);
    return NULL;
  }
  return s;
}

static napi_value SocketOpen(napi_env env, napi_callback_info info) { /* (fd, onEvent) -> handle; owns fd from now */
  napi_value argv[2], handle, name;
  napi_valuetype type;
  uv_loop_t *loop;
  int32_t fd;
  if (!get_args(env, info, 2, argv)) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_typeof(env, argv[1], &type));
  if (type != napi_function) return bad_arg(env);
  CHECK(napi_get_uv_event_loop(env, &loop));
  sock_t *s = calloc(1, sizeof *s);
  if (s == NULL) return throw_errno(env, ENOMEM, "socketOpen", NULL);
  int r = uv_poll_init(loop, &s->poll, fd); /* fails before initialising the handle, so free() is enough */
  if (r < 0) {
    free(s);
    return throw_errno(env, -r, "uv_poll_init", NULL);
  }
  s->poll.data = s;
  s->env = env;
  s->fd = fd;
  napi_create_reference(env, argv[1], 1, &s->on_event);
  napi_create_string_utf8(env, "berth:seqpacket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &s->async);
  napi_create_external(env, s, sock_finalize, NULL, &handle);
  return handle;
}

static napi_value SocketPoll(napi_env env, napi_callback_info info) { /* (handle, readable, writable) */
  napi_value argv[3];
  bool readable, writable;
  sock_t *s;
  if (!get_args(env, info, 3, argv) || !(s = get_sock(env, argv[0]))) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &readable));
  CHECK(napi_get_value_bool(env, argv[2], &writable));
  int r = poll_set(s, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0));
  return r < 0 ? throw_errno(env, -r, "uv_poll_start", NULL) : NULL;
}

/* One packet; returns its length, or -1 when the socket buffer is full (poll for writable, then retry). */
static napi_value SocketSend(napi_env env, napi_callback_info info) { /* (handle, Buffer) -> number */
  napi_value argv[2];
  void *data;
  size_t len;
  ssize_t n;
  sock_t *s;
  if (!get_args(env, info, 2, argv) || !(s = get_sock(env, argv[0]))) return NULL;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  do n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, errno, "send", NULL);
  return int_value(env, n);
}

static napi_value SocketShutdown(napi_env env, napi_callback_info info) { /* (handle): SHUT_WR, reads go on */
  napi_value argv[1];
  sock_t *s;
  if (!get_args(env, info, 1, argv) || !(s = get_sock(env, argv[0]))) return NULL;
  if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN) return throw_errno(env, errno, "shutdown", NULL);
  return NULL;
}

static napi_value SocketClose(napi_env env, napi_callback_info info) { /* (handle); idempotent */
  napi_value argv[1];
  sock_t *s;
  if (!get_args(env, info, 1, argv)) return NULL;
  CHECK(napi_get_value_external(env, argv[0], (void **)&s));
  sock_close(s, true);
  return NULL;
}

/* A non-blocking, close-on-exec SOCK_SEQPACKET socket and the address named by the JS string. */
static int seqpacket_socket(napi_env env, napi_value path, struct sockaddr_un *addr, const char *syscall) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (!get_str(env, path, addr->sun_path, sizeof addr->sun_path, syscall)) return -1;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(env, errno, "socket", NULL);
  return fd;
}

/* Unix connect completes at once or fails (EAGAIN when the listener's backlog is full): never blocks. */
static napi_value SeqpacketConnect(napi_env env, napi_callback_info info) { /* (path) -> fd */
  napi_value argv[1];
  struct sockaddr_un addr;
  int fd;
  if (!get_args(env, info, 1, argv) || (fd = seqpacket_socket(env, argv[0], &addr, "connect")) < 0) return NULL;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "connect", addr.sun_path);
  }
  return int_value(env, fd);
}

/* Listener for tests and tools; seqpacketAccept throws EAGAIN when no connection is pending. */
static napi_value SeqpacketListen(napi_env env, napi_callback_info info) { /* (path) -> fd */
  napi_value argv[1];
  struct sockaddr_un addr;
  int fd;
  if (!get_args(env, info, 1, argv) || (fd = seqpacket_socket(env, argv[0], &addr, "bind")) < 0) return NULL;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "listen", addr.sun_path);
  }
  return int_value(env, fd);
}

static napi_value SeqpacketAccept(napi_env env, napi_callback_info info) { /* (listenFd) -> fd */
  napi_value argv[1];
  int32_t lfd;
  if (!get_args(env, info, 1, argv)) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &lfd));
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return fd < 0 ? throw_errno(env, errno, "accept", NULL) : int_value(env, fd);
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    {"mknod", Mknod},           {"setxattr", Setxattr},
    {"getxattr", Getxattr},     {"listxattr", Listxattr},
    {"mountOverlay", MountOverlay}, {"umount", Umount},
    {"flock", Flock},
    {"seqpacketConnect", SeqpacketConnect}, {"seqpacketListen", SeqpacketListen},
    {"seqpacketAccept", SeqpacketAccept},   {"socketOpen", SocketOpen},
    {"socketPoll", SocketPoll}, {"socketSend", SocketSend},
    {"socketShutdown", SocketShutdown}, {"socketClose", SocketClose},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  register_openat2(env, exports);
  register_service(env, exports);
  return exports;
}
