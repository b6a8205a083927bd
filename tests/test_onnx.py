"""theanets.onnx: exported models compute what theanets computes.

Each family of layers is gathered in one "zoo" model per module, so that
Theano compiles one function per family: every layer reads the model input
(and every recurrent layer, for some, an initial state), and the tests export
each layer's outputs as extra ONNX outputs and compare what ONNX Runtime
computes with ``feed_forward`` (or with the prediction methods, for the model
kinds), on several batch sizes and sequence lengths.
"""

import importlib
import io
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import scipy.sparse
from click.testing import CliRunner

import theanets
import theanets.onnx
from theanets import activations
from theanets import layers
from theanets import util
from theanets.__main__ import main

from tests.helpers import LEGACY_MODELS as LEGACY, ROOT

#: float32 agreement between Theano and ONNX Runtime.
TOLERANCE = dict(rtol=1e-5, atol=2e-6)

#: The operator sets checked: the oldest, the default, the first where the
#: reductions take axes as an input, and the newest onnx knows.
OPSETS = sorted({13, theanets.onnx.DEFAULT_OPSET, 18,
                 onnx.defs.onnx_opset_version()})


def convert(model, **kwargs):
    """Export ``model`` and check the result as strictly as onnx can."""
    proto = theanets.onnx.convert(model, **kwargs)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run(proto, feeds):
    """All outputs of an ONNX model under ONNX Runtime, by name."""
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), providers=['CPUExecutionProvider'])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def op_types(proto):
    """The operators of a model's main graph."""
    return {node.op_type for node in proto.graph.node}


def assert_outputs(proto, feeds, expected):
    """ONNX Runtime's outputs equal ``expected`` (a dict by output name)."""
    got = run(proto, feeds)
    for name, value in expected.items():
        assert got[name].shape == value.shape, name
        assert got[name].dtype == value.dtype, name
        np.testing.assert_allclose(got[name], value, err_msg=name,
                                   **TOLERANCE)


class Zoo(object):
    """A model, input cases, and its ``feed_forward`` values for each case."""

    def __init__(self, model, cases):
        self.model = model
        self.cases = cases
        self.values = [model.feed_forward(feeds[0] if len(feeds) == 1
                                          else list(feeds))
                       for feeds in cases]
        self.input_names = [layer.name for layer in model.layers
                            if isinstance(layer, layers.Input)]

    def outputs_of(self, layer):
        return sorted(name for name in self.values[0]
                      if name.partition(':')[0] == layer)

    def check(self, names, **kwargs):
        """Export ``names`` too; compare them and ``predict`` in each case."""
        proto = convert(self.model, outputs=names, **kwargs)
        last = self.model.layers[-1].output_name
        for feeds, values in zip(self.cases, self.values):
            expected = {name: values[name] for name in names}
            expected['predict'] = values[last]
            assert_outputs(proto, dict(zip(self.input_names, feeds)),
                           expected)
        return proto


def _rng():
    return np.random.RandomState(13)


# -- activations --------------------------------------------------------------

ACTIVATIONS = [
    'linear', 'logistic', 'sigmoid', 'tanh', 'softplus', 'softmax', 'relu',
    'rect:max', 'rect:min', 'rect:minmax', 'norm:mean', 'norm:max',
    'norm:std', 'norm:z', 'prelu', 'leaky-relu', 'lgrelu', 'leaky-gain-relu',
    'elu', 'maxout:3', 'relu+norm:z', 'tanh+prelu+norm:max', 'elu+maxout:2',
]


@pytest.fixture(scope='module')
def activation_zoo():
    names = ['a{}'.format(i) for i in range(len(ACTIVATIONS))]
    model = theanets.Regressor(
        [5] + [dict(name=name, size=4, inputs='in', activation=act)
               for name, act in zip(names, ACTIVATIONS)] +
        [dict(form='concat', name='out', inputs=tuple(names))])
    rng = _rng()
    # Spread wide enough to cross 0 and 1, where the rectifiers bend.
    cases = [(3 * rng.randn(rows, 5).astype('f'), ) for rows in (1, 3, 17)]
    return Zoo(model, cases)


@pytest.mark.parametrize('index', range(len(ACTIVATIONS)),
                         ids=ACTIVATIONS)
def test_activation(activation_zoo, index):
    layer = 'a{}'.format(index)
    activation_zoo.check([layer + ':pre', layer + ':out'])


@pytest.mark.parametrize('opset', OPSETS)
def test_activations_at_every_opset(activation_zoo, opset):
    names = [name for name in activation_zoo.values[0]
             if name != 'in:out']
    proto = activation_zoo.check(names, opset=opset)
    assert proto.opset_import[0].version == opset


def test_prelu_is_the_onnx_operator(activation_zoo):
    proto = convert(activation_zoo.model)
    assert {'PRelu', 'Softmax', 'Softplus', 'Clip'} <= op_types(proto)


def test_activations_of_legacy_pickles_are_recognised():
    import theano.tensor as TT
    from theanets.onnx import _activations
    assert _activations.common_name(activations._relu) == 'relu'
    assert _activations.common_name(TT.tanh) == 'tanh'
    # unpickling makes an equal copy of a Theano op, not the same object
    import pickle
    copy = pickle.loads(pickle.dumps(TT.nnet.sigmoid))
    assert _activations.native_name(copy) == 'Sigmoid'


# -- structural and feed-forward layers ---------------------------------------

@pytest.fixture(scope='module')
def structure_zoo():
    model = theanets.Regressor([
        6,
        dict(name='h1', size=4, activation='tanh'),
        dict(name='h2', size=4, inputs='in', activation='relu'),
        dict(name='multi', size=4, inputs=('in', 'h1'), activation='sigmoid'),
        dict(form='tied', name='tied', partner='h1', inputs='h1',
             activation='linear'),
        dict(form='prod', name='prod', inputs=('h1', 'h2', 'multi')),
        dict(form='concat', name='cat', inputs=('h1', 'h2', 'multi')),
        dict(form='reshape', name='grid', inputs='cat', shape=(3, 4)),
        dict(form='reshape', name='cube', inputs='cat', shape=(2, None, 2)),
        dict(form='flat', name='flat', inputs='grid'),
        dict(form='classifier', name='clf', size=3, inputs='flat'),
        dict(name='out', size=2, inputs=('clf', 'tied', 'prod'),
             activation='linear'),
    ])
    rng = _rng()
    return Zoo(model, [(rng.randn(rows, 6).astype('f'), )
                       for rows in (1, 4, 11)])


@pytest.mark.parametrize('layer', [
    'h1', 'multi', 'tied', 'prod', 'cat', 'grid', 'cube', 'flat', 'clf',
    'out'])
def test_structural_and_feedforward_layer(structure_zoo, layer):
    structure_zoo.check(structure_zoo.outputs_of(layer))


def test_every_output_of_the_structure_zoo(structure_zoo):
    proto = structure_zoo.check(
        [name for name in structure_zoo.values[0] if name != 'in:out'])
    # the tied layer shares its partner's weights: one copy in the file
    names = [tensor.name for tensor in proto.graph.initializer]
    assert names.count('h1.w') == 1 and 'tied.w' not in names


def test_sparse_input_exports_as_dense():
    model = theanets.Regressor([dict(size=6, sparse='csr'), (3, 'tanh'), 2])
    rng = _rng()
    dense = (rng.rand(5, 6) > 0.6) * rng.randn(5, 6).astype('f')
    dense = dense.astype('f')
    expected = model.predict(scipy.sparse.csr_matrix(dense))
    proto = convert(model)
    assert proto.graph.input[0].type.tensor_type.elem_type == \
        onnx.TensorProto.FLOAT
    assert_outputs(proto, {'in': dense}, {'predict': expected})


# -- convolution and pooling --------------------------------------------------

CONV2 = [
    ('c_valid', dict(filter_size=(3, 2))),
    ('c_full', dict(filter_size=(2, 3), border_mode='full')),
    ('c_half', dict(filter_size=(3, 3), border_mode='half')),
    ('c_half_even', dict(filter_size=(2, 2), border_mode='half')),
    ('c_int', dict(filter_size=(3, 2), border_mode=1, stride=(2, 1))),
    ('c_pair', dict(filter_size=(3, 2), border_mode=(0, 2), stride=(2, 2))),
    ('c_stride', dict(filter_size=(2, 2), stride=(2, 3))),
]
POOL2 = [
    ('p_max', dict(pool_size=(2, 2), mode='max')),
    ('p_sum', dict(pool_size=(3, 2), stride=(1, 2), mode='sum')),
    ('p_inc', dict(pool_size=(2, 3), stride=(2, 1),
                   mode='average_inc_pad')),
    ('p_exc', dict(pool_size=(2, 2), stride=(1, 1), mode='average_exc_pad',
                   activation='tanh')),
]


@pytest.fixture(scope='module')
def image_zoo():
    specs = [dict(form='conv2', name=name, size=3, inputs='in',
                  activation='relu', **kw) for name, kw in CONV2]
    specs += [dict(form='pool2', name=name, inputs='in', **dict(
        dict(activation='linear'), **kw)) for name, kw in POOL2]
    model = theanets.convolution.Regressor(
        [(7, 6, 2)] + specs +
        [dict(form='flat', name='flat', inputs='c_pair'),
         dict(name='out', size=2, activation='linear')])
    rng = _rng()
    return Zoo(model, [(rng.randn(rows, 7, 6, 2).astype('f'), )
                       for rows in (1, 3)])


@pytest.mark.parametrize('layer', [name for name, _ in CONV2 + POOL2])
def test_conv2_and_pool2(image_zoo, layer):
    image_zoo.check(image_zoo.outputs_of(layer))


CONV1 = [
    ('k_valid', dict(form='conv1', size=4, filter_size=3)),
    ('k_full', dict(form='conv1', size=2, filter_size=2, border_mode='full')),
    ('k_half', dict(form='conv1', size=3, filter_size=3, border_mode='half',
                    stride=2)),
    ('k_int', dict(form='conv1', size=3, filter_size=3, border_mode=2,
                   stride=3, activation='tanh')),
    ('q_max', dict(form='pool1', pool_size=2, activation='linear')),
    ('q_sum', dict(form='pool1', pool_size=3, stride=1, mode='sum')),
    ('q_avg', dict(form='pool1', pool_size=2, stride=3,
                   mode='average_exc_pad', activation='linear')),
]


@pytest.fixture(scope='module')
def sequence_conv_zoo():
    model = theanets.recurrent.Regressor(
        [3] + [dict(name=name, inputs='in', **kw) for name, kw in CONV1] +
        [dict(name='out', size=2, inputs='k_valid', activation='linear')])
    rng = _rng()
    return Zoo(model, [(rng.randn(rows, steps, 3).astype('f'), )
                       for rows, steps in ((1, 5), (3, 8))])


@pytest.mark.parametrize('layer', [name for name, _ in CONV1])
def test_conv1_and_pool1(sequence_conv_zoo, layer):
    proto = sequence_conv_zoo.check(sequence_conv_zoo.outputs_of(layer))
    # the time axis stays dynamic
    assert proto.graph.input[0].type.tensor_type.shape.dim[1].dim_param == \
        'time'


# -- recurrent layers ---------------------------------------------------------

H = 4

#: One of each recurrent form, with the directions, initial states and
#: activations spread over them.
RECURRENT = [
    ('rnn', dict(form='rnn', activation='tanh')),
    ('rnn_back', dict(form='rnn', activation='relu', direction='backward',
                      h_0='h0')),
    ('bcrnn', dict(form='bcrnn', activation='tanh', num_modules=2)),
    ('clock', dict(form='clockwork', activation='tanh', periods=(1, 3),
                   direction='back')),
    ('rrnn', dict(form='rrnn', activation='tanh', rate='matrix', h_0='h0')),
    ('rrnn_log', dict(form='rrnn', activation='relu', rate='log',
                      direction='backward')),
    ('mrnn', dict(form='mrnn', activation='tanh', factors=3,
                  direction='backward')),
    ('lstm', dict(form='lstm')),
    ('lstm_back', dict(form='lstm', direction='backward', h_0='h0',
                       c_0='h0')),
    ('gru', dict(form='gru', activation='tanh', direction='backward',
                 h_0='h0')),
    ('gru_linear', dict(form='gru', activation='linear')),
    ('mut1', dict(form='mut1', direction='backward')),
    ('scrn', dict(form='scrn', activation='tanh', s_0='h0')),
    ('bi_lstm', dict(form='bidirectional', worker='lstm')),
    ('bi_gru', dict(form='bidirectional', worker='gru', activation='relu')),
]

#: The remaining combinations, in the slow run.
RECURRENT_MORE = [
    ('rnn_linear', dict(form='rnn', activation='linear')),
    ('rnn_sigmoid_h0', dict(form='rnn', activation='sigmoid', h_0='h0')),
    ('bcrnn_back', dict(form='bcrnn', activation='relu', num_modules=4,
                        direction='backward', h_0='h0')),
    ('clock_fw', dict(form='clockwork', activation='tanh', periods=(2, 1))),
    ('rrnn_vector', dict(form='rrnn', activation='relu', rate='vector',
                         direction='backward')),
    ('rrnn_uniform', dict(form='rrnn', activation='tanh', rate='uniform')),
    ('mrnn_h0', dict(form='mrnn', activation='relu', h_0='h0')),
    ('lstm_h0', dict(form='lstm', h_0='h0')),
    ('gru_norm', dict(form='gru', activation='tanh+norm:z')),
    ('gru_sigmoid', dict(form='gru', activation='sigmoid')),
    ('mut1_h0', dict(form='mut1', h_0='h0')),
    ('scrn_uniform', dict(form='scrn', activation='relu', rate='uniform',
                          direction='backward', h_0='h0')),
    ('bi_rnn', dict(form='bidirectional', worker='rnn', activation='tanh')),
    ('bi_clock', dict(form='bidirectional', worker='clockwork',
                      periods=(1, 2))),
]

#: (batch size, sequence length) of the inputs.
SEQUENCES = [(1, 1), (2, 4), (5, 9)]


def _recurrent_zoo(specs):
    model = theanets.recurrent.Regressor(
        [3, dict(form='input', name='h0', size=H, ndim=2)] +
        [dict(name=name, size=H, inputs='in', **kw) for name, kw in specs] +
        [dict(form='concat', name='cat', inputs=tuple(n for n, _ in specs)),
         dict(name='out', size=2, inputs='cat', activation='linear')])
    rng = _rng()
    return Zoo(model, [(rng.randn(rows, steps, 3).astype('f'),
                        0.5 * rng.randn(rows, H).astype('f'))
                       for rows, steps in SEQUENCES])


@pytest.fixture(scope='module')
def recurrent_zoo():
    return _recurrent_zoo(RECURRENT)


@pytest.fixture(scope='module')
def more_recurrent_zoo():
    return _recurrent_zoo(RECURRENT_MORE)


def _check_recurrent(zoo, layer):
    # Only "out": the ONNX recurrent operators where they apply.
    only_out = zoo.check([layer + ':out'])
    # Every output: a Scan for the layers whose outputs the operators lack.
    every = zoo.check(zoo.outputs_of(layer))
    return only_out, every


@pytest.mark.parametrize('layer', [name for name, _ in RECURRENT])
def test_recurrent_layer(recurrent_zoo, layer):
    _check_recurrent(recurrent_zoo, layer)


@pytest.mark.slow
@pytest.mark.parametrize('layer', [name for name, _ in RECURRENT_MORE])
def test_more_recurrent_layers(more_recurrent_zoo, layer):
    _check_recurrent(more_recurrent_zoo, layer)


def _recurrent_ops(zoo, names):
    """The ops of a model exporting ``names``, without the other layers."""
    model = zoo.model
    proto = theanets.onnx.convert(model, outputs=names)
    ops = set()
    for node in proto.graph.node:
        if any(node.name.startswith(name.split(':')[0] + '/')
               for name in names):
            ops.add(node.op_type)
    return ops


@pytest.mark.parametrize('layer, native', [
    ('rnn', 'RNN'), ('rnn_back', 'RNN'), ('lstm', 'LSTM'),
    ('lstm_back', 'LSTM'), ('gru', 'GRU'), ('bi_lstm', 'LSTM'),
    ('bi_gru', 'GRU')])
def test_recurrent_operators_where_equations_match(recurrent_zoo, layer,
                                                   native):
    ops = _recurrent_ops(recurrent_zoo, [layer + ':out'])
    assert native in ops and 'Scan' not in ops
    # outputs the operator does not return need the step equations
    other = [name for name in recurrent_zoo.outputs_of(layer)
             if not name.endswith(':out')]
    ops = _recurrent_ops(recurrent_zoo, other)
    assert 'Scan' in ops and native not in ops


@pytest.mark.parametrize('layer', ['gru_linear', 'mut1', 'clock', 'scrn'])
def test_other_forms_use_scan(recurrent_zoo, layer):
    assert 'Scan' in _recurrent_ops(recurrent_zoo, [layer + ':out'])


@pytest.mark.parametrize('opset', OPSETS)
def test_recurrent_layers_at_every_opset(recurrent_zoo, opset):
    recurrent_zoo.check(['lstm:out', 'lstm:cell', 'gru:out', 'scrn:out',
                         'clock:out'], opset=opset)


def test_recurrent_input_has_dynamic_batch_and_time(recurrent_zoo):
    proto = convert(recurrent_zoo.model)
    dims = [[d.dim_param or d.dim_value
             for d in value.type.tensor_type.shape.dim]
            for value in proto.graph.input]
    assert dims == [['batch', 'time', 3], ['batch', H]]


# -- model kinds --------------------------------------------------------------

def test_regressor_outputs():
    model = theanets.Regressor([4, (5, 'tanh'), (3, 'relu'), 2])
    x = _rng().randn(6, 4).astype('f')
    proto = convert(model)
    assert [o.name for o in proto.graph.output] == ['predict']
    assert_outputs(proto, {'in': x}, {'predict': model.predict(x)})


def test_network_base_class_exports_predict():
    model = theanets.Network([3, (2, 'tanh')])
    x = _rng().randn(2, 3).astype('f')
    assert_outputs(convert(model), {'in': x}, {'predict': model.predict(x)})


@pytest.mark.parametrize('rows', [1, 7])
def test_classifier_exports_labels_probabilities_and_logits(rows):
    model = theanets.Classifier([4, (5, 'tanh'), 3])
    x = _rng().randn(rows, 4).astype('f')
    proto = convert(model)
    assert [o.name for o in proto.graph.output] == [
        'predict', 'predict_proba', 'predict_logit']
    assert all(o.doc_string for o in proto.graph.output)
    assert_outputs(proto, {'in': x}, {
        'predict': model.predict(x), 'predict_proba': model.predict_proba(x),
        'predict_logit': model.predict_logit(x)})


def test_autoencoder_exports_predict_and_encode():
    model = theanets.Autoencoder([5, (3, 'sigmoid'), (2, 'tanh'), 'tied',
                                  'tied'])
    x = _rng().randn(4, 5).astype('f')
    proto = convert(model)
    assert [o.name for o in proto.graph.output] == ['predict', 'encode']
    assert_outputs(proto, {'in': x}, {'predict': model.predict(x),
                                      'encode': model.encode(x)})


def test_recurrent_classifier_labels_every_step():
    model = theanets.recurrent.Classifier([3, (4, 'lstm'), (5, 'gru'), 3])
    x = _rng().randn(2, 6, 3).astype('f')
    proto = convert(model)
    got = run(proto, {'in': x})
    assert got['predict'].shape == (2, 6)
    np.testing.assert_array_equal(got['predict'], model.predict(x))
    np.testing.assert_allclose(got['predict_proba'], model.predict_proba(x),
                               **TOLERANCE)


def test_recurrent_autoencoder():
    model = theanets.recurrent.Autoencoder([3, (4, 'rnn'), (3, 'linear')])
    x = _rng().randn(3, 5, 3).astype('f')
    assert_outputs(convert(model), {'in': x}, {'predict': model.predict(x),
                                               'encode': model.encode(x)})


def test_convolution_classifier():
    model = theanets.convolution.Classifier([
        (6, 5, 2), dict(form='conv2', size=3, filter_size=(2, 2)),
        dict(form='pool2', pool_size=(2, 2)), 'flat', 3])
    x = _rng().randn(4, 6, 5, 2).astype('f')
    assert_outputs(convert(model), {'in': x}, {
        'predict': model.predict(x), 'predict_proba': model.predict_proba(x)})


def test_two_input_network():
    model = theanets.Regressor([3, dict(form='input', name='side', size=2),
                                dict(size=4, inputs=('in', 'side')), 2])
    rng = _rng()
    x, side = rng.randn(5, 3).astype('f'), rng.randn(5, 2).astype('f')
    proto = convert(model)
    assert [i.name for i in proto.graph.input] == ['in', 'side']
    assert_outputs(proto, {'in': x, 'side': side},
                   {'predict': model.predict([x, side])})


@pytest.mark.parametrize('name', [
    'regressor_relu', 'classifier_tanh', 'autoencoder_tied'])
def test_legacy_models_reproduce_the_originals_outputs(name, tmp_path):
    model = theanets.Network.load(os.path.join(LEGACY, name + '.pkl.gz'))
    expected = np.load(os.path.join(LEGACY, name + '.npz'))
    path = tmp_path / (name + '.onnx')
    theanets.onnx.export(model, str(path))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    got = run(proto, {'in': expected['x']})
    np.testing.assert_allclose(got['predict'], expected['predict'],
                               rtol=1e-4, atol=1e-6)
    if 'predict_proba' in expected:
        np.testing.assert_allclose(got['predict_proba'],
                                   expected['predict_proba'],
                                   rtol=1e-4, atol=1e-6)


# -- writing ------------------------------------------------------------------

def test_to_onnx_writes_a_path_atomically(tmp_path):
    model = theanets.Regressor([3, 2])
    path = tmp_path / 'model.onnx'
    proto = model.to_onnx(path)
    assert os.listdir(str(tmp_path)) == ['model.onnx']
    assert path.read_bytes() == proto.SerializeToString()
    assert onnx.load(str(path)).producer_name == 'theanets'


def test_to_onnx_writes_a_file_object():
    buffer = io.BytesIO()
    proto = theanets.Regressor([3, 2]).to_onnx(buffer, opset=13)
    assert onnx.load_from_string(buffer.getvalue()) == proto
    assert proto.opset_import[0].version == 13


def test_metadata_names_the_model_and_sources():
    proto = convert(theanets.Classifier([3, 2]))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props['theanets.model'] == 'theanets.feedforward.Classifier'
    assert '"predict_logit": "out:pre"' in props['theanets.outputs']


# -- what does not export -----------------------------------------------------

@pytest.fixture
def custom():
    """An activation and a layer class of the test's own.

    Defining them registers them by name; the registries are restored
    afterwards, so the other tests never see them.
    """
    saved = (dict(activations.Activation._registry),
             dict(layers.Layer._registry))

    class Cube(activations.Activation):
        def __call__(self, x):
            return x ** 3

    class Doubled(layers.Feedforward):
        __extra_registration_keys__ = []

        def transform(self, inputs):
            outputs, updates = super().transform(inputs)
            return dict(out=2 * outputs['out'], pre=outputs['pre']), updates

    try:
        yield Cube, Doubled
    finally:
        for registry, copy in zip((activations.Activation._registry,
                                   layers.Layer._registry), saved):
            registry.clear()
            registry.update(copy)


def _custom_activation_model(cube, form):
    return theanets.recurrent.Regressor([
        3, dict(form=form, size=2, name='odd', activation=cube('cube', None)),
        2])


@pytest.mark.parametrize('form', ['ff', 'gru', 'rnn'])
def test_custom_activation_is_refused_before_writing(custom, form, tmp_path):
    path = tmp_path / 'model.onnx'
    with pytest.raises(util.ConfigurationError,
                       match=r'layer "odd" cannot be exported.*activation '
                       r"'cube' \(Cube\)"):
        theanets.onnx.export(_custom_activation_model(custom[0], form),
                             str(path))
    assert os.listdir(str(tmp_path)) == []


def test_failed_export_leaves_an_existing_file_alone(custom, tmp_path):
    path = tmp_path / 'model.onnx'
    path.write_bytes(b'old')
    with pytest.raises(util.ConfigurationError):
        _custom_activation_model(custom[0], 'ff').to_onnx(path)
    assert path.read_bytes() == b'old'
    assert os.listdir(str(tmp_path)) == ['model.onnx']


def test_layer_subclass_is_refused(custom):
    twice = custom[1](size=2, inputs='in:out', name='twice')
    model = theanets.Regressor([3, twice, dict(size=2, inputs='in')])
    with pytest.raises(util.ConfigurationError,
                       match=r'layer "twice" \(Doubled\) cannot be '
                       r'exported.*no ONNX conversion'):
        theanets.onnx.convert(model, outputs=['twice'])
    # the layer is not needed for the prediction outputs
    assert [o.name for o in convert(model).graph.output] == ['predict']


@pytest.mark.parametrize('opset', [12, 10 ** 3, '17', True, 17.0])
def test_bad_opset(opset):
    with pytest.raises(util.ConfigurationError,
                       match=r'opset: expected an int from 13 to'):
        theanets.onnx.convert(theanets.Regressor([3, 2]), opset=opset)


def test_unknown_extra_output():
    with pytest.raises(util.ConfigurationError, match='hid9:out'):
        theanets.onnx.convert(theanets.Regressor([3, 4, 2]),
                              outputs=['hid9'])


def test_input_named_like_an_output():
    model = theanets.Regressor([dict(size=3, name='predict'), 2])
    with pytest.raises(util.ConfigurationError,
                       match='input layer "predict" cannot be exported'):
        theanets.onnx.convert(model)


def test_not_a_network():
    with pytest.raises(util.ConfigurationError,
                       match='model: expected a theanets.Network'):
        theanets.onnx.convert(object())


def test_missing_onnx_package_names_the_extra(monkeypatch):
    saved = {name: module for name, module in sys.modules.items()
             if name == 'theanets.onnx' or name.startswith('theanets.onnx.')}
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'onnx', None)
    try:
        with pytest.raises(ImportError,
                           match=r"pip install 'theanets\[onnx\]'"):
            importlib.import_module('theanets.onnx')
    finally:
        monkeypatch.undo()
        theanets.onnx = saved['theanets.onnx']
    assert theanets.onnx is sys.modules['theanets.onnx']


# -- command line -------------------------------------------------------------

def test_command_line_exports_a_legacy_pickle(tmp_path):
    out = tmp_path / 'classifier.onnx'
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    proc = subprocess.run(
        [sys.executable, '-m', 'theanets', 'export',
         os.path.join(LEGACY, 'classifier_tanh.pkl.gz'), str(out)],
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert 'output predict_proba [batch, 4]' in proc.stdout
    expected = np.load(os.path.join(LEGACY, 'classifier_tanh.npz'))
    got = run(onnx.load(str(out)), {'in': expected['x']})
    np.testing.assert_array_equal(got['predict'], expected['predict'])
    np.testing.assert_allclose(got['predict_proba'],
                               expected['predict_proba'], rtol=1e-4)


def test_command_line_help():
    result = CliRunner().invoke(main, ['--help'])
    assert result.exit_code == 0 and 'export' in result.output
    result = CliRunner().invoke(main, ['export', '--help'])
    assert result.exit_code == 0
    assert 'MODEL OUT.onnx' in result.output and '--opset' in result.output


def test_command_line_options(tmp_path):
    model = tmp_path / 'model.npz'
    theanets.Regressor([3, (4, 'tanh'), 2]).save(str(model))
    out = tmp_path / 'model.onnx'
    result = CliRunner().invoke(main, [
        'export', str(model), str(out), '--opset', '13', '--output',
        'hid1:pre', '--no-pickle'])
    assert result.exit_code == 0, result.output
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version == 13
    assert [o.name for o in proto.graph.output] == ['predict', 'hid1:pre']


def test_command_line_reports_errors(tmp_path):
    bogus = tmp_path / 'bogus.pkl'
    bogus.write_bytes(b'not a model')
    out = tmp_path / 'out.onnx'
    result = CliRunner().invoke(main, ['export', str(bogus), str(out)])
    assert result.exit_code == 1
    assert result.output.startswith('Error: ') and 'bogus.pkl' in \
        result.output
    assert not out.exists()
    model = tmp_path / 'model.pkl'
    theanets.Regressor([3, 2]).save(str(model))
    result = CliRunner().invoke(main, ['export', str(model), str(out),
                                       '--opset', '5'])
    assert result.exit_code == 1 and 'opset' in result.output
    assert not out.exists()
    result = CliRunner().invoke(main, ['export', str(tmp_path / 'none'),
                                       str(out)])
    assert result.exit_code == 2 and 'does not exist' in result.output
