"""Names available to every doctest (in the package and in docs/), and the
logging setup of the test session.
"""

import importlib.util
import logging

import numpy as np
import pytest

# The session configures logging as an application would, before the
# import: theanets adds no handler of its own, its INFO records propagate to
# pytest's capture (shown with a failing test), and DEBUG stays off unless a
# test asks (``caplog.set_level(logging.DEBUG, logger='theanets')``).
# tests/test_logging.py checks the defaults in fresh interpreters.
logging.getLogger('theanets').setLevel(logging.INFO)

import theanets  # noqa: E402

# Modules of optional extras whose doctests need the extra installed.
collect_ignore = []
if importlib.util.find_spec('distributed') is None:
    collect_ignore.append('theanets/_dask.py')
if importlib.util.find_spec('pytensor') is None:
    # the PyTensor backend's convolution and pooling import PyTensor itself
    collect_ignore.append('theanets/_pytensor_nnet.py')
if (importlib.util.find_spec('jax') is None
        or theanets.backend.name() != 'pytensor'):
    # JAX's implementations of theanets' Ops import JAX and PyTensor's
    # dispatch (and the Theano backend has no JAX linker)
    collect_ignore.extend(['theanets/ops/_jax_conv.py',
                           'theanets/ops/_jax_recurrent.py'])


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace['np'] = np
    doctest_namespace['theanets'] = theanets
