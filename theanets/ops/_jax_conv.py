"""JAX implementations of theanets' channels-last convolution and pooling
Ops, for PyTensor's JAX linker.

Each computes what the Op's NumPy ``perform`` computes
(:mod:`theanets.ops._conv`), with the same inputs, outputs and dtype: the
convolution is ``lax.conv_general_dilated`` of the flipped filters (a true
convolution, as Theano's ``conv2d``), its gradients the pullbacks of that
function (``jax.vjp``), max pooling ``lax.reduce_window``, and the pooling
gradient reaches every input equal to its window's maximum (all of them on
ties, as Theano's ``MaxPoolGrad``), summed over overlapping windows.
Filters that do not fit the input give empty outputs and zero gradients.

:mod:`theanets.ops` hands :func:`implementations` to
:func:`theanets._pytensor_jax.extend`; nothing imports this module unless
PyTensor links a graph through JAX.
"""

import jax
import jax.numpy as jnp
from jax import lax

from . import _conv


def implementations():
    """[(op_class, implement), ...]: ``implement(op, node)`` returns the
    JAX function of a node."""
    return [(_conv.Conv2dForward, _conv2d),
            (_conv.Conv2dGradInput, _conv2d_grad_input),
            (_conv.Conv2dGradWeights, _conv2d_grad_weights),
            (_conv.MaxPool2d, _max_pool2d),
            (_conv.MaxPool2dGrad, _max_pool2d_grad)]


def _convolution(op):
    """The channels-last convolution ``(x, w) -> x * w`` (true, flipped
    kernel, no bias) of a convolution Op's stride and padding."""
    padding = [(p, p) for p in op.padding]

    def convolve(x, w):
        return lax.conv_general_dilated(
            x, w[:, :, ::-1, ::-1], window_strides=op.stride,
            padding=padding, dimension_numbers=('NHWC', 'OIHW', 'NHWC'))
    return convolve


def _output_shape(x, w, op):
    """The output's spatial shape, 0 along an axis the filters do not fit
    (the NumPy code's geometry)."""
    return _conv._geometry(x, w, op.stride, op.padding)[0]


def _conv2d(op, node):
    convolve = _convolution(op)

    def conv2d(x, w, b):
        shape = _output_shape(x, w, op)
        if 0 in shape:
            return jnp.zeros(x.shape[:1] + shape + w.shape[:1], x.dtype)
        return convolve(x, w) + b
    return conv2d


def _conv2d_grad_input(op, node):
    convolve = _convolution(op)

    def conv2d_grad_input(x, w, gpre):
        if 0 in _output_shape(x, w, op):
            return jnp.zeros_like(x)
        _, pullback = jax.vjp(lambda value: convolve(value, w), x)
        return pullback(gpre)[0]
    return conv2d_grad_input


def _conv2d_grad_weights(op, node):
    convolve = _convolution(op)

    def conv2d_grad_weights(x, w, gpre):
        # the bias gradient summed in double precision (as the C kernel)
        # where JAX has it
        wide = jnp.float64 if jax.config.jax_enable_x64 else gpre.dtype
        gb = gpre.sum(axis=(0, 1, 2), dtype=wide).astype(w.dtype)
        if 0 in _output_shape(x, w, op):
            return jnp.zeros_like(w), gb
        _, pullback = jax.vjp(lambda value: convolve(x, value), w)
        return pullback(gpre)[0], gb
    return conv2d_grad_weights


def _max_pool2d(op, node):

    def max_pool2d(x):
        shape = _conv._pool_shape(x, op.window, op.stride)
        if 0 in shape:
            return jnp.zeros(x.shape[:1] + shape + x.shape[3:], x.dtype)
        return lax.reduce_window(
            x, jnp.array(-jnp.inf, x.dtype), lax.max,
            (1, ) + op.window + (1, ), (1, ) + op.stride + (1, ), 'VALID')
    return max_pool2d


def _max_pool2d_grad(op, node):

    def max_pool2d_grad(x, y, gy):
        # every element equal to its window's maximum gets the window's
        # gradient (all of them on ties), as Theano's MaxPoolGrad
        gx = jnp.zeros_like(x)
        if 0 in y.shape[1:3]:
            return gx
        for rows, columns in _conv._pool_views(x, op.window, op.stride,
                                               y.shape[1:3]):
            part = x[:, rows, columns]
            gx = gx.at[:, rows, columns].add(jnp.where(part == y, gy, 0))
        return gx
    return max_pool2d_grad
