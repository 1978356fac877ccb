/*
 * @tornado-ts/ioloop native addon: fd readiness through libuv's poll watcher (uv_poll_t) on the
 * Node event loop, plus the non-blocking read(2)/write(2)/fcntl(2)/pipe2(2) helpers PipeIOStream
 * needs. N-API only, so one build works across Node versions.
 *
 * Events use Tornado's bits: READ 0x001, WRITE 0x004, ERROR 0x018 (EPOLLERR | EPOLLHUP).
 */
#define NAPI_VERSION 8
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define T_READ 0x001
#define T_WRITE 0x004
#define T_ERROR 0x018

typedef struct instance instance;

typedef struct poll_handle {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref recv;    /* the callback's `this` (NULL: the global object) */
  napi_async_context async;
  instance* inst;
  int fd;
  int no_hup_check; /* sockets: read(2) returning 0 tells a hang-up, skip the poll(2) per event */
  int closing;      /* uv_close called */
  int napi_released;/* callback ref + async context released */
  int refs;         /* 1 for the libuv handle (until close_cb), +1 once the JS external exists */
  int batched;      /* events go to the instance's batch (pollStartBatched), not to `callback` */
  int32_t id;       /* batched: the id JS gave the handle */
  struct poll_handle* prev;
  struct poll_handle* next;
} poll_handle;

/* Batched delivery: the events of one poll phase are written into a JS Int32Array as
 * (id, events) pairs and handed to one JS function in the check phase that follows it (or at
 * once when the array is full): one call into JS per loop iteration instead of one per fd. */
typedef struct batch {
  uv_check_t check;
  napi_env env;
  napi_ref dispatch; /* function(n) */
  napi_ref array;    /* the Int32Array, kept alive while `buf` points into it */
  int32_t* buf;
  size_t cap; /* pairs */
  size_t n;
  napi_async_context async;
  int active;
} batch;

struct instance {
  poll_handle* head; /* every handle whose libuv side is not closed yet */
  int tearing_down;
  batch* batch;
};

/* ---------- helpers ---------- */

/* Turns the last failed N-API call into a JS exception (unless one is pending already). */
static void throw_last_error(napi_env env) {
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending)
    napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "N-API call failed");
}

#define CALL(env, call)        \
  do {                         \
    if ((call) != napi_ok) {   \
      throw_last_error(env);   \
      return NULL;             \
    }                          \
  } while (0)

/* Fetches the first `want` arguments; throws ERR_MISSING_ARGS (with `usage`) when fewer came. */
static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv,
                     const char* usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_last_error(env);
    return false;
  }
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", usage);
    return false;
  }
  return true;
}

/* Throws an Error with .code (errno name), .errno (negative, as Node does) and .syscall. */
static napi_value throw_uv_error(napi_env env, int uverr, const char* syscall) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s, %s", uv_err_name(uverr), uv_strerror(uverr), syscall);
  napi_value code, message, err, errno_v, syscall_v;
  napi_create_string_utf8(env, uv_err_name(uverr), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, uverr, &errno_v);
  napi_set_named_property(env, err, "errno", errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, err, "syscall", syscall_v);
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_errno(napi_env env, int err, const char* syscall) {
  return throw_uv_error(env, -err, syscall);
}

static int get_int32(napi_env env, napi_value v, int32_t* out, const char* what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  napi_get_value_int32(env, v, out);
  return 1;
}

static int uv_events_of(int tornado_events) {
  int ev = 0;
  if (tornado_events & T_READ) ev |= UV_READABLE;
  if (tornado_events & T_WRITE) ev |= UV_WRITABLE;
  /* ERROR alone: epoll reports EPOLLERR/EPOLLHUP for any registered fd, but libuv needs some
   * event to register the fd with. EPOLLPRI (urgent data) is the quietest one. */
  if (ev == 0 && (tornado_events & T_ERROR)) ev = UV_PRIORITIZED;
  return ev;
}

/* ---------- poll handles ---------- */

static void list_remove(poll_handle* h) {
  if (h->prev) h->prev->next = h->next;
  else if (h->inst && h->inst->head == h) h->inst->head = h->next;
  if (h->next) h->next->prev = h->prev;
  h->prev = h->next = NULL;
}

static void release_napi(poll_handle* h) {
  if (h->napi_released) return;
  h->napi_released = 1;
  if (h->callback) napi_delete_reference(h->env, h->callback);
  if (h->recv) napi_delete_reference(h->env, h->recv);
  if (h->async) napi_async_destroy(h->env, h->async);
  h->callback = NULL;
  h->recv = NULL;
  h->async = NULL;
}

static void unref_handle(poll_handle* h) {
  if (--h->refs == 0) free(h);
}

static void on_close(uv_handle_t* handle) {
  poll_handle* h = (poll_handle*)handle->data;
  list_remove(h);
  /* During env teardown the N-API side was already released by the cleanup hook. */
  release_napi(h);
  unref_handle(h);
}

static void close_handle(poll_handle* h) {
  if (h->closing) return;
  h->closing = 1;
  uv_poll_stop(&h->poll);
  uv_close((uv_handle_t*)&h->poll, on_close);
}

/* Gives up a handle whose libuv side exists: releases its N-API side and closes it. */
static void discard(poll_handle* h) {
  release_napi(h);
  close_handle(h);
}

static void batch_flush(batch* b) {
  size_t n = b->n;
  if (n == 0 || b->dispatch == NULL) return;
  b->n = 0; /* JS reads the pairs during the call; nothing is pushed until it returns */
  napi_env env = b->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1], result;
  if (napi_get_reference_value(env, b->dispatch, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_uint32(env, (uint32_t)n, &argv[0]);
    napi_status st = napi_make_callback(env, b->async, recv, cb, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_check(uv_check_t* c) {
  batch* b = (batch*)c->data;
  uv_check_stop(c);
  b->active = 0;
  batch_flush(b);
}

static void batch_push(batch* b, int32_t id, int events) {
  if (b->n == b->cap) batch_flush(b);
  b->buf[2 * b->n] = id;
  b->buf[2 * b->n + 1] = events;
  b->n++;
  if (!b->active) {
    b->active = 1;
    uv_check_start(&b->check, on_check);
  }
}

static void on_batch_close(uv_handle_t* handle) {
  free(handle->data);
}

/* Releases the batch's N-API side and closes its check handle (freed in the close callback). */
static void batch_discard(instance* inst) {
  batch* b = inst->batch;
  if (b == NULL) return;
  inst->batch = NULL;
  if (b->dispatch) napi_delete_reference(b->env, b->dispatch);
  if (b->array) napi_delete_reference(b->env, b->array);
  if (b->async) napi_async_destroy(b->env, b->async);
  b->dispatch = b->array = NULL;
  b->async = NULL;
  b->n = 0;
  uv_check_stop(&b->check);
  uv_close((uv_handle_t*)&b->check, on_batch_close);
}

static void on_poll(uv_poll_t* p, int status, int uvevents) {
  poll_handle* h = (poll_handle*)p->data;
  if (h->closing || h->napi_released) return;
  int events = 0;
  if (status < 0) {
    /* libuv reports POLLERR (and bad fds) as an error status and stops the watcher. */
    events = T_ERROR;
  } else {
    if (uvevents & UV_READABLE) events |= T_READ;
    if (uvevents & UV_WRITABLE) events |= T_WRITE;
    if (uvevents & UV_DISCONNECT) events |= T_ERROR;
    if (!h->no_hup_check && ((events & T_READ) || (uvevents & UV_PRIORITIZED))) {
      /* libuv folds POLLHUP into "readable" (or "prioritized" when that is all we asked for);
       * ask the kernel whether this is a hang-up. */
      struct pollfd pfd;
      pfd.fd = h->fd;
      pfd.events = POLLIN;
      pfd.revents = 0;
      if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) events |= T_ERROR;
    }
  }
  if (events == 0) return;
  if (h->batched) {
    if (h->inst != NULL && h->inst->batch != NULL) batch_push(h->inst->batch, h->id, events);
    return;
  }

  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[1], result;
  if (napi_get_reference_value(env, h->callback, &cb) == napi_ok && cb != NULL) {
    /* napi_make_callback needs an object receiver */
    if (h->recv == NULL || napi_get_reference_value(env, h->recv, &recv) != napi_ok || recv == NULL)
      napi_get_global(env, &recv);
    napi_create_int32(env, events, &argv[0]);
    /* h may be closed (not freed: close is deferred to the next loop iteration) by the callback. */
    napi_status st = napi_make_callback(env, h->async, recv, cb, 1, argv, &result);
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_external(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  poll_handle* h = (poll_handle*)data;
  if (!h->closing) discard(h); /* dropped without pollClose: stop watching */
  unref_handle(h);
}

static void cleanup_hook(void* arg) {
  instance* inst = (instance*)arg;
  inst->tearing_down = 1;
  for (poll_handle* h = inst->head; h != NULL; h = h->next) discard(h);
  batch_discard(inst);
}

static void finalize_instance(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  instance* inst = (instance*)data;
  /* Handles still waiting for their close callback keep pointing at inst: detach them. */
  for (poll_handle* h = inst->head; h != NULL; h = h->next) h->inst = NULL;
  free(inst);
}

static poll_handle* unwrap_handle(napi_env env, napi_value v) {
  napi_valuetype t;
  void* data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a poll handle");
    return NULL;
  }
  return (poll_handle*)data;
}

/* Allocates a handle for `fd`, initialises its uv_poll_t and links it into inst's list; throws
 * and returns NULL on failure. From then on every failure goes through discard() (uv_close). */
static poll_handle* open_handle(napi_env env, instance* inst, int32_t fd, int32_t flags) {
  uv_loop_t* loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw_last_error(env);
    return NULL;
  }
  poll_handle* h = (poll_handle*)calloc(1, sizeof *h);
  if (h == NULL) {
    throw_errno(env, ENOMEM, "uv_poll_init");
    return NULL;
  }
  h->env = env;
  h->fd = fd;
  h->no_hup_check = (flags & 1) != 0;
  h->inst = inst;
  int r = uv_poll_init(loop, &h->poll, fd);
  if (r < 0) {
    free(h);
    throw_uv_error(env, r, "uv_poll_init");
    return NULL;
  }
  h->poll.data = h;
  h->refs = 1;
  if (inst) {
    h->next = inst->head;
    if (inst->head) inst->head->prev = h;
    inst->head = h;
  }
  return h;
}

/* Wraps an opened handle for JS and starts watching `events`; on failure discards it, throws and
 * returns NULL. */
static napi_value start_handle(napi_env env, poll_handle* h, int32_t events) {
  napi_value ext;
  if (napi_create_external(env, h, finalize_external, NULL, &ext) != napi_ok) {
    discard(h);
    napi_throw_error(env, NULL, "could not set up the poll handle");
    return NULL;
  }
  h->refs = 2;
  int uvev = uv_events_of(events);
  int r;
  if (uvev != 0 && (r = uv_poll_start(&h->poll, uvev, on_poll)) < 0) {
    discard(h);
    return throw_uv_error(env, r, "uv_poll_start");
  }
  return ext;
}

/* pollStart(fd, events, callback, flags?, recv?) -> handle; flags bit 1: no hang-up check;
 * recv: the object the callback is called on (one shared callback for many handles) */
static napi_value js_poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "pollStart(fd, events, callback, flags?)");
    return NULL;
  }
  int32_t flags = 0;
  if (argc >= 4) {
    napi_valuetype ft;
    CALL(env, napi_typeof(env, argv[3], &ft));
    if (ft == napi_number) napi_get_value_int32(env, argv[3], &flags);
  }
  int32_t fd, events;
  if (!get_int32(env, argv[0], &fd, "fd") || !get_int32(env, argv[1], &events, "events")) return NULL;
  napi_valuetype t;
  CALL(env, napi_typeof(env, argv[2], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return NULL;
  }
  instance* inst = NULL;
  CALL(env, napi_get_instance_data(env, (void**)&inst));
  poll_handle* h = open_handle(env, inst, fd, flags);
  if (h == NULL) return NULL;
  napi_value name;
  napi_valuetype rt = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &rt);
  if (((rt == napi_object || rt == napi_function) &&
       napi_create_reference(env, argv[4], 1, &h->recv) != napi_ok) ||
      napi_create_reference(env, argv[2], 1, &h->callback) != napi_ok ||
      napi_create_string_utf8(env, "tornado-ts:fd-handler", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &h->async) != napi_ok) {
    discard(h);
    napi_throw_error(env, NULL, "could not set up the poll handle");
    return NULL;
  }
  return start_handle(env, h, events);
}

/* pollUpdate(handle, events) */
static napi_value js_poll_update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "pollUpdate(handle, events)")) return NULL;
  poll_handle* h = unwrap_handle(env, argv[0]);
  if (h == NULL) return NULL;
  int32_t events;
  if (!get_int32(env, argv[1], &events, "events")) return NULL;
  if (h->closing) {
    napi_throw_error(env, "ERR_IOLOOP_HANDLE_CLOSED", "poll handle is closed");
    return NULL;
  }
  int uvev = uv_events_of(events);
  int r = uvev == 0 ? uv_poll_stop(&h->poll) : uv_poll_start(&h->poll, uvev, on_poll);
  if (r < 0) return throw_uv_error(env, r, "uv_poll_start");
  return NULL;
}

/* pollClose(handle) */
static napi_value js_poll_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "pollClose(handle)")) return NULL;
  poll_handle* h = unwrap_handle(env, argv[0]);
  if (h == NULL) return NULL;
  close_handle(h); /* N-API resources are released in on_close: we may be inside h's callback now */
  return NULL;
}

/* ---------- fd helpers ---------- */

/* argv[1..3] = (buf, offset, length): the byte range of a Uint8Array, bounds-checked. */
static int get_buffer_range(napi_env env, napi_value* argv, uint8_t** ptr, size_t* len) {
  bool is_ta = false;
  napi_typedarray_type type = napi_int8_array;
  void* data = NULL;
  size_t size = 0;
  napi_is_typedarray(env, argv[1], &is_ta);
  if (is_ta) napi_get_typedarray_info(env, argv[1], &type, &size, &data, NULL, NULL);
  if (!is_ta || (type != napi_uint8_array && type != napi_uint8_clamped_array && type != napi_int8_array)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buffer must be a Uint8Array");
    return 0;
  }
  int64_t offset = 0, count = 0;
  napi_valuetype t1, t2;
  napi_typeof(env, argv[2], &t1);
  napi_typeof(env, argv[3], &t2);
  if (t1 != napi_number || t2 != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "offset and length must be numbers");
    return 0;
  }
  napi_get_value_int64(env, argv[2], &offset);
  napi_get_value_int64(env, argv[3], &count);
  if (offset < 0 || count < 0 || (uint64_t)offset > size || (uint64_t)count > size - (uint64_t)offset) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "offset/length outside the buffer");
    return 0;
  }
  *ptr = (uint8_t*)data + offset;
  *len = (size_t)count;
  return 1;
}

/* read/write(fd, buf, offset, length) -> n > 0 | 0 (EOF for read) | -1 (would block) */
static napi_value fd_io(napi_env env, napi_callback_info info, bool writing) {
  const char* syscall = writing ? "write" : "read";
  napi_value argv[4];
  if (!get_args(env, info, 4, argv,
                writing ? "write(fd, buf, offset, length)" : "read(fd, buf, offset, length)"))
    return NULL;
  int32_t fd;
  uint8_t* ptr;
  size_t len;
  if (!get_int32(env, argv[0], &fd, "fd") || !get_buffer_range(env, argv, &ptr, &len)) return NULL;
  ssize_t n;
  do {
    n = writing ? write(fd, ptr, len) : read(fd, ptr, len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, errno, syscall);
    n = -1;
  }
  napi_value out;
  CALL(env, napi_create_int64(env, (int64_t)n, &out));
  return out;
}

static napi_value js_read(napi_env env, napi_callback_info info) {
  return fd_io(env, info, false);
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  return fd_io(env, info, true);
}

/* setNonBlocking(fd, on) */
static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "setNonBlocking(fd, on)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  bool on = true;
  napi_coerce_to_bool(env, argv[1], &argv[1]);
  napi_get_value_bool(env, argv[1], &on);
  int flags;
  do {
    flags = fcntl(fd, F_GETFL);
  } while (flags < 0 && errno == EINTR);
  if (flags < 0) return throw_errno(env, errno, "fcntl");
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags) {
    int r;
    do {
      r = fcntl(fd, F_SETFL, want);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return throw_errno(env, errno, "fcntl");
  }
  return NULL;
}

/* pipe() -> [readFd, writeFd], both O_NONBLOCK | O_CLOEXEC */
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
#if defined(__linux__)
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return throw_errno(env, errno, "pipe2");
#else
  if (pipe(fds) < 0) return throw_errno(env, errno, "pipe");
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    fcntl(fds[i], F_SETFD, fcntl(fds[i], F_GETFD) | FD_CLOEXEC);
  }
#endif
  napi_value arr, r, w;
  CALL(env, napi_create_array_with_length(env, 2, &arr));
  CALL(env, napi_create_int32(env, fds[0], &r));
  CALL(env, napi_create_int32(env, fds[1], &w));
  CALL(env, napi_set_element(env, arr, 0, r));
  CALL(env, napi_set_element(env, arr, 1, w));
  return arr;
}


/* ---------- socket helpers (TCPServer's native accept path, FdSocket) ---------- */

static int set_nodelay(int fd, int on) {
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

/* Fills [address, port, family] of a socket address into out[0..2]. */
static napi_status address_values(napi_env env, const struct sockaddr_storage* ss, napi_value* out) {
  char text[INET6_ADDRSTRLEN] = "";
  int port = 0;
  const char* family = "unix";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
    family = "IPv4";
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
    family = "IPv6";
  }
  napi_status st;
  if ((st = napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &out[0])) != napi_ok) return st;
  if ((st = napi_create_int32(env, port, &out[1])) != napi_ok) return st;
  return napi_create_string_latin1(env, family, NAPI_AUTO_LENGTH, &out[2]);
}

/* accept(listenFd, noDelay) -> [fd, address, port, family] | null (would block). The new socket is
 * non-blocking and close-on-exec; noDelay turns Nagle off on TCP sockets. Errors throw with .code. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "accept(fd, noDelay)")) return NULL;
  int32_t lfd;
  if (!get_int32(env, argv[0], &lfd, "fd")) return NULL;
  bool nodelay = false;
  napi_coerce_to_bool(env, argv[1], &argv[1]);
  napi_get_value_bool(env, argv[1], &nodelay);
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd;
  do {
    sl = sizeof ss;
#if defined(__linux__)
    fd = accept4(lfd, (struct sockaddr*)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    fd = accept(lfd, (struct sockaddr*)&ss, &sl);
    if (fd >= 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
#endif
  } while (fd < 0 && errno == EINTR);
  napi_value out;
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CALL(env, napi_get_null(env, &out));
      return out;
    }
    return throw_errno(env, errno, "accept");
  }
  if (nodelay && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) set_nodelay(fd, 1);
  napi_value v[4];
  if (napi_create_int32(env, fd, &v[0]) != napi_ok || address_values(env, &ss, &v[1]) != napi_ok ||
      napi_create_array_with_length(env, 4, &out) != napi_ok) {
    close(fd);
    throw_last_error(env);
    return NULL;
  }
  for (uint32_t i = 0; i < 4; i++) CALL(env, napi_set_element(env, out, i, v[i]));
  return out;
}

/* sockName(fd, peer) -> [address, port, family] (getsockname/getpeername) */
static napi_value js_sock_name(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "sockName(fd, peer)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  bool peer = false;
  napi_coerce_to_bool(env, argv[1], &argv[1]);
  napi_get_value_bool(env, argv[1], &peer);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, (struct sockaddr*)&ss, &sl) : getsockname(fd, (struct sockaddr*)&ss, &sl);
  if (r < 0) return throw_errno(env, errno, peer ? "getpeername" : "getsockname");
  napi_value v[3], out;
  CALL(env, address_values(env, &ss, v));
  CALL(env, napi_create_array_with_length(env, 3, &out));
  for (uint32_t i = 0; i < 3; i++) CALL(env, napi_set_element(env, out, i, v[i]));
  return out;
}

/* dup(fd) -> a new close-on-exec descriptor for the same open file */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "dup(fd)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (nfd < 0) return throw_errno(env, errno, "dup");
  napi_value out;
  CALL(env, napi_create_int32(env, nfd, &out));
  return out;
}

/* close(fd); EINTR counts as closed (Linux always releases the descriptor). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "close(fd)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close");
  return NULL;
}

/* shutdown(fd): no more writes (SHUT_WR); the peer reads EOF. ENOTCONN is ignored. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "shutdown(fd)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN) return throw_errno(env, errno, "shutdown");
  return NULL;
}

/* setNoDelay(fd, on) */
static napi_value js_set_nodelay(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "setNoDelay(fd, on)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  bool on = true;
  napi_coerce_to_bool(env, argv[1], &argv[1]);
  napi_get_value_bool(env, argv[1], &on);
  if (set_nodelay(fd, on ? 1 : 0) < 0) return throw_errno(env, errno, "setsockopt");
  return NULL;
}

/* writeString(fd, string, latin1) -> bytes written (the string's latin1 or UTF-8 bytes), or -1
 * when the write would block. Encodes into a stack buffer for small strings: no JS Buffer. */
static napi_value js_write_string(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv, "writeString(fd, string, latin1)")) return NULL;
  int32_t fd;
  if (!get_int32(env, argv[0], &fd, "fd")) return NULL;
  napi_valuetype t;
  CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "string must be a string");
    return NULL;
  }
  bool latin1 = false;
  napi_coerce_to_bool(env, argv[2], &argv[2]);
  napi_get_value_bool(env, argv[2], &latin1);
  size_t len = 0;
  CALL(env, latin1 ? napi_get_value_string_latin1(env, argv[1], NULL, 0, &len)
                   : napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
  char stack[16384];
  char* buf = len < sizeof stack ? stack : (char*)malloc(len + 1);
  if (buf == NULL) return throw_errno(env, ENOMEM, "write");
  size_t got = 0;
  napi_status st = latin1 ? napi_get_value_string_latin1(env, argv[1], buf, len + 1, &got)
                          : napi_get_value_string_utf8(env, argv[1], buf, len + 1, &got);
  if (st != napi_ok) {
    if (buf != stack) free(buf);
    throw_last_error(env);
    return NULL;
  }
  ssize_t n = 0;
  if (got > 0) {
    do {
      n = write(fd, buf, got);
    } while (n < 0 && errno == EINTR);
  }
  int err = errno;
  if (buf != stack) free(buf);
  if (n < 0) {
    if (err != EAGAIN && err != EWOULDBLOCK) return throw_errno(env, err, "write");
    n = -1;
  }
  napi_value out;
  CALL(env, napi_create_int64(env, (int64_t)n, &out));
  return out;
}

/* batchInit(dispatch, int32array): where batched handles' events go (see `batch`); again
 * replaces both. */
static napi_value js_batch_init(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv, "batchInit(dispatch, int32array)")) return NULL;
  napi_valuetype t;
  CALL(env, napi_typeof(env, argv[0], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "dispatch must be a function");
    return NULL;
  }
  bool is_ta = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = NULL;
  CALL(env, napi_is_typedarray(env, argv[1], &is_ta));
  if (is_ta) CALL(env, napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  if (!is_ta || type != napi_int32_array || length < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an Int32Array of at least 2 elements");
    return NULL;
  }
  instance* inst = NULL;
  CALL(env, napi_get_instance_data(env, (void**)&inst));
  if (inst == NULL || inst->tearing_down) {
    napi_throw_error(env, NULL, "the addon is shutting down");
    return NULL;
  }
  batch* b = inst->batch;
  if (b == NULL) {
    uv_loop_t* loop = NULL;
    CALL(env, napi_get_uv_event_loop(env, &loop));
    b = (batch*)calloc(1, sizeof *b);
    if (b == NULL) return throw_errno(env, ENOMEM, "batchInit");
    b->env = env;
    if (uv_check_init(loop, &b->check) != 0) {
      free(b);
      napi_throw_error(env, NULL, "uv_check_init failed");
      return NULL;
    }
    b->check.data = b;
    uv_unref((uv_handle_t*)&b->check); /* never keeps the loop alive by itself */
    napi_value name;
    if (napi_create_string_utf8(env, "tornado-ts:fd-events", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &b->async) != napi_ok) {
      b->async = NULL;
      inst->batch = b;
      batch_discard(inst);
      napi_throw_error(env, NULL, "could not set up event batching");
      return NULL;
    }
    inst->batch = b;
  } else {
    batch_flush(b); /* events already taken go to the old function */
    if (b->dispatch) napi_delete_reference(env, b->dispatch);
    if (b->array) napi_delete_reference(env, b->array);
    b->dispatch = b->array = NULL;
  }
  if (napi_create_reference(env, argv[0], 1, &b->dispatch) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &b->array) != napi_ok) {
    batch_discard(inst);
    napi_throw_error(env, NULL, "could not set up event batching");
    return NULL;
  }
  b->buf = (int32_t*)data;
  b->cap = length / 2;
  return NULL;
}

/* pollStartBatched(fd, events, id, flags?) -> handle: like pollStart, but events are delivered
 * as (id, events) through batchInit's function; no callback, `this` or async context per handle. */
static napi_value js_poll_start_batched(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "pollStartBatched(fd, events, id, flags?)");
    return NULL;
  }
  int32_t fd, events, id, flags = 0;
  if (!get_int32(env, argv[0], &fd, "fd") || !get_int32(env, argv[1], &events, "events") ||
      !get_int32(env, argv[2], &id, "id"))
    return NULL;
  if (argc >= 4) {
    napi_valuetype ft;
    CALL(env, napi_typeof(env, argv[3], &ft));
    if (ft == napi_number) napi_get_value_int32(env, argv[3], &flags);
  }
  instance* inst = NULL;
  CALL(env, napi_get_instance_data(env, (void**)&inst));
  if (inst == NULL || inst->batch == NULL) {
    napi_throw_error(env, "ERR_IOLOOP_NO_BATCH", "call batchInit first");
    return NULL;
  }
  poll_handle* h = open_handle(env, inst, fd, flags);
  if (h == NULL) return NULL;
  h->batched = 1;
  h->id = id;
  return start_handle(env, h, events);
}

/* ---------- module ---------- */

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  instance* inst = (instance*)calloc(1, sizeof *inst);
  if (inst == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, inst, finalize_instance, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, NULL, "could not set instance data");
    return NULL;
  }
  /* Worker threads and process exit: close every watcher before the loop is torn down. */
  CALL(env, napi_add_env_cleanup_hook(env, cleanup_hook, inst));

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}
  napi_property_descriptor props[] = {
      METHOD("pollStart", js_poll_start), METHOD("pollUpdate", js_poll_update),
      METHOD("pollClose", js_poll_close), METHOD("read", js_read),
      METHOD("write", js_write),          METHOD("setNonBlocking", js_set_nonblocking),
      METHOD("pipe", js_pipe),            METHOD("accept", js_accept),
      METHOD("sockName", js_sock_name),   METHOD("dup", js_dup),
      METHOD("close", js_close),          METHOD("shutdown", js_shutdown),
      METHOD("setNoDelay", js_set_nodelay), METHOD("writeString", js_write_string),
      METHOD("batchInit", js_batch_init), METHOD("pollStartBatched", js_poll_start_batched),
  };
#undef METHOD
  CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
