"""Tests for theanets.graph.Network: layer specs, variables, graphs,
evaluation, training plumbing and persistence."""

import gzip
import io
import os
import pickle

import downhill
import numpy as np
import pytest
import scipy.sparse

from theanets import (
    feedforward, graph, layers, losses, recurrent, regularizers, util)

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS

LEGACY = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'legacy-models')


# ----------------------------------------------------------------------
# layer specifications


def test_int_layers():
    net = feedforward.Regressor((1, 2, 3))
    assert len(net.layers) == 3
    assert [l.name for l in net.layers] == ['in', 'hid1', 'out']


@pytest.mark.parametrize('specs, tied', [
    ((1, (2, 'relu'), 3), False),
    ((1, 2, dict(size=3, inputs='hid1')), False),
    ((1, 2, dict(size=3, inputs=('in', 'hid1'))), False),
    ((1, 2, (1, 'tied')), True),
    ((1, 2, dict(size=1, form='tied', partner='hid1')), True),
])
def test_layer_spec_forms(specs, tied):
    net = feedforward.Regressor(specs)
    assert len(net.layers) == 3
    first, mid, out = net.layers
    assert isinstance(first, layers.Input)
    assert first.kwargs['activation'] == 'linear'
    assert first.output_shape == (1,)
    assert type(mid) is layers.Feedforward
    assert mid.kwargs['activation'] == 'relu'
    assert out.kwargs['activation'] == 'linear'
    assert mid.kwargs['rng'] == out.kwargs['rng'] == 13
    if tied:
        assert isinstance(out, layers.Tied)
        assert out.partner is mid


@pytest.mark.parametrize('specs', [
    (1, 2, dict(size=3, inputs='hid2')),
    (1, (2, 'tied'), (2, 'tied'), (1, 'tied')),
])
def test_layer_spec_errors(specs):
    with pytest.raises(util.ConfigurationError):
        feedforward.Regressor(specs)


def test_nested_tied_partners():
    net = feedforward.Autoencoder((4, 3, 2, 'tied', 'tied'))
    assert net.layers[3].partner is net.layers[2]
    assert net.layers[4].partner is net.layers[1]


@pytest.mark.parametrize('spec, cls, shape, activation', [
    (6, layers.Feedforward, (6,), 'relu'),
    ((6,), layers.Feedforward, (6,), 'relu'),
    ((6, 7), layers.Feedforward, (6, 7), 'relu'),
    ((6, 'linear'), layers.Feedforward, (6,), 'linear'),
    ((6, 'linear', 'classifier'), layers.Classifier, (6,), 'softmax'),
    (dict(size=6), layers.Feedforward, (6,), 'relu'),
    (dict(size=6, form='ff'), layers.Feedforward, (6,), 'relu'),
    (dict(size=6, activation='linear'), layers.Feedforward, (6,), 'linear'),
    (dict(shape=(6, 7)), layers.Feedforward, (6, 7), 'relu'),
    ((np.int64(6), 'tanh'), layers.Feedforward, (6,), 'tanh'),
])
def test_add_layer_table(spec, cls, shape, activation):
    net = feedforward.Regressor([3, spec, 4])
    layer = net.layers[1]
    assert type(layer) is cls
    assert layer.output_shape == shape
    assert layer.kwargs['activation'] == activation
    assert layer.activate.name == activation
    assert layer.kwargs['inputs'] == 'in:out'
    assert layer.kwargs['rng'] == 13


@pytest.mark.parametrize('spec', [
    (6, 'tied', 7), None, 'ff', 'tied', 'bogus', dict(form='ff'),
    dict(form='tied'), dict(form='tied', partner='hello'),
    dict(form='ff', inputs=('a', 'b')),
])
def test_bad_layer_after_two_inputs(spec):
    with pytest.raises(util.ConfigurationError):
        graph.Network([dict(form='input', name='a', shape=(3, 5)),
                          dict(form='input', name='b', shape=(4, 3)),
                          spec])


def test_unknown_layer_messages():
    with pytest.raises(util.ConfigurationError, match='unknown layer type: bogus'):
        graph.Network([3, 'bogus'])
    with pytest.raises(util.ConfigurationError, match='duplicate layer sizes'):
        graph.Network([3, (6, 'tied', 7)])
    # an unknown dict form is both a KeyError and a ConfigurationError
    with pytest.raises(KeyError):
        graph.Network([3, dict(form='nonsense', size=2)])


def test_first_layer_must_be_input():
    with pytest.raises(util.ConfigurationError, match='no layers yet'):
        graph.Network([(3, 'ff')])


def test_duplicate_input_name():
    with pytest.raises(util.ConfigurationError, match='duplicate input name'):
        graph.Network([3, dict(form='input', name='in', size=2)])


def test_add_layer_after_construction():
    net = graph.Network([3])
    net.add_layer(dict(size=2, name='extra'))
    assert net.layers[-1].kwargs['inputs'] == 'in:out'
    layer = layers.Feedforward(size=4, inputs='extra', name='x')
    net.add_layer(layer)
    assert net.layers[-1] is layer


def test_first_layer_named_in_when_alone():
    net = graph.Network([3])
    assert [l.name for l in net.layers] == ['in']
    assert net.losses[0].output_name == 'in:out'


# ----------------------------------------------------------------------
# variables, params, find, losses


def test_variables_and_params():
    reg = feedforward.Regressor([7, 8, 12, 5])
    assert [v.name for v in reg.variables] == ['in', 'target']
    assert [p.name for p in reg.params] == [
        'hid1.w', 'hid1.b', 'hid2.w', 'hid2.b', 'out.w', 'out.b']
    weighted = feedforward.Regressor([7, 5], weighted=True)
    assert [v.name for v in weighted.variables] == ['in', 'target', 'weights']
    clf = feedforward.Classifier([7, 6], weighted=True)
    assert [(v.name, v.dtype, v.ndim) for v in clf.variables] == [
        ('in', util.FLOAT, 2), ('target', 'int32', 1),
        ('weights', util.FLOAT, 1)]
    ae = feedforward.Autoencoder([7, 3, 7])
    assert [v.name for v in ae.variables] == ['in']
    assert ae.losses[0].variables[0] is ae.inputs[0]
    ae = feedforward.Autoencoder([7, 3, 7], weighted=True)
    assert [v.name for v in ae.variables] == ['in', 'weights']


def test_default_loss_output_name():
    net = feedforward.Regressor((1, 2, dict(size=1, form='tied', name='foo')))
    assert net.layers[-1].output_name == 'foo:out'
    assert net.losses[0].output_name == 'foo:out'
    net = feedforward.Regressor((1, 2, 1))
    assert net.losses[0].output_name == 'out:out'


def test_find():
    net = feedforward.Regressor((1, 2, 1))
    assert net.find(1, 0).name == 'hid1.w'
    assert net.find(2, 0).name == 'out.w'
    assert net.find('hid1', 'w').name == 'hid1.w'
    assert net.find('out', 'w').name == 'out.w'
    for which, param in [('hid4', 'w'), (0, 0), (1, 3)]:
        with pytest.raises(KeyError):
            net.find(which, param)


def test_updates_empty():
    assert feedforward.Regressor((15, 13)).updates() == []


def test_second_loss_shares_target():
    # defect 2: a second loss used to create its own "target" variable,
    # which `variables` dropped, so training failed.
    net = feedforward.Regressor([7, 5])
    net.add_loss('mae', weight=0.1, target=2)
    assert [v.name for v in net.variables] == ['in', 'target']
    assert net.losses[1].variables[0] is net.losses[0].variables[0]
    net.add_loss(losses.Loss.build('mse', target=2, weighted=True))
    assert [v.name for v in net.variables] == ['in', 'target', 'weights']
    assert net.losses[2].variables[0] is net.losses[0].variables[0]


def test_second_loss_type_clash():
    net = feedforward.Classifier([7, 6])
    with pytest.raises(util.ConfigurationError, match='target'):
        net.add_loss('mse', target=2)


def test_add_loss_dict_and_form():
    net = feedforward.Regressor([7, 5])
    net.set_loss(dict(form='MAE', weight=2.0), target=2)
    assert type(net.losses[0]).__name__ == 'MeanAbsoluteError'
    assert net.losses[0].weight == 2.0
    net.set_loss('mse', form='mae', target=2)
    assert type(net.losses[0]).__name__ == 'MeanAbsoluteError'
    with pytest.raises(util.ConfigurationError, match='form'):
        net.add_loss(dict(weight=2.0))
    with pytest.raises(KeyError):
        net.add_loss('nonsense')


def test_add_loss_default_target_is_input_ndim():
    net = recurrent.Classifier([3, 4], loss=None)
    assert net.losses == []
    net.add_loss('mse', output_name='out')
    assert net.losses[0].variables[0].ndim == 3
    assert net.losses[0].output_name == 'out:out'


# ----------------------------------------------------------------------
# graphs and monitors


def test_build_graph_outputs_and_cache():
    net = feedforward.Autoencoder([10, 20, 30, 10])
    outputs, updates = net.build_graph()
    assert list(outputs) == ['in:out', 'hid1:out', 'hid1:pre', 'hid2:out',
                             'hid2:pre', 'out:out', 'out:pre']
    assert updates == []
    assert net.build_graph() is net.build_graph()
    assert len(net._graphs) == 1  # the internal graph cache holds one entry


def test_graph_key():
    # The graph cache key itself (spec 8.1): what makes two networks share
    # a graph is only visible through the internal Network._hash.
    a = feedforward.Regressor([3, 4, 2])
    b = feedforward.Regressor([3, (4, 'tanh'), 2])
    assert a._hash() == b._hash()  # activations are not part of the key
    b.losses[0].weight = 2
    assert a._hash() != b._hash()
    regs = regularizers.from_kwargs(a, weight_l2=0.1)
    assert a._hash(regs) != a._hash()
    c = feedforward.Regressor([3, 5, 2])
    assert a._hash() != c._hash()


def test_loss_expression():
    net = feedforward.Regressor([3, 2])
    net.add_loss('mae', weight=0.5, target=2)
    x = np.ones((2, 3), util.FLOAT)
    y = np.zeros((2, 2), util.FLOAT)
    expr = net.loss(weight_l2=0.1)
    out = net.feed_forward(x)['out:out']
    w, _ = [p.get_value() for p in net.params]
    expected = (out ** 2).mean() + 0.5 * abs(out).mean() + 0.1 * (w ** 2).mean()
    value = expr.eval({net.inputs[0]: x, net.variables[1]: y})
    np.testing.assert_allclose(value, expected, rtol=1e-5)


@pytest.fixture(scope='module')
def monitor_net():
    return feedforward.Regressor((10, 15, 14, 13))


def _names(net, monitors):
    return [name for name, _ in net.monitors(monitors=monitors)]


@pytest.mark.parametrize('spec, expected', [
    ({'hid1:out': 1}, ['err', 'hid1:out<1']),
    ([('hid1:out', 1)], ['err', 'hid1:out<1']),
    ({'hid1:out': [2, 1]}, ['err', 'hid1:out<2', 'hid1:out<1']),
    ({'hid1:out': (-0.9, -0.1, 0.1, 0.9)},
     ['err', 'hid1:out<-0.9', 'hid1:out<-0.1', 'hid1:out<0.1',
      'hid1:out<0.9']),
    ({'hid10:out': 1}, ['err']),
    ({'hid1.w': 1}, ['err', 'hid1.w<1']),
    ({'*.w': 1}, ['err', 'hid1.w<1', 'hid2.w<1', 'out.w<1']),
    ({'hid?.w': 1}, ['err', 'hid1.w<1', 'hid2.w<1']),
])
def test_monitor_names(monitor_net, spec, expected):
    assert _names(monitor_net, spec) == expected


def test_monitor_callables(monitor_net):
    spec = {'hid1:out': dict(b=lambda e: e.max(), a=lambda e: e.min())}
    names = _names(monitor_net, spec)
    assert names[0] == 'err'
    assert sorted(names[1:]) == ['hid1:out:a', 'hid1:out:b']
    spec = {'hid1:out': [('mean', lambda e: e.mean()), 'skipped', 0.5]}
    assert _names(monitor_net, spec) == ['err', 'hid1:out:mean',
                                         'hid1:out<0.5']


def test_monitor_values():
    net = feedforward.Regressor([3, 4, 2])
    x = np.random.RandomState(0).randn(5, 3).astype(util.FLOAT)
    mons = dict(net.monitors(monitors={'hid1:pre': 0.0}))
    hid = net.feed_forward(x)['hid1:pre']
    value = mons['hid1:pre<0.0'].eval({net.inputs[0]: x})
    np.testing.assert_allclose(value, (hid < 0).mean(), rtol=1e-6)


def test_classifier_monitors_end_with_acc():
    net = feedforward.Classifier([4, 3])
    names = [n for n, _ in net.monitors(monitors={'out:out': 0.5})]
    assert names == ['err', 'out:out<0.5', 'acc']


# ----------------------------------------------------------------------
# evaluation and input checking


@pytest.fixture(scope='module')
def regressor():
    return feedforward.Regressor([NUM_INPUTS, 8, 12, NUM_OUTPUTS])


def test_feed_forward_compiles_once(regressor, inputs, outputs):
    outs = regressor.feed_forward(inputs)
    assert sorted(outs) == ['hid1:out', 'hid1:pre', 'hid2:out', 'hid2:pre',
                            'in:out', 'out:out', 'out:pre']
    regressor.predict(inputs)
    regressor.score(inputs, outputs)
    # the internal cache of compiled functions: one serves all three calls
    assert len(regressor._functions) == 1


def test_predict_compiles_only_the_last_output(inputs):
    net = feedforward.Regressor([NUM_INPUTS, 8, NUM_OUTPUTS])
    net.predict(inputs)
    (fn, ) = net._functions.values()  # the internal compiled-function cache
    assert len(fn.maker.fgraph.outputs) == 1
    outs = net.feed_forward(inputs)
    np.testing.assert_array_equal(net.predict(inputs), outs['out:out'])


def _count_rows_per_call(net, monkeypatch):
    """Wrap the network's compiled functions; return the list of row counts
    they will be called with.

    The functions are reached through the internal cache
    ``Network._functions``: there is no public way to observe the calls.
    """
    calls = []
    for key, function in list(net._functions.items()):
        def counting(*arrays, _fn=function):
            calls.append(arrays[0].shape[0])
            return _fn(*arrays)
        monkeypatch.setitem(net._functions, key, counting)
    return calls


def test_large_inputs_are_computed_in_chunks(regressor, monkeypatch, inputs):
    whole = regressor.feed_forward(inputs)
    calls = _count_rows_per_call(regressor, monkeypatch)
    monkeypatch.setattr(regressor, 'predict_chunk_size', 10)
    chunked = regressor.feed_forward(inputs)
    assert calls == [10] * 6 + [4]
    assert sorted(chunked) == sorted(whole)
    for name in whole:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(regressor.predict(inputs), whole['out:out'],
                               rtol=1e-5, atol=1e-6)


def test_regularized_predictions_are_not_chunked(regressor, monkeypatch,
                                                 inputs):
    # One call draws one noise sample for all rows, as in theanets 0.8.
    regressor.predict(inputs[:1], input_noise=0.5)
    calls = _count_rows_per_call(regressor, monkeypatch)
    monkeypatch.setattr(regressor, 'predict_chunk_size', 10)
    out = regressor.predict(inputs, input_noise=0.5)
    assert calls == [len(inputs)]
    assert not np.allclose(out, regressor.predict(inputs))


def test_recurrent_predictions_chunk_by_sequence(monkeypatch, rnn_inputs):
    net = recurrent.Regressor([NUM_INPUTS, (4, 'rnn'), NUM_OUTPUTS])
    whole = net.predict(rnn_inputs)
    monkeypatch.setattr(net, 'predict_chunk_size', 5)
    np.testing.assert_allclose(net.predict(rnn_inputs), whole, rtol=1e-5)


def test_huge_finite_inputs_are_accepted(regressor):
    # Their sum overflows to inf; only real NaN/inf values are errors.
    x = np.full((4, NUM_INPUTS), 3e38, 'f')
    assert regressor.predict(x).shape == (4, NUM_OUTPUTS)
    x[2, 3] = np.inf
    with pytest.raises(graph.DataError, match='1 NaN or infinite'):
        regressor.predict(x)


def test_float64_and_list_inputs_are_cast(regressor, inputs):
    expected = regressor.predict(inputs)
    np.testing.assert_allclose(
        regressor.predict(inputs.astype('float64')), expected, rtol=1e-6)
    np.testing.assert_allclose(
        regressor.predict(inputs[:2].tolist()), expected[:2], rtol=1e-6)


@pytest.mark.parametrize('x, message', [
    (np.zeros((4, 6), 'f'), r'x: expected a 2-D array of shape \(N, 7\) '
                            r'with dtype float32 for "in", got an array of '
                            r'shape \(4, 6\) with dtype float32'),
    (np.zeros(7, 'f'), r'got a 1-D array of shape \(7,\)'),
    (np.zeros((2, 3, 7), 'f'), r'got a 3-D array of shape \(2, 3, 7\)'),
    (np.array([['a'] * 7]), 'non-numeric'),
    (scipy.sparse.csr_matrix(np.zeros((2, 7), 'f')), 'scipy.sparse'),
])
def test_bad_inputs(regressor, x, message, outputs):
    for call in (regressor.predict, regressor.feed_forward):
        with pytest.raises(graph.DataError, match=message):
            call(x)
    with pytest.raises(ValueError, match=message):
        regressor.score(x, outputs)


def test_sparse_input_checks():
    net = graph.Network([dict(form='input', size=4, sparse='csr'), 2])
    with pytest.raises(graph.DataError, match='scipy.sparse csr matrix'):
        net.predict(np.zeros((3, 4), 'f'))
    with pytest.raises(graph.DataError, match=r'shape \(3, 5\)'):
        net.predict(scipy.sparse.csr_matrix(np.zeros((3, 5), 'f')))


def test_multiple_inputs_feed_forward():
    # extension of defect 8: several input arrays, in input-layer order.
    net = graph.Network([
        dict(form='input', name='a', size=2),
        dict(form='input', name='b', size=3),
        dict(form='concat', inputs=('a', 'b'), name='c'),
    ], loss=None)
    a = np.ones((4, 2), util.FLOAT)
    b = np.zeros((4, 3), util.FLOAT)
    out = net.feed_forward([a, b])['c:out']
    np.testing.assert_array_equal(out, np.hstack([a, b]))
    with pytest.raises(graph.DataError, match='2 input layers'):
        net.feed_forward(a)


# ----------------------------------------------------------------------
# training plumbing (with stand-in trainers; real training is tested in
# test_feedforward and below)


class FakeTrainer(object):
    """Records its arguments and yields a fixed number of pairs."""

    def __init__(self, count=3):
        self.count = count
        self.calls = []

    def itertrain(self, train, valid=None, **kwargs):
        self.calls.append((train, valid, kwargs))
        for i in range(self.count):
            yield {'loss': i}, {'loss': -i}


@pytest.fixture(scope='module')
def tiny():
    return feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])


def test_itertrain_wraps_datasets(tiny, inputs, outputs):
    fake = FakeTrainer()
    pairs = list(tiny.itertrain([inputs, outputs], algo=fake, batch_size=16,
                                valid_batches=2, foo='bar'))
    assert pairs == [({'loss': i}, {'loss': -i}) for i in range(3)]
    train, valid, kwargs = fake.calls[0]
    assert isinstance(train, downhill.Dataset)
    assert isinstance(valid, downhill.Dataset)
    assert train is not valid
    assert (train.name, valid.name) == ('train', 'valid')
    assert train.iteration_size == 4 and valid.iteration_size == 2
    batches = list(train)
    assert len(batches) == 4
    assert [a.shape for a in batches[0]] == [(16, NUM_INPUTS),
                                             (16, NUM_OUTPUTS)]
    assert len(list(valid)) == 2
    assert kwargs == dict(rng=13, batch_size=16, valid_batches=2, foo='bar')


def test_itertrain_keeps_datasets_and_rng(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    data = downhill.Dataset([inputs, outputs], name='mine')
    tiny.train(data, algo=fake, rng=5)
    train, valid, kwargs = fake.calls[0]
    assert train is data and valid is data
    assert kwargs['rng'] == 5


def test_train_returns_last_pair(tiny, inputs, outputs):
    assert tiny.train([inputs, outputs], algo=FakeTrainer(4)) == (
        {'loss': 3}, {'loss': -3})
    assert tiny.train([inputs, outputs], algo=FakeTrainer(0)) is None


def test_deprecated_algorithm_keyword(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    with pytest.warns(DeprecationWarning, match='algo'):
        tiny.train([inputs, outputs], algorithm=[fake, 'ignored'])
    assert len(fake.calls) == 1
    assert 'algorithm' not in fake.calls[0][2]


@pytest.mark.parametrize('algo, cls, args', [
    ('sample', 'SampleTrainer', ()),
    ('layerwise', 'SupervisedPretrainer', ('adam',)),
    ('Supervised', 'SupervisedPretrainer', ('adam',)),
    ('pretrain', 'UnsupervisedPretrainer', ('adam',)),
    ('unsupervised', 'UnsupervisedPretrainer', ('adam',)),
    ('SGD', 'DownhillTrainer', ('sgd',)),
    ('nag', 'DownhillTrainer', ('nag',)),
])
def test_trainer_selection(tiny, monkeypatch, algo, cls, args, inputs,
                           outputs):
    from theanets import trainer
    made = []

    def fake(*a):
        made.append(a)
        return FakeTrainer(1)

    monkeypatch.setattr(trainer, cls, fake)
    tiny.train([inputs, outputs], algo=algo, subalgo='adam')
    assert made == [args + (tiny,)]


def test_training_data_checked(tiny, inputs, outputs):
    with pytest.raises(graph.DataError, match=r"train: expected 2 arrays.*"
                                              r"\['in', 'target'\], got 3"):
        tiny.train([inputs, outputs, outputs], algo='sgd')
    with pytest.raises(graph.DataError, match=r'train\[0\]: expected a 2-D '
                                              r'array of shape \(N, 7\)'):
        tiny.train([outputs, outputs], algo='sgd')
    with pytest.raises(graph.DataError, match=r'valid\[1\]: expected a 2-D'):
        tiny.train([inputs, outputs], [inputs, outputs[:, 0]], algo='sgd')
    clf = feedforward.Classifier([NUM_INPUTS, 3])
    with pytest.raises(graph.DataError, match='non-integer'):
        clf.train([inputs, np.zeros(64, 'f')], algo='sgd')


def test_training_data_cast(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    tiny.train([inputs.astype('float64'), outputs], algo=fake, batch_size=64)
    train = fake.calls[0][0]
    batch_inputs, batch_outputs = next(iter(train))
    assert batch_inputs.dtype == batch_outputs.dtype == util.FLOAT
    np.testing.assert_array_equal(np.sort(batch_inputs, axis=0),
                                  np.sort(inputs, axis=0))


def _save_pattern(net, data, tmpdir, save_every, count=9):
    path = os.path.join(str(tmpdir), 'model-{}.pkl')
    for name in os.listdir(str(tmpdir)):
        os.remove(os.path.join(str(tmpdir), name))
    seen = []
    for i, _ in enumerate(net.itertrain(
            data, algo=FakeTrainer(count),
            save_every=save_every, save_progress=path)):
        files = os.listdir(str(tmpdir))
        seen.append(bool(files))
        for name in files:
            os.remove(os.path.join(str(tmpdir), name))
    return [i for i, s in enumerate(seen) if s]


def test_save_every_iterations(tiny, tmpdir, inputs, outputs):
    assert _save_pattern(tiny, [inputs, outputs], tmpdir, 2) == [3, 5, 7]


def test_save_every_zero_never_saves(tiny, tmpdir, inputs, outputs):
    # defect 3: save_every=0 used to raise ZeroDivisionError.
    assert _save_pattern(tiny, [inputs, outputs], tmpdir, 0) == []


def test_save_every_minutes(tiny, tmpdir, inputs, outputs):
    data = [inputs, outputs]
    assert _save_pattern(tiny, data, tmpdir, 0.0, count=4) == [2, 3]
    assert _save_pattern(tiny, data, tmpdir, 10.0, count=4) == []


def test_save_progress_handle(tiny, inputs, outputs):
    handle = io.BytesIO()
    list(tiny.itertrain([inputs, outputs], algo=FakeTrainer(3),
                        save_every=1, save_progress=handle))
    handle.seek(0)
    assert [l.name for l in graph.Network.load(handle).layers] == ['in', 'out']


# ----------------------------------------------------------------------
# persistence


def _same_params(a, b):
    assert [p.name for p in a.params] == [p.name for p in b.params]
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())


@pytest.mark.parametrize('name', ['model.pkl', 'model.pkl.gz'])
def test_save_load_path(tmpdir, name):
    net = feedforward.Classifier([4, (3, 'prelu'), 2], rng=7)
    path = os.path.join(str(tmpdir), name)
    net.save(path)
    opener = gzip.open if name.endswith('.gz') else open
    with opener(path, 'rb') as handle:
        assert isinstance(pickle.load(handle), feedforward.Classifier)
    loaded = feedforward.Regressor.load(path)
    assert type(loaded) is feedforward.Classifier
    assert loaded is not net
    # a loaded model starts with empty internal graph and function caches
    assert loaded._graphs == {} and loaded._functions == {}
    _same_params(net, loaded)
    assert [p.name for p in loaded.params] == [
        'hid1.w', 'hid1.b', 'hid1.leak', 'out.w', 'out.b']
    # the model's rng was saved: layers added later are seeded with it
    loaded.add_layer(dict(size=2, name='extra'))
    assert loaded.layers[-1].kwargs['rng'] == 7


def test_load_legacy_state_restores_rng():
    # defect 1: models pickled by theanets 0.8 carry only (layers, losses);
    # the loaded model must still be able to add layers and train.
    net = feedforward.Regressor([3, 2])
    model = feedforward.Regressor.__new__(feedforward.Regressor)
    model.__setstate__((net.layers, net.losses))
    assert model._rng == 13  # the internal state __setstate__ restores
    model.add_layer(4)
    assert model.layers[-1].kwargs['rng'] == 13


@pytest.mark.parametrize('name', [
    'regressor_relu', 'classifier_tanh', 'autoencoder_tied'])
def test_legacy_models(name):
    model = graph.Network.load(os.path.join(LEGACY, name + '.pkl.gz'))
    expected = np.load(os.path.join(LEGACY, name + '.npz'))
    np.testing.assert_allclose(
        model.predict(expected['x']), expected['predict'], rtol=1e-4)
    if 'predict_proba' in expected:
        np.testing.assert_allclose(model.predict_proba(expected['x']),
                                   expected['predict_proba'], rtol=1e-4)
    # 0.8 pickles hold no rng: layers added later get the default seed
    model.add_layer(dict(size=2, name='extra'))
    assert model.layers[-1].kwargs['rng'] == 13


# ----------------------------------------------------------------------
# real training (needs theanets.trainer and downhill)


def test_train_loaded_model_with_two_losses(inputs, outputs):
    # defects 1 and 2 together: a loaded model with a second loss trains.
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    net.add_loss('mae', weight=0.1, target=2)
    buffer = io.BytesIO()
    net.save(buffer)
    buffer.seek(0)
    loaded = graph.Network.load(buffer)
    train, valid = loaded.train([inputs, outputs], algo='sgd', max_updates=1,
                                batch_size=64)
    assert train['loss'] > 0
    assert list(train) == ['loss', 'err']


def test_configuration_errors_before_data_errors(tiny, inputs, outputs):
    # a regularizer that cannot apply is reported before the (also bad) data
    with pytest.raises(util.ConfigurationError, match='pattern'):
        tiny.train([inputs[:, :3], outputs], algo='sgd', recurrent_norm=0.1)


def test_shared_training_data_pass_through(tiny, inputs, outputs):
    import theano
    fake = FakeTrainer(1)
    shared = theano.shared(inputs)
    tiny.train([shared, outputs], algo=fake, batch_size=64)
    batch_inputs, batch_outputs = next(iter(fake.calls[0][0]))
    assert isinstance(batch_inputs, theano.Variable)
