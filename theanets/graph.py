"""The :class:`Network` base class: layers, losses, graphs and training.

A network is a list of layers (connected by name into a computation graph)
plus a list of losses. This module turns layer specifications into layer
objects, builds and caches the symbolic graph and compiles the functions
used for prediction. The rest of a model's work is done by small services
that take a network: :mod:`theanets.validation` checks data,
:mod:`theanets.training` runs the training loop (with the trainers of
:mod:`theanets.trainer` and the options of :mod:`theanets.options`),
:mod:`theanets.summary` describes the model and :mod:`theanets.saving`
writes and reads model files.
"""

import collections
import hashlib
import threading

import numpy as np

from . import backend
from . import layers
from . import regularizers
from . import saving
from . import specs
from . import summary
from . import training
from . import util
from . import validation
from .backend import theano, TT, COMPILE_LOCK
from . import exceptions
from .exceptions import DataError  # noqa: F401  (graph.DataError, as before)

__all__ = ['Network']


def _call_rows(fn, arrays, pad):
    """``fn``'s outputs for ``arrays`` (one chunk of rows), or None if an
    output has no example axis. With ``pad``, the rows are first padded
    with zeros to the next power of two and the outputs cut back."""
    rows = arrays[0].shape[0]
    length = 1 << max(rows - 1, 0).bit_length() if pad else rows
    if length != rows:
        arrays = [np.concatenate(
            [a, np.zeros((length - rows, ) + a.shape[1:], a.dtype)])
            for a in arrays]
    outputs = fn(*arrays)
    if any(np.shape(r)[:1] != (length, ) for r in outputs):
        return None
    if length == rows:
        return outputs
    # cut as ndarrays: slicing JAX's arrays compiles a slice per length
    return [util.as_ndarray(r)[:rows] for r in outputs]

class LRUCache(collections.OrderedDict):
    """A dict that keeps only its ``maxsize`` most recently used entries.

    Reading an entry (``cache[key]`` or :meth:`get`) makes it the most
    recent; adding one beyond ``maxsize`` drops the least recently used.

    Examples
    --------
    >>> cache = LRUCache(2)
    >>> cache['a'], cache['b'] = 1, 2
    >>> _ = cache['a']
    >>> cache['c'] = 3
    >>> list(cache)
    ['a', 'c']
    """

    def __init__(self, maxsize):
        super().__init__()
        self.maxsize = maxsize

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


class Network(summary.SummaryMixin, saving.SavingMixin,
              training.TrainingMixin):
    """A neural network: layers connected into a graph, plus losses.

    Parameters
    ----------
    layers : sequence of layer specifications
        One entry per layer, in order. The first entry becomes an input
        layer named ``'in'``, the last one is named ``'out'``, the ones in
        between ``'hid1'``, ``'hid2'``, … . An entry can be a
        :class:`theanets.layers.Layer`, an int (the layer size), a tuple of
        ints (the layer shape), a tuple mixing a size, a layer form name and
        an activation name (``(10, 'tanh')``, ``(8, 'rnn')``), a dict of
        layer keyword arguments (``dict(size=3, inputs=('in', 'hid1'))``,
        with an optional ``form``), or a registered layer form name
        (``'flat'``). See :meth:`add_layer`.
    loss : str, optional
        Name of the loss to install for the output layer. Defaults to
        ``'mse'``.
    weighted : bool, optional
        If True, the loss expects an array of per-value weights in the
        training data. Defaults to False.
    rng : int or ``numpy.random.RandomState``, optional
        Seed (or generator) for parameter initialisation and for training
        noise. With an int, every layer gets its own generator seeded with
        it. Defaults to 13.

    Attributes
    ----------
    layers : list of :class:`theanets.layers.Layer`
        The layers of the network, in order.
    losses : list of :class:`theanets.losses.Loss`
        The losses that make up the training objective.

    Notes
    -----
    A model can be used from several threads: predictions (``predict``,
    ``feed_forward``, ``score``, ...) from any number of threads at once
    give the answers they give serially, and separate models can be trained
    in separate threads. One model cannot be trained by two threads at once
    (the second raises :class:`theanets.util.TrainingError`). See the user
    guide's section on threads.

    Compiled functions (one per graph and set of requested outputs, e.g.
    for each distinct regularizer value passed to ``predict``) and graphs
    are kept in least-recently-used caches of :attr:`function_cache_size`
    entries each.

    Examples
    --------
    >>> net = theanets.Network([4, (3, 'tanh'), 2])
    >>> [layer.name for layer in net.layers]
    ['in', 'hid1', 'out']
    >>> [p.name for p in net.params]
    ['hid1.w', 'hid1.b', 'out.w', 'out.b']
    >>> [v.name for v in net.variables]
    ['in', 'target']
    """

    #: Default activation for the last layer of a layer list.
    DEFAULT_OUTPUT_ACTIVATION = 'linear'

    #: Number of dimensions of input variables (and of the default loss
    #: target created by :meth:`add_loss`).
    INPUT_NDIM = 2

    #: Number of dimensions of the default loss target.
    OUTPUT_NDIM = 2

    #: How many compiled functions (and, separately, graphs) a model keeps;
    #: the least recently used one is dropped to make room for a new one.
    function_cache_size = 32

    def __init_subclass__(cls, **kwargs):
        # theanets' own model classes may be named by .npz files; others
        # must be registered explicitly (theanets.util.register_model).
        super().__init_subclass__(**kwargs)
        if cls.__module__.split('.')[0] == 'theanets':
            util.register_model(cls)

    def __init__(self, layers=(), loss='mse', weighted=False, rng=13):
        if isinstance(rng, int) and not isinstance(rng, bool) and \
                not 0 <= rng < 2 ** 32:
            raise exceptions.ConfigValueError(
                'rng: expected an int seed in [0, 2**32), None or a '
                'numpy.random.RandomState, got {!r}'.format(rng))
        if not (rng is None or isinstance(rng, np.random.RandomState) or
                (isinstance(rng, int) and not isinstance(rng, bool))):
            raise util.ConfigurationError(
                'rng: expected an int seed, None or a numpy.random.'
                'RandomState, got {!r} of type {}'.format(
                    rng, type(rng).__name__))
        if isinstance(layers, (str, bytes, dict)) or \
                not hasattr(layers, '__iter__'):
            raise util.ConfigurationError(
                'layers: expected a sequence of layer specifications (e.g. '
                '[4, (3, "tanh"), 2]), got {!r}'.format(layers))
        self._reset_caches()
        self._rng = rng
        self.layers = []
        specs = list(layers)
        for i, spec in enumerate(specs):
            last = i == len(specs) - 1
            if i == 0:
                name = 'in'
            elif last:
                name = 'out'
            else:
                name = 'hid{}'.format(i)
            activation = self.DEFAULT_OUTPUT_ACTIVATION if last else 'relu'
            self.add_layer(layer=spec, name=name, activation=activation)
        for layer in self.layers:
            layer.bind(self)
        self.losses = []
        if loss and self.layers:
            self.set_loss(loss, weighted=weighted, target=self.OUTPUT_NDIM,
                          output_name=self.layers[-1].output_name)

    # ------------------------------------------------------------------
    # building the network

    def add_layer(self, layer=None, **kwargs):
        """Add a layer to the network.

        The new layer is appended to :attr:`layers`. Layers added after the
        network was constructed are not bound; call ``layer.bind(network)``
        before using the network.

        Parameters
        ----------
        layer : int, tuple, dict, str or :class:`theanets.layers.Layer`
            The layer specification:

            - a ``Layer`` instance is appended as is;
            - an int gives the layer ``size``;
            - a tuple of ints gives the layer ``shape``;
            - another tuple may hold an int (the size), a registered layer
              form (``'rnn'``, ``'tied'``, ``'softmax'``, …) and any other
              string, which is taken as the activation;
            - a dict gives keyword arguments for the layer, with an optional
              ``form`` key;
            - a string names a layer form (``'flat'``).

            The first layer of a network defaults to the ``'input'`` form,
            later ones to ``'ff'``. Non-input layers read from the previous
            layer unless ``inputs`` is given, and get the network's ``rng``.
            A ``'tied'`` layer without a ``partner`` is paired with the
            matching earlier layer (nested tied autoencoders work).
        **kwargs
            Default keyword arguments for the layer (the specification wins).

        Raises
        ------
        theanets.util.ConfigurationError
            For an unknown layer form, a specification with two sizes, a
            tied layer without a partner, a duplicate input layer name, or a
            non-input layer added to an empty network.

        Examples
        --------
        >>> net = theanets.Network([3])
        >>> net.add_layer((4, 'tanh'), name='extra')
        >>> net.layers[-1].kwargs['inputs'], net.layers[-1].kwargs['activation']
        ('in:out', 'tanh')
        """
        self.layers.append(specs.build_layer(
            layer, self.layers, self.INPUT_NDIM, self._rng, **kwargs))

    def add_loss(self, loss=None, **kwargs):
        """Add a loss to the network's training objective.

        Parameters
        ----------
        loss : str, dict or :class:`theanets.losses.Loss`, optional
            A loss instance is added as is. Otherwise the registered name of
            the loss (default ``'mse'``), or a dict of loss keyword arguments
            with a ``form`` key naming the loss.
        **kwargs
            Keyword arguments for the loss. ``target`` defaults to
            :attr:`INPUT_NDIM` (an int target means "create a target
            variable with that many dimensions"), ``output_name`` to the
            last layer's output. A ``form`` keyword overrides ``loss``.

        Notes
        -----
        When the new loss creates a ``'target'`` or ``'weights'`` variable
        while the network already has a variable of that name, the existing
        variable is used instead, so one data array feeds every loss (for
        example ``net.add_loss('mse', weight=0.1, target=2)`` on a regressor).

        Raises
        ------
        theanets.util.ConfigurationError
            For an unknown loss name, a dict without ``form``, or a new
            variable that clashes in type with an existing variable of the
            same name.

        Examples
        --------
        >>> net = theanets.Regressor([3, 4, 2])
        >>> net.add_loss('mae', weight=0.5, target=2)
        >>> [type(loss).__name__ for loss in net.losses]
        ['MeanSquaredError', 'MeanAbsoluteError']
        >>> [v.name for v in net.variables]
        ['in', 'target']
        """
        new = specs.build_loss(loss, self.layers, self.INPUT_NDIM, **kwargs)
        self._share_loss_variables(new)
        self.losses.append(new)

    def _share_loss_variables(self, loss):
        """Make a new loss use existing variables of the same name."""
        existing = {v.name: v for v in self.variables}
        for attr in ('_target', '_weights'):
            var = getattr(loss, attr, None)
            if var is None or var.name not in existing:
                continue
            old = existing[var.name]
            if old is var:
                continue
            if old.type != var.type:
                raise util.ConfigurationError(
                    'loss {} variable "{}" has type {} but the network '
                    'already has a variable "{}" of type {}; give the loss '
                    'a target of the same type'.format(
                        type(loss).__name__, var.name, var.type, old.name,
                        old.type))
            setattr(loss, attr, old)

    def set_loss(self, *args, **kwargs):
        """Replace all losses of the network by a new one.

        Takes the same arguments as :meth:`add_loss`.

        Examples
        --------
        >>> net = theanets.Regressor([3, 4, 2])
        >>> net.set_loss('mae', target=2)
        >>> [type(loss).__name__ for loss in net.losses]
        ['MeanAbsoluteError']
        """
        self.losses = []
        self.add_loss(*args, **kwargs)

    # ------------------------------------------------------------------
    # introspection

    @property
    def inputs(self):
        """The symbolic input variables of the network, in layer order."""
        return [layer.input for layer in self.layers
                if isinstance(layer, layers.Input)]

    @property
    def variables(self):
        """The symbolic variables that training data must supply, in order.

        The network inputs, then each loss's target and weights, skipping
        any variable whose name was already listed. Training data give one
        array per variable, in this order.
        """
        result = list(self.inputs)
        seen = set(v.name for v in result)
        for loss in self.losses:
            for var in loss.variables:
                if var.name not in seen:
                    result.append(var)
                    seen.add(var.name)
        return result

    @property
    def params(self):
        """The learnable parameters of all layers, in layer order."""
        return [param for layer in self.layers for param in layer.params]

    def find(self, which, param):
        """Get a parameter of a layer.

        Parameters
        ----------
        which : int or str
            Index or name of the layer.
        param : int or str
            Index or short name (``'w'``) of the parameter in that layer.

        Returns
        -------
        shared variable

        Raises
        ------
        KeyError
            If there is no such layer or parameter.

        Examples
        --------
        >>> net = theanets.Regressor([2, 3, 1])
        >>> net.find('hid1', 'w').name, net.find(2, 0).name
        ('hid1.w', 'out.w')
        """
        for i, layer in enumerate(self.layers):
            if which == i or which == layer.name:
                return layer.find(param)
        raise KeyError(which)

    # ------------------------------------------------------------------
    # symbolic graph

    def _hash(self, regularizers=()):
        """A key identifying the graph for the current layers and losses."""
        parts = ['{}{}{}'.format(type(layer).__name__, layer.name,
                                 layer.output_shape) for layer in self.layers]
        parts.extend('{}{}'.format(type(loss).__name__, loss.weight)
                     for loss in self.losses)
        parts.extend('{}{}{}'.format(type(reg).__name__, reg.weight,
                                     reg.pattern) for reg in regularizers)
        return hashlib.md5(''.join(parts).encode('utf-8')).hexdigest()

    def build_graph(self, regularizers=()):
        """Connect the layers into a computation graph.

        Graphs are cached: the same layers, losses and regularizers give back
        the same graph.

        Parameters
        ----------
        regularizers : sequence of :class:`theanets.regularizers.Regularizer`
            Regularizers that may modify layer outputs (noise, dropout).

        Returns
        -------
        outputs : dict
            Maps each output name (``'hid1:out'``, ``'hid1:pre'``, …) to its
            symbolic expression, in layer order.
        updates : list
            Updates to run with the graph (from recurrent layers).

        Examples
        --------
        >>> net = theanets.Autoencoder([4, 3, 4])
        >>> outputs, updates = net.build_graph()
        >>> list(outputs)
        ['in:out', 'hid1:out', 'hid1:pre', 'out:out', 'out:pre']
        """
        key = self._hash(regularizers)
        with COMPILE_LOCK:
            return self._build_graph(key, regularizers)

    def _build_graph(self, key, regularizers):
        cached = self._graphs.get(key)
        if cached is None:
            util.debug('building computation graph')
            for loss in self.losses:
                loss.log()
            for reg in regularizers:
                reg.log()
            outputs = {}
            updates = []
            for layer in self.layers:
                out, upd = layer.connect(outputs)
                for reg in regularizers:
                    reg.modify_graph(out)
                outputs.update(out)
                updates.extend(upd)
            cached = self._graphs[key] = outputs, updates
        return cached

    def loss(self, **kwargs):
        """The regularized training loss, as a symbolic scalar.

        Parameters
        ----------
        **kwargs
            Regularizer keywords (``weight_l2``, ``hidden_dropout``, …), see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        Theano scalar
            The weighted sum of the losses plus the weighted regularizer
            penalties.
        """
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        return sum(loss.weight * loss(outputs) for loss in self.losses) + \
            sum(reg.weight * reg.loss(self.layers, outputs) for reg in regs)

    def monitors(self, **kwargs):
        """Named expressions to compute while training.

        Parameters
        ----------
        monitors : dict or sequence of (pattern, levels), optional
            Extra monitors. ``pattern`` is a glob matched against output
            names (``'hid1:out'``) and then parameter names (``'*.w'``);
            ``levels`` is a number or a sequence of numbers (monitor the
            fraction of values below each), or ``(label, callable)`` pairs
            or a dict of them (monitor ``callable(expression)``).
        **kwargs
            Regularizer keywords, as for :meth:`loss`.

        Returns
        -------
        list of (str, expression)
            ``('err', <first loss>)`` first, then the extra monitors named
            like ``'hid1:out<0.1'`` or ``'hid1:out:label'``.

        Examples
        --------
        >>> net = theanets.Regressor([3, 4, 2])
        >>> [name for name, _ in net.monitors(monitors={'*.w': (0, 1)})]
        ['err', 'hid1.w<0', 'hid1.w<1', 'out.w<0', 'out.w<1']
        """
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        monitors = [('err', self.losses[0](outputs))]

        spec = kwargs.get('monitors', {})
        if isinstance(spec, dict):
            spec = spec.items()
        for pattern, levels in spec:
            matches = list(util.outputs_matching(outputs, pattern)) + \
                list(util.params_matching(self.layers, pattern))
            for name, expr in matches:
                for suffix, fn in _monitor_levels(levels):
                    monitors.append((name + suffix, fn(expr)))
        return monitors

    def updates(self, **kwargs):
        """Updates to run with the graph during training (a list).

        Examples
        --------
        >>> theanets.Regressor([3, 2]).updates()
        []
        """
        regs = regularizers.from_kwargs(self, **kwargs)
        return self.build_graph(regs)[1]

    # ------------------------------------------------------------------
    # evaluation

    def feed_forward(self, x, **kwargs):
        """Compute every output of the network for some input data.

        Parameters
        ----------
        x : ndarray or scipy.sparse matrix
            Input data, one example per row (for recurrent models, shape
            ``(examples, time, features)``). For a network with several input
            layers, a list with one array per input layer, in layer order.
        **kwargs
            Regularizer keywords (e.g. ``hidden_dropout=0.5``), applied to the
            graph used for this computation.

        Returns
        -------
        dict
            Maps every output name (``'in:out'``, ``'hid1:pre'``,
            ``'hid1:out'``, …) to a numpy array.

        Raises
        ------
        DataError
            If ``x`` does not fit the network inputs.
        """
        arrays = validation.check_inputs(self, x)
        labels = list(self.build_graph(
            regularizers.from_kwargs(self, **kwargs))[0])
        return dict(zip(labels, self._compute(arrays, labels, **kwargs)))

    #: Examples per call of a compiled prediction function. Larger inputs are
    #: computed in consecutive chunks of this many rows, which keeps the
    #: intermediate activations in the CPU cache and bounds their memory.
    predict_chunk_size = 1024

    def _compute(self, arrays, names, **kwargs):
        """Compute the outputs ``names`` for validated input ``arrays``.

        One function is compiled per graph and set of requested outputs; a
        function already compiled for all outputs (by :meth:`feed_forward`)
        serves any subset. Without regularizers (whose random draws depend
        on the call), inputs longer than :attr:`predict_chunk_size` are
        computed chunk by chunk.
        """
        regs = regularizers.from_kwargs(self, **kwargs)
        key = self._hash(regs)
        with COMPILE_LOCK:
            outputs, updates = self._build_graph(key, regs)
            everything = (key, tuple(outputs))
            fn = self._functions.get(everything)
            if fn is not None:
                picked = [list(outputs).index(name) for name in names]
            else:
                wanted = (key, tuple(names))
                fn = self._functions.get(wanted)
                if fn is None:
                    util.debug('compiling {} function'.format(
                        'feed_forward' if wanted == everything else
                        'prediction ({})'.format(', '.join(names))))
                    fn = self._functions[wanted] = theano.function(
                        self.inputs, [outputs[name] for name in names],
                        updates=updates)
                picked = range(len(names))
        with self._call_lock:
            results = self._call_in_chunks(fn, arrays, regs or updates)
        return [results[j] for j in picked]

    def _call_in_chunks(self, fn, arrays, whole):
        """Call ``fn`` on ``arrays``, chunk by chunk unless ``whole``.

        Where compiled functions are specialised to their inputs' shapes
        (PyTensor's JAX linker), chunks of ndarrays are padded to a power
        of two rows, so that predictions on any number of rows compile a
        few functions, not one per row count."""
        def at_once():
            return [util.as_ndarray(r) for r in fn(*arrays)]

        if whole:
            return at_once()
        rows = arrays[0].shape[0]
        size = self.predict_chunk_size
        pad = (backend.compiles_per_shape()
               and all(isinstance(a, np.ndarray) for a in arrays))
        if rows <= size and not pad:
            return at_once()
        chunks = []
        for start in range(0, rows, size):
            part = _call_rows(fn, [a[start:start + size] for a in arrays],
                              pad)
            if part is None:
                return at_once()  # an output without an example axis
            chunks.append(part)
        if len(chunks) == 1:
            return [util.as_ndarray(r) for r in chunks[0]]
        return [np.concatenate([c[j] for c in chunks])
                for j in range(len(chunks[0]))]

    def _compute_one(self, x, name, **kwargs):
        """Validate ``x`` and compute the single output ``name``."""
        return self._compute(validation.check_inputs(self, x), [name], **kwargs)[0]

    def predict(self, x, **kwargs):
        """Compute the output of the network's last layer.

        Parameters
        ----------
        x : ndarray
            Input data, examples along the first axis: ``(examples,
            features)``, for recurrent models ``(examples, time,
            features)``, for convolutional ones ``(examples, width, height,
            channels)``.
        **kwargs
            Regularizer keywords, as for :meth:`feed_forward`.

        Returns
        -------
        ndarray
            The last layer's ``out`` output, examples first, e.g. of shape
            ``(examples, outputs)`` (``(examples, time, outputs)`` for a
            recurrent model).
        """
        return self._compute_one(x, self.layers[-1].output_name, **kwargs)

    def score(self, x, y, w=None, **kwargs):
        """Compute the (weighted) coefficient of determination R².

        Parameters
        ----------
        x : ndarray
            Input data.
        y : ndarray
            Target values, shaped like the predictions.
        w : ndarray, optional
            Weights, shaped like ``y``. Defaults to all ones.

        Returns
        -------
        float
            ``1 - Σ w (y - ŷ)² / Σ w (y - ȳ)²`` where ``ȳ`` is the mean over
            all entries of ``y``.

        Raises
        ------
        DataError
            If ``x`` does not fit the network inputs, or ``y`` or ``w`` is not
            a finite numeric array shaped like the predictions.
        """
        predicted = self.predict(x, **kwargs)
        y = validation.check_like('y', y, predicted.shape, predicted.dtype)
        u = y - predicted
        v = y - y.mean()
        if w is None:
            w = np.ones_like(u)
        else:
            w = validation.check_like('w', w, u.shape, u.dtype)
        return float(1 - (w * u * u).sum() / (w * v * v).sum())

    def __getstate__(self):
        return (self.layers, self.losses, self._rng)

    def __setstate__(self, state):
        # Models saved by theanets 0.8 pickled only (layers, losses).
        if len(state) == 2:
            self.layers, self.losses = state
            self._rng = 13
        else:
            self.layers, self.losses, self._rng = state
        self._reset_caches()

    def _reset_caches(self):
        """Empty the graph and function caches; make the locks."""
        self._graphs = LRUCache(self.function_cache_size)
        self._functions = LRUCache(self.function_cache_size)
        # A compiled function keeps its inputs and outputs in storage of its
        # own, so two threads must not run one at once; one lock per model
        # is cheaper than a copy of every function per thread (see the
        # user guide's section on threads).
        self._call_lock = threading.RLock()
        self._training = training.TrainingGuard()


util.register_model(Network)


def _monitor_levels(levels):
    """Expand a monitor's ``levels`` into ``(suffix, function)`` pairs."""
    if isinstance(levels, dict):
        levels = list(levels.items())
    if isinstance(levels, (int, float)):
        levels = [levels]
    for level in levels:
        if isinstance(level, (tuple, list)):
            label, fn = level
            yield ':{}'.format(label), fn
        elif isinstance(level, (int, float)):
            yield '<{}'.format(level), _fraction_below(level)


def _fraction_below(threshold):
    def fn(expr):
        return TT.cast(TT.lt(expr, threshold), util.FLOAT).mean()
    return fn
