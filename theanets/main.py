"""A small wrapper that creates, trains, saves and loads one model."""

import os

from . import exceptions
from . import graph


class Experiment(object):
    """Hold one network and give access to its training and persistence.

    Parameters
    ----------
    network : Network subclass, Network instance or str
        A model class (instantiated with ``*args`` and ``**kwargs``), a
        model, or the path of a saved model to load.
    *args, **kwargs
        Arguments for the model class.

    Attributes
    ----------
    network : :class:`theanets.Network`
        The model.

    Examples
    --------
    >>> exp = theanets.Experiment(theanets.Autoencoder, layers=(4, 2, 4))
    >>> [layer.name for layer in exp.network.layers]
    ['in', 'hid1', 'out']
    """

    def __init__(self, network, *args, **kwargs):
        if isinstance(network, (str, os.PathLike)) and \
                os.path.isfile(network):
            self.load(network)
        elif isinstance(network, graph.Network):
            self.network = network
        else:
            if network is graph.Network:
                raise exceptions.ConfigTypeError(
                    'network: use a concrete model class such as '
                    'theanets.Autoencoder, theanets.Regressor or '
                    'theanets.Classifier, not Network')
            self.network = network(*args, **kwargs)

    def train(self, *args, **kwargs):
        """Train the network; see :meth:`theanets.Network.train`."""
        return self.network.train(*args, **kwargs)

    def itertrain(self, *args, **kwargs):
        """Train the network iteratively; see
        :meth:`theanets.Network.itertrain`."""
        return self.network.itertrain(*args, **kwargs)

    def save(self, path):
        """Save the network to ``path``; see :meth:`theanets.Network.save`."""
        self.network.save(path)

    def load(self, path):
        """Replace the network by the one saved at ``path`` and return it."""
        self.network = graph.Network.load(path)
        return self.network
