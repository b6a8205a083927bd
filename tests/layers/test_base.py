"""Tests for theanets.layers.base: the Layer contract and structural layers."""

import pickle
from types import SimpleNamespace

import numpy as np
import pytest

from theanets import layers, util
from theanets.layers import base
from theanets.backend import theano, SS, TT

from tests.helpers import bind_all


# -- registry and exports -----------------------------------------------------

@pytest.mark.parametrize('key, cls', [
    ('layer', layers.Layer),
    ('input', layers.Input),
    ('product', layers.Product),
    ('prod', layers.Product),
    ('flatten', layers.Flatten),
    ('flat', layers.Flatten),
    ('concatenate', layers.Concatenate),
    ('concat', layers.Concatenate),
    ('reshape', layers.Reshape),
    ('feedforward', layers.Feedforward),
    ('ff', layers.Feedforward),
    ('classifier', layers.Classifier),
    ('softmax', layers.Classifier),
    ('tied', layers.Tied),
])
def test_registered_keys(key, cls):
    assert layers.Layer.get_class(key) is cls
    assert layers.Layer.get_class(key.upper()) is cls
    assert layers.Layer.is_registered(key)
    assert layers.Input.is_registered(key)  # one registry for the family


def test_build_is_case_insensitive():
    layer = layers.Layer.build('FeedForward', size=3, inputs='in', name='x')
    assert type(layer) is layers.Feedforward
    assert layer.kwargs == {'size': 3, 'inputs': 'in'}


def test_unknown_key():
    assert not layers.Layer.is_registered('nope')
    with pytest.raises(util.UnknownNameError) as info:
        layers.Layer.build('Nope', size=3)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, util.ConfigurationError)
    assert "'nope'" in str(info.value)
    assert 'feedforward' in str(info.value)
    with pytest.raises(KeyError):
        layers.Layer.get_class('nope')


def test_user_subclass_is_registered():
    class MyOwnLayer(layers.Layer):
        pass
    assert layers.Layer.get_class('myownlayer') is MyOwnLayer


def test_exports():
    for name in ['Layer', 'Input', 'Product', 'Flatten', 'Concatenate',
                 'Reshape', 'Feedforward', 'Classifier', 'Tied']:
        assert hasattr(layers, name)
    assert layers.base is base
    assert layers.feedforward.Feedforward is layers.Feedforward
    for name in ['Layer', 'Input', 'Product', 'Flatten', 'Concatenate',
                 'Reshape']:
        assert getattr(layers, name).__module__ == 'theanets.layers.base'
    for name in ['Feedforward', 'Classifier', 'Tied']:
        assert getattr(layers, name).__module__ == \
            'theanets.layers.feedforward'


# -- constructor --------------------------------------------------------------

def test_counter_and_default_names():
    # default names number layers with the internal class counter
    start = layers.Layer._count
    a = layers.Feedforward(size=2, inputs='in')
    b = layers.Input(size=2)
    c = layers.Layer.build('flat', inputs='in', name='')
    assert layers.Layer._count == start + 3
    assert a.name == 'feedforward{}'.format(start + 1)
    assert b.name == 'in'
    assert c.name == 'flatten{}'.format(start + 3)
    assert '_count' not in vars(layers.Feedforward)


def test_kwargs_stored_verbatim():
    inputs = ['a', 'b']
    layer = layers.Layer(name='l', size=3, inputs=inputs, foo='bar')
    assert layer.name == 'l'
    assert layer.kwargs == {'size': 3, 'inputs': ['a', 'b'], 'foo': 'bar'}
    assert layer.kwargs['inputs'] is inputs
    assert layer._params == []  # an unbound layer has no public params yet
    assert layer.output_shapes == {}


def test_rng_int_seed():
    layer = layers.Layer(rng=13)
    assert isinstance(layer.rng, np.random.RandomState)
    np.testing.assert_array_equal(
        layer.rng.randn(4), np.random.RandomState(13).randn(4))


def test_rng_instance_is_shared():
    rng = np.random.RandomState(3)
    assert layers.Layer(rng=rng).rng is rng


def test_rng_legacy_alias_and_default():
    layer = layers.Layer(nrng=5)
    np.testing.assert_array_equal(
        layer.rng.randn(3), np.random.RandomState(5).randn(3))
    # an explicit rng key wins over nrng, even when it is None
    unseeded = layers.Layer(rng=None, nrng=5)
    assert isinstance(unseeded.rng, np.random.RandomState)
    assert not np.array_equal(
        unseeded.rng.randn(8), np.random.RandomState(5).randn(8))
    assert isinstance(layers.Layer().rng, np.random.RandomState)


def test_inputs_normalisation():
    assert layers.Layer(inputs='in').input_shapes == {'in': None}
    layer = layers.Layer(inputs=('hid2', 'in:out', 'hid2'))
    assert list(layer.input_shapes) == ['hid2', 'in:out']
    assert layers.Layer().input_shapes == {}
    source = layers.Input(size=3, name='src')
    layer = layers.Layer(inputs=[source, 'x'])
    assert list(layer.input_shapes) == ['src:out', 'x']


def test_inputs_dict_rejected():
    with pytest.raises(util.ConfigurationError, match='inputs'):
        layers.Layer(inputs={'in': (3, )}, name='l')


# -- naming -------------------------------------------------------------------

def test_names():
    layer = layers.Layer(name='hid1')
    assert layer.full_name('pre') == 'hid1:pre'
    assert layer.output_name == 'hid1:out'
    # the name formatter layer classes use for their parameters
    assert layer._fmt('w') == 'hid1.w'
    assert layer._fmt('{}.init0') == 'hid1.init0'
    assert layer._fmt('mask{}') == 'maskhid1'


# -- shape properties ---------------------------------------------------------

def test_input_name_requires_one_input():
    assert layers.Layer(inputs='a').input_name == 'a'
    for inputs in [(), ('a', 'b')]:
        layer = layers.Layer(inputs=inputs, name='l')
        with pytest.raises(util.ConfigurationError) as info:
            layer.input_name
        assert str(info.value) == 'expected one input for layer "l", got {}'\
            .format(layer.input_shapes)


def test_shape_properties_before_bind():
    layer = layers.Layer(inputs='a', size=3, name='l')
    assert layer.input_shape is None
    with pytest.raises(util.ConfigurationError,
                       match='^undefined input size for layer "l"$'):
        layer.input_size
    with pytest.raises(util.ConfigurationError, match='not bound'):
        layer.output_shape
    with pytest.raises(util.ConfigurationError, match='not bound'):
        layer.params
    layer._output_shapes['out'] = None  # state of a layer without a size
    with pytest.raises(util.ConfigurationError,
                       match='^undefined output size for layer "l"$'):
        layer.output_size


def test_shape_properties_after_bind():
    inp = layers.Input(shape=(None, 5), name='in')
    layer = layers.Layer(inputs='in', size=3, name='l')
    bind_all(inp, layer)
    assert layer.input_name == 'in:out'
    assert layer.input_shape == (None, 5)
    assert layer.input_size == 5
    assert layer.output_shape == (None, 3)
    assert layer.output_size == 3
    assert layer.params == []


# -- bind and resolution ------------------------------------------------------

def test_resolution_of_names():
    inp = layers.Input(size=4, name='in')
    a = layers.Layer(inputs='in', size=3, name='a')
    b = layers.Layer(inputs=('in:out', a), size=2, name='b')
    bind_all(inp, a, b)
    assert a.input_shapes == {'in:out': (4, )}
    assert b.input_shapes == {'in:out': (4, ), 'a:out': (3, )}
    assert list(b.input_shapes) == ['in:out', 'a:out']


def test_unresolvable_input():
    inp = layers.Input(size=4, name='in')
    layer = layers.Layer(inputs='hid2', size=3, name='l')
    with pytest.raises(util.ConfigurationError) as info:
        bind_all(inp, layer)
    assert str(info.value) == \
        'layer "l" cannot resolve "hid2" using [\'in\', \'l\']'


def test_ambiguous_input():
    one = layers.Input(size=4, name='in')
    two = layers.Input(size=4, name='in')
    layer = layers.Layer(inputs='in', size=3, name='l')
    with pytest.raises(util.ConfigurationError, match='cannot resolve'):
        bind_all(one, two, layer)


def test_unknown_output_is_configuration_error():
    # defect 10: the original raised a bare KeyError('pre')
    inp = layers.Input(size=4, name='in')
    layer = layers.Layer(inputs='in:pre', size=3, name='l')
    with pytest.raises(util.ConfigurationError, match='"in:pre".*"pre"'):
        bind_all(inp, layer)


def test_unbound_input_is_configuration_error():
    # defect 10: the original raised a bare KeyError('out')
    inp = layers.Input(size=4, name='in')
    layer = layers.Layer(inputs='in', size=3, name='l')
    with pytest.raises(util.ConfigurationError, match='not bound'):
        layer.bind(SimpleNamespace(layers=[inp, layer]))


def test_bind_reset():
    inp = layers.Input(size=4, name='in')
    layer = layers.Layer(inputs='in', size=3, name='l')
    graph = bind_all(inp, layer)
    inp.kwargs['shape'] = (6, )
    inp.bind(graph)
    layer.bind(graph, reset=False)
    assert layer.input_shapes == {'in:out': (4, )}
    layer.bind(graph)
    assert layer.input_shapes == {'in:out': (6, )}


def test_bind_builds_activation_before_setup():
    inp = layers.Input(size=2, name='in')
    layer = layers.Feedforward(inputs='in', size=3, name='l', rng=13,
                               activation='prelu')
    bind_all(inp, layer)
    assert [p.name for p in layer.params] == ['l.w', 'l.b', 'l.leak']
    assert layer.activate.name == 'prelu'
    rng = np.random.RandomState(13)
    leak = 0.1 * abs(rng.randn(3))
    w = rng.randn(2, 3) / np.sqrt(5)
    b = rng.randn(3)
    np.testing.assert_allclose(layer.find('w').get_value(), w, rtol=1e-6)
    np.testing.assert_allclose(layer.find('b').get_value(), b, rtol=1e-6)
    np.testing.assert_allclose(layer.params[2].get_value(), leak, rtol=1e-6)


def test_bind_without_initialize_keeps_params():
    inp = layers.Input(size=2, name='in')
    layer = layers.Feedforward(inputs='in', size=3, name='l', rng=13,
                               activation='prelu')
    graph = bind_all(inp, layer)
    w, b, leak = layer.params
    layer.bind(graph, initialize=False)
    assert layer.params[:2] == [w, b]
    assert layer.params[2] is not leak  # the activation is rebuilt


def test_bind_twice_does_not_duplicate_params():
    # defect 11: the original appended a second copy of every parameter
    inp = layers.Input(size=2, name='in')
    layer = layers.Feedforward(inputs='in', size=3, name='a')
    graph = bind_all(inp, layer)
    layer.bind(graph)
    assert [p.name for p in layer.params] == ['a.w', 'a.b']


# -- output shape base rule ---------------------------------------------------

def test_output_shape_rules():
    a = layers.Input(shape=(3, 5), name='a')
    b = layers.Input(shape=(None, 7), name='b')
    shape = [6, 7]
    both = layers.Layer(inputs='a', size=2, shape=shape, name='s')
    sized = layers.Layer(inputs=('a', 'b'), size=2, name='z')
    bind_all(a, b, both, sized)
    assert both.output_shape is shape
    assert sized.output_shape == (3, 2)


def test_output_shape_errors():
    a = layers.Input(shape=(3, 5), name='a')
    b = layers.Input(shape=(4, 3), name='b')
    c = layers.Input(shape=(5, ), name='c')
    graph = bind_all(a, b, c)
    layer = layers.Layer(inputs=('a', 'b'), size=2, name='l')
    with pytest.raises(util.ConfigurationError) as info:
        layer.bind(graph)
    assert str(info.value) == "layer \"l\" incompatible input shapes " \
        "{'a:out': (3, 5), 'b:out': (4, 3)}"
    layer = layers.Layer(inputs=('a', 'c'), size=2, name='l')
    with pytest.raises(util.ConfigurationError, match='incompatible'):
        layer.bind(graph)
    layer = layers.Layer(inputs='a', name='l')
    with pytest.raises(util.ConfigurationError,
                       match='^layer "l" does not specify a size$'):
        layer.bind(graph)
    with pytest.raises(TypeError, match='no inputs'):
        layers.Layer(size=3, name='l').bind(graph)
    layer = layers.Layer(shape=(2, 2), name='l')
    layer.bind(graph)
    assert layer.output_shape == (2, 2)


# -- parameter initialisation -------------------------------------------------

def test_reference_initial_values():
    # layers.md 2.11: Regressor((2, 3, 1)), every layer seeded with 13
    inp = layers.Input(size=2, name='in')
    hid = layers.Feedforward(inputs='in', size=3, name='hid1', rng=13)
    out = layers.Feedforward(inputs='hid1', size=1, name='out', rng=13,
                             activation='linear')
    bind_all(inp, hid, out)
    np.testing.assert_allclose(hid.find('w').get_value(), [
        [-0.31859, 0.33709, -0.01990], [0.20206, 0.60155, 0.23807]],
        atol=1e-5)
    np.testing.assert_allclose(hid.find('b').get_value(),
                               [1.35019, 0.86121, 1.47869], atol=1e-5)
    np.testing.assert_allclose(out.find('w').get_value(),
                               [[-0.35620], [0.37688], [-0.02225]], atol=1e-5)
    np.testing.assert_allclose(out.find('b').get_value(), [0.45181],
                               atol=1e-5)
    for param in hid.params + out.params:
        assert param.dtype == util.FLOAT


def draws(layer_kwargs, calls):
    """Values created by add_weights/add_bias calls on a seeded layer.

    The layer is not bound, so its parameters are read from the internal
    ``_params`` list (``params`` needs a bound layer).
    """
    layer = layers.Layer(name='l', rng=7, **layer_kwargs)
    for method, args, kwargs in calls:
        getattr(layer, method)(*args, **kwargs)
    return [p.get_value() for p in layer._params], layer


def test_add_weights_defaults():
    (w, ), layer = draws({}, [('add_weights', ('w', 3, 5), {})])
    assert layer._params[0].name == 'l.w'  # unbound: see draws()
    expected = util.random_matrix(3, 5, std=1 / np.sqrt(8), rng=7)
    np.testing.assert_array_equal(w, expected)


def test_add_weights_settings_precedence():
    kwargs = dict(mean=1, std=2, sparsity=0.5, mean_w=3, std_w=0.5,
                  sparsity_w=0.25)
    (w, v), _ = draws(kwargs, [('add_weights', ('w', 3, 5), {}),
                               ('add_weights', ('v', 3, 5), {})])
    rng = np.random.RandomState(7)
    np.testing.assert_array_equal(w, util.random_matrix(
        3, 5, mean=3, std=0.5, sparsity=0.25, rng=rng))
    np.testing.assert_array_equal(v, util.random_matrix(
        3, 5, mean=1, std=2, sparsity=0.5, rng=rng))


def test_add_weights_arguments_and_zero_std():
    (w, v, u), _ = draws({'std_v': 0}, [
        ('add_weights', ('w', 2, 2), dict(mean=1, std=3)),
        ('add_weights', ('v', 2, 2), dict(mean=1, std=3)),
        ('add_weights', ('u', 2, 3), dict(diagonal=2))])
    rng = np.random.RandomState(7)
    np.testing.assert_array_equal(w, util.random_matrix(
        2, 2, mean=1, std=3, rng=rng))
    np.testing.assert_array_equal(v, np.ones((2, 2)))
    np.testing.assert_array_equal(u, [[2, 0, 0], [0, 2, 0]])


def test_add_weights_diagonal_kwargs():
    (w, v), _ = draws({'diagonal': 0.5, 'diagonal_v': 3}, [
        ('add_weights', ('w', 2, 2), {}), ('add_weights', ('v', 2, 2), {})])
    np.testing.assert_array_equal(w, 0.5 * np.eye(2))
    np.testing.assert_array_equal(v, 3 * np.eye(2))


def test_add_weights_ignores_radius():
    (w, ), _ = draws({'radius': 1.5}, [('add_weights', ('w', 3, 3), {})])
    np.testing.assert_array_equal(
        w, util.random_matrix(3, 3, std=1 / np.sqrt(6), rng=7))


def test_add_bias():
    (b, c, d), layer = draws({'mean': 5, 'std': 7, 'mean_c': 2, 'std_c': 0},
                             [('add_bias', ('b', 4), {}),
                              ('add_bias', ('c', 3), {}),
                              ('add_bias', ('d', 2), dict(mean=1, std=2))])
    assert [p.name for p in layer._params] == ['l.b', 'l.c', 'l.d']  # unbound
    rng = np.random.RandomState(7)
    # the global mean/std do not apply to biases
    np.testing.assert_array_equal(b, util.random_vector(4, rng=rng))
    np.testing.assert_array_equal(c, [2, 2, 2])
    rng.randn(3)
    np.testing.assert_array_equal(d, util.random_vector(2, 1, 2, rng=rng))
    assert b.dtype == util.FLOAT


# -- find ---------------------------------------------------------------------

def test_find():
    inp = layers.Input(size=2, name='in')
    layer = layers.Feedforward(inputs='in', size=3, name='l',
                               activation='prelu')
    bind_all(inp, layer)
    w, b, leak = layer.params
    assert layer.find(0) is w
    assert layer.find(1) is b
    assert layer.find('w') is w
    assert layer.find('b') is b
    for key in [-1, 2, 'l.w', 'leak', 'x', '{']:
        with pytest.raises(KeyError):
            layer.find(key)


# -- connect ------------------------------------------------------------------

class Outputs(layers.Layer):
    """Returns whatever ``kwargs['result']`` holds."""

    def transform(self, inputs):
        return self.kwargs['result'], ['update']


def test_connect_output_forms():
    x, y = TT.matrix('x'), TT.matrix('y')
    layer = Outputs(name='l', result={'pre': x, 'out': y, 'a': x})
    outs, updates = layer.connect({})
    assert list(outs) == ['l:a', 'l:out', 'l:pre']
    assert outs['l:out'] is y and outs['l:pre'] is x
    assert updates == ['update']
    layer = Outputs(name='l', result=x)
    assert layer.connect({})[0] == {'l:out': x}
    sparse = SS.csr_matrix('s')
    layer = Outputs(name='l', result=sparse)
    assert layer.connect({})[0] == {'l:out': sparse}
    layer = Outputs(name='l', result=[('z', x), ('out', y)])
    outs, _ = layer.connect({})
    assert list(outs) == ['l:z', 'l:out']


def test_transform_is_abstract():
    with pytest.raises(NotImplementedError):
        layers.Layer(name='l').connect({})


# -- logging ------------------------------------------------------------------

def test_log_messages(messages):
    a = layers.Input(size=4, ndim=3, name='a')
    b = layers.Input(shape=(5, 3), name='b')
    c = layers.Input(size=1, name='c')
    layer = layers.Layer(inputs=('a', 'b'), size=2, name='l')
    bind_all(a, b, c, layer)
    assert messages() == [
        'layer Input "a" (None, 4)',
        'layer Input "b" (5, 3)',
        'layer Input "c" (1,)',
        'layer Layer "l" (None, 2) relu from "a:out" (None, 4), '
        '"b:out" (5, 3)',
        'learnable parameters: 0',
    ]


def test_log_params(messages):
    a = layers.Input(size=2, name='in')
    layer = layers.Feedforward(inputs='in', size=3, name='l', rng=1,
                               activation='prelu')
    bind_all(a, layer)
    assert messages()[1:] == [
        'layer Feedforward "l" (3,) prelu from "in:out" (2,)',
        'parameter "l.w" (2, 3)',
        'parameter "l.b" (3,)',
        'parameter "l.leak" (3,)',
        'learnable parameters: 12',
    ]
    assert layer.log_params() == 12
    assert a.log_params() == 0


def test_log_with_plain_function_activation(messages):
    # legacy pickles hold module-level functions without name/params
    a = layers.Input(size=2, name='in')
    layer = layers.Layer(inputs='in', size=3, name='l')
    bind_all(a, layer)

    def plain(x):
        return x
    layer.activate = plain
    assert layer.params == []
    layer.log()
    assert messages()[-2] == 'layer Layer "l" (3,) {} from "in:out" (2,)' \
        .format(plain)


# -- to_spec and pickling -----------------------------------------------------

def test_to_spec():
    layer = layers.Layer.build('ff', size=7, name='l', inputs='in')
    assert layer.to_spec() == {'form': 'feedforward', 'name': 'l', 'size': 7,
                               'inputs': 'in', 'activation': 'relu'}
    layer = layers.Layer(name='x', inputs=('a', 'b'), rng=13,
                         activation='tanh')
    spec = layer.to_spec()
    assert spec == {'form': 'layer', 'name': 'x', 'inputs': ('a', 'b'),
                    'rng': 13, 'activation': 'tanh'}
    spec['size'] = 9
    assert 'size' not in layer.kwargs and 'form' not in layer.kwargs


def test_to_spec_round_trip():
    layer = layers.Feedforward(size=4, name='l', inputs='in', std=0.5)
    spec = layer.to_spec()
    again = layers.Layer.build(
        spec['form'], **{k: v for k, v in spec.items() if k != 'form'})
    assert type(again) is layers.Feedforward
    assert again.to_spec() == spec


def test_pickle_bound_layer():
    inp = layers.Input(size=2, name='in')
    layer = layers.Feedforward(inputs='in', size=3, name='l', rng=13,
                               activation='prelu')
    bind_all(inp, layer)
    copy = pickle.loads(pickle.dumps(layer, -1))
    assert type(copy) is layers.Feedforward
    assert set(vars(copy)) == {'name', 'kwargs', 'rng', '_params',
                               '_input_shapes', '_output_shapes', 'activate'}
    assert [p.name for p in copy.params] == ['l.w', 'l.b', 'l.leak']
    for mine, theirs in zip(layer.params, copy.params):
        np.testing.assert_array_equal(mine.get_value(), theirs.get_value())
    assert copy.input_shapes == {'in:out': (2, )}
    assert copy.output_shape == (3, )
    outs, updates = copy.connect({'in:out': TT.matrix()})
    assert sorted(outs) == ['l:out', 'l:pre']
    inp_copy = pickle.loads(pickle.dumps(inp, -1))
    assert set(vars(inp_copy)) == {
        'name', 'kwargs', 'rng', '_params', '_input_shapes',
        '_output_shapes', 'activate', 'input'}


# -- Input --------------------------------------------------------------------

def test_input_shapes_and_variables():
    layer = layers.Input(size=5)
    assert layer.kwargs == {'shape': (5, ), 'activation': 'linear'}
    assert layer.input.ndim == 2 and layer.input.name == 'in'
    assert layer.input.dtype == util.FLOAT
    layer = layers.Input(size=5, ndim=3, name='h0')
    assert layer.kwargs['shape'] == (None, 5)
    assert layer.input.ndim == 3 and layer.input.name == 'h0'
    assert layers.Input(size=5, ndim=4).kwargs['shape'] == (None, None, 5)
    assert layers.Input(size=5, ndim=1).input.ndim == 1
    layer = layers.Input(shape=[13, 15, 7], ndim=2, size=3)
    assert layer.input.ndim == 4
    assert layer.kwargs['size'] == 3  # unused, kept
    layer.bind(SimpleNamespace(layers=[layer]))
    assert layer.output_shape == (13, 15, 7)


def test_input_errors():
    with pytest.raises(KeyError) as info:
        layers.Input(ndim=3, name='x')
    assert info.value.args == ('size', )
    assert isinstance(info.value, util.ConfigurationError)
    assert str(info.value) == 'input layer "x" needs a size or a shape'
    with pytest.raises(IndexError, match='ndim'):
        layers.Input(size=2, ndim=5)
    with pytest.raises(util.ConfigurationError, match='ndim 2'):
        layers.Input(size=2, ndim=3, sparse=True)


@pytest.mark.parametrize('sparse, fmt', [
    (True, 'csr'), ('csr', 'csr'), ('CSR', 'csr'), ('csc', 'csc'),
    ('Csc', 'csc')])
def test_input_sparse(sparse, fmt):
    layer = layers.Input(size=4, sparse=sparse, name='x')
    assert isinstance(layer.input, SS.SparseVariable)
    assert layer.input.format == fmt
    assert layer.input.name == 'input'
    assert 'sparse' not in layer.kwargs


def test_input_dense_for_other_sparse_values():
    assert not isinstance(layers.Input(size=4, sparse='no').input,
                          SS.SparseVariable)


def test_input_bind_connect_spec():
    layer = layers.Input(size=4, activation='tanh')
    layer.bind(SimpleNamespace(layers=[layer]))
    assert layer.activate.name == 'linear'
    assert layer.params == []
    assert layer.input_shapes == {}
    assert layer.connect({}) == ({'in:out': layer.input}, [])
    assert layer.to_spec() == {'shape': (4, ), 'activation': 'linear',
                               'form': 'input', 'name': 'in'}
    spec = layer.to_spec()
    again = layers.Layer.build(spec.pop('form'), **spec)
    assert again.input.ndim == 2 and again.to_spec() == layer.to_spec()


# -- structural layers --------------------------------------------------------

def test_product_shapes():
    a = layers.Input(shape=(2, 3), name='a')
    b = layers.Input(shape=(2, 3), name='b')
    c = layers.Input(shape=(3, 3), name='c')
    graph = bind_all(a, b, c)
    layer = layers.Product(inputs=('a', 'b'), name='p', size=99)
    layer.bind(graph)
    assert layer.output_shape == (2, 3)
    assert layer.params == []
    bad = layers.Product(inputs=('a', 'c'), name='p')
    with pytest.raises(util.ConfigurationError) as info:
        bad.bind(graph)
    assert str(info.value) == 'incompatible inputs for product layer "p": ' \
        "{'a:out': (2, 3), 'c:out': (3, 3)}"


def test_product_single_input_passes_through():
    a = layers.Input(size=3, name='a')
    layer = layers.Product(inputs='a', name='p')
    bind_all(a, layer)
    assert layer.connect({'a:out': a.input}) == ({'p:out': a.input}, [])


def test_flatten_shapes():
    a = layers.Input(shape=(13, 15, 7), name='a')
    b = layers.Input(shape=(None, 7), name='b')
    graph = bind_all(a, b)
    layer = layers.Flatten(inputs='a', name='f')
    layer.bind(graph)
    assert layer.output_shape == (1365, )
    assert type(layer.output_shape[0]) is int
    layers.Flatten(inputs='a', name='f', size=1365).bind(graph)
    with pytest.raises(util.ConfigurationError) as info:
        layers.Flatten(inputs='a', name='f', size=8).bind(graph)
    assert str(info.value) == \
        'flatten layer "f" size (1365,) does not match input (13, 15, 7)'
    with pytest.raises(util.ConfigurationError) as info:
        layers.Flatten(inputs='b', name='f').bind(graph)
    assert str(info.value) == \
        'cannot compute size of flatten layer "f" from input (None, 7)'
    with pytest.raises(util.ConfigurationError, match='expected one input'):
        layers.Flatten(inputs=('a', 'b'), name='f').bind(graph)


def test_concatenate_shapes():
    a = layers.Input(shape=(2, 3), name='a')
    b = layers.Input(shape=(2, 5), name='b')
    c = layers.Input(shape=(3, 5), name='c')
    d = layers.Input(shape=(None, 5), name='d')
    e = layers.Input(shape=(None, 2), ndim=3, name='e')
    graph = bind_all(a, b, c, d, e)
    layer = layers.Concatenate(inputs=('a', 'b'), name='c', size=1)
    layer.bind(graph)
    assert layer.output_shape == (2, 8)
    layer = layers.Concatenate(inputs=('d', 'e'), name='c')
    layer.bind(graph)
    assert layer.output_shape == (None, 7)
    for inputs in [('a', 'c'), ('a', 'd')]:
        with pytest.raises(util.ConfigurationError) as info:
            layers.Concatenate(inputs=inputs, name='c').bind(graph)
        assert str(info.value).startswith(
            'incompatible inputs for concatenate layer "c": ')


def test_reshape_shapes(messages):
    a = layers.Input(size=8, name='in')
    b = layers.Input(shape=(None, 4), name='b')
    graph = bind_all(a, b)
    layer = layers.Reshape(inputs='in', shape=[4, 2], name='r')
    layer.bind(graph)
    assert layer.output_shape == (4, 2)
    assert layer.params == []
    assert layer.to_spec() == {'form': 'reshape', 'name': 'r',
                               'shape': [4, 2], 'inputs': 'in',
                               'activation': 'relu'}
    with pytest.raises(util.ConfigurationError) as info:
        layers.Reshape(inputs='in', size=8, name='r').bind(graph)
    assert str(info.value) == 'reshape layer "r" has invalid shape None'
    for shape in [(3, 2), (-1, )]:
        with pytest.raises(util.ConfigurationError) as info:
            layers.Reshape(inputs='in', shape=shape, name='r').bind(graph)
        assert str(info.value) == 'incompatible shapes for reshape layer ' \
            '"r": input (8,) <> output {}'.format(shape)
    del messages()[:]
    layer = layers.Reshape(inputs='b', shape=(2, 2), name='r')
    layer.bind(graph)
    assert layer.output_shape == (2, 2)
    assert 'reshape layer "r" has incomplete shape info, we will run ' \
        'anyway and hope for the best' in messages()


@pytest.fixture(scope='module')
def structural():
    """One compiled function evaluating every structural layer."""
    a = layers.Input(shape=(2, 3), name='a')
    b = layers.Input(shape=(2, 3), name='b')
    c = layers.Input(size=8, name='c')
    built = [
        # the repeated 'a' collapses into one input
        layers.Layer.build('prod', inputs=('a', 'b', 'a'), name='prod'),
        layers.Layer.build('flat', inputs='a', name='flat'),
        layers.Layer.build('concat', inputs=('a', 'b'), name='cat'),
        layers.Layer.build('reshape', inputs='c', shape=(4, 2), name='rs'),
        layers.Layer.build('reshape', inputs='c', shape=(None, 2),
                           name='rsn'),
    ]
    graph = bind_all(a, b, c, *built)
    outputs = {}
    for layer in graph.layers:
        outs, updates = layer.connect(outputs)
        assert updates == []
        outputs.update(outs)
    names = sorted(outputs)
    fn = theano.function([a.input, b.input, c.input],
                         [outputs[name] for name in names])
    rng = np.random.RandomState(0)
    x = rng.randn(5, 2, 3).astype(util.FLOAT)
    y = rng.randn(5, 2, 3).astype(util.FLOAT)
    z = rng.randn(5, 8).astype(util.FLOAT)
    return x, y, z, dict(zip(names, fn(x, y, z)))


def test_structural_outputs(structural):
    x, y, z, values = structural
    assert sorted(values) == ['a:out', 'b:out', 'c:out', 'cat:out',
                              'flat:out', 'prod:out', 'rs:out', 'rsn:out']
    np.testing.assert_allclose(values['prod:out'], x * y, rtol=1e-6)
    np.testing.assert_array_equal(values['flat:out'], x.reshape(5, 6))
    np.testing.assert_array_equal(values['cat:out'],
                                  np.concatenate([x, y], axis=-1))
    np.testing.assert_array_equal(values['rs:out'], z.reshape(5, 4, 2))
    np.testing.assert_array_equal(values['rsn:out'], z.reshape(5, 4, 2))


def test_structural_layers_do_not_apply_activation(structural):
    x, y, z, values = structural
    assert (values['flat:out'] < 0).any()  # relu would have removed these
