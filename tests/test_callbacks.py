"""Tests for training callbacks (theanets.callbacks) and save_best."""

import io
import os

import numpy as np
import pytest

import theanets
from theanets import callbacks, feedforward, graph, util

from tests.helpers import NUM_INPUTS, NUM_CLASSES, NUM_OUTPUTS


# ----------------------------------------------------------------------
# the schedules' arithmetic (no compiling)

def test_step_exponential_and_cosine_rates():
    assert callbacks.StepDecay(3, 0.1).rate(2, 1.0) == 1.0
    assert callbacks.StepDecay(3, 0.1).rate(3, 1.0) == pytest.approx(0.1)
    assert callbacks.ExponentialDecay(0.5).rate(3, 0.8) == pytest.approx(0.1)
    cosine = callbacks.CosineDecay(4, floor=0.1)
    assert cosine.rate(0, 1.0) == pytest.approx(1.0)
    assert cosine.rate(2, 1.0) == pytest.approx(0.55)
    assert cosine.rate(4, 1.0) == pytest.approx(0.1)
    assert cosine.rate(9, 1.0) == pytest.approx(0.1)


@pytest.mark.parametrize('make', [
    lambda: callbacks.StepDecay(0),
    lambda: callbacks.StepDecay(2, factor=-1),
    lambda: callbacks.ExponentialDecay(0),
    lambda: callbacks.CosineDecay(0),
    lambda: callbacks.ReduceLROnPlateau(factor=1.5),
    lambda: callbacks.EarlyStopping(patience=-1),
    lambda: callbacks.EarlyStopping('bogus:loss'),
    lambda: callbacks.EarlyStopping(mode='largest'),
])
def test_bad_callback_arguments_raise(make):
    with pytest.raises(util.ConfigurationError):
        make()


def test_callback_list_checks_its_entries():
    assert len(callbacks.CallbackList(None)) == 0
    assert len(callbacks.CallbackList(print)) == 1
    with pytest.raises(util.ConfigurationError, match=r'callbacks\[1\]'):
        callbacks.CallbackList([print, 3])


def _state(epoch, valid_loss, validated=True, train_loss=1.0):
    state = callbacks.TrainingState(None, 'sgd')
    state.epoch = epoch
    state.valid = {'loss': valid_loss}
    state.train = {'loss': train_loss}
    state.validated = validated
    return state


def test_early_stopping_counts_judged_epochs_only():
    stop = callbacks.EarlyStopping(patience=2, min_delta=0.1)
    stop.on_train_begin(_state(0, 1.0))
    assert not stop.on_epoch_end(_state(1, 0.95))     # < min_delta: 1
    assert not stop.on_epoch_end(_state(2, 0.5, validated=False))  # unjudged
    assert not stop.on_epoch_end(_state(3, 0.7))      # improvement
    assert not stop.on_epoch_end(_state(4, 0.7))      # 1
    state = _state(5, 0.69)
    assert stop.on_epoch_end(state)                   # 2: stop
    assert stop.stopped_epoch == 5
    assert 'EarlyStopping' in state.stop_reason


def test_early_stopping_on_accuracy_maximises():
    stop = callbacks.EarlyStopping('valid:acc', patience=1)
    state = _state(0, 1.0)
    state.valid = {'acc': 0.5}
    stop.on_train_begin(state)
    state.valid, state.epoch = {'acc': 0.6}, 1
    assert not stop.on_epoch_end(state)
    state.valid, state.epoch = {'acc': 0.55}, 2
    assert stop.on_epoch_end(state)


def test_unknown_monitor_names_the_known_ones():
    stop = callbacks.EarlyStopping('train:acc')
    with pytest.raises(util.ConfigurationError, match=r"'acc'.*\['loss'\]"):
        stop.on_epoch_end(_state(1, 1.0))


def test_learning_rate_needs_a_schedule():
    state = callbacks.TrainingState(None, 'sgd')
    with pytest.raises(util.ConfigurationError, match='uses_learning_rate'):
        state.learning_rate
    with pytest.raises(util.ConfigurationError):
        state.learning_rate = 0.1


# ----------------------------------------------------------------------
# callbacks in real training runs

@pytest.fixture(scope='module')
def data():
    rng = np.random.RandomState(4)
    x = rng.randn(48, NUM_INPUTS).astype('f')
    y = (x[:, 0] > 0).astype('i')
    return x, y


def _classifier():
    return feedforward.Classifier([NUM_INPUTS, (6, 'tanh'), 2])


def test_plain_function_callbacks_see_every_epoch(data):
    seen = []

    def remember(state):
        seen.append((state.epoch, state.validated, state.valid.epoch,
                     state.best_epoch, sorted(state.train)))

    _classifier().train(list(data), algo='sgd', learning_rate=0.1,
                        max_updates=4, validate_every=2, batch_size=16,
                        callbacks=[remember])
    assert [s[:3] for s in seen] == [(1, False, 0), (2, True, 2),
                                     (3, False, 2), (4, True, 4)]
    assert all(s[4] == ['acc', 'err', 'loss'] for s in seen)


def test_a_callback_stops_training_and_the_last_epoch_is_validated(data):
    class StopAt(callbacks.Callback):
        def __init__(self):
            self.events = []

        def on_train_begin(self, state):
            self.events.append(('begin', state.epoch))

        def on_epoch_end(self, state):
            self.events.append(('epoch', state.epoch))
            return state.epoch == 3

        def on_train_end(self, state):
            self.events.append(('end', state.stop_reason))

    stop = StopAt()
    net = _classifier()
    pairs = list(net.itertrain(list(data), algo='sgd', learning_rate=0.1,
                               batch_size=16, callbacks=[stop]))
    assert len(pairs) == 3
    assert pairs[-1][1].epoch == 3            # validated because it stopped
    assert stop.events == [('begin', 0), ('epoch', 1), ('epoch', 2),
                           ('epoch', 3), ('end', 'stopped by a callback')]
    np.testing.assert_allclose(net.history.kept.valid['acc'],
                               net.score(*data))


def test_early_stopping_callback_ends_a_run(data):
    stop = callbacks.EarlyStopping('train:loss', patience=0, min_delta=10)
    pairs = list(_classifier().itertrain(
        list(data), algo='sgd', batch_size=16, callbacks=[stop]))
    # the first judged epoch sets the best; the second cannot beat it by 10
    assert len(pairs) == 2 and stop.stopped_epoch == 2


def test_schedule_changes_the_rate_without_recompiling(data, monkeypatch):
    rates = []

    class Record(callbacks.Callback):
        uses_learning_rate = True

        def on_epoch_end(self, state):
            rates.append(state.learning_rate)

    net = _classifier()
    net.train(list(data), algo='sgd', learning_rate=0.4, max_updates=5,
              batch_size=16, callbacks=[callbacks.StepDecay(2, 0.5),
                                        Record()])
    np.testing.assert_allclose(rates, [0.4, 0.2, 0.2, 0.1, 0.1], rtol=1e-6)


def test_schedule_has_the_effect_of_that_rate(data):
    # an exponential decay of 0 after the first epoch (factor tiny) leaves
    # the parameters where one epoch put them
    def train(max_updates, schedule):
        net = feedforward.Classifier([NUM_INPUTS, (6, 'tanh'), 2], rng=3)
        net.train(list(data), algo='sgd', learning_rate=0.5,
                  max_updates=max_updates, batch_size=48, restore_best=False,
                  callbacks=schedule)
        return [p.get_value() for p in net.params]

    one = train(1, [])
    frozen = train(3, [callbacks.ExponentialDecay(1e-30)])
    for a, b in zip(one, frozen):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_schedules_refuse_optimizers_without_a_rate(data):
    with pytest.raises(util.ConfigurationError, match='adadelta'):
        _classifier().train(list(data), algo='adadelta', max_updates=1,
                            callbacks=[callbacks.StepDecay(1)])


def test_reduce_on_plateau_lowers_the_rate():
    plateau = callbacks.ReduceLROnPlateau(factor=0.5, patience=1,
                                          min_rate=0.3)
    state = callbacks.TrainingState(None, 'sgd', learning_rate=None)
    shared = theanets.backend.theano.shared(np.float32(1.0))
    state._learning_rate = shared
    state.valid, state.validated = {'loss': 1.0}, True
    plateau.on_train_begin(state)
    for epoch, loss in enumerate([0.9, 0.95, 0.95, 0.95, 0.95], 1):
        state.epoch, state.valid = epoch, {'loss': loss}
        plateau.on_epoch_end(state)
    assert float(shared.get_value()) == pytest.approx(0.3)


# ----------------------------------------------------------------------
# checkpoints

def test_save_best_keeps_the_best_model(data, tmpdir):
    path = str(tmpdir.join('best.npz'))
    net = _classifier()
    net.train(list(data), algo='sgd', learning_rate=0.2, max_updates=6,
              validate_every=2, batch_size=16, save_best=path)
    best = graph.Network.load(path)
    np.testing.assert_allclose(best.predict_proba(data[0]),
                               net.predict_proba(data[0]), rtol=1e-5)
    assert os.listdir(str(tmpdir)) == ['best.npz']


def test_save_best_with_epoch_names_and_file_objects(data, tmpdir):
    pattern = str(tmpdir.join('best-{epoch}.pkl'))
    net = _classifier()
    net.train(list(data), algo='sgd', learning_rate=0.2, max_updates=4,
              validate_every=2, batch_size=16, save_best=pattern)
    names = sorted(os.listdir(str(tmpdir)))
    assert names[0] == 'best-0.pkl' and 'best-4.pkl' in names
    handle = io.BytesIO()
    net.train(list(data), algo='sgd', learning_rate=0.2, max_updates=2,
              batch_size=16, save_best=handle)
    handle.seek(0)
    assert graph.Network.load(handle).layers[-1].name == 'out'


@pytest.mark.parametrize('target', ['m-{}.npz', 'm-{bogus}.npz', 3])
def test_save_best_checks_its_target(no_compile, data, target):
    with pytest.raises(util.ConfigurationError, match='save_best'):
        _classifier().train(list(data), algo='sgd', save_best=target)


def test_save_best_needs_a_gradient_algorithm(data, tmpdir):
    with pytest.raises(util.ConfigurationError, match='save_best'):
        _classifier().train([data[0]], algo='pretrain',
                            save_best=str(tmpdir.join('x.npz')))


def test_save_progress_fields_never_overwrite(data, tmpdir):
    pattern = str(tmpdir.join('m-{epoch:02d}-{}.npz'))
    _classifier().train(list(data), algo='sgd', max_updates=5, batch_size=16,
                        save_every=1, save_progress=pattern)
    names = sorted(os.listdir(str(tmpdir)))
    # one file per save (iterations 1-4: the pair of iteration 0 is never
    # saved, as in theanets 0.8), each named by its iteration
    assert [n[:4] for n in names] == ['m-01', 'm-02', 'm-03', 'm-04']
    tmpdir.remove()
    tmpdir.mkdir()
    # the 0.8 pattern: the Unix time, which repeats within a second
    _classifier().train(list(data), algo='sgd', max_updates=5, batch_size=16,
                        save_every=1, save_progress=str(tmpdir.join('t-{}.npz')))
    assert len(os.listdir(str(tmpdir))) == 4


def test_unused_name_adds_a_counter():
    from theanets.training import _unused_name
    taken = {'a/m-1.npz', 'a/m-1-2.npz', 'a/x.pkl.gz'}
    assert _unused_name('a/m-2.npz', taken) == 'a/m-2.npz'
    assert _unused_name('a/m-1.npz', taken) == 'a/m-1-3.npz'
    assert _unused_name('a/x.pkl.gz', taken) == 'a/x-2.pkl.gz'


def test_callbacks_run_for_trainer_objects(tiny, inputs, outputs):
    from tests.helpers import FakeTrainer
    seen = []
    pairs = list(tiny.itertrain([inputs, outputs], algo=FakeTrainer(5),
                                callbacks=[lambda s: seen.append(s.epoch) or
                                           s.epoch == 2]))
    assert seen == [1, 2] and len(pairs) == 2
