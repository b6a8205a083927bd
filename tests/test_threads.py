"""Models used from several threads, and the bounded function cache."""

import sys
import threading

import numpy as np
import pytest

import theanets
from theanets.exceptions import TrainingError


def run_threads(count, target):
    errors = []

    def guarded(index):
        try:
            target(index)
        except BaseException as e:  # reported by the test, not the thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,))
               for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def feedforward_case():
    rng = np.random.RandomState(1)
    model = theanets.Regressor([5, (8, 'tanh'), 3], rng=2)
    inputs = [rng.randn(rng.randint(1, 9), 5).astype('f') for _ in range(40)]
    return model, inputs


def recurrent_case():
    rng = np.random.RandomState(1)
    model = theanets.recurrent.Regressor(
        [5, dict(form='lstm', size=6), 3], rng=2)
    inputs = [rng.randn(rng.randint(1, 4), rng.randint(1, 6), 5).astype('f')
              for _ in range(40)]
    return model, inputs


def concurrent_predictions(model, inputs, threads, calls):
    # before: raw Theano errors ("Multiple values for input: in"), wrong
    # answers, and for recurrent models a C assertion aborting the process
    serial = [model.predict(x) for x in inputs]
    wrong = []

    def work(seed):
        rng = np.random.RandomState(seed)
        for _ in range(calls):
            i = rng.randint(len(inputs))
            if not np.array_equal(model.predict(inputs[i]), serial[i]):
                wrong.append(i)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        errors = run_threads(threads, work)
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert wrong == []


@pytest.mark.parametrize('case', [feedforward_case, recurrent_case])
def test_predictions_from_threads_match_serial_ones(case):
    model, inputs = case()
    concurrent_predictions(model, inputs, threads=4, calls=100)


@pytest.mark.slow
@pytest.mark.parametrize('case', [feedforward_case, recurrent_case])
def test_stress_8_threads_2000_predictions(case):
    model, inputs = case()
    concurrent_predictions(model, inputs, threads=8, calls=2000)


def test_first_compile_from_many_threads():
    # every thread asks for a function that is not compiled yet
    model, inputs = feedforward_case()
    results = {}

    def work(index):
        outputs = model.feed_forward(inputs[0])
        results[index] = (model.predict(inputs[0]), outputs['hid1:out'])

    assert run_threads(6, work) == []
    # compiled once, under the lock; its outputs serve predict too
    assert len(model._functions) == 1
    expected = (model.predict(inputs[0]),
                model.feed_forward(inputs[0])['hid1:out'])
    for predicted, hidden in results.values():
        np.testing.assert_array_equal(predicted, expected[0])
        np.testing.assert_array_equal(hidden, expected[1])


def train_one(seed):
    rng = np.random.RandomState(seed)
    x = rng.randn(64, 4).astype('f')
    y = rng.randn(64, 2).astype('f')
    model = theanets.Regressor([4, (5, 'tanh'), 2], rng=seed)
    model.train([x, y], algo='sgd', batch_size=16, max_updates=4,
                learning_rate=0.01, rng=seed)
    return model.predict(x)


def test_separate_models_train_in_threads_as_in_series():
    # before: CachedConstantError / AssertionError in Theano's optimizer
    seeds = range(4)
    serial = {seed: train_one(seed) for seed in seeds}
    parallel = {}

    def work(index):
        parallel[index] = train_one(index)

    assert run_threads(4, work) == []
    for seed in seeds:
        np.testing.assert_array_equal(parallel[seed], serial[seed])


def test_one_model_trained_from_two_threads_is_refused():
    rng = np.random.RandomState(3)
    x = rng.randn(32, 4).astype('f')
    y = rng.randn(32, 2).astype('f')
    model = theanets.Regressor([4, 2])
    started, release = threading.Event(), threading.Event()

    def first(_):
        for i, _ in enumerate(model.itertrain([x, y], algo='sgd',
                                              max_updates=3)):
            if i == 0:
                started.set()
                release.wait(60)

    thread = threading.Thread(target=first, args=(None,))
    thread.start()
    try:
        assert started.wait(120)
        with pytest.raises(TrainingError, match='cannot train this Regressor '
                           'in this thread: another thread is training it'):
            model.train([x, y], algo='sgd', max_updates=1)
    finally:
        release.set()
        thread.join()
    # once the first thread is done, any thread may train it
    assert run_threads(1, lambda _: model.train([x, y], algo='sgd',
                                                max_updates=1)) == []


def test_same_thread_may_nest_training():
    x = np.ones((8, 3), 'f')
    model = theanets.Regressor([3, 2])
    outer = model.itertrain([x, x[:, :2]], algo='sgd', max_updates=2)
    next(outer)
    model.train([x, x[:, :2]], algo='sgd', max_updates=1)
    outer.close()


def test_function_cache_is_bounded(monkeypatch):
    # before: each distinct regularizer value kept one more function
    monkeypatch.setattr(theanets.Network, 'function_cache_size', 3)
    model = theanets.Regressor([3, 4, 2])
    x = np.ones((2, 3), 'f')
    clean = model.predict(x)
    for noise in np.linspace(0.1, 0.8, 8):
        model.predict(x, hidden_noise=noise)
        assert len(model._functions) <= 3
        assert len(model._graphs) <= 3
    # the least recently used were dropped; answers are unchanged
    np.testing.assert_array_equal(model.predict(x), clean)


def test_cross_val_score_with_threads_matches_serial():
    # before: a NaN fold with parallel_backend('threading')
    import joblib
    from sklearn.model_selection import cross_val_score
    from theanets.estimators import TheanetsClassifier
    rng = np.random.RandomState(0)
    x = rng.randn(80, 4).astype('f')
    y = (x[:, 0] > 0).astype('int32')
    estimator = TheanetsClassifier(hidden_layers=(5,), max_updates=20,
                                   random_state=3)
    serial = cross_val_score(estimator, x, y, cv=4)
    with joblib.parallel_backend('threading', n_jobs=4):
        threaded = cross_val_score(estimator, x, y, cv=4)
    assert np.isfinite(threaded).all()
    np.testing.assert_array_equal(threaded, serial)
