"""Feed-forward models: :class:`Autoencoder`, :class:`Regressor` and
:class:`Classifier`."""

import warnings

import numpy as np

from . import graph
from . import layers
from . import regularizers
from . import util
from . import validation
from .backend import theano, COMPILE_LOCK


def _require_output(outputs, key):
    """Return ``key`` if it names one of ``outputs``, else raise.

    The error is a :class:`KeyError` (as the original raised) that also is a
    :class:`~theanets.util.ConfigurationError` and lists the output names.
    """
    if key not in outputs:
        raise util.UnknownNameError(key, 'output', outputs)
    return key



def _labels_equal(y, predicted):
    """``y == predicted`` elementwise, as numpy 1.23 compared them.

    Labels of a shape that does not broadcast against the predictions
    compare as a scalar False with a DeprecationWarning (numpy 1.23 did
    this itself; numpy 2 raises), so ``score`` keeps 0.8's behaviour on
    every numpy.
    """
    try:
        np.broadcast_shapes(np.shape(y), np.shape(predicted))
    except ValueError:
        warnings.warn('elementwise comparison failed; labels of shape {} '
                      'cannot be compared with predictions of shape {}'.format(
                          np.shape(y), np.shape(predicted)),
                      DeprecationWarning, stacklevel=3)
        return np.asarray(False)
    return np.asarray(y == predicted)

class Autoencoder(graph.Network):
    """A model that learns to reproduce its input.

    The training loss compares the output of the last layer with the input
    itself, so training data are just the inputs: ``[x]``, or ``[x,
    weights]`` for a weighted model (weights shaped like ``x``).

    Parameters
    ----------
    layers : sequence of layer specifications
        See :class:`theanets.Network`. The last layer usually has as many
        units as the input.
    loss : str, optional
        Name of the reconstruction loss. Defaults to ``'mse'``.
    weighted : bool, optional
        If True, training data carry per-value weights. Defaults to False.
    rng : int or ``numpy.random.RandomState``, optional
        Seed for parameter initialisation. Defaults to 13.

    Examples
    --------
    >>> model = theanets.Autoencoder([6, (3, 'tanh'), 6])
    >>> [v.name for v in model.variables]
    ['in']
    """

    def __init__(self, layers=(), loss='mse', weighted=False, rng=13):
        super(Autoencoder, self).__init__(layers, rng=rng)
        if self.layers:
            self.set_loss(form=loss, target=self.inputs[0], weighted=weighted)

    def score(self, x, w=None, **kwargs):
        """Compute R² of the reconstruction of ``x``.

        Parameters
        ----------
        x : ndarray
            Input data.
        w : ndarray, optional
            Weights, shaped like ``x`` (the second positional argument is the
            weight array, not a target).

        Returns
        -------
        float
            The (weighted) coefficient of determination of the reconstruction.
        """
        return super(Autoencoder, self).score(x, x, w=w, **kwargs)

    def _find_output(self, layer):
        """Resolve a layer index, name or object to an output name.

        None means the middle layer (``len(layers) // 2``); a string that
        names no layer is returned unchanged (e.g. ``'hid1:pre'``).
        """
        if layer is None:
            layer = len(self.layers) // 2
        if isinstance(layer, int):
            layer = self.layers[layer]
        if isinstance(layer, str):
            for candidate in self.layers:
                if candidate.name == layer:
                    layer = candidate
                    break
        if isinstance(layer, layers.Layer):
            layer = layer.output_name
        return layer

    def encode(self, x, layer=None, sample=False, **kwargs):
        """Encode data with the network's hidden representation.

        Parameters
        ----------
        x : ndarray
            Input data.
        layer : int, str or Layer, optional
            The layer (or output name) whose values are the encoding.
            Defaults to the middle layer.
        sample : bool, optional
            If True, draw binary samples (with numpy's global generator) with
            the encoding values as probabilities.
        **kwargs
            Regularizer keywords, as for :meth:`feed_forward`.

        Returns
        -------
        ndarray
            The encoding of each example.
        """
        arrays = validation.check_inputs(self, x)
        outputs = self.build_graph(regularizers.from_kwargs(self, **kwargs))[0]
        name = _require_output(outputs, self._find_output(layer))
        enc = self._compute(arrays, [name], **kwargs)[0]
        if sample:
            return np.random.binomial(n=1, p=enc).astype(np.uint8)
        return enc

    def decode(self, z, layer=None, **kwargs):
        """Decode an encoding back into the input space.

        The values ``z`` stand in for the output of ``layer``; only the
        computation downstream of that layer is run.

        Parameters
        ----------
        z : ndarray
            Encoded data, shaped like the output of ``layer``.
        layer : int, str or Layer, optional
            The layer (or output name) that ``z`` replaces. Defaults to the
            middle layer.
        **kwargs
            Regularizer keywords, as for :meth:`feed_forward`.

        Returns
        -------
        ndarray
            The output of the last layer.
        """
        key = self._find_output(layer)
        regs = regularizers.from_kwargs(self, **kwargs)
        cache = ('decode', key, self._hash(regs))
        outputs, updates = self.build_graph(regs)
        _require_output(outputs, key)
        with COMPILE_LOCK:
            fn = self._functions.get(cache)
            if fn is None:
                util.debug('compiling decode function')
                fn = self._functions[cache] = theano.function(
                    [outputs[key]], [outputs[self.layers[-1].output_name]],
                    updates=updates)
        shape = None
        for candidate in self.layers:
            if candidate.output_name == key:
                shape = validation.shape_of(candidate)
        z = validation.check_array('z', z, outputs[key], shape)
        with self._call_lock:
            return util.as_ndarray(fn(z)[0])


class Regressor(graph.Network):
    """A model that maps inputs to real-valued outputs.

    Training data are ``[inputs, targets]``, or ``[inputs, targets,
    weights]`` for a weighted model.

    Parameters
    ----------
    layers : sequence of layer specifications
        See :class:`theanets.Network`.
    loss : str, optional
        Name of the loss. Defaults to ``'mse'``.
    weighted : bool, optional
        If True, training data carry per-value weights. Defaults to False.
    rng : int or ``numpy.random.RandomState``, optional
        Seed for parameter initialisation. Defaults to 13.

    Examples
    --------
    >>> model = theanets.Regressor([4, (5, 'tanh'), 2], weighted=True)
    >>> [v.name for v in model.variables]
    ['in', 'target', 'weights']
    """


class Classifier(graph.Network):
    """A model that computes a distribution over class labels.

    Training data are ``[inputs, labels]`` (labels are int32 class indices,
    one per example), or ``[inputs, labels, weights]`` for a weighted model.

    Parameters
    ----------
    layers : sequence of layer specifications
        See :class:`theanets.Network`. The last layer has one unit per class
        and a softmax activation by default.
    loss : str, optional
        Name of the loss. Defaults to ``'xe'`` (cross-entropy).
    weighted : bool, optional
        If True, training data carry per-example weights. Defaults to False.
    rng : int or ``numpy.random.RandomState``, optional
        Seed for parameter initialisation. Defaults to 13.

    Examples
    --------
    >>> model = theanets.Classifier([10, (20, 'tanh'), 50])
    >>> [(v.name, v.dtype) for v in model.variables]
    [('in', 'float32'), ('target', 'int32')]
    """

    DEFAULT_OUTPUT_ACTIVATION = 'softmax'
    OUTPUT_NDIM = 1

    def __init__(self, layers=(), loss='xe', weighted=False, rng=13):
        super(Classifier, self).__init__(
            layers, loss=loss, weighted=weighted, rng=rng)

    def monitors(self, **kwargs):
        """Monitors for training: those of :class:`Network` plus ``'acc'``."""
        monitors = super(Classifier, self).monitors(**kwargs)
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        return monitors + [('acc', self.losses[0].accuracy(outputs))]

    def predict(self, x, **kwargs):
        """Compute the most likely class of each example.

        Parameters
        ----------
        x : ndarray (num-examples, num-variables)
            Examples to classify, one per row.

        Returns
        -------
        ndarray (num-examples, )
            The index of the most probable class for each example.
        """
        return self.predict_proba(x, **kwargs).argmax(axis=-1)

    def predict_proba(self, x, **kwargs):
        """Compute the class probabilities of each example.

        Parameters
        ----------
        x : ndarray (num-examples, num-variables)
            Examples to classify, one per row.

        Returns
        -------
        ndarray (num-examples, num-classes)
            The output of the last layer (softmax probabilities).
        """
        return self._compute_one(x, self.layers[-1].output_name, **kwargs)

    def predict_logit(self, x, **kwargs):
        """Compute the logits (pre-softmax values) of each example.

        Parameters
        ----------
        x : ndarray (num-examples, num-variables)
            Examples to classify, one per row.

        Returns
        -------
        ndarray (num-examples, num-classes)
            The ``pre`` output of the last layer.
        """
        return self._compute_one(x, self.layers[-1].full_name('pre'),
                                 **kwargs)

    def classify(self, x, **kwargs):
        """Deprecated alias of :meth:`predict`."""
        warnings.warn('please use predict() instead of classify()',
                      DeprecationWarning, stacklevel=2)
        return self.predict(x, **kwargs)

    def score(self, x, y, w=None, **kwargs):
        """Compute the (weighted) mean accuracy on labelled data.

        Parameters
        ----------
        x : ndarray (num-examples, num-variables)
            Examples to classify, one per row.
        y : ndarray (num-examples, )
            The true class label of each example.
        w : ndarray (num-examples, ), optional
            A weight for each example.

        Returns
        -------
        float
            The fraction of examples (weighted by ``w``) whose predicted class
            equals ``y``.
        """
        eq = _labels_equal(y, self.predict(x, **kwargs))
        if w is not None:
            return float((w * eq).sum() / w.sum())
        return float(eq.mean())
