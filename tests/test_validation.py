"""Tests for theanets.validation: the checks that data given to a model's
methods pass before Theano compiles anything."""

import warnings

import numpy as np
import pytest
import scipy.sparse

from theanets import _data, feedforward, graph, losses, recurrent, util
from theanets import options, validation
from theanets.backend import downhill, TT

from tests.helpers import FakeTrainer, NUM_INPUTS, NUM_OUTPUTS, NUM_CLASSES


@pytest.fixture(scope='module')
def regressor():
    return feedforward.Regressor([NUM_INPUTS, 8, 12, NUM_OUTPUTS])


@pytest.fixture(scope='module')
def clf():
    return feedforward.Classifier([NUM_INPUTS, NUM_CLASSES], weighted=True)


def _with_value(x, index, value):
    """A copy of ``x`` with one entry replaced."""
    x = x.copy()
    x[index] = value
    return x


# ----------------------------------------------------------------------
# prediction inputs


def test_huge_finite_inputs_are_accepted(regressor):
    # Their sum overflows to inf; only real NaN/inf values are errors.
    x = np.full((4, NUM_INPUTS), 3e38, 'f')
    assert regressor.predict(x).shape == (4, NUM_OUTPUTS)
    x[2, 3] = np.inf
    with pytest.raises(graph.DataError, match='1 NaN or infinite'):
        regressor.predict(x)


@pytest.mark.parametrize('rows', [1, validation._SMALL_ARRAY // 7 + 1])
def test_finiteness_check_is_the_same_for_small_and_large_arrays(rows):
    # Small arrays are checked element by element, large ones through their
    # sum first; both accept huge finite values (without an overflow
    # warning) and report the same errors.
    x = np.full((rows, 7), 3e38, 'f')
    assert (x.size > validation._SMALL_ARRAY) == (rows > 1)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        validation.check_finite('x', x, x.shape)
    x[0, 1], x[-1, 5] = np.nan, -np.inf
    with pytest.raises(graph.DataError, match=r'x: expected finite values, '
                       r'got 2 NaN or infinite value\(s\) \(e.g. nan\) in '
                       r'an array of shape \({}, 7\)'.format(rows)):
        validation.check_finite('x', x, x.shape)


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


@pytest.mark.parametrize('make_x, message', [
    (lambda x: x[:, :3], r'x: expected a 2-D array of shape \(N, 7\).*got '
                         r'an array of shape \(64, 3\)'),
    (lambda x: x[0], r'got a 1-D array of shape \(7,\)'),
    (lambda x: x[None], 'got a 3-D array'),
    (lambda x: x[:0], r'x: expected at least one example, got an empty '
                      r'array of shape \(0, 7\)'),
    (lambda x: np.array([['x'] * NUM_INPUTS]), 'non-numeric'),
    (lambda x: _with_value(x, (3, 2), np.nan),
     r'x: expected finite values, got 1 NaN or infinite'),
    (lambda x: _with_value(x, (0, 0), -np.inf), r'e\.g\. -inf'),
    (lambda x: [[1.0, 2.0], [3.0]], 'x: expected a 2-D array.*got an object '
                                    'that is not an array'),
    (scipy.sparse.csr_matrix, 'scipy.sparse'),
])
def test_predict_rejects_bad_inputs(no_compile, make_x, message, inputs):
    x = make_x(inputs)
    model = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    for call in (model.predict, model.feed_forward):
        with pytest.raises(util.DataError, match=message):
            call(x)
    clf = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    for call in (clf.predict, clf.predict_proba, clf.predict_logit):
        with pytest.raises(util.DataError, match=message):
            call(x)


def test_sparse_non_finite(no_compile):
    model = feedforward.Regressor([dict(form='input', size=3, sparse='csr'),
                                   2])
    x = scipy.sparse.csr_matrix(np.array([[0, np.nan, 1]], 'f'))
    with pytest.raises(util.DataError, match='finite'):
        model.predict(x)


def test_score_checks_targets_and_weights(tiny, inputs, outputs):
    with pytest.raises(util.DataError, match=r'y: expected an array of shape '
                                             r'\(64, 5\).*got shape '
                                             r'\(64, 4\)'):
        tiny.score(inputs, outputs[:, :4])
    with pytest.raises(util.DataError, match=r'w: expected an array of shape '
                                             r'\(64, 5\)'):
        tiny.score(inputs, outputs, outputs[:3])
    bad = outputs.copy()
    bad[1, 1] = np.nan
    with pytest.raises(util.DataError, match='y: expected finite values'):
        tiny.score(inputs, bad)
    with pytest.raises(util.DataError, match='y: expected an array of num'):
        tiny.score(inputs, np.full(outputs.shape, 'a'))
    # the checks leave valid calls as they were
    np.testing.assert_allclose(tiny.score(inputs, outputs),
                               tiny.score(inputs, outputs.tolist()), rtol=1e-6)


def test_classifier_score_keeps_pinned_behaviour():
    # spec 18.7: labels of the wrong shape compare to False, not an error
    model = recurrent.Classifier([NUM_INPUTS, (3, 'rnn'), NUM_CLASSES])
    x = np.zeros((4, 2, NUM_INPUTS), 'f')
    with pytest.warns(DeprecationWarning):
        assert model.score(x, np.zeros(4, 'i'), np.ones(4, 'f')) == 0.0


def test_decode_checks_width(inputs):
    model = feedforward.Autoencoder([NUM_INPUTS, 3, NUM_INPUTS])
    with pytest.raises(util.DataError, match=r'z: expected a 2-D array of '
                                             r'shape \(N, 3\)'):
        model.decode(np.zeros((2, 4), 'f'))
    with pytest.raises(util.DataError, match='finite'):
        model.encode(_with_value(inputs, (3, 2), np.nan))


# ----------------------------------------------------------------------
# training data


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


@pytest.mark.parametrize('make_data, message', [
    (lambda x, y, w: [x, y],
     r"train: expected 3 arrays, one for each of the variables \['in', "
     r"'target', 'weights'\], got 2"),
    (lambda x, y, w: [x, y[:60], w],
     r'train: expected the same number of examples.*64 for "in", 60 for '
     r'"target", 64 for "weights"'),
    (lambda x, y, w: [x[:0], y[:0], w[:0]],
     r'train\[0\]: expected at least one example'),
    (lambda x, y, w: [x, y + NUM_CLASSES, w],
     r'train\[1\]: expected integer class labels in \[0, 6\).*got labels '
     r'from 6 to 11'),
    (lambda x, y, w: [x, y - 2 * NUM_CLASSES, w],
     r'down to -6\), got labels from -12 to -7'),
    (lambda x, y, w: [x, y.astype('f'), w], 'non-integer'),
    (lambda x, y, w: [x, y, w[:, None]], r'train\[2\]: expected a 1-D'),
    (lambda x, y, w: [_with_value(x, (3, 2), np.nan), y, w],
     r'train\[0\]: expected finite'),
    (lambda x, y, w: [x, y, np.where(w > 0.5, np.inf, 1)],
     r'train\[2\]: expected finite'),
    (lambda x, y, w: [x.astype(str), y, w], 'non-numeric'),
])
def test_training_data_rejected(no_compile, clf, make_data, message, inputs,
                                classes, class_weights):
    data = make_data(inputs, classes, class_weights)
    with pytest.raises(util.DataError, match=message):
        clf.train(data, algo='sgd')
    valid_message = message.replace('train', 'valid')
    with pytest.raises(util.DataError, match=valid_message):
        clf.train([inputs, classes, class_weights], data, algo='sgd')


def test_negative_labels_in_range_accepted(clf, inputs, classes,
                                           class_weights):
    # xe/hinge count labels from -n_classes as numpy indices (spec, pinned
    # recurrent classifier data); the check must let them through.
    checked = validation.check_dataset(
        clf, [inputs, classes - NUM_CLASSES, class_weights], 'train', True)
    assert checked[1].min() == classes.min() - NUM_CLASSES


# ----------------------------------------------------------------------
# training data of every kind: callables, iterators, sequences of batches,
# downhill datasets (theanets._data)

#: Text of Theano's own errors, which a DataError must not carry.
THEANO_TEXT = ('Shape mismatch', 'allow_input_downcast', 'Apply node',
               'theano', 'TypeError')


class Batches(object):
    """A re-iterable object of batches (like a Keras Sequence)."""

    def __init__(self, batches):
        self.batches = batches
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        return iter(self.batches)


def _kinds(batches):
    """The same batches as each kind of training data, by kind name."""
    def endless():
        while True:
            yield from batches

    cycle = endless()
    return {
        'callable': lambda: next(cycle),
        'generator': endless(),
        'list of batches': list(batches),
        'iterable': Batches(batches),
        'dataset of a callable': downhill.Dataset(
            lambda: next(cycle), iteration_size=len(batches)),
    }


def _fake_train(model, data, valid=None, **kwargs):
    """The datasets that training ``model`` on ``data`` gives its trainer."""
    opts = options.TrainingOptions(model, 'sgd', kwargs, 13)
    train, valid = _data.prepare_datasets(model, data, valid, opts, True)
    return opts.dataset(train, 'train'), opts.dataset(valid, 'valid')


@pytest.mark.parametrize('data, kind', [
    ([np.zeros((2, 3)), np.zeros((2, 1))], 'arrays'),
    ((np.zeros((2, 3)), [0, 1]), 'arrays'),
    ([[np.zeros((2, 3)), np.zeros((2, 1))]], 'batches'),
    (([np.zeros((2, 3))], (np.zeros((2, 3)),)), 'batches'),
    (np.zeros((2, 3)), 'array'),
    (scipy.sparse.csr_matrix(np.eye(2)), 'array'),
    (lambda: [np.zeros((2, 3))], 'callable'),
    ((x for x in []), 'iterator'),
    (iter([]), 'iterator'),
    (Batches([]), 'batches'),
    (downhill.Dataset([np.zeros((2, 3))]), 'dataset'),
    ('data.npz', None),
    ({'x': np.zeros(3)}, None),
    (3, None),
])
def test_kind_of_data(data, kind):
    assert _data.kind_of(data) == kind


@pytest.mark.parametrize('kind', sorted(_kinds([[]])))
def test_every_kind_is_cast_like_arrays(kind, inputs, classes):
    # float64 inputs, int64 labels: every batch comes out float32/int32
    clf = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    batches = [[inputs[:8].astype('float64'), classes[:8].astype('int64')],
               [inputs[8:16].astype('float64'), classes[8:16].astype('int64')]]
    train, valid = _fake_train(clf, _kinds(batches)[kind], iteration_size=2)
    seen = [batch for batch in train] + [batch for batch in train]
    assert len(seen) == 4
    for (x, y), (want_x, want_y) in zip(seen, batches + batches):
        assert x.dtype == util.FLOAT and y.dtype == np.int32
        np.testing.assert_allclose(x, want_x, rtol=1e-6)
        np.testing.assert_array_equal(y, want_y)


def test_float64_dataset_of_arrays_is_cast_per_batch(inputs, outputs, tiny):
    data = downhill.Dataset([inputs.astype('float64'), outputs], batch_size=16,
                            rng=3)
    train, valid = _fake_train(tiny, data)
    assert train is valid and train is not data
    assert train.iteration_size == 4 and train.name == 'train'
    batches = list(train)
    assert len(batches) == 4
    assert all(x.dtype == util.FLOAT and x.shape == (16, NUM_INPUTS)
               for x, _ in batches)


def test_callable_keeps_downhill_batch_count(tiny, inputs, outputs):
    calls = []

    def sample():
        calls.append(1)
        return [inputs[:4], outputs[:4]]

    train, valid = _fake_train(tiny, sample)
    assert isinstance(train, downhill.Dataset)
    assert train.iteration_size == 100  # downhill's default for callables
    assert len(calls) == 1  # the first batch was checked before training
    assert len(list(train)) == 100
    assert len(calls) == 100  # ... and then handed to the first epoch


def test_sized_callable_gives_its_length(tiny, inputs, outputs):
    class Sampler(object):
        def __len__(self):
            return 3

        def __call__(self):
            return [inputs[:4], outputs[:4]]

    train, _ = _fake_train(tiny, Sampler())
    assert train.iteration_size == 3 and len(list(train)) == 3


def test_sequence_of_batches_is_one_pass_per_epoch(tiny, inputs, outputs):
    source = Batches([[inputs[:5], outputs[:5]], [inputs[5:], outputs[5:]]])
    train, valid = _fake_train(tiny, source)
    assert train is valid
    assert [len(x) for x, _ in train] == [5, 59]
    assert [len(x) for x, _ in train] == [5, 59]
    assert source.passes == 2  # the first pass served the check and epoch 1


def test_sequence_of_batches_with_iteration_size_cycles(tiny, inputs,
                                                        outputs):
    batches = [[inputs[:i + 1], outputs[:i + 1]] for i in range(3)]
    train, _ = _fake_train(tiny, batches, train_batches=2)
    epochs = [[len(x) for x, _ in train] for _ in range(3)]
    assert epochs == [[1, 2], [3, 1], [2, 3]]


def test_generator_needs_a_batch_count(no_compile, tiny, inputs, outputs):
    batches = ([inputs, outputs] for _ in range(3))
    with pytest.raises(util.ConfigurationError,
                       match=r'train: an iterator \(generator\) gives each '
                             r'batch once.*iteration_size=N \(or '
                             r'train_batches=N\)'):
        tiny.train(batches, algo='sgd')


def test_generator_that_runs_out(tiny, inputs, outputs):
    stream = ([inputs[:4], outputs[:4]] for _ in range(3))
    train, valid = _fake_train(tiny, stream, [inputs, outputs],
                               train_batches=2)
    assert len(list(train)) == 2
    with pytest.raises(util.DataError,
                       match=r'train: the iterator \(generator\) ran out of '
                             r'batches after 3 \(2 per epoch\).*endless.*'
                             r'max_updates'):
        list(train)


def test_iterable_that_reads_once(tiny, inputs, outputs):
    class Once(object):
        def __init__(self):
            self.items = iter([[inputs, outputs]])

        def __iter__(self):
            return self.items

    train, _ = _fake_train(tiny, Once())
    assert len(list(train)) == 1
    with pytest.raises(util.DataError, match='gave no batches when read '
                                             'again'):
        list(train)


@pytest.mark.parametrize('data, message', [
    ([], r"train: expected a list of arrays, one for each of the variables "
         r"\['in', 'target'\], got an empty list"),
    (Batches([]), r'train: the iterable Batches gave no batches'),
    ('train.npz', r'train: expected a list of arrays.*got str'),
    ({'in': 1}, r'train: expected a list of arrays.*got dict'),
    (lambda: 'batch', r'train \(batch 0\): expected a batch, a list of '
                      r'arrays one for each of the variables \[.in., '
                      r'.target.\], got str'),
    (lambda: iter([]), r'got list_iterator; to train on a generator'),
])
def test_unusable_data(no_compile, tiny, data, message):
    with pytest.raises(util.DataError, match=message):
        tiny.train(data, algo='sgd')


def test_lists_of_lists_are_batches_with_a_hint(no_compile, tiny, inputs,
                                                outputs):
    with pytest.raises(util.DataError,
                       match=r"train \(batch 0\): expected 2 arrays.*got 64 "
                             r"\(train is a list of lists or tuples, so it is "
                             r"read as a sequence of batches"):
        tiny.train([inputs.tolist(), outputs.tolist()], algo='sgd')


def test_lone_array_batches_for_one_variable(inputs):
    model = feedforward.Autoencoder([NUM_INPUTS, 3, NUM_INPUTS])
    train, _ = _fake_train(model, lambda: inputs.astype('float64'))
    (x,), = [next(iter(train))]
    assert x.dtype == util.FLOAT and x.shape == inputs.shape


@pytest.mark.parametrize('kind', sorted(_kinds([[]])))
def test_bad_first_batch_fails_before_compiling(no_compile, kind, tiny,
                                                inputs, outputs):
    batches = [[inputs, outputs[:, :3]]] * 2
    with pytest.raises(util.DataError) as error:
        tiny.train(_kinds(batches)[kind], algo='sgd', iteration_size=2)
    message = str(error.value)
    assert message.startswith('train[1] (batch 0): expected a 2-D array of '
                              'shape (N, 5) with dtype float32 for "target", '
                              'got an array of shape (64, 3)')
    assert not any(text in message for text in THEANO_TEXT)


@pytest.mark.parametrize('kind', sorted(_kinds([[]])))
def test_later_bad_batch_is_named(kind, tiny, inputs, outputs):
    bad = outputs.copy()
    bad[3, 1] = np.nan
    batches = [[inputs, outputs], [inputs, outputs], [inputs, bad]]
    with pytest.raises(util.DataError,
                       match=r'train\[1\] \(batch 2\): expected finite '
                             r'values, got 1 NaN'):
        # a list of batches is checked at once, the others as they are read
        train, _ = _fake_train(tiny, _kinds(batches)[kind], iteration_size=3)
        assert kind != 'list of batches'
        list(train)


def test_bad_validation_batches(no_compile, clf, inputs, classes,
                                class_weights):
    good = [inputs, classes, class_weights]
    stream = ([inputs, classes + NUM_CLASSES, class_weights]
              for _ in range(5))
    with pytest.raises(util.DataError,
                       match=r'valid\[1\] \(batch 0\): expected integer class '
                             r'labels in \[0, 6\)'):
        clf.train(good, stream, algo='sgd', valid_batches=1)
    with pytest.raises(util.DataError,
                       match=r'valid \(batch 0\): expected 3 arrays'):
        clf.train(good, lambda: good[:2], algo='sgd')


@pytest.mark.parametrize('make_data, message', [
    (lambda x, y, w: [x, y[:, :2], w],
     r'train\[1\]: expected a 2-D array of shape \(N, 5\) with dtype float32 '
     r'for "target", got an array of shape \(64, 2\)'),
    (lambda x, y, w: [x, y, w[:, :2]],
     r'train\[2\]: expected a 2-D array of shape \(N, 5\) with dtype float32 '
     r'for "weights", got an array of shape \(64, 2\)'),
    (lambda x, y, w: [x, y, w[:, :, None]],
     r'train\[2\]: expected a 2-D array.*got a 3-D array'),
])
def test_target_and_weight_widths(no_compile, make_data, message, inputs,
                                  outputs, output_weights):
    model = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS], weighted=True)
    data = make_data(inputs, outputs, output_weights)
    with pytest.raises(util.DataError, match=message):
        model.train(data, algo='sgd')
    with pytest.raises(util.DataError,
                       match=message.replace('train', 'valid')):
        model.train([inputs, outputs, output_weights], data, algo='sgd')


def test_classifier_weights_follow_the_labels(no_compile, clf, inputs,
                                              classes, class_weights):
    with pytest.raises(util.DataError, match=r'train\[2\]: expected a 1-D '
                                             r'array of shape \(N,\)'):
        clf.train([inputs, classes, np.ones((64, 2), 'f')], algo='sgd')


def test_autoencoder_weights_follow_the_inputs(no_compile, inputs,
                                               input_weights):
    model = feedforward.Autoencoder([NUM_INPUTS, 3, NUM_INPUTS],
                                    weighted=True)
    with pytest.raises(util.DataError, match=r'train\[1\]: expected a 2-D '
                                             r'array of shape \(N, 7\).*'
                                             r'for "weights"'):
        model.train([inputs, input_weights[:, :4]], algo='sgd')


@pytest.mark.parametrize('model, make_data, message', [
    (lambda: recurrent.Regressor([NUM_INPUTS, (3, 'rnn'), NUM_OUTPUTS]),
     lambda x, y, c: [x[:, :0], y[:, :0]],
     r'train: expected at least one time step for "in" \(axis 1 of a '
     r'recurrent model.s arrays\), got an array of shape \(64, 0, 7\)'),
    (lambda: recurrent.Regressor([NUM_INPUTS, (3, 'rnn'), NUM_OUTPUTS]),
     lambda x, y, c: [x, y[:, :30]],
     r'train: expected the same number of time steps \(length of axis 1\) '
     r'in every array of a recurrent model, got 31 for "in", 30 for '
     r'"target"'),
    (lambda: recurrent.Regressor([NUM_INPUTS, (3, 'rnn'), NUM_OUTPUTS]),
     lambda x, y, c: [x, y[:, :, :2]],
     r'train\[1\]: expected a 3-D array of shape \(N, \?, 5\)'),
    (lambda: recurrent.Classifier([NUM_INPUTS, (3, 'rnn'), NUM_CLASSES]),
     lambda x, y, c: [x, c[:, :5] % NUM_CLASSES],
     r'got 31 for "in", 5 for "target"'),
    (lambda: recurrent.Autoencoder([NUM_INPUTS, (3, 'rnn'), NUM_INPUTS],
                                   weighted=True),
     lambda x, y, c: [x, abs(x[:, :3])],
     r'got 31 for "in", 3 for "weights"'),
])
def test_recurrent_time_steps(no_compile, model, make_data, message,
                              rnn_inputs, rnn_outputs, rnn_classes):
    net = model()
    data = make_data(rnn_inputs, rnn_outputs, rnn_classes)
    with pytest.raises(util.DataError, match=message) as error:
        net.train(data, algo='sgd')
    assert not any(text in str(error.value) for text in THEANO_TEXT)
    good = [rnn_inputs]
    for var in net.variables[1:]:
        if var.dtype.startswith('int'):
            good.append(rnn_classes % NUM_CLASSES)
        elif var.name == 'weights':
            good.append(np.ones_like(good[-1], dtype='f'))
        else:
            good.append(rnn_outputs)
    valid_message = message.replace('train', 'valid')
    with pytest.raises(util.DataError, match=valid_message):
        net.train(good, data, algo='sgd')


def test_messages_never_hold_the_values(no_compile, tiny, inputs, outputs):
    with pytest.raises(util.DataError) as error:
        tiny.train(lambda: [inputs.astype('float64'),
                            outputs[:, :2].astype('float64')], algo='sgd')
    assert len(str(error.value)) < 300 and '[[' not in str(error.value)


def test_target_shapes_of_the_losses():
    reg = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS], weighted=True)
    assert {v.name: s for v, s in validation.target_shapes(reg).items()} == \
        {'target': (NUM_OUTPUTS,), 'weights': (NUM_OUTPUTS,)}
    rnn = recurrent.Classifier([NUM_INPUTS, (3, 'rnn'), NUM_CLASSES])
    assert {v.name: s for v, s in validation.target_shapes(rnn).items()} == \
        {'target': (None,)}
    # a loss of the user's is held to its number of dimensions only
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    net.set_loss(SignMismatch(target=2))
    assert validation.target_shapes(net) == {}


class SignMismatch(losses.Loss):
    """A user's loss: how often output and target differ in sign."""

    def __call__(self, outputs):
        out = outputs[self.output_name]
        return TT.neq(TT.sgn(out), TT.sgn(self._target)).mean()


def test_callable_that_stops(tiny, inputs, outputs):
    batches = iter([[inputs, outputs]] * 2)
    train, _ = _fake_train(tiny, lambda: next(batches), [inputs, outputs])
    with pytest.raises(util.DataError,
                       match=r'train: the callable \(function\) raised '
                             r'StopIteration after 2 batches'):
        list(train)


def test_float32_dataset_of_arrays_checked_once(no_compile, tiny, inputs,
                                                outputs):
    # passed on as it is (test_options pins that), but its arrays are
    # checked: its batches are slices of them
    data = downhill.Dataset([inputs, outputs[:, :2]], batch_size=16)
    with pytest.raises(util.DataError,
                       match=r'train\[1\]: expected a 2-D array of shape '
                             r'\(N, 5\).*got an array of shape \(64, 2\)'):
        tiny.train(data, algo='sgd')
