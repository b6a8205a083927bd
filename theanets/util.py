"""Utility functions and classes shared across theanets.

This module holds the metaclass that gives layers, losses, regularizers
and activations their by-name registries, the registry of model classes,
the random initialisers for parameter values and glob helpers for outputs
and parameters. For code written against earlier versions it also offers
the error classes (defined in :mod:`theanets.exceptions`) and :func:`log`
(defined in :mod:`theanets._logging`).
"""

import contextlib
import fnmatch
import threading

import numpy as np

from . import _logging
from .backend import theano, TT
from .exceptions import (Error, ConfigurationError, DataError, TrainingError,
                         ModelFileError, MissingModelFileError,
                         UnknownNameError, UnknownKeywordError,
                         ConfigTypeError, ConfigValueError)
from ._logging import log, debug, enable_detailed_callsite_logging

__all__ = [
    'Registrar', 'as_random_state', 'random_matrix', 'random_vector',
    'outputs_matching', 'params_matching', 'register_model', 'model_class',
    'model_classes', 'FLOAT', 'FLOAT_CONTAINERS', 'INT_CONTAINERS',
    'allocation_limit', 'reserve',
]

# Also importable from here, as in earlier versions (documented where they
# are defined): the error classes of theanets.exceptions, and log and
# enable_detailed_callsite_logging of theanets._logging.

#: Formats log records (kept here for code that used ``util._Formatter``).
_Formatter = _logging.Formatter

#: Python-2 era alias kept for code that tests ``isinstance(x, basestring)``.
basestring = str

#: The float dtype of every parameter and float variable (Theano's floatX).
FLOAT = theano.config.floatX

#: Float symbolic-variable constructors, indexed by number of dimensions.
FLOAT_CONTAINERS = (TT.scalar, TT.vector, TT.matrix, TT.tensor3, TT.tensor4)

#: Int32 symbolic-variable constructors, indexed by number of dimensions.
INT_CONTAINERS = (TT.iscalar, TT.ivector, TT.imatrix, TT.itensor3, TT.itensor4)


class Registrar(type):
    """Metaclass that registers every class of a family by lowercase name.

    The family root is created by calling the metaclass directly, e.g.
    ``Registrar('Base', (), {})``; that root receives an empty ``_registry``
    and is not registered itself. Every class created below it is registered
    under its lowercased class name and under each (lowercased) string of the
    ``__extra_registration_keys__`` list in its own class body.

    A subclass does not inherit its parent's extra keys: in theanets 0.8 a
    user's ``class MyLayer(theanets.layers.Feedforward)`` re-registered
    ``'ff'`` for itself, so every ``'ff'`` layer built afterwards, in any
    model, silently became a ``MyLayer``. Here ``'ff'`` keeps naming
    ``Feedforward``, and ``MyLayer`` is found as ``'mylayer'``.

    Examples
    --------
    >>> class Wide(theanets.layers.Feedforward):
    ...     pass
    >>> theanets.layers.Layer.get_class('ff').__name__
    'Feedforward'
    >>> theanets.layers.Layer.get_class('wide') is Wide
    True
    """

    def __init__(cls, name, bases, dct):
        if not hasattr(cls, '_registry'):
            cls._registry = {}
        else:
            cls._registry[name.lower()] = cls
            for key in dct.get('__extra_registration_keys__', ()):
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
    if rng is None:
        return np.random.RandomState()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if not 0 <= rng < 2 ** 32:
            raise ConfigValueError(
                'rng: expected an int seed in [0, 2**32), None or a '
                'numpy.random.RandomState, got {!r}'.format(rng))
        return np.random.RandomState(int(rng))
    if not isinstance(rng, (np.random.RandomState, np.random.Generator)):
        raise ConfigTypeError(
            'rng: expected an int seed in [0, 2**32), None or a '
            'numpy.random.RandomState, got {!r} of type {}'.format(
                rng, type(rng).__name__))
    return rng


_allocation = threading.local()


@contextlib.contextmanager
def allocation_limit(nbytes, describe):
    """Bound the bytes of parameter arrays created within a block.

    Loading a model file rebuilds its layers, and a file can declare layers
    of any size; within this block, the initialisers of layer arrays
    (:func:`random_matrix`, :func:`random_vector` and the layers' masks)
    call :func:`reserve` before they allocate, which raises
    :class:`ModelFileError` once the arrays would exceed ``nbytes`` in
    total. The limit holds for the current thread only.

    Parameters
    ----------
    nbytes : int
        The most bytes the block may allocate for arrays.
    describe : str
        What is being built, for the error message (e.g. the file name).

    Examples
    --------
    >>> with allocation_limit(1000, 'a file'):
    ...     random_matrix(100, 100)
    Traceback (most recent call last):
    ...
    theanets.exceptions.ModelFileError: a file: refusing to allocate a 100 x 100 array (40000 bytes): only 1000 bytes of the allocation limit are left
    """
    previous = getattr(_allocation, 'state', None)
    _allocation.state = [int(nbytes), describe]
    try:
        yield
    finally:
        _allocation.state = previous


def reserve(shape, itemsize=None):
    """Count an array about to be allocated against :func:`allocation_limit`.

    Does nothing outside an ``allocation_limit`` block.

    Raises
    ------
    ModelFileError
        If the array would take the block past its limit.
    """
    state = getattr(_allocation, 'state', None)
    if state is None:
        return
    count = 1
    for dim in shape:
        count *= max(int(dim), 0)
    nbytes = count * (itemsize or np.dtype(FLOAT).itemsize)
    if nbytes > state[0]:
        raise ModelFileError(
            '{}: refusing to allocate a {} array ({} bytes): only {} bytes '
            'of the allocation limit are left'.format(
                state[1], ' x '.join(str(int(d)) for d in shape), nbytes,
                state[0]))
    state[0] -= nbytes


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
    reserve((rows, cols))
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
    reserve((size,))
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


#: Model classes by ``module.Class`` path; see :func:`register_model`.
_MODELS = {}

#: The registered name of the class every model derives from.
BASE_MODEL = 'theanets.graph.Network'


def register_model(cls):
    """Register a model class, so that ``.npz`` files may name it.

    The model classes of theanets register themselves when they are defined;
    a subclass defined elsewhere must be registered before a model of that
    class can be saved in, or loaded from, the safe ``.npz`` format (which
    never imports a name from the file). Usable as a class decorator.

    Parameters
    ----------
    cls : type
        A subclass of :class:`theanets.Network`.

    Returns
    -------
    type
        ``cls``, unchanged.

    Examples
    --------
    >>> @theanets.util.register_model
    ... class MyRegressor(theanets.Regressor):
    ...     pass
    >>> model_class(MyRegressor.__module__ + '.MyRegressor') is MyRegressor
    True
    """
    _MODELS['{}.{}'.format(cls.__module__, cls.__qualname__)] = cls
    return cls


def model_class(path):
    """Return the registered model class named ``module.Class``.

    Raises
    ------
    UnknownNameError
        If no model class of that name is registered.
    """
    try:
        return _MODELS[path]
    except (KeyError, TypeError):
        raise UnknownNameError(path, 'model class', _MODELS) from None


def model_classes():
    """A copy of the model registry: ``{'module.Class': class}``."""
    return dict(_MODELS)


def as_ndarray(value):
    """``value`` as an ndarray if it is another library's array (PyTensor's
    JAX linker returns JAX's); ndarrays and sparse matrices unchanged.

    Examples
    --------
    >>> import scipy.sparse
    >>> type(as_ndarray(scipy.sparse.eye(2, format='csr'))).__name__
    'csr_matrix'
    >>> as_ndarray(np.float32(1.5))
    array(1.5, dtype=float32)
    """
    return np.asarray(value) if hasattr(value, '__array__') else value
