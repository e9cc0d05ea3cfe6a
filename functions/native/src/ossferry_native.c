/*
 * ossferry native core: CRC-64/XZ and gzip members on Intel ISA-L, exposed through N-API (ABI-stable, so one
 * .node runs on every Node major; Node-API docs, ABI stability).
 *
 *   crc64(data: Uint8Array, prev?: bigint): bigint        CRC-64/XZ, streaming (prev = finished CRC):
 *                                                         own VPCLMULQDQ/AVX2 kernel or ISA-L crc64_ecma_refl
 *   crc64Isal(data, prev?): bigint                        ISA-L dispatch only (reference for tests/bench)
 *   crc64Kernel(): 'vpclmul-avx2' | 'isal'                large-buffer kernel on this CPU (crc64_fast.c)
 *   crc64Combine(crcA, crcB, lengthB: number|bigint)      zlib >= 1.2.12 multmodp/x2nmodp, lengths < 2^64
 *   memScan(data): bigint                                 read-only pass (bench reference: memory read ceiling)
 *   cpuInfo(): { pclmulqdq, avx2, avx512f, vpclmulqdq, ... }
 *   gzip(data, level 0..3): Buffer                         one isal_deflate_stateless gzip member
 *   gzipAsync(data, level): Promise<Buffer>                same on the libuv pool (napi_async_work)
 *   bodyHashCreate(): Buffer                               MD5 + CRC-64 stream context (md5_mb.h)
 *   bodyHashUpdate(ctx, data): void                        feed synchronously (scalar MD5)
 *   bodyHashBatch(ctxs, datas, mode): Promise<void>        feed ctxs[i] <- datas[i] on the libuv pool, up to 8
 *                                                         contexts at once in SIMD lanes (mode 0 auto, 1 scalar,
 *                                                         2 avx2, 3 avx512); holds references to every buffer
 *   bodyHashDigest(ctx): { md5: Buffer, crc64: bigint, size: number }
 *   md5Kernel(): 'avx512-x8' | 'avx2-x8' | 'scalar'
 *   fileWriteback(fd, offset, length): Promise<void>       start writing a dirty range to disk (Linux
 *                                                         sync_file_range WRITE, on the libuv pool; no-op elsewhere)
 *   backgroundPoolThreads(on: boolean): void               libuv pool threads that run the two above switch to
 *                                                         SCHED_BATCH (Linux; see pool_thread_policy)
 *
 * Every argument is validated here too (TypeError/RangeError naming it): the TS wrapper is not the only caller
 * that could reach this code, and a bad pointer must never crash the process.
 * Not built with -march=native: ISA-L picks its kernel at run time from CPUID.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sync_file_range, SCHED_BATCH */
#endif
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <isa-l.h>
#include "crc64_fast.h"
#include "md5_mb.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <errno.h>
#include <sched.h>
#if defined(__linux__)
#include <fcntl.h>
#endif

#define MAX_MEMBER_INPUT ((size_t)1 << 30) /* igzip's stream counters are 32-bit; keep far below */

#define CHECK(env, call)                                                            \
  do {                                                                              \
    if ((call) != napi_ok) {                                                        \
      const napi_extended_error_info *info_ = NULL;                                 \
      napi_get_last_error_info((env), &info_);                                      \
      bool pending_ = false;                                                        \
      napi_is_exception_pending((env), &pending_);                                  \
      if (!pending_)                                                                \
        napi_throw_error((env), NULL,                                               \
                         info_ && info_->error_message ? info_->error_message       \
                                                       : "N-API call failed");      \
      return NULL;                                                                  \
    }                                                                               \
  } while (0)

/* ---------- argument helpers ---------- */

/* Uint8Array (incl. Buffer) -> pointer/length. Throws TypeError naming `name`. */
static bool get_bytes(napi_env env, napi_value v, const char *name, uint8_t **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array or Buffer", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array or Buffer (got another TypedArray)", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  *data = (uint8_t *)ptr;
  *len = length;
  if (ptr == NULL && length != 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "typed array has no backing store (detached?)");
    return false;
  }
  return true;
}

/* Up to *argc arguments into argv (missing ones are undefined); TypeError `usage` when fewer than `min` were passed. */
static bool get_args(napi_env env, napi_callback_info info, size_t min, size_t *argc, napi_value *argv, const char *usage) {
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok) return false;
  if (*argc < min) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return false;
  }
  return true;
}

/* bigint in [0, 2^64-1] -> uint64. */
static bool get_u64_bigint(napi_env env, napi_value v, const char *name, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  char msg[160];
  if (t != napi_bigint) {
    snprintf(msg, sizeof msg, "%s must be a bigint CRC-64", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  int sign = 0;
  size_t count = 0;
  /* Word count only: sign_bit and words must both be NULL for this query form. */
  if (napi_get_value_bigint_words(env, v, NULL, &count, NULL) != napi_ok) return false;
  uint64_t words[1] = {0};
  if (count > 1) {
    snprintf(msg, sizeof msg, "%s must be in [0, 2^64-1]", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  if (count == 1 && napi_get_value_bigint_words(env, v, &sign, &count, words) != napi_ok) return false;
  if (sign && words[0] != 0) {
    snprintf(msg, sizeof msg, "%s must be in [0, 2^64-1] (negative)", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = words[0];
  return true;
}

/* byte length: non-negative safe-integer number, or bigint in [0, 2^64-1]. */
static bool get_length(napi_env env, napi_value v, const char *name, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  char msg[160];
  if (t == napi_bigint) return get_u64_bigint(env, v, name, out);
  if (t != napi_number) {
    snprintf(msg, sizeof msg, "%s must be a number or bigint byte count", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0) || d > 9007199254740991.0 || d != (double)(uint64_t)d) {
    snprintf(msg, sizeof msg, "%s must be a non-negative integer <= 2^53-1 (use a bigint above)", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

static bool get_level(napi_env env, napi_value v, int *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "level must be a number 0..3");
    return false;
  }
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d == 0 || d == 1 || d == 2 || d == 3)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "level must be 0, 1, 2 or 3");
    return false;
  }
  *out = (int)d;
  return true;
}

/* ---------- CRC-64 ---------- */

/* A helper returned false: make sure an exception is pending (never return undefined silently). */
static napi_value fail_generic(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, what);
  return NULL;
}

static napi_value crc64_impl(napi_env env, napi_callback_info info, bool isal_only) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "data must be a Uint8Array or Buffer");
    return NULL;
  }
  uint8_t *data;
  size_t len;
  if (!get_bytes(env, argv[0], "data", &data, &len)) return fail_generic(env, "data: could not read the Uint8Array");
  uint64_t prev = 0;
  if (argc >= 2) {
    napi_valuetype t;
    CHECK(env, napi_typeof(env, argv[1], &t));
    if (t != napi_undefined && !get_u64_bigint(env, argv[1], "prev", &prev)) return fail_generic(env, "prev: could not read the bigint");
  }
  uint64_t crc = isal_only ? (len ? crc64_ecma_refl(prev, data, (uint64_t)len) : prev)
                           : ossferry_crc64(prev, data, len);
  napi_value out;
  CHECK(env, napi_create_bigint_uint64(env, crc, &out));
  return out;
}

static napi_value js_crc64(napi_env env, napi_callback_info info) { return crc64_impl(env, info, false); }
/* ISA-L's own dispatch only: the bench and tests compare the fast kernel against it. */
static napi_value js_crc64_isal(napi_env env, napi_callback_info info) { return crc64_impl(env, info, true); }

/* memScan(data): bigint — read-only bandwidth reference for bench/crc.ts (the ceiling of any CRC kernel). */
static napi_value js_mem_scan(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t len;
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "data must be a Uint8Array or Buffer");
    return NULL;
  }
  if (!get_bytes(env, argv[0], "data", &data, &len)) return fail_generic(env, "data: could not read the Uint8Array");
  napi_value out;
  CHECK(env, napi_create_bigint_uint64(env, ossferry_mem_scan(data, len), &out));
  return out;
}

static napi_value string_result(napi_env env, const char *s) {
  napi_value out;
  CHECK(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value js_crc64_kernel(napi_env env, napi_callback_info info) {
  (void)info;
  return string_result(env, ossferry_crc64_kernel());
}

static napi_value js_crc64_combine(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "crc64Combine(crcA: bigint, crcB: bigint, lengthB) needs 3 arguments");
    return NULL;
  }
  uint64_t a, b, n;
  if (!get_u64_bigint(env, argv[0], "crcA", &a)) return fail_generic(env, "crcA: could not read the bigint");
  if (!get_u64_bigint(env, argv[1], "crcB", &b)) return fail_generic(env, "crcB: could not read the bigint");
  if (!get_length(env, argv[2], "lengthB", &n)) return fail_generic(env, "lengthB: could not read the length");
  napi_value out;
  CHECK(env, napi_create_bigint_uint64(env, ossferry_crc64_combine(a, b, n), &out));
  return out;
}

/* ---------- CPU features (what ISA-L's dispatcher looks at; logged by the loader) ---------- */

static napi_value js_cpu_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  CHECK(env, napi_create_object(env, &obj));
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  struct { const char *name; int on; } f[] = {
    {"sse4_2", __builtin_cpu_supports("sse4.2")},
    {"pclmulqdq", __builtin_cpu_supports("pclmul")},
    {"avx2", __builtin_cpu_supports("avx2")},
    {"avx512f", __builtin_cpu_supports("avx512f")},
    {"avx512vl", __builtin_cpu_supports("avx512vl")},
    {"vpclmulqdq", __builtin_cpu_supports("vpclmulqdq")},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    napi_value b;
    CHECK(env, napi_get_boolean(env, f[i].on != 0, &b));
    CHECK(env, napi_set_named_property(env, obj, f[i].name, b));
  }
#endif
  return obj;
}

/* ---------- gzip members (igzip) ---------- */

static const uint32_t level_buf_sizes[4] = {0, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};

/* Worst case: stored blocks (5 bytes per 65535) + gzip header/trailer + slack. */
static size_t gzip_bound(size_t n) { return n + (n >> 12) + 1024; }

/* Compresses into a malloc'd buffer; returns 0 or an ISA-L error code (or -100 for ENOMEM). */
static int gzip_member(const uint8_t *in, size_t len, int level, uint8_t **out, size_t *out_len) {
  size_t cap = gzip_bound(len);
  uint8_t *dst = malloc(cap);
  uint8_t *lvl = level_buf_sizes[level] ? malloc(level_buf_sizes[level]) : NULL;
  if (!dst || (level_buf_sizes[level] && !lvl)) {
    free(dst);
    free(lvl);
    return -100;
  }
  struct isal_zstream s;
  isal_deflate_stateless_init(&s);
  s.next_in = (uint8_t *)in;
  s.avail_in = (uint32_t)len;
  s.next_out = dst;
  s.avail_out = (uint32_t)cap;
  s.level = (uint32_t)level;
  s.level_buf = lvl;
  s.level_buf_size = level_buf_sizes[level];
  s.gzip_flag = IGZIP_GZIP;
  s.end_of_stream = 1;
  s.flush = NO_FLUSH;
  int rc = isal_deflate_stateless(&s);
  free(lvl);
  if (rc != COMP_OK) {
    free(dst);
    return rc;
  }
  *out = dst;
  *out_len = s.total_out;
  return 0;
}

static void gzip_error_message(int rc, char *msg, size_t n) {
  if (rc == -100) snprintf(msg, n, "gzip: out of memory");
  else snprintf(msg, n, "gzip: isal_deflate_stateless failed with code %d", rc);
}

static bool gzip_args(napi_env env, napi_callback_info info, napi_value *buf, uint8_t **data, size_t *len, int *level) {
  size_t argc = 2;
  napi_value argv[2];
  if (!get_args(env, info, 2, &argc, argv, "gzip(data: Uint8Array, level: 0..3) needs 2 arguments")) return false;
  if (!get_bytes(env, argv[0], "data", data, len)) return false;
  if (*len > MAX_MEMBER_INPUT) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "data must be at most 1 GiB per gzip member");
    return false;
  }
  if (!get_level(env, argv[1], level)) return false;
  *buf = argv[0];
  return true;
}

static void free_cb(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* Hands the malloc'd output to JS without a copy (freed by the GC finalizer). */
static napi_value wrap_output(napi_env env, uint8_t *out, size_t out_len) {
  napi_value result;
  napi_status st = napi_create_external_buffer(env, out_len, out, free_cb, NULL, &result);
  if (st == napi_ok) return result;
  /* Runtimes that forbid external buffers (V8 sandbox): copy. */
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  void *copy;
  st = napi_create_buffer_copy(env, out_len, out, &copy, &result);
  free(out);
  if (st != napi_ok) {
    napi_throw_error(env, NULL, "gzip: could not allocate the output Buffer");
    return NULL;
  }
  return result;
}

static napi_value js_gzip(napi_env env, napi_callback_info info) {
  napi_value buf;
  uint8_t *data;
  size_t len;
  int level;
  if (!gzip_args(env, info, &buf, &data, &len, &level)) return fail_generic(env, "gzip: could not read the arguments");
  uint8_t *out;
  size_t out_len;
  int rc = gzip_member(data, len, level, &out, &out_len);
  if (rc != 0) {
    char msg[96];
    gzip_error_message(rc, msg, sizeof msg);
    napi_throw_error(env, "ERR_OSSFERRY_GZIP", msg);
    return NULL;
  }
  return wrap_output(env, out, out_len);
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref; /* keeps the input alive (and its memory in place) while the pool thread reads it */
  const uint8_t *data;
  size_t len;
  int level;
  uint8_t *out;
  size_t out_len;
  int rc;
} gzip_job;

static void gzip_execute(napi_env env, void *p) {
  (void)env;
  gzip_job *j = p;
  j->rc = gzip_member(j->data, j->len, j->level, &j->out, &j->out_len);
}

static void gzip_complete(napi_env env, napi_status status, void *p) {
  gzip_job *j = p;
  napi_delete_reference(env, j->input_ref);
  napi_value result = NULL;
  if (status == napi_ok && j->rc == 0) {
    result = wrap_output(env, j->out, j->out_len);
    j->out = NULL;
  }
  if (result != NULL) {
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    char msg[96];
    if (status != napi_ok) snprintf(msg, sizeof msg, "gzip: async work cancelled or failed (status %d)", (int)status);
    else gzip_error_message(j->rc, msg, sizeof msg);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    napi_value err;
    if (pending) {
      napi_get_and_clear_last_exception(env, &err);
    } else {
      napi_value m, code;
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
      napi_create_string_utf8(env, "ERR_OSSFERRY_GZIP", NAPI_AUTO_LENGTH, &code);
      napi_create_error(env, code, m, &err);
    }
    napi_reject_deferred(env, j->deferred, err);
    free(j->out);
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value js_gzip_async(napi_env env, napi_callback_info info) {
  napi_value buf;
  uint8_t *data;
  size_t len;
  int level;
  if (!gzip_args(env, info, &buf, &data, &len, &level)) return fail_generic(env, "gzip: could not read the arguments");
  gzip_job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "gzip: out of memory");
    return NULL;
  }
  j->data = data;
  j->len = len;
  j->level = level;
  napi_value promise, name;
  if (napi_create_reference(env, buf, 1, &j->input_ref) != napi_ok ||
      napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "ossferry.gzip", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, gzip_execute, gzip_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    /* Partial setup: the promise (if created) is simply dropped; the exception is what the caller sees. */
    if (j->input_ref) napi_delete_reference(env, j->input_ref);
    free(j);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, NULL, "gzip: could not queue async work");
    return NULL;
  }
  return promise;
}

/* ---------- libuv pool threads as background threads ---------- */

/*
 * The local OSS's event loop is its bottleneck; its pool threads (body hash batches, Node's own file writes)
 * are background work for it. On a 2-core box every wakeup of a pool thread preempted the event loop
 * (CFS wakeup preemption): the sampled event loop time sat in uv_queue_work calls (fs writev, batch
 * submission). SCHED_BATCH keeps the thread's CPU share (same nice weight) and only drops wakeup
 * preemption. Measured (8 parallel 128 MiB parts, bare client, median of 5): 847 -> 1135 MiB/s. The policy is
 * per thread and libuv's threads are shared by the whole process, so it is set once on each thread that runs
 * one of our tasks and kept: all of them within a few batches. Unprivileged (SCHED_OTHER <-> SCHED_BATCH).
 */
static volatile int want_batch_policy = 0; /* written on the main thread, read by pool threads */
static _Thread_local int thread_batch_policy = 0;

static void pool_thread_policy(void) {
#if defined(__linux__) && defined(SCHED_BATCH)
  int want = want_batch_policy;
  if (want == thread_batch_policy) return;
  struct sched_param sp = {0};
  if (sched_setscheduler(0, want ? SCHED_BATCH : SCHED_OTHER, &sp) == 0) thread_batch_policy = want;
#endif
}

static napi_value js_background_pool_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (!get_args(env, info, 1, &argc, argv, "backgroundPoolThreads(on: boolean) needs 1 argument")) return fail_generic(env, "backgroundPoolThreads: arguments");
  bool on = false;
  if (napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "on must be a boolean");
    return NULL;
  }
  want_batch_policy = on ? 1 : 0;
  return NULL;
}

/* ---------- upload body hash: MD5 + CRC-64 (md5_mb.c) ---------- */

/* A context made by bodyHashCreate: right size, aligned, magic intact. `idle` also refuses one a batch holds. */
static bool get_hash_ctx(napi_env env, napi_value v, const char *name, bool idle, ossferry_body_hash **out) {
  uint8_t *p;
  size_t len;
  if (!get_bytes(env, v, name, &p, &len)) return false;
  char msg[160];
  if (len != sizeof(ossferry_body_hash) || ((uintptr_t)p % _Alignof(ossferry_body_hash)) != 0 ||
      ((ossferry_body_hash *)p)->magic != OSSFERRY_BODY_HASH_MAGIC) {
    snprintf(msg, sizeof msg, "%s must be a context made by bodyHashCreate()", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  if (idle && ((ossferry_body_hash *)p)->busy) {
    snprintf(msg, sizeof msg, "%s is in use by a running bodyHashBatch (await it first)", name);
    napi_throw_error(env, "ERR_OSSFERRY_HASH_BUSY", msg);
    return false;
  }
  *out = (ossferry_body_hash *)p;
  return true;
}

static napi_value js_body_hash_create(napi_env env, napi_callback_info info) {
  (void)info;
  void *data;
  napi_value out;
  CHECK(env, napi_create_buffer(env, sizeof(ossferry_body_hash), &data, &out));
  if (((uintptr_t)data % _Alignof(ossferry_body_hash)) != 0) {
    napi_throw_error(env, NULL, "bodyHashCreate: the runtime returned an unaligned buffer");
    return NULL;
  }
  ossferry_body_hash_init(data);
  return out;
}

static napi_value js_body_hash_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  ossferry_body_hash *c;
  if (!get_hash_ctx(env, argv[0], "ctx", true, &c)) return fail_generic(env, "ctx: invalid"); /* missing: undefined */
  napi_value obj, md5, crc, size;
  void *out;
  CHECK(env, napi_create_buffer(env, 16, &out, &md5));
  ossferry_body_hash_md5(c, out);
  CHECK(env, napi_create_bigint_uint64(env, c->crc, &crc));
  CHECK(env, napi_create_double(env, (double)c->total, &size));
  CHECK(env, napi_create_object(env, &obj));
  CHECK(env, napi_set_named_property(env, obj, "md5", md5));
  CHECK(env, napi_set_named_property(env, obj, "crc64", crc));
  CHECK(env, napi_set_named_property(env, obj, "size", size));
  return obj;
}

static napi_value js_md5_kernel(napi_env env, napi_callback_info info) {
  (void)info;
  return string_result(env, ossferry_md5_kernel());
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref *refs; /* every context and data buffer: they stay alive and in place while hashed */
  size_t nrefs;
  ossferry_hash_item *items;
  size_t n;
  bool marked; /* the contexts carry busy = 1 (cleared when the job is freed) */
  int mode;
  int rc;
} hash_job;

static void hash_job_free(napi_env env, hash_job *j) {
  if (j->marked)
    for (size_t i = 0; i < j->n; i++) j->items[i].ctx->busy = 0;
  for (size_t i = 0; i < j->nrefs; i++) napi_delete_reference(env, j->refs[i]);
  free(j->refs);
  free(j->items);
  free(j);
}

static void hash_execute(napi_env env, void *p) {
  (void)env;
  hash_job *j = p;
  pool_thread_policy();
  j->rc = ossferry_body_hash_batch(j->items, j->n, j->mode);
}

static void hash_complete(napi_env env, napi_status status, void *p) {
  hash_job *j = p;
  napi_async_work work = j->work;
  napi_deferred deferred = j->deferred;
  int rc = j->rc;
  hash_job_free(env, j);
  napi_delete_async_work(env, work);
  if (status == napi_ok && rc == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, deferred, undef);
    return;
  }
  napi_value m, code, err;
  napi_create_string_utf8(env, status != napi_ok ? "bodyHashBatch: async work cancelled or failed" : "bodyHashBatch: out of memory",
                          NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, "ERR_OSSFERRY_HASH", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &err);
  napi_reject_deferred(env, deferred, err);
}

/*
 * Reads (ctxs, datas, mode?) into a new job. Everything is validated before any context is marked busy, so a
 * TypeError leaves no context stuck. `hold`: take a reference on every buffer (async: they must stay alive and
 * in place while a pool thread reads them). Returns NULL with an exception pending.
 */
static hash_job *batch_job(napi_env env, napi_callback_info info, bool hold) {
  size_t argc = 3;
  napi_value argv[3];
  if (!get_args(env, info, 2, &argc, argv, "bodyHashBatch(ctxs: Buffer[], datas: Uint8Array[], mode?) needs 2 arguments")) return NULL;
  bool is_arr1 = false, is_arr2 = false;
  if (napi_is_array(env, argv[0], &is_arr1) != napi_ok || napi_is_array(env, argv[1], &is_arr2) != napi_ok) return NULL;
  if (!is_arr1 || !is_arr2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ctxs and datas must be arrays");
    return NULL;
  }
  uint32_t n1, n2;
  if (napi_get_array_length(env, argv[0], &n1) != napi_ok || napi_get_array_length(env, argv[1], &n2) != napi_ok) return NULL;
  if (n1 != n2) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "ctxs and datas must have the same length");
    return NULL;
  }
  int mode = OSSFERRY_MD5_AUTO;
  if (argc >= 3) {
    napi_valuetype t;
    if (napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
    if (t != napi_undefined) {
      double d = -1;
      if (t == napi_number && napi_get_value_double(env, argv[2], &d) != napi_ok) return NULL;
      if (!(d == OSSFERRY_MD5_AUTO || d == OSSFERRY_MD5_SCALAR || d == OSSFERRY_MD5_AVX2 || d == OSSFERRY_MD5_AVX512)) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mode must be 0 (auto), 1 (scalar), 2 (avx2) or 3 (avx512)");
        return NULL;
      }
      mode = (int)d;
      if (mode == OSSFERRY_MD5_AVX2 && !ossferry_md5_avx2_available()) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mode 2 (avx2): this CPU has no AVX2");
        return NULL;
      }
      if (mode == OSSFERRY_MD5_AVX512 && !ossferry_md5_avx512_available()) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mode 3 (avx512): this CPU has no AVX-512F/VL");
        return NULL;
      }
    }
  }
  size_t n = n1;
  hash_job *j = calloc(1, sizeof *j);
  if (j) {
    j->items = calloc(n ? n : 1, sizeof *j->items);
    j->refs = hold ? calloc(n ? 2 * n : 1, sizeof *j->refs) : NULL;
  }
  if (!j || !j->items || (hold && !j->refs)) {
    if (j) free(j->items), free(j->refs);
    free(j);
    napi_throw_error(env, NULL, "bodyHashBatch: out of memory");
    return NULL;
  }
  j->mode = mode;
  bool ok = true;
  for (size_t i = 0; ok && i < n; i++) {
    napi_value c, d;
    uint8_t *data;
    char name[40];
    ok = napi_get_element(env, argv[0], (uint32_t)i, &c) == napi_ok && napi_get_element(env, argv[1], (uint32_t)i, &d) == napi_ok;
    snprintf(name, sizeof name, "ctxs[%zu]", i);
    ok = ok && get_hash_ctx(env, c, name, true, &j->items[i].ctx);
    snprintf(name, sizeof name, "datas[%zu]", i);
    ok = ok && get_bytes(env, d, name, &data, &j->items[i].len);
    if (!ok) break;
    j->items[i].data = data;
    if (!hold) continue;
    ok = napi_create_reference(env, c, 1, &j->refs[j->nrefs]) == napi_ok;
    if (ok) j->nrefs++;
    ok = ok && napi_create_reference(env, d, 1, &j->refs[j->nrefs]) == napi_ok;
    if (ok) j->nrefs++;
  }
  if (!ok) {
    hash_job_free(env, j);
    fail_generic(env, "bodyHashBatch: could not read the arguments");
    return NULL;
  }
  j->n = n;
  return j;
}

/* bodyHashUpdate(ctxs, datas, mode?): the same batch on the calling thread (tests, load-time check, small bodies). */
static napi_value js_body_hash_update(napi_env env, napi_callback_info info) {
  hash_job *j = batch_job(env, info, false);
  if (!j) return NULL;
  int rc = ossferry_body_hash_batch(j->items, j->n, j->mode);
  hash_job_free(env, j);
  if (rc != 0) napi_throw_error(env, NULL, "bodyHashUpdate: out of memory");
  return NULL;
}

static napi_value js_body_hash_batch(napi_env env, napi_callback_info info) {
  hash_job *j = batch_job(env, info, true);
  if (!j) return NULL;
  napi_value promise = NULL, name;
  bool ok = napi_create_promise(env, &j->deferred, &promise) == napi_ok &&
            napi_create_string_utf8(env, "ossferry.bodyHash", NAPI_AUTO_LENGTH, &name) == napi_ok &&
            napi_create_async_work(env, NULL, name, hash_execute, hash_complete, j, &j->work) == napi_ok;
  if (ok) {
    ok = napi_queue_async_work(env, j->work) == napi_ok;
    if (!ok) napi_delete_async_work(env, j->work);
  }
  if (!ok) {
    hash_job_free(env, j);
    return fail_generic(env, "bodyHashBatch: could not queue async work");
  }
  for (size_t i = 0; i < j->n; i++) j->items[i].ctx->busy = 1;
  j->marked = true;
  return promise;
}

/* ---------- early writeback of files being received ---------- */

/*
 * The local OSS fsyncs every body before making it visible. Linux starts writing dirty pages back only past
 * dirty_background_ratio (GBs on a large machine), so without help the whole body is written to disk during
 * that final fsync, after the transfer. sync_file_range(SYNC_FILE_RANGE_WRITE) starts writeback of a range
 * without waiting for it, so the disk works while the network still delivers; the final fsync stays the
 * durability point. It can block while the device queue is full, hence the pool.
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int64_t offset, length;
  int err;
} writeback_job;

static void writeback_execute(napi_env env, void *p) {
  (void)env;
  writeback_job *j = p;
  pool_thread_policy();
#if defined(__linux__)
  j->err = sync_file_range(j->fd, j->offset, j->length, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
#else
  j->err = 0;
#endif
}

static void writeback_complete(napi_env env, napi_status status, void *p) {
  writeback_job *j = p;
  napi_value result;
  if (status == napi_ok && j->err == 0) {
    napi_get_undefined(env, &result);
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    char msg[96];
    snprintf(msg, sizeof msg, "fileWriteback: %s", status != napi_ok ? "async work failed" : strerror(j->err));
    napi_value m, code;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_string_utf8(env, "ERR_OSSFERRY_WRITEBACK", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, m, &result);
    napi_reject_deferred(env, j->deferred, result);
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value js_file_writeback(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (!get_args(env, info, 3, &argc, argv, "fileWriteback(fd, offset, length) needs 3 arguments")) return fail_generic(env, "fileWriteback: arguments");
  uint64_t fd, off, len;
  if (!get_length(env, argv[0], "fd", &fd) || !get_length(env, argv[1], "offset", &off) || !get_length(env, argv[2], "length", &len))
    return fail_generic(env, "fileWriteback: could not read the arguments");
  if (fd > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "fd must be a file descriptor");
    return NULL;
  }
  writeback_job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "fileWriteback: out of memory");
    return NULL;
  }
  j->fd = (int)fd;
  j->offset = (int64_t)off;
  j->length = (int64_t)len;
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "ossferry.writeback", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, writeback_execute, writeback_complete, j, &j->work) != napi_ok) {
    free(j);
    return fail_generic(env, "fileWriteback: could not create async work");
  }
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_async_work(env, j->work);
    free(j);
    return fail_generic(env, "fileWriteback: could not queue async work");
  }
  return promise;
}

/* ---------- module ---------- */

static napi_value init(napi_env env, napi_value exports) {
  ossferry_crc64_init();
  napi_property_descriptor props[] = {
    {"crc64", NULL, js_crc64, NULL, NULL, NULL, napi_enumerable, NULL},
    {"crc64Isal", NULL, js_crc64_isal, NULL, NULL, NULL, napi_enumerable, NULL},
    {"memScan", NULL, js_mem_scan, NULL, NULL, NULL, napi_enumerable, NULL},
    {"crc64Kernel", NULL, js_crc64_kernel, NULL, NULL, NULL, napi_enumerable, NULL},
    {"crc64Combine", NULL, js_crc64_combine, NULL, NULL, NULL, napi_enumerable, NULL},
    {"cpuInfo", NULL, js_cpu_info, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gzip", NULL, js_gzip, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gzipAsync", NULL, js_gzip_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bodyHashCreate", NULL, js_body_hash_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bodyHashUpdate", NULL, js_body_hash_update, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bodyHashBatch", NULL, js_body_hash_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"bodyHashDigest", NULL, js_body_hash_digest, NULL, NULL, NULL, napi_enumerable, NULL},
    {"md5Kernel", NULL, js_md5_kernel, NULL, NULL, NULL, napi_enumerable, NULL},
    {"fileWriteback", NULL, js_file_writeback, NULL, NULL, NULL, napi_enumerable, NULL},
    {"backgroundPoolThreads", NULL, js_background_pool_threads, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
