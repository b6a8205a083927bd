"""Training on every kind of data a user may have: lists of arrays, callables,
generators, sequences of batches, iterables and ``downhill`` datasets.

Each kind trains a small classifier, regressor or recurrent model for real;
mistakes in the data are reported as DataError, with the batch that held
them, before Theano compiles anything (or, for a later batch, when it is
read), never as a Theano traceback.
"""

import itertools
import warnings

import numpy as np
import pytest

from theanets import feedforward, recurrent, util
from theanets.backend import downhill

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS, NUM_CLASSES

#: Time steps of the recurrent data here (few: scan compiles per step).
STEPS = 3


class Sequence(object):
    """Batches read again for each epoch, like a Keras ``Sequence``."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def _as_kind(kind, batches, arrays):
    """The data of ``batches`` (or whole ``arrays``) as one kind of data."""
    def endless():
        while True:
            yield from batches

    cycle = endless()
    if kind == 'arrays':
        return arrays
    if kind == 'callable':
        return lambda: next(cycle)
    if kind == 'generator':
        return endless()
    if kind == 'list of batches':
        return list(batches)
    if kind == 'iterable':
        return Sequence(batches)
    if kind == 'dataset':
        return downhill.Dataset(arrays, batch_size=16, rng=4)
    assert kind == 'dataset of a callable'
    return downhill.Dataset(lambda: next(cycle), iteration_size=len(batches))


KINDS = ['arrays', 'callable', 'generator', 'list of batches', 'iterable',
         'dataset', 'dataset of a callable']


def _batches(arrays, size=16):
    count = len(arrays[0])
    return [[a[i:i + size] for a in arrays] for i in range(0, count, size)]


def _trains(model, data, **kwargs):
    """Train two epochs of four batches; check that the loss went down.

    The first validation sees the initial parameters, the second epoch's
    training loss those after four or more gradient steps.
    """
    pairs = list(model.itertrain(data, algo='sgd', learning_rate=0.1,
                                 max_updates=2, iteration_size=4, **kwargs))
    assert len(pairs) == 2
    for train, valid in pairs:
        assert np.isfinite(train['loss']) and np.isfinite(valid['loss'])
    assert pairs[1][0]['loss'] < pairs[0][1]['loss']
    return pairs


@pytest.mark.parametrize('kind', KINDS)
def test_classifier_trains_on(kind, inputs, classes):
    # float64 inputs and int64 labels, as numpy makes them, are cast
    arrays = [inputs.astype('float64'), classes.astype('int64')]
    model = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    data = _as_kind(kind, _batches(arrays), arrays)
    _trains(model, data)
    assert model.predict(inputs).shape == classes.shape


@pytest.mark.parametrize('kind', ['callable', 'generator', 'list of batches'])
def test_regressor_trains_on(kind, inputs, outputs, output_weights):
    arrays = [inputs.astype('float64'), outputs.astype('float64'),
              output_weights.astype('float64')]
    model = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS], weighted=True)
    _trains(model, _as_kind(kind, _batches(arrays), arrays),
            valid=[inputs, outputs, output_weights])


@pytest.mark.parametrize('kind', ['callable', 'generator', 'iterable'])
def test_recurrent_classifier_trains_on(kind, rnn_inputs, rnn_classes):
    arrays = [rnn_inputs[:, :STEPS].astype('float64'),
              (rnn_classes[:, :STEPS] % NUM_CLASSES).astype('int64')]
    model = recurrent.Classifier([NUM_INPUTS, (3, 'rnn'), NUM_CLASSES])
    _trains(model, _as_kind(kind, _batches(arrays), arrays))


def test_recurrent_regressor_trains_on_batches_of_any_length(rnn_inputs,
                                                            rnn_outputs):
    # each batch may have its own number of time steps
    batches = [[rnn_inputs[:8, :steps], rnn_outputs[:8, :steps]]
               for steps in (2, 3, 4, 2)]
    model = recurrent.Regressor([NUM_INPUTS, (3, 'rnn'), NUM_OUTPUTS])
    _trains(model, batches)


def test_bad_batch_in_training_is_named(inputs, outputs):
    model = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    good = [inputs[:16], outputs[:16]]

    def stream():
        yield good
        yield good
        yield [inputs[:16], outputs[:16, :2]]

    with pytest.raises(util.DataError) as error:
        model.train(stream(), algo='sgd', iteration_size=1, max_updates=5)
    assert str(error.value).startswith(
        'train[1] (batch 2): expected a 2-D array of shape (N, 5) with dtype '
        'float32 for "target", got an array of shape (16, 2)')
    # the model is still usable
    assert model.predict(inputs).shape == outputs.shape


def test_finite_generator_stops_training_with_advice(inputs, classes):
    model = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    batches = (b for b in _batches([inputs, classes]))  # 4 batches
    with pytest.warns(RuntimeWarning, match=r'training stopped: train: the '
                                            r'iterator \(generator\) ran out '
                                            r'of batches after 4 \(2 per '
                                            r'epoch\)'):
        train, valid = model.train(batches, [inputs, classes], algo='sgd',
                                   train_batches=2, max_updates=5)
    # two complete epochs; the second was validated when the data ran out
    # and the best parameters are kept, as for any other stop
    assert len(model.history) == 2
    assert model.history.records[-1].validated
    assert np.isfinite(train['loss'])
    assert valid['acc'] == pytest.approx(model.score(inputs, classes))
    # capping the epochs to what the generator holds trains without warning
    batches = (b for b in _batches([inputs, classes]))
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        train, _ = model.train(batches, [inputs, classes], algo='sgd',
                               train_batches=2, max_updates=2)
    assert np.isfinite(train['loss'])


@pytest.mark.parametrize('make_data, message', [
    (lambda x, y, w: lambda: [x, y[:, :2], w],
     r'train\[1\] \(batch 0\): expected a 2-D array of shape \(N, 5\) with '
     r'dtype float32 for "target", got an array of shape \(64, 2\)'),
    (lambda x, y, w: ([x, y, w[:, :1]] for _ in itertools.count()),
     r'train\[2\] \(batch 0\): expected a 2-D array of shape \(N, 5\) with '
     r'dtype float32 for "weights", got an array of shape \(64, 1\)'),
    (lambda x, y, w: [x, y[:, :3], w[:, :3]],
     r'train\[1\]: expected a 2-D array of shape \(N, 5\)'),
    (lambda x, y, w: [[x, y, w], [x[:, :6], y, w]],
     r'train\[0\] \(batch 1\): expected a 2-D array of shape \(N, 7\)'),
])
def test_width_mistakes_fail_before_compiling(no_compile, make_data, message,
                                              inputs, outputs,
                                              output_weights):
    model = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS], weighted=True)
    data = make_data(inputs, outputs, output_weights)
    with pytest.raises(util.DataError, match=message) as error:
        model.train(data, algo='sgd', iteration_size=1)
    assert 'Shape mismatch' not in str(error.value)
    assert 'theano' not in str(error.value).lower()


def test_validation_width_fails_before_compiling(no_compile, inputs, classes):
    model = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    with pytest.raises(util.DataError,
                       match=r'valid\[0\] \(batch 0\): expected a 2-D array '
                             r'of shape \(N, 7\) with dtype float32 for "in", '
                             r'got an array of shape \(64, 3\)'):
        model.train([inputs, classes], lambda: [inputs[:, :3], classes],
                    algo='sgd')


@pytest.mark.parametrize('make_data, message', [
    (lambda x, c: lambda: [x[:, :0], c[:, :0]],
     r'train \(batch 0\): expected at least one time step for "in"'),
    (lambda x, c: [[x, c[:, :-1]]],
     r'train \(batch 0\): expected the same number of time steps \(length of '
     r'axis 1\) in every array of a recurrent model, got 3 for "in", 2 for '
     r'"target"'),
])
def test_time_step_mistakes_fail_before_compiling(no_compile, make_data,
                                                  message, rnn_inputs,
                                                  rnn_classes):
    model = recurrent.Classifier([NUM_INPUTS, (3, 'rnn'), NUM_CLASSES])
    data = make_data(rnn_inputs[:, :STEPS], rnn_classes[:, :STEPS] % 3)
    with pytest.raises(util.DataError, match=message) as error:
        model.train(data, algo='sgd')
    assert 'Shape mismatch' not in str(error.value)
