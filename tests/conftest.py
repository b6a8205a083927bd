"""Shared test data, drawn exactly as the original theanets tests drew it.

``numpy.random.seed(13)`` followed, in this order, by the 2-D arrays, then the
recurrent arrays, then the convolution inputs; several pinned scores in the
spec depend on these exact values.
"""

import json
import logging
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

import theanets  # noqa: F401  (configures Theano before anything else)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NUM_EXAMPLES = 64
NUM_INPUTS = 7
NUM_HID1 = 8
NUM_HID2 = 12
NUM_OUTPUTS = 5
NUM_CLASSES = 6
NUM_TIMES = 31
CNN_WIDTH = 13
CNN_HEIGHT = 15
FILTER_SIZE = (4, 3)

np.random.seed(13)
INPUTS = np.random.randn(NUM_EXAMPLES, NUM_INPUTS).astype('f')
INPUT_WEIGHTS = abs(np.random.randn(NUM_EXAMPLES, NUM_INPUTS)).astype('f')
OUTPUTS = np.random.randn(NUM_EXAMPLES, NUM_OUTPUTS).astype('f')
OUTPUT_WEIGHTS = abs(np.random.randn(NUM_EXAMPLES, NUM_OUTPUTS)).astype('f')
CLASSES = np.random.randint(NUM_CLASSES, size=NUM_EXAMPLES).astype('i')
CLASS_WEIGHTS = abs(np.random.rand(NUM_EXAMPLES)).astype('f')

RNN_INPUTS = np.random.randn(NUM_EXAMPLES, NUM_TIMES, NUM_INPUTS).astype('f')
RNN_INPUT_WEIGHTS = abs(
    np.random.randn(NUM_EXAMPLES, NUM_TIMES, NUM_INPUTS)).astype('f')
RNN_OUTPUTS = np.random.randn(NUM_EXAMPLES, NUM_TIMES, NUM_OUTPUTS).astype('f')
RNN_OUTPUT_WEIGHTS = abs(
    np.random.randn(NUM_EXAMPLES, NUM_TIMES, NUM_OUTPUTS)).astype('f')
RNN_CLASSES = np.random.randn(NUM_EXAMPLES, NUM_TIMES).astype('i')
RNN_CLASS_WEIGHTS = abs(np.random.rand(NUM_EXAMPLES, NUM_TIMES)).astype('f')

CNN_INPUTS = np.random.randn(
    NUM_EXAMPLES, CNN_WIDTH, CNN_HEIGHT, NUM_INPUTS).astype('f')


def assert_progress(model, data, algo='sgd', **kwargs):
    """Train two epochs and check the pinned "progress" pattern.

    The second training loss is below the first validation loss, and the
    second validation dict repeats the first (validation runs every 10
    epochs by default).
    """
    trainer = model.itertrain(
        data, algo=algo, momentum=0.5, batch_size=3, max_gradient_norm=1,
        **kwargs)
    train0, valid0 = next(trainer)
    train1, valid1 = next(trainer)
    assert train1['loss'] < valid0['loss']
    assert valid1['loss'] == valid0['loss']


def bind_all(*layer_list):
    """Bind layers in order into a minimal stand-in network."""
    graph = SimpleNamespace(layers=list(layer_list))
    for layer in layer_list:
        layer.bind(graph)
    return graph


@pytest.fixture
def messages(caplog):
    """Log message bodies emitted on the ``theanets`` logger.

    That logger does not propagate to the root logger, so pytest's ``caplog``
    handler is attached to it directly.
    """
    logger = logging.getLogger('theanets')
    logger.addHandler(caplog.handler)
    try:
        yield lambda: [record.getMessage() for record in caplog.records]
    finally:
        logger.removeHandler(caplog.handler)


def run_fresh(code, tmp_path, flags=None, theanorc=None, scan=None):
    """Run ``code`` in a new Python process and return ``(result, stderr)``.

    The child sees no ``THEANO_FLAGS`` unless ``flags`` is given and reads no
    user ``.theanorc``: ``THEANORC`` points to ``theanorc`` (written to a
    temporary file) or to a file that does not exist. ``scan`` sets
    ``THEANETS_SCAN``.
    """
    env = dict(os.environ)
    env.pop('THEANO_FLAGS', None)
    env.pop('THEANETS_SCAN', None)
    if scan is not None:
        env['THEANETS_SCAN'] = scan
    if flags is not None:
        env['THEANO_FLAGS'] = flags
    rc = tmp_path / 'theanorc'
    if theanorc is not None:
        rc.write_text(textwrap.dedent(theanorc))
    env['THEANORC'] = str(rc)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    proc = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)], cwd=str(tmp_path),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr
