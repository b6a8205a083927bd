"""ONNX forms of the structural, feed-forward, convolution and pooling layers.

Each converter has the signature ``convert(b, layer, inputs, wanted)``:
``b`` is the :class:`~theanets.onnx._builder.GraphBuilder`, ``inputs`` maps
the full names of layer outputs computed so far (``'hid1:out'``) to tensor
names, and ``wanted`` is the set of the layer's own outputs (short names,
``'out'``, ``'pre'``) that the exported model needs. A converter returns a
dict from short output names to tensor names that covers ``wanted``.
"""

import numbers

import numpy as np

from .. import layers
from ..exceptions import ConfigurationError
from ..layers import convolution
from . import _activations


def _affine_out(b, layer, pre):
    return dict(pre=pre, out=_activations.emit(b, layer.activate, pre, layer))


def convert_input(b, layer, inputs, wanted):
    """An input layer: the graph input of the same name (dense, float32)."""
    return dict(out=inputs[layer.output_name])


def convert_feedforward(b, layer, inputs, wanted):
    """``pre = sum_i x_i W_i + b``, ``out = g(pre)`` (sparse inputs dense)."""
    terms = [b.op('MatMul', [inputs[name],
                             b.param(layer.find(layer._weight_name(name)))])
             for name in layer.input_shapes]
    total = terms[0]
    for term in terms[1:]:
        total = b.op('Add', [total, term])
    pre = b.op('Add', [total, b.param(layer.find('b'))], hint='pre')
    return _affine_out(b, layer, pre)


def convert_tied(b, layer, inputs, wanted):
    """``pre = x W_partner^T + b``, ``out = g(pre)``."""
    weights = b.transpose(b.param(layer.partner.find('w')), (1, 0),
                          hint='w_transposed')
    product = b.op('MatMul', [inputs[layer.input_name], weights])
    pre = b.op('Add', [product, b.param(layer.find('b'))], hint='pre')
    return _affine_out(b, layer, pre)


def convert_product(b, layer, inputs, wanted):
    """The elementwise product of the inputs, in order."""
    names = list(layer.input_shapes)
    out = inputs[names[0]]
    for name in names[1:]:
        out = b.op('Mul', [out, inputs[name]], hint='product')
    return dict(out=out)


def convert_concatenate(b, layer, inputs, wanted):
    """The inputs joined along their last axis."""
    return dict(out=b.op('Concat', [inputs[name]
                                    for name in layer.input_shapes],
                         hint='concat', axis=-1))


def convert_flatten(b, layer, inputs, wanted):
    """All axes but the batch axis merged into one."""
    return dict(out=b.op('Flatten', [inputs[layer.input_name]], axis=1))


def convert_reshape(b, layer, inputs, wanted):
    """A new per-example shape; the batch axis is kept (``0`` in ONNX)."""
    dims = [0] + [-1 if dim is None else int(dim)
                  for dim in layer.output_shape]
    return dict(out=b.op('Reshape', [inputs[layer.input_name],
                                     b.const(dims, np.int64)],
                         hint='reshape'))


def _padding(layer, axis):
    """Zero padding of convolved axis ``axis`` on each side."""
    return convolution._padding(layer.border_mode, layer.filter_size[axis],
                                axis)


def convert_conv1(b, layer, inputs, wanted):
    """Conv1 as a 1-D ONNX ``Conv`` over ``(B, d, T)``.

    Theano convolves (it flips the kernel), ONNX correlates: the exported
    kernel is the layer's ``w`` reversed along time.
    """
    weights = layer.find('w').get_value()[:, :, 0, ::-1]
    if isinstance(layer.border_mode, numbers.Integral):
        pad = int(layer.border_mode)
    else:
        pad = _padding(layer, 1)
    x = b.transpose(inputs[layer.input_name], (0, 2, 1), hint='channels')
    y = b.op('Conv', [x, b.array(weights, layer.find('w').name + '.flipped')],
             hint='conv', kernel_shape=[layer.filter_size[1]],
             pads=[pad, pad], strides=[layer.stride[1]])
    y = b.transpose(y, (0, 2, 1), hint='time')
    pre = b.op('Add', [y, b.param(layer.find('b'))], hint='pre')
    return _affine_out(b, layer, pre)


def convert_conv2(b, layer, inputs, wanted):
    """Conv2 as a 2-D ONNX ``Conv`` over ``(B, d, W, H)`` (kernel flipped)."""
    weights = layer.find('w').get_value()[:, :, ::-1, ::-1]
    pads = [_padding(layer, 0), _padding(layer, 1)]
    x = b.transpose(inputs[layer.input_name], (0, 3, 1, 2), hint='channels')
    y = b.op('Conv', [x, b.array(weights, layer.find('w').name + '.flipped')],
             hint='conv', kernel_shape=list(layer.filter_size),
             pads=pads + pads, strides=list(layer.stride))
    y = b.transpose(y, (0, 2, 3, 1), hint='image')
    pre = b.op('Add', [y, b.param(layer.find('b'))], hint='pre')
    return _affine_out(b, layer, pre)


def _pool(b, layer, x, window, stride):
    """Pool ``x`` (channels first) without padding, dropping partial windows.

    Without padding both average modes are the plain mean; a sum is a
    depthwise convolution with a kernel of ones, so it is exact.
    """
    if layer.mode == 'max':
        return b.op('MaxPool', [x], hint='pool', kernel_shape=window,
                    strides=stride)
    if layer.mode == 'sum':
        channels = layer.input_size
        ones = b.const(np.ones([channels, 1] + window))
        return b.op('Conv', [x, ones], hint='pool', kernel_shape=window,
                    strides=stride, group=channels)
    return b.op('AveragePool', [x], hint='pool', kernel_shape=window,
                strides=stride)


def convert_pool1(b, layer, inputs, wanted):
    """Pool1 as 1-D pooling over ``(B, d, T)``."""
    (window, _), (stride, _) = layer._window()
    x = b.transpose(inputs[layer.input_name], (0, 2, 1), hint='channels')
    y = _pool(b, layer, x, [int(window)], [int(stride)])
    pre = b.transpose(y, (0, 2, 1), hint='pre')
    return dict(pre=pre, out=_activations.emit(b, layer.activate, pre, layer))


def convert_pool2(b, layer, inputs, wanted):
    """Pool2 as 2-D pooling over ``(B, d, W, H)``."""
    window, stride = layer._window()
    x = b.transpose(inputs[layer.input_name], (0, 3, 1, 2), hint='channels')
    y = _pool(b, layer, x, [int(w) for w in window], [int(s) for s in stride])
    pre = b.transpose(y, (0, 2, 3, 1), hint='pre')
    return dict(pre=pre, out=_activations.emit(b, layer.activate, pre, layer))


#: Converters by exact layer class (a subclass may compute something else).
CONVERTERS = {
    layers.Input: convert_input,
    layers.Feedforward: convert_feedforward,
    layers.Classifier: convert_feedforward,
    layers.Tied: convert_tied,
    layers.Product: convert_product,
    layers.Concatenate: convert_concatenate,
    layers.Flatten: convert_flatten,
    layers.Reshape: convert_reshape,
    layers.Conv1: convert_conv1,
    layers.Conv2: convert_conv2,
    layers.Pool1: convert_pool1,
    layers.Pool2: convert_pool2,
}


def sources(layer):
    """Full names of the layer outputs that ``layer`` reads."""
    return list(layer.input_shapes)


def unsupported(layer, why):
    """The error for a layer that cannot be exported."""
    return ConfigurationError(
        'layer "{}" ({}) cannot be exported to ONNX: {}'.format(
            layer.name, type(layer).__name__, why))
