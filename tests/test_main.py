"""Tests for theanets.main.Experiment."""

import os

import numpy as np
import pytest

import theanets
from theanets import feedforward, graph, main


@pytest.fixture
def experiment():
    return main.Experiment(feedforward.Autoencoder, layers=(10, 3, 4, 10))


def test_create(experiment):
    assert isinstance(experiment.network, feedforward.Autoencoder)
    assert [l.name for l in experiment.network.layers] == [
        'in', 'hid1', 'hid2', 'out']


def test_network_instance():
    net = feedforward.Regressor([3, 2])
    assert main.Experiment(net).network is net


def test_bare_network_class_rejected():
    with pytest.raises(theanets.util.ConfigurationError, match="Autoencoder"):
        main.Experiment(graph.Network, layers=(3, 2))


def test_save_load(experiment, tmpdir):
    path = os.path.join(str(tmpdir), 'model')
    experiment.save(path)
    assert os.path.isfile(path)
    old = experiment.network
    loaded = experiment.load(path)
    assert experiment.network is loaded
    assert loaded is not old
    assert [l.name for l in loaded.layers] == [l.name for l in old.layers]
    for a, b in zip(loaded.layers, old.layers):
        assert a.input_shapes == b.input_shapes
    assert [p.name for p in loaded.params] == [p.name for p in old.params]
    for a, b in zip(loaded.params, old.params):
        np.testing.assert_array_equal(a.get_value(), b.get_value())
    again = main.Experiment(path)
    assert type(again.network) is feedforward.Autoencoder


def test_train_delegates(experiment):
    class Fake(object):
        def itertrain(self, train, valid=None, **kwargs):
            yield {'loss': 1}, {'loss': 2}

    x = np.zeros((4, 10), 'f')
    assert experiment.train([x], algo=Fake()) == ({'loss': 1}, {'loss': 2})
    assert list(experiment.itertrain([x], algo=Fake())) == [
        ({'loss': 1}, {'loss': 2})]
