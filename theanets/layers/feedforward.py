"""Feed-forward layers: affine maps of their inputs followed by an activation.

Each layer exposes two outputs: ``pre``, the affine "pre-activation", and
``out``, the activation applied to it.
"""

from .. import util
from .base import Layer
from ..backend import TT, SS

__all__ = ['Feedforward', 'Classifier', 'Tied']


class Feedforward(Layer):
    """A fully connected layer, ``out = g(sum_i x_i W_i + b)``.

    Keys ``feedforward``, ``ff``. One weight matrix per input, of shape
    ``(input size, n)``, named ``w`` for a single input and
    ``w_<input full name>`` (e.g. ``w_hid1:out``) for several, followed by a
    bias ``b`` of shape ``(n,)``. Inputs with more than two axes are mapped
    position by position along their last axis; a sparse input is multiplied
    with a structured sparse-dense product.

    Parameters
    ----------
    size : int
        Number of units ``n``.
    inputs : str or sequence of str
        Inputs of the layer.
    **kwargs
        Other :class:`theanets.layers.Layer` keyword arguments.

    Examples
    --------
    >>> from theanets import layers
    >>> from types import SimpleNamespace
    >>> inp = layers.Input(size=3, name='in')
    >>> hid = layers.Feedforward(size=2, inputs='in', name='hid', rng=13)
    >>> graph = SimpleNamespace(layers=[inp, hid])
    >>> inp.bind(graph); hid.bind(graph)
    >>> [(p.name, p.get_value().shape) for p in hid.params]
    [('hid.w', (3, 2)), ('hid.b', (2,))]
    """

    __extra_registration_keys__ = ['ff']

    def _weight_name(self, input_name):
        if len(self._input_shapes) == 1:
            return 'w'
        return 'w_' + input_name

    def setup(self):
        for name, shape in self._input_shapes.items():
            self.add_weights(self._weight_name(name), shape[-1],
                             self.output_size)
        self.add_bias('b', self.output_size)

    def transform(self, inputs):
        terms = []
        for name in self._input_shapes:
            x = inputs[name]
            w = self.find(self._weight_name(name))
            if isinstance(x, SS.SparseVariable):
                terms.append(SS.structured_dot(x, w))
            else:
                terms.append(TT.dot(x, w))
        pre = terms[0]
        for term in terms[1:]:
            pre = pre + term
        pre = pre + self.find('b')
        return dict(pre=pre, out=self.activate(pre)), []


class Classifier(Feedforward):
    """A feed-forward layer whose activation is always ``'softmax'``.

    Keys ``classifier``, ``softmax``. Any ``activation`` given is replaced.

    Examples
    --------
    >>> from theanets import layers
    >>> layers.Classifier(size=4, inputs='in', activation='tanh',
    ...                   name='c').kwargs['activation']
    'softmax'
    """

    __extra_registration_keys__ = ['softmax']

    def __init__(self, **kwargs):
        kwargs['activation'] = 'softmax'
        super().__init__(**kwargs)


class Tied(Layer):
    """A decoder using the transpose of a partner layer's weights.

    Key ``tied``. ``out = g(x W_p^T + b)`` where ``W_p`` is the weight ``w``
    of the partner layer; the only parameter of this layer is the bias ``b``
    whose length is the partner's input size; the layer's output shape is
    the partner's input shape.

    Other partners are decoded by the transpose of their linear input map
    as well: a recurrent layer by its input weight ``xh`` (when it maps the
    input size to the layer size, as in ``rnn``, ``rrnn``, ``mrnn``,
    ``clockwork``), a convolution by the transposed convolution with its
    filters, and a ``flatten`` or ``reshape`` layer by reshaping back to its
    input shape.

    Parameters
    ----------
    partner : str or :class:`theanets.layers.Layer`
        The layer (or its name) whose weights are reused. It must have a
        single input and a parameter ``w`` (or be one of the layers above).
    inputs : str
        The single (dense) input of the layer.
    **kwargs
        Other :class:`theanets.layers.Layer` keyword arguments; ``size`` and
        ``shape`` are ignored.

    Examples
    --------
    >>> from theanets import layers
    >>> from types import SimpleNamespace
    >>> inp = layers.Input(size=3, name='in')
    >>> enc = layers.Feedforward(size=2, inputs='in', name='enc')
    >>> dec = layers.Tied(partner='enc', inputs='enc', name='dec')
    >>> graph = SimpleNamespace(layers=[inp, enc, dec])
    >>> for layer in graph.layers: layer.bind(graph)
    >>> dec.partner is enc, dec.output_shape, [p.name for p in dec.params]
    (True, (3,), ['dec.b'])
    """

    __extra_registration_keys__ = []

    def __init__(self, partner, **kwargs):
        self.partner = partner
        kwargs['size'] = kwargs['shape'] = None
        if isinstance(partner, Layer):
            kwargs['shape'] = partner.input_shape
        super().__init__(**kwargs)

    def resolve_inputs(self, layers):
        super().resolve_inputs(layers)
        if isinstance(self.partner, str):
            matches = [layer for layer in layers
                       if layer.name == self.partner]
            if len(matches) != 1:
                raise util.ConfigurationError(
                    'tied layer "{}": cannot find partner "{}"'.format(
                        self.name, self.partner))
            self.partner = matches[0]

    def resolve_outputs(self):
        self._output_shapes['out'] = self.partner.input_shape

    def setup(self):
        self.add_bias('b', self.partner.input_size)

    def transform(self, inputs):
        x = self._only_input(inputs)
        # The partner's input, when in the graph, fixes the shape of the
        # decoded data (a strided convolution alone leaves it ambiguous).
        names = list(self.partner._input_shapes)
        source = inputs.get(names[0]) if len(names) == 1 else None
        shape = None if source is None else source.shape
        pre = self.partner._transposed(x, shape) + self.find('b')
        return dict(pre=pre, out=self.activate(pre)), []

    def log(self):
        """Log the layer's configuration, naming its partner."""
        util.debug('layer {} "{}" (tied to "{}") {} {} from {}',
                   self.__class__.__name__, self.name, self.partner.name,
                   self.output_shape, self._activation_name(),
                   self._inputs_description())
        util.debug('learnable parameters: {}', self.log_params())

    def get_config(self):
        """Return the configuration, with the partner's name."""
        config = super().get_config()
        config['partner'] = getattr(self.partner, 'name', self.partner)
        return config
