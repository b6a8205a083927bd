"""Tests for :mod:`theanets.backend`, the module that configures Theano.

Theano reads its flags once per process, so every test here runs a short
script in a fresh interpreter. Each script prints one JSON document on its
last stdout line; :func:`tests.helpers.run_fresh` returns it parsed,
together with stderr.
"""

import os

import pytest

from tests.helpers import run_fresh

INFO_KEYS = {'blas', 'ldflags', 'floatX', 'flags_set', 'scan'}

INFO_SCRIPT = '''
import json, logging, os, sys
logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
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
    assert 'Theano BLAS: {}'.format(info['blas']) in err
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
    ''', tmp_path, flags='blas.ldflags=')
    assert result['works'] is True
    assert result['blas'] == 'set before theanets was imported'
    assert result['flags_set'] == {}
    assert result['ldflags'] == ''
    # Theano's own default, which theanets can no longer change.
    assert result['floatX'] == 'float64'
    assert 'no BLAS library linked' in err


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
    assert 'Theano scan uses its slower Python loop' in err
    assert 'cxx flag empty' in err


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
