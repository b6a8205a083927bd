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
* downhill 0.4.0 prints its progress straight to stdout with ``click``; its
  messages are routed into the ``theanets.downhill`` logger instead (see
  :func:`route_downhill_logging`);
* Theano's graph optimizer is not thread-safe (two threads compiling at once
  fail with ``CachedConstantError`` or ``AssertionError``), so
  ``theano.function`` is wrapped to compile under one process-wide lock,
  :data:`COMPILE_LOCK`, which theanets also holds while it builds graphs.
  Downhill's compiles go through the same wrapper.

This module is the only one that patches Theano, downhill or the standard
library, and the only one that imports Theano directly: the rest of
theanets imports the configured modules from here::

    from .backend import theano, TT   # theano and theano.tensor
    from .backend import SS           # theano.sparse

Asking for one of these names runs :func:`setup` first.

Every flag the user set (``THEANO_FLAGS`` or a ``.theanorc`` file) wins over
the defaults chosen here. :func:`setup` is idempotent; :func:`info` tells what
it did.
"""

import collections
import collections.abc
import configparser
import ctypes
import ctypes.util
import hashlib
import importlib
import importlib.abc
import importlib.util
import logging
import os
import re
import shlex
import shutil
import functools
import sys
import threading
import types
import warnings

from . import _logging

__all__ = ['setup', 'info', 'route_downhill_logging', 'COMPILE_LOCK']

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
}

#: BLAS routines that Theano's C code may call, by their Fortran names.
_BLAS_ROUTINES = (
    'gemm', 'gemv', 'ger', 'gerc', 'geru', 'dot', 'scal', 'axpy', 'copy',
    'swap', 'rot', 'symm', 'symv', 'syrk', 'trmm', 'trmv', 'trsm')

_SCAN_EXTENSION = 'theano.scan_module.scan_perform_ext'

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


def _user_flags():
    """Return the Theano flags the user has set, as a dict name -> value.

    Names are returned lowercased in Theano's dotted form (``'floatx'``,
    ``'blas.ldflags'``), since config files lowercase their option names;
    flags from ``THEANO_FLAGS`` and from every file that ``THEANORC``
    (default ``~/.theanorc``) names are included. ``THEANO_FLAGS`` wins over
    the files, as in Theano.
    """
    names = {}
    files = [os.path.expanduser(p) for p in
             os.environ.get('THEANORC', '~/.theanorc').split(os.pathsep)]
    parser = configparser.RawConfigParser()
    try:
        parser.read(files)
    except configparser.Error as err:
        _logger.warning('could not read Theano config %s: %s', files, err)
    for section in parser.sections():
        for option in parser.options(section):
            name = (option if section == 'global' else
                    '{}.{}'.format(section, option))
            names[name] = parser.get(section, option)
    splitter = shlex.shlex(os.environ.get('THEANO_FLAGS', ''), posix=True)
    splitter.whitespace = ','
    splitter.whitespace_split = True
    for pair in splitter:
        key, sep, value = pair.strip().partition('=')
        if sep:
            key = key.strip().lower()
            key = key[len('global.'):] if key.startswith('global.') else key
            names[key] = value.strip()
    return names


def _compiler_expected(user):
    """Whether Theano will find a C++ compiler, judged before its import.

    Theano uses the ``cxx`` flag when the user set it, else ``g++`` (or
    ``clang++`` on macOS and FreeBSD) if that program runs.
    """
    if 'cxx' in user:
        return bool(user['cxx'])
    names = ['g++']
    if sys.platform == 'darwin' or sys.platform.startswith('freebsd'):
        names.append('clang++')
    return any(shutil.which(name) for name in names)


#: Theano's own notices of a missing compiler, replaced by theanets' warning
#: (:data:`NO_COMPILER_WARNING`), which says what to install.
_THEANO_NO_COMPILER_WARNING = 'DeprecationWarning: there is no c++ compiler'
_THEANO_NO_COMPILER_LOG = 'g++ not detected'

#: Logged once per process when Theano has no C++ compiler. The slowdown is
#: measured by ``benchmarks/no_compiler.py`` (an MLP and a small LSTM, time
#: per epoch; see ``benchmarks/README.md``).
NO_COMPILER_WARNING = (
    'no C++ compiler: Theano\'s cxx flag is empty (no g++ found, or set so), '
    'so Theano runs its Python implementations and training is roughly '
    '30-100x slower. '
    'Install g++ (Debian/Ubuntu: apt install g++; Fedora/RHEL: dnf install '
    'gcc-c++; conda: conda install gxx_linux-64; macOS: xcode-select '
    '--install) and restart Python')


class _DropRecords(logging.Filter):
    """Drops the records whose message starts with ``prefix``."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = prefix

    def filter(self, record):
        return not str(record.msg).startswith(self.prefix)


def _import_theano():
    """``import theano``, without its notices of a missing compiler.

    theanets logs its own warning about that (see :func:`setup`). numpy's
    distutils, which Theano imports, sets the root logger's level to
    WARNING as a side effect; the application's level is put back.
    """
    root_level = logging.root.level
    config_logger = logging.getLogger('theano.configdefaults')
    drop = _DropRecords(_THEANO_NO_COMPILER_LOG)
    config_logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                'ignore', message=re.escape(_THEANO_NO_COMPILER_WARNING))
            import theano
    finally:
        config_logger.removeFilter(drop)
        if logging.root.level != root_level:
            logging.root.setLevel(root_level)
    return theano


def _find_blas():
    """Pick a BLAS to link.

    Returns
    -------
    (description, flags) : (str, dict)
        A human-readable description of the library and the Theano flags
        that link it; ``flags`` is empty when no BLAS could be found.
    """
    system = ctypes.util.find_library('openblas')
    if system:
        return 'system OpenBLAS ({})'.format(system), {
            'blas.ldflags': '-lopenblas'}
    try:
        import scipy_openblas32
    except ImportError:
        return None, {}
    libdir = scipy_openblas32.get_lib_dir()
    name = scipy_openblas32.get_library()
    path = os.path.join(libdir, 'lib{}.so'.format(name))
    if not os.path.exists(path):
        return None, {}
    # Load it into the global symbol namespace, so the modules Theano compiles
    # find its symbols without an rpath (THEANO_FLAGS cannot hold the commas
    # of a -Wl,-rpath option unquoted).
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    defines = ' '.join(
        '-D{p}{r}_=scipy_{p}{r}_'.format(p=p, r=r)
        for r in _BLAS_ROUTINES for p in 'sdcz')
    return 'OpenBLAS from scipy-openblas32 ({})'.format(path), {
        'blas.ldflags': '-L{} -l{}'.format(libdir, name),
        'gcc.cxxflags': defines,
    }


def _disable_c_scan():
    """Make Theano's scan use its Python loop instead of the C extension.

    Returns True if this call marked the extension unavailable.
    """
    if _SCAN_EXTENSION not in sys.modules:
        sys.modules[_SCAN_EXTENSION] = None
        return True
    return False


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


def _patch_collections():
    """Restore the ``collections.Callable`` alias that downhill 0.4.0 uses."""
    if not hasattr(collections, 'Callable'):
        collections.Callable = collections.abc.Callable


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


def _patch_pkg_resources():
    """Provide ``pkg_resources`` where setuptools no longer ships it.

    Theano imports ``pkg_resources`` (removed from setuptools 81) while it
    builds ``scan`` graphs, only to name ``DistributionNotFound`` in an
    ``except`` clause; a tiny stand-in module with that exception is enough.
    """
    try:
        available = importlib.util.find_spec('pkg_resources') is not None
    except (ImportError, ValueError):
        available = False
    if not available and sys.modules.get('pkg_resources') is None:
        stand_in = types.ModuleType('pkg_resources')
        stand_in.__doc__ = 'theanets stand-in: setuptools has no pkg_resources'
        stand_in.DistributionNotFound = type(
            'DistributionNotFound', (Exception, ), {})
        sys.modules['pkg_resources'] = stand_in


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

    Safe to call any number of times. If Theano was imported before theanets,
    its flags can no longer be changed; a warning then says so when no BLAS
    is linked.
    """
    if 'theano' in _state:
        return _state['theano']
    _check_numpy()
    _patch_collections()
    _patch_pkg_resources()
    scan_disabled = _disable_c_scan()
    chosen = {}
    blas = 'unchanged'
    if 'theano' in sys.modules:
        blas = 'set before theanets was imported'
    else:
        user = _user_flags()
        if 'floatx' not in user:
            chosen['floatX'] = 'float32'
        if (not _compiler_expected(user) and
                'tensor.local_elemwise_fusion' not in user):
            # Theano's Python implementation of a fused elementwise Op
            # evaluates one scalar at a time: without C code, unfused Ops
            # (whole-array numpy calls) train an MLP about 15x faster.
            chosen['tensor.local_elemwise_fusion'] = 'False'
        if 'blas.ldflags' in user:
            blas = 'chosen by the user'
        else:
            blas, flags = _find_blas()
            if not flags:
                blas = None
                flags = {'blas.ldflags': ''}
            chosen.update(flags)
            if 'gcc.cxxflags' in user and 'gcc.cxxflags' in flags:
                # The user's compiler flags win, so the prefixed library
                # cannot be used: fall back to Theano's own GEMM.
                blas = None
                chosen['blas.ldflags'] = ''
                del chosen['gcc.cxxflags']
        original = os.environ.get('THEANO_FLAGS')
        extra = ','.join('{}={}'.format(k, v) for k, v in chosen.items())
        os.environ['THEANO_FLAGS'] = (
            extra if not original else '{},{}'.format(extra, original))
        try:
            theano = _import_theano()
        finally:
            if original is None:
                del os.environ['THEANO_FLAGS']
            else:
                os.environ['THEANO_FLAGS'] = original
    import theano
    if scan_disabled:
        if os.environ.get(SCAN_ENV, '').strip().lower() == 'python':
            _state['scan'] = None
        else:
            del sys.modules[_SCAN_EXTENSION]
            _state['scan'] = _LazyCScan(theano)
            sys.meta_path.insert(0, _state['scan'])
    if not theano.config.cxx:
        # Without C code Theano's dot products are numpy's: no BLAS to link.
        _logger.warning(NO_COMPILER_WARNING)
    elif blas is None or not theano.config.blas.ldflags:
        _logger.warning(
            'no BLAS library linked; Theano uses its slower NumPy C-API GEMM. '
            'Install scipy-openblas32 (pip install scipy-openblas32) or a '
            'system OpenBLAS for about 2.7x faster training')
    else:
        _logging.debug('Theano BLAS: {}', blas)
    _fix_module_cache_keys(theano)
    _serialize_compiles(theano)
    route_downhill_logging()
    _state.update(theano=theano, blas=blas, flags=chosen)
    return theano


def _serialize_compiles(theano):
    """Make ``theano.function`` compile under :data:`COMPILE_LOCK`."""
    original = theano.function
    if getattr(original, '_theanets_serialized', False):
        return

    @functools.wraps(original)
    def function(*args, **kwargs):
        with COMPILE_LOCK:
            return original(*args, **kwargs)

    function._theanets_serialized = True
    theano.function = function


def info():
    """Describe the Theano configuration theanets is running with.

    Returns
    -------
    dict
        ``blas`` (description of the linked BLAS, or None), ``ldflags``,
        ``floatX``, ``flags_set`` (the flags theanets chose) and ``scan``
        (``'python'`` or ``'c'``; asking builds the C scan extension if
        Theano has not needed it yet).
    """
    theano = setup()
    if _state.get('scan') is not None:
        _state['scan'].resolve()  # build the C scan now, to report on it
    return {
        'blas': _state['blas'],
        'ldflags': theano.config.blas.ldflags,
        'floatX': theano.config.floatX,
        'flags_set': dict(_state['flags']),
        'scan': 'python' if sys.modules.get(_SCAN_EXTENSION, 0) is None else 'c',
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
    setup()
    module, _, attribute = _EXPORTS[name].partition(':')
    value = importlib.import_module(module)
    return getattr(value, attribute) if attribute else value
