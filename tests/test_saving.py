"""Tests for theanets.saving: writing model files safely and loading them,
including the pickles of theanets 0.8."""

import gzip
import io
import os
import pickle

import numpy as np
import pytest

from theanets import feedforward, graph, util

from tests.helpers import (
    LEGACY_MODELS as LEGACY, NUM_INPUTS, NUM_OUTPUTS, NUM_CLASSES)


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
