"""Theano's names that user code written for theanets 0.8 calls, on the
running backend (Theano itself, or PyTensor through theanets' facade).

Every value is checked against numpy formulas, so the same test holds on
both backends.
"""

import numpy as np
import pytest

import theanets  # noqa: F401 (sets up the backend first)
import theano
import theano.tensor as TT
from theano.sandbox.rng_mrg import MRG_RandomStreams


def _run(inputs, output, *values):
    return theano.function(inputs, output)(*values)


@pytest.fixture
def logits():
    return np.random.RandomState(3).randn(4, 5).astype(theano.config.floatX)


def test_softmax_normalises_each_row(logits):
    x = TT.matrix('x')
    got = _run([x], TT.nnet.softmax(x), logits)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True),
                               rtol=1e-5)


@pytest.mark.parametrize('alpha', [0, 0.1])
def test_relu_with_a_slope(logits, alpha):
    x = TT.matrix('x')
    got = _run([x], TT.nnet.relu(x, alpha), logits)
    np.testing.assert_allclose(got, np.where(logits > 0, logits,
                                             alpha * logits), rtol=1e-6)


def test_crossentropies(logits):
    x, t = TT.matrix('x'), TT.ivector('t')
    p = TT.nnet.softmax(x)
    labels = np.array([0, 4, 2, 1], 'int32')
    got = _run([x, t], TT.nnet.categorical_crossentropy(p, t), logits,
               labels)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, -np.log(probs[range(4), labels]),
                               rtol=1e-5)
    s = TT.nnet.sigmoid(x)
    target = (logits > 0).astype(logits.dtype)
    got = _run([x], TT.nnet.binary_crossentropy(s, target), logits)
    q = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(
        got, -(target * np.log(q) + (1 - target) * np.log(1 - q)), rtol=1e-4)


def test_shared_with_a_broadcast_pattern():
    v = theano.shared(np.zeros((1, 3), theano.config.floatX),
                      broadcastable=(True, False))
    assert v.broadcastable == (True, False)


def test_mrg_streams_draw_in_range_and_refuse_seed_zero():
    streams = MRG_RandomStreams(7)
    u = streams.uniform((200, ))
    b = streams.binomial((200, ), p=0.25, dtype=theano.config.floatX)
    n = streams.normal((2000, ), avg=3.0, std=0.5)
    fu, fb, fn = (theano.function([], d) for d in (u, b, n))
    draws = fu()
    assert draws.dtype == theano.config.floatX
    assert draws.min() >= 0 and draws.max() < 1
    assert set(np.unique(fb())) <= {0, 1}
    assert fn().mean() == pytest.approx(3.0, abs=0.1)
    assert not np.array_equal(draws, fu())  # each call draws anew
    with pytest.raises(ValueError):
        MRG_RandomStreams(0)
