"""Regularizers: penalties added to the training loss, and graph rewrites.

A regularizer either contributes a scalar penalty to the loss (weight decay,
sparse hidden activity, contractive and recurrent penalties) or rewrites
named outputs while the computation graph is built (Gaussian noise,
Bernoulli dropout). Both kinds only build symbolic Theano expressions.

Networks create regularizers from training or prediction keyword arguments
with :func:`from_kwargs`, e.g. ``net.train(data, weight_l2=1e-4,
hidden_dropout=0.5)``.
"""

import collections
import copy
import numbers

import numpy as np

from . import util
from .layers import base

from .backend import TT, MRG_RandomStreams

# MRG_RandomStreams accepts integer seeds in [1, 2**31 - 21069).
_MAX_SEED = 2147462579


def from_kwargs(graph, **kwargs):
    """Create regularizers from keyword arguments.

    Parameters
    ----------
    graph : :class:`theanets.graph.Network`
        The network the regularizers will apply to; only its ``layers`` are
        used, to find the input, hidden and output layer names.
    regularizers : list, tuple or dict, optional
        A list or tuple of :class:`Regularizer` instances is returned as is
        (all other keywords are then ignored). A dict is merged into the
        keyword arguments, its entries overriding same-named ones.
    rng : int, numpy ``RandomState`` or Theano random streams, optional
        Seed source for the noise and dropout regularizers created from the
        canned keywords below (each gets its own identically seeded
        stream). Defaults to 13.
    input_dropout, hidden_dropout, output_dropout : float, optional
        Drop probability for the ``':out'`` output of every input layer,
        every layer between the first and the last, or the last layer.
    dropout : dict, optional
        Maps output-name globs (or tuples of names) to drop probabilities.
    input_noise, hidden_noise, output_noise : float, optional
        Standard deviation of additive Gaussian noise, as for dropout.
    noise : dict, optional
        Maps output-name globs (or tuples of names) to noise levels.
    <registered name> : float or dict, optional
        Any other keyword naming a registered regularizer (``weight_l2``,
        ``hidden_sparsity``, ``contractive``, ...) builds it, with a number
        as its ``weight`` or a dict as its keyword arguments. Keywords that
        name no regularizer (``batch_size``, ``algo``, ...) are ignored.

    Returns
    -------
    list of :class:`Regularizer`
        All dropout regularizers, then all noise regularizers, then those
        named by keyword, in keyword order.

    Examples
    --------
    >>> class Graph:
    ...     layers = ()
    >>> from_kwargs(Graph(), weight_l2=0.01, batch_size=32)
    [WeightL2(pattern='*', weight=0.01)]
    """
    if not kwargs:
        return []  # the common case of predict(x): nothing to build
    if 'regularizers' in kwargs:
        regs = kwargs['regularizers']
        if isinstance(regs, (tuple, list)):
            return regs
        if isinstance(regs, dict):
            kwargs.update(regs)

    rng = kwargs.get('rng', 13)

    layers = list(graph.layers)
    inputs = tuple(
        layer.output_name for layer in layers if isinstance(layer, base.Input))
    hiddens = tuple(layer.output_name for layer in layers[1:-1])
    outputs = tuple(layer.output_name for layer in layers[-1:])

    regs = []
    for prefix, cls in CANNED.items():
        levels = collections.OrderedDict(
            (names, kwargs.get('{}_{}'.format(group, prefix), 0))
            for group, names in zip(CANNED_GROUPS, (inputs, hiddens, outputs)))
        custom = kwargs.get(prefix, {})
        if not isinstance(custom, dict):
            raise TypeError(
                '{} must be a dict mapping output patterns to levels, '
                'got {!r}'.format(prefix, custom))
        levels.update(custom)
        for pattern, level in levels.items():
            if level:
                regs.append(cls(pattern=pattern, weight=level, rng=rng))

    for key, value in kwargs.items():
        if Regularizer.is_registered(key):
            if isinstance(value, dict):
                regs.append(Regularizer.build(key, **value))
            else:
                regs.append(Regularizer.build(key, weight=value))

    return regs


def _random_streams(rng):
    """Return a Theano random-streams object for ``rng``.

    An int seeds a new ``MRG_RandomStreams``. A numpy ``RandomState`` or
    ``Generator`` supplies the seed: the value its next draw would give, taken
    from a copy so that the caller's generator does not advance (building
    regularizers then leaves data shuffling and later draws unchanged). None
    gives an unseeded stream. Any other object is assumed to be a
    random-streams instance and is used as is.
    """
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return MRG_RandomStreams(int(rng))
    if rng is None:
        rng = np.random.RandomState()
    if isinstance(rng, np.random.RandomState):
        seed = copy.deepcopy(rng).randint(1, _MAX_SEED)
        return MRG_RandomStreams(int(seed))
    if isinstance(rng, np.random.Generator):
        seed = copy.deepcopy(rng).integers(1, _MAX_SEED)
        return MRG_RandomStreams(int(seed))
    return rng


def _hidden_outputs(layers):
    """Names of the default outputs of every layer but the first and last."""
    return [layer.output_name for layer in layers[1:-1]]


def _weight_matrices(layers, pattern):
    """Parameters matching ``pattern`` that have more than one dimension."""
    return [param for _, param in util.params_matching(layers, pattern)
            if param.ndim > 1]


def _sequence_outputs(reg, outputs, min_ndim):
    """Outputs matched by a recurrent regularizer, whose pattern is required.

    Raises ``ConfigurationError`` if ``reg`` has no pattern, or if a matched
    output has fewer than ``min_ndim`` dimensions.
    """
    name = type(reg).__name__
    if reg.pattern is None:
        raise util.ConfigurationError(
            '{} needs a pattern naming recurrent outputs, e.g. '
            "{}=dict(pattern='hid1:out', weight=0.1); got pattern=None"
            .format(name, name.lower()))
    matches = list(util.outputs_matching(outputs, reg.pattern))
    for output, expr in matches:
        if expr.ndim < min_ndim:
            raise util.ConfigurationError(
                '{} expects outputs shaped (batch, time, units), but "{}" has '
                '{} dimensions'.format(name, output, expr.ndim))
    return [expr for _, expr in matches]


def _mean(terms):
    """Average of a list of symbolic scalars, or 0 for an empty list."""
    if not terms:
        return 0
    return sum(terms) / len(terms)


class Regularizer(util.Registrar('Base', (), {})):
    """Base class of regularizers; on its own it has no effect.

    Parameters
    ----------
    pattern : str or sequence of str, optional
        Shell-style glob (or several) selecting the outputs or parameters
        the regularizer applies to. Defaults to ``'*'``.
    weight : float, optional
        Multiplier of the penalty in the total loss (for noise and dropout:
        the noise level or drop probability). Defaults to 0.

    Notes
    -----
    Subclasses override :meth:`loss` to add a penalty and/or
    :meth:`modify_graph` to rewrite outputs while the graph is built. Every
    subclass is registered under its lowercased class name (and under the
    names in its ``__extra_registration_keys__``), which makes it usable as
    a training keyword.

    Examples
    --------
    >>> Regularizer.build('weight_decay', weight=1e-4)
    WeightL2(pattern='*', weight=0.0001)
    >>> Regularizer.build('weight_l2', 0.01)  # positional: pattern, weight
    WeightL2(pattern=0.01, weight=0.0)
    """

    def __init__(self, pattern='*', weight=0.):
        self.pattern = pattern
        self.weight = weight

    def __repr__(self):
        return '{}(pattern={!r}, weight={!r})'.format(
            type(self).__name__, self.pattern, self.weight)

    def modify_graph(self, outputs):
        """Rewrite one layer's outputs while the graph is built.

        Parameters
        ----------
        outputs : dict
            The outputs of the layer being connected, by full name
            (``'hid1:out'``). Changes are made in place; later layers and
            the losses see them. The base class changes nothing.
        """

    def loss(self, layers, outputs):
        """Return the penalty to be multiplied by ``weight``.

        Parameters
        ----------
        layers : list of :class:`theanets.layers.Layer`
            The network's layers.
        outputs : dict
            All named outputs of the built graph.

        Returns
        -------
        symbolic scalar or number
            The base class returns ``0.``.
        """
        return 0.

    def log(self):
        """Log a one-line description of this regularizer."""
        util.debug('regularizer: {} * {}({})',
                   self.weight, type(self).__name__, self.pattern)


class WeightL2(Regularizer):
    r"""Penalise the squared values of weight matrices ("weight decay").

    The penalty is the average, over the matched parameters with more than
    one dimension, of each parameter's mean squared entry:

    .. math::
       \frac{1}{|V|} \sum_{v \in V} \operatorname{mean}(v^2)

    Biases and other vectors are never penalised.

    Examples
    --------
    >>> Regularizer.build('weight_l2', pattern='hid*', weight=1e-4).pattern
    'hid*'
    """

    __extra_registration_keys__ = ['weight_l2', 'weight_decay']

    def loss(self, layers, outputs):
        return _mean([TT.sqr(v).mean()
                      for v in _weight_matrices(layers, self.pattern)])


class WeightL1(Regularizer):
    r"""Penalise the absolute values of weight matrices (sparse weights).

    The penalty is the average, over the matched parameters with more than
    one dimension, of each parameter's mean absolute entry:

    .. math::
       \frac{1}{|V|} \sum_{v \in V} \operatorname{mean}(|v|)
    """

    __extra_registration_keys__ = ['weight_l1', 'weight_sparsity']

    def loss(self, layers, outputs):
        return _mean([abs(v).mean()
                      for v in _weight_matrices(layers, self.pattern)])


class HiddenL1(Regularizer):
    r"""Penalise the absolute values of hidden activations (sparse codes).

    With the default pattern ``'*'`` the penalty covers the ``':out'``
    output of every layer between the first and the last; any other pattern
    is matched against all graph outputs. The penalty is

    .. math::
       \frac{1}{|H|} \sum_{h \in H} \operatorname{mean}(|h|)
    """

    __extra_registration_keys__ = ['hidden_l1', 'hidden_sparsity']

    def loss(self, layers, outputs):
        pattern = self.pattern
        if pattern == '*':
            pattern = _hidden_outputs(layers)
        return _mean([abs(h).mean()
                      for _, h in util.outputs_matching(outputs, pattern)])


class RecurrentNorm(Regularizer):
    r"""Penalise changes of the hidden-state norm between time steps.

    The pattern is required: it names the 3-D (batch, time, units) outputs
    to penalise. For each, with :math:`n_t = \sum_u h_{t,u}^2` the squared
    norm at step :math:`t`, the term is the mean of the signed differences
    :math:`n_t - n_{t+1}`; the penalty is the average of these terms.

    Raises
    ------
    ConfigurationError
        From :meth:`loss`, if no pattern was given or a matched output has
        fewer than three dimensions.
    """

    __extra_registration_keys__ = ['recurrent_norm']

    def __init__(self, pattern=None, weight=0.):
        super().__init__(pattern=pattern, weight=weight)

    def loss(self, layers, outputs):
        terms = []
        for h in _sequence_outputs(self, outputs, min_ndim=3):
            norms = TT.sqr(h).sum(axis=-1)
            terms.append((norms[:, :-1] - norms[:, 1:]).mean())
        return _mean(terms)


class RecurrentState(Regularizer):
    r"""Penalise changes of the hidden state between time steps.

    The pattern is required: it names the (batch, time, units) outputs to
    penalise. For each, the term is the mean of
    :math:`(h_t - h_{t+1})^2` over batch, time and units (differences along
    axis 1); the penalty is the average of these terms.

    Raises
    ------
    ConfigurationError
        From :meth:`loss`, if no pattern was given.
    """

    __extra_registration_keys__ = ['recurrent_state']

    def __init__(self, pattern=None, weight=0.):
        super().__init__(pattern=pattern, weight=weight)

    def loss(self, layers, outputs):
        # As in the original, a 2-D output is accepted (it then differences
        # adjacent units); RecurrentNorm cannot be computed on one at all.
        terms = [TT.sqr(h[:, :-1] - h[:, 1:]).mean()
                 for h in _sequence_outputs(self, outputs, min_ndim=0)]
        return _mean(terms)


class Contractive(Regularizer):
    r"""Penalise the sensitivity of hidden activations to the inputs.

    For each matched output :math:`h`, the gradient :math:`g` of the mean
    activation :math:`\operatorname{mean}(h)` with respect to the selected
    input variables is computed, and the term is
    :math:`\operatorname{mean}(g^2)`; the penalty is the average of the
    terms.

    Parameters
    ----------
    pattern : str, sequence of str or None, optional
        Outputs to penalise. ``None`` (the default) or ``'*'`` selects the
        ``':out'`` output of every layer between the first and the last.
    weight : float, optional
        Multiplier of the penalty. Defaults to 0.
    wrt : str or sequence of str, optional
        Glob(s) over the names of the input variables (for dense inputs the
        input layer's name, e.g. ``'in'``). Defaults to ``'*'``.
    """

    def __init__(self, pattern=None, weight=0., wrt='*'):
        super().__init__(pattern=pattern, weight=weight)
        self.wrt = wrt

    def __repr__(self):
        return '{}(pattern={!r}, weight={!r}, wrt={!r})'.format(
            type(self).__name__, self.pattern, self.weight, self.wrt)

    def loss(self, layers, outputs):
        pattern = self.pattern
        if pattern is None or pattern == '*':
            pattern = _hidden_outputs(layers)
        hiddens = [h for _, h in util.outputs_matching(outputs, pattern)]
        if not hiddens:
            return 0
        variables = [layer.input for layer in layers
                     if isinstance(layer, base.Input)]
        wrt = [x for _, x in util.outputs_matching(
            [(x.name, x) for x in variables], self.wrt)]
        if not wrt:
            raise util.ConfigurationError(
                'contractive wrt={!r} matches none of the input variables {}'
                .format(self.wrt, [x.name for x in variables]))
        terms = []
        for h in hiddens:
            grads = TT.grad(h.mean(), wrt)
            terms.append(TT.sqr(TT.stack(grads)).mean())
        return _mean(terms)

    def log(self):
        util.debug('regularizer: {} * Contractive({} wrt {})',
                   self.weight, self.pattern, self.wrt)


class GaussianNoise(Regularizer):
    """Add zero-mean Gaussian noise to outputs while the graph is built.

    Each matched output ``'x'`` of a layer is kept under ``'x-prenoise'``
    and replaced by itself plus noise of standard deviation ``weight``, so
    later layers and the losses see the noisy values. Every evaluation of a
    compiled function draws new noise. The loss penalty is 0.

    Parameters
    ----------
    pattern : str or sequence of str, optional
        Outputs to corrupt. Defaults to ``'*:out'``.
    weight : float, optional
        Standard deviation of the noise. Defaults to 0.
    rng : int, numpy random generator or Theano random streams, optional
        An int seeds a new ``MRG_RandomStreams`` owned by this regularizer;
        a numpy ``RandomState`` provides such a seed; a random-streams
        object is used as is. Defaults to 13. The same seed draws the same
        noise on the same backend; Theano and PyTensor draw different
        numbers from one seed (PyTensor has no MRG generator).

    Examples
    --------
    >>> import theano.tensor as TT
    >>> outputs = {'hid1:out': TT.matrix('h'), 'hid1:pre': TT.matrix('p')}
    >>> GaussianNoise('*:out', 0.1).modify_graph(outputs)
    >>> list(outputs)
    ['hid1:out', 'hid1:pre', 'hid1:out-prenoise']
    """

    def __init__(self, pattern='*:out', weight=0., rng=13):
        super().__init__(pattern=pattern, weight=weight)
        self.rng = _random_streams(rng)

    def modify_graph(self, outputs):
        for name, expr in list(util.outputs_matching(outputs, self.pattern)):
            outputs[name + '-prenoise'] = expr
            noise = self.rng.normal(
                size=expr.shape, std=self.weight, dtype=util.FLOAT)
            outputs[name] = expr + noise


class BernoulliDropout(Regularizer):
    """Randomly zero entries of outputs while the graph is built.

    Each matched output ``'x'`` of a layer is kept under ``'x-predrop'``
    and replaced by ``x * mask / (1 - weight)``, where each mask entry is 1
    with probability ``1 - weight`` ("inverted" dropout: kept entries are
    scaled up so the expected value is unchanged). Every evaluation of a
    compiled function draws a new mask. The loss penalty is 0.

    Parameters
    ----------
    pattern : str or sequence of str, optional
        Outputs to drop from. Defaults to ``'*:out'``.
    weight : float, optional
        Probability of dropping each entry; must be below 1. Defaults to 0.
    rng : int, numpy random generator or Theano random streams, optional
        As for :class:`GaussianNoise`. Defaults to 13.

    Examples
    --------
    >>> import theano.tensor as TT
    >>> outputs = {'in:out': TT.matrix('in')}
    >>> BernoulliDropout('in:out', 0.2).modify_graph(outputs)
    >>> list(outputs)
    ['in:out', 'in:out-predrop']
    """

    def __init__(self, pattern='*:out', weight=0., rng=13):
        super().__init__(pattern=pattern, weight=weight)
        self.rng = _random_streams(rng)

    def modify_graph(self, outputs):
        keep = 1 - self.weight
        for name, expr in list(util.outputs_matching(outputs, self.pattern)):
            mask = self.rng.binomial(
                size=expr.shape, n=1, p=keep, dtype=util.FLOAT)
            outputs[name + '-predrop'] = expr
            outputs[name] = expr * mask / keep

    def log(self):
        util.debug('regularizer: BernoulliDropout({}) ~ B({})',
                   self.pattern, self.weight)


#: The regularizer class behind each family of canned keywords of
#: :func:`from_kwargs`: ``<prefix>`` takes a dict of levels by output
#: pattern, ``<group>_<prefix>`` one level for a group of layers.
CANNED = collections.OrderedDict((('dropout', BernoulliDropout),
                                  ('noise', GaussianNoise)))

#: The layer groups of the canned keywords (``input_dropout``, …).
CANNED_GROUPS = ('input', 'hidden', 'output')


def canned_keywords():
    """The canned noise and dropout keywords, with the class each builds.

    Returns
    -------
    dict
        Maps every ``<group>_<prefix>`` keyword (one level) and every
        ``<prefix>`` keyword (a dict of levels by output pattern) that
        :func:`from_kwargs` reads to the :class:`Regularizer` subclass it
        creates.

    Examples
    --------
    >>> sorted(canned_keywords())  # doctest: +NORMALIZE_WHITESPACE
    ['dropout', 'hidden_dropout', 'hidden_noise', 'input_dropout',
     'input_noise', 'noise', 'output_dropout', 'output_noise']
    """
    names = {}
    for prefix, cls in CANNED.items():
        names[prefix] = cls
        for group in CANNED_GROUPS:
            names['{}_{}'.format(group, prefix)] = cls
    return names


def keyword_names():
    """Every keyword :func:`from_kwargs` reads, sorted.

    These are ``regularizers``, ``rng``, the canned noise and dropout
    keywords (:func:`canned_keywords`) and the name of every registered
    :class:`Regularizer` subclass, so a regularizer class defined by the
    user is a keyword as soon as it exists.

    Examples
    --------
    >>> names = keyword_names()
    >>> 'hidden_dropout' in names, 'weight_decay' in names, 'lr' in names
    (True, True, False)
    """
    names = set(canned_keywords()) | set(Regularizer._registry)
    return sorted(names | {'regularizers', 'rng'})
