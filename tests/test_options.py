"""Tests for theanets.options: the keywords of a training call, checked
once, and the datasets made from them."""

import ast
import doctest
import glob
import inspect
import os
import re
import textwrap

import downhill
import numpy as np
import pytest
import theano

from theanets import feedforward, options, regularizers, util
from theanets.exceptions import UnknownKeywordError
from theanets.training import TrainingMixin

from tests.helpers import FakeTrainer, NUM_INPUTS, NUM_OUTPUTS, ROOT


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


# ----------------------------------------------------------------------
# unknown keywords


def _unknown(model, data, **kwargs):
    """The UnknownKeywordError a training call raises."""
    with pytest.raises(UnknownKeywordError) as info:
        model.train(data, **kwargs)
    return info.value


@pytest.mark.parametrize('typo, meant', [
    ('hiden_dropout', 'hidden_dropout'),
    ('learning_rat', 'learning_rate'),
    ('batchsize', 'batch_size'),
    ('max_grad_norm', 'max_gradient_norm'),
    ('gradient_clip', 'max_gradient_norm'),
    ('clipnorm', 'max_gradient_norm'),
    ('clipvalue', 'max_gradient_elem'),
    ('lr', 'learning_rate'),
    ('epochs', 'max_updates'),
    ('max_epochs', 'max_updates'),
    ('n_epochs', 'max_updates'),
    ('l2', 'weight_l2'),
    ('l1', 'weight_l1'),
    ('weight_l22', 'weight_l2'),
    ('Batch_Size', 'batch_size'),
    ('sav_every', 'save_every'),  # named arguments of itertrain
    ('restore_bset', 'restore_best'),
])
def test_unknown_keyword_suggests_the_known_one(no_compile, tiny, inputs,
                                                outputs, typo, meant):
    error = _unknown(tiny, [inputs, outputs], algo='sgd', **{typo: 1})
    assert isinstance(error, TypeError)
    assert isinstance(error, util.ConfigurationError)
    assert error.keywords == [typo]
    assert error.suggestions == {typo: meant}
    message = str(error)
    assert message.startswith(
        'unknown training keyword {!r} (did you mean {!r}?); the known '
        'keywords are:\n'.format(typo, meant))
    # the known keywords, by group
    assert '\n  datasets: axis, batch_size, block_size, iteration_size, rng, ' \
        in message
    assert '\n  monitors: monitor_gradients, monitors\n' in message
    for name in ('rms_halflife', 'beta2_halflife', 'hidden_dropout',
                 'weight_decay', 'contractive', 'algorithm', 'progress'):
        assert name in message


def test_several_unknown_keywords_in_one_error(no_compile, tiny, inputs,
                                              outputs):
    error = _unknown(tiny, [inputs, outputs], algo='sgd', hiden_dropout=0.5,
                     learning_rat=10, colour='red', batch_size=0)
    assert error.keywords == ['hiden_dropout', 'learning_rat', 'colour']
    assert error.suggestions == {'hiden_dropout': 'hidden_dropout',
                                 'learning_rat': 'learning_rate'}
    assert str(error).startswith(
        "unknown training keywords 'hiden_dropout' (did you mean "
        "'hidden_dropout'?), 'learning_rat' (did you mean "
        "'learning_rate'?), 'colour'; the known keywords are:\n")


def test_unknown_keyword_lines_are_readable():
    with pytest.raises(UnknownKeywordError) as info:
        options.check_training_keywords({'colour': 'red'})
    lines = str(info.value).splitlines()
    assert all(len(line) <= 79 for line in lines[1:])
    groups = [line.split(':')[0].strip() for line in lines[1:]
              if not line.startswith('    ')]
    assert groups == ['datasets', 'optimizer', 'monitors', 'regularizers',
                      'deprecated', 'arguments of itertrain itself']


@pytest.mark.parametrize('algo', ['sample', 'layerwise', 'pretrain', 'adam',
                                  'RMSProp'])
def test_every_named_algorithm_rejects_unknown_keywords(no_compile, inputs,
                                                        outputs, algo):
    net = feedforward.Regressor([NUM_INPUTS, 3, NUM_OUTPUTS])
    error = _unknown(net, [inputs, outputs], algo=algo, learning_rat=0.1)
    assert error.suggestions == {'learning_rat': 'learning_rate'}


def test_sample_accepts_the_keywords_of_other_algorithms(inputs, outputs):
    # 'sample' reads only the dataset options and rng; a call may switch
    # algo and keep the rest of its keywords.
    net = feedforward.Regressor([NUM_INPUTS, 3, NUM_OUTPUTS])
    assert net.train([inputs, outputs], algo='sample', learning_rate=0.1,
                     momentum=0.5, weight_l2=1e-3, hidden_dropout=0.2,
                     monitors={'hid1:out': (0.5,)}) == ({'loss': 0},
                                                       {'loss': 0})


def test_trainer_object_gets_its_own_keywords(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    tiny.train([inputs, outputs], algo=fake, its_own_option=3, lr=1)
    assert fake.calls[0][2] == dict(rng=13, its_own_option=3, lr=1)


def test_trainer_object_still_gets_known_keywords_checked(tiny, inputs,
                                                          outputs):
    fake = FakeTrainer(1)
    with pytest.raises(util.ConfigurationError,
                       match=r'hidden_dropout: expected a dropout '
                             r'probability in \[0, 1\), got 1.5'):
        tiny.train([inputs, outputs], algo=fake, its_own_option=3,
                   hidden_dropout=1.5)
    assert fake.calls == []


def test_deprecated_algorithm_with_unknown_keyword(no_compile, tiny, inputs,
                                                   outputs):
    with pytest.warns(DeprecationWarning):
        error = _unknown(tiny, [inputs, outputs], algorithm='sgd', lr=1)
    assert error.keywords == ['lr']
    fake = FakeTrainer(1)
    with pytest.warns(DeprecationWarning):
        tiny.train([inputs, outputs], algorithm=fake, its_own_option=2)
    assert fake.calls[0][2]['its_own_option'] == 2


def test_keyword_hints_point_from_unknown_to_known_names():
    groups = options.known_training_keywords()
    known = {name for names in groups.values() for name in names}
    for name, meant in options.KEYWORD_HINTS.items():
        assert name not in known and not \
            regularizers.Regularizer.is_registered(name), name
        assert meant in known, meant
    # weight_decay is a registered regularizer, not a hint
    assert 'weight_decay' in groups['regularizers']


def test_suggest_keyword_without_candidate():
    assert options.suggest_keyword('colour', ['learning_rate']) is None
    assert options.suggest_keyword(3, ['learning_rate']) is None
    # a hint whose target is not among the candidates is not suggested
    assert options.suggest_keyword('lr', ['momentum']) is None


def test_itertrain_arguments_are_its_named_parameters():
    named = inspect.signature(TrainingMixin.itertrain).parameters
    assert set(options._ITERTRAIN_ARGUMENTS) == \
        set(named) - {'self', 'train', 'kwargs'}
    groups = options.known_training_keywords()
    known = {name for names in groups.values() for name in names}
    assert not known & set(named)


# ----------------------------------------------------------------------
# where the known keywords come from


def test_optimizer_keywords_are_those_of_downhill():
    assert options.optimizer_keywords() == [
        'beta1_decay', 'beta1_halflife', 'beta2_halflife', 'learning_rate',
        'max_gradient_elem', 'max_gradient_norm', 'max_updates',
        'min_improvement', 'momentum', 'nesterov', 'patience',
        'rms_halflife', 'rms_regularizer', 'rprop_decrease',
        'rprop_increase', 'rprop_max_step', 'rprop_min_step',
        'validate_every']


def test_downhill_base_options_match_its_source():
    # The base class of downhill's optimizers reads its options with
    # kwargs.pop / kwargs.get; every name it reads must be known.
    tree = ast.parse(textwrap.dedent(
        inspect.getsource(downhill.Optimizer._prepare)))
    read = {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and
            isinstance(node.func, ast.Attribute) and
            node.func.attr in ('pop', 'get') and
            isinstance(node.func.value, ast.Name) and
            node.func.value.id == 'kwargs'}
    assert read == set(options._DOWNHILL_BASE_OPTIONS)


def test_dataset_keywords_are_those_dataset_reads(tiny, inputs, outputs):
    fake = FakeTrainer(1)
    tiny.train([inputs, outputs], algo=fake, batch_size=8, iteration_size=3,
               axis=0, rng=4, train_batches=2, valid_batches=5)
    train, valid, _ = fake.calls[0]
    assert (train.iteration_size, valid.iteration_size) == (3, 3)
    tiny.train([inputs, outputs], algo=fake, train_batches=2,
               valid_batches=5)
    train, valid, _ = fake.calls[1]
    assert (train.iteration_size, valid.iteration_size) == (2, 5)


def test_every_downhill_option_trains(inputs, outputs):
    net = feedforward.Regressor([NUM_INPUTS, 3, NUM_OUTPUTS])
    values = dict(
        learning_rate=0.01, momentum=0.5, nesterov=True, patience=3,
        validate_every=1, min_improvement=0.001, max_gradient_norm=1,
        max_gradient_elem=2, max_updates=2, rms_halflife=7,
        rms_regularizer=1e-6, rprop_increase=1.1, rprop_decrease=0.9,
        rprop_min_step=0.0, rprop_max_step=10, beta1_decay=0.99,
        beta1_halflife=5, beta2_halflife=50)
    assert set(values) == set(options.optimizer_keywords())
    pairs = list(net.itertrain(
        [inputs, outputs], algo='adam', batch_size=16, iteration_size=2,
        axis=0, rng=3, monitors={'hid1:out': (0.1,)}, monitor_gradients=True,
        weight_l2=1e-4, hidden_dropout=0.1, input_noise=0.01, **values))
    assert len(pairs) == 2
    assert 'hid1:out<0.1' in pairs[0][0] and 'grad(out.w)' in pairs[0][0]


def _documented_training_keywords():
    """Keywords of train/itertrain calls in the docs, examples and README."""
    sources = []
    for pattern in ('docs/*.rst', 'docs/guide/*.rst', 'README.md'):
        for path in glob.glob(os.path.join(ROOT, pattern)):
            with open(path, encoding='utf-8') as handle:
                text = handle.read()
            text = text.replace('```python', '').replace('```', '')
            examples = doctest.DocTestParser().get_examples(text)
            # examples that show an error may use a wrong keyword
            sources.append('\n'.join(e.source for e in examples
                                     if e.exc_msg is None))
            # README code blocks are plain code, not doctests
            sources.extend(re.findall(r'(?ms)^(\w[^\n]*\.(?:iter)?train\('
                                      r'.*?\)\n)', text))
    for path in glob.glob(os.path.join(ROOT, 'examples', '*.py')):
        with open(path, encoding='utf-8') as handle:
            sources.append(handle.read())
    found = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and \
                    isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ('train', 'itertrain'):
                found.update(kw.arg for kw in node.keywords if kw.arg)
    return found


def test_documented_keywords_are_known():
    found = _documented_training_keywords()
    # the scan finds the calls of the documentation
    assert {'learning_rate', 'batch_size', 'max_updates', 'weight_l2',
            'hidden_dropout', 'monitors', 'validate_every',
            'outputsquare'} <= found
    groups = options.known_training_keywords()
    known = {name for names in groups.values() for name in names}
    known |= set(options._ITERTRAIN_ARGUMENTS)
    # 'outputsquare' is the regularizer the guide defines (registered here
    # once the guide's examples have run)
    assert found - known <= {'outputsquare'}


# ----------------------------------------------------------------------
# regularizer keywords


@pytest.mark.parametrize('kwargs, message', [
    (dict(hidden_dropout=1.5),
     r'hidden_dropout: expected a dropout probability in \[0, 1\), got 1.5'),
    (dict(input_dropout=-0.1), r'input_dropout: expected a dropout'),
    (dict(output_dropout=1), r'output_dropout: .* got 1$'),
    (dict(hidden_dropout='half'), r"hidden_dropout: .* got 'half'"),
    (dict(dropout={'hid1:out': 1.2}),
     r"dropout\['hid1:out'\]: expected a dropout probability in \[0, 1\)"),
    (dict(dropout=0.5),
     'dropout: expected a dict mapping output patterns to levels, got 0.5'),
    (dict(dropout={3: 0.5}), r'dropout\[3\]: expected an output pattern'),
    (dict(hidden_noise=-1),
     r'hidden_noise: expected a noise level \(the standard deviation of '
     r'Gaussian noise\): a non-negative finite number, got -1'),
    (dict(input_noise=float('nan')), 'input_noise: expected a noise level'),
    (dict(noise={'*:out': float('inf')}),
     r"noise\['\*:out'\]: expected a noise level"),
    (dict(weight_l2=-1),
     'weight_l2: expected a non-negative finite regularizer weight, got -1'),
    (dict(weight_l1=float('inf')), 'weight_l1: expected a non-negative'),
    (dict(hidden_l1=None), 'hidden_l1: expected a non-negative'),
    (dict(contractive=-0.1), 'contractive: expected a non-negative'),
    (dict(weight_decay=True), 'weight_decay: expected a non-negative'),
    (dict(weight_l2=dict(pattern='*.w', weight=-1)),
     r"weight_l2\['weight'\]: expected a non-negative finite regularizer "
     r"weight, got -1"),
    (dict(bernoullidropout=1), 'bernoullidropout: expected a dropout '),
    (dict(gaussiannoise=dict(weight=-2)),
     r"gaussiannoise\['weight'\]: expected a noise level"),
    (dict(regularizers=dict(hidden_dropout=1)),
     'hidden_dropout: expected a dropout'),
    (dict(regularizers=[0.1]), r'regularizers\[0\]: expected a theanets'),
    (dict(regularizers='l2'), 'regularizers: expected a list of'),
    (dict(rms_halflife=0), 'rms_halflife: expected a positive finite'),
    (dict(beta1_halflife=-7), 'beta1_halflife: expected a positive finite'),
    (dict(rms_regularizer=-1e-8), 'rms_regularizer: expected a non-negative'),
])
def test_bad_regularizer_values(no_compile, tiny, inputs, outputs, kwargs,
                                message):
    with pytest.raises(util.ConfigurationError, match=message):
        tiny.train([inputs, outputs], algo='sgd', **kwargs)


def test_regularizer_objects_weights_are_checked():
    reg = regularizers.WeightL2(weight=-1)
    with pytest.raises(util.ConfigurationError,
                       match=r'regularizers\[0\]\.weight: expected a '
                             r'non-negative finite regularizer weight'):
        options.check_training_keywords({'regularizers': [reg]})


def test_noise_levels_above_one_are_allowed():
    # noise levels are standard deviations, not probabilities
    options.check_training_keywords(dict(
        input_noise=2.5, hidden_noise=10, noise={'hid1:out': 4.0},
        gaussiannoise=3, hidden_dropout=0.99, dropout={'in:out': 0}))


def test_good_regularizer_values_pass():
    shared = theano.shared(np.float32(0.1))
    options.check_training_keywords(dict(
        weight_l2=np.float32(1e-4), weight_l1=0, hidden_l1=shared,
        contractive=dict(weight=0.1, wrt='in'), input_dropout=None,
        recurrent_norm=dict(pattern='hid1:out', weight=0.1),
        regularizers=dict(input_noise=0.01, weight_l1=3, rng=4),
        Weight_L2=1e-3))


def test_unknown_regularizer_arguments():
    with pytest.raises(UnknownKeywordError) as info:
        options.check_training_keywords({'weight_l2': dict(wieght=0.1)})
    assert info.value.suggestions == {'wieght': 'weight'}
    assert str(info.value) == (
        "unknown argument in the 'weight_l2' dict: 'wieght' (did you mean "
        "'weight'?); the arguments of WeightL2 are:\n"
        "  WeightL2: pattern, weight")
    with pytest.raises(UnknownKeywordError) as info:
        options.check_training_keywords(
            {'regularizers': dict(weight_l3=0.1, batch_size=3)})
    assert info.value.keywords == ['weight_l3', 'batch_size']
    assert info.value.suggestions['weight_l3'] == 'weight_l2'


def test_registered_regularizer_becomes_a_keyword(no_compile, tiny, inputs,
                                                  outputs):
    with pytest.raises(UnknownKeywordError):
        options.check_training_keywords({'optionstestpenalty': 0.1})

    class OptionsTestPenalty(regularizers.Regularizer):
        def __init__(self, pattern='*', weight=0., power=2):
            super().__init__(pattern=pattern, weight=weight)
            self.power = power

    assert 'optionstestpenalty' in \
        options.known_training_keywords()['regularizers']
    options.check_training_keywords({'optionstestpenalty': 0.1})
    options.check_training_keywords(
        {'optionstestpenalty': dict(weight=0.1, power=3)})
    with pytest.raises(util.ConfigurationError,
                       match='optionstestpenalty: expected a non-negative'):
        tiny.train([inputs, outputs], algo='sgd', optionstestpenalty=-1)
    with pytest.raises(UnknownKeywordError, match="did you mean 'power'"):
        options.check_training_keywords(
            {'optionstestpenalty': dict(weight=0.1, powr=3)})
    fake = FakeTrainer(1)
    tiny.train([inputs, outputs], algo=fake, optionstestpenalty=0.5)
    assert fake.calls[0][2]['optionstestpenalty'] == 0.5


def test_registered_regularizer_trains(inputs, outputs):
    class OptionsTestSquare(regularizers.Regularizer):
        def loss(self, layers, outputs):
            return (outputs['out:out'] ** 2).mean()

    net = feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS])
    pairs = list(net.itertrain([inputs, outputs], algo='sgd', max_updates=1,
                               optionstestsquare=0.1))
    assert len(pairs) == 1
    assert pairs[0][0]['loss'] > pairs[0][0]['err']
