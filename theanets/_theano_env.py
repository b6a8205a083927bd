"""What must happen before Theano's first import, whoever imports it first.

Theano reads its flags once, when ``theano`` is first imported, and the
import fails under numpy 1.23 unless ``blas.ldflags`` is set. This module
does the part of :func:`theanets.backend.setup` that must come before that
import: it patches the standard library and ``sys.modules`` the way Theano
and downhill need (see the :mod:`theanets.backend` docstring) and chooses
the flags theanets wants (``floatX=float32`` and a BLAS) without
overriding any flag the user set in ``THEANO_FLAGS`` or a ``.theanorc``.

Two callers use it:

* :func:`theanets.backend.setup`, when theanets is imported before Theano;
* the import hook that an installed theanets registers at interpreter start
  (:mod:`theanets._import_hook`, run from a ``.pth`` file), when ``theano``
  is imported before theanets (``import theano`` or ``import downhill``
  first). The hook loads this file by its path, without importing the
  ``theanets`` package, and wraps Theano's loader so that the chosen flags
  are in the environment only while ``theano`` is being imported.

Whichever runs first records what it did in :func:`state`; the other then
leaves Theano alone. This module imports only the standard library (and,
to link it, the tiny ``scipy_openblas32`` package).
"""

import collections
import collections.abc
import configparser
import contextlib
import ctypes
import ctypes.util
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import re
import shlex
import shutil
import sys
import types
import warnings

#: Environment variable that switches the import hook off (``off``, ``0``,
#: ``no`` or ``false``): ``import theano`` before theanets then gets Theano's
#: own defaults, and theanets warns when it is imported.
HOOK_ENV = 'THEANETS_THEANO_HOOK'

#: Environment variable that chooses the backend (see
#: :func:`theanets.backend.name`): ``theano`` or ``pytensor``.
BACKEND_ENV = 'THEANETS_BACKEND'

#: BLAS routines that Theano's C code may call, by their Fortran names.
BLAS_ROUTINES = (
    'gemm', 'gemv', 'ger', 'gerc', 'geru', 'dot', 'scal', 'axpy', 'copy',
    'swap', 'rot', 'symm', 'symv', 'syrk', 'trmm', 'trmv', 'trsm')

SCAN_EXTENSION = 'theano.scan_module.scan_perform_ext'

_logger = logging.getLogger('theanets')

_state = {}


def state():
    """Return what the preparation did, or an empty dict if it has not run.

    Keys: ``by`` (``'theanets'`` or ``'hook'``), ``blas`` (a description of
    the linked BLAS, ``'chosen by the user'``, or None), ``flags`` (the
    Theano flags chosen, a dict) and ``scan_disabled`` (whether the C scan
    extension was marked unavailable before Theano's import).
    """
    return dict(_state)


def hook_switched_off():
    """Whether ``THEANETS_THEANO_HOOK`` switches the import hook off."""
    value = os.environ.get(HOOK_ENV, '').strip().lower()
    return value in ('off', '0', 'no', 'false')


def user_flags(theano_flags=None):
    """Return the Theano flags the user has set, as a dict name -> value.

    Names are returned lowercased in Theano's dotted form (``'floatx'``,
    ``'blas.ldflags'``), since config files lowercase their option names;
    flags from ``THEANO_FLAGS`` (or from ``theano_flags``, a string in its
    form, when given) and from every file that ``THEANORC`` (default
    ``~/.theanorc``) names are included. ``THEANO_FLAGS`` wins over the
    files, as in Theano.
    """
    if theano_flags is None:
        theano_flags = os.environ.get('THEANO_FLAGS', '')
    return parse_flags(os.environ.get('THEANORC', '~/.theanorc'),
                       theano_flags, 'Theano')


def parse_flags(config_paths, flags, backend):
    """Read a backend's flags from its config files and its flag string.

    ``config_paths`` is a ``os.pathsep``-separated list of config files
    (``THEANORC`` or ``PYTENSORRC``), ``flags`` a comma-separated string of
    ``name=value`` pairs (``THEANO_FLAGS`` or ``PYTENSOR_FLAGS``), which win
    over the files. Returns a dict of lowercased names (``section.option``
    for options outside ``[global]``) to values. ``backend`` names the
    backend in the warning about an unreadable file.
    """
    names = {}
    files = [os.path.expanduser(p) for p in config_paths.split(os.pathsep)]
    parser = configparser.RawConfigParser()
    try:
        parser.read(files)
    except configparser.Error as err:
        _logger.warning('could not read %s config %s: %s', backend, files, err)
    for section in parser.sections():
        for option in parser.options(section):
            name = (option if section == 'global' else
                    '{}.{}'.format(section, option))
            names[name] = parser.get(section, option)
    splitter = shlex.shlex(flags, posix=True)
    splitter.whitespace = ','
    splitter.whitespace_split = True
    for pair in splitter:
        key, sep, value = pair.strip().partition('=')
        if sep:
            key = key.strip().lower()
            key = key[len('global.'):] if key.startswith('global.') else key
            names[key] = value.strip()
    return names


def compiler_expected(user):
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
#: (``theanets.backend.NO_COMPILER_WARNING``), which says what to install.
_THEANO_NO_COMPILER_WARNING = 'DeprecationWarning: there is no c++ compiler'
_THEANO_NO_COMPILER_LOG = 'g++ not detected'


class _DropRecords(logging.Filter):
    """Drops the records whose message starts with ``prefix``."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = prefix

    def filter(self, record):
        return not str(record.msg).startswith(self.prefix)


@contextlib.contextmanager
def quiet_theano_import():
    """While Theano is imported: drop its notices of a missing compiler, and
    put the root logger's level back afterwards (numpy's distutils, which
    Theano imports, sets it to WARNING as a side effect)."""
    root_level = logging.root.level
    config_logger = logging.getLogger('theano.configdefaults')
    drop = _DropRecords(_THEANO_NO_COMPILER_LOG)
    config_logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                'ignore', message=re.escape(_THEANO_NO_COMPILER_WARNING))
            yield
    finally:
        config_logger.removeFilter(drop)
        if logging.root.level != root_level:
            logging.root.setLevel(root_level)


#: SciPy modules that Theano imports at its own import but uses only inside
#: the Python implementations of a few ops, with the functions it takes from
#: them: ``theano.scalar.basic_scipy`` imports ``scipy.stats`` (never used)
#: and ``scipy.special`` (the error and gamma functions' ``perform``), and
#: ``theano.tensor.nnet`` takes four functions of ``scipy.signal`` for its
#: Python convolution. Importing them is about a third of Theano's import
#: time, so while Theano is imported they are stand-ins
#: (:func:`deferred_scipy_imports`).
DEFERRED_SCIPY_MODULES = {
    'scipy.stats': (),
    'scipy.special': (),
    'scipy.signal.signaltools': ('_valfrommode', '_bvalfromboundary',
                                 'convolve'),
    'scipy.signal.sigtools': ('_convolve2d', ),
}


class _DeferredModule(types.ModuleType):
    """Stands in for a module while Theano is imported.

    Any use of an attribute it does not have imports the real module (in
    place of the stand-in) and answers from it, so a thread that imports the
    module meanwhile still gets the real thing. Special names are not
    forwarded: the import system asks for ``__path__`` and others to learn
    what a module is.
    """

    def __getattr__(self, attribute):
        if attribute.startswith('__') and attribute.endswith('__'):
            raise AttributeError(attribute)
        return getattr(real_module(self.__name__), attribute)


def real_module(name):
    """Import ``name``, replacing its stand-in in ``sys.modules`` if any."""
    if isinstance(sys.modules.get(name), _DeferredModule):
        del sys.modules[name]
    return importlib.import_module(name)


def _deferred_function(module, name):
    """A function that imports ``module`` and calls its ``name`` when called."""
    resolved = []

    def call(*args, **kwargs):
        if not resolved:
            resolved.append(getattr(real_module(module), name))
        return resolved[0](*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = '{}.{}, imported at its first call.'.format(module, name)
    return call


def _module_exists(name):
    """Whether ``name`` can be imported, found without importing its parent
    package (only the top-level package is imported, if it is not yet)."""
    parts = name.split('.')
    try:
        spec = importlib.util.find_spec(parts[0])
        for depth in range(2, len(parts) + 1):
            if spec is None or spec.submodule_search_locations is None:
                return False
            spec = importlib.machinery.PathFinder.find_spec(
                '.'.join(parts[:depth]), list(spec.submodule_search_locations))
    except (ImportError, ValueError):
        return False
    return spec is not None


@contextlib.contextmanager
def deferred_scipy_imports():
    """While Theano is imported, the modules of :data:`DEFERRED_SCIPY_MODULES`
    that are not imported yet are stand-ins in ``sys.modules`` (``None``,
    which fails an import at once, for those this SciPy does not have).

    Theano's modules bind the ``scipy`` package and the stand-ins' functions
    (which import the real module at their first call); afterwards the
    stand-ins leave ``sys.modules``, so the next ``import scipy.stats`` (or
    ``scipy.special`` through the ``scipy`` package, as Theano's ops use it)
    imports the real module.
    """
    placed = []
    for name, functions in DEFERRED_SCIPY_MODULES.items():
        if name in sys.modules:
            continue
        if _module_exists(name):
            stand_in = _DeferredModule(name, 'theanets stand-in for {} while '
                                       'Theano is imported'.format(name))
            for function in functions:
                setattr(stand_in, function, _deferred_function(name, function))
        else:
            # Its import fails as it would, without importing its package
            # (SciPy 1.11 has no scipy.signal.sigtools, so Theano's Python
            # convolution is off either way).
            stand_in = None
        sys.modules[name] = stand_in
        placed.append((name, stand_in))
    try:
        yield
    finally:
        for name, stand_in in placed:
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


@contextlib.contextmanager
def importing_theano(flags):
    """What surrounds Theano's import: theanets' ``flags`` before the user's
    in ``THEANO_FLAGS``, its notices quietened, SciPy's modules deferred."""
    with flags_in_environment(flags), quiet_theano_import(), \
            deferred_scipy_imports():
        yield


def find_blas():
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
        for r in BLAS_ROUTINES for p in 'sdcz')
    return 'OpenBLAS from scipy-openblas32 ({})'.format(path), {
        'blas.ldflags': '-L{} -l{}'.format(libdir, name),
        'gcc.cxxflags': defines,
    }


def choose_flags(user):
    """Choose the Theano flags theanets wants, leaving the user's alone.

    Parameters
    ----------
    user : dict
        The flags the user set, as :func:`user_flags` returns them.

    Returns
    -------
    (blas, flags) : (str or None, dict)
        A description of the BLAS that will be linked (``'chosen by the
        user'`` when the user set ``blas.ldflags``, None when there is
        none) and the flags to add.
    """
    chosen = {}
    if 'floatx' not in user:
        chosen['floatX'] = 'float32'
    if (not compiler_expected(user) and
            'tensor.local_elemwise_fusion' not in user):
        # Theano's Python implementation of a fused elementwise Op
        # evaluates one scalar at a time: without C code, unfused Ops
        # (whole-array numpy calls) train an MLP about 15x faster.
        chosen['tensor.local_elemwise_fusion'] = 'False'
    if 'blas.ldflags' in user:
        return 'chosen by the user', chosen
    blas, flags = find_blas()
    if not flags:
        blas = None
        flags = {'blas.ldflags': ''}
    if 'gcc.cxxflags' in user and 'gcc.cxxflags' in flags:
        # The user's compiler flags win, so the prefixed library cannot be
        # used: fall back to Theano's own GEMM.
        blas = None
        flags = {'blas.ldflags': ''}
    chosen.update(flags)
    return blas, chosen


def disable_c_scan():
    """Make Theano's scan use its Python loop instead of the C extension.

    Returns True if this call marked the extension unavailable.
    """
    if SCAN_EXTENSION not in sys.modules:
        sys.modules[SCAN_EXTENSION] = None
        return True
    return False


def patch_collections():
    """Restore the ``collections.Callable`` alias that downhill 0.4.0 uses."""
    if not hasattr(collections, 'Callable'):
        collections.Callable = collections.abc.Callable


def patch_pkg_resources():
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


def prepare(by='theanets'):
    """Patch what Theano's import needs and choose its flags, once.

    Returns the :func:`state` record; a second call returns the first one's.
    """
    if not _state:
        patch_collections()
        patch_pkg_resources()
        scan_disabled = disable_c_scan()
        blas, flags = choose_flags(user_flags())
        _state.update(by=by, blas=blas, flags=flags,
                      scan_disabled=scan_disabled)
    return state()


@contextlib.contextmanager
def flags_in_environment(flags, variable='THEANO_FLAGS'):
    """Put ``flags`` before the user's flags in ``variable`` for a while.

    Theano and PyTensor (``variable='PYTENSOR_FLAGS'``) give later entries
    precedence, so the user's flags still win. The variable is restored
    (or removed) afterwards.
    """
    original = os.environ.get(variable)
    extra = ','.join('{}={}'.format(k, v) for k, v in flags.items())
    os.environ[variable] = (
        extra if not original else '{},{}'.format(extra, original))
    try:
        yield
    finally:
        if original is None:
            del os.environ[variable]
        else:
            os.environ[variable] = original


def import_theano():
    """Prepare (if nothing did yet) and import Theano; return the module."""
    flags = prepare()['flags']
    with importing_theano(flags):
        import theano
    return theano


class _FlagsLoader(importlib.abc.Loader):
    """Runs Theano's own loader with theanets' flags in the environment."""

    def __init__(self, loader, flags):
        self.loader = loader
        self.flags = flags

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Theano's modules see their own loader, as after a plain import.
        module.__loader__ = self.loader
        if getattr(module, '__spec__', None) is not None:
            module.__spec__.loader = self.loader
        with importing_theano(self.flags):
            self.loader.exec_module(module)


#: The oldest PyTensor release that theanets' facade supports. PyTensor 3.3
#: needs Python 3.12+ and numpy 2, so on Python 3.11 (numpy 1.23, beside
#: Theano) there is none: the releases that import with numpy 1.23 (2.27
#: and older) have another module layout, and 2.28 to 2.34, which pip
#: installs beside numpy 1.23, import ``numpy.exceptions`` (numpy 1.25+).
PYTENSOR_MINIMUM = (3, 3)


def pytensor_problem():
    """Why the PyTensor backend cannot run here, or None if it can.

    Judged without importing PyTensor: from its installed version, or, for
    a PyTensor on ``sys.path`` that pip did not install, from its presence.
    """
    import importlib.metadata
    wanted = 'PyTensor {}.{} or newer'.format(*PYTENSOR_MINIMUM)
    if sys.version_info < (3, 12):
        where = (' (it needs Python 3.12 and numpy 2; on Python {}.{} '
                 'theanets runs on Theano: unset {})'.format(
                     sys.version_info[0], sys.version_info[1], BACKEND_ENV))
    else:
        where = ': pip install "pytensor>={}.{}"'.format(*PYTENSOR_MINIMUM)
    try:
        version = importlib.metadata.version('pytensor')
    except importlib.metadata.PackageNotFoundError:
        try:
            if importlib.util.find_spec('pytensor') is not None:
                return None
        except (ImportError, ValueError):
            pass
        return 'the PyTensor backend needs {}, which is not installed{}'.format(
            wanted, where)
    release = tuple(int(part) for part in re.findall(r'\d+', version)[:2])
    if release < PYTENSOR_MINIMUM:
        return 'the PyTensor backend needs {}, found PyTensor {}{}'.format(
            wanted, version, where)
    return None


def pytensor_chosen():
    """Whether this process is to run on PyTensor, judged before any import.

    As :func:`theanets.backend.name` chooses: ``THEANETS_BACKEND=pytensor``,
    or no choice on Python 3.12 and newer, where Theano 1.0.5 cannot run.
    """
    chosen = os.environ.get(BACKEND_ENV, '').strip().lower()
    return chosen == 'pytensor' or (not chosen and sys.version_info >= (3, 12))


def install_pytensor_facade():
    """Make ``theano`` theanets' facade over PyTensor; return the facade.

    For a ``theano`` imported before theanets on the PyTensor backend (by
    the import hook, or by the stand-in ``theano`` package that theanets
    installs on Python 3.12+). Often that import comes from ``import
    downhill``, and theanets' package cannot be imported while downhill is
    half imported (theanets subclasses downhill's classes). So only the
    facade is installed here, from :mod:`theanets._pytensor_theano`, which
    is loaded without running the package's ``__init__`` (a bare module
    object stands for the package meanwhile). The rest of the setup
    (:func:`theanets.backend.setup`) happens when theanets is imported.
    Where theanets is already imported, its setup runs now.
    """
    if 'theanets' in sys.modules:
        return importlib.import_module('theanets.backend').setup()
    problem = pytensor_problem()
    if problem:
        raise ImportError(problem)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.modules.setdefault('theanets._theano_env', sys.modules[__name__])
    package = importlib.util.module_from_spec(importlib.util.spec_from_file_location(
        'theanets', os.path.join(here, '__init__.py'),
        submodule_search_locations=[here]))
    sys.modules['theanets'] = package
    try:
        return importlib.import_module('theanets._pytensor_theano').install()
    finally:
        if sys.modules.get('theanets') is package:
            del sys.modules['theanets']


class _PyTensorFacadeLoader(importlib.abc.Loader):
    """Loads ``theano`` as theanets' facade over PyTensor.

    The module it makes is marked as a stand-in (as the ``theano`` package
    that theanets installs on Python 3.12+ marks itself), which
    :func:`install_pytensor_facade` then replaces in ``sys.modules`` with
    the facade: that is what the import returns.
    """

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module._theanets_shim = True
        install_pytensor_facade()


def hook_find_spec(hook):
    """Return the module spec of ``theano`` set up to import with our flags.

    Called by the import hook when ``theano`` is about to be imported;
    returns None (and changes nothing) when theanets already prepared
    Theano's import itself, when ``THEANETS_THEANO_HOOK`` switches the hook
    off, or, for Theano, when no other finder knows ``theano``. When the
    process is to run on PyTensor (:func:`pytensor_chosen`), Theano is
    left alone and the spec loads theanets' PyTensor facade instead, even
    where a real Theano is installed (``THEANETS_BACKEND=pytensor`` on
    Python 3.11).
    ``hook`` is the calling finder; it is skipped, and removed from
    ``sys.meta_path`` once the spec is found.
    """
    if _state or 'theano' in sys.modules or hook_switched_off():
        return None
    if pytensor_chosen():
        if hook in sys.meta_path:
            sys.meta_path.remove(hook)
        return importlib.util.spec_from_loader(
            'theano', _PyTensorFacadeLoader())
    spec = None
    for finder in list(sys.meta_path):
        find_spec = getattr(finder, 'find_spec', None)
        if finder is hook or find_spec is None:
            continue
        spec = find_spec('theano', None)
        if spec is not None:
            break
    if spec is None or spec.loader is None:
        return None
    flags = prepare(by='hook')['flags']
    spec.loader = _FlagsLoader(spec.loader, flags)
    if hook in sys.meta_path:
        sys.meta_path.remove(hook)
    return spec
