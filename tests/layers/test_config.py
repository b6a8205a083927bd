"""Layer configurations: get_config, from_config, clone and to_spec; tied
decoders of every kind of partner; unsupervised pretraining, which rebuilds
the encoder from its configuration. (The .npz files that store
configurations are tested in test_serialize.py.)

Every layer class and option is rebuilt from the JSON text of its network's
configurations; the rebuilt network must have the same classes,
configurations, parameter values (same seed) and outputs.
"""

import inspect
import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse

import theanets  # noqa: F401  (configures Theano)
from theanets import convolution, feedforward, layers, recurrent, util
from theanets.layers import base
from theanets.backend import theano, TT

RNG = np.random.RandomState(21)
T = 4  # time steps of recurrent data

#: Quick to compile; unlike mode='FAST_COMPILE' (whose Python linker is
#: quicker still for recurrent loops) it runs the convolution and pooling
#: Ops, which need their C code.
FAST = theano.Mode(optimizer='fast_compile')

FF = feedforward.Regressor
RNN = recurrent.Regressor
CNN = convolution.Regressor
H0 = dict(form='input', name='h0', size=4, ndim=2)
IN3 = dict(form='input', name='in', size=3)


CASES = {
    # structural layers and inputs
    'input-dense': (FF, [3, 2], 0),
    'input-csr': (FF, [dict(form='input', size=3, sparse='csr'), 2], 0),
    'input-csc': (FF, [dict(form='input', size=3, sparse=True), 2], 0),
    'input-shape': (CNN, [dict(form='input', shape=(3, 2, 2)), 'flat', 2], 0),
    'product': (FF, [3, 4, dict(size=4, inputs='in'),
                     dict(form='prod', inputs=('hid1', 'hid2')), 2], 3),
    'concatenate': (FF, [3, 4, dict(size=2, inputs='in'),
                         dict(form='concat', inputs=['hid1', 'hid2']), 2], 3),
    'flatten': (CNN, [(3, 2, 2), dict(form='flat', size=12), 2], 1),
    'reshape': (FF, [4, dict(form='reshape', shape=(2, 2)), 'flat', 3], 1),
    'reshape-unknown': (FF, [4, dict(form='reshape', shape=[None, 2]),
                             dict(form='reshape', shape=(4, )), 3], 1),
    # feed-forward layers
    'feedforward': (FF, [3, (4, 'tanh'), 2], 1),
    'feedforward-init': (FF, [3, dict(size=3, mean=0.1, std=0.3, diagonal=0.5,
                                      sparsity=0.2, mean_b=1, std_b=0.1), 2],
                         1),
    'feedforward-inputs': (FF, [3, 4, dict(size=2, inputs=('in', 'hid1')),
                                2], 2),
    'feedforward-sparse': (FF, [dict(form='input', size=3, sparse='csr'),
                                (4, 'sigmoid'), 2], 1),
    'classifier': (FF, [3, dict(form='softmax', size=4, activation='tanh'),
                        2], 1),
    'tied': (feedforward.Autoencoder, [3, (4, 'tanh'), ('tied', 'linear')],
             2),
    'tied-partner': (feedforward.Autoencoder,
                     [3, 4, 2, dict(form='tied', partner='hid2'),
                      dict(form='tied', partner='hid1', activation='linear')],
                     4),
    # convolution and pooling layers
    'conv1': (RNN, [3, dict(form='conv1', size=2, filter_size=2), 2], 1),
    'conv1-options': (RNN, [3, dict(form='conv1', size=2, filter_size=3,
                                    stride=2, border_mode='full', std=0.5),
                            2], 1),
    'conv1-padding': (RNN, [3, dict(form='conv1', size=2, filter_size=2,
                                    border_mode=1), 2], 1),
    'conv2': (CNN, [(5, 4, 3), dict(form='conv2', size=2, filter_size=(2, 3)),
                    'flat', 2], 1),
    'conv2-options': (CNN, [(5, 4, 3),
                            dict(form='conv2', size=2, filter_size=(3, 2),
                                 stride=(2, 1), border_mode='half',
                                 sparsity_w=0.3),
                            'flat', 2], 1),
    'conv2-padding': (CNN, [(5, 4, 3),
                            dict(form='conv2', size=2, filter_size=2,
                                 stride=2, border_mode=(1, 0)),
                            'flat', 2], 1),
    'pool1': (RNN, [3, dict(form='pool1', pool_size=2, stride=1,
                            mode='sum', activation='linear'), 2], 1),
    'pool2': (CNN, [(4, 4, 2), dict(form='pool2', pool_size=(2, 1),
                                    mode='average_exc_pad'), 'flat', 2], 1),
    # recurrent layers
    'rnn': (RNN, [3, (4, 'rnn', 'tanh'), 2], 1),
    'rnn-options': (RNN, [3, dict(form='rnn', size=4, direction='backward',
                                  bptt_limit=2, radius=1.2, std_hh=0.4),
                          2], 1),
    'rnn-h0': (RNN, [H0, IN3, dict(form='rnn', size=4, inputs='in',
                                   h_0='h0'), 2], 2),
    'bcrnn': (RNN, [3, dict(form='bcrnn', size=4, num_modules=2), 2], 1),
    'rrnn-matrix': (RNN, [3, dict(form='rrnn', size=4), 2], 1),
    'rrnn-vector': (RNN, [3, dict(form='rrnn', size=4, rate='vector'), 2], 1),
    'rrnn-uniform': (RNN, [3, dict(form='rrnn', size=4, rate='uniform'), 2],
                     1),
    'rrnn-log': (RNN, [3, dict(form='rrnn', size=4, rate='LOG'), 2], 1),
    'mrnn': (RNN, [3, dict(form='mrnn', size=4), 2], 1),
    'mrnn-factors': (RNN, [3, dict(form='mrnn', size=4, factors=3), 2], 1),
    'lstm': (RNN, [3, (4, 'lstm'), 2], 1),
    'lstm-states': (RNN, [H0, IN3, dict(form='lstm', size=4, inputs='in',
                                        h_0='h0', c_0='h0:out',
                                        bptt_limit=3), 2], 2),
    'gru': (RNN, [3, dict(form='gru', size=4, activation='tanh',
                          direction='back'), 2], 1),
    'clockwork': (RNN, [3, dict(form='clockwork', size=6,
                                periods=[4, 1, 2]), 2], 1),
    'mut1': (RNN, [3, dict(form='mut1', size=4), 2], 1),
    'scrn': (RNN, [3, dict(form='scrn', size=4), 2], 1),
    'scrn-options': (RNN, [H0, IN3, dict(form='scrn', size=4, inputs='in',
                                         rate='uniform', context_size=0.5,
                                         s_0='h0'), 2], 2),
    'scrn-log': (RNN, [3, dict(form='scrn', size=4, rate='log',
                               context_size=2), 2], 1),
    'bidirectional': (RNN, [3, dict(form='bidirectional', size=4), 2], 1),
    'bidirectional-lstm': (RNN, [H0, IN3, dict(
        form='bidirectional', size=8, inputs='in', worker='lstm', h_0='h0',
        direction='ignored')], 2),
    'bidirectional-rrnn': (RNN, [3, dict(form='bidirectional', size=4,
                                         worker='rrnn', rate='vector'), 2],
                           1),
}

#: Registered layer classes that cannot be used on their own.
ABSTRACT = {'Layer', 'Convolution', 'Pooling', 'Recurrent'}


def _network(model, specs, seed=13):
    """Build a network; fixed rate vectors draw from numpy's global RNG."""
    np.random.seed(seed)
    return model(specs)


def _data(net):
    """Random data for each input of ``net``, in the network's layout."""
    data = []
    for layer in net.layers:
        if not isinstance(layer, layers.Input):
            continue
        shape = tuple(T if dim is None else dim for dim in layer.output_shape)
        x = RNG.randn(3, *shape).astype(util.FLOAT)
        if layer.get_config()['sparse']:
            x = scipy.sparse.csr_matrix(x * (RNG.rand(*x.shape) < 0.5))
            if layer.get_config()['sparse'] == 'csc':
                x = x.tocsc()
        data.append(x)
    return data


def _outputs(a, b, data):
    """Every output of networks ``a`` and ``b`` on the same data, computed by
    one function (the inputs of ``b`` are replaced by those of ``a``)."""
    outs_a, _ = a.build_graph()
    outs_b, _ = b.build_graph()
    assert list(outs_a) == list(outs_b)
    exprs_b = theano.clone(list(outs_b.values()),
                           replace=dict(zip(b.inputs, a.inputs)))
    image = any(isinstance(layer, (layers.convolution.Convolution,
                                   layers.convolution.Pooling))
                for layer in a.layers)
    fn = theano.function(a.inputs, list(outs_a.values()) + exprs_b,
                         mode=FAST if image else 'FAST_COMPILE',
                         on_unused_input='ignore')
    values = fn(*data)
    half = len(outs_a)
    return list(outs_a), values[:half], values[half:]


def _json(config):
    return json.loads(json.dumps(config))


@pytest.fixture(autouse=True)
def _keep_global_rng():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.mark.parametrize('model, specs, index', list(CASES.values()),
                         ids=list(CASES))
def test_round_trip(model, specs, index):
    net = _network(model, specs)
    layer = net.layers[index]
    config = layer.get_config()
    assert config['form'] == type(layer).__name__.lower()
    assert config['name'] == layer.name
    assert 'rng' not in config
    # from the dict itself: the same class and the same configuration
    again = layers.Layer.from_config(config)
    assert type(again) is type(layer)
    assert again.get_config() == config
    # from its JSON text: the whole network is rebuilt from plain data
    configs = _json([l.get_config() for l in net.layers])
    rebuilt = _network(model, configs)
    assert [type(l) for l in rebuilt.layers] == [type(l) for l in net.layers]
    assert _json([l.get_config() for l in rebuilt.layers]) == configs
    assert [p.name for p in rebuilt.params] == [p.name for p in net.params]
    for p, q in zip(net.params, rebuilt.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    names, expected, actual = _outputs(net, rebuilt, _data(net))
    for name, x, y in zip(names, expected, actual):
        if scipy.sparse.issparse(x):
            assert x.format == y.format, name
            x, y = x.toarray(), y.toarray()
        assert x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_every_layer_class_has_a_case():
    covered = set()
    for model, specs, index in CASES.values():
        covered.add(type(_network(model, specs).layers[index]))
    # (other test modules register layer classes of their own)
    registered = {cls for cls in base.Layer._registry.values()
                  if cls.__module__.startswith('theanets.layers.')}
    missing = {c.__name__ for c in registered - covered} - ABSTRACT
    assert not missing


def _constructor_arguments(cls):
    names = set()
    for klass in cls.__mro__:
        init = vars(klass).get('__init__')
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                names.add(param.name)
    return names - {'self'}


@pytest.mark.parametrize('model, specs, index', list(CASES.values()),
                         ids=list(CASES))
def test_config_holds_every_constructor_argument(model, specs, index):
    layer = _network(model, specs).layers[index]
    expected = _constructor_arguments(type(layer))
    if isinstance(layer, layers.Input):
        expected.discard('ndim')  # follows from the shape
    assert expected <= set(layer.get_config())


# ---------------------------------------------------------------------------
# the options each class adds, and what to_spec shows of them

def _bind(*layer_list):
    """Bind layers in order into a minimal stand-in network."""
    stand_in = SimpleNamespace(layers=list(layer_list))
    for layer in layer_list:
        layer.bind(stand_in)
    return stand_in


def test_class_options_in_config_and_spec():
    conv1 = layers.Conv1(filter_size=3, stride=2, border_mode='full', size=2,
                         inputs='in', name='c')
    assert conv1.get_config() == dict(
        form='conv1', name='c', size=2, inputs='in', activation='relu',
        filter_size=3, stride=2, border_mode='full')
    assert conv1.to_spec() == dict(form='conv1', name='c', size=2,
                                   inputs='in', activation='relu')
    conv2 = layers.Conv2(filter_size=(3, 2), stride=2, size=2, inputs='in',
                         name='c', rng=4)
    assert conv2.get_config()['filter_size'] == (3, 2)
    assert conv2.get_config()['stride'] == (2, 2)
    assert conv2.get_config()['border_mode'] == 'valid'
    assert conv2.to_spec() == dict(form='conv2', name='c', size=2,
                                   inputs='in', activation='relu', rng=4)

    rrnn = layers.RRNN(rate=' Vector', size=3, inputs='in', name='r')
    assert rrnn.get_config()['rate'] == 'vector'
    assert 'rate' not in rrnn.to_spec()
    scrn = layers.SCRN(rate='log', size=3, inputs='in', name='s')
    assert scrn.get_config()['rate'] == 'log'
    assert 'rate' not in scrn.to_spec()

    sparse = layers.Input(size=3, sparse=True, name='x')
    assert sparse.get_config()['sparse'] == 'csr'
    assert layers.Input(size=3).get_config()['sparse'] is False
    assert sparse.to_spec() == dict(form='input', name='x', shape=(3, ),
                                    activation='linear')

    clock = layers.Clockwork(periods=np.array([8, 2]), size=4, inputs='in')
    assert clock.get_config()['periods'] == (2, 8)
    assert all(type(p) is int for p in clock.get_config()['periods'])
    bi = layers.Bidirectional(worker='gru', size=6, inputs='in', name='b',
                              direction='forward', rng=3)
    assert bi.get_config() == dict(form='bidirectional', name='b', size=6,
                                   inputs='in', activation='relu',
                                   worker='gru')
    pool = layers.Pool1(pool_size=3, inputs='in', name='p')
    assert pool.get_config() == pool.to_spec() == dict(
        form='pool1', name='p', inputs='in', activation='relu', pool_size=3,
        stride=3, mode='max')


def test_to_spec_is_config_plus_seed():
    layer = layers.Feedforward(size=2, inputs='in', name='l', rng=13,
                               std_w=0.5)
    assert layer.to_spec() == dict(layer.get_config(), rng=13)
    legacy = layers.Feedforward(size=2, inputs='in', name='l', nrng=5)
    assert legacy.to_spec()['nrng'] == 5 and 'nrng' not in \
        legacy.get_config()


def test_layer_objects_are_named():
    inp = layers.Input(size=3, name='x')
    h0 = layers.Input(size=2, name='h0')
    hid = layers.Feedforward(size=2, inputs=inp, name='hid')
    assert hid.get_config()['inputs'] == 'x:out'
    both = layers.Concatenate(inputs=[inp, 'hid'], name='cat')
    assert both.get_config()['inputs'] == ['x:out', 'hid']
    rnn = layers.RNN(size=2, inputs=inp, h_0=h0, name='r')
    assert rnn.get_config()['h_0'] == 'h0:out'
    tied = layers.Tied(partner=hid, inputs='hid', name='dec')
    assert tied.get_config()['partner'] == 'hid'
    json.dumps([l.get_config() for l in (hid, both, rnn, tied)])


def test_config_is_a_new_dict():
    layer = layers.Reshape(shape=(2, 2), inputs='in', name='r')
    config = layer.get_config()
    config['size'] = 4
    config.pop('shape')
    assert layer.kwargs == dict(shape=(2, 2), inputs='in')


def test_scrn_context_size_after_bind():
    scrn = layers.SCRN(size=9, inputs='in', name='s', context_size=0.5)
    assert scrn.get_config()['context_size'] == 0.5
    _bind(layers.Input(size=2, ndim=3, name='in'), scrn)
    assert scrn.get_config()['context_size'] == 4
    assert layers.Layer.from_config(scrn.get_config()).context_size == 4


def test_from_config_errors():
    with pytest.raises(util.ConfigurationError, match='"form"'):
        layers.Layer.from_config(dict(size=3, inputs='in'))
    with pytest.raises(util.ConfigurationError):
        layers.Layer.from_config(dict(form='nope', size=3))
    # keyword arguments win over the configuration
    layer = layers.Layer.from_config(
        dict(form='ff', size=3, inputs='in', name='a'), name='b', rng=2)
    assert (layer.name, layer.kwargs['rng']) == ('b', 2)


def test_clone_has_the_seed_and_fresh_parameters():
    net = FF([3, dict(size=4, std=0.2), 2], rng=np.random.RandomState(5))
    hid = net.layers[1]
    copy = hid.clone()
    assert copy is not hid and copy.kwargs['rng'] is hid.kwargs['rng']
    assert copy.get_config() == hid.get_config()
    net = FF([3, dict(size=4, std=0.2), 2], rng=8)
    hid = net.layers[1]
    copy = hid.clone(name='other')
    assert copy.name == 'other' and copy.kwargs['rng'] == 8
    copy.bind(net)
    for p, q in zip(hid.params, copy.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
        assert p is not q


# ---------------------------------------------------------------------------
# tied decoders of every kind of partner

def _tied_pair(input_spec, partner):
    """A partner layer bound after an input, and a linear tied decoder."""
    inp = layers.Input(name='in', **input_spec)
    partner = layers.Layer.from_config(dict(
        dict(name='p', inputs='in', rng=3, activation='linear'), **partner))
    dec = layers.Tied(partner='p', inputs='p', name='d', activation='linear',
                      mean_b=0, std_b=0)
    _bind(inp, partner, dec)
    return inp, partner, dec


TIED_PARTNERS = {
    'ff': (dict(size=3), dict(form='ff', size=2)),
    'rnn': (dict(size=3, ndim=3), dict(form='rnn', size=2)),
    'rrnn': (dict(size=3, ndim=3), dict(form='rrnn', size=2, rate='vector')),
    'flat': (dict(shape=(2, 3)), dict(form='flat')),
    'reshape': (dict(shape=(2, 3)), dict(form='reshape', shape=(3, 2))),
    'conv1': (dict(size=3, ndim=3), dict(form='conv1', size=2,
                                         filter_size=2)),
    'conv1-full-stride': (dict(shape=(7, 3)), dict(
        form='conv1', size=2, filter_size=3, stride=2, border_mode='full')),
    'conv1-padding': (dict(size=3, ndim=3), dict(
        form='conv1', size=2, filter_size=2, stride=3, border_mode=1)),
    'conv2': (dict(shape=(5, 4, 3)), dict(form='conv2', size=2,
                                          filter_size=(2, 3))),
    'conv2-half-stride': (dict(shape=(5, 4, 3)), dict(
        form='conv2', size=2, filter_size=(3, 2), stride=(2, 1),
        border_mode='half')),
    'conv2-padding': (dict(shape=(6, 5, 3)), dict(
        form='conv2', size=2, filter_size=2, stride=2, border_mode=(1, 0))),
}


@pytest.mark.parametrize('input_spec, partner', list(TIED_PARTNERS.values()),
                         ids=list(TIED_PARTNERS))
def test_tied_decoder_is_the_transpose(input_spec, partner):
    inp, layer, dec = _tied_pair(input_spec, partner)
    assert dec.output_shape == inp.output_shape
    x = inp.input
    out = layer.connect({'in:out': x})[0]['p:out']
    shape = tuple(T if d is None else d for d in inp.output_shape)
    xv = RNG.randn(2, *shape).astype(util.FLOAT)
    out_shape = theano.function([x], out, mode=FAST)(xv).shape
    yv = RNG.randn(*out_shape).astype(util.FLOAT)
    y = TT.TensorType(util.FLOAT, (False, ) * yv.ndim)('y')
    # with the partner's input in the graph, as in a network
    decoded = theano.function(
        [x, y], dec.connect({'in:out': x, 'p:out': y})[0]['d:out'],
        mode=FAST, on_unused_input='ignore')(xv, yv)
    assert decoded.shape == xv.shape
    if isinstance(layer, layers.recurrent.Recurrent):
        expected = yv.dot(layer.find('xh').get_value().T)
    else:
        # the partner is linear (plus a bias): its transpose is the gradient
        # of <y, partner(x)> with respect to x
        grad = theano.grad((y * out).sum(), x)
        expected = theano.function([x, y], grad, mode=FAST)(xv, yv)
    np.testing.assert_allclose(decoded, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('input_spec, partner, message', [
    (dict(size=3, ndim=3), dict(form='lstm', size=2), r'"p.xh" of shape'),
    (dict(size=3, ndim=3), dict(form='gru', size=2), r'"p.xh" of shape'),
    (dict(shape=(4, 3)), dict(form='pool1', pool_size=2), r'"p.w"'),
    (dict(size=3), dict(form='prod', inputs=('in', 'in')), r'"p.w"'),
])
def test_tied_decoder_refuses_other_partners(input_spec, partner, message):
    with pytest.raises(util.ConfigurationError, match=message):
        inp, layer, dec = _tied_pair(input_spec, partner)
        x = inp.input
        outputs = layer.connect({'in:out': x})[0]
        dec.connect(outputs)


def test_tied_decoder_alone_infers_unknown_lengths():
    # Without the partner's input in the graph, an unknown time length is
    # the one a stride-1 convolution maps to the decoder's input length.
    inp, layer, dec = _tied_pair(dict(size=3, ndim=3), dict(
        form='conv1', size=2, filter_size=3, border_mode='half'))
    y = TT.tensor3('y')
    fn = theano.function([y], dec.connect({'p:out': y})[0]['d:out'],
                         mode=FAST)
    assert fn(RNG.randn(2, 5, 2).astype(util.FLOAT)).shape == (2, 5, 3)


# ---------------------------------------------------------------------------
# unsupervised pretraining rebuilds the encoder from its configuration

PRETRAIN = {
    'conv2': (CNN, [(5, 4, 2), dict(form='conv2', size=3, filter_size=(2, 2),
                                    stride=(1, 2)), 'flat', 2],
              lambda: RNG.randn(6, 5, 4, 2)),
    'conv1': (RNN, [3, dict(form='conv1', size=2, filter_size=2,
                            border_mode='full'), 2],
              lambda: RNG.randn(6, T, 3)),
    'rrnn': (RNN, [3, dict(form='rrnn', size=4, rate='vector'), 2],
             lambda: RNG.randn(6, T, 3)),
    'sparse': (FF, [dict(form='input', size=5, sparse='csr'), (4, 'tanh'), 2],
               lambda: scipy.sparse.random(6, 5, 0.4, format='csr',
                                           random_state=RNG)),
}


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def messages():
    handler = _Messages()
    logger = logging.getLogger('theanets')
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


@pytest.mark.parametrize('model, specs, data', list(PRETRAIN.values()),
                         ids=list(PRETRAIN))
def test_pretraining_keeps_the_configuration(model, specs, data, messages):
    net = model(specs)
    configs = [layer.get_config() for layer in net.layers]
    before = {p.name: p.get_value() for p in net.params}
    x = data().astype(util.FLOAT)
    net.train([x], algo='pretrain', max_updates=2, batch_size=3,
              validate_every=1, learning_rate=0.1)
    assert [layer.get_config() for layer in net.layers] == configs
    after = {p.name: p.get_value() for p in net.params}
    assert [(k, v.shape) for k, v in after.items()] == \
        [(k, v.shape) for k, v in before.items()]
    hidden = [p.name for layer in net.layers[1:-1] for p in layer.params]
    copied = [m[len('copying pretrained parameter '):] for m in messages
              if m.startswith('copying pretrained parameter ')]
    assert copied == hidden
    for name in hidden:
        assert not np.array_equal(after[name], before[name]), name
    for param in net.layers[-1].params:
        np.testing.assert_array_equal(after[param.name], before[param.name])
