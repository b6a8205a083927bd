"""Tests of the scikit-learn estimators in :mod:`theanets.estimators`."""

import pickle

import numpy as np
import pytest

import theanets  # configures Theano before scikit-learn is imported

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from theanets import _estimator_base
from theanets.estimators import (
    TheanetsAutoencoder, TheanetsClassifier, TheanetsRegressor)


def small(cls, **kwargs):
    """A cheap instance for the estimator checks."""
    options = dict(hidden_layers=(4,), learning_rate=0.02, max_updates=40,
                   random_state=0)
    options.update(kwargs)
    return cls(**options)


CHECKED = [small(TheanetsClassifier), small(TheanetsRegressor),
           small(TheanetsAutoencoder, hidden_layers=(2,))]


def _blobs(n=60, seed=0):
    """Three separable clusters in 2-D with string labels."""
    rng = np.random.RandomState(seed)
    labels = np.array(['ant', 'bee', 'cat'])
    y = labels[np.arange(n) % 3]
    centers = np.array([[2, 0], [-2, 2], [0, -2]])
    X = centers[np.arange(n) % 3] + 0.3 * rng.randn(n, 2)
    return X, y


try:  # scikit-learn >= 1.6 takes the known failures here, not from tags
    _CHECKS = parametrize_with_checks(
        CHECKED,
        expected_failed_checks=lambda est: _estimator_base._XFAIL_CHECKS)
except TypeError:
    _CHECKS = parametrize_with_checks(CHECKED)


def _unmark_ones_kind(case):
    """Drop the expected-failure mark of check_sample_weights_invariance's
    ``kind='ones'`` variant (scikit-learn < 1.6 marks both variants by
    name, but only ``kind='zeros'`` is a genuine limitation)."""
    values = getattr(case, 'values', None)
    if values and getattr(values[1], 'keywords', {}).get('kind') == 'ones':
        return pytest.param(*values, id=case.id)
    return case


# parametrize_with_checks passes a generator, which pytest deprecates
_CHECKS = pytest.mark.parametrize(
    _CHECKS.args[0], [_unmark_ones_kind(c) for c in _CHECKS.args[1]],
    **_CHECKS.kwargs)


@_CHECKS
def test_sklearn_estimator_checks(estimator, check):
    # About a minute warm: run by default so CI holds the estimators to
    # scikit-learn's conventions.
    check(estimator)


def test_import_error_names_the_extra(monkeypatch):
    import builtins
    import importlib
    import sys
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith('sklearn'):
            raise ImportError('no sklearn here')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    monkeypatch.delitem(sys.modules, 'theanets.estimators')
    monkeypatch.delitem(sys.modules, 'theanets._estimator_base')
    with pytest.raises(ImportError, match=r"theanets\[sklearn\]"):
        importlib.import_module('theanets.estimators')


def test_string_labels_and_fitted_attributes():
    X, y = _blobs()
    clf = TheanetsClassifier(hidden_layers=(6,), learning_rate=0.02,
                             max_updates=30, random_state=1)
    assert clf.fit(X, y) is clf
    np.testing.assert_array_equal(clf.classes_, ['ant', 'bee', 'cat'])
    assert clf.n_features_in_ == 2
    assert isinstance(clf.network_, theanets.Classifier)
    assert [layer.output_shape for layer in clf.network_.layers] == \
        [(2,), (6,), (3,)]
    assert clf.n_iter_ == len(clf.history_) == 30
    assert set(clf.history_[0][0]) >= {'loss', 'err', 'acc'}
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    predicted = clf.predict(X)
    np.testing.assert_array_equal(predicted, clf.classes_[proba.argmax(1)])
    assert clf.score(X, y) == 1.0


def test_labels_that_are_not_0_to_n():
    X, y = _blobs()
    numbers = np.array([-5, 10, 7])[np.searchsorted(['ant', 'bee', 'cat'], y)]
    clf = TheanetsClassifier(hidden_layers=(6,), learning_rate=0.02,
                             max_updates=30, random_state=1).fit(X, numbers)
    np.testing.assert_array_equal(clf.classes_, [-5, 7, 10])
    assert set(clf.predict(X)) == {-5, 7, 10}
    assert clf.score(X, numbers) == 1.0


def test_fit_is_reproducible_with_random_state_and_varies_without():
    X, y = _blobs()
    one = small(TheanetsClassifier, max_updates=3, random_state=5).fit(X, y)
    two = small(TheanetsClassifier, max_updates=3, random_state=5).fit(X, y)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    other = small(TheanetsClassifier, max_updates=3, random_state=6).fit(X, y)
    assert not np.allclose(one.predict_proba(X), other.predict_proba(X))


def test_params_reach_the_network_and_trainer():
    X, y = _blobs()
    clf = TheanetsClassifier(
        hidden_layers=(5, (3, 'tanh')), activation='sigmoid', max_updates=2,
        batch_size=7, validation_fraction=0.25, random_state=0,
        train_kwargs=dict(weight_l2=0.1, monitors={'hid1:out': (0.5,)}))
    clf.fit(X, y)
    hid1, hid2 = clf.network_.layers[1:3]
    assert (hid1.output_shape, hid1.kwargs['activation']) == ((5,), 'sigmoid')
    assert (hid2.output_shape, hid2.kwargs['activation']) == ((3,), 'tanh')
    assert 'hid1:out<0.5' in clf.history_[0][0]
    assert clf.n_iter_ == 2
    # train_kwargs is not modified by fit (scikit-learn convention)
    assert clf.train_kwargs == dict(weight_l2=0.1,
                                    monitors={'hid1:out': (0.5,)})


def test_bad_validation_fraction_and_train_kwargs():
    X, y = _blobs()
    with pytest.raises(ValueError, match='validation_fraction'):
        small(TheanetsClassifier, validation_fraction=1.0).fit(X, y)
    with pytest.raises(ValueError, match='train_kwargs: learning_rate, rng'):
        small(TheanetsClassifier,
              train_kwargs=dict(rng=1, learning_rate=0.1)).fit(X, y)


def test_unknown_train_kwargs_raise_at_fit():
    from theanets.exceptions import UnknownKeywordError
    X, y = _blobs()
    clf = small(TheanetsClassifier, max_updates=1,
                train_kwargs=dict(hiden_dropout=0.5, weight_l2=0.1))
    with pytest.raises(UnknownKeywordError, match="'hiden_dropout' "
                       r"\(did you mean 'hidden_dropout'\?\)"):
        clf.fit(X, y)
    # the estimator's own parameters are not training keywords
    clf.set_params(train_kwargs=dict(hidden_dropout=0.5, weight_l2=0.1),
                   validation_fraction=0.2, verbose=False)
    assert clf.fit(X, y).n_iter_ == 1


def test_sample_weight_trains_a_weighted_model():
    X, y = _blobs()
    weights = np.where(y == 'ant', 0.0, 1.0)
    clf = small(TheanetsClassifier, max_updates=2).fit(X, y, weights)
    assert [v.name for v in clf.network_.variables] == \
        ['in', 'target', 'weights']
    reg = small(TheanetsRegressor, max_updates=2).fit(
        X, np.c_[X[:, 0], X[:, 1]], sample_weight=weights)
    assert [v.name for v in reg.network_.variables] == \
        ['in', 'target', 'weights']
    ae = small(TheanetsAutoencoder, max_updates=2).fit(
        X, sample_weight=weights)
    assert [v.name for v in ae.network_.variables] == ['in', 'weights']


def test_unit_sample_weights_equal_no_weights():
    # The estimator checks mark check_sample_weights_invariance as an
    # expected failure for its kind='zeros' variant only; kind='ones' holds.
    X, y = _blobs()
    for estimator, target in ((small(TheanetsClassifier), y),
                              (small(TheanetsRegressor), X[:, 0]),
                              (small(TheanetsAutoencoder), None)):
        plain = clone(estimator).fit(X, target)
        weighted = clone(estimator).fit(X, target, np.ones(len(X)))
        method = 'transform' if target is None else 'predict'
        np.testing.assert_array_equal(getattr(plain, method)(X),
                                      getattr(weighted, method)(X))


def test_zero_sample_weights_match_removed_rows_up_to_rounding():
    # With one mini-batch per epoch, zero-weighted rows change the fit only
    # through float32 rounding (which is why the estimator check, with its
    # 1e-7 tolerance, is an expected failure).
    X, _ = _blobs()
    y = X[:, 0] - 2 * X[:, 1]
    keep = np.arange(len(X)) % 4 != 0
    noisy = np.where(keep, y, 100.0)
    options = dict(batch_size=len(X), max_updates=20)
    removed = small(TheanetsRegressor, **options).fit(X[keep], y[keep])
    zeroed = small(TheanetsRegressor, **options).fit(
        X, noisy, sample_weight=keep.astype(float))
    np.testing.assert_allclose(zeroed.predict(X), removed.predict(X),
                               rtol=1e-4, atol=1e-5)


def test_regressor_output_shapes_follow_y():
    X, _ = _blobs()
    y1 = X[:, 0] - X[:, 1]
    reg = small(TheanetsRegressor, max_updates=2).fit(X, y1)
    assert reg.predict(X).shape == (60,)
    assert reg.predict(X).dtype == np.float64
    reg.fit(X, np.c_[y1, 2 * y1, y1])
    assert reg.predict(X).shape == (60, 3)


def test_autoencoder_transform_and_inverse():
    X, _ = _blobs()
    ae = TheanetsAutoencoder(hidden_layers=(8, (2, 'linear'), 8),
                             learning_rate=0.01, max_updates=60,
                             random_state=0)
    Z = ae.fit_transform(X)
    assert Z.shape == (60, 2) and Z.dtype == np.float64
    np.testing.assert_allclose(Z, ae.transform(X))
    reconstructed = ae.inverse_transform(Z)
    assert reconstructed.shape == (60, 2)
    assert ae.network_.score(X.astype('f')) > 0.5
    np.testing.assert_allclose(
        reconstructed, ae.network_.predict(X.astype('f')), rtol=1e-5)
    with pytest.raises(ValueError, match='2-D'):
        ae.inverse_transform(Z[0])
    np.testing.assert_array_equal(
        ae.get_feature_names_out(),
        ['theanetsautoencoder0', 'theanetsautoencoder1'])


def test_unfitted_and_wrong_width():
    from sklearn.exceptions import NotFittedError
    X, y = _blobs()
    with pytest.raises(NotFittedError):
        TheanetsClassifier().predict(X)
    clf = small(TheanetsClassifier, max_updates=1).fit(X, y)
    with pytest.raises(ValueError, match='features'):
        clf.predict(np.zeros((2, 5)))


def test_clone_and_params():
    clf = TheanetsClassifier(hidden_layers=(3, 3), train_kwargs={'a': 1})
    copy = clone(clf)
    assert copy is not clf
    assert copy.get_params() == clf.get_params()
    assert copy.set_params(max_updates=7) is copy
    assert copy.max_updates == 7 and clf.max_updates == 200
    # the classifier alone has class_weight; the rest is shared
    assert sorted(TheanetsRegressor().get_params()) == sorted(
        set(clf.get_params()) - {'class_weight'})
    assert sorted(TheanetsAutoencoder().get_params()) == sorted(
        TheanetsRegressor().get_params())
    assert 'warm_start' in TheanetsRegressor().get_params()


def test_pipeline_and_pickle():
    X, y = _blobs()
    pipe = make_pipeline(StandardScaler(), small(TheanetsClassifier))
    pipe.fit(X * 10, y)
    assert pipe.score(X * 10, y) > 0.9
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X * 10), pipe.predict(X * 10))

    ae_pipe = make_pipeline(small(TheanetsAutoencoder, hidden_layers=(3,)),
                            small(TheanetsClassifier))
    assert ae_pipe.fit(X, y).predict(X).shape == (60,)


def test_grid_search_and_cross_val_score():
    X, y = _blobs()
    search = GridSearchCV(small(TheanetsClassifier, max_updates=10),
                          {'hidden_layers': [(2,), (4,)]}, cv=2)
    search.fit(X, y)
    assert search.best_params_['hidden_layers'] in [(2,), (4,)]
    assert set(search.predict(X)) <= {'ant', 'bee', 'cat'}

    scores = cross_val_score(small(TheanetsRegressor, max_updates=20),
                             X, X[:, 0] + X[:, 1], cv=3)
    assert scores.shape == (3,)
    assert np.all(scores > 0.5)


# ----------------------------------------------------------------------
# fit keeps its best validation


def _regression_data():
    X, _ = _blobs()
    return X, X[:, 0] - 2 * X[:, 1]


@pytest.fixture(scope='module')
def untrained_scores():
    """Scores of the untrained models (max_updates=0: validation only)."""
    X, y = _blobs()
    Xr, yr = _regression_data()
    clf = small(TheanetsClassifier, max_updates=0).fit(X, y)
    reg = small(TheanetsRegressor, max_updates=0).fit(Xr, yr)
    assert clf.n_iter_ == reg.n_iter_ == 0
    return clf.score(X, y), reg.score(Xr, yr)


def _is_recorded(valid, history):
    return any(v and v == pytest.approx(valid) for _, v in history)


@pytest.mark.parametrize('max_updates', [1, 5, 9, 10, 11, 25])
def test_short_fit_keeps_what_it_learned(max_updates, untrained_scores):
    X, y = _blobs()
    clf = small(TheanetsClassifier, max_updates=max_updates).fit(X, y)
    assert clf.n_iter_ == len(clf.history_) == max_updates
    best = clf.best_validation_
    # validation_fraction=0 validates on the training data, so the
    # accuracy of the kept parameters is the estimator's score
    assert clf.score(X, y) == pytest.approx(best['acc'], abs=1e-6)
    assert _is_recorded(best, clf.history_)
    assert best['loss'] <= clf.history_[-1][1]['loss']
    assert clf.score(X, y) > untrained_scores[0]

    X, y = _regression_data()
    reg = small(TheanetsRegressor, max_updates=max_updates).fit(X, y)
    best = reg.best_validation_
    assert reg.score(X, y) == pytest.approx(
        1 - best['loss'] / np.var(y), abs=1e-5)
    assert _is_recorded(best, reg.history_)
    assert reg.score(X, y) > untrained_scores[1]


# ----------------------------------------------------------------------
# class_weight


def _imbalanced(n=48, seed=2):
    """Two overlapping clusters; one example in six is of class 'rare'."""
    rng = np.random.RandomState(seed)
    y = np.where(np.arange(n) % 6 == 0, 'rare', 'common')
    X = np.where(y == 'rare', 0.6, -0.6)[:, None] + rng.randn(n, 2)
    return X, y


@pytest.fixture
def training_data(monkeypatch):
    """Record the training arrays every network's itertrain receives."""
    seen = []
    original = theanets.Network.itertrain

    def spy(self, train, *args, **kwargs):
        seen.append([np.array(a) for a in train])
        return original(self, train, *args, **kwargs)

    monkeypatch.setattr(theanets.Network, 'itertrain', spy)
    return seen


def test_balanced_class_weight_multiplies_sample_weight(training_data):
    from sklearn.utils.class_weight import compute_sample_weight
    X, y = _imbalanced()
    sample_weight = np.linspace(0.5, 1.5, len(y))
    clf = small(TheanetsClassifier, max_updates=1, class_weight='balanced')
    clf.fit(X, y, sample_weight=sample_weight)
    assert [v.name for v in clf.network_.variables] == \
        ['in', 'target', 'weights']
    weights = training_data[-1][2]
    np.testing.assert_allclose(
        weights, compute_sample_weight('balanced', y) * sample_weight,
        rtol=1e-6)
    # 'balanced': n_samples / (n_classes * count)
    np.testing.assert_allclose(weights[y == 'rare'] /
                               sample_weight[y == 'rare'], 48 / (2 * 8))

    clf.set_params(class_weight={'rare': 3.0}).fit(X, y)
    np.testing.assert_allclose(
        training_data[-1][2], compute_sample_weight({'rare': 3.0}, y))
    np.testing.assert_array_equal(np.unique(training_data[-1][2]), [1, 3])


def test_balanced_class_weight_raises_minority_recall():
    from sklearn.metrics import recall_score
    X, y = _imbalanced()
    options = dict(max_updates=60, learning_rate=0.01)
    plain = small(TheanetsClassifier, **options).fit(X, y)
    balanced = small(TheanetsClassifier, class_weight='balanced',
                     **options).fit(X, y)

    def recall(clf):
        return recall_score(y, clf.predict(X), pos_label='rare')

    assert recall(balanced) > recall(plain)


def test_bad_class_weight():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match=r"labels \['dog'\] are not among "
                       r"the classes \['common', 'rare'\]"):
        small(TheanetsClassifier, class_weight={'rare': 2,
                                                'dog': 1}).fit(X, y)
    with pytest.raises(ValueError, match="weight of class 'rare'"):
        small(TheanetsClassifier, class_weight={'rare': -1}).fit(X, y)
    with pytest.raises(ValueError, match="expected None, 'balanced' or a "
                       "dict"):
        small(TheanetsClassifier, class_weight='even').fit(X, y)
    with pytest.raises(ValueError, match="'balanced' is not supported for "
                       "partial_fit"):
        small(TheanetsClassifier, class_weight='balanced').partial_fit(
            X, y, classes=['common', 'rare'])


# ----------------------------------------------------------------------
# warm_start


def test_warm_start_continues_from_the_fitted_parameters():
    X, y = _regression_data()
    once = small(TheanetsRegressor, max_updates=1).fit(X, y)
    cold = small(TheanetsRegressor, max_updates=1).fit(X, y).fit(X, y)
    np.testing.assert_array_equal(cold.predict(X), once.predict(X))
    assert cold.n_iter_ == 1

    warm = small(TheanetsRegressor, max_updates=1, warm_start=True)
    network = warm.fit(X, y).network_
    np.testing.assert_array_equal(warm.predict(X), once.predict(X))
    assert warm.fit(X, y).network_ is network
    assert warm.score(X, y) > once.score(X, y)
    assert warm.n_iter_ == len(warm.history_) == 2

    clf = small(TheanetsClassifier, max_updates=1, warm_start=True)
    Xc, yc = _blobs()
    first = clf.fit(Xc, yc).predict_proba(Xc)
    second = clf.fit(Xc, yc).predict_proba(Xc)
    assert clf.n_iter_ == 2
    # the second fit started where the first ended: higher likelihood
    rows = np.arange(len(yc)), np.searchsorted(clf.classes_, yc)
    assert np.log(second[rows]).mean() > np.log(first[rows]).mean()


def test_warm_start_refuses_other_data_and_architecture():
    X, y = _blobs()
    clf = small(TheanetsClassifier, max_updates=1, warm_start=True)
    clf.fit(X, y)
    with pytest.raises(ValueError, match='same classes'):
        clf.fit(X[y != 'cat'], y[y != 'cat'])
    with pytest.raises(ValueError, match='3 features, but TheanetsClassifier '
                       'is expecting 2'):
        clf.fit(np.c_[X, X[:, 0]], y)
    with pytest.raises(ValueError, match='hidden_layers'):
        clf.set_params(hidden_layers=(5,)).fit(X, y)
    # without warm_start any data goes
    clf.set_params(warm_start=False).fit(X[y != 'cat'], y[y != 'cat'])
    np.testing.assert_array_equal(clf.classes_, ['ant', 'bee'])

    reg = small(TheanetsRegressor, max_updates=1, warm_start=True)
    reg.fit(X, X[:, 0])
    with pytest.raises(ValueError, match='y has 2 output column'):
        reg.fit(X, X)


def test_warm_start_with_sample_weight_keeps_the_parameters():
    X, y = _regression_data()
    reg = small(TheanetsRegressor, max_updates=1, warm_start=True).fit(X, y)
    before = reg.predict(X)
    reg.set_params(max_updates=0).fit(X, y, sample_weight=np.ones(len(y)))
    assert [v.name for v in reg.network_.variables] == \
        ['in', 'target', 'weights']
    np.testing.assert_allclose(reg.predict(X), before, rtol=1e-6)


# ----------------------------------------------------------------------
# partial_fit


def test_partial_fit_equals_steps_of_a_persistent_trainer():
    from theanets.backend import downhill
    from theanets.trainer import DownhillTrainer
    X, y = _blobs()
    chunks = [slice(0, 30), slice(30, 60), slice(None)]
    clf = small(TheanetsClassifier)
    scores = []
    for part in chunks:
        assert clf.partial_fit(X[part], y[part],
                               classes=['ant', 'bee', 'cat']) is clf
        scores.append(clf.score(X, y))
    assert clf.n_iter_ == len(clf.history_) == 3
    assert scores[-1] > scores[0]
    assert set(clf.history_[0][0]) >= {'loss', 'acc'}
    assert clf.history_[0][1] == {} and clf.best_validation_ is None

    # the same by hand: a weighted network seeded from random_state, and
    # one epoch per call of a persistent trainer over shuffled examples
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    net = theanets.Classifier([2, (4, 'relu'), 3], weighted=True, rng=seed)
    trainer = DownhillTrainer('rmsprop', net, persistent=True)
    shuffle = np.random.RandomState(seed)
    labels = np.searchsorted(['ant', 'bee', 'cat'], y).astype('int32')
    for part, (train, _) in zip(chunks, clf.history_):
        arrays = [X[part].astype('f'), labels[part],
                  np.ones(len(labels[part]), 'f')]
        order = shuffle.permutation(len(arrays[0]))
        batches = downhill.Dataset([a[order] for a in arrays], rng=shuffle)
        monitors = trainer.step_epochs(batches, learning_rate=0.02)
        assert monitors == pytest.approx(train)
    np.testing.assert_allclose(clf.predict_proba(X),
                               net.predict_proba(X.astype('f')), rtol=1e-6)


def test_partial_fit_classes_rules():
    from sklearn.utils.validation import check_is_fitted
    X, y = _blobs()
    clf = small(TheanetsClassifier)
    with pytest.raises(ValueError, match='classes must be passed on the '
                       'first call to partial_fit'):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match='`y` has classes not in '):
        clf.partial_fit(X, y, classes=['ant', 'bee'])
    assert not hasattr(clf, 'classes_') and not hasattr(clf, 'network_')
    clf.partial_fit(X[:6], y[:6], classes=['cat', 'ant', 'bee', 'dog'])
    check_is_fitted(clf)
    np.testing.assert_array_equal(clf.classes_, ['ant', 'bee', 'cat', 'dog'])
    assert clf.n_features_in_ == 2
    assert clf.network_.layers[-1].output_shape == (4,)
    clf.partial_fit(X[y == 'ant'], y[y == 'ant'])  # classes not needed
    clf.partial_fit(X, y, classes=['dog', 'cat', 'bee', 'ant'])
    with pytest.raises(ValueError, match=r"`classes=.* is not the same as on "
                       "last call to partial_fit"):
        clf.partial_fit(X, y, classes=['ant', 'bee', 'cat'])
    with pytest.raises(ValueError, match='`y` has classes not in '):
        clf.partial_fit(X[:3], ['ant', 'bee', 'eel'])
    with pytest.raises(ValueError, match='3 features, but TheanetsClassifier '
                       'is expecting 2'):
        clf.partial_fit(np.c_[X, X[:, 0]], y)
    assert clf.n_iter_ == 3
    assert set(clf.predict(X)) <= {'ant', 'bee', 'cat', 'dog'}

    with pytest.raises(ValueError, match='algo: partial_fit needs a '
                       'gradient optimizer'):
        small(TheanetsClassifier, algo='sample').partial_fit(
            X, y, classes=['ant', 'bee', 'cat'])


def test_partial_fit_after_fit_and_fit_after_partial_fit():
    X, y = _regression_data()
    fresh = small(TheanetsRegressor, max_updates=3).fit(X, y)
    reg = small(TheanetsRegressor, max_updates=3).fit(X, y)
    reg.partial_fit(X, y)  # continues the fitted network
    assert reg.n_iter_ == 4 and reg.score(X, y) > fresh.score(X, y)
    # fit starts afresh (unless warm_start), so it equals a new estimator's
    reg.fit(X, y)
    np.testing.assert_array_equal(reg.predict(X), fresh.predict(X))
    assert reg.n_iter_ == 3 and '_partial_trainer' not in vars(reg)

    reg.partial_fit(X, y)
    reg.set_params(warm_start=True).fit(X, y)
    assert reg.n_iter_ == 7 and reg.score(X, y) > fresh.score(X, y)


def test_partial_fit_regressor_and_autoencoder():
    X, y = _regression_data()
    reg = small(TheanetsRegressor)
    scores = [reg.partial_fit(X, y).score(X, y) for _ in range(3)]
    assert scores[0] < scores[1] < scores[2]
    assert reg.predict(X).shape == (60,)
    with pytest.raises(ValueError, match='y has 2 output column'):
        reg.partial_fit(X, np.c_[y, y])
    reg.partial_fit(X, y[:, None], sample_weight=np.ones(len(y)))
    assert reg.predict(X).shape == (60, 1) and reg.n_iter_ == 4

    ae = small(TheanetsAutoencoder, hidden_layers=(3,))
    losses = [ae.partial_fit(X).history_[-1][0]['loss'] for _ in range(3)]
    assert losses[2] < losses[0]
    assert ae.transform(X).shape == (60, 3)


def test_pickle_after_partial_fit_and_go_on():
    X, y = _blobs()
    clf = small(TheanetsClassifier)
    clf.partial_fit(X, y, classes=['ant', 'bee', 'cat'])
    trainer = clf._partial_trainer
    copy = pickle.loads(pickle.dumps(clf))
    assert clf._partial_trainer is trainer  # pickling leaves clf alone
    assert '_partial_trainer' not in vars(copy)
    np.testing.assert_array_equal(copy.predict_proba(X),
                                  clf.predict_proba(X))
    copy.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert copy.n_iter_ == clf.n_iter_ == 2
    # the copy goes on with the same parameters and shuffling, but a fresh
    # optimizer state (RMSProp's averages start again)
    assert copy.score(X, y) > 0.5
    assert not np.allclose(copy.predict_proba(X), clf.predict_proba(X))
    again = pickle.loads(pickle.dumps(copy))
    np.testing.assert_array_equal(again.predict(X), copy.predict(X))
