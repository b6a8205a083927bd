"""The shared machinery of the scikit-learn estimators (private).

:class:`_TheanetsEstimator` holds the training options every estimator of
:mod:`theanets.estimators` takes, builds the theanets model, fits it
(``fit``, ``partial_fit``, ``warm_start``), pickles a fitted network as its
``.npz`` payload and predicts; the public classes add the data handling of
their kind of estimator. The helpers here validate training data (in
memory or out of core) and choose the layers.
"""

import io

import numpy as np

# Every scikit-learn name theanets.estimators uses is imported here, in
# one place that says how to install it when it is missing.
try:
    from sklearn.base import (  # noqa: F401 (used by theanets.estimators)
        BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin,
        RegressorMixin, TransformerMixin)
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_sample_weight  # noqa: F401
    from sklearn.utils.multiclass import (  # noqa: F401
        check_classification_targets)
    from sklearn.utils.validation import (  # noqa: F401
        _check_sample_weight, check_is_fitted)
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        'theanets.estimators needs scikit-learn, which is not installed; '
        "install it with: pip install 'theanets[sklearn]'") from error

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # older versions have a private method instead
    def _validate_data(estimator, X='no_validation', y='no_validation',
                       reset=True, **kwargs):
        return estimator._validate_data(X, y, reset=reset, **kwargs)

from . import _data
from . import _lazy
from . import feedforward
from . import history
from . import options as _options
from . import serialize
from . import trainer as _trainers
from . import validation
from .backend import downhill
from .exceptions import ModelFileError


_XFAIL_CHECKS = {
    # Zero-weighted rows drop out of the loss, so the fit equals one without
    # them up to float32 rounding: the shuffled mini-batches hold the rows
    # in another order (and, with several batches, other rows), and sums in
    # another order round differently. The check's 1e-7 tolerance is below
    # that rounding (the predictions differ by ~1e-6 relative).
    'check_sample_weights_invariance':
        'zero sample weights change the shuffled mini-batches (and float32 '
        'rounding), so the fit is not identical to one without those rows',
    # scikit-learn >= 1.6 name of the same check (zero weights, and integer
    # weights against repeated rows).
    'check_sample_weight_equivalence_on_dense_data':
        'zero or integer sample weights change the shuffled mini-batches '
        '(and float32 rounding), so the fit is not identical to one with '
        'those rows removed or repeated',
}


def _validate_training_data(estimator, X, y='no_validation', reset=True,
                            **kwargs):
    """``_validate_data`` for ``fit`` and ``partial_fit``; an out-of-core X
    (memory map, dask, h5py or zarr array) is not read.

    Such an ``X`` is checked from its shape and dtype (2-D, numeric, with
    the fitted number of features) and returned as it is: training reads
    it block by block and checks its values batch by batch (a
    :class:`theanets.exceptions.DataError`, a ``ValueError``, names the
    batch). ``y`` is read into memory and validated as usual.
    """
    if not _lazy.is_out_of_core(X):
        return _validate_data(estimator, X, y, reset=reset, **kwargs)
    shape, dtype = tuple(X.shape), np.dtype(X.dtype)
    if len(shape) != 2 or dtype.kind not in 'iubf' or 0 in shape:
        raise ValueError(
            'X: expected a 2-D numeric array with at least one example and '
            'one feature, got a {} of shape {} with dtype {}'.format(
                _lazy.describe(X), shape, dtype))
    if reset:
        estimator.n_features_in_ = shape[1]
        estimator.__dict__.pop('feature_names_in_', None)
    elif shape[1] != estimator.n_features_in_:
        raise ValueError(
            'X has {} features, but {} is expecting {} features as '
            'input.'.format(shape[1], type(estimator).__name__,
                            estimator.n_features_in_))
    if isinstance(y, str) and y == 'no_validation':
        return X
    y = _validate_data(estimator, 'no_validation', np.asarray(y),
                       **{key: kwargs[key] for key in kwargs
                          if key in ('multi_output', 'y_numeric')})
    if len(y) != shape[0]:
        raise ValueError(
            'Found input variables with inconsistent numbers of samples: '
            '[{}, {}]'.format(shape[0], len(y)))
    return X, y


def _quiet(verbose):
    """Suppress theanets' INFO log records in a block, unless verbose."""
    return history.quiet_logging(not verbose)


def _hidden_specs(hidden_layers, activation):
    """Turn ``hidden_layers`` into theanets layer specifications.

    A bare size (an int, or a 1-tuple of an int) gets ``activation``; other
    tuples, dicts and layer objects are passed on unchanged (a dict gets
    ``activation`` unless it names one).
    """
    if hidden_layers is None:
        return []
    if isinstance(hidden_layers, (int, np.integer)) and \
            not isinstance(hidden_layers, bool):
        hidden_layers = (hidden_layers,)
    specs = []
    for spec in hidden_layers:
        if isinstance(spec, (tuple, list)) and len(spec) == 1:
            spec = spec[0]
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            specs.append((int(spec), activation))
        elif isinstance(spec, dict):
            spec = dict(spec)
            spec.setdefault('activation', activation)
            specs.append(spec)
        else:
            specs.append(spec)
    return specs


#: Seeds drawn from ``random_state`` lie in ``[0, _SEED_LIMIT)``.
_SEED_LIMIT = np.iinfo(np.int32).max

#: Attributes of an estimator that only ``partial_fit`` uses: the seed of its
#: regularizers, the generator that shuffles its mini-batches and the
#: persistent trainer (compiled functions and optimizer state).
_PARTIAL_FIT_STATE = ('_partial_seed', '_partial_rng', '_partial_trainer')

#: Key of the pickled state that holds a fitted ``network_`` as the bytes of
#: its ``.npz`` form (see ``_TheanetsEstimator.__getstate__``).
_NETWORK_PAYLOAD = '_network_npz'


def _is_weighted(network):
    """True if the network's loss takes a weight for every target."""
    return len(network.losses[0].variables) > 1


class _TheanetsEstimator(BaseEstimator):
    """Training options and the fitting loops shared by all estimators."""

    #: The theanets model class the estimator builds.
    _model_class = None

    #: True if the weights of a weighted model are shaped like its targets
    #: (one per output), False if there is one weight per example.
    _weights_per_output = True

    def __init__(self, hidden_layers=(100,), activation='relu', loss=None,
                 algo='rmsprop', learning_rate=0.001, batch_size=32,
                 max_updates=200, patience=5, min_improvement=0.005,
                 validation_fraction=0.0, train_kwargs=None,
                 random_state=None, verbose=False, warm_start=False):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.loss = loss
        self.algo = algo
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_updates = max_updates
        self.patience = patience
        self.min_improvement = min_improvement
        self.validation_fraction = validation_fraction
        self.train_kwargs = train_kwargs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------
    # the network

    def _layers(self, num_inputs, num_outputs):
        return [num_inputs] + _hidden_specs(
            self.hidden_layers, self.activation) + [num_outputs]

    def _architecture(self):
        """The parameters that decide the network's layers and loss."""
        return (self.hidden_layers, self.activation, self.loss)

    def _build(self, num_inputs, num_outputs, weighted, seed):
        kwargs = dict(weighted=weighted, rng=seed)
        if self.loss is not None:
            kwargs['loss'] = self.loss
        with _quiet(self.verbose):
            network = self._model_class(
                self._layers(num_inputs, num_outputs), **kwargs)
        self._built_architecture = self._architecture()
        return network

    def _continue_network(self, num_inputs, num_outputs, weighted, caller):
        """Check that training can go on with ``network_``; make it weighted
        (with the same parameter values) if ``weighted`` and it is not."""
        built = getattr(self, '_built_architecture', None)
        if built is not None and built != self._architecture():
            raise ValueError(
                '{}: hidden_layers, activation and loss must not change '
                'while training continues the fitted network (built with '
                'hidden_layers={!r}, activation={!r}, loss={!r}; now '
                'hidden_layers={!r}, activation={!r}, loss={!r}); set '
                'warm_start=False and call fit to build a new '
                'network'.format(caller, *(built + self._architecture())))
        width = self.network_.layers[-1].output_shape[-1]
        if width != num_outputs:
            raise ValueError(
                '{}: y has {} output column(s), but {} was fitted with {}; '
                'set warm_start=False and call fit to build a new '
                'network'.format(caller, num_outputs, type(self).__name__,
                                 width))
        if weighted and not _is_weighted(self.network_):
            network = self._build(num_inputs, num_outputs, True, 0)
            values = {p.name: p.get_value() for p in self.network_.params}
            for param in network.params:
                param.set_value(values[param.name])
            self.network_ = network

    def _forget_partial_fit(self):
        for name in _PARTIAL_FIT_STATE:
            self.__dict__.pop(name, None)

    def _weight_array(self, weights, arrays):
        """The weights array of a weighted model (``arrays`` are inputs and
        targets; the last one has the model's output width)."""
        if not self._weights_per_output:
            return weights
        return np.repeat(weights[:, None], arrays[-1].shape[1], axis=1)

    # ------------------------------------------------------------------
    # training

    def _training_kwargs(self, seed):
        """The keywords of a training call: ``train_kwargs`` and the
        estimator's training parameters."""
        kwargs = dict(self.train_kwargs or {})
        clashes = sorted(set(kwargs) & (set(self.get_params()) | {
            'valid', 'rng', 'weighted'}))
        if clashes:
            raise ValueError(
                'train_kwargs: {} must be given as estimator parameters (or '
                'are set by fit), not in train_kwargs'.format(
                    ', '.join(clashes)))
        kwargs.update(algo=self.algo, learning_rate=self.learning_rate,
                      batch_size=self.batch_size,
                      max_updates=self.max_updates, patience=self.patience,
                      min_improvement=self.min_improvement, rng=seed)
        return kwargs

    def _train(self, arrays, weights, num_inputs, num_outputs, warm):
        """Train on a list of arrays (inputs, then targets if any).

        ``weights`` holds one weight per example, or None. A new
        ``network_`` is built unless ``warm``, when training continues the
        fitted one (with a new optimizer).
        """
        if not (isinstance(self.validation_fraction, (int, float)) and
                0 <= self.validation_fraction < 1):
            raise ValueError(
                'validation_fraction: expected a number in [0, 1), got '
                '{!r}'.format(self.validation_fraction))
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(_SEED_LIMIT))
        kwargs = self._training_kwargs(seed)
        weighted = weights is not None
        if warm:
            self._continue_network(num_inputs, num_outputs, weighted, 'fit')
            weighted = _is_weighted(self.network_)
        else:
            self.network_ = self._build(
                num_inputs, num_outputs, weighted, seed)
            self.history_ = []
        self._forget_partial_fit()
        if weighted:
            if weights is None:  # a warm start of a weighted network
                weights = np.ones(len(arrays[0]), dtype=np.float32)
            arrays = arrays + [self._weight_array(weights, arrays)]

        train, valid = arrays, None
        count = len(arrays[0])
        num_valid = int(round(self.validation_fraction * count))
        if num_valid > 0 and _lazy.is_out_of_core(arrays):
            raise ValueError(
                'validation_fraction: cannot hold out a random part of an '
                'out-of-core X ({}) without reading it; set '
                'validation_fraction=0'.format(_lazy.describe(arrays[0])))
        if num_valid > 0 and count - num_valid > 0:
            order = rng.permutation(count)
            train = [a[order[num_valid:]] for a in arrays]
            valid = [a[order[:num_valid]] for a in arrays]

        with _quiet(self.verbose):
            self.history_.extend(
                (dict(t), dict(v)) for t, v in
                self.network_.itertrain(train, valid, **kwargs))
        self.n_iter_ = len(self.history_)
        kept = self.network_.history.kept
        self.best_validation_ = None if kept is None else dict(kept.valid)
        return self

    def _partial_train(self, arrays, weights, num_inputs, num_outputs):
        """One epoch of updates on a list of arrays (see :meth:`_train`).

        The first call builds a weighted ``network_`` (so that any later
        call can bring weights without a change of model) and a persistent
        trainer; later calls go on with both.
        """
        if not (isinstance(self.algo, str) and
                _options.algo_is_downhill(self.algo)):
            raise ValueError(
                'algo: partial_fit needs a gradient optimizer such as '
                '"rmsprop", "adam" or "sgd", got {!r}'.format(self.algo))
        first = not hasattr(self, 'network_')
        seed = self.__dict__.get('_partial_seed')
        if seed is None:
            rng = check_random_state(self.random_state)
            seed = int(rng.randint(_SEED_LIMIT))
        kwargs = self._training_kwargs(seed)
        del kwargs['algo']
        _options.check_training_keywords(kwargs, 0)
        if first:
            network = self._build(num_inputs, num_outputs, True, seed)
        else:
            self._continue_network(num_inputs, num_outputs, True,
                                   'partial_fit')
            network = self.network_
        trainer = self.__dict__.get('_partial_trainer')
        if trainer is None or trainer.network is not network or \
                trainer.algo != self.algo:
            # raises UnknownNameError (a ConfigurationError) for an unknown
            # algo, before a first call has set any fitted attribute
            trainer = _trainers.DownhillTrainer(
                self.algo, network, persistent=True)
        if first:
            self.network_ = network
            self.history_ = []
        self._partial_trainer = trainer
        if self.__dict__.get('_partial_seed') is None:
            self._partial_seed = seed
            self._partial_rng = np.random.RandomState(seed)

        if weights is None:
            weights = np.ones(len(arrays[0]), dtype=np.float32)
        arrays = arrays + [self._weight_array(weights, arrays)]
        shuffle = self._partial_rng
        iteration_size = kwargs.get(
            'iteration_size', kwargs.get('train_batches'))
        with _quiet(self.verbose):
            if _lazy.is_out_of_core(arrays):
                # read block by block, shuffled across blocks
                batches = _data.lazy_dataset(
                    validation.DatasetCheck(network, full=True), arrays,
                    'train', batch_size=self.batch_size, rng=shuffle,
                    block_size=kwargs.get('block_size'),
                    iteration_size=iteration_size)
            else:
                order = shuffle.permutation(len(arrays[0]))
                batches = downhill.Dataset(
                    [a[order] for a in arrays], name='train',
                    batch_size=self.batch_size,
                    iteration_size=iteration_size, rng=shuffle)
            monitors = trainer.step_epochs(batches, **kwargs)
        self.history_.append((dict(monitors), {}))
        self.n_iter_ = len(self.history_)
        self.best_validation_ = None
        return self

    # ------------------------------------------------------------------
    # prediction, pickling, tags

    def _predict_output(self, X):
        """Validate ``X`` and return the network's output as float64."""
        check_is_fitted(self, 'network_')
        X = _validate_data(self, X, reset=False, dtype=np.float32)
        with _quiet(self.verbose):
            # The last layer's output: a Classifier's predict returns class
            # indices, its predict_proba that output.
            if isinstance(self.network_, feedforward.Classifier):
                outputs = self.network_.predict_proba(X)
            else:
                outputs = self.network_.predict(X)
        return np.asarray(outputs, dtype=np.float64)

    def __getstate__(self):
        """The pickled state: a fitted network travels as its ``.npz`` bytes.

        ``pickle``, ``cloudpickle`` (what Dask uses to send estimators
        between processes) and ``copy.deepcopy`` all come here. The network
        is stored as the bytes of its safe ``.npz`` form
        (:mod:`theanets.serialize`) rather than as pickled Theano objects,
        unless that format cannot describe it (e.g. an activation given as
        an object), when the network object itself is pickled. The
        ``partial_fit`` trainer holds compiled Theano functions; it is built
        again (with a fresh optimizer state) by the next ``partial_fit``.
        """
        state = dict(super(_TheanetsEstimator, self).__getstate__())
        state.pop('_partial_trainer', None)
        network = state.get('network_')
        if network is not None:
            buffer = io.BytesIO()
            try:
                serialize.save(network, buffer)
            except ModelFileError:
                pass  # not describable in .npz: pickle the object instead
            else:
                del state['network_']
                state[_NETWORK_PAYLOAD] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        """Restore a pickled state, rebuilding ``network_`` from its bytes.

        States written before the ``.npz`` payload existed (holding the
        ``network_`` object) load unchanged. Nothing is compiled here: the
        network compiles its functions on the first prediction or training
        call, as a loaded model does.
        """
        state = dict(state)
        payload = state.pop(_NETWORK_PAYLOAD, None)
        super(_TheanetsEstimator, self).__setstate__(state)
        if payload is not None:
            with _quiet(getattr(self, 'verbose', False)):
                self.network_ = serialize.load(
                    io.BytesIO(payload), name='the pickled state of a '
                    '{}'.format(type(self).__name__),
                    max_bytes=max(serialize.MAX_BYTES, len(payload)))

    def _more_tags(self):  # scikit-learn < 1.6
        return {'_xfail_checks': dict(_XFAIL_CHECKS)}

    def __sklearn_tags__(self):  # scikit-learn >= 1.6 (never called before)
        return super(_TheanetsEstimator, self).__sklearn_tags__()
