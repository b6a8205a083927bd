/* Channels-last 2-D convolution and max pooling of theanets.ops.Conv2d*,
   MaxPool2d and MaxPool2dGrad.

   How this file is used
   ---------------------
   Compiled as C++ by Theano after Theano's BLAS declarations and
   common.cpp (whose rnn_gemm, rnn_contiguous, rnn_check_dims,
   rnn_prepare_output and rnn_release it uses); see the comment at the top
   of common.cpp. There are no template placeholders: the Ops' geometry
   (strides, padding, pooling window) is the template arguments of the
   entry points, named by the Ops' c_code().

   Entry points (arrays in the order of the Ops' make_node()):

     conv_forward_run<S0, S1, P0, P1>(in[3], out[1])
         in: x (B, W, H, C), w (N, C, F0, F1), b (N); out: pre (B, W', H', N)
     conv_grad_input_run<S0, S1, P0, P1>(in[3], out[1])
         in: x, w, gpre; out: gx (B, W, H, C)  (x gives the shape only)
     conv_grad_weights_run<S0, S1, P0, P1>(in[3], out[2])
         in: x, w, gpre; out: gw (N, C, F0, F1), gb (N)
     pool_max_run<A0, A1, S0, S1>(in[1], out[1])
         in: x (B, W, H, C); out: y (B, W', H', C)
     pool_max_grad_run<A0, A1, S0, S1>(in[3], out[1])
         in: x, y, gy; out: gx

   The convolution is a true one (the kernel flipped, as Theano's conv2d
   with filter_flip=True): pre[b, i, j, o] = b[o] + sum over (u, v, c) of
   xpad[b, i S0 + u, j S1 + v, c] w[o, c, F0 - 1 - u, F1 - 1 - v]. Rows of
   the output (one per (b, i, j)) are processed in blocks: im2col of the
   block (row r holds the (u, v, c) patch, K = F0 F1 C values) into a
   buffer that stays in cache, then one gemm with the flipped weights
   wm[(u, v, c), o].

   Threads: the batch is cut into units of a fixed number of examples (a
   function of the shapes only). Up to T threads (OMP_NUM_THREADS, else
   OPENBLAS_NUM_THREADS, else the cores the process may use, read at each
   call) take units in turn, each with its own buffers; per-unit partial
   sums of the weight gradient are added in unit order at the end, so the
   results are bitwise the same for any T. While several threads run,
   OpenBLAS is set to one thread (and restored after), so that gemm spawns
   no threads of its own. */

#include <stdlib.h>
#ifdef __linux__
#include <sched.h>
#endif
#include <thread>
#include <atomic>
#include <mutex>
#include <condition_variable>

extern "C" {
int scipy_openblas_get_num_threads(void) __attribute__((weak));
void scipy_openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
}

/* Output rows per example unit, and values of the im2col buffer per
   block: fixed numbers, so that the work split is the same for any
   thread count. */
#define CONV_UNIT_ROWS 512
#define CONV_BLOCK_VALUES 32768
#define CONV_MAX_THREADS 64

static int conv_env_int(const char* name)
{
    const char* s = getenv(name);
    if (!s || !*s) return 0;
    long v = strtol(s, NULL, 10);
    return v > 0 ? (int)(v < CONV_MAX_THREADS ? v : CONV_MAX_THREADS) : 0;
}

/* The cores this process may run on (its affinity mask, e.g. under a
   container's CPU limit), else the machine's. */
static int conv_cores(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    return (int)std::thread::hardware_concurrency();
}

static int conv_thread_count(long units)
{
    int n = conv_env_int("OMP_NUM_THREADS");
    if (!n) n = conv_env_int("OPENBLAS_NUM_THREADS");
    if (!n) n = conv_cores();
    if (n < 1) n = 1;
    if (n > CONV_MAX_THREADS) n = CONV_MAX_THREADS;
    if ((long)n > units) n = (int)(units > 0 ? units : 1);
    return n;
}

static int conv_blas_threads(void)
{
    if (scipy_openblas_get_num_threads)
        return scipy_openblas_get_num_threads();
    if (openblas_get_num_threads) return openblas_get_num_threads();
    return 0;
}

static void conv_set_blas_threads(int n)
{
    if (n <= 0) return;
    if (scipy_openblas_set_num_threads) scipy_openblas_set_num_threads(n);
    else if (openblas_set_num_threads) openblas_set_num_threads(n);
}

/* A pool of worker threads per compiled module, started on first
   use and kept (idle on a condition variable) for the process's life, so
   that a call pays a wake-up rather than a thread start. A job is a
   function over units 0 .. units - 1; the caller takes units too, and
   returns once every unit is done, without waiting for workers that did
   not wake in time: units are handed out through one atomic ticket that
   also carries the job's generation, so a late worker can never run a
   unit of a job other than the one it read. */
struct ConvJob {
    void (*run)(void* ctx, long unit, void* scratch);
    void* ctx;
    long units;
    size_t scratch_bytes;
};

struct ConvPool {
    std::mutex running;           /* held by the caller of a job */
    std::mutex lock;
    std::condition_variable wake;
    ConvJob job;
    long generation = 0;
    int allowed = 0;              /* workers that may join the job */
    int started = 0;
    std::atomic<long long> ticket;     /* generation << 32 | next unit */
    std::atomic<long> finished;
};

/* Never destroyed: at exit, destroying a condition variable that idle
   workers wait on would block forever. */
static ConvPool* conv_pool(void)
{
    static ConvPool* pool = new ConvPool();
    return pool;
}

/* Take the next unit of generation gen, or return -1. */
static long conv_take(ConvPool* pool, long gen, long units)
{
    long long t = pool->ticket.load();
    for (;;) {
        if ((t >> 32) != (long long)(gen & 0x7fffffff)) return -1;
        long u = (long)(t & 0xffffffffLL);
        if (u >= units) return -1;
        if (pool->ticket.compare_exchange_weak(t, t + 1)) return u;
    }
}

static void conv_run_units(ConvPool* pool, const ConvJob& job, long gen,
                           void* scratch)
{
    for (long u; (u = conv_take(pool, gen, job.units)) >= 0;) {
        job.run(job.ctx, u, scratch);
        pool->finished++;
    }
}

static void conv_worker(ConvPool* pool)
{
    long seen = 0;
    void* scratch = NULL;
    size_t size = 0;
    for (;;) {
        ConvJob job;
        long gen;
        {
            std::unique_lock<std::mutex> hold(pool->lock);
            pool->wake.wait(hold, [&] {
                return pool->generation != seen && pool->allowed > 0; });
            seen = gen = pool->generation;
            pool->allowed--;
            job = pool->job;
        }
        if (job.scratch_bytes > size) {
            void* grown = realloc(scratch, job.scratch_bytes);
            if (!grown) continue;  /* leave the units to the others */
            scratch = grown;
            size = job.scratch_bytes;
        }
        conv_run_units(pool, job, gen, scratch);
    }
}

template <typename F>
static void conv_trampoline(void* ctx, long unit, void* scratch)
{
    (*(F*)ctx)(unit, scratch);
}

/* Run work(unit, scratch) for unit = 0 .. units - 1 on up to the allowed
   number of threads, each with `scratch_bytes` of scratch memory of its
   own. Returns -1 (with MemoryError set) if the caller's scratch could
   not be allocated. */
template <typename F>
static int conv_parallel(long units, size_t scratch_bytes, F work)
{
    if (units <= 0) return 0;
    void* scratch = malloc(scratch_bytes ? scratch_bytes : 1);
    if (!scratch) { PyErr_NoMemory(); return -1; }
    int threads = conv_thread_count(units);
    ConvPool* pool = conv_pool();
    /* another caller's job on this module's pool: run this one alone */
    std::unique_lock<std::mutex> mine(pool->running, std::try_to_lock);
    if (threads <= 1 || !mine.owns_lock()) {
        for (long u = 0; u < units; u++) work(u, scratch);
        free(scratch);
        return 0;
    }
    ConvJob job = {conv_trampoline<F>, (void*)&work, units, scratch_bytes};
    int saved = conv_blas_threads();
    conv_set_blas_threads(1);
    long gen;
    {
        std::lock_guard<std::mutex> hold(pool->lock);
        while (pool->started < threads - 1) {
            try {
                std::thread(conv_worker, pool).detach();
                pool->started++;
            } catch (...) {
                break;
            }
        }
        gen = ++pool->generation;
        pool->job = job;
        pool->allowed = threads - 1;
        pool->finished = 0;
        pool->ticket = (long long)(gen & 0x7fffffff) << 32;
    }
    pool->wake.notify_all();
    conv_run_units(pool, job, gen, scratch);
    while (pool->finished.load() < units) std::this_thread::yield();
    {
        /* no worker joins this job any more */
        std::lock_guard<std::mutex> hold(pool->lock);
        pool->allowed = 0;
    }
    conv_set_blas_threads(saved);
    free(scratch);
    return 0;
}

struct ConvGeom {
    long B, W, H, C, N, F0, F1, S0, S1, P0, P1, Wo, Ho, K, P;
    long group, units, block;
};

static long conv_out_length(long length, long f, long s, long p)
{
    long span = length + 2 * p - f;
    return span < 0 ? 0 : span / s + 1;
}

static void conv_geometry(ConvGeom* g, long B, long W, long H, long C,
                          long N, long F0, long F1, long S0, long S1,
                          long P0, long P1)
{
    g->B = B; g->W = W; g->H = H; g->C = C; g->N = N; g->F0 = F0;
    g->F1 = F1; g->S0 = S0; g->S1 = S1; g->P0 = P0; g->P1 = P1;
    g->Wo = conv_out_length(W, F0, S0, P0);
    g->Ho = conv_out_length(H, F1, S1, P1);
    g->K = F0 * F1 * C;
    g->P = g->Wo * g->Ho;
    long per = g->P > 0 ? g->P : 1;
    g->group = (CONV_UNIT_ROWS + per - 1) / per;
    if (g->group < 1) g->group = 1;
    g->units = (B + g->group - 1) / g->group;
    long kk = g->K > 0 ? g->K : 1;
    g->block = CONV_BLOCK_VALUES / kk;
    if (g->block < 8) g->block = 8;
}

/* The output position after (b, i, j), in row order. */
static inline void conv_step(const ConvGeom& g, long* b, long* i, long* j)
{
    if (++*j < g.Ho) return;
    *j = 0;
    if (++*i < g.Wo) return;
    *i = 0;
    ++*b;
}

/* The patches of output rows r0 .. r1 - 1 into cols ((r1 - r0) x K). */
template <typename T>
static void conv_im2col(const ConvGeom& g, const T* x, long r0, long r1,
                        T* cols)
{
    const long C = g.C, F1C = g.F1 * g.C;
    if (r1 <= r0) return;
    /* (b, i, j) of row r, stepped along (no divisions per row) */
    long b = r0 / g.P, q = r0 % g.P, i = q / g.Ho, j = q % g.Ho;
    for (long r = r0; r < r1; r++, conv_step(g, &b, &i, &j)) {
        T* dst = cols + (r - r0) * g.K;
        long j0 = j * g.S1 - g.P1;
        bool inside = j0 >= 0 && j0 + g.F1 <= g.H;
        for (long u = 0; u < g.F0; u++, dst += F1C) {
            long ii = i * g.S0 + u - g.P0;
            if (ii < 0 || ii >= g.W) {
                for (long k = 0; k < F1C; k++) dst[k] = 0;
                continue;
            }
            const T* row = x + ((b * g.W + ii) * g.H) * C;
            if (inside) {
                const T* src = row + j0 * C;
                for (long k = 0; k < F1C; k++) dst[k] = src[k];
                continue;
            }
            for (long v = 0; v < g.F1; v++) {
                long jj = j0 + v;
                T* d = dst + v * C;
                if (jj < 0 || jj >= g.H) {
                    for (long c = 0; c < C; c++) d[c] = 0;
                } else {
                    const T* src = row + jj * C;
                    for (long c = 0; c < C; c++) d[c] = src[c];
                }
            }
        }
    }
}

/* Add the patch gradients dcols of rows r0 .. r1 - 1 into gx. */
template <typename T>
static void conv_col2im(const ConvGeom& g, const T* dcols, long r0,
                        long r1, T* gx)
{
    const long C = g.C;
    if (r1 <= r0) return;
    long b = r0 / g.P, q = r0 % g.P, i = q / g.Ho, j = q % g.Ho;
    for (long r = r0; r < r1; r++, conv_step(g, &b, &i, &j)) {
        const T* src = dcols + (r - r0) * g.K;
        long j0 = j * g.S1 - g.P1;
        for (long u = 0; u < g.F0; u++) {
            long ii = i * g.S0 + u - g.P0;
            if (ii < 0 || ii >= g.W) { src += g.F1 * C; continue; }
            T* row = gx + ((b * g.W + ii) * g.H) * C;
            for (long v = 0; v < g.F1; v++, src += C) {
                long jj = j0 + v;
                if (jj < 0 || jj >= g.H) continue;
                T* d = row + jj * C;
                for (long c = 0; c < C; c++) d[c] += src[c];
            }
        }
    }
}

/* wm[(u, v, c), o] = w[o, c, F0 - 1 - u, F1 - 1 - v] (the flip). */
template <typename T>
static void conv_flip_weights(const ConvGeom& g, const T* w, T* wm)
{
    for (long u = 0; u < g.F0; u++)
        for (long v = 0; v < g.F1; v++)
            for (long c = 0; c < g.C; c++)
                for (long o = 0; o < g.N; o++)
                    wm[((u * g.F1 + v) * g.C + c) * g.N + o] =
                        w[((o * g.C + c) * g.F0 + (g.F0 - 1 - u)) * g.F1
                          + (g.F1 - 1 - v)];
}

/* Rows of unit u: [*r0, *r1). */
static void conv_unit_rows(const ConvGeom& g, long u, long* r0, long* r1)
{
    long b0 = u * g.group, b1 = b0 + g.group;
    if (b1 > g.B) b1 = g.B;
    *r0 = b0 * g.P;
    *r1 = b1 * g.P;
}

template <typename T>
static int conv_forward(const ConvGeom& g, const T* x, const T* wm,
                        const T* bias, T* pre)
{
    return conv_parallel(g.units, (size_t)g.block * g.K * sizeof(T),
                         [&](long u, void* scratch) {
        T* cols = (T*)scratch;
        long r0, r1;
        conv_unit_rows(g, u, &r0, &r1);
        for (long s = r0; s < r1; s += g.block) {
            long e = s + g.block < r1 ? s + g.block : r1;
            conv_im2col(g, x, s, e, cols);
            T* out = pre + s * g.N;
            for (long r = 0; r < e - s; r++)
                for (long o = 0; o < g.N; o++) out[r * g.N + o] = bias[o];
            /* out (rows x N) += cols (rows x K) . wm (K x N), as the
               column-major out^T = wm^T cols^T */
            rnn_gemm('N', 'N', (int)g.N, (int)(e - s), (int)g.K, (T)1, wm,
                     (int)g.N, cols, (int)g.K, (T)1, out, (int)g.N);
        }
    });
}

template <typename T>
static int conv_grad_input(const ConvGeom& g, const T* wm, const T* gpre,
                           T* gx)
{
    return conv_parallel(g.units, (size_t)g.block * g.K * sizeof(T),
                         [&](long u, void* scratch) {
        T* dcols = (T*)scratch;
        long b0 = u * g.group, b1 = b0 + g.group < g.B ? b0 + g.group : g.B;
        T* start = gx + b0 * g.W * g.H * g.C;
        long count = (b1 - b0) * g.W * g.H * g.C;
        for (long k = 0; k < count; k++) start[k] = 0;
        long r0, r1;
        conv_unit_rows(g, u, &r0, &r1);
        for (long s = r0; s < r1; s += g.block) {
            long e = s + g.block < r1 ? s + g.block : r1;
            /* dcols (rows x K) = gpre (rows x N) . wm^T, as the
               column-major dcols^T = wm gpre^T */
            rnn_gemm('T', 'N', (int)g.K, (int)(e - s), (int)g.N, (T)1, wm,
                     (int)g.N, gpre + s * g.N, (int)g.N, (T)0, dcols,
                     (int)g.K);
            conv_col2im(g, dcols, s, e, gx);
        }
    });
}

/* partial: units x (K N) values of T, then units x N doubles (bias). */
template <typename T>
static int conv_grad_weights(const ConvGeom& g, const T* x, const T* gpre,
                             T* partial, double* bias_partial)
{
    return conv_parallel(g.units, (size_t)g.block * g.K * sizeof(T),
                         [&](long u, void* scratch) {
        T* cols = (T*)scratch;
        T* dwm = partial + u * g.K * g.N;
        double* db = bias_partial + u * g.N;
        for (long k = 0; k < g.K * g.N; k++) dwm[k] = 0;
        for (long o = 0; o < g.N; o++) db[o] = 0;
        long r0, r1;
        conv_unit_rows(g, u, &r0, &r1);
        for (long s = r0; s < r1; s += g.block) {
            long e = s + g.block < r1 ? s + g.block : r1;
            conv_im2col(g, x, s, e, cols);
            const T* d = gpre + s * g.N;
            /* dwm (K x N) += cols^T (K x rows) . gpre (rows x N), as the
               column-major dwm^T = gpre^T cols */
            rnn_gemm('N', 'T', (int)g.N, (int)g.K, (int)(e - s), (T)1, d,
                     (int)g.N, cols, (int)g.K, (T)1, dwm, (int)g.N);
            for (long r = 0; r < e - s; r++)
                for (long o = 0; o < g.N; o++) db[o] += d[r * g.N + o];
        }
    });
}

/* Inputs x (4-d), w (4-d) and a third array; the geometry from their
   shapes. Returns the type number or -1. */
static int conv_setup(const char* op, PyArrayObject** in, PyArrayObject** x,
                      const char* const* names, const int* ndims,
                      ConvGeom* g, long S0, long S1, long P0, long P1)
{
    int typenum = rnn_contiguous(op, 3, in, x, names, ndims);
    if (typenum < 0) return -1;
    npy_intp* xd = PyArray_DIMS(x[0]);
    npy_intp* wd = PyArray_DIMS(x[1]);
    if (wd[1] != xd[3]) {
        PyErr_Format(PyExc_ValueError, "%s op: w has %ld input channels "
                     "(shape[1]), x has %ld (shape[3])", op, (long)wd[1],
                     (long)xd[3]);
        return -1;
    }
    conv_geometry(g, xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3], S0,
                  S1, P0, P1);
    if ((double)g->B * g->P >= INT_MAX || (double)g->K * g->N >= INT_MAX
            || (double)g->block * g->K >= INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s op: arrays too large", op);
        return -1;
    }
    return typenum;
}

template <typename T>
static T* conv_flipped(const ConvGeom& g, PyArrayObject* w)
{
    T* wm = (T*)malloc(sizeof(T) * (g.K * g.N + 1));
    if (!wm) { PyErr_NoMemory(); return NULL; }
    conv_flip_weights(g, (const T*)PyArray_DATA(w), wm);
    return wm;
}

template <typename T>
static int conv_forward_typed(const ConvGeom& g, PyArrayObject** x,
                              PyArrayObject* out)
{
    T* wm = conv_flipped<T>(g, x[1]);
    if (!wm) return -1;
    int ret = conv_forward(g, (const T*)PyArray_DATA(x[0]), wm,
                           (const T*)PyArray_DATA(x[2]),
                           (T*)PyArray_DATA(out));
    free(wm);
    return ret;
}

template <int S0, int S1, int P0, int P1>
static int conv_forward_run(PyArrayObject** in, PyArrayObject** out)
{
    static const char* const names[3] = {"x", "w", "b"};
    static const int ndims[3] = {4, 4, 1};
    PyArrayObject* x[3];
    ConvGeom g;
    int ret = -1;
    int typenum = conv_setup("Conv2d", in, x, names, ndims, &g, S0, S1, P0,
                             P1);
    if (typenum < 0) goto done;
    {
        npy_intp d_b[1] = {(npy_intp)g.N};
        npy_intp d_out[4] = {(npy_intp)g.B, (npy_intp)g.Wo, (npy_intp)g.Ho,
                             (npy_intp)g.N};
        if (rnn_check_dims("Conv2d", x[2], "b", 1, d_b)
                || rnn_prepare_output(&out[0], 4, d_out, typenum))
            goto done;
    }
    ret = typenum == NPY_FLOAT32 ? conv_forward_typed<float>(g, x, out[0])
                                 : conv_forward_typed<double>(g, x, out[0]);
done:
    rnn_release(3, x);
    return ret;
}

static int conv_check_gpre(const ConvGeom& g, PyArrayObject* gpre)
{
    npy_intp d[4] = {(npy_intp)g.B, (npy_intp)g.Wo, (npy_intp)g.Ho,
                     (npy_intp)g.N};
    return rnn_check_dims("Conv2d", gpre, "gpre", 4, d);
}

template <typename T>
static int conv_grad_input_typed(const ConvGeom& g, PyArrayObject** x,
                                 PyArrayObject* gx)
{
    T* wm = conv_flipped<T>(g, x[1]);
    if (!wm) return -1;
    int ret = conv_grad_input(g, wm, (const T*)PyArray_DATA(x[2]),
                              (T*)PyArray_DATA(gx));
    free(wm);
    return ret;
}

template <int S0, int S1, int P0, int P1>
static int conv_grad_input_run(PyArrayObject** in, PyArrayObject** out)
{
    static const char* const names[3] = {"x", "w", "gpre"};
    static const int ndims[3] = {4, 4, 4};
    PyArrayObject* x[3];
    ConvGeom g;
    int ret = -1;
    int typenum = conv_setup("Conv2d", in, x, names, ndims, &g, S0, S1, P0,
                             P1);
    if (typenum < 0 || conv_check_gpre(g, x[2])
            || rnn_prepare_output(&out[0], 4, PyArray_DIMS(x[0]), typenum))
        goto done;
    ret = typenum == NPY_FLOAT32
        ? conv_grad_input_typed<float>(g, x, out[0])
        : conv_grad_input_typed<double>(g, x, out[0]);
done:
    rnn_release(3, x);
    return ret;
}

/* Sum the per-unit partials in unit order and unflip into gw, gb. */
template <typename T>
static int conv_grad_weights_typed(const ConvGeom& g, PyArrayObject** x,
                                   PyArrayObject* gw, PyArrayObject* gb)
{
    long units = g.units > 0 ? g.units : 0;
    size_t kn = (size_t)g.K * g.N;
    T* partial = (T*)malloc(sizeof(T) * (units * kn + 1));
    double* bias_partial = (double*)malloc(
        sizeof(double) * (units * g.N + kn + 1));
    if (!partial || !bias_partial) {
        free(partial); free(bias_partial);
        PyErr_NoMemory();
        return -1;
    }
    int ret = conv_grad_weights(g, (const T*)PyArray_DATA(x[0]),
                                (const T*)PyArray_DATA(x[2]), partial,
                                bias_partial);
    if (ret == 0) {
        double* total = bias_partial + units * g.N;
        for (size_t k = 0; k < kn; k++) total[k] = 0;
        for (long u = 0; u < units; u++)
            for (size_t k = 0; k < kn; k++) total[k] += partial[u * kn + k];
        T* w = (T*)PyArray_DATA(gw);
        for (long u = 0; u < g.F0; u++)
            for (long v = 0; v < g.F1; v++)
                for (long c = 0; c < g.C; c++)
                    for (long o = 0; o < g.N; o++)
                        w[((o * g.C + c) * g.F0 + (g.F0 - 1 - u)) * g.F1
                          + (g.F1 - 1 - v)] =
                            (T)total[((u * g.F1 + v) * g.C + c) * g.N + o];
        T* b = (T*)PyArray_DATA(gb);
        for (long o = 0; o < g.N; o++) {
            double s = 0;
            for (long u = 0; u < units; u++) s += bias_partial[u * g.N + o];
            b[o] = (T)s;
        }
    }
    free(partial);
    free(bias_partial);
    return ret;
}

template <int S0, int S1, int P0, int P1>
static int conv_grad_weights_run(PyArrayObject** in, PyArrayObject** out)
{
    static const char* const names[3] = {"x", "w", "gpre"};
    static const int ndims[3] = {4, 4, 4};
    PyArrayObject* x[3];
    ConvGeom g;
    int ret = -1;
    int typenum = conv_setup("Conv2d", in, x, names, ndims, &g, S0, S1, P0,
                             P1);
    if (typenum < 0 || conv_check_gpre(g, x[2])) goto done;
    {
        npy_intp d_b[1] = {(npy_intp)g.N};
        if (rnn_prepare_output(&out[0], 4, PyArray_DIMS(x[1]), typenum)
                || rnn_prepare_output(&out[1], 1, d_b, typenum))
            goto done;
    }
    ret = typenum == NPY_FLOAT32
        ? conv_grad_weights_typed<float>(g, x, out[0], out[1])
        : conv_grad_weights_typed<double>(g, x, out[0], out[1]);
done:
    rnn_release(3, x);
    return ret;
}

/* ------------------------------------------------------------------
   Max pooling over (W, H) of (B, W, H, C) data, windows A0 x A1 with
   steps S0, S1, no padding, windows crossing the border dropped. The
   gradient follows Theano's MaxPoolGrad: every input equal to its
   window's maximum receives the window's gradient (all of them on ties),
   added over overlapping windows in output order. */

template <typename T>
static void pool_max_example(const T* x, T* y, long W, long H, long C,
                             long Wo, long Ho, long A0, long A1, long S0,
                             long S1)
{
    for (long i = 0; i < Wo; i++)
        for (long j = 0; j < Ho; j++) {
            T* __restrict out = y + (i * Ho + j) * C;
            const T* first = x + ((i * S0) * H + j * S1) * C;
            for (long c = 0; c < C; c++) out[c] = first[c];
            for (long a = 0; a < A0; a++)
                for (long b = 0; b < A1; b++) {
                    const T* __restrict src =
                        x + ((i * S0 + a) * H + j * S1 + b) * C;
                    RNN_IVDEP
                    for (long c = 0; c < C; c++)
                        out[c] = src[c] > out[c] ? src[c] : out[c];
                }
        }
}

/* Windows that do not overlap (steps at least the window) write each
   input's gradient once; overlapping ones add, in output order. */
template <typename T>
static void pool_max_grad_example(const T* x, const T* y, const T* gy,
                                  T* gx, long W, long H, long C, long Wo,
                                  long Ho, long A0, long A1, long S0,
                                  long S1)
{
    const bool disjoint = S0 >= A0 && S1 >= A1;
    memset(gx, 0, sizeof(T) * W * H * C);
    for (long i = 0; i < Wo; i++)
        for (long j = 0; j < Ho; j++) {
            const T* __restrict m = y + (i * Ho + j) * C;
            const T* __restrict d = gy + (i * Ho + j) * C;
            for (long a = 0; a < A0; a++)
                for (long b = 0; b < A1; b++) {
                    long o = ((i * S0 + a) * H + j * S1 + b) * C;
                    const T* __restrict src = x + o;
                    T* __restrict dst = gx + o;
                    if (disjoint) {
                        RNN_IVDEP
                        for (long c = 0; c < C; c++)
                            dst[c] = src[c] == m[c] ? d[c] : (T)0;
                    } else {
                        RNN_IVDEP
                        for (long c = 0; c < C; c++)
                            dst[c] += src[c] == m[c] ? d[c] : (T)0;
                    }
                }
        }
}

struct PoolGeom { long B, W, H, C, Wo, Ho, group, units; };

static void pool_geometry(PoolGeom* g, npy_intp* d, long A0, long A1,
                          long S0, long S1)
{
    g->B = d[0]; g->W = d[1]; g->H = d[2]; g->C = d[3];
    g->Wo = g->W >= A0 ? (g->W - A0) / S0 + 1 : 0;
    g->Ho = g->H >= A1 ? (g->H - A1) / S1 + 1 : 0;
    long per = g->W * g->H * g->C;
    g->group = per > 0 ? (16384 + per - 1) / per : 1;
    if (g->group < 1) g->group = 1;
    g->units = (g->B + g->group - 1) / g->group;
}

template <typename T>
static int pool_max_typed(const PoolGeom& g, PyArrayObject* x,
                          PyArrayObject* y, long A0, long A1, long S0,
                          long S1)
{
    const T* xs = (const T*)PyArray_DATA(x);
    T* ys = (T*)PyArray_DATA(y);
    return conv_parallel(g.units, 0, [&](long u, void*) {
        long b1 = (u + 1) * g.group < g.B ? (u + 1) * g.group : g.B;
        for (long b = u * g.group; b < b1; b++)
            pool_max_example(xs + b * g.W * g.H * g.C,
                             ys + b * g.Wo * g.Ho * g.C, g.W, g.H, g.C,
                             g.Wo, g.Ho, A0, A1, S0, S1);
    });
}

template <typename T>
static int pool_max_grad_typed(const PoolGeom& g, PyArrayObject** x,
                               PyArrayObject* gx, long A0, long A1,
                               long S0, long S1)
{
    const T* xs = (const T*)PyArray_DATA(x[0]);
    const T* ys = (const T*)PyArray_DATA(x[1]);
    const T* gys = (const T*)PyArray_DATA(x[2]);
    T* gxs = (T*)PyArray_DATA(gx);
    return conv_parallel(g.units, 0, [&](long u, void*) {
        long b1 = (u + 1) * g.group < g.B ? (u + 1) * g.group : g.B;
        long in = g.W * g.H * g.C, out = g.Wo * g.Ho * g.C;
        for (long b = u * g.group; b < b1; b++)
            pool_max_grad_example(xs + b * in, ys + b * out, gys + b * out,
                                  gxs + b * in, g.W, g.H, g.C, g.Wo, g.Ho,
                                  A0, A1, S0, S1);
    });
}

template <int A0, int A1, int S0, int S1>
static int pool_max_run(PyArrayObject** in, PyArrayObject** out)
{
    static const char* const names[1] = {"x"};
    static const int ndims[1] = {4};
    PyArrayObject* x[1];
    PoolGeom g;
    int ret = -1;
    int typenum = rnn_contiguous("MaxPool2d", 1, in, x, names, ndims);
    if (typenum < 0) goto done;
    pool_geometry(&g, PyArray_DIMS(x[0]), A0, A1, S0, S1);
    {
        npy_intp d[4] = {(npy_intp)g.B, (npy_intp)g.Wo, (npy_intp)g.Ho,
                         (npy_intp)g.C};
        if (rnn_prepare_output(&out[0], 4, d, typenum)) goto done;
    }
    ret = typenum == NPY_FLOAT32
        ? pool_max_typed<float>(g, x[0], out[0], A0, A1, S0, S1)
        : pool_max_typed<double>(g, x[0], out[0], A0, A1, S0, S1);
done:
    rnn_release(1, x);
    return ret;
}

template <int A0, int A1, int S0, int S1>
static int pool_max_grad_run(PyArrayObject** in, PyArrayObject** out)
{
    static const char* const names[3] = {"x", "y", "gy"};
    static const int ndims[3] = {4, 4, 4};
    PyArrayObject* x[3];
    PoolGeom g;
    int ret = -1;
    int typenum = rnn_contiguous("MaxPool2d", 3, in, x, names, ndims);
    if (typenum < 0) goto done;
    pool_geometry(&g, PyArray_DIMS(x[0]), A0, A1, S0, S1);
    {
        npy_intp d[4] = {(npy_intp)g.B, (npy_intp)g.Wo, (npy_intp)g.Ho,
                         (npy_intp)g.C};
        if (rnn_check_dims("MaxPool2d", x[1], "y", 4, d)
                || rnn_check_dims("MaxPool2d", x[2], "gy", 4, d)
                || rnn_prepare_output(&out[0], 4, PyArray_DIMS(x[0]),
                                      typenum))
            goto done;
    }
    ret = typenum == NPY_FLOAT32
        ? pool_max_grad_typed<float>(g, x, out[0], A0, A1, S0, S1)
        : pool_max_grad_typed<double>(g, x, out[0], A0, A1, S0, S1);
done:
    rnn_release(3, x);
    return ret;
}
