"""Trainers: the loops that fit a network's parameters to data.

:meth:`theanets.Network.itertrain` picks one of these classes from its
``algo`` argument and iterates the trainer's ``itertrain(train, valid,
**kwargs)`` generator, which yields ``(training, validation)`` pairs of
monitor dictionaries:

* :class:`DownhillTrainer` -- a gradient optimizer from the ``downhill``
  package (``'sgd'``, ``'nag'``, ``'rprop'``, ``'adagrad'``, ``'rmsprop'``,
  ``'adadelta'``, ``'esgd'``, ``'adam'``);
* :class:`SampleTrainer` -- sets weights from samples of the data
  (``algo='sample'``);
* :class:`SupervisedPretrainer` -- greedy layer-wise training
  (``algo='layerwise'``);
* :class:`UnsupervisedPretrainer` -- layer-wise training of a shadow
  autoencoder whose encoder weights are copied back (``algo='pretrain'``).

downhill's console output goes to the ``theanets.downhill`` logger (see
:func:`theanets.backend.route_downhill_logging`).
"""

import numpy as np

from . import backend
from . import util
from . import layers
from ._epochs import run_epochs, step_epochs
from .backend import downhill
from .callbacks import CallbackList

__all__ = ['DownhillTrainer', 'SampleTrainer', 'SupervisedPretrainer',
           'UnsupervisedPretrainer', 'route_downhill_logging']

#: Kept here for code that calls ``theanets.trainer.route_downhill_logging``.
route_downhill_logging = backend.route_downhill_logging
_EchoToLog = backend._EchoToLog


def _known_algorithms():
    """Names of the optimizers registered in downhill."""
    registry = downhill.Optimizer._registry
    return sorted(key for key, cls in registry.items()
                  if cls is not downhill.Optimizer)


def _check_esgd_layers(network):
    """Raise ConfigurationError if ESGD cannot train ``network``.

    ESGD estimates curvature from Hessian-vector products (the R-operator of
    the gradient). Theano 1.0.5 fails while compiling that for the gradient
    of a ``scan`` loop (an internal ``ValueError``), and the fused LSTM Ops
    define no second derivatives, so no recurrent layer can be trained
    with it.
    """
    recurrent = [layer.name for layer in network.layers
                 if isinstance(layer, (layers.recurrent.Recurrent,
                                       layers.recurrent.Bidirectional))]
    if recurrent:
        raise util.ConfigurationError(
            'algo: "esgd" needs second derivatives, which Theano cannot '
            'compute through the recurrent layer(s) {}; use another '
            'algorithm, e.g. "rmsprop" or "adam"'.format(
                ', '.join('"{}"'.format(name) for name in recurrent)))


class DownhillTrainer(object):
    """Train a network with a gradient-based optimizer from downhill.

    Parameters
    ----------
    algo : str
        Name of a downhill optimizer: ``'sgd'``, ``'nag'``, ``'rprop'``,
        ``'adagrad'``, ``'rmsprop'``, ``'adadelta'``, ``'esgd'`` or
        ``'adam'`` (case-insensitive).
    network : :class:`theanets.Network`
        The model to train.
    persistent : bool, optional
        If True, the optimizer built by the first :meth:`itertrain` call --
        its compiled functions and its state (momentum velocities, the
        moment estimates of RMSProp or Adam) -- is kept and reused by later
        calls with the same options, so that training can continue in
        several calls as if it were one (the estimators' ``partial_fit``
        does this). Defaults to False: every call starts a fresh optimizer,
        as in theanets 0.8.

    Raises
    ------
    theanets.util.UnknownNameError
        (a ``KeyError``) if ``algo`` names no downhill optimizer.

    Notes
    -----
    Every keyword argument of :meth:`itertrain` reaches the optimizer:
    ``learning_rate``, ``momentum``, ``nesterov``, ``patience``,
    ``validate_every``, ``min_improvement``, ``max_gradient_norm``,
    ``max_gradient_elem``, ``max_updates`` and the algorithm options
    (``rms_halflife``, ``rms_regularizer``, ``rprop_increase``,
    ``rprop_decrease``, ``rprop_min_step``, ``rprop_max_step``,
    ``beta1_decay``, ``beta1_halflife``, ``beta2_halflife``).

    **Epochs and validation.** The epoch loop (see :mod:`theanets._epochs`)
    takes downhill's steps in downhill's order, and validates before the
    first epoch and after every ``validate_every`` epochs (default 10).
    Whenever training stops (``max_updates``, patience, an interrupt, a
    callback) an epoch that was not validated is validated, and the model
    keeps the parameters with the best validation loss over every
    validation, including that last one -- so a short run never loses what
    it learned. Validation monitors are means over the validation examples.

    **Default stopping rule.** Training stops when the validation loss has
    not improved by a relative ``min_improvement`` for ``patience``
    validations in a row (defaults 5 and, in theanets, 0.005).
    downhill's own default ``min_improvement = 0`` counts any decrease,
    however tiny, as progress, so training on data without much structure
    runs for a very long time: the documentation example (a
    ``[10, (20, 'tanh'), 50]`` classifier on 1000 examples with random
    labels, default ``rmsprop``) took over 300,000 epochs and 8 to 15
    minutes. With ``min_improvement = 0.005`` it stops once 60 epochs bring
    less than 0.5% relative improvement of the best validation loss, after
    500-700 epochs, in a few seconds. There is no cap on the number of
    epochs; a model that keeps improving keeps training.

    The defaults in :attr:`DEFAULTS` apply **only to keywords the caller
    did not pass**; an explicit value always wins (``min_improvement=0``
    restores downhill's rule, ``max_updates=N`` caps the number of
    epochs).

    Examples
    --------
    >>> DownhillTrainer.DEFAULTS
    {'min_improvement': 0.005}
    """

    #: Optimizer options that apply when the caller did not pass them.
    DEFAULTS = {'min_improvement': 0.005}

    #: Keywords that steer the epoch loop but not the compiled functions.
    LOOP_KEYWORDS = frozenset(['patience', 'validate_every', 'min_improvement',
                               'max_updates'])

    def __init__(self, algo, network, persistent=False):
        known = _known_algorithms()
        if not isinstance(algo, str) or algo.lower() not in known:
            raise util.UnknownNameError(algo, 'optimizer', known)
        self.algo = algo
        self.network = network
        self.persistent = bool(persistent)
        self.kept = None
        self._built = None

    def itertrain(self, train, valid=None, callbacks=None, restore_best=True,
                  **kwargs):
        """Optimize the network, yielding monitor values after every epoch.

        Parameters
        ----------
        train : iterable of batches (e.g. a ``downhill.Dataset``)
            Training mini-batches, each a list of arrays in the order of
            ``network.variables``; one pass over it is one epoch.
        valid : iterable of batches, optional
            Validation mini-batches. Defaults to ``train``.
        callbacks : list, optional
            Callables or :class:`theanets.callbacks.Callback` objects run
            after every epoch (see :mod:`theanets.callbacks`).
        restore_best : bool, optional
            When training stops, keep the parameters with the best
            validation loss (True, the default) or the final ones.
        **kwargs
            Regularizer, monitor and optimizer options (see the class notes).
            ``monitor_gradients=True`` adds a ``'grad(<param>)'`` monitor (sum
            of squared gradient entries) for every parameter.

        Yields
        ------
        (Monitors, Monitors)
            Training monitors (means over the epoch's mini-batches) and the
            latest validation monitors (:class:`theanets.history.Monitors`,
            whose ``epoch`` says when they were measured): ``'loss'``,
            ``'err'``, user monitors, ``'acc'`` for classifiers, then
            gradient monitors.

        Raises
        ------
        theanets.util.TrainingError
            If a monitor value of an epoch (e.g. the training or validation
            loss) or a parameter becomes NaN or infinite. The parameters are
            first reset to their values after the last epoch whose monitors
            and parameter values were all finite (or to their initial
            values); the message names that epoch. A copy of the parameters
            is kept after every epoch for this.

        Notes
        -----
        A ``KeyboardInterrupt`` during an optimization step or a validation
        ends training as any other stop does (validation, then the best
        parameters are kept). The same happens when the interrupt is thrown
        into this generator while the caller handles a pair (as
        :meth:`theanets.Network.train` does); the generator then yields the
        same training monitors once more with the new validation.

        After the generator ends, :attr:`kept` describes the parameters the
        model holds (a :class:`theanets._epochs.Outcome`).
        """
        net = self.network
        if self.algo.lower() == 'esgd':
            _check_esgd_layers(net)
        callbacks = CallbackList(callbacks)
        self.kept = None
        optimizer, options, rate = self._optimizer(kwargs, callbacks)
        if valid is None:
            valid = train
        self.kept = yield from run_epochs(
            optimizer, net, self.algo, train, valid, callbacks, options,
            restore_best=restore_best, learning_rate=rate)

    def step_epochs(self, train, epochs=1, **kwargs):
        """Update the parameters with ``epochs`` passes over ``train``.

        No validation, no stopping rule, no parameter restoring: what
        scikit-learn's ``partial_fit`` means. With ``persistent=True`` the
        optimizer and its state carry over between calls (and to and from
        :meth:`itertrain` with the same options).

        Parameters
        ----------
        train : iterable of batches
            As for :meth:`itertrain`.
        epochs : int, optional
            Number of passes. Defaults to 1.
        **kwargs
            Optimizer, regularizer and monitor options, as for
            :meth:`itertrain` (loop options such as ``patience`` are
            ignored).

        Returns
        -------
        Monitors
            Training monitor values of the last pass.

        Raises
        ------
        theanets.util.TrainingError
            If a monitor or a parameter becomes NaN or infinite; the
            parameters are reset to their values before the failing pass.
        """
        if isinstance(epochs, bool) or not isinstance(
                epochs, (int, np.integer)) or epochs < 1:
            raise util.ConfigurationError(
                'epochs: expected a positive integer, got {!r}'.format(epochs))
        if self.algo.lower() == 'esgd':
            _check_esgd_layers(self.network)
        optimizer, options, _ = self._optimizer(kwargs, CallbackList())
        return step_epochs(optimizer, self.network, train, int(epochs),
                           options)

    def _optimizer(self, kwargs, callbacks):
        """Build and compile the optimizer, or reuse the kept one.

        Returns ``(optimizer, options, rate)``: the options include the
        defaults, and ``rate`` is the shared learning rate when a callback
        changes it (else None).
        """
        options = dict(self.DEFAULTS)
        options.update(kwargs)
        if self.algo.lower() == 'nag':
            # downhill's NAG turns Nesterov momentum on in its iterate(),
            # which the epoch loop does not call.
            options['nesterov'] = True
        scheduled = callbacks.uses_learning_rate
        initial = options.get('learning_rate', 1e-4)
        if scheduled and isinstance(initial, backend.theano.Variable) and \
                not hasattr(initial, 'set_value'):
            raise util.ConfigurationError(
                'learning_rate: a symbolic learning rate ({!r}) cannot be '
                'changed by a schedule; pass a number or a shared '
                'variable'.format(initial))
        ignored = self.LOOP_KEYWORDS | (
            {'learning_rate'} if scheduled else set())
        key = (scheduled, sorted((name, repr(value))
                                 for name, value in options.items()
                                 if name not in ignored))
        if self.persistent and self._built is not None and \
                self._built[0] == key:
            _, optimizer, rate = self._built
            if rate is not None and not hasattr(initial, 'set_value'):
                rate.set_value(np.asarray(initial, dtype=rate.dtype))
            optimizer._prepare(**dict(options, learning_rate=rate or initial))
            return optimizer, options, rate
        rate = None
        if scheduled:
            rate = initial if hasattr(initial, 'set_value') else \
                backend.theano.shared(
                    np.asarray(initial, dtype=backend.theano.config.floatX),
                    name='learning_rate')
            options['learning_rate'] = rate
        net = self.network
        util.debug('{}: compiling the training functions', self.algo)
        optimizer = downhill.build(
            self.algo,
            loss=net.loss(**kwargs),
            updates=net.updates(**kwargs),
            monitors=net.monitors(**kwargs),
            inputs=net.variables,
            params=net.params,
            monitor_gradients=kwargs.get('monitor_gradients', False))
        with backend.intermediates_kept(_has_feature_maps(net)):
            optimizer._compile(**options)  # also reads _prepare's options
        if self.persistent:
            self._built = (key, optimizer, rate)
        util.log('{}: training {} ({} parameters)', self.algo,
                 type(net).__name__, _count_parameters(net))
        return optimizer, options, rate


def _has_feature_maps(network):
    """Whether ``network`` has convolution or pooling layers, whose large
    feature maps its training functions keep between calls (see
    :func:`theanets.backend.intermediates_kept`)."""
    kinds = (layers.convolution.Convolution, layers.convolution.Pooling)
    return any(isinstance(layer, kinds)
               for layer in getattr(network, 'layers', ()))


def _count_parameters(network):
    return int(sum(np.prod(p.get_value(borrow=True).shape)
                   for p in network.params if hasattr(p, 'get_value')))


class SampleTrainer(object):
    """Set weights from samples of the training data, without optimizing.

    The weights of the output layer whose second dimension equals the target
    width become (row-normalised) samples of the targets; weights whose
    first dimension equals the input width become (column-normalised)
    samples of the inputs. The first such input-side weight samples the raw
    inputs; later ones sample the activations feeding their layer (computed
    with the weights already set).

    Parameters
    ----------
    network : :class:`theanets.Network`
        The model whose weights are set.
    """

    def __init__(self, network):
        self.network = network

    @staticmethod
    def reservoir(xs, n, rng):
        """Draw ``n`` L2-normalised items from a stream by reservoir sampling.

        The first ``n`` items fill the pool; each later item ``i`` (counting
        from 0 over the whole stream) replaces pool entry
        ``j = rng.randint(i + 1)`` if ``j < n``. A stream shorter than ``n``
        is padded with copies of random pool entries plus Gaussian noise
        scaled by the pool's per-column standard deviation.

        Parameters
        ----------
        xs : iterable of ndarray
            The stream of items (e.g. rows of data).
        n : int
            Number of items to return.
        rng : ``numpy.random.RandomState``
            Random number generator.

        Returns
        -------
        ndarray of shape ``(n,) + item shape``
            The samples, with the dtype of the first pooled item.

        Raises
        ------
        ValueError
            If the stream is empty and ``n > 0``.

        Examples
        --------
        >>> rows = np.eye(3, dtype='f') * 2
        >>> SampleTrainer.reservoir(rows, 2, np.random.RandomState(0))
        array([[0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
        """
        pool = []
        for i, x in enumerate(xs):
            if len(pool) < n:
                pool.append(x / np.linalg.norm(x))
                continue
            j = rng.randint(i + 1)
            if j < n:
                pool[j] = x / np.linalg.norm(x)
        count = len(pool)
        if count < n:
            if not count:
                raise ValueError(
                    'reservoir: cannot draw {} samples from an empty '
                    'stream'.format(n))
            scale = np.std(pool, axis=0)
            while len(pool) < n:
                x = pool[rng.randint(count)]
                pool.append(x + scale * rng.randn(*x.shape))
        if not pool:
            return np.zeros((0, ))
        return np.array(pool, dtype=pool[0].dtype)

    def itertrain(self, train, valid=None, **kwargs):
        """Set the network's weights from the data; yield one pair.

        Parameters
        ----------
        train : ``downhill.Dataset``
            Training data; each pass yields mini-batches (lists of arrays,
            the first holding inputs and the last targets).
        valid : ignored
        rng : int or ``numpy.random.RandomState``, optional
            Random number generator for the samples.

        Yields
        ------
        (dict, dict)
            Exactly one pair, ``({'loss': 0}, {'loss': 0})``.
        """
        def first(t):
            return t[0] if isinstance(t, (tuple, list)) else t

        def last(t):
            return t[-1] if isinstance(t, (tuple, list)) else t

        for t in train:
            idim = first(t).shape[-1]
            odim = last(t).shape[-1]
        rng = util.as_random_state(kwargs.get('rng'))
        net = self.network

        for param in net.layers[-1].params:
            shape = param.get_value(borrow=True).shape
            if len(shape) == 2 and shape[1] == odim:
                rows = (x for t in train for x in last(t))
                arr = self.reservoir(rows, shape[0], rng)
                util.log('setting {}: {}', param.name, arr.shape)
                norms = np.linalg.norm(arr, axis=1)[:, None]
                param.set_value((arr / norms).astype(param.dtype))

        rows = (x for t in train for x in first(t))
        for layer in net.layers:
            for param in layer.params:
                shape = param.get_value(borrow=True).shape
                if len(shape) != 2 or shape[0] != idim:
                    continue
                if rows is None:
                    rows = self._activation_rows(train, first, layer, param)
                arr = self.reservoir(rows, shape[1], rng).T
                util.log('setting {}: {}', param.name, arr.shape)
                norms = np.linalg.norm(arr, axis=0)[None, :]
                param.set_value((arr / norms).astype(param.dtype))
                rows = None

        yield {'loss': 0}, {'loss': 0}

    def _activation_rows(self, train, first, layer, param):
        """Rows of the output feeding ``param``, over one pass of ``train``."""
        sources = list(layer._input_shapes)
        if len(sources) > 1:
            prefix = '{}.w_'.format(layer.name)
            sources = [name for name in sources
                       if param.name == prefix + name]
        if len(sources) != 1:
            raise util.ConfigurationError(
                'sample trainer: cannot tell which input of layer "{}" feeds '
                'parameter "{}" (inputs {})'.format(
                    layer.name, param.name, list(layer._input_shapes)))
        source = sources[0]
        net = self.network
        return (x for t in train
                for x in net.feed_forward(first(t))[source])


class SupervisedPretrainer(object):
    """Train a network greedily, one layer more per stage.

    Stage ``i`` trains the first ``i`` hidden layers under a temporary
    output: for a network with tied layers, tied decoders mirroring those
    layers; otherwise a feedforward layer ``'lwout'`` shaped like the
    original output layer. The last stage trains the whole network. Each
    stage runs a :class:`DownhillTrainer` and logs
    ``layerwise: training in -> hid1 -> lwout``.

    Temporary layers are seeded from the training ``rng`` (the network's seed
    by default), so pretraining is reproducible. The network's layers and its
    first loss's output are restored when training ends, also when the
    caller stops iterating early.

    Parameters
    ----------
    algo : str
        Name of the downhill optimizer used in every stage.
    network : :class:`theanets.Network`
        The model to train.
    """

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network
        self.kept = None

    def itertrain(self, train, valid=None, **kwargs):
        """Train stage by stage; yield every stage's monitor pairs.

        Parameters
        ----------
        train, valid : ``downhill.Dataset``
            Training and validation data, as for :class:`DownhillTrainer`.
        **kwargs
            Passed to every stage's :class:`DownhillTrainer`.

        Yields
        ------
        (OrderedDict, OrderedDict)
            Monitor values, as for :class:`DownhillTrainer`.
        """
        net = self.network
        original = list(net.layers)
        output_name = net.losses[0].output_name
        tied_class = layers.Layer.get_class('tied')
        tied = any(isinstance(layer, tied_class) for layer in original)
        count = 1 + len(original) // 2 if tied else len(original) - 1
        rng = kwargs.get('rng', getattr(net, '_rng', None))
        try:
            for i in range(1, count):
                tail = []
                if i < count - 1 and tied:
                    source = original[i].name
                    for k in range(i):
                        tail.append(layers.Layer.build(
                            'tied', partner=original[i - k].name,
                            inputs=source, rng=rng))
                        source = tail[-1].name
                elif i < count - 1:
                    tail.append(layers.Layer.build(
                        'feedforward', name='lwout',
                        inputs=original[i].output_name,
                        size=original[-1].output_size,
                        activation=original[-1].get_config()['activation'],
                        rng=rng))
                net.layers = original if i == count - 1 else \
                    original[:i + 1] + tail
                util.log('layerwise: training {}',
                         ' -> '.join(layer.name for layer in net.layers))
                for layer in net.layers:
                    layer.bind(net, initialize=False)
                for layer in tail:
                    layer.setup()
                net.losses[0].output_name = net.layers[-1].output_name
                trainer = DownhillTrainer(self.algo, net)
                for monitors in trainer.itertrain(train, valid, **kwargs):
                    yield monitors
                self.kept = trainer.kept
        finally:
            net.layers = original
            net.losses[0].output_name = output_name


class UnsupervisedPretrainer(object):
    """Pretrain a network's hidden layers as a tied autoencoder.

    A shadow :class:`theanets.Autoencoder` is built from the network's
    layers (except the output layer) followed by tied decoders, trained with
    a :class:`SupervisedPretrainer`, and its encoder parameters are copied
    back into the network. The training data are inputs only (``[x]``).

    Parameters
    ----------
    algo : str
        Name of the downhill optimizer.
    network : :class:`theanets.Network`
        The model whose hidden layers are pretrained.
    """

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network
        self.kept = None

    def itertrain(self, train, valid=None, **kwargs):
        """Train the shadow autoencoder; yield its monitor pairs.

        Parameters
        ----------
        train, valid : ``downhill.Dataset``
            Input-only data (mini-batches ``[x]``).
        **kwargs
            Passed to the :class:`SupervisedPretrainer`.

        Yields
        ------
        (OrderedDict, OrderedDict)
            Monitor values of the shadow network (``'loss'``, ``'err'``).

        Raises
        ------
        theanets.util.ConfigurationError
            If the network has no hidden layer.
        """
        net = self.network
        encoder = net.layers[:-1]
        hidden = encoder[1:]
        if not hidden:
            raise util.ConfigurationError(
                'unsupervised pretraining needs at least one hidden layer; '
                'got layers {}'.format([layer.name for layer in net.layers]))
        names = [layer.name for layer in encoder]
        # Fresh copies of the encoder, with the same seeds (hence the same
        # initial values as the network had) and the same configuration.
        specs = [layer.clone() for layer in encoder]
        for layer in hidden[:0:-1]:
            activation = layer.get_config()['activation']
            specs.append(dict(form='tied', partner=layer.name,
                              activation=activation))
        specs.append(dict(form='tied', partner=hidden[0].name,
                          activation='linear'))

        util.log('creating shadow network')
        shadow = util.model_class('theanets.feedforward.Autoencoder')(
            layers=specs)
        pretrainer = SupervisedPretrainer(self.algo, shadow)
        for monitors in pretrainer.itertrain(train, valid, **kwargs):
            yield monitors
        self.kept = pretrainer.kept

        for param in shadow.params:
            layer_name, param_name = param.name.split('.')
            if layer_name in names:
                util.log('copying pretrained parameter {}', param.name)
                net.find(layer_name, param_name).set_value(param.get_value())
        util.log('completed unsupervised pretraining')
