"""Tests of theanets._c_compile: staged parallel compiles, precompiled header.

The unit tests drive :class:`ParallelCompiler` with a stand-in backend whose
``compile_str`` writes files, so they need no compiler; the end-to-end tests
compile real modules on the running backend in a new, empty compile
directory and in a new process.
"""

import glob
import logging
import os
import threading
import types

import pytest

from theanets import _c_batches, _c_compile

from tests.helpers import run_fresh
from tests.test_c_batches import HEADERS, module_source


# -- configuration ------------------------------------------------------------

@pytest.mark.parametrize('value, jobs', [('3', 3), ('1', 1), ('0', 1),
                                         (' 2 ', 2)])
def test_compile_jobs_reads_the_environment(monkeypatch, value, jobs):
    monkeypatch.setenv(_c_compile.JOBS_ENV, value)
    assert _c_compile.compile_jobs() == jobs


def test_compile_jobs_default_is_the_usable_cpus(monkeypatch):
    monkeypatch.delenv(_c_compile.JOBS_ENV, raising=False)
    jobs = _c_compile.compile_jobs()
    assert 1 <= jobs <= 8
    assert jobs <= len(os.sched_getaffinity(0))


def test_compile_jobs_warns_about_a_bad_value(monkeypatch, caplog):
    monkeypatch.setenv(_c_compile.JOBS_ENV, 'many')
    with caplog.at_level(logging.WARNING, logger='theanets'):
        assert _c_compile.compile_jobs() == 1
    assert "THEANETS_COMPILE_JOBS='many'" in caplog.text


@pytest.mark.parametrize('value, enabled', [
    ('0', False), ('off', False), ('No', False), ('false', False),
    ('1', True), ('', True), ('yes', True)])
def test_pch_switch(monkeypatch, value, enabled):
    monkeypatch.setenv(_c_compile.PCH_ENV, value)
    assert _c_compile.pch_enabled() is enabled


@pytest.mark.parametrize('value, dropped', [
    ('1', False), ('on', False), ('Yes', False), ('true', False),
    ('0', True), ('', True), ('no', True)])
def test_debug_info_switch(monkeypatch, value, dropped):
    monkeypatch.setenv(_c_compile.DEBUG_INFO_ENV, value)
    assert _c_compile.debug_info_dropped() is dropped


# -- the compiler with a stand-in backend ------------------------------------

SOURCE = '#include <Python.h>\n#include "helper.h"\nint module;\n'


class FakeCompiler(object):
    """Records compile_str calls; writes the library it is asked for."""

    calls = []
    fail_staged = False
    fail_batches = False

    @staticmethod
    def compile_str(module_name, src_code, location=None, include_dirs=None,
                    lib_dirs=None, libs=None, preargs=None, py_module=True,
                    hide_symbols=True):
        FakeCompiler.calls.append(dict(
            name=module_name, location=location, preargs=list(preargs),
            py_module=py_module))
        if FakeCompiler.fail_staged and not py_module:
            raise RuntimeError('compile failed')
        if (FakeCompiler.fail_batches and
                module_name.startswith(_c_compile.BATCH_PREFIX)):
            raise RuntimeError('redefinition of a helper')
        with open(os.path.join(location, module_name + '.so'), 'w') as out:
            out.write(src_code)
        return 'module ' + module_name if py_module else None


def fake_backend(tmp_path, cxx='g++'):
    cmodule = types.SimpleNamespace(
        GCC_compiler=type('GCC', (), {
            'compile_str': staticmethod(FakeCompiler.compile_str)}),
        get_lib_extension=lambda: 'so',
        std_include_dirs=lambda: [],
        dlimport=lambda path: 'imported ' + os.path.basename(path))
    flags = {'cxx': cxx, 'remove_gxx_opt': False,
             'compiledir': str(tmp_path / 'compiledir')}
    return _c_compile.Backend(cmodule, None, None, None, None, None,
                              flags.get, HEADERS)


@pytest.fixture
def compiler(tmp_path):
    FakeCompiler.calls = []
    FakeCompiler.fail_staged = False
    FakeCompiler.fail_batches = False
    made = _c_compile.ParallelCompiler(fake_backend(tmp_path), jobs=2,
                                       use_pch=False, drop_debug_info=False,
                                       batch=True)
    yield made
    made.close()


def stage(compiler, name):
    """Stage one module as stage_function would, bypassing the graph."""
    arguments = (name, SOURCE, [], [], [], ['-O3'])
    signature = _c_compile._signature(*arguments, hide_symbols=True)
    compiler._staged[signature] = compiler._submit(
        compiler._stage_module, *arguments)
    return signature


def compile_m1(compiler, tmp_path, preargs=('-O3',)):
    """Ask for module ``m1`` as the backend would; return (module, folder)."""
    location = tmp_path / 'location'
    location.mkdir()
    module = compiler.compile_str('m1', SOURCE, location=str(location),
                                  include_dirs=[], lib_dirs=[], libs=[],
                                  preargs=list(preargs))
    return module, location


def test_a_staged_module_is_moved_into_place(compiler, tmp_path):
    signature = stage(compiler, 'm1')
    compiler._staged[signature].result()
    module, location = compile_m1(compiler, tmp_path)
    assert module == 'imported m1.so'
    assert [c['py_module'] for c in FakeCompiler.calls] == [False]
    assert (location / 'm1.so').read_text() == SOURCE
    assert (location / 'mod.cpp').read_text() == SOURCE
    assert (location / '__init__.py').exists()
    assert compiler.statistics['used'] == 1
    # the staging directory of that module is gone
    assert os.listdir(compiler._staging_directory()) == []


def test_other_arguments_do_not_use_the_staged_module(compiler, tmp_path):
    signature = stage(compiler, 'm1')
    compiler._staged[signature].result()
    module, location = compile_m1(compiler, tmp_path, preargs=['-O2'])
    assert module == 'module m1'
    assert FakeCompiler.calls[-1]['preargs'] == ['-O2']
    assert compiler.statistics['used'] == 0


@pytest.mark.parametrize('preargs, expected', [
    (['-O3'], ['-g0', '-O3']),
    # a -g among the user's compiler flags comes later, so it still wins
    (['-O3', '-g'], ['-g0', '-O3', '-g'])])
def test_modules_compile_without_debug_information(tmp_path, preargs,
                                                    expected):
    FakeCompiler.calls = []
    made = _c_compile.ParallelCompiler(fake_backend(tmp_path), jobs=1,
                                       use_pch=False, drop_debug_info=True)
    module, _ = compile_m1(made, tmp_path, preargs=preargs)
    assert module == 'module m1'
    assert FakeCompiler.calls[-1]['preargs'] == expected
    made.close()


def test_debug_information_kept_on_request(compiler, tmp_path):
    compile_m1(compiler, tmp_path)
    assert FakeCompiler.calls[-1]['preargs'] == ['-O3']


def test_a_failed_staged_compile_compiles_again(compiler, tmp_path):
    FakeCompiler.fail_staged = True
    stage(compiler, 'm1')
    module, location = compile_m1(compiler, tmp_path)
    assert module == 'module m1'
    assert [c['py_module'] for c in FakeCompiler.calls] == [False, True]


def test_unused_staged_modules_are_removed(compiler):
    signature = stage(compiler, 'm1')
    library = compiler._staged[signature].result()
    compiler._discard([signature])
    assert signature not in compiler._staged
    assert not os.path.exists(os.path.dirname(library))


# -- several modules per g++ run ---------------------------------------------

def job(name, preargs=('-O3',), **source):
    arguments = (name, module_source(name, **source), [], [], [],
                 list(preargs))
    return _c_compile._signature(*arguments, hide_symbols=True), arguments


@pytest.mark.parametrize('value, enabled', [
    ('', True), ('1', True), ('0', False), ('off', False), ('No', False)])
def test_batch_switch(monkeypatch, value, enabled):
    monkeypatch.setenv('THEANETS_BATCH_COMPILE', value)
    assert _c_compile.batching_enabled() is enabled


def sizes(batches):
    return sorted(len(batch) for batch in batches)


def test_batches_group_modules_compiled_alike(compiler):
    jobs = ([job('m{}'.format(i)) for i in range(5)] +
            [job('o{}'.format(i), preargs=['-O2']) for i in range(3)] +
            [job('h{}'.format(i), headers=('<Python.h>',))
             for i in range(2)] +
            [job('p', body='#pragma omp parallel\nint p;\n')])
    batches = compiler._batches(jobs)
    # at most len(jobs) / jobs = 6 per batch, never mixing commands or
    # include blocks; the module with a pragma is compiled alone
    assert sizes(batches) == [1, 2, 3, 5]
    for batch in batches:
        assert len({_c_batches.batch_key(a) for _, a in batch}) == 1
    assert sorted(s for batch in batches for s, _ in batch) == \
        sorted(s for s, _ in jobs)
    more = [job('m{}'.format(i)) for i in range(9)]
    assert sizes(compiler._batches(more)) == [4, 5]
    many = [job('m{}'.format(i)) for i in range(_c_batches.MAX_BATCH * 4)]
    assert sizes(compiler._batches(many)) == [_c_batches.MAX_BATCH] * 4
    # three batches' worth on two jobs: four smaller ones, two per job
    odd = [job('m{}'.format(i)) for i in range(39)]
    assert sizes(compiler._batches(odd)) == [9, 10, 10, 10]


def test_batches_only_with_more_modules_than_jobs(compiler):
    assert sizes(compiler._batches([job('m1'), job('m2')])) == [1, 1]
    compiler.batch = False
    assert sizes(compiler._batches([job('m{}'.format(i))
                                    for i in range(6)])) == [1] * 6


def test_a_batch_is_one_compile_and_serves_every_module(compiler, tmp_path):
    jobs = [job('m{}'.format(i)) for i in range(4)]
    compiler.stage_jobs(jobs)
    libraries = [compiler._staged[s].result(timeout=30) for s, _ in jobs]
    assert len(FakeCompiler.calls) == 2         # two batches of two
    assert all(c['name'].startswith(_c_compile.BATCH_PREFIX)
               for c in FakeCompiler.calls)
    assert compiler.statistics['batches'] == 2
    # each module's library is the batch's, under the module's name
    first = os.stat(libraries[0])
    assert os.stat(libraries[1]).st_ino == first.st_ino
    assert os.path.basename(libraries[1]) == 'm1.so'
    assert 'namespace theanets_module_1' in open(libraries[0]).read()
    location = tmp_path / 'location'
    location.mkdir()
    _, arguments = jobs[1]
    module = compiler.compile_str(*arguments[:2], location=str(location),
                                  include_dirs=[], lib_dirs=[], libs=[],
                                  preargs=arguments[5])
    assert module == 'imported m1.so'
    assert (location / 'mod.cpp').read_text() == arguments[1]
    assert len(FakeCompiler.calls) == 2         # nothing compiled again


def test_a_batch_that_fails_compiles_module_by_module(compiler, caplog):
    FakeCompiler.fail_batches = True
    jobs = [job('m{}'.format(i)) for i in range(4)]
    with caplog.at_level(logging.DEBUG, logger='theanets'):
        compiler.stage_jobs(jobs)
        libraries = [compiler._staged[s].result(timeout=30) for s, _ in jobs]
    assert [os.path.basename(path) for path in libraries] == [
        'm0.so', 'm1.so', 'm2.so', 'm3.so']
    for (_, arguments), library in zip(jobs, libraries):
        assert open(library).read() == arguments[1]
    assert compiler.statistics['batch_failures'] == 2
    assert 'compiling them one by one' in caplog.text


def test_discarded_batch_modules_are_removed(compiler):
    jobs = [job('m{}'.format(i)) for i in range(4)]
    compiler.stage_jobs(jobs)
    libraries = [compiler._staged[s].result(timeout=30) for s, _ in jobs]
    compiler._discard([s for s, _ in jobs])
    assert not any(os.path.exists(path) for path in libraries)
    assert os.listdir(compiler._staging_directory()) == []


def test_a_batch_discarded_before_it_starts_compiles_nothing(tmp_path):
    FakeCompiler.calls = []
    made = _c_compile.ParallelCompiler(fake_backend(tmp_path), jobs=2,
                                       use_pch=False, batch=True)
    blocker = threading.Event()
    made._submit(blocker.wait)                   # keep both workers busy
    made._submit(blocker.wait)
    jobs = [job('m{}'.format(i)) for i in range(4)]
    made.stage_jobs(jobs)
    made._discard([s for s, _ in jobs])
    blocker.set()
    made.close()
    assert FakeCompiler.calls == []


def test_close_removes_the_staging_directory(compiler):
    signature = stage(compiler, 'm1')
    compiler._staged[signature].result()
    root = compiler._staging_directory()
    compiler.close()
    assert not os.path.exists(root)


def test_stage_function_stays_out_of_single_job_runs(tmp_path):
    single = _c_compile.ParallelCompiler(fake_backend(tmp_path), jobs=1)
    assert single.stage_function(linker=None) == []


def test_stage_function_without_a_compiler(tmp_path):
    made = _c_compile.ParallelCompiler(fake_backend(tmp_path, cxx=''),
                                       jobs=2)
    assert made.stage_function(linker=None) == []


# -- the precompiled header decision ----------------------------------------

@pytest.fixture
def pch_compiler(tmp_path, monkeypatch):
    """A compiler whose header build waits until the test releases it."""
    made = _c_compile.ParallelCompiler(fake_backend(tmp_path), jobs=2,
                                       use_pch=True)
    release = threading.Event()

    def build(directory, header, include_dirs, preargs):
        release.wait(30)
        os.makedirs(directory, exist_ok=True)
        open(header + '.gch', 'w').close()
        return True

    monkeypatch.setattr(made, '_build_pch', build)
    yield made, release
    release.set()
    made.close()


def test_the_first_module_starts_the_header_and_a_later_one_uses_it(
        pch_compiler):
    made, release = pch_compiler
    assert made._precompiled_header(SOURCE, [], ['-O3']) is None
    assert made._precompiled_header(SOURCE, [], ['-O3']) is None
    (future, ) = made._pch.values()          # one build for both modules
    release.set()
    assert future.result() is True
    header = made._precompiled_header(SOURCE, [], ['-O3'])
    assert header.endswith('theanets_pch.h')
    assert os.path.isfile(header + '.gch')


def test_the_header_depends_on_the_flags(pch_compiler):
    made, _ = pch_compiler
    assert made._pch_key([], ['-O3']) != made._pch_key([], ['-O2'])
    assert made._pch_key([], ['-O3']) != made._pch_key(['/usr/inc'],
                                                       ['-O3'])
    assert made._pch_key([], ['-O3']) == made._pch_key([], ['-O3'])


@pytest.mark.parametrize('source', [
    '#include "helper.h"\n#include <Python.h>\nint x;\n',   # other order
    '#include <Python.h>\nint x;\n',                        # fewer headers
    '#define A 1\n#include <Python.h>\n#include "helper.h"\n',  # a define
])
def test_modules_with_other_includes_compile_without_the_header(
        pch_compiler, source):
    made, _ = pch_compiler
    assert made._precompiled_header(source, [], ['-O3']) is None
    assert made._pch == {}


def test_no_header_when_the_backend_strips_optimisation_flags(
        pch_compiler, tmp_path):
    made, _ = pch_compiler
    made.backend.config = {'cxx': 'g++', 'remove_gxx_opt': True,
                           'compiledir': str(tmp_path)}.get
    assert made._precompiled_header(SOURCE, [], ['-O3']) is None
    assert made._pch == {}


# -- end to end, on the running backend --------------------------------------

CHILD = '''
import json, glob, os
import numpy as np
import theanets
from theanets import _c_compile
from theanets.backend import theano, TT
x = TT.matrix('x')
y = TT.matrix('y')
f = theano.function([x, y], [TT.tanh(x) * 2 + y, (x * y).sum(axis=0),
                             TT.dot(x, y.T)])
a = np.linspace(-2, 2, 12).reshape(3, 4).astype('float32')
b = np.linspace(1, 3, 12).reshape(3, 4).astype('float32')
outs = f(a, b)
ok = [bool(np.allclose(outs[0], np.tanh(a) * 2 + b, rtol=1e-6)),
      bool(np.allclose(outs[1], (a * b).sum(axis=0), rtol=1e-6)),
      bool(np.allclose(outs[2], a.dot(b.T), rtol=1e-6))]
compiler = _c_compile.installed()
statistics = dict(compiler.statistics)
staging = compiler._staging_root
print(json.dumps(dict(ok=ok, statistics=statistics, staging=staging,
                      jobs=compiler.jobs)))
'''


def _cold_run(tmp_path, name, **env):
    base = tmp_path / name
    result, _ = run_fresh(CHILD, tmp_path, flags='base_compiledir={}'.format(
        base), env=env)
    return result, base


def test_modules_compile_in_parallel_with_the_header(tmp_path):
    result, base = _cold_run(tmp_path, 'cold',
                             THEANETS_COMPILE_JOBS='2', THEANETS_PCH='1')
    assert result['ok'] == [True, True, True]
    statistics = result['statistics']
    assert statistics['staged'] >= 3
    assert statistics['used'] == statistics['staged']
    # more modules than jobs: some compiled several per g++ run
    assert statistics['batches'] >= 1
    assert statistics['batch_failures'] == 0
    # the header is built once, in the parent of the compile directory
    headers = glob.glob(str(base / 'theanets-pch' / '*' /
                            'theanets_pch.h.gch'))
    assert len(headers) == 1
    assert not glob.glob(str(base / 'theanets-pch' / '*' / '*.tmp'))
    # the staging directory went away with the process
    assert result['staging'] and not os.path.exists(result['staging'])

    # a second process finds everything in the cache: nothing is staged
    again, _ = _cold_run(tmp_path, 'cold', THEANETS_COMPILE_JOBS='2')
    assert again['ok'] == [True, True, True]
    assert again['statistics']['staged'] == 0


def test_one_job_and_no_header_compile_as_the_backend_does(tmp_path):
    result, base = _cold_run(tmp_path, 'plain',
                             THEANETS_COMPILE_JOBS='1', THEANETS_PCH='0',
                             THEANETS_DEBUG_INFO='1')
    assert result['ok'] == [True, True, True]
    assert result['jobs'] == 1
    assert result['statistics'] == dict(staged=0, used=0, pch_builds=0,
                                        pch_used=0, batches=0,
                                        batch_failures=0)
    assert not (base / 'theanets-pch').exists()


TRAIN = '''
import json
import numpy as np
import theanets
from theanets import _c_compile
rng = np.random.RandomState(13)
x = rng.randn(64, 20).astype('float32')
labels = rng.randint(0, 3, size=64).astype('int32')
targets = rng.randn(64, 2).astype('float32')
series = rng.randn(16, 5, 4).astype('float32')
series_labels = rng.randint(0, 3, size=(16, 5)).astype('int32')
images = rng.randn(16, 8, 8, 1).astype('float32')
image_labels = rng.randint(0, 3, size=16).astype('int32')
runs = [
    (theanets.Classifier([20, (32, 'relu'), 3], rng=1), [x, labels],
     dict(algo='sgd', momentum=0.9)),
    (theanets.Regressor([20, (16, 'tanh'), (8, 'sigmoid'), 2], rng=2),
     [x, targets], dict(algo='rmsprop', weight_l2=1e-3, hidden_dropout=0.2)),
    (theanets.Autoencoder([20, (10, 'relu'), ('tied', 'linear')], rng=3),
     [x], dict(algo='adam', input_noise=0.1)),
    (theanets.recurrent.Classifier([4, (6, 'lstm'), (5, 'gru'), 3], rng=4),
     [series, series_labels], dict(algo='nag')),
    (theanets.convolution.Classifier(
        [(8, 8, 1), dict(form='conv2', size=4, filter_size=(3, 3)),
         'flat', 3], rng=5), [images, image_labels], dict(algo='sgd')),
]
models = []
for net, data, options in runs:
    for _ in range(2):
        train, _ = next(net.itertrain(data, batch_size=8, progress=False,
                                      **options))
    outputs = net.predict(data[0])
    models.append(dict(
        loss=float(train['loss']),
        params=[p.get_value().tobytes().hex() for p in net.params],
        outputs=np.asarray(outputs).tobytes().hex()))
print(json.dumps(dict(models=models,
                      statistics=_c_compile.installed().statistics)))
'''


@pytest.mark.slow
def test_training_is_identical_with_and_without_the_compile_changes(
        tmp_path):
    """Five kinds of model (dense, dropout and weight decay, tied
    autoencoder, LSTM and GRU, convolution), each trained two epochs on an
    empty compile cache: the parameters, losses and predictions are the
    same to the bit with every compile lever on as with none, and again
    when a later process reads the optimised graphs back."""
    levers = dict(THEANETS_COMPILE_JOBS='2', THEANETS_PCH='1',
                  THEANETS_BATCH_COMPILE='1', THEANETS_GRAPH_CACHE='1')
    fast_flags = 'base_compiledir={}'.format(tmp_path / 'fast')
    fast, _ = run_fresh(TRAIN, tmp_path, flags=fast_flags, env=levers)
    plain, _ = run_fresh(TRAIN, tmp_path, flags='base_compiledir={}'.format(
        tmp_path / 'plain'), env=dict(THEANETS_COMPILE_JOBS='1',
                                      THEANETS_PCH='0',
                                      THEANETS_DEBUG_INFO='1',
                                      THEANETS_BATCH_COMPILE='0',
                                      THEANETS_GRAPH_CACHE='0'))
    warm, _ = run_fresh(TRAIN.replace('_c_compile', '_graph_cache'),
                        tmp_path, flags=fast_flags, env=levers)
    assert warm['statistics']['hits'] > 0
    assert warm['statistics'].get('misses', 0) == 0
    assert warm['models'] == fast['models']
    assert fast['statistics']['batches'] > 0
    assert fast['statistics']['batch_failures'] == 0
    assert plain['statistics']['staged'] == 0
    assert len(fast['models']) == 5
    for lever, none in zip(fast['models'], plain['models']):
        assert lever == none


def test_a_forked_child_compiles_with_its_own_workers(compiler, tmp_path):
    signature = stage(compiler, 'm1')
    compiler._staged[signature].result()       # the parent's pool is running
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                 # the child
        code = 1
        try:
            compiler.forget_parent()
            again = stage(compiler, 'm2')
            library = compiler._staged[again].result(timeout=30)
            code = 0 if os.path.isfile(library) else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == bytes([0])
    assert os.WEXITSTATUS(status) == 0


def test_stale_staging_directories_are_removed(tmp_path):
    stale = tmp_path / (_c_compile.STAGING_PREFIX + 'old')
    fresh = tmp_path / (_c_compile.STAGING_PREFIX + 'new')
    other = tmp_path / 'compiledir_x'
    for path in (stale, fresh, other):
        path.mkdir()
    os.utime(str(stale), (0, 0))
    os.utime(str(other), (0, 0))
    _c_compile._remove_stale_staging(str(tmp_path))
    assert not stale.exists()
    assert fresh.exists() and other.exists()


def test_a_damaged_header_is_dropped_and_the_module_compiles(
        tmp_path, caplog):
    """g++ fails on a truncated precompiled header: compile without it."""
    FakeCompiler.calls = []
    backend = fake_backend(tmp_path)
    original = backend.cmodule.GCC_compiler.compile_str

    def compile_str(*args, **kwargs):
        if '-include' in kwargs['preargs']:
            raise RuntimeError('cannot read PCH file')
        return original(*args, **kwargs)

    backend.cmodule.GCC_compiler.compile_str = staticmethod(compile_str)
    made = _c_compile.ParallelCompiler(backend, jobs=1, use_pch=True,
                                       drop_debug_info=False)
    key = made._pch_key([], ['-O3'])
    directory = tmp_path / _c_compile.PCH_DIRECTORY / key
    directory.mkdir(parents=True)
    (directory / 'theanets_pch.h').write_text('')
    (directory / 'theanets_pch.h.gch').write_text('truncated')
    location = tmp_path / 'location'
    location.mkdir()
    with caplog.at_level(logging.WARNING, logger='theanets'):
        module = made.compile_str('m1', SOURCE, location=str(location),
                                  include_dirs=[], lib_dirs=[], libs=[],
                                  preargs=['-O3'])
    assert module == 'module m1'
    assert FakeCompiler.calls[-1]['preargs'] == ['-O3']
    assert not (directory / 'theanets_pch.h.gch').exists()
    assert 'damaged' in caplog.text
    # the process does not try that header again
    assert made._precompiled_header(SOURCE, [], ['-O3']) is None
    made.close()
