"""Recurrent models and helpers for sequence data.

Recurrent models take data shaped ``(batch, time, features)``; class labels
are shaped ``(batch, time)``. Use recurrent layers such as ``(8, 'rnn')`` or
``(8, 'lstm')`` in their layer lists.
"""

import collections
import re

import numpy as np

from . import exceptions
from . import feedforward
from . import util


def batches(arrays, steps=100, batch_size=64, rng=None):
    """Create a callable that samples batches of windows from sequences.

    Parameters
    ----------
    arrays : list of ndarray
        Sequences of shape ``(time, features)``, all as long as the first.
    steps : int, optional
        Length of each sampled window. Defaults to 100.
    batch_size : int, optional
        Windows per batch (at least 2). Defaults to 64.
    rng : int or ``numpy.random.RandomState``, optional
        Seed or generator for the window positions.

    Returns
    -------
    callable
        Each call returns a list with one ``(batch_size, steps, features)``
        array per input array; row ``i`` of every array comes from the same
        window. Suitable as training data for :meth:`Network.train`.

    Examples
    --------
    >>> sample = batches([np.zeros((50, 3)), np.ones((50, 2))], steps=10,
    ...                  batch_size=4, rng=1)
    >>> [a.shape for a in sample()]
    [(4, 10, 3), (4, 10, 2)]
    """
    _check_batch_size(batch_size)
    if not isinstance(arrays, (tuple, list)):
        raise exceptions.ConfigTypeError(
            'arrays: expected a tuple or list of arrays, got {}'.format(
                type(arrays).__name__))
    rng = util.as_random_state(rng)

    def sample():
        xs = [np.zeros((batch_size, steps, a.shape[1]), a.dtype)
              for a in arrays]
        for i in range(batch_size):
            j = rng.randint(len(arrays[0]) - steps)
            for x, a in zip(xs, arrays):
                x[i] = a[j:j + steps]
        return xs

    return sample


class Text(object):
    """A text with a character alphabet, for character-level models.

    Parameters
    ----------
    text : str
        The text.
    alpha : str, optional
        The alphabet. Defaults to the characters occurring at least
        ``min_count`` times in ``text``, sorted.
    min_count : int, optional
        Minimum count for a character to enter the default alphabet.
        Defaults to 2.
    unknown : str, optional
        Character that replaces characters outside the alphabet. Defaults
        to ``'\\0'``.

    Attributes
    ----------
    text : str
        The text, with characters outside the alphabet replaced.
    alpha : str
        The alphabet. Index 0 encodes the unknown character, the alphabet's
        characters are encoded as 1, 2, … .

    Examples
    --------
    >>> txt = Text('hello world, how are you!', min_count=2, unknown='_')
    >>> txt.alpha
    ' ehlorw'
    >>> txt.text
    'hello worl__ how _re _o__'
    >>> txt.encode('who?')
    [7, 3, 5, 0]
    >>> txt.decode([7, 3, 5, 0])
    'who_'
    """

    def __init__(self, text, alpha=None, min_count=2, unknown='\0'):
        if alpha is None:
            counts = collections.Counter(text)
            alpha = ''.join(sorted(c for c, n in counts.items()
                                   if n >= min_count and c != unknown))
        if alpha:
            self.text = re.sub(
                '[^{}]'.format(re.escape(alpha)), unknown, text)
        else:
            self.text = unknown * len(text)
        if unknown in alpha:
            raise exceptions.ConfigValueError(
                'unknown: the unknown character {!r} is in the alphabet '
                '{!r}'.format(unknown, alpha))
        self._rev_index = unknown + alpha
        self._fwd_index = dict((c, i) for i, c in enumerate(self._rev_index))
        self.alpha = alpha

    def encode(self, txt):
        """Encode a string as a list of character indices (unknown → 0)."""
        return [self._fwd_index.get(c, 0) for c in txt]

    def decode(self, enc):
        """Decode a sequence of character indices into a string."""
        return ''.join(self._rev_index[c] for c in enc)

    def classifier_batches(self, steps, batch_size, rng=None):
        """Create a callable producing next-character training batches.

        Parameters
        ----------
        steps : int
            Time steps per sequence.
        batch_size : int
            Sequences per batch (at least 2).
        rng : int or ``numpy.random.RandomState``, optional
            Seed or generator for the window positions.

        Returns
        -------
        callable
            Each call returns ``[inputs, labels]``: one-hot inputs of shape
            ``(batch_size, steps, 1 + len(alpha))`` (float32) and the index
            of the next character at each step, ``(batch_size, steps)``
            (int32) — training data for a recurrent :class:`Classifier`.

        Examples
        --------
        >>> txt = Text('abcabcabcabc', min_count=1)
        >>> inputs, labels = txt.classifier_batches(4, 2, rng=3)()
        >>> inputs.shape, labels.shape
        ((2, 4, 4), (2, 4))
        """
        _check_batch_size(batch_size)
        rng = util.as_random_state(rng)
        steps_index = np.arange(steps)

        def batch():
            inputs = np.zeros((batch_size, steps, 1 + len(self.alpha)), 'f')
            outputs = np.zeros((batch_size, steps), 'i')
            for b in range(batch_size):
                offset = rng.randint(len(self.text) - steps - 1)
                enc = self.encode(self.text[offset:offset + steps + 1])
                inputs[b, steps_index, enc[:-1]] = 1
                outputs[b, steps_index] = enc[1:]
            return [inputs, outputs]

        return batch


class Autoencoder(feedforward.Autoencoder):
    """An autoencoder for sequence data shaped ``(batch, time, features)``.

    Examples
    --------
    >>> model = theanets.recurrent.Autoencoder([3, (4, 'tanh'), 3])
    >>> model.inputs[0].ndim
    3
    """

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3


class Regressor(feedforward.Regressor):
    """A regressor for sequence data shaped ``(batch, time, features)``.

    Targets have the same layout as the outputs, ``(batch, time, outputs)``.
    """

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3


class Classifier(feedforward.Classifier):
    """A classifier for sequence data shaped ``(batch, time, features)``.

    Labels are int32 arrays shaped ``(batch, time)``: one class per time
    step of each sequence, and so are predictions.

    Examples
    --------
    >>> model = theanets.recurrent.Classifier([3, (4, 'rnn'), 5])
    >>> x = np.zeros((2, 7, 3), 'float32')
    >>> model.predict(x).shape, model.predict_proba(x).shape
    ((2, 7), (2, 7, 5))
    """

    INPUT_NDIM = 3
    OUTPUT_NDIM = 2

    def predict(self, x, **kwargs):
        """Compute the most likely class at each time step of each sequence.

        Parameters
        ----------
        x : ndarray (num-examples, num-time-steps, num-variables)
            Sequences to classify.

        Returns
        -------
        ndarray (num-examples, num-time-steps)
            The index of the most probable class at each step.
        """
        return super(Classifier, self).predict(x, **kwargs)

    def predict_proba(self, x, **kwargs):
        """Compute the class probabilities at each time step.

        Parameters
        ----------
        x : ndarray (num-examples, num-time-steps, num-variables)
            Sequences to classify.

        Returns
        -------
        ndarray (num-examples, num-time-steps, num-classes)
            The output of the last layer (softmax probabilities).
        """
        return super(Classifier, self).predict_proba(x, **kwargs)

    def predict_logit(self, x, **kwargs):
        """Compute the logits (pre-softmax values) at each time step.

        Parameters
        ----------
        x : ndarray (num-examples, num-time-steps, num-variables)
            Sequences to classify.

        Returns
        -------
        ndarray (num-examples, num-time-steps, num-classes)
            The ``pre`` output of the last layer.
        """
        return super(Classifier, self).predict_logit(x, **kwargs)

    def score(self, x, y, w=None, **kwargs):
        """Compute the (weighted) mean accuracy over all time steps.

        Parameters
        ----------
        x : ndarray (num-examples, num-time-steps, num-variables)
            Sequences to classify.
        y : ndarray (num-examples, num-time-steps)
            The true class label at each step.
        w : ndarray (num-examples, num-time-steps), optional
            A weight for each step.

        Returns
        -------
        float
            The fraction of time steps (weighted by ``w``) whose predicted
            class equals ``y``.
        """
        return super(Classifier, self).score(x, y, w, **kwargs)

    def predict_sequence(self, labels, steps, streams=1, rng=None):
        """Generate a sequence of class labels by sampling from the model.

        The model's inputs are one-hot encodings of the labels (as for a
        character model trained on :meth:`Text.classifier_batches`).

        Parameters
        ----------
        labels : sequence of int
            Labels that start the sequence.
        steps : int
            Number of labels to generate.
        streams : int, optional
            Number of sequences to generate in parallel. Defaults to 1.
        rng : int or ``numpy.random.RandomState``, optional
            Seed or generator for sampling.

        Yields
        ------
        int or list of int
            The next label (a list of labels, one per stream, if ``streams >
            1``).

        Notes
        -----
        Kept from theanets 0.8 for reproducibility: at step ``i`` the model
        is evaluated on the first ``i`` *rows* of the working array (the
        whole array once ``i`` exceeds the number of rows), and the class
        distribution of the array's **last** time step is sampled. At least
        two rows are always computed, so with one stream a second row is
        sampled too (and consumes random draws). While the slice holds a
        single row, its label is used for every stream; while it holds more
        than one row but fewer than ``streams``, the remaining rows are
        evaluated and sampled as well (theanets 0.8 raised an ``IndexError``
        there).
        """
        rng = util.as_random_state(rng)
        offset = len(labels)
        rows = max(2, streams)
        inputs = np.zeros((rows, offset + steps, self.layers[0].output_size),
                          util.FLOAT)
        inputs[:, np.arange(offset), labels] = 1
        for i in range(offset, offset + steps):
            probs = self.predict_proba(inputs[:i])[:, -1]
            if 1 < len(probs) < rows:
                # theanets 0.8 failed here (too few labels for the rows);
                # sample the rows the slice left out as well.
                more = self.predict_proba(inputs[len(probs):])[:, -1]
                probs = np.concatenate([probs, more])
            chosen = []
            for pdf in probs:
                try:
                    c = rng.multinomial(1, pdf).argmax(axis=-1)
                except ValueError:  # float32 probabilities sum past 1
                    c = pdf.argmax(axis=-1)
                chosen.append(int(c))
            if len(chosen) == 1:
                chosen = chosen * rows  # one row evaluated: all streams
            inputs[np.arange(rows), i, chosen] = 1
            yield chosen[0] if streams == 1 else chosen


def _check_batch_size(batch_size):
    """Sampled sequence batches need at least two sequences."""
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 2:
        raise exceptions.ConfigValueError(
            'batch_size: expected an integer of at least 2, got {!r}'.format(
                batch_size))
