"""Sweeps of the scikit-learn estimators on a real Dask cluster.

The cluster tests start a ``dask.distributed.LocalCluster`` of two worker
processes here (no mock) whose workers compile into an empty shared Theano
compile directory, run searches under ``joblib.parallel_backend('dask')``
and compare them with the same search run sequentially in this process.
They need ``dask[distributed]`` and ``dask-ml`` (``theanets[dask]``).
"""

import copy
import io
import os
import pickle

import numpy as np
import pytest

cloudpickle = pytest.importorskip('cloudpickle')

import theanets  # noqa: E402
from theanets import estimators  # noqa: E402
from theanets.estimators import (TheanetsAutoencoder,  # noqa: E402
                                 TheanetsClassifier, TheanetsRegressor)


def _classification(count=64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(count, 3).astype('f')
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _regression(count=64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(count, 3).astype('f')
    y = X @ np.array([1.0, -2.0, 0.5], 'f') + 0.1 * rng.randn(count)
    return X, y


def _small(cls, **kwargs):
    kwargs.setdefault('hidden_layers', (4,))
    kwargs.setdefault('max_updates', 3)
    kwargs.setdefault('learning_rate', 0.05)
    kwargs.setdefault('random_state', 0)
    return cls(**kwargs)


# ----------------------------------------------------------------------
# a fitted network travels as its .npz bytes

@pytest.mark.parametrize('dumps, loads', [
    (pickle.dumps, pickle.loads),
    (cloudpickle.dumps, pickle.loads),
    (lambda est: est, copy.deepcopy),
], ids=['pickle', 'cloudpickle', 'deepcopy'])
def test_fitted_estimator_travels_as_npz(dumps, loads):
    X, y = _classification()
    clf = _small(TheanetsClassifier).fit(X, y)
    state = clf.__getstate__()
    assert 'network_' not in state
    assert state['_network_npz'][:2] == b'PK'
    copied = loads(dumps(clf))
    assert copied.network_ is not clf.network_
    assert type(copied.network_) is theanets.Classifier
    np.testing.assert_array_equal(copied.predict_proba(X),
                                  clf.predict_proba(X))
    np.testing.assert_array_equal(copied.classes_, clf.classes_)
    assert copied.n_iter_ == clf.n_iter_


def test_pickle_holds_no_theano_object():
    X, y = _regression()
    reg = _small(TheanetsRegressor).fit(X, y)
    data = pickle.dumps(reg)
    assert b'theano' not in data
    again = pickle.loads(data)
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    # the rebuilt network trains on, like the original (fresh optimizer)
    reg.set_params(warm_start=True)
    again.set_params(warm_start=True)
    np.testing.assert_array_equal(again.fit(X, y).predict(X),
                                  reg.fit(X, y).predict(X))


def test_partial_fit_goes_on_after_npz_round_trip():
    X, _ = _classification()
    ae = _small(TheanetsAutoencoder, hidden_layers=(2,))
    ae.partial_fit(X)
    again = cloudpickle.loads(cloudpickle.dumps(ae))
    assert isinstance(again.network_, theanets.Autoencoder)
    np.testing.assert_array_equal(again.transform(X), ae.transform(X))
    # after unpickling both go on with a fresh optimizer state
    ae.__dict__.pop('_partial_trainer')
    np.testing.assert_array_equal(again.partial_fit(X).transform(X),
                                  ae.partial_fit(X).transform(X))
    assert again.n_iter_ == 2


def test_old_pickle_with_network_object_loads():
    X, y = _classification()
    clf = _small(TheanetsClassifier).fit(X, y)
    # the state pickles of earlier versions held: the network object
    old_state = dict(clf.__dict__)
    buffer = io.BytesIO()
    pickle.dump(old_state, buffer)
    old = TheanetsClassifier.__new__(TheanetsClassifier)
    old.__setstate__(pickle.loads(buffer.getvalue()))
    assert isinstance(old.network_, theanets.Classifier)
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))


def test_network_without_npz_form_is_pickled_as_an_object():
    from theanets.activations import CommonActivation
    X, y = _regression()
    reg = _small(TheanetsRegressor, hidden_layers=(
        dict(size=4, activation=CommonActivation('tanh')),)).fit(X, y)
    state = reg.__getstate__()
    assert '_network_npz' not in state
    assert state['network_'] is reg.network_
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))


def test_unfitted_estimator_pickles_its_parameters_only():
    clf = _small(TheanetsClassifier)
    state = clf.__getstate__()
    assert '_network_npz' not in state and 'network_' not in state
    assert pickle.loads(pickle.dumps(clf)).get_params() == clf.get_params()


def _unaligned(array):
    """A copy of ``array`` in a buffer that is not aligned for its dtype, as
    an array unpickled from a byte stream can be."""
    raw = np.zeros(array.nbytes + 1, np.uint8)
    view = np.frombuffer(raw[1:].data, dtype=array.dtype).reshape(array.shape)
    view[...] = array
    assert not view.flags.aligned
    return view


def test_unaligned_arrays_train_and_predict():
    X, y = _regression()
    reg = _small(TheanetsRegressor).fit(X, y)
    again = _small(TheanetsRegressor).fit(_unaligned(X), _unaligned(
        y.astype('f')))
    np.testing.assert_array_equal(again.predict(_unaligned(X)),
                                  reg.predict(X))
    net = theanets.Regressor([3, 2])
    np.testing.assert_array_equal(net.predict(_unaligned(X)), net.predict(X))


# ----------------------------------------------------------------------
# compile directory flags for the workers

def test_compile_dir_flags_put_user_flags_last(monkeypatch, tmp_path):
    monkeypatch.setenv('THEANORC', str(tmp_path / 'absent'))
    _dask = pytest.importorskip('theanets._dask')
    assert _dask.compile_dir_flags('/scratch/t') == 'base_compiledir=/scratch/t'
    assert _dask.compile_dir_flags('/scratch/t', 'floatX=float64') == \
        'base_compiledir=/scratch/t,floatX=float64'


@pytest.mark.parametrize('flags', [
    'base_compiledir=/mine', 'floatX=float32,compiledir=/mine',
    'global.base_compiledir=/mine'])
def test_compile_dir_flags_keep_the_users_directory(monkeypatch, tmp_path,
                                                     flags):
    monkeypatch.setenv('THEANORC', str(tmp_path / 'absent'))
    _dask = pytest.importorskip('theanets._dask')
    assert _dask.compile_dir_flags('/scratch/t', flags) is None


def test_compile_dir_flags_keep_a_theanorc_directory(monkeypatch, tmp_path):
    rc = tmp_path / 'theanorc'
    rc.write_text('[global]\nbase_compiledir = /mine\n')
    monkeypatch.setenv('THEANORC', str(rc))
    _dask = pytest.importorskip('theanets._dask')
    assert _dask.compile_dir_flags('/scratch/t', 'floatX=float32') is None


def test_compile_dir_with_comma_is_refused():
    _dask = pytest.importorskip('theanets._dask')
    with pytest.raises(theanets.util.ConfigurationError,
                       match="a path with a comma, got '/a,b'"):
        _dask.TheanoCompileDir('/a,b')


def test_import_theanets_does_not_import_dask():
    import subprocess
    import sys
    code = ('import sys, theanets, theanets.estimators; '
            'print(sorted(m for m in sys.modules '
            'if m.split(".")[0] in ("dask", "distributed", "dask_ml")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == '[]'


# ----------------------------------------------------------------------
# a real two-worker cluster

def _worker_compiledir():
    import theano
    return theano.config.compiledir


def _start_cluster(**kwargs):
    distributed = pytest.importorskip('distributed')
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1,
        dashboard_address=None, **kwargs)
    return cluster, distributed.Client(cluster)


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """A two-process cluster whose workers share an empty compile dir."""
    pytest.importorskip('dask_ml')
    shared = tmp_path_factory.mktemp('shared-compiledir')
    flags = ','.join(filter(None, [os.environ.get('THEANO_FLAGS'),
                                   'base_compiledir={}'.format(shared)]))
    local, client = _start_cluster(env={'THEANO_FLAGS': flags})
    try:
        yield client, shared
    finally:
        client.close()
        local.close()


def _sequential_and_on_cluster(make_search, X, y):
    import joblib
    sequential = make_search(n_jobs=1).fit(X, y)
    with joblib.parallel_backend('dask'):
        parallel = make_search(n_jobs=None).fit(X, y)
    return sequential, parallel


def _split_scores(results):
    return {key: value for key, value in results.items()
            if key.startswith('split') or key.startswith('mean_test')}


@pytest.mark.slow
def test_grid_search_on_cluster_equals_sequential(cluster):
    from sklearn.model_selection import GridSearchCV
    client, shared = cluster
    X, y = _classification()
    grid = {'learning_rate': [0.01, 0.1], 'batch_size': [8, 16]}

    def search(n_jobs):
        return GridSearchCV(_small(TheanetsClassifier), grid, cv=2,
                            n_jobs=n_jobs, return_train_score=True)

    sequential, parallel = _sequential_and_on_cluster(search, X, y)
    expected = _split_scores(sequential.cv_results_)
    got = _split_scores(parallel.cv_results_)
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert parallel.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(parallel.best_estimator_.predict_proba(X),
                                  sequential.best_estimator_.predict_proba(X))

    # both workers compiled into the shared directory they started empty
    dirs = client.run(_worker_compiledir)
    assert len(dirs) == 2
    assert len(set(dirs.values())) == 1
    compiledir = next(iter(dirs.values()))
    assert os.path.dirname(compiledir) == str(shared)
    assert any(name.startswith('tmp') for name in os.listdir(compiledir))


@pytest.mark.slow
def test_randomized_search_and_cross_validate_on_cluster(cluster):
    import joblib
    from sklearn.model_selection import RandomizedSearchCV, cross_validate
    X, y = _regression()

    def search(n_jobs):
        return RandomizedSearchCV(
            _small(TheanetsRegressor),
            {'learning_rate': [0.003, 0.01, 0.03, 0.1],
             'hidden_layers': [(4,), (3,)]},
            n_iter=3, cv=2, random_state=1, n_jobs=n_jobs)

    sequential, parallel = _sequential_and_on_cluster(search, X, y)
    assert parallel.cv_results_['params'] == sequential.cv_results_['params']
    np.testing.assert_array_equal(parallel.cv_results_['mean_test_score'],
                                  sequential.cv_results_['mean_test_score'])

    # fitted estimators come back from the workers as .npz payloads
    reg = _small(TheanetsRegressor)
    expected = cross_validate(reg, X, y, cv=3, return_estimator=True)
    with joblib.parallel_backend('dask'):
        got = cross_validate(reg, X, y, cv=3, return_estimator=True)
    np.testing.assert_array_equal(got['test_score'], expected['test_score'])
    for mine, theirs in zip(got['estimator'], expected['estimator']):
        np.testing.assert_array_equal(mine.predict(X), theirs.predict(X))


@pytest.mark.slow
def test_incremental_trains_chunk_by_chunk_on_dask_array(cluster):
    import dask.array as da
    from dask_ml.wrappers import Incremental
    X, y = _classification(count=96)
    dX = da.from_array(X, chunks=(24, 3))
    dy = da.from_array(y, chunks=24)
    model = Incremental(_small(TheanetsClassifier), shuffle_blocks=True,
                        random_state=0)
    model.fit(dX, dy, classes=[0, 1])
    fitted = model.estimator_
    assert fitted.n_iter_ == dX.numblocks[0] == 4
    assert len(fitted.history_) == 4
    predicted = model.predict(dX)
    assert isinstance(predicted, da.Array)
    labels = predicted.compute()
    np.testing.assert_array_equal(labels, fitted.predict(X))
    assert model.score(dX, dy) == pytest.approx(fitted.score(X, y))
    assert fitted.score(X, y) > 0.6


@pytest.mark.slow
def test_hyperband_search_with_partial_fit(cluster):
    import dask.array as da
    from dask_ml.model_selection import HyperbandSearchCV
    X, y = _classification(count=96)
    dX = da.from_array(X, chunks=(24, 3))
    dy = da.from_array(y, chunks=24)
    search = HyperbandSearchCV(
        _small(TheanetsClassifier),
        {'learning_rate': [0.01, 0.03, 0.1], 'batch_size': [8, 16]},
        max_iter=3, random_state=0, test_size=0.25)
    search.fit(dX, dy, classes=[0, 1])
    assert set(search.best_params_) == {'learning_rate', 'batch_size'}
    best = search.best_estimator_
    assert isinstance(best, TheanetsClassifier)
    assert 1 <= best.n_iter_ <= 3
    assert best.predict(X).shape == (len(X),)
    calls = [record['partial_fit_calls'] for record in search.history_]
    assert max(calls) == 3
    assert 0 <= search.best_score_ <= 1


@pytest.mark.slow
def test_each_worker_compiles_into_its_own_directory(tmp_path):
    pytest.importorskip('dask_ml')
    base = tmp_path / 'per-worker'
    # without THEANO_FLAGS of their own the workers take the plugin's dir
    env_flags = os.environ.get('THEANO_FLAGS', '')
    if 'compiledir' in env_flags:
        pytest.skip('THEANO_FLAGS chooses a compile directory already')
    local, client = _start_cluster()
    try:
        plugin = estimators.dask_compile_dir(client, base, per_worker=True)
        assert plugin.per_worker
        client.wait_for_workers(2)
        dirs = client.run(_worker_compiledir)
        assert len(set(dirs.values())) == 2
        for compiledir in dirs.values():
            assert os.path.dirname(os.path.dirname(compiledir)) == str(base)
        X, y = _regression()
        futures = [client.submit(_small(TheanetsRegressor).fit, X, y,
                                 workers=[address], pure=False)
                   for address in dirs]
        fitted = client.gather(futures)
        np.testing.assert_array_equal(fitted[0].predict(X),
                                      fitted[1].predict(X))
        for compiledir in dirs.values():
            assert any(name.startswith('tmp')
                       for name in os.listdir(compiledir))
    finally:
        client.close()
        local.close()
