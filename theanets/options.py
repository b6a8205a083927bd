"""The keyword arguments of one training call, parsed once.

:meth:`theanets.Network.itertrain` takes one flat set of keywords: options of
the datasets (``batch_size``, ``iteration_size``, ``train_batches``,
``valid_batches``, ``axis``), of the optimizer (``learning_rate``,
``momentum``, ``patience``, ``max_updates``, …), monitors and regularizers
(``weight_l2``, ``hidden_dropout``, …). :class:`TrainingOptions` checks
them once, builds the regularizers once, and hands every consumer (the
dataset builder, the trainer, the loss and monitor expressions) the part it
reads.
"""

import warnings

import numpy as np

from . import regularizers
from .backend import theano, downhill
from .exceptions import ConfigurationError

__all__ = ['TrainingOptions', 'algo_is_downhill', 'check_training_keywords',
           'check_algo', 'check_save_progress', 'check_save_best',
           'format_save_progress']


class TrainingOptions(object):
    """The checked options of one training call.

    Parameters
    ----------
    network : :class:`theanets.Network`
        The model being trained (its layers decide which outputs the
        ``input_*``, ``hidden_*`` and ``output_*`` regularizers touch).
    algo : str or trainer
        The ``algo`` argument of ``itertrain``; a deprecated ``algorithm``
        keyword replaces it.
    kwargs : dict
        Every other keyword of the call. Not modified.
    rng : int or ``numpy.random.RandomState``
        The default for the ``rng`` keyword (the model's own).
    save_every : int or float, optional
        Checked with the other options.

    Attributes
    ----------
    algo : str or trainer
        The training algorithm.
    kwargs : dict
        The keywords, with ``rng`` filled in.
    regularizers : list
        The :class:`theanets.regularizers.Regularizer` objects these
        keywords ask for, built once for ``network``.

    Raises
    ------
    theanets.exceptions.ConfigurationError
        For option values that make no sense (see
        :func:`check_training_keywords`).
    """

    def __init__(self, network, algo, kwargs, rng, save_every=0):
        kwargs = dict(kwargs)
        kwargs.setdefault('rng', rng)
        check_training_keywords(kwargs, save_every)
        if 'algorithm' in kwargs:
            warnings.warn('please use the "algo" keyword argument instead of '
                          'the deprecated "algorithm"', DeprecationWarning,
                          stacklevel=4)
            algo = kwargs.pop('algorithm')
            if isinstance(algo, (tuple, list)):
                algo = algo[0]
        check_algo(algo)
        self.algo = algo
        self.kwargs = kwargs
        self.regularizers = regularizers.from_kwargs(network, **kwargs)

    def for_network(self):
        """The keywords for expressions of the network itself.

        ``regularizers`` holds the list built once, so the loss, monitor
        and update expressions (``network.loss(**kw)``, …) reuse it instead
        of parsing the keywords again. Trainers that train other networks
        (the pretrainers' shadow and partial networks, whose layers differ)
        get :attr:`kwargs` instead.
        """
        return dict(self.kwargs, regularizers=self.regularizers)

    def dataset(self, data, name):
        """Wrap training or validation data in a ``downhill.Dataset``.

        A ``downhill.Dataset`` is returned as it is; anything else (a list
        of arrays, a callable) becomes one with this call's ``batch_size``
        (default 32), ``iteration_size`` (or ``train_batches`` /
        ``valid_batches``), ``axis`` and ``rng``.
        """
        if isinstance(data, downhill.Dataset):
            return data
        kwargs = self.kwargs
        return downhill.Dataset(
            data,
            name=name,
            batch_size=kwargs.get('batch_size', 32),
            iteration_size=kwargs.get(
                'iteration_size', kwargs.get('{}_batches'.format(name))),
            axis=kwargs.get('axis', 0),
            rng=kwargs['rng'])


def algo_is_downhill(algo):
    """True if ``itertrain`` trains with a single downhill optimizer."""
    if isinstance(algo, (tuple, list)) and algo:
        algo = algo[0]
    if not isinstance(algo, str):
        return False
    return not algo.lower().startswith(
        ('sample', 'layer', 'sup', 'pre', 'unsup'))


def check_algo(algo):
    """Raise ConfigurationError for an ``algo`` that names no trainer.

    ``algo`` is an algorithm name (a downhill optimizer, or ``'sample'``,
    ``'layerwise'``/``'supervised'``, ``'pretrain'``/``'unsupervised'``) or a
    trainer object with an ``itertrain`` method. Downhill's ``adam`` keeps
    its moment estimates in float32 and cannot update float16 parameters,
    so it is refused when ``floatX`` is float16.
    """
    if isinstance(algo, str):
        if algo.lower() == 'adam' and theano.config.floatX == 'float16':
            raise ConfigurationError(
                'algo: "adam" cannot train with floatX=float16 (downhill\'s '
                'Adam computes its updates in float32); use another algorithm '
                '(e.g. "rmsprop" or "adadelta") or floatX=float32')
        return
    if not hasattr(algo, 'itertrain'):
        raise ConfigurationError(
            'algo: expected the name of a training algorithm (e.g. '
            '"rmsprop", "sgd", "adam", "layerwise", "pretrain") or a trainer '
            'object with an itertrain method, got {!r}'.format(algo))


def format_save_progress(pattern, iteration, now):
    """The file name of a ``save_progress`` checkpoint.

    ``{epoch}`` becomes the iteration number, ``{time}`` and ``{}`` (or
    ``{0}``, as in theanets 0.8) the integer Unix time of the save.

    Examples
    --------
    >>> format_save_progress('model-{epoch:03d}-{}.npz', 7, 1700000000.5)
    'model-007-1700000000.npz'
    """
    seconds = int(now)
    return pattern.format(seconds, epoch=iteration, time=seconds)


def check_save_progress(save_progress):
    """Raise ConfigurationError if a ``save_progress`` pattern is unusable.

    A string may hold the fields of :func:`format_save_progress` (with
    format specs); anything else in braces fails, and is reported before
    training starts rather than at the first save.
    """
    if save_progress is None:
        return
    if isinstance(save_progress, str):
        try:
            format_save_progress(save_progress, 0, 0)
        except (IndexError, KeyError, ValueError) as e:
            raise ConfigurationError(
                'save_progress: expected a file name, optionally with the '
                'fields "{{epoch}}" (iteration number) and "{{time}}" or '
                '"{{}}" (Unix time of the save), got {!r} ({}: {})'.format(
                    save_progress, type(e).__name__, e)) from None
        return
    if not hasattr(save_progress, 'write'):
        raise ConfigurationError(
            'save_progress: expected a file name or a binary file object, '
            'got {!r}'.format(save_progress))


def check_save_best(save_best):
    """Raise ConfigurationError if a ``save_best`` target is unusable.

    A file name may hold ``{epoch}`` (the epoch of the saved parameters);
    a file object must be writable (it is rewritten from the start at
    every save).
    """
    if isinstance(save_best, str):
        try:
            save_best.format(epoch=0)
        except (IndexError, KeyError, ValueError) as e:
            raise ConfigurationError(
                'save_best: expected a file name, optionally with the field '
                '"{{epoch}}", got {!r} ({}: {})'.format(
                    save_best, type(e).__name__, e)) from None
        return
    if not hasattr(save_best, 'write'):
        raise ConfigurationError(
            'save_best: expected a file name or a binary file object, '
            'got {!r}'.format(save_best))


def _is_int(x):
    """True for Python and numpy integers (but not for bools)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


#: Training keywords that must be positive integers (None allowed).
_POSITIVE_INT_KEYWORDS = ('batch_size', 'iteration_size', 'train_batches',
                          'valid_batches', 'validate_every')

#: Training keywords that must be non-negative integers (None allowed).
_NON_NEGATIVE_INT_KEYWORDS = ('patience', 'max_updates')

#: Training keywords that must be non-negative finite numbers.
_NON_NEGATIVE_KEYWORDS = ('learning_rate', 'momentum', 'min_improvement',
                          'max_gradient_norm', 'max_gradient_elem')


def check_training_keywords(kwargs, save_every):
    """Raise ConfigurationError for nonsensical training options."""
    def fail(key, expected, value):
        raise ConfigurationError(
            '{}: expected {}, got {!r}'.format(key, expected, value))

    for key in _POSITIVE_INT_KEYWORDS:
        value = kwargs.get(key)
        if value is not None and (not _is_int(value) or value <= 0):
            fail(key, 'a positive integer', value)
    for key in _NON_NEGATIVE_INT_KEYWORDS:
        value = kwargs.get(key)
        if value is not None and (not _is_int(value) or value < 0):
            fail(key, 'a non-negative integer', value)
    for key in _NON_NEGATIVE_KEYWORDS:
        value = kwargs.get(key)
        if value is None or isinstance(value, theano.Variable):
            continue  # e.g. a shared, scheduled learning rate
        if isinstance(value, bool) or not isinstance(
                value, (int, float, np.integer, np.floating)) or \
                not np.isfinite(value) or value < 0:
            fail(key, 'a non-negative finite number', value)
    rng = kwargs.get('rng')
    if _is_int(rng) and not 0 <= rng < 2 ** 32:
        fail('rng', 'an int seed in [0, 2**32), None or a '
             'numpy.random.RandomState', rng)
    if rng is not None and not _is_int(rng) and not isinstance(
            rng, (np.random.RandomState, np.random.Generator)):
        fail('rng', 'an int seed in [0, 2**32), None or a '
             'numpy.random.RandomState', rng)
    momentum = kwargs.get('momentum')
    if isinstance(momentum, (int, float, np.number)) and momentum >= 1:
        fail('momentum', 'a number in [0, 1)', momentum)
    if isinstance(save_every, (int, float)) and not isinstance(
            save_every, bool) and save_every < 0:
        fail('save_every', 'a non-negative int (iterations) or float '
             '(minutes)', save_every)
