"""Tests for theanets.recurrent: model classes, predict_sequence, batches
and Text (the parts that need no recurrent layer)."""

import numpy as np
import pytest

from theanets import feedforward, recurrent, util

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS, NUM_TIMES


@pytest.mark.parametrize('cls, base, input_ndim, output_ndim, activation', [
    (recurrent.Autoencoder, feedforward.Autoencoder, 3, 3, 'linear'),
    (recurrent.Regressor, feedforward.Regressor, 3, 3, 'linear'),
    (recurrent.Classifier, feedforward.Classifier, 3, 2, 'softmax'),
])
def test_class_attributes(cls, base, input_ndim, output_ndim, activation):
    assert issubclass(cls, base)
    assert cls.INPUT_NDIM == input_ndim
    assert cls.OUTPUT_NDIM == output_ndim
    assert cls.DEFAULT_OUTPUT_ACTIVATION == activation


def test_model_variables():
    net = recurrent.Classifier([NUM_INPUTS, 4], weighted=True)
    assert [(v.name, v.ndim, v.dtype) for v in net.variables] == [
        ('in', 3, 'float32'), ('target', 2, 'int32'),
        ('weights', 2, 'float32')]
    ae = recurrent.Autoencoder([NUM_INPUTS, 3, NUM_INPUTS])
    assert [(v.name, v.ndim) for v in ae.variables] == [('in', 3)]
    assert ae.losses[0].variables[0] is ae.inputs[0]
    reg = recurrent.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    assert [(v.name, v.ndim) for v in reg.variables] == [('in', 3),
                                                        ('target', 3)]


def test_batches(rnn_inputs, rnn_outputs):
    sample = recurrent.batches([rnn_inputs[0], rnn_outputs[0]], steps=5,
                               batch_size=4, rng=3)
    xs = sample()
    assert [x.shape for x in xs] == [(4, 5, NUM_INPUTS), (4, 5, NUM_OUTPUTS)]
    assert [x.dtype for x in xs] == [np.float32, np.float32]
    starts = np.random.RandomState(3).randint(NUM_TIMES - 5, size=4)
    for i, j in enumerate(starts):
        np.testing.assert_array_equal(xs[0][i], rnn_inputs[0][j:j + 5])
        np.testing.assert_array_equal(xs[1][i], rnn_outputs[0][j:j + 5])
    assert len(recurrent.batches([rnn_inputs[0]], steps=3)()) == 1


def test_batches_pinned_shapes():
    samples = np.random.randn(200, NUM_INPUTS).astype('f')
    labels = np.random.randn(200, NUM_OUTPUTS).astype('f')
    xs = recurrent.batches([samples, labels], steps=NUM_TIMES,
                           batch_size=64)()
    assert [x.shape for x in xs] == [(64, NUM_TIMES, NUM_INPUTS),
                                     (64, NUM_TIMES, NUM_OUTPUTS)]


def test_batches_reject_bad_arguments(rnn_inputs):
    with pytest.raises(util.ConfigurationError):
        recurrent.batches([rnn_inputs[0]], batch_size=1)
    with pytest.raises(util.ConfigurationError):
        recurrent.batches(rnn_inputs[0])


TEXT = 'hello world, how are you!'


def test_text_default_alpha():
    txt = recurrent.Text(TEXT, min_count=2, unknown='_')
    assert txt.alpha == ' ehlorw'
    assert txt.text == 'hello worl__ how _re _o__'
    txt = recurrent.Text(TEXT, min_count=3, unknown='_')
    assert txt.alpha == ' lo'
    assert txt.text == '__llo _o_l__ _o_ ___ _o__'


def test_text_given_alpha():
    txt = recurrent.Text(TEXT, alpha='helo wrd,!', unknown='_')
    assert txt.text == 'hello world, how _re _o_!'
    assert txt.encode('hello!') == [1, 2, 3, 3, 4, 10]
    assert txt.encode('you!') == [0, 4, 0, 10]
    assert txt.decode([0, 4, 0, 10]) == '_o_!'


def test_text_special_characters_and_default_unknown():
    txt = recurrent.Text('a-b]c^d\\a-b]c^d\\x')
    assert txt.alpha == '-\\]^abcd'
    assert txt.text == 'a-b]c^d\\a-b]c^d\\\0'
    assert txt.decode(txt.encode('x-')) == '\0-'
    with pytest.raises(util.ConfigurationError):
        recurrent.Text('aabb', alpha='ab_', unknown='_')


def test_text_classifier_batches():
    txt = recurrent.Text(TEXT, min_count=2, unknown='_')
    batch = txt.classifier_batches(steps=8, batch_size=5, rng=4)
    inputs, outputs = batch()
    assert inputs.shape == (5, 8, 1 + len(txt.alpha))
    assert outputs.shape == (5, 8)
    assert inputs.dtype == np.float32 and outputs.dtype == np.int32
    np.testing.assert_array_equal(inputs.sum(axis=-1), 1)
    # each row's labels are the row's inputs shifted by one step
    np.testing.assert_array_equal(inputs[:, 1:].argmax(axis=-1),
                                  outputs[:, :-1])
    offsets = np.random.RandomState(4).randint(len(TEXT) - 9, size=5)
    for row, offset in enumerate(offsets):
        assert txt.decode(outputs[row]) == txt.text[offset + 1:offset + 9]
    inputs2, _ = batch()
    assert not np.array_equal(inputs, inputs2)
    with pytest.raises(util.ConfigurationError):
        txt.classifier_batches(steps=8, batch_size=1)


@pytest.fixture(scope='module')
def sequence_model():
    # position-wise feed-forward layers on (batch, time, features) data
    return recurrent.Classifier([4, (5, 'tanh'), 4])


def test_predict_sequence(sequence_model):
    labels = list(sequence_model.predict_sequence([0, 1, 2], 5, rng=13))
    assert len(labels) == 5
    assert all(isinstance(c, int) for c in labels)
    # The model is evaluated on the first i *rows* (the whole working array
    # here) and the distribution of the last time step is sampled; that step
    # is still all zeros, so every draw uses the same distribution. Two rows
    # are sampled per step even for one stream.
    pdf = sequence_model.predict_proba(np.zeros((1, 1, 4), 'f'))[0, -1]
    rng = np.random.RandomState(13)
    expected = []
    for _ in range(5):
        draws = [rng.multinomial(1, pdf).argmax() for _ in range(2)]
        expected.append(int(draws[0]))
    assert labels == expected


def test_predict_sequence_streams(sequence_model):
    out = list(sequence_model.predict_sequence([3], 2, streams=3,
                                               rng=np.random.RandomState(1)))
    assert len(out) == 2
    assert all(isinstance(c, list) and len(c) == 3 for c in out)
    assert all(0 <= c < 4 for step in out for c in step)


def test_predict_sequence_more_streams_than_seed(sequence_model):
    # theanets 0.8 raised IndexError when 1 < seed length < streams.
    out = list(sequence_model.predict_sequence([3, 1], 3, streams=4, rng=2))
    assert len(out) == 3
    assert all(len(step) == 4 for step in out)
