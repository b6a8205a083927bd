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
* Theano's C implementation of ``scan`` does not compile against the Python
  3.11 headers and fails with a plain ``Exception``; marking the extension
  as unavailable makes Theano use its pure-Python scan loop;
* downhill 0.4.0 uses ``collections.Callable``, removed in Python 3.10.

Every flag the user set (``THEANO_FLAGS`` or a ``.theanorc`` file) wins over
the defaults chosen here. :func:`setup` is idempotent; :func:`info` tells what
it did.
"""

import collections
import collections.abc
import configparser
import ctypes
import ctypes.util
import logging
import os
import shlex
import sys

__all__ = ['setup', 'info']

_logger = logging.getLogger('theanets')

#: BLAS routines that Theano's C code may call, by their Fortran names.
_BLAS_ROUTINES = (
    'gemm', 'gemv', 'ger', 'gerc', 'geru', 'dot', 'scal', 'axpy', 'copy',
    'swap', 'rot', 'symm', 'symv', 'syrk', 'trmm', 'trmv', 'trsm')

_SCAN_EXTENSION = 'theano.scan_module.scan_perform_ext'

_state = {}


def _user_flags():
    """Return the set of Theano flag names the user has set.

    Names are returned lowercased in Theano's dotted form (``'floatx'``,
    ``'blas.ldflags'``), since config files lowercase their option names;
    flags from ``THEANO_FLAGS`` and from every file that ``THEANORC``
    (default ``~/.theanorc``) names are included.
    """
    names = set()
    splitter = shlex.shlex(os.environ.get('THEANO_FLAGS', ''), posix=True)
    splitter.whitespace = ','
    splitter.whitespace_split = True
    for pair in splitter:
        key, sep, _ = pair.strip().partition('=')
        if sep:
            key = key.strip().lower()
            names.add(key[len('global.'):] if key.startswith('global.') else key)
    files = [os.path.expanduser(p) for p in
             os.environ.get('THEANORC', '~/.theanorc').split(os.pathsep)]
    parser = configparser.RawConfigParser()
    try:
        parser.read(files)
    except configparser.Error as err:
        _logger.warning('could not read Theano config %s: %s', files, err)
    for section in parser.sections():
        for option in parser.options(section):
            names.add(option if section == 'global' else
                      '{}.{}'.format(section, option))
    return names


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
    """Make Theano's scan use its Python loop instead of the C extension."""
    if _SCAN_EXTENSION not in sys.modules:
        sys.modules[_SCAN_EXTENSION] = None


def _patch_collections():
    """Restore the ``collections.Callable`` alias that downhill 0.4.0 uses."""
    if not hasattr(collections, 'Callable'):
        collections.Callable = collections.abc.Callable


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
    _disable_c_scan()
    chosen = {}
    blas = 'unchanged'
    if 'theano' in sys.modules:
        blas = 'set before theanets was imported'
    else:
        user = _user_flags()
        if 'floatx' not in user:
            chosen['floatX'] = 'float32'
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
            import theano
        finally:
            if original is None:
                del os.environ['THEANO_FLAGS']
            else:
                os.environ['THEANO_FLAGS'] = original
    import theano
    if blas is None or not theano.config.blas.ldflags:
        _logger.warning(
            'no BLAS library linked; Theano uses its slower NumPy C-API GEMM. '
            'Install scipy-openblas32 (pip install scipy-openblas32) or a '
            'system OpenBLAS for about 2.7x faster training')
    else:
        _logger.info('Theano BLAS: %s', blas)
    _state.update(theano=theano, blas=blas, flags=chosen)
    return theano


def info():
    """Describe the Theano configuration theanets is running with.

    Returns
    -------
    dict
        ``blas`` (description of the linked BLAS, or None), ``ldflags``,
        ``floatX``, ``flags_set`` (the flags theanets chose) and ``scan``
        (``'python'`` or ``'c'``).
    """
    theano = setup()
    return {
        'blas': _state['blas'],
        'ldflags': theano.config.blas.ldflags,
        'floatX': theano.config.floatX,
        'flags_set': dict(_state['flags']),
        'scan': 'python' if sys.modules.get(_SCAN_EXTENSION, 0) is None else 'c',
    }
