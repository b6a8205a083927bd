"""Layers: the building blocks of a network graph.

:class:`Layer` is the base class; every layer class is registered by its
lower-cased class name (plus a few aliases such as ``'ff'``) so that
``Layer.build('ff', size=3, inputs='in')`` creates a :class:`Feedforward`.
"""

from . import base
from . import feedforward
from .base import Layer, Input, Product, Flatten, Concatenate, Reshape
from .feedforward import Feedforward, Classifier, Tied
from . import convolution
from . import recurrent
from .convolution import Conv1, Conv2, Pool1, Pool2
from .recurrent import (RNN, RRNN, MRNN, LSTM, GRU, Clockwork, MUT1, SCRN,
                        Bidirectional)
