r"""Fused Theano Ops for the LSTM and GRU recurrences.

:class:`theanets.layers.LSTM` and :class:`theanets.layers.GRU` can run their
loop over time steps either with Theano's ``scan`` or with the Ops defined
here, which compute the whole recurrence (all time steps) in one C call
each:

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
:class:`GRUForward`, :class:`GRUGrad`
    The same for the GRU (see :class:`GRUForward` for the equations): the
    forward Op returns all four outputs of the layer (``pre``, ``hid``,
    ``rate``, ``out``) plus the reset gate, and the gradient Op accepts cost
    gradients for any subset of the four. The candidate's activation (tanh,
    linear, relu or sigmoid) is a property of the Ops; its derivative comes
    from the saved pre-activation and value. Two ``gemm`` per step each way
    (the gates' ``h_{t-1} [W_{hr} W_{hz}]``, then ``(r \odot h_{t-1})
    W_{hh}``), and one each for the gradients of ``hh`` and ``[hr hz]`` at
    the end.

They exist for speed. Theano's ``scan`` runs a small graph per time step,
whose generated C code calls the scalar double-precision ``exp`` for every
gate, recomputes the sigmoids in the backward pass and pays the loop's
bookkeeping at each step; in the LSTM benchmark (``benchmarks/lstm.py``) the
gate nonlinearities took about two thirds of the training time. The fused
LSTM Ops do one BLAS ``gemm`` per step and a single loop over the gates
that the C compiler vectorises. In single precision they evaluate the sigmoid and
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

All four Ops have a NumPy ``perform`` (used when Theano runs without a C
compiler, and as the reference in the tests). The C code links the BLAS
that Theano uses; without one it falls back on Theano's NumPy-based
``gemm``.

The LSTM layer uses these Ops whenever back-propagation through time is not
truncated (``bptt_limit`` unset) and the data type is ``float32`` or
``float64``; the GRU layer also needs one of the activations in
:data:`GRU_ACTIVATIONS` (see :func:`gru_activation`). Set the environment
variable ``THEANETS_LSTM=scan``, respectively ``THEANETS_GRU=scan`` (read
when a layer builds its graph), to always use ``scan``, e.g. to compare the
two.
"""

import os

import numpy as np

from . import util  # noqa: F401  (configures Theano)
from . import activations
import theano               # noqa: E402
import theano.tensor as TT  # noqa: E402
from theano.gradient import DisconnectedType  # noqa: E402
from theano.tensor import blas, blas_headers  # noqa: E402

__all__ = ['LSTMForward', 'LSTMGrad', 'lstm_forward', 'lstm_grad', 'lstm',
           'fused_lstm_enabled', 'ENV', 'GRUForward', 'GRUGrad', 'gru',
           'fused_gru_enabled', 'gru_activation', 'GRU_ENV',
           'GRU_ACTIVATIONS']

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
# C implementation: helpers shared by all the Ops (nonlinearities, gemm,
# argument checks), then the LSTM's and the GRU's recurrences

_COMMON_CODE = r"""
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

"""

_LSTM_CODE = r"""
/* One row of one time step of the forward pass. */
template <typename T>
static inline void lstm_cell_forward(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict z, const T* __restrict c_prev,
    const T* __restrict ci, const T* __restrict cf, const T* __restrict co,
    T* __restrict h, T* __restrict c, T* __restrict act)
{
    const int n2 = 2 * n, n3 = 3 * n;
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T cp = c_prev[j];
        T i = rnn_sigmoid((a[j] + bias[j]) + z[j] + cp * ci[j]);
        T f = rnn_sigmoid((a[n + j] + bias[n + j]) + z[n + j] + cp * cf[j]);
        T g = rnn_tanh((a[n2 + j] + bias[n2 + j]) + z[n2 + j]);
        T cn = f * cp + i * g;
        T o = rnn_sigmoid((a[n3 + j] + bias[n3 + j]) + z[n3 + j]
                           + cn * co[j]);
        T tc = rnn_tanh(cn);
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
        rnn_gemm('N', 'N', 4 * n, batch, n, (T)1, hh, 4 * n, h_prev, n,
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
    RNN_IVDEP
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
        rnn_gemm('T', 'N', n, batch, 4 * n, (T)1, hh, 4 * n, da_t, 4 * n,
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
    rnn_gemm('N', 'T', 4 * n, n, batch, (T)1, da, 4 * n, h0, n, (T)0,
              dhh, 4 * n);
    rnn_gemm('N', 'T', 4 * n, n, (steps - 1) * batch, (T)1, da + batch * g4,
              4 * n, h, n, (T)1, dhh, 4 * n);
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
    int typenum = rnn_contiguous("LSTM", 8, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("LSTM", x[2], x[6], PyArray_DIMS(x[0])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_a[3] = {steps, batch, 4 * n}, d_hh[2] = {n, 4 * n};
        npy_intp d_v[1] = {n}, d_s[2] = {batch, n}, d_b[1] = {4 * n};
        npy_intp d_out[3] = {steps, batch, n};
        npy_intp d_act[3] = {steps, batch, 5 * n};
        if (rnn_check_dims("LSTM", x[0], "xw", 3, d_a)
                || rnn_check_dims("LSTM", x[1], "b", 1, d_b)
                || rnn_check_dims("LSTM", x[2], "hh", 2, d_hh)
                || rnn_check_dims("LSTM", x[3], "ci", 1, d_v)
                || rnn_check_dims("LSTM", x[4], "cf", 1, d_v)
                || rnn_check_dims("LSTM", x[5], "co", 1, d_v)
                || rnn_check_dims("LSTM", x[6], "h0", 2, d_s)
                || rnn_check_dims("LSTM", x[7], "c0", 2, d_s))
            goto done;
        if (rnn_prepare_output(h, 3, d_out, typenum)
                || rnn_prepare_output(c, 3, d_out, typenum)
                || rnn_prepare_output(act, 3, d_act, typenum))
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
    rnn_release(8, x);
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
    int typenum = rnn_contiguous("LSTM", 11, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("LSTM", x[0], x[4], PyArray_DIMS(x[6])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_hh[2] = {n, 4 * n}, d_v[1] = {n}, d_s[2] = {batch, n};
        npy_intp d_seq[3] = {steps, batch, n};
        npy_intp d_act[3] = {steps, batch, 5 * n};
        npy_intp d_a[3] = {steps, batch, 4 * n}, d_b[1] = {4 * n};
        if (rnn_check_dims("LSTM", x[0], "hh", 2, d_hh)
                || rnn_check_dims("LSTM", x[1], "ci", 1, d_v)
                || rnn_check_dims("LSTM", x[2], "cf", 1, d_v)
                || rnn_check_dims("LSTM", x[3], "co", 1, d_v)
                || rnn_check_dims("LSTM", x[4], "h0", 2, d_s)
                || rnn_check_dims("LSTM", x[5], "c0", 2, d_s)
                || rnn_check_dims("LSTM", x[6], "h", 3, d_seq)
                || rnn_check_dims("LSTM", x[7], "c", 3, d_seq)
                || rnn_check_dims("LSTM", x[8], "act", 3, d_act)
                || rnn_check_dims("LSTM", x[9], "gh", 3, d_seq)
                || rnn_check_dims("LSTM", x[10], "gc", 3, d_seq))
            goto done;
        if (rnn_prepare_output(&out[0], 3, d_a, typenum)
                || rnn_prepare_output(&out[1], 1, d_b, typenum)
                || rnn_prepare_output(&out[2], 2, d_hh, typenum)
                || rnn_prepare_output(&out[3], 1, d_v, typenum)
                || rnn_prepare_output(&out[4], 1, d_v, typenum)
                || rnn_prepare_output(&out[5], 1, d_v, typenum)
                || rnn_prepare_output(&out[6], 2, d_s, typenum)
                || rnn_prepare_output(&out[7], 2, d_s, typenum))
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
    rnn_release(11, x);
    return ret;
}
"""

_GRU_CODE = r"""
/* Activations of the GRU candidate, selected by a template argument, and
   their derivatives from the saved pre-activation p and value g(p). */
enum { GRU_LINEAR = 0, GRU_RELU = 1, GRU_SIGMOID = 2, GRU_TANH = 3 };

static inline float rnn_abs(float x) { return fabsf(x); }
static inline double rnn_abs(double x) { return fabs(x); }

template <typename T, int ACT>
static inline T gru_activate(T p)
{
    if (ACT == GRU_TANH) return rnn_tanh(p);
    if (ACT == GRU_SIGMOID) return rnn_sigmoid(p);
    if (ACT == GRU_RELU) return (p + rnn_abs(p)) / 2;
    return p;
}

/* relu is (p + |p|) / 2, whose derivative is 1/2 at 0 (as Theano's). */
template <typename T, int ACT>
static inline T gru_derivative(T p, T g)
{
    if (ACT == GRU_TANH) return 1 - g * g;
    if (ACT == GRU_SIGMOID) return g * (1 - g);
    if (ACT == GRU_RELU) return (T)((p > 0) + (p >= 0)) / 2;
    return 1;
}

/* Gates of one row: u holds h_prev . [hr hz]; writes r, z and r * h_prev. */
template <typename T>
static inline void gru_cell_gates(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict u, const T* __restrict h_prev, T* __restrict reset,
    T* __restrict rate, T* __restrict rh)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T r = rnn_sigmoid((a[n + j] + bias[n + j]) + u[j]);
        T z = rnn_sigmoid((a[2 * n + j] + bias[2 * n + j]) + u[n + j]);
        reset[j] = r;
        rate[j] = z;
        rh[j] = r * h_prev[j];
    }
}

/* Output of one row: pre holds (r * h_prev) . hh on entry. */
template <typename T, int ACT>
static inline void gru_cell_output(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict h_prev, const T* __restrict rate, T* __restrict pre,
    T* __restrict hid, T* __restrict out)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T p = (a[j] + bias[j]) + pre[j];
        T g = gru_activate<T, ACT>(p);
        T z = rate[j];
        pre[j] = p;
        hid[j] = g;
        out[j] = (1 - z) * h_prev[j] + z * g;
    }
}

/* Row-major arrays: a (T, B, 3n) with blocks h, r, z; bias (3n); hh (n, n);
   hrz (n, 2n) = [hr hz]; h0 (B, n); outputs pre, hid, rate, out, reset
   (T, B, n); u (B * 2n) and rh (B * n) are scratch. */
template <typename T, int ACT>
static void gru_forward(int steps, int batch, int n, const T* a,
                        const T* bias, const T* hh, const T* hrz,
                        const T* h0, T* pre, T* hid, T* rate, T* out,
                        T* reset, T* u, T* rh)
{
    const long g3 = 3L * n, sz = (long)batch * n;
    for (int t = 0; t < steps; t++) {
        const T* h_prev = t ? out + (t - 1) * sz : h0;
        const T* a_t = a + t * (long)batch * g3;
        const long o = t * sz;
        /* u = h_prev . hrz, i.e. u^T = hrz^T h_prev^T in column-major */
        rnn_gemm('N', 'N', 2 * n, batch, n, (T)1, hrz, 2 * n, h_prev, n,
                 (T)0, u, 2 * n);
        for (int b = 0; b < batch; b++)
            gru_cell_gates<T>(n, a_t + b * g3, bias, u + 2L * b * n,
                              h_prev + b * n, reset + o + b * n,
                              rate + o + b * n, rh + b * n);
        rnn_gemm('N', 'N', n, batch, n, (T)1, hh, n, rh, n, (T)0, pre + o, n);
        for (int b = 0; b < batch; b++)
            gru_cell_output<T, ACT>(n, a_t + b * g3, bias, h_prev + b * n,
                                    rate + o + b * n, pre + o + b * n,
                                    hid + o + b * n, out + o + b * n);
    }
}

/* First half of one row of a backward step: from the gradient dh reaching
   h_t from step t + 1 and the cost gradients, the gradients of the
   candidate's and the update gate's pre-activations (blocks h, z of da);
   dh becomes the part of the gradient of h_{t-1} through (1 - z) h_{t-1}.
   Also saves r * h_prev for the gradient of hh. */
template <typename T, int ACT>
static inline void gru_cell_backward_a(
    int n, const T* __restrict pre, const T* __restrict hid,
    const T* __restrict rate, const T* __restrict reset,
    const T* __restrict h_prev, const T* __restrict gpre,
    const T* __restrict ghid, const T* __restrict grate,
    const T* __restrict gout, T* __restrict dh, T* __restrict da,
    T* __restrict rh)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T hp = h_prev[j], z = rate[j];
        T dh_t = gout[j] + dh[j];
        T dz = dh_t * (hid[j] - hp) + grate[j];
        T dhid = dh_t * z + ghid[j];
        da[j] = dhid * gru_derivative<T, ACT>(pre[j], hid[j]) + gpre[j];
        da[2 * n + j] = dz * z * (1 - z);
        dh[j] = dh_t * (1 - z);
        rh[j] = reset[j] * hp;
    }
}

/* Second half: drh is the gradient of r * h_prev; adds its share to dh,
   writes the reset gate's block of da and sums da over the batch. */
template <typename T>
static inline void gru_cell_backward_b(
    int n, const T* __restrict reset, const T* __restrict h_prev,
    const T* __restrict drh, T* __restrict dh, T* __restrict da,
    T* __restrict db)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T r = reset[j], d = drh[j];
        T dar = d * h_prev[j] * r * (1 - r);
        da[n + j] = dar;
        dh[j] += d * r;
        db[j] += da[j];
        db[n + j] += dar;
        db[2 * n + j] += da[2 * n + j];
    }
}

/* dh0 carries the running gradient of h_t. rh (T * B * n) and drh (B * n)
   are scratch; the bias gradient is summed over the batch in step (3n
   values of type T), then over time in total (3n doubles). */
template <typename T, int ACT>
static void gru_backward(int steps, int batch, int n, const T* hh,
                         const T* hrz, const T* h0, const T* pre,
                         const T* hid, const T* rate, const T* out,
                         const T* reset, const T* gpre, const T* ghid,
                         const T* grate, const T* gout, T* da, T* db,
                         T* dhh, T* dhrz, T* dh0, T* rh, T* drh, T* step,
                         double* total)
{
    const long g3 = 3L * n, sz = (long)batch * n;
    for (int j = 0; j < 3 * n; j++) total[j] = 0;
    for (long k = 0; k < sz; k++) dh0[k] = 0;
    for (int t = steps - 1; t >= 0; t--) {
        const T* h_prev = t ? out + (t - 1) * sz : h0;
        const long o = t * sz;
        T* da_t = da + t * (long)batch * g3;
        for (int b = 0; b < batch; b++)
            gru_cell_backward_a<T, ACT>(
                n, pre + o + b * n, hid + o + b * n, rate + o + b * n,
                reset + o + b * n, h_prev + b * n, gpre + o + b * n,
                ghid + o + b * n, grate + o + b * n, gout + o + b * n,
                dh0 + b * n, da_t + b * g3, rh + o + b * n);
        /* drh = dpre . hh^T, i.e. drh^T = hh dpre^T in column-major */
        rnn_gemm('T', 'N', n, batch, n, (T)1, hh, n, da_t, 3 * n, (T)0,
                 drh, n);
        for (int j = 0; j < 3 * n; j++) step[j] = 0;
        for (int b = 0; b < batch; b++)
            gru_cell_backward_b<T>(n, reset + o + b * n, h_prev + b * n,
                                   drh + b * n, dh0 + b * n, da_t + b * g3,
                                   step);
        for (int j = 0; j < 3 * n; j++) total[j] += step[j];
        /* dh_prev += [dar daz] . hrz^T */
        rnn_gemm('T', 'N', n, batch, 2 * n, (T)1, hrz, 2 * n, da_t + n,
                 3 * n, (T)1, dh0, n);
    }
    for (int j = 0; j < 3 * n; j++) db[j] = (T)total[j];
    if (steps <= 0) {
        for (long k = 0; k < (long)n * n; k++) dhh[k] = 0;
        for (long k = 0; k < 2L * n * n; k++) dhrz[k] = 0;
        return;
    }
    /* dhh = rh^T . dpre over all steps; dhrz = [h0; h_0 .. h_{T-2}]^T .
       [dar daz] */
    rnn_gemm('N', 'T', n, n, steps * batch, (T)1, da, 3 * n, rh, n, (T)0,
             dhh, n);
    rnn_gemm('N', 'T', 2 * n, n, batch, (T)1, da + n, 3 * n, h0, n, (T)0,
             dhrz, 2 * n);
    rnn_gemm('N', 'T', 2 * n, n, (steps - 1) * batch, (T)1,
             da + batch * g3 + n, 3 * n, out, n, (T)1, dhrz, 2 * n);
}

template <int ACT>
static int gru_forward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: xw b hh hrz h0; out: pre hid rate out reset */
    static const char* const names[5] = {"xw", "b", "hh", "hrz", "h0"};
    static const int ndims[5] = {3, 1, 2, 2, 2};
    PyArrayObject* x[5];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("GRU", 5, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("GRU", x[2], x[4], PyArray_DIMS(x[0])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_a[3] = {steps, batch, 3 * n}, d_b[1] = {3 * n};
        npy_intp d_hh[2] = {n, n}, d_hrz[2] = {n, 2 * n};
        npy_intp d_s[2] = {batch, n}, d_out[3] = {steps, batch, n};
        if (rnn_check_dims("GRU", x[0], "xw", 3, d_a)
                || rnn_check_dims("GRU", x[1], "b", 1, d_b)
                || rnn_check_dims("GRU", x[2], "hh", 2, d_hh)
                || rnn_check_dims("GRU", x[3], "hrz", 2, d_hrz)
                || rnn_check_dims("GRU", x[4], "h0", 2, d_s))
            goto done;
        for (int k = 0; k < 5; k++)
            if (rnn_prepare_output(&out[k], 3, d_out, typenum)) goto done;
    }
    scratch = malloc((batch * 3 * n + 1) * PyArray_ITEMSIZE(x[0]));
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define GRU_FORWARD_CALL(T) gru_forward<T, ACT>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)PyArray_DATA(out[4]), (T*)scratch, \
        (T*)scratch + 2 * batch * n)
    if (typenum == NPY_FLOAT32) GRU_FORWARD_CALL(float);
    else GRU_FORWARD_CALL(double);
#undef GRU_FORWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(5, x);
    return ret;
}

template <int ACT>
static int gru_backward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: hh hrz h0 pre hid rate out reset gpre ghid grate gout;
       out: dxw db dhh dhrz dh0 */
    static const char* const names[12] = {
        "hh", "hrz", "h0", "pre", "hid", "rate", "out", "reset", "gpre",
        "ghid", "grate", "gout"};
    static const int ndims[12] = {2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    PyArrayObject* x[12];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("GRU", 12, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("GRU", x[0], x[2], PyArray_DIMS(x[3])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_hh[2] = {n, n}, d_hrz[2] = {n, 2 * n};
        npy_intp d_s[2] = {batch, n}, d_seq[3] = {steps, batch, n};
        npy_intp d_a[3] = {steps, batch, 3 * n}, d_b[1] = {3 * n};
        if (rnn_check_dims("GRU", x[0], "hh", 2, d_hh)
                || rnn_check_dims("GRU", x[1], "hrz", 2, d_hrz)
                || rnn_check_dims("GRU", x[2], "h0", 2, d_s))
            goto done;
        for (int k = 3; k < 12; k++)
            if (rnn_check_dims("GRU", x[k], names[k], 3, d_seq)) goto done;
        if (rnn_prepare_output(&out[0], 3, d_a, typenum)
                || rnn_prepare_output(&out[1], 1, d_b, typenum)
                || rnn_prepare_output(&out[2], 2, d_hh, typenum)
                || rnn_prepare_output(&out[3], 2, d_hrz, typenum)
                || rnn_prepare_output(&out[4], 2, d_s, typenum))
            goto done;
    }
    /* 3n doubles, then rh (T B n), drh (B n) and 3n values of type T */
    scratch = malloc(3 * n * sizeof(double) + ((steps + 1) * batch * n
                     + 3 * n + 1) * PyArray_ITEMSIZE(x[0]));
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define GRU_BACKWARD_CALL(T) gru_backward<T, ACT>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), (const T*)PyArray_DATA(x[6]), \
        (const T*)PyArray_DATA(x[7]), (const T*)PyArray_DATA(x[8]), \
        (const T*)PyArray_DATA(x[9]), (const T*)PyArray_DATA(x[10]), \
        (const T*)PyArray_DATA(x[11]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)PyArray_DATA(out[4]), rh_##T, rh_##T + steps * batch * n, \
        rh_##T + (steps + 1) * batch * n, (double*)scratch)
    if (typenum == NPY_FLOAT32) {
        float* rh_float = (float*)((double*)scratch + 3 * n);
        GRU_BACKWARD_CALL(float);
    } else {
        double* rh_double = (double*)scratch + 3 * n;
        GRU_BACKWARD_CALL(double);
    }
#undef GRU_BACKWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(12, x);
    return ret;
}
"""

#: Bumped whenever the C code changes, so Theano recompiles its modules.
_C_VERSION = 7


class _RNNOpBase(theano.Op):
    """C compilation settings shared by the fused recurrent Ops."""

    __props__ = ()

    #: C code of the Op's own recurrence, after the shared helpers.
    _CODE = ''

    def c_support_code(self):
        # A list, so that Theano's dedupe of support code keeps the BLAS
        # header and the shared helpers once when several of these (or
        # other BLAS) Ops share a module.
        return [blas_headers.blas_header_text(), _COMMON_CODE, self._CODE]

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


class _LSTMOpBase(_RNNOpBase):
    """C compilation settings of the two LSTM Ops."""

    _CODE = _LSTM_CODE


def _check_inputs(values, names, ndims, op='LSTM'):
    """Symbolic inputs, checked for their number of dimensions and dtype."""
    inputs = []
    for value, name, ndim in zip(values, names.split(), ndims):
        value = TT.as_tensor_variable(value)
        if value.ndim != ndim:
            raise TypeError('{} op: {} must have {} dimensions, got '
                            '{}'.format(op, name, ndim, value.ndim))
        inputs.append(value)
    dtypes = [v.dtype for v in inputs]
    if len(set(dtypes)) != 1 or dtypes[0] not in _DTYPES:
        raise TypeError('{} op: inputs must share one dtype among {}, '
                        'got {}'.format(op, _DTYPES, dtypes))
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


# ----------------------------------------------------------------------
# GRU

#: Environment variable read by :func:`fused_gru_enabled`: ``scan`` makes
#: the GRU layer use ``theano.scan`` instead of the fused Ops.
GRU_ENV = 'THEANETS_GRU'

#: Candidate activations the GRU Ops implement (with their derivative from
#: saved values), by the names of :mod:`theanets.activations`.
GRU_ACTIVATIONS = {'linear': 'linear', 'relu': 'relu', 'rect:max': 'relu',
                   'sigmoid': 'sigmoid', 'logistic': 'sigmoid',
                   'tanh': 'tanh'}

_GRU_KINDS = ('linear', 'relu', 'sigmoid', 'tanh')  # GRU_LINEAR ... in C


def fused_gru_enabled():
    """Return False if :data:`GRU_ENV` asks for the ``scan`` implementation.

    Examples
    --------
    >>> import os
    >>> fused_gru_enabled() == (
    ...     os.environ.get(GRU_ENV, '').lower() != 'scan')
    True
    """
    return os.environ.get(GRU_ENV, '').strip().lower() != 'scan'


def gru_activation(activate):
    """The kind of a layer's activation the GRU Ops implement, or None.

    Only the parameter-free common activations of
    :mod:`theanets.activations` listed in :data:`GRU_ACTIVATIONS` qualify;
    any other (a registered class, a composition) needs ``scan``.

    Examples
    --------
    >>> from theanets import activations
    >>> gru_activation(activations.build('rect:max', None))
    'relu'
    >>> gru_activation(activations.build('tanh+relu', None)) is None
    True
    """
    if type(activate) is not activations.CommonActivation:
        return None
    return GRU_ACTIVATIONS.get(activate.name)


_NUMPY_ACTIVATIONS = {
    'linear': (lambda p: p, lambda p, g: np.ones_like(p)),
    'relu': (lambda p: (p + np.abs(p)) / 2,
             lambda p, g: ((p > 0).astype(p.dtype) + (p >= 0)) / 2),
    'sigmoid': (_sigmoid, lambda p, g: g * (1 - g)),
    'tanh': (np.tanh, lambda p, g: 1 - g * g),
}


def _gru_forward_numpy(kind, xw, b, hh, hrz, h0):
    a = xw + b
    steps, batch, _ = a.shape
    n = hh.shape[0]
    activate = _NUMPY_ACTIVATIONS[kind][0]
    pre, hid, rate, out, reset = (np.empty((steps, batch, n), a.dtype)
                                  for _ in range(5))
    h_prev = h0
    for t in range(steps):
        u = h_prev.dot(hrz)
        reset[t] = _sigmoid(a[t, :, n:2 * n] + u[:, :n])
        rate[t] = _sigmoid(a[t, :, 2 * n:] + u[:, n:])
        pre[t] = a[t, :, :n] + (reset[t] * h_prev).dot(hh)
        hid[t] = activate(pre[t])
        out[t] = (1 - rate[t]) * h_prev + rate[t] * hid[t]
        h_prev = out[t]
    return pre, hid, rate, out, reset


def _gru_backward_numpy(kind, hh, hrz, h0, pre, hid, rate, out, reset,
                        gpre, ghid, grate, gout):
    steps, batch, n = out.shape
    derivative = _NUMPY_ACTIVATIONS[kind][1]
    da = np.empty((steps, batch, 3 * n), out.dtype)
    rh = np.empty((steps, batch, n), out.dtype)
    dh = np.zeros((batch, n), out.dtype)
    for t in range(steps - 1, -1, -1):
        h_prev = out[t - 1] if t else h0
        z, r = rate[t], reset[t]
        dh_t = gout[t] + dh
        dz = dh_t * (hid[t] - h_prev) + grate[t]
        dpre = (dh_t * z + ghid[t]) * derivative(pre[t], hid[t]) + gpre[t]
        drh = dpre.dot(hh.T)
        da[t] = np.concatenate(
            [dpre, drh * h_prev * r * (1 - r), dz * z * (1 - z)], axis=1)
        rh[t] = r * h_prev
        dh = dh_t * (1 - z) + drh * r + da[t, :, n:].dot(hrz.T)
    h_prev = np.concatenate([h0[None], out[:-1]], axis=0).reshape(-1, n)
    dhh = rh.reshape(-1, n).T.dot(da[:, :, :n].reshape(-1, n))
    dhrz = h_prev.T.dot(da[:, :, n:].reshape(-1, 2 * n))
    db = da.sum(axis=(0, 1), dtype='f8')
    return tuple(v.astype(out.dtype) for v in (da, db, dhh, dhrz, dh))


def _check_gru_shapes(xw, b, hh, hrz, h0):
    """Raise ValueError unless the GRU forward inputs fit together."""
    n, batch = hh.shape[0], h0.shape[0]
    expected = dict(xw=(xw.shape[0], batch, 3 * n), b=(3 * n, ),
                    hh=(n, n), hrz=(n, 2 * n), h0=(batch, n))
    for name, value in zip(('xw', 'b', 'hh', 'hrz', 'h0'),
                           (xw, b, hh, hrz, h0)):
        if value.shape != expected[name]:
            raise ValueError('GRU op: {} has shape {}, expected {}'.format(
                name, value.shape, expected[name]))


class _GRUOpBase(_RNNOpBase):
    """The activation property and C settings of the two GRU Ops."""

    __props__ = ('activation', )
    _CODE = _GRU_CODE

    def __init__(self, activation='tanh'):
        if activation not in _GRU_KINDS:
            raise ValueError('GRU op: activation must be one of {}, got '
                             '{!r}'.format(_GRU_KINDS, activation))
        self.activation = activation
        super().__init__()

    def _c_call(self, function, inputs, outputs, sub):
        """C code passing the input and output arrays to ``function``, the
        C template instantiated for this Op's activation."""
        return """
        {{
            PyArrayObject* gru_in[{nin}] = {{{ins}}};
            PyArrayObject* gru_out[{nout}] = {{{outs}}};
            int gru_ret = {function}<{kind}>(gru_in, gru_out);
            {assign}
            if (gru_ret != 0) {{
                {fail}
            }}
        }}
        """.format(nin=len(inputs), ins=', '.join(inputs),
                   nout=len(outputs), outs=', '.join(outputs),
                   function=function,
                   kind=_GRU_KINDS.index(self.activation),
                   assign=' '.join('{} = gru_out[{}];'.format(o, k)
                                   for k, o in enumerate(outputs)),
                   fail=sub['fail'])


class GRUForward(_GRUOpBase):
    """The GRU recurrence over all time steps.

    With ``a = xw + b`` split into column blocks ``a_h, a_r, a_z`` and the
    candidate activation ``g`` (``activation``: ``'linear'``, ``'relu'``,
    ``'sigmoid'`` or ``'tanh'``), computes for :math:`t = 0, \\ldots, T-1`

    .. math::
       r_t = \\sigma(a_{r,t} + h_{t-1} W_{hr}), \\quad
       z_t = \\sigma(a_{z,t} + h_{t-1} W_{hz}), \\\\
       p_t = a_{h,t} + (r_t \\odot h_{t-1}) W_{hh}, \\quad
       \\hat h_t = g(p_t), \\quad
       h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\hat h_t

    Inputs ``xw`` ``(T, B, 3n)``, ``b`` ``(3n,)``, ``hh`` ``(n, n)``,
    ``hrz`` ``(n, 2n)`` (:math:`[W_{hr} W_{hz}]`) and ``h0`` ``(B, n)``, all
    of one dtype (``float32`` or ``float64``). Outputs ``pre`` (:math:`p`),
    ``hid`` (:math:`\\hat h`), ``rate`` (:math:`z`), ``out`` (:math:`h`)
    and the reset gate :math:`r` saved for the gradient, all ``(T, B, n)``;
    the gradient through the last one is not defined.

    Examples
    --------
    >>> import theano.tensor as TT
    >>> xw = TT.tensor3('xw'); hh = TT.matrix('hh'); h0 = TT.matrix('h0')
    >>> outputs = GRUForward('tanh')(xw, TT.vector(), hh, TT.matrix(), h0)
    >>> len(outputs), outputs[0].ndim
    (5, 3)
    """

    def make_node(self, xw, b, hh, hrz, h0):
        inputs = _check_inputs((xw, b, hh, hrz, h0), 'xw b hh hrz h0',
                               (3, 1, 2, 2, 2), op='GRU')
        seq = TT.TensorType(inputs[0].dtype, (False, False, False))
        return theano.Apply(self, inputs, [seq() for _ in range(5)])

    def perform(self, node, inputs, output_storage):
        _check_gru_shapes(*inputs)
        values = _gru_forward_numpy(self.activation, *inputs)
        for store, value in zip(output_storage, values):
            store[0] = value

    def infer_shape(self, node, shapes):
        xw, n = shapes[0], shapes[2][0]
        return [(xw[0], xw[1], n)] * 5

    def L_op(self, inputs, outputs, output_grads):
        xw, b, hh, hrz, h0 = inputs
        if not isinstance(output_grads[4].type, DisconnectedType):
            raise NotImplementedError(
                'GRUForward: the gradient through the saved reset gate '
                '(fifth output) is not implemented; use the other outputs')
        grads = []
        for g, out in zip(output_grads[:4], outputs[:4]):
            if isinstance(g.type, DisconnectedType):
                g = TT.zeros_like(out)
            else:
                g = TT.cast(g, out.dtype)
                if any(g.broadcastable):
                    g = g + TT.zeros_like(out)
            grads.append(g)
        return GRUGrad(self.activation)(hh, hrz, h0, *(outputs + grads))

    def c_code(self, node, name, inputs, outputs, sub):
        """C code that checks the inputs, allocates the outputs and runs the
        forward recurrence."""
        return self._c_call('gru_forward_run', inputs, outputs, sub)


class GRUGrad(_GRUOpBase):
    """Back-propagation through time for :class:`GRUForward`.

    Inputs ``hh``, ``hrz``, ``h0`` (as for the forward Op), its five
    outputs and the cost gradients w.r.t. ``pre``, ``hid``, ``rate`` and
    ``out`` (zeros for the unused ones). Outputs the gradients w.r.t.
    ``xw``, ``b``, ``hh``, ``hrz`` and ``h0``.
    """

    def make_node(self, hh, hrz, h0, pre, hid, rate, out, reset, gpre, ghid,
                  grate, gout):
        inputs = _check_inputs(
            (hh, hrz, h0, pre, hid, rate, out, reset, gpre, ghid, grate,
             gout), 'hh hrz h0 pre hid rate out reset gpre ghid grate gout',
            (2, 2, 2) + (3, ) * 9, op='GRU')
        dtype = inputs[0].dtype
        outputs = [TT.TensorType(dtype, (False, ) * nd)()
                   for nd in (3, 1, 2, 2, 2)]
        return theano.Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage):
        hh, hrz, h0 = inputs[:3]
        steps, batch, n = inputs[6].shape
        names = 'pre hid rate out reset gpre ghid grate gout'.split()
        for name, value in zip(names, inputs[3:]):
            if value.shape != (steps, batch, n):
                raise ValueError('GRU op: {} has shape {}, expected '
                                 '{}'.format(name, value.shape,
                                             (steps, batch, n)))
        _check_gru_shapes(np.empty((steps, batch, 3 * n)), np.empty(3 * n),
                          hh, hrz, h0)
        values = _gru_backward_numpy(self.activation, *inputs)
        for store, value in zip(output_storage, values):
            store[0] = value

    def infer_shape(self, node, shapes):
        hh, hrz, h0, pre = shapes[:4]
        return [(pre[0], pre[1], hrz[1] + hh[1]), (hrz[1] + hh[1], ), hh,
                hrz, h0]

    def c_code(self, node, name, inputs, outputs, sub):
        """C code that checks the inputs, allocates the gradients and runs
        back-propagation through time."""
        return self._c_call('gru_backward_run', inputs, outputs, sub)


def gru(xw, b, hh, hr, hz, h0, activation='tanh'):
    """Symbolic ``pre``, ``hid``, ``rate`` and ``out`` of the GRU recurrence.

    Parameters
    ----------
    xw : symbolic tensor3
        Input projections ``x W`` (without the bias), time-major
        ``(T, B, 3n)``, column blocks candidate, reset, update.
    b : symbolic vector
        Bias ``(3n,)``, added to every step's projection.
    hh, hr, hz : symbolic matrices
        Recurrent weights ``(n, n)`` of the candidate, the reset gate and
        the update gate.
    h0 : symbolic matrix
        Initial hidden state ``(B, n)``.
    activation : str, optional
        The candidate's activation: ``'tanh'`` (default), ``'linear'``,
        ``'relu'`` or ``'sigmoid'``.

    Returns
    -------
    pre, hid, rate, out : symbolic tensor3
        Candidate pre-activation and value, update gate and hidden state
        after each step, ``(T, B, n)``.

    Examples
    --------
    >>> xw, w = np.zeros((2, 1, 3)), np.zeros((1, 1))
    >>> _, _, rate, out = gru(xw, np.zeros(3), w, w, w, np.ones((1, 1)))
    >>> np.round(out.eval().ravel(), 4)  # z = sigmoid(0) halves h each step
    array([0.5 , 0.25])
    """
    hrz = TT.concatenate([TT.as_tensor_variable(hr),
                          TT.as_tensor_variable(hz)], axis=1)
    return GRUForward(activation)(xw, b, hh, hrz, h0)[:4]
