"""Tests for theanets.layers.feedforward: Feedforward, Classifier and Tied."""

import gzip
import os
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse

from theanets import feedforward as models
from theanets import graph, layers, saving, util
from theanets.backend import theano, TT

from tests.helpers import (
    LEGACY_MODELS as LEGACY, NUM_INPUTS as NI, NUM_HID1 as NH, bind_all)


def param_count(layer):
    return sum(int(np.prod(p.get_value().shape)) for p in layer.params)


# -- layers.md 9.1: the feed-forward group of layer unit tests ----------------

@pytest.mark.parametrize('form, name, params, count, outputs', [
    ('feedforward', 'feedforward', ['l.b', 'l.w'], 1 + NI, ['out', 'pre']),
    ('ff', 'feedforward', ['l.b', 'l.w'], 1 + NI, ['out', 'pre']),
    ('classifier', 'classifier', ['l.b', 'l.w'], 1 + NI, ['out', 'pre']),
    ('flatten', 'flatten', [], 0, ['out']),
    ('flat', 'flatten', [], 0, ['out']),
    ('concatenate', 'concatenate', [], 0, ['out']),
    ('concat', 'concatenate', [], 0, ['out']),
    ('product', 'product', [], 0, ['out']),
    ('prod', 'product', [], 0, ['out']),
])
def test_layer_unit(form, name, params, count, outputs):
    layer = layers.Layer.build(form, size=NI, name='l', inputs='in')
    bind_all(layers.Input(size=NI, name='in'), layer)
    assert layer.__class__.__name__.lower() == name
    assert sorted(p.name for p in layer.params) == params
    assert param_count(layer) == count * NI
    outs, updates = layer.connect({'in:out': TT.matrix('x')})
    assert sorted(outs) == ['l:' + o for o in outputs]
    assert not updates
    assert layer.to_spec() == {
        'form': name, 'name': 'l', 'size': NI, 'inputs': 'in',
        'activation': 'softmax' if name == 'classifier' else 'relu'}


def test_multiple_inputs():
    inp = layers.Input(size=8, name='in')
    hid = layers.Feedforward(size=8, inputs='in:out', name='hid1', rng=13)
    layer = layers.Feedforward(inputs=('in', 'hid1'), size=8, name='l')
    bind_all(inp, hid, layer)
    assert param_count(layer) == (1 + 2 * 8) * 8 == 136
    assert sorted(p.name for p in layer.params) == [
        'l.b', 'l.w_hid1:out', 'l.w_in:out']
    assert [p.name for p in layer.params] == [
        'l.w_in:out', 'l.w_hid1:out', 'l.b']
    assert layer.to_spec() == {'form': 'feedforward', 'name': 'l', 'size': 8,
                               'activation': 'relu', 'inputs': ('in', 'hid1')}
    assert layer.find('w_in:out') is layer.params[0]
    with pytest.raises(KeyError):
        layer.find('w')


def test_reshape_unit():
    layer = layers.Reshape(inputs='in', shape=(4, 2), name='l')
    bind_all(layers.Input(size=8, name='in'), layer)
    assert layer.params == []
    assert layer.to_spec() == {'form': 'reshape', 'name': 'l',
                               'shape': (4, 2), 'inputs': 'in',
                               'activation': 'relu'}


# -- Feedforward --------------------------------------------------------------

def test_feedforward_parameters():
    layer = layers.Feedforward(size=7, inputs='in', name='l', rng=13)
    bind_all(layers.Input(size=7, name='in'), layer)
    assert param_count(layer) == 56
    assert layer.find('w').get_value().shape == (7, 7)
    rng = np.random.RandomState(13)
    np.testing.assert_allclose(layer.find('w').get_value(),
                               rng.randn(7, 7) / np.sqrt(14), rtol=1e-6)
    np.testing.assert_allclose(layer.find('b').get_value(), rng.randn(7),
                               rtol=1e-6)


def test_feedforward_weights_follow_input_order():
    a = layers.Input(size=2, name='a')
    b = layers.Input(size=3, name='b')
    layer = layers.Feedforward(inputs=('b', 'a'), size=4, name='l', rng=5)
    bind_all(a, b, layer)
    rng = np.random.RandomState(5)
    wb, wa, bias = [p.get_value() for p in layer.params]
    np.testing.assert_allclose(wb, rng.randn(3, 4) / np.sqrt(7), rtol=1e-6)
    np.testing.assert_allclose(wa, rng.randn(2, 4) / np.sqrt(6), rtol=1e-6)
    np.testing.assert_allclose(bias, rng.randn(4), rtol=1e-6)


def test_feedforward_declared_shape():
    # the declared shape is metadata only
    layer = layers.Feedforward(inputs='in', shape=(6, 7), name='l')
    bind_all(layers.Input(size=3, name='in'), layer)
    assert layer.output_shape == (6, 7)
    assert layer.find('w').get_value().shape == (3, 7)


def test_feedforward_log(messages):
    layer = layers.Feedforward(inputs='in', size=3, name='l',
                               activation='tanh')
    bind_all(layers.Input(size=2, name='in'), layer)
    assert messages() == [
        'layer Input "in" (2,)',
        'layer Feedforward "l" (3,) tanh from "in:out" (2,)',
        'parameter "l.w" (2, 3)',
        'parameter "l.b" (3,)',
        'learnable parameters: 9',
    ]


# -- Classifier ---------------------------------------------------------------

def test_classifier():
    layer = layers.Layer.build('softmax', size=4, inputs='in', name='c',
                               activation='tanh')
    assert type(layer) is layers.Classifier
    assert isinstance(layer, layers.Feedforward)
    assert layer.kwargs['activation'] == 'softmax'
    bind_all(layers.Input(size=3, name='in'), layer)
    assert layer.activate.name == 'softmax'
    assert layer.to_spec() == {'form': 'classifier', 'name': 'c', 'size': 4,
                               'inputs': 'in', 'activation': 'softmax'}
    with pytest.raises(TypeError):
        layers.Classifier('c', size=4)  # keyword-only


# -- Tied ---------------------------------------------------------------------

def tied_network(**kwargs):
    inp = layers.Input(size=5, name='in')
    enc = layers.Feedforward(inputs='in', size=3, name='enc', rng=13)
    dec = layers.Tied(inputs='enc', name='dec', **kwargs)
    return inp, enc, dec


def test_tied_constructor():
    inp, enc, dec = tied_network(partner='enc', size=9, shape=(2, 2))
    assert dec.partner == 'enc'
    assert dec.kwargs['size'] is None and dec.kwargs['shape'] is None
    bind_all(inp, enc)
    tied = layers.Tied(partner=enc, inputs='enc', name='t')
    assert tied.partner is enc
    assert tied.kwargs['shape'] == (5, )
    with pytest.raises(util.ConfigurationError, match='expected one input'):
        layers.Tied(partner=inp, inputs='enc', name='t')


def test_tied_bind(messages):
    inp, enc, dec = tied_network(partner='enc', rng=13)
    bind_all(inp, enc, dec)
    assert dec.partner is enc
    assert dec.output_shape == (5, )
    assert [p.name for p in dec.params] == ['dec.b']
    np.testing.assert_allclose(dec.find('b').get_value(),
                               np.random.RandomState(13).randn(5), rtol=1e-6)
    assert messages()[-3:] == [
        'layer Tied "dec" (tied to "enc") (5,) relu from "enc:out" (3,)',
        'parameter "dec.b" (5,)',
        'learnable parameters: 5',
    ]
    assert dec.to_spec() == {'form': 'tied', 'name': 'dec', 'size': None,
                             'shape': None, 'inputs': 'enc', 'rng': 13,
                             'activation': 'relu', 'partner': 'enc'}
    outs, updates = dec.connect({'enc:out': TT.matrix()})
    assert sorted(outs) == ['dec:out', 'dec:pre'] and not updates


def test_tied_partner_not_found():
    inp, enc, dec = tied_network(partner='hello')
    with pytest.raises(util.ConfigurationError) as info:
        bind_all(inp, enc, dec)
    assert str(info.value) == 'tied layer "dec": cannot find partner "hello"'


def test_tied_spec_round_trip():
    inp, enc, dec = tied_network(partner='enc')
    bind_all(inp, enc, dec)
    spec = dec.to_spec()
    again = layers.Layer.build(spec.pop('form'), **spec)
    bind_all(inp, enc, again)
    assert again.partner is enc and again.output_shape == (5, )


# -- forward computations (one compiled function) -----------------------------

@pytest.fixture(scope='module')
def forward():
    """Bind and connect several feed-forward layers; evaluate them once."""
    x = layers.Input(size=3, name='x')
    seq = layers.Input(size=3, ndim=3, name='seq')
    sp = layers.Input(size=3, sparse='csr', name='sp')
    built = [
        layers.Feedforward(inputs='x', size=4, name='ff', activation='tanh',
                           rng=1),
        layers.Feedforward(inputs=('x', 'ff'), size=2, name='multi',
                           activation='linear', rng=2),
        layers.Feedforward(inputs='seq', size=2, name='pos',
                           activation='relu', rng=3),
        layers.Feedforward(inputs='sp', size=2, name='sparse',
                           activation='linear', rng=4),
        layers.Classifier(inputs='ff', size=3, name='cls', rng=5),
        layers.Tied(partner='ff', inputs='ff', name='tied',
                    activation='linear', rng=6),
    ]
    graph = bind_all(x, seq, sp, *built)
    outputs = {}
    for layer in graph.layers:
        outs, updates = layer.connect(outputs)
        assert not updates
        outputs.update(outs)
    names = sorted(outputs)
    fn = theano.function([x.input, seq.input, sp.input],
                         [outputs[name] for name in names])
    rng = np.random.RandomState(0)
    data = dict(x=rng.randn(5, 3).astype(util.FLOAT),
                seq=rng.randn(5, 4, 3).astype(util.FLOAT),
                sp=scipy.sparse.random(5, 3, density=0.5, format='csr',
                                       random_state=rng, dtype=util.FLOAT))
    values = dict(zip(names, fn(data['x'], data['seq'], data['sp'])))
    params = {p.name: p.get_value() for layer in built for p in layer.params}
    return data, values, params


def test_feedforward_forward(forward):
    data, values, p = forward
    pre = data['x'].dot(p['ff.w']) + p['ff.b']
    np.testing.assert_allclose(values['ff:pre'], pre, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values['ff:out'], np.tanh(pre), rtol=1e-5,
                               atol=1e-6)


def test_feedforward_multiple_inputs_forward(forward):
    data, values, p = forward
    pre = (data['x'].dot(p['multi.w_x:out']) +
           values['ff:out'].dot(p['multi.w_ff:out']) + p['multi.b'])
    np.testing.assert_allclose(values['multi:out'], pre, rtol=1e-5,
                               atol=1e-6)


def test_feedforward_position_wise_forward(forward):
    data, values, p = forward
    pre = data['seq'].dot(p['pos.w']) + p['pos.b']
    assert values['pos:out'].shape == (5, 4, 2)
    np.testing.assert_allclose(values['pos:pre'], pre, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values['pos:out'], np.maximum(pre, 0),
                               rtol=1e-5, atol=1e-6)


def test_feedforward_sparse_forward(forward):
    data, values, p = forward
    pre = data['sp'].toarray().dot(p['sparse.w']) + p['sparse.b']
    np.testing.assert_allclose(values['sparse:out'], pre, rtol=1e-5,
                               atol=1e-6)


def test_classifier_forward(forward):
    data, values, p = forward
    pre = values['ff:out'].dot(p['cls.w']) + p['cls.b']
    e = np.exp(pre - pre.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(values['cls:out'], e / e.sum(-1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_tied_forward(forward):
    data, values, p = forward
    pre = values['ff:out'].dot(p['ff.w'].T) + p['tied.b']
    assert values['tied:out'].shape == (5, 3)
    np.testing.assert_allclose(values['tied:out'], pre, rtol=1e-5, atol=1e-6)


# -- legacy pickles -----------------------------------------------------------

class _LegacyModel:
    """Stands in for the model classes, which live outside this package."""

    def __setstate__(self, state):
        self.layers, self.losses = state


class _LegacyLoss:
    pass


class _LayersOnly(saving.ModelUnpickler):
    """Unpickle legacy models with the real layer and activation classes.

    The backend's classes are read as theanets reads them, so Theano's names
    map to PyTensor's on that backend.
    """

    def find_class(self, module, name):
        if module == 'theanets.feedforward':
            return _LegacyModel
        if module == 'theanets.losses':
            return _LegacyLoss
        return super().find_class(module, name)


@pytest.fixture(scope='module')
def legacy():
    """The three legacy models' layers and their predictions (one compile)."""
    models, inputs, outputs = {}, [], []
    for name in ['regressor_relu', 'classifier_tanh', 'autoencoder_tied']:
        with gzip.open(os.path.join(LEGACY, name + '.pkl.gz')) as handle:
            model = _LayersOnly(handle).load()
        outs = {}
        for layer in model.layers:
            outs.update(layer.connect(outs)[0])
        models[name] = model
        inputs.append(model.layers[0].input)
        outputs.append(outs[model.layers[-1].output_name])
    fn = theano.function(inputs, outputs)
    data = {name: np.load(os.path.join(LEGACY, name + '.npz'))
            for name in models}
    predictions = fn(*[data[name]['x'] for name in models])
    return models, data, dict(zip(models, predictions))


def test_legacy_layers_state(legacy):
    models, _, _ = legacy
    enc, dec = models['autoencoder_tied'].layers[1:]
    assert type(models['autoencoder_tied'].layers[0]) is layers.Input
    assert type(enc) is layers.Feedforward and type(dec) is layers.Tied
    assert set(vars(dec)) == {'name', 'kwargs', 'rng', '_params',
                              '_input_shapes', '_output_shapes', 'activate',
                              'partner'}
    assert dec.partner is enc
    assert dec.to_spec()['partner'] == 'hid1'
    assert [p.name for p in dec.params] == ['out.b']
    hid = models['classifier_tanh'].layers[1]
    assert hid.activate.name == 'tanh'
    assert [p.name for p in hid.params] == ['hid1.w', 'hid1.b']
    assert hid.find('w').get_value().shape == (6, 8)
    assert hid.output_shape == (8, ) and hid.input_size == 6


@pytest.mark.parametrize('name', ['regressor_relu', 'classifier_tanh',
                                  'autoencoder_tied'])
def test_legacy_predictions(legacy, name):
    _, data, predictions = legacy
    expected = data[name]['predict_proba'] if 'predict_proba' in data[name] \
        else data[name]['predict']
    np.testing.assert_allclose(predictions[name], expected, rtol=1e-5,
                               atol=1e-6)


def test_legacy_layers_rebind(legacy, messages):
    models, _, _ = legacy
    model = models['regressor_relu']
    graph = SimpleNamespace(layers=model.layers)
    before = [p.get_value() for p in model.layers[1].params]
    for layer in model.layers:
        layer.bind(graph, initialize=False)
    after = [p.get_value() for p in model.layers[1].params]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    assert 'layer Feedforward "hid1" (10,) relu from "in:out" (6,)' \
        in messages()


# -- model-level layer behaviour (layers.md 9.1 and 9.5) ----------------------

@pytest.mark.parametrize('spec', [
    8,
    dict(form='ff', inputs=('hid1', 'hid2'), size=8),
    dict(form='tied', partner='hid1'),
    dict(form='prod', inputs=('hid1', 'hid2'), size=8),
    dict(form='concat', inputs=('hid1', 'hid2'), size=16),
    ('flat', 8),
])
def test_prediction_shapes(spec, inputs):
    net = models.Autoencoder([NI, NH, NH, spec, NI])
    assert net.predict(inputs).shape == (64, NI)


def test_multiple_inputs_in_network():
    net = graph.Network([8, 8, 8])
    layer = layers.Feedforward(inputs=('in', 'hid1'), size=8, name='l')
    layer.bind(net)
    assert param_count(layer) == 136
    assert sorted(p.name for p in layer.params) == [
        'l.b', 'l.w_hid1:out', 'l.w_in:out']
    assert layer.to_spec() == {'form': 'feedforward', 'name': 'l', 'size': 8,
                               'activation': 'relu', 'inputs': ('in', 'hid1')}


def test_reshape_in_network():
    layer = layers.Reshape(inputs='in', shape=(4, 2), name='l')
    layer.bind(graph.Network([8]))
    assert layer.params == []
    assert layer.to_spec() == {'form': 'reshape', 'name': 'l',
                               'shape': (4, 2), 'inputs': 'in',
                               'activation': 'relu'}


def test_network_prelu_layer_pickles():
    net = models.Regressor((3, (4, 'prelu'), 2))
    assert [p.name for p in net.layers[1].params] == [
        'hid1.w', 'hid1.b', 'hid1.leak']
    copy = pickle.loads(pickle.dumps(net, -1))
    hid = copy.layers[1]
    assert hid.activate.name == 'prelu'
    assert [p.name for p in hid.params] == ['hid1.w', 'hid1.b', 'hid1.leak']
    for mine, theirs in zip(net.params, copy.params):
        np.testing.assert_array_equal(mine.get_value(), theirs.get_value())
    x = np.random.RandomState(1).randn(4, 3).astype(util.FLOAT)
    np.testing.assert_allclose(copy.predict(x), net.predict(x), rtol=1e-6)


# -- RNG plumbing (models-and-training.md section 3) --------------------------

def test_shared_rng_draws_consecutively():
    rng = np.random.RandomState(13)
    inp = layers.Input(size=2, name='in')
    one = layers.Feedforward(inputs='in', size=3, name='one', rng=rng)
    two = layers.Feedforward(inputs='one', size=2, name='two', rng=rng)
    bind_all(inp, one, two)
    ref = np.random.RandomState(13)
    for layer, (nin, nout) in [(one, (2, 3)), (two, (3, 2))]:
        np.testing.assert_allclose(layer.find('w').get_value(),
                                   ref.randn(nin, nout) / np.sqrt(nin + nout),
                                   rtol=1e-6)
        np.testing.assert_allclose(layer.find('b').get_value(),
                                   ref.randn(nout), rtol=1e-6)


def test_int_seed_gives_every_layer_the_same_stream():
    net = models.Regressor([2, 3, 3])
    hid, out = net.layers[1:]
    assert hid.rng is not out.rng
    # both start from RandomState(13): the same normals, scaled differently
    np.testing.assert_allclose(
        hid.find('w').get_value().ravel() * np.sqrt(2 + 3),
        out.find('w').get_value().ravel()[:6] * np.sqrt(3 + 3), rtol=1e-5)


@pytest.mark.parametrize('rng, expected', [
    (13, -1.0473043918609619),
    (np.random.RandomState(13), -1.2224092483520508),
])
def test_pinned_regressor_score(rng, expected, inputs, outputs):
    net = models.Regressor([NI, NH, 12, 5], rng=rng)
    assert net.score(inputs, outputs) == pytest.approx(expected, rel=1e-5)
