"""Tests for the channels-last convolution and max-pooling Ops
(theanets.ops._conv) and their use by the Conv1/Conv2/Pool1/Pool2 layers.

The Ops are checked against the backend's ``conv2d`` / ``pool_2d`` (values
and gradients) for every border mode and some strides, their NumPy
``perform`` against the C kernels, the pooling gradient against the
backend's ``MaxPoolGrad`` on ties, the C kernels for results independent of
the thread count, and the layers with ``THEANETS_CONV=nnet`` against the
Ops.
"""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

import theanets
from theanets import ops
from theanets.backend import theano, TT, pool
from theanets.layers import base, convolution as conv_layers
from theanets.ops import _conv

PY = theano.Mode(linker='py')


def _op_names(outputs):
    seen, stack, names = set(), list(outputs), set()
    while stack:
        var = stack.pop()
        if id(var) in seen or var.owner is None:
            continue
        seen.add(id(var))
        names.add(type(var.owner.op).__name__)
        stack.extend(var.owner.inputs)
    return names


def _conv_case(dtype, shape=(3, 6, 5, 2), filters=(4, 2, 3, 2), seed=0):
    rng = np.random.RandomState(seed)
    return (rng.randn(*shape).astype(dtype),
            rng.randn(*filters).astype(dtype),
            rng.randn(filters[0]).astype(dtype))


def _symbols(dtype):
    return (TT.tensor4('x', dtype=dtype), TT.tensor4('w', dtype=dtype),
            TT.vector('b', dtype=dtype))


def _nnet_pre(x, w, b, filter_shape, border_mode, stride):
    y = TT.nnet.conv2d(x.dimshuffle(0, 3, 1, 2), w,
                       filter_shape=filter_shape, border_mode=border_mode,
                       subsample=stride)
    return y.dimshuffle(0, 2, 3, 1) + b


def _with_grads(pre, weights, inputs):
    cost = (pre * weights).sum()
    return [pre] + theano.grad(cost, list(inputs))


def _tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == 'float32' else \
        dict(rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('dtype, border_mode, stride', [
    ('float32', 'valid', (1, 1)),
    ('float32', 'full', (1, 1)),
    ('float32', 'half', (2, 1)),
    ('float32', 1, (1, 2)),
    ('float32', (2, 0), (2, 3)),
    ('float64', 'valid', (2, 2)),
    ('float64', (0, 1), (1, 1)),
])
def test_conv_matches_nnet_values_and_gradients(dtype, border_mode, stride):
    x, w, b = _conv_case(dtype)
    sx, sw, sb = _symbols(dtype)
    padding = tuple(conv_layers._padding(border_mode, f, axis)
                    for axis, f in enumerate(w.shape[2:]))
    pre = ops.conv2d(sx, sw, sb, stride=stride, padding=padding)
    ref = _nnet_pre(sx, sw, sb, w.shape, border_mode, stride)
    shape = theano.function([sx, sw, sb], ref.shape)(x, w, b)
    g = np.random.RandomState(1).randn(*shape).astype(dtype)
    got = theano.function([sx, sw, sb],
                          _with_grads(pre, g, (sx, sw, sb)))(x, w, b)
    want = theano.function([sx, sw, sb],
                           _with_grads(ref, g, (sx, sw, sb)))(x, w, b)
    for k, (a, e) in enumerate(zip(got, want)):
        assert a.dtype == e.dtype == dtype
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, err_msg=str(k), **_tolerance(dtype))
    # the NumPy perform (Python linker) gives the same
    slow = theano.function([sx, sw, sb], _with_grads(pre, g, (sx, sw, sb)),
                           mode=PY)(x, w, b)
    for k, (a, e) in enumerate(zip(slow, got)):
        np.testing.assert_allclose(a, e, err_msg=str(k), **_tolerance(dtype))


def test_conv_numpy_reference_is_a_flipped_correlation():
    x, w, b = _conv_case('float64', shape=(1, 4, 3, 1), filters=(1, 1, 2, 2))
    pre = _conv._conv_forward_numpy(x, w, b, (1, 1), (0, 0))
    k = w[0, 0, ::-1, ::-1]
    for i in range(3):
        for j in range(2):
            assert np.isclose(pre[0, i, j, 0],
                              (x[0, i:i + 2, j:j + 2, 0] * k).sum() + b[0])


def test_unused_input_gradient_is_not_computed():
    x, w, b = _symbols('float32')
    pre = ops.conv2d(x, w, b)
    grads = theano.grad(pre.sum(), [w, b])
    names = _op_names(grads)
    assert 'Conv2dGradWeights' in names
    assert 'Conv2dGradInput' not in names


def test_filter_larger_than_input_gives_empty_output():
    x, w, b = _conv_case('float32', shape=(2, 2, 5, 2))
    sx, sw, sb = _symbols('float32')
    pre = ops.conv2d(sx, sw, sb)
    got = theano.function([sx, sw, sb], _with_grads(
        pre, np.zeros((2, 0, 4, 4), 'f'), (sx, sw, sb)))(x, w, b)
    assert got[0].shape == (2, 0, 4, 4)
    assert not got[1].any() and not got[2].any() and not got[3].any()


# ----------------------------------------------------------------------
# pooling


def _pool_reference(x, window, stride):
    y = pool.pool_2d(x.dimshuffle(0, 3, 1, 2), ws=window, stride=stride,
                     mode='max', ignore_border=True)
    return y.dimshuffle(0, 2, 3, 1)


@pytest.mark.parametrize('dtype, window, stride', [
    ('float32', (2, 2), (2, 2)),
    ('float32', (3, 2), (1, 1)),   # overlapping windows
    ('float64', (2, 3), (3, 2)),   # gaps between windows
])
def test_max_pool_matches_backend_with_ties(dtype, window, stride):
    rng = np.random.RandomState(2)
    # small integers: many windows hold their maximum more than once
    x = rng.randint(0, 3, (2, 7, 6, 3)).astype(dtype)
    sx = TT.tensor4('x', dtype=dtype)
    y = ops.max_pool2d(sx, window, stride)
    ref = _pool_reference(sx, window, stride)
    shape = theano.function([sx], ref.shape)(x)
    g = rng.randn(*shape).astype(dtype)
    got = theano.function([sx], _with_grads(y, g, [sx]))(x)
    want = theano.function([sx], _with_grads(ref, g, [sx]))(x)
    slow = theano.function([sx], _with_grads(y, g, [sx]), mode=PY)(x)
    for a, e, s in zip(got, want, slow):
        assert a.dtype == dtype and a.shape == e.shape
        np.testing.assert_allclose(a, e, **_tolerance(dtype))
        np.testing.assert_allclose(s, e, **_tolerance(dtype))


def test_max_pool_gradient_goes_to_every_tied_maximum():
    x = np.array([[4, 4], [1, 4]], 'f').reshape(1, 2, 2, 1)
    sx = TT.tensor4('x')
    y = ops.max_pool2d(sx, (2, 2))
    gx = theano.function([sx], theano.grad(3 * y.sum(), sx))(x)
    np.testing.assert_array_equal(gx.ravel(), [3, 3, 0, 3])


# ----------------------------------------------------------------------
# threads


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    # 150 examples of 4x6 outputs: several work units (of 22 examples)
    x, w, b = _conv_case('float32', shape=(150, 6, 6, 3),
                         filters=(5, 3, 3, 3))
    sx, sw, sb = _symbols('float32')
    pre = ops.conv2d(sx, sw, sb, padding=(0, 1))
    pooled = ops.max_pool2d(pre, (2, 2))
    cost = (pooled * pooled).sum()
    fn = theano.function([sx, sw, sb],
                         [pooled] + theano.grad(cost, [sx, sw, sb]))
    results = []
    for threads in ('1', '2', '3'):
        monkeypatch.setenv('OMP_NUM_THREADS', threads)
        results.append(fn(x, w, b))
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            np.testing.assert_array_equal(a, e)


# ----------------------------------------------------------------------
# bad inputs


def test_bad_inputs_give_clear_errors():
    x, w, b = _symbols('float32')
    with pytest.raises(TypeError, match='x must have 4 dimensions'):
        ops.conv2d(TT.matrix(), w, b)
    with pytest.raises(TypeError, match='one dtype'):
        ops.conv2d(x, TT.tensor4(dtype='float64'), b)
    with pytest.raises(ValueError, match='stride must be a pair'):
        ops.Conv2dForward(stride=(0, 1))
    with pytest.raises(ValueError, match='padding must be a pair'):
        ops.Conv2dForward(padding=(1, ))
    fn = theano.function([x, w, b], ops.conv2d(x, w, b))
    xv, wv, bv = _conv_case('float32')
    with pytest.raises(ValueError, match='input channels'):
        fn(xv, wv[:, :1], bv)
    with pytest.raises(ValueError, match='b'):
        fn(xv, wv, bv[:2])
    slow = theano.function([x, w, b], ops.conv2d(x, w, b), mode=PY)
    with pytest.raises(ValueError, match='input channels'):
        slow(xv, wv[:, :1], bv)


def test_ops_pickle_and_compare_by_geometry():
    op = ops.Conv2dForward((2, 1), (1, 0))
    copy = pickle.loads(pickle.dumps(op))
    assert copy == op and hash(copy) == hash(op)
    assert op != ops.Conv2dForward((1, 1), (1, 0))
    assert ops.MaxPool2d((2, 2)) == ops.MaxPool2d((2, 2), (2, 2))
    assert ops.MaxPool2d((2, 2)) != ops.MaxPool2d((2, 2), (1, 1))


# ----------------------------------------------------------------------
# layers


#: Layer chains (form, keyword arguments) after an input of the given
#: shape: every border mode and stride the layers take, max pooling.
LAYER_CHAINS = {
    'conv1': ((9, 3), [
        ('conv1', dict(size=4, filter_size=3, border_mode='half')),
        ('pool1', dict(pool_size=2, activation='linear')),
        ('conv1', dict(size=5, filter_size=2, stride=2, border_mode=1)),
        ('conv1', dict(size=2, filter_size=2, border_mode='full')),
        ('pool1', dict(pool_size=2, stride=1))]),
    'conv2': ((7, 8, 2), [
        ('conv2', dict(size=4, filter_size=(3, 2), border_mode='full')),
        ('pool2', dict(pool_size=(2, 2), activation='linear')),
        ('conv2', dict(size=3, filter_size=(2, 2), stride=(2, 1),
                       border_mode=(1, 0))),
        ('conv2', dict(size=3, filter_size=(3, 3), border_mode='half')),
        ('conv2', dict(size=2, filter_size=(1, 2), border_mode=1)),
        ('pool2', dict(pool_size=(2, 1), stride=(1, 1)))]),
}


def _chain(kind):
    """The layers of LAYER_CHAINS[kind], bound, and their symbolic output
    for a symbolic input."""
    shape, specs = LAYER_CHAINS[kind]
    layers = [base.Input(shape=shape, name='in')]
    for k, (form, kwargs) in enumerate(specs):
        layers.append(base.Layer.build(form, name='l{}'.format(k),
                                       inputs=layers[-1].name, **kwargs))
    graph = SimpleNamespace(layers=layers)
    for layer in layers:
        layer.bind(graph)
    x = TT.TensorType('float32', (False, ) * (len(shape) + 1))('x')
    value = x
    for layer in layers[1:]:
        outs, _ = layer.connect({layers[layers.index(layer) - 1].name +
                                 ':out': value})
        value = outs[layer.name + ':out']
    params = [p for layer in layers for p in layer.params]
    return x, value, params, shape


@pytest.mark.parametrize('kind', ['conv1', 'conv2'])
def test_layers_match_the_nnet_path(kind, monkeypatch):
    rng = np.random.RandomState(4)
    results, names = {}, {}
    for impl in ('ops', 'nnet'):
        monkeypatch.setenv(ops.CONV_ENV, impl)
        x, out, params, shape = _chain(kind)
        xv = rng.rand(3, *shape).astype('f') if impl == 'ops' else xv
        if impl == 'ops':
            weights = rng.randn(*theano.function([x], out.shape)(xv))
            values = [p.get_value() for p in params]
        for param, value in zip(params, values):
            param.set_value(value)
        cost = (out * weights.astype('f')).sum()
        names[impl] = _op_names([cost])
        fn = theano.function([x], [out] + theano.grad(cost, [x] + params))
        results[impl] = fn(xv)
    assert {'Conv2dForward', 'MaxPool2d'} <= names['ops']
    assert 'AbstractConv2d' not in names['ops']
    assert not {'Conv2dForward', 'MaxPool2d'} & names['nnet']
    for k, (a, e) in enumerate(zip(results['ops'], results['nnet'])):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5,
                                   err_msg=str(k))


def test_other_pool_modes_and_dtypes_use_the_backend(monkeypatch):
    monkeypatch.delenv(ops.CONV_ENV, raising=False)
    layer = conv_layers.Pool2(pool_size=(2, 2), mode='sum', inputs='in',
                              name='p')
    assert layer._pool_channels_last(TT.tensor4()) is None
    assert not ops.conv_ops_apply(TT.tensor4(dtype='float16'))
    assert not ops.conv_ops_apply(TT.tensor4(), TT.tensor4(dtype='float64'))
    assert ops.conv_ops_apply(TT.tensor4(), TT.vector())
    monkeypatch.setenv(ops.CONV_ENV, 'NNet ')
    assert not ops.conv_ops_enabled()


def test_conv_model_trains_pickles_and_reloads(tmp_path, monkeypatch):
    monkeypatch.delenv(ops.CONV_ENV, raising=False)
    rng = np.random.RandomState(5)
    x = rng.rand(32, 7, 8, 2).astype('f')
    y = (x.sum(axis=(1, 2, 3)) > x.sum(axis=(1, 2, 3)).mean()).astype('i')
    net = theanets.convolution.Classifier([
        (7, 8, 2), dict(form='conv2', size=4, filter_size=(3, 2)),
        dict(form='pool2', pool_size=(2, 2), activation='linear'),
        dict(form='conv2', size=3, filter_size=(2, 2), border_mode='half'),
        'flat', 2])
    assert 'Conv2dForward' in _op_names([net.loss()])
    before = net.predict_proba(x)
    losses = [m['loss'] for m, _ in net.itertrain(
        [x, y], algo='sgd', learning_rate=0.05, momentum=0.9,
        batch_size=8, max_updates=30, patience=10 ** 6)]
    assert losses[-1] < losses[0]
    after = net.predict_proba(x)
    assert not np.allclose(before, after)
    path = tmp_path / 'conv.pkl'
    with open(path, 'wb') as handle:
        pickle.dump(net, handle)
    for impl in ('ops', 'nnet'):
        monkeypatch.setenv(ops.CONV_ENV, impl)
        with open(path, 'rb') as handle:
            loaded = pickle.load(handle)
        got = loaded.predict_proba(x)
        if impl == 'ops':
            np.testing.assert_array_equal(got, after)
        else:
            np.testing.assert_allclose(got, after, rtol=1e-5, atol=1e-6)
