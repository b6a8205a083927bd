"""The fused GRU Ops (C++ kernel: ``kernels/gru.cpp``)."""

import numpy as np

from . import _base
from ..backend import theano, TT, DisconnectedType

__all__ = ['GRUForward', 'GRUGrad', 'gru', 'KINDS']

#: Candidate activations the Ops implement (see
#: :data:`theanets.ops._base.ACTIVATION_KINDS`).
KINDS = _base.ACTIVATION_KINDS


# ----------------------------------------------------------------------
# NumPy reference implementation


def _forward_numpy(kind, xw, b, hh, hrz, h0):
    sigmoid = _base.sigmoid
    a = xw + b
    steps, batch, _ = a.shape
    n = hh.shape[0]
    activate = _base.NUMPY_ACTIVATIONS[kind][0]
    pre, hid, rate, out, reset = (np.empty((steps, batch, n), a.dtype)
                                  for _ in range(5))
    h_prev = h0
    for t in range(steps):
        u = h_prev.dot(hrz)
        reset[t] = sigmoid(a[t, :, n:2 * n] + u[:, :n])
        rate[t] = sigmoid(a[t, :, 2 * n:] + u[:, n:])
        pre[t] = a[t, :, :n] + (reset[t] * h_prev).dot(hh)
        hid[t] = activate(pre[t])
        out[t] = (1 - rate[t]) * h_prev + rate[t] * hid[t]
        h_prev = out[t]
    return pre, hid, rate, out, reset


def _backward_numpy(kind, hh, hrz, h0, pre, hid, rate, out, reset,
                    gpre, ghid, grate, gout):
    steps, batch, n = out.shape
    derivative = _base.NUMPY_ACTIVATIONS[kind][1]
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


def _parameter_shapes(batch, n):
    """Shapes of ``hh``, ``hrz``, ``h0``."""
    return [(n, n), (n, 2 * n), (batch, n)]


# ----------------------------------------------------------------------
# Ops


class _GRUOp(_base.RNNOp):
    """The activation property and C settings of the two GRU Ops."""

    __props__ = ('activation', )
    KERNEL = 'gru.cpp'

    def __init__(self, activation='tanh'):
        _base.check_activation('GRU', activation)
        self.activation = activation
        super().__init__()

    def _c_kind(self):
        """The C++ template argument naming this Op's activation."""
        return _base.check_activation('GRU', self.activation)


class GRUForward(_GRUOp):
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
        inputs = _base.check_inputs((xw, b, hh, hrz, h0), 'xw b hh hrz h0',
                                    (3, 1, 2, 2, 2), op='GRU')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (3, ) * 5))

    def perform(self, node, inputs, output_storage):
        xw, hh, h0 = inputs[0], inputs[2], inputs[4]
        n, batch = hh.shape[0], h0.shape[0]
        _base.check_shapes(
            'GRU', 'xw b hh hrz h0', inputs,
            [(xw.shape[0], batch, 3 * n), (3 * n, )]
            + _parameter_shapes(batch, n))
        values = _forward_numpy(self.activation, *inputs)
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
        grads = _base.cost_gradients(output_grads[:4], outputs[:4])
        return GRUGrad(self.activation)(hh, hrz, h0, *(outputs + grads))

    def c_function(self):
        return 'gru_forward_run<{}>'.format(self._c_kind())


class GRUGrad(_GRUOp):
    """Back-propagation through time for :class:`GRUForward`.

    Inputs ``hh``, ``hrz``, ``h0`` (as for the forward Op), its five
    outputs and the cost gradients w.r.t. ``pre``, ``hid``, ``rate`` and
    ``out`` (zeros for the unused ones). Outputs the gradients w.r.t.
    ``xw``, ``b``, ``hh``, ``hrz`` and ``h0``.
    """

    def make_node(self, hh, hrz, h0, pre, hid, rate, out, reset, gpre, ghid,
                  grate, gout):
        inputs = _base.check_inputs(
            (hh, hrz, h0, pre, hid, rate, out, reset, gpre, ghid, grate,
             gout), 'hh hrz h0 pre hid rate out reset gpre ghid grate gout',
            (2, 2, 2) + (3, ) * 9, op='GRU')
        return theano.Apply(
            self, inputs,
            _base.new_outputs(inputs[0].dtype, (3, 1, 2, 2, 2)))

    def perform(self, node, inputs, output_storage):
        steps, batch, n = inputs[6].shape
        _base.check_shapes(
            'GRU', 'hh hrz h0 pre hid rate out reset gpre ghid grate gout',
            inputs, _parameter_shapes(batch, n) + [(steps, batch, n)] * 9)
        values = _backward_numpy(self.activation, *inputs)
        for store, value in zip(output_storage, values):
            store[0] = value

    def infer_shape(self, node, shapes):
        hh, hrz, h0, pre = shapes[:4]
        return [(pre[0], pre[1], hrz[1] + hh[1]), (hrz[1] + hh[1], ), hh,
                hrz, h0]

    def c_function(self):
        return 'gru_backward_run<{}>'.format(self._c_kind())


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
