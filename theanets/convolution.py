"""Convolutional models for image data shaped ``(batch, width, height,
channels)``.

Use convolution layers such as ``dict(form='conv2', size=8, filter_size=(4,
3))`` and a ``'flat'`` layer before dense layers; give the input layer the
full image shape, e.g. ``(13, 15, 7)``.
"""

from . import feedforward


class Regressor(feedforward.Regressor):
    """A regressor whose inputs are images ``(batch, width, height,
    channels)``; targets are ``(batch, outputs)``.

    Examples
    --------
    >>> theanets.convolution.Regressor.INPUT_NDIM
    4
    """

    INPUT_NDIM = 4


class Classifier(feedforward.Classifier):
    """A classifier whose inputs are images ``(batch, width, height,
    channels)``; labels are ``(batch,)``."""

    INPUT_NDIM = 4
