"""The fused plain-RNN Ops (C++ kernel: ``kernels/rnn.cpp``)."""

import numpy as np

from . import _base
from ..backend import theano

__all__ = ['RNNForward', 'RNNGrad', 'rnn']


# ----------------------------------------------------------------------
# NumPy reference implementation


def _forward_numpy(kind, xw, b, hh, h0):
    activate = _base.NUMPY_ACTIVATIONS[kind][0]
    a = xw + b
    pre = np.empty_like(a)
    out = np.empty_like(a)
    h_prev = h0
    for t in range(len(a)):
        pre[t] = a[t] + h_prev.dot(hh)
        out[t] = activate(pre[t])
        h_prev = out[t]
    return pre, out


def _backward_numpy(kind, hh, h0, pre, out, gpre, gout):
    derivative = _base.NUMPY_ACTIVATIONS[kind][1]
    steps, batch, n = out.shape
    da = np.empty_like(out)
    dh = np.zeros((batch, n), out.dtype)
    for t in range(steps - 1, -1, -1):
        da[t] = (gout[t] + dh) * derivative(pre[t], out[t]) + gpre[t]
        dh = da[t].dot(hh.T)
    h_prev = np.concatenate([h0[None], out[:-1]], axis=0).reshape(-1, n)
    dhh = h_prev.T.dot(da.reshape(-1, n))
    db = da.sum(axis=(0, 1), dtype='f8')
    return tuple(v.astype(out.dtype) for v in (da, db, dhh, dh))


# ----------------------------------------------------------------------
# Ops


class _RNNOp(_base.RNNOp):
    """The activation property and C settings of the two RNN Ops."""

    __props__ = ('activation', )
    KERNEL = 'rnn.cpp'

    def __init__(self, activation='tanh'):
        _base.check_activation('RNN', activation)
        self.activation = activation
        super().__init__()

    def _c_kind(self):
        """The C++ template argument naming this Op's activation."""
        return _base.check_activation('RNN', self.activation)


class RNNForward(_RNNOp):
    """The plain RNN recurrence over all time steps.

    With the activation ``g`` (``activation``: ``'linear'``, ``'relu'``,
    ``'sigmoid'`` or ``'tanh'``), computes for :math:`t = 0, \\ldots, T-1`

    .. math::
       p_t = (xw_t + b) + h_{t-1} W_{hh}, \\quad h_t = g(p_t)

    Inputs ``xw`` ``(T, B, n)``, ``b`` ``(n,)``, ``hh`` ``(n, n)`` and
    ``h0`` ``(B, n)``, all of one dtype (``float32`` or ``float64``).
    Outputs ``pre`` (:math:`p`) and ``out`` (:math:`h`), ``(T, B, n)``.

    Examples
    --------
    >>> import theano.tensor as TT
    >>> xw = TT.tensor3('xw'); hh = TT.matrix('hh'); h0 = TT.matrix('h0')
    >>> pre, out = RNNForward('tanh')(xw, TT.vector(), hh, h0)
    >>> pre.ndim, out.ndim
    (3, 3)
    """

    def make_node(self, xw, b, hh, h0):
        inputs = _base.check_inputs((xw, b, hh, h0), 'xw b hh h0',
                                    (3, 1, 2, 2), op='RNN')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (3, 3)))

    def perform(self, node, inputs, output_storage):
        xw, hh, h0 = inputs[0], inputs[2], inputs[3]
        n, batch = hh.shape[0], h0.shape[0]
        _base.check_shapes('RNN', 'xw b hh h0', inputs,
                           [(xw.shape[0], batch, n), (n, ), (n, n),
                            (batch, n)])
        values = _forward_numpy(self.activation, *inputs)
        for store, value in zip(output_storage, values):
            store[0] = value

    def infer_shape(self, node, shapes):
        return [shapes[0], shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        xw, b, hh, h0 = inputs
        grads = _base.cost_gradients(output_grads, outputs)
        return RNNGrad(self.activation)(hh, h0, *(list(outputs) + grads))

    def c_function(self):
        return 'rnn_forward_run<{}>'.format(self._c_kind())


class RNNGrad(_RNNOp):
    """Back-propagation through time for :class:`RNNForward`.

    Inputs ``hh``, ``h0`` (as for the forward Op), its outputs ``pre``,
    ``out`` and the cost gradients w.r.t. them (zeros for an unused one).
    Outputs the gradients w.r.t. ``xw``, ``b``, ``hh`` and ``h0``.
    """

    def make_node(self, hh, h0, pre, out, gpre, gout):
        inputs = _base.check_inputs(
            (hh, h0, pre, out, gpre, gout), 'hh h0 pre out gpre gout',
            (2, 2, 3, 3, 3, 3), op='RNN')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (3, 1, 2, 2)))

    def perform(self, node, inputs, output_storage):
        steps, batch, n = inputs[3].shape
        _base.check_shapes('RNN', 'hh h0 pre out gpre gout', inputs,
                           [(n, n), (batch, n)] + [(steps, batch, n)] * 4)
        values = _backward_numpy(self.activation, *inputs)
        for store, value in zip(output_storage, values):
            store[0] = value

    def infer_shape(self, node, shapes):
        hh, h0, pre = shapes[:3]
        return [pre, (hh[1], ), hh, h0]

    def c_function(self):
        return 'rnn_backward_run<{}>'.format(self._c_kind())


def rnn(xw, b, hh, h0, activation='tanh'):
    """Symbolic ``pre`` and ``out`` of the plain RNN recurrence.

    Parameters
    ----------
    xw : symbolic tensor3
        Input projections ``x W_xh`` (without the bias), time-major
        ``(T, B, n)``.
    b : symbolic vector
        Bias ``(n,)``, added to every step's projection.
    hh : symbolic matrix
        Recurrent weights ``(n, n)``.
    h0 : symbolic matrix
        Initial hidden state ``(B, n)``.
    activation : str, optional
        ``'tanh'`` (default), ``'linear'``, ``'relu'`` or ``'sigmoid'``.

    Returns
    -------
    pre, out : symbolic tensor3
        Pre-activation and hidden state after each step, ``(T, B, n)``.

    Examples
    --------
    >>> xw = np.zeros((3, 1, 1))
    >>> pre, out = rnn(xw, np.ones(1), 0.5 * np.ones((1, 1)),
    ...                np.zeros((1, 1)), activation='linear')
    >>> out.eval().ravel()  # h = 1 + h / 2
    array([1.  , 1.5 , 1.75])
    """
    return RNNForward(activation)(xw, b, hh, h0)
