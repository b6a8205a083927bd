"""Turn a whole theanets model into an ONNX model.

Like the other services of the package, the exporter reads a network
through its attributes (``layers``, ``build_graph``) and its prediction
methods, and never imports the graph or model modules.
"""

import collections
import json
import numbers
import os

import onnx
from onnx import helper

from .. import _files
from .. import layers
from .. import util
from ..exceptions import ConfigurationError, UnknownNameError
from . import _layers
from . import _recurrent
from ._builder import FLOAT, INT64, GraphBuilder, value_info

#: Operator set written when none is asked for (ONNX Runtime >= 1.12 reads
#: it).
DEFAULT_OPSET = 17

#: The oldest operator set that exports (the signatures of ``Split``,
#: ``Squeeze``, ``Unsqueeze`` and ``ReduceSum`` used here start there).
MIN_OPSET = 13

#: Converters by exact layer class.
CONVERTERS = {**_layers.CONVERTERS, **_recurrent.CONVERTERS}

_Output = collections.namedtuple('_Output', 'name source doc labels')


def _check_opset(opset):
    """The operator set to write: ``opset`` checked, or the default."""
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) \
            or not MIN_OPSET <= opset <= newest:
        raise ConfigurationError(
            'opset: expected an int from {} to {} (the newest that onnx {} '
            'knows), got {!r}'.format(MIN_OPSET, newest, onnx.__version__,
                                      opset))
    return int(opset)


def _model_outputs(model, available):
    """The outputs that the model's prediction methods return.

    Every model has ``predict``; a classifier (a model with
    ``predict_proba``) predicts labels, the argmax of ``predict_proba``, and
    has ``predict_logit`` when its last layer has a ``pre`` output; an
    autoencoder (a model with ``encode``) encodes with its middle layer.
    """
    last = model.layers[-1]
    kind = type(model).__name__
    if _has_method(model, 'predict_proba'):
        result = [
            _Output('predict', last.output_name, 'the most likely class of '
                    'each example ({}.predict)'.format(kind), True),
            _Output('predict_proba', last.output_name, 'class probabilities '
                    '({}.predict_proba)'.format(kind), False)]
        if _has_method(model, 'predict_logit') and \
                last.full_name('pre') in available:
            result.append(_Output(
                'predict_logit', last.full_name('pre'), 'values before the '
                'softmax ({}.predict_logit)'.format(kind), False))
    else:
        result = [_Output('predict', last.output_name, 'the output of the '
                          'last layer ({}.predict)'.format(kind), False)]
    if _has_method(model, 'encode'):
        middle = model.layers[len(model.layers) // 2]
        result.append(_Output(
            'encode', middle.output_name, 'the encoding by the middle '
            'layer ({}.encode)'.format(kind), False))
    return result


def _has_method(model, name):
    return callable(getattr(model, name, None))


def _extra_outputs(outputs, available, taken):
    """Outputs asked for by theanets name (``'hid1:out'``, or ``'hid1'``)."""
    if outputs is None:
        return []
    if isinstance(outputs, str):
        outputs = [outputs]
    result = []
    for name in outputs:
        if not isinstance(name, str):
            raise ConfigurationError(
                'outputs: expected names of layer outputs such as '
                '"hid1:out", got {!r}'.format(name))
        full = name if ':' in name else name + ':out'
        if full not in available:
            raise UnknownNameError(full, 'output', list(available))
        if full not in taken:
            taken.add(full)
            result.append(_Output(full, full, 'output "{}" of the theanets '
                                  'model'.format(full), False))
    return result


def _needed(model, requested):
    """Short names of the outputs each layer must compute, by layer name."""
    needed = collections.defaultdict(set)
    for output in requested:
        layer, _, short = output.source.partition(':')
        needed[layer].add(short)
    for layer in reversed(model.layers):
        if needed[layer.name]:
            for source in _sources(layer):
                name, _, short = source.partition(':')
                needed[name].add(short or 'out')
    return needed


def _sources(layer):
    """Full names of the layer outputs that ``layer`` reads."""
    if type(layer) in _recurrent.CONVERTERS:
        return _recurrent.sources(layer)
    return _layers.sources(layer)


def _converter(layer):
    """The converter of ``layer``'s exact class, or a clear error."""
    try:
        return CONVERTERS[type(layer)]
    except KeyError:
        raise _layers.unsupported(
            layer, 'there is no ONNX conversion for this layer class; the '
            'layer classes of theanets.layers convert (a subclass may '
            'compute something else, so it does not)') from None


def _input_shape(layer):
    """Symbolic ONNX shape of an input layer: batch first, then its axes."""
    shape = ['batch']
    per_example = tuple(layer.output_shape)
    for axis, dim in enumerate(per_example):
        if dim is not None:
            shape.append(int(dim))
        elif len(per_example) == 2 and axis == 0:
            shape.append('time')
        else:
            shape.append('{}_axis{}'.format(layer.name, axis + 1))
    return shape


def _inputs(model):
    """The input layers of ``model`` (at least one)."""
    found = [layer for layer in model.layers
             if isinstance(layer, layers.Input)]
    if not found:
        raise ConfigurationError(
            'model: cannot export a network without an input layer')
    return found


def convert(model, opset=None, outputs=None):
    """Build the ONNX model of a theanets model, without writing it.

    Parameters
    ----------
    model : :class:`theanets.Network`
        The model (bound, as every constructed or loaded model is).
    opset : int, optional
        See :func:`export`.
    outputs : sequence of str, optional
        See :func:`export`.

    Returns
    -------
    onnx.ModelProto
        The checked ONNX model.

    Raises
    ------
    theanets.util.ConfigurationError
        If a layer or activation the outputs depend on cannot be exported,
        ``opset`` is out of range, or an extra output is unknown.

    Examples
    --------
    >>> net = theanets.Regressor([3, (4, 'tanh'), 2])
    >>> proto = convert(net)
    >>> [value.name for value in proto.graph.input]
    ['in']
    >>> [value.name for value in proto.graph.output]
    ['predict']
    """
    if not (hasattr(model, 'layers') and _has_method(model, 'build_graph')):
        raise ConfigurationError(
            'model: expected a theanets.Network, got {!r}'.format(model))
    opset = _check_opset(opset)
    if not model.layers:
        raise ConfigurationError(
            'model: cannot export a network without layers')
    inputs = _inputs(model)
    available = model.build_graph()[0]
    requested = _model_outputs(model, available)
    requested += _extra_outputs(outputs, available,
                                set(o.name for o in requested))
    needed = _needed(model, requested)

    b = GraphBuilder(opset)
    graph_inputs = [value_info(b.reserve(layer.name), FLOAT,
                               _input_shape(layer)) for layer in inputs]
    for output in requested:
        if output.name == output.source:  # an extra output
            continue
        if b.taken(output.name):
            raise ConfigurationError(
                'input layer "{}" cannot be exported: the ONNX output of '
                'that name holds {}; rename the layer'.format(
                    output.name, output.doc))
        b.reserve(output.name)
    values = {}
    claimed = set()
    for layer in model.layers:
        wanted = needed.get(layer.name)
        if layer in inputs:
            values[layer.output_name] = layer.name
            continue
        if not wanted:
            continue
        convert_layer = _converter(layer)
        with b.scope(layer.name):
            produced = convert_layer(b, layer, values, wanted)
        renamed = {}
        for short in sorted(wanted):
            tensor = renamed.get(produced[short], produced[short])
            full = layer.full_name(short)
            if tensor not in claimed and b.produces(tensor):
                b.rename(tensor, full)
                renamed[tensor] = tensor = full
            claimed.add(tensor)
            values[full] = tensor

    graph_outputs = []
    for output in requested:
        tensor = values[output.source]
        if output.labels:
            b.op('ArgMax', [tensor], outputs=[output.name], axis=-1,
                 keepdims=0)
        elif tensor != output.name:
            b.op('Identity', [tensor], outputs=[output.name])
        info = value_info(output.name, INT64 if output.labels else FLOAT,
                          _output_shape(model, output, available))
        info.doc_string = output.doc
        graph_outputs.append(info)

    proto = helper.make_model(
        b.graph(type(model).__name__, graph_inputs, graph_outputs),
        opset_imports=[helper.make_opsetid('', opset)],
        producer_name='theanets', producer_version=_version(),
        doc_string='{} exported by theanets {}'.format(
            type(model).__name__, _version()))
    proto.ir_version = _ir_version(opset)
    helper.set_model_props(proto, {
        'theanets.model': '{}.{}'.format(type(model).__module__,
                                         type(model).__name__),
        'theanets.outputs': json.dumps(
            {o.name: o.source for o in requested}),
    })
    _infer_output_shapes(proto)
    onnx.checker.check_model(proto)
    return proto


def _version():
    from .. import __version__
    return __version__


def _ir_version(opset):
    """The oldest IR version that holds ``opset`` (readable by more tools)."""
    try:
        return helper.find_min_ir_version_for(
            [helper.make_opsetid('', opset)])
    except Exception:  # an onnx without the table: its own version
        return onnx.IR_VERSION


def _output_shape(model, output, available):
    """What is known of an output's shape before shape inference.

    The rank is Theano's. The prediction outputs have the batch axis first,
    and the lengths of a layer's ``out`` are its declared shape.
    """
    rank = available[output.source].ndim - (1 if output.labels else 0)
    shape = [None] * rank
    if output.name == output.source:  # an extra output: only the rank
        return shape
    shape[0] = 'batch'
    name, _, short = output.source.partition(':')
    layer = [layer for layer in model.layers if layer.name == name][0]
    declared = layer.output_shapes.get(short)
    if short == 'out' and declared and len(declared) == rank - 1 + \
            (1 if output.labels else 0):
        for axis, dim in enumerate(declared[:rank - 1]):
            shape[axis + 1] = dim
    return shape


def _infer_output_shapes(proto):
    """Fill in the output lengths that ONNX shape inference can derive."""
    try:
        inferred = onnx.shape_inference.infer_shapes(proto)
    except Exception:  # inference is a convenience; the model stands
        return
    for declared, found in zip(proto.graph.output, inferred.graph.output):
        dims = declared.type.tensor_type.shape.dim
        derived = found.type.tensor_type.shape.dim
        if len(dims) != len(derived):
            continue
        for dim, other in zip(dims, derived):
            if not dim.HasField('dim_value') and not dim.HasField(
                    'dim_param') and (other.HasField('dim_value') or
                                      other.HasField('dim_param')):
                dim.CopyFrom(other)


def export(model, path_or_file, opset=None, outputs=None):
    """Write a theanets model as an ONNX model.

    See :mod:`theanets.onnx` for what the file holds.

    Parameters
    ----------
    model : :class:`theanets.Network`
        The model to export.
    path_or_file : str, path or binary file object
        Where to write. A path is written atomically: the model goes to a
        temporary file in the same folder, which then replaces the target,
        so the target is never half written; nothing is written when the
        model cannot be exported.
    opset : int, optional
        The ONNX operator set version, from 13 to the newest the installed
        ``onnx`` knows. Defaults to :data:`DEFAULT_OPSET`.
    outputs : sequence of str, optional
        Further outputs of the ONNX model, by theanets output name, e.g.
        ``['hid1:out', 'hid1:pre']`` (a bare layer name means its ``out``);
        each ONNX output has that name.

    Returns
    -------
    onnx.ModelProto
        The model that was written.

    Raises
    ------
    theanets.util.ConfigurationError
        If a layer or activation the outputs depend on cannot be exported
        (the message names it and says why), ``opset`` is out of range, or
        an extra output is unknown.

    Examples
    --------
    >>> import io
    >>> net = theanets.Classifier([4, (5, 'relu'), 3])
    >>> buffer = io.BytesIO()
    >>> proto = export(net, buffer)
    >>> [o.name for o in proto.graph.output]
    ['predict', 'predict_proba', 'predict_logit']
    >>> buffer.getvalue() == proto.SerializeToString()
    True
    """
    proto = convert(model, opset=opset, outputs=outputs)
    data = proto.SerializeToString()
    if isinstance(path_or_file, (str, os.PathLike)):
        _files.atomic_write(os.fspath(path_or_file),
                            lambda handle: handle.write(data))
    else:
        path_or_file.write(data)
    util.log('exported {} to ONNX (opset {}): {}', type(model).__name__,
             proto.opset_import[0].version, path_or_file)
    return proto
