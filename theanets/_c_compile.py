"""Compile the backend's C modules faster, without changing what is built.

Theano and PyTensor turn every distinct node of a compiled function into a
small C++ module and run ``g++`` on them one after the other; each run parses
Python's, numpy's and the backend's headers again, which is about half of a
small module's compile time. A fresh install therefore spends most of the
time to its first result in ``g++`` (about 0.55 s per module, some 37
modules for a tiny classifier's validation, training and prediction
functions). :func:`install`, called by :func:`theanets.backend.setup`,
changes how the modules are compiled in three ways:

* **In parallel.** Before the VM linker makes the thunks of a function, the
  source of every node whose module is not in the compile cache is generated
  and handed to a pool of threads, each running the backend's own
  ``compile_str`` (so the same ``g++`` command) into a private staging
  directory. When the backend then asks for a module, in order and under its
  compile lock, the staged library is moved into the cache directory instead
  of being compiled again. The cache's keys, hashes and layout are the
  backend's, untouched.
* **Without debug information.** The backend compiles every module with
  ``-g``; theanets puts ``-g0`` before the module's own arguments, which
  saves about a fifth of each ``g++`` run and leaves the machine code as it
  was. A ``-g`` among the user's compiler flags (Theano's ``gcc.cxxflags``,
  PyTensor's ``gcc__cxxflags``) comes later and wins.
* **With a precompiled header.** Modules whose include block holds the
  headers every module includes (``Python.h``, numpy's, the backend's helper)
  are compiled with ``-include`` of a precompiled header of them, built once
  for each compiler, flag set and header version in the compile directory's
  parent (``theanets-pch/``). ``g++`` checks the header's validity and reads
  the text header instead when it does not match, so the worst case is the
  old compile time. The generated machine code is the same as without it.
* **Several modules per ``g++`` run.** When a function has more uncached
  modules than there are jobs, modules with the same compile arguments and
  the same include block are compiled together as one translation unit,
  one batch per job (at most ``MAX_BATCH`` modules, see
  :mod:`._c_batches`); what they link,
  and which of a few standard headers they include, may differ: the batch
  has the union. The include block comes once, then each module's code in
  a namespace of its own, with the macros it defines saved and restored
  around it and ``#line`` keeping its line numbers. The standard headers'
  templates, which every module instantiates again, are then compiled once
  per batch, which roughly halves the ``g++`` time. The batch's library is
  hard-linked into each module's place under the module's name, so the
  backend imports every module as it would its own library. A batch that
  does not compile is compiled again module by module. Each module's code
  is compiled with the same compiler and flags; only how ``g++`` inlines
  the helpers modules share can differ, and the trained parameters of the
  test models are identical either way.

Environment variables: ``THEANETS_COMPILE_JOBS`` (modules compiled at once;
``1`` compiles one at a time as the backend does; default: the CPUs this
process may use, at most 8), ``THEANETS_PCH=0`` (no precompiled header),
``THEANETS_DEBUG_INFO=1`` (keep the backend's ``-g``) and
``THEANETS_BATCH_COMPILE=0`` (one ``g++`` run per module).
"""

import atexit
import concurrent.futures
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import _c_batches
from . import _logging

_logger = _logging.logger

JOBS_ENV = 'THEANETS_COMPILE_JOBS'
PCH_DIRECTORY = 'theanets-pch'
STAGING_PREFIX = 'theanets-staging-'
PCH_ENV = 'THEANETS_PCH'
DEBUG_INFO_ENV = 'THEANETS_DEBUG_INFO'
BATCH_ENV = 'THEANETS_BATCH_COMPILE'
BATCH_PREFIX = 'theanets_batch_'

_MAX_JOBS = 8

#: Put before a module's own compile arguments: the backend always passes
#: ``-g``, and the debug information it asks for is about a fifth of a small
#: module's compile time. ``g++`` generates the same machine code either way;
#: a ``-g`` among the user's compiler flags comes later and wins.
NO_DEBUG_INFO = '-g0'


def compile_jobs():
    """How many modules to compile at once (``THEANETS_COMPILE_JOBS``)."""
    value = os.environ.get(JOBS_ENV, '').strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            _logger.warning('%s=%r is not a number of jobs; compiling one '
                            'module at a time', JOBS_ENV, value)
            return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_JOBS))


def pch_enabled():
    """False when ``THEANETS_PCH`` is ``0``, ``false``, ``no`` or ``off``."""
    value = os.environ.get(PCH_ENV, '').strip().lower()
    return value not in ('0', 'false', 'no', 'off')


def debug_info_dropped():
    """False when ``THEANETS_DEBUG_INFO`` is ``1``, ``true``, ``yes`` or
    ``on`` (compile with the backend's ``-g``)."""
    value = os.environ.get(DEBUG_INFO_ENV, '').strip().lower()
    return value not in ('1', 'true', 'yes', 'on')


def batching_enabled():
    """False when ``THEANETS_BATCH_COMPILE`` is ``0``, ``false``, ``no`` or
    ``off`` (one ``g++`` run per module)."""
    value = os.environ.get(BATCH_ENV, '').strip().lower()
    return value not in ('0', 'false', 'no', 'off')


class Backend(object):
    """The pieces of a backend's C machinery this module works with.

    Parameters
    ----------
    cmodule : module
        The backend's ``cmodule`` (``GCC_compiler``, ``get_module_hash``,
        ``get_lib_extension``, ``std_include_dirs``, ``dlimport``).
    clinker : type
        Its ``CLinker``.
    module_cache : callable
        Returns the process's ``ModuleCache`` (the C linker module's
        ``get_module_cache``).
    function_graph : type
        Its ``FunctionGraph``.
    vm_linker : type
        The VM linker whose ``make_all`` makes a function's thunks.
    thunk_op : type
        The class whose ``make_thunk`` and ``make_c_thunk`` build a node's
        module through ``CLinker`` (ops overriding them are left alone).
    config : callable
        ``config(name)`` returns a flag: ``'cxx'``, ``'compiledir'``,
        ``'remove_gxx_opt'``.
    find_key, find_hash : callable, optional
        ``find_key(cache, key)`` and ``find_hash(cache, module_hash)`` say
        whether the cache holds a module for a key, or for a source hash;
        they load what they find, as the cache's own lookup would. By
        default: the key is in ``cache.entry_from_key``, the hash in
        ``cache.module_hash_to_key_data`` (what a full refresh loads).
    pch_headers : tuple of str
        The first ``#include`` targets of every module the backend writes,
        in its order (``'<Python.h>'`` first): the precompiled header's
        content. A module is compiled with it only when its own include
        block starts with exactly these, so the header changes nothing
        about what the module's source means.
    """

    def __init__(self, cmodule, clinker, module_cache, function_graph,
                 vm_linker, thunk_op, config, pch_headers, find_key=None,
                 find_hash=None):
        self.cmodule = cmodule
        self.clinker = clinker
        self.module_cache = module_cache
        self.function_graph = function_graph
        self.vm_linker = vm_linker
        self.thunk_op = thunk_op
        self.config = config
        self.pch_headers = tuple(pch_headers)
        self.find_key = find_key or _key_loaded
        self.find_hash = find_hash or _hash_loaded


class ParallelCompiler(object):
    """Stage a function's C modules in parallel; precompile common headers.

    One instance is installed per process (see :func:`install`); it wraps
    ``GCC_compiler.compile_str`` and the VM linker's ``make_all``.
    """

    def __init__(self, backend, jobs=None, use_pch=None,
                 drop_debug_info=None, batch=None):
        self.backend = backend
        self.jobs = compile_jobs() if jobs is None else jobs
        self.use_pch = pch_enabled() if use_pch is None else use_pch
        self.drop_debug_info = (debug_info_dropped() if drop_debug_info is None
                                else drop_debug_info)
        self.batch = batching_enabled() if batch is None else batch
        self.original_compile_str = backend.cmodule.GCC_compiler.compile_str
        self._lock = threading.Lock()
        self._pool = None
        self._staged = {}
        self._pch = {}
        self._staging_root = None
        self._compiler_version = None
        self.pch_headers = backend.pch_headers
        self.statistics = dict(staged=0, used=0, pch_builds=0, pch_used=0,
                               batches=0, batch_failures=0)

    def forget_parent(self):
        """Start afresh in a forked child process.

        The parent's worker threads do not exist in the child, and its lock
        may have been held by one of them at the fork; a pool that believes
        it has idle workers would never run the child's jobs.
        """
        self._lock = threading.Lock()
        self._pool = None
        self._staged = {}
        self._pch = {}
        self._staging_root = None

    # -- the wrapped backend functions ---------------------------------------

    def compile_str(self, module_name, src_code, location=None,
                    include_dirs=None, lib_dirs=None, libs=None,
                    preargs=None, py_module=True, hide_symbols=True):
        """The backend's ``compile_str``, served from staged modules first."""
        if py_module and location is not None:
            signature = _signature(module_name, src_code, include_dirs,
                                   lib_dirs, libs, preargs, hide_symbols)
            with self._lock:
                future = self._staged.pop(signature, None)
            if future is not None:
                module = self._install_staged(future, src_code, location)
                if module is not None:
                    return module
        return self._compile(module_name, src_code, location, include_dirs,
                             lib_dirs, libs, preargs, py_module, hide_symbols)

    def make_all(self, original, linker, *args, **kwargs):
        """The VM linker's ``make_all``, with the modules staged first."""
        staged = self.stage_function(linker)
        try:
            return original(linker, *args, **kwargs)
        finally:
            self._discard(staged)

    # -- staging -------------------------------------------------------------

    def stage_function(self, linker):
        """Start compiling the uncached modules of a linker's function.

        Returns the signatures staged. Any problem with a node (an op
        without C code, a float16 graph, an op that builds its thunk its own
        way) leaves that node to the backend's usual path.
        """
        if self.jobs < 2 or not self.backend.config('cxx'):
            return []
        if getattr(linker, 'c_thunks', None) is False:
            return []
        try:
            order = linker.schedule(linker.fgraph)
            cache = self.backend.module_cache()
        except Exception as error:  # the backend reports it on its own path
            _logger.debug('not staging modules: %s', error)
            return []
        jobs = {}
        for node in order:
            try:
                job = self._module_job(node, cache)
            except Exception as error:
                _logger.debug('not staging %s: %s', node.op, error)
                continue
            if job is not None:
                jobs.setdefault(*job)
        return self.stage_jobs(list(jobs.items()))

    def stage_jobs(self, jobs):
        """Start compiling modules, alone or in batches (see
        :meth:`_batches`); the signatures staged.

        ``jobs`` are (signature, compile arguments) pairs; a signature
        staged already is left as it is.
        """
        staged = []
        with self._lock:
            jobs = [job for job in jobs if job[0] not in self._staged]
            for batch in self._batches(jobs):
                if len(batch) == 1:
                    signature, arguments = batch[0]
                    self._staged[signature] = self._submit(
                        self._stage_module, *arguments)
                else:
                    members = []
                    for signature, arguments in batch:
                        future = concurrent.futures.Future()
                        self._staged[signature] = future
                        members.append((future, arguments))
                    self._submit(self._stage_batch, members)
                self.statistics['staged'] += len(batch)
                staged += [signature for signature, _ in batch]
        return staged

    def _batches(self, jobs):
        """The jobs in groups, each compiled by one ``g++`` run: each
        module alone without batches or with no more modules than jobs,
        else as :func:`._c_batches.group` makes them."""
        if not self.batch or len(jobs) <= self.jobs:
            return [[job] for job in jobs]
        return _c_batches.group(jobs, self.jobs)

    def _module_job(self, node, cache):
        """(signature, compile arguments) of a node's uncached module."""
        op = node.op
        base = self.backend.thunk_op
        if (getattr(type(op), 'make_thunk', None) is not base.make_thunk or
                getattr(type(op), 'make_c_thunk', None)
                is not base.make_c_thunk):
            return None
        if any(getattr(v.type, 'dtype', '') == 'float16'
               for v in node.inputs + node.outputs):
            return None
        op.prepare_node(node, storage_map=None, compute_map=None, impl='c')
        graph = self.backend.function_graph(node.inputs, node.outputs)
        clinker = self.backend.clinker().accept(graph, no_recycling=[])
        key = clinker.cmodule_key()
        if self.backend.find_key(cache, key):
            return None
        module = clinker.get_dynamic_module()
        src_code = module.code()
        module_hash = self.backend.cmodule.get_module_hash(src_code, key)
        if self.backend.find_hash(cache, module_hash):
            return None
        arguments = (module.code_hash, src_code, clinker.header_dirs(),
                     clinker.lib_dirs(), clinker.libraries(),
                     clinker.compile_args())
        signature = _signature(*arguments, hide_symbols=True)
        return signature, arguments

    def _stage_module(self, module_name, src_code, include_dirs, lib_dirs,
                      libs, preargs):
        """Compile one module into a fresh staging directory (a worker)."""
        location = tempfile.mkdtemp(prefix='module-',
                                    dir=self._staging_directory())
        self._compile(module_name, src_code, location, include_dirs,
                      lib_dirs, libs, preargs, False, True)
        library = os.path.join(location, '{}.{}'.format(
            module_name, self.backend.cmodule.get_lib_extension()))
        if not os.path.isfile(library):
            raise OSError('{} did not appear'.format(library))
        return library

    def _stage_batch(self, members):
        """Compile modules as one translation unit (a worker).

        ``members`` are (future, compile arguments) pairs; each future gets
        the path of its module's library, or the error of compiling it on
        its own when the batch did not compile.
        """
        try:
            members = [member for member in members
                       if not member[0].cancelled()]
            if not members:
                return
            try:
                libraries = self._compile_batch(
                    [arguments for _, arguments in members])
            except Exception as error:
                _logger.debug('%d modules did not compile as one (%s); '
                              'compiling them one by one', len(members),
                              error)
                with self._lock:
                    self.statistics['batch_failures'] += 1
                for future, arguments in members:
                    if future.cancelled():
                        continue
                    try:
                        _settle(future, self._stage_module(*arguments))
                    except Exception as module_error:
                        _settle(future, error=module_error)
                return
            for (future, _), library in zip(members, libraries):
                _settle(future, library)
        except BaseException as error:
            for future, _ in members:
                _settle(future, error=error)
            raise

    def _compile_batch(self, modules):
        """Compile modules' arguments as one library; a link per module."""
        source = _c_batches.unity_source(
            [arguments[1] for arguments in modules])
        name = BATCH_PREFIX + hashlib.sha256(
            source.encode('utf-8')).hexdigest()[:16]
        extension = self.backend.cmodule.get_lib_extension()
        staging = self._staging_directory()
        location = tempfile.mkdtemp(prefix='batch-', dir=staging)
        try:
            self._compile(name, source, location,
                          *_c_batches.batch_arguments(modules),
                          py_module=False, hide_symbols=True)
            batch_library = os.path.join(location, name + '.' + extension)
            if not os.path.isfile(batch_library):
                raise OSError('{} did not appear'.format(batch_library))
            libraries = []
            for arguments in modules:
                library = os.path.join(
                    tempfile.mkdtemp(prefix='module-', dir=staging),
                    '{}.{}'.format(arguments[0], extension))
                _link(batch_library, library)
                libraries.append(library)
        finally:
            shutil.rmtree(location, ignore_errors=True)
        with self._lock:
            self.statistics['batches'] += 1
        return libraries

    def _install_staged(self, future, src_code, location):
        """Move a staged library into ``location`` and import it."""
        try:
            library = future.result()
        except Exception as error:
            _logger.debug('staged compile failed (%s); compiling again',
                          error)
            return None
        target = os.path.join(location, os.path.basename(library))
        with open(os.path.join(location, 'mod.cpp'), 'w') as handle:
            handle.write(src_code)
            if not src_code.endswith('\n'):
                handle.write('\n')
        os.replace(library, target)
        shutil.rmtree(os.path.dirname(library), ignore_errors=True)
        open(os.path.join(location, '__init__.py'), 'w').close()
        with self._lock:
            self.statistics['used'] += 1
        return self.backend.cmodule.dlimport(target)

    def _discard(self, signatures):
        """Forget staged modules the backend did not ask for."""
        for signature in signatures:
            with self._lock:
                future = self._staged.pop(signature, None)
            if future is not None and not future.cancel():
                future.add_done_callback(_remove_staged)

    def _cache_parent(self):
        """The compile directory's parent, where the backend does not look."""
        return os.path.dirname(
            os.path.abspath(self.backend.config('compiledir')))

    def _staging_directory(self):
        with self._lock:
            if self._staging_root is None:
                parent = self._cache_parent()
                os.makedirs(parent, exist_ok=True)
                _remove_stale_staging(parent)
                self._staging_root = tempfile.mkdtemp(
                    prefix=STAGING_PREFIX, dir=parent)
            return self._staging_root

    def _submit(self, function, *args):
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.jobs, thread_name_prefix='theanets-compile')
        return self._pool.submit(function, *args)

    def close(self):
        """Stop the workers and remove the staging directory."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._lock:
            for future in self._staged.values():
                future.cancel()  # a batch's, when its worker never ran
        if self._staging_root is not None:
            shutil.rmtree(self._staging_root, ignore_errors=True)
            self._staging_root = None

    # -- compiling, with the precompiled header ------------------------------

    def prepare_header(self, sample):
        """Start building the precompiled header of a typical module.

        ``sample`` is a ``CLinker`` accepting a small graph. A fresh compile
        directory has no precompiled header; building it while the user's
        script imports and builds its model takes it off the path to the
        first result. Does nothing when the compile directory has
        precompiled headers already (a warm start pays nothing for this).
        """
        if not self.use_pch or not self.backend.config('cxx'):
            return
        if os.path.isdir(os.path.join(self._cache_parent(), PCH_DIRECTORY)):
            return  # not a fresh cache: later flag sets build their own
        try:
            self._precompiled_header(
                '\n'.join('#include ' + h for h in self.pch_headers),
                sample.header_dirs(), self._arguments(sample.compile_args()))
        except Exception as error:  # only a lost head start
            _logger.debug('precompiled header not started: %s', error)

    def _arguments(self, preargs):
        """The compile arguments theanets passes for a module's own."""
        preargs = list(preargs or [])
        if self.drop_debug_info:
            preargs.insert(0, NO_DEBUG_INFO)
        return preargs

    def _compile(self, module_name, src_code, location, include_dirs,
                 lib_dirs, libs, preargs, py_module, hide_symbols):
        preargs = self._arguments(preargs)
        header = self._precompiled_header(src_code, include_dirs, preargs)
        if header is not None:
            try:
                module = self.original_compile_str(
                    module_name, src_code, location=location,
                    include_dirs=include_dirs, lib_dirs=lib_dirs, libs=libs,
                    preargs=preargs + ['-include', header],
                    py_module=py_module, hide_symbols=hide_symbols)
            except Exception as error:
                # A damaged header (a truncated file) makes g++ fail where
                # the text headers would not: compile without it, and drop
                # it if that works.
                _logger.debug('compiling %s with the precompiled header '
                              'failed (%s); compiling without it',
                              module_name, error)
            else:
                with self._lock:
                    self.statistics['pch_used'] += 1
                return module
            module = self.original_compile_str(
                module_name, src_code, location=location,
                include_dirs=include_dirs, lib_dirs=lib_dirs, libs=libs,
                preargs=preargs, py_module=py_module,
                hide_symbols=hide_symbols)
            self._drop_header(header)
            return module
        return self.original_compile_str(
            module_name, src_code, location=location,
            include_dirs=include_dirs, lib_dirs=lib_dirs, libs=libs,
            preargs=preargs, py_module=py_module, hide_symbols=hide_symbols)

    def _drop_header(self, header):
        """Stop using a precompiled header that broke a compile."""
        _logger.warning('the precompiled header %s.gch is damaged; removed '
                        '(theanets builds it again)', header)
        _remove(header + '.gch')
        with self._lock:
            key = os.path.basename(os.path.dirname(header))
            self._pch[key] = _FAILED

    def _precompiled_header(self, src_code, include_dirs, preargs):
        """The header to ``-include``, or None (not ready or not usable).

        The first module of a flag set starts building the precompiled
        header in the background and compiles without it.
        """
        if not self.use_pch or self.backend.config('remove_gxx_opt'):
            return None
        headers = list(self.pch_headers)
        if _c_batches.include_block(src_code)[:len(headers)] != headers:
            return None
        include_dirs = [d for d in (include_dirs or []) if d]
        include_dirs += self.backend.cmodule.std_include_dirs()
        key = self._pch_key(include_dirs, preargs)
        directory = os.path.join(self._cache_parent(), PCH_DIRECTORY, key)
        header = os.path.join(directory, 'theanets_pch.h')
        if self._pch.get(key) is _FAILED:
            return None
        if os.path.isfile(header + '.gch'):
            return header
        with self._lock:
            future = self._pch.get(key)
            if future is None:
                future = self._pch[key] = self._submit(
                    self._build_pch, directory, header, include_dirs,
                    preargs)
        if future.done() and not future.exception() and future.result():
            return header
        return None

    def _pch_key(self, include_dirs, preargs):
        """A digest of everything the precompiled header depends on."""
        if self._compiler_version is None:
            try:
                self._compiler_version = subprocess.run(
                    [self.backend.config('cxx'), '--version'],
                    capture_output=True, text=True).stdout
            except OSError:
                self._compiler_version = ''
        stamps = []
        for header in self.pch_headers:
            name = header[1:-1]
            for directory in include_dirs:
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    stat = os.stat(path)
                    stamps.append([path, stat.st_size, stat.st_mtime_ns])
                    break
        numpy = sys.modules.get('numpy')
        text = json.dumps([
            os.path.realpath(shutil.which(self.backend.config('cxx')) or
                             self.backend.config('cxx')),
            self._compiler_version, list(preargs), list(include_dirs),
            stamps, sys.version, getattr(numpy, '__version__', '')])
        return hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]

    def _build_pch(self, directory, header, include_dirs, preargs):
        """Write and precompile the header (a worker); True when built."""
        os.makedirs(directory, exist_ok=True)
        text = ''.join('#include {}\n'.format(h) for h in self.pch_headers)
        suffix = '.{}.{}.tmp'.format(os.getpid(), threading.get_ident())
        with open(header + suffix, 'w') as handle:
            handle.write(text)
        os.replace(header + suffix, header)
        command = [self.backend.config('cxx'), '-x', 'c++-header', '-g']
        command += list(preargs)
        command += ['-I' + d for d in include_dirs]
        if sys.platform != 'win32':
            command.append('-fvisibility=hidden')
        command += ['-o', header + '.gch' + suffix, header]
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            _logger.debug('precompiled header not built: %s', error)
            return False
        if done.returncode:
            _logger.debug('precompiled header not built: %s',
                          done.stderr[-2000:])
            _remove(header + '.gch' + suffix)
            return False
        try:
            os.replace(header + '.gch' + suffix, header + '.gch')
        except OSError as error:
            _logger.debug('precompiled header not built: %s', error)
            _remove(header + '.gch' + suffix)
            return False
        with self._lock:
            self.statistics['pch_builds'] += 1
        return True


def _key_loaded(cache, key):
    return key in cache.entry_from_key


def _hash_loaded(cache, module_hash):
    return module_hash in cache.module_hash_to_key_data


def _signature(module_name, src_code, include_dirs, lib_dirs, libs, preargs,
               hide_symbols):
    digest = hashlib.sha256(src_code.encode('utf-8')).hexdigest()
    return (module_name, digest, tuple(include_dirs or ()),
            tuple(lib_dirs or ()), tuple(libs or ()), tuple(preargs or ()),
            bool(hide_symbols))


def _settle(future, library=None, error=None):
    """Give a staged module's future its library (or error), unless the
    module was discarded meanwhile."""
    try:
        if error is None:
            future.set_result(library)
        else:
            future.set_exception(error)
    except concurrent.futures.InvalidStateError:
        if library is not None:
            shutil.rmtree(os.path.dirname(library), ignore_errors=True)


def _link(source, target):
    """Hard-link a library to a second name (copy where links fail)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _remove_stale_staging(parent, age=86400):
    """Remove staging directories left by processes that did not exit.

    A live process's staging directory changes whenever a module passes
    through it; one untouched for ``age`` seconds belongs to a process
    that was killed (or a forked child that left without cleaning up).
    """
    now = time.time()
    for name in os.listdir(parent):
        path = os.path.join(parent, name)
        try:
            if (name.startswith(STAGING_PREFIX) and
                    now - os.stat(path).st_mtime > age):
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _remove_staged(future):
    if future.cancelled() or future.exception() is not None:
        return
    shutil.rmtree(os.path.dirname(future.result()), ignore_errors=True)


def _failed_future():
    future = concurrent.futures.Future()
    future.set_result(False)
    return future


#: Stands for a precompiled header this process no longer uses.
_FAILED = _failed_future()

_installed = {}


def installed():
    """The :class:`ParallelCompiler` of this process, or None."""
    return _installed.get('compiler')


def install(backend):
    """Wrap the backend's ``compile_str`` and VM ``make_all``; idempotent.

    Returns the :class:`ParallelCompiler` serving this process.
    """
    compiler_class = backend.cmodule.GCC_compiler
    if getattr(compiler_class.compile_str, '_theanets', None) is not None:
        return compiler_class.compile_str._theanets
    compiler = ParallelCompiler(backend)

    @functools.wraps(compiler.original_compile_str)
    def compile_str(*args, **kwargs):
        return compiler.compile_str(*args, **kwargs)

    compile_str._theanets = compiler
    compiler_class.compile_str = staticmethod(compile_str)

    original_make_all = backend.vm_linker.make_all

    @functools.wraps(original_make_all)
    def make_all(linker, *args, **kwargs):
        return compiler.make_all(original_make_all, linker, *args, **kwargs)

    backend.vm_linker.make_all = make_all
    _installed['compiler'] = compiler
    atexit.register(compiler.close)
    if hasattr(os, 'register_at_fork'):
        os.register_at_fork(after_in_child=compiler.forget_parent)
    return compiler
