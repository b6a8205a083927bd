"""theanets: neural networks on Theano, trained with downhill."""

from . import backend
from . import util
from .util import log

__version__ = '0.8.0pre'
