"""scikit-learn estimators wrapping theanets models.

:class:`TheanetsClassifier`, :class:`TheanetsRegressor` and
:class:`TheanetsAutoencoder` (a transformer) follow scikit-learn's estimator
conventions, so they can be used in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and ``clone``. Input and output sizes are taken from the
data in ``fit``; the fitted theanets model is ``network_``.

This module needs scikit-learn (``pip install 'theanets[sklearn]'``) and is
not imported by ``import theanets``::

    from theanets.estimators import TheanetsClassifier
"""


import numpy as np

try:
    from sklearn.base import (BaseEstimator, ClassifierMixin,
                              ClassNamePrefixFeaturesOutMixin, RegressorMixin,
                              TransformerMixin)
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted
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

from . import feedforward
from . import history

__all__ = ['TheanetsClassifier', 'TheanetsRegressor', 'TheanetsAutoencoder']

#: Checks of ``sklearn.utils.estimator_checks`` that cannot pass, with why.
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


class _TheanetsEstimator(BaseEstimator):
    """Training options and the fitting loop shared by all estimators."""

    #: The theanets model class the estimator builds.
    _model_class = None

    def __init__(self, hidden_layers=(100,), activation='relu', loss=None,
                 algo='rmsprop', learning_rate=0.001, batch_size=32,
                 max_updates=200, patience=5, min_improvement=0.005,
                 validation_fraction=0.0, train_kwargs=None,
                 random_state=None, verbose=False):
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

    def _layers(self, num_inputs, num_outputs):
        return [num_inputs] + _hidden_specs(
            self.hidden_layers, self.activation) + [num_outputs]

    def _build(self, num_inputs, num_outputs, weighted, seed):
        kwargs = dict(weighted=weighted, rng=seed)
        if self.loss is not None:
            kwargs['loss'] = self.loss
        return self._model_class(self._layers(num_inputs, num_outputs),
                                 **kwargs)

    def _train(self, arrays, num_inputs, num_outputs, weighted):
        """Build ``network_`` and train it on a list of arrays.

        ``arrays`` holds one array per model variable (inputs, targets,
        weights), each with one example per row.
        """
        if not (isinstance(self.validation_fraction, (int, float)) and
                0 <= self.validation_fraction < 1):
            raise ValueError(
                'validation_fraction: expected a number in [0, 1), got '
                '{!r}'.format(self.validation_fraction))
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        with _quiet(self.verbose):
            self.network_ = self._build(
                num_inputs, num_outputs, weighted, seed)

        train, valid = arrays, None
        count = len(arrays[0])
        num_valid = int(round(self.validation_fraction * count))
        if num_valid > 0 and count - num_valid > 0:
            order = rng.permutation(count)
            train = [a[order[num_valid:]] for a in arrays]
            valid = [a[order[:num_valid]] for a in arrays]

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
        with _quiet(self.verbose):
            self.history_ = [
                (dict(t), dict(v)) for t, v in
                self.network_.itertrain(train, valid, **kwargs)]
        self.n_iter_ = len(self.history_)
        return self

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

    def _more_tags(self):  # scikit-learn < 1.6
        return {'_xfail_checks': dict(_XFAIL_CHECKS)}

    def __sklearn_tags__(self):  # scikit-learn >= 1.6 (never called before)
        return super(_TheanetsEstimator, self).__sklearn_tags__()


class TheanetsClassifier(ClassifierMixin, _TheanetsEstimator):
    """A scikit-learn classifier backed by a :class:`theanets.Classifier`.

    The network has ``n_features_in_`` inputs, the ``hidden_layers`` and a
    softmax output layer with one unit per class. Labels may be of any type
    (ints, strings, …); ``predict`` returns them and the columns of
    ``predict_proba`` follow ``classes_``.

    Parameters
    ----------
    hidden_layers : sequence of layer specifications, optional
        The hidden layers, e.g. ``(100,)`` or ``(20, (10, 'tanh'))``. An int
        is a layer of that size with ``activation``; other entries are
        theanets layer specifications (see :class:`theanets.Network`).
        Defaults to one layer of 100 units.
    activation : str, optional
        Activation of hidden layers given by their size. Defaults to
        ``'relu'``.
    loss : str, optional
        theanets loss name; None uses the model's default (cross-entropy
        for the classifier, mean squared error otherwise).
    algo : str, optional
        Training algorithm (a downhill optimizer such as ``'rmsprop'``,
        ``'adam'``, ``'sgd'``, or a theanets trainer). Defaults to
        ``'rmsprop'``.
    learning_rate : float, optional
        Defaults to 0.001.
    batch_size : int, optional
        Examples per mini-batch. Defaults to 32.
    max_updates : int or None, optional
        Maximum number of training epochs (passes over the data); None
        trains until the early-stopping rule ends training. Defaults to 200.
    patience : int, optional
        Stop after this many validations (every 10 epochs) without a
        relative improvement of ``min_improvement``. Defaults to 5.
    min_improvement : float, optional
        Defaults to 0.005.
    validation_fraction : float, optional
        Fraction of the training data (drawn at random) held out to decide
        when to stop; 0 (the default) validates on the training data.
    train_kwargs : dict, optional
        Further keyword arguments of :meth:`theanets.Network.train`, e.g.
        regularizers (``weight_l2``, ``hidden_dropout``, …), ``momentum``
        or ``validate_every``.
    random_state : int, ``numpy.random.RandomState`` or None, optional
        Seeds the parameter initialisation and the mini-batch shuffling; an
        int makes ``fit`` reproducible.
    verbose : bool, optional
        If True, training progress is logged (``theanets`` logger at INFO).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    network_ : theanets.Classifier
        The trained model (its outputs are indices into ``classes_``).
    history_ : list of (dict, dict)
        Training and validation monitor values after each epoch.
    n_iter_ : int
        Number of training epochs.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Column names of ``X``, when it was a data frame with string names.

    Examples
    --------
    >>> from theanets.estimators import TheanetsClassifier
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 8, dtype=float)
    >>> y = np.array(['no', 'yes', 'yes', 'no'] * 8)
    >>> clf = TheanetsClassifier(hidden_layers=(8,), activation='tanh',
    ...                          learning_rate=0.05, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict(X[:4])
    array(['no', 'yes', 'yes', 'no'], dtype='<U3')
    >>> clf.predict_proba(X[:4]).shape
    (4, 2)
    """

    _model_class = feedforward.Classifier

    def fit(self, X, y, sample_weight=None):
        """Train a new network on labelled data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example (trains a weighted model).

        Returns
        -------
        self
        """
        X, y = _validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        arrays = [X, labels.astype('int32')]
        weighted = sample_weight is not None
        if weighted:
            arrays.append(_check_sample_weight(
                sample_weight, X, dtype=np.float32))
        return self._train(arrays, X.shape[1], len(self.classes_), weighted)

    def predict_proba(self, X):
        """Compute class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        return self._predict_output(X)

    def predict(self, X):
        """Predict the most likely class label of each example.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels taken from ``classes_``.
        """
        check_is_fitted(self, 'network_')
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TheanetsRegressor(RegressorMixin, _TheanetsEstimator):
    """A scikit-learn regressor backed by a :class:`theanets.Regressor`.

    The network has ``n_features_in_`` inputs, the ``hidden_layers`` and a
    linear output layer with one unit per target (``y`` may be 1-D or 2-D,
    for several outputs).

    Parameters
    ----------
    hidden_layers, activation, loss, algo, learning_rate, batch_size, \
max_updates, patience, min_improvement, validation_fraction, train_kwargs, \
random_state, verbose
        As for :class:`TheanetsClassifier` (the default loss is ``'mse'``).

    Attributes
    ----------
    network_ : theanets.Regressor
        The trained model.
    history_ : list of (dict, dict)
        Training and validation monitor values after each epoch.
    n_iter_ : int
        Number of training epochs.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Column names of ``X``, when it was a data frame with string names.

    Examples
    --------
    >>> from theanets.estimators import TheanetsRegressor
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> y = 2 * X.ravel() + 1
    >>> reg = TheanetsRegressor(hidden_layers=(), learning_rate=0.05,
    ...                         random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> reg.score(X, y) > 0.95
    True
    """

    _model_class = feedforward.Regressor

    def fit(self, X, y, sample_weight=None):
        """Train a new network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example (trains a weighted model).

        Returns
        -------
        self
        """
        X, y = _validate_data(self, X, y, dtype=np.float32, multi_output=True,
                              y_numeric=True)
        y = np.asarray(y, dtype=np.float32)
        self._y_ndim = y.ndim
        targets = y.reshape(len(y), -1)
        arrays = [X, targets]
        weighted = sample_weight is not None
        if weighted:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32)
            arrays.append(np.repeat(weights[:, None], targets.shape[1], 1))
        return self._train(arrays, X.shape[1], targets.shape[1], weighted)

    def predict(self, X):
        """Predict target values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, 1-D if ``y`` was 1-D in ``fit``.
        """
        output = self._predict_output(X)
        return output.ravel() if self._y_ndim == 1 else output

    def _more_tags(self):
        tags = super(TheanetsRegressor, self)._more_tags()
        tags['multioutput'] = True
        return tags

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super(TheanetsRegressor, self).__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class TheanetsAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                          _TheanetsEstimator):
    """A scikit-learn transformer backed by a :class:`theanets.Autoencoder`.

    The network maps ``n_features_in_`` inputs through the
    ``hidden_layers`` back to ``n_features_in_`` linear outputs and learns
    to reproduce its input. ``transform`` returns the values of the middle
    layer (the encoding), ``inverse_transform`` maps encodings back.

    Parameters
    ----------
    hidden_layers : sequence of layer specifications, optional
        The hidden layers, e.g. ``(16, 2, 16)`` (the middle one is the
        encoding). Defaults to ``(10,)``.
    activation, loss, algo, learning_rate, batch_size, max_updates, \
patience, min_improvement, validation_fraction, train_kwargs, \
random_state, verbose
        As for :class:`TheanetsClassifier` (the default loss is ``'mse'``).

    Attributes
    ----------
    network_ : theanets.Autoencoder
        The trained model.
    history_ : list of (dict, dict)
        Training and validation monitor values after each epoch.
    n_iter_ : int
        Number of training epochs.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Column names of ``X``, when it was a data frame with string names.

    Examples
    --------
    >>> from theanets.estimators import TheanetsAutoencoder
    >>> X = np.random.RandomState(0).randn(50, 4)
    >>> ae = TheanetsAutoencoder(hidden_layers=(2,), random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape, ae.inverse_transform(Z).shape
    ((50, 2), (50, 4))
    >>> ae.get_feature_names_out()
    array(['theanetsautoencoder0', 'theanetsautoencoder1'], dtype=object)
    """

    _model_class = feedforward.Autoencoder

    def __init__(self, hidden_layers=(10,), activation='relu', loss=None,
                 algo='rmsprop', learning_rate=0.001, batch_size=32,
                 max_updates=200, patience=5, min_improvement=0.005,
                 validation_fraction=0.0, train_kwargs=None,
                 random_state=None, verbose=False):
        super(TheanetsAutoencoder, self).__init__(
            hidden_layers=hidden_layers, activation=activation, loss=loss,
            algo=algo, learning_rate=learning_rate, batch_size=batch_size,
            max_updates=max_updates, patience=patience,
            min_improvement=min_improvement,
            validation_fraction=validation_fraction,
            train_kwargs=train_kwargs, random_state=random_state,
            verbose=verbose)

    def fit(self, X, y=None, sample_weight=None):
        """Train a new autoencoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example (trains a weighted model).

        Returns
        -------
        self
        """
        X = _validate_data(self, X, dtype=np.float32)
        arrays = [X]
        weighted = sample_weight is not None
        if weighted:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32)
            arrays.append(np.repeat(weights[:, None], X.shape[1], 1))
        return self._train(arrays, X.shape[1], X.shape[1], weighted)

    @property
    def _n_features_out(self):
        """Width of the encoding (for ``get_feature_names_out``)."""
        layer = self.network_.layers[len(self.network_.layers) // 2]
        return layer.output_shape[-1]

    def transform(self, X):
        """Encode data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The values of the middle layer.
        """
        check_is_fitted(self, 'network_')
        X = _validate_data(self, X, reset=False, dtype=np.float32)
        with _quiet(self.verbose):
            return np.asarray(self.network_.encode(X), dtype=np.float64)

    def inverse_transform(self, X):
        """Decode encodings back into the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Encodings, as returned by :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The reconstructions.
        """
        check_is_fitted(self, 'network_')
        Z = np.asarray(X, dtype=np.float32)
        if Z.ndim != 2:
            raise ValueError('expected a 2-D array of encodings, got shape '
                             '{}'.format(Z.shape))
        with _quiet(self.verbose):
            return np.asarray(self.network_.decode(Z), dtype=np.float64)

