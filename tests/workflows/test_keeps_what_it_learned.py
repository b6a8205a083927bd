"""Training never loses what it learned: the model keeps the best
parameters over every validation, the last one included, and the monitors
``train`` returns describe the parameters the model holds."""

import numpy as np
import pandas as pd
import pytest

import theanets


@pytest.fixture(scope='module')
def data():
    rng = np.random.RandomState(0)
    # 200 examples: batches of 32 leave a last batch of 8, so validation
    # means must weight batches by their size to equal score()
    x = rng.randn(200, 20).astype('f')
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype('i')
    return x, y


@pytest.mark.parametrize('max_updates', [1, 5, 9, 10, 11, 25])
def test_short_training_keeps_what_it_learned(data, max_updates):
    x, y = data
    net = theanets.Classifier([20, (32, 'relu'), 2], rng=1)
    untrained = net.score(x, y)
    train, valid = net.train([x, y], algo='adam', learning_rate=0.01,
                             max_updates=max_updates)
    score = net.score(x, y)
    assert score == pytest.approx(valid['acc'], abs=1e-6)
    assert score > untrained
    kept = net.history.kept
    assert kept.valid['acc'] == pytest.approx(valid['acc'])
    # the kept validation is the best over all of them
    assert valid['loss'] == pytest.approx(min(net.history.valid['loss']))
    assert len(net.history) == max_updates


def test_regressor_loss_equals_reported_loss(data):
    x, _ = data
    targets = np.c_[x[:, :2].sum(axis=1), x[:, 2]].astype('f')
    net = theanets.Regressor([20, (16, 'tanh'), 2])
    _, valid = net.train([x, targets], algo='rmsprop', learning_rate=0.01,
                         max_updates=7)
    mse = float(np.mean((net.predict(x) - targets) ** 2))
    assert mse == pytest.approx(valid['loss'], rel=1e-5)


def test_pretrainers_validate_the_last_epoch_of_each_stage(data):
    x, y = data
    net = theanets.Classifier([20, (16, 'relu'), (8, 'relu'), 2])
    pairs = list(net.itertrain([x, y], algo='layerwise', max_updates=3))
    # two stages (in -> hid1 -> lwout, then the whole network) of three
    # epochs; each stage ends with a validation
    assert [v.epoch for _, v in pairs] == [0, 0, 3] * 2
    assert net.history.kept.valid['acc'] == pytest.approx(net.score(x, y))


def test_itertrain_says_when_validation_was_measured(data):
    x, y = data
    net = theanets.Classifier([20, (8, 'relu'), 2])
    measured = [(t.epoch, v.epoch) for t, v in net.itertrain(
        [x, y], algo='sgd', max_updates=12, validate_every=5)]
    assert measured == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 5), (6, 5),
                        (7, 5), (8, 5), (9, 5), (10, 10), (11, 10), (12, 12)]
    history = net.history
    np.testing.assert_array_equal(history.valid.iterations, [0, 5, 10, 12])
    assert [r.validated for r in history].count(True) == 3


def test_history_converts_to_pandas(data):
    x, y = data
    net = theanets.Classifier([20, (8, 'relu'), 2])
    net.train([x, y], algo='sgd', max_updates=4, validate_every=2)
    frame = net.history.to_frame()
    assert list(frame.index) == [0, 1, 2, 3, 4]
    assert frame.index.name == 'iteration'
    assert list(frame.columns) == ['loss', 'err', 'acc', 'valid_loss',
                                   'valid_err', 'valid_acc']
    assert np.isnan(frame.loc[0, 'loss']) and np.isnan(frame.loc[1,
                                                                'valid_loss'])
    np.testing.assert_allclose(frame['valid_acc'].dropna(),
                               net.history.valid['acc'])
    train = pd.DataFrame(net.history.train)
    assert list(train.columns) == ['loss', 'err', 'acc'] and len(train) == 4
    assert list(net.history.train) == ['loss', 'err', 'acc']
    assert dict(net.history.valid)['acc'].shape == (3, )
