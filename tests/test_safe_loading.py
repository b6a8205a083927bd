"""Pickles load through a restricted unpickler unless the file is trusted."""

import gzip
import io
import os
import pickle
import pickletools
import re
import sys

import numpy as np
import pytest

import theanets
from tests.helpers import BACKEND
from theanets import saving
from theanets.exceptions import ModelFileError

HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY = os.path.join(HERE, 'legacy-models')


class Reduce(object):
    """Pickles as ``callable(*args)``: what an attacker's file would hold."""

    def __init__(self, callable, *args):
        self.callable = callable
        self.args = args

    def __reduce__(self):
        return self.callable, self.args


def global_opcode_pickle(module, name, *args):
    """A protocol-0 pickle that calls ``module.name(*args)`` (strings)."""
    text = 'c{}\n{}\n('.format(module, name)
    text += ''.join('V{}\n'.format(arg) for arg in args)
    return (text + 'tR.').encode('ascii')


@pytest.fixture
def marker(tmpdir):
    return os.path.join(str(tmpdir), 'ran')


def attacks(marker):
    """Pickles that create the file ``marker`` when they are unpickled.

    Maps a label to the pickle and the name the refusal must give.
    """
    import builtins
    import subprocess
    touch = 'touch {}'.format(marker)
    code = 'open({!r}, "w").close()'.format(marker)
    system = '{}.system'.format(os.name)
    return {
        'os.system': (pickle.dumps(Reduce(os.system, touch)), system),
        'posix.system': (global_opcode_pickle(os.name, 'system', touch),
                         system),
        'builtins.eval': (pickle.dumps(Reduce(builtins.eval, code)),
                          'builtins.eval'),
        'builtins.exec': (pickle.dumps(Reduce(builtins.exec, code)),
                          'builtins.exec'),
        'subprocess': (pickle.dumps(
            Reduce(subprocess.check_call, ['touch', marker])),
            'subprocess.check_call'),
        # a real model next to the payload
        'nested': (pickle.dumps(
            {'model': theanets.Regressor([2, 1]),
             'payload': Reduce(os.system, touch)}), system),
        # names reached through modules that are allowed
        'theanets.saving.os': (global_opcode_pickle(
            'theanets.saving', 'os.system', touch),
            'theanets.saving.os.system'),
        'theanets.activations.build': (global_opcode_pickle(
            'theanets.activations', 'build', touch),
            'theanets.activations.build'),
        'theano.compile.function': (global_opcode_pickle(
            'theano.compile', 'function', touch), 'theano.compile.function'),
        'numpy.load': (global_opcode_pickle('numpy', 'load', marker),
                       'numpy.load'),
        'builtins.getattr': (global_opcode_pickle(
            'builtins', 'getattr', 'os', 'system'), 'builtins.getattr'),
        'builtins.__import__': (global_opcode_pickle(
            'builtins', '__import__', 'antigravity'), 'builtins.__import__'),
    }


@pytest.mark.parametrize('kind', sorted(attacks('m')))
@pytest.mark.parametrize('suffix', ['.pkl', '.pkl.gz'])
def test_crafted_pickle_is_refused_before_it_runs(tmpdir, marker, kind,
                                                  suffix):
    # before: the default allow_pickle=True ran the command, then said
    # "holds a int"
    data, named = attacks(marker)[kind]
    path = os.path.join(str(tmpdir), 'evil' + suffix)
    with (gzip.open if suffix.endswith('.gz') else open)(path, 'wb') as f:
        f.write(data)
    with pytest.raises(ModelFileError, match=r'^refusing to load a model '
                       r'from .*evil.*: the pickle names {}, which a '
                       r'theanets model cannot contain; nothing it names '
                       r'was imported or called'.format(re.escape(named))):
        theanets.Network.load(path)
    assert not os.path.exists(marker)
    assert 'antigravity' not in sys.modules


def test_trusted_load_runs_the_full_unpickler(tmpdir, marker):
    path = os.path.join(str(tmpdir), 'evil.pkl')
    with open(path, 'wb') as handle:
        handle.write(attacks(marker)['builtins.exec'][0])
    with pytest.raises(ModelFileError, match='holds a NoneType'):
        theanets.Network.load(path, trusted=True)
    assert os.path.exists(marker)  # the attack is real; trusted=True ran it


def test_refused_from_a_file_object(marker):
    with pytest.raises(ModelFileError, match=r'names \w+\.system'):
        theanets.Network.load(io.BytesIO(attacks(marker)['os.system'][0]))
    assert not os.path.exists(marker)


@pytest.mark.parametrize('name', ['regressor_relu', 'classifier_tanh',
                                  'autoencoder_tied'])
def test_legacy_pickles_load_by_default(name):
    model = theanets.Network.load(
        os.path.join(LEGACY, name + '.pkl.gz'), allow_pickle=True)
    with np.load(os.path.join(LEGACY, name + '.npz')) as expected:
        np.testing.assert_allclose(model.predict(expected['x']),
                                   expected['predict'], rtol=1e-5, atol=1e-6)


def _globals(data):
    """Every (module, name) a pickle resolves, recorded while loading it."""
    seen = set()

    class Recorder(saving.ModelUnpickler):
        def find_class(self, module, name):
            seen.add((module, name))
            return super().find_class(module, name)

    Recorder(io.BytesIO(data)).load()
    return seen


ACTIVATIONS = ['linear', 'logistic', 'sigmoid', 'tanh', 'softplus',
               'softmax', 'relu', 'rect:max', 'rect:min', 'rect:minmax',
               'norm:mean', 'norm:max', 'norm:std', 'norm:z', 'prelu',
               'lgrelu', 'elu', 'maxout:3', 'relu+norm:z', 'tanh+prelu']


def every_kind_of_model():
    models = [theanets.Regressor([3, (6, act), 2]) for act in ACTIVATIONS]
    for loss in ('mse', 'mae', 'kl', 'gll', 'mmd'):
        models.append(theanets.Regressor([3, (4, 'softmax'), 4], loss=loss))
    for loss in ('xe', 'hinge'):
        models.append(theanets.Classifier([3, 4], loss=loss, weighted=True))
    models.append(theanets.Autoencoder([3, 4, 5, ('tied', 4), ('tied', 3)]))
    models.append(theanets.Regressor(
        [dict(form='input', size=5, sparse='csr'), 2]))
    models.append(theanets.Regressor(
        [3, dict(size=4, rng=np.random.RandomState(3)), 2],
        rng=np.random.RandomState(4)))
    for form, extra in [('rnn', {}), ('lstm', {}), ('gru', {}), ('mrnn', {}),
                        ('rrnn', dict(rate='uniform')), ('scrn', {}),
                        ('bcrnn', dict(num_modules=3)),
                        ('clockwork', dict(periods=(1, 2, 3))), ('mut1', {}),
                        ('bidirectional', {})]:
        spec = dict(form=form, size=6, **extra)
        for cls in (theanets.recurrent.Regressor,
                    theanets.recurrent.Classifier):
            models.append(cls([3, spec, 2]))
        models.append(theanets.recurrent.Autoencoder([3, spec, 3]))
    models.append(theanets.convolution.Classifier(
        [(8, 8, 1), dict(form='conv2', size=3, filter_size=(3, 3)),
         dict(form='pool2', pool_size=(2, 2)), ('flat', 27), 2]))
    trained = theanets.Regressor([3, 4, 2])
    x = np.random.RandomState(0).randn(20, 3).astype('f')
    trained.train([x, x[:, :2]], max_updates=2)
    models.append(trained)
    return models


def test_every_kind_of_model_loads_by_default():
    seen = set()
    for model in every_kind_of_model():
        data = pickle.dumps(model, -1)
        seen |= _globals(data)
        loaded = theanets.Network.load(io.BytesIO(data))
        assert type(loaded) is type(model)
        assert [p.name for p in loaded.params] == \
            [p.name for p in model.params]
        for mine, theirs in zip(loaded.params, model.params):
            np.testing.assert_array_equal(mine.get_value(), theirs.get_value())
    modules = {module.split('.')[0] for module, _ in seen}
    # the backend's own classes: Theano's, or PyTensor's
    assert modules == {'numpy', 'theanets', BACKEND}


def test_common_models_load_by_default_and_predict_the_same():
    x = np.random.RandomState(1).randn(4, 3).astype('f')
    for model in (theanets.Classifier([3, (4, 'prelu'), 2]),
                  theanets.Regressor([3, (5, 'relu+norm:z'), 2],
                                     rng=np.random.RandomState(2)),
                  theanets.Autoencoder([3, 2, ('tied', 3)])):
        for opener in (None, gzip.compress):
            data = pickle.dumps(model, -1)
            handle = io.BytesIO(opener(data) if opener else data)
            if opener:
                handle = gzip.GzipFile(fileobj=handle)
            loaded = theanets.Network.load(handle)
            np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_recurrent_model_loads_by_default():
    model = theanets.recurrent.Regressor([3, dict(form='lstm', size=4), 2])
    loaded = theanets.Network.load(io.BytesIO(pickle.dumps(model)))
    x = np.random.RandomState(1).randn(2, 5, 3).astype('f')
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_other_library_class_named():
    data = pickle.dumps(io.BytesIO(b'x'))
    assert any('BytesIO' in str(arg) for _, arg, _ in
               pickletools.genops(data))
    with pytest.raises(ModelFileError, match=r'the pickle names _io\.BytesIO'):
        theanets.Network.load(io.BytesIO(data))
