/*
 * What berthd needs to run as a systemd service and Node lacks: a datagram to $NOTIFY_SOCKET (sd_notify: Node has
 * no unix datagram sockets) and FD_CLOEXEC on the listeners systemd passes (so conmon and containers do not inherit
 * them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "berth.h"

/* (socketPath, message): socketPath as in $NOTIFY_SOCKET, a leading '@' naming the abstract namespace. */
static napi_value SdNotify(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char msg[4096];
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (!get_args(env, info, 2, argv) || !get_str(env, argv[0], addr.sun_path, sizeof addr.sun_path, "sendto") ||
      !get_str(env, argv[1], msg, sizeof msg, "sendto")) return NULL;
  socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(addr.sun_path);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
  int err = errno;
  close(fd);
  return n < 0 ? throw_errno(env, err, "sendto", NULL) : NULL;
}

static napi_value SetCloexec(napi_env env, napi_callback_info info) { /* (fd) */
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv)) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return throw_errno(env, errno, "fcntl", NULL);
  return NULL;
}

void register_service(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback fn; } fns[] = {{"sdNotify", SdNotify}, {"setCloexec", SetCloexec}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}
