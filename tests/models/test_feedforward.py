"""Tests for the feed-forward models (theanets.feedforward)."""

import numpy as np
import pytest
import scipy.sparse

from theanets import feedforward, graph, util

from tests.helpers import (
    NUM_EXAMPLES, NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_OUTPUTS, NUM_CLASSES,
    assert_progress)

REG_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_OUTPUTS]
CLF_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_CLASSES]
AE_LAYERS = [NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_INPUTS]


@pytest.fixture(scope='module')
def regressor():
    return feedforward.Regressor(REG_LAYERS)


@pytest.fixture(scope='module')
def classifier():
    return feedforward.Classifier(CLF_LAYERS)


@pytest.fixture(scope='module')
def autoencoder():
    return feedforward.Autoencoder(AE_LAYERS)


# ----------------------------------------------------------------------
# pinned values of the untrained default-seed models


def test_regressor_score(regressor, inputs, outputs):
    assert regressor.score(inputs, outputs) == pytest.approx(
        -1.0473043918609619, rel=1e-5)


def test_classifier_score(classifier, inputs, classes):
    assert classifier.score(inputs, classes) == pytest.approx(0.171875,
                                                              rel=1e-5)


def test_autoencoder_score_uses_weights(autoencoder, inputs):
    # the second positional argument of Autoencoder.score is the weights
    assert autoencoder.score(inputs, inputs) == pytest.approx(
        15.108331680297852, rel=1e-5)


def test_regressor_score_formula(regressor, inputs, outputs, output_weights):
    pred = regressor.predict(inputs)
    u = outputs - pred
    v = outputs - outputs.mean()
    w = output_weights
    assert regressor.score(inputs, outputs, w) == pytest.approx(
        1 - (w * u * u).sum() / (w * v * v).sum(), rel=1e-6)


# ----------------------------------------------------------------------
# prediction


def test_predict_shapes(regressor, classifier, autoencoder, inputs):
    assert regressor.predict(inputs).shape == (NUM_EXAMPLES, NUM_OUTPUTS)
    labels = classifier.predict(inputs)
    assert labels.shape == (NUM_EXAMPLES, )
    assert labels.dtype.kind == 'i'
    assert autoencoder.predict(inputs).shape == (NUM_EXAMPLES, NUM_INPUTS)


def test_feed_forward(regressor, inputs):
    outs = regressor.feed_forward(inputs)
    assert len(outs) == 7
    assert outs['in:out'].shape == (NUM_EXAMPLES, NUM_INPUTS)
    assert outs['hid1:out'].shape == (NUM_EXAMPLES, NUM_HID1)
    assert outs['hid2:out'].shape == (NUM_EXAMPLES, NUM_HID2)
    assert outs['out:out'].shape == (NUM_EXAMPLES, NUM_OUTPUTS)
    np.testing.assert_array_equal(outs['hid1:out'],
                                  np.maximum(outs['hid1:pre'], 0))
    np.testing.assert_array_equal(outs['out:out'], regressor.predict(inputs))


def test_feed_forward_two_inputs_to_output(inputs):
    net = feedforward.Regressor([
        NUM_INPUTS, NUM_HID1, NUM_HID2,
        dict(size=NUM_OUTPUTS, inputs=('hid2:out', 'hid1:out'))])
    outs = net.feed_forward(inputs)
    assert len(outs) == 7
    assert outs['hid1:out'].shape == (NUM_EXAMPLES, NUM_HID1)
    assert outs['hid2:out'].shape == (NUM_EXAMPLES, NUM_HID2)
    assert outs['out:out'].shape == (NUM_EXAMPLES, NUM_OUTPUTS)


def test_classifier_outputs(classifier, inputs):
    proba = classifier.predict_proba(inputs)
    logit = classifier.predict_logit(inputs)
    assert proba.shape == logit.shape == (NUM_EXAMPLES, NUM_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(axis=1),
                                  classifier.predict(inputs))
    np.testing.assert_array_equal(logit.argmax(axis=1),
                                  classifier.predict(inputs))
    # predict and predict_proba share one function (the softmax output);
    # predict_logit needs the layer's 'pre' output and compiles another
    # (counted in the internal cache of compiled functions).
    assert len(classifier._functions) == 2


def test_classifier_weighted_score(classifier, inputs, classes, class_weights):
    score = classifier.score(inputs, classes, class_weights)
    assert 0 <= score <= 1
    eq = classes == classifier.predict(inputs)
    assert score == pytest.approx((class_weights * eq).sum() /
                                  class_weights.sum(), rel=1e-6)


def test_classifier_score_mismatched_labels(classifier, inputs, classes,
                                            class_weights):
    # spec 18.7: keep the plain ``y == predict(x)`` comparison; on numpy 1.23
    # labels of an incompatible shape compare as a scalar False.
    with pytest.warns(DeprecationWarning):
        assert classifier.score(inputs, classes[:10]) == 0
    with pytest.warns(DeprecationWarning):
        assert classifier.score(inputs, classes[:10], class_weights) == 0


def test_classify_is_deprecated(classifier, inputs):
    with pytest.warns(DeprecationWarning, match='predict'):
        labels = classifier.classify(inputs)
    np.testing.assert_array_equal(labels, classifier.predict(inputs))


def test_predict_checks_input(classifier, inputs):
    with pytest.raises(graph.DataError, match=r'x: expected a 2-D array of '
                                              r'shape \(N, 7\)'):
        classifier.predict_proba(inputs[:, :5])


@pytest.fixture(scope='module', params=['csr', 'csc'])
def sparse_regressor(request):
    net = feedforward.Regressor([
        dict(form='input', size=NUM_INPUTS, sparse=request.param, name='in'),
        NUM_HID1, NUM_HID2, NUM_OUTPUTS])
    return request.param, net


def _sparse(fmt, x):
    x = x * (abs(x) > 1)
    return getattr(scipy.sparse, fmt + '_matrix')(x)


def test_sparse_feed_forward(sparse_regressor, regressor, inputs):
    fmt, net = sparse_regressor
    outs = net.feed_forward(_sparse(fmt, inputs))
    assert len(outs) == 7
    assert scipy.sparse.issparse(outs['in:out'])
    assert outs['hid1:out'].shape == (NUM_EXAMPLES, NUM_HID1)
    assert outs['hid2:out'].shape == (NUM_EXAMPLES, NUM_HID2)
    assert outs['out:out'].shape == (NUM_EXAMPLES, NUM_OUTPUTS)
    # same seed, same parameters: same answer as the dense network
    dense = regressor.predict(_sparse(fmt, inputs).toarray())
    np.testing.assert_allclose(outs['out:out'], dense, rtol=1e-4, atol=1e-5)
    other = 'csc' if fmt == 'csr' else 'csr'
    np.testing.assert_allclose(net.predict(_sparse(other, inputs)), dense,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize('fmt', ['csr', 'csc'])
def test_sparse_progress(fmt, inputs, outputs, classes, class_weights):
    layers = [dict(form='input', size=NUM_INPUTS, sparse=fmt, name='in'),
              NUM_HID1, NUM_OUTPUTS]
    x = _sparse(fmt, inputs)
    assert_progress(feedforward.Regressor(layers), [x, outputs])
    assert_progress(feedforward.Classifier(layers[:2] + [NUM_CLASSES],
                                           weighted=True),
                    [x, classes, class_weights])


# ----------------------------------------------------------------------
# autoencoder encode / decode


def test_encode_decode(autoencoder, inputs):
    assert autoencoder.encode(inputs).shape == (NUM_EXAMPLES, NUM_HID2)
    assert autoencoder.encode(inputs, 'hid1').shape == (NUM_EXAMPLES,
                                                       NUM_HID1)
    assert autoencoder.encode(inputs, 1).shape == (NUM_EXAMPLES, NUM_HID1)
    assert autoencoder.encode(inputs, autoencoder.layers[2]).shape == (
        NUM_EXAMPLES, NUM_HID2)
    pre = autoencoder.encode(inputs, 'hid1:pre')
    np.testing.assert_array_equal(autoencoder.encode(inputs, 'hid1'),
                                  np.maximum(pre, 0))
    assert autoencoder.decode(autoencoder.encode(inputs)).shape == (
        NUM_EXAMPLES, NUM_INPUTS)
    dec = autoencoder.decode(autoencoder.encode(inputs, 'hid2'), 'hid2')
    np.testing.assert_allclose(dec, autoencoder.predict(inputs), rtol=1e-5)


def test_encode_sample(inputs):
    net = feedforward.Autoencoder([NUM_INPUTS, (3, 'sigmoid'), NUM_INPUTS])
    probs = net.encode(inputs)
    np.random.seed(1)
    sample = net.encode(inputs, sample=True)
    np.random.seed(1)
    expected = np.random.binomial(n=1, p=probs)
    assert sample.dtype == np.uint8
    np.testing.assert_array_equal(sample, expected)


def test_decode_checks_input(autoencoder):
    with pytest.raises(graph.DataError, match=r'z: expected a 2-D array of '
                                              r'shape \(N, 12\)'):
        autoencoder.decode(np.zeros((3, 5), 'f'))


def test_unknown_output_names_are_listed(autoencoder, inputs):
    with pytest.raises(KeyError, match="unknown output 'bogus'; known names "
                                       "are: hid1:out, hid1:pre"):
        autoencoder.encode(inputs, 'bogus')
    with pytest.raises(util.ConfigurationError, match="unknown output 'bogus'"):
        autoencoder.decode(np.zeros((3, 12), 'f'), 'bogus')


def test_decode_cache_respects_kwargs(autoencoder, inputs):
    # defect 10: decode used to cache by output name only, ignoring kwargs.
    z = autoencoder.encode(inputs)
    plain = autoencoder.decode(z)
    noisy = autoencoder.decode(z, output_noise=1.0)
    assert not np.allclose(plain, noisy)
    np.testing.assert_array_equal(autoencoder.decode(z), plain)


def test_autoencoder_score_with_binary_weights(autoencoder, inputs):
    weights = np.random.RandomState(3).randint(
        2, size=inputs.shape).astype('f')
    assert autoencoder.score(inputs, weights) < 0


# ----------------------------------------------------------------------
# training


def test_regressor_progress(inputs, outputs):
    assert_progress(feedforward.Regressor(REG_LAYERS), [inputs, outputs])


@pytest.mark.slow
def test_regressor_weighted_progress(inputs, outputs, output_weights):
    assert_progress(feedforward.Regressor(REG_LAYERS, weighted=True),
                    [inputs, outputs, output_weights])


@pytest.mark.slow
def test_classifier_progress(inputs, classes):
    assert_progress(feedforward.Classifier(CLF_LAYERS), [inputs, classes])


@pytest.mark.slow
def test_classifier_weighted_progress(inputs, classes, class_weights):
    assert_progress(feedforward.Classifier(CLF_LAYERS, weighted=True),
                    [inputs, classes, class_weights])


@pytest.mark.slow
def test_autoencoder_progress(inputs):
    assert_progress(feedforward.Autoencoder(AE_LAYERS), [inputs])


@pytest.mark.slow
def test_autoencoder_weighted_progress(inputs, input_weights):
    assert_progress(feedforward.Autoencoder(AE_LAYERS, weighted=True),
                    [inputs, input_weights])
