"""The :class:`Layer` base class of every layer.

A layer is created from keyword arguments, *bound* into a network (which
resolves the names of its inputs to shapes, fixes its own output shape, builds
its activation and creates its parameters), and then *connected*: given a dict
of named symbolic outputs produced so far, it returns its own named outputs.

Outputs are named ``'<layer name>:<output>'`` (e.g. ``'hid1:out'``) and
parameters ``'<layer name>.<param>'`` (e.g. ``'hid1.w'``). Shapes are the
shapes of one example, without the leading batch axis.

Layers only build symbolic Theano expressions; nothing here compiles. The
class is documented, imported and pickled as ``theanets.layers.base.Layer``.
"""

import functools
import operator

import numpy as np

from .. import util
from .. import activations
from ..backend import theano, TT

__all__ = ['Layer']

Base = util.Registrar('Base', (), {})


def _known_product(shape):
    """Product of the entries of ``shape``, or None if any entry is None."""
    if shape is None or any(dim is None for dim in shape):
        return None
    return int(functools.reduce(operator.mul, shape, 1))


#: Keyword arguments that seed a layer's random generator; not configuration.
_SEED_KEYWORDS = ('rng', 'nrng')


def _plain_reference(value):
    """A layer given as a configuration value, by its output name.

    Tuples and lists of layers keep their type; other values are returned
    unchanged.
    """
    if isinstance(value, Layer):
        return value.output_name
    if isinstance(value, (tuple, list)) and any(
            isinstance(item, Layer) for item in value):
        return type(value)(_plain_reference(item) for item in value)
    return value


def _reshaped_to_input(layer, y, input_shape=None):
    """``y`` reshaped to the input shape of ``layer``.

    This undoes a layer that only reshapes (the transpose of a reshape is
    the inverse reshape). ``input_shape`` is the symbolic shape of the
    layer's input, if known; without it the per-example input shape may
    have one unknown axis.
    """
    if input_shape is not None:
        return y.reshape(input_shape, ndim=1 + len(layer.input_shape))
    shape = layer.input_shape
    if list(shape).count(None) > 1:
        raise util.ConfigurationError(
            '{} layer "{}" cannot be the partner of a tied layer: its input '
            'shape {} has more than one unknown axis'.format(
                layer.__class__.__name__, layer.name, shape))
    dims = [-1 if dim is None else dim for dim in shape]
    return y.reshape([y.shape[0]] + dims, ndim=1 + len(dims))


class Layer(Base):
    """Base class of all layers.

    Parameters
    ----------
    name : str, optional
        Name of the layer. Defaults to the lower-cased class name followed by
        the value of the process-wide layer counter, e.g. ``'feedforward3'``.
    size : int, optional
        Length of the last axis of the layer's output.
    shape : tuple, optional
        Full per-example output shape; wins over ``size``.
    inputs : str, :class:`Layer` or sequence of these, optional
        Names of the outputs this layer reads: a layer name (``'hid1'``,
        meaning ``'hid1:out'``), a full output name (``'hid1:pre'``) or a
        layer object. Defaults to no inputs.
    activation : str or :class:`theanets.activations.Activation`, optional
        Activation of the layer, built when the layer is bound. Defaults to
        ``'relu'``.
    rng : int, ``numpy.random.RandomState`` or None, optional
        Seed or generator for initial parameter values. An int (or None)
        creates a new ``RandomState``; a ``RandomState`` is shared as is.
        ``nrng`` is accepted as a legacy alias when ``rng`` is absent.
    mean, std, sparsity, diagonal : float, optional
        Initialisation settings for weight matrices; the variants with a
        parameter suffix (``mean_w``, ``std_b``, ...) target one parameter.
        See :meth:`add_weights` and :meth:`add_bias`.

    Notes
    -----
    All keyword arguments except ``name`` are stored unchanged in
    :attr:`kwargs` and interpreted when the layer is bound.

    Attributes
    ----------
    name : str
        Name of the layer.
    kwargs : dict
        The keyword arguments given to the constructor.
    rng : ``numpy.random.RandomState``
        Source of initial parameter values.
    activate : callable
        The activation function; exists after :meth:`bind`.

    Examples
    --------
    >>> from theanets import layers
    >>> layer = layers.Layer.build('ff', size=3, inputs='in', name='hid')
    >>> type(layer).__name__, layer.output_name
    ('Feedforward', 'hid:out')
    """

    #: Number of layers constructed so far in this process (all classes).
    _count = 0

    __extra_registration_keys__ = []

    def __init__(self, name=None, **kwargs):
        Layer._count += 1
        self.name = name or '{}{}'.format(
            self.__class__.__name__.lower(), Layer._count)
        self.kwargs = kwargs
        self.rng = util.as_random_state(
            kwargs['rng'] if 'rng' in kwargs else kwargs.get('nrng'))
        self._params = []
        self._input_shapes = {}
        self._output_shapes = {}
        inputs = kwargs.get('inputs', ())
        if not isinstance(inputs, (tuple, list)):
            inputs = (inputs, )
        for source in inputs:
            if isinstance(source, Layer):
                # A placeholder: binding resolves it by name like a string.
                self._input_shapes[source.output_name] = source
            elif isinstance(source, str):
                self._input_shapes[source] = None
            else:
                raise util.ConfigurationError(
                    'layer "{}": each element of inputs must be a layer name '
                    'or a Layer, got {!r}'.format(self.name, source))

    # -- naming ------------------------------------------------------------

    def _fmt(self, string):
        """Format a parameter name: ``'w'`` becomes ``'<layer name>.w'``."""
        if '{' not in string:
            string = '{}.' + string
        return string.format(self.name)

    def full_name(self, name):
        """Return the full name of output ``name``, ``'<layer name>:<name>'``.

        Examples
        --------
        >>> from theanets import layers
        >>> layers.Input(size=2, name='x').full_name('out')
        'x:out'
        """
        return '{}:{}'.format(self.name, name)

    @property
    def output_name(self):
        """Full name of the default output, ``'<layer name>:out'``."""
        return self.full_name('out')

    # -- shapes ------------------------------------------------------------

    @property
    def input_name(self):
        """Full name of the layer's single input.

        Raises
        ------
        ConfigurationError
            If the layer does not have exactly one input.
        """
        if len(self._input_shapes) != 1:
            raise util.ConfigurationError(
                'expected one input for layer "{}", got {}'.format(
                    self.name, self._input_shapes))
        return list(self._input_shapes)[0]

    @property
    def input_shape(self):
        """Shape of the single input (None until the layer is bound)."""
        return self._input_shapes[self.input_name]

    @property
    def input_size(self):
        """Last-axis length of the single input."""
        shape = self.input_shape
        if shape is None:
            raise util.ConfigurationError(
                'undefined input size for layer "{}"'.format(self.name))
        return shape[-1]

    @property
    def output_shape(self):
        """Per-example shape of the default output ``out``."""
        if 'out' not in self._output_shapes:
            raise util.ConfigurationError(
                'layer "{}" has no output shape: it is not bound yet'.format(
                    self.name))
        return self._output_shapes['out']

    @property
    def output_size(self):
        """Last-axis length of the default output."""
        shape = self.output_shape
        if shape is None:
            raise util.ConfigurationError(
                'undefined output size for layer "{}"'.format(self.name))
        return shape[-1]

    @property
    def input_shapes(self):
        """Map each output name this layer reads to its shape (a copy)."""
        return dict(self._input_shapes)

    @property
    def output_shapes(self):
        """Map each output of this layer (``'out'``, ``'pre'``, …) to its
        per-example shape (a copy)."""
        return dict(self._output_shapes)

    @property
    def params(self):
        """The layer's parameters followed by its activation's parameters."""
        if 'activate' not in self.__dict__:
            raise util.ConfigurationError(
                'layer "{}" has no parameters: it is not bound yet'.format(
                    self.name))
        return self._params + list(getattr(self.activate, 'params', []))

    @property
    def fixed_values(self):
        """Arrays of the layer that are fixed, not learned, by name.

        Some layers hold shared variables that are not parameters (they are
        never trained) but are part of what the layer computes, e.g. the
        random rate vector of an :class:`~theanets.layers.recurrent.RRNN`
        with ``rate='uniform'``. Saving a model keeps them, so a loaded
        model computes exactly what the saved one did. Empty for most
        layers.

        Returns
        -------
        dict
            Maps a short name (``'rate'``) to a Theano shared variable.
        """
        return {}

    # -- binding -----------------------------------------------------------

    def bind(self, graph, reset=True, initialize=True):
        """Finalise the layer inside a network.

        Resolves input names to shapes, computes the output shape, builds the
        activation and (if ``initialize``) creates the parameters, then logs a
        description of the layer.

        Parameters
        ----------
        graph : object with a ``layers`` list
            The network; input names are resolved among ``graph.layers``.
        reset : bool, optional
            Forget previously resolved input and output shapes. Default True.
        initialize : bool, optional
            Create fresh parameters. With False, existing parameters are kept
            untouched (the activation is still rebuilt). Default True.

        Examples
        --------
        >>> from theanets import layers
        >>> from types import SimpleNamespace
        >>> inp = layers.Input(size=4, name='in')
        >>> hid = layers.Feedforward(size=3, inputs='in', name='hid')
        >>> graph = SimpleNamespace(layers=[inp, hid])
        >>> inp.bind(graph); hid.bind(graph)
        >>> hid.output_shape, [p.name for p in hid.params]
        ((3,), ['hid.w', 'hid.b'])
        """
        if reset:
            for key in self._input_shapes:
                self._input_shapes[key] = None
            for key in self._output_shapes:
                self._output_shapes[key] = None
        self.resolve_inputs(graph.layers)
        self.resolve_outputs()
        self.activate = activations.build(
            self.kwargs.get('activation', 'relu'), self)
        if initialize:
            # Binding again with initialize=True replaces the parameters
            # instead of appending a second copy of each.
            self._params = []
            self.setup()
        self.log()

    def resolve_inputs(self, layers):
        """Replace unresolved input names by full output names and shapes.

        Parameters
        ----------
        layers : sequence of :class:`Layer`
            Layers (already bound) among which names are looked up.
        """
        resolved = {}
        for name, shape in self._input_shapes.items():
            if shape is None or isinstance(shape, Layer):
                name, shape = self._resolve_shape(name, layers)
            resolved[name] = shape
        self._input_shapes = resolved

    def _resolve_shape(self, name, layers):
        """Find the layer output called ``name``; return (full name, shape)."""
        layer_name, _, output = name.partition(':')
        matches = [layer for layer in layers if layer.name == layer_name]
        if len(matches) != 1:
            raise util.ConfigurationError(
                'layer "{}" cannot resolve "{}" using {}'.format(
                    self.name, name, [layer.name for layer in layers]))
        layer = matches[0]
        output = output or 'out'
        shapes = layer._output_shapes
        if not shapes:
            raise util.ConfigurationError(
                'layer "{}" cannot resolve "{}": layer "{}" is not bound yet'
                .format(self.name, name, layer.name))
        if output not in shapes:
            raise util.ConfigurationError(
                'layer "{}" cannot resolve "{}": layer "{}" has no shape for '
                'output "{}" (known: {})'.format(
                    self.name, name, layer.name, output, sorted(shapes)))
        return layer.full_name(output), shapes[output]

    def resolve_outputs(self):
        """Compute the output shape from the inputs and ``size``/``shape``.

        All inputs must have the same number of axes and agree on every axis
        but the last (unknown axes are not compared). The output shape is
        ``kwargs['shape']`` if given, else the first input's shape with its
        last axis replaced by ``kwargs['size']``.
        """
        shapes = list(self._input_shapes.values())
        if shapes:
            first = shapes[0]
            for shape in shapes[1:]:
                if len(shape) != len(first) or any(
                        a is not None and b is not None and a != b
                        for a, b in zip(first[:-1], shape[:-1])):
                    raise util.ConfigurationError(
                        'layer "{}" incompatible input shapes {}'.format(
                            self.name, self._input_shapes))
        if self.kwargs.get('shape') is not None:
            self._output_shapes['out'] = self.kwargs['shape']
        elif self.kwargs.get('size') is not None:
            if not shapes:
                raise TypeError(
                    'layer "{}" has no inputs to derive its output shape from '
                    'size={}; give a shape instead'.format(
                        self.name, self.kwargs['size']))
            self._output_shapes['out'] = \
                tuple(shapes[0][:-1]) + (self.kwargs['size'], )
        else:
            raise util.ConfigurationError(
                'layer "{}" does not specify a size'.format(self.name))

    def setup(self):
        """Create the layer's parameters. The base layer has none."""

    # -- parameters --------------------------------------------------------

    def _setting(self, key, name, default, use_global=True):
        """Look up ``key_<name>``, then (optionally) ``key`` in kwargs."""
        specific = '{}_{}'.format(key, name)
        if specific in self.kwargs:
            return self.kwargs[specific]
        if use_global and key in self.kwargs:
            return self.kwargs[key]
        return default

    def add_weights(self, name, nin, nout, mean=0, std=0, sparsity=0,
                    diagonal=0):
        """Create a weight matrix parameter named ``'<layer>.<name>'``.

        Each setting is taken from the layer's kwargs ``<setting>_<name>``,
        else ``<setting>``, else the argument. The default standard deviation
        (``std`` zero and not configured) is ``1 / sqrt(nin + nout)``.

        Parameters
        ----------
        name : str
            Short name of the parameter, e.g. ``'w'``.
        nin, nout : int
            Number of rows and columns.
        mean, std, sparsity, diagonal : float, optional
            Defaults; see :func:`theanets.util.random_matrix`.
        """
        mean = self._setting('mean', name, mean)
        std = self._setting('std', name, std or 1 / np.sqrt(nin + nout))
        sparsity = self._setting('sparsity', name, sparsity)
        diagonal = self._setting('diagonal', name, diagonal)
        value = util.random_matrix(
            nin, nout, mean=mean, std=std, sparsity=sparsity,
            diagonal=diagonal, rng=self.rng)
        self._params.append(theano.shared(value, name=self._fmt(name)))

    def add_bias(self, name, size, mean=0, std=1):
        """Create a bias vector parameter named ``'<layer>.<name>'``.

        Only ``mean_<name>`` and ``std_<name>`` kwargs override the defaults;
        the global ``mean`` and ``std`` apply to weights only, so biases are
        N(0, 1) draws unless configured.

        Parameters
        ----------
        name : str
            Short name of the parameter, e.g. ``'b'``.
        size : int
            Length of the vector.
        mean, std : float, optional
            Defaults 0 and 1.
        """
        mean = self._setting('mean', name, mean, use_global=False)
        std = self._setting('std', name, std, use_global=False)
        value = util.random_vector(size, mean=mean, std=std, rng=self.rng)
        self._params.append(theano.shared(value, name=self._fmt(name)))

    def find(self, key):
        """Return one of the layer's own parameters.

        Parameters
        ----------
        key : int or str
            Index into the layer's parameters, or a short name such as
            ``'w'``.

        Raises
        ------
        KeyError
            If no parameter matches.
        """
        try:
            name = self._fmt(str(key))
        except (IndexError, KeyError, ValueError):
            name = None
        for i, param in enumerate(self._params):
            if key == i or name == param.name:
                return param
        raise KeyError(key)

    # -- graph -------------------------------------------------------------

    def connect(self, inputs):
        """Create the layer's outputs from named input expressions.

        Parameters
        ----------
        inputs : dict
            Symbolic expressions by full output name, e.g. ``{'in:out': x}``.

        Returns
        -------
        outputs : dict
            The layer's symbolic outputs by full name (``'hid:out'``, ...).
        updates : sequence
            Update pairs for the computation (normally empty).
        """
        outputs, updates = self.transform(inputs)
        if isinstance(outputs, dict):
            outputs = sorted(outputs.items())
        elif isinstance(outputs, theano.Variable):
            outputs = [('out', outputs)]
        outs = {self.full_name(name): expr for name, expr in outputs}
        return outs, updates

    def transform(self, inputs):
        """Compute the layer's outputs; implemented by subclasses.

        Parameters
        ----------
        inputs : dict
            Symbolic expressions by full output name.

        Returns
        -------
        outputs : dict, expression, or sequence of (name, expression)
            Outputs by short name; a single expression means ``out``.
        updates : sequence
            Update pairs (normally empty).
        """
        raise NotImplementedError

    def _only_input(self, inputs):
        """The expression of the layer's single input."""
        return inputs[self.input_name]

    # -- tied decoders -----------------------------------------------------

    def _transposed(self, y, input_shape=None):
        """Map ``y`` by the transpose of the layer's linear map of its input.

        A :class:`theanets.layers.Tied` decoder applies this to its input, its
        partner being this layer; the bias and activation are the decoder's.
        The base rule multiplies by the transpose of the weight ``w``.

        Parameters
        ----------
        y : tensor
            Data shaped like this layer's output.
        input_shape : symbolic shape, optional
            Shape of this layer's input in the graph (batch axis first), if
            known; layers whose input shape has unknown axes use it.

        Raises
        ------
        theanets.util.ConfigurationError
            If the layer has no weight that a tied decoder can transpose.
        """
        return TT.dot(y, self._tied_weight('w').T)

    def _tied_weight(self, name):
        """The weight ``name``, checked to map the input to the output."""
        expected = (self.input_size, self.output_size)
        try:
            weight = self.find(name)
        except KeyError:
            found = 'none'
        else:
            found = 'shape {}'.format(weight.get_value(borrow=True).shape)
            if weight.get_value(borrow=True).shape == expected:
                return weight
        raise util.ConfigurationError(
            '{} layer "{}" cannot be the partner of a tied layer: that needs '
            'a weight "{}" of shape {} (input size, output size), found {}'
            .format(self.__class__.__name__, self.name, self._fmt(name),
                    expected, found))

    # -- description -------------------------------------------------------

    def _activation_name(self):
        return getattr(self.activate, 'name', self.activate)

    def _inputs_description(self):
        return ', '.join('"{}" {}'.format(name, shape)
                         for name, shape in self._input_shapes.items())

    def log(self):
        """Log the layer's configuration and parameters."""
        util.debug('layer {} "{}" {} {} from {}', self.__class__.__name__,
                   self.name, self.output_shape, self._activation_name(),
                   self._inputs_description())
        util.debug('learnable parameters: {}', self.log_params())

    def log_params(self):
        """Log each parameter's name and shape; return the total size."""
        total = 0
        for param in self.params:
            shape = param.get_value(borrow=True).shape
            util.debug('parameter "{}" {}', param.name, shape)
            total += int(np.prod(shape))
        return total

    # -- configuration -----------------------------------------------------

    #: Keys of :meth:`get_config` that :meth:`to_spec` leaves out, as the
    #: ``to_spec`` of theanets 0.8 did for this class.
    _spec_omits = ()

    def get_config(self):
        """Return the layer's configuration: what rebuilds an equivalent layer.

        The result is a new dict of constructor keyword arguments: ``form``
        (the lower-cased class name, a registry key), ``name``,
        ``activation`` and every other keyword the layer was given (size,
        shape, inputs, initialisation settings such as ``std_w``, ...), plus
        the options a subclass keeps as attributes (a tied layer's
        ``partner``, a convolution's ``filter_size``, a recurrent layer's
        ``h_0``, ...). Layers named in it (inputs, initial states) appear by
        name. The random seed (``rng``) is not configuration and is left
        out; pass it again when rebuilding to get the same initial values.

        Subclasses with their own constructor options extend this method.

        Returns
        -------
        dict
            ``Layer.from_config(config)``, i.e. ``Layer.build(form,
            **rest)``, builds an equivalent (unbound) layer from it.

        Examples
        --------
        >>> from theanets import layers
        >>> layer = layers.Feedforward(size=3, inputs='in', name='hid',
        ...                            std=0.1, rng=13)
        >>> config = layer.get_config()
        >>> sorted(config.items())  # doctest: +NORMALIZE_WHITESPACE
        [('activation', 'relu'), ('form', 'feedforward'), ('inputs', 'in'),
         ('name', 'hid'), ('size', 3), ('std', 0.1)]
        >>> layers.Layer.from_config(config, rng=13).get_config() == config
        True
        """
        config = {key: _plain_reference(value)
                  for key, value in self.kwargs.items()
                  if key not in _SEED_KEYWORDS}
        config.update(form=self.__class__.__name__.lower(), name=self.name,
                      activation=self.kwargs.get('activation', 'relu'))
        return config

    @classmethod
    def from_config(cls, config, **kwargs):
        """Build a layer from a configuration made by :meth:`get_config`.

        Parameters
        ----------
        config : dict
            The configuration; its ``form`` names the registered layer class.
        **kwargs
            More keyword arguments for the constructor, e.g. ``rng``; they
            win over entries of ``config``.

        Returns
        -------
        :class:`Layer`
            A new, unbound layer.

        Raises
        ------
        theanets.util.ConfigurationError
            If ``config`` has no ``form``, or the form is not registered.
        """
        arguments = dict(config)
        arguments.update(kwargs)
        form = arguments.pop('form', None)
        if not isinstance(form, str):
            raise util.ConfigurationError(
                'a layer configuration needs a "form" naming a layer class, '
                'got {!r} in {}'.format(form, config))
        return Layer.build(form, **arguments)

    def clone(self, **kwargs):
        """Return a new, unbound layer configured like this one.

        The clone gets this layer's configuration (:meth:`get_config`) and
        its ``rng`` keyword: with an int seed it starts from the initial
        values this layer started from; a ``RandomState`` is shared. It has
        fresh parameters once bound.

        Parameters
        ----------
        **kwargs
            Constructor keyword arguments that replace configured ones.

        Examples
        --------
        >>> from theanets import layers
        >>> layer = layers.Feedforward(size=3, inputs='in', name='hid',
        ...                            rng=13)
        >>> copy = layer.clone(name='other')
        >>> copy.name, copy.kwargs['rng'], copy.kwargs['size']
        ('other', 13, 3)
        """
        arguments = self.seed_arguments()
        arguments.update(kwargs)
        return Layer.from_config(self.get_config(), **arguments)

    def to_spec(self):
        """Return a dict that :meth:`build` can recreate this layer from.

        This is the theanets 0.8 view of :meth:`get_config`: the same dict,
        plus the ``rng`` keyword if one was given, minus the options that
        0.8 left out for some classes (a convolution's ``filter_size``,
        ``stride`` and ``border_mode``, a rate layer's ``rate``, an input's
        ``sparse``). Use :meth:`get_config` to rebuild layers faithfully.

        Examples
        --------
        >>> from theanets import layers
        >>> layer = layers.Feedforward(size=7, name='l', inputs='in')
        >>> layer.to_spec() == {'form': 'feedforward', 'name': 'l', 'size': 7,
        ...                     'inputs': 'in', 'activation': 'relu'}
        True
        """
        spec = self.get_config()
        for key in self._spec_omits:
            spec.pop(key, None)
        spec.update(self.seed_arguments())
        return spec

    def seed_arguments(self):
        """The random-seed keywords (``rng``, ``nrng``) this layer was given.

        They are not configuration (:meth:`get_config` leaves them out), but
        :meth:`clone`, :meth:`to_spec` and saving pass them on.
        """
        return {key: self.kwargs[key] for key in _SEED_KEYWORDS
                if key in self.kwargs}

    def __repr__(self):
        return '<{} "{}">'.format(self.__class__.__name__, self.name)


# Pickles and the documentation name the class by its public module.
Layer.__module__ = 'theanets.layers.base'
