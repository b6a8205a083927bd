"""Tests for the convolution and pooling layers (theanets.layers.convolution).

Forward values are checked against direct numpy loops (true convolution with
a flipped kernel; max/sum/average pooling), declared output shapes against
the shapes of the computed tensors, and gradients against central finite
differences of the numpy convolution.
"""

import logging
from types import SimpleNamespace

import numpy as np
import pytest

import theanets  # noqa: F401  (configures Theano)
from theanets import util
from theanets.layers import base, convolution
from theanets.backend import theano, TT

NI = 7
NH = 8


def bind_layers(*layers):
    graph = SimpleNamespace(layers=list(layers))
    for layer in layers:
        layer.bind(graph)
    return graph


def bound(form, input_shape, **kwargs):
    inp = base.Input(shape=input_shape, name='in')
    layer = base.Layer.build(form, name='l', inputs='in', **kwargs)
    bind_layers(inp, layer)
    return layer


# ---------------------------------------------------------------------------
# 9.2 / 9.3 unit checks

def test_conv2_unit():
    inp = base.Input(size=NI, ndim=4, name='in')
    layer = base.Layer.build('conv2', size=NH, name='l', inputs='in',
                             filter_size=(4, 3))
    bind_layers(inp, layer)
    assert type(layer).__name__.lower() == 'conv2'
    assert sorted(p.name for p in layer.params) == ['l.b', 'l.w']
    assert sum(p.get_value().size for p in layer.params) == \
        (1 + NI * 3 * 4) * NH == 680
    outs, updates = layer.connect({'in:out': TT.tensor4('x')})
    assert sorted(outs) == ['l:out', 'l:pre']
    assert not updates
    assert layer.to_spec() == dict(form='conv2', name='l', size=NH,
                                   inputs='in', activation='relu')
    assert layer.find('w').get_value().shape == (NH, NI, 4, 3)


def test_conv1_unit():
    inp = base.Input(size=NI, ndim=3, name='in')
    layer = base.Layer.build('conv1', size=NH, name='l', inputs='in',
                             filter_size=13)
    bind_layers(inp, layer)
    assert type(layer).__name__.lower() == 'conv1'
    assert sorted(p.name for p in layer.params) == ['l.b', 'l.w']
    assert sum(p.get_value().size for p in layer.params) == \
        (1 + 13 * NI) * NH == 736
    assert layer.find('w').get_value().shape == (NH, NI, 1, 13)
    assert layer.output_shape == (None, NH)
    outs, updates = layer.connect({'in:out': TT.tensor3('x')})
    assert sorted(outs) == ['l:out', 'l:pre']
    assert not updates
    assert layer.to_spec() == dict(form='conv1', name='l', size=NH,
                                   inputs='in', activation='relu')


def test_registry_and_exports():
    for key, name in [('convolution', 'Convolution'), ('conv1', 'Conv1'),
                      ('conv2', 'Conv2'), ('pooling', 'Pooling'),
                      ('pool1', 'Pool1'), ('pool2', 'Pool2'),
                      ('Conv2', 'Conv2')]:
        assert base.Layer.get_class(key) is getattr(convolution, name)
    assert set(convolution.__all__) == {
        'Convolution', 'Conv1', 'Conv2', 'Pooling', 'Pool1', 'Pool2'}


def test_conv_weight_draw_order():
    layer = bound('conv2', (5, 4, 3), size=2, filter_size=(2, 3), rng=13)
    rng = np.random.RandomState(13)
    std = 1 / np.sqrt(3 + 2)  # the fan does not include the filter area
    w = np.zeros((2, 3, 2, 3), 'f')
    for r in range(2):
        for c in range(3):
            w[:, :, r, c] = (rng.randn(2, 3) * std).astype('f')
    np.testing.assert_array_equal(layer.find('w').get_value(), w)
    np.testing.assert_array_equal(layer.find('b').get_value(),
                                  rng.randn(2).astype('f'))
    assert [p.name for p in layer.params] == ['l.w', 'l.b']

    layer = bound('conv2', (5, 4, 3), size=2, filter_size=(2, 3), rng=13,
                  std=0, mean_w=0.5)
    np.testing.assert_array_equal(layer.find('w').get_value(),
                                  np.full((2, 3, 2, 3), 0.5))


def test_conv_output_shapes():
    # the pinned test geometry
    assert bound('conv2', (13, 15, 7), size=8,
                 filter_size=(4, 3)).output_shape == (10, 13, 8)
    assert bound('conv2', (10, 13, 8), size=12,
                 filter_size=(4, 3)).output_shape == (7, 11, 12)
    assert bound('conv2', (13, 15, 7), size=8, filter_size=(4, 3),
                 border_mode='full').output_shape == (16, 17, 8)
    assert bound('conv2', (13, 15, 7), size=8, filter_size=(5, 3),
                 border_mode='half').output_shape == (13, 15, 8)
    # stride-aware (the original declared (4, 4, n) here)
    assert bound('conv2', (6, 5, 3), size=4, filter_size=(3, 2),
                 stride=(2, 2)).output_shape == (2, 2, 4)
    # half padding with an even filter grows the axis by one
    assert bound('conv2', (6, 5, 3), size=4, filter_size=(4, 3),
                 border_mode='half').output_shape == (7, 5, 4)
    assert bound('conv2', (6, 5, 3), size=4, filter_size=(3, 2),
                 border_mode=(1, 2)).output_shape == (6, 8, 4)
    # unknown lengths fall back to the base rule
    assert bound('conv2', (None, None, 3), size=4,
                 filter_size=(3, 2)).output_shape == (None, None, 4)
    # Conv1 (the original produced a wrong 3-entry shape (9, 6, n))
    assert bound('conv1', (9, 3), size=5, filter_size=4).output_shape == \
        (6, 5)
    assert bound('conv1', (9, 3), size=5, filter_size=4,
                 border_mode='full').output_shape == (12, 5)
    assert bound('conv1', (9, 3), size=5, filter_size=4,
                 stride=2).output_shape == (3, 5)
    assert bound('conv1', (9, 3), shape=(6, 5),
                 filter_size=4).output_shape == (6, 5)
    assert bound('conv1', (None, 3), size=5,
                 filter_size=4).output_shape == (None, 5)


def test_conv_configuration_errors():
    with pytest.raises(util.ConfigurationError, match='border_mode'):
        convolution.Conv2(filter_size=(2, 2), border_mode='same', size=3)
    with pytest.raises(util.ConfigurationError, match='border_mode'):
        convolution.Conv1(filter_size=2, border_mode=-1, size=3)
    with pytest.raises(util.ConfigurationError, match='border_mode'):
        convolution.Conv1(filter_size=2, border_mode=(1, 1), size=3)
    with pytest.raises(TypeError):
        convolution.Conv2(size=3)  # filter_size is required
    layer = convolution.Conv2(filter_size=3, stride=2, size=3)
    assert (layer.filter_size, layer.stride) == ((3, 3), (2, 2))
    with pytest.raises(util.ConfigurationError, match='size'):
        bound('conv2', (5, 5, 2), filter_size=(2, 2))


def test_conv_log_lines(caplog):
    with caplog.at_level(logging.DEBUG, logger='theanets'):
        bound('conv2', (13, 15, 7), size=8, filter_size=(4, 3))
        bound('conv1', (None, 7), size=8, filter_size=13, stride=2,
              activation='tanh')
    assert 'layer Conv2 "l" (10, 13, 8) relu valid filters 4x3+1+1 from ' \
        '"in:out" (13, 15, 7)' in caplog.text
    assert 'layer Conv1 "l" (None, 8) tanh valid filters 1x13+1+2 from ' \
        '"in:out" (None, 7)' in caplog.text
    assert 'parameter "l.w" (8, 7, 4, 3)' in caplog.text
    assert 'learnable parameters: 680' in caplog.text


# ---------------------------------------------------------------------------
# Numeric checks against numpy

def np_conv2(x, w, b, stride=(1, 1), pad=(0, 0)):
    """True 2-D convolution of (B, W, H, d) data with (n, d, f0, f1) w."""
    x = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    n, d, f0, f1 = w.shape
    flipped = w[:, :, ::-1, ::-1]
    rows = (x.shape[1] - f0) // stride[0] + 1
    cols = (x.shape[2] - f1) // stride[1] + 1
    out = np.zeros((x.shape[0], rows, cols, n))
    for i in range(rows):
        for j in range(cols):
            patch = x[:, i * stride[0]:i * stride[0] + f0,
                      j * stride[1]:j * stride[1] + f1, :]
            out[:, i, j] = np.einsum('buvc,ocuv->bo', patch, flipped)
    return out + b


def np_conv1(x, w, b, stride=1, pad=0):
    """Convolution along time of (B, T, d) data with (n, d, 1, f) w."""
    return np_conv2(x[:, :, None, :], w.transpose(0, 1, 3, 2), b,
                    stride=(stride, 1), pad=(pad, 0))[:, :, 0]


def np_pool(x, size, stride, mode):
    """Pool the axes 1.. (all but batch and channels) of x, no padding."""
    lengths = [(l - s) // st + 1
               for l, s, st in zip(x.shape[1:-1], size, stride)]
    out = np.zeros((x.shape[0], ) + tuple(lengths) + (x.shape[-1], ))
    for index in np.ndindex(*lengths):
        window = x[(slice(None), ) + tuple(
            slice(i * st, i * st + s)
            for i, s, st in zip(index, size, stride))]
        axes = tuple(range(1, x.ndim - 1))
        if mode == 'max':
            value = window.max(axis=axes)
        elif mode == 'sum':
            value = window.sum(axis=axes)
        else:
            value = window.mean(axis=axes)
        out[(slice(None), ) + index] = value
    return out


CONV_CASES = [
    # name, form, input shape, kwargs, numpy padding
    ('c2_valid', 'conv2', (5, 4, 2), dict(filter_size=(2, 3)), (0, 0)),
    ('c2_full', 'conv2', (5, 4, 2), dict(filter_size=(2, 3),
                                         border_mode='full'), (1, 2)),
    ('c2_half', 'conv2', (5, 4, 2), dict(filter_size=(3, 2),
                                         border_mode='half'), (1, 1)),
    ('c2_stride', 'conv2', (5, 4, 2), dict(filter_size=(2, 2),
                                           stride=(2, 1)), (0, 0)),
    ('c2_pad', 'conv2', (5, 4, 2), dict(filter_size=(3, 2),
                                        border_mode=(2, 1)), (2, 1)),
    ('c1_valid', 'conv1', (6, 2), dict(filter_size=3), 0),
    ('c1_full', 'conv1', (6, 2), dict(filter_size=3, border_mode='full'), 2),
    ('c1_stride', 'conv1', (6, 2), dict(filter_size=2, stride=2), 0),
    ('c1_pad', 'conv1', (6, 2), dict(filter_size=3, border_mode=1), 1),
]

POOL_CASES = [
    ('p2_max', 'pool2', (5, 4, 2), dict(pool_size=(2, 2))),
    ('p2_sum', 'pool2', (5, 4, 2), dict(pool_size=(2, 3), mode='sum')),
    ('p2_avg', 'pool2', (5, 4, 2), dict(pool_size=(3, 2), stride=(1, 2),
                                        mode='average_exc_pad')),
    ('p2_avg_inc', 'pool2', (5, 4, 2), dict(pool_size=(2, 2), stride=(1, 1),
                                            mode='average_inc_pad')),
    ('p1_max', 'pool1', (7, 2), dict(pool_size=2)),
    ('p1_overlap', 'pool1', (7, 2), dict(pool_size=3, stride=2)),
    ('p1_avg', 'pool1', (7, 2), dict(pool_size=2, mode='average_inc_pad')),
]


def _conv_network(seed=0):
    """Input layers by shape, conv and pool layers, their outputs."""
    inputs, layers = {}, []
    for name, form, shape, kwargs, *_ in CONV_CASES + POOL_CASES:
        if shape not in inputs:
            inputs[shape] = base.Input(shape=shape,
                                       name='in{}'.format(len(inputs)))
        extra = dict(size=3, rng=seed) if form.startswith('conv') else {}
        layers.append(base.Layer.build(
            form, name=name, inputs=inputs[shape].name,
            activation='linear', **dict(kwargs, **extra)))
    bind_layers(*(list(inputs.values()) + layers))
    exprs = {layer.output_name: layer.input for layer in inputs.values()}
    outputs = {}
    for layer in layers:
        outs, updates = layer.connect(exprs)
        assert not updates
        outputs.update(outs)
    return inputs, {layer.name: layer for layer in layers}, outputs


def _conv_data(inputs):
    rng = np.random.RandomState(17)
    return {shape: rng.randn(2, *shape).astype('f') for shape in inputs}


@pytest.fixture(scope='module')
def conv_values():
    inputs, layers, outputs = _conv_network()
    names = sorted(outputs)
    fn = theano.function([layer.input for layer in inputs.values()],
                         [outputs[name] for name in names])
    data = _conv_data(inputs)
    values = dict(zip(names, fn(*[data[shape] for shape in inputs])))
    return layers, values, data


@pytest.mark.parametrize('case', CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_forward_matches_numpy(conv_values, case):
    name, form, shape, kwargs, pad = case
    layers, values, data = conv_values
    layer = layers[name]
    w = layer.find('w').get_value().astype('f8')
    b = layer.find('b').get_value().astype('f8')
    x = data[shape].astype('f8')
    if form == 'conv1':
        expected = np_conv1(x, w, b, kwargs.get('stride', 1), pad)
    else:
        expected = np_conv2(x, w, b, kwargs.get('stride', (1, 1)), pad)
    pre = values[name + ':pre']
    assert pre.shape == expected.shape
    assert pre.shape[1:] == layer.output_shape
    np.testing.assert_allclose(pre, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(values[name + ':out'], pre)  # linear


def test_conv_is_flipped(conv_values):
    layers, values, data = conv_values
    layer = layers['c2_valid']
    w = layer.find('w').get_value().astype('f8')
    b = layer.find('b').get_value().astype('f8')
    x = data[(5, 4, 2)].astype('f8')
    # pre[b, 0, 0, o] = b_o + sum x[b, u, v, c] w[o, c, f0-1-u, f1-1-v]
    direct = np.einsum('buvc,ocuv->bo', x[:, :2, :3], w[:, :, ::-1, ::-1]) + b
    np.testing.assert_allclose(values['c2_valid:pre'][:, 0, 0], direct,
                               rtol=1e-4, atol=1e-5)
    unflipped = np.einsum('buvc,ocuv->bo', x[:, :2, :3], w) + b
    assert not np.allclose(values['c2_valid:pre'][:, 0, 0], unflipped)


@pytest.mark.parametrize('case', POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_forward_matches_numpy(conv_values, case):
    name, form, shape, kwargs = case
    layers, values, data = conv_values
    layer = layers[name]
    size = kwargs['pool_size']
    stride = kwargs.get('stride', size)
    if form == 'pool1':
        size, stride = (size, ), (stride, )
    expected = np_pool(data[shape].astype('f8'), size, stride,
                       kwargs.get('mode', 'max'))
    pre = values[name + ':pre']
    assert pre.shape == expected.shape
    assert pre.shape[1:] == layer.output_shape
    np.testing.assert_allclose(pre, expected, rtol=1e-5, atol=1e-6)
    assert layer.params == []


def test_pooling_configuration():
    layer = bound('pool2', (5, 4, 2), pool_size=(2, 2))
    assert layer.output_shape == (2, 2, 2)
    assert layer.to_spec() == dict(form='pool2', name='l', inputs='in',
                                   activation='relu', pool_size=(2, 2),
                                   stride=(2, 2), mode='max')
    assert bound('pool1', (None, 3), pool_size=2).output_shape == (None, 3)
    assert bound('pool1', (7, 3), pool_size=2, size=3).output_shape == (3, 3)
    with pytest.raises(util.ConfigurationError, match='size 4'):
        bound('pool1', (7, 3), pool_size=2, size=4)
    with pytest.raises(util.ConfigurationError, match='mode'):
        convolution.Pool2(pool_size=(2, 2), mode='median')
    spec = bound('pool1', (7, 3), pool_size=3, stride=1).to_spec()
    rebuilt = base.Layer.build(spec.pop('form'), **spec)
    assert (rebuilt.pool_size, rebuilt.stride, rebuilt.mode) == (3, 1, 'max')


def test_pool_applies_activation():
    layer = bound('pool1', (4, 2), pool_size=2)  # default relu
    x = TT.tensor3('x')
    outs, _ = layer.connect({'in:out': x})
    fn = theano.function([x], [outs['l:pre'], outs['l:out']])
    data = -np.ones((1, 4, 2), 'f')
    pre, out = fn(data)
    np.testing.assert_array_equal(pre, -np.ones((1, 2, 2)))
    np.testing.assert_array_equal(out, np.zeros((1, 2, 2)))


# ---------------------------------------------------------------------------
# Gradients vs central finite differences of the numpy convolution

GRAD_CASES = [c for c in CONV_CASES
              if c[0] in ('c2_valid', 'c2_stride', 'c1_valid', 'c1_full')]


@pytest.fixture(scope='module')
def conv_gradients():
    inputs, layers, outputs = _conv_network(seed=4)
    targets, cost = {}, 0
    weights = np.random.RandomState(9)
    data = _conv_data(inputs)
    shapes = {}
    for name, form, shape, kwargs, pad in GRAD_CASES:
        layer = layers[name]
        expr = outputs[layer.output_name]
        shapes[name] = (2, ) + layer.output_shape
        targets[name] = weights.randn(*shapes[name])
        cost = cost + (expr * targets[name].astype('f')).sum()
    params = [p for c in GRAD_CASES for p in layers[c[0]].params]
    fn = theano.function([layer.input for layer in inputs.values()],
                         theano.grad(cost, params), on_unused_input='ignore')
    grads = fn(*[data[shape] for shape in inputs])
    return layers, dict(zip([p.name for p in params], grads)), targets, data


@pytest.mark.parametrize('case', GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_conv_gradients_match_finite_differences(conv_gradients, case):
    name, form, shape, kwargs, pad = case
    layers, grads, targets, data = conv_gradients
    layer = layers[name]
    x = data[shape].astype('f8')

    def cost(w, b):
        if form == 'conv1':
            out = np_conv1(x, w, b, kwargs.get('stride', 1), pad)
        else:
            out = np_conv2(x, w, b, kwargs.get('stride', (1, 1)), pad)
        return (out * targets[name]).sum()

    w = layer.find('w').get_value().astype('f8')
    b = layer.find('b').get_value().astype('f8')
    rng = np.random.RandomState(2)
    eps = 1e-5
    dw, db = rng.randn(*w.shape), rng.randn(*b.shape)
    numeric_w = (cost(w + eps * dw, b) - cost(w - eps * dw, b)) / (2 * eps)
    numeric_b = (cost(w, b + eps * db) - cost(w, b - eps * db)) / (2 * eps)
    assert (grads[name + '.w'] * dw).sum() == pytest.approx(
        numeric_w, rel=1e-4, abs=1e-4)
    assert (grads[name + '.b'] * db).sum() == pytest.approx(
        numeric_b, rel=1e-4, abs=1e-4)
