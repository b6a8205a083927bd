r"""Activation functions for network layers.

A layer computes a pre-activation (usually an affine map of its inputs) and
passes it through an activation function :math:`g` to produce its output.
Activations are named by strings such as ``'relu'`` or ``'tanh'`` and are
created by :func:`build` when a layer is bound into a network.

There are three kinds of activation:

- *Common* activations have no parameters: ``'linear'``, ``'logistic'``
  (alias ``'sigmoid'``), ``'tanh'``, ``'softplus'``, ``'softmax'``,
  ``'relu'`` (alias ``'rect:max'``), ``'rect:min'``, ``'rect:minmax'`` and
  the normalisations ``'norm:mean'``, ``'norm:max'``, ``'norm:std'``,
  ``'norm:z'``. These names are case-sensitive.
- *Parameterised* activations are :class:`Activation` subclasses that own
  learnable shared variables, sized by the layer's output: ``'prelu'``
  (``'leaky-relu'``), ``'lgrelu'`` (``'leaky-gain-relu'``), ``'elu'`` and
  ``'maxout:k'``. Their names are looked up case-insensitively.
- *Compositions* join names with ``'+'``: ``'relu+norm:z'`` applies ``relu``
  first, then ``norm:z``.

New activations are written by subclassing :class:`Activation`; a subclass is
registered under its lower-cased class name and can be used by name at once.

Examples
--------
>>> class Step(Activation):
...     def __call__(self, x):
...         return 1. * (x > 0)
>>> build('step', None).name
'step'
>>> build('tanh+Step', None).name
'Step(tanh)'
"""

import numpy as np

from . import exceptions
from . import util
from .backend import theano, TT

__all__ = ['Activation', 'Compose', 'CommonActivation', 'Prelu', 'LGrelu',
           'Elu', 'Maxout', 'build']


# Module-level formulas of the common activations. Models saved by theanets
# 0.8 refer to these functions by name, so their names must not change.

def _identity(x):
    """Return the input unchanged (the ``'linear'`` activation)."""
    return x


def _relu(x):
    """Rectify below zero: ``(x + |x|) / 2``, with gradient 1/2 at 0."""
    return (x + abs(x)) / 2


def _trel(x):
    """Rectify above one: ``(x + 1 - |x - 1|) / 2``, i.e. ``min(x, 1)``."""
    return (x + 1 - abs(x - 1)) / 2


def _rect(x):
    """Clip to [0, 1]: ``(|x| + 1 - |x - 1|) / 2``."""
    return (abs(x) + 1 - abs(x - 1)) / 2


def _softmax(x):
    """Softmax along the last axis, for inputs of any number of dimensions."""
    z = TT.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _norm_mean(x):
    """Subtract the mean over the last axis."""
    return x - x.mean(axis=-1, keepdims=True)


def _norm_max(x):
    """Divide by the largest absolute value over the last axis (plus 1e-8)."""
    return x / (abs(x).max(axis=-1, keepdims=True) + 1e-8)


def _norm_std(x):
    """Divide by the (population) standard deviation over the last axis."""
    return x / (TT.std(x, axis=-1, keepdims=True) + 1e-8)


def _norm_z(x):
    """Standardise over the last axis: subtract the mean, divide by the std."""
    c = x - x.mean(axis=-1, keepdims=True)
    return c / (TT.std(x, axis=-1, keepdims=True) + 1e-8)


_COMMON = {
    'linear': _identity,
    'logistic': TT.nnet.sigmoid,
    'sigmoid': TT.nnet.sigmoid,
    'tanh': TT.tanh,
    'softplus': TT.nnet.softplus,
    'softmax': _softmax,
    'relu': _relu,
    'rect:max': _relu,
    'rect:min': _trel,
    'rect:minmax': _rect,
    'norm:mean': _norm_mean,
    'norm:max': _norm_max,
    'norm:std': _norm_std,
    'norm:z': _norm_z,
}


def build(name, layer, **kwargs):
    """Create the activation function for a layer.

    Parameters
    ----------
    name : str or :class:`Activation`
        An activation name, several names joined by ``'+'`` (applied left
        to right), or an :class:`Activation` instance, which is returned
        unchanged. Common names (``'relu'``, ``'norm:z'``, ...) are
        case-sensitive; names of :class:`Activation` subclasses are not.
        Maxout is spelled ``'maxout:k'`` with ``k`` the number of pieces.
    layer : :class:`theanets.layers.Layer`
        The layer that owns the activation. Parameterised activations read
        its ``name``, ``output_size`` and ``rng``.
    **kwargs
        Passed to the constructor of a parameterised activation.

    Returns
    -------
    activation : :class:`Activation`
        A callable mapping a symbolic tensor to a symbolic tensor, with a
        ``name`` and a list of learnable ``params``.

    Raises
    ------
    KeyError
        If a name is unknown (also a :class:`theanets.util.ConfigurationError`;
        the message lists the known names), or maxout has no piece count.
    ValueError
        If the maxout piece count is not a positive integer.
    TypeError
        If ``name`` is neither a string nor an :class:`Activation`, or is
        ``'compose'``.

    Examples
    --------
    >>> build('relu', None).name
    'relu'
    >>> act = build('relu+norm:z', None)
    >>> act.name, act.params
    ('norm:z(relu)', [])
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise exceptions.ConfigTypeError(
            'activation must be a name or an Activation instance, got {!r}'
            .format(name))
    if '+' in name:
        pieces = [build(piece, layer, **kwargs) for piece in name.split('+')]
        act = pieces[0]
        for piece in pieces[1:]:
            act = Compose(act, piece)
        return act
    if name in _COMMON:
        return CommonActivation(name)
    if name.lower().startswith('maxout') and ':' in name:
        name, count = name.split(':', 1)
        try:
            kwargs['pieces'] = int(count)
        except ValueError:
            raise exceptions.ConfigValueError(
                'maxout pieces must be an integer (as in "maxout:3"), '
                'got {!r}'.format(count)) from None
    key = name.lower()
    if key == 'compose':
        raise exceptions.ConfigTypeError(
            'activation "compose" cannot be built by name; join names with '
            '"+" instead, e.g. "relu+norm:z"')
    if not Activation.is_registered(key):
        raise exceptions.UnknownActivationError(
            key, list(Activation._registry) + list(_COMMON), _hint(name))
    return Activation.build(key, name=name, layer=layer, **kwargs)


def _hint(name):
    """Suggest a fix for a misspelt activation name."""
    if name != name.strip():
        return 'names joined by "+" must not contain spaces'
    if name.lower() in _COMMON:
        return 'common activation names are lower-case: use {!r}'.format(
            name.lower())
    return ''


def _shared(layer, name, value):
    """Create a parameter named ``'<layer name>.<name>'`` holding ``value``."""
    return theano.shared(
        np.asarray(value).astype(util.FLOAT),
        name='{}.{}'.format(layer.name, name))


_Base = util.Registrar('Base', (), {})


class Activation(_Base):
    """Base class of activation functions.

    Subclasses implement :meth:`__call__` and may append learnable shared
    variables to ``self.params``; every subclass is registered under its
    lower-cased class name (and its ``__extra_registration_keys__``), so
    ``build('myactivation', layer)`` finds ``class MyActivation(Activation)``.

    Parameters
    ----------
    name : str
        The name the activation was requested by.
    layer : :class:`theanets.layers.Layer`
        The layer that owns this activation.
    **kwargs
        Extra settings, kept in the ``kwargs`` attribute.

    Attributes
    ----------
    name : str
        The requested name.
    layer : :class:`theanets.layers.Layer`
        The owning layer.
    kwargs : dict
        Extra settings given to the constructor.
    params : list of shared variables
        Learnable parameters; the owning layer appends them to its own.

    Examples
    --------
    >>> class Cube(Activation):
    ...     def __call__(self, x):
    ...         return x ** 3
    >>> act = build('Cube', None)
    >>> type(act).__name__, act.name, act.params
    ('Cube', 'Cube', [])
    """

    def __init__(self, name, layer, **kwargs):
        self.name = name
        self.layer = layer
        self.kwargs = kwargs
        self.params = []

    def __call__(self, x):
        """Apply the activation to a symbolic tensor.

        Parameters
        ----------
        x : Theano expression
            The pre-activation values of the layer.

        Returns
        -------
        Theano expression
            The activation values.
        """
        raise NotImplementedError(
            '{} does not implement __call__'.format(type(self).__name__))

    def __repr__(self):
        return '<{} {!r}>'.format(type(self).__name__, self.name)


class CommonActivation(Activation):
    """A parameter-free activation from the table of common names.

    Each build returns a fresh wrapper that stores only the requested name and
    looks up the formula when called, so aliases (``'relu'``/``'rect:max'``)
    keep distinct names and pickles stay small. It is not registered: build it
    through :func:`build` or directly with its name.

    Parameters
    ----------
    name : str
        A common activation name (case-sensitive), e.g. ``'tanh'``.

    Examples
    --------
    >>> act = CommonActivation('rect:max')
    >>> act.name, act.params, act.layer
    ('rect:max', [], None)
    """

    def __init__(self, name, layer=None, **kwargs):
        if name not in _COMMON:
            raise exceptions.UnknownActivationError(name, list(_COMMON), _hint(name))
        super().__init__(name, None)

    def __call__(self, x):
        return _COMMON[self.name](x)

    def __reduce__(self):
        return (CommonActivation, (self.name, ))

    def __repr__(self):
        return 'CommonActivation({!r})'.format(self.name)


# The wrapper is an implementation detail of build(): keep it out of the
# names a user can request.
del Activation._registry['commonactivation']


class Compose(Activation):
    """The composition of two activations: ``g(f(x))``.

    Built by :func:`build` for names joined by ``'+'``; it cannot be built by
    name on its own.

    Parameters
    ----------
    f : callable
        Inner activation, applied first.
    g : callable
        Outer activation, applied to the output of ``f``.

    Attributes
    ----------
    f, g : callable
        The inner and outer activations.
    name : str
        ``'<g name>(<f name>)'``.
    params : list
        ``g``'s parameters followed by ``f``'s.

    Examples
    --------
    >>> act = build('tanh+relu+norm:mean', None)
    >>> act.name, act.f.name, act.g.name
    ('norm:mean(relu(tanh))', 'relu(tanh)', 'norm:mean')
    """

    def __init__(self, f, g):
        super().__init__(
            '{}({})'.format(getattr(g, 'name', g), getattr(f, 'name', f)),
            None)
        self.f = f
        self.g = g
        self.params = list(getattr(g, 'params', [])) + \
            list(getattr(f, 'params', []))

    def __call__(self, x):
        return self.g(self.f(x))


class Prelu(Activation):
    r"""Parametric rectified linear activation.

    .. math::
        g(z) = \frac{z + |z|}{2} + e^{\ell} \frac{z - |z|}{2}

    with one learnable leak :math:`\ell` per unit, initialised to
    ``0.1 * |N(0, 1)|`` draws from ``layer.rng``. The negative-side slope is
    :math:`e^\ell` (at least 1 initially).

    Parameters
    ----------
    name : str
        The requested name (``'prelu'`` or ``'leaky-relu'``).
    layer : :class:`theanets.layers.Layer`
        Owning layer; provides ``name``, ``output_size`` and ``rng``.

    Attributes
    ----------
    leak : shared variable
        Named ``'<layer name>.leak'``, shape ``(output_size,)``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> layer = SimpleNamespace(name='hid1', output_size=3,
    ...                         rng=np.random.RandomState(13))
    >>> [p.name for p in build('leaky-relu', layer).params]
    ['hid1.leak']
    """

    __extra_registration_keys__ = ['leaky-relu']

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.layer.output_size
        self.leak = _shared(
            self.layer, 'leak', 0.1 * np.abs(self.layer.rng.randn(size)))
        self.params.append(self.leak)

    def __call__(self, x):
        pos = (x + abs(x)) / 2
        neg = (x - abs(x)) / 2
        return pos + TT.exp(self.leak) * neg


class LGrelu(Activation):
    r"""Rectified linear activation with a learnable gain and leak.

    .. math::
        g(z) = e^{\gamma} \frac{z + |z|}{2} + e^{\ell} \frac{z - |z|}{2}

    with per-unit gain :math:`\gamma` and leak :math:`\ell`, each
    initialised to ``0.1 * |N(0, 1)|`` draws from ``layer.rng`` (gain
    first).

    Parameters
    ----------
    name : str
        The requested name (``'lgrelu'`` or ``'leaky-gain-relu'``).
    layer : :class:`theanets.layers.Layer`
        Owning layer; provides ``name``, ``output_size`` and ``rng``.

    Attributes
    ----------
    gain, leak : shared variable
        Named ``'<layer name>.gain'`` and ``'<layer name>.leak'``, shape
        ``(output_size,)``.
    """

    __extra_registration_keys__ = ['leaky-gain-relu']

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.layer.output_size
        self.gain = _shared(
            self.layer, 'gain', 0.1 * np.abs(self.layer.rng.randn(size)))
        self.leak = _shared(
            self.layer, 'leak', 0.1 * np.abs(self.layer.rng.randn(size)))
        self.params.extend([self.gain, self.leak])

    def __call__(self, x):
        pos = (x + abs(x)) / 2
        neg = (x - abs(x)) / 2
        return TT.exp(self.gain) * pos + TT.exp(self.leak) * neg


class Elu(Activation):
    r"""Exponential linear activation with a learnable gain.

    .. math::
        g(z) = z [z \ge 0] + e^{\gamma} (e^z - 1) [z < 0]

    with one gain :math:`\gamma` per unit, initialised to
    ``0.1 * |N(0, 1)|`` draws from ``layer.rng``.

    Parameters
    ----------
    name : str
        The requested name (``'elu'``).
    layer : :class:`theanets.layers.Layer`
        Owning layer; provides ``name``, ``output_size`` and ``rng``.

    Attributes
    ----------
    gain : shared variable
        Named ``'<layer name>.gain'``, shape ``(output_size,)``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.layer.output_size
        self.gain = _shared(
            self.layer, 'gain', 0.1 * np.abs(self.layer.rng.randn(size)))
        self.params.append(self.gain)

    def __call__(self, x):
        neg = x < 0
        # The exponential only sees non-positive values, so large inputs
        # cannot overflow to inf (which times the zero mask would be nan).
        return x * (x >= 0) + TT.exp(self.gain) * (TT.exp(x * neg) - 1)


class Maxout(Activation):
    r"""Maxout activation: the largest of ``k`` affine functions per unit.

    .. math::
        g(z)_i = \max_j \left( z_i w_{ij} + b_{ij} \right)

    Spelled ``'maxout:k'``. Slopes ``w`` and intercepts ``b`` have shape
    ``(output_size, k)`` and are initialised with standard normal draws from
    ``layer.rng`` (slopes first). The output has the shape of the input.

    Parameters
    ----------
    name : str
        The requested name without the piece count (``'maxout'``).
    layer : :class:`theanets.layers.Layer`
        Owning layer; provides ``name``, ``output_size`` and ``rng``.
    pieces : int
        Number of linear pieces ``k``.

    Attributes
    ----------
    pieces : int
        Number of linear pieces.
    slope, intercept : shared variable
        Named ``'<layer name>.slope'`` and ``'<layer name>.intercept'``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> layer = SimpleNamespace(name='l', output_size=3,
    ...                         rng=np.random.RandomState(13))
    >>> act = build('maxout:4', layer)
    >>> act.name, act.pieces, act.slope.get_value().shape
    ('maxout', 4, (3, 4))
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if 'pieces' not in self.kwargs:
            raise exceptions.ConfigKeyError(
                'maxout needs a number of pieces: use "maxout:k", e.g. '
                '"maxout:3" (missing argument "pieces")')
        pieces = self.kwargs['pieces']
        if isinstance(pieces, bool) or not isinstance(
                pieces, (int, np.integer)) or pieces < 1:
            raise exceptions.ConfigValueError(
                'maxout pieces must be a positive integer, got {!r}'
                .format(pieces))
        self.pieces = int(pieces)
        size = self.layer.output_size
        rng = self.layer.rng
        self.slope = _shared(self.layer, 'slope', rng.randn(size, self.pieces))
        self.intercept = _shared(
            self.layer, 'intercept', rng.randn(size, self.pieces))
        self.params.extend([self.slope, self.intercept])

    def __call__(self, x):
        z = x.dimshuffle(*(list(range(x.ndim)) + ['x']))
        return (z * self.slope + self.intercept).max(axis=-1)
