"""scikit-learn estimators wrapping theanets models.

:class:`TheanetsClassifier`, :class:`TheanetsRegressor` and
:class:`TheanetsAutoencoder` (a transformer) follow scikit-learn's estimator
conventions, so they can be used in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and ``clone``. Input and output sizes are taken from the
data in ``fit``; the fitted theanets model is ``network_``. ``fit`` trains a
new network (or, with ``warm_start=True``, continues the fitted one);
``partial_fit`` trains for one epoch per call, keeping the optimizer's state
between calls (see the user guide, :doc:`/guide/estimators`).

This module needs scikit-learn (``pip install 'theanets[sklearn]'``) and is
not imported by ``import theanets``::

    from theanets.estimators import TheanetsClassifier
"""


import numbers
from collections.abc import Mapping

import numpy as np

# scikit-learn's names come through the base module, which raises a clear
# ImportError when scikit-learn is missing.
from ._estimator_base import (
    ClassifierMixin, ClassNamePrefixFeaturesOutMixin, RegressorMixin,
    TransformerMixin, _check_sample_weight, _TheanetsEstimator, _quiet,
    _validate_data, _validate_training_data, check_classification_targets,
    check_is_fitted, compute_sample_weight)

from . import feedforward

__all__ = ['TheanetsClassifier', 'TheanetsRegressor', 'TheanetsAutoencoder',
           'dask_compile_dir']

#: Checks of ``sklearn.utils.estimator_checks`` that cannot pass, with why.
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
        ``'rmsprop'``. :meth:`partial_fit` needs a downhill optimizer.
    learning_rate : float, optional
        Defaults to 0.001.
    batch_size : int, optional
        Examples per mini-batch. Defaults to 32.
    max_updates : int or None, optional
        Maximum number of training epochs (passes over the data) of
        :meth:`fit`; None trains until the early-stopping rule ends
        training. Defaults to 200.
    patience : int, optional
        Stop after this many validations (every 10 epochs) without a
        relative improvement of ``min_improvement``. Defaults to 5.
    min_improvement : float, optional
        Defaults to 0.005.
    validation_fraction : float, optional
        Fraction of the training data (drawn at random) held out to decide
        when to stop; 0 (the default) validates on the training data.
        Whenever training stops, :meth:`fit` keeps the parameters with the
        best validation loss (see :meth:`theanets.Network.itertrain`).
    train_kwargs : dict, optional
        Further keyword arguments of :meth:`theanets.Network.train`, e.g.
        regularizers (``weight_l2``, ``hidden_dropout``, …), ``momentum``
        or ``validate_every``.
    random_state : int, ``numpy.random.RandomState`` or None, optional
        Seeds the parameter initialisation and the mini-batch shuffling; an
        int makes ``fit`` reproducible.
    verbose : bool, optional
        If True, training progress is logged (``theanets`` logger at INFO).
    warm_start : bool, optional
        If True, :meth:`fit` on an estimator fitted before continues
        training its network from the current parameters (with a new
        optimizer, as in scikit-learn) instead of building a new one; the
        data must have the same number of features and the same classes,
        and ``hidden_layers``, ``activation`` and ``loss`` must be
        unchanged, else a ``ValueError`` is raised. ``history_`` and
        ``n_iter_`` then count the epochs of every fit. Defaults to False:
        every ``fit`` starts afresh (also after :meth:`partial_fit`).
    class_weight : None, 'balanced' or dict, optional
        Weights of the classes in the loss: a dict maps labels to weights
        (labels it leaves out weigh 1), ``'balanced'`` weighs each class by
        ``n_samples / (n_classes * count)`` as
        :func:`sklearn.utils.class_weight.compute_sample_weight` does. The
        class weight of each example multiplies its ``sample_weight``, and
        the network is trained as a weighted model. Labels of the dict that
        are not classes of the data raise a ``ValueError``.
        :meth:`partial_fit` accepts a dict, but not ``'balanced'`` (one call
        sees only part of the data). Defaults to None: all classes weigh 1.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    network_ : theanets.Classifier
        The trained model (its outputs are indices into ``classes_``).
    history_ : list of (dict, dict)
        Training and validation monitor values after each epoch. A
        warm-started fit and every :meth:`partial_fit` call add to it;
        ``partial_fit`` does not validate, so its validation dicts are
        empty.
    n_iter_ : int
        Number of training epochs (``len(history_)``).
    best_validation_ : dict or None
        Validation monitor values of the parameters the model holds after
        :meth:`fit` (the best validation of the run; ``'acc'`` is the
        accuracy), None after :meth:`partial_fit`.
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
    >>> clf.score(X, y) == clf.best_validation_['acc']
    True

    Weighing a rare class up, and training in several calls of
    :meth:`partial_fit` (one epoch each; ``classes`` is needed on the first
    call):

    >>> y = np.array(['no', 'no', 'no', 'yes'] * 8)
    >>> clf = TheanetsClassifier(hidden_layers=(8,), class_weight='balanced',
    ...                          random_state=0).fit(X, y)
    >>> online = TheanetsClassifier(hidden_layers=(8,), random_state=0)
    >>> for epoch in range(3):
    ...     _ = online.partial_fit(X, y, classes=['no', 'yes'])
    >>> online.n_iter_
    3
    """

    _model_class = feedforward.Classifier
    _weights_per_output = False

    def __init__(self, hidden_layers=(100,), activation='relu', loss=None,
                 algo='rmsprop', learning_rate=0.001, batch_size=32,
                 max_updates=200, patience=5, min_improvement=0.005,
                 validation_fraction=0.0, train_kwargs=None,
                 random_state=None, verbose=False, warm_start=False,
                 class_weight=None):
        super(TheanetsClassifier, self).__init__(
            hidden_layers=hidden_layers, activation=activation, loss=loss,
            algo=algo, learning_rate=learning_rate, batch_size=batch_size,
            max_updates=max_updates, patience=patience,
            min_improvement=min_improvement,
            validation_fraction=validation_fraction,
            train_kwargs=train_kwargs, random_state=random_state,
            verbose=verbose, warm_start=warm_start)
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Train a network on labelled data.

        A new network, unless ``warm_start`` is set and the estimator was
        fitted before (then training continues from its parameters).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example (trains a weighted model); multiplied
            by the ``class_weight`` of its label.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For data that scikit-learn's checks refuse, a bad
            ``class_weight``, and for a warm start on data with another
            number of features or other classes.
        """
        warm = self.warm_start and hasattr(self, 'network_')
        X, y = _validate_training_data(self, X, y, reset=not warm, dtype=np.float32)
        check_classification_targets(y)
        classes = np.unique(y)
        if warm and not (len(classes) == len(self.classes_) and
                         _labels_in(classes, self.classes_)):
            raise ValueError(
                'warm_start can only be used where `y` has the same classes '
                'as in the previous call to fit. Previously got {}, `y` has '
                '{}'.format(self.classes_, classes))
        if not warm:
            self.classes_ = classes
        weights = self._example_weights(y, X, sample_weight, self.classes_,
                                        'fit')
        labels = np.searchsorted(self.classes_, y).astype('int32')
        return self._train([X, labels], weights, X.shape[1],
                           len(self.classes_), warm)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on a batch of labelled data.

        One pass over ``X`` in shuffled mini-batches of ``batch_size``,
        without validation. The first call builds the network (a weighted
        one, with unit weights when none are given); every call continues
        the parameters and the optimizer's state (momentum, moment
        estimates) of the call before, also when the estimator was fitted
        by :meth:`fit`. ``max_updates``, ``patience``, ``min_improvement``
        and ``validation_fraction`` do not apply. The optimizer state
        starts afresh after unpickling, and when a training parameter
        (``learning_rate``, ``algo``, ``train_kwargs``) changes between
        calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : array-like of shape (n_samples,)
            Class labels, all of them among ``classes``.
        classes : array-like of shape (n_classes,), optional
            Every class label the estimator will see. Required on the first
            call; later calls may leave it out or must repeat it.
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example; multiplied by the ``class_weight``
            of its label.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``classes`` is missing on the first call or differs from
            ``classes_`` on a later one, ``y`` holds a label not in
            ``classes_``, ``X`` has another number of features than on the
            first call, or ``class_weight`` is ``'balanced'``.

        Examples
        --------
        >>> from theanets.estimators import TheanetsClassifier
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 8, dtype=float)
        >>> y = np.array([0, 1, 1, 0] * 8)
        >>> clf = TheanetsClassifier(hidden_layers=(8,), random_state=0)
        >>> clf.partial_fit(X, y)
        Traceback (most recent call last):
        ...
        ValueError: classes must be passed on the first call to partial_fit.
        >>> clf = clf.partial_fit(X[:16], y[:16], classes=[0, 1])
        >>> clf = clf.partial_fit(X[16:], y[16:])
        >>> clf.n_iter_, clf.classes_
        (2, array([0, 1]))
        """
        first = not hasattr(self, 'network_')
        if classes is not None:
            classes = np.unique(np.asarray(classes))
        if first and classes is None:
            raise ValueError(
                'classes must be passed on the first call to partial_fit.')
        if not first and classes is not None and not (
                len(classes) == len(self.classes_) and
                _labels_in(classes, self.classes_)):
            raise ValueError(
                '`classes={!r}` is not the same as on last call to '
                'partial_fit, was: {!r}'.format(classes, self.classes_))
        X, y = _validate_training_data(self, X, y, reset=first, dtype=np.float32)
        check_classification_targets(y)
        known = classes if first else self.classes_
        if not _labels_in(np.unique(y), known):
            raise ValueError(
                "`y` has classes not in `self.classes_`. `self.classes_` "
                "has {}. 'y' has {}.".format(known, np.unique(y)))
        weights = self._example_weights(y, X, sample_weight, known,
                                        'partial_fit')
        labels = np.searchsorted(known, y).astype('int32')
        self._partial_train([X, labels], weights, X.shape[1], len(known))
        self.classes_ = known
        return self

    def _example_weights(self, y, X, sample_weight, classes, caller):
        """One weight per example from ``sample_weight`` and
        ``class_weight`` (for labels among ``classes``), or None if neither
        is given."""
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32)
        class_weight = self.class_weight
        if class_weight is None:
            return weights
        if isinstance(class_weight, str) and class_weight == 'balanced':
            if caller == 'partial_fit':
                raise ValueError(
                    "class_weight 'balanced' is not supported for "
                    "partial_fit (a call sees only part of the data); pass "
                    "a dict of weights, e.g. from sklearn.utils.class_weight."
                    "compute_class_weight('balanced', classes=classes, y=y) "
                    "on a large enough sample of the training labels")
            per_example = compute_sample_weight('balanced', y)
        elif isinstance(class_weight, Mapping):
            per_class = np.ones(len(classes))
            unknown = []
            for label, weight in class_weight.items():
                where = [i for i, c in enumerate(classes) if c == label]
                if not where:
                    unknown.append(label)
                    continue
                if isinstance(weight, bool) or not isinstance(
                        weight, numbers.Real) or not np.isfinite(weight) or \
                        weight < 0:
                    raise ValueError(
                        'class_weight: expected a non-negative finite number '
                        'as the weight of class {!r}, got {!r}'.format(
                            label, weight))
                per_class[where[0]] = weight
            if unknown:
                raise ValueError(
                    'class_weight: the labels {} are not among the classes '
                    '{}'.format(unknown, np.asarray(classes).tolist()))
            per_example = per_class[np.searchsorted(classes, y)]
        else:
            raise ValueError(
                "class_weight: expected None, 'balanced' or a dict "
                "{{label: weight}}, got {!r}".format(class_weight))
        per_example = np.asarray(per_example, dtype=np.float32)
        return per_example if weights is None else weights * per_example

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


def _labels_in(labels, classes):
    """True if every label equals one of ``classes``."""
    known = set(np.asarray(classes).tolist())
    return all(label in known for label in np.asarray(labels).tolist())


class TheanetsRegressor(RegressorMixin, _TheanetsEstimator):
    """A scikit-learn regressor backed by a :class:`theanets.Regressor`.

    The network has ``n_features_in_`` inputs, the ``hidden_layers`` and a
    linear output layer with one unit per target (``y`` may be 1-D or 2-D,
    for several outputs).

    Parameters
    ----------
    hidden_layers, activation, loss, algo, learning_rate, batch_size, \
max_updates, patience, min_improvement, validation_fraction, train_kwargs, \
random_state, verbose, warm_start
        As for :class:`TheanetsClassifier` (the default loss is ``'mse'``).
        A warm start needs ``y`` with the same number of columns.

    Attributes
    ----------
    network_ : theanets.Regressor
        The trained model.
    history_ : list of (dict, dict)
        Training and validation monitor values after each epoch (see
        :class:`TheanetsClassifier`).
    n_iter_ : int
        Number of training epochs (``len(history_)``).
    best_validation_ : dict or None
        Validation monitor values of the parameters the model holds after
        :meth:`fit` (``'loss'`` is the mean squared error without
        regularizers), None after :meth:`partial_fit`.
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

    With ``warm_start=True`` each ``fit`` goes on from the parameters the
    one before left:

    >>> reg = TheanetsRegressor(hidden_layers=(), learning_rate=0.05,
    ...                         max_updates=5, warm_start=True,
    ...                         random_state=0)
    >>> first = reg.fit(X, y).score(X, y)
    >>> reg.fit(X, y).score(X, y) > first, reg.n_iter_
    (True, 10)
    """

    _model_class = feedforward.Regressor

    def fit(self, X, y, sample_weight=None):
        """Train a network.

        A new network, unless ``warm_start`` is set and the estimator was
        fitted before (then training continues from its parameters).

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
        warm = self.warm_start and hasattr(self, 'network_')
        X, targets, weights, ndim = self._regression_data(
            X, y, sample_weight, not warm)
        self._train([X, targets], weights, X.shape[1], targets.shape[1], warm)
        self._y_ndim = ndim
        return self

    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on a batch of data.

        One pass over ``X`` in shuffled mini-batches, continuing the
        parameters and the optimizer state of the call before; see
        :meth:`TheanetsClassifier.partial_fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values, with the same number of columns in every call.
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example.

        Returns
        -------
        self

        Examples
        --------
        >>> from theanets.estimators import TheanetsRegressor
        >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
        >>> reg = TheanetsRegressor(hidden_layers=(), learning_rate=0.05,
        ...                         random_state=0)
        >>> scores = [reg.partial_fit(X, 2 * X.ravel()).score(X, 2 * X.ravel())
        ...           for _ in range(5)]
        >>> scores[-1] > scores[0], reg.n_iter_
        (True, 5)
        """
        first = not hasattr(self, 'network_')
        X, targets, weights, ndim = self._regression_data(
            X, y, sample_weight, first)
        self._partial_train([X, targets], weights, X.shape[1],
                            targets.shape[1])
        self._y_ndim = ndim
        return self

    def _regression_data(self, X, y, sample_weight, reset):
        """Checked inputs, 2-D float32 targets, weights (or None) and the
        number of dimensions of ``y``."""
        X, y = _validate_training_data(self, X, y, reset=reset, dtype=np.float32,
                              multi_output=True, y_numeric=True)
        targets = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32)
        return X, targets, weights, np.ndim(y)

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
random_state, verbose, warm_start
        As for :class:`TheanetsClassifier` (the default loss is ``'mse'``).

    Attributes
    ----------
    network_ : theanets.Autoencoder
        The trained model.
    history_ : list of (dict, dict)
        Training and validation monitor values after each epoch (see
        :class:`TheanetsClassifier`).
    n_iter_ : int
        Number of training epochs (``len(history_)``).
    best_validation_ : dict or None
        Validation monitor values of the parameters the model holds after
        :meth:`fit`, None after :meth:`partial_fit`.
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
                 random_state=None, verbose=False, warm_start=False):
        super(TheanetsAutoencoder, self).__init__(
            hidden_layers=hidden_layers, activation=activation, loss=loss,
            algo=algo, learning_rate=learning_rate, batch_size=batch_size,
            max_updates=max_updates, patience=patience,
            min_improvement=min_improvement,
            validation_fraction=validation_fraction,
            train_kwargs=train_kwargs, random_state=random_state,
            verbose=verbose, warm_start=warm_start)

    def fit(self, X, y=None, sample_weight=None):
        """Train an autoencoder.

        A new network, unless ``warm_start`` is set and the estimator was
        fitted before (then training continues from its parameters).

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
        warm = self.warm_start and hasattr(self, 'network_')
        X, weights = self._autoencoder_data(X, sample_weight, not warm)
        return self._train([X], weights, X.shape[1], X.shape[1], warm)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one epoch on a batch of data.

        One pass over ``X`` in shuffled mini-batches, continuing the
        parameters and the optimizer state of the call before; see
        :meth:`TheanetsClassifier.partial_fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            A weight for each example.

        Returns
        -------
        self
        """
        first = not hasattr(self, 'network_')
        X, weights = self._autoencoder_data(X, sample_weight, first)
        return self._partial_train([X], weights, X.shape[1], X.shape[1])

    def _autoencoder_data(self, X, sample_weight, reset):
        """Checked float32 inputs and weights (or None)."""
        X = _validate_training_data(self, X, reset=reset, dtype=np.float32)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32)
        return X, weights

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


def dask_compile_dir(client, path, per_worker=True):
    """Choose the Theano compile directory of the workers of a Dask cluster.

    Registers a :class:`theanets._dask.TheanoCompileDir` nanny plugin on
    the cluster of ``client``: every worker, present and future, compiles
    into ``path`` (shared, safe under Theano's per-directory lock) or into
    ``path/<worker name>`` (one directory per worker). Running workers are
    restarted, since Theano reads its flags once, at import. A worker whose
    ``THEANO_FLAGS`` or ``.theanorc`` already chooses ``base_compiledir``
    or ``compiledir`` keeps that choice. Needs ``dask.distributed``; see
    the user guide's section on sweeps on a cluster.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.
    path : str or path
        The compile directory, as a path on the worker machines.
    per_worker : bool, optional
        If True (the default) one directory per worker, else one shared by
        all workers.

    Returns
    -------
    theanets._dask.TheanoCompileDir
        The registered plugin.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2))  # doctest: +SKIP
    >>> dask_compile_dir(client, '/tmp/theano-workers')  # doctest: +SKIP
    """
    from . import _dask
    plugin = _dask.TheanoCompileDir(path, per_worker=per_worker)
    client.register_plugin(plugin)
    return plugin
