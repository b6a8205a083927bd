"""Channels-last 2-D convolution and max-pooling Ops (C++ kernel:
``kernels/conv.cpp``).

Data are ``(B, W, H, C)`` (batch, two spatial axes, channels), as the
layers of :mod:`theanets.layers.convolution` hold them, so no layout
transposes enter the graph. Filters are ``(N, C, F0, F1)`` and the
convolution is a true one (the kernel flipped), equal to Theano's
``conv2d`` with its default ``filter_flip=True``.
"""

import numpy as np

from . import _base
from ..backend import theano, TT

__all__ = ['Conv2dForward', 'Conv2dGradInput', 'Conv2dGradWeights',
           'MaxPool2d', 'MaxPool2dGrad', 'conv2d', 'max_pool2d',
           'conv_output_length']


def conv_output_length(length, filter_length, stride, padding):
    """Length of one output axis of a strided, padded convolution (or of a
    pooling window, with ``padding`` 0); 0 if the filter does not fit.

    Examples
    --------
    >>> conv_output_length(28, 3, 1, 0), conv_output_length(5, 3, 2, 1)
    (26, 3)
    >>> conv_output_length(2, 3, 1, 0)
    0
    """
    span = length + 2 * padding - filter_length
    return span // stride + 1 if span >= 0 else 0


def _symbolic_length(length, filter_length, stride, padding):
    span = length + 2 * padding - filter_length
    return TT.maximum(span // stride + 1, 0)


# ----------------------------------------------------------------------
# NumPy reference implementation


def _patches(xpad, filter_shape, stride, out_shape):
    """View of the patch (u, v) of every output position:
    ``(B, W', H', F0, F1, C)``."""
    (f0, f1), (s0, s1), (wo, ho) = filter_shape, stride, out_shape
    parts = [[xpad[:, u:u + s0 * (wo - 1) + 1:s0, v:v + s1 * (ho - 1) + 1:s1]
              for v in range(f1)] for u in range(f0)]
    batch, channels = xpad.shape[0], xpad.shape[3]
    if wo == 0 or ho == 0:
        return np.zeros((batch, wo, ho, f0, f1, channels), xpad.dtype)
    return np.stack([np.stack(row, axis=3) for row in parts], axis=3)


def _flipped_matrix(w):
    """``wm[(u, v, c), o] = w[o, c, F0 - 1 - u, F1 - 1 - v]``."""
    return w[:, :, ::-1, ::-1].transpose(2, 3, 1, 0).reshape(-1, w.shape[0])


def _geometry(x, w, stride, padding):
    out_shape = tuple(conv_output_length(x.shape[1 + k], w.shape[2 + k],
                                         stride[k], padding[k])
                      for k in range(2))
    pad = ((0, 0), (padding[0], padding[0]), (padding[1], padding[1]),
           (0, 0))
    return out_shape, pad


def _conv_forward_numpy(x, w, b, stride, padding):
    out_shape, pad = _geometry(x, w, stride, padding)
    cols = _patches(np.pad(x, pad), w.shape[2:], stride, out_shape)
    pre = cols.reshape(-1, _flipped_matrix(w).shape[0]).dot(
        _flipped_matrix(w)) + b
    return pre.reshape(x.shape[:1] + out_shape + w.shape[:1]).astype(x.dtype)


def _conv_grad_input_numpy(x, w, gpre, stride, padding):
    out_shape, pad = _geometry(x, w, stride, padding)
    (f0, f1), (s0, s1), (wo, ho) = w.shape[2:], stride, out_shape
    dcols = gpre.reshape(-1, w.shape[0]).dot(_flipped_matrix(w).T).reshape(
        x.shape[:1] + out_shape + (f0, f1, x.shape[3]))
    gpad = np.zeros(np.pad(x, pad).shape, x.dtype)
    for u in range(f0):
        for v in range(f1):
            gpad[:, u:u + s0 * (wo - 1) + 1:s0,
                 v:v + s1 * (ho - 1) + 1:s1] += dcols[:, :, :, u, v]
    p0, p1 = padding
    return gpad[:, p0:p0 + x.shape[1], p1:p1 + x.shape[2]]


def _conv_grad_weights_numpy(x, w, gpre, stride, padding):
    out_shape, pad = _geometry(x, w, stride, padding)
    cols = _patches(np.pad(x, pad), w.shape[2:], stride, out_shape)
    n, c, f0, f1 = w.shape
    dwm = cols.reshape(-1, f0 * f1 * c).T.dot(gpre.reshape(-1, n))
    gw = dwm.reshape(f0, f1, c, n).transpose(3, 2, 0, 1)[:, :, ::-1, ::-1]
    gb = gpre.reshape(-1, n).sum(axis=0, dtype='f8')
    return (np.ascontiguousarray(gw, dtype=x.dtype), gb.astype(x.dtype))


def _pool_views(x, window, stride, out_shape):
    """The window offset (a, b) of every output position, in row-major
    offset order: ``(B, W', H', C)`` views."""
    (a0, a1), (s0, s1), (wo, ho) = window, stride, out_shape
    return [(slice(a, a + s0 * (wo - 1) + 1, s0),
             slice(b, b + s1 * (ho - 1) + 1, s1))
            for a in range(a0) for b in range(a1)]


def _pool_shape(x, window, stride):
    return tuple(conv_output_length(x.shape[1 + k], window[k], stride[k], 0)
                 for k in range(2))


def _max_pool_numpy(x, window, stride):
    out_shape = _pool_shape(x, window, stride)
    y = np.zeros(x.shape[:1] + out_shape + x.shape[3:], x.dtype)
    if 0 in out_shape:
        return y
    views = _pool_views(x, window, stride, out_shape)
    y[...] = x[:, views[0][0], views[0][1]]
    for rows, cols in views[1:]:
        part = x[:, rows, cols]
        y = np.where(part > y, part, y)
    return y


def _max_pool_grad_numpy(x, y, gy, window, stride):
    gx = np.zeros_like(x)
    if 0 in y.shape[1:3]:
        return gx
    for rows, cols in _pool_views(x, window, stride, y.shape[1:3]):
        gx[:, rows, cols] += np.where(x[:, rows, cols] == y, gy, 0)
    return gx


# ----------------------------------------------------------------------
# Ops


def _int_pair(name, value, minimum):
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or any(v < minimum for v in pair):
        raise ValueError('{} must be a pair of ints >= {}, got {!r}'.format(
            name, minimum, value))
    return pair


class _ConvOp(_base.RNNOp):
    """Geometry properties and C settings of the convolution Ops."""

    __props__ = ('stride', 'padding')
    KERNEL = 'conv.cpp'
    OP_NAME = 'Conv2d'

    def __init__(self, stride=(1, 1), padding=(0, 0)):
        self.stride = _int_pair('stride', stride, 1)
        self.padding = _int_pair('padding', padding, 0)
        super().__init__()

    def c_headers(self, **kwargs):
        return super().c_headers() + ['<stdlib.h>', '<thread>', '<atomic>',
                                      '<mutex>', '<condition_variable>']

    def c_compile_args(self, **kwargs):
        return super().c_compile_args() + ['-pthread']

    def _template(self, entry):
        return '{}<{}, {}, {}, {}>'.format(entry, *(self.stride +
                                                    self.padding))

    def _output_shape(self, xshape, wshape):
        lengths = [_symbolic_length(xshape[1 + k], wshape[2 + k],
                                    self.stride[k], self.padding[k])
                   for k in range(2)]
        return (xshape[0], lengths[0], lengths[1], wshape[0])

    def _check(self, x, w, third, name):
        if x.shape[3] != w.shape[1]:
            raise ValueError(
                'Conv2d op: w has {} input channels (shape[1]), x has {} '
                '(shape[3])'.format(w.shape[1], x.shape[3]))
        out_shape, _ = _geometry(x, w, self.stride, self.padding)
        expected = ((w.shape[0], ) if name == 'b' else
                    x.shape[:1] + out_shape + w.shape[:1])
        _base.check_shapes('Conv2d', name, [third], [expected])


class Conv2dForward(_ConvOp):
    """Channels-last 2-D convolution with bias.

    Inputs ``x`` ``(B, W, H, C)``, filters ``w`` ``(N, C, F0, F1)`` and bias
    ``b`` ``(N,)``, of one dtype (``float32`` or ``float64``). Output

    .. math::
       \\mathrm{pre}[b, i, j, o] = b_o + \\sum_{u, v, c}
       x_p[b, i s_0 + u, j s_1 + v, c]\\, w[o, c, F_0 - 1 - u, F_1 - 1 - v]

    ``(B, W', H', N)``, where ``x_p`` is ``x`` with ``padding`` zeros on
    both sides of each spatial axis and ``s`` the ``stride``.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> w = np.zeros((1, 1, 2, 2)); w[0, 0, 1, 1] = 1  # flipped: x[i, j]
    >>> Conv2dForward()(x, w, np.ones(1)).eval()[0, :, :, 0]
    array([[1., 2.],
           [4., 5.]])
    """

    def make_node(self, x, w, b):
        inputs = _base.check_inputs((x, w, b), 'x w b', (4, 4, 1),
                                    op='Conv2d')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (4, )))

    def perform(self, node, inputs, output_storage):
        x, w, b = inputs
        self._check(x, w, b, 'b')
        output_storage[0][0] = _conv_forward_numpy(x, w, b, self.stride,
                                                   self.padding)

    def infer_shape(self, node, shapes):
        return [self._output_shape(shapes[0], shapes[1])]

    def L_op(self, inputs, outputs, output_grads):
        x, w, b = inputs
        gpre, = _base.cost_gradients(output_grads, outputs)
        gx = Conv2dGradInput(self.stride, self.padding)(x, w, gpre)
        gw, gb = Conv2dGradWeights(self.stride, self.padding)(x, w, gpre)
        return [gx, gw, gb]

    def c_function(self):
        return self._template('conv_forward_run')


class Conv2dGradInput(_ConvOp):
    """Gradient of :class:`Conv2dForward` w.r.t. ``x``.

    Inputs ``x`` (for its shape only), ``w`` and the cost gradient ``gpre``
    w.r.t. the output; output ``gx`` ``(B, W, H, C)``.
    """

    def make_node(self, x, w, gpre):
        inputs = _base.check_inputs((x, w, gpre), 'x w gpre', (4, 4, 4),
                                    op='Conv2d')
        # the type of x: its broadcastable axes, which the gradient of a
        # dimshuffle that made them drops again
        return theano.Apply(self, inputs, [inputs[0].type()])

    def perform(self, node, inputs, output_storage):
        x, w, gpre = inputs
        self._check(x, w, gpre, 'gpre')
        output_storage[0][0] = _conv_grad_input_numpy(
            x, w, gpre, self.stride, self.padding)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def connection_pattern(self, node):
        return [[False], [True], [True]]

    def c_function(self):
        return self._template('conv_grad_input_run')


class Conv2dGradWeights(_ConvOp):
    """Gradients of :class:`Conv2dForward` w.r.t. ``w`` and ``b``.

    Inputs ``x``, ``w`` (for its shape only) and the cost gradient ``gpre``;
    outputs ``gw`` ``(N, C, F0, F1)`` and ``gb`` ``(N,)``. The batch is
    summed in fixed chunks, then the chunks in order, so the result does
    not depend on the number of threads.
    """

    def make_node(self, x, w, gpre):
        inputs = _base.check_inputs((x, w, gpre), 'x w gpre', (4, 4, 4),
                                    op='Conv2d')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (4, 1)))

    def perform(self, node, inputs, output_storage):
        x, w, gpre = inputs
        self._check(x, w, gpre, 'gpre')
        values = _conv_grad_weights_numpy(x, w, gpre, self.stride,
                                          self.padding)
        for store, value in zip(output_storage, values):
            store[0] = value

    def infer_shape(self, node, shapes):
        return [shapes[1], (shapes[1][0], )]

    def connection_pattern(self, node):
        return [[True, False], [False, False], [True, True]]

    def c_function(self):
        return self._template('conv_grad_weights_run')


class _PoolOp(_ConvOp):
    """Window properties of the max-pooling Ops."""

    __props__ = ('window', 'stride')

    def __init__(self, window, stride=None):
        self.window = _int_pair('window', window, 1)
        self.stride = _int_pair('stride', window if stride is None
                                else stride, 1)
        _base.RNNOp.__init__(self)

    def _template(self, entry):
        return '{}<{}, {}, {}, {}>'.format(entry, *(self.window +
                                                    self.stride))


class MaxPool2d(_PoolOp):
    """Channels-last max pooling over (W, H), windows crossing the border
    dropped (Theano's ``pool_2d(ignore_border=True, mode='max')``).

    Input ``x`` ``(B, W, H, C)``; output ``(B, W', H', C)`` with
    ``W' = (W - window[0]) // stride[0] + 1`` (0 if the window does not
    fit), likewise ``H'``.

    Examples
    --------
    >>> x = np.array([1., 3., 2., 2.]).reshape(1, 2, 2, 1)
    >>> MaxPool2d((2, 2))(x).eval().ravel()
    array([3.])
    """

    def make_node(self, x):
        inputs = _base.check_inputs((x, ), 'x', (4, ), op='MaxPool2d')
        return theano.Apply(self, inputs,
                            _base.new_outputs(inputs[0].dtype, (4, )))

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _max_pool_numpy(inputs[0], self.window,
                                               self.stride)

    def infer_shape(self, node, shapes):
        x = shapes[0]
        lengths = [_symbolic_length(x[1 + k], self.window[k],
                                    self.stride[k], 0) for k in range(2)]
        return [(x[0], lengths[0], lengths[1], x[3])]

    def L_op(self, inputs, outputs, output_grads):
        gy, = _base.cost_gradients(output_grads, outputs)
        return [MaxPool2dGrad(self.window, self.stride)(inputs[0],
                                                        outputs[0], gy)]

    def c_function(self):
        return self._template('pool_max_run')


class MaxPool2dGrad(_PoolOp):
    """Gradient of :class:`MaxPool2d`, with the semantics of Theano's
    ``MaxPoolGrad``: every input equal to its window's maximum receives the
    window's gradient (all of them when several tie), summed over
    overlapping windows.

    Inputs ``x``, the pooled ``y`` and the cost gradient ``gy`` w.r.t.
    ``y``; output ``gx`` shaped as ``x``.

    Examples
    --------
    >>> x = np.array([2., 1., 2., 0.]).reshape(1, 2, 2, 1)
    >>> y = np.array([2.]).reshape(1, 1, 1, 1)
    >>> MaxPool2dGrad((2, 2))(x, y, np.ones_like(y)).eval().ravel()
    array([1., 0., 1., 0.])
    """

    def make_node(self, x, y, gy):
        inputs = _base.check_inputs((x, y, gy), 'x y gy', (4, 4, 4),
                                    op='MaxPool2d')
        return theano.Apply(self, inputs, [inputs[0].type()])

    def perform(self, node, inputs, output_storage):
        x, y, gy = inputs
        expected = (x.shape[:1] + _pool_shape(x, self.window, self.stride)
                    + x.shape[3:])
        _base.check_shapes('MaxPool2d', 'y gy', [y, gy], [expected] * 2)
        output_storage[0][0] = _max_pool_grad_numpy(x, y, gy, self.window,
                                                    self.stride)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def c_function(self):
        return self._template('pool_max_grad_run')


def conv2d(x, w, b, stride=(1, 1), padding=(0, 0)):
    """Symbolic channels-last convolution ``pre`` (see
    :class:`Conv2dForward`).

    Parameters
    ----------
    x : symbolic 4-d tensor
        Input ``(B, W, H, C)``.
    w : symbolic 4-d tensor
        Filters ``(N, C, F0, F1)``, as Theano's ``conv2d`` takes them.
    b : symbolic vector
        Bias ``(N,)``.
    stride, padding : pair of int, optional
        Steps and zero padding (each side) along (W, H).

    Returns
    -------
    symbolic 4-d tensor
        ``(B, W', H', N)``.

    Examples
    --------
    >>> x = np.ones((2, 4, 4, 3), 'f4'); w = np.ones((5, 3, 3, 3), 'f4')
    >>> conv2d(x, w, np.zeros(5, 'f4'), padding=(1, 1)).eval()[0, :, 0, 0]
    array([12., 18., 18., 12.], dtype=float32)
    """
    return Conv2dForward(stride, padding)(x, w, b)


def max_pool2d(x, window, stride=None):
    """Symbolic channels-last max pooling (see :class:`MaxPool2d`).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> max_pool2d(x, (2, 2)).eval()[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return MaxPool2d(window, stride)(x)
