r"""Fused Theano Ops for the LSTM recurrence.

:class:`theanets.layers.LSTM` can run its loop over time steps either with
Theano's ``scan`` or with the two Ops defined here, which compute the whole
recurrence (all time steps) in one C call each:

:class:`LSTMForward`
    Given the input projections ``xw`` (``x W_xh``, time-major,
    ``(T, B, 4n)``, column blocks :math:`i, f, c, o`), the bias ``b``
    ``(4n,)``, the recurrent weights ``hh`` ``(n, 4n)``, the peephole
    vectors ``ci``, ``cf``, ``co`` ``(n,)`` and the initial states ``h0``,
    ``c0`` ``(B, n)``, computes for :math:`t = 0, \ldots, T-1`

    .. math::
       z = (xw_t + b) + h_{t-1} W_{hh}, \quad
       i = \sigma(z_i + c_{t-1} \odot w_{ci}), \quad
       f = \sigma(z_f + c_{t-1} \odot w_{cf}), \\
       c_t = f \odot c_{t-1} + i \odot \tanh(z_c), \quad
       o = \sigma(z_o + c_t \odot w_{co}), \quad
       h_t = o \odot \tanh(c_t)

    and returns ``h`` and ``c`` ``(T, B, n)`` plus the activations
    ``(T, B, 5n)`` (blocks :math:`i, f, \tanh(z_c), o, \tanh(c_t)`) that the
    gradient needs, so that back-propagation evaluates no transcendental
    function.
:class:`LSTMGrad`
    Back-propagation through time: from the forward pass's inputs, outputs
    and the gradients of a cost with respect to ``h`` and ``c``, computes
    the gradients with respect to ``xw``, ``b``, ``hh``, ``ci``, ``cf``,
    ``co``, ``h0`` and ``c0``.

They exist for speed. Theano's ``scan`` runs a small graph per time step,
whose generated C code calls the scalar double-precision ``exp`` for every
gate, recomputes the sigmoids in the backward pass and pays the loop's
bookkeeping at each step; in the LSTM benchmark (``benchmarks/lstm.py``) the
gate nonlinearities took about two thirds of the training time. The fused
Ops do one BLAS ``gemm`` per step and a single loop over the gates that the
C compiler vectorises. In single precision they evaluate the sigmoid and
the hyperbolic tangent with branch-free approximations (range reduction to
:math:`e^r, |r| \le \ln 2 / 2`, then a polynomial; an odd polynomial for
:math:`\tanh` near zero) that are within 3 units in the last place of the
exact values over the whole float range, saturate to exactly 0, 1 and
:math:`\pm 1`, and propagate NaN. Double precision uses the C library's
``exp`` and ``tanh``. The gradient w.r.t. ``hh`` is one ``gemm`` over all
time steps at the end; the bias is an input of its own (rather than part of
``xw``) so that its gradient, a sum over all time steps and rows, is
accumulated in the same loop (in double precision across time steps) instead
of by a separate reduction.

Both Ops have a NumPy ``perform`` (used when Theano runs without a C
compiler, and as the reference in the tests). The C code links the BLAS
that Theano uses; without one it falls back on Theano's NumPy-based
``gemm``.

The LSTM layer uses these Ops whenever back-propagation through time is not
truncated (``bptt_limit`` unset) and the data type is ``float32`` or
``float64``. Set the environment variable ``THEANETS_LSTM=scan`` (read when
a layer builds its graph) to always use ``scan``, e.g. to compare the two.
"""

import os

import numpy as np

from . import util  # noqa: F401  (configures Theano)
import theano               # noqa: E402
import theano.tensor as TT  # noqa: E402
from theano.gradient import DisconnectedType  # noqa: E402
from theano.tensor import blas, blas_headers  # noqa: E402

__all__ = ['LSTMForward', 'LSTMGrad', 'lstm_forward', 'lstm_grad', 'lstm',
           'fused_lstm_enabled', 'ENV']

#: Environment variable read by :func:`fused_lstm_enabled`: ``scan`` makes
#: the LSTM layer use ``theano.scan`` instead of the fused Ops.
ENV = 'THEANETS_LSTM'

_DTYPES = ('float32', 'float64')


def fused_lstm_enabled():
    """Return False if :data:`ENV` asks for the ``scan`` implementation.

    Examples
    --------
    >>> import os
    >>> fused_lstm_enabled() == (os.environ.get(ENV, '').lower() != 'scan')
    True
    """
    return os.environ.get(ENV, '').strip().lower() != 'scan'


# ----------------------------------------------------------------------
# NumPy reference implementation


def _sigmoid(x):
    """Logistic sigmoid without overflow; NaN stays NaN."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _forward_numpy(xw, b, hh, ci, cf, co, h0, c0):
    a = xw + b
    steps, batch, _ = a.shape
    n = hh.shape[0]
    h = np.empty((steps, batch, n), a.dtype)
    c = np.empty((steps, batch, n), a.dtype)
    acts = np.empty((steps, batch, 5 * n), a.dtype)
    h_prev, c_prev = h0, c0
    for t in range(steps):
        z = a[t] + h_prev.dot(hh)
        i = _sigmoid(z[:, :n] + c_prev * ci)
        f = _sigmoid(z[:, n:2 * n] + c_prev * cf)
        g = np.tanh(z[:, 2 * n:3 * n])
        c[t] = f * c_prev + i * g
        o = _sigmoid(z[:, 3 * n:] + c[t] * co)
        tc = np.tanh(c[t])
        h[t] = o * tc
        acts[t] = np.concatenate([i, f, g, o, tc], axis=1)
        h_prev, c_prev = h[t], c[t]
    return h, c, acts


def _backward_numpy(hh, ci, cf, co, h0, c0, h, c, acts, gh, gc):
    steps, batch, n = h.shape
    da = np.empty((steps, batch, 4 * n), h.dtype)
    dci, dcf, dco = (np.zeros(n, h.dtype) for _ in range(3))
    dh = np.zeros((batch, n), h.dtype)
    dc = np.zeros((batch, n), h.dtype)
    for t in range(steps - 1, -1, -1):
        c_prev = c[t - 1] if t else c0
        i, f, g, o, tc = (acts[t][:, k * n:(k + 1) * n] for k in range(5))
        dh_t = gh[t] + dh
        dzo = dh_t * tc * o * (1 - o)
        dc_t = gc[t] + dc + dh_t * o * (1 - tc * tc) + dzo * co
        dzi = dc_t * g * i * (1 - i)
        dzf = dc_t * c_prev * f * (1 - f)
        dzc = dc_t * i * (1 - g * g)
        dc = dc_t * f + dzi * ci + dzf * cf
        dco += (dzo * c[t]).sum(axis=0)
        dci += (dzi * c_prev).sum(axis=0)
        dcf += (dzf * c_prev).sum(axis=0)
        da[t] = np.concatenate([dzi, dzf, dzc, dzo], axis=1)
        dh = da[t].dot(hh.T)
    h_prev = np.concatenate([h0[None], h[:-1]], axis=0).reshape(-1, n)
    dhh = h_prev.T.dot(da.reshape(-1, 4 * n)).astype(h.dtype)
    db = da.sum(axis=(0, 1), dtype='f8').astype(h.dtype)
    return (da, db, dhh, dci, dcf, dco, dh.astype(h.dtype),
            dc.astype(h.dtype))


def _check_shapes(xw, b, hh, ci, cf, co, h0, c0):
    """Raise ValueError unless the forward inputs have consistent shapes."""
    n = hh.shape[0]
    batch = h0.shape[0]
    expected = dict(xw=(xw.shape[0], batch, 4 * n), b=(4 * n, ),
                    hh=(n, 4 * n), ci=(n, ), cf=(n, ), co=(n, ),
                    h0=(batch, n), c0=(batch, n))
    for name, value in zip('xw b hh ci cf co h0 c0'.split(),
                           (xw, b, hh, ci, cf, co, h0, c0)):
        if value.shape != expected[name]:
            raise ValueError('LSTM op: {} has shape {}, expected {}'.format(
                name, value.shape, expected[name]))


# ----------------------------------------------------------------------
# C implementation, shared by both Ops

_SUPPORT_CODE = r"""
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <limits.h>

/* The gate loops write several blocks of one array; tell the compiler that
   iterations are independent, so that it vectorises them. */
#if defined(__clang__)
#define LSTM_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define LSTM_IVDEP _Pragma("GCC ivdep")
#else
#define LSTM_IVDEP
#endif

static inline float lstm_bits_to_float(uint32_t u)
{ float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t lstm_float_to_bits(float f)
{ uint32_t u; memcpy(&u, &f, 4); return u; }

/* exp(x) for x <= 0 in single precision, branch-free so that loops calling
   it vectorise. Results below FLT_MIN (x < ln FLT_MIN) flush to 0; NaN
   propagates. x = k ln2 + r with |r| <= ln2 / 2 (k rounded with the
   1.5 * 2^23 constant, ln 2 split in two for an exact product), then e^r by
   its degree-7 Taylor polynomial (truncation error < 6e-9) times 2^k. */
static inline float lstm_exp_nonpos(float x)
{
    const float lo = -87.33654f;
    float xc = x < lo ? lo : x;
    float t = xc * 1.44269504f + 12582912.0f;
    uint32_t kbits = lstm_float_to_bits(t);
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
    float scale = lstm_bits_to_float((kbits - 0x4B400000u + 127u) << 23);
    float e = p * scale;
    return x < lo ? 0.0f : e;
}

static inline float lstm_sigmoid(float x)
{
    float e = lstm_exp_nonpos(-fabsf(x));
    float d = 1.0f / (1.0f + e);
    return x >= 0.0f ? d : e * d;
}

/* tanh: odd polynomial (least-squares fit of (tanh(x) / x - 1) / x^2 in
   x^2) for |x| < 0.625, else (1 - e) / (1 + e) with e = exp(-2|x|). */
static inline float lstm_tanh(float x)
{
    float ax = fabsf(x);
    float u = x * x;
    float p = -5.704042501747608e-3f;
    p = p * u + 2.0637862384319305e-2f;
    p = p * u - 5.373915657401085e-2f;
    p = p * u + 1.33314311504364e-1f;
    p = p * u - 3.333328068256378e-1f;
    float small = ax + ax * (u * p);
    float e = lstm_exp_nonpos(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    return copysignf(ax < 0.625f ? small : big, x);
}

static inline double lstm_sigmoid(double x)
{
    double e = exp(-fabs(x));
    double d = 1.0 / (1.0 + e);
    return x >= 0.0 ? d : e * d;
}

static inline double lstm_tanh(double x) { return tanh(x); }

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
static void lstm_gemm(char ta, char tb, int m, int n, int k, T alpha,
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

/* One row of one time step of the forward pass. */
template <typename T>
static inline void lstm_cell_forward(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict z, const T* __restrict c_prev,
    const T* __restrict ci, const T* __restrict cf, const T* __restrict co,
    T* __restrict h, T* __restrict c, T* __restrict act)
{
    const int n2 = 2 * n, n3 = 3 * n;
    LSTM_IVDEP
    for (int j = 0; j < n; j++) {
        T cp = c_prev[j];
        T i = lstm_sigmoid((a[j] + bias[j]) + z[j] + cp * ci[j]);
        T f = lstm_sigmoid((a[n + j] + bias[n + j]) + z[n + j] + cp * cf[j]);
        T g = lstm_tanh((a[n2 + j] + bias[n2 + j]) + z[n2 + j]);
        T cn = f * cp + i * g;
        T o = lstm_sigmoid((a[n3 + j] + bias[n3 + j]) + z[n3 + j]
                           + cn * co[j]);
        T tc = lstm_tanh(cn);
        c[j] = cn;
        h[j] = o * tc;
        act[j] = i;
        act[n + j] = f;
        act[2 * n + j] = g;
        act[3 * n + j] = o;
        act[4 * n + j] = tc;
    }
}

/* Row-major arrays: a (T, B, 4n), bias (4n), hh (n, 4n), h0, c0 (B, n);
   outputs h, c (T, B, n), act (T, B, 5n); z is scratch for B * 4n values. */
template <typename T>
static void lstm_forward(int steps, int batch, int n, const T* a,
                         const T* bias, const T* hh, const T* ci,
                         const T* cf, const T* co,
                         const T* h0, const T* c0, T* h, T* c, T* act, T* z)
{
    const long g4 = 4L * n, g5 = 5L * n, sz = (long)batch * n;
    for (int t = 0; t < steps; t++) {
        const T* h_prev = t ? h + (t - 1) * sz : h0;
        const T* c_prev = t ? c + (t - 1) * sz : c0;
        /* z = h_prev . hh, i.e. z^T = hh^T h_prev^T in column-major */
        lstm_gemm('N', 'N', 4 * n, batch, n, (T)1, hh, 4 * n, h_prev, n,
                  (T)0, z, 4 * n);
        for (int b = 0; b < batch; b++)
            lstm_cell_forward<T>(
                n, a + (t * (long)batch + b) * g4, bias, z + b * g4,
                c_prev + b * n, ci, cf, co, h + t * sz + b * n,
                c + t * sz + b * n, act + (t * (long)batch + b) * g5);
    }
}

/* One row of one time step of the backward pass: dh, dc hold the
   gradients reaching h_t, c_t from step t + 1; dc becomes the gradient
   for c_{t-1}. */
template <typename T>
static inline void lstm_cell_backward(
    int n, const T* __restrict act, const T* __restrict c_prev,
    const T* __restrict c_t, const T* __restrict gh, const T* __restrict gc,
    const T* __restrict dh, T* __restrict dc, const T* __restrict ci,
    const T* __restrict cf, const T* __restrict co, T* __restrict dz,
    T* __restrict db, T* __restrict dci, T* __restrict dcf,
    T* __restrict dco)
{
    LSTM_IVDEP
    for (int j = 0; j < n; j++) {
        T i = act[j], f = act[n + j], g = act[2 * n + j];
        T o = act[3 * n + j], tc = act[4 * n + j];
        T cp = c_prev[j];
        T dh_t = gh[j] + dh[j];
        T dzo = dh_t * tc * o * (1 - o);
        T dc_t = gc[j] + dc[j] + dh_t * o * (1 - tc * tc) + dzo * co[j];
        T dzi = dc_t * g * i * (1 - i);
        T dzf = dc_t * cp * f * (1 - f);
        T dzc = dc_t * i * (1 - g * g);
        dc[j] = dc_t * f + dzi * ci[j] + dzf * cf[j];
        dco[j] += dzo * c_t[j];
        dci[j] += dzi * cp;
        dcf[j] += dzf * cp;
        dz[j] = dzi;
        dz[n + j] = dzf;
        dz[2 * n + j] = dzc;
        dz[3 * n + j] = dzo;
        db[j] += dzi;
        db[n + j] += dzf;
        db[2 * n + j] += dzc;
        db[3 * n + j] += dzo;
    }
}

/* dh0 and dc0 carry the running gradients of h_t and c_t. The gradients
   of the vectors (b, ci, cf, co; 7n values) are summed over the batch in
   step (scratch for 7n values of type T), then over time in total (7n
   doubles). */
template <typename T>
static void lstm_backward(int steps, int batch, int n, const T* hh,
                          const T* ci, const T* cf, const T* co, const T* h0,
                          const T* c0, const T* h, const T* c, const T* act,
                          const T* gh, const T* gc, T* da, T* db, T* dhh,
                          T* dci, T* dcf, T* dco, T* dh0, T* dc0, T* step,
                          double* total)
{
    const long g4 = 4L * n, g5 = 5L * n, sz = (long)batch * n;
    for (int j = 0; j < 7 * n; j++) total[j] = 0;
    for (long k = 0; k < sz; k++) dh0[k] = dc0[k] = 0;
    for (int t = steps - 1; t >= 0; t--) {
        const T* c_prev = t ? c + (t - 1) * sz : c0;
        T* da_t = da + t * (long)batch * g4;
        for (int j = 0; j < 7 * n; j++) step[j] = 0;
        for (int b = 0; b < batch; b++)
            lstm_cell_backward<T>(
                n, act + (t * (long)batch + b) * g5, c_prev + b * n,
                c + t * sz + b * n, gh + t * sz + b * n, gc + t * sz + b * n,
                dh0 + b * n, dc0 + b * n, ci, cf, co, da_t + b * g4,
                step, step + 4 * n, step + 5 * n, step + 6 * n);
        for (int j = 0; j < 7 * n; j++) total[j] += step[j];
        /* dh_prev = dz . hh^T, i.e. dh_prev^T = hh dz^T in column-major */
        lstm_gemm('T', 'N', n, batch, 4 * n, (T)1, hh, 4 * n, da_t, 4 * n,
                  (T)0, dh0, n);
    }
    for (int j = 0; j < 4 * n; j++) db[j] = (T)total[j];
    for (int j = 0; j < n; j++) {
        dci[j] = (T)total[4 * n + j];
        dcf[j] = (T)total[5 * n + j];
        dco[j] = (T)total[6 * n + j];
    }
    /* dhh = [h0; h_0 .. h_{T-2}]^T . da, i.e. dhh^T = da^T [h0; ...] */
    if (steps <= 0) {
        for (long k = 0; k < 4L * n * n; k++) dhh[k] = 0;
        return;
    }
    lstm_gemm('N', 'T', 4 * n, n, batch, (T)1, da, 4 * n, h0, n, (T)0,
              dhh, 4 * n);
    lstm_gemm('N', 'T', 4 * n, n, (steps - 1) * batch, (T)1, da + batch * g4,
              4 * n, h, n, (T)1, dhh, 4 * n);
}

/* Make *out a C-contiguous array of the given shape and type. */
static int lstm_prepare_output(PyArrayObject** out, int nd, npy_intp* dims,
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
static int lstm_contiguous(int count, PyArrayObject** in,
                           PyArrayObject** out, const char* const* names,
                           const int* ndims)
{
    for (int k = 0; k < count; k++) out[k] = NULL;
    int typenum = PyArray_TYPE(in[0]);
    if (typenum != NPY_FLOAT32 && typenum != NPY_FLOAT64) {
        PyErr_SetString(PyExc_TypeError, "LSTM op: float32 or float64 only");
        return -1;
    }
    for (int k = 0; k < count; k++) {
        if (PyArray_TYPE(in[k]) != typenum
                || PyArray_NDIM(in[k]) != ndims[k]) {
            PyErr_Format(PyExc_TypeError, "LSTM op: %s has the wrong type or "
                         "number of dimensions", names[k]);
            return -1;
        }
        out[k] = PyArray_GETCONTIGUOUS(in[k]);
        if (!out[k]) return -1;
    }
    return typenum;
}

static int lstm_check_dims(PyArrayObject* arr, const char* name, int nd,
                           const npy_intp* dims)
{
    for (int k = 0; k < nd; k++) {
        if (PyArray_DIMS(arr)[k] != dims[k]) {
            PyErr_Format(PyExc_ValueError,
                         "LSTM op: dimension %d of %s is %ld, expected %ld",
                         k, name, (long)PyArray_DIMS(arr)[k], (long)dims[k]);
            return -1;
        }
    }
    return 0;
}

/* Shapes of the forward inputs; sets steps, batch, n (all fitting in an
   int together with the gemm sizes) or returns -1. */
static int lstm_shapes(PyArrayObject* hh, PyArrayObject* h0,
                       npy_intp steps_dim, npy_intp* steps, npy_intp* batch,
                       npy_intp* n)
{
    *n = PyArray_DIMS(hh)[0];
    *batch = PyArray_DIMS(h0)[0];
    *steps = steps_dim;
    if ((double)(*steps) * (*batch) >= INT_MAX || 5.0 * (*n) >= INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "LSTM op: arrays too large");
        return -1;
    }
    return 0;
}

static void lstm_release(int count, PyArrayObject** arrays)
{
    for (int k = 0; k < count; k++) Py_XDECREF(arrays[k]);
}

static int lstm_forward_run(PyArrayObject** in, PyArrayObject** h,
                            PyArrayObject** c, PyArrayObject** act)
{
    /* in: xw b hh ci cf co h0 c0 */
    static const char* const names[8] = {
        "xw", "b", "hh", "ci", "cf", "co", "h0", "c0"};
    static const int ndims[8] = {3, 1, 2, 1, 1, 1, 2, 2};
    PyArrayObject* x[8];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = lstm_contiguous(8, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (lstm_shapes(x[2], x[6], PyArray_DIMS(x[0])[0], &steps, &batch, &n))
        goto done;
    {
        npy_intp d_a[3] = {steps, batch, 4 * n}, d_hh[2] = {n, 4 * n};
        npy_intp d_v[1] = {n}, d_s[2] = {batch, n}, d_b[1] = {4 * n};
        npy_intp d_out[3] = {steps, batch, n};
        npy_intp d_act[3] = {steps, batch, 5 * n};
        if (lstm_check_dims(x[0], "xw", 3, d_a)
                || lstm_check_dims(x[1], "b", 1, d_b)
                || lstm_check_dims(x[2], "hh", 2, d_hh)
                || lstm_check_dims(x[3], "ci", 1, d_v)
                || lstm_check_dims(x[4], "cf", 1, d_v)
                || lstm_check_dims(x[5], "co", 1, d_v)
                || lstm_check_dims(x[6], "h0", 2, d_s)
                || lstm_check_dims(x[7], "c0", 2, d_s))
            goto done;
        if (lstm_prepare_output(h, 3, d_out, typenum)
                || lstm_prepare_output(c, 3, d_out, typenum)
                || lstm_prepare_output(act, 3, d_act, typenum))
            goto done;
    }
    scratch = malloc((batch * 4 * n + 1) * PyArray_ITEMSIZE(x[0]));
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define LSTM_FORWARD_CALL(T) lstm_forward<T>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), (const T*)PyArray_DATA(x[6]), \
        (const T*)PyArray_DATA(x[7]), \
        (T*)PyArray_DATA(*h), (T*)PyArray_DATA(*c), (T*)PyArray_DATA(*act), \
        (T*)scratch)
    if (typenum == NPY_FLOAT32) LSTM_FORWARD_CALL(float);
    else LSTM_FORWARD_CALL(double);
#undef LSTM_FORWARD_CALL
    ret = 0;
done:
    free(scratch);
    lstm_release(8, x);
    return ret;
}

static int lstm_backward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: hh ci cf co h0 c0 h c act gh gc;
       out: dxw db dhh dci dcf dco dh0 dc0 */
    static const char* const names[11] = {
        "hh", "ci", "cf", "co", "h0", "c0", "h", "c", "act", "gh", "gc"};
    static const int ndims[11] = {2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3};
    PyArrayObject* x[11];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = lstm_contiguous(11, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (lstm_shapes(x[0], x[4], PyArray_DIMS(x[6])[0], &steps, &batch, &n))
        goto done;
    {
        npy_intp d_hh[2] = {n, 4 * n}, d_v[1] = {n}, d_s[2] = {batch, n};
        npy_intp d_seq[3] = {steps, batch, n};
        npy_intp d_act[3] = {steps, batch, 5 * n};
        npy_intp d_a[3] = {steps, batch, 4 * n}, d_b[1] = {4 * n};
        if (lstm_check_dims(x[0], "hh", 2, d_hh)
                || lstm_check_dims(x[1], "ci", 1, d_v)
                || lstm_check_dims(x[2], "cf", 1, d_v)
                || lstm_check_dims(x[3], "co", 1, d_v)
                || lstm_check_dims(x[4], "h0", 2, d_s)
                || lstm_check_dims(x[5], "c0", 2, d_s)
                || lstm_check_dims(x[6], "h", 3, d_seq)
                || lstm_check_dims(x[7], "c", 3, d_seq)
                || lstm_check_dims(x[8], "act", 3, d_act)
                || lstm_check_dims(x[9], "gh", 3, d_seq)
                || lstm_check_dims(x[10], "gc", 3, d_seq))
            goto done;
        if (lstm_prepare_output(&out[0], 3, d_a, typenum)
                || lstm_prepare_output(&out[1], 1, d_b, typenum)
                || lstm_prepare_output(&out[2], 2, d_hh, typenum)
                || lstm_prepare_output(&out[3], 1, d_v, typenum)
                || lstm_prepare_output(&out[4], 1, d_v, typenum)
                || lstm_prepare_output(&out[5], 1, d_v, typenum)
                || lstm_prepare_output(&out[6], 2, d_s, typenum)
                || lstm_prepare_output(&out[7], 2, d_s, typenum))
            goto done;
    }
    scratch = malloc(7 * n * (sizeof(double) + PyArray_ITEMSIZE(x[0])) + 8);
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define LSTM_BACKWARD_CALL(T) lstm_backward<T>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), (const T*)PyArray_DATA(x[6]), \
        (const T*)PyArray_DATA(x[7]), (const T*)PyArray_DATA(x[8]), \
        (const T*)PyArray_DATA(x[9]), (const T*)PyArray_DATA(x[10]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)PyArray_DATA(out[4]), (T*)PyArray_DATA(out[5]), \
        (T*)PyArray_DATA(out[6]), (T*)PyArray_DATA(out[7]), \
        (T*)((double*)scratch + 7 * n), (double*)scratch)
    if (typenum == NPY_FLOAT32) LSTM_BACKWARD_CALL(float);
    else LSTM_BACKWARD_CALL(double);
#undef LSTM_BACKWARD_CALL
    ret = 0;
done:
    free(scratch);
    lstm_release(11, x);
    return ret;
}
"""

#: Bumped whenever the C code changes, so Theano recompiles its modules.
_C_VERSION = 5


class _LSTMOpBase(theano.Op):
    """C compilation settings shared by the two LSTM Ops."""

    __props__ = ()

    def c_support_code(self):
        # A list, so that Theano's dedupe of support code keeps the BLAS
        # header once when other BLAS Ops share the module.
        return [blas_headers.blas_header_text(), _SUPPORT_CODE]

    def c_headers(self):
        return ['<stdint.h>', '<string.h>', '<math.h>', '<limits.h>']

    def c_libraries(self):
        return blas.ldflags()

    def c_lib_dirs(self):
        return blas.ldflags(libs=False, libs_dir=True)

    def c_header_dirs(self):
        return blas.ldflags(libs=False, include_dir=True)

    def c_compile_args(self):
        return blas.ldflags(libs=False, flags=True)

    def c_code_cache_version(self):
        return (_C_VERSION, ) + tuple(blas_headers.blas_header_version())


def _check_inputs(values, names, ndims):
    """Symbolic inputs, checked for their number of dimensions and dtype."""
    inputs = []
    for value, name, ndim in zip(values, names.split(), ndims):
        value = TT.as_tensor_variable(value)
        if value.ndim != ndim:
            raise TypeError('LSTM op: {} must have {} dimensions, got '
                            '{}'.format(name, ndim, value.ndim))
        inputs.append(value)
    dtypes = [v.dtype for v in inputs]
    if len(set(dtypes)) != 1 or dtypes[0] not in _DTYPES:
        raise TypeError('LSTM op: inputs must share one dtype among {}, '
                        'got {}'.format(_DTYPES, dtypes))
    return inputs


class LSTMForward(_LSTMOpBase):
    """The LSTM recurrence over all time steps (see the module docstring).

    Inputs ``xw`` ``(T, B, 4n)``, ``b`` ``(4n,)``, ``hh`` ``(n, 4n)``,
    ``ci``, ``cf``, ``co`` ``(n,)``, ``h0``, ``c0`` ``(B, n)``, all of one
    dtype (``float32`` or ``float64``). Outputs ``h``, ``c`` ``(T, B, n)``
    and the saved activations ``(T, B, 5n)``; the gradient through the
    activations output is not defined (use ``h`` and ``c``).

    Examples
    --------
    >>> import theano.tensor as TT
    >>> xw = TT.tensor3('xw'); hh = TT.matrix('hh'); h0 = TT.matrix('h0')
    >>> b, ci, cf, co = TT.vector(), TT.vector(), TT.vector(), TT.vector()
    >>> h, c, acts = LSTMForward()(xw, b, hh, ci, cf, co, h0, h0)
    >>> h.ndim, acts.ndim
    (3, 3)
    """

    def make_node(self, xw, b, hh, ci, cf, co, h0, c0):
        inputs = _check_inputs(
            (xw, b, hh, ci, cf, co, h0, c0), 'xw b hh ci cf co h0 c0',
            (3, 1, 2, 1, 1, 1, 2, 2))
        seq = TT.TensorType(inputs[0].dtype, (False, False, False))
        return theano.Apply(self, inputs, [seq(), seq(), seq()])

    def perform(self, node, inputs, output_storage):
        _check_shapes(*inputs)
        for store, value in zip(output_storage, _forward_numpy(*inputs)):
            store[0] = value

    def infer_shape(self, node, shapes):
        xw, n = shapes[0], shapes[2][0]
        return [(xw[0], xw[1], n), (xw[0], xw[1], n), (xw[0], xw[1], 5 * n)]

    def L_op(self, inputs, outputs, output_grads):
        xw, b, hh, ci, cf, co, h0, c0 = inputs
        h, c, acts = outputs
        gh, gc, gacts = output_grads
        if not isinstance(gacts.type, DisconnectedType):
            raise NotImplementedError(
                'LSTMForward: the gradient through the saved activations '
                '(third output) is not implemented; use h and c')
        grads = []
        for g, out in ((gh, h), (gc, c)):
            if isinstance(g.type, DisconnectedType):
                g = TT.zeros_like(out)
            else:
                g = TT.cast(g, out.dtype)
                if any(g.broadcastable):
                    g = g + TT.zeros_like(out)
            grads.append(g)
        return lstm_grad(hh, ci, cf, co, h0, c0, h, c, acts, *grads)

    def c_code(self, node, name, inputs, outputs, sub):
        """C code that checks the inputs, allocates ``h``, ``c`` and the
        activations, and runs the forward recurrence."""
        h, c, acts = outputs
        return """
        {{
            PyArrayObject* lstm_in[8] = {{{ins}}};
            if (lstm_forward_run(lstm_in, &{h}, &{c}, &{acts}) != 0) {{
                {fail}
            }}
        }}
        """.format(ins=', '.join(inputs), h=h, c=c, acts=acts,
                   fail=sub['fail'])


class LSTMGrad(_LSTMOpBase):
    """Back-propagation through time for :class:`LSTMForward`.

    Inputs ``hh``, ``ci``, ``cf``, ``co``, ``h0``, ``c0`` (as for the forward
    Op), its outputs ``h``, ``c``, ``acts`` and the cost gradients ``gh``,
    ``gc`` w.r.t. ``h`` and ``c``. Outputs the gradients w.r.t. ``xw``,
    ``b``, ``hh``, ``ci``, ``cf``, ``co``, ``h0`` and ``c0``.
    """

    def make_node(self, hh, ci, cf, co, h0, c0, h, c, acts, gh, gc):
        inputs = _check_inputs(
            (hh, ci, cf, co, h0, c0, h, c, acts, gh, gc),
            'hh ci cf co h0 c0 h c acts gh gc',
            (2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3))
        dtype = inputs[0].dtype
        outputs = [TT.TensorType(dtype, (False, ) * nd)()
                   for nd in (3, 1, 2, 1, 1, 1, 2, 2)]
        return theano.Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage):
        hh, ci, cf, co, h0, c0, h, c, acts, gh, gc = inputs
        steps, batch, n = h.shape
        for name, value, shape in (('acts', acts, (steps, batch, 5 * n)),
                                   ('gh', gh, h.shape), ('gc', gc, h.shape)):
            if value.shape != shape:
                raise ValueError('LSTM op: {} has shape {}, expected '
                                 '{}'.format(name, value.shape, shape))
        _check_shapes(np.empty((steps, batch, 4 * n)), np.empty(4 * n),
                      hh, ci, cf, co, h0, c0)
        for store, value in zip(output_storage, _backward_numpy(*inputs)):
            store[0] = value

    def infer_shape(self, node, shapes):
        hh, ci, cf, co, h0, c0, h = shapes[:7]
        return [(h[0], h[1], hh[1]), (hh[1], ), hh, ci, cf, co, h0, c0]

    def c_code(self, node, name, inputs, outputs, sub):
        """C code that checks the inputs, allocates the gradients and runs
        back-propagation through time."""
        return """
        {{
            PyArrayObject* lstm_in[11] = {{{ins}}};
            PyArrayObject* lstm_out[8] = {{{outs}}};
            int lstm_ret = lstm_backward_run(lstm_in, lstm_out);
            {assign}
            if (lstm_ret != 0) {{
                {fail}
            }}
        }}
        """.format(ins=', '.join(inputs), outs=', '.join(outputs),
                   assign=' '.join('{} = lstm_out[{}];'.format(o, k)
                                   for k, o in enumerate(outputs)),
                   fail=sub['fail'])


lstm_forward = LSTMForward()
lstm_grad = LSTMGrad()


def lstm(xw, b, hh, ci, cf, co, h0, c0):
    """Symbolic ``h`` and ``c`` of the LSTM recurrence (:data:`lstm_forward`).

    Parameters
    ----------
    xw : symbolic tensor3
        Input projections ``x W_xh`` (without the bias), time-major
        ``(T, B, 4n)``.
    b : symbolic vector
        Bias ``(4n,)``, added to every step's projection.
    hh : symbolic matrix
        Recurrent weights ``(n, 4n)``.
    ci, cf, co : symbolic vectors
        Peephole weights ``(n,)``.
    h0, c0 : symbolic matrices
        Initial hidden and cell states ``(B, n)``.

    Returns
    -------
    h, c : symbolic tensor3
        Hidden and cell states after each step, ``(T, B, n)``.

    Examples
    --------
    >>> xw = np.zeros((2, 1, 4))
    >>> vec = np.zeros(1)
    >>> h, c = lstm(xw, np.zeros(4), np.zeros((1, 4)), vec, vec, vec,
    ...             np.zeros((1, 1)), np.ones((1, 1)))
    >>> np.round(c.eval().ravel(), 4)  # f = sigmoid(0) halves c each step
    array([0.5 , 0.25])
    """
    h, c, _ = lstm_forward(xw, b, hh, ci, cf, co, h0, c0)
    return h, c
