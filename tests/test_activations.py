"""Tests for theanets.activations.

Symbolic expressions are evaluated through one compiled Theano function (the
module-scoped ``evaluated`` fixture) to keep the suite fast.
"""

import io
import pickle
import pickletools

import numpy as np
import pytest

import theanets  # noqa: F401  (configures Theano)
from theanets import activations, util
from theanets.activations import Activation, build
from theanets.graph import Network
from theanets.layers import Feedforward
from theanets.backend import theano, TT

FLOAT = util.FLOAT

# Probe of the original tests (spec 3.6) and the rows of spec 3.2.
P = np.array([-10, -1, -0.1, 0, 0.1, 1, 10], FLOAT)
M = np.array([[-2, 0, 1, 3], [0.5, 0.5, 0.5, 0.5]], FLOAT)
T3 = np.random.RandomState(3).randn(2, 3, 4).astype(FLOAT)

COMMON_KEYS = ['linear', 'logistic', 'sigmoid', 'tanh', 'softplus', 'softmax',
               'relu', 'rect:max', 'rect:min', 'rect:minmax', 'norm:mean',
               'norm:max', 'norm:std', 'norm:z']
PARAM_KEYS = ['elu', 'prelu', 'lgrelu', 'maxout:3']
#: Module-level functions that pickles of theanets 0.8 refer to by name.
LEGACY_FUNCTIONS = ['_identity', '_relu', '_softmax', '_trel', '_rect',
                    '_norm_mean', '_norm_max', '_norm_std', '_norm_z']


class FakeLayer:
    """The three attributes an activation reads from its layer."""

    def __init__(self, name='l', size=7, seed=13):
        self.name = name
        self.output_size = size
        self.rng = np.random.RandomState(seed)


def probe_layer():
    """A layer whose RNG has made the draws of a bound Feedforward(3 -> 7)."""
    layer = FakeLayer('l', 7, 13)
    layer.rng.randn(3, 7)  # weights
    layer.rng.randn(7)     # bias
    return layer


class ThresholdedLinear(Activation):
    """User-defined activation (registered by class creation)."""

    def __call__(self, x):
        return x * (x > 1)


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _softplus(x):
    return np.log1p(np.exp(x))


def _zscore(x):
    return (x - x.mean(axis=-1, keepdims=True)) / x.std(axis=-1, keepdims=True)


@pytest.fixture(scope='module')
def evaluated():
    """Build many activations and evaluate them with one compiled function.

    Returns (values, acts): ``values[label]`` is the numeric result of the
    expression registered under ``label``; ``acts[label]`` the activation.
    """
    x = TT.vector('x')
    m = TT.matrix('m')
    t3 = TT.tensor3('t3')
    exprs, acts = {}, {}

    def add(label, act, var):
        acts[label] = act
        exprs[label] = act(var)

    for key in COMMON_KEYS + ['relu+tanh', 'softplus+norm:z']:
        add(key, build(key, None), x)
        add('pickled ' + key, roundtrip(build(key, None)), x)
    for key in PARAM_KEYS:
        add(key, build(key, probe_layer()), x)
        add('pickled ' + key, roundtrip(build(key, probe_layer())), x)
    for key in ['softmax', 'norm:mean', 'norm:max', 'norm:std', 'norm:z',
                'rect:min', 'rect:minmax', 'relu+norm:z']:
        add('matrix ' + key, build(key, None), m)
    for key in ['softmax', 'norm:z', 'relu']:
        add('tensor3 ' + key, build(key, None), t3)
    for key in ['prelu', 'maxout:2']:
        add('tensor3 ' + key, build(key, FakeLayer('t', 4, 5)), t3)
    for name in LEGACY_FUNCTIONS:
        add('legacy ' + name, getattr(activations, name), m)
    add('user', build('relu+thresholdedlinear', None), x)
    add('composed params', build('tanh+prelu+maxout:2', FakeLayer()), x)

    # Elu on inputs large enough to overflow exp() in float32.
    add('elu big', build('elu', probe_layer()), 10 * x)
    exprs['elu big grad'] = TT.grad(exprs['elu big'].sum(), x)
    exprs['relu grad'] = TT.grad(exprs['relu'].sum(), x)
    exprs['rect:min grad'] = TT.grad(exprs['rect:min'].sum(), x)
    exprs['elu grad'] = TT.grad(exprs['elu'].sum(), x)

    labels = sorted(exprs)
    fn = theano.function([x, m, t3], [exprs[k] for k in labels],
                         on_unused_input='ignore')
    values = dict(zip(labels, fn(P, M, T3)))
    return values, acts


# -- parameter-free activations ----------------------------------------------

EXPECTED_ON_P = {
    'linear': P,
    'logistic': 1 / (1 + np.exp(-P)),
    'sigmoid': 1 / (1 + np.exp(-P)),
    'softmax': np.exp(P) / np.exp(P).sum(),
    'softplus': _softplus(P),
    'tanh': np.tanh(P),
    'relu': np.clip(P, 0, 100),
    'rect:max': np.clip(P, 0, 100),
    'rect:min': np.clip(P, -100, 1),
    'rect:minmax': np.clip(np.clip(P, 0, 100), -100, 1),
    'norm:mean': P - P.mean(),
    'norm:max': P / abs(P).max(),
    'norm:std': P / P.std(),
    'norm:z': (P - P.mean()) / P.std(),
    'relu+tanh': np.tanh(np.clip(P, 0, 100)),
    'softplus+norm:z': _zscore(_softplus(P)),
    'elu': [-1.15013397, -0.74292195, -0.0999504, 0, 0.1, 1, 10],
    'prelu': [-11.50186157, -1.17528522, -0.10503119, 0, 0.1, 1, 10],
    'lgrelu': [-10.52778435, -1.04052365, -0.11633276, 0, 0.10640667,
               1.04642045, 10.21983242],
    'maxout:3': [16.60424042, 1.80405843, 1.99347568, 0.3595323, -0.513098,
                 2.77195668, 0.61599374],
}


def test_probe_covers_every_key():
    # The original's 19 cases (13 parameter-free, 4 parameterised, 2
    # compositions) plus 'tanh'.
    assert len(EXPECTED_ON_P) == 20
    assert set(EXPECTED_ON_P) == set(COMMON_KEYS + PARAM_KEYS + [
        'relu+tanh', 'softplus+norm:z'])


@pytest.mark.parametrize('key', sorted(EXPECTED_ON_P))
def test_reference_values_on_probe(evaluated, key):
    values, _ = evaluated
    assert values[key].shape == P.shape
    assert values[key].dtype == FLOAT
    assert np.allclose(values[key], EXPECTED_ON_P[key])


@pytest.mark.parametrize('key', sorted(EXPECTED_ON_P))
def test_pickled_activation_computes_the_same(evaluated, key):
    values, acts = evaluated
    assert np.allclose(values['pickled ' + key], values[key])
    assert acts['pickled ' + key].name == acts[key].name


def test_reference_rows_of_spec_3_2(evaluated):
    values, _ = evaluated
    assert np.allclose(values['matrix softmax'], [
        [0.0056533, 0.04177257, 0.11354962, 0.83902451], [0.25] * 4])
    assert np.allclose(values['matrix norm:max'][1], 0.99999998, atol=0)
    assert np.allclose(values['matrix norm:max'][0], [-2 / 3, 0, 1 / 3, 1])
    assert np.allclose(values['matrix norm:std'], [
        [-1.10940039, 0, 0.55470019, 1.66410058], [5e7] * 4])
    assert np.allclose(values['matrix norm:z'], [
        [-1.38675048, -0.2773501, 0.2773501, 1.38675048], [0] * 4])
    assert np.allclose(values['matrix norm:mean'], [[-2.5, -.5, .5, 2.5],
                                                    [0] * 4])
    assert np.allclose(values['matrix rect:min'][0], [-2, 0, 1, 1])
    assert np.allclose(values['matrix rect:minmax'], [[0, 0, 1, 1],
                                                      [.5] * 4])


def test_composition_reference_value(evaluated):
    values, acts = evaluated
    assert acts['matrix relu+norm:z'].name == 'norm:z(relu)'
    assert np.allclose(values['matrix relu+norm:z'][0],
                       [-0.81649657, -0.81649657, 0, 1.63299315])


def test_softmax_and_norms_use_last_axis_of_any_ndim(evaluated):
    values, _ = evaluated
    soft = np.exp(T3) / np.exp(T3).sum(axis=-1, keepdims=True)
    assert np.allclose(values['tensor3 softmax'], soft)
    assert np.allclose(values['tensor3 norm:z'], _zscore(T3), atol=1e-5)
    assert np.allclose(values['tensor3 relu'], np.maximum(T3, 0))


def test_legacy_module_functions_implement_the_formulas(evaluated):
    values, _ = evaluated
    mean = M.mean(axis=-1, keepdims=True)
    std = M.std(axis=-1, keepdims=True)
    expected = {
        '_identity': M,
        '_relu': np.maximum(M, 0),
        '_softmax': np.exp(M) / np.exp(M).sum(axis=-1, keepdims=True),
        '_trel': np.minimum(M, 1),
        '_rect': np.clip(M, 0, 1),
        '_norm_mean': M - mean,
        '_norm_max': M / (abs(M).max(axis=-1, keepdims=True) + 1e-8),
        '_norm_std': M / (std + 1e-8),
        '_norm_z': (M - mean) / (std + 1e-8),
    }
    for name in LEGACY_FUNCTIONS:
        assert np.allclose(values['legacy ' + name], expected[name]), name


@pytest.mark.parametrize('name', LEGACY_FUNCTIONS)
def test_legacy_module_functions_pickle_by_reference(name):
    func = getattr(activations, name)
    data = pickle.dumps(func)
    assert b'theanets.activations' in data and name.encode() in data
    assert pickle.loads(data) is func


def test_gradients_at_kinks_are_one_half(evaluated):
    values, _ = evaluated
    zero, one = list(P).index(0), list(P).index(1)
    assert values['relu grad'][zero] == 0.5
    assert values['rect:min grad'][one] == 0.5
    assert np.allclose(values['relu grad'], [0, 0, 0, .5, 1, 1, 1])
    assert np.allclose(values['rect:min grad'], [1, 1, 1, 1, 1, .5, 0])


def test_elu_gradient_and_large_inputs(evaluated):
    values, acts = evaluated
    gain = np.exp(acts['elu'].gain.get_value())
    expected = np.where(P < 0, gain * np.exp(P), 1)
    assert np.allclose(values['elu grad'], expected)
    # exp(100) overflows float32; the output must still be finite there.
    assert np.all(np.isfinite(values['elu big']))
    assert np.all(np.isfinite(values['elu big grad']))
    assert values['elu big'][-1] == 100
    assert values['elu big grad'][-1] == 10


# -- parameterised activations -----------------------------------------------

def _abs_draws(rng, size):
    return 0.1 * abs(rng.randn(size))


def test_prelu_parameters_from_layer_rng():
    layer = FakeLayer('l', 5, 13)
    act = build('prelu', layer)
    rng = np.random.RandomState(13)
    assert [p.name for p in act.params] == ['l.leak']
    assert act.params == [act.leak]
    assert act.leak.dtype == FLOAT
    assert act.leak.get_value().shape == (5, )
    assert np.allclose(act.leak.get_value(), _abs_draws(rng, 5))
    assert act.layer is layer and act.kwargs == {}


def test_lgrelu_draws_gain_then_leak():
    act = build('leaky-gain-relu', FakeLayer('hid1', 6, 13))
    rng = np.random.RandomState(13)
    gain, leak = _abs_draws(rng, 6), _abs_draws(rng, 6)
    assert isinstance(act, activations.LGrelu)
    assert act.name == 'leaky-gain-relu'
    assert [p.name for p in act.params] == ['hid1.gain', 'hid1.leak']
    assert act.params == [act.gain, act.leak]
    assert np.allclose(act.gain.get_value(), gain)
    assert np.allclose(act.leak.get_value(), leak)
    assert all(p.dtype == FLOAT for p in act.params)


def test_elu_parameters():
    act = build('elu', FakeLayer('e', 4, 13))
    assert [p.name for p in act.params] == ['e.gain']
    assert np.allclose(act.gain.get_value(),
                       _abs_draws(np.random.RandomState(13), 4))


def test_maxout_draws_slope_then_intercept():
    layer = FakeLayer('l', 3, 13)
    act = build('maxout:4', layer)
    rng = np.random.RandomState(13)
    slope, intercept = rng.randn(3, 4), rng.randn(3, 4)
    assert isinstance(act, activations.Maxout)
    assert act.name == 'maxout' and act.pieces == 4
    assert act.kwargs == {'pieces': 4}
    assert [p.name for p in act.params] == ['l.slope', 'l.intercept']
    assert sorted(p.name for p in act.params) == ['l.intercept', 'l.slope']
    assert np.allclose(act.slope.get_value(), slope)
    assert np.allclose(act.intercept.get_value(), intercept)
    assert all(p.dtype == FLOAT for p in act.params)


def test_maxout_piece_count_from_name_overrides_kwarg():
    assert build('maxout:3', FakeLayer(), pieces=5).pieces == 3
    assert build('maxout', FakeLayer(), pieces=2).pieces == 2
    act = build('MAXOUT:2', FakeLayer())
    assert act.name == 'MAXOUT' and isinstance(act, activations.Maxout)


def test_tensor3_parameterised_activations(evaluated):
    values, acts = evaluated
    leak = acts['tensor3 prelu'].leak.get_value()
    expected = np.where(T3 > 0, T3, np.exp(leak) * T3)
    assert np.allclose(values['tensor3 prelu'], expected)
    maxout = acts['tensor3 maxout:2']
    slope = maxout.slope.get_value()
    intercept = maxout.intercept.get_value()
    expected = (T3[..., None] * slope + intercept).max(axis=-1)
    assert values['tensor3 maxout:2'].shape == T3.shape
    assert np.allclose(values['tensor3 maxout:2'], expected)


@pytest.mark.parametrize('key, names', [
    ('prelu', ['l.leak']),
    ('lgrelu', ['l.gain', 'l.leak']),
    ('maxout:4', ['l.intercept', 'l.slope']),
])
def test_param_names_sorted(key, names):
    params = build(key, FakeLayer('l', 3)).params
    assert sorted(p.name for p in params) == names


@pytest.mark.parametrize('key', ['prelu', 'leaky-relu', 'lgrelu',
                                 'leaky-gain-relu', 'elu', 'maxout:2'])
def test_parameterised_activation_pickles_with_its_parameters(key):
    act = build(key, FakeLayer('p', 4, 13))
    copy = roundtrip(act)
    assert type(copy) is type(act)
    assert copy.name == act.name
    assert copy.kwargs == act.kwargs
    assert copy.layer.name == 'p'
    assert [p.name for p in copy.params] == [p.name for p in act.params]
    for old, new in zip(act.params, copy.params):
        assert np.array_equal(old.get_value(), new.get_value())
        assert new.dtype == FLOAT


# -- common activations: wrappers --------------------------------------------

@pytest.mark.parametrize('key', COMMON_KEYS)
def test_common_activation_wrapper(key):
    act = build(key, FakeLayer())
    assert isinstance(act, activations.CommonActivation)
    assert isinstance(act, Activation)
    assert act.name == key
    assert act.params == []
    assert act.kwargs == {}
    assert callable(act)


def test_aliases_are_fresh_wrappers_with_their_own_names():
    relu = build('relu', None)
    rect = build('rect:max', None)
    again = build('relu', None)
    assert relu is not rect and relu is not again
    assert (relu.name, rect.name, again.name) == ('relu', 'rect:max', 'relu')
    assert build('logistic', None).name == 'logistic'
    assert build('sigmoid', None).name == 'sigmoid'
    relu.params.append('x')
    assert build('relu', None).params == []


@pytest.mark.parametrize('key', COMMON_KEYS)
def test_common_wrapper_pickle_is_small(key):
    act = build(key, FakeLayer())
    data = pickle.dumps(act)
    assert len(data) < 120
    assert b'FakeLayer' not in data
    copy = pickle.loads(data)
    assert isinstance(copy, activations.CommonActivation)
    assert copy.name == key and copy.params == []


def test_common_wrapper_rejects_unknown_names():
    with pytest.raises(KeyError):
        activations.CommonActivation('prelu')


# -- composition --------------------------------------------------------------

def test_composition_names_and_params():
    act = build('relu+norm:z', FakeLayer())
    assert isinstance(act, activations.Compose)
    assert act.name == 'norm:z(relu)'
    assert act.params == [] and act.layer is None and act.kwargs == {}
    assert (act.f.name, act.g.name) == ('relu', 'norm:z')
    act = build('tanh+relu+norm:mean', None)
    assert act.name == 'norm:mean(relu(tanh))'
    assert act.f.name == 'relu(tanh)' and act.g.name == 'norm:mean'


def test_composition_params_outer_first_and_draw_order(evaluated):
    values, acts = evaluated
    act = acts['composed params']
    assert act.name == 'maxout(prelu(tanh))'
    assert [p.name for p in act.params] == ['l.slope', 'l.intercept',
                                            'l.leak']
    # Pieces are built left to right: prelu draws before maxout.
    rng = np.random.RandomState(13)
    leak = _abs_draws(rng, 7)
    slope, intercept = rng.randn(7, 2), rng.randn(7, 2)
    assert np.allclose(act.f.g.leak.get_value(), leak)
    assert np.allclose(act.g.slope.get_value(), slope)
    assert np.allclose(act.g.intercept.get_value(), intercept)
    h = np.tanh(P)
    h = np.where(h > 0, h, np.exp(leak) * h)
    expected = (h[:, None] * slope + intercept).max(axis=-1)
    assert np.allclose(values['composed params'], expected, atol=1e-5)


def test_compose_of_plain_functions():
    act = activations.Compose(activations._relu, activations.Compose(
        build('tanh', None), build('prelu', FakeLayer('q', 3))))
    assert act.name == 'prelu(tanh)({})'.format(activations._relu)
    assert [p.name for p in act.params] == ['q.leak']


def test_composition_pickles():
    act = build('tanh+prelu+norm:z', FakeLayer('c', 3))
    copy = roundtrip(act)
    assert copy.name == 'norm:z(prelu(tanh))'
    assert (copy.f.name, copy.g.name) == ('prelu(tanh)', 'norm:z')
    assert [p.name for p in copy.params] == ['c.leak']
    assert copy.params[0] is copy.f.g.leak
    assert np.array_equal(copy.params[0].get_value(),
                          act.params[0].get_value())


# -- registry -----------------------------------------------------------------

@pytest.mark.parametrize('key, cls', [
    ('activation', 'Activation'),
    ('compose', 'Compose'),
    ('prelu', 'Prelu'),
    ('leaky-relu', 'Prelu'),
    ('lgrelu', 'LGrelu'),
    ('leaky-gain-relu', 'LGrelu'),
    ('elu', 'Elu'),
    ('maxout', 'Maxout'),
])
def test_registry_keys(key, cls):
    assert Activation.is_registered(key)
    assert Activation.is_registered(key.upper())
    assert Activation.get_class(key) is getattr(activations, cls)


def test_common_names_and_wrapper_are_not_registered_classes():
    assert not Activation.is_registered('relu')
    assert not Activation.is_registered('commonactivation')


def test_registered_names_are_case_insensitive_and_keep_spelling():
    act = build('Prelu', FakeLayer())
    assert isinstance(act, activations.Prelu) and act.name == 'Prelu'
    act = build('leaky-relu', FakeLayer())
    assert isinstance(act, activations.Prelu) and act.name == 'leaky-relu'


def test_base_class_builds_but_cannot_be_called():
    act = build('activation', FakeLayer())
    assert type(act) is Activation and act.name == 'activation'
    assert act.params == []
    with pytest.raises(NotImplementedError):
        act(TT.vector())


def test_instances_pass_through_unchanged():
    act = build('prelu', FakeLayer())
    assert build(act, FakeLayer('other')) is act
    relu = build('relu', None)
    assert build(relu, None) is relu


def test_user_subclass_usable_by_name(evaluated):
    values, acts = evaluated
    assert Activation.get_class('thresholdedlinear') is ThresholdedLinear
    act = build('ThresholdedLinear', FakeLayer())
    assert isinstance(act, ThresholdedLinear)
    assert act.name == 'ThresholdedLinear' and act.params == []
    assert acts['user'].name == 'thresholdedlinear(relu)'
    assert np.allclose(values['user'], np.where(P > 1, P, 0))
    assert roundtrip(act).name == 'ThresholdedLinear'


# -- errors -------------------------------------------------------------------

@pytest.mark.parametrize('name, key', [
    ('foo', 'foo'),
    ('ReLU', 'relu'),
    ('relu + tanh', 'relu '),
    ('Tanh', 'tanh'),
])
def test_unknown_names(name, key):
    with pytest.raises(KeyError) as info:
        build(name, FakeLayer())
    err = info.value
    assert isinstance(err, util.ConfigurationError)
    assert isinstance(err, util.UnknownNameError)
    assert err.args[0] == key
    message = str(err)
    assert repr(key) in message
    for known in ('relu', 'norm:z', 'softmax', 'prelu', 'maxout', 'elu'):
        assert known in err.known
        assert known in message


def test_unknown_name_hints():
    with pytest.raises(util.ConfigurationError, match="use 'relu'"):
        build('ReLU', None)
    with pytest.raises(util.ConfigurationError, match='spaces'):
        build('relu + tanh', None)


def test_maxout_without_pieces():
    with pytest.raises(KeyError) as info:
        build('maxout', FakeLayer())
    assert isinstance(info.value, util.ConfigurationError)
    assert 'maxout:k' in str(info.value) and 'pieces' in str(info.value)


@pytest.mark.parametrize('name', ['maxout:x', 'maxout:', 'maxout:0'])
def test_maxout_bad_pieces(name):
    with pytest.raises(ValueError) as info:
        build(name, FakeLayer())
    assert isinstance(info.value, util.ConfigurationError)
    assert 'pieces' in str(info.value)


def test_compose_cannot_be_built_by_name():
    with pytest.raises(TypeError) as info:
        build('compose', FakeLayer())
    assert isinstance(info.value, util.ConfigurationError)
    assert '+' in str(info.value)


def test_non_string_spec_is_rejected():
    with pytest.raises(TypeError) as info:
        build(3, FakeLayer())
    assert isinstance(info.value, util.ConfigurationError)
    assert '3' in str(info.value)


# -- inside real layers ------------------------------------------------------

def bound_layer(**kwargs):
    """A Feedforward layer bound into ``Network([3])``."""
    net = Network([3])
    layer = Feedforward(inputs='in', **kwargs)
    layer.bind(net)
    return layer


def test_real_layer_common_activation():
    layer = bound_layer(size=3, activation='relu')
    assert callable(layer.activate)
    assert layer.activate.name == 'relu'
    assert layer.activate.params == []


def test_real_layer_composed_activation():
    layer = bound_layer(size=3, activation='relu+norm:z')
    assert layer.activate.name == 'norm:z(relu)'
    assert layer.activate.params == []


@pytest.mark.parametrize('key', PARAM_KEYS)
def test_real_layer_draws_match_the_probe_layer(key):
    # Spec 3.6: the activation under test is built after the layer's setup
    # drew its 3x7 weights and 7 biases from RandomState(13).
    layer = bound_layer(size=7, rng=13)
    assert layer.activate.name == 'relu'
    real = build(key, layer)
    fake = build(key, probe_layer())
    assert [p.name for p in real.params] == [
        p.name.replace('l.', layer.name + '.') for p in fake.params]
    for a, b in zip(real.params, fake.params):
        assert np.array_equal(a.get_value(), b.get_value())


@pytest.mark.parametrize('key, names', [
    ('prelu', ['l.leak']),
    ('lgrelu', ['l.gain', 'l.leak']),
    ('maxout:4', ['l.intercept', 'l.slope']),
])
def test_real_layer_parameter_names(key, names):
    layer = Feedforward(inputs='in', size=4, name='l', activation=key)
    net = Network([3, layer])
    assert sorted(p.name for p in layer.activate.params) == names
    assert [p.name for p in net.layers[1].params] == [
        'l.w', 'l.b'] + [p.name for p in layer.activate.params]


def test_bound_activation_draws_before_layer_weights():
    layer = Feedforward(inputs='in', size=4, name='l', activation='prelu',
                        rng=13)
    Network([3, layer])
    rng = np.random.RandomState(13)
    leak = _abs_draws(rng, 4)
    weights = rng.randn(3, 4) / np.sqrt(3 + 4)
    assert np.allclose(layer.activate.leak.get_value(), leak)
    assert np.allclose(layer.find('w').get_value(), weights)


def test_network_with_composed_activation_round_trips():
    net = Network([3, (4, 'relu+norm:z')])
    handle = io.BytesIO()
    net.save(handle)
    handle.seek(0)
    loaded = Network.load(handle)
    act = loaded.layers[1].activate
    assert act.f.name == net.layers[1].activate.f.name == 'relu'
    assert act.g.name == net.layers[1].activate.g.name == 'norm:z'


def test_network_with_parameterised_activation_round_trips():
    net = Network([3, (4, 'prelu'), (2, 'tanh+maxout:2')])
    handle = io.BytesIO()
    net.save(handle)
    handle.seek(0)
    loaded = Network.load(handle)
    for old, new in zip(net.layers[1:], loaded.layers[1:]):
        assert new.activate.name == old.activate.name
        assert new.activate.layer is (None if old.activate.layer is None
                                      else new)
        assert [p.name for p in new.params] == [p.name for p in old.params]
        for a, b in zip(old.params, new.params):
            assert np.array_equal(a.get_value(), b.get_value())
    assert loaded.layers[2].activate.g.layer is loaded.layers[2]


# -- legacy pickles ----------------------------------------------------------

def _legacy_reference(name):
    """The bytes theanets 0.8 pickles wrote for ``layer.activate = <name>``.

    The models in the project's legacy-models folder hold exactly this
    opcode sequence (protocol 4: module string, name string, STACK_GLOBAL).
    """
    module = b'theanets.activations'
    return (b'\x80\x04\x8c' + bytes([len(module)]) + module + b'\x94\x8c' +
            bytes([len(name)]) + name.encode() + b'\x94\x93\x94.')


@pytest.mark.parametrize('name', LEGACY_FUNCTIONS)
def test_legacy_pickle_references_resolve(name):
    ops = [op.name for op, _, _ in pickletools.genops(_legacy_reference(name))]
    assert 'STACK_GLOBAL' in ops
    assert pickle.loads(_legacy_reference(name)) is getattr(activations, name)
