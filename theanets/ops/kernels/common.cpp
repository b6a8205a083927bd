/* Helpers shared by the fused recurrent Ops of theanets.ops: fast
   single-precision nonlinearities, a BLAS gemm wrapper for both float
   types, and the checks and allocations of input and output arrays.

   How this file is used
   ---------------------
   theanets/ops/_base.py reads this file (once per process) and hands its
   text to Theano as support code, before rnn.cpp, lstm.cpp or gru.cpp.
   Theano compiles it with a C++ compiler (g++) inside a generated extension
   module that has already included <Python.h> and <numpy/arrayobject.h>
   and, before this file, Theano's BLAS declarations
   (theano.tensor.blas_headers.blas_header_text(): the Fortran prototypes
   of sgemm_ and dgemm_, or a NumPy-based stand-in when no BLAS is linked).
   It is therefore not a standalone translation unit. It is C++ only for
   overloading on float / double and for templates; there are no classes,
   exceptions or C++ library calls.

   There are no template placeholders: the text is compiled exactly as it
   stands. The Python side generates only the few lines of each Op's
   c_code() that pass the Theano variables to the *_run entry points of
   rnn.cpp, lstm.cpp and gru.cpp.

   The compile-cache version of the Ops is a digest of this file, the Op's
   own kernel file and its c_code() snippet, so editing any of them makes
   Theano recompile; there is no version number to bump.

   Errors: the functions that can fail return -1 with a Python exception
   set. */

#include <stdint.h>
#include <string.h>
#include <math.h>
#include <limits.h>

/* The gate loops write several blocks of one array; tell the compiler that
   iterations are independent, so that it vectorises them. */
#if defined(__clang__)
#define RNN_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define RNN_IVDEP _Pragma("GCC ivdep")
#else
#define RNN_IVDEP
#endif

static inline float rnn_bits_to_float(uint32_t u)
{ float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t rnn_float_to_bits(float f)
{ uint32_t u; memcpy(&u, &f, 4); return u; }

/* exp(x) for x <= 0 in single precision, branch-free so that loops calling
   it vectorise. Results below FLT_MIN (x < ln FLT_MIN) flush to 0; NaN
   propagates. x = k ln2 + r with |r| <= ln2 / 2 (k rounded with the
   1.5 * 2^23 constant, ln 2 split in two for an exact product), then e^r by
   its degree-7 Taylor polynomial (truncation error < 6e-9) times 2^k. */
static inline float rnn_exp_nonpos(float x)
{
    const float lo = -87.33654f;
    float xc = x < lo ? lo : x;
    float t = xc * 1.44269504f + 12582912.0f;
    uint32_t kbits = rnn_float_to_bits(t);
    float k = t - 12582912.0f;
    float r = xc - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.98412698e-4f;
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    float scale = rnn_bits_to_float((kbits - 0x4B400000u + 127u) << 23);
    float e = p * scale;
    return x < lo ? 0.0f : e;
}

static inline float rnn_sigmoid(float x)
{
    float e = rnn_exp_nonpos(-fabsf(x));
    float d = 1.0f / (1.0f + e);
    return x >= 0.0f ? d : e * d;
}

/* tanh: odd polynomial (least-squares fit of (tanh(x) / x - 1) / x^2 in
   x^2) for |x| < 0.625, else (1 - e) / (1 + e) with e = exp(-2|x|). */
static inline float rnn_tanh(float x)
{
    float ax = fabsf(x);
    float u = x * x;
    float p = -5.704042501747608e-3f;
    p = p * u + 2.0637862384319305e-2f;
    p = p * u - 5.373915657401085e-2f;
    p = p * u + 1.33314311504364e-1f;
    p = p * u - 3.333328068256378e-1f;
    float small = ax + ax * (u * p);
    float e = rnn_exp_nonpos(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    return copysignf(ax < 0.625f ? small : big, x);
}

static inline double rnn_sigmoid(double x)
{
    double e = exp(-fabs(x));
    double d = 1.0 / (1.0 + e);
    return x >= 0.0 ? d : e * d;
}

static inline double rnn_tanh(double x) { return tanh(x); }

/* Activations of the RNN's hidden state and the GRU's candidate, selected
   by a template argument, and their derivatives from the saved
   pre-activation p and value g(p). */
enum { RNN_LINEAR = 0, RNN_RELU = 1, RNN_SIGMOID = 2, RNN_TANH = 3 };

static inline float rnn_abs(float x) { return fabsf(x); }
static inline double rnn_abs(double x) { return fabs(x); }

template <typename T, int ACT>
static inline T rnn_activate(T p)
{
    if (ACT == RNN_TANH) return rnn_tanh(p);
    if (ACT == RNN_SIGMOID) return rnn_sigmoid(p);
    if (ACT == RNN_RELU) return (p + rnn_abs(p)) / 2;
    return p;
}

/* relu is (p + |p|) / 2, whose derivative is 1/2 at 0 (as Theano's). */
template <typename T, int ACT>
static inline T rnn_derivative(T p, T g)
{
    if (ACT == RNN_TANH) return 1 - g * g;
    if (ACT == RNN_SIGMOID) return g * (1 - g);
    if (ACT == RNN_RELU) return (T)((p > 0) + (p >= 0)) / 2;
    return 1;
}

/* The Fortran BLAS gemm of each precision. The pointers are not const:
   Theano's NumPy-based stand-in for a BLAS (used when no BLAS is linked)
   declares them so. */
static inline void blas_gemm(char* ta, char* tb, int* m, int* n, int* k,
                             float* alpha, float* a, int* lda, float* b,
                             int* ldb, float* beta, float* c, int* ldc)
{
    sgemm_(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static inline void blas_gemm(char* ta, char* tb, int* m, int* n, int* k,
                             double* alpha, double* a, int* lda, double* b,
                             int* ldb, double* beta, double* c, int* ldc)
{
    dgemm_(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Column-major C = alpha op(A) op(B) + beta C through the Fortran BLAS,
   tolerating empty dimensions. */
template <typename T>
static void rnn_gemm(char ta, char tb, int m, int n, int k, T alpha,
                      const T* a, int lda, const T* b, int ldb,
                      T beta, T* c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                c[i + (long)j * ldc] =
                    beta == 0 ? 0 : beta * c[i + (long)j * ldc];
        return;
    }
    blas_gemm(&ta, &tb, &m, &n, &k, &alpha, (T*)a, &lda, (T*)b, &ldb,
              &beta, c, &ldc);
}

/* Make *out a C-contiguous array of the given shape and type. */
static int rnn_prepare_output(PyArrayObject** out, int nd, npy_intp* dims,
                              int typenum)
{
    if (*out && PyArray_NDIM(*out) == nd && PyArray_TYPE(*out) == typenum
            && PyArray_IS_C_CONTIGUOUS(*out)) {
        int same = 1;
        for (int k = 0; k < nd; k++)
            same = same && PyArray_DIMS(*out)[k] == dims[k];
        if (same) return 0;
    }
    Py_XDECREF(*out);
    *out = (PyArrayObject*)PyArray_EMPTY(nd, dims, typenum, 0);
    return *out ? 0 : -1;
}

/* Contiguous versions of the inputs, checked for one common float type.
   Returns the type number, or -1 with an exception set. */
static int rnn_contiguous(const char* op, int count, PyArrayObject** in,
                          PyArrayObject** out, const char* const* names,
                          const int* ndims)
{
    for (int k = 0; k < count; k++) out[k] = NULL;
    int typenum = PyArray_TYPE(in[0]);
    if (typenum != NPY_FLOAT32 && typenum != NPY_FLOAT64) {
        PyErr_Format(PyExc_TypeError, "%s op: float32 or float64 only", op);
        return -1;
    }
    for (int k = 0; k < count; k++) {
        if (PyArray_TYPE(in[k]) != typenum
                || PyArray_NDIM(in[k]) != ndims[k]) {
            PyErr_Format(PyExc_TypeError, "%s op: %s has the wrong type or "
                         "number of dimensions", op, names[k]);
            return -1;
        }
        out[k] = PyArray_GETCONTIGUOUS(in[k]);
        if (!out[k]) return -1;
    }
    return typenum;
}

static int rnn_check_dims(const char* op, PyArrayObject* arr,
                          const char* name, int nd, const npy_intp* dims)
{
    for (int k = 0; k < nd; k++) {
        if (PyArray_DIMS(arr)[k] != dims[k]) {
            PyErr_Format(PyExc_ValueError,
                         "%s op: dimension %d of %s is %ld, expected %ld",
                         op, k, name, (long)PyArray_DIMS(arr)[k],
                         (long)dims[k]);
            return -1;
        }
    }
    return 0;
}

/* Shapes of the forward inputs; sets steps, batch, n (all fitting in an
   int together with the gemm sizes) or returns -1. */
static int rnn_shapes(const char* op, PyArrayObject* hh, PyArrayObject* h0,
                      npy_intp steps_dim, npy_intp* steps, npy_intp* batch,
                      npy_intp* n)
{
    *n = PyArray_DIMS(hh)[0];
    *batch = PyArray_DIMS(h0)[0];
    *steps = steps_dim;
    if ((double)(*steps) * (*batch) >= INT_MAX || 5.0 * (*n) >= INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s op: arrays too large", op);
        return -1;
    }
    return 0;
}

static void rnn_release(int count, PyArrayObject** arrays)
{
    for (int k = 0; k < count; k++) Py_XDECREF(arrays[k]);
}
