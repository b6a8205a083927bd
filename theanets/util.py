"""Utility functions and classes shared across theanets.

This module holds the library's error types, the metaclass that gives
layers, losses, regularizers and activations their by-name registries, the
random initialisers for parameter values, glob helpers for outputs and
parameters, and logging.
"""

import fnmatch
import inspect
import logging
import os

import numpy as np

from . import backend

_logger = logging.getLogger('theanets')
_detailed_callsite = False


class _Formatter(logging.Formatter):
    """Format records as ``YYYYMMDD HHMMSS theanets message``."""

    def __init__(self):
        super().__init__('%(asctime)s %(callsite)s %(message)s',
                         datefmt='%Y%m%d %H%M%S')

    def format(self, record):
        if not hasattr(record, 'callsite'):
            record.callsite = 'theanets'
        return super().format(record)


def _default_handler():
    """Give the ``theanets`` logger a stderr handler at INFO level.

    Applications that configure logging themselves can remove it with
    ``logging.getLogger('theanets').handlers.clear()``, or silence the library
    with ``logging.getLogger('theanets').setLevel(logging.WARNING)``.
    """
    if not any(getattr(h, '_theanets_default', False) for h in _logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(_Formatter())
        handler._theanets_default = True
        _logger.addHandler(handler)
        _logger.setLevel(logging.INFO)
        _logger.propagate = False


_default_handler()

# Configured after the handler exists, so the BLAS line reaches the user.
theano = backend.setup()
import theano.tensor as TT  # noqa: E402  (Theano must be configured first)

#: Python-2 era alias kept for code that tests ``isinstance(x, basestring)``.
basestring = str

#: The float dtype of every parameter and float variable (Theano's floatX).
FLOAT = theano.config.floatX

#: Float symbolic-variable constructors, indexed by number of dimensions.
FLOAT_CONTAINERS = (TT.scalar, TT.vector, TT.matrix, TT.tensor3, TT.tensor4)

#: Int32 symbolic-variable constructors, indexed by number of dimensions.
INT_CONTAINERS = (TT.iscalar, TT.ivector, TT.imatrix, TT.itensor3, TT.itensor4)


class Error(Exception):
    """Base class of the errors theanets raises."""


class ConfigurationError(Error):
    """A model, layer, loss or regularizer was configured incorrectly."""


class DataError(Error, ValueError):
    """An array given to a model does not fit the variable that receives it.

    Raised before any Theano function sees the data; the message names the
    argument and gives the expected and the actual shape, dtype or values.
    It is a :class:`ValueError`.
    """


class TrainingError(Error, ValueError):
    """Training cannot go on, e.g. because the loss became NaN or infinite.

    The model's parameters are left at their values after the last epoch
    whose monitors were all finite. It is a :class:`ValueError`.
    """


class ModelFileError(Error, ValueError):
    """A model file cannot be read or written.

    Raised by :meth:`theanets.Network.load` for a missing, truncated or
    corrupt file and for a file that holds no theanets model, and by
    :meth:`theanets.Network.save` for a model the safe ``.npz`` format cannot
    describe. It is a :class:`ValueError`.
    """


class MissingModelFileError(ModelFileError, FileNotFoundError):
    """The model file to load does not exist (also a FileNotFoundError)."""


class UnknownNameError(KeyError, ConfigurationError):
    """A registry lookup used a name that is not registered.

    It is a :class:`KeyError` (as the original library raised) and a
    :class:`ConfigurationError` (as this project's convention asks), so
    ``except KeyError`` and ``except ConfigurationError`` both catch it.
    """

    def __init__(self, key, family, known):
        self.key = key
        self.family = family
        self.known = sorted(known)
        super().__init__(key)

    def __str__(self):
        return 'unknown {} {!r}; known names are: {}'.format(
            self.family, self.key, ', '.join(self.known))


class Registrar(type):
    """Metaclass that registers every class of a family by lowercase name.

    The family root is created by calling the metaclass directly, e.g.
    ``Registrar('Base', (), {})``; that root receives an empty ``_registry``
    and is not registered itself. Every class created below it is registered
    under its lowercased class name and under each (lowercased) string of its
    ``__extra_registration_keys__`` attribute, which subclasses inherit.
    """

    def __init__(cls, name, bases, dct):
        if not hasattr(cls, '_registry'):
            cls._registry = {}
        else:
            cls._registry[name.lower()] = cls
            for key in getattr(cls, '__extra_registration_keys__', ()):
                cls._registry[key.lower()] = cls
        super().__init__(name, bases, dct)

    def _family(cls):
        """The lowercased name of the family's public base class."""
        mro = [klass for klass in cls.__mro__ if klass is not object]
        for below, klass in zip(mro, mro[1:]):
            if '_registry' in vars(klass):
                return below.__name__.lower()
        return cls.__name__.lower()

    def build(cls, key, *args, **kwargs):
        """Create an instance of the class registered under ``key``."""
        return cls.get_class(key)(*args, **kwargs)

    def get_class(cls, key):
        """Return the class registered under ``key`` (case-insensitive)."""
        try:
            return cls._registry[key.lower()]
        except (KeyError, AttributeError):
            raise UnknownNameError(
                key.lower() if isinstance(key, str) else key,
                cls._family(), cls._registry) from None

    def is_registered(cls, key):
        """Return True if ``key`` names a class of this family."""
        return isinstance(key, str) and key.lower() in cls._registry


def as_random_state(rng):
    """Return ``rng`` as a numpy ``RandomState``.

    ``None`` or an int (the seed) makes a new generator; anything else (a
    ``RandomState``) is returned as it is, so callers share its stream.
    """
    if rng is None or isinstance(rng, int):
        return np.random.RandomState(rng)
    return rng


def random_matrix(rows, cols, mean=0, std=1, sparsity=0, radius=0, diagonal=0,
                  rng=None):
    """Create a matrix of randomly initialised values.

    Parameters
    ----------
    rows, cols : int
        Shape of the matrix.
    mean, std : float, optional
        Mean and standard deviation of the Gaussian draws. Defaults 0 and 1.
    sparsity : float in [0, 1), optional
        Fraction of entries set to zero; the leading diagonal is always kept.
    radius : float, optional
        If positive, rescale the matrix so its largest singular value equals
        ``radius``.
    diagonal : float, optional
        If nonzero, return ``diagonal`` times the identity instead (the random
        draws are still made, so later draws are unaffected).
    rng : int, ``numpy.random.RandomState`` or None, optional
        Seed or generator; an int or None makes a new ``RandomState``.

    Returns
    -------
    ndarray of shape (rows, cols), dtype :data:`FLOAT`

    Examples
    --------
    >>> w = random_matrix(3, 2, std=0.1, rng=13)
    >>> w.shape, w.dtype == FLOAT
    ((3, 2), True)
    >>> random_matrix(2, 3, diagonal=2, rng=1)
    array([[2., 0., 0.],
           [0., 2., 0.]], dtype=float32)
    """
    rng = as_random_state(rng)
    arr = mean + std * rng.randn(rows, cols)
    if 0 < sparsity < 1:
        k = min(rows, cols)
        mask = rng.binomial(n=1, p=1 - sparsity, size=(rows, cols)).astype(bool)
        mask[:k, :k] |= np.eye(k).astype(bool)
        arr *= mask
    if radius > 0:
        u, s, vT = np.linalg.svd(arr, full_matrices=False)
        arr = np.dot(np.dot(u, np.diag(radius * s / abs(s[0]))), vT)
    if diagonal != 0:
        arr = diagonal * np.eye(max(rows, cols))[:rows, :cols]
    return arr.astype(FLOAT)


def random_vector(size, mean=0, std=1, rng=None):
    """Create a vector of Gaussian random values.

    Parameters
    ----------
    size : int
        Length of the vector.
    mean, std : float, optional
        Mean and standard deviation of the draws. Defaults 0 and 1.
    rng : int, ``numpy.random.RandomState`` or None, optional
        Seed or generator; an int or None makes a new ``RandomState``.

    Returns
    -------
    ndarray of shape (size,), dtype :data:`FLOAT`

    Examples
    --------
    >>> random_vector(4, rng=13).shape
    (4,)
    """
    rng = as_random_state(rng)
    return (mean + std * rng.randn(size)).astype(FLOAT)


def _patterns(patterns):
    return (patterns, ) if isinstance(patterns, str) else patterns


def outputs_matching(outputs, patterns):
    """Yield ``(name, expression)`` pairs whose name matches a glob pattern.

    Parameters
    ----------
    outputs : dict or sequence of (str, expression)
        Named graph outputs, e.g. ``{'hid1:out': ..., 'out:pre': ...}``.
    patterns : str or sequence of str
        Shell-style globs (``*`` also matches ``:`` and ``.``).

    Yields
    ------
    (str, expression)
        Each matching output once, in the order of ``outputs``.

    Examples
    --------
    >>> outs = {'in:out': 1, 'hid1:out': 2, 'hid1:pre': 3}
    >>> list(outputs_matching(outs, '*:out'))
    [('in:out', 1), ('hid1:out', 2)]
    """
    patterns = _patterns(patterns)
    if isinstance(outputs, dict):
        outputs = outputs.items()
    for name, expr in outputs:
        if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            yield name, expr


def params_matching(layers, patterns):
    """Yield ``(name, parameter)`` pairs for parameters matching a glob.

    Parameters
    ----------
    layers : sequence of :class:`theanets.layers.Layer`
        Layers whose ``params`` are searched, in order.
    patterns : str or sequence of str
        Shell-style globs matched against names like ``'hid1.w'``.

    Yields
    ------
    (str, shared variable)
    """
    patterns = _patterns(patterns)
    for layer in layers:
        for param in layer.params:
            name = param.name
            if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                yield name, param


def enable_detailed_callsite_logging():
    """Name the calling module and line in log lines instead of ``theanets``."""
    global _detailed_callsite
    _detailed_callsite = True


def _callsite(frame):
    """Return ``'module.path:line'`` for a frame inside the package."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    filename = os.path.abspath(frame.f_code.co_filename)
    if filename.startswith(package_dir + os.sep):
        rel = os.path.relpath(filename, package_dir)
    else:
        rel = os.path.basename(filename)
    module = os.path.splitext(rel)[0].replace(os.sep, '.')
    return '{}:{}'.format(module, frame.f_lineno)


def log(msg, *args, **kwargs):
    """Log a message through the ``theanets`` logger at INFO level.

    The message is formatted with ``msg.format(*args, **kwargs)``.

    Parameters
    ----------
    msg : str
        A message, possibly with ``str.format`` fields.

    Examples
    --------
    >>> log('training {} layers', 3)
    """
    text = msg.format(*args, **kwargs)
    if _detailed_callsite:
        caller = inspect.currentframe().f_back
        _logger.info(text, extra={'callsite': _callsite(caller)})
    else:
        _logger.info(text)
