"""Tests for theanets.saving: writing model files safely and loading them,
including the pickles of theanets 0.8."""

import gzip
import io
import os
import pickle

import numpy as np
import pytest

from theanets import feedforward, graph, saving, util
from theanets.backend import theano

from tests.helpers import (
    LEGACY_MODELS as LEGACY, NUM_INPUTS, NUM_OUTPUTS, NUM_CLASSES, run_fresh)


# ----------------------------------------------------------------------
# saving and loading


def _same_params(a, b):
    assert [p.name for p in a.params] == [p.name for p in b.params]
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())


@pytest.mark.parametrize('name', ['model.pkl', 'model.pkl.gz'])
def test_save_load_path(tmpdir, name):
    net = feedforward.Classifier([4, (3, 'prelu'), 2], rng=7)
    path = os.path.join(str(tmpdir), name)
    net.save(path)
    opener = gzip.open if name.endswith('.gz') else open
    with opener(path, 'rb') as handle:
        assert isinstance(pickle.load(handle), feedforward.Classifier)
    loaded = feedforward.Regressor.load(path)
    assert type(loaded) is feedforward.Classifier
    assert loaded is not net
    # a loaded model starts with empty internal graph and function caches
    assert loaded._graphs == {} and loaded._functions == {}
    _same_params(net, loaded)
    assert [p.name for p in loaded.params] == [
        'hid1.w', 'hid1.b', 'hid1.leak', 'out.w', 'out.b']
    # the model's rng was saved: layers added later are seeded with it
    loaded.add_layer(dict(size=2, name='extra'))
    assert loaded.layers[-1].kwargs['rng'] == 7


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


def test_new_file_mode_follows_umask(tmpdir):
    path = os.path.join(str(tmpdir), 'm.pkl')
    old = os.umask(0o022)
    try:
        feedforward.Regressor([2, 1]).save(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644


# ----------------------------------------------------------------------
# safe writes


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

    def slow(obj, handle, *args, **kwargs):
        real_dump(obj, handle, *args, **kwargs)
        if not isinstance(obj, graph.Network):
            return  # the backend's compile cache pickles its keys too
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


# ----------------------------------------------------------------------
# broken files


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


# ----------------------------------------------------------------------
# models saved by theanets 0.8


@pytest.mark.parametrize('name', [
    'regressor_relu', 'classifier_tanh', 'autoencoder_tied'])
def test_legacy_models(name):
    model = graph.Network.load(os.path.join(LEGACY, name + '.pkl.gz'))
    expected = np.load(os.path.join(LEGACY, name + '.npz'))
    np.testing.assert_allclose(
        model.predict(expected['x']), expected['predict'], rtol=1e-4)
    if 'predict_proba' in expected:
        np.testing.assert_allclose(model.predict_proba(expected['x']),
                                   expected['predict_proba'], rtol=1e-4)
    # 0.8 pickles hold no rng: layers added later get the default seed
    model.add_layer(dict(size=2, name='extra'))
    assert model.layers[-1].kwargs['rng'] == 13


# -- loading under another floatX -------------------------------------------

#: Saves models with a learnable activation parameter (prelu), a fixed random
#: array (an RRNN's uniform rates), a recurrent and a sparse-free classifier
#: in both formats, with their inputs and predictions, under the floatX the
#: process runs with.
SAVE_FOR_OTHER_FLOATX = '''
import json
import numpy as np
import theanets
import theano

rng = np.random.RandomState(5)
fx = theano.config.floatX
models = {
    'regressor': (theanets.Regressor([4, (5, 'prelu'), 3]),
                  rng.randn(6, 4).astype(fx)),
    'classifier': (theanets.Classifier([4, (5, 'tanh'), 3]),
                   rng.randn(6, 4).astype(fx)),
    'recurrent': (theanets.recurrent.Regressor(
        [4, dict(form='rrnn', size=5, rate='uniform'), 3]),
        rng.randn(2, 7, 4).astype(fx)),
}
saved = {}
for key, (net, x) in models.items():
    for p in net.params:  # away from the initial values
        value = p.get_value()
        p.set_value((value + rng.uniform(-0.1, 0.1, value.shape)).astype(fx))
    for suffix in ('npz', 'pkl'):
        net.save('{}.{}'.format(key, suffix))
    np.save(key + '-x.npy', x)
    np.save(key + '-y.npy', net.predict(x))
    saved[key] = str(net.predict(x).dtype)
print(json.dumps({'floatX': fx, 'dtypes': saved}))
'''

#: Loads what SAVE_FOR_OTHER_FLOATX wrote, predicts and trains one update.
LOAD_FROM_OTHER_FLOATX = '''
import json
import numpy as np
import theanets
import theano

fx = theano.config.floatX
out = {'floatX': fx}
for key in ('regressor', 'classifier', 'recurrent'):
    x = np.load(key + '-x.npy')
    y = np.load(key + '-y.npy')
    for suffix in ('npz', 'pkl'):
        net = theanets.Network.load('{}.{}'.format(key, suffix))
        got = net.predict(x.astype(fx))
        if key == 'classifier':
            target = [x.astype(fx), y.astype('int32')]
        else:
            target = [x.astype(fx), y.astype(fx)]
        net.train(target, algo='sgd', max_updates=1)
        out['{}.{}'.format(key, suffix)] = {
            'params': sorted({str(p.dtype) for p in net.params}),
            'fixed': sorted({str(v.dtype) for layer in net.layers
                             for v in layer.fixed_values.values()}),
            'inputs': sorted({str(v.dtype) for v in net.inputs}),
            'predict': str(got.dtype),
            'max_error': float(np.abs(got.astype('float64') - y).max()),
            'scale': float(np.abs(y).max()),
        }
print(json.dumps(out))
'''


@pytest.mark.parametrize('saved_as, loaded_as', [('float64', 'float32'),
                                                 ('float32', 'float64')])
def test_models_load_under_another_floatx(tmp_path, saved_as, loaded_as):
    saved, _ = run_fresh(SAVE_FOR_OTHER_FLOATX, tmp_path,
                         flags='floatX=' + saved_as)
    assert saved['floatX'] == saved_as
    assert saved['dtypes']['regressor'] == saved_as
    loaded, _ = run_fresh(LOAD_FROM_OTHER_FLOATX, tmp_path,
                          flags='floatX=' + loaded_as)
    assert loaded['floatX'] == loaded_as
    for name in ('regressor.npz', 'regressor.pkl', 'classifier.npz',
                 'classifier.pkl', 'recurrent.npz', 'recurrent.pkl'):
        result = loaded[name]
        assert result['params'] == [loaded_as], name
        assert result['inputs'] == [loaded_as], name
        if name.startswith('recurrent'):
            assert result['fixed'] == [loaded_as], name
        if name.startswith('classifier'):
            assert result['max_error'] == 0, name  # the same class labels
        else:
            assert result['predict'] == loaded_as, name
            # float32 rounding of float64 values (or float32 arithmetic)
            assert result['max_error'] <= 1e-5 * max(1, result['scale']), name


def test_legacy_models_load_and_train_under_float64(tmp_path):
    """theanets 0.8 pickles (float32) predict and train under float64."""
    result, _ = run_fresh('''
        import json, os
        import numpy as np
        import theanets
        out = {}
        for name in ('regressor_relu', 'classifier_tanh', 'autoencoder_tied'):
            model = theanets.Network.load(os.path.join(%r, name + '.pkl.gz'))
            expected = np.load(os.path.join(%r, name + '.npz'))
            x = expected['x'].astype('float64')
            got = model.predict(x)
            if isinstance(model, theanets.Classifier):
                data = [x, got.astype('int32')]
            elif isinstance(model, theanets.Autoencoder):
                data = [x]
            else:
                data = [x, got]
            model.train(data, algo='sgd', max_updates=1)
            out[name] = {
                'params': sorted({str(p.dtype) for p in model.params}),
                'predict': str(got.dtype),
                'error': float(np.abs(got - expected['predict']).max()),
            }
        print(json.dumps(out))
    ''' % (LEGACY, LEGACY), tmp_path, flags='floatX=float64')
    for name, outcome in result.items():
        assert outcome['params'] == ['float64'], name
        if name != 'classifier_tanh':
            assert outcome['predict'] == 'float64', name
        assert outcome['error'] <= 1e-5, name


def test_cast_to_floatx_keeps_shared_variables_shared():
    net = feedforward.Regressor([3, (4, 'prelu'), 2])
    layer = net.layers[1]
    other = 'float16'
    leak = theano.shared(np.full(4, 0.25, other), name='hid1.leak')
    layer.activate.params[0] = leak
    layer.activate.leak = leak
    assert saving.cast_to_floatx(net) == 1
    assert layer.activate.leak is layer.activate.params[0]
    assert layer.activate.leak.dtype == util.FLOAT
    assert np.allclose(layer.activate.leak.get_value(), 0.25)
    assert saving.cast_to_floatx(net) == 0


def test_pickled_int_weights_are_left_for_the_model_check(tmpdir):
    net = feedforward.Regressor([3, 2])
    net.layers[-1]._params[0] = theano.shared(np.zeros((3, 2), 'int64'),
                                              name='out.w')
    assert saving.cast_to_floatx(net) == 0
    assert net.find('out', 'w').dtype == 'int64'
