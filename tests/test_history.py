"""Tests for training histories (theanets.history, Network.history)."""

import io
import pickle

import numpy as np
import pytest

from theanets import feedforward, history

from tests.helpers import NUM_INPUTS, NUM_HID1, NUM_CLASSES


class ScriptedTrainer(object):
    """A trainer yielding fixed monitor values, validating every 2nd epoch
    like downhill (the same validation dict is repeated in between)."""

    def __init__(self, epochs=3, validate_every=2):
        self.epochs = epochs
        self.validate_every = validate_every
        self.kwargs = None

    def itertrain(self, train, valid=None, **kwargs):
        self.kwargs = kwargs
        validation = None
        for i in range(self.epochs):
            if i % self.validate_every == 0:
                validation = {'loss': 2.0 - i / 10, 'acc': 0.5 + i / 100}
            yield {'loss': 1.0 - i / 10, 'acc': 0.6 + i / 100}, validation


@pytest.fixture(scope='module')
def trained(inputs, classes):
    """A tiny classifier trained by downhill for 3 epochs (compiled once)."""
    net = feedforward.Classifier([NUM_INPUTS, (NUM_HID1, 'tanh'), NUM_CLASSES])
    pairs = list(net.itertrain([inputs, classes], algo='sgd', max_updates=3,
                               validate_every=2, batch_size=16,
                               quiet=True, progress=False))
    return net, pairs


def test_history_append_and_arrays():
    record = history.History()
    assert len(record) == 0 and record.train.keys() == []
    record.append({'loss': np.float64(0.5), 'err': 1}, {'loss': 0.75}, True)
    record.append({'loss': 0.25}, {'loss': 0.75}, False)
    assert record.records[0] == history.Record(
        1, {'loss': 0.5, 'err': 1.0}, {'loss': 0.75}, True)
    assert isinstance(record.records[0].train['loss'], float)
    np.testing.assert_array_equal(record.train['loss'], [0.5, 0.25])
    np.testing.assert_array_equal(record.train['err'], [1.0, np.nan])
    np.testing.assert_array_equal(record.train.iterations, [1, 2])
    np.testing.assert_array_equal(record.valid['loss'], [0.75])
    np.testing.assert_array_equal(record.valid.iterations, [1])
    assert record.train.keys() == ['loss', 'err']
    assert 'err' in record.train and 'err' not in record.valid
    assert [r.iteration for r in record] == [1, 2]
    assert repr(record) == ('<History: 2 iterations, 1 validations, '
                            'monitors: loss, err>')


def test_history_unknown_monitor_names_known_ones():
    record = history.History()
    record.append({'loss': 1.0}, {'loss': 1.0}, True)
    with pytest.raises(KeyError, match=r"'acc'.*\['loss'\]"):
        record.train['acc']


def test_network_history_empty_before_training():
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    assert isinstance(net.history, history.History)
    assert len(net.history) == 0
    assert net.history is net.history


def test_history_records_every_pair_of_downhill_training(trained):
    net, pairs = trained
    record = net.history
    assert len(record) == 3
    assert [r.iteration for r in record] == [1, 2, 3]
    # validate_every=2: validation before epoch 1 (iteration 0), after
    # epoch 2 and after the last epoch
    assert [r.validated for r in record] == [False, True, True]
    assert list(record.records[0].train) == ['loss', 'err', 'acc']
    for r, (train, valid) in zip(record, pairs):
        assert r.train == {k: float(v) for k, v in train.items()}
        assert r.valid == {k: float(v) for k, v in valid.items()}
    np.testing.assert_allclose(record.train['loss'],
                               [float(t['loss']) for t, _ in pairs])
    np.testing.assert_allclose(record.valid['acc'],
                               [float(pairs[0][1]['acc']),
                                float(pairs[1][1]['acc']),
                                float(pairs[2][1]['acc'])])
    np.testing.assert_array_equal(record.valid.iterations, [0, 2, 3])


def test_history_is_reset_by_each_run_and_train_returns_last_pair(inputs,
                                                                  classes):
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    first = ScriptedTrainer(epochs=3)
    net.train([inputs, classes], algo=first, quiet=True)
    old = net.history
    assert len(old) == 3
    result = net.train([inputs, classes], algo=ScriptedTrainer(epochs=2))
    assert net.history is not old and len(old) == 3
    assert len(net.history) == 2
    assert result == ({'loss': 0.9, 'acc': 0.61}, {'loss': 2.0, 'acc': 0.5})
    assert net.history.records[-1].train == result[0]


def test_history_feedback_keywords_do_not_reach_trainer(inputs, classes):
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    scripted = ScriptedTrainer(epochs=1)
    net.train([inputs, classes], algo=scripted, quiet=True, progress=False,
              batch_size=8)
    assert 'quiet' not in scripted.kwargs
    assert 'progress' not in scripted.kwargs
    assert scripted.kwargs['batch_size'] == 8


def test_history_of_sample_trainer_has_one_record(inputs, classes):
    net = feedforward.Classifier([NUM_INPUTS, (NUM_HID1, 'tanh'), NUM_CLASSES])
    net.train([inputs, classes], algo='sample', quiet=True)
    assert len(net.history) == 1
    assert net.history.records[0] == history.Record(
        1, {'loss': 0.0}, {'loss': 0.0}, True)


def test_history_is_not_saved_with_the_model(trained):
    net, _ = trained
    assert len(net.history) == 3
    copy = pickle.loads(pickle.dumps(net, -1))
    assert len(copy.history) == 0
    buffer = io.BytesIO()
    net.save(buffer, format='npz')
    buffer.seek(0)
    assert len(type(net).load(buffer).history) == 0


class InterruptibleTrainer(object):
    """Yields pairs until an interrupt is thrown in, then one final pair
    (like the gradient trainers restoring their best parameters)."""

    def itertrain(self, train, valid=None, **kwargs):
        i = 0
        while True:
            i += 1
            try:
                yield {'loss': float(i)}, {'loss': 10.0}
            except KeyboardInterrupt:
                yield {'loss': -1.0}, {'loss': 10.0}
                return


def test_history_keeps_records_after_an_interrupt(inputs, classes):
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    iterator = net.itertrain([inputs, classes], algo=InterruptibleTrainer(),
                             quiet=True, progress=False)
    assert next(iterator)[0] == {'loss': 1.0}
    assert next(iterator)[0] == {'loss': 2.0}
    assert iterator.throw(KeyboardInterrupt)[0] == {'loss': -1.0}
    assert list(iterator) == []
    np.testing.assert_array_equal(net.history.train['loss'], [1, 2, -1])
    assert [r.validated for r in net.history] == [True, True, True]
