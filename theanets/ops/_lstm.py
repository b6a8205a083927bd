"""The fused LSTM Ops (C++ kernel: ``kernels/lstm.cpp``)."""

import numpy as np

from . import _base
from ..backend import theano, DisconnectedType

__all__ = ['LSTMForward', 'LSTMGrad', 'lstm_forward', 'lstm_grad', 'lstm']


# ----------------------------------------------------------------------
# NumPy reference implementation


def _forward_numpy(xw, b, hh, ci, cf, co, h0, c0):
    sigmoid = _base.sigmoid
    a = xw + b
    steps, batch, _ = a.shape
    n = hh.shape[0]
    h = np.empty((steps, batch, n), a.dtype)
    c = np.empty((steps, batch, n), a.dtype)
    acts = np.empty((steps, batch, 5 * n), a.dtype)
    h_prev, c_prev = h0, c0
    for t in range(steps):
        z = a[t] + h_prev.dot(hh)
        i = sigmoid(z[:, :n] + c_prev * ci)
        f = sigmoid(z[:, n:2 * n] + c_prev * cf)
        g = np.tanh(z[:, 2 * n:3 * n])
        c[t] = f * c_prev + i * g
        o = sigmoid(z[:, 3 * n:] + c[t] * co)
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


def _parameter_shapes(batch, n):
    """Shapes of ``hh``, ``ci``, ``cf``, ``co``, ``h0``, ``c0``."""
    return [(n, 4 * n), (n, ), (n, ), (n, ), (batch, n), (batch, n)]


# ----------------------------------------------------------------------
# Ops


class _LSTMOp(_base.RNNOp):
    """C compilation settings of the two LSTM Ops."""

    KERNEL = 'lstm.cpp'


class LSTMForward(_LSTMOp):
    """The LSTM recurrence over all time steps (see :mod:`theanets.ops`).

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
        inputs = _base.check_inputs(
            (xw, b, hh, ci, cf, co, h0, c0), 'xw b hh ci cf co h0 c0',
            (3, 1, 2, 1, 1, 1, 2, 2), op='LSTM')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (3, 3, 3)))

    def perform(self, node, inputs, output_storage):
        xw, hh, h0 = inputs[0], inputs[2], inputs[6]
        n, batch = hh.shape[0], h0.shape[0]
        _base.check_shapes(
            'LSTM', 'xw b hh ci cf co h0 c0', inputs,
            [(xw.shape[0], batch, 4 * n), (4 * n, )]
            + _parameter_shapes(batch, n))
        for store, value in zip(output_storage, _forward_numpy(*inputs)):
            store[0] = value

    def infer_shape(self, node, shapes):
        xw, n = shapes[0], shapes[2][0]
        return [(xw[0], xw[1], n), (xw[0], xw[1], n), (xw[0], xw[1], 5 * n)]

    def L_op(self, inputs, outputs, output_grads):
        xw, b, hh, ci, cf, co, h0, c0 = inputs
        h, c, acts = outputs
        if not isinstance(output_grads[2].type, DisconnectedType):
            raise NotImplementedError(
                'LSTMForward: the gradient through the saved activations '
                '(third output) is not implemented; use h and c')
        gh, gc = _base.cost_gradients(output_grads[:2], outputs[:2])
        return lstm_grad(hh, ci, cf, co, h0, c0, h, c, acts, gh, gc)

    def c_function(self):
        return 'lstm_forward_run'


class LSTMGrad(_LSTMOp):
    """Back-propagation through time for :class:`LSTMForward`.

    Inputs ``hh``, ``ci``, ``cf``, ``co``, ``h0``, ``c0`` (as for the forward
    Op), its outputs ``h``, ``c``, ``acts`` and the cost gradients ``gh``,
    ``gc`` w.r.t. ``h`` and ``c``. Outputs the gradients w.r.t. ``xw``,
    ``b``, ``hh``, ``ci``, ``cf``, ``co``, ``h0`` and ``c0``.
    """

    def make_node(self, hh, ci, cf, co, h0, c0, h, c, acts, gh, gc):
        inputs = _base.check_inputs(
            (hh, ci, cf, co, h0, c0, h, c, acts, gh, gc),
            'hh ci cf co h0 c0 h c acts gh gc',
            (2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3), op='LSTM')
        return theano.Apply(
            self, inputs,
            _base.new_outputs(inputs[0].dtype, (3, 1, 2, 1, 1, 1, 2, 2)))

    def perform(self, node, inputs, output_storage):
        steps, batch, n = inputs[6].shape
        seq = (steps, batch, n)
        _base.check_shapes(
            'LSTM', 'hh ci cf co h0 c0 h c acts gh gc', inputs,
            _parameter_shapes(batch, n)
            + [seq, seq, (steps, batch, 5 * n), seq, seq])
        for store, value in zip(output_storage, _backward_numpy(*inputs)):
            store[0] = value

    def infer_shape(self, node, shapes):
        hh, ci, cf, co, h0, c0, h = shapes[:7]
        return [(h[0], h[1], hh[1]), (hh[1], ), hh, ci, cf, co, h0, c0]

    def c_function(self):
        return 'lstm_backward_run'


#: The forward Op (one instance serves every graph: it has no parameters).
lstm_forward = LSTMForward()

#: The gradient Op of :data:`lstm_forward`.
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
