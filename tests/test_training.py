"""Tests for theanets.training: the training loop behind itertrain and
train (with stand-in trainers; the real ones are tested in test_trainer)."""

import io
import os

import numpy as np
import pytest

from theanets import feedforward, graph, util

from tests.helpers import FakeTrainer, NUM_INPUTS, NUM_OUTPUTS


# ----------------------------------------------------------------------
# choosing a trainer and passing its pairs on


def test_train_returns_last_pair(tiny, inputs, outputs):
    assert tiny.train([inputs, outputs], algo=FakeTrainer(4)) == (
        {'loss': 3}, {'loss': -3})
    assert tiny.train([inputs, outputs], algo=FakeTrainer(0)) is None


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
    # the unsupervised pretrainer's autoencoder reads the inputs alone
    data = [inputs] if cls == 'UnsupervisedPretrainer' else [inputs, outputs]
    tiny.train(data, algo=algo, subalgo='adam')
    assert made == [args + (tiny,)]


def test_configuration_errors_before_data_errors(tiny, inputs, outputs):
    # a regularizer that cannot apply is reported before the (also bad) data
    with pytest.raises(util.ConfigurationError, match='pattern'):
        tiny.train([inputs[:, :3], outputs], algo='sgd', recurrent_norm=0.1)


# ----------------------------------------------------------------------
# saving progress


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
# interrupts


def test_keyboard_interrupt_thrown_into_itertrain_keeps_best(inputs,
                                                             outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    pairs = net.itertrain([inputs, outputs], algo='sgd', batch_size=64,
                          learning_rate=5.0, validate_every=100)
    next(pairs)
    start = [p.get_value() for p in net.params]
    next(pairs)
    assert not np.array_equal(net.params[0].get_value(), start[0])
    # the final validation is recorded as that of the second iteration
    train, valid = pairs.throw(KeyboardInterrupt)
    assert valid.epoch == 2
    with pytest.raises(StopIteration):
        next(pairs)
    assert len(net.history) == 2
    assert net.history.records[-1].validated
    np.testing.assert_array_equal(net.history.valid.iterations, [0, 2])
    # a learning rate of 5 makes things worse: the initial parameters win
    assert net.history.kept.iteration == 0
    # a trainer that does not handle interrupts lets them through
    pairs = net.itertrain([inputs, outputs], algo=_Pairs())
    next(pairs)
    with pytest.raises(KeyboardInterrupt):
        pairs.throw(KeyboardInterrupt)


class _Pairs(object):
    def itertrain(self, train, valid=None, **kwargs):
        for i in range(3):
            yield {'loss': i}, {'loss': i}


def test_keyboard_interrupt_while_saving_progress(monkeypatch, tmpdir, inputs,
                                                  outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    path = os.path.join(str(tmpdir), 'progress.pkl')

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(net, 'save', interrupted)
    train, valid = net.train([inputs, outputs], algo='sgd', batch_size=64,
                             save_every=1, save_progress=path)
    assert np.isfinite(train['loss'])
    assert not os.listdir(str(tmpdir))
    assert net.predict(inputs).shape == outputs.shape
