"""Tests for the C implementation of Theano's scan that theanets builds.

:mod:`theanets.backend` patches and compiles Theano's ``scan_perform.c``;
when that fails, Theano's pure-Python loop is used. The quick tests call the
backend's helpers in this process (restoring ``sys.modules`` afterwards).
The scan loop is chosen once per process, so the end-to-end tests (marked
slow: each compiles scan graphs) run scripts in fresh interpreters and read
the JSON document printed on their last stdout line.
"""

import os
import sys

import logging

import numpy as np
import pytest

from theanets import backend

from tests.helpers import ROOT, run_fresh
import theano  # noqa: E402  (configured by theanets)

EXTENSION = 'theano.scan_module.scan_perform_ext'


def run(code, cwd, scan=None, compiledir=None):
    """Run ``code`` in a new interpreter; return ``(result, stderr)``.

    ``scan`` sets ``THEANETS_SCAN``; ``compiledir`` gives Theano an empty
    compile directory under that path.
    """
    flags = None if compiledir is None else 'base_compiledir={}'.format(
        compiledir)
    return run_fresh(code, cwd, flags=flags, scan=scan)


SOURCE = os.path.join(os.path.dirname(theano.__file__), 'scan_module',
                      'c_code', 'scan_perform.c')


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
theanets.recurrent.Regressor([3, (4, 'rnn'), 2]).predict(np.ones((1, 2, 3), 'f'))
loaded.append(type(sys.modules.get(name)).__name__)
print(json.dumps({'loaded': loaded, 'scan': theanets.backend.info()['scan']}))
'''


def test_c_scan_is_built_when_theano_first_needs_it(tmp_path):
    # Importing theanets and compiling feed-forward models does not wait for
    # the C scan extension; compiling a recurrent model loads it.
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
import importlib.util, json, logging, os, sys
logging.basicConfig(level=logging.INFO, format='%%(levelname)s %%(message)s')
spec = importlib.util.spec_from_file_location(
    'backend_copy', os.path.join(%r, 'theanets', 'backend.py'))
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
logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
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
