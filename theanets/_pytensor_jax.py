r"""theanets' graphs under PyTensor's JAX linker.

PyTensor compiles a graph through JAX when its mode is ``JAX`` (for example
``PYTENSOR_FLAGS=mode=JAX``): every Op of the optimised graph is translated
into a JAX function by ``pytensor.link.jax.dispatch.jax_funcify``, and the
whole graph is ``jax.jit``-compiled, for the processor or for an
accelerator (a GPU with a CUDA build of ``jaxlib``). Out of the box that
fails on the graphs theanets builds:

* theanets' own Ops (:mod:`theanets.ops`: the fused RNN, LSTM and GRU
  recurrences, channels-last convolution and max pooling) have only C and
  NumPy implementations;
* JAX needs every array shape as a concrete number while it traces, and
  PyTensor's translation keeps a shape concrete only while nothing computes
  with it; but PyTensor's shape inference replaces the shapes in theanets'
  graphs by the expressions that compute them (a pooled length ``(W - F) //
  s + 1``, a number of classes checked by an ``Assert``), so ``reshape``,
  ``zeros``, ``arange`` (the classifier losses' one-hot mask), ``split``
  (the GRU's gradient) and ``scan``'s buffers fail.

:func:`register` mends both: the Ops get JAX functions that compute what
their NumPy ``perform`` computes (given by :mod:`theanets.ops` through
:func:`extend`: recurrences with ``lax.scan``, convolution with
``lax.conv_general_dilated``, pooling with ``lax.reduce_window``), integer
scalars and vectors computed from concrete values are computed while JAX
traces (:func:`_shape_values_eagerly`), and ``arange`` and ``split`` take
such values; binomial draws (dropout) get a JAX implementation where
PyTensor has none without NumPyro. The compiled functions run their matrix
products and convolutions at full float32 precision unless the user chose
another (:func:`products_precision`). JAX's 64-bit types are left as
PyTensor sets them: on only for ``floatX=float64``, so the few float64
parts of a float32 model's graph (the losses' means) are computed in
float32, and results agree with the C linker's to float32 rounding.

PyTensor imports its JAX dispatch only when it first links a graph through
JAX, and so does theanets: :func:`install` makes the linker call
:func:`register` first, so neither JAX nor its dispatch is imported by a
process that never uses the JAX linker.

Only :mod:`theanets._pytensor_theano` (which installs the hook) and
:func:`theanets.backend.extend_jax` import this module.
"""

import functools
import os
import threading

#: Serialises :func:`register`.
_lock = threading.Lock()

#: Whether :func:`register` has run in this process.
_registered = []

#: The providers added by :func:`extend`.
_extensions = []


def install(linker_class):
    """Make ``linker_class`` (PyTensor's ``JAXLinker``) call
    :func:`register` before it translates its first graph, and run the
    functions it compiles at full float32 precision (see
    :func:`products_precision`)."""
    convert = linker_class.fgraph_convert
    if getattr(convert, '_theanets_jax', False):
        return
    jit_compile = linker_class.jit_compile

    @functools.wraps(convert)
    def fgraph_convert(self, *args, **kwargs):
        register()
        return convert(self, *args, **kwargs)

    @functools.wraps(jit_compile)
    def jit_compile_at_precision(self, fn):
        compiled = jit_compile(self, fn)
        precision = products_precision()
        if precision is None:
            return compiled
        import jax

        @functools.wraps(compiled)
        def call(*args):
            with jax.default_matmul_precision(precision):
                return compiled(*args)
        return call

    fgraph_convert._theanets_jax = True
    linker_class.fgraph_convert = fgraph_convert
    linker_class.jit_compile = jit_compile_at_precision


def products_precision():
    """The precision of matrix products and convolutions in the functions
    theanets compiles with JAX: ``'highest'`` unless the user chose one.

    On GPUs JAX's default lets float32 products run in TensorFloat-32 (a
    10-bit mantissa), which would make a model trained on a GPU differ
    from the same model trained on the processor in the fourth digit. The
    environment variable ``JAX_DEFAULT_MATMUL_PRECISION`` (for example
    ``tensorfloat32``), or ``jax.config.update(
    'jax_default_matmul_precision', ...)`` before a function is compiled,
    wins; then this returns None.
    """
    import jax
    if (os.environ.get('JAX_DEFAULT_MATMUL_PRECISION')
            or jax.config.jax_default_matmul_precision is not None):
        return None
    return 'highest'


def register():
    """Register theanets' JAX implementations with PyTensor (once)."""
    with _lock:
        if _registered:
            return
        from pytensor.graph.fg import AbstractFunctionGraph
        from pytensor.link.jax.dispatch import jax_funcify
        jax_funcify.register(AbstractFunctionGraph)(_function_graph)
        _register_binomial()
        for provider in [_implementations] + _extensions:
            _register_implementations(provider)
        _registered.append(True)


def extend(provider):
    """Add JAX implementations of more Ops: ``provider()`` returns
    ``[(op_class, implement), ...]``, where ``implement(op, node)`` returns
    the JAX function of a node (of its input arrays, returning its output
    array or a tuple of them). It is called when the JAX linker first
    translates a graph (at once if it has), so it may import JAX.
    :mod:`theanets.ops` gives its Ops' implementations this way."""
    with _lock:
        _extensions.append(provider)
        if _registered:
            _register_implementations(provider)


def _register_implementations(provider):
    from pytensor.link.jax.dispatch import jax_funcify
    for op_class, implement in provider():
        jax_funcify.register(op_class)(_dispatcher(implement))


def _register_binomial():
    """Give PyTensor's JAX translation binomial draws (dropout's masks)
    where it has none (it uses NumPyro's when NumPyro is installed)."""
    import jax
    from pytensor.link.jax.dispatch import random
    from pytensor.tensor.random.basic import BinomialRV
    if random.numpyro_available:
        return

    @random.jax_sample_fn.register(BinomialRV)
    def binomial(op, node):
        def sample(key, size, dtype, n, p):
            if size is None:
                size = jax.numpy.broadcast_shapes(jax.numpy.shape(n),
                                                  jax.numpy.shape(p))
            draws = jax.random.binomial(key, n, p, shape=size,
                                        dtype=jax.numpy.asarray(p).dtype)
            return draws.astype(dtype)
        return sample


def _dispatcher(implement):
    """A ``jax_funcify`` dispatch function calling ``implement(op, node)``."""
    def funcify(op, node=None, **kwargs):
        return implement(op, node)
    return funcify


def _function_graph(fgraph, node=None, fgraph_name='jax_funcified_fgraph',
                    **kwargs):
    """PyTensor's translation of a whole graph, each node through
    :func:`_shape_values_eagerly`."""
    from pytensor.link.jax.dispatch import jax_funcify, jax_typify
    from pytensor.link.utils import fgraph_to_python
    return fgraph_to_python(fgraph, _shape_values_eagerly(jax_funcify),
                            type_conversion_fn=jax_typify,
                            fgraph_name=fgraph_name, **kwargs)


def _shape_values_eagerly(convert):
    """Wrap the node translation ``convert`` so that integer scalars and
    vectors computed from concrete values (array shapes, constants) are
    computed while JAX traces, not staged into the compiled function.

    JAX needs the shapes of new arrays (``reshape``, ``zeros``) as concrete
    values; PyTensor's translation keeps a shape concrete only while it is
    passed along unchanged, but theanets' graphs compute output lengths
    (convolution and pooling, ``(W - F) // s + 1``) and PyTensor's shape
    inference puts those expressions in place of the shapes. Computed by
    the Op's own NumPy implementation (:func:`_computed_in_numpy`), they
    stay concrete. Nodes with any traced (data-dependent) input are left as
    they are."""
    import functools
    import jax

    def convert_node(op, node=None, **kwargs):
        function = convert(op, node=node, **kwargs)
        if node is None or not all(map(_is_shape_like, node.outputs)):
            return function
        compute = _computed_in_numpy(node, function)

        @functools.wraps(function)
        def shape_values(*values):
            if any(isinstance(v, jax.core.Tracer) for v in values):
                return function(*values)
            return compute(*values)
        return shape_values
    return convert_node


def _computed_in_numpy(node, function):
    """A function of ``node``'s concrete input values returning its
    outputs as its Op's ``perform`` computes them (NumPy, where JAX would
    compile a small computation for each), else as ``function`` (its JAX
    translation) computes them outside the trace."""
    import jax
    import numpy as np

    def compute(*values):
        storage = [[None] for _ in node.outputs]
        try:
            inputs = [v.type.filter(np.asarray(value), allow_downcast=True)
                      for v, value in zip(node.inputs, values)]
            node.op.perform(node, inputs, storage)
        except (AttributeError, NotImplementedError, TypeError):
            storage = [[None]]
        outputs = [s[0] for s in storage]
        if any(value is None for value in outputs):
            # no NumPy implementation (PyTensor's own JAX-only Ops)
            with jax.ensure_compile_time_eval():
                return function(*values)
        return outputs[0] if len(outputs) == 1 else outputs
    return compute


def _is_shape_like(variable):
    """Whether ``variable`` is an integer or boolean scalar or vector."""
    dtype = getattr(variable.type, 'dtype', None)
    return (dtype is not None and getattr(variable.type, 'ndim', 2) <= 1
            and dtype[:3] in ('int', 'uin', 'boo'))


def _implementations():
    """[(op_class, implement), ...] of this module: ``implement(op, node)``
    returns the JAX function of one node."""
    from pytensor.tensor.basic import ARange, Split
    from pytensor.tensor.extra_ops import CpuContiguous
    return [(ARange, _arange), (Split, _split), (CpuContiguous, _identity)]


def _arange(op, node):
    """``arange`` of bounds known while JAX traces the graph: constants, and
    also shapes, whatever ops PyTensor put around them (``Assert``s of equal
    lengths, casts); a bound computed from array values fails in JAX with
    its own message."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    def concrete(value):
        if isinstance(value, jax.core.Tracer):
            return value
        # a Python int: PyTensor types small constants as int8, and
        # jnp.arange checks the stop against the start's dtype
        return np.asarray(value).item()

    # int32 unless JAX's 64-bit types are on (PyTensor turns them on for
    # floatX=float64 only)
    dtype = jax.dtypes.canonicalize_dtype(op.dtype)

    def arange(start, stop, step):
        return jnp.arange(concrete(start), concrete(stop), concrete(step),
                          dtype=dtype)
    return arange


def _split(op, node):
    """``split`` at sizes known while JAX traces the graph (as for
    :func:`_arange`): the gradient of a ``concatenate`` (the GRU's gates)
    splits at the lengths of its inputs."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    def split(x, sizes):
        if isinstance(sizes, jax.core.Tracer):
            return jnp.split(x, jnp.cumsum(sizes[:-1]), axis=op.axis)
        sizes = np.asarray(sizes)
        if (len(sizes) != op.len_splits or (sizes < 0).any()
                or sizes.sum() != x.shape[op.axis]):
            raise ValueError(
                'split: sizes {} do not cut axis {} of length {} into {} '
                'parts'.format(sizes.tolist(), op.axis, x.shape[op.axis],
                               op.len_splits))
        return jnp.split(x, np.cumsum(sizes[:-1]), axis=op.axis)
    return split


def _identity(op, node):
    """``CpuContiguous``: a JAX array has no memory layout to fix."""
    return lambda x: x
