"""Loss functions: scalar objectives computed from a network's outputs.

A loss reads one (or a few) named graph outputs, compares them with its own
target variable, and returns a scalar symbolic expression. Models add the
losses they hold, each multiplied by its ``weight``, to form the training
objective.

Every subclass of :class:`Loss` is registered under its lowercased class name
(and any extra keys it declares), so models can ask for a loss by name::

    theanets.Regressor([7, 8, 5], loss='mae')

Examples
--------
>>> loss = Loss.build('mse', target=2, weighted=True)
>>> type(loss).__name__, loss.output_name
('MeanSquaredError', 'out:out')
>>> [v.name for v in loss.variables]
['target', 'weights']
"""

import numpy as np

from . import exceptions
from . import util
from .backend import theano, TT

__all__ = [
    'Loss', 'MeanSquaredError', 'MeanAbsoluteError', 'GaussianLogLikelihood',
    'MaximumMeanDiscrepancy', 'GaussianKernel', 'KullbackLeiblerDivergence',
    'CrossEntropy', 'Hinge',
]


def _scoped(name):
    """Complete an output name with ``':out'`` when it names only a layer."""
    return name if ':' in name else name + ':out'


def _variable(containers, ndim, name, argument):
    """Create a fresh symbolic variable of ``ndim`` dimensions."""
    if not 0 <= ndim < len(containers):
        raise util.ConfigurationError(
            '{} must give a number of dimensions in 0..{}; got {!r}'.format(
                argument, len(containers) - 1, ndim))
    return containers[ndim](name)


def _is_ndim(target):
    return isinstance(target, (int, np.integer)) and not isinstance(target, bool)


class Loss(util.Registrar('_LossBase', (), {})):
    """Base class of all losses.

    Parameters
    ----------
    target : int or symbolic variable
        An int creates a fresh float variable named ``'target'`` with that
        many dimensions; a symbolic variable is used as the target as is
        (autoencoders pass their input variable).
    weight : float, optional
        Multiplier of this loss in a model's total loss. Default 1.
    weighted : bool, optional
        If True, create a float variable named ``'weights'`` with the
        target's number of dimensions; the loss then becomes a
        weight-normalised sum. Default False.
    output_name : str, optional
        Name of the graph output the loss reads. ``':out'`` is appended when
        the name has no colon, so ``'hid1'`` means ``'hid1:out'``. Default
        ``'out'``.

    Attributes
    ----------
    weight : float
        Multiplier of the loss in the model's total loss.
    output_name : str
        Fully scoped name of the output that the loss reads.

    Notes
    -----
    Subclasses implement :meth:`__call__` and read the target and optional
    weights from ``self._target`` and ``self._weights``. Defining a subclass
    registers it, so it can be requested by its lowercased class name.

    Examples
    --------
    A loss that counts how often the output and target disagree in sign:

    >>> class SignMismatch(theanets.Loss):
    ...     def __call__(self, outputs):
    ...         o = outputs[self.output_name]
    ...         return TT.neq(TT.sgn(o), TT.sgn(self._target)).mean()
    >>> loss = theanets.Loss.build('signmismatch', target=2, output_name='hid1')
    >>> loss.output_name, loss.variables
    ('hid1:out', [target])
    """

    #: Constructors of fresh target variables, indexed by ndim.
    _TARGET_CONTAINERS = util.FLOAT_CONTAINERS

    def __init__(self, target, weight=1., weighted=False, output_name='out'):
        self.weight = weight
        self._target = self._target_variable(target)
        self._weights = None
        if weighted:
            self._weights = _variable(
                util.FLOAT_CONTAINERS, self._target.ndim, 'weights', 'weights')
        self.output_name = _scoped(output_name)

    def _target_variable(self, target):
        if _is_ndim(target):
            return _variable(self._TARGET_CONTAINERS, target, 'target', 'target')
        if not isinstance(target, theano.Variable):
            raise util.ConfigurationError(
                'target must be an int number of dimensions or a symbolic '
                'variable; got {!r}'.format(target))
        return target

    @property
    def variables(self):
        """The symbolic inputs this loss needs besides the network inputs.

        A list holding the target variable, then the weights variable if the
        loss is weighted; training data supply arrays in this order after the
        network inputs.
        """
        if self._weights is None:
            return [self._target]
        return [self._target, self._weights]

    def __call__(self, outputs):
        """Build the symbolic value of this loss.

        Parameters
        ----------
        outputs : dict
            Maps fully scoped output names (``'out:out'``) to symbolic
            expressions.

        Returns
        -------
        loss : scalar symbolic expression
        """
        raise NotImplementedError(
            '{} does not define a loss computation'.format(type(self).__name__))

    def log(self):
        """Log a one-line description of this loss."""
        util.debug('using loss: {} * {} (output {})',
                   self.weight, type(self).__name__, self.output_name)

    def _reduce(self, elementwise):
        """Average an elementwise loss, weight-normalised when weighted."""
        if self._weights is None:
            return elementwise.mean()
        return (self._weights * elementwise).sum() / self._weights.sum()


class MeanSquaredError(Loss):
    """Mean of the squared differences between output and target.

    Unweighted: ``mean((o - t)**2)`` over all elements. Weighted:
    ``sum(w * (o - t)**2) / sum(w)``.

    Examples
    --------
    >>> loss = MeanSquaredError(target=2)
    >>> o = TT.matrix('o')
    >>> value = loss({'out:out': o}).eval({
    ...     o: np.array([[1, 2]], 'f'), loss._target: np.array([[0, 0]], 'f')})
    >>> float(value)
    2.5
    """

    __extra_registration_keys__ = ['mse']

    def __call__(self, outputs):
        err = outputs[self.output_name] - self._target
        return self._reduce(TT.sqr(err))


class MeanAbsoluteError(Loss):
    """Mean of the absolute differences between output and target.

    Unweighted: ``mean(|o - t|)``. Weighted: ``sum(|w * (o - t)|) / sum(w)``.
    """

    __extra_registration_keys__ = ['mae']

    def __call__(self, outputs):
        err = outputs[self.output_name] - self._target
        if self._weights is None:
            return abs(err).mean()
        return abs(self._weights * err).sum() / self._weights.sum()


class GaussianLogLikelihood(Loss):
    """Negative log-likelihood of the target under a diagonal Gaussian.

    The network provides two outputs of the target's shape ``(..., d)``: the
    mean ``mu`` and a (diagonal) covariance ``c``. With precision
    ``p = 1 / (|c| + covar_eps)`` and ``eta = mu * p``, each leading index
    (example, or example and time step) contributes::

        0.5 * (d*log(2*pi) - log(sum(p)) + sum(eta * p * eta)
               + sum(y * p * y)) - sum(eta * y)

    with sums over the last axis; the loss is the mean of these values.
    ``d*log(2*pi)`` is computed in float32. The ``log(sum(p))`` and
    ``sum(mu**2 * p**3)`` terms differ from the textbook density; they are
    kept as they are so that values and trained models match theanets 0.8.
    Weights, if any, are ignored.

    Parameters
    ----------
    mean_name : str, optional
        Output holding the mean; ``':out'`` is appended when the name has no
        colon. Default ``'mean'``.
    covar_name : str, optional
        Output holding the covariance diagonal; completed like
        ``mean_name``. Default ``'covar'``.
    covar_eps : float, optional
        Added to ``|c|`` before inverting it. Default 1e-3.
    **kwargs
        ``target`` (required), ``weight``, ``weighted`` and ``output_name``
        as for :class:`Loss`; ``output_name`` is stored but not used.

    Examples
    --------
    >>> loss = GaussianLogLikelihood(target=2, mean_name='mu')
    >>> loss.mean_name, loss.covar_name
    ('mu:out', 'covar:out')
    """

    __extra_registration_keys__ = ['gll']

    def __init__(self, mean_name='mean', covar_name='covar', covar_eps=1e-3,
                 **kwargs):
        super().__init__(**kwargs)
        self.mean_name = _scoped(mean_name)
        self.covar_name = _scoped(covar_name)
        self.covar_eps = covar_eps

    def __call__(self, outputs):
        mean = outputs[self.mean_name]
        covar = outputs[self.covar_name]
        prec = 1 / (abs(covar) + self.covar_eps)
        eta = mean * prec
        const = TT.cast(mean.shape[-1] * np.log(2 * np.pi), 'float32')
        logdet = TT.log(prec.sum(axis=-1))
        const = const - logdet + (eta * prec * eta).sum(axis=-1)
        quad = (self._target * prec * self._target).sum(axis=-1)
        nll = 0.5 * (const + quad) - (eta * self._target).sum(axis=-1)
        return nll.mean()

    def log(self):
        """Log a one-line description of this loss."""
        util.debug('using loss: {} * GaussianLogLikelihood (mean {}, '
                   'covar {})', self.weight, self.mean_name, self.covar_name)


class GaussianKernel(object):
    """Gaussian kernel ``k(a, b) = exp(-|a_i - b_j|**2 / bw)``.

    A small callable object (rather than a closure) so that models holding a
    :class:`MaximumMeanDiscrepancy` loss can be pickled.

    Parameters
    ----------
    bw : float
        Kernel bandwidth.

    Examples
    --------
    >>> GaussianKernel(0.5)
    GaussianKernel(0.5)
    """

    def __init__(self, bw):
        self.bw = bw

    def __call__(self, a, b):
        """Evaluate the kernel between every row of ``a`` and of ``b``.

        Parameters
        ----------
        a : symbolic array of shape ``(n, ..., d)``
        b : symbolic array of shape ``(m, ..., d)``

        Returns
        -------
        symbolic array of shape ``(n, m, ...)``
            Squared distances are taken over the last axis only, so for
            ``(n, T, d)`` inputs there is one value per time step.
        """
        a = a.dimshuffle(*([0, 'x'] + list(range(1, a.ndim))))
        return TT.exp(-TT.sqr(a - b).sum(axis=-1) / self.bw)

    def __repr__(self):
        return 'GaussianKernel({!r})'.format(self.bw)


class MaximumMeanDiscrepancy(Loss):
    """Maximum mean discrepancy between the output and target samples.

    The loss is ``mean(k(t, t)) - 2 mean(k(t, o)) + mean(k(o, o))``, each
    mean over all entries of the kernel array. Weights, if any, are ignored.

    Parameters
    ----------
    kernel : float or callable, optional
        A number is the bandwidth of a :class:`GaussianKernel`; a callable
        ``kernel(a, b)`` receives two symbolic arrays. Default 1.
    **kwargs
        ``target``, ``weight``, ``weighted`` and ``output_name`` as for
        :class:`Loss`.

    Examples
    --------
    >>> MaximumMeanDiscrepancy(kernel=2, target=2).kernel
    GaussianKernel(2)
    """

    __extra_registration_keys__ = ['mmd']

    def __init__(self, kernel=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(kernel, (int, float)):
            kernel = self.gaussian(kernel)
        self.kernel = kernel

    @staticmethod
    def gaussian(bw):
        """Return a Gaussian kernel function with bandwidth ``bw``."""
        return GaussianKernel(bw)

    def __call__(self, outputs):
        output = outputs[self.output_name]
        target = self._target
        return (self.kernel(target, target).mean()
                - 2 * self.kernel(target, output).mean()
                + self.kernel(output, output).mean())


class KullbackLeiblerDivergence(Loss):
    """KL divergence of the output from the target, term by term.

    Both arrays are clipped to ``[1e-8, 1 - 1e-8]``; each element contributes
    ``|t * log(t / o)|``. Unweighted: the mean over all elements. Weighted:
    ``sum(|w * k|) / sum(w)``. The absolute value of each term is part of the
    definition (it is not the textbook KL when some terms are negative).
    """

    __extra_registration_keys__ = ['kl', 'kld']

    def __call__(self, outputs):
        eps = 1e-8
        target = TT.clip(self._target, eps, 1 - eps)
        output = TT.clip(outputs[self.output_name], eps, 1 - eps)
        kl = target * TT.log(target / output)
        if self._weights is None:
            return abs(kl).mean()
        return abs(self._weights * kl).sum() / self._weights.sum()


class CrossEntropy(Loss):
    """Cross-entropy between class probabilities and integer labels.

    The output has shape ``(..., K)`` (one probability per class on the last
    axis) and the target holds one int32 label per leading index. With
    ``q`` the probability given to the labelled class, each label contributes
    ``-log(clip(q, 1e-8, 1))``. Negative labels count from the last class,
    as in numpy indexing.

    Parameters
    ----------
    target : int
        Number of dimensions of the label array (a fresh int32 variable named
        ``'target'`` is created); symbolic targets are not accepted.
    weight, weighted, output_name
        As for :class:`Loss`; weights have the shape of the labels.

    Examples
    --------
    >>> loss = Loss.build('xe', target=1, weighted=True)
    >>> [(v.name, v.ndim) for v in loss.variables]
    [('target', 1), ('weights', 1)]
    >>> loss._target.dtype
    'int32'
    """

    __extra_registration_keys__ = ['xe']

    _TARGET_CONTAINERS = util.INT_CONTAINERS

    def _target_variable(self, target):
        if not _is_ndim(target):
            raise exceptions.ConfigTypeError(
                '{} needs target to be an int number of label dimensions; '
                'got {!r}'.format(type(self).__name__, target))
        return super()._target_variable(target)

    def _labelled_output(self, outputs):
        """The output to score, once its shape is known to fit the labels:
        one label per entry of all but the last (class) axis."""
        output = outputs[self.output_name]
        if output.ndim != self._target.ndim + 1:
            raise exceptions.ConfigurationError(
                '{} loss: output "{}" has {} axes, so its labels need {} '
                '(one per row of class scores), but the targets have {}; '
                'add a flatten layer ("flat") before the output layer to '
                'classify whole examples'.format(
                    type(self).__name__, self.output_name, output.ndim,
                    output.ndim - 1, self._target.ndim))
        return output

    def _flat(self, outputs):
        """Return the output as (N, K) and the labelled entry of each row."""
        output = self._labelled_output(outputs)
        classes = output.shape[-1]
        flat = output.reshape((-1, classes))
        labels = self._target.flatten()
        labels = TT.switch(TT.lt(labels, 0), labels + classes, labels)
        # The labelled entry of each row is picked with a one-hot mask
        # rather than by indexing with (arange(N), labels): the same values
        # (the sum adds exact zeros; the gradient puts the same values into
        # the same places), but elementwise C code in both directions,
        # where fancy indexing and its gradient run in Python.
        hot = TT.eq(labels.dimshuffle(0, 'x'),
                    TT.arange(classes).dimshuffle('x', 0))
        return flat, TT.switch(hot, flat, 0).sum(axis=-1)

    def _flat_reduce(self, elementwise):
        """Average a per-label loss of shape (N,), weighted when weighted."""
        if self._weights is None:
            return elementwise.mean()
        return (self._weights.flatten() * elementwise).sum() / self._weights.sum()

    def __call__(self, outputs):
        _, prob = self._flat(outputs)
        return self._flat_reduce(-TT.log(TT.clip(prob, 1e-8, 1)))

    def accuracy(self, outputs):
        """Build the (weighted) fraction of correctly predicted labels.

        Parameters
        ----------
        outputs : dict
            Maps fully scoped output names to symbolic expressions.

        Returns
        -------
        accuracy : scalar symbolic expression
            The prediction is the argmax over the last axis of the output.
        """
        predicted = self._labelled_output(outputs).argmax(axis=-1)
        return self._reduce(TT.eq(predicted, self._target))


class Hinge(CrossEntropy):
    """Multiclass hinge loss for integer labels.

    Each label contributes ``max(0, max_k(o_k - o_y))``: how far the largest
    output exceeds the output of the labelled class. Shapes, labels and
    weights work as for :class:`CrossEntropy`. Only the key ``'hinge'``
    names this class.
    """

    __extra_registration_keys__ = []

    def __call__(self, outputs):
        flat, score = self._flat(outputs)
        margin = (flat - score.dimshuffle(0, 'x')).max(axis=-1)
        return self._flat_reduce(TT.maximum(0, margin))
