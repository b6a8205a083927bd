"""Tests of how theanets installs: the wheel, its import hook on either
backend, and the stand-in ``theano`` package of Python 3.12 and newer.

``setup.py`` picks the backend by Python version: Theano 1.0.5 (numpy 1.23)
on Python 3.11, PyTensor (numpy 2) on 3.12 and newer, where the stand-in
``theano`` distribution of ``backends/theano-pytensor`` satisfies downhill's
``theano`` requirement and makes ``import theano`` theanets' PyTensor
facade. The tests that run PyTensor in a fresh interpreter run where the
PyTensor backend can (Python 3.12+); those of the Theano hook are in
``tests/test_backend.py``.
"""

import email.parser
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from theanets import _import_hook, _theano_env

from tests.helpers import ROOT, install_import_hook, run_fresh

STAND_IN = os.path.join(ROOT, 'backends', 'theano-pytensor')

PYTENSOR_PROBLEM = _theano_env.pytensor_problem()

#: For the tests that start the PyTensor backend in a fresh interpreter.
needs_pytensor = pytest.mark.skipif(
    PYTENSOR_PROBLEM is not None,
    reason='the PyTensor backend cannot run here: {}'.format(PYTENSOR_PROBLEM))


# ----------------------------------------------------------------------
# the wheel

@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """theanets' wheel, built from a copy of the source tree."""
    tmp_path = tmp_path_factory.mktemp('wheel')
    source = tmp_path / 'src'
    source.mkdir()
    for name in ('setup.py', 'setup.cfg', 'README.md', 'LICENSE'):
        shutil.copy(os.path.join(ROOT, name), str(source / name))
    for folder in ('theanets', os.path.join('backends', 'theano-pytensor')):
        shutil.copytree(os.path.join(ROOT, folder), str(source / folder),
                        ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(tmp_path / 'dist'),
         str(source)], check=True, capture_output=True, timeout=600)
    path, = (tmp_path / 'dist').glob('theanets-*.whl')
    return path, source


@pytest.mark.slow
def test_wheel_installs_the_hook_at_its_root(wheel):
    """The wheel puts the .pth file and the hook's module beside theanets/."""
    with zipfile.ZipFile(str(wheel[0])) as archive:
        names = set(archive.namelist())
        pth = archive.read(_import_hook.PTH_NAME).decode('utf-8')
        module = archive.read(_import_hook.MODULE_NAME + '.py').decode('utf-8')
    assert 'theanets/_theano_env.py' in names
    assert pth == _import_hook.pth_line()
    with open(_import_hook.__file__, encoding='utf-8') as handle:
        assert module == handle.read()
    # the stand-in "theano" is a distribution of its own, not in this wheel
    assert not any(name.startswith(('theano/', 'backends/')) for name in names)


def wheel_requirements(path):
    with zipfile.ZipFile(str(path)) as archive:
        metadata, = [n for n in archive.namelist()
                     if n.endswith('.dist-info/METADATA')]
        text = archive.read(metadata).decode('utf-8')
    parsed = email.parser.Parser().parsestr(text)
    return parsed.get_all('Requires-Dist'), parsed


@pytest.mark.slow
def test_wheel_requires_one_backend_per_python(wheel):
    path, source = wheel
    requires, metadata = wheel_requirements(path)
    theano, pytensor = 'python_version < "3.12"', 'python_version >= "3.12"'
    for requirement in ('Theano==1.0.5', 'numpy<1.24,>=1.23',
                        'scipy<1.12,>=1.9'):
        assert '{}; {}'.format(requirement, theano) in requires, requires
    for requirement in ('numpy>=2', 'pytensor>=3.3'):
        assert '{}; {}'.format(requirement, pytensor) in requires, requires
    # downhill's "theano" on Python 3.12+: the stand-in beside setup.py
    uri = (source / 'backends' / 'theano-pytensor').as_uri()
    assert 'theano @ {} ; {}'.format(uri, pytensor) in requires, requires
    assert 'downhill==0.4.0' in requires
    assert metadata['Requires-Python'] == '>=3.11'
    classifiers = metadata.get_all('Classifier')
    for version in ('3.11', '3.12', '3.13'):
        assert 'Programming Language :: Python :: ' + version in classifiers
    # extras: numpy 1.23's releases on 3.11, any recent one on 3.12+
    assert ('scikit-learn<1.6,>=1.3; {} and extra == "sklearn"'.format(theano)
            in requires)
    assert ('scikit-learn>=1.3; {} and extra == "sklearn"'.format(pytensor)
            in requires)
    assert 'pandas<2.3; {} and extra == "test"'.format(theano) in requires
    assert 'pytensor>=3.3; extra == "pytensor"' in requires
    # JAX: for PyTensor's JAX linker only, so on 3.12+ only
    for extra in ('jax', 'test'):
        assert ('jax>=0.11; {} and extra == "{}"'.format(pytensor, extra)
                in requires), requires


# ----------------------------------------------------------------------
# the stand-in "theano" of Python 3.12 and newer

def test_stand_in_distribution_says_what_it_is():
    with open(os.path.join(STAND_IN, 'pyproject.toml'), 'rb') as handle:
        project = tomllib.load(handle)['project']
    assert project['name'] == 'Theano'
    assert project['version'] == '1.0.5+pytensor'
    assert project['requires-python'] == '>=3.12'
    assert project['dependencies'] == []
    with open(os.path.join(STAND_IN, 'theano', '__init__.py'),
              encoding='utf-8') as handle:
        source = handle.read()
    # the mark comes before anything that can import theanets or PyTensor
    code = [line for line in source.split('"""')[2].splitlines()
            if line.strip() and not line.startswith('#')]
    assert code[0] == '_theanets_shim = True'


def test_stand_in_sorts_after_theano_1_0_5():
    """pip never "upgrades" the stand-in to Theano 1.0.5, which cannot build
    on Python 3.12+, and it satisfies requirements of Theano 1.0.5."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    assert Version('1.0.5+pytensor') > Version('1.0.5')
    assert Version('1.0.5+pytensor') in SpecifierSet('==1.0.5')
    assert Version('1.0.5+pytensor').public == '1.0.5'


#: Imports ``FIRST``, then theano and theanets, and trains a tiny model.
FACADE_SCRIPT = '''
import site, sys
for folder in %(sites)r:
    site.addsitedir(folder)
import %(first)s
import json
import numpy as np
import theano
import downhill
facade = type(theano).__name__
theanets_before = 'theanets' in sys.modules
import theanets
info = theanets.backend.info()
rng = np.random.RandomState(13)
x = rng.randn(64, 3).astype('f')
y = x.dot(rng.randn(3, 2)).astype('f')
net = theanets.Regressor([3, 2])
losses = [m['loss'] for m, _ in net.itertrain([x, y], algo='sgd',
          learning_rate=0.05, max_updates=30, patience=100)]
info.update(
    facade=facade, theanets_before=theanets_before,
    same=theanets.backend.setup() is theano is sys.modules['theano'],
    hook_left=any(getattr(f, 'theanets_theano_hook', False)
                  for f in sys.meta_path),
    first_loss=float(losses[0]), last_loss=float(losses[-1]),
    dtype=str(net.predict(x).dtype))
print(json.dumps(info))
'''


def check_facade(result):
    assert result['facade'] == '_Facade'
    assert result['same'] is True
    assert result['backend'] == 'pytensor'
    assert result['version'] == importlib.metadata.version('pytensor')
    assert result['floatX'] == 'float32'
    assert result['dtype'] == 'float32'
    assert result['last_loss'] < 0.5 * result['first_loss']


@needs_pytensor
@pytest.mark.parametrize('first', ['downhill', 'theano', 'theano.tensor'])
def test_stand_in_gives_the_facade(tmp_path, first):
    """Without the hook, the stand-in package makes ``theano`` the facade,
    also when ``import downhill`` comes first (downhill imports theano
    half-way through its own import, before theanets can be imported)."""
    sites = [os.path.join(ROOT, 'backends', 'theano-pytensor')]
    result, err = run_fresh(FACADE_SCRIPT % dict(sites=sites, first=first),
                            tmp_path, hook='off')
    check_facade(result)
    assert result['theanets_before'] is False
    assert 'Traceback' not in err


@needs_pytensor
@pytest.mark.parametrize('first', ['downhill', 'theano', 'theano.tensor'])
def test_hook_gives_the_facade(tmp_path, first):
    """With the import hook, ``import theano`` (or downhill) before theanets
    loads the facade too, and the hook leaves ``sys.meta_path``."""
    site_dir = install_import_hook(tmp_path / 'site')
    result, err = run_fresh(FACADE_SCRIPT % dict(sites=[site_dir],
                                                 first=first),
                            tmp_path, env={'THEANETS_BACKEND': 'pytensor'})
    check_facade(result)
    assert result['hook_left'] is False
    assert result['blas'] and 'set before' not in result['blas']
    assert 'could not prepare' not in err


@needs_pytensor
def test_info_names_backend_version_and_blas(tmp_path):
    result, _ = run_fresh('''
        import json
        import theanets
        print(json.dumps(theanets.backend.info()))
    ''', tmp_path)
    assert result['backend'] == 'pytensor'
    assert result['version'] == importlib.metadata.version('pytensor')
    assert result['blas'] and result['ldflags']
    assert result['linker'] == 'cvm'


@pytest.mark.skipif(PYTENSOR_PROBLEM is None or sys.version_info >= (3, 12),
                    reason='Python 3.11 without a PyTensor that theanets '
                           'supports')
def test_hook_refuses_pytensor_it_cannot_run(tmp_path):
    """THEANETS_BACKEND=pytensor on Python 3.11: ``import theano`` says why
    PyTensor cannot run instead of starting Theano."""
    site_dir = install_import_hook(tmp_path / 'site')
    result, _ = run_fresh('''
        import json, site, sys
        site.addsitedir(%r)
        try:
            import theano
        except ImportError as err:
            message = str(err)
        else:
            message = None
        print(json.dumps({'message': message,
                          'theano_left': 'theano' in sys.modules}))
    ''' % site_dir, tmp_path, env={'THEANETS_BACKEND': 'pytensor'})
    assert result['message'] == PYTENSOR_PROBLEM
    assert 'PyTensor 3.3 or newer' in result['message']
    assert 'unset THEANETS_BACKEND' in result['message']
    assert result['theano_left'] is False


# ----------------------------------------------------------------------
# choosing the backend before any import

@pytest.mark.parametrize('value, python, expected', [
    ('pytensor', (3, 11), True), (' PyTensor ', (3, 13), True),
    ('theano', (3, 11), False), ('', (3, 11), False), ('', (3, 12), True),
    ('', (3, 13), True)])
def test_pytensor_chosen(monkeypatch, value, python, expected):
    monkeypatch.setenv('THEANETS_BACKEND', value)
    monkeypatch.setattr(sys, 'version_info', python + (0, 'final', 0))
    assert _theano_env.pytensor_chosen() is expected


@pytest.mark.parametrize('version, python, problem', [
    ('3.3.8', (3, 13), None),
    ('4.0.0', (3, 12), None),
    ('3.2.1', (3, 13),
     'the PyTensor backend needs PyTensor 3.3 or newer, found PyTensor '
     '3.2.1: pip install "pytensor>=3.3"'),
    ('2.34.0', (3, 11),
     'the PyTensor backend needs PyTensor 3.3 or newer, found PyTensor '
     '2.34.0 (it needs Python 3.12 and numpy 2; on Python 3.11 theanets '
     'runs on Theano: unset THEANETS_BACKEND)'),
])
def test_pytensor_problem_reads_the_installed_version(monkeypatch, version,
                                                      python, problem):
    monkeypatch.setattr(importlib.metadata, 'version', lambda name: version)
    monkeypatch.setattr(sys, 'version_info', python + (0, 'final', 0))
    assert _theano_env.pytensor_problem() == problem


def test_pytensor_problem_when_not_installed(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, 'version', missing)
    monkeypatch.setattr(_theano_env.importlib.util, 'find_spec',
                        lambda name: None)
    monkeypatch.setattr(sys, 'version_info', (3, 13, 0, 'final', 0))
    assert _theano_env.pytensor_problem() == (
        'the PyTensor backend needs PyTensor 3.3 or newer, which is not '
        'installed: pip install "pytensor>=3.3"')
