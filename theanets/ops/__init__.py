r"""Fused Theano Ops for the RNN, LSTM and GRU recurrences, and
channels-last convolution and max pooling.

:class:`theanets.layers.RNN`, :class:`theanets.layers.LSTM` and
:class:`theanets.layers.GRU` can run their loop over time steps either with
Theano's ``scan`` or with the Ops defined here, which compute the whole
recurrence (all time steps) in one C call each:

:class:`LSTMForward`
    Given the input projections ``xw`` (``x W_xh``, time-major,
    ``(T, B, 4n)``, column blocks :math:`i, f, c, o`), the bias ``b``
    ``(4n,)``, the recurrent weights ``hh`` ``(n, 4n)``, the peephole
    vectors ``ci``, ``cf``, ``co`` ``(n,)`` and the initial states ``h0``,
    ``c0`` ``(B, n)``, computes for :math:`t = 0, \ldots, T-1`

    .. math::
       z = (xw_t + b) + h_{t-1} W_{hh}, \quad
       i = \sigma(z_i + c_{t-1} \odot w_{ci}), \quad
       f = \sigma(z_f + c_{t-1} \odot w_{cf}), \\
       c_t = f \odot c_{t-1} + i \odot \tanh(z_c), \quad
       o = \sigma(z_o + c_t \odot w_{co}), \quad
       h_t = o \odot \tanh(c_t)

    and returns ``h`` and ``c`` ``(T, B, n)`` plus the activations
    ``(T, B, 5n)`` (blocks :math:`i, f, \tanh(z_c), o, \tanh(c_t)`) that the
    gradient needs, so that back-propagation evaluates no transcendental
    function.
:class:`LSTMGrad`
    Back-propagation through time: from the forward pass's inputs, outputs
    and the gradients of a cost with respect to ``h`` and ``c``, computes
    the gradients with respect to ``xw``, ``b``, ``hh``, ``ci``, ``cf``,
    ``co``, ``h0`` and ``c0``.
:class:`RNNForward`, :class:`RNNGrad`
    The same for the plain RNN, :math:`p_t = (xw_t + b) + h_{t-1} W_{hh}`,
    :math:`h_t = g(p_t)`: one ``gemm`` per step each way and two for the
    gradient of ``hh`` at the end; the activation :math:`g` (tanh, linear,
    relu or sigmoid) is a property of the Ops, its derivative comes from the
    saved ``pre`` and ``out``.
:class:`GRUForward`, :class:`GRUGrad`
    The same for the GRU (see :class:`GRUForward` for the equations): the
    forward Op returns all four outputs of the layer (``pre``, ``hid``,
    ``rate``, ``out``) plus the reset gate, and the gradient Op accepts cost
    gradients for any subset of the four. The candidate's activation (tanh,
    linear, relu or sigmoid) is a property of the Ops; its derivative comes
    from the saved pre-activation and value. Two ``gemm`` per step each way
    (the gates' ``h_{t-1} [W_{hr} W_{hz}]``, then ``(r \odot h_{t-1})
    W_{hh}``), and one each for the gradients of ``hh`` and ``[hr hz]`` at
    the end.

:class:`Conv2dForward`, :class:`Conv2dGradInput`, :class:`Conv2dGradWeights`
    Channels-last 2-D convolution of ``(B, W, H, C)`` data with filters
    ``(N, C, F0, F1)`` (flipped, as Theano's ``conv2d``), any zero padding
    and stride, the bias added in the same pass: ``im2col`` of blocks of
    output rows sized to stay in cache, then one ``gemm`` per block. The
    gradients w.r.t. the input and w.r.t. the filters and bias are separate
    Ops, so an unused input gradient is not computed.
:class:`MaxPool2d`, :class:`MaxPool2dGrad`
    Channels-last max pooling (windows crossing the border dropped); the
    gradient reaches every input equal to its window's maximum, as Theano's
    ``MaxPoolGrad``.

The convolution and pooling Ops cut the batch into chunks of a size fixed
by the shapes and run them on up to ``OMP_NUM_THREADS`` (else
``OPENBLAS_NUM_THREADS``, else the core count) threads of a pool that each
compiled module keeps, with OpenBLAS set to one thread meanwhile; partial
weight gradients are added in chunk order, so the results do not depend on
the thread count. :class:`theanets.layers.Conv1`, ``Conv2`` and the max
``Pool1`` / ``Pool2`` layers use them for float32 and float64 data unless
the environment variable ``THEANETS_CONV=nnet`` (read when a layer builds
its graph) asks for the backend's ``conv2d`` and ``pool_2d``.

They exist for speed. Theano's ``scan`` runs a small graph per time step,
whose generated C code calls the scalar double-precision ``exp`` for every
gate, recomputes the sigmoids in the backward pass and pays the loop's
bookkeeping at each step; in the LSTM benchmark (``benchmarks/lstm.py``) the
gate nonlinearities took about two thirds of the training time. The fused
LSTM Ops do one BLAS ``gemm`` per step and a single loop over the gates
that the C compiler vectorises. In single precision they evaluate the sigmoid
and the hyperbolic tangent with branch-free approximations (range reduction to
:math:`e^r, |r| \le \ln 2 / 2`, then a polynomial; an odd polynomial for
:math:`\tanh` near zero) that are within 3 units in the last place of the
exact values over the whole float range, saturate to exactly 0, 1 and
:math:`\pm 1`, and propagate NaN. Double precision uses the C library's
``exp`` and ``tanh``. The gradient w.r.t. ``hh`` is one ``gemm`` over all
time steps at the end; the bias is an input of its own (rather than part of
``xw``) so that its gradient, a sum over all time steps and rows, is
accumulated in the same loop (in double precision across time steps) instead
of by a separate reduction.

All the Ops have a NumPy ``perform`` (used when Theano runs without a C
compiler, and as the reference in the tests), and JAX implementations that
compute the same (``_jax_recurrent.py``, ``_jax_conv.py``), for PyTensor's
JAX linker (``PYTENSOR_FLAGS=mode=JAX``). The C code links the BLAS
that Theano uses; without one it falls back on Theano's NumPy-based
``gemm``.

The C code is C++ (for templates over the float type and the activation)
in the files ``kernels/common.cpp``, ``kernels/rnn.cpp``,
``kernels/lstm.cpp``, ``kernels/gru.cpp`` and ``kernels/conv.cpp`` of this
package, installed with it; the comment at the top of each file says how
Theano compiles it. Their text is part of the
Ops' compile-cache version, so Theano recompiles after any edit.

The LSTM layer uses these Ops whenever back-propagation through time is not
truncated (``bptt_limit`` unset) and the data type is ``float32`` or
``float64``; the RNN and GRU layers also need one of the activations named
in :data:`FUSED_ACTIVATIONS` (see :func:`fused_activation`). Set the
environment variable ``THEANETS_LSTM=scan``, ``THEANETS_GRU=scan``,
respectively ``THEANETS_RNN=scan`` (read when a layer builds its graph), to
always use ``scan``, e.g. to compare the two. A
:class:`theanets.layers.Bidirectional` layer's workers are such layers, so
they use the Ops under the same conditions.
"""

import os

from .. import backend
from . import _base
from ._gru import GRUForward, GRUGrad, gru
from ._lstm import LSTMForward, LSTMGrad, lstm_forward, lstm_grad, lstm
from ._rnn import RNNForward, RNNGrad, rnn
from ._conv import (Conv2dForward, Conv2dGradInput, Conv2dGradWeights,
                    MaxPool2d, MaxPool2dGrad, conv2d, max_pool2d)

__all__ = ['LSTMForward', 'LSTMGrad', 'lstm_forward', 'lstm_grad', 'lstm',
           'fused_lstm_enabled', 'ENV', 'GRUForward', 'GRUGrad', 'gru',
           'fused_gru_enabled', 'gru_activation', 'GRU_ENV',
           'GRU_ACTIVATIONS', 'RNNForward', 'RNNGrad', 'rnn',
           'fused_rnn_enabled', 'RNN_ENV', 'FUSED_ACTIVATIONS',
           'fused_activation', 'Conv2dForward', 'Conv2dGradInput',
           'Conv2dGradWeights', 'MaxPool2d', 'MaxPool2dGrad', 'conv2d',
           'max_pool2d', 'CONV_ENV', 'conv_ops_enabled', 'conv_ops_apply']

def _jax_implementations():
    """The JAX implementations of these Ops, for PyTensor's JAX linker
    (imported only when it links a graph)."""
    from . import _jax_conv, _jax_recurrent
    return _jax_conv.implementations() + _jax_recurrent.implementations()


backend.extend_jax(_jax_implementations)

#: Environment variable read by :func:`fused_lstm_enabled`: ``scan`` makes
#: the LSTM layer use ``theano.scan`` instead of the fused Ops.
ENV = 'THEANETS_LSTM'

#: Environment variable read by :func:`fused_gru_enabled`: ``scan`` makes
#: the GRU layer use ``theano.scan`` instead of the fused Ops.
GRU_ENV = 'THEANETS_GRU'

#: Environment variable read by :func:`fused_rnn_enabled`: ``scan`` makes
#: the RNN layer use ``theano.scan`` instead of the fused Ops.
RNN_ENV = 'THEANETS_RNN'

#: Environment variable read by :func:`conv_ops_enabled`: ``nnet`` makes
#: the convolution and pooling layers use the backend's ``conv2d`` and
#: ``pool_2d`` instead of the channels-last Ops.
CONV_ENV = 'THEANETS_CONV'

#: Activations the RNN and GRU Ops implement (with their derivative from
#: saved values): the names of :mod:`theanets.activations` that qualify,
#: each with the ``activation`` of :class:`RNNForward` and
#: :class:`GRUForward` that computes it.
FUSED_ACTIVATIONS = {'linear': 'linear', 'relu': 'relu', 'rect:max': 'relu',
                     'sigmoid': 'sigmoid', 'logistic': 'sigmoid',
                     'tanh': 'tanh'}

#: The GRU's name for :data:`FUSED_ACTIVATIONS` (the same dict).
GRU_ACTIVATIONS = FUSED_ACTIVATIONS


def _fused_enabled(variable):
    return os.environ.get(variable, '').strip().lower() != 'scan'


def fused_lstm_enabled():
    """Return False if :data:`ENV` asks for the ``scan`` implementation.

    Examples
    --------
    >>> import os
    >>> fused_lstm_enabled() == (os.environ.get(ENV, '').lower() != 'scan')
    True
    """
    return _fused_enabled(ENV)


def fused_gru_enabled():
    """Return False if :data:`GRU_ENV` asks for the ``scan`` implementation.

    Examples
    --------
    >>> import os
    >>> fused_gru_enabled() == (
    ...     os.environ.get(GRU_ENV, '').lower() != 'scan')
    True
    """
    return _fused_enabled(GRU_ENV)


def fused_rnn_enabled():
    """Return False if :data:`RNN_ENV` asks for the ``scan`` implementation.

    Examples
    --------
    >>> import os
    >>> fused_rnn_enabled() == (
    ...     os.environ.get(RNN_ENV, '').lower() != 'scan')
    True
    """
    return _fused_enabled(RNN_ENV)


def fused_activation(name):
    """The RNN and GRU Ops' ``activation`` computing a common activation,
    or None.

    Parameters
    ----------
    name : str
        The name of a parameter-free common activation of
        :mod:`theanets.activations` (e.g. ``'rect:max'``). Whether a layer's
        activation is such a one (and not, say, a registered class or a
        composition, which need ``scan``) is for the caller to decide: these
        Ops do not depend on :mod:`theanets.activations`.

    Returns
    -------
    str or None
        One of ``'linear'``, ``'relu'``, ``'sigmoid'`` and ``'tanh'`` (see
        :data:`FUSED_ACTIVATIONS`), or None if the Ops do not implement the
        activation.

    Examples
    --------
    >>> fused_activation('rect:max')
    'relu'
    >>> fused_activation('softplus') is None
    True
    """
    return FUSED_ACTIVATIONS.get(name)


def gru_activation(name):
    """The GRU Ops' ``activation`` computing a common activation, or None
    (the same as :func:`fused_activation`).

    Examples
    --------
    >>> gru_activation('logistic')
    'sigmoid'
    """
    return fused_activation(name)


def conv_ops_enabled():
    """Return False if :data:`CONV_ENV` asks for the backend's ``nnet`` ops.

    Examples
    --------
    >>> import os
    >>> conv_ops_enabled() == (
    ...     os.environ.get(CONV_ENV, '').strip().lower() != 'nnet')
    True
    """
    return os.environ.get(CONV_ENV, '').strip().lower() != 'nnet'


def conv_ops_apply(*variables):
    """True if the channels-last Ops can compute with ``variables``: they
    are enabled (:func:`conv_ops_enabled`) and the variables share one
    dtype the Ops implement (``float32`` or ``float64``).

    Examples
    --------
    >>> from theanets.backend import TT
    >>> conv_ops_apply(TT.tensor4(dtype='float16'))
    False
    >>> conv_ops_apply(TT.tensor4(dtype='float32'), TT.dvector())
    False
    >>> conv_ops_apply(TT.tensor4(dtype='float32')) == conv_ops_enabled()
    True
    """
    dtypes = {v.dtype for v in variables}
    return (conv_ops_enabled() and len(dtypes) == 1
            and dtypes <= set(_base.DTYPES))
