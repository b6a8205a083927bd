"""Tests for theanets.options: the keywords of a training call, checked
once, and the datasets made from them."""

import downhill
import pytest

from theanets import util

from tests.helpers import FakeTrainer, NUM_INPUTS, NUM_OUTPUTS


# ----------------------------------------------------------------------
# keyword checks (before any compilation)


@pytest.mark.parametrize('key, value, expected', [
    ('batch_size', 0, 'a positive integer'),
    ('batch_size', -3, 'a positive integer'),
    ('batch_size', 2.5, 'a positive integer'),
    ('iteration_size', 0, 'a positive integer'),
    ('train_batches', -1, 'a positive integer'),
    ('validate_every', 0, 'a positive integer'),
    ('patience', -1, 'a non-negative integer'),
    ('max_updates', -5, 'a non-negative integer'),
    ('learning_rate', -0.1, 'a non-negative finite number'),
    ('learning_rate', float('nan'), 'a non-negative finite number'),
    ('learning_rate', 'fast', 'a non-negative finite number'),
    ('momentum', 1.5, r'a number in \[0, 1\)'),
    ('min_improvement', -1, 'a non-negative finite number'),
    ('max_gradient_norm', -1, 'a non-negative finite number'),
    ('save_every', -2, r'a non-negative int \(iterations\) or float '
                       r'\(minutes\)'),
])
def test_bad_training_keywords(no_compile, tiny, key, value, expected, inputs,
                               outputs):
    with pytest.raises(util.ConfigurationError,
                       match='{}: expected {}, got'.format(key, expected)):
        tiny.train([inputs, outputs], algo='sgd', **{key: value})


def test_deprecated_algorithm_keyword(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    with pytest.warns(DeprecationWarning, match='algo'):
        tiny.train([inputs, outputs], algorithm=[fake, 'ignored'])
    assert len(fake.calls) == 1
    assert 'algorithm' not in fake.calls[0][2]


# ----------------------------------------------------------------------
# datasets


def test_itertrain_wraps_datasets(tiny, inputs, outputs):
    fake = FakeTrainer()
    pairs = list(tiny.itertrain([inputs, outputs], algo=fake, batch_size=16,
                                valid_batches=2, foo='bar'))
    assert pairs == [({'loss': i}, {'loss': -i}) for i in range(3)]
    train, valid, kwargs = fake.calls[0]
    assert isinstance(train, downhill.Dataset)
    assert isinstance(valid, downhill.Dataset)
    assert train is not valid
    assert (train.name, valid.name) == ('train', 'valid')
    assert train.iteration_size == 4 and valid.iteration_size == 2
    batches = list(train)
    assert len(batches) == 4
    assert [a.shape for a in batches[0]] == [(16, NUM_INPUTS),
                                             (16, NUM_OUTPUTS)]
    assert len(list(valid)) == 2
    assert kwargs == dict(rng=13, batch_size=16, valid_batches=2, foo='bar')


def test_itertrain_keeps_datasets_and_rng(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    data = downhill.Dataset([inputs, outputs], name='mine')
    tiny.train(data, algo=fake, rng=5)
    train, valid, kwargs = fake.calls[0]
    assert train is data and valid is data
    assert kwargs['rng'] == 5


def test_shared_training_data_pass_through(tiny, inputs, outputs):
    import theano
    fake = FakeTrainer(1)
    shared = theano.shared(inputs)
    tiny.train([shared, outputs], algo=fake, batch_size=64)
    batch_inputs, batch_outputs = next(iter(fake.calls[0][0]))
    assert isinstance(batch_inputs, theano.Variable)
