"""Tests for theanets.specs: layer and loss specifications, as models read
them."""

import numpy as np
import pytest

from theanets import feedforward, graph, layers, recurrent, util


# ----------------------------------------------------------------------
# layer specifications


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


@pytest.mark.parametrize('spec, error, message', [
    ([3, 0, 2], util.ConfigurationError, 'size must be a positive integer, '
                                         'got 0'),
    ([3, -4, 2], util.ConfigurationError, 'got -4'),
    ([3, dict(size=2.5), 2], util.ConfigurationError, 'got 2.5'),
    ([(3, 0), 2], util.ConfigurationError, r'shape must be a tuple of '
                                           r'positive integers.*\(3, 0\)'),
    ([3, 'bogus', 2], util.ConfigurationError,
     'unknown layer type: bogus; known layer types are: .*feedforward'),
    ([3, dict(form='bogus', size=2), 2], util.UnknownNameError,
     'unknown layer .bogus.; known names are'),
    ([3, (2, 'bogus'), 2], KeyError, "unknown activation 'bogus'"),
    ([3, dict(size=2, inputs='nowhere'), 2], util.ConfigurationError,
     'cannot resolve "nowhere"'),
])
def test_bad_layer_specs(no_compile, spec, error, message):
    with pytest.raises(error, match=message):
        feedforward.Regressor(spec)


# ----------------------------------------------------------------------
# loss specifications


def test_default_loss_output_name():
    net = feedforward.Regressor((1, 2, dict(size=1, form='tied', name='foo')))
    assert net.layers[-1].output_name == 'foo:out'
    assert net.losses[0].output_name == 'foo:out'
    net = feedforward.Regressor((1, 2, 1))
    assert net.losses[0].output_name == 'out:out'


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


def test_unknown_loss_lists_known_names(no_compile):
    with pytest.raises(util.UnknownNameError, match='known names are: .*mse'):
        feedforward.Regressor([3, 2], loss='bogus')
