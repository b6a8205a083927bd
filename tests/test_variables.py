"""Tests of theanets._variables: remaking an unpickled model's variables."""

import pickle

import numpy as np
import pytest

import theanets
from theanets import _variables, util
from theanets.backend import theano, TT
from theanets.exceptions import ModelFileError


def test_a_shared_variable_is_remade_from_a_copy_of_its_value():
    value = np.arange(6, dtype='float64').reshape(3, 2)
    old = theano.shared(value, name='w')
    new = _variables.rebuilt(old)
    assert new is not old and new.name == 'w'
    assert new.dtype == util.FLOAT
    assert np.array_equal(new.get_value(), value)
    new.set_value(np.zeros((3, 2), util.FLOAT))
    assert old.get_value()[2, 1] == 5       # the original is untouched


def test_an_integer_array_keeps_its_dtype():
    new = _variables.rebuilt(theano.shared(np.arange(3, dtype='int32')))
    assert new.dtype == 'int32'


def test_a_symbolic_input_is_remade_with_its_type_and_name():
    old = TT.TensorType('float64', (False, True))('x')
    new = _variables.rebuilt(old)
    assert new is not old and new.name == 'x'
    assert new.dtype == util.FLOAT
    assert new.broadcastable == (False, True)


def test_expressions_and_constants_are_kept():
    x = TT.matrix('x')
    doubled = 2 * x
    assert _variables.rebuilt(doubled) is doubled
    constant = TT.constant(3.0)
    assert _variables.rebuilt(constant) is constant


@pytest.mark.parametrize('value', [[1, 2], np.array([1 + 2j])])
def test_a_non_numeric_shared_value_is_refused(value):
    with pytest.raises(ModelFileError, match='not a numeric array'):
        _variables.rebuilt(theano.shared(value, name='odd'))


def test_a_broadcast_pattern_that_does_not_fit_the_value_is_refused():
    old = theano.shared(np.zeros((3, 2), util.FLOAT), name='w')
    state = pickle.loads(pickle.dumps(old))
    state.type.broadcastable = (True, False)    # as a mutated file would
    with pytest.raises(ModelFileError, match='broadcast pattern'):
        _variables.rebuilt(state)


def test_a_malformed_trace_is_dropped_and_a_good_one_kept():
    old = TT.matrix('x')
    old.tag.trace = [[('file.py', 3, 'build', None)]]
    assert _variables.rebuilt(old).tag.trace == old.tag.trace
    old.tag.trace = [['not a frame']]
    assert not hasattr(_variables.rebuilt(old).tag, 'trace')


def test_replace_variables_replaces_a_variable_held_twice_once():
    net = theanets.Regressor([3, 4, 2])
    before = list(net.params)
    common = theano.shared(np.ones(2, util.FLOAT), name='common')
    net.layers[1].extra = common
    net.layers[2].extras = {'both': [common, (common, 1)]}
    replaced = _variables.replace_variables(net, _variables.rebuilt)
    assert len({id(old) for old, _ in replaced}) == len(replaced)
    remade = net.layers[1].extra
    assert remade is not common and remade.name == 'common'
    assert net.layers[2].extras == {'both': [remade, (remade, 1)]}
    after = net.params
    assert all(a is not b for a, b in zip(after, before))
    assert all(np.array_equal(a.get_value(), b.get_value())
               for a, b in zip(after, before))


def test_as_floatx_changes_only_other_float_types():
    same = theano.shared(np.zeros(2, util.FLOAT))
    assert _variables.as_floatx(same) is same
    labels = theano.shared(np.zeros(2, 'int32'))
    assert _variables.as_floatx(labels) is labels
    other = 'float64' if util.FLOAT == 'float32' else 'float32'
    wide = theano.shared(np.ones(2, other))
    assert _variables.as_floatx(wide).dtype == util.FLOAT
