"""Tests for theanets.graph.Network: building the layer list, variables,
losses, graphs, monitors, evaluation and the model's own state.

The services a network hands its work to have their own test modules:
test_specs, test_validation, test_options, test_training, test_saving.
"""

import io

import numpy as np
import pytest

from theanets import (
    backend, feedforward, graph, layers, losses, recurrent, regularizers,
    util)

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS


# ----------------------------------------------------------------------
# the layer list and the constructor


def test_int_layers():
    net = feedforward.Regressor((1, 2, 3))
    assert len(net.layers) == 3
    assert [l.name for l in net.layers] == ['in', 'hid1', 'out']


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


@pytest.mark.parametrize('kwargs, message', [
    (dict(layers=5), r'layers: expected a sequence of layer specifications'),
    (dict(layers='abc'), r"layers: expected a sequence.*got 'abc'"),
    (dict(layers=[3, 2], rng='seed'), r"rng: expected an int seed, None or "
                                      r"a numpy.random.RandomState, got "
                                      r"'seed' of type str"),
    (dict(layers=[3, 2], rng=1.5), 'got 1.5 of type float'),
])
def test_bad_constructor_arguments(no_compile, kwargs, message):
    with pytest.raises(util.ConfigurationError, match=message):
        feedforward.Regressor(**kwargs)


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
# evaluation: compiled functions and chunks


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


def test_shape_specialising_linkers_get_power_of_two_chunks(
        regressor, monkeypatch, inputs):
    """Under PyTensor's JAX linker every new number of rows compiles the
    function again: chunks are padded to powers of two, results cut back."""
    whole = regressor.feed_forward(inputs)
    calls = _count_rows_per_call(regressor, monkeypatch)
    monkeypatch.setattr(backend, 'compiles_per_shape', lambda: True)
    monkeypatch.setattr(regressor, 'predict_chunk_size', 16)
    for rows in (1, 3, 5, 16, len(inputs)):
        got = regressor.feed_forward(inputs[:rows])
        for name in whole:
            assert got[name].shape[0] == rows
            np.testing.assert_allclose(got[name], whole[name][:rows],
                                       rtol=1e-5, atol=1e-6)
    assert calls == [1, 4, 8, 16] + [16] * 4
    assert len(inputs) == 64


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
# the model's own state (saved and restored with it)


def test_load_legacy_state_restores_rng():
    # defect 1: models pickled by theanets 0.8 carry only (layers, losses);
    # the loaded model must still be able to add layers and train.
    net = feedforward.Regressor([3, 2])
    model = feedforward.Regressor.__new__(feedforward.Regressor)
    model.__setstate__((net.layers, net.losses))
    assert model._rng == 13  # the internal state __setstate__ restores
    model.add_layer(4)
    assert model.layers[-1].kwargs['rng'] == 13


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
