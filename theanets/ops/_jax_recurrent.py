"""JAX implementations of theanets' fused recurrent Ops.

Under PyTensor's JAX linker (``mode='JAX'``) every Op of a graph needs a
JAX function; the fused RNN, LSTM and GRU Ops of :mod:`theanets.ops` have
only C and NumPy ones. This module gives each of them one that computes
what its NumPy reference (``_forward_numpy`` / ``_backward_numpy`` in
``theanets/ops/_rnn.py``, ``_lstm.py``, ``_gru.py``) computes, with the same
inputs and outputs in the same order, shapes and dtype:

* the forward Ops add the bias to every step at once and run the time loop
  as a ``lax.scan`` carrying the hidden (and, for the LSTM, cell) state;
* the gradient Ops run a reversed ``lax.scan`` carrying the gradients
  w.r.t. the previous states and stacking each step's gradient ``da`` of
  the pre-activations; as in NumPy, the gradients of the recurrent weights
  are then one matrix product over all steps, the bias gradient a sum of
  ``da`` in float64 (when JAX has float64 enabled, which PyTensor's JAX
  dispatch does for ``floatX=float64``) cast back to the dtype of the
  inputs, and the LSTM's peephole gradients sums of ``da`` times the
  cell states.

The matrix products run at the precision that
:func:`theanets._pytensor_jax.products_precision` sets for the whole
compiled function (full float32 unless the user chose another). An empty
sequence (``T == 0``) gives empty outputs and zero gradients, as the C
kernels do (NumPy's backward reference fails on it).

:mod:`theanets.ops` hands :func:`implementations` to
:func:`theanets._pytensor_jax.extend`; nothing imports this module unless
PyTensor links a graph through JAX.
"""

import jax
import jax.numpy as jnp
from jax import lax

from . import _gru, _lstm, _rnn

#: Each activation kind's function g(p) and derivative from p and g(p), as
#: in :data:`theanets.ops._base.NUMPY_ACTIVATIONS`.
ACTIVATIONS = {
    'linear': (lambda p: p, lambda p, g: jnp.ones_like(p)),
    'relu': (lambda p: (p + jnp.abs(p)) / 2,
             lambda p, g: ((p > 0).astype(p.dtype) + (p >= 0)) / 2),
    'sigmoid': (jax.nn.sigmoid, lambda p, g: g * (1 - g)),
    'tanh': (jnp.tanh, lambda p, g: 1 - g * g),
}


def _forward(step, state, a):
    """Outputs of ``step`` stacked over the steps of ``a`` (time first)."""
    return lax.scan(step, state, a)[1]


def _backward(step, dstate, sequences):
    """Run ``step`` from the last time step to the first; return the
    final gradients w.r.t. the state and ``step``'s stacked outputs."""
    return lax.scan(step, dstate, sequences, reverse=True)


def _previous(first, states):
    """The state before each step: ``first``, then all of ``states`` but
    the last (time first)."""
    return jnp.concatenate([first[None], states])[:-1]


def _product(left, right):
    """``left^T right`` summed over all steps and batch rows."""
    return jnp.dot(left.reshape(-1, left.shape[-1]).T,
                right.reshape(-1, right.shape[-1]))


def _bias_gradient(da):
    """``da`` summed over steps and batch, in float64 where JAX has it."""
    wide = jnp.float64 if jax.config.jax_enable_x64 else da.dtype
    return da.sum(axis=(0, 1), dtype=wide).astype(da.dtype)


def rnn_forward(op, node):
    """JAX function of :class:`theanets.ops.RNNForward`."""
    activate = ACTIVATIONS[op.activation][0]

    def forward(xw, b, hh, h0):
        def step(h_prev, a_t):
            pre = a_t + jnp.dot(h_prev, hh)
            out = activate(pre)
            return out, (pre, out)
        return _forward(step, h0, xw + b)
    return forward


def rnn_grad(op, node):
    """JAX function of :class:`theanets.ops.RNNGrad`."""
    derivative = ACTIVATIONS[op.activation][1]

    def grad(hh, h0, pre, out, gpre, gout):
        def step(dh, seq):
            pre_t, out_t, gpre_t, gout_t = seq
            da = (gout_t + dh) * derivative(pre_t, out_t) + gpre_t
            return jnp.dot(da, hh.T), da
        dh0, da = _backward(step, jnp.zeros_like(h0),
                            (pre, out, gpre, gout))
        return (da, _bias_gradient(da), _product(_previous(h0, out), da),
                dh0)
    return grad


def lstm_forward(op, node):
    """JAX function of :class:`theanets.ops.LSTMForward`."""
    sigmoid = jax.nn.sigmoid

    def forward(xw, b, hh, ci, cf, co, h0, c0):
        n = hh.shape[0]

        def step(state, a_t):
            h_prev, c_prev = state
            z = a_t + jnp.dot(h_prev, hh)
            i = sigmoid(z[:, :n] + c_prev * ci)
            f = sigmoid(z[:, n:2 * n] + c_prev * cf)
            g = jnp.tanh(z[:, 2 * n:3 * n])
            c = f * c_prev + i * g
            o = sigmoid(z[:, 3 * n:] + c * co)
            tc = jnp.tanh(c)
            h = o * tc
            return (h, c), (h, c, jnp.concatenate([i, f, g, o, tc], axis=1))
        return _forward(step, (h0, c0), xw + b)
    return forward


def lstm_grad(op, node):
    """JAX function of :class:`theanets.ops.LSTMGrad`."""
    def grad(hh, ci, cf, co, h0, c0, h, c, acts, gh, gc):
        n = hh.shape[0]
        c_before = _previous(c0, c)

        def step(dstate, seq):
            dh, dc = dstate
            c_prev, act, gh_t, gc_t = seq
            i, f, g, o, tc = (act[:, k * n:(k + 1) * n] for k in range(5))
            dh_t = gh_t + dh
            dzo = dh_t * tc * o * (1 - o)
            dc_t = gc_t + dc + dh_t * o * (1 - tc * tc) + dzo * co
            dzi = dc_t * g * i * (1 - i)
            dzf = dc_t * c_prev * f * (1 - f)
            dzc = dc_t * i * (1 - g * g)
            da = jnp.concatenate([dzi, dzf, dzc, dzo], axis=1)
            dc_prev = dc_t * f + dzi * ci + dzf * cf
            return (jnp.dot(da, hh.T), dc_prev), da
        (dh0, dc0), da = _backward(
            step, (jnp.zeros_like(h0), jnp.zeros_like(c0)),
            (c_before, acts, gh, gc))
        dci = (da[:, :, :n] * c_before).sum(axis=(0, 1))
        dcf = (da[:, :, n:2 * n] * c_before).sum(axis=(0, 1))
        dco = (da[:, :, 3 * n:] * c).sum(axis=(0, 1))
        return (da, _bias_gradient(da), _product(_previous(h0, h), da),
                dci, dcf, dco, dh0, dc0)
    return grad


def gru_forward(op, node):
    """JAX function of :class:`theanets.ops.GRUForward`."""
    activate = ACTIVATIONS[op.activation][0]
    sigmoid = jax.nn.sigmoid

    def forward(xw, b, hh, hrz, h0):
        n = hh.shape[0]

        def step(h_prev, a_t):
            u = jnp.dot(h_prev, hrz)
            reset = sigmoid(a_t[:, n:2 * n] + u[:, :n])
            rate = sigmoid(a_t[:, 2 * n:] + u[:, n:])
            pre = a_t[:, :n] + jnp.dot(reset * h_prev, hh)
            hid = activate(pre)
            out = (1 - rate) * h_prev + rate * hid
            return out, (pre, hid, rate, out, reset)
        return _forward(step, h0, xw + b)
    return forward


def gru_grad(op, node):
    """JAX function of :class:`theanets.ops.GRUGrad`."""
    derivative = ACTIVATIONS[op.activation][1]

    def grad(hh, hrz, h0, pre, hid, rate, out, reset, gpre, ghid, grate,
             gout):
        h_before = _previous(h0, out)

        def step(dh, seq):
            h_prev, pre_t, hid_t, z, r, gpre_t, ghid_t, grate_t, gout_t = seq
            dh_t = gout_t + dh
            dz = dh_t * (hid_t - h_prev) + grate_t
            dpre = ((dh_t * z + ghid_t) * derivative(pre_t, hid_t)
                    + gpre_t)
            drh = jnp.dot(dpre, hh.T)
            dgates = jnp.concatenate(
                [drh * h_prev * r * (1 - r), dz * z * (1 - z)], axis=1)
            dh_prev = dh_t * (1 - z) + drh * r + jnp.dot(dgates, hrz.T)
            return dh_prev, jnp.concatenate([dpre, dgates], axis=1)
        dh0, da = _backward(
            step, jnp.zeros_like(h0),
            (h_before, pre, hid, rate, reset, gpre, ghid, grate, gout))
        n = hh.shape[0]
        return (da, _bias_gradient(da),
                _product(reset * h_before, da[:, :, :n]),
                _product(h_before, da[:, :, n:]), dh0)
    return grad


def implementations():
    """[(op_class, implement), ...] where implement(op, node) returns a
    function of the node's input arrays returning its output arrays."""
    return [(_rnn.RNNForward, rnn_forward), (_rnn.RNNGrad, rnn_grad),
            (_lstm.LSTMForward, lstm_forward), (_lstm.LSTMGrad, lstm_grad),
            (_gru.GRUForward, gru_forward), (_gru.GRUGrad, gru_grad)]
