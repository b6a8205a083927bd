"""Assemble an ONNX graph node by node.

:class:`GraphBuilder` hides the bookkeeping the converters would otherwise
repeat: unique tensor names, deduplicated constants, parameters stored once,
the operators whose signature changed between opsets (the reductions take
their axes as an input from opset 18 on), and loop bodies, which read the
weights and constants of the main graph from the outer scope.
"""

import contextlib

import numpy as np
import onnx
from onnx import helper, numpy_helper

#: Element type of every float tensor of an exported model.
FLOAT = onnx.TensorProto.FLOAT

#: Element type of integer index tensors (time steps, shapes).
INT64 = onnx.TensorProto.INT64

#: Reductions whose ``axes`` became an input (instead of an attribute) in
#: opset 18; ``ReduceSum`` changed in opset 13, the oldest opset exported.
_AXES_INPUT_SINCE_18 = ('ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd',
                        'ReduceL1', 'ReduceL2', 'ReduceLogSumExp',
                        'ReduceSumSquare')

#: Ends for a slice that runs backwards past the first element.
_BEFORE_START = np.iinfo(np.int64).min


class GraphBuilder(object):
    """Collects the nodes of one ONNX graph.

    Parameters
    ----------
    opset : int
        Version of the default ONNX operator set the graph targets.
    parent : GraphBuilder, optional
        The builder of the enclosing graph, for a loop body (see
        :meth:`body`). A body shares its parent's names, and its constants
        and parameters live in the main graph.

    Attributes
    ----------
    nodes : list of ``onnx.NodeProto``
        The nodes, in topological order.
    initializers : list of ``onnx.TensorProto``
        Constants and parameters (main graph only).

    Examples
    --------
    >>> b = GraphBuilder(17)
    >>> y = b.op('Relu', ['x'])
    >>> y, b.nodes[0].op_type
    ('relu', 'Relu')
    >>> b.const([1.5, 2.0]) == b.const([1.5, 2.0])
    True
    """

    def __init__(self, opset, parent=None):
        self.opset = opset
        self.parent = parent
        self.root = self if parent is None else parent.root
        self.nodes = []
        self.initializers = []
        self._scope = [] if parent is None else list(parent._scope)
        if parent is None:
            self._used = set()
            self._constants = {}
            self._params = {}

    # -- names ---------------------------------------------------------

    def reserve(self, name):
        """Claim ``name`` exactly; raise if it is taken."""
        used = self.root._used
        if name in used:
            raise ValueError('tensor name {!r} is already used'.format(name))
        used.add(name)
        return name

    def taken(self, name):
        """Whether ``name`` is already used in this graph."""
        return name in self.root._used

    def fresh(self, hint):
        """A new unique name built from the current scope and ``hint``."""
        base = '/'.join(self._scope + [hint])
        used = self.root._used
        name, count = base, 1
        while name in used:
            count += 1
            name = '{}_{}'.format(base, count)
        used.add(name)
        return name

    @contextlib.contextmanager
    def scope(self, name):
        """Prefix the names created inside the block with ``name/``."""
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    # -- nodes ---------------------------------------------------------

    def op(self, op_type, inputs, outputs=1, hint=None, **attributes):
        """Append a node; return its output name (or list of names).

        Parameters
        ----------
        op_type : str
            ONNX operator, e.g. ``'MatMul'``.
        inputs : list of str
            Input tensor names (``''`` for an omitted optional input).
        outputs : int or list of str, optional
            The number of outputs (named from ``hint``), or their names.
        hint : str, optional
            Base of the output names; defaults to the operator in lower case.
        **attributes
            Node attributes.
        """
        hint = hint or op_type.lower()
        if isinstance(outputs, int):
            names = [self.fresh(hint) for _ in range(outputs)]
        else:
            names = list(outputs)
        node = helper.make_node(op_type, list(inputs), names,
                                name=self.fresh(hint + ':' + op_type),
                                **attributes)
        self.nodes.append(node)
        return names[0] if len(names) == 1 else names

    def const(self, value, dtype=np.float32, hint='const'):
        """A constant tensor in the main graph; equal values share one."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        root = self.root
        if key not in root._constants:
            name = root._unique(hint)
            root.initializers.append(numpy_helper.from_array(array, name))
            root._constants[key] = name
        return root._constants[key]

    def _unique(self, name):
        """``name`` itself if it is free, else a numbered variant of it."""
        if name not in self.root._used:
            return self.reserve(name)
        saved, self._scope = self._scope, []
        try:
            return self.fresh(name)
        finally:
            self._scope = saved

    def array(self, value, name, dtype=np.float32):
        """Store an array computed at export time under its own name."""
        root = self.root
        name = root._unique(name)
        root.initializers.append(numpy_helper.from_array(
            np.asarray(value, dtype=dtype), name))
        return name

    def param(self, shared):
        """The initializer holding a Theano shared variable (stored once)."""
        root = self.root
        key = id(shared)
        if key not in root._params:
            value = np.asarray(shared.get_value(borrow=True), np.float32)
            name = root._unique(shared.name or 'param')
            root.initializers.append(numpy_helper.from_array(value, name))
            root._params[key] = (name, shared)
        return root._params[key][0]

    def rename(self, old, new):
        """Rename tensor ``old`` (produced by a node here) to ``new``.

        Uses in loop bodies, which read outer tensors by name, are renamed
        too.
        """
        self.reserve(new)
        _rename_in(self.nodes, old, new)
        self.root._used.discard(old)

    def produces(self, name):
        """Whether a node of this builder has an output called ``name``."""
        return any(name in node.output for node in self.nodes)

    # -- operators whose form depends on the opset ----------------------

    def reduce(self, op_type, x, axes, keepdims=1, hint=None):
        """A reduction over ``axes`` (list of ints)."""
        if op_type == 'ReduceSum' or (op_type in _AXES_INPUT_SINCE_18 and
                                      self.opset >= 18):
            return self.op(op_type, [x, self.const(axes, np.int64)],
                           hint=hint, keepdims=keepdims)
        return self.op(op_type, [x], hint=hint, axes=list(axes),
                       keepdims=keepdims)

    def unsqueeze(self, x, axes, hint=None):
        """Insert axes of length 1."""
        return self.op('Unsqueeze', [x, self.const(axes, np.int64)],
                       hint=hint)

    def squeeze(self, x, axes, hint=None):
        """Remove axes of length 1."""
        return self.op('Squeeze', [x, self.const(axes, np.int64)], hint=hint)

    def slice(self, x, starts, ends, axes, steps=None, hint=None):
        """``x`` sliced along ``axes``."""
        inputs = [x, self.const(starts, np.int64), self.const(ends, np.int64),
                  self.const(axes, np.int64)]
        if steps is not None:
            inputs.append(self.const(steps, np.int64))
        return self.op('Slice', inputs, hint=hint)

    def reverse(self, x, axis, hint=None):
        """``x`` with the order of ``axis`` reversed."""
        return self.slice(x, [-1], [_BEFORE_START], [axis], [-1],
                          hint=hint or 'reversed')

    def transpose(self, x, perm, hint=None):
        """``x`` with its axes permuted."""
        return self.op('Transpose', [x], hint=hint, perm=list(perm))

    def split(self, x, sizes, axis, hint=None):
        """Split ``x`` into pieces of the given sizes along ``axis``."""
        return self.op('Split', [x, self.const(sizes, np.int64)],
                       outputs=len(sizes), hint=hint, axis=axis)

    def batch_size(self, x):
        """A 1-element int64 tensor holding the length of axis 0 of ``x``."""
        return self.slice(self.op('Shape', [x], hint='shape'), [0], [1], [0],
                          hint='batch_size')

    def zeros(self, x, size, hint='zeros'):
        """Zeros of shape ``(batch, size)``, with the batch of ``x``."""
        shape = self.op('Concat', [self.batch_size(x),
                                   self.const([size], np.int64)],
                        hint=hint + '_shape', axis=0)
        return self.op('Expand', [self.const(np.zeros((1, size))), shape],
                       hint=hint)

    # -- graphs --------------------------------------------------------

    def body(self):
        """A builder for a loop body nested in this graph."""
        return GraphBuilder(self.opset, parent=self)

    def graph(self, name, inputs, outputs):
        """Make the ``onnx.GraphProto`` of the nodes collected so far.

        ``inputs`` and ``outputs`` are lists of ``ValueInfoProto``.
        """
        return helper.make_graph(
            self.nodes, name, inputs, outputs,
            initializer=self.initializers if self.parent is None else None)


def _rename_in(nodes, old, new):
    """Replace the tensor name ``old`` by ``new`` in nodes and subgraphs."""
    for node in nodes:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _rename_in(attribute.g.node, old, new)
                for value in attribute.g.output:
                    if value.name == old:
                        value.name = new


def value_info(name, elem_type=FLOAT, shape=None):
    """A ``ValueInfoProto``; ``shape`` entries are ints, names or None."""
    return helper.make_tensor_value_info(name, elem_type, shape)
