"""Tests for the fused LSTM, GRU and RNN Ops (theanets.ops) and their use by
the LSTM, GRU, RNN and Bidirectional layers.

The Ops are checked against an independent numpy implementation (values),
against ``theano.scan`` running the same equations (values and gradients,
with cost terms on h only, c only and both), against finite differences
(float64), and their single-precision sigmoid/tanh against numpy over a
sweep of the float range. The GRU Ops likewise, for each candidate
activation they implement and with cost terms on each of the four outputs
and on all together. At the layer level, the fused and the scan
implementations must give the same outputs and gradients in both
directions with symbolic initial states, and the GRU layer must fall back
on scan when the Ops cannot run it. The RNN Ops and layer like the GRU's.
"""

import ast
import os
import subprocess
import sys

import numpy as np
import pytest

import theanets  # noqa: F401  (configures Theano)
from theanets import backend, ops
from theanets.layers import base, recurrent
from theanets.ops import _base as ops_base, _gru as ops_gru
from theanets.backend import theano, TT

NAMES = ('xw', 'b', 'hh', 'ci', 'cf', 'co', 'h0', 'c0')
NDIMS = (3, 1, 2, 1, 1, 1, 2, 2)
T, B, N = 5, 3, 4


def _symbols(dtype):
    return [TT.TensorType(dtype, (False, ) * nd)(name)
            for name, nd in zip(NAMES, NDIMS)]


def _values(dtype, steps=T, batch=B, n=N, seed=0):
    rng = np.random.RandomState(seed)
    shapes = dict(xw=(steps, batch, 4 * n), b=(4 * n, ), hh=(n, 4 * n),
                  ci=(n, ), cf=(n, ), co=(n, ), h0=(batch, n), c0=(batch, n))
    scale = dict(hh=0.5)
    return [(rng.randn(*shapes[k]) * scale.get(k, 1)).astype(dtype)
            for k in NAMES]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference(xw, b, hh, ci, cf, co, h0, c0):
    """The LSTM equations in float64, step by step."""
    xw, b, hh, ci, cf, co, h, c = (np.asarray(v, 'f8')
                                   for v in (xw, b, hh, ci, cf, co, h0, c0))
    a = xw + b
    n = hh.shape[0]
    hs, cs = [], []
    for a_t in a:
        z = a_t + h @ hh
        i = _sigmoid(z[:, :n] + c * ci)
        f = _sigmoid(z[:, n:2 * n] + c * cf)
        c = f * c + i * np.tanh(z[:, 2 * n:3 * n])
        o = _sigmoid(z[:, 3 * n:] + c * co)
        h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.array(hs), np.array(cs)


def scan_lstm(xw, b, hh, ci, cf, co, h0, c0):
    """The same recurrence with theano.scan."""
    n = hh.shape[0]
    a = xw + b

    def step(a_t, h_tm1, c_tm1, hh, ci, cf, co):
        z = a_t + TT.dot(h_tm1, hh)
        i = TT.nnet.sigmoid(z[:, :n] + c_tm1 * ci)
        f = TT.nnet.sigmoid(z[:, n:2 * n] + c_tm1 * cf)
        c = f * c_tm1 + i * TT.tanh(z[:, 2 * n:3 * n])
        o = TT.nnet.sigmoid(z[:, 3 * n:] + c * co)
        return [o * TT.tanh(c), c]
    (h, c), _ = theano.scan(step, sequences=[a], outputs_info=[h0, c0],
                            non_sequences=[hh, ci, cf, co])
    return h, c



COSTS = ('h', 'c', 'both')
# C implementations (of the fused Ops too) without the slow graph
# optimisations; the layer tests below compile in the default mode.
FAST_C = theano.Mode(linker='cvm', optimizer='fast_compile')
RTOL = dict(float32=1e-5, float64=1e-10)
LABELS = ['h', 'c'] + ['d{}/d{}'.format(cost, name)
                       for cost in COSTS for name in NAMES]


def _compile_pair(dtype):
    """Compile the fused Op and scan side by side.

    Returns ``run(values, seed)``: ``h``, ``c`` and the gradients of
    ``sum(h wh)``, ``sum(c wc)`` and of their sum w.r.t. every input
    (random weights ``wh``, ``wc`` drawn from ``seed``), once for the fused
    Op and once for scan.
    """
    args = _symbols(dtype)
    wh = TT.tensor3('wh', dtype=dtype)
    wc = TT.tensor3('wc', dtype=dtype)
    outputs = []
    for impl in (ops.lstm, scan_lstm):
        h, c = impl(*args)
        outputs.extend([h, c])
        for cost in COSTS:
            terms = dict(h=[(h * wh).sum()], c=[(c * wc).sum()])
            terms['both'] = terms['h'] + terms['c']
            outputs.extend(TT.grad(sum(terms[cost]), args))
    fn = theano.function(args + [wh, wc], outputs, mode=FAST_C)

    def run(values, seed=5):
        rng = np.random.RandomState(seed)
        shape = values[0].shape[:2] + (values[2].shape[0], )
        weights = [rng.randn(*shape).astype(dtype) for _ in 'hc']
        results = fn(*(list(values) + weights))
        half = len(results) // 2
        return results[:half], results[half:]
    return run


@pytest.fixture(scope='module', params=['float32', 'float64'])
def pair(request):
    return request.param, _compile_pair(request.param)


def _assert_same(fused, scan, dtype, labels=LABELS, rtols=RTOL):
    """Fused and scan values agree; ``labels`` name them in order."""
    assert len(fused) == len(scan) == len(labels)
    rtol = rtols[dtype]
    for label, x, y in zip(labels, fused, scan):
        assert x.dtype == dtype, label
        assert x.shape == y.shape, label
        np.testing.assert_allclose(x, y, rtol=rtol,
                                   atol=rtol * max(np.abs(y).max(), 1e-3),
                                   err_msg=label)


def test_forward_matches_numpy(pair):
    dtype, run = pair
    values = _values(dtype)
    fused, _ = run(values)
    h, c = reference(*values)
    tol = dict(float32=2e-6, float64=1e-13)[dtype]
    assert fused[0].shape == fused[1].shape == (T, B, N)
    np.testing.assert_allclose(fused[0], h, rtol=tol, atol=tol)
    np.testing.assert_allclose(fused[1], c, rtol=tol, atol=tol)


@pytest.mark.parametrize('shape', [(T, B, N), (1, 1, N), (1, B, N),
                                   (T, 1, N), (3, 2, 1)])
def test_values_and_gradients_match_scan(pair, shape):
    dtype, run = pair
    fused, scan = run(_values(dtype, *shape))
    _assert_same(fused, scan, dtype)


def test_cost_terms_reach_the_right_inputs(pair):
    # The gradients of the h-only and the c-only cost are both nonzero and
    # add up to the gradient of their sum.
    dtype, run = pair
    fused, _ = run(_values(dtype))
    size = len(NAMES)
    grads = {cost: fused[2 + size * k:2 + size * (k + 1)]
             for k, cost in enumerate(COSTS)}
    for gh, gc, both in zip(grads['h'], grads['c'], grads['both']):
        assert np.abs(gh).max() > 0 and np.abs(gc).max() > 0
        np.testing.assert_allclose(gh + gc, both, rtol=1e-4, atol=1e-5)


def test_c_code_matches_numpy_perform():
    # Theano's Python linker runs the Ops' NumPy ``perform``.
    args = _symbols('float64')
    h, c = ops.lstm(*args)
    cost = (h ** 2).sum() + (c * 0.5).sum()
    outputs = [h, c] + TT.grad(cost, args)
    values = _values('float64', seed=7)
    fast = theano.function(args, outputs)(*values)
    slow = theano.function(args, outputs, mode=theano.Mode(linker='py'))(
        *values)
    for label, x, y in zip(['h', 'c'] + list(NAMES), fast, slow):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13,
                                   err_msg=label)


@pytest.mark.parametrize('dtype', ['float32', 'float64'])
def test_default_mode_runs_the_c_code_not_perform(monkeypatch, dtype):
    # A backend that cannot compile an Op's C code quietly runs its
    # ``perform`` instead; with every ``perform`` refusing, the values can
    # only come from the C kernels.
    def refuse(self, node, inputs, output_storage):
        raise AssertionError('{} ran perform'.format(type(self).__name__))
    for op_class in (ops.LSTMForward, ops.LSTMGrad, ops.GRUForward,
                     ops.GRUGrad, ops.RNNForward, ops.RNNGrad):
        monkeypatch.setattr(op_class, 'perform', refuse)
    args = _symbols(dtype)
    h, c = ops.lstm(*args)
    lstm_outputs = [h, c] + TT.grad((h ** 2).sum() + c.sum(), args)
    gru_args = _gru_symbols(dtype)
    gru_outputs = list(ops.gru(*gru_args))
    gru_outputs += TT.grad(sum((x ** 2).sum() for x in gru_outputs),
                           gru_args)
    lstm_fn = theano.function(args, lstm_outputs)
    gru_fn = theano.function(gru_args, gru_outputs)
    for fn, names in ((lstm_fn, {'LSTMForward', 'LSTMGrad'}),
                      (gru_fn, {'GRUForward', 'GRUGrad'})):
        compiled = {type(node.op).__name__
                    for node in fn.maker.fgraph.toposort()}
        assert names <= compiled

    values = _values(dtype, seed=3)
    fused = lstm_fn(*values)
    expected_h, expected_c = reference(*values)
    rtol = 1e-5 if dtype == 'float32' else 1e-12
    np.testing.assert_allclose(fused[0], expected_h, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(fused[1], expected_c, rtol=rtol, atol=rtol)
    gru_values = _gru_values(dtype, seed=3)
    expected = gru_reference(*gru_values)
    for label, x, y in zip(GRU_OUTPUTS, gru_fn(*gru_values), expected):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol, err_msg=label)

    rnn_args = _rnn_symbols(dtype)
    rnn_outputs = list(ops.rnn(*rnn_args))
    rnn_outputs += TT.grad(sum((x ** 2).sum() for x in rnn_outputs),
                           rnn_args)
    rnn_fn = theano.function(rnn_args, rnn_outputs)
    assert {'RNNForward', 'RNNGrad'} <= {
        type(node.op).__name__ for node in rnn_fn.maker.fgraph.toposort()}
    rnn_values = _rnn_values(dtype, seed=3)
    expected = rnn_reference(*rnn_values)
    for label, x, y in zip(RNN_OUTPUTS, rnn_fn(*rnn_values), expected):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol, err_msg=label)


def test_verify_grad_float64():
    rng = np.random.RandomState(11)
    values = _values('float64', steps=3, batch=2, n=2, seed=4)

    def cost(*args):
        h, c = ops.lstm(*args)
        return TT.concatenate([h, TT.tanh(c)], axis=2)
    theano.gradient.verify_grad(cost, values, rng=rng, eps=1e-6,
                                abs_tol=1e-6, rel_tol=1e-5)


# ----------------------------------------------------------------------
# single-precision nonlinearities, special values


@pytest.fixture(scope='module')
def gates():
    """Function of ``a`` ``(T, B, 4n)`` with zero weights and states.

    The saved activations are then sigmoid, sigmoid, tanh and sigmoid of
    the four blocks of ``a`` (and tanh(c) with c = sigmoid(a_i) tanh(a_c)).
    """
    a = TT.tensor3('a', dtype='float32')
    n = a.shape[2] // 4
    zeros = TT.zeros((n, ), 'float32')
    states = TT.zeros((a.shape[1], n), 'float32')
    h, c, acts = ops.lstm_forward(
        a, TT.zeros((4 * n, ), 'float32'), TT.zeros((n, 4 * n), 'float32'),
        zeros, zeros, zeros, states, states)
    return theano.function([a], [h, c, acts])


def _gate_values(gates, x):
    """The five saved activations for ``x`` in every block, ``(5, len(x))``:
    one unit, one row per value."""
    _, _, acts = gates(np.repeat(x[None, :, None], 4, axis=2))
    return acts[0].T


def _ulp_error(got, exact):
    spacing = np.abs(np.spacing(exact.astype('float32'))).astype('f8')
    return np.abs(got.astype('f8') - exact) / spacing


def test_sigmoid_and_tanh_accuracy(gates):
    rng = np.random.RandomState(0)
    x = np.concatenate([
        np.linspace(-20, 20, 40001), rng.randn(20000) * 4,
        np.logspace(-40, 2.2, 4000), -np.logspace(-40, 2.2, 4000)])
    x = x.astype('float32')
    acts = _gate_values(gates, x)
    x64 = x.astype('f8')
    with np.errstate(over='ignore', under='ignore'):
        sig = 1 / (1 + np.exp(-x64))
    normal = sig >= np.finfo('float32').tiny
    for k in (0, 1, 3):
        assert _ulp_error(acts[k][normal], sig[normal]).max() <= 3
        # results below the smallest normal float (x < -87.3) flush to 0
        assert (acts[k][~normal] <= sig[~normal]).all()
        assert (acts[k][x < -87.34] == 0).all()
    assert _ulp_error(acts[2], np.tanh(x64)).max() <= 2
    # tanh keeps tiny arguments exactly
    tiny = np.abs(x) < 1e-4
    np.testing.assert_array_equal(acts[2][tiny], x[tiny])


def test_saturation_and_special_values(gates):
    x = np.array([np.inf, -np.inf, 200, -200, 30, -30, 0, -0.0, np.nan],
                 'float32')
    acts = _gate_values(gates, x)
    sig, th = acts[0], acts[2]
    np.testing.assert_array_equal(sig[:4], [1, 0, 1, 0])
    np.testing.assert_array_equal(th[:6], [1, -1, 1, -1, 1, -1])
    assert sig[4] == 1 and 0 < sig[5] < 1e-12
    assert sig[6] == sig[7] == 0.5
    assert th[6] == th[7] == 0
    assert np.isnan(sig[8]) and np.isnan(th[8])


def test_nan_propagates(gates, pair):
    a = np.zeros((1, 2, 8), 'float32')
    a[0, 1, 2] = np.nan  # the candidate of row 1, unit 0
    h, c, _ = gates(a)
    assert np.isfinite(h[0, 0]).all() and np.isfinite(c[0, 1, 1])
    assert np.isnan(c[0, 1, 0]) and np.isnan(h[0, 1, 0])
    # across time steps, and into the gradients
    dtype, run = pair
    values = _values(dtype, steps=3, batch=2, n=2)
    values[0][0, 1, 0] = np.nan
    (h, c, *grads), _ = run(values)
    assert np.isnan(h[1:, 1]).all() and np.isfinite(h[:, 0]).all()
    assert np.isnan(grads[2]).any()  # d cost / d hh


# ----------------------------------------------------------------------
# errors


def test_rejects_mixed_dtypes_and_ranks():
    args = _symbols('float32')
    args[2] = TT.matrix('hh', dtype='float64')
    with pytest.raises(TypeError, match='one dtype'):
        ops.lstm(*args)
    with pytest.raises(TypeError, match='dimensions'):
        ops.lstm(*([TT.matrix('xw')] + _symbols('float32')[1:]))


def test_rejects_wrong_shapes():
    args = _symbols('float64')
    fn = theano.function(args, ops.lstm(*args))
    values = _values('float64')
    values[6] = values[6][:, :2]
    with pytest.raises(ValueError, match='h0'):
        fn(*values)


def test_gradient_through_saved_activations_is_refused():
    args = _symbols('float32')
    _, _, acts = ops.lstm_forward(*args)
    with pytest.raises(NotImplementedError, match='saved activations'):
        TT.grad(acts.sum(), args[0])


# ----------------------------------------------------------------------
# the LSTM layer


def _lstm_graph(direction, **kwargs):
    """Input variables, layer, outputs and updates of an LSTM layer with
    initial states from the inputs 'h0' and 'c0'."""
    inputs = [base.Input(size=3, ndim=3, name='in'),
              base.Input(size=N, name='h0'), base.Input(size=N, name='c0')]
    layer = recurrent.LSTM(size=N, inputs='in', name='l', h_0='h0',
                           c_0='c0', direction=direction, rng=17, **kwargs)
    graph = type('Graph', (), dict(layers=inputs + [layer]))
    for item in graph.layers:
        item.bind(graph)
    exprs = {item.output_name: item.input for item in inputs}
    outputs, updates = layer.connect(exprs)
    return [item.input for item in inputs], layer, outputs, updates


def _op_names(outputs):
    variables = theano.gof.graph.ancestors(list(outputs))
    return {type(v.owner.op).__name__ for v in variables if v.owner}


def test_layer_uses_fused_op_unless_told(monkeypatch):
    monkeypatch.delenv(ops.ENV, raising=False)
    _, _, outputs, updates = _lstm_graph('forward')
    assert list(updates) == []
    assert 'LSTMForward' in _op_names(outputs.values())
    assert 'Scan' not in _op_names(outputs.values())
    monkeypatch.setenv(ops.ENV, 'scan')
    _, _, outputs, _ = _lstm_graph('forward')
    assert 'Scan' in _op_names(outputs.values())
    assert 'LSTMForward' not in _op_names(outputs.values())


def test_layer_with_bptt_limit_uses_scan(monkeypatch):
    monkeypatch.delenv(ops.ENV, raising=False)
    _, _, outputs, _ = _lstm_graph('forward', bptt_limit=2)
    assert 'Scan' in _op_names(outputs.values())


def _fused_and_scan_values(env, graph, names, data):
    """Fused and scan layers (same seed) in both directions, switched by the
    environment variable ``env``: their outputs ``names`` and the gradients
    of a random projection of them w.r.t. parameters, data and initial
    states, from one compiled function fed ``data``. Keyed by
    ``(implementation, direction)``."""
    saved = os.environ.get(env)
    exprs, variables = {}, {}
    try:
        for impl in ('fused', 'scan'):
            os.environ[env] = impl
            for direction in ('forward', 'backward'):
                inputs, layer, outputs, _ = graph(direction)
                rng = np.random.RandomState(2)
                results = [outputs['l:' + name] for name in names]
                cost = sum((x * rng.randn(2, 4, N).astype('f')).sum()
                           for x in results)
                key = impl, direction
                exprs[key] = results + TT.grad(cost, layer.params + inputs)
                variables[key] = inputs
    finally:
        if saved is None:
            os.environ.pop(env, None)
        else:
            os.environ[env] = saved
    keys = sorted(exprs)
    fn = theano.function([v for k in keys for v in variables[k]],
                         [e for k in keys for e in exprs[k]])
    values = fn(*(data * len(keys)))
    size = len(values) // len(keys)
    return {k: values[i * size:(i + 1) * size] for i, k in enumerate(keys)}


@pytest.fixture(scope='module')
def layer_pair():
    """Fused and scan LSTM layers: out, cell and their gradients."""
    rng = np.random.RandomState(9)
    data = [rng.randn(2, 4, 3).astype('f'), rng.randn(2, N).astype('f'),
            rng.randn(2, N).astype('f')]
    return _fused_and_scan_values(ops.ENV, _lstm_graph, ['out', 'cell'], data)


def _assert_fused_matches_scan(pair, direction, count, rtol, atol):
    """Fused and scan values of ``pair`` agree, all ``count`` non-zero."""
    fused = pair['fused', direction]
    scan = pair['scan', direction]
    assert len(fused) == len(scan) == count
    for k, (x, y) in enumerate(zip(fused, scan)):
        assert x.shape == y.shape
        assert np.abs(x).max() > 0
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                   err_msg=str(k))


@pytest.mark.parametrize('direction', ['forward', 'backward'])
def test_layer_fused_matches_scan(layer_pair, direction):
    # out, cell; gradients w.r.t. xh hh b ci cf co, in, h0, c0
    _assert_fused_matches_scan(layer_pair, direction, 11, 1e-5, 1e-6)


def test_layer_backward_direction_reverses(layer_pair):
    # The backward layer's first output consumed the last input step.
    fw = layer_pair['fused', 'forward'][0]
    bw = layer_pair['fused', 'backward'][0]
    assert not np.allclose(fw, bw)


# ----------------------------------------------------------------------
# without a BLAS library (Theano's NumPy-based gemm), in a fresh process

NO_BLAS_SCRIPT = '''
import numpy as np
import theanets
import theano
import theano.tensor as TT
from theanets import ops
assert theano.config.blas.ldflags == ''
rng = np.random.RandomState(0)
vals = [rng.randn(*s) for s in [(4, 3, 8), (8,), (2, 8), (2,), (2,), (2,),
                                (3, 2), (3, 2)]]
args = [TT.TensorType('float64', (False,) * v.ndim)() for v in vals]
h, c = ops.lstm(*args)
outs = [h, c] + TT.grad((h ** 2).sum() + c.sum(), args)
fast = theano.function(args, outs)(*vals)
slow = theano.function(args, outs, mode=theano.Mode(linker='py'))(*vals)
for x, y in zip(fast, slow):
    np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)
vals = [rng.randn(*s) for s in [(4, 3, 6), (6,), (2, 2), (2, 2), (2, 2),
                                (3, 2)]]
args = [TT.TensorType('float64', (False,) * v.ndim)() for v in vals]
outs = list(ops.gru(*args))
outs += TT.grad(sum((x ** 2).sum() for x in outs), args)
fast = theano.function(args, outs)(*vals)
slow = theano.function(args, outs, mode=theano.Mode(linker='py'))(*vals)
for x, y in zip(fast, slow):
    np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)
vals = [rng.randn(*s) for s in [(4, 3, 2), (2,), (2, 2), (3, 2)]]
args = [TT.TensorType('float64', (False,) * v.ndim)() for v in vals]
outs = list(ops.rnn(*args))
outs += TT.grad(sum((x ** 2).sum() for x in outs), args)
fast = theano.function(args, outs)(*vals)
slow = theano.function(args, outs, mode=theano.Mode(linker='py'))(*vals)
for x, y in zip(fast, slow):
    np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)
print('ok')
'''


@pytest.mark.slow
def test_without_blas(tmp_path):
    env = dict(os.environ)
    # each backend reads its own flags: Theano's dotted names, PyTensor's
    # double underscores
    if backend.name() == 'pytensor':
        env['PYTENSOR_FLAGS'] = 'blas__ldflags=,base_compiledir={}'.format(
            tmp_path)
    else:
        env['THEANO_FLAGS'] = 'blas.ldflags=,base_compiledir={}'.format(
            tmp_path)
    proc = subprocess.run([sys.executable, '-c', NO_BLAS_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith('ok')


# ----------------------------------------------------------------------
# the fused GRU Ops

GRU_NAMES = ('xw', 'b', 'hh', 'hr', 'hz', 'h0')
GRU_NDIMS = (3, 1, 2, 2, 2, 2)
GRU_OUTPUTS = ('pre', 'hid', 'rate', 'out')
GRU_COSTS = GRU_OUTPUTS + ('all', )
GRU_LABELS = list(GRU_OUTPUTS) + ['d{}/d{}'.format(cost, name)
                                  for cost in GRU_COSTS for name in GRU_NAMES]
ACTIVATIONS = ('tanh', 'relu', 'sigmoid', 'linear')
NUMPY_ACTIVATIONS = dict(tanh=np.tanh, sigmoid=_sigmoid, linear=lambda x: x,
                         relu=lambda x: np.maximum(x, 0))


def _gru_symbols(dtype):
    return [TT.TensorType(dtype, (False, ) * nd)(name)
            for name, nd in zip(GRU_NAMES, GRU_NDIMS)]


def _gru_values(dtype, steps=T, batch=B, n=N, seed=0):
    rng = np.random.RandomState(seed)
    shapes = dict(xw=(steps, batch, 3 * n), b=(3 * n, ), hh=(n, n),
                  hr=(n, n), hz=(n, n), h0=(batch, n))
    return [(rng.randn(*shapes[k]) * (0.5 if k[0] == 'h' else 1))
            .astype(dtype) for k in GRU_NAMES]


def gru_reference(xw, b, hh, hr, hz, h0, activation='tanh'):
    """The GRU equations in float64, step by step: pre, hid, rate, out."""
    xw, b, hh, hr, hz, h = (np.asarray(v, 'f8')
                            for v in (xw, b, hh, hr, hz, h0))
    g = NUMPY_ACTIVATIONS[activation]
    a = xw + b
    n = hh.shape[0]
    results = []
    for a_t in a:
        r = _sigmoid(a_t[:, n:2 * n] + h @ hr)
        z = _sigmoid(a_t[:, 2 * n:] + h @ hz)
        pre = a_t[:, :n] + (r * h) @ hh
        hid = g(pre)
        h = (1 - z) * h + z * hid
        results.append((pre, hid, z, h))
    return [np.array(v) for v in zip(*results)]


def scan_gru(xw, b, hh, hr, hz, h0, activation='tanh'):
    """The same recurrence with theano.scan, in the layer's formulation."""
    g = dict(tanh=TT.tanh, sigmoid=TT.nnet.sigmoid, linear=lambda x: x,
             relu=lambda x: (x + abs(x)) / 2)[activation]
    n = hh.shape[0]
    a = xw + b

    def step(ah_t, ar_t, az_t, h_tm1, hh, hr, hz):
        r = TT.nnet.sigmoid(ar_t + TT.dot(h_tm1, hr))
        z = TT.nnet.sigmoid(az_t + TT.dot(h_tm1, hz))
        pre = ah_t + TT.dot(r * h_tm1, hh)
        hid = g(pre)
        return [pre, hid, z, (1 - z) * h_tm1 + z * hid]
    outputs, _ = theano.scan(
        step, sequences=[a[:, :, :n], a[:, :, n:2 * n], a[:, :, 2 * n:]],
        outputs_info=[None, None, None, h0], non_sequences=[hh, hr, hz])
    return outputs


def _compile_gru_pair(dtype, activation):
    """Fused GRU and scan side by side: the four outputs and the gradients
    of ``sum(output * weights)`` for each output and for all four together
    w.r.t. every input (weights drawn from ``seed``), fused then scan."""
    args = _gru_symbols(dtype)
    weights = [TT.tensor3('w' + name, dtype=dtype) for name in GRU_OUTPUTS]
    outputs = []
    for impl in (ops.gru, scan_gru):
        results = impl(*args, activation=activation)
        outputs.extend(results)
        terms = [(x * w).sum() for x, w in zip(results, weights)]
        for cost in terms + [sum(terms)]:
            outputs.extend(TT.grad(cost, args))
    fn = theano.function(args + weights, outputs, mode=FAST_C)

    def run(values, seed=5):
        rng = np.random.RandomState(seed)
        shape = values[0].shape[:2] + (values[2].shape[0], )
        ws = [rng.randn(*shape).astype(dtype) for _ in GRU_OUTPUTS]
        results = fn(*(list(values) + ws))
        half = len(results) // 2
        return results[:half], results[half:]
    return run


@pytest.fixture(scope='module', params=[
    (dtype, act) for dtype in ('float32', 'float64') for act in ACTIVATIONS])
def gru_pair(request):
    dtype, activation = request.param
    return dtype, activation, _compile_gru_pair(dtype, activation)


# scan's float64 gradients are themselves only good to about 1e-8 here (the
# fused Op agrees better with finite differences, see below)
GRU_RTOL = dict(float32=2e-5, float64=1e-6)


def test_gru_forward_matches_numpy(gru_pair):
    dtype, activation, run = gru_pair
    values = _gru_values(dtype)
    fused, _ = run(values)
    expected = gru_reference(*values, activation=activation)
    tol = dict(float32=3e-6, float64=1e-13)[dtype]
    for label, x, y in zip(GRU_OUTPUTS, fused, expected):
        assert x.shape == (T, B, N)
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol, err_msg=label)


@pytest.mark.parametrize('shape', [(T, B, N), (1, 1, N), (T, 1, N),
                                   (1, B, N), (3, 2, 1)])
def test_gru_values_and_gradients_match_scan(gru_pair, shape):
    dtype, _, run = gru_pair
    fused, scan = run(_gru_values(dtype, *shape))
    _assert_same(fused, scan, dtype, GRU_LABELS, GRU_RTOL)


def test_gru_cost_terms_reach_the_inputs(gru_pair):
    # Each output's cost (over several steps) has a nonzero gradient w.r.t.
    # every input, and the four gradients add up to that of the sum.
    dtype, activation, run = gru_pair
    fused, _ = run(_gru_values(dtype))
    size = len(GRU_NAMES)
    grads = [fused[4 + size * k:4 + size * (k + 1)]
             for k in range(len(GRU_COSTS))]
    for k, name in enumerate(GRU_NAMES):
        for cost in range(4):
            assert np.abs(grads[cost][k]).max() > 0, (GRU_COSTS[cost], name)
        total = sum(grads[cost][k] for cost in range(4))
        np.testing.assert_allclose(total, grads[4][k], rtol=1e-4, atol=1e-5)


def test_gru_c_code_matches_numpy_perform():
    args = _gru_symbols('float64')
    values = _gru_values('float64', seed=7)
    for activation in ACTIVATIONS:
        results = ops.gru(*args, activation=activation)
        cost = sum((x ** 2).sum() * (k + 1) for k, x in enumerate(results))
        outputs = list(results) + TT.grad(cost, args)
        fast = theano.function(args, outputs, mode=FAST_C)(*values)
        slow = theano.function(args, outputs, mode=theano.Mode(linker='py'))(
            *values)
        for label, x, y in zip(GRU_OUTPUTS + GRU_NAMES, fast, slow):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13,
                                       err_msg=activation + ' ' + label)


@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_gru_verify_grad_float64(activation):
    rng = np.random.RandomState(11)
    values = _gru_values('float64', steps=3, batch=2, n=2, seed=4)

    def cost(*args):
        return TT.concatenate(ops.gru(*args, activation=activation), axis=2)
    theano.gradient.verify_grad(cost, values, rng=rng, eps=1e-7,
                                abs_tol=1e-6, rel_tol=1e-5, mode=FAST_C)


def test_gru_nan_propagates():
    args = _gru_symbols('float32')
    results = ops.gru(*args)
    fn = theano.function(args, list(results) + [TT.grad(
        results[3].sum(), args[2])], mode=FAST_C)
    values = _gru_values('float32', steps=3, batch=2, n=2)
    values[0][0, 1, 0] = np.nan  # the candidate of row 1, unit 0
    pre, hid, rate, out, dhh = fn(*values)
    assert np.isnan(pre[0, 1, 0]) and np.isnan(out[0, 1, 0])
    assert np.isfinite(pre[0, 1, 1]) and np.isfinite(rate[0, 1]).all()
    assert np.isnan(out[1:, 1]).all() and np.isfinite(out[:, 0]).all()
    assert np.isnan(dhh).any()


def test_gru_rejects_bad_inputs():
    args = _gru_symbols('float32')
    args[3] = TT.matrix('hr', dtype='float64')
    with pytest.raises(TypeError, match='GRU op: inputs must share'):
        ops.gru(*args)
    with pytest.raises(ValueError, match='activation'):
        ops.GRUForward('softplus')
    args = _gru_symbols('float64')
    fn = theano.function(args, ops.gru(*args), mode=FAST_C)
    values = _gru_values('float64')
    values[5] = values[5][:, :2]
    with pytest.raises(ValueError, match='h0'):
        fn(*values)
    saved = ops.GRUForward()(args[0], args[1], args[2],
                             TT.concatenate([args[3], args[4]], axis=1),
                             args[5])[4]
    with pytest.raises(NotImplementedError, match='reset gate'):
        TT.grad(saved.sum(), args[0])


def _gru_graph(direction, **kwargs):
    """Input variables, layer, outputs and updates of a GRU layer with the
    initial state from the input 'h0'."""
    inputs = [base.Input(size=3, ndim=3, name='in'),
              base.Input(size=N, name='h0')]
    layer = recurrent.GRU(size=N, inputs='in', name='l', h_0='h0',
                          direction=direction, rng=17, **kwargs)
    graph = type('Graph', (), dict(layers=inputs + [layer]))
    for item in graph.layers:
        item.bind(graph)
    exprs = {item.output_name: item.input for item in inputs}
    outputs, updates = layer.connect(exprs)
    return [item.input for item in inputs], layer, outputs, updates


@pytest.mark.parametrize('kwargs, fused', [
    ({}, True),  # the default activation, relu
    (dict(activation='tanh'), True), (dict(activation='logistic'), True),
    (dict(activation='rect:max'), True), (dict(activation='linear'), True),
    (dict(activation='softplus'), False),
    (dict(activation='tanh+relu'), False),
    (dict(activation='tanh', bptt_limit=2), False),
])
def test_gru_layer_uses_fused_op_when_possible(monkeypatch, kwargs, fused):
    monkeypatch.delenv(ops.GRU_ENV, raising=False)
    _, _, outputs, updates = _gru_graph('forward', **kwargs)
    names = _op_names(outputs.values())
    assert ('GRUForward' in names) == fused
    assert ('Scan' in names) != fused
    if fused:
        assert list(updates) == []


def test_gru_layer_environment_switch(monkeypatch):
    monkeypatch.setenv(ops.GRU_ENV, 'scan')
    _, _, outputs, _ = _gru_graph('forward', activation='tanh')
    assert 'Scan' in _op_names(outputs.values())
    assert 'GRUForward' not in _op_names(outputs.values())
    # the LSTM switch is separate
    monkeypatch.setenv(ops.ENV, 'scan')
    monkeypatch.delenv(ops.GRU_ENV)
    _, _, outputs, _ = _gru_graph('forward', activation='tanh')
    assert 'GRUForward' in _op_names(outputs.values())


@pytest.fixture(scope='module')
def gru_layer_pair():
    """Fused and scan GRU layers (tanh): the four outputs and the gradients
    of a cost on all of them."""
    rng = np.random.RandomState(9)
    data = [rng.randn(2, 4, 3).astype('f'), rng.randn(2, N).astype('f')]
    def graph(direction):
        return _gru_graph(direction, activation='tanh')

    return _fused_and_scan_values(ops.GRU_ENV, graph, GRU_OUTPUTS, data)


@pytest.mark.parametrize('direction', ['forward', 'backward'])
def test_gru_layer_fused_matches_scan(gru_layer_pair, direction):
    # pre, hid, rate, out; gradients w.r.t. hh hr hz w b, in, h0
    _assert_fused_matches_scan(gru_layer_pair, direction, 11, 2e-5, 2e-6)


def test_gru_layer_backward_direction_reverses(gru_layer_pair):
    fw = gru_layer_pair['fused', 'forward'][3]
    bw = gru_layer_pair['fused', 'backward'][3]
    assert not np.allclose(fw, bw)


# ----------------------------------------------------------------------
# the fused RNN Ops

RNN_NAMES = ('xw', 'b', 'hh', 'h0')
RNN_NDIMS = (3, 1, 2, 2)
RNN_OUTPUTS = ('pre', 'out')
RNN_COSTS = RNN_OUTPUTS + ('all', )
RNN_LABELS = list(RNN_OUTPUTS) + ['d{}/d{}'.format(cost, name)
                                  for cost in RNN_COSTS for name in RNN_NAMES]


def _rnn_symbols(dtype):
    return [TT.TensorType(dtype, (False, ) * nd)(name)
            for name, nd in zip(RNN_NAMES, RNN_NDIMS)]


def _rnn_values(dtype, steps=T, batch=B, n=N, seed=0):
    rng = np.random.RandomState(seed)
    shapes = dict(xw=(steps, batch, n), b=(n, ), hh=(n, n), h0=(batch, n))
    return [(rng.randn(*shapes[k]) * (0.5 if k == 'hh' else 1))
            .astype(dtype) for k in RNN_NAMES]


def rnn_reference(xw, b, hh, h0, activation='tanh'):
    """The RNN equations in float64, step by step: pre, out."""
    xw, b, hh, h = (np.asarray(v, 'f8') for v in (xw, b, hh, h0))
    g = NUMPY_ACTIVATIONS[activation]
    pres, outs = [], []
    for a_t in xw + b:
        pres.append(a_t + h @ hh)
        h = g(pres[-1])
        outs.append(h)
    return np.array(pres), np.array(outs)


def scan_rnn(xw, b, hh, h0, activation='tanh'):
    """The same recurrence with theano.scan, in the layer's formulation."""
    g = dict(tanh=TT.tanh, sigmoid=TT.nnet.sigmoid, linear=lambda x: x,
             relu=lambda x: (x + abs(x)) / 2)[activation]

    def step(a_t, pre_tm1, h_tm1, hh):
        pre = a_t + TT.dot(h_tm1, hh)
        return [pre, g(pre)]
    outputs, _ = theano.scan(step, sequences=[xw + b],
                             outputs_info=[h0, h0], non_sequences=[hh])
    return outputs


def _compile_rnn_pair(dtype, activation):
    """Fused RNN and scan side by side: both outputs and the gradients of
    ``sum(output * weights)`` for each output and for both together w.r.t.
    every input (weights drawn from ``seed``), fused then scan."""
    args = _rnn_symbols(dtype)
    weights = [TT.tensor3('w' + name, dtype=dtype) for name in RNN_OUTPUTS]
    outputs = []
    for impl in (ops.rnn, scan_rnn):
        results = impl(*args, activation=activation)
        outputs.extend(results)
        terms = [(x * w).sum() for x, w in zip(results, weights)]
        for cost in terms + [sum(terms)]:
            outputs.extend(TT.grad(cost, args))
    fn = theano.function(args + weights, outputs, mode=FAST_C)

    def run(values, seed=5):
        rng = np.random.RandomState(seed)
        shape = values[0].shape
        ws = [rng.randn(*shape).astype(dtype) for _ in RNN_OUTPUTS]
        results = fn(*(list(values) + ws))
        half = len(results) // 2
        return results[:half], results[half:]
    return run


@pytest.fixture(scope='module', params=[
    (dtype, act) for dtype in ('float32', 'float64') for act in ACTIVATIONS])
def rnn_pair(request):
    dtype, activation = request.param
    return dtype, activation, _compile_rnn_pair(dtype, activation)


def test_rnn_forward_matches_numpy(rnn_pair):
    dtype, activation, run = rnn_pair
    values = _rnn_values(dtype)
    fused, _ = run(values)
    expected = rnn_reference(*values, activation=activation)
    tol = dict(float32=3e-6, float64=1e-13)[dtype]
    for label, x, y in zip(RNN_OUTPUTS, fused, expected):
        assert x.shape == (T, B, N)
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol, err_msg=label)


@pytest.mark.parametrize('shape', [(T, B, N), (1, 1, N), (T, 1, N),
                                   (1, B, N), (3, 2, 1)])
def test_rnn_values_and_gradients_match_scan(rnn_pair, shape):
    dtype, _, run = rnn_pair
    fused, scan = run(_rnn_values(dtype, *shape))
    _assert_same(fused, scan, dtype, RNN_LABELS, GRU_RTOL)


def test_rnn_without_time_steps():
    # scan cannot run zero steps; the Ops return empty outputs and zero
    # gradients
    args = _rnn_symbols('float32')
    pre, out = ops.rnn(*args)
    fn = theano.function(args, [pre, out] + TT.grad(
        (out * 2).sum() + pre.sum(), args), mode=FAST_C)
    values = _rnn_values('float32', steps=0)
    pre, out, dxw, db, dhh, dh0 = fn(*values)
    assert pre.shape == out.shape == dxw.shape == (0, B, N)
    for grad, value in zip((db, dhh, dh0), values[1:]):
        assert grad.shape == value.shape and not grad.any()


def test_rnn_cost_terms_reach_the_inputs(rnn_pair):
    # Each output's cost has a nonzero gradient w.r.t. every input, and the
    # two gradients add up to that of the sum.
    dtype, activation, run = rnn_pair
    fused, _ = run(_rnn_values(dtype))
    size = len(RNN_NAMES)
    grads = [fused[2 + size * k:2 + size * (k + 1)]
             for k in range(len(RNN_COSTS))]
    for k, name in enumerate(RNN_NAMES):
        for cost in range(2):
            assert np.abs(grads[cost][k]).max() > 0, (RNN_COSTS[cost], name)
        np.testing.assert_allclose(grads[0][k] + grads[1][k], grads[2][k],
                                   rtol=1e-4, atol=1e-5)


def test_rnn_c_code_matches_numpy_perform():
    args = _rnn_symbols('float64')
    values = _rnn_values('float64', seed=7)
    for activation in ACTIVATIONS:
        results = ops.rnn(*args, activation=activation)
        cost = sum((x ** 2).sum() * (k + 1) for k, x in enumerate(results))
        outputs = list(results) + TT.grad(cost, args)
        fast = theano.function(args, outputs, mode=FAST_C)(*values)
        slow = theano.function(args, outputs, mode=theano.Mode(linker='py'))(
            *values)
        for label, x, y in zip(RNN_OUTPUTS + RNN_NAMES, fast, slow):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13,
                                       err_msg=activation + ' ' + label)


@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_rnn_verify_grad_float64(activation):
    rng = np.random.RandomState(11)
    values = _rnn_values('float64', steps=3, batch=2, n=2, seed=4)

    def cost(*args):
        return TT.concatenate(ops.rnn(*args, activation=activation), axis=2)
    theano.gradient.verify_grad(cost, values, rng=rng, eps=1e-7,
                                abs_tol=1e-6, rel_tol=1e-5, mode=FAST_C)


def test_rnn_nan_propagates():
    args = _rnn_symbols('float32')
    pre, out = ops.rnn(*args)
    fn = theano.function(args, [pre, out, TT.grad(out.sum(), args[2])],
                         mode=FAST_C)
    values = _rnn_values('float32', steps=3, batch=2, n=2)
    values[0][0, 1, 0] = np.nan  # row 1, unit 0 of the first step
    pre, out, dhh = fn(*values)
    assert np.isnan(pre[0, 1, 0]) and np.isfinite(pre[0, 1, 1])
    assert np.isnan(out[1:, 1]).all() and np.isfinite(out[:, 0]).all()
    assert np.isnan(dhh).any()


def test_rnn_rejects_bad_inputs():
    args = _rnn_symbols('float32')
    args[2] = TT.matrix('hh', dtype='float64')
    with pytest.raises(TypeError, match='RNN op: inputs must share'):
        ops.rnn(*args)
    with pytest.raises(TypeError, match='RNN op: h0 must have 2'):
        ops.rnn(*(_rnn_symbols('float32')[:3] + [TT.tensor3(
            'h0', dtype='float32')]))
    with pytest.raises(ValueError, match='activation'):
        ops.RNNForward('softplus')
    args = _rnn_symbols('float64')
    fn = theano.function(args, ops.rnn(*args), mode=FAST_C)
    values = _rnn_values('float64')
    values[3] = values[3][:, :2]
    with pytest.raises(ValueError, match='h0'):
        fn(*values)
    slow = theano.function(args, ops.rnn(*args),
                           mode=theano.Mode(linker='py'))
    with pytest.raises(ValueError, match='h0'):
        slow(*values)


def test_rnn_ops_pickle_and_compare_by_activation():
    import pickle
    for op in (ops.RNNForward('relu'), ops.RNNGrad('sigmoid')):
        copy = pickle.loads(pickle.dumps(op))
        assert copy == op and hash(copy) == hash(op)
        assert copy.c_function() == op.c_function()
    assert ops.RNNForward('relu') != ops.RNNForward('tanh')
    assert ops.RNNForward('relu').c_function() == \
        'rnn_forward_run<RNN_RELU>'


def _rnn_graph(direction, **kwargs):
    """Input variables, layer, outputs and updates of an RNN layer with the
    initial state from the input 'h0'."""
    inputs = [base.Input(size=3, ndim=3, name='in'),
              base.Input(size=N, name='h0')]
    layer = recurrent.RNN(size=N, inputs='in', name='l', h_0='h0',
                          direction=direction, rng=17, **kwargs)
    graph = type('Graph', (), dict(layers=inputs + [layer]))
    for item in graph.layers:
        item.bind(graph)
    exprs = {item.output_name: item.input for item in inputs}
    outputs, updates = layer.connect(exprs)
    return [item.input for item in inputs], layer, outputs, updates


@pytest.mark.parametrize('kwargs, fused', [
    ({}, True),  # the default activation, relu
    (dict(activation='tanh'), True), (dict(activation='logistic'), True),
    (dict(activation='rect:max'), True), (dict(activation='linear'), True),
    (dict(activation='softplus'), False),
    (dict(activation='tanh+relu'), False),
    (dict(activation='tanh', bptt_limit=2), False),
])
def test_rnn_layer_uses_fused_op_when_possible(monkeypatch, kwargs, fused):
    monkeypatch.delenv(ops.RNN_ENV, raising=False)
    _, _, outputs, updates = _rnn_graph('forward', **kwargs)
    names = _op_names(outputs.values())
    assert ('RNNForward' in names) == fused
    assert ('Scan' in names) != fused
    if fused:
        assert list(updates) == []


def test_rnn_layer_environment_switch(monkeypatch):
    monkeypatch.setenv(ops.RNN_ENV, 'scan')
    _, _, outputs, _ = _rnn_graph('forward', activation='tanh')
    assert 'Scan' in _op_names(outputs.values())
    assert 'RNNForward' not in _op_names(outputs.values())
    # the LSTM and GRU switches are separate
    monkeypatch.setenv(ops.ENV, 'scan')
    monkeypatch.setenv(ops.GRU_ENV, 'scan')
    monkeypatch.delenv(ops.RNN_ENV)
    _, _, outputs, _ = _rnn_graph('forward', activation='tanh')
    assert 'RNNForward' in _op_names(outputs.values())


@pytest.fixture(scope='module', params=['tanh', 'relu'])
def rnn_layer_pair(request):
    """Fused and scan RNN layers: both outputs and the gradients of a cost
    on them."""
    rng = np.random.RandomState(9)
    data = [rng.randn(2, 4, 3).astype('f'), rng.randn(2, N).astype('f')]

    def graph(direction):
        return _rnn_graph(direction, activation=request.param)

    return _fused_and_scan_values(ops.RNN_ENV, graph, RNN_OUTPUTS, data)


@pytest.mark.parametrize('direction', ['forward', 'backward'])
def test_rnn_layer_fused_matches_scan(rnn_layer_pair, direction):
    # pre, out; gradients w.r.t. xh hh b, in, h0
    _assert_fused_matches_scan(rnn_layer_pair, direction, 7, 2e-5, 2e-6)


def test_rnn_layer_backward_direction_reverses(rnn_layer_pair):
    fw = rnn_layer_pair['fused', 'forward'][1]
    bw = rnn_layer_pair['fused', 'backward'][1]
    assert not np.allclose(fw, bw)


@pytest.mark.parametrize('worker, op', [
    ('rnn', 'RNNForward'), ('lstm', 'LSTMForward'), ('gru', 'GRUForward')])
def test_bidirectional_workers_use_fused_ops(monkeypatch, worker, op):
    for env in (ops.ENV, ops.GRU_ENV, ops.RNN_ENV):
        monkeypatch.delenv(env, raising=False)

    def names():
        layer = recurrent.Bidirectional(
            worker=worker, size=2 * N, inputs='in', name='bi',
            activation='tanh')
        inp = base.Input(size=3, ndim=3, name='in')
        graph = type('Graph', (), dict(layers=[inp, layer]))
        inp.bind(graph)
        layer.bind(graph)
        outputs, _ = layer.connect({inp.output_name: inp.input})
        return _op_names(outputs.values())

    assert op in names() and 'Scan' not in names()
    env = dict(rnn=ops.RNN_ENV, lstm=ops.ENV, gru=ops.GRU_ENV)[worker]
    monkeypatch.setenv(env, 'scan')
    assert op not in names() and 'Scan' in names()


def _weighted_rnn_regressor(env, monkeypatch, impl):
    """A weighted recurrent regressor (RNN and bidirectional RNN layers),
    built with the RNN Ops or with scan."""
    monkeypatch.setenv(env, impl)
    return theanets.recurrent.Regressor(
        [3, dict(form='rnn', size=N, activation='tanh'),
         dict(form='bidirectional', worker='rnn', size=2 * N,
              activation='relu'), 2], weighted=True, rng=21)


def test_rnn_network_fused_matches_scan_with_masks_and_pickles(
        monkeypatch, tmp_path):
    import pickle
    rng = np.random.RandomState(3)
    x = rng.randn(5, 6, 3).astype('f')
    y = rng.randn(5, 6, 2).astype('f')
    mask = np.ones((5, 6, 2), 'f')
    mask[1, 4:] = mask[3, 2:] = 0  # shorter sequences
    results = {}
    for impl in ('fused', 'scan'):
        net = _weighted_rnn_regressor(ops.RNN_ENV, monkeypatch, impl)
        names = _op_names([net.loss()])
        assert ('RNNForward' in names) == (impl == 'fused')
        loss = net.loss()
        fn = theano.function(net.variables,
                             [loss] + TT.grad(loss, net.params))
        results[impl] = fn(x, y, mask), net.predict(x)
        if impl == 'fused':
            fused_net = net
    fused, fused_pred = results['fused']
    scan, scan_pred = results['scan']
    assert len(fused) == 1 + 3 * 3 + 2  # loss; 3 RNNs, output layer
    for k, (a, b) in enumerate(zip(fused, scan)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6,
                                   err_msg=str(k))
    np.testing.assert_allclose(fused_pred, scan_pred, rtol=1e-5, atol=1e-6)
    # masked steps do not reach the gradient: changing their targets
    # changes nothing
    y2 = y.copy()
    y2[mask == 0] += 100
    again = fn(x, y2, mask)
    for a, b in zip(scan, again):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # a pickled model predicts the same, with either implementation
    path = tmp_path / 'rnn.pkl'
    with open(path, 'wb') as handle:
        pickle.dump(fused_net, handle)
    for impl in ('fused', 'scan'):
        monkeypatch.setenv(ops.RNN_ENV, impl)
        with open(path, 'rb') as handle:
            loaded = pickle.load(handle)
        np.testing.assert_allclose(loaded.predict(x), fused_pred,
                                   rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------
# the C++ kernel files: compile-cache versions and dependencies

def _fused_ops():
    return [ops.LSTMForward(), ops.LSTMGrad(), ops.GRUForward('tanh'),
            ops.GRUGrad('relu'), ops.RNNForward('tanh'),
            ops.RNNGrad('sigmoid')]


def _cache_versions():
    return [op.c_code_cache_version() for op in _fused_ops()]


def test_cache_version_is_stable_and_versioned():
    versions = _cache_versions()
    assert versions == _cache_versions()
    for version in versions:
        assert version and all(isinstance(v, int) for v in version)
    # the forward and gradient Ops compile the same text; LSTM, GRU and
    # RNN not
    assert versions[0] == versions[1]
    assert versions[2] == versions[3]
    assert versions[4] == versions[5]
    assert len({versions[0], versions[2], versions[4]}) == 3


VERSION_SCRIPT = '''
from theanets import ops
print([op.c_code_cache_version() for op in
       (ops.LSTMForward(), ops.GRUGrad('relu'))])
'''


def test_cache_version_is_the_same_in_every_process():
    # Theano keeps a compiled module between runs only if its version does
    # not depend on the process (e.g. on Python's randomised str hash).
    env = dict(os.environ, PYTHONHASHSEED='4321')
    proc = subprocess.run([sys.executable, '-c', VERSION_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    versions = _cache_versions()
    assert proc.stdout.strip().splitlines()[-1] == str(
        [versions[0], versions[3]])


@pytest.mark.parametrize('kernel, changed', [
    ('lstm.cpp', [True, True, False, False, False, False]),
    ('gru.cpp', [False, False, True, True, False, False]),
    ('rnn.cpp', [False, False, False, False, True, True]),
    ('common.cpp', [True] * 6),
])
def test_cache_version_follows_kernel_source(monkeypatch, kernel, changed):
    before = _cache_versions()
    original = ops_base.kernel_source
    edit = '\n/* edited */\n'

    def edited_source(name):
        return original(name) + (edit if name == kernel else '')

    monkeypatch.setattr(ops_base, 'kernel_source', edited_source)
    after = _cache_versions()
    assert [a != b for a, b in zip(after, before)] == changed
    for op, edited in zip(_fused_ops(), changed):
        assert any(edit in code for code in op.c_support_code()) == edited
    monkeypatch.undo()
    assert _cache_versions() == before


def test_cache_version_follows_call_snippet(monkeypatch):
    before = _cache_versions()
    monkeypatch.setattr(ops_base, 'C_CALL', ops_base.C_CALL + '\n')
    assert all(a != b for a, b in zip(_cache_versions(), before))


def test_kernel_files_are_read_once():
    ops_base.kernel_source.cache_clear()
    first = ops_base.kernel_source('gru.cpp')
    assert ops_base.kernel_source('gru.cpp') is first
    assert ops_base.kernel_source.cache_info().misses == 1
    assert 'gru_forward_run' in first and 'gru_backward_run' in first


def test_gru_activation_names_map_to_the_kinds_the_ops_implement():
    assert set(ops.GRU_ACTIVATIONS.values()) == set(ops_gru.KINDS)
    for name, kind in ops.GRU_ACTIVATIONS.items():
        assert ops.gru_activation(name) == kind
        assert ops.GRUForward(kind).activation == kind
    assert ops.gru_activation('softplus') is None
    assert ops.gru_activation('tanh+relu') is None


def _theanets_imports(path):
    """The theanets modules that the module at ``path`` imports."""
    package = 'theanets.ops'
    tree = ast.parse(open(path, encoding='utf-8').read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module
            if node.level:
                parent = package.rsplit('.', node.level - 1)[0]
                module = '.'.join(filter(None, [parent, node.module]))
            if node.module:
                names.add(module)
            else:  # from .. import util
                names.update(module + '.' + alias.name
                             for alias in node.names)
    return {name for name in names if name.startswith('theanets')}


def test_ops_depend_only_on_the_backend():
    directory = os.path.dirname(ops.__file__)
    allowed = {'theanets.util', 'theanets.backend'}
    for filename in ('__init__.py', '_base.py', '_lstm.py', '_gru.py',
                     '_rnn.py'):
        imported = _theanets_imports(os.path.join(directory, filename))
        outside = {name for name in imported
                   if not name.startswith('theanets.ops')}
        assert outside <= allowed, (filename, outside)
