"""Graph code written for Theano's interface runs on either backend.

theanets' fused Ops (and users' own Ops) subclass ``theano.Op`` and define
Theano's gradient methods (``grad``, ``L_op``, ``R_op``); theanets' layers
unpack ``theano.scan``'s ``(outputs, updates)`` and tests walk graphs with
``theano.gof.graph``. On PyTensor the compatibility layer provides these
names; on Theano they are Theano's own. Either way the results must be the
same, without deprecation notices from the backend.
"""

import warnings

import numpy as np
import pytest

import theanets  # noqa: F401  (chooses and configures the backend)
from theanets.backend import theano, TT


class Double(theano.Op):
    """y = 2 x, differentiated through Theano's ``grad``."""

    __props__ = ()

    def make_node(self, x):
        x = TT.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = 2 * inputs[0]

    def grad(self, inputs, output_grads):
        return [2 * output_grads[0]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else 2 * eval_points[0]]


class Square(theano.Op):
    """y = x ** 2, differentiated through Theano's ``L_op``."""

    __props__ = ()

    def make_node(self, x):
        x = TT.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 2

    def L_op(self, inputs, outputs, output_grads):
        return [2 * inputs[0] * output_grads[0]]


@pytest.fixture
def strict_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter('error', FutureWarning)
        # PyTensor's notice that scan will return its outputs alone
        # (Theano's own DeprecationWarnings, e.g. of ``imp``, are not ours)
        warnings.filterwarnings('error', '.*[Ss]can', DeprecationWarning)
        # e.g. PyTensor's notice that an Op without C code has no C version
        warnings.simplefilter('error', UserWarning)
        yield


def _evaluate(inputs, outputs, *values):
    return theano.function(inputs, outputs, on_unused_input='ignore')(
        *values)


def test_grad_and_l_op_give_the_gradient(strict_warnings):
    x = TT.dvector('x')
    cost = Square()(Double()(x)).sum()  # sum (2 x)^2, gradient 8 x
    grad = TT.grad(cost, x)
    values = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(_evaluate([x], grad, values), 8 * values)


def test_r_op_gives_the_jacobian_times_vector(strict_warnings):
    x, v = TT.dvector('x'), TT.dvector('v')
    jv = TT.Rop(Double()(x), x, v)
    np.testing.assert_allclose(
        _evaluate([x, v], jv, np.ones(2), np.array([3.0, -1.0])), [6.0, -2.0])


def test_theano_op_is_a_c_op_class():
    # theanets.ops' fused Ops compile C code through it.
    assert issubclass(Double, theano.Op)
    for method in ('c_code', 'c_support_code', 'c_code_cache_version'):
        assert callable(getattr(theano.Op, method))


def test_scan_returns_outputs_and_updates(strict_warnings):
    x = TT.dvector('x')
    result = theano.scan(lambda x_t, acc: acc + x_t, sequences=[x],
                         outputs_info=[TT.constant(0.0, dtype='float64')])
    assert len(result) == 2
    outputs, updates = result
    assert len(updates) == 0
    np.testing.assert_allclose(
        _evaluate([x], outputs, np.array([1.0, 2.0, 3.0])), [1.0, 3.0, 6.0])


def test_gof_graph_walks_a_graph():
    x, y = TT.dvector('x'), TT.dvector('y')
    z = Double()(x) + y
    assert set(theano.gof.graph.inputs([z])) == {x, y}
    ancestors = set(theano.gof.graph.ancestors([z]))
    assert {x, y, z} <= ancestors
    ops = [node.op for node in theano.gof.graph.io_toposort([x, y], [z])]
    assert isinstance(ops[0], Double) and len(ops) == 2
