"""What the fused recurrent Ops share: their C sources and compile settings.

The C++ kernels live in ``kernels/`` next to this module (package data):
``common.cpp`` holds the helpers of every Op, ``rnn.cpp``, ``lstm.cpp``
and ``gru.cpp`` the recurrences. Each file is read once per process. An Op's compile-cache
version is a digest of the text it compiles, so an edited kernel is
recompiled without any version number to bump.
"""

import functools
import hashlib
import importlib.resources

import numpy as np

from ..backend import theano, TT, DisconnectedType, blas, blas_headers

#: Data types the Ops (and their C kernels) implement.
DTYPES = ('float32', 'float64')

#: The kernel file that every Op compiles before its own.
COMMON_KERNEL = 'common.cpp'

#: C++ block that c_code() fills in for each Apply node: it passes the node's
#: input and output arrays to a kernel entry point, which may replace the
#: output arrays (hence the assignments back).
C_CALL = """
{{
    PyArrayObject* rnn_in[{nin}] = {{{ins}}};
    PyArrayObject* rnn_out[{nout}] = {{{outs}}};
    int rnn_ret = {function}(rnn_in, rnn_out);
    {assign}
    if (rnn_ret != 0) {{
        {fail}
    }}
}}
"""


@functools.lru_cache(maxsize=None)
def kernel_source(name):
    """The text of the C++ kernel file ``kernels/<name>`` (read once).

    Examples
    --------
    >>> 'lstm_forward_run' in kernel_source('lstm.cpp')
    True
    """
    path = importlib.resources.files(__package__).joinpath('kernels', name)
    return path.read_text(encoding='utf-8')


def source_version(*texts):
    """A compile-cache version (a tuple of one int) digesting ``texts``.

    The digest (unlike Python's ``hash`` of a string) is the same in every
    process, so Theano's cache keeps the compiled module between runs.

    Examples
    --------
    >>> source_version('a', 'b') == source_version('a', 'b')
    True
    >>> source_version('a', 'b') == source_version('ab')
    False
    """
    digest = hashlib.sha256('\0'.join(texts).encode('utf-8')).hexdigest()
    return (int(digest[:15], 16), )


def sigmoid(x):
    """Logistic sigmoid in NumPy without overflow; NaN stays NaN.

    Examples
    --------
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


#: Activations that the RNN and GRU Ops implement, each with the C++
#: template argument of ``common.cpp`` that selects it.
ACTIVATION_KINDS = ('linear', 'relu', 'sigmoid', 'tanh')

#: Each activation kind's function g(p) and its derivative from p and
#: g(p), in NumPy (the Ops' ``perform``).
NUMPY_ACTIVATIONS = {
    'linear': (lambda p: p, lambda p, g: np.ones_like(p)),
    'relu': (lambda p: (p + np.abs(p)) / 2,
             lambda p, g: ((p > 0).astype(p.dtype) + (p >= 0)) / 2),
    'sigmoid': (sigmoid, lambda p, g: g * (1 - g)),
    'tanh': (np.tanh, lambda p, g: 1 - g * g),
}


def check_activation(op, activation):
    """Return the C++ template argument of ``activation``, one of
    :data:`ACTIVATION_KINDS`; raise ValueError for any other.

    Examples
    --------
    >>> check_activation('RNN', 'tanh')
    'RNN_TANH'
    """
    if activation not in ACTIVATION_KINDS:
        raise ValueError('{} op: activation must be one of {}, got '
                         '{!r}'.format(op, ACTIVATION_KINDS, activation))
    return 'RNN_' + activation.upper()


def check_inputs(values, names, ndims, op):
    """Symbolic inputs, checked for their number of dimensions and dtype."""
    inputs = []
    for value, name, ndim in zip(values, names.split(), ndims):
        value = TT.as_tensor_variable(value)
        if value.ndim != ndim:
            raise TypeError('{} op: {} must have {} dimensions, got '
                            '{}'.format(op, name, ndim, value.ndim))
        inputs.append(value)
    dtypes = [v.dtype for v in inputs]
    if len(set(dtypes)) != 1 or dtypes[0] not in DTYPES:
        raise TypeError('{} op: inputs must share one dtype among {}, '
                        'got {}'.format(op, DTYPES, dtypes))
    return inputs


def check_shapes(op, names, values, shapes):
    """Raise ValueError unless the numeric ``values`` have ``shapes``."""
    for name, value, shape in zip(names.split(), values, shapes):
        if value.shape != shape:
            raise ValueError('{} op: {} has shape {}, expected {}'.format(
                op, name, value.shape, shape))


def cost_gradients(output_grads, outputs):
    """The gradients a gradient Op takes for ``outputs``: zeros where the
    cost does not depend on an output, full arrays of the output's dtype
    otherwise."""
    grads = []
    for grad, out in zip(output_grads, outputs):
        if isinstance(grad.type, DisconnectedType):
            grad = TT.zeros_like(out)
        else:
            grad = TT.cast(grad, out.dtype)
            if any(grad.broadcastable):
                grad = grad + TT.zeros_like(out)
        grads.append(grad)
    return grads


def new_outputs(dtype, ndims):
    """Fresh symbolic outputs of ``dtype``, one per number of dimensions."""
    return [TT.TensorType(dtype, (False, ) * ndim)() for ndim in ndims]


class RNNOp(theano.Op):
    """C compilation settings shared by the fused recurrent Ops.

    A subclass names its kernel file (:attr:`KERNEL`) and, through
    :meth:`c_function`, the entry point that its :meth:`c_code` calls with
    the node's input and output arrays.
    """

    __props__ = ()

    #: Kernel file of the Op's recurrence, compiled after ``common.cpp``.
    KERNEL = None

    def c_function(self):
        """The C++ entry point (a function name, with any template
        arguments) that runs this Op."""
        raise NotImplementedError

    def c_support_code(self, **kwargs):
        # A list, so that Theano's dedupe of support code keeps the BLAS
        # header and the shared helpers once when several of these (or
        # other BLAS) Ops share a module.
        return [blas_headers.blas_header_text(), kernel_source(COMMON_KERNEL),
                kernel_source(self.KERNEL)]

    def c_headers(self, **kwargs):
        return ['<stdint.h>', '<string.h>', '<math.h>', '<limits.h>']

    def c_libraries(self, **kwargs):
        return blas.ldflags()

    def c_lib_dirs(self, **kwargs):
        return blas.ldflags(libs=False, libs_dir=True)

    def c_header_dirs(self, **kwargs):
        return blas.ldflags(libs=False, include_dir=True)

    def c_compile_args(self, **kwargs):
        return blas.ldflags(libs=False, flags=True)

    def c_code_cache_version(self):
        # Theano keys its compiled modules by this version (not by their
        # code): it must change whenever the compiled text does.
        return (source_version(kernel_source(COMMON_KERNEL),
                               kernel_source(self.KERNEL), C_CALL)
                + tuple(blas_headers.blas_header_version()))

    def c_code(self, node, name, inputs, outputs, sub):
        """C code passing the node's arrays to :meth:`c_function`, which
        checks the inputs, allocates the outputs and runs the recurrence."""
        return C_CALL.format(
            nin=len(inputs), ins=', '.join(inputs), nout=len(outputs),
            outs=', '.join(outputs), function=self.c_function(),
            assign=' '.join('{} = rnn_out[{}];'.format(out, k)
                            for k, out in enumerate(outputs)),
            fail=sub['fail'])
