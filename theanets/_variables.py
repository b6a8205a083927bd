"""Remaking the symbolic variables of an unpickled model.

A pickled model holds backend variables: its parameters and other shared
arrays, and the symbolic inputs and targets its layers and losses were
built with. Nothing of them is used after loading but each one's value (or
type), name and broadcast pattern, and a mutated file can leave a variable,
or its type, without an attribute that compiling reads much later.
:mod:`theanets.saving` therefore replaces every one of them by a new
variable made from those checked parts (:func:`rebuilt`), and
:func:`theanets.saving.cast_to_floatx` by one in the running float type
(:func:`as_floatx`); :func:`replace_variables` does the replacing.
"""

import numpy as np

from . import activations
from . import layers
from . import losses
from . import util
from .backend import theano, SS, TT
from .exceptions import ModelFileError


def replace_variables(model, replacement):
    """Replace each symbolic variable held by a layer, loss or activation
    of ``model`` (in attributes, lists, dicts and tuples) by
    ``replacement(variable)``; a variable held several times is replaced
    once. Returns the ``(original, replacement)`` pairs."""
    replaced = {}  # id -> (original, replacement); keeps originals alive
    visited = set()

    def visit(value):
        if isinstance(value, theano.gof.Variable):
            if id(value) not in replaced:
                replaced[id(value)] = (value, replacement(value))
            return replaced[id(value)][1]
        if isinstance(value, list):
            value[:] = [visit(item) for item in value]
        elif isinstance(value, dict):
            for key in list(value):
                value[key] = visit(value[key])
        elif type(value) is tuple:
            items = tuple(visit(item) for item in value)
            if any(a is not b for a, b in zip(items, value)):
                return items
        elif isinstance(value, (layers.Layer, losses.Loss,
                                activations.Activation)):
            if id(value) not in visited:
                visited.add(id(value))
                attributes = vars(value)
                for name in list(attributes):
                    attributes[name] = visit(attributes[name])
        return value

    for part in list(model.layers) + list(model.losses):
        visit(part)
    return list(replaced.values())


def rebuilt(variable):
    """A new variable like an unpickled ``variable``, from checked parts.

    A shared variable becomes ``theano.shared`` of a copy of its value (a
    numeric array, floats in :data:`theanets.util.FLOAT`) with its name and
    broadcast pattern; a symbolic input (computed by no op) a new variable
    of its tensor or sparse type; anything else (constants, expressions) is
    returned as it is. The new variable has the original's record of where
    it was made (``tag.trace``, which the backend shows in its error
    messages) if that is well formed, or none. Raises ModelFileError for parts
    that do not fit.
    """
    name = variable.name
    if name is not None and not isinstance(name, str):
        raise ModelFileError('a variable is named {!r}, not a string'.format(
            name))
    label = name or 'a variable'
    if isinstance(variable, theano.compile.SharedVariable):
        value = variable.get_value(borrow=True)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in 'biuf':
            raise ModelFileError('{} holds a {}, not a numeric array'.format(
                label, type(value).__name__))
        pattern = _broadcastable(variable, label, value.shape)
        value = np.array(value, util.FLOAT if value.dtype.kind == 'f'
                         else value.dtype)
        fresh = theano.shared(value, name=name, broadcastable=pattern,
                              borrow=True)
    elif getattr(variable, 'owner', None) is not None or isinstance(
            variable, theano.Constant):
        return variable
    # (PyTensor's sparse type is a kind of tensor type: it comes first)
    elif isinstance(variable.type, SS.SparseType):
        dtype = _input_dtype(variable, label)
        layout = variable.type.format
        if layout not in ('csr', 'csc'):
            raise ModelFileError('{} has the sparse format {!r}'.format(
                label, layout))
        fresh = SS.SparseType(layout, dtype)(name)
    elif isinstance(variable.type, TT.TensorType):
        dtype = _input_dtype(variable, label)
        fresh = TT.TensorType(dtype, _broadcastable(variable, label))(name)
    else:
        raise ModelFileError('{} has the type {}, not a tensor or sparse '
                             'type'.format(label,
                                           type(variable.type).__name__))
    trace = getattr(getattr(variable, 'tag', None), 'trace', None)
    if _is_trace(trace):
        fresh.tag.trace = trace
    else:  # not this function's own frames either
        vars(fresh.tag).pop('trace', None)
    return fresh


def _is_trace(trace):
    """Whether ``trace`` is a list of stacks of (file, line, function,
    source) frames, as the backends record where a variable was made."""
    return isinstance(trace, list) and all(
        isinstance(stack, list) and all(
            isinstance(frame, tuple) and len(frame) == 4 and
            isinstance(frame[1], int) and
            all(isinstance(part, str) for part in frame[::2]) and
            isinstance(frame[3], (str, type(None)))
            for frame in stack)
        for stack in trace)


def _broadcastable(variable, label, shape=None):
    """The checked broadcast pattern of an unpickled variable."""
    pattern = variable.type.broadcastable
    if not isinstance(pattern, tuple) or not all(
            isinstance(flag, (bool, np.bool_)) for flag in pattern) or (
                shape is not None and (len(pattern) != len(shape) or any(
                    flag and size != 1 for flag, size in zip(pattern, shape)))):
        raise ModelFileError('{} has the broadcast pattern {!r}{}'.format(
            label, pattern, '' if shape is None else
            ' for an array of shape {}'.format(shape)))
    return tuple(bool(flag) for flag in pattern)


def _input_dtype(variable, label):
    """The checked dtype of an unpickled symbolic input, floats as floatX."""
    dtype = variable.type.dtype
    if not isinstance(dtype, str) or dtype not in _INPUT_DTYPES:
        raise ModelFileError('{} has the dtype {!r}'.format(label, dtype))
    return util.FLOAT if np.dtype(dtype).kind == 'f' else dtype


#: The dtypes a model's inputs and targets can have.
_INPUT_DTYPES = frozenset(
    'float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 '
    'uint64 bool'.split())


def as_floatx(variable):
    """Return ``variable`` remade in :data:`theanets.util.FLOAT` (as
    :func:`rebuilt` does) if it is a float variable of another float type
    (a shared one holding an array), anything else unchanged."""
    dtype = getattr(variable, 'dtype', None)
    if dtype is None or np.dtype(dtype).kind != 'f' or dtype == util.FLOAT:
        return variable
    if isinstance(variable, theano.compile.SharedVariable) and not \
            isinstance(variable.get_value(borrow=True), np.ndarray):
        return variable  # e.g. a sparse matrix: left as it is
    return rebuilt(variable)
