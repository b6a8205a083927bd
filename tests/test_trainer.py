"""Tests for the trainers (theanets.trainer) and training through itertrain."""

import re

import downhill
import numpy as np
import pytest

from theanets import _epochs, backend, feedforward, main, trainer, util
from theanets.backend import theano, TT

from tests.helpers import (
    NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_OUTPUTS, NUM_CLASSES, assert_progress)

REG_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_OUTPUTS]
CLF_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_CLASSES]
AE_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_INPUTS]
TIED_AE_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2,
                  (NUM_HID1, 'tied'), (NUM_INPUTS, 'tied')]

#: The keyword arguments of the pinned "progress" pattern. theanets 0.8 used
#: batch_size=3; on the 64 test examples that leaves a last batch of one,
#: and validation monitors are now means over examples, not batches (see
#: theanets._epochs), which moves the validation loss the pattern compares
#: with. Batches of 4 divide the examples evenly, where both means agree.
PROGRESS = dict(momentum=0.5, batch_size=4, max_gradient_norm=1)


def _stages(logs):
    return [m for m in logs.messages() if m.startswith('layerwise: ')]


# ----------------------------------------------------------------------
# reservoir sampling (pure numpy)

def _unit(x):
    return x / np.linalg.norm(x)


def test_reservoir_fills_then_replaces_with_one_draw_per_item():
    rows = np.random.RandomState(0).randn(10, 3)
    ref = np.random.RandomState(3)
    draws = [ref.randint(i + 1) for i in range(4, 10)]
    expected = [_unit(x) for x in rows[:4]]
    for i, j in zip(range(4, 10), draws):
        if j < 4:
            expected[j] = _unit(rows[i])

    rng = np.random.RandomState(3)
    pool = trainer.SampleTrainer.reservoir(iter(rows), 4, rng)
    np.testing.assert_array_equal(pool, np.array(expected))
    assert pool.dtype == np.float64
    # exactly one randint per item once the pool is full, nothing else
    assert rng.randint(10 ** 6) == ref.randint(10 ** 6)


def test_reservoir_of_exactly_n_items_draws_nothing():
    rows = np.arange(1, 7, dtype='f').reshape(3, 2)
    rng = np.random.RandomState(5)
    pool = trainer.SampleTrainer.reservoir(rows, 3, rng)
    np.testing.assert_array_equal(pool, [_unit(x) for x in rows])
    assert pool.dtype == np.float32
    assert rng.randint(10 ** 6) == np.random.RandomState(5).randint(10 ** 6)


def test_reservoir_pads_a_short_stream_with_noisy_copies():
    rows = np.array([[3, 4, 0], [0, 1, 0]], dtype='f')
    ref = np.random.RandomState(7)
    pool = [_unit(x) for x in rows]
    scale = np.std(pool, axis=0)
    for _ in range(3):
        x = pool[ref.randint(2)]          # only among the real entries
        pool.append(x + scale * ref.randn(*x.shape))

    rng = np.random.RandomState(7)
    result = trainer.SampleTrainer.reservoir(rows, 5, rng)
    assert result.shape == (5, 3)
    assert result.dtype == np.float32     # dtype of the first pooled item
    np.testing.assert_array_equal(result, np.array(pool, dtype='f'))
    np.testing.assert_allclose(result[:2], [[0.6, 0.8, 0], [0, 1, 0]])
    assert rng.randint(10 ** 6) == ref.randint(10 ** 6)


def test_reservoir_of_empty_stream_raises():
    with pytest.raises(ValueError, match='empty'):
        trainer.SampleTrainer.reservoir(iter([]), 2, np.random.RandomState())


def test_reservoir_samples_are_unit_rows_of_the_stream():
    rows = np.random.RandomState(1).randn(50, 4)
    pool = trainer.SampleTrainer.reservoir(rows, 6, np.random.RandomState(2))
    np.testing.assert_allclose(np.linalg.norm(pool, axis=1), 1)
    units = rows / np.linalg.norm(rows, axis=1)[:, None]
    for x in pool:
        assert np.isclose(units, x).all(axis=1).sum() == 1


# ----------------------------------------------------------------------
# names kept for older code

def test_route_downhill_logging_is_kept_in_trainer():
    # code written before theanets.backend existed imports it from here
    assert trainer.route_downhill_logging is backend.route_downhill_logging


# ----------------------------------------------------------------------
# DownhillTrainer without compiling: what reaches downhill

class _FakeNetwork(object):
    variables = ['in', 'target']
    params = ['hid1.w', 'hid1.b']

    def __init__(self):
        self.calls = []

    def loss(self, **kwargs):
        self.calls.append(('loss', kwargs))
        return 'LOSS'

    def updates(self, **kwargs):
        self.calls.append(('updates', kwargs))
        return ['UPDATE']

    def monitors(self, **kwargs):
        self.calls.append(('monitors', kwargs))
        return [('err', 'ERR')]


class _FakeOptimizer(object):
    """Stands in for a compiled downhill optimizer: scripted monitor values.

    Every step returns the next training loss; every evaluation returns the
    next validation loss (both with an 'err' of the same value).
    """

    _monitor_names = ['loss', 'err']

    def __init__(self, train_losses=(3, 2, 1, 1, 1), valid_losses=None):
        self.train_losses = list(train_losses)
        self.valid_losses = list(valid_losses or [5, 4, 3, 2, 1, 1, 1])
        self.compiled = None
        self.steps = self.evaluations = 0

    def _compile(self, **kwargs):
        self.compiled = kwargs
        self._prepare(**kwargs)

    def _prepare(self, **kwargs):
        self.validate_every = kwargs.get('validate_every', 10)
        self.patience = kwargs.get('patience', 5)
        self.min_improvement = kwargs.get('min_improvement', 0)

    def f_step(self, *batch):
        loss = self.train_losses[min(self.steps, len(self.train_losses) - 1)]
        self.steps += 1
        return [loss, loss]

    def f_eval(self, *batch):
        losses = self.valid_losses
        loss = losses[min(self.evaluations, len(losses) - 1)]
        self.evaluations += 1
        return [loss, loss]


@pytest.fixture
def fake_build(monkeypatch):
    built = []

    def build(algo, loss, **kwargs):
        built.append(dict(kwargs, algo=algo, loss=loss,
                          optimizer=_FakeOptimizer()))
        return built[-1]['optimizer']

    monkeypatch.setattr(downhill, 'build', build)
    return built


ONE_BATCH = [['x', 'y']]


def test_downhill_trainer_builds_and_iterates(fake_build):
    net = _FakeNetwork()
    algo = trainer.DownhillTrainer('sgd', net)
    pairs = list(algo.itertrain(ONE_BATCH, ONE_BATCH, patience=2,
                                weight_l2=0.1, monitor_gradients=True,
                                max_updates=3, validate_every=2))
    build, = fake_build
    assert build['algo'] == 'sgd'
    assert build['loss'] == 'LOSS'
    assert build['updates'] == ['UPDATE']
    assert build['monitors'] == [('err', 'ERR')]
    assert build['inputs'] == ['in', 'target']
    assert build['params'] == ['hid1.w', 'hid1.b']
    assert build['monitor_gradients'] is True
    assert build['optimizer'].compiled == dict(
        patience=2, weight_l2=0.1, monitor_gradients=True, max_updates=3,
        validate_every=2, min_improvement=0.005)
    # the network sees the caller's keywords, without the trainer defaults
    assert [name for name, _ in net.calls] == ['loss', 'updates', 'monitors']
    assert all(kw == dict(patience=2, weight_l2=0.1, monitor_gradients=True,
                          max_updates=3, validate_every=2)
               for _, kw in net.calls)
    # validation before epoch 1, after epoch 2 and after the last epoch
    assert [(t.epoch, v.epoch) for t, v in pairs] == [(1, 0), (2, 2), (3, 3)]
    assert [t['loss'] for t, _ in pairs] == [3, 2, 1]
    assert [v['loss'] for _, v in pairs] == [5, 4, 3]
    assert algo.kept.epoch == 3 and algo.kept.valid['loss'] == 3
    assert algo.kept.reason == 'max_updates'


def test_downhill_trainer_repeats_the_latest_validation(fake_build):
    pairs = list(trainer.DownhillTrainer('sgd', _FakeNetwork()).itertrain(
        ONE_BATCH, max_updates=3))
    assert pairs[0][1] is pairs[1][1]          # the same dict, as in 0.8
    assert [v.epoch for _, v in pairs] == [0, 0, 3]


def test_downhill_trainer_patience_counts_validations(fake_build):
    # validation losses 5, 4, 3, 2, 1, 1, 1: no improvement after the
    # fifth validation (epoch 4); patience=1 stops at the second without
    algo = trainer.DownhillTrainer('sgd', _FakeNetwork())
    pairs = list(algo.itertrain(ONE_BATCH, validate_every=1, patience=1,
                                min_improvement=0))
    assert len(pairs) == 6
    assert algo.kept.epoch == 4 and algo.kept.reason == 'patience'


def test_downhill_trainer_monitor_gradients_defaults_to_false(fake_build):
    list(trainer.DownhillTrainer('adam', _FakeNetwork()).itertrain(
        ONE_BATCH, max_updates=1))
    assert fake_build[0]['monitor_gradients'] is False


def test_downhill_trainer_defaults_apply_only_when_absent(fake_build):
    assert trainer.DownhillTrainer.DEFAULTS == {'min_improvement': 0.005}
    net = _FakeNetwork()
    for given in ({}, {'min_improvement': 0}, {'min_improvement': 0.1},
                  {'max_updates': 3}):
        caller = dict(given, max_updates=given.get('max_updates', 1))
        before = dict(caller)
        list(trainer.DownhillTrainer('rmsprop', net).itertrain(
            ONE_BATCH, **caller))
        options = fake_build[-1]['optimizer'].compiled
        expected = dict(trainer.DownhillTrainer.DEFAULTS)
        expected.update(caller)
        assert options == expected
        assert caller == before                # not modified


def test_nag_uses_nesterov_momentum(fake_build):
    list(trainer.DownhillTrainer('NAG', _FakeNetwork()).itertrain(
        ONE_BATCH, max_updates=1, momentum=0.9))
    assert fake_build[0]['optimizer'].compiled['nesterov'] is True


def test_persistent_trainer_reuses_its_optimizer(fake_build):
    algo = trainer.DownhillTrainer('adam', _FakeNetwork(), persistent=True)
    list(algo.itertrain(ONE_BATCH, max_updates=1))
    list(algo.itertrain(ONE_BATCH, max_updates=2, patience=3))
    assert len(fake_build) == 1                # loop options do not count
    list(algo.itertrain(ONE_BATCH, max_updates=1, weight_l2=0.1))
    assert len(fake_build) == 2                # a new graph: rebuilt
    fresh = trainer.DownhillTrainer('adam', _FakeNetwork())
    list(fresh.itertrain(ONE_BATCH, max_updates=1))
    list(fresh.itertrain(ONE_BATCH, max_updates=1))
    assert len(fake_build) == 4                # as in 0.8: a new optimizer


@pytest.mark.parametrize('algo', ['sgd', 'NAG', 'rprop', 'adagrad', 'RMSProp',
                                  'adadelta', 'esgd', 'adam'])
def test_downhill_trainer_accepts_every_downhill_algorithm(algo):
    assert trainer.DownhillTrainer(algo, None).algo == algo


def test_downhill_trainer_rejects_unknown_algorithm():
    with pytest.raises(KeyError) as info:
        trainer.DownhillTrainer('bogus', None)
    assert isinstance(info.value, util.ConfigurationError)
    message = str(info.value)
    assert 'bogus' in message
    for name in ('sgd', 'nag', 'rprop', 'adagrad', 'rmsprop', 'adadelta',
                 'esgd', 'adam'):
        assert name in message
    assert 'optimizer,' not in message and not message.endswith('optimizer')


def test_unknown_algorithm_lists_known_names(no_compile, tiny, inputs, outputs):
    with pytest.raises(util.UnknownNameError, match='known names are: '
                                                    'adadelta, adagrad, adam'):
        tiny.train([inputs, outputs], algo='bogus')


# ----------------------------------------------------------------------
# DownhillTrainer through itertrain

def test_downhill_progress_and_monitor_gradients(logs, inputs, outputs):
    net = feedforward.Regressor(REG_LAYERS)
    pairs = net.itertrain([inputs, outputs], algo='sgd',
                          monitor_gradients=True, **PROGRESS)
    train0, valid0 = next(pairs)
    train1, valid1 = next(pairs)
    assert train1['loss'] < valid0['loss']
    assert valid1['loss'] == valid0['loss']
    keys = ['loss', 'err', 'grad(hid1.w)', 'grad(hid1.b)', 'grad(hid2.w)',
            'grad(hid2.b)', 'grad(out.w)', 'grad(out.b)']
    for monitors in (train0, valid0, train1, valid1):
        assert list(monitors) == keys
        assert all(value >= 0 for value in monitors.values())
    downhill_lines = logs.messages('theanets.downhill')
    assert 'setting: min_improvement = 0.005' in downhill_lines
    assert 'setting: max_gradient_norm = 1' in downhill_lines
    assert 'setting: learning_rate = 0.0001' in downhill_lines
    assert 'compiling SGD optimizer' in downhill_lines


def test_explicit_options_reach_the_optimizer(logs, inputs, outputs):
    net = feedforward.Regressor(REG_LAYERS)
    pairs = list(net.itertrain(
        [inputs, outputs], algo='nag', learning_rate=0.01, momentum=0.9,
        patience=1, validate_every=1, min_improvement=0,
        max_gradient_elem=0.5, max_updates=3, batch_size=16,
        train_batches=3))
    assert len(pairs) == 3
    valid = [v['loss'] for _, v in pairs]
    assert valid[2] < valid[1] < valid[0]     # validated after every epoch
    lines = logs.messages('theanets.downhill')
    for setting in ('patience = 1', 'validate_every = 1',
                    'min_improvement = 0', 'max_gradient_elem = 0.5',
                    'learning_rate = 0.01', 'momentum = 0.9',
                    'nesterov = True'):
        assert 'setting: ' + setting in lines
    assert 'train: 3 of 4 mini-batches from (64, 7); (64, 5)' in lines
    assert 'valid: 4 of 4 mini-batches from (64, 7); (64, 5)' in lines


@pytest.fixture(scope='module')
def tiny_regressor():
    return feedforward.Regressor([NUM_INPUTS, NUM_HID1, NUM_OUTPUTS])


@pytest.mark.parametrize('algo', [
    'sgd', 'rmsprop',
    pytest.param('nag', marks=pytest.mark.slow),
    pytest.param('rprop', marks=pytest.mark.slow),
    pytest.param('adagrad', marks=pytest.mark.slow),
    pytest.param('adadelta', marks=pytest.mark.slow),
    pytest.param('esgd', marks=pytest.mark.slow),
    pytest.param('adam', marks=pytest.mark.slow),
])
def test_every_algorithm_makes_progress(tiny_regressor, algo, logs, inputs,
                                        outputs):
    # Each algorithm starts from the same initial parameters: training
    # keeps what it learned, so the shared model is reset first.
    if not hasattr(tiny_regressor, '_initial_values'):
        tiny_regressor._initial_values = [p.get_value()
                                          for p in tiny_regressor.params]
    for param, value in zip(tiny_regressor.params,
                            tiny_regressor._initial_values):
        param.set_value(value)
    pairs = list(tiny_regressor.itertrain(
        [inputs, outputs], algo=algo, learning_rate=0.01, batch_size=16,
        max_updates=4, rms_halflife=7, rms_regularizer=1e-6,
        rprop_increase=1.1))
    assert len(pairs) == 4
    train = [t['loss'] for t, _ in pairs]
    assert train[-1] < train[0] < pairs[0][1]['loss']
    lines = logs.messages('theanets.downhill')
    if algo in ('rmsprop', 'adadelta', 'esgd', 'adam'):
        assert 'setting: rms_halflife = 7' in lines
    if algo in ('rmsprop', 'adagrad', 'adadelta', 'esgd', 'adam'):
        assert 'setting: rms_regularizer = 1e-06' in lines
    if algo == 'rprop':
        assert 'setting: rprop_increase = 1.1' in lines


def test_deprecated_algorithm_keyword(logs, inputs, outputs):
    net = feedforward.Regressor([NUM_INPUTS, 20, NUM_OUTPUTS], rng=115)
    with pytest.warns(DeprecationWarning, match='algo'):
        pairs = list(net.itertrain(
            [inputs, outputs], algorithm='sgd', patience=2,
            min_improvement=0.01, max_gradient_norm=1, batch_size=64))
    assert 'compiling SGD optimizer' in logs.messages('theanets.downhill')
    valid = [v['loss'] for _, v in pairs]
    assert min(valid) < valid[0]


# ----------------------------------------------------------------------
# SampleTrainer

def _passes(data, count, batch_size=32, rng=13):
    """Batches of ``count`` passes over a replica of the training dataset."""
    dataset = downhill.Dataset(data, batch_size=batch_size, rng=rng)
    return [list(dataset) for _ in range(count)]


def _rows(batches, index=0):
    return [x for t in batches for x in t[index]]


def _reference_reservoir(xs, n, rng):
    """Spec 12.2, written out independently of the trainer."""
    pool, count = [], 0
    for i, x in enumerate(xs):
        count += 1
        if i < n:
            pool.append(x / np.linalg.norm(x))
        else:
            j = rng.randint(i + 1)
            if j < n:
                pool[j] = x / np.linalg.norm(x)
    assert count >= n
    return np.array(pool, dtype=pool[0].dtype)


def test_sample_trainer_pinned(logs, inputs):
    net = feedforward.Autoencoder(AE_LAYERS)
    hid2_w = net.find('hid2', 'w').get_value()
    pairs = list(net.itertrain([inputs], algo='sample'))
    assert pairs == [({'loss': 0}, {'loss': 0})]
    assert pairs[0][0]['loss'] == 0 and pairs[0][1]['loss'] == 0

    # pass 1 finds the sizes, pass 2 samples out.w, pass 3 samples hid1.w
    _, second, third = _passes([inputs], 3)
    rng = np.random.RandomState(13)
    out_w = _reference_reservoir(_rows(second), 12, rng)
    out_w /= np.linalg.norm(out_w, axis=1)[:, None]
    hid1_w = _reference_reservoir(_rows(third), 8, rng).T
    hid1_w /= np.linalg.norm(hid1_w, axis=0)[None, :]
    np.testing.assert_array_equal(net.find('out', 'w').get_value(), out_w)
    np.testing.assert_array_equal(net.find('hid1', 'w').get_value(), hid1_w)
    np.testing.assert_array_equal(net.find('hid2', 'w').get_value(), hid2_w)
    assert [m for m in logs.messages() if m.startswith('setting ')] == [
        'setting out.w: (12, 7)', 'setting hid1.w: (7, 8)']


def test_sample_trainer_several_qualifying_weights(logs, inputs):
    # Defects 18.4: a second output-side weight used to get an exhausted
    # sample stream, a second input-side weight a NameError. Each weight now
    # samples its own pass: targets for output weights; raw inputs for the
    # first input weight, then the activations feeding each later weight.
    net = feedforward.Autoencoder([
        NUM_INPUTS, (NUM_INPUTS, 'tanh'),
        dict(size=NUM_INPUTS, inputs=('in', 'hid1'))])
    names = [p.name for p in net.params]
    assert names == ['hid1.w', 'hid1.b', 'out.w_in:out', 'out.w_hid1:out',
                     'out.b']
    assert list(net.itertrain([inputs], algo='sample')) == [
        ({'loss': 0}, {'loss': 0})]
    assert [m for m in logs.messages() if m.startswith('setting ')] == [
        'setting out.w_in:out: (7, 7)', 'setting out.w_hid1:out: (7, 7)',
        'setting hid1.w: (7, 7)', 'setting out.w_in:out: (7, 7)',
        'setting out.w_hid1:out: (7, 7)']

    _, p2, p3, p4, p5, p6 = _passes([inputs], 6)
    rng = np.random.RandomState(13)
    for batches in (p2, p3):                  # output stage, overwritten
        _reference_reservoir(_rows(batches), NUM_INPUTS, rng)
    hid1_w = _reference_reservoir(_rows(p4), NUM_INPUTS, rng).T
    hid1_w /= np.linalg.norm(hid1_w, axis=0)
    w_in = _reference_reservoir(_rows(p5), NUM_INPUTS, rng).T
    w_in /= np.linalg.norm(w_in, axis=0)
    hidden = [x for t in p6 for x in net.feed_forward(t[0])['hid1:out']]
    w_hid1 = _reference_reservoir(hidden, NUM_INPUTS, rng).T
    w_hid1 /= np.linalg.norm(w_hid1, axis=0)
    for name, expected in (('w', hid1_w), ('w_in:out', w_in),
                           ('w_hid1:out', w_hid1)):
        layer = 'hid1' if name == 'w' else 'out'
        np.testing.assert_allclose(net.find(layer, name).get_value(),
                                   expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------
# layer-wise (supervised) pretraining

def test_layerwise_untied_stages_and_progress(logs, inputs):
    net = feedforward.Autoencoder(AE_LAYERS)
    original = list(net.layers)
    pairs = net.itertrain([inputs], algo='layerwise', max_updates=2,
                          **PROGRESS)
    train0, valid0 = next(pairs)
    assert [layer.name for layer in net.layers] == ['in', 'hid1', 'lwout']
    lwout = net.layers[-1]
    assert lwout.output_shape == (NUM_INPUTS, )
    assert lwout.kwargs['activation'] == 'linear'
    assert lwout.kwargs['rng'] == 13          # seeded from the network rng
    assert net.losses[0].output_name == 'lwout:out'
    train1, valid1 = next(pairs)
    assert train1['loss'] < valid0['loss']
    # the stage's last epoch is validated before the next stage starts
    assert (valid0.epoch, valid1.epoch) == (0, 2)
    assert valid1['loss'] < valid0['loss']
    rest = list(pairs)
    assert len(rest) == 2                     # the full network's stage
    assert _stages(logs) == ['layerwise: training in -> hid1 -> lwout',
                             'layerwise: training in -> hid1 -> hid2 -> out']
    assert net.layers == original
    assert net.losses[0].output_name == 'out:out'


def test_layerwise_tied_stages_and_progress(logs, inputs):
    net = feedforward.Autoencoder(TIED_AE_LAYERS)
    original = list(net.layers)
    assert_progress(net, [inputs], algo='layerwise')
    stage, = _stages(logs)
    assert re.fullmatch(r'layerwise: training in -> hid1 -> tied\d+', stage)
    assert len(list(net.itertrain([inputs], algo='layerwise', max_updates=1,
                                  **PROGRESS))) == 2
    first, full = _stages(logs)[1:]
    assert re.fullmatch(r'layerwise: training in -> hid1 -> tied\d+', first)
    assert full == 'layerwise: training in -> hid1 -> hid2 -> hid3 -> out'
    assert net.layers == original
    assert net.losses[0].output_name == 'out:out'


def test_layerwise_restores_network_when_stopped_early(inputs):
    net = feedforward.Autoencoder(AE_LAYERS)
    original = list(net.layers)
    data = downhill.Dataset([inputs], batch_size=32, rng=13)
    pairs = trainer.SupervisedPretrainer('sgd', net).itertrain(
        data, data, rng=13, max_updates=1)
    next(pairs)
    assert net.layers[-1].name == 'lwout'
    pairs.close()
    assert net.layers == original
    assert net.losses[0].output_name == 'out:out'


def test_layerwise_two_layer_network_yields_nothing():
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    pairs = trainer.SupervisedPretrainer('sgd', net).itertrain(None, None)
    assert list(pairs) == []
    assert [layer.name for layer in net.layers] == ['in', 'out']


# ----------------------------------------------------------------------
# unsupervised pretraining

def _pretraining_lines(logs):
    return [m for m in logs.messages() if m.startswith((
        'creating shadow', 'completed unsupervised', 'layerwise: ',
        'copying '))]


def test_unsupervised_pretraining(logs, inputs):
    exp = main.Experiment(feedforward.Classifier, CLF_LAYERS)
    net = exp.network
    before = {p.name: p.get_value() for p in net.params}
    del logs.records[:]
    assert_progress(exp, [inputs], algo='pretrain')
    assert _pretraining_lines(logs)[0] == 'creating shadow network'

    del logs.records[:]
    # validating after each epoch lets the optimizers keep trained values
    # (they restore the best validated parameters when they stop)
    pairs = list(exp.itertrain([inputs], algo='pretrain', max_updates=2,
                               validate_every=1, **PROGRESS))
    assert len(pairs) == 4
    assert all(list(t) == ['loss', 'err'] for t, _ in pairs)
    lines = _pretraining_lines(logs)
    assert lines[0] == 'creating shadow network'
    assert re.fullmatch(r'layerwise: training in -> hid1 -> tied\d+',
                        lines[1])
    assert lines[2:] == [
        'layerwise: training in -> hid1 -> hid2 -> hid3 -> out',
        'copying pretrained parameter hid1.w',
        'copying pretrained parameter hid1.b',
        'copying pretrained parameter hid2.w',
        'copying pretrained parameter hid2.b',
        'completed unsupervised pretraining']
    after = {p.name: p.get_value() for p in net.params}
    for name in ('hid1.w', 'hid1.b', 'hid2.w', 'hid2.b'):
        assert not np.array_equal(after[name], before[name])
    for name in ('out.w', 'out.b'):
        np.testing.assert_array_equal(after[name], before[name])
    assert [layer.name for layer in net.layers] == ['in', 'hid1', 'hid2',
                                                    'out']


def test_unsupervised_pretraining_refuses_targets_before_compiling(
        inputs, monkeypatch):
    """Its autoencoder reads the inputs alone: labels given with them are
    a clear error, not a backend one from a compiled function."""
    net = feedforward.Classifier(CLF_LAYERS)
    labels = np.zeros(len(inputs), 'int32')

    def no_compiling(*args, **kwargs):
        raise AssertionError('theano.function must not be called')

    monkeypatch.setattr(theano, 'function', no_compiling)
    with pytest.raises(util.DataError,
                       match=r"train: expected 1 arrays.*\['in'\], got 2"):
        net.train([inputs, labels], algo='pretrain', max_updates=1)


def test_unsupervised_pretraining_needs_a_hidden_layer():
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    pairs = trainer.UnsupervisedPretrainer('sgd', net).itertrain(None)
    with pytest.raises(util.ConfigurationError, match='hidden layer'):
        next(pairs)


@pytest.mark.parametrize('form', ['lstm', 'rnn'])
def test_esgd_refuses_recurrent_layers_before_compiling(form, monkeypatch):
    from theanets import recurrent
    net = recurrent.Regressor([3, (4, form), 2])

    def no_compiling(*args, **kwargs):
        raise AssertionError('theano.function must not be called')

    from theanets.backend import theano
    monkeypatch.setattr(theano, 'function', no_compiling)
    x = np.zeros((2, 5, 3), 'f')
    y = np.zeros((2, 5, 2), 'f')
    with pytest.raises(util.ConfigurationError,
                       match=r'"esgd" needs second derivatives.*"hid1"'):
        net.train([x, y], algo='esgd', max_updates=1)


# ----------------------------------------------------------------------
# training faults: non-finite values and interrupts


def _exploding():
    net = feedforward.Regressor([3, 2])
    rng = np.random.RandomState(0)
    data = [rng.randn(8, 3).astype('f') * 10, rng.randn(8, 2).astype('f')]
    return net, data


def test_non_finite_loss_stops_training():
    net, data = _exploding()
    snapshots = []
    with pytest.raises(util.TrainingError) as info:
        for train, _ in net.itertrain(data, algo='sgd', learning_rate=10.0,
                                      batch_size=8, max_updates=50):
            assert np.isfinite(train['loss'])
            snapshots.append([p.get_value() for p in net.params])
    epoch = len(snapshots) + 1
    assert 'training stopped at epoch {}'.format(epoch) in str(info.value)
    assert "monitor 'loss'" in str(info.value)
    assert 'after epoch {}'.format(epoch - 1) in str(info.value)
    assert len(snapshots) >= 2
    for value, param in zip(snapshots[-1], net.params):
        np.testing.assert_array_equal(param.get_value(), value)
        assert np.isfinite(param.get_value()).all()
    # the model is still usable
    assert np.isfinite(net.predict(data[0])).all()
    with pytest.raises(util.TrainingError):
        net.train(data, algo='sgd', learning_rate=10.0, batch_size=8)


def test_non_finite_monitors_and_parameters_detected():
    # the epoch loop's internal checks behind the TrainingError above
    finite = theano.shared(np.ones(2, util.FLOAT), name='a')
    broken = theano.shared(np.array([1, np.inf], util.FLOAT), name='b')
    assert _epochs._first_non_finite({'loss': 2.0}, 'validation') is None
    assert _epochs._first_non_finite({'loss': np.nan}, 'validation') \
        == "the validation monitor 'loss' (nan)"
    assert _epochs._first_non_finite({'loss': 1.0, 'err': -np.inf},
                                     'training') \
        == "the training monitor 'err' (-inf)"
    assert _epochs._first_non_finite({'name': 'text'}, 'training') is None
    assert _epochs._non_finite_params([finite]) is None
    assert _epochs._non_finite_params([finite, broken]) == "parameter 'b'"


class _InterruptingData(object):
    """Batches of a dataset; raises KeyboardInterrupt inside one epoch."""

    def __init__(self, arrays, interrupt_epoch, batch_size=16):
        n = len(arrays[0])
        self.batches = [[a[i:i + batch_size] for a in arrays]
                        for i in range(0, n, batch_size)]
        self.interrupt_epoch = interrupt_epoch
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        for i, batch in enumerate(self.batches):
            if self.passes == self.interrupt_epoch and i == 1:
                raise KeyboardInterrupt
            yield batch


def _loss(net, inputs, outputs):
    return float(np.mean((net.predict(inputs) - outputs) ** 2))


def test_keyboard_interrupt_in_step_validates_and_keeps_best(inputs,
                                                             outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    # the interrupt comes in the 4th epoch, after its first batch
    train = _InterruptingData([inputs, outputs], interrupt_epoch=4)
    valid = [[inputs, outputs]]
    algo = trainer.DownhillTrainer('sgd', net)
    pairs = list(algo.itertrain(train, valid, learning_rate=0.01,
                                validate_every=2, min_improvement=0))
    assert len(pairs) == 4                     # the partial epoch counts
    last_train, last_valid = pairs[-1]
    assert last_valid.epoch == 4               # validated when interrupted
    assert algo.kept.reason == 'interrupted'
    assert algo.kept.epoch == 4                # still improving: kept
    np.testing.assert_allclose(_loss(net, inputs, outputs),
                               last_valid['loss'], rtol=1e-5)


def test_keyboard_interrupt_between_epochs_validates_and_keeps_best(
        inputs, outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    algo = trainer.DownhillTrainer('sgd', net)
    dataset = downhill.Dataset([inputs, outputs], batch_size=64)
    start = [p.get_value() for p in net.params]
    pairs = algo.itertrain(dataset, dataset, learning_rate=0.01,
                           validate_every=100)
    next(pairs)
    train2, valid2 = next(pairs)
    assert valid2.epoch == 0
    assert not np.array_equal(net.params[0].get_value(), start[0])
    # the trainer validates the current parameters and hands the caller the
    # same training monitors with that validation
    train_again, final = pairs.throw(KeyboardInterrupt)
    assert train_again is train2 and final.epoch == 2
    with pytest.raises(StopIteration):
        next(pairs)
    assert final['loss'] < valid2['loss']
    assert algo.kept.epoch == 2
    np.testing.assert_allclose(_loss(net, inputs, outputs), final['loss'],
                               rtol=1e-5)


def test_restore_best_false_keeps_the_final_parameters(inputs, outputs):
    # a learning rate far too large: every epoch is worse than the initial
    # parameters, which restore_best keeps and restore_best=False does not
    results = {}
    for restore in (True, False):
        net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
        start = [p.get_value() for p in net.params]
        _, valid = net.train([inputs, outputs], algo='sgd', batch_size=64,
                             learning_rate=5.0, max_updates=3,
                             restore_best=restore)
        results[restore] = valid
        same = all(np.array_equal(p.get_value(), v)
                   for p, v in zip(net.params, start))
        assert same == restore
        np.testing.assert_allclose(_loss(net, inputs, outputs),
                                   valid['loss'], rtol=1e-5)
    assert results[True].epoch == 0 and results[False].epoch == 3


def test_step_epochs_updates_without_validating(fake_build):
    algo = trainer.DownhillTrainer('adam', _FakeNetwork(), persistent=True)
    monitors = algo.step_epochs(ONE_BATCH * 3, epochs=2, learning_rate=0.1)
    optimizer = fake_build[0]['optimizer']
    assert optimizer.steps == 6 and optimizer.evaluations == 0
    assert monitors.epoch == 2 and monitors['loss'] == 1
    algo.step_epochs(ONE_BATCH, learning_rate=0.1)
    assert len(fake_build) == 1 and optimizer.steps == 7
    with pytest.raises(util.ConfigurationError, match='epochs'):
        algo.step_epochs(ONE_BATCH, epochs=0)


def test_step_epochs_continues_the_optimizer_state(inputs, outputs):
    # two persistent single passes equal one two-pass call (Adam keeps its
    # moment estimates between calls)
    values = []
    for split in (False, True):
        net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
        algo = trainer.DownhillTrainer('adam', net, persistent=True)
        batches = [[inputs[i:i + 16], outputs[i:i + 16]]
                   for i in range(0, len(inputs), 16)]
        if split:
            algo.step_epochs(batches, learning_rate=0.01)
            algo.step_epochs(batches, learning_rate=0.01)
        else:
            algo.step_epochs(batches, epochs=2, learning_rate=0.01)
        values.append([p.get_value() for p in net.params])
    for a, b in zip(*values):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_intermediates_kept_unless_the_user_set_allow_gc(monkeypatch):
    variable = ('PYTENSOR_FLAGS' if backend.name() == 'pytensor'
                else 'THEANO_FLAGS')
    monkeypatch.delenv(variable, raising=False)
    x = TT.vector('x')
    with backend.intermediates_kept():
        kept = theano.function([x], 2 * x)
    plain = theano.function([x], 2 * x)
    assert kept.maker.linker.allow_gc is False
    assert plain.maker.linker.allow_gc == theano.config.allow_gc
    with backend.intermediates_kept(False):
        off = theano.function([x], 2 * x)
    assert off.maker.linker.allow_gc == theano.config.allow_gc
    monkeypatch.setenv(variable, 'allow_gc=True')
    with backend.intermediates_kept():
        chosen = theano.function([x], 2 * x)
    assert chosen.maker.linker.allow_gc == theano.config.allow_gc
