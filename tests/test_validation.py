"""Tests for theanets.validation: the checks that data given to a model's
methods pass before Theano compiles anything."""

import numpy as np
import pytest
import scipy.sparse

from theanets import feedforward, graph, recurrent, util, validation

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
