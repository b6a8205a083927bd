"""theanets: neural networks on Theano, trained with downhill.

Describe a network as a list of layer specs, train it with any downhill
optimizer, and use it to predict:

>>> net = theanets.Regressor([3, (4, 'tanh'), 2])
>>> [layer.name for layer in net.layers]
['in', 'hid1', 'out']
"""

# Imported in the order of the layers of the package (docs/architecture.rst):
# each module imports only modules above it.
from . import exceptions
from . import backend
from . import util
from .util import log

from . import activations
from . import losses
from . import layers
from . import regularizers
from . import specs
from . import validation
from . import summary
from . import serialize
from . import saving
from . import options
from . import history
from . import callbacks
from . import trainer
from . import training
from . import graph
from . import feedforward
from . import recurrent
from . import convolution
from . import main
from . import plot

from .activations import Activation
from .feedforward import Autoencoder, Regressor, Classifier
from .graph import Network
from .layers import Layer
from .losses import Loss
from .main import Experiment
from .regularizers import Regularizer

__version__ = '0.8.0rc0'

__all__ = [
    'Activation', 'Autoencoder', 'Classifier', 'Experiment', 'Layer', 'Loss',
    'Network', 'Regressor', 'Regularizer', 'callbacks', 'convolution', 'log',
    'recurrent', 'regularizers', '__version__',
]
