/* Helpers shared by the addon's source files (defined in berth.c). */
#ifndef BERTH_H
#define BERTH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

/* Ensures a TypeError is pending after a failed napi call; returns NULL. */
napi_value bad_arg(napi_env env);
#define CHECK(call) do { if ((call) != napi_ok) return bad_arg(env); } while (0)
/* Throws a Node-style errno Error (.code, .errno, .syscall, .path); returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path);
bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);
/* Copies a JS string into buf; throws if it is not a string, too long, or holds a NUL byte. */
bool get_str(napi_env env, napi_value v, char *buf, size_t size, const char *syscall);
napi_value int_value(napi_env env, int64_t n);

/* openat2.c: adds the *at functions to the exports. */
void register_openat2(napi_env env, napi_value exports);
/* service.c: sdNotify and setCloexec. */
void register_service(napi_env env, napi_value exports);
#endif
