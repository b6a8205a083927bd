"""Tests for the recurrent layers (theanets.layers.recurrent).

Forward values of every cell are checked against independent numpy
implementations of the equations in the layers spec (section 6), on tiny
inputs, in both directions and with symbolic initial states; one Theano
function (compiled in FAST_COMPILE mode) computes all of them. Gradients are
checked against central finite differences of the same numpy implementations
(marked slow; compiled in the default optimising mode).

Some tests and reference implementations read a layer's internal state:
its parsed ``_rate`` option, the ``_params`` it created (without its
activation's) and the ``Layer._count`` behind default names. These are
attributes that layer pickles carry (layers spec, section 2.14) and no
public accessor shows them; checking them is those tests' purpose. The
fixed tensors (masks, periods, rates) are read through ``fixed_values``.
"""

import logging
import pickle
from types import SimpleNamespace

import numpy as np
import pytest

import theanets  # noqa: F401  (configures Theano)
from theanets import util
from theanets.layers import base, convolution, recurrent  # noqa: F401
from theanets.backend import theano, TT

NI = 7
NH = 8

# Tiny geometry for numeric checks.
B, T, D, N = 2, 3, 3, 4


@pytest.fixture(autouse=True)
def _keep_global_rng():
    """Fixed rate vectors draw from numpy's global RNG; restore it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def bind_layers(*layers):
    graph = SimpleNamespace(layers=list(layers))
    for layer in layers:
        layer.bind(graph)
    return graph


def build_bound(form, **kwargs):
    """The spec's 9.2 fixture: input 'in' (size 7, ndim 3) and layer 'l'."""
    inp = base.Input(size=NI, ndim=3, name='in')
    layer = base.Layer.build(form, size=NH, name='l', inputs='in', **kwargs)
    bind_layers(inp, layer)
    return layer


# ---------------------------------------------------------------------------
# 9.2: class, parameter names, counts, outputs, to_spec

UNIT_CASES = [
    ('rnn', {}, 'xh hh b', 1 + NI + NH, 'out pre', {'h_0': None}),
    ('clockwork', dict(periods=(1, 2, 4, 8)), 'xh hh b', 1 + NI + NH,
     'out pre', {'h_0': None, 'periods': (1, 2, 4, 8)}),
    ('rrnn', dict(rate='uniform'), 'xh hh b', 1 + NI + NH,
     'out pre rate hid', {'h_0': None}),
    ('rrnn', dict(rate='log'), 'xh hh b', 1 + NI + NH,
     'out pre rate hid', {'h_0': None}),
    ('rrnn', dict(rate='vector'), 'xh hh b r', 2 + NI + NH,
     'out pre rate hid', {'h_0': None}),
    ('rrnn', dict(rate='matrix'), 'xh hh b r xr', 2 + NH + 2 * NI,
     'out pre rate hid', {'h_0': None}),
    ('gru', {}, 'b w hh hr hz', 3 * (1 + NI + NH), 'hid out pre rate',
     {'h_0': None}),
    ('mut1', {}, 'bh br bz hh hr xh xr xz', 3 + 3 * NI + 2 * NH,
     'hid out pre rate', {'h_0': None}),
    ('scrn', {}, 'w ho so hh sh b r', 2 * (1 + NI + 2 * NH),
     'out hid rate state', {'h_0': None, 's_0': None, 'context_size': 3}),
    ('lstm', {}, 'xh hh b cf ci co', 7 + 4 * NH + 4 * NI, 'out cell',
     {'h_0': None, 'c_0': None}),
    ('conv1', dict(filter_size=13), 'w b', 1 + 13 * NI, 'pre out', {}),
    ('bcrnn', dict(num_modules=2), 'xh hh b', 1 + NI + NH, 'out pre',
     {'h_0': None, 'num_modules': 2}),
]


@pytest.mark.parametrize('form, kwargs, params, count, outputs, extra',
                         UNIT_CASES)
def test_layer_unit(form, kwargs, params, count, outputs, extra):
    layer = build_bound(form, **kwargs)
    assert type(layer).__name__.lower() == form
    assert sorted(p.name for p in layer.params) == \
        sorted('l.' + p for p in params.split())
    assert sum(np.prod(p.get_value().shape) for p in layer.params) == \
        count * NH
    outs, updates = layer.connect({'in:out': TT.tensor3('x')})
    assert sorted(outs) == sorted('l:' + o for o in outputs.split())
    assert not updates
    spec = dict(form=form, name='l', size=NH, inputs='in', activation='relu')
    spec.update(extra)
    assert layer.to_spec() == spec


def test_mrnn_unit():
    layer = build_bound('mrnn', factors=3)
    assert type(layer).__name__.lower() == 'mrnn'
    assert sorted(p.name for p in layer.params) == \
        ['l.b', 'l.fh', 'l.hf', 'l.xf', 'l.xh']
    assert sum(p.get_value().size for p in layer.params) == \
        (7 + NI) * NH + 3 * NI == 133
    outs, updates = layer.connect({'in:out': TT.tensor3('x')})
    assert sorted(outs) == ['l:factors', 'l:out', 'l:pre']
    assert not updates
    assert layer.to_spec() == dict(form='mrnn', name='l', size=NH,
                                   inputs='in', activation='relu', h_0=None,
                                   factors=3)


def test_bidirectional_unit():
    layer = build_bound('bidirectional')
    assert type(layer).__name__.lower() == 'bidirectional'
    assert sorted(p.name for p in layer.params) == sorted(
        'l_bw.b l_bw.hh l_bw.xh l_fw.b l_fw.xh l_fw.hh'.split())
    assert sum(p.get_value().size for p in layer.params) == \
        (1 + NI + NH // 2) * NH == 96
    outs, updates = layer.connect({'in:out': TT.tensor3('x')})
    assert sorted(outs) == [
        'l:bw_out', 'l:bw_pre', 'l:fw_out', 'l:fw_pre', 'l:out', 'l:pre']
    assert not updates
    assert layer.to_spec() == dict(form='bidirectional', name='l', size=NH,
                                   inputs='in', activation='relu',
                                   worker='rnn')


def test_registry_and_exports():
    for key, name in [('recurrent', 'Recurrent'), ('rnn', 'RNN'),
                      ('bcrnn', 'BCRNN'), ('rrnn', 'RRNN'), ('mrnn', 'MRNN'),
                      ('lstm', 'LSTM'), ('gru', 'GRU'),
                      ('clockwork', 'Clockwork'), ('mut1', 'MUT1'),
                      ('scrn', 'SCRN'), ('bidirectional', 'Bidirectional'),
                      ('LSTM', 'LSTM')]:
        assert base.Layer.get_class(key) is getattr(recurrent, name)
    assert set(recurrent.__all__) == {
        'Recurrent', 'RNN', 'BCRNN', 'RRNN', 'MRNN', 'LSTM', 'GRU',
        'Clockwork', 'MUT1', 'SCRN', 'Bidirectional'}


# ---------------------------------------------------------------------------
# Parameter initialisation (draw order, block rule, radius, diagonal)

def _value(layer, name):
    return layer.find(name).get_value()


def test_rnn_draw_order_seed_13():
    layer = build_bound('rnn', rng=13)
    rng = np.random.RandomState(13)
    xh = (rng.randn(NI, NH) / np.sqrt(NI + NH)).astype('f')
    hh = (rng.randn(NH, NH) / np.sqrt(2 * NH)).astype('f')
    b = rng.randn(NH).astype('f')
    np.testing.assert_array_equal(_value(layer, 'xh'), xh)
    np.testing.assert_array_equal(_value(layer, 'hh'), hh)
    np.testing.assert_array_equal(_value(layer, 'b'), b)
    assert [p.name for p in layer.params] == ['l.xh', 'l.hh', 'l.b']
    assert all(p.dtype == util.FLOAT for p in layer.params)


def _bound_small(form, d, n, **kwargs):
    inp = base.Input(size=d, ndim=3, name='in')
    layer = base.Layer.build(form, size=n, name='l', inputs='in', **kwargs)
    bind_layers(inp, layer)
    return layer


def test_lstm_block_rule_seed_11():
    layer = _bound_small('lstm', 3, 3, rng=11)
    rng = np.random.RandomState(11)
    std = 1 / np.sqrt(3 + 12)
    xh = np.hstack([rng.randn(3, 3) * std for _ in range(4)]).astype('f')
    hh = np.hstack([rng.randn(3, 3) * std for _ in range(4)]).astype('f')
    b = (2 + rng.randn(12)).astype('f')
    ci, cf, co = [rng.randn(3).astype('f') for _ in range(3)]
    for name, value in [('xh', xh), ('hh', hh), ('b', b), ('ci', ci),
                        ('cf', cf), ('co', co)]:
        np.testing.assert_array_equal(_value(layer, name), value)
    # Four n x n blocks are not the same stream as one randn(n, 4n).
    whole = (np.random.RandomState(11).randn(3, 12) * std).astype('f')
    assert not np.allclose(_value(layer, 'xh'), whole)


def test_lstm_not_square_input_draws_one_matrix():
    layer = _bound_small('lstm', 2, 3, rng=11)
    rng = np.random.RandomState(11)
    xh = (rng.randn(2, 12) / np.sqrt(14)).astype('f')
    np.testing.assert_array_equal(_value(layer, 'xh'), xh)


def test_radius_rescales_each_block():
    layer = _bound_small('lstm', 3, 3, rng=11, radius=1.5)
    for name in ('xh', 'hh'):
        value = _value(layer, name)
        for k in range(4):
            s = np.linalg.svd(value[:, 3 * k:3 * k + 3], compute_uv=False)
            assert s[0] == pytest.approx(1.5, rel=1e-5)
    # Per-parameter radius applies to that parameter only.
    layer = _bound_small('rnn', 2, 3, rng=11, radius_hh=0.5)
    s = np.linalg.svd(_value(layer, 'hh'), compute_uv=False)
    assert s[0] == pytest.approx(0.5, rel=1e-5)
    # Radius is ignored for non-square-block matrices.
    xh = (np.random.RandomState(11).randn(2, 3) / np.sqrt(5)).astype('f')
    np.testing.assert_array_equal(_value(layer, 'xh'), xh)


def test_diagonal_applies_to_square_blocks_only():
    layer = _bound_small('rnn', 3, 3, rng=11, diagonal=0.5)
    np.testing.assert_array_equal(_value(layer, 'xh'), 0.5 * np.eye(3))
    np.testing.assert_array_equal(_value(layer, 'hh'), 0.5 * np.eye(3))
    rng = np.random.RandomState(11)
    rng.randn(3, 3)
    rng.randn(3, 3)  # the diagonal still consumes the draws
    np.testing.assert_array_equal(_value(layer, 'b'), rng.randn(3).astype('f'))

    layer = _bound_small('rnn', 2, 3, rng=11, diagonal=0.5)
    np.testing.assert_array_equal(_value(layer, 'hh'), 0.5 * np.eye(3))
    assert not np.allclose(_value(layer, 'xh'), 0.5 * np.eye(2, 3))


def test_weight_settings_lookup():
    layer = _bound_small('rnn', 2, 3, rng=1, std=0, mean=0.25, std_b=0,
                         mean_hh=-1)
    np.testing.assert_array_equal(_value(layer, 'xh'), np.full((2, 3), 0.25))
    np.testing.assert_array_equal(_value(layer, 'hh'), -np.ones((3, 3)))
    # Biases ignore the global mean; std_b=0 makes them constant.
    np.testing.assert_array_equal(_value(layer, 'b'), np.zeros(3))


def test_mrnn_default_factors():
    assert recurrent.MRNN(size=10, inputs='in').factors == 4
    assert recurrent.MRNN(size=9, inputs='in').factors == 3
    with pytest.raises(KeyError):
        recurrent.MRNN(inputs='in')


def test_bcrnn_mask_rates_and_size_check():
    layer = _bound_small('bcrnn', 2, 4, num_modules=2)
    mask, rates = layer.fixed_values['mask'], layer.fixed_values['rate']
    np.testing.assert_array_equal(mask.get_value(), [
        [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]])
    np.testing.assert_allclose(rates.get_value(),
                               [2.30232e-04] * 2 + [9.99999e-01] * 2,
                               rtol=1e-5)
    assert mask.name == 'mask' and rates.name == 'rates'
    assert layer.params == layer._params  # mask and rates are not params
    with pytest.raises(util.ConfigurationError,
                       match='size 5 is not a multiple of num_modules 2'):
        _bound_small('bcrnn', 2, 5, num_modules=2)


def test_clockwork_mask_period_log_and_size_check(caplog):
    with caplog.at_level(logging.DEBUG, logger='theanets'):
        layer = _bound_small('clockwork', 2, 6, periods=(4, 1, 2),
                             activation='tanh')
    assert 'layer Clockwork "l" (None, 6) tanh [T 1 2 4] from "in:out" ' \
        '(None, 2)' in caplog.text
    np.testing.assert_array_equal(layer.periods, [1, 2, 4])
    np.testing.assert_array_equal(layer.fixed_values['period'].get_value(),
                                  [1, 1, 2, 2, 4, 4])
    mask = np.zeros((6, 6))
    for i in range(3):
        mask[2 * i:, 2 * i:2 * i + 2] = 1
    np.testing.assert_array_equal(layer.fixed_values['mask'].get_value(),
                                  mask)
    assert layer.to_spec()['periods'] == (1, 2, 4)
    with pytest.raises(util.ConfigurationError,
                       match=r'size 7 is not a multiple of periods \[1 2 4\]'):
        _bound_small('clockwork', 2, 7, periods=(4, 1, 2))


def test_fixed_rates_use_global_rng():
    np.random.seed(5)
    layer = _bound_small('rrnn', 2, 4, rate='uniform')
    np.random.seed(5)
    expected = np.random.uniform(1e-4, 1 - 1e-4, size=4).astype('f')
    rates = layer.fixed_values['rate']
    np.testing.assert_array_equal(rates.get_value(), expected)
    assert rates.name == 'l.rate'
    assert rates not in layer.params

    np.random.seed(5)
    layer = _bound_small('rrnn', 2, 4, rate=' LOG ')
    np.random.seed(5)
    expected = np.exp(np.random.uniform(-6, -1e-4, size=4)).astype('f')
    np.testing.assert_array_equal(layer.fixed_values['rate'].get_value(),
                                  expected)

    # SCRN: fixed rates have the layer size (not context_size).
    layer = _bound_small('scrn', 2, 4, rate='uniform')
    assert layer.fixed_values['rate'].get_value().shape == (4, )
    assert layer.context_size == 3


def test_rate_options():
    assert recurrent.RRNN(size=3, inputs='in')._rate == 'matrix'
    assert recurrent.RRNN(rate=None, size=3, inputs='in')._rate == 'matrix'
    assert recurrent.RRNN(rate=' Vector', size=3, inputs='in')._rate == \
        'vector'
    with pytest.raises(util.ConfigurationError, match='rate'):
        recurrent.RRNN(rate='bogus', size=3, inputs='in')
    assert recurrent.SCRN(rate=None, size=3, inputs='in')._rate == 'vector'
    with pytest.raises(util.ConfigurationError, match='rate'):
        recurrent.SCRN(rate='matrix', size=3, inputs='in')


def test_scrn_context_size():
    layer = recurrent.SCRN(size=8, inputs='in', name='l')
    assert layer.to_spec()['context_size'] is None
    bind_layers(base.Input(size=2, ndim=3, name='in'), layer)
    assert layer.to_spec()['context_size'] == 3
    assert _bound_small('scrn', 2, 8, context_size=0.5).context_size == 4
    assert _bound_small('scrn', 2, 8, context_size=2).context_size == 2


def test_initial_state_resolution():
    h0 = base.Input(size=4, name='h0')
    inp = base.Input(size=2, ndim=3, name='in')
    layer = recurrent.RNN(size=4, inputs='in', name='l', h_0='h0')
    bind_layers(h0, inp, layer)
    assert layer.h_0 == 'h0:out'
    assert layer.input_name == 'in:out'
    assert layer.to_spec()['h_0'] == 'h0:out'

    lstm = recurrent.LSTM(size=4, inputs='in', name='m', h_0='h0',
                          c_0='h0:out')
    bind_layers(h0, inp, lstm)
    assert (lstm.h_0, lstm.c_0) == ('h0:out', 'h0:out')
    assert lstm.to_spec()['c_0'] == 'h0:out'

    scrn = recurrent.SCRN(size=4, inputs='in', name='s', s_0='h0')
    bind_layers(h0, inp, scrn)
    assert scrn.s_0 == 'h0:out' and scrn.to_spec()['s_0'] == 'h0:out'

    bad = recurrent.RNN(size=4, inputs='in', name='l', h_0='nope')
    with pytest.raises(util.ConfigurationError, match='nope'):
        bind_layers(inp, bad)


def test_direction_and_zero_state_names(monkeypatch):
    assert not recurrent.RNN(size=2, direction=None).backwards
    assert not recurrent.RNN(size=2).backwards
    assert not recurrent.RNN(size=2, direction='forward').backwards
    assert recurrent.RNN(size=2, direction='Backward').backwards

    def shared_names():
        layer = _bound_small('rnn', 2, 3, direction=None)
        outs, _ = layer.connect({'in:out': TT.tensor3('x')})
        assert outs['l:out'].owner is not None
        return [v.name for v in theano.gof.graph.inputs([outs['l:out']])
                if isinstance(v, theano.compile.SharedVariable)]

    # The scan loop's zero states are shared variables named by their
    # position among the loop's outputs; the fused RNN Op (the default,
    # see theanets.ops) gets plain zeros instead.
    monkeypatch.setenv('THEANETS_RNN', 'scan')
    names = shared_names()
    assert 'l.init0' in names and 'l.init1' in names
    monkeypatch.delenv('THEANETS_RNN')
    assert sorted(shared_names()) == ['l.b', 'l.hh', 'l.xh']


def test_bidirectional_construction():
    start = base.Layer._count
    layer = recurrent.Bidirectional(size=7, inputs='in', worker='lstm',
                                    rng=4, direction='forward')
    assert layer.name == 'layer{}'.format(start)
    assert base.Layer._count == start + 3
    assert (layer.forward.name, layer.backward.name) == \
        (layer.name + '_fw', layer.name + '_bw')
    assert layer.forward.kwargs['direction'] == 'forward'
    assert layer.backward.kwargs['direction'] == 'backward'
    assert layer.forward.kwargs['size'] == 3
    assert 'direction' not in layer.kwargs
    bind_layers(base.Input(size=2, ndim=3, name='in'), layer)
    # The declared size overstates an odd size (real width 2 * 3).
    assert layer.output_shape == (None, 7)
    assert [p.name for p in layer.params][:6] == [
        layer.name + '_fw.' + n for n in ('xh', 'hh', 'b', 'ci', 'cf', 'co')]
    # Both workers seeded with the same int start identical.
    for p, q in zip(layer.forward.params, layer.backward.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    with pytest.raises(KeyError):
        layer.find('xh')
    outs, _ = layer.connect({'in:out': TT.tensor3('x')})
    assert sorted(outs) == sorted(layer.full_name(k) for k in [
        'bw_cell', 'bw_out', 'cell', 'fw_cell', 'fw_out', 'out'])
    with pytest.raises(util.ConfigurationError, match='size'):
        recurrent.Bidirectional(inputs='in')
    assert recurrent.Bidirectional(shape=(None, 6), size=2).forward.kwargs[
        'size'] == 3


def test_bind_again_without_initialize_keeps_params():
    inp = base.Input(size=2, ndim=3, name='in')
    layer = recurrent.GRU(size=3, inputs='in', name='l')
    graph = bind_layers(inp, layer)
    params = list(layer.params)
    layer.bind(graph, initialize=False)
    assert layer.params == params
    layer.bind(graph)
    assert [p.name for p in layer.params] == [p.name for p in params]


def test_pickle_roundtrip():
    layer = _bound_small('lstm', 2, 3, rng=4, activation='tanh')
    copy = pickle.loads(pickle.dumps(layer))
    assert copy.name == layer.name and copy.to_spec() == layer.to_spec()
    for p, q in zip(layer.params, copy.params):
        assert p.name == q.name
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    outs, _ = copy.connect({'in:out': TT.tensor3('x')})
    assert sorted(outs) == ['l:cell', 'l:out']


# ---------------------------------------------------------------------------
# Independent numpy implementations of the spec's equations (float64)

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACTIVATIONS = {
    'tanh': np.tanh,
    'relu': lambda z: np.maximum(z, 0),
    'linear': lambda z: z,
}


def _g(layer):
    return ACTIVATIONS[layer.kwargs.get('activation', 'relu')]


def _params64(layer):
    return {p.name.split('.', 1)[1]: p.get_value().astype('f8')
            for p in layer._params}


def _loop(layer, step, state, steps):
    """Apply ``step`` in the layer's direction; stack in processing order."""
    backwards = 'back' in (layer.kwargs.get('direction') or '').lower()
    order = range(steps - 1, -1, -1) if backwards else range(steps)
    rows = []
    for t in order:
        state, out = step(t, state)
        rows.append(out)
    return {k: np.stack([row[k] for row in rows], axis=1) for k in rows[0]}


def _zeros_or(value, batch, width):
    return np.zeros((batch, width)) if value is None else value


def _modules(n, m):
    k = n // m
    mask = np.zeros((n, n))
    for i in range(m):
        for j in range(i, m):
            mask[j * k:(j + 1) * k, i * k:(i + 1) * k] = 1
    return mask, k


def ref_rnn(layer, P, x, h0=None, **_):
    g = _g(layer)
    a = x @ P['xh'] + P['b']
    h0 = _zeros_or(h0, len(x), P['b'].size)

    def step(t, h):
        pre = a[:, t] + h @ P['hh']
        h = g(pre)
        return h, dict(pre=pre, out=h)
    return _loop(layer, step, h0, x.shape[1])


def ref_bcrnn(layer, P, x, h0=None, **_):
    g = _g(layer)
    n, m = P['b'].size, layer.num_modules
    mask, k = _modules(n, m)
    rates = np.repeat(1 - 10 ** np.linspace(-1e-4, -6, m), k)
    a = x @ P['xh'] + P['b']
    h0 = _zeros_or(h0, len(x), n)

    def step(t, state):
        pre, h = state
        p = a[:, t] + h @ (P['hh'] * mask)
        pre = rates * pre + (1 - rates) * p
        h = g(pre)
        return (pre, h), dict(pre=pre, out=h)
    return _loop(layer, step, (h0, h0), x.shape[1])


def ref_clockwork(layer, P, x, h0=None, **_):
    g = _g(layer)
    n = P['b'].size
    periods = sorted(layer.kwargs.get('periods') or layer.periods)
    mask, k = _modules(n, len(periods))
    period = np.repeat(periods, k)
    a = x @ P['xh'] + P['b']
    h0 = _zeros_or(h0, len(x), n)

    def step(t, state):
        pre, h = state
        p = a[:, t] + h @ (P['hh'] * mask)
        pre = np.where(t % period == 0, p, pre)
        h = g(pre)
        return (pre, h), dict(pre=pre, out=h)
    return _loop(layer, step, (h0, h0), x.shape[1])


def ref_rrnn(layer, P, x, h0=None, **_):
    g = _g(layer)
    rate = layer._rate
    a = x @ P['xh'] + P['b']
    if rate == 'matrix':
        z = sigmoid(x @ P['xr'] + P['r'])
    elif rate == 'vector':
        z = sigmoid(P['r'])
    else:
        z = layer.fixed_values['rate'].get_value().astype('f8')
    h0 = _zeros_or(h0, len(x), P['b'].size)

    def step(t, h):
        zt = z[:, t] if rate == 'matrix' else z
        pre = a[:, t] + h @ P['hh']
        hid = g(pre)
        h = (1 - zt) * h + zt * hid
        return h, dict(pre=pre, hid=hid, out=h)
    out = _loop(layer, step, h0, x.shape[1])
    out['rate'] = z.transpose(1, 0, 2) if rate == 'matrix' else z
    return out


def ref_mrnn(layer, P, x, h0=None, **_):
    g = _g(layer)
    a = x @ P['xh'] + P['b']
    f = x @ P['xf']
    h0 = _zeros_or(h0, len(x), P['b'].size)

    def step(t, h):
        pre = a[:, t] + (f[:, t] * (h @ P['hf'])) @ P['fh']
        h = g(pre)
        return h, dict(pre=pre, out=h)
    out = _loop(layer, step, h0, x.shape[1])
    out['factors'] = f.transpose(1, 0, 2)
    return out


def ref_lstm(layer, P, x, h0=None, c0=None, **_):
    n = P['ci'].size
    a = x @ P['xh'] + P['b']

    def step(t, state):
        h, c = state
        z = a[:, t] + h @ P['hh']
        i = sigmoid(z[:, :n] + c * P['ci'])
        f = sigmoid(z[:, n:2 * n] + c * P['cf'])
        c = f * c + i * np.tanh(z[:, 2 * n:3 * n])
        o = sigmoid(z[:, 3 * n:] + c * P['co'])
        h = o * np.tanh(c)
        return (h, c), dict(out=h, cell=c)
    state = (_zeros_or(h0, len(x), n), _zeros_or(c0, len(x), n))
    return _loop(layer, step, state, x.shape[1])


def ref_gru(layer, P, x, h0=None, **_):
    g = _g(layer)
    n = P['hh'].shape[0]
    a = x @ P['w'] + P['b']

    def step(t, h):
        r = sigmoid(a[:, t, n:2 * n] + h @ P['hr'])
        z = sigmoid(a[:, t, 2 * n:] + h @ P['hz'])
        pre = a[:, t, :n] + (r * h) @ P['hh']
        hid = g(pre)
        h = (1 - z) * h + z * hid
        return h, dict(pre=pre, hid=hid, rate=z, out=h)
    return _loop(layer, step, _zeros_or(h0, len(x), n), x.shape[1])


def ref_mut1(layer, P, x, h0=None, **_):
    z = sigmoid(x @ P['xz'] + P['bz'])
    u = np.tanh(x @ P['xh'] + P['bh'])
    v = x @ P['xr'] + P['br']

    def step(t, h):
        r = sigmoid(v[:, t] + h @ P['hr'])
        pre = u[:, t] + (r * h) @ P['hh']
        hid = np.tanh(pre)
        h = (1 - z[:, t]) * h + z[:, t] * hid
        return h, dict(pre=pre, hid=hid, out=h)
    out = _loop(layer, step, _zeros_or(h0, len(x), P['bh'].size), x.shape[1])
    # z is computed before the loop: it stays in time order even backwards.
    out['rate'] = z
    return out


def ref_scrn(layer, P, x, h0=None, s0=None, **_):
    g = _g(layer)
    n = P['b'].size
    rho = (sigmoid(P['r']) if layer._rate == 'vector'
           else layer.fixed_values['rate'].get_value().astype('f8'))
    a = x @ P['w']

    def step(t, state):
        h, s = state
        s = (1 - rho) * s + rho * a[:, t, n:]
        h = g(a[:, t, :n] + h @ P['hh'] + s @ P['sh'])
        return (h, s), dict(hid=h, state=s)
    state = (_zeros_or(h0, len(x), n), _zeros_or(s0, len(x), n))
    out = _loop(layer, step, state, x.shape[1])
    out['out'] = out['hid'] @ P['ho'] + out['state'] @ P['so'] + P['b']
    out['rate'] = rho
    return out


REFERENCES = {
    'rnn': ref_rnn, 'bcrnn': ref_bcrnn, 'clockwork': ref_clockwork,
    'rrnn': ref_rrnn, 'mrnn': ref_mrnn, 'lstm': ref_lstm, 'gru': ref_gru,
    'mut1': ref_mut1, 'scrn': ref_scrn,
}


def reference(layer, params=None, **data):
    """Numpy outputs of ``layer`` (a dict by short output name)."""
    if isinstance(layer, recurrent.Bidirectional):
        fw = reference(layer.forward, params, **data)
        bw = reference(layer.backward, params, **data)
        out = {}
        for key in ('out', 'pre', 'cell'):
            if key in fw:
                out[key] = np.concatenate([fw[key], bw[key]], axis=2)
        out.update(('fw_' + k, v) for k, v in fw.items())
        out.update(('bw_' + k, v) for k, v in bw.items())
        return out
    P = _params64(layer)
    if params is not None:
        P.update(params.get(layer.name, {}))
    form = type(layer).__name__.lower()
    states = {}
    if layer.h_0:
        states['h0'] = data['h0']
    for attr, key in (('c_0', 'c0'), ('s_0', 's0')):
        if getattr(layer, attr, None):
            states[key] = data[key]
    return REFERENCES[form](layer, P, data['x'], **states)


# Cells checked in both directions: (id, form, kwargs).
CELLS = [
    ('rnn', 'rnn', {}),
    ('bcrnn', 'bcrnn', dict(num_modules=2)),
    ('clockwork', 'clockwork', dict(periods=(2, 1))),
    ('rrnn_matrix', 'rrnn', dict(rate='matrix')),
    ('rrnn_vector', 'rrnn', dict(rate='vector')),
    ('rrnn_uniform', 'rrnn', dict(rate='uniform')),
    ('rrnn_log', 'rrnn', dict(rate='log')),
    ('mrnn', 'mrnn', dict(factors=2)),
    ('lstm', 'lstm', {}),
    ('gru', 'gru', {}),
    ('mut1', 'mut1', {}),
    ('scrn', 'scrn', {}),
    ('scrn_uniform', 'scrn', dict(rate='uniform')),
]

FORWARD_CASES = (
    [(name + '_fw', form, dict(kw, direction='forward'))
     for name, form, kw in CELLS] +
    [(name + '_bw', form, dict(kw, direction='backward'))
     for name, form, kw in CELLS] +
    [
        # default activation (relu)
        ('rnn_relu', 'rnn', dict(activation='relu')),
        # symbolic initial states
        ('rnn_h0', 'rnn', dict(h_0='h0')),
        ('rnn_h0_bw', 'rnn', dict(h_0='h0', direction='back')),
        ('clockwork_h0', 'clockwork', dict(periods=(1, 2), h_0='h0')),
        ('bcrnn_h0', 'bcrnn', dict(num_modules=2, h_0='h0')),
        ('rrnn_h0', 'rrnn', dict(h_0='h0')),
        ('mrnn_h0', 'mrnn', dict(h_0='h0')),
        ('lstm_h0_c0', 'lstm', dict(h_0='h0', c_0='c0')),
        ('gru_h0', 'gru', dict(h_0='h0')),
        ('mut1_h0', 'mut1', dict(h_0='h0')),
        ('scrn_h0_s0', 'scrn', dict(h_0='h0', s_0='s0')),
        ('bidi_rnn', 'bidirectional', dict(worker='rnn')),
        ('bidi_lstm', 'bidirectional', dict(worker='lstm')),
    ])


def _make_layer(name, form, kwargs, seed):
    kwargs = dict(kwargs)
    kwargs.setdefault('activation', 'tanh')
    size = 2 * N if form == 'bidirectional' else N
    return base.Layer.build(form, size=size, name=name, inputs='in',
                            rng=seed, **kwargs)


def _data():
    rng = np.random.RandomState(21)
    return dict(x=rng.randn(B, T, D).astype('f'),
                h0=rng.randn(B, N).astype('f'),
                c0=rng.randn(B, N).astype('f'),
                s0=rng.randn(B, N).astype('f'))


def _network(cases, global_seed=99):
    """Bind the case layers after inputs 'in', 'h0', 'c0', 's0'."""
    state = np.random.get_state()
    np.random.seed(global_seed)  # fixed rate vectors use the global RNG
    try:
        inputs = [base.Input(size=D, ndim=3, name='in')] + [
            base.Input(size=N, name=name) for name in ('h0', 'c0', 's0')]
        layers = [_make_layer(name, form, kw, seed)
                  for seed, (name, form, kw) in enumerate(cases, 100)]
        bind_layers(*(inputs + layers))
    finally:
        np.random.set_state(state)
    variables = [layer.input for layer in inputs]
    exprs = {layer.output_name: layer.input for layer in inputs}
    outputs = {}
    for layer in layers:
        outs, updates = layer.connect(exprs)
        assert not updates
        outputs.update(outs)
    return layers, variables, outputs


@pytest.fixture(scope='module')
def forward():
    layers, variables, outputs = _network(FORWARD_CASES)
    names = sorted(outputs)
    # FAST_COMPILE keeps this unmarked test quick; the gradient tests below
    # compile with the default (optimising) mode.
    fn = theano.function(variables, [outputs[name] for name in names],
                         on_unused_input='ignore', mode='FAST_COMPILE')
    data = _data()
    values = dict(zip(names, fn(data['x'], data['h0'], data['c0'],
                                data['s0'])))
    return {layer.name: layer for layer in layers}, values, data


@pytest.mark.parametrize('case', [c[0] for c in FORWARD_CASES])
def test_forward_values_match_numpy(forward, case):
    layers, values, data = forward
    layer = layers[case]
    expected = reference(layer, **{k: v.astype('f8') for k, v in data.items()})
    produced = {name.split(':', 1)[1]: value for name, value in values.items()
                if name.split(':', 1)[0] == case}
    assert sorted(produced) == sorted(expected)
    for key, value in expected.items():
        assert produced[key].shape == value.shape, key
        assert produced[key].dtype == util.FLOAT
        np.testing.assert_allclose(produced[key], value, rtol=1e-4,
                                   atol=1e-5, err_msg=key)


def test_backward_outputs_are_in_processing_order(forward):
    layers, values, data = forward
    layer = layers['rnn_bw']
    P = _params64(layer)
    x = data['x'].astype('f8')
    first = np.tanh(x[:, T - 1] @ P['xh'] + P['b'])
    np.testing.assert_allclose(values['rnn_bw:out'][:, 0], first, rtol=1e-5)
    # Bidirectional concatenates without flipping the backward half back.
    bidi = values['bidi_rnn:out']
    np.testing.assert_array_equal(bidi[:, :, :N], values['bidi_rnn:fw_out'])
    np.testing.assert_array_equal(bidi[:, :, N:], values['bidi_rnn:bw_out'])


def test_clockwork_holds_slow_modules(forward):
    _, values, _ = forward
    pre = values['clockwork_fw:pre']  # periods (1, 2); N = 4
    np.testing.assert_array_equal(pre[:, 1, 2:], pre[:, 0, 2:])
    assert not np.allclose(pre[:, 1, :2], pre[:, 0, :2])
    assert not np.allclose(pre[:, 2, 2:], pre[:, 1, 2:])
    # Backwards, t runs 2, 1, 0: the slow module holds at t = 1.
    pre = values['clockwork_bw:pre']
    np.testing.assert_array_equal(pre[:, 1, 2:], pre[:, 0, 2:])


def test_initial_state_is_used(forward):
    layers, values, data = forward
    out = values['rnn_h0:out']
    assert not np.allclose(out, values['rnn_fw:out'])
    cell = values['lstm_h0_c0:cell']
    P = _params64(layers['lstm_h0_c0'])
    n = N
    z = data['x'][:, 0] @ P['xh'] + P['b'] + data['h0'] @ P['hh']
    c0 = data['c0'].astype('f8')
    i = sigmoid(z[:, :n] + c0 * P['ci'])
    f = sigmoid(z[:, n:2 * n] + c0 * P['cf'])
    np.testing.assert_allclose(cell[:, 0], f * c0 + i * np.tanh(
        z[:, 2 * n:3 * n]), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------
# Gradients: Theano's symbolic gradients vs central finite differences of
# the numpy implementations (float64).

GRAD_CASES = [(name + '_fw', form, dict(kw, direction='forward'))
              for name, form, kw in CELLS] + [
    ('rnn_bw', 'rnn', dict(direction='backward')),
    ('lstm_bw', 'lstm', dict(direction='backward')),
    ('scrn_h0_s0', 'scrn', dict(h_0='h0', s_0='s0')),
    ('bidi_gru', 'bidirectional', dict(worker='gru')),
]


@pytest.fixture(scope='module')
def gradients():
    layers, variables, outputs = _network(GRAD_CASES)
    weights = np.random.RandomState(8)
    costs, targets = [], {}
    for layer in layers:
        expr = outputs[layer.output_name]
        width = 2 * N if isinstance(layer, recurrent.Bidirectional) else N
        target = weights.randn(B, T, width)
        targets[layer.name] = target
        costs.append((expr * target.astype('f')).sum())
    params = [p for layer in layers for p in layer.params]
    grads = theano.grad(sum(costs), params + variables[:1])
    fn = theano.function(variables, grads, on_unused_input='ignore')
    data = _data()
    values = fn(data['x'], data['h0'], data['c0'], data['s0'])
    by_name = {p.name: g for p, g in zip(params, values)}
    return ({layer.name: layer for layer in layers}, by_name, values[-1],
            targets, data)


def _numpy_cost(layer, target, data, params=None):
    out = reference(layer, params, **data)['out']
    return (out * target).sum()


@pytest.mark.slow
@pytest.mark.parametrize('case', [c[0] for c in GRAD_CASES])
def test_gradients_match_finite_differences(gradients, case):
    layers, grads, xgrad, targets, data = gradients
    layer = layers[case]
    data = {k: v.astype('f8') for k, v in data.items()}
    target = targets[case]
    rng = np.random.RandomState(5)
    eps = 1e-5
    for param in layer.params:
        owner, short = param.name.split('.', 1)
        value = param.get_value().astype('f8')
        direction = rng.randn(*value.shape)
        plus = {owner: {short: value + eps * direction}}
        minus = {owner: {short: value - eps * direction}}
        numeric = (_numpy_cost(layer, target, data, plus) -
                   _numpy_cost(layer, target, data, minus)) / (2 * eps)
        analytic = (grads[param.name] * direction).sum()
        assert analytic == pytest.approx(numeric, rel=1e-3, abs=1e-4), \
            param.name


@pytest.mark.slow
def test_input_gradient_matches_finite_differences(gradients):
    layers, _, xgrad, targets, data = gradients
    data = {k: v.astype('f8') for k, v in data.items()}
    direction = np.random.RandomState(6).randn(*data['x'].shape)
    eps = 1e-5

    def total(x):
        return sum(_numpy_cost(layer, targets[name], dict(data, x=x))
                   for name, layer in layers.items())
    numeric = (total(data['x'] + eps * direction) -
               total(data['x'] - eps * direction)) / (2 * eps)
    assert (xgrad * direction).sum() == pytest.approx(numeric, rel=1e-3,
                                                      abs=1e-4)


@pytest.mark.slow
def test_bptt_limit_truncates_gradient():
    inp = base.Input(size=D, ndim=3, name='in')
    full = recurrent.RNN(size=N, inputs='in', name='full', rng=3,
                         activation='tanh')
    short = recurrent.RNN(size=N, inputs='in', name='short', rng=3,
                          activation='tanh', bptt_limit=1)
    bind_layers(inp, full, short)
    x = inp.input
    grads = []
    for layer in (full, short):
        outs, _ = layer.connect({'in:out': x})
        grads.append(theano.grad(outs[layer.output_name][:, -1].sum(), x))
    fn = theano.function([x], grads)
    gfull, gshort = fn(_data()['x'])
    assert np.all(np.abs(gfull[:, :-1]).sum(axis=-1) > 0)
    np.testing.assert_array_equal(gshort[:, :-1], 0)
    np.testing.assert_allclose(gshort[:, -1], gfull[:, -1], rtol=1e-5)
