"""Tests for :mod:`theanets.backend`, the module that configures Theano.

Theano reads its flags once per process, so most tests here run a short
script in a fresh interpreter. Each script prints one JSON document on its
last stdout line; :func:`tests.helpers.run_fresh` returns it parsed,
together with stderr.

The C implementation of Theano's scan: :mod:`theanets.backend` patches and
compiles Theano's ``scan_perform.c``; when that fails, Theano's pure-Python
loop is used. The quick tests of it call the backend's internal helpers in
this process (restoring ``sys.modules`` afterwards). The scan loop is chosen
once per process, so its end-to-end tests (marked slow: each compiles scan
graphs) run scripts in fresh interpreters.

Everything here is about Theano 1.0.5 (its flags, ``.theanorc``, its C
scan, the import hook that prepares it), so the module runs on the Theano
backend only; tests/test_packaging.py covers the PyTensor backend's start
and hook, and tests/test_downhill_logging.py the routing of downhill's
output, on both backends.
"""

import importlib
import logging
import os
import sys

import numpy as np
import pytest

from theanets import backend
from theanets.backend import theano

from tests.helpers import ROOT, install_import_hook, run_fresh

pytestmark = pytest.mark.skipif(
    backend.name() != 'theano',
    reason='Theano backend only: these tests pin how theanets configures '
           'Theano 1.0.5 (its flags, .theanorc, C scan and import hook)')

INFO_KEYS = {'backend', 'version', 'blas', 'ldflags', 'floatX', 'linker',
             'mode', 'flags_set', 'scan'}

INFO_SCRIPT = '''
import json, logging, os, sys
logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(message)s')
import theanets
info = theanets.backend.info()
info['env_flags'] = os.environ.get('THEANO_FLAGS')
print(json.dumps(info))
'''


@pytest.fixture(scope='module')
def default(tmp_path_factory):
    """``backend.info()`` and stderr of a plain ``import theanets``."""
    return run_fresh(INFO_SCRIPT, tmp_path_factory.mktemp('default'))


def test_info_keys(default):
    info, _ = default
    assert set(info) == INFO_KEYS | {'env_flags'}


def test_floatx_defaults_to_float32(default):
    info, _ = default
    assert info['floatX'] == 'float32'
    assert info['flags_set']['floatX'] == 'float32'


def test_environment_restored_after_setup(default):
    info, _ = default
    assert info['env_flags'] is None


def test_blas_is_linked_and_logged(default):
    info, err = default
    assert info['blas']
    assert info['ldflags'] == info['flags_set']['blas.ldflags']
    assert 'DEBUG Theano BLAS: {}'.format(info['blas']) in err
    assert 'no BLAS library linked' not in err


def test_ldflags_name_a_real_library(default):
    info, _ = default
    words = info['ldflags'].split()
    dirs = [w[2:] for w in words if w.startswith('-L')]
    libs = [w[2:] for w in words if w.startswith('-l')]
    assert libs, info['ldflags']
    import ctypes.util
    for lib in libs:
        candidates = [os.path.join(d, 'lib{}.so'.format(lib)) for d in dirs]
        assert (any(os.path.exists(c) for c in candidates)
                or ctypes.util.find_library(lib)), lib
    if 'gcc.cxxflags' in info['flags_set']:
        # A prefixed OpenBLAS: every routine Theano calls is mapped.
        defines = info['flags_set']['gcc.cxxflags']
        for name in ('sgemm_', 'dgemm_', 'sgemv_', 'sdot_', 'sger_'):
            assert '-D{}=scipy_{}'.format(name, name) in defines


def test_blas_ops_compute_correct_values(tmp_path):
    result, _ = run_fresh('''
        import json
        import numpy as np
        import theanets
        import theano
        import theano.tensor as TT

        rng = np.random.RandomState(3)
        out = {}
        for dtype in ('float32', 'float64'):
            a = TT.matrix('a', dtype=dtype)
            b = TT.matrix('b', dtype=dtype)
            v = TT.vector('v', dtype=dtype)
            f = theano.function(
                [a, b, v], [TT.dot(a, b), 2 * TT.dot(a, b) + 1, TT.dot(a, v)])
            x = rng.randn(30, 20).astype(dtype)
            y = rng.randn(20, 10).astype(dtype)
            z = rng.randn(20).astype(dtype)
            got = f(x, y, z)
            want = [x.dot(y), 2 * x.dot(y) + 1, x.dot(z)]
            tol = 1e-4 if dtype == 'float32' else 1e-10
            out[dtype] = {
                'ops': sorted({type(n.op).__name__
                               for n in f.maker.fgraph.toposort()}),
                'close': [bool(np.allclose(g, w, rtol=tol, atol=tol))
                          for g, w in zip(got, want)],
                'dtypes': [str(g.dtype) for g in got],
            }
        print(json.dumps(out))
    ''', tmp_path)
    for dtype, out in result.items():
        assert out['close'] == [True, True, True], dtype
        assert out['dtypes'] == [dtype] * 3
        assert {'Dot22', 'Gemm', 'Dot22Scalar'} & set(out['ops']), out['ops']
        assert {'Gemv', 'CGemv'} & set(out['ops']), out['ops']


@pytest.mark.parametrize('flags', ['floatX=float64', 'global.floatX=float64'])
def test_theano_flags_floatx_respected(tmp_path, flags):
    info, _ = run_fresh(INFO_SCRIPT, tmp_path, flags=flags)
    assert info['floatX'] == 'float64'
    assert 'floatX' not in info['flags_set']
    assert info['env_flags'] == flags
    assert info['blas']


def test_theanorc_floatx_respected(tmp_path):
    info, _ = run_fresh(INFO_SCRIPT, tmp_path, theanorc='''
        [global]
        floatX = float64
    ''')
    assert info['floatX'] == 'float64'
    assert 'floatX' not in info['flags_set']
    assert info['env_flags'] is None


def test_theanorc_blas_choice_respected(tmp_path):
    info, err = run_fresh(INFO_SCRIPT, tmp_path, theanorc='''
        [blas]
        ldflags =
    ''')
    assert info['blas'] == 'chosen by the user'
    assert info['ldflags'] == ''
    assert 'blas.ldflags' not in info['flags_set']
    assert info['floatX'] == 'float32'
    assert 'no BLAS library linked' in err


def test_user_cxxflags_win_over_prefixed_blas(default, tmp_path):
    info, err = run_fresh(INFO_SCRIPT, tmp_path, flags='gcc.cxxflags=-O2')
    if 'gcc.cxxflags' in default[0]['flags_set']:
        # The prefixed library needs our defines; without them, no BLAS.
        assert info['blas'] is None
        assert info['ldflags'] == ''
        assert 'gcc.cxxflags' not in info['flags_set']
        assert 'no BLAS library linked' in err
    else:
        assert info['blas'] == default[0]['blas']


def test_setup_is_idempotent(tmp_path):
    result, _ = run_fresh('''
        import json, os, sys
        from theanets import backend
        first = backend.setup()
        env = os.environ.get('THEANO_FLAGS')
        second = backend.setup()
        print(json.dumps({
            'same': first is second is sys.modules['theano'],
            'env_unchanged': os.environ.get('THEANO_FLAGS') == env,
            'info_equal': backend.info() == backend.info(),
        }))
    ''', tmp_path)
    assert result == {'same': True, 'env_unchanged': True, 'info_equal': True}


SCAN_SCRIPT = '''
import json, sys
import numpy as np
import theanets
import theano
import theano.tensor as TT

x = TT.vector('x')
w = TT.scalar('w')
h0 = TT.constant(np.asarray(0, dtype=theano.config.floatX))
hs, _ = theano.scan(lambda x_t, h, w: w * h + x_t,
                    sequences=x, outputs_info=h0, non_sequences=w)
f = theano.function([x, w], [hs, TT.grad(hs[-1], w)])
values, grad = f(np.array([1, 2, 3], dtype=theano.config.floatX), 0.5)
ext = sys.modules.get('theano.scan_module.scan_perform_ext', 0)
print(json.dumps({
    'scan': theanets.backend.info()['scan'],
    'ext': 'none' if ext is None else getattr(ext, '__name__', 'missing'),
    'values': values.tolist(),
    'grad': float(grad),
}))
'''


@pytest.mark.parametrize('mode', ['c', 'python'])
def test_scan_values_and_gradients(tmp_path, mode):
    result, err = run_fresh(SCAN_SCRIPT, tmp_path,
                      scan=None if mode == 'c' else 'python')
    assert result['scan'] == mode, err
    if mode == 'c':
        assert result['ext'] == 'theano.scan_module.scan_perform_ext'
        assert 'scan uses its slower Python loop' not in err
    else:
        assert result['ext'] == 'none'
    # h1 = 1, h2 = 0.5 * 1 + 2 = 2.5, h3 = 0.5 * 2.5 + 3 = 4.25
    assert result['values'] == pytest.approx([1.0, 2.5, 4.25])
    # h3 = w^2 x1 + w x2 + x3, so dh3/dw = 2 w x1 + x2 = 3
    assert result['grad'] == pytest.approx(3.0)


def test_collections_callable_and_downhill_dataset(tmp_path):
    result, _ = run_fresh('''
        import collections, collections.abc, json
        import numpy as np
        import theanets
        import downhill

        ds = downhill.Dataset([np.zeros((10, 2), 'f'), np.arange(10)],
                              batch_size=4, name='train', rng=1)
        batches = list(ds)
        print(json.dumps({
            'callable': collections.Callable is collections.abc.Callable,
            'sizes': sorted(len(b[0]) for b in batches),
        }))
    ''', tmp_path)
    assert result == {'callable': True, 'sizes': [2, 4, 4]}


def test_theano_imported_first(tmp_path):
    result, err = run_fresh('''
        import json
        import theano
        import theanets
        info = theanets.backend.info()
        import numpy as np
        import theano.tensor as TT
        x = TT.dmatrix('x')
        f = theano.function([x], TT.dot(x, x))
        info['works'] = bool(np.allclose(f(np.eye(3) * 2), np.eye(3) * 4))
        print(json.dumps(info))
    ''', tmp_path, flags='blas.ldflags=', hook='off')
    assert result['works'] is True
    assert result['blas'] == 'set before theanets was imported'
    assert result['flags_set'] == {}
    assert result['ldflags'] == ''
    # Theano's own default, which theanets can no longer change.
    assert result['floatX'] == 'float64'
    assert 'no BLAS library linked' in err
    assert 'theano was imported before theanets, without the import hook' in err
    assert 'floatX is float64 (theanets chooses float32)' in err


#: Starts like an interpreter of an environment where theanets is installed
#: (its .pth file runs), imports ``FIRST`` before theanets and trains a tiny
#: model.
HOOK_SCRIPT = '''
import site, sys
site.addsitedir(%(site)r)
hooked = any(getattr(f, 'theanets_theano_hook', False) for f in sys.meta_path)
at_start = sorted(m for m in ('numpy', 'theano', 'theanets') if m in sys.modules)
import %(first)s
import json, os
import numpy as np
import theano
theano_env_flags = os.environ.get('THEANO_FLAGS')
floatx_before_theanets = theano.config.floatX
import theanets
rng = np.random.RandomState(13)
x = rng.randn(64, 3).astype(theano.config.floatX)
y = x.dot(rng.randn(3, 2)).astype(theano.config.floatX)
net = theanets.Regressor([3, 2])
losses = [m['loss'] for m, _ in net.itertrain([x, y], algo='sgd',
          learning_rate=0.05, max_updates=30, patience=100)]
info = theanets.backend.info()
info.update(
    hooked=hooked, at_start=at_start, env_flags=theano_env_flags,
    floatx_before_theanets=floatx_before_theanets,
    hook_left=any(getattr(f, 'theanets_theano_hook', False)
                  for f in sys.meta_path),
    first_loss=float(losses[0]), last_loss=float(losses[-1]),
    dtype=str(net.predict(x).dtype))
print(json.dumps(info))
'''


@pytest.fixture(scope='module')
def hook_site(tmp_path_factory):
    """A site directory holding theanets' .pth file and import hook."""
    return install_import_hook(tmp_path_factory.mktemp('site'))


@pytest.mark.parametrize('first', ['theano', 'downhill', 'theano.tensor'])
def test_hook_prepares_theano_imported_first(tmp_path, hook_site, default,
                                             first):
    result, err = run_fresh(HOOK_SCRIPT % dict(site=hook_site, first=first),
                            tmp_path)
    assert result['hooked'] is True
    assert result['at_start'] == []  # the .pth line imports none of them
    assert result['hook_left'] is False
    assert result['floatX'] == result['floatx_before_theanets'] == 'float32'
    assert result['flags_set']['floatX'] == 'float32'
    assert result['blas'] == default[0]['blas']
    assert result['ldflags'] == result['flags_set']['blas.ldflags'] != ''
    assert result['scan'] == 'c'
    assert result['env_flags'] is None  # restored after Theano's import
    assert result['dtype'] == 'float32'
    assert result['last_loss'] < 0.5 * result['first_loss']
    assert 'imported before theanets' not in err
    assert 'could not prepare' not in err


def test_hook_keeps_user_flags(tmp_path, hook_site):
    result, err = run_fresh(HOOK_SCRIPT % dict(site=hook_site, first='theano'),
                            tmp_path, flags='floatX=float64')
    assert result['floatX'] == result['floatx_before_theanets'] == 'float64'
    assert 'floatX' not in result['flags_set']
    assert result['env_flags'] == 'floatX=float64'
    assert result['blas'] and result['ldflags']
    assert result['dtype'] == 'float64'
    assert result['last_loss'] < 0.5 * result['first_loss']


def test_hook_keeps_user_theanorc(tmp_path, hook_site):
    result, _ = run_fresh(HOOK_SCRIPT % dict(site=hook_site, first='downhill'),
                          tmp_path, theanorc='''
        [global]
        floatX = float64
    ''')
    assert result['floatX'] == 'float64'
    assert 'floatX' not in result['flags_set']
    assert result['blas']


def test_hook_can_be_switched_off(tmp_path, hook_site):
    result, err = run_fresh(HOOK_SCRIPT % dict(site=hook_site, first='theano'),
                            tmp_path, flags='blas.ldflags=', hook='off')
    assert result['hooked'] is False
    assert result['floatX'] == 'float64'
    assert result['blas'] == 'set before theanets was imported'
    assert 'theano was imported before theanets, without the import hook' in err


def test_hook_leaves_theanets_first_unchanged(tmp_path, hook_site, default):
    info, err = run_fresh('import site\nsite.addsitedir(%r)\n' % hook_site
                          + INFO_SCRIPT, tmp_path)
    assert info == default[0]
    assert 'could not prepare' not in err


def test_pth_line_never_fails(tmp_path):
    """Without the hook's module (a broken install) the line does nothing."""
    from theanets import _import_hook
    site_dir = tmp_path / 'broken'
    site_dir.mkdir()
    (site_dir / _import_hook.PTH_NAME).write_text(_import_hook.pth_line())
    # (the interpreter may already have the hook of an installed theanets:
    # count the hooks before and after adding the broken folder)
    result, err = run_fresh('''
        import json, site, sys
        def hooks():
            return [type(f).__name__ for f in sys.meta_path].count(
                'TheanoImportHook')
        before = hooks()
        site.addsitedir(%r)
        print(json.dumps([before, hooks()]))
    ''' % str(site_dir), tmp_path)
    assert result[0] == result[1]
    assert err == ''


def test_hook_warns_and_steps_aside_when_preparing_fails(tmp_path, hook_site):
    result, err = run_fresh('''
        import json, site, sys, types
        site.addsitedir(%r)
        broken = types.ModuleType('theanets._theano_env')
        def hook_find_spec(hook):
            raise RuntimeError('broken on purpose')
        broken.hook_find_spec = hook_find_spec
        sys.modules['theanets._theano_env'] = broken
        try:
            import theano
        except AttributeError as err:
            outcome = 'theano failed as without the hook: ' + str(err)
        else:
            outcome = 'imported'
        print(json.dumps(outcome))
    ''' % hook_site, tmp_path)
    assert 'blas_opt_info' in result  # Theano's own error, not the hook's
    assert 'theanets could not prepare the import of theano' in err
    assert 'broken on purpose' in err


def test_failed_theano_import_is_retried(tmp_path):
    """A failed ``import theano`` (no hook) does not break theanets later."""
    result, err = run_fresh('''
        import json
        try:
            import theano
        except AttributeError:
            failed = True
        else:
            failed = False
        import numpy as np
        import theanets
        net = theanets.Regressor([3, 2])
        out = net.predict(np.ones((4, 3), 'float32'))
        info = theanets.backend.info()
        print(json.dumps({'failed': failed, 'floatX': info['floatX'],
                          'blas': info['blas'], 'shape': list(out.shape)}))
    ''', tmp_path, hook='off')
    assert result['failed'] is True
    assert result['floatX'] == 'float32'
    assert result['blas'] and result['blas'] != 'set before theanets was imported'
    assert result['shape'] == [4, 2]
    assert 'an earlier import of theano failed' in err


def test_numpy_version_guard(tmp_path):
    result, _ = run_fresh('''
        import json, sys
        import numpy
        numpy.__version__ = '1.24.0'
        try:
            import theanets
        except ImportError as err:
            message = str(err)
        else:
            message = None
        print(json.dumps({
            'message': message,
            'theano_imported': 'theano' in sys.modules,
        }))
    ''', tmp_path)
    assert result['theano_imported'] is False
    assert 'numpy<1.24' in result['message']
    assert 'found numpy 1.24.0' in result['message']
    assert 'pip install "numpy>=1.23,<1.24"' in result['message']


def test_check_numpy_accepts_and_rejects_versions(tmp_path):
    result, _ = run_fresh('''
        import json
        import numpy
        from theanets import backend
        out = {}
        for version in ('1.23.5', '1.23.0rc1', '1.24.0', '1.26.4', '2.0.0'):
            numpy.__version__ = version
            try:
                backend._check_numpy()
            except ImportError:
                out[version] = 'rejected'
            else:
                out[version] = 'accepted'
        print(json.dumps(out))
    ''', tmp_path)
    assert result == {'1.23.5': 'accepted', '1.23.0rc1': 'accepted',
                      '1.24.0': 'rejected', '1.26.4': 'rejected',
                      '2.0.0': 'rejected'}


def test_scan_falls_back_without_compiler(tmp_path):
    info, err = run_fresh(INFO_SCRIPT, tmp_path, flags='cxx=')
    assert info['scan'] == 'python'
    # the one warning about the missing compiler covers the scan loop
    assert 'DEBUG Theano scan uses its Python loop: no C++ compiler' in err
    assert 'WARNING Theano scan' not in err
    assert info['flags_set']['tensor.local_elemwise_fusion'] == 'False'


def test_pkg_resources_stand_in_when_setuptools_lacks_it(tmp_path):
    """Recurrent graphs build even where setuptools has no pkg_resources."""
    result, _ = run_fresh('''
        import importlib.abc, json, sys

        class HidePkgResources(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == 'pkg_resources':
                    raise ModuleNotFoundError(name)
                return None

        sys.meta_path.insert(0, HidePkgResources())
        sys.modules.pop('pkg_resources', None)
        import numpy as np
        import theanets
        import theano, theano.tensor as TT
        from theano.gpuarray import linalg  # imports pkg_resources
        x = TT.vector('x')
        ys, _ = theano.scan(lambda v, acc: acc + v, sequences=[x],
                            outputs_info=[np.float32(0)])
        f = theano.function([x], ys[-1])
        print(json.dumps({
            'stand_in': sys.modules['pkg_resources'].__doc__,
            'sum': float(f(np.arange(4, dtype='float32'))),
        }))
    ''', tmp_path)
    assert 'stand-in' in result['stand_in']
    assert result['sum'] == 6.0


CACHE_SCRIPT = '''
import json
import numpy as np
import theanets
import theano
import theano.tensor as TT
from theano.gof import cc

compiled = []
original = cc.CLinker.compile_cmodule

def counting(self, location=None):
    compiled.append(sorted(type(node.op).__name__ for node in self.node_order))
    return original(self, location)

cc.CLinker.compile_cmodule = counting
x = TT.matrix('x')
w = theano.shared(np.ones((3, 2), 'float32'))
b = theano.shared(np.zeros(2, 'float32'))
f = theano.function([x], [TT.nnet.softmax(TT.dot(x, w) + b), x.T])
probs, xt = f(np.ones((4, 3), 'float32'))
print(json.dumps({'compiled': compiled, 'probs': probs.tolist(),
                  'shape': xt.shape}))
'''


def test_compiled_modules_are_reused_by_the_next_process(tmp_path):
    # Theano 1.0.5 would rebuild Dot22, SoftmaxWithBias and DimShuffle
    # modules in every process (unversioned or randomly versioned keys).
    flags = 'base_compiledir={}'.format(tmp_path / 'cache')
    first, err = run_fresh(CACHE_SCRIPT, tmp_path, flags=flags)
    ops = {name for module in first['compiled'] for name in module}
    assert {'Dot22', 'SoftmaxWithBias', 'DimShuffle'} <= ops, err
    second, err = run_fresh(CACHE_SCRIPT, tmp_path, flags=flags)
    assert second['compiled'] == [], err
    assert second['probs'] == first['probs'] == [[0.5, 0.5]] * 4
    assert second['shape'] == [3, 4]


# ----------------------------------------------------------------------
# SciPy modules Theano imports but does not need until an op runs in Python

SCIPY_SCRIPT = '''
import site, sys
site.addsitedir(%(site)r)
import %(first)s
import json
import numpy as np
import theanets
import theano
import theano.tensor as TT
SCIPY = ('scipy.stats', 'scipy.special', 'scipy.signal')
after_import = [m for m in SCIPY if m in sys.modules]
stand_ins = [m for m, module in sys.modules.items()
             if type(module).__name__ == '_DeferredModule' or (
                 module is None and m.startswith('scipy.'))]
x = TT.vector()
# FAST_COMPILE runs Theano's Python implementations (scipy.special's erf).
erf = theano.function([x], TT.erf(x), mode='FAST_COMPILE')
values = erf(np.array([-1.0, 0.0, 0.5], theano.config.floatX))
import scipy.special
import scipy.stats
import scipy.signal
from theano.tensor.nnet import conv
print(json.dumps({
    'after_import': after_import, 'stand_ins': stand_ins,
    'erf': values.tolist(),
    'expected': scipy.special.erf(np.array([-1.0, 0.0, 0.5],
                                           theano.config.floatX)).tolist(),
    'norm_cdf': float(scipy.stats.norm.cdf(0.0)),
    'signal': hasattr(scipy.signal, 'convolve2d'),
    'modules': [type(sys.modules[m]).__name__ for m in SCIPY],
    'conv_signal': conv.imported_scipy_signal}))
'''


@pytest.mark.parametrize('first', ['theanets', 'theano'])
def test_scipy_modules_load_when_first_used(tmp_path, hook_site, first):
    # Theano's import used to pull scipy.stats, scipy.special and
    # scipy.signal, about a third of `import theanets`; whichever of theanets
    # or (through the import hook) Theano comes first, they now load at
    # their first use, and only real modules are left in sys.modules.
    result, err = run_fresh(SCIPY_SCRIPT % dict(site=hook_site, first=first),
                            tmp_path)
    assert result['after_import'] == [], err
    assert result['stand_ins'] == []
    assert result['erf'] == result['expected']
    assert result['erf'][1] == 0.0 and result['erf'][2] > 0.52
    assert result['norm_cdf'] == 0.5
    assert result['signal'] is True
    assert result['modules'] == ['module'] * 3
    # SciPy 1.11 has no scipy.signal.sigtools: Theano's Python convolution
    # is off, as it is after a plain `import theano`.
    assert result['conv_signal'] is False


@pytest.fixture
def fake_scipy(tmp_path, monkeypatch):
    """A package ``fakesci`` with a module ``heavy`` that counts its imports,
    deferred (with its function ``twice``) like Theano's SciPy modules."""
    package = tmp_path / 'fakesci'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'heavy.py').write_text(
        'import builtins\n'
        'builtins.fakesci_imports = getattr(builtins, "fakesci_imports", 0) + 1\n'
        'def twice(x):\n    return 2 * x\n'
        'CONSTANT = 7\n')
    # (not monkeypatch.syspath_prepend: it needs a real pkg_resources)
    monkeypatch.setattr(sys, 'path', [str(tmp_path)] + sys.path)
    importlib.invalidate_caches()
    from theanets import _theano_env
    monkeypatch.setattr(_theano_env, 'DEFERRED_SCIPY_MODULES', {
        'fakesci.heavy': ('twice', ), 'fakesci.missing': ()})
    import builtins
    monkeypatch.setattr(builtins, 'fakesci_imports', 0, raising=False)
    yield _theano_env
    for name in [m for m in sys.modules if m.startswith('fakesci')]:
        del sys.modules[name]


def test_deferred_module_and_function(fake_scipy):
    import builtins
    with fake_scipy.deferred_scipy_imports():
        from fakesci.heavy import twice
        import fakesci.heavy
        with pytest.raises(ImportError):
            import fakesci.missing  # noqa: F401
        assert builtins.fakesci_imports == 0
        assert 'fakesci.heavy' in sys.modules
    assert 'fakesci.heavy' not in sys.modules
    assert 'fakesci.missing' not in sys.modules
    assert builtins.fakesci_imports == 0
    assert twice(21) == 42  # imports the real module at the first call
    assert builtins.fakesci_imports == 1
    assert twice(2) == 4
    import fakesci.heavy as real
    assert real.CONSTANT == 7 and builtins.fakesci_imports == 1


def test_deferred_module_forwards_to_the_real_one(fake_scipy):
    # Another thread importing the module while Theano is imported gets a
    # working module: any attribute use imports the real one in its place.
    import builtins
    with fake_scipy.deferred_scipy_imports():
        import fakesci.heavy as stand_in
        assert stand_in.CONSTANT == 7
        assert builtins.fakesci_imports == 1
        assert type(sys.modules['fakesci.heavy']).__name__ == 'module'
        with pytest.raises(AttributeError):
            stand_in.__path__
    assert sys.modules['fakesci.heavy'].CONSTANT == 7


def test_modules_imported_before_are_left_alone(fake_scipy):
    import fakesci.heavy as real
    with fake_scipy.deferred_scipy_imports():
        assert sys.modules['fakesci.heavy'] is real
    assert sys.modules['fakesci.heavy'] is real


# ----------------------------------------------------------------------
# the C implementation of scan

EXTENSION = 'theano.scan_module.scan_perform_ext'


def run(code, cwd, scan=None, compiledir=None):
    """Run ``code`` in a new interpreter; return ``(result, stderr)``.

    ``scan`` sets ``THEANETS_SCAN``; ``compiledir`` gives Theano an empty
    compile directory under that path.
    """
    flags = None if compiledir is None else 'base_compiledir={}'.format(
        compiledir)
    return run_fresh(code, cwd, flags=flags, scan=scan)


SOURCE = (os.path.join(os.path.dirname(theano.__file__), 'scan_module',
                       'c_code', 'scan_perform.c')
          if backend.name() == 'theano' else None)


def test_patches_apply_to_installed_source():
    code = backend._patched_scan_source(SOURCE)
    with open(SOURCE) as handle:
        original = handle.read()
    assert 'PyUnicode_GET_SIZE(' in original
    assert 'PyUnicode_GET_SIZE(' not in code
    assert '->f_lineno' in original
    assert '->f_lineno' not in code
    assert code.count('PyCode_NewEmpty(PyUnicode_AsUTF8(fn)') == 1


def test_patch_that_does_not_match_raises(monkeypatch):
    monkeypatch.setattr(backend, '_SCAN_PATCHES', (('no such text', 'x', 1),))
    with pytest.raises(RuntimeError, match=r"expected 1 occurrence\(s\) of "
                       r"'no such text', found 0"):
        backend._patched_scan_source(SOURCE)


def test_enable_uses_built_extension(monkeypatch):
    monkeypatch.delenv(backend.SCAN_ENV, raising=False)
    monkeypatch.setitem(sys.modules, EXTENSION, None)
    assert backend._enable_c_scan(theano) == 'c'
    assert sys.modules[EXTENSION].get_version() == pytest.approx(0.296)
    assert backend.info()['scan'] == 'c'


def test_enable_falls_back_when_build_fails(monkeypatch, caplog):
    def fail(theano):
        raise OSError('compiler exploded\nsecond line')

    monkeypatch.delenv(backend.SCAN_ENV, raising=False)
    monkeypatch.setitem(sys.modules, EXTENSION, None)
    monkeypatch.setattr(backend, '_build_c_scan', fail)
    with caplog.at_level(logging.WARNING, logger='theanets'):
        assert backend._enable_c_scan(theano) == 'python'
    assert sys.modules[EXTENSION] is None
    assert backend.info()['scan'] == 'python'
    assert ('Theano scan uses its slower Python loop: the C implementation '
            'is unavailable (OSError: compiler exploded)') in caplog.text
    assert 'second line' not in caplog.text


@pytest.mark.parametrize('value', ['python', ' Python '])
def test_environment_variable_keeps_python_loop(monkeypatch, caplog, value):
    def unexpected(theano):
        raise AssertionError('must not build')

    monkeypatch.setenv(backend.SCAN_ENV, value)
    monkeypatch.setitem(sys.modules, EXTENSION, None)
    monkeypatch.setattr(backend, '_build_c_scan', unexpected)
    with caplog.at_level(logging.WARNING, logger='theanets'):
        assert backend._enable_c_scan(theano) == 'python'
    assert sys.modules[EXTENSION] is None
    assert caplog.text == ''


LAZY_SCRIPT = '''
import json, sys
import numpy as np
import theanets
name = 'theano.scan_module.scan_perform_ext'
loaded = [name in sys.modules]
theanets.Regressor([3, 2]).predict(np.ones((1, 3), 'f'))
loaded.append(name in sys.modules)
# an MRNN always runs on scan (RNN, LSTM and GRU layers run fused Ops)
theanets.recurrent.Regressor([3, (4, 'mrnn'), 2]).predict(np.ones((1, 2, 3), 'f'))
loaded.append(type(sys.modules.get(name)).__name__)
print(json.dumps({'loaded': loaded, 'scan': theanets.backend.info()['scan']}))
'''


def test_c_scan_is_built_when_theano_first_needs_it(tmp_path):
    # Importing theanets and compiling feed-forward models does not wait for
    # the C scan extension; compiling a recurrent model that scans loads it.
    result, err = run(LAZY_SCRIPT, tmp_path)
    assert result == {'loaded': [False, False, 'module'], 'scan': 'c'}, err


def test_info_reports_python_when_the_lazy_build_fails(monkeypatch, caplog):
    def fail(theano):
        raise OSError('no compiler today')

    monkeypatch.delenv(backend.SCAN_ENV, raising=False)
    monkeypatch.delitem(sys.modules, EXTENSION, raising=False)
    monkeypatch.setattr(backend, '_build_c_scan', fail)
    lazy = backend._LazyCScan(theano)
    monkeypatch.setattr(sys, 'meta_path', [lazy] + sys.meta_path)
    monkeypatch.setitem(backend._state, 'scan', lazy)
    with caplog.at_level(logging.WARNING, logger='theanets'):
        with pytest.raises(ImportError):
            __import__(EXTENSION)
        assert backend.info()['scan'] == 'python'
    assert lazy not in sys.meta_path
    assert sys.modules[EXTENSION] is None
    assert caplog.text.count('no compiler today') == 1


# Values and gradients of several kinds of loops: raw scans with two-step
# taps, an output that is not fed back, and a while loop; with NETWORK, also
# theanets LSTM and GRU layers (the GRU runs backwards with truncated BPTT).
VALUES_SCRIPT = '''
import json, sys
NETWORK = %r
import numpy as np
import theanets
import theano
import theano.tensor as TT

rng = np.random.RandomState(3)
out = {'scan': theanets.backend.info()['scan'],
       'extension': sys.modules['%s'] is not None}

if NETWORK:
    net = theanets.recurrent.Regressor([
        3, dict(form='lstm', size=4),
        dict(form='gru', size=3, direction='backward', bptt_limit=2), 2])
    x = rng.randn(2, 5, 3).astype('f')
    y = rng.randn(2, 5, 2).astype('f')
    loss = net.loss()
    fn = theano.function(net.variables, [loss] + TT.grad(loss, net.params),
                         updates=net.updates())
    out['network'] = [np.asarray(v).tolist() for v in fn(x, y)]
    out['params'] = [p.name for p in net.params]
    out['predict'] = net.predict(x).tolist()

# Without NETWORK, skip Theano's slow graph optimizations (the C loop still
# runs); with it, use the default optimizer, as training does.
mode = None if NETWORK else theano.Mode(linker='cvm', optimizer='fast_compile')
v = TT.matrix('v')
w = TT.matrix('w')
f0 = TT.matrix('f0')
fib, _ = theano.scan(
    lambda v_t, a, b, w: [TT.tanh(TT.dot(a, w) + b * 0.5 + v_t),
                          (a * b).sum()],
    sequences=v, outputs_info=[dict(initial=f0, taps=[-2, -1]), None],
    non_sequences=w)
total = fib[0].sum() + fib[1].sum()
values = theano.function(
    [v, w, f0], [fib[0], fib[1]] + TT.grad(total, [v, w, f0]), mode=mode)(
    rng.randn(6, 3).astype('f'), rng.randn(3, 3).astype('f'),
    rng.randn(2, 3).astype('f'))
out['taps'] = [np.asarray(a).tolist() for a in values]

s = TT.scalar('s')
powers, _ = theano.scan(
    lambda p, s: (p * s, theano.scan_module.until(p * s > 50)),
    outputs_info=TT.constant(np.float32(1)), non_sequences=s, n_steps=20)
out['while'] = theano.function([s], powers, mode=mode)(
    np.float32(3)).tolist()
print(json.dumps(out))
'''


def _both_loops(tmp_path_factory, network):
    cwd = tmp_path_factory.mktemp('scan')
    return {mode: run(VALUES_SCRIPT % (network, EXTENSION), cwd,
                      scan=mode)[0]
            for mode in ('c', 'python')}


@pytest.fixture(scope='module')
def loops(tmp_path_factory):
    """Raw scans run with the C loop and with the Python loop."""
    return _both_loops(tmp_path_factory, network=False)


@pytest.fixture(scope='module')
def network_loops(tmp_path_factory):
    """Raw scans and a recurrent network, with both loops."""
    return _both_loops(tmp_path_factory, network=True)


@pytest.mark.slow
def test_c_loop_is_built_and_used(loops):
    assert loops['c']['scan'] == 'c'
    assert loops['c']['extension'] is True


@pytest.mark.slow
def test_environment_forces_python_loop(loops):
    assert loops['python']['scan'] == 'python'
    assert loops['python']['extension'] is False


def assert_identical(results, key):
    c, py = results['c'][key], results['python'][key]
    assert len(c) == len(py)
    for a, b in zip(c, py):
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
@pytest.mark.parametrize('key', ['taps', 'while'])
def test_c_loop_matches_python_loop_exactly(loops, key):
    assert_identical(loops, key)


@pytest.mark.slow
@pytest.mark.parametrize('key', ['network', 'predict', 'taps', 'while'])
def test_network_c_loop_matches_python_loop_exactly(network_loops, key):
    assert network_loops['c']['scan'] == 'c'
    assert network_loops['python']['scan'] == 'python'
    assert_identical(network_loops, key)


@pytest.mark.slow
def test_while_loop_values(loops):
    # 3, 9, 27, 81: the loop stops after the first power above 50.
    assert loops['c']['while'] == [3.0, 9.0, 27.0, 81.0]


@pytest.mark.slow
def test_network_gradients_are_nonzero(network_loops):
    loss, *grads = network_loops['c']['network']
    assert np.isfinite(loss)
    assert network_loops['c']['params'] == [
        'hid1.xh', 'hid1.hh', 'hid1.b', 'hid1.ci', 'hid1.cf', 'hid1.co',
        'hid2.hh', 'hid2.hr', 'hid2.hz', 'hid2.w', 'hid2.b', 'out.w',
        'out.b']
    assert len(grads) == 13
    assert all(np.abs(np.asarray(g)).sum() > 0 for g in grads)


# Loads a private copy of theanets.backend, changes its patch table, then
# configures Theano with it in an empty compile directory.
FALLBACK_SCRIPT = '''
import importlib.util, json, logging, os, sys, types
logging.basicConfig(level=logging.DEBUG, format='%%(levelname)s %%(message)s')
package = os.path.join(%r, 'theanets')
# A bare parent package, so that the copy's relative imports find the
# sibling modules; the real theanets/__init__ would set Theano up first.
sys.modules['theanets'] = types.ModuleType('theanets')
sys.modules['theanets'].__path__ = [package]
spec = importlib.util.spec_from_file_location(
    'theanets.backend_copy', os.path.join(package, 'backend.py'))
backend = importlib.util.module_from_spec(spec)
spec.loader.exec_module(backend)
backend._SCAN_PATCHES = %s
theano = backend.setup()
import numpy as np
import theano.tensor as TT
x = TT.vector('x')
hs, _ = theano.scan(lambda x_t, h: 0.5 * h + x_t, sequences=x,
                    outputs_info=TT.constant(np.float32(0)))
f = theano.function([x], hs, mode='FAST_COMPILE')
print(json.dumps({
    'scan': backend.info()['scan'],
    'extension_none': sys.modules['%s'] is None,
    'values': f(np.array([1, 2, 3], 'f')).tolist(),
}))
'''


@pytest.mark.slow
def test_fallback_when_source_does_not_match(tmp_path):
    patches = "(('text that is not in the file', '', 1),)"
    result, err = run(FALLBACK_SCRIPT % (ROOT, patches, EXTENSION), tmp_path,
                      compiledir=tmp_path / 'theano')
    assert result == {'scan': 'python', 'extension_none': True,
                      'values': [1.0, 2.5, 4.25]}
    assert 'Theano scan uses its slower Python loop' in err
    assert "expected 1 occurrence(s) of 'text that is not in the file'" in err
    assert 'compiling the C implementation' not in err


@pytest.mark.slow
def test_fallback_when_compiler_fails(tmp_path):
    # The unpatched Cython output does not compile against Python 3.11.
    result, err = run(FALLBACK_SCRIPT % (ROOT, '()', EXTENSION), tmp_path,
                      compiledir=tmp_path / 'theano')
    assert result == {'scan': 'python', 'extension_none': True,
                      'values': [1.0, 2.5, 4.25]}
    assert 'compiling the C implementation' in err
    assert 'Theano scan uses its slower Python loop' in err


BUILD_SCRIPT = '''
import json, logging
logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(message)s')
import theanets
print(json.dumps({'scan': theanets.backend.info()['scan']}))
'''


@pytest.mark.slow
def test_built_once_per_compiledir(tmp_path):
    first, err1 = run(BUILD_SCRIPT, tmp_path, compiledir=tmp_path / 'theano')
    second, err2 = run(BUILD_SCRIPT, tmp_path, compiledir=tmp_path / 'theano')
    assert first == second == {'scan': 'c'}
    assert 'compiling the C implementation of Theano scan' in err1
    assert 'compiling the C implementation' not in err2
    assert 'Python loop' not in err1 + err2
