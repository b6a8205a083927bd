"""Tests of theanets/_pytensor_jax.py: theanets' graphs under PyTensor's JAX
linker.

The convolution and max-pooling Ops compiled with ``mode='JAX'`` are
compared with their NumPy ``perform`` (strides, padding, overlapping
windows, ties, filters that do not fit); whole models (a classifier, a
convolutional classifier, a recurrent model running on ``scan``) train
under JAX to the parameters the C linker gives, to float32 rounding, and
return ndarrays; dropout draws its masks; the models saved by theanets 0.8
reproduce their outputs; a process that never uses the JAX linker does not
import JAX.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import theanets
from theanets import backend

if backend.name() != 'pytensor':
    pytest.skip('the Theano backend has no JAX linker',
                allow_module_level=True)

jax = pytest.importorskip('jax')

from theanets.backend import theano, TT  # noqa: E402
from theanets import _pytensor_jax, ops  # noqa: E402
from tests.helpers import LEGACY_MODELS  # noqa: E402


@pytest.fixture(scope='module', autouse=True)
def registered():
    _pytensor_jax.register()


@pytest.fixture
def jax_mode():
    """PyTensor's default mode set to JAX inside the test."""
    before = theano.config.mode
    theano.config.mode = 'JAX'
    try:
        yield
    finally:
        theano.config.mode = before


def compiled(op, values, mode):
    """``op`` applied to symbolic inputs shaped as ``values``, compiled
    with ``mode`` and called on them."""
    inputs = [TT.tensor(dtype=v.dtype, shape=(None, ) * v.ndim)
              for v in values]
    outputs = op(*inputs)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return theano.function(inputs, outputs, mode=mode)(*values)


def perform(op, values):
    """The outputs of ``op``'s NumPy ``perform``."""
    node = op.make_node(*values)
    storage = [[None] for _ in node.outputs]
    op.perform(node, values, storage)
    return [s[0] for s in storage]


def check_against_perform(op, values, rtol=1e-5, atol=1e-6):
    got = compiled(op, values, 'JAX')
    expected = perform(op, values)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


CONV_CASES = [((1, 1), (0, 0)), ((2, 1), (1, 0)), ((1, 2), (2, 1)),
              ((3, 3), (1, 1))]


def conv_values(rng, dtype='float32', side=(7, 6), filters=(3, 2)):
    x = rng.uniform(-1, 1, (2, side[0], side[1], 3)).astype(dtype)
    w = rng.uniform(-1, 1, (4, 3) + filters).astype(dtype)
    b = rng.uniform(-1, 1, 4).astype(dtype)
    return x, w, b


@pytest.mark.parametrize('stride, padding', CONV_CASES)
def test_conv2d_matches_perform(stride, padding):
    x, w, b = conv_values(np.random.RandomState(1))
    check_against_perform(ops.Conv2dForward(stride, padding), [x, w, b])


@pytest.mark.parametrize('stride, padding', CONV_CASES)
def test_conv2d_gradients_match_perform(stride, padding):
    rng = np.random.RandomState(2)
    x, w, _ = conv_values(rng)
    pre, = perform(ops.Conv2dForward(stride, padding), [x, w, w[:, 0, 0, 0]])
    gpre = rng.uniform(-1, 1, pre.shape).astype('float32')
    check_against_perform(ops.Conv2dGradInput(stride, padding), [x, w, gpre])
    check_against_perform(ops.Conv2dGradWeights(stride, padding),
                          [x, w, gpre])


def test_conv2d_of_filters_wider_than_the_input_is_empty():
    x, w, b = conv_values(np.random.RandomState(3), side=(2, 5))
    check_against_perform(ops.Conv2dForward(), [x, w, b])
    gpre = np.zeros((2, 0, 4, 4), 'float32')
    check_against_perform(ops.Conv2dGradInput(), [x, w, gpre])
    check_against_perform(ops.Conv2dGradWeights(), [x, w, gpre])


def test_conv2d_float64_with_jax_float64():
    before = jax.config.jax_enable_x64
    jax.config.update('jax_enable_x64', True)
    try:
        values = conv_values(np.random.RandomState(4), dtype='float64')
        check_against_perform(ops.Conv2dForward((2, 1), (1, 1)), values,
                              rtol=1e-12, atol=1e-12)
    finally:
        jax.config.update('jax_enable_x64', before)


POOL_CASES = [((2, 2), None), ((3, 2), (1, 2)), ((2, 3), (2, 1))]


@pytest.mark.parametrize('window, stride', POOL_CASES)
def test_max_pool_and_gradient_match_perform(window, stride):
    rng = np.random.RandomState(5)
    # few distinct values: many windows hold tied maxima
    x = rng.randint(0, 3, (2, 7, 6, 2)).astype('float32')
    check_against_perform(ops.MaxPool2d(window, stride), [x])
    y, = perform(ops.MaxPool2d(window, stride), [x])
    gy = rng.uniform(-1, 1, y.shape).astype('float32')
    check_against_perform(ops.MaxPool2dGrad(window, stride), [x, y, gy])


def test_max_pool_gradient_reaches_every_tied_maximum():
    x = np.array([2., 1., 2., 0.], 'float32').reshape(1, 2, 2, 1)
    y = np.array([2.], 'float32').reshape(1, 1, 1, 1)
    gx, = compiled(ops.MaxPool2dGrad((2, 2)), [x, y, np.ones_like(y)],
                   'JAX')
    assert gx.ravel().tolist() == [1, 0, 1, 0]


def test_max_pool_window_larger_than_the_input_is_empty():
    x = np.ones((1, 2, 5, 1), 'float32')
    check_against_perform(ops.MaxPool2d((3, 2)), [x])


def test_arange_takes_a_checked_shape():
    """The classifier losses' arange over the classes: a shape that
    PyTensor wraps in an Assert, which PyTensor's own translation
    refuses."""
    w = theano.shared(np.ones((3, 4), 'float32'))
    b = theano.shared(np.ones(4, 'float32'))
    x = TT.matrix('x')
    out = TT.dot(x, w) + b
    fn = theano.function([x], TT.arange(out.shape[-1]) * out.sum(),
                         mode='JAX')
    np.testing.assert_allclose(fn(np.ones((2, 3), 'float32')),
                               [0, 32, 64, 96])


def train(net, data, steps=3, **kwargs):
    """Train ``net`` for ``steps`` updates; return the last monitors."""
    for monitors, _ in net.itertrain(data, algo='sgd', momentum=0.9,
                                     batch_size=5, max_updates=steps,
                                     **kwargs):
        pass
    return monitors


def trained_under_both(make, data, rtol=1e-4, atol=1e-6):
    """Train a model from ``make()`` under the C linker and another under
    JAX; check they agree; return the JAX-trained one."""
    reference = make()
    c_loss = train(reference, data)['loss']
    before = theano.config.mode
    theano.config.mode = 'JAX'
    try:
        net = make()
        jax_loss = train(net, data)['loss']
        predicted = net.predict(data[0])
    finally:
        theano.config.mode = before
    np.testing.assert_allclose(jax_loss, c_loss, rtol=rtol)
    for p, q in zip(net.params, reference.params):
        np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=rtol,
                                   atol=atol)
    assert type(predicted) is np.ndarray
    np.testing.assert_allclose(predicted, reference.predict(data[0]),
                               rtol=rtol, atol=atol)
    return net


def test_classifier_trains_as_under_the_c_linker():
    rng = np.random.RandomState(6)
    x = rng.randn(20, 4).astype('float32')
    y = rng.randint(0, 3, 20).astype('int32')
    trained_under_both(
        lambda: theanets.Classifier([4, (6, 'relu'), 3], rng=7), [x, y])


def test_convolutional_classifier_trains_as_under_the_c_linker():
    rng = np.random.RandomState(8)
    x = rng.randn(10, 6, 6, 1).astype('float32')
    y = rng.randint(0, 3, 10).astype('int32')
    layers = [(6, 6, 1), dict(form='conv2', size=3, filter_size=(3, 3)),
              dict(form='pool2', pool_size=(2, 2)), 'flat', 3]
    trained_under_both(
        lambda: theanets.convolution.Classifier(layers, rng=9), [x, y])


def test_scan_layer_trains_as_under_the_c_linker():
    """A layer that runs on scan, whose shapes PyTensor computes."""
    rng = np.random.RandomState(10)
    x = rng.randn(10, 4, 3).astype('float32')
    y = rng.randn(10, 4, 2).astype('float32')
    layers = [3, dict(form='scrn', size=4), 2]
    trained_under_both(
        lambda: theanets.recurrent.Regressor(layers, rng=11), [x, y])


@pytest.mark.parametrize('layer', [
    dict(form='gru', size=3, activation='tanh'),
    dict(form='bidirectional', size=4, worker='lstm')])
def test_fused_recurrent_layers_train_as_under_the_c_linker(layer):
    """The GRU's gradient splits its gates' concatenation at sizes that
    PyTensor computes; a bidirectional layer runs two fused LSTMs."""
    rng = np.random.RandomState(13)
    x = rng.randn(10, 4, 3).astype('float32')
    y = rng.randint(0, 3, (10, 4)).astype('int32')
    trained_under_both(
        lambda: theanets.recurrent.Classifier([3, layer, 3], rng=14), [x, y])


def test_dropout_draws_binomial_masks(jax_mode):
    """PyTensor's JAX translation has no binomial draws without NumPyro;
    theanets gives it JAX's."""
    net = theanets.Regressor([5, (200, 'linear'), 2], rng=15)
    x = np.ones((50, 5), 'float32')
    hidden = net.feed_forward(x, hidden_dropout=0.3)['hid1:out']
    kept = net.feed_forward(x)['hid1:out'] != 0
    dropped = (hidden == 0) & kept
    assert abs(dropped.sum() / kept.sum() - 0.3) < 0.03
    rng = np.random.RandomState(16)
    y = rng.randn(50, 2).astype('float32')
    loss = train(net, [x, y], hidden_dropout=0.5)['loss']
    assert np.isfinite(loss)


@pytest.mark.parametrize('name, model', [
    ('classifier_tanh', 'Classifier'), ('regressor_relu', 'Regressor'),
    ('autoencoder_tied', 'Autoencoder')])
def test_legacy_models_reproduce_their_outputs(jax_mode, name, model):
    """Models saved by theanets 0.8, run through JAX."""
    path = os.path.join(LEGACY_MODELS, name)
    expected = np.load(path + '.npz')
    net = getattr(theanets, model).load(path + '.pkl.gz')
    np.testing.assert_allclose(net.predict(expected['x']),
                               expected['predict'], rtol=1e-5, atol=1e-6)
    if 'predict_proba' in expected:
        np.testing.assert_allclose(net.predict_proba(expected['x']),
                                   expected['predict_proba'], rtol=1e-5,
                                   atol=1e-6)


def test_predictions_on_many_row_counts_compile_a_few_functions():
    """JAX compiles per input shape; theanets pads prediction chunks to
    powers of two (and cuts the results as ndarrays)."""
    net = theanets.Regressor([3, 4, 2], rng=17)
    x = np.random.RandomState(18).randn(40, 3).astype('float32')
    expected = net.predict(x)
    compiles = []

    def count(event, seconds, **kwargs):
        if event.endswith('backend_compile_duration'):
            compiles.append(event)

    jax.monitoring.register_event_duration_secs_listener(count)
    before = theano.config.mode
    theano.config.mode = 'JAX'
    try:
        net.predict(x[:1])
        del compiles[:]
        for rows in range(1, 34):
            np.testing.assert_allclose(net.predict(x[:rows]),
                                       expected[:rows], rtol=1e-5,
                                       atol=1e-6)
    finally:
        theano.config.mode = before
        jax.monitoring.unregister_event_duration_listener(count)
    # 2, 4, ..., 64 rows: six shapes (not 33)
    assert len(compiles) <= 8


def test_info_names_the_mode(jax_mode):
    assert backend.info()['mode'] == 'JAX'


def test_predictions_are_ndarrays(jax_mode):
    net = theanets.Regressor([3, 2], rng=12)
    x = np.ones((4, 3), 'float32')
    for got in (net.predict(x), net.feed_forward(x)['out:out']):
        assert type(got) is np.ndarray and got.dtype == np.float32


def test_processes_that_do_not_link_with_jax_do_not_import_it():
    code = ('import sys, numpy as np, theanets\n'
            'net = theanets.Regressor([2, 1])\n'
            'net.predict(np.ones((1, 2), "f"))\n'
            'print("jax" in sys.modules)\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == 'False'
