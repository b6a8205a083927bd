"""The keyword arguments of one training call, parsed once.

:meth:`theanets.Network.itertrain` takes one flat set of keywords: options of
the datasets (``batch_size``, ``iteration_size``, ``train_batches``,
``valid_batches``, ``axis``), of the optimizer (``learning_rate``,
``momentum``, ``patience``, ``max_updates``, …), monitors and regularizers
(``weight_l2``, ``hidden_dropout``, …). :class:`TrainingOptions` checks
them once, builds the regularizers once, and hands every consumer (the
dataset builder, the trainer, the loss and monitor expressions) the part it
reads.

Every keyword a training call accepts is known here
(:func:`known_training_keywords`): the dataset and monitor keywords of this
package, the options downhill's optimizers read, and the regularizer
keywords (:func:`theanets.regularizers.keyword_names`, which include every
registered regularizer). Any other keyword raises
:class:`theanets.exceptions.UnknownKeywordError`, which suggests the
keyword probably meant.
"""

import collections
import difflib
import inspect
import textwrap
import warnings

import numpy as np

from . import regularizers
from .backend import theano, downhill
from .exceptions import ConfigurationError, UnknownKeywordError

__all__ = ['TrainingOptions', 'algo_is_downhill', 'check_training_keywords',
           'check_algo', 'check_save_progress', 'check_save_best',
           'format_save_progress', 'known_training_keywords',
           'optimizer_keywords', 'suggest_keyword', 'DATASET_KEYWORDS',
           'MONITOR_KEYWORDS', 'DEPRECATED_KEYWORDS', 'KEYWORD_HINTS']

#: Keywords of the datasets :meth:`TrainingOptions.dataset` builds (``rng``
#: also seeds the noise and dropout regularizers and the sample trainer;
#: ``block_size`` is the number of examples read at a time from
#: out-of-core arrays, see :mod:`theanets._lazy`).
DATASET_KEYWORDS = ('axis', 'batch_size', 'block_size', 'iteration_size',
                    'rng', 'train_batches', 'valid_batches')

#: Keywords of the monitors: the extra monitor expressions of
#: :meth:`theanets.Network.monitors`, and the gradient monitors that
#: :class:`theanets.trainer.DownhillTrainer` asks ``downhill.build`` for.
MONITOR_KEYWORDS = ('monitor_gradients', 'monitors')

#: Keywords that still work but are deprecated.
DEPRECATED_KEYWORDS = ('algorithm',)

#: The options the base class of downhill's optimizers reads from the
#: keywords of ``iterate``. It pops them from ``**kwargs``, so no signature
#: shows them; the options of particular optimizers (``rms_halflife``, …)
#: and ``max_updates`` are taken from the signatures instead (see
#: :func:`optimizer_keywords`).
_DOWNHILL_BASE_OPTIONS = ('learning_rate', 'momentum', 'nesterov',
                          'patience', 'validate_every', 'min_improvement',
                          'max_gradient_norm', 'max_gradient_elem')

#: The named parameters of ``Network.itertrain`` (besides ``train``). They
#: never reach the keywords, but a misspelt one should be suggested.
_ITERTRAIN_ARGUMENTS = ('valid', 'algo', 'subalgo', 'save_every',
                        'save_progress', 'progress', 'quiet', 'callbacks',
                        'save_best', 'restore_best')

#: Names users bring from other libraries, with the keyword theanets uses
#: for the same thing, where the closest spelling would not find it.
KEYWORD_HINTS = {
    'lr': 'learning_rate',
    'gradient_clip': 'max_gradient_norm',
    'grad_clip': 'max_gradient_norm',
    'clipnorm': 'max_gradient_norm',
    'clip_norm': 'max_gradient_norm',
    'max_grad_norm': 'max_gradient_norm',
    'clipvalue': 'max_gradient_elem',
    'clip_value': 'max_gradient_elem',
    'epochs': 'max_updates',
    'max_epochs': 'max_updates',
    'n_epochs': 'max_updates',
    'num_epochs': 'max_updates',
    'nb_epoch': 'max_updates',
    'max_iter': 'max_updates',
    'batchsize': 'batch_size',
    'l2': 'weight_l2',
    'l1': 'weight_l1',
}


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
    theanets.exceptions.UnknownKeywordError
        For keywords no part of training reads (unless ``algo`` is a
        trainer object), see :func:`check_training_keywords`.
    theanets.exceptions.ConfigurationError
        For option values that make no sense (see
        :func:`check_training_keywords`).
    """

    def __init__(self, network, algo, kwargs, rng, save_every=0):
        kwargs = dict(kwargs)
        kwargs.setdefault('rng', rng)
        if 'algorithm' in kwargs:
            warnings.warn('please use the "algo" keyword argument instead of '
                          'the deprecated "algorithm"', DeprecationWarning,
                          stacklevel=4)
            algo = kwargs.pop('algorithm')
            if isinstance(algo, (tuple, list)):
                algo = algo[0]
        check_algo(algo)
        check_training_keywords(kwargs, save_every, algo=algo)
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


def _check_save_target(name, target, format_name, fields):
    """Raise ConfigurationError unless ``target`` is a usable file name
    (``format_name`` must fill its fields) or a writable file object."""
    if isinstance(target, str):
        try:
            format_name(target)
        except (IndexError, KeyError, ValueError) as e:
            raise ConfigurationError(
                '{}: expected a file name, optionally with {}, got {!r} '
                '({}: {})'.format(name, fields, target, type(e).__name__,
                                  e)) from None
        return
    if not hasattr(target, 'write'):
        raise ConfigurationError(
            '{}: expected a file name or a binary file object, got '
            '{!r}'.format(name, target))


def check_save_progress(save_progress):
    """Raise ConfigurationError if a ``save_progress`` pattern is unusable.

    A string may hold the fields of :func:`format_save_progress` (with
    format specs); anything else in braces fails, and is reported before
    training starts rather than at the first save.
    """
    if save_progress is not None:
        _check_save_target(
            'save_progress', save_progress,
            lambda pattern: format_save_progress(pattern, 0, 0),
            'the fields "{epoch}" (iteration number) and "{time}" or "{}" '
            '(Unix time of the save)')


def check_save_best(save_best):
    """Raise ConfigurationError if a ``save_best`` target is unusable.

    A file name may hold ``{epoch}`` (the epoch of the saved parameters);
    a file object must be writable (it is rewritten from the start at
    every save).
    """
    _check_save_target('save_best', save_best,
                       lambda pattern: pattern.format(epoch=0),
                       'the field "{epoch}"')


def _is_int(x):
    """True for Python and numpy integers (but not for bools)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_real(x):
    """True for Python and numpy real numbers (but not for bools)."""
    return isinstance(x, (int, float, np.integer, np.floating)) and \
        not isinstance(x, bool)


# ----------------------------------------------------------------------
# the known keywords


def _keyword_parameters(function, skip=()):
    """Names of the parameters of ``function`` a keyword can set."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)
    return [name for name, param in
            inspect.signature(function).parameters.items()
            if param.kind in kinds and name != 'self' and name not in skip]


def optimizer_keywords():
    """Every option a downhill optimizer reads from the training keywords.

    These are the options of downhill's ``Optimizer`` base class
    (``learning_rate``, ``momentum``, ``nesterov``, ``patience``,
    ``validate_every``, ``min_improvement``, ``max_gradient_norm``,
    ``max_gradient_elem``), ``max_updates`` of ``Optimizer.iterate``, and the
    keyword parameters of the ``_prepare`` method of every registered
    optimizer class and its bases (``rms_halflife``, ``rprop_increase``,
    ``beta1_decay``, …), so an optimizer registered in downhill later adds
    its own.

    Returns
    -------
    list of str
        The option names, sorted.

    Examples
    --------
    >>> names = optimizer_keywords()
    >>> 'rms_halflife' in names, 'beta2_halflife' in names, 'lr' in names
    (True, True, False)
    """
    names = set(_DOWNHILL_BASE_OPTIONS)
    names.update(_keyword_parameters(downhill.Optimizer.iterate,
                                     skip=('train', 'valid')))
    for cls in set(downhill.Optimizer._registry.values()):
        for klass in cls.__mro__:
            prepare = vars(klass).get('_prepare')
            if prepare is not None:
                names.update(_keyword_parameters(prepare))
    return sorted(names)


def known_training_keywords():
    """Every keyword ``Network.train`` and ``itertrain`` accept, by purpose.

    Returns
    -------
    OrderedDict
        Maps a group (``'datasets'``, ``'optimizer'``, ``'monitors'``,
        ``'regularizers'``, ``'deprecated'``) to the sorted tuple of its
        keywords; a keyword appears once, in the first group that reads it
        (``rng`` under ``'datasets'``). The regularizer group holds every
        registered regularizer name, so it grows when a
        :class:`theanets.regularizers.Regularizer` subclass is defined.

    Examples
    --------
    >>> groups = known_training_keywords()
    >>> list(groups)
    ['datasets', 'optimizer', 'monitors', 'regularizers', 'deprecated']
    >>> groups['datasets']  # doctest: +NORMALIZE_WHITESPACE
    ('axis', 'batch_size', 'block_size', 'iteration_size', 'rng',
     'train_batches', 'valid_batches')
    """
    groups = collections.OrderedDict((
        ('datasets', DATASET_KEYWORDS),
        ('optimizer', optimizer_keywords()),
        ('monitors', MONITOR_KEYWORDS),
        ('regularizers', regularizers.keyword_names()),
        ('deprecated', DEPRECATED_KEYWORDS),
    ))
    seen = set()
    for group, names in groups.items():
        groups[group] = tuple(sorted(set(names) - seen))
        seen.update(names)
    return groups


def _is_known(key, known):
    # Regularizer names are looked up case-insensitively, as from_kwargs
    # builds them.
    return key in known or regularizers.Regularizer.is_registered(key)


def suggest_keyword(name, candidates):
    """The known keyword an unknown one probably meant, or None.

    Names other libraries use (``lr``, ``clipnorm``, ``epochs``, …) are
    looked up in :data:`KEYWORD_HINTS`; otherwise the closest spelling among
    ``candidates`` is taken (``difflib``), if it is close enough.

    Parameters
    ----------
    name : str
        The unknown keyword.
    candidates : iterable of str
        The known keywords.

    Returns
    -------
    str or None
        The suggested keyword.

    Examples
    --------
    >>> suggest_keyword('learning_rat', ['learning_rate', 'momentum'])
    'learning_rate'
    >>> suggest_keyword('clipnorm', ['max_gradient_norm'])
    'max_gradient_norm'
    >>> suggest_keyword('colour', ['learning_rate', 'momentum']) is None
    True
    """
    if not isinstance(name, str):
        return None
    candidates = list(candidates)
    hint = KEYWORD_HINTS.get(name.lower())
    if hint in candidates:
        return hint
    close = difflib.get_close_matches(name.lower(), candidates, n=1)
    return close[0] if close else None


def _describe_unknown(unknown, groups, what, listing='the known keywords'):
    """The message and the suggestions of an UnknownKeywordError.

    ``groups`` maps a label to the names of a group; every name is a
    candidate for the suggestions, and the message lists them by group.
    """
    candidates = [name for names in groups.values() for name in names]
    suggestions = {}
    parts = []
    for key in unknown:
        suggestion = suggest_keyword(key, candidates)
        if suggestion is None:
            parts.append(repr(key))
        else:
            suggestions[key] = suggestion
            parts.append('{!r} (did you mean {!r}?)'.format(key, suggestion))
    lines = ['unknown {}{} {}; {} are:'.format(
        what, 's' if len(unknown) > 1 else '', ', '.join(parts), listing)]
    for group, names in groups.items():
        if names:
            lines.append(textwrap.fill(
                ', '.join(names), width=79,
                initial_indent='  {}: '.format(group),
                subsequent_indent='    ', break_on_hyphens=False,
                break_long_words=False))
    return '\n'.join(lines), suggestions


def _reject_unknown(kwargs):
    """Raise UnknownKeywordError for keywords training does not read."""
    known = known_training_keywords()
    names = {name for group in known.values() for name in group}
    unknown = [key for key in kwargs if not _is_known(key, names)]
    if not unknown:
        return
    # The named arguments are listed too: a misspelt one ends up among the
    # keywords, and its closest keyword would be a wrong suggestion.
    groups = collections.OrderedDict(known)
    groups['arguments of itertrain itself'] = tuple(
        sorted(_ITERTRAIN_ARGUMENTS))
    message, suggestions = _describe_unknown(
        unknown, groups, 'training keyword')
    raise UnknownKeywordError(message, unknown, suggestions)


# ----------------------------------------------------------------------
# the values of the keywords


def _fail(key, expected, value):
    raise ConfigurationError(
        '{}: expected {}, got {!r}'.format(key, expected, value))


#: Training keywords that must be positive integers (None allowed).
_POSITIVE_INT_KEYWORDS = ('batch_size', 'block_size', 'iteration_size',
                          'train_batches', 'valid_batches', 'validate_every')

#: Training keywords that must be non-negative integers (None allowed).
_NON_NEGATIVE_INT_KEYWORDS = ('patience', 'max_updates')

#: Training keywords that must be non-negative finite numbers.
_NON_NEGATIVE_KEYWORDS = ('learning_rate', 'momentum', 'min_improvement',
                          'max_gradient_norm', 'max_gradient_elem',
                          'rms_regularizer', 'rprop_min_step',
                          'rprop_max_step', 'beta1_decay')

#: Training keywords that must be positive finite numbers (half-lives and
#: step-size factors; downhill divides by the half-lives).
_POSITIVE_KEYWORDS = ('rms_halflife', 'beta1_halflife', 'beta2_halflife',
                      'rprop_increase', 'rprop_decrease')


def _check_level(key, cls, value):
    """Raise for a regularizer level that does not suit its class.

    ``cls`` is the :class:`theanets.regularizers.Regularizer` subclass the
    level goes to: a dropout probability lies in [0, 1), a noise level (a
    standard deviation) or a penalty weight is non-negative and finite. A
    symbolic value (e.g. a shared, scheduled weight) is not checked.
    """
    if isinstance(value, theano.Variable):
        return
    if issubclass(cls, regularizers.BernoulliDropout):
        if not _is_real(value) or not 0 <= value < 1:
            _fail(key, 'a dropout probability in [0, 1)', value)
        return
    if not _is_real(value) or not np.isfinite(value) or value < 0:
        if issubclass(cls, regularizers.GaussianNoise):
            _fail(key, 'a noise level (the standard deviation of Gaussian '
                  'noise): a non-negative finite number', value)
        _fail(key, 'a non-negative finite regularizer weight', value)


def _check_regularizer_arguments(key, cls, arguments):
    """Raise for a dict of arguments the regularizer class does not take."""
    signature = inspect.signature(cls.__init__)
    if any(param.kind == inspect.Parameter.VAR_KEYWORD
           for param in signature.parameters.values()):
        return
    accepted = _keyword_parameters(cls.__init__)
    unknown = [name for name in arguments if name not in accepted]
    if unknown:
        message, suggestions = _describe_unknown(
            unknown, {cls.__name__: tuple(accepted)},
            'argument in the {!r} dict:'.format(key),
            listing='the arguments of {}'.format(cls.__name__))
        raise UnknownKeywordError(message, unknown, suggestions)
    if 'weight' in arguments:
        _check_level("{}['weight']".format(key), cls, arguments['weight'])


def _check_regularizer_values(kwargs):
    """Raise for regularizer keywords whose values cannot be used."""
    canned = regularizers.canned_keywords()
    for key, value in kwargs.items():
        if key in regularizers.CANNED:  # 'dropout' or 'noise': a dict
            if not isinstance(value, dict):
                _fail(key, 'a dict mapping output patterns to levels',
                      value)
            for pattern, level in value.items():
                label = '{}[{!r}]'.format(key, pattern)
                if not isinstance(pattern, (str, tuple, list)):
                    _fail(label, 'an output pattern (a str, or a tuple of '
                          'output names) as the key', pattern)
                _check_level(label, canned[key], level)
        elif key in canned:
            if value is not None:  # None, like 0, means none
                _check_level(key, canned[key], value)
        elif isinstance(key, str) and \
                regularizers.Regularizer.is_registered(key):
            cls = regularizers.Regularizer.get_class(key)
            if isinstance(value, dict):
                _check_regularizer_arguments(key, cls, value)
            else:
                _check_level(key, cls, value)


def _check_regularizers_keyword(kwargs):
    """Raise for a ``regularizers`` keyword that is not a list or a dict."""
    value = kwargs.get('regularizers')
    if value is None:
        return
    if isinstance(value, (tuple, list)):
        for i, reg in enumerate(value):
            if not isinstance(reg, regularizers.Regularizer):
                _fail('regularizers[{}]'.format(i), 'a theanets.'
                      'regularizers.Regularizer instance', reg)
            _check_level('regularizers[{}].weight'.format(i), type(reg),
                         reg.weight)
        return
    if not isinstance(value, dict):
        _fail('regularizers', 'a list of theanets.regularizers.Regularizer '
              'instances or a dict of regularizer keywords', value)
    known = set(regularizers.keyword_names()) - {'regularizers'}
    unknown = [key for key in value if not _is_known(key, known) or
               key == 'regularizers']
    if unknown:
        message, suggestions = _describe_unknown(
            unknown, {'regularizers': tuple(sorted(known))},
            'key in the regularizers dict:',
            listing='the regularizer keywords')
        raise UnknownKeywordError(message, unknown, suggestions)
    _check_regularizer_values(value)


def check_training_keywords(kwargs, save_every=0, algo='rmsprop'):
    """Raise for training keywords that are unknown or make no sense.

    Parameters
    ----------
    kwargs : dict
        The keywords of a training call (not modified).
    save_every : int or float, optional
        The ``save_every`` argument of the call; it must not be negative.
    algo : str or trainer, optional
        The training algorithm. For a trainer object (anything with an
        ``itertrain`` method) unknown keywords are allowed, as it may read
        keywords of its own; the known ones are still checked. The names
        of algorithms (downhill optimizers, ``'sample'`` and the
        pretrainers, which train with downhill optimizers) all accept the
        same keywords, so one call can switch between them.

    Raises
    ------
    theanets.exceptions.UnknownKeywordError
        (a ``TypeError`` and a ``ConfigurationError``) naming every keyword
        that no part of training reads, with the known keyword each
        probably meant and the list of known keywords (see
        :func:`known_training_keywords`).
    theanets.exceptions.ConfigurationError
        Naming the keyword, the expected values and the given one, for:

        * ``batch_size``, ``block_size``, ``iteration_size``,
          ``train_batches``, ``valid_batches``, ``validate_every`` that are
          not positive integers, and ``patience`` or ``max_updates`` that are not
          non-negative integers;
        * ``learning_rate``, ``momentum``, ``min_improvement``,
          ``max_gradient_norm``, ``max_gradient_elem``,
          ``rms_regularizer``, ``rprop_min_step``, ``rprop_max_step``,
          ``beta1_decay`` that are negative or not finite, a ``momentum``
          of 1 or more, and half-lives (``rms_halflife``,
          ``beta1_halflife``, ``beta2_halflife``) or RProp step factors
          that are not positive;
        * dropout probabilities (``input_dropout``, ``hidden_dropout``,
          ``output_dropout``, the values of a ``dropout`` dict) outside
          [0, 1);
        * noise levels (``input_noise``, ``hidden_noise``,
          ``output_noise``, the values of a ``noise`` dict) that are
          negative or not finite. A noise level is the standard deviation
          of the Gaussian noise added, so levels above 1 are allowed (they
          suit data on a large scale);
        * regularizer weights (``weight_l2``, ``hidden_l1``,
          ``contractive``, any registered regularizer given a number, or
          the ``weight`` entry of a dict of its arguments) that are
          negative or not finite;
        * an ``rng`` that is no int seed in [0, 2**32), None or numpy
          random generator, and a negative ``save_every``.

    Examples
    --------
    >>> check_training_keywords({'learning_rate': 0.01, 'weight_l2': 1e-4})
    >>> check_training_keywords({'learning_rat': 0.01})
    Traceback (most recent call last):
      ...
    theanets.exceptions.UnknownKeywordError: unknown training keyword 'learning_rat' (did you mean 'learning_rate'?); the known keywords are:
    ...
    >>> check_training_keywords({'hidden_dropout': 1.5})
    Traceback (most recent call last):
      ...
    theanets.exceptions.ConfigurationError: hidden_dropout: expected a dropout probability in [0, 1), got 1.5
    """
    if isinstance(algo, str) or algo is None:
        _reject_unknown(kwargs)

    for key in _POSITIVE_INT_KEYWORDS:
        value = kwargs.get(key)
        if value is not None and (not _is_int(value) or value <= 0):
            _fail(key, 'a positive integer', value)
    for key in _NON_NEGATIVE_INT_KEYWORDS:
        value = kwargs.get(key)
        if value is not None and (not _is_int(value) or value < 0):
            _fail(key, 'a non-negative integer', value)
    for keys, expected, smallest_ok in (
            (_NON_NEGATIVE_KEYWORDS, 'a non-negative finite number',
             lambda v: v >= 0),
            (_POSITIVE_KEYWORDS, 'a positive finite number',
             lambda v: v > 0)):
        for key in keys:
            value = kwargs.get(key)
            if value is None or isinstance(value, theano.Variable):
                continue  # e.g. a shared, scheduled learning rate
            if not _is_real(value) or not np.isfinite(value) or \
                    not smallest_ok(value):
                _fail(key, expected, value)
    rng = kwargs.get('rng')
    if _is_int(rng) and not 0 <= rng < 2 ** 32:
        _fail('rng', 'an int seed in [0, 2**32), None or a '
              'numpy.random.RandomState', rng)
    if rng is not None and not _is_int(rng) and not isinstance(
            rng, (np.random.RandomState, np.random.Generator)):
        _fail('rng', 'an int seed in [0, 2**32), None or a '
              'numpy.random.RandomState', rng)
    momentum = kwargs.get('momentum')
    if isinstance(momentum, (int, float, np.number)) and momentum >= 1:
        _fail('momentum', 'a number in [0, 1)', momentum)
    if isinstance(save_every, (int, float)) and not isinstance(
            save_every, bool) and save_every < 0:
        _fail('save_every', 'a non-negative int (iterations) or float '
              '(minutes)', save_every)
    _check_regularizer_values(kwargs)
    _check_regularizers_keyword(kwargs)
