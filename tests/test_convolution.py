"""Tests for theanets.convolution model classes."""

import pytest

from theanets import convolution, feedforward


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
