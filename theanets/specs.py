"""Layer and loss specifications: the first step from a list to a model.

A model is described by a list of layer specifications
(``[10, (20, 'tanh'), dict(size=5, form='rnn'), 3]``) and loss names.
:func:`build_layer` and :func:`build_loss` turn one specification into a
:class:`theanets.layers.Layer` or :class:`theanets.losses.Loss`, given the
layers built before it; :meth:`theanets.Network.add_layer` and
:meth:`theanets.Network.add_loss` append what they return.
"""

import numpy as np

from . import layers
from . import losses
from .exceptions import ConfigurationError

__all__ = ['build_layer', 'build_loss']


def build_layer(spec, previous, input_ndim, rng, **kwargs):
    """Build the layer a specification describes.

    Parameters
    ----------
    spec : int, tuple, dict, str or :class:`theanets.layers.Layer`
        The specification; see :meth:`theanets.Network.add_layer`.
    previous : list of :class:`theanets.layers.Layer`
        The layers already in the network, in order.
    input_ndim : int
        Number of dimensions of a new input layer's variable, unless the
        specification gives a ``shape``.
    rng : int, ``numpy.random.RandomState`` or None
        Generator (or seed) for a new non-input layer's parameters.
    **kwargs
        Default keyword arguments for the layer (the specification wins).

    Returns
    -------
    :class:`theanets.layers.Layer`

    Raises
    ------
    theanets.exceptions.ConfigurationError
        For an unknown layer form, a specification with two sizes, a
        tied layer without a partner, a duplicate input layer name, or a
        non-input layer with no earlier layer.

    Examples
    --------
    >>> first = build_layer(3, [], 2, 13, name='in')
    >>> hidden = build_layer((4, 'tanh'), [first], 2, 13, name='hid1')
    >>> type(hidden).__name__, hidden.kwargs['inputs']
    ('Feedforward', 'in:out')
    """
    if isinstance(spec, layers.Layer):
        return spec

    form = kwargs.pop('form', 'ff' if previous else 'input').lower()

    if isinstance(spec, str):
        if not layers.Layer.is_registered(spec):
            raise ConfigurationError(
                'unknown layer type: {}; known layer types are: {}'.format(
                    spec, ', '.join(sorted(layers.Layer._registry))))
        form = spec
        spec = None

    if isinstance(spec, (tuple, list)) and all(_is_int(x) for x in spec):
        kwargs['shape'] = tuple(int(x) for x in spec)
        spec = None

    if isinstance(spec, (tuple, list)):
        for el in spec:
            if isinstance(el, str) and layers.Layer.is_registered(el):
                form = el
            elif isinstance(el, str):
                kwargs['activation'] = el
            elif _is_int(el):
                if 'size' in kwargs:
                    raise ConfigurationError(
                        'duplicate layer sizes! {}'.format(kwargs))
                kwargs['size'] = int(el)
        spec = None

    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == 'form':
                form = value.lower()
            else:
                kwargs[key] = value
        spec = None

    if 'shape' not in kwargs and 'size' not in kwargs and _is_int(spec):
        kwargs['size'] = int(spec)

    if form.lower() == 'input':
        if 'shape' not in kwargs:
            kwargs.setdefault('ndim', input_ndim)
    else:
        if not previous:
            raise ConfigurationError(
                'a "{}" layer needs an earlier layer to read from, but '
                'the network has no layers yet (the first layer must be '
                'an input layer)'.format(form))
        kwargs.setdefault('inputs', previous[-1].output_name)
        kwargs.setdefault('rng', rng)

    if form.lower() == 'tied' and 'partner' not in kwargs:
        kwargs['partner'] = _tied_partner(previous, kwargs)

    _check_size_keywords(form, kwargs)
    new = layers.Layer.build(form, **kwargs)

    if isinstance(new, layers.Input):
        names = set(layer.input.name for layer in previous
                    if isinstance(layer, layers.Input))
        if new.name in names:
            raise ConfigurationError(
                '"{}": duplicate input name!'.format(new.name))
    return new


def _tied_partner(previous, kwargs):
    """The name of the encoder layer a new tied decoder mirrors.

    Walking back from the newest layer, every tied layer passed on the way
    closes one more encoder layer (so nested tied autoencoders work).
    """
    count = 1
    for earlier in reversed(previous):
        count += 1 if isinstance(earlier, layers.Tied) else -1
        if count == 0:
            return earlier.name
    raise ConfigurationError('cannot find partner for "{}"'.format(kwargs))


def build_loss(loss, previous, input_ndim, **kwargs):
    """Build the loss a specification describes.

    Parameters
    ----------
    loss : str, dict or :class:`theanets.losses.Loss`, optional
        A loss instance is returned as is. Otherwise the registered name of
        the loss (default ``'mse'``), or a dict of loss keyword arguments
        with a ``form`` key naming the loss.
    previous : list of :class:`theanets.layers.Layer`
        The network's layers; the loss reads the last one's output unless
        ``output_name`` is given.
    input_ndim : int
        The default ``target`` (an int target means "create a target
        variable with that many dimensions").
    **kwargs
        Keyword arguments for the loss. A ``form`` keyword overrides
        ``loss``.

    Returns
    -------
    :class:`theanets.losses.Loss`

    Examples
    --------
    >>> type(build_loss('mae', [], 2)).__name__
    'MeanAbsoluteError'
    """
    if isinstance(loss, losses.Loss):
        return loss

    form = loss or 'mse'
    if 'form' in kwargs:
        form = _lower(kwargs.pop('form'))

    kw = dict(target=input_ndim)
    if previous:
        kw['output_name'] = previous[-1].output_name
    kw.update(kwargs)

    if isinstance(loss, dict):
        rest = dict(loss)
        if 'form' not in rest:
            raise ConfigurationError(
                'a loss given as a dict needs a "form" key naming the '
                'loss, got {}'.format(loss))
        form = _lower(rest.pop('form'))
        kw.update(rest)

    return losses.Loss.build(form, **kw)


def _check_size_keywords(form, kwargs):
    """Reject layer sizes and shapes that are not positive integers."""
    size = kwargs.get('size')
    if size is not None and (not _is_int(size) or size <= 0):
        raise ConfigurationError(
            '"{}" layer: size must be a positive integer, got {!r}'.format(
                form, size))
    shape = kwargs.get('shape')
    if shape is not None:
        if not isinstance(shape, (tuple, list)) or not all(
                s is None or (_is_int(s) and s > 0) for s in shape):
            raise ConfigurationError(
                '"{}" layer: shape must be a tuple of positive integers (or '
                'None for unknown lengths), got {!r}'.format(form, shape))


def _is_int(x):
    """True for Python and numpy integers (but not for bools)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _lower(form):
    return form.lower() if isinstance(form, str) else form
