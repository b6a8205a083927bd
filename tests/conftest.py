"""Fixtures shared by every test module: the data arrays, a tiny model, log
capture and a guard against compiling.

Constants and plain helper functions live in :mod:`tests.helpers`.
"""

import logging

import numpy as np
import pytest

from theanets import feedforward  # configures Theano before anything else
from theanets.backend import theano

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS, draw_shared_arrays

# Code paths that draw from numpy's global generator (sampling in
# ``Autoencoder.encode``, fixed rate vectors of some recurrent layers) give
# the same values on every run.
np.random.seed(13)

_ARRAYS = draw_shared_arrays()
for _array in _ARRAYS.values():
    # shared by every test: a test that needs to change one makes a copy
    _array.setflags(write=False)


def _array_fixture(name, doc):
    def fixture():
        return _ARRAYS[name]
    fixture.__name__ = name
    fixture.__doc__ = doc
    return pytest.fixture(scope='session', name=name)(fixture)


inputs = _array_fixture('inputs', '(64, 7) float32 inputs.')
input_weights = _array_fixture(
    'input_weights', '(64, 7) non-negative weights of the inputs.')
outputs = _array_fixture('outputs', '(64, 5) float32 regression targets.')
output_weights = _array_fixture(
    'output_weights', '(64, 5) non-negative weights of the targets.')
classes = _array_fixture('classes', '(64,) int32 labels in [0, 6).')
class_weights = _array_fixture(
    'class_weights', '(64,) non-negative weights of the labels.')
rnn_inputs = _array_fixture('rnn_inputs', '(64, 31, 7) float32 sequences.')
rnn_input_weights = _array_fixture(
    'rnn_input_weights', '(64, 31, 7) non-negative weights of the inputs.')
rnn_outputs = _array_fixture(
    'rnn_outputs', '(64, 31, 5) float32 sequence targets.')
rnn_output_weights = _array_fixture(
    'rnn_output_weights', '(64, 31, 5) non-negative weights of the targets.')
rnn_classes = _array_fixture(
    'rnn_classes', '(64, 31) int32 labels (truncated normal draws, some '
    'negative).')
rnn_class_weights = _array_fixture(
    'rnn_class_weights', '(64, 31) non-negative weights of the labels.')
cnn_inputs = _array_fixture(
    'cnn_inputs', '(64, 13, 15, 7) float32 images, channels last.')


@pytest.fixture(scope='module')
def tiny():
    """A (7 -> 5) regressor, one per test module.

    Compiled functions are cached on the model, so the tests of one module
    that use it compile each function once.
    """
    return feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])


def _from_theanets(record):
    return record.name == 'theanets' or record.name.startswith('theanets.')


@pytest.fixture
def messages(caplog):
    """Log message bodies of the ``theanets`` loggers, DEBUG and up.

    The records propagate to pytest's ``caplog`` handler on the root logger;
    the ``theanets`` logger is set to DEBUG for the test (construction
    details are DEBUG records).
    """
    caplog.set_level(logging.DEBUG, logger='theanets')
    return lambda: [record.getMessage() for record in caplog.records
                    if _from_theanets(record)]


class LogRecords(logging.Handler):
    """Collects the records of the ``theanets`` loggers."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, logger=None):
        """Message bodies, of every logger or of the one named ``logger``."""
        return [r.getMessage() for r in self.records
                if logger is None or r.name == logger]


@pytest.fixture
def logs(caplog):
    """A :class:`LogRecords` handler attached to the ``theanets`` logger.

    Unlike :func:`messages`, it keeps the records (with their logger names
    and levels). The ``theanets`` logger is set to DEBUG for the test.
    """
    caplog.set_level(logging.DEBUG, logger='theanets')
    handler = LogRecords()
    logger = logging.getLogger('theanets')
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if Theano compiles anything."""
    def forbidden(*args, **kwargs):
        raise AssertionError('theano.function called')
    monkeypatch.setattr(theano, 'function', forbidden)
