"""The one place where theanets configures and imports Theano.

Theano 1.0.5 predates Python 3.11 and numpy 1.23 wheels; it needs a few
fixes before (and right after) its first import to work well here:

* its flags are read once, when ``theano`` is first imported, so they must be
  in the environment before that import;
* ``floatX`` defaults to float64 -- a neural-network library wants float32
  unless the user chose otherwise;
* ``blas.ldflags`` must be set, or the import fails probing numpy.distutils;
  with it empty Theano falls back to a slow NumPy C-API GEMM, so a real BLAS
  is linked: a system OpenBLAS when one is installed, else the OpenBLAS that
  the ``scipy-openblas32`` wheel ships (its symbols carry a ``scipy_`` prefix,
  which C preprocessor defines map back to the standard names);
* Theano's C implementation of ``scan`` (Cython 0.28 output) does not
  compile against the Python 3.11 headers and fails with a plain
  ``Exception``. theanets builds it itself instead: it applies a few small
  edits to a copy of the C source (code objects for tracebacks are made with
  ``PyCode_NewEmpty``, frame line numbers are not poked, Cython's use of
  CPython internals that changed is switched off) and compiles it into
  Theano's compile directory, where Theano looks for it (once per compile
  directory, and only when Theano first needs it, i.e. when a model with a
  recurrent layer is compiled; later runs just load it). If that fails, the
  extension is
  marked unavailable and Theano uses its pure-Python scan loop, which costs
  about 12 us more per time step (a forward and backward pass through a
  small LSTM at batch size 1 takes about 1.6x as long; see
  ``benchmarks/README.md``). Set the environment variable
  ``THEANETS_SCAN=python`` to always use the Python loop;
* Theano's compile cache rebuilds some modules in every process (ops
  without parameters count as unversioned, and file-based ops are versioned
  by a randomised string hash); their cache keys are repaired, which takes
  about 2 s off every later start;
* without a C++ compiler (no ``g++`` found, or ``cxx`` set empty) Theano
  runs Python implementations, and its fused elementwise Ops then evaluate
  one scalar at a time; elementwise fusion is switched off in that case
  (unless the user set ``tensor.local_elemwise_fusion``), and one warning
  says what to install instead of Theano's own notices;
* numpy's distutils, which Theano imports, sets the root logger's level to
  WARNING; the application's level is put back;
* downhill 0.4.0 uses ``collections.Callable``, removed in Python 3.10;
* Theano imports ``pkg_resources``, which setuptools 81 and later no longer
  ship; a minimal stand-in is provided when it is missing;
* Theano imports ``scipy.stats``, ``scipy.special`` and ``scipy.signal``
  (about a third of its import time) but needs them only in the Python
  implementations of a few ops it does not use for theanets' models; while
  Theano is imported they are stand-ins, and the real modules load at their
  first use;
* downhill 0.4.0 prints its progress straight to stdout with ``click``; its
  messages are routed into the ``theanets.downhill`` logger instead (see
  :func:`route_downhill_logging`);
* Theano reads the keys of every module in its compile cache the first
  time it compiles (1-2 s and 300 MB on a large cache); an index of the
  cache lets a process read only the modules it uses (see
  :mod:`theanets._compile_cache`; ``THEANETS_CACHE_INDEX=off`` turns it off);
* Theano's graph optimizer is not thread-safe (two threads compiling at once
  fail with ``CachedConstantError`` or ``AssertionError``), so
  ``theano.function`` is wrapped to compile under one process-wide lock,
  :data:`COMPILE_LOCK`, which theanets also holds while it builds graphs.
  Downhill's compiles go through the same wrapper.

The fixes needed before Theano's import (flags, the BLAS, ``scan``,
``collections``, ``pkg_resources``, SciPy's modules) live in :mod:`theanets._theano_env`, so
that the import hook of an installed theanets can apply them when
``theano`` is imported first (``import theano`` or ``import downhill``
before ``import theanets``, as code written for theanets 0.8 does);
:func:`setup` then finishes the rest. See :func:`setup` for what happens
when Theano was imported first without the hook.

This module (with that helper) is the only one that patches Theano,
downhill or the standard library, and the only one that imports Theano
directly: the rest of theanets imports the configured modules from here::

    from .backend import theano, TT   # theano and theano.tensor
    from .backend import SS           # theano.sparse

Asking for one of these names runs :func:`setup` first.

Every flag the user set (``THEANO_FLAGS`` or a ``.theanorc`` file) wins over
the defaults chosen here. :func:`setup` is idempotent; :func:`info` tells what
it did.

Two backends
------------
theanets runs on Theano 1.0.5 (Python 3.11, numpy 1.23: faithful to
theanets 0.8, every seeded number) or on PyTensor, Theano's maintained
continuation (Python 3.12 and newer, numpy 2). :func:`name` says which one
runs: ``THEANETS_BACKEND`` (``theano`` or ``pytensor``) chooses; without it,
Theano where it is installed on Python 3.11, else PyTensor. On PyTensor the
names above still say ``theano``: :mod:`theanets._pytensor_theano` makes
``theano`` and its modules resolve to PyTensor (for theanets, downhill and
user code alike), and is the only other module that knows PyTensor exists.
:mod:`theanets._pickle_compat` (``from .backend import pickle_compat``)
maps the class names that each backend writes into pickles to the running
backend's classes, so model files move between the two.
"""

import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import re
import functools
import sys
import threading
import warnings

from . import _compile_cache
from . import _logging
from . import _theano_env

__all__ = ['setup', 'info', 'name', 'route_downhill_logging', 'COMPILE_LOCK',
           'intermediates_kept', 'user_set_allow_gc']

#: Held while Theano compiles a function or theanets builds a graph: Theano's
#: optimizer and its caches of constants are shared by all threads.
COMPILE_LOCK = threading.RLock()

_logger = _logging.logger

#: What other theanets modules import from here, configured: each name maps
#: to a module path, or to ``module:attribute``.
_EXPORTS = {
    'theano': 'theano',
    'TT': 'theano.tensor',
    'SS': 'theano.sparse',
    'pool': 'theano.tensor.signal.pool',
    'blas': 'theano.tensor.blas',
    'blas_headers': 'theano.tensor.blas_headers',
    'DisconnectedType': 'theano.gradient:DisconnectedType',
    'MRG_RandomStreams': 'theano.sandbox.rng_mrg:MRG_RandomStreams',
    'downhill': 'downhill',
    'pickle_compat': 'theanets._pickle_compat',
}

_SCAN_EXTENSION = _theano_env.SCAN_EXTENSION

#: Environment variable that selects the scan loop: ``python`` forces the
#: pure-Python loop; anything else (or unset) tries the C extension first.
SCAN_ENV = 'THEANETS_SCAN'

#: Edits that make Theano's ``scan_perform.c`` compile against the Python
#: 3.11 C API, as ``(old, new, expected number of occurrences)``. Python 3.11
#: changed the signature of ``PyCode_New`` and made frame objects opaque; the
#: generated code only needs a code object that names the function, file and
#: line of a traceback entry, which ``PyCode_NewEmpty`` provides.
_SCAN_PATCHES = (
    ('PyCode_New(a, k, l, s, f, code, c, n, v, fv, cell, fn, name, fline, '
     'lnos)\n',
     'PyCode_NewEmpty(PyUnicode_AsUTF8(fn), PyUnicode_AsUTF8(name), '
     'fline)\n', 1),
    ('(frame)->f_lineno = (lineno)\n', '((void)(frame), (void)(lineno))\n',
     1),
    ('PyUnicode_GET_SIZE(', 'PyUnicode_GET_LENGTH(', 7),
)

#: Compiler flags that switch off Cython's use of CPython internals which
#: Python 3.11 changed (long integer layout, thread state, fast calls).
_SCAN_DEFINES = (
    '-DCYTHON_USE_PYLONG_INTERNALS=0', '-DCYTHON_FAST_THREAD_STATE=0',
    '-DCYTHON_FAST_PYCALL=0')

#: The ``NPY_*`` aliases Theano defines when it builds the extension itself.
_NPY_ALIASES = ('ENSUREARRAY', 'ENSURECOPY', 'ALIGNED', 'WRITEABLE',
                'UPDATE_ALL', 'C_CONTIGUOUS', 'F_CONTIGUOUS')

_state = {}

#: Environment variable that chooses the backend: ``theano`` or ``pytensor``.
BACKEND_ENV = _theano_env.BACKEND_ENV

#: The backends theanets runs on.
BACKENDS = ('theano', 'pytensor')


def name():
    """The backend theanets runs on in this process: ``'theano'`` or
    ``'pytensor'``.

    ``THEANETS_BACKEND`` chooses when set. Otherwise Theano on Python 3.11
    when it is installed (Theano 1.0.5 runs on no later Python), else
    PyTensor. Raises ImportError when the chosen backend cannot run.

    Examples
    --------
    >>> name() in BACKENDS
    True
    """
    if 'name' in _state:
        return _state['name']
    chosen = os.environ.get(BACKEND_ENV, '').strip().lower()
    if chosen and chosen not in BACKENDS:
        raise ImportError('{} must be "theano" or "pytensor", got {!r}'.format(
            BACKEND_ENV, chosen))
    if not chosen:
        theano_here = (sys.version_info < (3, 12) and
                       _module_available('theano') and
                       not _is_shim(sys.modules.get('theano')))
        chosen = 'theano' if theano_here else 'pytensor'
    if chosen == 'theano' and sys.version_info >= (3, 12):
        raise ImportError(
            'the Theano backend needs Python 3.11 (Theano 1.0.5 does not run '
            'on Python {}.{}); unset {} to use PyTensor'.format(
                sys.version_info[0], sys.version_info[1], BACKEND_ENV))
    if chosen == 'pytensor' and _theano_env.pytensor_problem():
        raise ImportError(_theano_env.pytensor_problem())
    _state['name'] = chosen
    return chosen


def _module_available(module):
    """Whether the top-level ``module`` is imported or on ``sys.path``.

    Asks the path finder alone: ``importlib.util.find_spec('theano')``
    would go through the import hook, which takes any question about
    ``theano`` for its import and prepares it.
    """
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.machinery.PathFinder.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _is_shim(module):
    """Whether ``module`` is theanets' ``theano`` facade or install shim."""
    return module is not None and (
        getattr(module, '_theanets_shim', False) or
        type(module).__name__ == '_Facade')


#: Logged once per process when the backend (``{backend}``: Theano or
#: PyTensor) has no C++ compiler. The slowdown is measured by
#: ``benchmarks/no_compiler.py`` (an MLP and a small LSTM, time per epoch;
#: see ``benchmarks/README.md``).
NO_COMPILER_WARNING = (
    'no C++ compiler: {backend}\'s cxx flag is empty (no g++ found, or set '
    'so), so {backend} runs its Python implementations and training is '
    'roughly 30-100x slower. '
    'Install g++ (Debian/Ubuntu: apt install g++; Fedora/RHEL: dnf install '
    'gcc-c++; conda: conda install gxx_linux-64; macOS: xcode-select '
    '--install) and restart Python')


def _patched_scan_source(path):
    """Return the C source at ``path`` with :data:`_SCAN_PATCHES` applied.

    Raises RuntimeError if an edit does not match the expected number of
    times (another Theano version), so nothing unexpected is compiled.
    """
    with open(path) as handle:
        code = handle.read()
    for old, new, count in _SCAN_PATCHES:
        found = code.count(old)
        if found != count:
            raise RuntimeError(
                '{}: expected {} occurrence(s) of {!r}, found {}'.format(
                    path, count, old, found))
        code = code.replace(old, new)
    return code


def _build_c_scan(theano):
    """Compile the patched scan extension into Theano's compile directory.

    Does nothing when a module of the version Theano expects is already
    there. Raises an exception if the source cannot be patched or compiled,
    or if the module cannot be loaded (its version marker is then removed,
    so that the next process builds it again).
    """
    from theano.gof import cmodule
    from theano.gof.compilelock import get_lock, release_lock
    scan_dir = os.path.join(os.path.dirname(theano.__file__), 'scan_module')
    with open(os.path.join(scan_dir, 'scan_perform_ext.py')) as handle:
        match = re.search(r'^version = ([0-9.]+)', handle.read(), re.M)
    if not match:
        raise RuntimeError('cannot find the scan extension version')
    marker = '_version = {}\n'.format(match.group(1))
    location = os.path.join(theano.config.compiledir, 'scan_perform')
    init = os.path.join(location, '__init__.py')

    def built():
        try:
            with open(init) as handle:
                return handle.read() == marker
        except OSError:
            return False

    if not built():
        get_lock()
        try:
            if not built():  # another process may have built it meanwhile
                _compile_c_scan(cmodule, scan_dir, location, init, marker)
        finally:
            release_lock()
    # Load it as Theano will, so that a broken module is reported here rather
    # than making Theano try to compile the unpatched source.
    sys.path.insert(0, theano.config.compiledir)
    try:
        with warnings.catch_warnings():
            # Cython's import-time checks: numpy's ndarray struct size and
            # the package of the extension module; both harmless here.
            warnings.filterwarnings('ignore', 'numpy.ndarray size changed',
                                    RuntimeWarning)
            warnings.filterwarnings('ignore', "can't resolve package",
                                    ImportWarning)
            importlib.import_module('scan_perform.scan_perform')
    except Exception:
        os.remove(init)
        raise
    finally:
        sys.path.remove(theano.config.compiledir)


def _compile_c_scan(cmodule, scan_dir, location, init, marker):
    """Patch and compile ``scan_perform.c``; write the version marker."""
    code = _patched_scan_source(
        os.path.join(scan_dir, 'c_code', 'scan_perform.c'))
    os.makedirs(location, exist_ok=True)
    preargs = ['-fwrapv', '-O2', '-fno-strict-aliasing']
    preargs += cmodule.GCC_compiler.compile_args()
    preargs += ['-DNPY_{0}=NPY_ARRAY_{0}'.format(name)
                for name in _NPY_ALIASES]
    preargs += list(_SCAN_DEFINES)
    _logging.debug('compiling the C implementation of Theano scan')
    cmodule.GCC_compiler.compile_str(
        'scan_perform', code, location=location, preargs=preargs,
        hide_symbols=False)
    with open(init, 'w') as handle:
        handle.write(marker)


class _LazyCScan(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Builds the C scan extension when Theano first imports it.

    Compiling it takes a few seconds on an empty compile directory, which
    models without recurrent layers need not wait for.
    """

    def __init__(self, theano):
        self.theano = theano
        self.module = None

    def find_spec(self, name, path=None, target=None):
        if name != _SCAN_EXTENSION:
            return None
        self.resolve()
        if sys.modules.get(name) is None:
            # Returning None would let the next finder load Theano's own
            # module, which tries to compile the unpatched source.
            raise ImportError('the C scan extension is unavailable',
                              name=name)
        return importlib.util.spec_from_loader(name, self)

    def resolve(self):
        """Build and import the extension (or mark it unavailable) once."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
            _enable_c_scan(self.theano)
            self.module = sys.modules.get(_SCAN_EXTENSION)

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


def _enable_c_scan(theano):
    """Replace the Python scan loop by the C extension, if it can be built.

    Returns ``'c'`` or ``'python'``; on any failure the extension is marked
    unavailable again (Theano then uses its Python loop) and a warning says
    why.
    """
    if os.environ.get(SCAN_ENV, '').strip().lower() == 'python':
        return 'python'
    sys.modules.pop(_SCAN_EXTENSION, None)
    if not theano.config.cxx:
        # The warning about the missing compiler covers this.
        sys.modules[_SCAN_EXTENSION] = None
        _logging.debug('Theano scan uses its Python loop: no C++ compiler')
        return 'python'
    try:
        _build_c_scan(theano)
        importlib.import_module(_SCAN_EXTENSION)
    except Exception as err:  # a failed build must never break theanets
        sys.modules[_SCAN_EXTENSION] = None
        _logger.warning('Theano scan uses its slower Python loop: the C '
                        'implementation is unavailable (%s: %s)',
                        type(err).__name__, str(err).splitlines()[0]
                        if str(err) else '')
        return 'python'
    return 'c'


def _fix_module_cache_keys(theano):
    """Let Theano's compile cache keep modules it would rebuild every run.

    Theano 1.0.5 caches a compiled C module across processes only when its
    key is "versioned", and two defects make common ops unversioned or
    differently versioned in every process, so each new interpreter
    recompiles them (about 0.5 s of gcc each, and a new directory in the
    cache every time):

    * ops without parameters (``Dot22``, ``Softmax``, ``Alloc``,
      ``DeepCopyOp``, ...) contribute their empty ``__props__`` to the key's
      version, which Theano reads as "unversioned";
    * ops whose C code lives in files (``COp``, e.g. ``DimShuffle``) use
      Python's ``hash()`` of that code as their version, which differs
      between processes (string hashing is randomised).

    The key's signature still identifies the op and its code exactly; only
    the version part is repaired: parameter-less ops count as versioned and
    ``COp`` versions use a digest of the code.
    """
    from theano.gof import cc, op
    if getattr(cc.CLinker.cmodule_key_, '_theanets', False):
        return

    def stable_cop_version(self):
        digest = hashlib.sha256('\0'.join(self.func_codes).encode('utf-8'))
        version = (int(digest.hexdigest()[:15], 16), )
        if hasattr(self, 'params_type'):
            version += (self.params_type.c_code_cache_version(), )
        return version

    original_key = cc.CLinker.cmodule_key_

    def cmodule_key_(self, fgraph, *args, **kwargs):
        key = original_key(self, fgraph, *args, **kwargs)
        if key is None or key[0]:
            return key
        version = []
        for node in self.schedule(fgraph):
            parts = [node.op.c_code_cache_version_apply(node)]
            parts += [v.type.c_code_cache_version()
                      for v in node.inputs + node.outputs]
            if not all(parts):
                return key  # genuinely unversioned
            props = getattr(node.op, '__props__', None)
            version.append((tuple(parts), props))
        return tuple(version), key[1]

    cmodule_key_._theanets = True
    op.COp.c_code_cache_version = stable_cop_version
    cc.CLinker.cmodule_key_ = cmodule_key_


def _check_numpy():
    import numpy
    major, minor = (int(x) for x in numpy.__version__.split('.')[:2])
    if (major, minor) >= (1, 24):
        raise ImportError(
            'theanets needs numpy<1.24 (Theano 1.0.5 uses aliases that numpy '
            '1.24 removed); found numpy {}. Install with: pip install '
            '"numpy>=1.23,<1.24"'.format(numpy.__version__))


def setup():
    """Configure and import Theano once; return the ``theano`` module.

    Safe to call any number of times. When Theano is already imported:

    * by the import hook of an installed theanets (``import theano`` or
      ``import downhill`` first), it was configured as theanets would, and
      this function finishes the setup;
    * by an interpreter without the hook (theanets only on ``sys.path``, or
      ``THEANETS_THEANO_HOOK=off``), Theano's flags can no longer change:
      theanets works with them, and a warning says which of its defaults
      (``floatX=float32``, a linked BLAS) are missing and how to get them.

    An earlier ``import theano`` that failed (Theano 1.0.5 cannot start
    under numpy 1.23 without ``blas.ldflags``) leaves half of Theano in
    ``sys.modules``; those modules are dropped and Theano is imported again,
    configured.
    """
    if 'theano' in _state:
        return _state['theano']
    if name() == 'pytensor':
        return _setup_pytensor()
    _check_numpy()
    if 'theano' not in sys.modules:
        _forget_failed_theano_import()
        _theano_env.import_theano()
    prepared = _theano_env.state()
    import theano
    if prepared:
        blas, chosen = prepared['blas'], prepared['flags']
        scan_disabled = (prepared['scan_disabled']
                         and sys.modules.get(_SCAN_EXTENSION, 0) is None)
    else:
        _theano_env.patch_collections()
        _theano_env.patch_pkg_resources()
        scan_disabled = _theano_env.disable_c_scan()
        blas, chosen = 'set before theanets was imported', {}
        _warn_theano_imported_first(theano)
    if scan_disabled:
        if os.environ.get(SCAN_ENV, '').strip().lower() == 'python':
            _state['scan'] = None
        else:
            del sys.modules[_SCAN_EXTENSION]
            _state['scan'] = _LazyCScan(theano)
            sys.meta_path.insert(0, _state['scan'])
    if not theano.config.cxx:
        # Without C code Theano's dot products are numpy's: no BLAS to link.
        _logger.warning(NO_COMPILER_WARNING.format(backend='Theano'))
    elif blas is None or not theano.config.blas.ldflags:
        _logger.warning(
            'no BLAS library linked; Theano uses its slower NumPy C-API GEMM. '
            'Install scipy-openblas32 (pip install scipy-openblas32) or a '
            'system OpenBLAS for about 2.7x faster training')
    else:
        _logging.debug('Theano BLAS: {}', blas)
    _fix_module_cache_keys(theano)
    from theano.gof import cc, cmodule
    _compile_cache.setup(cmodule, cc.get_module_cache,
                         theano.config.compiledir, theano.config.cxx,
                         theano.config.gcc.cxxflags)
    _speed_up_compiles('theano')
    _reuse_optimised_graphs('theano')
    _serialize_compiles(theano)
    route_downhill_logging()
    _state.update(theano=theano, blas=blas, flags=dict(chosen))
    return theano


def _setup_pytensor():
    """Make ``theano`` resolve to PyTensor (see :mod:`._pytensor_theano`)."""
    from . import _pytensor_theano
    with COMPILE_LOCK:
        if 'theano' in _state:
            return _state['theano']
        theano = _pytensor_theano.install()
        prepared = _pytensor_theano.state()
        blas = prepared.get('blas')
        if not theano.config.cxx:
            _logger.warning(NO_COMPILER_WARNING.format(backend='PyTensor'))
        elif not theano.config.blas__ldflags:
            _logger.warning(
                'no BLAS library linked; PyTensor uses its slower NumPy '
                'C-API GEMM. Install scipy-openblas32 (pip install '
                'scipy-openblas32) or a system OpenBLAS')
        else:
            _logging.debug('PyTensor BLAS: {}', blas)
        import pytensor
        from pytensor.link.c import basic, cmodule
        _compile_cache.setup(cmodule, basic.get_module_cache,
                             pytensor.config.compiledir, pytensor.config.cxx,
                             pytensor.config.gcc__cxxflags)
        _speed_up_compiles('pytensor')
        _reuse_optimised_graphs('pytensor')
        _serialize_compiles(theano)
        _theano_env.patch_collections()
        import downhill
        _pytensor_theano.patch_downhill(downhill)
        route_downhill_logging()
        _state.update(theano=theano, blas=blas,
                      flags=dict(prepared.get('flags', {})), scan=None)
        return theano


def _pytensor_scan_loop():
    """``'c'`` when PyTensor's scan runs its C loop, else ``'python'``."""
    import pytensor
    if not pytensor.config.cxx:
        return 'python'
    try:
        from pytensor.scan import scan_perform_ext  # noqa: F401
    except ImportError:
        return 'python'
    return 'c'


def _forget_failed_theano_import():
    """Drop what a failed ``import theano`` left in ``sys.modules``.

    Theano reads its flags when ``theano.configparser`` is first imported;
    a failed import keeps that module (and others) with the old flags, so
    importing again would fail the same way.
    """
    leftovers = [name for name in sys.modules if name.startswith('theano.')]
    if leftovers:
        _logger.info('an earlier import of theano failed; importing it '
                     'again with the flags theanets chooses')
        for name in leftovers:
            del sys.modules[name]


def _warn_theano_imported_first(theano):
    """Say which theanets defaults Theano, imported before it, lacks."""
    missing = []
    if ('floatx' not in _theano_env.user_flags()
            and theano.config.floatX != 'float32'):
        missing.append('floatX is {} (theanets chooses float32)'.format(
            theano.config.floatX))
    if not theano.config.blas.ldflags:
        missing.append('no BLAS library is linked')
    if not missing:
        return
    _logger.warning(
        'theano was imported before theanets, without the import hook that '
        'an installed theanets registers (theanets is only on sys.path, or '
        '%s is off), so theanets could not choose its flags: %s. Import '
        'theanets first, install theanets with pip, or set these flags in '
        'THEANO_FLAGS', _theano_env.HOOK_ENV, '; '.join(missing))


def _speed_up_compiles(backend):
    """Compile a function's C modules in parallel, with a precompiled header.

    See :mod:`._c_compile`; what is compiled, and the cache, stay the
    backend's own.
    """
    from . import _c_compile
    found = dict(find_key=_compile_cache.find_key,
                 find_hash=_compile_cache.find_hash)
    if backend == 'theano':
        import theano
        from theano.gof import cc, cmodule, fg, op, vm
        config = {'cxx': lambda: theano.config.cxx,
                  'compiledir': lambda: theano.config.compiledir,
                  'remove_gxx_opt':
                      lambda: theano.config.cmodule.remove_gxx_opt}
        pieces = _c_compile.Backend(
            cmodule, cc.CLinker, cc.get_module_cache, fg.FunctionGraph,
            vm.VM_Linker, op.Op,
            lambda flag: config[flag](),
            ('<Python.h>', '<iostream>', '"theano_mod_helper.h"',
             '<math.h>', '<numpy/arrayobject.h>', '<numpy/arrayscalars.h>'),
            **found)
    else:
        import pytensor
        from pytensor.graph import fg
        from pytensor.link import vm
        from pytensor.link.c import basic, cmodule, op
        config = {'cxx': lambda: pytensor.config.cxx,
                  'compiledir': lambda: pytensor.config.compiledir,
                  'remove_gxx_opt':
                      lambda: pytensor.config.cmodule__remove_gxx_opt}
        pieces = _c_compile.Backend(
            cmodule, basic.CLinker, basic.get_module_cache, fg.FunctionGraph,
            vm.VMLinker, op.COp,
            lambda flag: config[flag](),
            ('<Python.h>', '"pytensor_mod_helper.h"', '<math.h>',
             '<numpy/arrayobject.h>', '<numpy/arrayscalars.h>',
             '<numpy/npy_math.h>'),
            **found)
    compiler = _c_compile.install(pieces)
    tensor = importlib.import_module(backend + '.tensor')
    compiler.prepare_header(_sample_clinker(pieces, tensor))


def _reuse_optimised_graphs(backend):
    """Serve the graph optimizer from theanets' cache of optimised graphs
    (see :mod:`._graph_cache`)."""
    from . import _graph_cache
    if backend == 'theano':
        import theano
        from theano import configparser
        from theano.compile import mode
        from theano.gof import destroyhandler, fg, graph, optdb
        pieces = _graph_cache.Backend(
            'theano ' + theano.__version__, mode.Mode, graph.Variable,
            graph.Constant, graph.Apply, fg.FunctionGraph,
            destroyhandler.DestroyHandler, optdb.Query,
            lambda inputs, outputs, memo: graph.clone_get_equiv(
                inputs, outputs, memo=memo),
            lambda fgraph, index, variable, reason: fgraph.change_input(
                'output', index, variable, reason=reason),
            lambda: [(flag.fullname, flag.__get__(True, None))
                     for flag in configparser._config_var_list],
            lambda: theano.config.compiledir)
    else:
        import pytensor
        from pytensor.compile import mode
        from pytensor.graph import basic, destroyhandler, fg
        from pytensor.graph.rewriting import db

        def set_output(fgraph, index, variable, reason):
            node, position = fgraph.get_output_client(index)
            fgraph.change_node_input(node, position, variable, reason=reason)

        def config_items():
            config = pytensor.config
            return [(flag, getattr(config, flag))
                    for flag in config._config_var_dict]

        pieces = _graph_cache.Backend(
            'pytensor ' + pytensor.__version__, mode.Mode, basic.Variable,
            basic.Constant, basic.Apply, fg.FunctionGraph,
            destroyhandler.DestroyHandler, db.RewriteDatabaseQuery,
            lambda inputs, outputs, memo: basic.clone_get_equiv(
                inputs, outputs, memo=memo),
            set_output, config_items, lambda: pytensor.config.compiledir)
    _graph_cache.install(pieces)


def _sample_clinker(pieces, tensor):
    """A C linker of ``2 * x`` for a float32 matrix: a typical module."""
    x = tensor.matrix('x', dtype='float32')
    graph = pieces.function_graph([x], [2 * x])
    return pieces.clinker().accept(graph, no_recycling=[])


def _serialize_compiles(theano):
    """Make ``theano.function`` compile under :data:`COMPILE_LOCK`."""
    original = theano.function
    if getattr(original, '_theanets_serialized', False):
        return

    @functools.wraps(original)
    def function(*args, **kwargs):
        with COMPILE_LOCK:
            if getattr(_keeping, 'active', False) and \
                    kwargs.get('mode') is None:
                kwargs['mode'] = _mode_keeping_intermediates(theano)
            return original(*args, **kwargs)

    function._theanets_serialized = True
    theano.function = function


#: Whether :func:`intermediates_kept` is active, per thread.
_keeping = threading.local()


def _mode_keeping_intermediates(theano):
    """The default compile mode with a linker that keeps intermediates."""
    mode = theano.compile.mode.get_default_mode()
    try:
        return mode.clone(link_kwargs=dict(allow_gc=False))
    except TypeError:  # a linker without the option
        return mode


def user_set_allow_gc():
    """Whether the user chose ``allow_gc`` (in ``THEANO_FLAGS`` or a
    ``.theanorc`` file; ``PYTENSOR_FLAGS`` or ``.pytensorrc`` under
    PyTensor).

    Examples
    --------
    >>> isinstance(user_set_allow_gc(), bool)
    True
    """
    if name() == 'pytensor':
        from . import _pytensor_theano
        flags = _pytensor_theano.user_flags()
    else:
        flags = _theano_env.user_flags()
    return 'allow_gc' in flags


@contextlib.contextmanager
def intermediates_kept(enabled=True):
    """Compile ``theano.function`` calls without a ``mode`` so that the
    function keeps its intermediate arrays between calls (``allow_gc``
    False for those functions only), unless the user set ``allow_gc``.

    Reusing the arrays saves allocating (and the kernel's zeroing of) large
    buffers at every call: for the convolutional classifier of
    ``benchmarks/conv.py`` a training step takes about half as long. The
    price is that the memory of the intermediates stays in use while the
    function exists.

    Examples
    --------
    >>> from theanets.backend import theano, TT
    >>> with intermediates_kept():
    ...     fn = theano.function([], TT.constant(1) + 1)
    >>> int(fn())
    2
    """
    previous = getattr(_keeping, 'active', False)
    _keeping.active = bool(enabled) and not user_set_allow_gc()
    try:
        yield
    finally:
        _keeping.active = previous


def extend_jax(provider):
    """Give PyTensor's JAX linker implementations of more Ops (see
    :func:`theanets._pytensor_jax.extend`); nothing on Theano, which has no
    JAX linker.

    Examples
    --------
    >>> extend_jax(lambda: [])
    """
    if name() == 'pytensor':
        from . import _pytensor_jax
        _pytensor_jax.extend(provider)

def compiles_per_shape():
    """Whether the functions theanets compiles are specialised to the
    shapes of their inputs, each new shape compiling again: under
    PyTensor's JAX linker (``mode=JAX`` or ``linker=jax``).

    Examples
    --------
    >>> compiles_per_shape() in (True, False)
    True
    """
    if name() != 'pytensor':
        return False
    from . import _pytensor_theano
    return _pytensor_theano.compiles_per_shape()

def info():
    """Describe the backend theanets is running with.

    Returns
    -------
    dict
        ``backend`` (``'theano'`` or ``'pytensor'``), ``version`` (of that
        backend), ``blas`` (description of the linked BLAS, or None),
        ``ldflags``, ``floatX``, ``linker``, ``mode`` (the compile mode:
        ``'Mode'`` by default, ``'JAX'`` where PyTensor compiles through
        JAX), ``flags_set`` (the flags theanets chose) and ``scan``
        (``'python'`` or ``'c'``; asking builds Theano's C scan extension
        if Theano has not needed it yet).

    Examples
    --------
    >>> sorted(info())[:3]
    ['backend', 'blas', 'flags_set']
    """
    theano = setup()
    if _state.get('scan') is not None:
        _state['scan'].resolve()  # build the C scan now, to report on it
    if name() == 'pytensor':
        import pytensor
        return {
            'backend': 'pytensor',
            'version': pytensor.__version__,
            'blas': _state['blas'],
            'ldflags': pytensor.config.blas__ldflags,
            'floatX': pytensor.config.floatX,
            'linker': pytensor.config.linker,
            'mode': str(pytensor.config.mode),
            'flags_set': dict(_state['flags']),
            'scan': _pytensor_scan_loop(),
        }
    return {
        'backend': 'theano',
        'version': theano.__version__,
        'blas': _state['blas'],
        'ldflags': theano.config.blas.ldflags,
        'floatX': theano.config.floatX,
        'linker': theano.config.linker,
        'mode': str(theano.config.mode),
        'flags_set': dict(_state['flags']),
        'scan': ('python' if sys.modules.get(_SCAN_EXTENSION, 0) is None
                 else 'c'),
    }


_downhill_logger = _logging.child_logger('downhill')


def _log_downhill(msg):
    """Log one downhill message (colour codes removed) at DEBUG level."""
    if not _downhill_logger.isEnabledFor(logging.DEBUG):
        return
    import click
    _downhill_logger.debug(click.unstyle(str(msg)),
                           extra={'callsite': 'downhill'})


def _log_downhill_param(name, value):
    """Log an optimizer setting as ``setting: <name> = <value>``."""
    import theano
    if isinstance(value, theano.gof.Constant):  # e.g. the cast learning rate
        value = '{:g}'.format(float(value.data))
    _log_downhill('setting: {} = {}'.format(name, value))


class _EchoToLog(object):
    """Stand-in for ``click`` inside ``downhill.dataset``: ``echo`` logs."""

    def __init__(self, module):
        self._module = module

    def echo(self, message=None, *args, **kwargs):
        _log_downhill('' if message is None else message)

    def __getattr__(self, name):
        return getattr(self._module, name)


def route_downhill_logging():
    """Send downhill's console output to the ``theanets.downhill`` logger.

    downhill 0.4.0 prints its progress lines (optimizer settings,
    compilation notices, one line per epoch and validation, dataset
    summaries) straight to stdout with ``click.echo``. That output cannot be
    silenced and pollutes doctests and notebooks. This function replaces
    ``downhill.util.log`` and ``downhill.util.log_param`` (used by all of
    downhill's optimizers) and the ``click`` reference of
    ``downhill.dataset`` (whose ``Dataset`` echoes a summary) so that these
    messages become DEBUG records of the ``theanets.downhill`` logger, with
    colour codes removed. ``click`` itself is not modified.

    They show with
    ``logging.getLogger('theanets.downhill').setLevel(logging.DEBUG)`` (or
    DEBUG on the ``theanets`` logger). :func:`setup` calls this function
    once; calling it again changes nothing.

    Examples
    --------
    >>> import downhill
    >>> route_downhill_logging()
    >>> downhill.util.log('this line goes to the theanets.downhill logger')
    """
    import downhill.dataset
    import downhill.util
    downhill.util.log = _log_downhill
    downhill.util.log_param = _log_downhill_param
    if not isinstance(downhill.dataset.click, _EchoToLog):
        downhill.dataset.click = _EchoToLog(downhill.dataset.click)


def __getattr__(name):
    """Give other modules the configured Theano (and downhill) modules."""
    if name not in _EXPORTS:
        raise AttributeError(
            'module {!r} has no attribute {!r}'.format(__name__, name))
    try:
        setup()
    except AttributeError as err:
        # Python would report it as "cannot import name", hiding the cause.
        raise ImportError(
            'theanets could not set up its backend: {}: {}'.format(
                type(err).__name__, err)) from err
    module, _, attribute = _EXPORTS[name].partition(':')
    value = importlib.import_module(module)
    return getattr(value, attribute) if attribute else value
