"""The compile-cache index (theanets._compile_cache), on either backend.

Most tests run small programs in fresh interpreters that share one scratch
compile directory, as separate runs of a user's scripts share theirs.
"""

import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from theanets import _compile_cache
from tests.helpers import ROOT, run_fresh

def expression(lib, x, form):
    """A chain of ``tanh`` and ``sin`` that spells ``form`` in binary: each
    form is a C module of its own."""
    y = x * 3 + 1.0
    for bit in bin(form)[2:]:
        y = lib.tanh(y) if bit == '1' else lib.sin(y)
    return y


#: Compiles :func:`expression` for each form of ``FORMS`` and reports what
#: the compile cache did.
SCRIPT = """
import json, os
import numpy as np
from theanets.backend import theano, TT
from theanets import _compile_cache
EXPRESSION
x = TT.matrix('x')
cache = _compile_cache.module_cache()
dirs, values = {}, {}
for form in FORMS:
    before = set(cache.entry_from_key.values())
    f = theano.function([x], expression(TT, x, form))
    dirs[str(form)] = sorted({os.path.basename(os.path.dirname(e))
                              for e in set(cache.entry_from_key.values())
                              - before})
    values[str(form)] = float(f(np.full((1, 1), 0.25, 'float32'))[0, 0])
print(json.dumps({'compiled': cache.stats[2],
                  'read': len(cache.loaded_key_pkl),
                  'dirs': dirs, 'values': values,
                  'compiledir': str(theano.config.compiledir)}))
"""


def compile_forms(folder, forms, index=True):
    """Run :data:`SCRIPT` for ``forms`` with the compile directory under
    ``folder``; return its report, after checking its values."""
    env = None if index else {_compile_cache.INDEX_ENV: 'off'}
    code = SCRIPT.replace('FORMS', repr(list(forms))).replace(
        'EXPRESSION', inspect.getsource(expression))
    result, err = run_fresh(code, folder, env=env,
                            flags='base_compiledir={}'.format(folder))
    for form in forms:
        expected = float(expression(np, np.float32(0.25), form))
        assert result['values'][str(form)] == pytest.approx(
            expected, rel=1e-5), (form, err)
    return result


def read_index(compiledir):
    with open(os.path.join(compiledir, _compile_cache.INDEX_FILE)) as handle:
        return json.load(handle)


def modules_in(compiledir):
    return sorted(name for name in os.listdir(compiledir)
                  if name.startswith('tmp') and os.path.exists(
                      os.path.join(compiledir, name, 'key.pkl')))


@pytest.fixture(scope='module')
def shared_dir(tmp_path_factory):
    """A scratch base compile directory, warmed by one first process."""
    folder = tmp_path_factory.mktemp('compile-cache')
    compile_forms(folder, [2])
    return folder


def test_a_process_reads_only_the_modules_it_uses(shared_dir):
    first = compile_forms(shared_dir, [3, 4, 5])
    assert first['compiled'] == 3
    compiledir = first['compiledir']
    assert len(modules_in(compiledir)) >= 4
    again = compile_forms(shared_dir, [4])
    assert again['compiled'] == 0
    assert set(first['dirs']['4']) <= set(again['dirs']['4'])
    # only the key.pkl files of the modules it uses, of the 4+ there
    assert again['read'] == len(again['dirs']['4']) < len(
        modules_in(compiledir))
    indexed = read_index(compiledir)['modules']
    assert set(modules_in(compiledir)) <= set(indexed)


def test_a_module_compiled_without_the_index_is_found(shared_dir):
    compiledir = compile_forms(shared_dir, [])['compiledir']
    before = set(modules_in(compiledir))
    plain = compile_forms(shared_dir, [6], index=False)
    assert plain['compiled'] == 1
    [name] = set(modules_in(compiledir)) - before
    assert name not in read_index(compiledir)['modules']
    found = compile_forms(shared_dir, [6])
    assert found['compiled'] == 0  # its first refresh read the new module
    assert name in read_index(compiledir)['modules']
    again = compile_forms(shared_dir, [6])
    assert again['compiled'] == 0
    assert name in again['dirs']['6']
    assert again['read'] == len(again['dirs']['6'])


@pytest.mark.parametrize('damage', ['garbage', 'missing', 'wrong layout'])
def test_a_corrupt_or_missing_index_falls_back_to_a_full_refresh(
        shared_dir, damage):
    first = compile_forms(shared_dir, [3])
    compiledir = first['compiledir']
    path = os.path.join(compiledir, _compile_cache.INDEX_FILE)
    if damage == 'missing':
        os.remove(path)
    elif damage == 'garbage':
        with open(path, 'wb') as handle:
            handle.write(b'{"format": 1, "modu\x00\xff')
    else:
        with open(path, 'w') as handle:
            json.dump({'format': 1, 'full_scan': 0,
                       'modules': {'tmpx': {'hash': 3, 'keys': 'k'}}}, handle)
    after = compile_forms(shared_dir, [3])
    assert after['compiled'] == 0
    assert after['read'] == len(modules_in(compiledir))  # Theano's refresh
    assert set(modules_in(compiledir)) <= set(
        read_index(compiledir)['modules'])
    again = compile_forms(shared_dir, [3])
    assert again['compiled'] == 0
    assert again['dirs'] == first['dirs']
    assert again['read'] == len(again['dirs']['3'])


def test_an_entry_for_a_deleted_module_is_dropped(shared_dir):
    compiledir = compile_forms(shared_dir, [])['compiledir']
    before = set(modules_in(compiledir))
    compile_forms(shared_dir, [10])
    [name] = set(modules_in(compiledir)) - before
    shutil.rmtree(os.path.join(compiledir, name))
    assert name in read_index(compiledir)['modules']
    after = compile_forms(shared_dir, [10])
    assert after['compiled'] == 1
    assert name not in after['dirs']['10']
    assert name not in read_index(compiledir)['modules']


def test_a_wrong_entry_never_gives_a_wrong_module(shared_dir):
    compiledir = compile_forms(shared_dir, [])['compiledir']
    before = set(modules_in(compiledir))
    compile_forms(shared_dir, [11])
    [a] = set(modules_in(compiledir)) - before
    before.add(a)
    compile_forms(shared_dir, [13])
    [b] = set(modules_in(compiledir)) - before
    path = os.path.join(compiledir, _compile_cache.INDEX_FILE)
    index = read_index(compiledir)
    index['modules'][a]['keys'], index['modules'][b]['keys'] = (
        index['modules'][b]['keys'], index['modules'][a]['keys'])
    with open(path, 'w') as handle:
        json.dump(index, handle)
    # The keys point to each other's modules: found through their hashes.
    # (compile_forms checks every value against numpy.)
    swapped = compile_forms(shared_dir, [11, 13])
    assert swapped['compiled'] == 0
    assert {a, b} <= set(swapped['dirs']['11'] + swapped['dirs']['13'])
    index = read_index(compiledir)
    index['modules'][a]['keys'], index['modules'][b]['keys'] = (
        index['modules'][b]['keys'], index['modules'][a]['keys'])
    index['modules'][a]['hash'], index['modules'][b]['hash'] = 'x', 'y'
    with open(path, 'w') as handle:
        json.dump(index, handle)
    # Hashes wrong too: the worst is a module compiled again, never a
    # wrong module.
    compile_forms(shared_dir, [11, 13])


def test_two_processes_compiling_at_once(shared_dir):
    code = SCRIPT
    env = dict(os.environ)
    env.pop(_compile_cache.INDEX_ENV, None)
    env['THEANO_FLAGS'] = 'base_compiledir={}'.format(shared_dir)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    procs = [subprocess.Popen(
        [sys.executable, '-c', textwrap.dedent(code.replace(
            'FORMS', repr(forms)).replace(
                'EXPRESSION', inspect.getsource(expression)))],
        cwd=str(shared_dir), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for forms in ([7, 8, 12], [8, 9, 12])]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r['compiled'] for r in reports) >= 4
    after = compile_forms(shared_dir, [7, 8, 9, 12])
    assert after['compiled'] == 0
    assert after['read'] <= 6  # 8 and 12 may each exist twice
    compiledir = after['compiledir']
    assert set(modules_in(compiledir)) <= set(
        read_index(compiledir)['modules'])


def test_the_cached_march_flags_give_the_same_compile_args(shared_dir):
    code = '''
    import json
    from theanets import backend
    backend.setup()
    if backend.name() == 'pytensor':
        from pytensor.link.c.cmodule import GCC_compiler
    else:
        from theano.gof.cmodule import GCC_compiler
    before = GCC_compiler.march_flags
    args = GCC_compiler.compile_args()
    print(json.dumps({'before': before, 'args': args}))
    '''
    flags = 'base_compiledir={}'.format(shared_dir)
    # no precompiled header: its head start at import asks for the flags
    detected, _ = run_fresh(code, shared_dir, flags=flags,
                            env={_compile_cache.INDEX_ENV: 'off',
                                 'THEANETS_PCH': '0'})
    cached, _ = run_fresh(code, shared_dir, flags=flags,
                          env={'THEANETS_PCH': '0'})
    assert detected['before'] is None and cached['before'] is None
    assert cached['args'] == detected['args']
    compiledir = compile_forms(shared_dir, [3])['compiledir']
    with open(os.path.join(compiledir, _compile_cache.MARCH_FILE)) as handle:
        known = json.load(handle)
    assert all(isinstance(flags, list) for flags in known.values())
    assert any(f in detected['args'] for flags in known.values()
               for f in flags) or known == {} or all(
                   flags == [] for flags in known.values())


# ----------------------------------------------------------------------
# in-process: the index file and the key digests

def test_digests_of_equal_keys_are_equal_and_ignore_addresses():
    class Op(object):
        __props__ = ('axis',)

        def __init__(self, axis):
            self.axis = axis

    first = ((1, (2, 3)), ('CLinker.cmodule_key', Op(1), frozenset('ab'),
                           {'b': 1, 'a': 2}))
    second = ((1, (2, 3)), ('CLinker.cmodule_key', Op(1), frozenset('ba'),
                            {'a': 2, 'b': 1}))
    assert _compile_cache.key_digest(first) == _compile_cache.key_digest(
        second)
    other = ((1, (2, 3)), ('CLinker.cmodule_key', Op(2), frozenset('ab'),
                           {'b': 1, 'a': 2}))
    assert _compile_cache.key_digest(first) != _compile_cache.key_digest(
        other)


def test_two_writers_merge_their_entries(tmp_path):
    one = _compile_cache.CacheIndex(tmp_path)
    two = _compile_cache.CacheIndex(tmp_path)
    one.record('tmpa', 'hash-a', ['key-a'])
    two.record('tmpb', 'hash-b', ['key-b'])
    one.save()
    two.save()
    merged = _compile_cache.CacheIndex(tmp_path)
    assert merged.by_digest('key-a') == ['tmpa']
    assert merged.by_hash('hash-b') == ['tmpb']
    merged.forget('tmpa')
    merged.save()
    assert 'tmpa' not in _compile_cache.CacheIndex(tmp_path)
    assert 'tmpb' in _compile_cache.CacheIndex(tmp_path)


def test_an_unreadable_index_reads_as_empty(tmp_path):
    (tmp_path / _compile_cache.INDEX_FILE).write_bytes(b'\x80not json')
    index = _compile_cache.CacheIndex(tmp_path)
    assert index.modules == {} and index.full_scan == 0.0
    index.record('tmpa', 'h', ['k'])
    index.save()
    assert _compile_cache.CacheIndex(tmp_path).by_digest('k') == ['tmpa']


def test_the_index_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(_compile_cache.INDEX_ENV, 'off')
    assert not _compile_cache.enabled()
    monkeypatch.setenv(_compile_cache.INDEX_ENV, 'on')
    assert _compile_cache.enabled()
