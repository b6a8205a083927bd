"""Reliability: input validation, training faults and safe persistence."""

import gzip
import io
import os
import pickle

import downhill
import numpy as np
import pytest
import scipy.sparse

from theanets import feedforward, graph, recurrent, trainer, util, validation
import theano

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS, NUM_CLASSES


def test_data_error_is_shared():
    assert graph.DataError is util.DataError
    assert issubclass(util.DataError, ValueError)
    assert issubclass(util.DataError, util.Error)
    assert issubclass(util.TrainingError, ValueError)
    assert issubclass(util.ModelFileError, ValueError)
    assert issubclass(util.MissingModelFileError, FileNotFoundError)


@pytest.fixture(scope='module')
def reg():
    return feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])


@pytest.fixture(scope='module')
def clf():
    return feedforward.Classifier([NUM_INPUTS, NUM_CLASSES], weighted=True)


def _with_value(x, index, value):
    """A copy of ``x`` with one entry replaced."""
    x = x.copy()
    x[index] = value
    return x


# ----------------------------------------------------------------------
# prediction-time data checks (before any compilation)

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


def test_score_checks_targets_and_weights(reg, inputs, outputs):
    with pytest.raises(util.DataError, match=r'y: expected an array of shape '
                                             r'\(64, 5\).*got shape '
                                             r'\(64, 4\)'):
        reg.score(inputs, outputs[:, :4])
    with pytest.raises(util.DataError, match=r'w: expected an array of shape '
                                             r'\(64, 5\)'):
        reg.score(inputs, outputs, outputs[:3])
    bad = outputs.copy()
    bad[1, 1] = np.nan
    with pytest.raises(util.DataError, match='y: expected finite values'):
        reg.score(inputs, bad)
    with pytest.raises(util.DataError, match='y: expected an array of num'):
        reg.score(inputs, np.full(outputs.shape, 'a'))
    # the checks leave valid calls as they were
    np.testing.assert_allclose(reg.score(inputs, outputs),
                               reg.score(inputs, outputs.tolist()), rtol=1e-6)


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
# training data and keyword checks (before any compilation)

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


@pytest.mark.parametrize('key, value, expected', [
    ('batch_size', 0, 'a positive integer'),
    ('batch_size', -3, 'a positive integer'),
    ('batch_size', 2.5, 'a positive integer'),
    ('iteration_size', 0, 'a positive integer'),
    ('train_batches', -1, 'a positive integer'),
    ('validate_every', 0, 'a positive integer'),
    ('patience', -1, 'a non-negative integer'),
    ('max_updates', -5, 'a non-negative integer'),
    ('learning_rate', -0.1, 'a non-negative finite number'),
    ('learning_rate', float('nan'), 'a non-negative finite number'),
    ('learning_rate', 'fast', 'a non-negative finite number'),
    ('momentum', 1.5, r'a number in \[0, 1\)'),
    ('min_improvement', -1, 'a non-negative finite number'),
    ('max_gradient_norm', -1, 'a non-negative finite number'),
    ('save_every', -2, r'a non-negative int \(iterations\) or float '
                       r'\(minutes\)'),
])
def test_bad_training_keywords(no_compile, reg, key, value, expected, inputs,
                               outputs):
    with pytest.raises(util.ConfigurationError,
                       match='{}: expected {}, got'.format(key, expected)):
        reg.train([inputs, outputs], algo='sgd', **{key: value})


def test_unknown_algorithm_lists_known_names(no_compile, reg, inputs, outputs):
    with pytest.raises(util.UnknownNameError, match='known names are: '
                                                    'adadelta, adagrad, adam'):
        reg.train([inputs, outputs], algo='bogus')


# ----------------------------------------------------------------------
# constructor checks

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


@pytest.mark.parametrize('kwargs, message', [
    (dict(layers=5), r'layers: expected a sequence of layer specifications'),
    (dict(layers='abc'), r"layers: expected a sequence.*got 'abc'"),
    (dict(layers=[3, 2], rng='seed'), r"rng: expected an int seed, None or "
                                      r"a numpy.random.RandomState, got "
                                      r"'seed' of type str"),
    (dict(layers=[3, 2], rng=1.5), 'got 1.5 of type float'),
])
def test_bad_constructor_arguments(no_compile, kwargs, message):
    with pytest.raises(util.ConfigurationError, match=message):
        feedforward.Regressor(**kwargs)


def test_unknown_loss_lists_known_names(no_compile):
    with pytest.raises(util.UnknownNameError, match='known names are: .*mse'):
        feedforward.Regressor([3, 2], loss='bogus')


# ----------------------------------------------------------------------
# training faults


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
    # the trainers' internal check behind the TrainingError above
    finite = theano.shared(np.ones(2, util.FLOAT), name='a')
    broken = theano.shared(np.array([1, np.inf], util.FLOAT), name='b')
    assert trainer._non_finite(({'loss': 1.0}, {'loss': 2.0}),
                               [finite]) is None
    assert trainer._non_finite(({'loss': 1.0}, {'loss': np.nan}), [finite]) \
        == "the validation monitor 'loss' (nan)"
    assert trainer._non_finite(({'loss': 1.0, 'err': -np.inf}, {}), []) \
        == "the training monitor 'err' (-inf)"
    assert trainer._non_finite(({'loss': 1.0}, {'loss': 1.0}),
                               [finite, broken]) == "parameter 'b'"
    assert trainer._non_finite('not a pair', [finite]) is None


def test_keyboard_interrupt_in_step_keeps_best(monkeypatch, inputs, outputs):
    # An interrupt inside an optimizer step is simulated by wrapping
    # downhill's internal Optimizer._step; its _best_params are the
    # parameters the optimizer restores.
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    original = downhill.base.Optimizer._step
    calls = []
    best = []

    def step(self, dataset):
        calls.append(1)
        if len(calls) == 4:
            best.append([p.copy() for p in self._best_params])
            raise KeyboardInterrupt
        return original(self, dataset)

    monkeypatch.setattr(downhill.base.Optimizer, '_step', step)
    result = net.train([inputs, outputs], algo='sgd', batch_size=64,
                       learning_rate=0.01, validate_every=2,
                       min_improvement=0)
    assert len(calls) == 4
    train, valid = result
    assert np.isfinite(train['loss'])
    for value, param in zip(best[0], net.params):
        np.testing.assert_array_equal(param.get_value(), value)
    assert net.predict(inputs).shape == outputs.shape


def test_keyboard_interrupt_between_epochs_restores_best(inputs, outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    algo = trainer.DownhillTrainer('sgd', net)
    dataset = downhill.Dataset([inputs, outputs], batch_size=64)
    start = [p.get_value() for p in net.params]
    pairs = algo.itertrain(dataset, dataset, learning_rate=0.01,
                           validate_every=100)
    next(pairs)
    next(pairs)
    assert not np.array_equal(net.params[0].get_value(), start[0])
    with pytest.raises(StopIteration):
        pairs.throw(KeyboardInterrupt)
    # only the first validation happened: the best parameters are the
    # initial ones
    for value, param in zip(start, net.params):
        np.testing.assert_array_equal(param.get_value(), value)


def test_keyboard_interrupt_thrown_into_itertrain_restores_best(inputs,
                                                                outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    start = [p.get_value() for p in net.params]
    pairs = net.itertrain([inputs, outputs], algo='sgd', batch_size=64,
                          learning_rate=0.01, validate_every=100)
    next(pairs)
    next(pairs)
    assert not np.array_equal(net.params[0].get_value(), start[0])
    with pytest.raises(StopIteration):
        pairs.throw(KeyboardInterrupt)
    for value, param in zip(start, net.params):
        np.testing.assert_array_equal(param.get_value(), value)
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


# ----------------------------------------------------------------------
# persistence


@pytest.mark.parametrize('name', ['m.pkl', 'm.pkl.gz', 'm.npz'])
def test_failed_save_leaves_existing_file(monkeypatch, tmpdir, name, inputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    path = os.path.join(str(tmpdir), name)
    net.save(path)
    with open(path, 'rb') as handle:
        before = handle.read()

    def broken(obj, handle, *args, **kwargs):
        handle.write(b'partial data')
        raise OSError('disk full')

    def broken_savez(handle, **arrays):
        broken(None, handle)

    monkeypatch.setattr(pickle, 'dump', broken)
    monkeypatch.setattr(np, 'savez', broken_savez)
    with pytest.raises(OSError, match='disk full'):
        net.save(path)
    with open(path, 'rb') as handle:
        assert handle.read() == before
    assert os.listdir(str(tmpdir)) == [name]
    monkeypatch.undo()
    assert np.array_equal(graph.Network.load(path).predict(inputs),
                          net.predict(inputs))


def test_interrupted_save_progress_is_never_half_written(monkeypatch, tmpdir,
                                                         inputs, outputs):
    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    path = os.path.join(str(tmpdir), 'progress.pkl')
    net.save(path)
    with open(path, 'rb') as handle:
        before = handle.read()
    real_dump = pickle.dump
    seen = []

    def slow(obj, handle, *args):
        real_dump(obj, handle, *args)
        # the new data are complete in the temporary file, but the target
        # still holds the old model until the rename
        with open(path, 'rb') as target:
            seen.append(target.read() == before)
        raise KeyboardInterrupt

    monkeypatch.setattr(pickle, 'dump', slow)
    net.train([inputs, outputs], algo='sgd', batch_size=64, max_updates=3,
              save_every=1, save_progress=path)
    assert seen == [True]
    assert os.listdir(str(tmpdir)) == ['progress.pkl']
    with open(path, 'rb') as handle:
        assert handle.read() == before
    monkeypatch.undo()
    assert isinstance(graph.Network.load(path), feedforward.Regressor)


def test_new_file_mode_follows_umask(tmpdir):
    path = os.path.join(str(tmpdir), 'm.pkl')
    old = os.umask(0o022)
    try:
        feedforward.Regressor([2, 1]).save(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_load_errors(tmpdir):
    d = str(tmpdir)
    missing = os.path.join(d, 'missing.pkl')
    with pytest.raises(FileNotFoundError, match='no such file'):
        graph.Network.load(missing)
    with pytest.raises(util.ModelFileError, match='missing.pkl'):
        graph.Network.load(missing)

    good = os.path.join(d, 'good.pkl')
    feedforward.Regressor([2, 1]).save(good)
    with open(good, 'rb') as handle:
        data = handle.read()

    def write(name, content, opener=open):
        path = os.path.join(d, name)
        with opener(path, 'wb') as handle:
            handle.write(content)
        return path

    cases = [
        (write('truncated.pkl', data[:len(data) // 2]),
         'truncated or corrupt'),
        (write('truncated.pkl.gz', gzip.compress(data)[:40]),
         'truncated or corrupt'),
        (write('junk.pkl', b'\x00\x01 no pickle'), 'truncated or corrupt'),
        (write('junk.pkl.gz', b'not gzip at all'), 'truncated or corrupt'),
        (write('empty.pkl', b''), 'the file is empty'),
        (write('dict.pkl', pickle.dumps({'layers': []})),
         'holds a dict, not a theanets model'),
        (write('array.pkl.gz', pickle.dumps(np.zeros(3)), gzip.open),
         'holds a ndarray'),
        (write('unknown.pkl', b'\x80\x02ctheanets\nBogus\n.'),
         'refers to a name this installation does not have'),
    ]
    for path, message in cases:
        with pytest.raises(util.ModelFileError, match=message):
            graph.Network.load(path)
    with pytest.raises(util.ModelFileError, match='allow_pickle is False'):
        graph.Network.load(good, allow_pickle=False)
    with pytest.raises(util.ModelFileError, match='truncated'):
        graph.Network.load(io.BytesIO(data[:10]))


def test_pickle_round_trip_predicts_exactly_and_trains(tmpdir, inputs,
                                                       classes):
    net = feedforward.Classifier([NUM_INPUTS, (4, 'tanh'), NUM_CLASSES])
    path = os.path.join(str(tmpdir), 'clf.pkl.gz')
    net.save(path)
    loaded = graph.Network.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(inputs),
                                  net.predict_proba(inputs))
    train, _ = loaded.train([inputs, classes], algo='sgd', max_updates=1,
                            batch_size=64)
    assert np.isfinite(train['loss'])
