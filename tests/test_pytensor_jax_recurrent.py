"""Tests of theanets/ops/_jax_recurrent.py: the fused RNN, LSTM and GRU
Ops under PyTensor's JAX linker.

Each Op compiled with ``mode='JAX'`` is compared with its own NumPy
``perform``, for every activation and both dtypes; the gradient of a cost
through each forward Op under JAX with the one that the C linker computes;
and an empty sequence with the C kernels. float64 runs with JAX's float64
enabled (as PyTensor's dispatch does for ``floatX=float64``), float32 with
it as theanets leaves it (off, for ``floatX=float32``).
"""

import contextlib

import numpy as np
import pytest

from theanets import backend

if backend.name() != 'pytensor':
    pytest.skip('the Theano backend has no JAX linker',
                allow_module_level=True)

jax = pytest.importorskip('jax')

from theanets.backend import theano, TT  # noqa: E402
from theanets import _pytensor_jax  # noqa: E402
from theanets.ops import _jax_recurrent  # noqa: E402
from theanets import ops, recurrent  # noqa: E402
from theanets.ops import _base, _gru, _lstm, _rnn  # noqa: E402

STEPS, BATCH, N = 4, 3, 2

#: Each family's forward and gradient Op classes and how many of the
#: forward outputs the gradient Op takes cost gradients for.
FAMILIES = {
    'rnn': (_rnn.RNNForward, _rnn.RNNGrad, 2),
    'lstm': (_lstm.LSTMForward, _lstm.LSTMGrad, 2),
    'gru': (_gru.GRUForward, _gru.GRUGrad, 4),
}

#: (family, activation) of every Op variant.
CASES = ([('rnn', kind) for kind in _base.ACTIVATION_KINDS]
         + [('lstm', None)]
         + [('gru', kind) for kind in _base.ACTIVATION_KINDS])

DTYPES = ('float32', 'float64')

#: (rtol, atol) of each dtype.
TOLERANCES = {'float32': (1e-5, 1e-6), 'float64': (1e-10, 1e-12)}

C_MODE = 'FAST_RUN'


@pytest.fixture(scope='module', autouse=True)
def registered():
    """theanets' JAX implementations, registered with PyTensor."""
    _pytensor_jax.register()


@contextlib.contextmanager
def x64(enabled):
    """JAX's float64 switched to ``enabled`` inside the block."""
    before = jax.config.jax_enable_x64
    jax.config.update('jax_enable_x64', enabled)
    try:
        yield
    finally:
        jax.config.update('jax_enable_x64', before)


def case_ops(family, activation):
    """The family's forward Op, gradient Op and number of cost gradients."""
    forward, grad, count = FAMILIES[family]
    args = () if activation is None else (activation, )
    return forward(*args), grad(*args), count


def forward_shapes(family, steps, batch, n):
    """Shapes of the forward Op's inputs."""
    state, vec = (batch, n), (n, )
    if family == 'rnn':
        return [(steps, batch, n), vec, (n, n), state]
    if family == 'lstm':
        return [(steps, batch, 4 * n), (4 * n, ), (n, 4 * n), vec, vec, vec,
                state, state]
    return [(steps, batch, 3 * n), (3 * n, ), (n, n), (n, 2 * n), state]


def draw(rng, shapes, dtype):
    """Uniform values in [-1, 1) of ``shapes``."""
    return [rng.uniform(-1, 1, shape).astype(dtype) for shape in shapes]


def symbols(values):
    """Symbolic inputs of the values' dtypes and dimensions."""
    return [TT.tensor(dtype=v.dtype, shape=(None, ) * v.ndim)
            for v in values]


def perform(op, values):
    """The outputs of ``op``'s NumPy ``perform`` on ``values``."""
    node = op.make_node(*symbols(values))
    storage = [[None] for _ in node.outputs]
    op.perform(node, values, storage)
    return [s[0] for s in storage]


def compiled(op, values, mode):
    """The outputs of ``op`` on ``values``, compiled in ``mode``."""
    inputs = symbols(values)
    return theano.function(inputs, op(*inputs), mode=mode)(*values)


def case_values(family, activation, dtype, steps=STEPS, seed=0):
    """Inputs of the forward and of the gradient Op of one case: random
    forward inputs, the forward outputs and random cost gradients."""
    forward, _, count = case_ops(family, activation)
    rng = np.random.RandomState(seed)
    fwd = draw(rng, forward_shapes(family, steps, BATCH, N), dtype)
    outputs = perform(forward, fwd)
    grads = draw(rng, [out.shape for out in outputs[:count]], dtype)
    return fwd, fwd[2:] + outputs + grads


def assert_same(got, want, dtype):
    """Arrays of ``dtype`` with equal shapes and values to its tolerance."""
    rtol, atol = TOLERANCES[dtype]
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.dtype == dtype, k
        assert g.shape == w.shape, k
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol,
                                   err_msg='output {}'.format(k))


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('family, activation', CASES)
def test_forward_matches_perform(family, activation, dtype):
    op = case_ops(family, activation)[0]
    values = case_values(family, activation, dtype)[0]
    with x64(dtype == 'float64'):
        got = compiled(op, values, 'JAX')
    assert_same(got, perform(op, values), dtype)
    assert np.ptp(got[-1]) > 0.1  # the states do vary


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('family, activation', CASES)
def test_grad_matches_perform(family, activation, dtype):
    op = case_ops(family, activation)[1]
    values = case_values(family, activation, dtype)[1]
    with x64(dtype == 'float64'):
        got = compiled(op, values, 'JAX')
    want = perform(op, values)
    assert_same(got, want, dtype)
    assert all(np.abs(w).max() > 1e-3 for w in want)


@pytest.mark.parametrize('family, activation',
                         [('rnn', 'relu'), ('lstm', None), ('gru', 'tanh')])
def test_float32_stays_float32_with_float64_enabled(family, activation):
    forward, grad, _ = case_ops(family, activation)
    fwd, back = case_values(family, activation, 'float32')
    with x64(True):
        got = compiled(forward, fwd, 'JAX') + compiled(grad, back, 'JAX')
    assert_same(got, perform(forward, fwd) + perform(grad, back), 'float32')


@pytest.mark.parametrize('family, activation',
                         [('rnn', 'tanh'), ('lstm', None), ('gru', 'relu')])
def test_empty_sequence_matches_c_kernels(family, activation):
    forward, grad, _ = case_ops(family, activation)
    fwd, back = case_values(family, activation, 'float64', steps=0)
    with x64(True):
        got = compiled(forward, fwd, 'JAX') + compiled(grad, back, 'JAX')
    want = compiled(forward, fwd, C_MODE) + compiled(grad, back, C_MODE)
    assert_same(got, want, 'float64')
    assert want[0].shape == (0, BATCH, N)
    assert not any(w.any() for w in want)  # no steps: zero gradients


def gradient_function(forward, values, weights, mode):
    """The gradients w.r.t. all forward inputs of the cost
    ``sum_k (output_k * weights_k).sum()``, compiled in ``mode``."""
    inputs = symbols(values)
    outputs = forward(*inputs)
    cost = sum((out * w).sum() for out, w in zip(outputs, weights))
    return theano.function(inputs, TT.grad(cost, inputs), mode=mode)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('family, activation',
                         [('rnn', 'tanh'), ('rnn', 'sigmoid'), ('lstm', None),
                          ('gru', 'tanh'), ('gru', 'linear')])
def test_gradient_matches_c_linker(family, activation, dtype):
    forward, _, count = case_ops(family, activation)
    values, back = case_values(family, activation, dtype)
    weights = back[-count:]
    with x64(dtype == 'float64'):
        got = gradient_function(forward, values, weights, 'JAX')(*values)
    want = gradient_function(forward, values, weights, C_MODE)(*values)
    assert_same(got, want, dtype)
    assert all(np.abs(w).max() > 1e-3 for w in want)


@pytest.fixture
def translated():
    """Names of the fused Ops that PyTensor translates to JAX while the
    test runs (the registered implementations, spied on)."""
    from pytensor.link.jax.dispatch import jax_funcify
    seen, originals = [], {}
    for op_class, _ in _jax_recurrent.implementations():
        originals[op_class] = original = jax_funcify.dispatch(op_class)

        def spy(op, node=None, original=original, **kwargs):
            seen.append(type(op).__name__)
            return original(op, node=node, **kwargs)
        jax_funcify.register(op_class)(spy)
    yield seen
    for op_class, original in originals.items():
        jax_funcify.register(op_class)(original)


def two_updates(layers, mode, start=None):
    """Initial parameters, training losses and final parameters of a
    recurrent classifier trained by two SGD updates in ``mode``."""
    rng = np.random.RandomState(3)
    x = rng.uniform(-1, 1, (6, 4, 5)).astype('float32')
    labels = rng.randint(0, 3, size=(6, 4)).astype('int32')
    with theano.config.change_flags(mode=mode):
        net = recurrent.Classifier(layers)
        for param, value in zip(net.params, start or ()):
            param.set_value(value)
        initial = [np.array(p.get_value()) for p in net.params]
        losses = [train['loss'] for train, _ in net.itertrain(
            [x, labels], algo='sgd', max_updates=2, batch_size=4)]
    return initial, losses, [np.array(p.get_value()) for p in net.params]


@pytest.mark.parametrize('form, fused', [('lstm', 'LSTM'), ('rnn', 'RNN')])
def test_layer_trains_as_with_c_linker(form, fused, translated, monkeypatch):
    for name in (ops.ENV, ops.RNN_ENV):
        monkeypatch.delenv(name, raising=False)
    layers = [5, dict(size=4, form=form, activation='tanh'), 3]
    initial, losses, final = two_updates(layers, 'JAX')
    assert {fused + 'Forward', fused + 'Grad'} <= set(translated)
    _, c_losses, c_final = two_updates(layers, C_MODE, start=initial)
    np.testing.assert_allclose(losses, c_losses, rtol=1e-5)
    assert losses[1] < losses[0]
    for got, want, before in zip(final, c_final, initial):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        assert np.abs(got - before).max() > 1e-6
