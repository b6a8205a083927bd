"""Model files move between the Theano and PyTensor backends.

Three kinds of check:

* files that each backend wrote (tests/model-files/backends, made by
  make_backend_files.py there) load on the running backend and predict what
  the writing backend recorded, so each backend checks the other's files
  without the other installed;
* seeded models draw the same initial parameters on both backends (their
  digests are pinned);
* with ``THEANETS_OTHER_PYTHON`` naming an interpreter that runs the other
  backend, files cross both ways in child processes.
"""

import glob
import importlib.util
import io
import json
import os
import pickle
import subprocess
import textwrap

import numpy as np
import pytest

import theanets
from theanets import backend
from theanets.exceptions import ModelFileError

from tests.helpers import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, 'model-files', 'backends')


def _maker():
    spec = importlib.util.spec_from_file_location(
        'make_backend_files',
        os.path.join(HERE, 'model-files', 'make_backend_files.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


maker = _maker()

MODEL_FILES = sorted(
    os.path.basename(p) for p in glob.glob(os.path.join(FILES, '*'))
    if not p.endswith('.expected.npz'))

#: SHA-256 of the initial parameters of make_backend_files.seeded_models(),
#: as both backends draw them (numpy draws them, from the model's seed).
INITIAL_DIGESTS = {
    'regressor':
        '4c8abbcf4d2b55f617613d95f3abf2c38ef3cf319a0f3ae48638750107f7ad50',
    'classifier':
        'a20d3e7f1ae04a74699dfca781f90cc8953982f2c6bf7a226c9b25d2560a0418',
    'autoencoder':
        '29c222820e74fb614deaab92b903d95c7be73f6b01f0b848296c8c45d9273038',
    'sparse_input':
        '03e7c88d0744e9272b7960cbf3221fb55dd27387d711fe6cb86b7a3fee76ffcb',
    'lstm':
        '627631fc8ef88fdc95d0795fa5fc97321daf8e0d6d07399db2d57c5c904b5b8c',
}

OTHER = {'theano': 'pytensor', 'pytensor': 'theano'}[backend.name()]


def _expected(filename):
    stem = filename.split('.')[0]
    with np.load(os.path.join(FILES, stem + '.expected.npz')) as data:
        return {key: data[key] for key in data.files}


def _inputs(expected):
    return [expected['x{}'.format(i)]
            for i in range(sum(k.startswith('x') for k in expected))]


def _assert_native(model):
    """Every parameter is a shared variable of the running backend."""
    for param in model.params:
        assert isinstance(param, backend.theano.compile.SharedVariable)
        assert type(param).__module__.split('.')[0] == backend.name(), (
            type(param))


def test_both_backends_wrote_every_case():
    cases = [name for name, _, _, _ in maker.cases()]
    for writer in ('theano', 'pytensor'):
        for case in cases:
            written = [f for f in MODEL_FILES
                       if f.startswith('{}-{}.'.format(writer, case))]
            assert len(written) == 2, (writer, case, written)


@pytest.mark.parametrize('filename', MODEL_FILES)
def test_files_of_either_backend_predict_what_was_recorded(filename):
    model = theanets.Network.load(os.path.join(FILES, filename))
    expected = _expected(filename)
    _assert_native(model)
    got = maker.predictions(model, _inputs(expected))
    np.testing.assert_allclose(got, expected['out'], rtol=1e-5, atol=1e-6)
    if '.pkl' in filename:  # the layers' numpy generators keep their state
        assert model.layers[1].rng.randint(2 ** 31) == expected['rng_next']


@pytest.mark.parametrize('case', ['regressor', 'classifier', 'sparse_input'])
def test_other_backends_pickle_trains_and_pickles_natively(case):
    path = glob.glob(os.path.join(FILES, '{}-{}.pkl*'.format(OTHER, case)))[0]
    model = theanets.Network.load(path)
    expected = _expected(os.path.basename(path))
    before = [p.get_value().copy() for p in model.params]
    inputs = maker.fed(model, _inputs(expected))
    if isinstance(model, theanets.Classifier):
        targets = np.arange(expected['x0'].shape[0]) % 3
        data = inputs + [targets.astype('int32')]
    else:
        data = inputs + [expected['out'] + 0.5]  # away from the optimum
    model.train(data, algo='sgd', learning_rate=0.1, max_updates=2)
    assert any(not np.allclose(a, p.get_value())
               for a, p in zip(before, model.params))
    data = pickle.dumps(model, -1)
    assert OTHER.encode() not in data  # nothing names the other backend
    copy = theanets.Network.load(io.BytesIO(data))
    _assert_native(copy)
    np.testing.assert_array_equal(
        maker.predictions(copy, _inputs(expected)),
        maker.predictions(model, _inputs(expected)))


def test_seeded_initial_parameters_match_on_both_backends():
    digests = {name: maker.parameter_digest(model)
               for name, model in maker.seeded_models()}
    assert digests == INITIAL_DIGESTS


def test_noise_and_dropout_draws_repeat_per_seed():
    """The same seed gives the same noise and dropout (on one backend)."""
    rng = np.random.RandomState(2)
    x = rng.randn(16, 4).astype('f')
    y = rng.randn(16, 2).astype('f')

    def trained(seed):
        net = theanets.Regressor([4, (6, 'tanh'), 2], rng=1)
        net.train([x, y], algo='sgd', max_updates=3, batch_size=16,
                  input_noise=0.3, hidden_dropout=0.5, rng=seed)
        return [p.get_value() for p in net.params]

    first, again, other = trained(7), trained(7), trained(8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


# -- refusals -------------------------------------------------------------


def _object_pickle(module, name, state):
    """A pickle that makes ``module.name`` without arguments, then gives it
    ``state``."""
    head = b'\x80\x02c' + module.encode() + b'\n' + name.encode() + b'\n)\x81'
    return head + pickle.dumps(state, 2)[2:-1] + b'b.'


FOREIGN = {'theano': 'pytensor', 'pytensor': 'theano'}[backend.name()]


@pytest.mark.parametrize('module, name', [
    ('{}.compile.ops', 'FromFunctionOp'),
    ('{}.compile.function', 'function'),
    ('{}.tensor.basic', 'Alloc'),
    ('{}.printing', 'Print'),
])
def test_other_backends_names_outside_a_model_are_refused(module, name):
    data = _object_pickle(module.format(FOREIGN), name, {})
    with pytest.raises(ModelFileError, match='names {}.{}, which a theanets '
                       'model cannot contain'.format(
                           module.format(FOREIGN), name)):
        theanets.Network.load(io.BytesIO(data))


def test_functions_imported_into_the_scalar_module_are_refused():
    # the output type rules of scalar ops are functions of the backend's
    # scalar module; functions it merely imports are not allowed with them
    module = backend.name() + '.scalar.basic'
    data = _object_pickle(module, 'dedent', {})
    with pytest.raises(ModelFileError, match='names {}.dedent'.format(
            module)):
        theanets.Network.load(io.BytesIO(data))


@pytest.mark.parametrize('name, state, problem', [
    ('tensor_type', {'dtype': 'evil', 'broadcastable': (False, )},
     'evil'),
    ('tensor_type', {'dtype': 'float32', 'broadcastable': 'no'},
     'holds a str'),
    ('tensor_type', {'dtype': 'float32'}, 'holds a NoneType'),
    ('elemwise', {'scalar_op': 'os.system', 'name': 'x'},
     'elementwise op holds a str'),
    ('shared', {'container': None, 'type': None}, 'holds a NoneType'),
])
def test_other_backends_objects_with_broken_state_are_refused(
        name, state, problem):
    module, cls = {
        'theano': {'tensor_type': ('theano.tensor.type', 'TensorType'),
                   'elemwise': ('theano.tensor.elemwise', 'Elemwise'),
                   'shared': ('theano.tensor.sharedvar',
                              'TensorSharedVariable')},
        'pytensor': {'tensor_type': ('pytensor.tensor.type', 'TensorType'),
                     'elemwise': ('pytensor.tensor.elemwise', 'Elemwise'),
                     'shared': ('pytensor.tensor.sharedvar',
                                'TensorSharedVariable')},
    }[FOREIGN][name]
    data = _object_pickle(module, cls, state)
    with pytest.raises(ModelFileError, match=problem):
        theanets.Network.load(io.BytesIO(data))


# -- both interpreters ------------------------------------------------------

#: Environment variable naming a Python interpreter that runs the other
#: backend (e.g. a Python 3.13 venv with PyTensor, when this one runs
#: Theano); the crossing test skips without it.
OTHER_PYTHON_ENV = 'THEANETS_OTHER_PYTHON'

CHILD = '''
import json, os, sys
import numpy as np
sys.path.insert(0, {maker_dir!r})
import make_backend_files as maker
import theanets
folder = sys.argv[1]
out = {{'backend': theanets.backend.name(), 'file': theanets.__file__,
       'loaded': {{}}}}
for name in sorted(os.listdir(folder)):
    if name.startswith('parent-') and not name.endswith('.npy'):
        model = theanets.Network.load(os.path.join(folder, name))
        inputs = [np.load(os.path.join(folder, name.split('.')[0] + '.npy'))]
        out['loaded'][name] = maker.predictions(model, inputs).tolist()
for case, model, inputs, suffix in maker.cases():
    model.save(os.path.join(folder, 'child-' + case + '.npz'))
    model.save(os.path.join(folder, 'child-' + case + suffix))
    np.save(os.path.join(folder, 'child-' + case + '.npy'), inputs[0])
print(json.dumps(out))
'''


def _other_python():
    python = os.environ.get(OTHER_PYTHON_ENV, '').strip()
    if not python:
        pytest.skip('set {} to a Python that runs the other backend ({}) '
                    'to cross files between interpreters'.format(
                        OTHER_PYTHON_ENV, OTHER))
    if not os.access(python, os.X_OK):
        pytest.skip('{}={} is not an executable'.format(
            OTHER_PYTHON_ENV, python))
    return python


def test_files_cross_between_interpreters(tmp_path):
    python = _other_python()
    predicted = {}
    for case, model, inputs, suffix in maker.cases():
        for ext in ('.npz', suffix):
            model.save(str(tmp_path / ('parent-' + case + ext)))
        np.save(str(tmp_path / ('parent-' + case + '.npy')), inputs[0])
        predicted[case] = maker.predictions(model, inputs)
    env = dict(os.environ, PYTHONPATH=ROOT)
    for name in ('THEANETS_BACKEND', 'THEANO_FLAGS', 'PYTENSOR_FLAGS'):
        env.pop(name, None)
    proc = subprocess.run(
        [python, '-c', textwrap.dedent(CHILD.format(
            maker_dir=os.path.join(HERE, 'model-files'))), str(tmp_path)],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    if child['backend'] == backend.name():
        pytest.skip('{} runs the same backend ({})'.format(
            python, child['backend']))
    assert child['file'].startswith(ROOT), child['file']
    assert len(child['loaded']) == 2 * len(predicted)
    for name, got in child['loaded'].items():
        np.testing.assert_allclose(
            got, predicted[name.split('.')[0][len('parent-'):]],
            rtol=1e-5, atol=1e-6, err_msg=name)
    for case, model, inputs, suffix in maker.cases():
        for ext in ('.npz', suffix):
            loaded = theanets.Network.load(
                str(tmp_path / ('child-' + case + ext)))
            _assert_native(loaded)
            np.testing.assert_allclose(
                maker.predictions(loaded, inputs), predicted[case],
                rtol=1e-5, atol=1e-6, err_msg=case + ext)
