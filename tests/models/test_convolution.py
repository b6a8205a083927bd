"""Tests for theanets.convolution: the model classes, and networks with
``conv2`` layers (pinned scores, prediction shapes, training)."""

import numpy as np
import pytest

from theanets import convolution, feedforward

from tests.helpers import (
    NUM_EXAMPLES, NUM_INPUTS, NUM_HID1, NUM_HID2, NUM_OUTPUTS, NUM_CLASSES,
    CNN_WIDTH, CNN_HEIGHT, FILTER_SIZE, assert_progress)


def conv_layers(num_out):
    conv = dict(form='conv2', filter_size=FILTER_SIZE)
    return [(CNN_WIDTH, CNN_HEIGHT, NUM_INPUTS),
            dict(conv, size=NUM_HID1),
            dict(conv, size=NUM_HID2),
            'flat',
            num_out]


# valid convolutions shrink each image axis by filter size - 1
W1, H1 = CNN_WIDTH - FILTER_SIZE[0] + 1, CNN_HEIGHT - FILTER_SIZE[1] + 1
W2, H2 = W1 - FILTER_SIZE[0] + 1, H1 - FILTER_SIZE[1] + 1


@pytest.fixture(scope='module')
def regressor():
    return convolution.Regressor(conv_layers(NUM_OUTPUTS))


@pytest.fixture(scope='module')
def classifier():
    return convolution.Classifier(conv_layers(NUM_CLASSES))


# ----------------------------------------------------------------------
# model classes


@pytest.mark.parametrize('cls, base, output_ndim, activation', [
    (convolution.Regressor, feedforward.Regressor, 2, 'linear'),
    (convolution.Classifier, feedforward.Classifier, 1, 'softmax'),
])
def test_class_attributes(cls, base, output_ndim, activation):
    assert issubclass(cls, base)
    assert cls.INPUT_NDIM == 4
    assert cls.OUTPUT_NDIM == output_ndim
    assert cls.DEFAULT_OUTPUT_ACTIVATION == activation


def test_input_variable_is_4d():
    net = convolution.Regressor([(13, 15, 7), 'flat', 5])
    assert net.inputs[0].ndim == 4
    assert net.layers[1].output_shape == (13 * 15 * 7, )
    assert [v.name for v in net.variables] == ['in', 'target']
    assert net.variables[1].ndim == 2


# ----------------------------------------------------------------------
# pinned values of the untrained default-seed models


def test_regressor_score(regressor, outputs, cnn_inputs):
    # theanets 0.8 pins -16.850263595581055; float32 rounding on this BLAS
    # gives -16.850265502929688 (relative difference about 1e-7)
    assert regressor.score(cnn_inputs, outputs) == pytest.approx(
        -16.850263595581055, rel=1e-5)


def test_classifier_score(classifier, classes, cnn_inputs):
    assert classifier.score(cnn_inputs, classes) == pytest.approx(
        0.171875, rel=1e-6)


# ----------------------------------------------------------------------
# prediction and evaluation


def test_feed_forward(regressor, cnn_inputs):
    outs = regressor.feed_forward(cnn_inputs)
    assert len(outs) == 8
    shapes = {
        'in:out': (NUM_EXAMPLES, CNN_WIDTH, CNN_HEIGHT, NUM_INPUTS),
        'hid1:pre': (NUM_EXAMPLES, W1, H1, NUM_HID1),
        'hid1:out': (NUM_EXAMPLES, W1, H1, NUM_HID1),
        'hid2:pre': (NUM_EXAMPLES, W2, H2, NUM_HID2),
        'hid2:out': (NUM_EXAMPLES, W2, H2, NUM_HID2),
        'hid3:out': (NUM_EXAMPLES, W2 * H2 * NUM_HID2),
        'out:pre': (NUM_EXAMPLES, NUM_OUTPUTS),
        'out:out': (NUM_EXAMPLES, NUM_OUTPUTS),
    }
    assert {k: v.shape for k, v in outs.items()} == shapes
    assert (W1, H1, W2, H2) == (10, 13, 7, 11)
    np.testing.assert_allclose(outs['in:out'], cnn_inputs)
    np.testing.assert_allclose(outs['hid1:out'],
                               np.maximum(outs['hid1:pre'], 0))
    np.testing.assert_allclose(
        outs['hid3:out'], outs['hid2:out'].reshape((NUM_EXAMPLES, -1)))
    np.testing.assert_allclose(outs['out:out'], outs['out:pre'])


def test_first_layer_is_a_flipped_valid_convolution(regressor, cnn_inputs):
    # out[b, i, j, k] = relu(b_k + sum over (u, v, c) of
    #   x[b, i + u, j + v, c] * w[k, c, U - 1 - u, V - 1 - v])
    x = cnn_inputs[:2]
    w = regressor.find('hid1', 'w').get_value()
    b = regressor.find('hid1', 'b').get_value()
    assert w.shape == (NUM_HID1, NUM_INPUTS) + FILTER_SIZE
    U, V = FILTER_SIZE
    flipped = w[:, :, ::-1, ::-1]
    pre = np.zeros((2, W1, H1, NUM_HID1))
    for i in range(W1):
        for j in range(H1):
            patch = x[:, i:i + U, j:j + V, :]  # (2, U, V, C)
            pre[:, i, j, :] = np.einsum('buvc,kcuv->bk', patch, flipped)
    pre += b
    got = regressor.feed_forward(x)['hid1:pre']
    np.testing.assert_allclose(got, pre, rtol=1e-4, atol=1e-4)


def test_predict_shapes(regressor, classifier, cnn_inputs):
    assert regressor.predict(cnn_inputs).shape == (NUM_EXAMPLES, NUM_OUTPUTS)
    labels = classifier.predict(cnn_inputs)
    assert labels.shape == (NUM_EXAMPLES, )
    assert labels.dtype.kind == 'i'


def test_classifier_proba_and_logit(classifier, cnn_inputs):
    proba = classifier.predict_proba(cnn_inputs)
    logit = classifier.predict_logit(cnn_inputs)
    assert proba.shape == (NUM_EXAMPLES, NUM_CLASSES)
    assert logit.shape == (NUM_EXAMPLES, NUM_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_array_equal(classifier.predict(cnn_inputs),
                                  logit.argmax(axis=-1))


def test_classifier_weighted_score(classifier, classes, class_weights,
                                   cnn_inputs):
    score = classifier.score(cnn_inputs, classes, class_weights)
    assert 0 <= score <= 1
    eq = classifier.predict(cnn_inputs) == classes
    assert score == pytest.approx(
        (class_weights * eq).sum() / class_weights.sum(), rel=1e-6)


def test_regressor_weighted_score(regressor, outputs, output_weights,
                                  cnn_inputs):
    u = outputs - regressor.predict(cnn_inputs)
    v = outputs - outputs.mean()
    w = output_weights
    assert regressor.score(cnn_inputs, outputs, w) == pytest.approx(
        1 - (w * u * u).sum() / (w * v * v).sum(), rel=1e-5)


# ----------------------------------------------------------------------
# training


@pytest.mark.parametrize('weighted', [False, True])
def test_regressor_progress(weighted, outputs, output_weights, cnn_inputs):
    data = [cnn_inputs, outputs]
    if weighted:
        data.append(output_weights)
    assert_progress(
        convolution.Regressor(conv_layers(NUM_OUTPUTS), weighted=weighted),
        data)


@pytest.mark.parametrize('weighted', [False, True])
def test_classifier_progress(weighted, classes, class_weights, cnn_inputs):
    data = [cnn_inputs, classes]
    if weighted:
        data.append(class_weights)
    assert_progress(
        convolution.Classifier(conv_layers(NUM_CLASSES), weighted=weighted),
        data)
