"""The layer base class and the parameter-free structural layers.

:class:`Layer` (defined in :mod:`theanets.layers._layer`, documented and
pickled under this module) is the base class of every layer; see its
docstring for how layers are bound and connected. This module adds the
structural layers: :class:`Input`, :class:`Product`, :class:`Flatten`,
:class:`Concatenate` and :class:`Reshape`.

Layers only build symbolic Theano expressions; nothing here compiles.
"""

from .. import exceptions
from .. import util
from ..backend import TT, SS
from ._layer import Layer, _known_product, _reshaped_to_input

__all__ = ['Layer', 'Input', 'Product', 'Flatten', 'Concatenate', 'Reshape']


class Input(Layer):
    """A layer holding the symbolic variable through which data enters.

    Parameters
    ----------
    name : str, optional
        Name of the layer and of its variable. Default ``'in'``.
    ndim : int, optional
        Number of dimensions of the data including the batch axis: 2 for
        vectors, 3 for sequences, 4 for images. Ignored when ``shape`` is
        given (then ``ndim = 1 + len(shape)``). Default 2.
    sparse : bool or str, optional
        ``True`` or ``'csr'`` for a CSR sparse matrix, ``'csc'`` for a CSC
        sparse matrix (both require ``ndim == 2``). Default dense.
    size : int
        Length of the last axis; the other axes of the shape are unknown.
        Required unless ``shape`` is given.
    shape : tuple, optional
        Full per-example shape.

    The activation is always ``'linear'``.

    Examples
    --------
    >>> from theanets import layers
    >>> layer = layers.Input(size=5, ndim=3, name='x')
    >>> layer.kwargs['shape'], layer.input.ndim, layer.input.name
    ((None, 5), 3, 'x')
    """

    __extra_registration_keys__ = []

    def __init__(self, name='in', ndim=2, sparse=False, **kwargs):
        shape = kwargs.get('shape')
        if shape:
            ndim = 1 + len(shape)
        else:
            if 'size' not in kwargs:
                raise exceptions.MissingSizeError(name)
            kwargs['shape'] = (None, ) * (ndim - 2) + (kwargs.pop('size'), )
        kwargs['activation'] = 'linear'
        super().__init__(name=name, **kwargs)
        if not 0 <= ndim < len(util.FLOAT_CONTAINERS):
            raise IndexError(
                'input layer "{}": ndim must be between 0 and {}, got {}'
                .format(self.name, len(util.FLOAT_CONTAINERS) - 1, ndim))
        if sparse is True or (isinstance(sparse, str) and
                              sparse.lower() in ('csr', 'csc')):
            if ndim != 2:
                raise util.ConfigurationError(
                    'sparse input layer "{}" needs ndim 2, got {}'.format(
                        self.name, ndim))
            if sparse is not True and sparse.lower() == 'csc':
                self.input = SS.csc_matrix('input')
            else:
                self.input = SS.csr_matrix('input')
        else:
            self.input = util.FLOAT_CONTAINERS[ndim](self.name)

    _spec_omits = ('sparse', )

    def get_config(self):
        """Return the configuration, with ``sparse`` (False, 'csr' or 'csc').

        ``ndim`` is not part of it: it follows from ``shape``.

        Examples
        --------
        >>> from theanets import layers
        >>> config = layers.Input(size=5, sparse='csc', name='x').get_config()
        >>> config == {'form': 'input', 'name': 'x', 'shape': (5, ),
        ...            'activation': 'linear', 'sparse': 'csc'}
        True
        """
        config = super().get_config()
        config['sparse'] = getattr(self.input.type, 'format', False)
        return config

    def resolve_inputs(self, layers):
        """An input layer has no inputs to resolve."""

    def resolve_outputs(self):
        """The output shape is the configured ``shape``."""
        self._output_shapes['out'] = tuple(self.kwargs['shape'])

    def transform(self, inputs):
        """Return the input variable (``inputs`` is ignored)."""
        return self.input, []

    def log(self):
        """Log the input's name and shape."""
        util.debug('layer {} "{}" {}', self.__class__.__name__, self.name,
                   self.output_shape)


class Product(Layer):
    """Elementwise product of several inputs of identical shape.

    Keys ``product``, ``prod``. The inputs are multiplied in the order given;
    ``size``/``shape`` are not needed.

    Examples
    --------
    >>> from theanets import layers
    >>> layer = layers.Product(inputs=('a', 'b'), name='p')
    >>> sorted(layer._input_shapes)
    ['a', 'b']
    """

    __extra_registration_keys__ = ['prod']

    def resolve_outputs(self):
        shapes = list(self._input_shapes.values())
        if not shapes or any(
                shape is None or tuple(shape) != tuple(shapes[0])
                for shape in shapes):
            raise util.ConfigurationError(
                'incompatible inputs for product layer "{}": {}'.format(
                    self.name, self._input_shapes))
        self._output_shapes['out'] = tuple(shapes[0])

    def transform(self, inputs):
        names = list(self._input_shapes)
        out = inputs[names[0]]
        for name in names[1:]:
            out = out * inputs[name]
        return out, []


class Flatten(Layer):
    """Flatten all per-example axes of a single input into one.

    Keys ``flatten``, ``flat``. An input of shape ``(13, 15, 7)`` gives an
    output of shape ``(1365,)``; ``size`` is optional but, if given, must
    match.
    """

    __extra_registration_keys__ = ['flat']

    def resolve_outputs(self):
        shape = self.input_shape
        size = _known_product(shape)
        if size is None:
            raise util.ConfigurationError(
                'cannot compute size of flatten layer "{}" from input {}'
                .format(self.name, shape))
        given = self.kwargs.get('size')
        if given and given != size:
            raise util.ConfigurationError(
                'flatten layer "{}" size {} does not match input {}'.format(
                    self.name, (size, ), shape))
        self._output_shapes['out'] = (size, )

    def transform(self, inputs):
        x = self._only_input(inputs)
        return x.reshape((x.shape[0], -1), ndim=2), []

    def _transposed(self, y, input_shape=None):
        return _reshaped_to_input(self, y, input_shape)


class Concatenate(Layer):
    """Concatenate several inputs along their last axis.

    Keys ``concatenate``, ``concat``. Inputs must agree on every axis but the
    last; the output's last axis is the sum of the inputs' last axes (unknown
    if any of them is unknown). ``size`` is not needed.
    """

    __extra_registration_keys__ = ['concat']

    def resolve_outputs(self):
        shapes = [tuple(shape) if shape is not None else None
                  for shape in self._input_shapes.values()]
        if not shapes or any(
                shape is None or len(shape) != len(shapes[0]) or
                shape[:-1] != shapes[0][:-1] for shape in shapes):
            raise util.ConfigurationError(
                'incompatible inputs for concatenate layer "{}": {}'.format(
                    self.name, self._input_shapes))
        lasts = [shape[-1] for shape in shapes]
        size = None if None in lasts else sum(lasts)
        self._output_shapes['out'] = shapes[0][:-1] + (size, )

    def transform(self, inputs):
        xs = [inputs[name] for name in self._input_shapes]
        return TT.concatenate(xs, axis=xs[0].ndim - 1), []


class Reshape(Layer):
    """Reshape a single input to a new per-example shape.

    Key ``reshape``. The ``shape`` keyword (a tuple or list) gives the
    per-example target shape; the batch axis is kept. Unknown entries
    (``None``) in the target are inferred when the graph runs.

    Examples
    --------
    >>> from theanets import layers
    >>> layer = layers.Reshape(inputs='in', shape=(4, 2), name='r')
    >>> layer.to_spec()['shape']
    (4, 2)
    """

    __extra_registration_keys__ = []

    def resolve_outputs(self):
        shape = self.kwargs.get('shape')
        if not isinstance(shape, (tuple, list)):
            raise util.ConfigurationError(
                'reshape layer "{}" has invalid shape {}'.format(
                    self.name, shape))
        shape = tuple(shape)
        insize = _known_product(self.input_shape)
        outsize = _known_product(shape)
        if insize and outsize:
            if insize != outsize:
                raise util.ConfigurationError(
                    'incompatible shapes for reshape layer "{}": input {} <> '
                    'output {}'.format(self.name, self.input_shape, shape))
        else:
            util.debug('reshape layer "{}" has incomplete shape info, we will '
                       'run anyway and hope for the best', self.name)
        self._output_shapes['out'] = shape

    def transform(self, inputs):
        x = self._only_input(inputs)
        dims = [-1 if dim is None else dim for dim in self.output_shape]
        return x.reshape([x.shape[0]] + dims, ndim=1 + len(dims)), []

    def _transposed(self, y, input_shape=None):
        return _reshaped_to_input(self, y, input_shape)
