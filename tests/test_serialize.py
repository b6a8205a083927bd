"""The safe .npz model format: round trips, refusal of bad files."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import scipy.sparse

import theanets
from theanets import graph, serialize, util

LEGACY = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "legacy-models")

RNG = np.random.RandomState(3)
X2 = RNG.randn(6, 4).astype('f')
X3 = RNG.randn(3, 5, 4).astype('f')
X4 = RNG.randn(2, 6, 5, 3).astype('f')


def _round_trip(model, tmpdir, name='model.npz'):
    path = os.path.join(str(tmpdir), name)
    model.save(path)
    with open(path, 'rb') as handle:
        assert handle.read(2) == b'PK'
    loaded = graph.Network.load(path, allow_pickle=False)
    assert type(loaded) is type(model)
    assert loaded is not model
    assert [p.name for p in loaded.params] == [p.name for p in model.params]
    for p, q in zip(model.params, loaded.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
        assert p.get_value().dtype == q.get_value().dtype
    assert [type(l) for l in loaded.layers] == [type(l) for l in model.layers]
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert [type(l) for l in loaded.losses] == [type(l) for l in model.losses]
    assert [l.weight for l in loaded.losses] == \
        [l.weight for l in model.losses]
    assert [v.name for v in loaded.variables] == \
        [v.name for v in model.variables]
    assert [v.type for v in loaded.variables] == \
        [v.type for v in model.variables]
    return loaded


def _same_outputs(a, b, x):
    fa, fb = a.feed_forward(x), b.feed_forward(x)
    assert sorted(fa) == sorted(fb)
    for key in fa:
        np.testing.assert_array_equal(fa[key], fb[key])


@pytest.mark.parametrize('cls, spec, kwargs', [
    (theanets.Regressor, [4, (3, 'tanh'), 2], {}),
    (theanets.Classifier, [4, (3, 'prelu'), 3], dict(weighted=True)),
    (theanets.Regressor, [4, (6, 'maxout:2'), 2], dict(loss='mae')),
    (theanets.Autoencoder, [4, (3, 'sigmoid'), (2, 'relu'), ('tied', 'relu'),
                            ('tied', 'linear')], {}),
])
def test_feedforward_round_trip(tmpdir, cls, spec, kwargs):
    model = cls(spec, rng=5, **kwargs)
    loaded = _round_trip(model, tmpdir)
    _same_outputs(model, loaded, X2)
    assert loaded._rng == 5  # the file stores the model's (internal) rng


def test_tied_partner_restored(tmpdir):
    model = theanets.Autoencoder([4, (3, 'tanh'), ('tied', 'linear')])
    loaded = _round_trip(model, tmpdir)
    assert loaded.layers[2].partner is loaded.layers[1]
    # the decoder shares the encoder's weights after loading as well
    assert [p.name for p in loaded.layers[2].params] == ['out.b']


def test_multiple_losses_and_gll(tmpdir):
    model = theanets.Regressor([4, (3, 'tanh'), 2])
    model.add_loss('mae', weight=0.25, target=2)
    model.add_loss('mmd', weight=0.5, target=2, kernel=2.0)
    loaded = _round_trip(model, tmpdir)
    assert loaded.losses[2].kernel.bw == 2.0
    assert loaded.losses[1].output_name == 'out:out'
    y = RNG.randn(6, 2).astype('f')
    fn = __import__('theano').function(
        model.variables, model.loss())
    fn2 = __import__('theano').function(loaded.variables, loaded.loss())
    assert fn(X2, y) == fn2(X2, y)

    gll = theanets.Regressor([4, dict(size=2, name='mean'),
                              dict(size=2, name='covar', inputs='in',
                                   activation='softplus'), (2, 'linear')])
    gll.set_loss('gll', target=2, mean_name='mean', covar_name='covar',
                 covar_eps=0.01)
    loaded = _round_trip(gll, tmpdir)
    assert loaded.losses[0].covar_eps == 0.01
    assert loaded.losses[0].mean_name == 'mean:out'


def test_recurrent_round_trip(tmpdir):
    model = theanets.recurrent.Regressor(
        [4, (3, 'rnn'), dict(size=4, form='lstm'), 2])
    loaded = _round_trip(model, tmpdir)
    _same_outputs(model, loaded, X3)


@pytest.mark.parametrize('form, rate', [('rrnn', 'uniform'),
                                         ('rrnn', 'log'),
                                         ('scrn', 'uniform')])
def test_fixed_random_rates_round_trip(tmpdir, form, rate):
    # These rates come from numpy's global random state when a layer is
    # bound, so a loaded model would draw others unless the file has them.
    model = theanets.recurrent.Regressor(
        [4, dict(size=3, form=form, rate=rate), 2])
    rates = model.layers[1].fixed_values['rate'].get_value()
    np.random.seed(12345)  # a global state unlike the one at saving time
    loaded = _round_trip(model, tmpdir)
    np.testing.assert_array_equal(
        loaded.layers[1].fixed_values['rate'].get_value(), rates)
    _same_outputs(model, loaded, X3)


def test_recurrent_initial_state_and_bidirectional(tmpdir):
    model = theanets.recurrent.Classifier([
        dict(form='input', name='h0', size=3, ndim=2),
        dict(form='input', name='in', size=4),
        dict(form='rnn', size=3, inputs='in', h_0='h0'),
        dict(form='bidirectional', size=4, worker='gru'),
        (3, 'softmax')])
    loaded = _round_trip(model, tmpdir)
    assert loaded.layers[2].h_0 == 'h0:out'
    assert loaded.layers[3].worker == 'gru'
    h0 = RNG.randn(3, 3).astype('f')
    np.testing.assert_array_equal(
        model.feed_forward([h0, X3])['out:out'],
        loaded.feed_forward([h0, X3])['out:out'])


def test_convolution_round_trip(tmpdir):
    model = theanets.convolution.Classifier([
        (6, 5, 3),
        dict(form='conv2', size=2, filter_size=(3, 2), stride=(1, 2)),
        dict(form='pool2', pool_size=(2, 2), activation='linear'),
        'flat', 3])
    loaded = _round_trip(model, tmpdir)
    assert loaded.layers[1].filter_size == (3, 2)
    assert loaded.layers[1].stride == (1, 2)
    _same_outputs(model, loaded, X4)


def test_conv1_round_trip(tmpdir):
    model = theanets.recurrent.Regressor([
        4, dict(form='conv1', size=2, filter_size=2), 3])
    loaded = _round_trip(model, tmpdir)
    assert loaded.layers[1].filter_size == (1, 2)
    _same_outputs(model, loaded, X3)


def test_sparse_input_and_random_state(tmpdir):
    model = theanets.Regressor(
        [dict(form='input', size=4, sparse='csc'), 2],
        rng=np.random.RandomState(4))
    loaded = _round_trip(model, tmpdir)
    assert loaded.inputs[0].type.format == 'csc'
    # the file stores the model's (internal) rng, with its state
    assert isinstance(loaded._rng, np.random.RandomState)
    assert loaded._rng.randint(1000) == model._rng.randint(1000)


def test_loaded_model_keeps_training(tmpdir):
    model = theanets.Regressor([4, (3, 'tanh'), 2])
    loaded = _round_trip(model, tmpdir)
    y = RNG.randn(6, 2).astype('f')
    train, _ = loaded.train([X2, y], algo='sgd', max_updates=2,
                            batch_size=6, learning_rate=0.01,
                            validate_every=1, min_improvement=0)
    assert np.isfinite(train['loss'])
    assert not np.array_equal(loaded.find('out', 'w').get_value(),
                              model.find('out', 'w').get_value())


def test_suffixes_and_format_argument(tmpdir):
    model = theanets.Regressor([4, 2])
    for name in ('a.NPZ', 'b.theanets.npz'):
        path = os.path.join(str(tmpdir), name)
        model.save(path)
        assert zipfile.is_zipfile(path)
    path = os.path.join(str(tmpdir), 'c.bin')
    model.save(path, format='npz')
    assert zipfile.is_zipfile(path)
    assert type(graph.Network.load(path, allow_pickle=False)).__name__ == \
        'Regressor'
    with pytest.raises(ValueError, match='format'):
        model.save(path, format='json')
    buffer = io.BytesIO()
    model.save(buffer, format='npz')
    buffer.seek(0)
    assert isinstance(graph.Network.load(buffer), theanets.Regressor)


def test_npz_load_never_unpickles(tmpdir, monkeypatch):
    model = theanets.Regressor([4, 2])
    path = os.path.join(str(tmpdir), 'm.npz')
    model.save(path)

    def forbidden(*args, **kwargs):
        raise AssertionError('pickle used')

    monkeypatch.setattr(pickle, 'load', forbidden)
    monkeypatch.setattr(pickle, 'loads', forbidden)
    assert isinstance(graph.Network.load(path), theanets.Regressor)


def test_float_arrays_of_another_width_load_cast(tmpdir):
    """Parameters stored as float16 or float64 load in the model's type."""
    net = theanets.recurrent.Regressor(
        [3, dict(form='rrnn', size=4, rate='uniform'), 2])
    path = os.path.join(str(tmpdir), 'model.npz')
    net.save(path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    wide = {k: v.astype('float64') if k.startswith(('param:', 'fixed:'))
            else v for k, v in arrays.items()}
    narrow = {k: v.astype('float16') if k.startswith(('param:', 'fixed:'))
              else v for k, v in arrays.items()}
    x = np.random.RandomState(3).randn(2, 5, 3).astype(util.FLOAT)
    for name, data in (('wide.npz', wide), ('narrow.npz', narrow)):
        other = os.path.join(str(tmpdir), name)
        _write_npz(other, **data)
        loaded = graph.Network.load(other)
        assert {str(p.dtype) for p in loaded.params} == {util.FLOAT}
        rates = loaded.layers[1].fixed_values['rate'].get_value()
        assert rates.dtype == util.FLOAT
        tolerance = 1e-2 if name == 'narrow.npz' else 1e-6
        np.testing.assert_allclose(loaded.predict(x), net.predict(x),
                                   rtol=tolerance, atol=tolerance)


def _write_npz(path, **arrays):
    np.savez(path, **arrays)


def _structure(doc):
    return np.frombuffer(json.dumps(doc).encode(), np.uint8)


def test_bad_npz_files(tmpdir):
    good = os.path.join(str(tmpdir), 'good.npz')
    theanets.Regressor([4, 2]).save(good)
    with np.load(good) as archive:
        arrays = {k: archive[k] for k in archive.files}
    doc = json.loads(arrays['__structure__'].tobytes())

    def check(name, message, **changes):
        path = os.path.join(str(tmpdir), name)
        data = dict(arrays)
        data.update(changes)
        _write_npz(path, **{k: v for k, v in data.items() if v is not None})
        with pytest.raises(util.ModelFileError, match=message):
            graph.Network.load(path)

    check('plain.npz', 'not a theanets model', __structure__=None)
    check('garbage.npz', 'corrupt', __structure__=np.frombuffer(
        b'\xff\xfe{', np.uint8))
    check('format.npz', 'not a theanets model file',
          __structure__=_structure(dict(doc, format='other')))
    check('version.npz', 'unsupported model file version',
          __structure__=_structure(dict(doc, version=99)))
    check('class.npz', "'os.system', which is not a theanets model class",
          __structure__=_structure(dict(doc, model='os.system')))
    bad_layers = [dict(doc['layers'][0]), dict(doc['layers'][1],
                                                form='evil')]
    check('form.npz', "unknown layer form 'evil'",
          __structure__=_structure(dict(doc, layers=bad_layers)))
    check('shape.npz', r'parameter out.w has shape \(3, 2\)',
          **{'param:out.w': np.zeros((3, 2), 'f')})
    check('missing.npz', "lacks the array 'param:out.b'",
          **{'param:out.b': None})
    # Float arrays of any width load (cast), other dtypes are refused.
    check('int.npz', r'parameter out.w has shape \(4, 2\) and dtype int64 in '
          r'the file, but the model needs shape \(4, 2\) and a float dtype',
          **{'param:out.w': np.zeros((4, 2), 'int64')})
    check('bool.npz', 'parameter out.b has shape .* and dtype bool',
          **{'param:out.b': np.zeros(2, bool)})
    check('complex.npz', 'corrupt', **{'param:out.b': np.zeros(2, complex)})
    check('objects.npz', 'corrupt',
          **{'param:out.b': np.array([None, 1], dtype=object)})
    object_array = np.empty(1, dtype=object)
    path = os.path.join(str(tmpdir), 'object.npz')
    np.savez(path, __structure__=object_array)
    with pytest.raises(util.ModelFileError, match='corrupt'):
        graph.Network.load(path)

    truncated = os.path.join(str(tmpdir), 'truncated.npz')
    with open(good, 'rb') as handle:
        data = handle.read()
    with open(truncated, 'wb') as handle:
        handle.write(data[:len(data) // 2])
    with pytest.raises(util.ModelFileError, match='truncated'):
        graph.Network.load(truncated)

    pickled = os.path.join(str(tmpdir), 'pickled.npz')
    theanets.Regressor([4, 2]).save(pickled, format='pickle')
    with pytest.raises(util.ModelFileError, match='not a theanets .npz'):
        graph.Network.load(pickled)


def test_unsavable_configurations(tmpdir):
    class MyRegressor(theanets.Regressor):
        pass

    path = os.path.join(str(tmpdir), 'm.npz')
    with pytest.raises(util.ModelFileError, match='only the theanets model'):
        MyRegressor([4, 2]).save(path)
    model = theanets.Regressor([4, 2])
    model.layers[1].kwargs['callback'] = len
    with pytest.raises(util.ModelFileError, match='callback'):
        model.save(path)
    assert not os.path.exists(path)
    # the pickle format still works for such models
    model.save(os.path.join(str(tmpdir), 'm.pkl'))


def test_structure_document():
    doc, arrays = serialize.structure(theanets.Classifier([4, (3, 'tanh'), 2]))
    assert doc['format'] == 'theanets-model' and doc['version'] == 1
    assert doc['model'] == 'theanets.feedforward.Classifier'
    assert [l['form'] for l in doc['layers']] == [
        'input', 'feedforward', 'feedforward']
    assert doc['params'] == ['hid1.w', 'hid1.b', 'out.w', 'out.b']
    assert sorted(arrays) == ['param:hid1.b', 'param:hid1.w', 'param:out.b',
                              'param:out.w']
    assert doc['losses'] == [dict(form='crossentropy', weight=1.0,
                                  output_name='out:out', weighted=False,
                                  target=dict(ndim=1), args={})]
    json.dumps(doc)  # plain JSON


def test_legacy_model_converts_to_npz(tmpdir):
    model = graph.Network.load(os.path.join(LEGACY, 'classifier_tanh.pkl.gz'))
    expected = np.load(os.path.join(LEGACY, 'classifier_tanh.npz'))
    loaded = _round_trip(model, tmpdir)
    np.testing.assert_allclose(loaded.predict_proba(expected['x']),
                               expected['predict_proba'], rtol=1e-4)


# -- files written by earlier versions ---------------------------------------

MODEL_FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'model-files')
OLD_FILES = ['feedforward_tied', 'recurrent_options', 'convolution', 'conv1',
             'sparse_input']


def _layer_docs(arrays):
    doc = json.loads(arrays['__structure__'].tobytes().decode('utf-8'))
    return doc['layers']


@pytest.mark.parametrize('name', OLD_FILES)
def test_files_written_before_get_config_load(name, tmpdir):
    """Files written before layers had get_config() load, compute what they
    computed, and are saved again with the same layout."""
    path = os.path.join(MODEL_FILES, name + '.npz')
    model = graph.Network.load(path, allow_pickle=False)
    with np.load(os.path.join(MODEL_FILES, name + '.expected.npz')) as saved:
        inputs = [saved['x{}'.format(i)] for i in range(len(saved.files) - 1)]
        expected = saved['out']
    if model.layers[0].get_config()['sparse']:
        inputs = [scipy.sparse.csc_matrix(inputs[0])]
    outputs = model.feed_forward(inputs if len(inputs) > 1 else inputs[0])
    np.testing.assert_allclose(outputs[model.layers[-1].output_name],
                               expected, rtol=1e-6, atol=1e-6)

    loaded = _round_trip(model, tmpdir)
    with np.load(path) as archive:
        old = _layer_docs(archive)
    with np.load(os.path.join(str(tmpdir), 'model.npz')) as archive:
        new = _layer_docs(archive)
    assert [(l['form'], l['name'], sorted(l['kwargs']), sorted(l['args']))
            for l in new] == \
        [(l['form'], l['name'], sorted(l['kwargs']), sorted(l['args']))
         for l in old]
    for before, after in zip(old, new):
        for part in ('kwargs', 'args'):
            for key, value in before[part].items():
                if key == 'rng' and isinstance(value, dict):
                    continue  # a generator's state moves on as layers draw
                if key == 'periods':  # was written as an array
                    assert after[part][key] == {'__tuple__': [1, 2]}
                    continue
                assert after[part][key] == value, (before['name'], key)
    assert [l.get_config() for l in loaded.layers] == \
        [l.get_config() for l in model.layers]


def test_structure_keeps_the_layer_layout():
    model = theanets.recurrent.Regressor([
        4, dict(form='conv1', size=2, filter_size=3, stride=2), 3])
    doc, _ = serialize.structure(model)
    conv = doc['layers'][1]
    assert conv['args'] == dict(filter_size=3, stride=2, border_mode='valid')
    assert conv['kwargs'] == dict(size=2, inputs='in:out', activation='relu',
                                  rng=13)
    assert doc['layers'][0]['args'] == dict(sparse=False)
