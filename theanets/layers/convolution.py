r"""Convolution and pooling layers.

Data layouts (per example; tensors carry a leading batch axis):

* :class:`Conv1`: ``(T, d)`` time x channels to ``(T', n)``;
* :class:`Conv2`: ``(W, H, d)`` image x channels to ``(W', H', n)``;
* :class:`Pool1`: ``(T, d)`` to ``(T', d)``;
* :class:`Pool2`: ``(W, H, d)`` to ``(W', H', d)``.

Convolutions are true convolutions (the kernel is flipped). They, and max
pooling, are computed by the channels-last Ops of :mod:`theanets.ops`
(float32 and float64 data), else -- or with the environment variable
``THEANETS_CONV=nnet`` -- by the backend's ``conv2d`` and ``pool_2d``.
Along each axis of length ``L`` with filter length ``f``, padding ``p``
and stride ``s``, the output length is
``(L + 2p - f) // s + 1``, where ``p`` is 0 for ``'valid'``, ``f - 1`` for
``'full'``, ``f // 2`` for ``'half'``, or the given int(s).
"""

import numbers

import numpy as np

from .. import ops, util
from . import base
from ..backend import theano, TT, pool

__all__ = ['Convolution', 'Conv1', 'Conv2', 'Pooling', 'Pool1', 'Pool2']

_POOL_MODES = ('max', 'sum', 'average_inc_pad', 'average_exc_pad')


def _padding(border_mode, filter_length, axis):
    """Zero padding added on each side of one axis by ``border_mode``."""
    if border_mode == 'valid':
        return 0
    if border_mode == 'full':
        return filter_length - 1
    if border_mode == 'half':
        return filter_length // 2
    if isinstance(border_mode, numbers.Integral):
        return int(border_mode)
    return int(border_mode[axis])


def _output_length(length, filter_length, stride, padding):
    """Length of one axis after a strided convolution, or None if unknown."""
    if length is None:
        return None
    return max(0, (length + 2 * padding - filter_length) // stride + 1)


def _pair(value):
    """An int ``k`` as ``(k, k)``; a sequence as a tuple."""
    if isinstance(value, numbers.Integral):
        return (int(value), int(value))
    return tuple(value)


def _check_border_mode(border_mode):
    if border_mode in ('valid', 'full', 'half'):
        return
    if isinstance(border_mode, numbers.Integral) and border_mode >= 0:
        return
    if (isinstance(border_mode, (tuple, list)) and len(border_mode) == 2 and
            all(isinstance(b, numbers.Integral) and b >= 0
                for b in border_mode)):
        return
    raise util.ConfigurationError(
        'border_mode must be "valid", "full", "half", a non-negative int or a '
        'pair of them, got {!r}'.format(border_mode))


class Convolution(base.Layer):
    """Base class of the convolution layers.

    Parameters
    ----------
    filter_size : tuple of int
        Filter extent along each convolved axis.
    stride : tuple of int, optional
        Step between filter applications along each axis (default 1). An
        int ``k`` means ``(k, k)``, as for ``filter_size``.
    border_mode : str, int or pair of int, optional
        ``'valid'`` (default), ``'full'``, ``'half'`` or explicit padding.

    Notes
    -----
    ``filter_size``, ``stride`` and ``border_mode`` are attributes, not
    keyword arguments. :meth:`get_config` includes them; :meth:`to_spec`
    leaves them out, as theanets 0.8 did.
    """

    _spec_omits = ('filter_size', 'stride', 'border_mode')

    def __init__(self, filter_size, stride=(1, 1), border_mode='valid',
                 **kwargs):
        _check_border_mode(border_mode)
        if isinstance(border_mode, list):
            # Theano takes explicit padding as a tuple only.
            border_mode = tuple(border_mode)
        super().__init__(**kwargs)
        self.filter_size = _pair(filter_size)
        self.stride = _pair(stride)
        self.border_mode = border_mode

    def get_config(self):
        """Return the configuration, with the filter options."""
        config = super().get_config()
        config.update(filter_size=self.filter_size, stride=self.stride,
                      border_mode=self.border_mode)
        return config

    def _target_size(self):
        size = self.kwargs.get('size')
        if size is None and self.kwargs.get('shape') is not None:
            size = self.kwargs['shape'][-1]
        if size is None:
            raise util.ConfigurationError(
                'layer "{}" does not specify a size'.format(self.name))
        return size

    def _conv_shape(self, lengths):
        """Output lengths along the convolved axes (None if unknown)."""
        return tuple(
            _output_length(length, f, s, _padding(self.border_mode, f, axis))
            for axis, (length, f, s) in enumerate(
                zip(lengths, self.filter_size, self.stride)))

    def add_conv_weights(self, name, mean=0, std=None, sparsity=0):
        """Add a filter bank of shape ``(n, d) + filter_size``.

        Each filter position ``(r, c)`` draws its own ``n x d`` matrix, in
        row-major position order. The standard deviation defaults to
        ``1 / sqrt(d + n)`` (the filter area is not part of the fan).

        Parameters
        ----------
        name : str
            Short parameter name, e.g. ``'w'``.
        mean, std, sparsity : float, optional
            Defaults for the initialisation settings; the per-parameter
            keyword (``std_w``) then the global keyword (``std``) win.
        """
        nin, nout = self.input_size, self.output_size
        m = self._setting('mean', name, mean)
        s = self._setting('std', name, std or 1 / np.sqrt(nin + nout))
        p = self._setting('sparsity', name, sparsity)
        util.reserve((nout, nin) + tuple(self.filter_size))
        value = np.zeros((nout, nin) + self.filter_size, util.FLOAT)
        for r in range(self.filter_size[0]):
            for c in range(self.filter_size[1]):
                value[:, :, r, c] = util.random_matrix(
                    nout, nin, mean=m, std=s, sparsity=p, rng=self.rng)
        self._params.append(theano.shared(value, name=self._fmt(name)))

    def _describe(self):
        return '{} filters {}x{}+{}+{}'.format(
            self.border_mode, self.filter_size[0], self.filter_size[1],
            self.stride[0], self.stride[1])

    def log(self):
        util.debug('layer {} "{}" {} {} {} from {}', self.__class__.__name__,
                   self.name, self.output_shape, self._activation_name(),
                   self._describe(), self._inputs_description())
        util.debug('learnable parameters: {}', self.log_params())

    def _convolve(self, x, input_shape, border_mode):
        nout, nin = self.output_size, self.input_size
        return TT.nnet.conv2d(
            x, self.find('w'),
            input_shape=input_shape,
            filter_shape=(nout, nin) + self.filter_size,
            border_mode=border_mode,
            subsample=self.stride)

    def _padding_pair(self, border_mode):
        """Zero padding of each convolved axis under ``border_mode``."""
        return tuple(_padding(border_mode, f, axis)
                     for axis, f in enumerate(self.filter_size))

    def _convolve_channels_last(self, x, border_mode):
        """``pre`` of channels-last ``(B, ., ., d)`` data, bias included,
        through the Ops of :mod:`theanets.ops`; None where they do not
        apply (``THEANETS_CONV=nnet``, or a dtype they lack)."""
        w, b = self.find('w'), self.find('b')
        if not ops.conv_ops_apply(x, w, b):
            return None
        return ops.conv2d(x, w, b, stride=self.stride,
                          padding=self._padding_pair(border_mode))

    def _input_lengths(self, known, convolved, actual=None):
        """Lengths of the convolved axes of the input.

        ``known`` are the lengths in the input shape (None if unknown),
        ``convolved`` the symbolic lengths of the convolution's output and
        ``actual`` the symbolic lengths of the input, or None. An unknown
        length is the actual one if given, else the shortest input length
        that gives the output length.
        """
        lengths = []
        for axis, (length, out) in enumerate(zip(known, convolved)):
            if length is None and actual is not None:
                length = actual[axis]
            elif length is None:
                f, s = self.filter_size[axis], self.stride[axis]
                length = (out - 1) * s + f - 2 * _padding(
                    self.border_mode, f, axis)
            lengths.append(length)
        return tuple(lengths)

    def _convolve_transposed(self, y, lengths, border_mode):
        """The transpose of :meth:`_convolve`: ``(B, n, ., .)`` data to
        ``(B, d) + lengths``, using the same filters."""
        nout, nin = self.output_size, self.input_size
        return TT.nnet.abstract_conv.conv2d_grad_wrt_inputs(
            y, self.find('w'),
            input_shape=(None, nin) + tuple(lengths),
            filter_shape=(nout, nin) + self.filter_size,
            border_mode=border_mode,
            subsample=self.stride)


class Conv1(Convolution):
    r"""1-D convolution along the time axis of ``(B, T, d)`` data.

    .. math::
       \mathrm{pre}[b, t, o] = b_o + \sum_{c, u} x[b, t s + u, c]\,
       w[o, c, 0, f - 1 - u]

    (valid mode shown), ``out = g(pre)``. Parameters ``w`` ``(n, d, 1, f)``
    and ``b`` ``(n,)``.

    Parameters
    ----------
    filter_size : int
        Filter length ``f`` along time.
    stride : int, optional
        Step along time (default 1).
    border_mode : str or int, optional
        ``'valid'`` (default), ``'full'``, ``'half'`` or an int padding of
        the time axis.

    Examples
    --------
    >>> layer = Conv1(filter_size=3, size=4, inputs='in', name='c')
    >>> layer.filter_size, layer.stride
    ((1, 3), (1, 1))
    """

    def __init__(self, filter_size, stride=1, border_mode='valid', **kwargs):
        if not (isinstance(border_mode, str) or
                isinstance(border_mode, numbers.Integral)):
            raise util.ConfigurationError(
                'conv1 border_mode must be "valid", "full", "half" or an int '
                'padding of the time axis, got {!r}'.format(border_mode))
        super().__init__(filter_size=(1, filter_size), stride=(1, stride),
                         border_mode=border_mode, **kwargs)

    def get_config(self):
        """Return the configuration; ``filter_size`` and ``stride`` are the
        ints along time that the constructor takes."""
        config = super().get_config()
        config.update(filter_size=self.filter_size[1],
                      stride=self.stride[1])
        return config

    def resolve_outputs(self):
        shape = self.input_shape
        if shape is None or shape[0] is None:
            return super().resolve_outputs()
        length, = self._conv_shape((1, shape[0]))[1:]
        self._output_shapes['out'] = (length, self._target_size())

    def setup(self):
        self.add_conv_weights('w')
        self.add_bias('b', self.output_size)

    def _time_border_mode(self):
        # An int pads only the time axis; the dummy axis has length 1.
        if isinstance(self.border_mode, numbers.Integral):
            return (0, int(self.border_mode))
        return self.border_mode

    def transform(self, inputs):
        x = inputs[self.input_name]
        pre = self._convolve_channels_last(x.dimshuffle(0, 'x', 1, 2),
                                           self._time_border_mode())
        if pre is not None:
            pre = pre[:, 0]
        else:
            y = self._convolve(x.dimshuffle(0, 2, 'x', 1),
                               (None, self.input_size, 1, None),
                               self._time_border_mode())
            pre = y.dimshuffle(0, 3, 1, 2)[:, :, :, 0] + self.find('b')
        return dict(pre=pre, out=self.activate(pre)), []

    def _transposed(self, y, input_shape=None):
        """Transposed convolution along time: ``(B, T', n)`` to
        ``(B, T, d)``."""
        actual = None if input_shape is None else (1, input_shape[1])
        lengths = self._input_lengths((1, self.input_shape[0]),
                                      (1, y.shape[1]), actual)
        x = self._convolve_transposed(y.dimshuffle(0, 2, 'x', 1), lengths,
                                      self._time_border_mode())
        return x[:, :, 0, :].dimshuffle(0, 2, 1)


class Conv2(Convolution):
    r"""2-D convolution of ``(B, W, H, d)`` image data.

    .. math::
       \mathrm{pre}[b, i, j, o] = b_o + \sum_{c, u, v} x[b, i + u, j + v, c]\,
       w[o, c, f_0 - 1 - u, f_1 - 1 - v]

    (valid mode, stride 1), ``out = g(pre)``. Parameters ``w``
    ``(n, d, f0, f1)`` and ``b`` ``(n,)``.

    Parameters
    ----------
    filter_size : pair of int
        Filter extent ``(f0, f1)`` along (W, H).
    stride : pair of int, optional
        Steps along (W, H), default ``(1, 1)``.
    border_mode : str, int or pair of int, optional
        ``'valid'`` (default), ``'full'``, ``'half'`` or explicit padding.

    Examples
    --------
    >>> inp = base.Input(shape=(13, 15, 7), name='in')
    >>> layer = Conv2(filter_size=(4, 3), size=8, inputs='in', name='c')
    >>> class Graph:
    ...     layers = [inp, layer]
    >>> inp.bind(Graph); layer.bind(Graph)
    >>> layer.output_shape
    (10, 13, 8)
    """

    def resolve_outputs(self):
        shape = self.input_shape
        if shape is None or shape[0] is None or shape[1] is None:
            return super().resolve_outputs()
        self._output_shapes['out'] = \
            self._conv_shape(shape[:2]) + (self._target_size(), )

    def setup(self):
        self.add_conv_weights('w')
        self.add_bias('b', self.output_size)

    def transform(self, inputs):
        x = inputs[self.input_name]
        pre = self._convolve_channels_last(x, self.border_mode)
        if pre is None:
            y = self._convolve(x.dimshuffle(0, 3, 1, 2),
                               (None, self.input_size, None, None),
                               self.border_mode)
            pre = y.dimshuffle(0, 2, 3, 1) + self.find('b')
        return dict(pre=pre, out=self.activate(pre)), []

    def _transposed(self, y, input_shape=None):
        """Transposed convolution: ``(B, W', H', n)`` to ``(B, W, H, d)``."""
        actual = None if input_shape is None else input_shape[1:3]
        lengths = self._input_lengths(self.input_shape[:2],
                                      (y.shape[1], y.shape[2]), actual)
        x = self._convolve_transposed(y.dimshuffle(0, 3, 1, 2), lengths,
                                      self.border_mode)
        return x.dimshuffle(0, 2, 3, 1)


class Pooling(base.Layer):
    """Base class of the pooling layers.

    Pooling layers have no parameters and keep the number of channels. Their
    ``size`` keyword is optional; if given it must equal the input's channel
    count. Windows that would cross the border are dropped
    (``ignore_border=True``).

    Parameters
    ----------
    pool_size : int or pair of int
        Window extent.
    stride : int or pair of int, optional
        Step between windows; defaults to ``pool_size`` (no overlap).
    mode : str, optional
        ``'max'`` (default), ``'sum'``, ``'average_inc_pad'`` or
        ``'average_exc_pad'``.

    Like every layer, the result ``pre`` goes through the activation to give
    ``out``; the default activation is ``'relu'``, so pass
    ``activation='linear'`` for plain pooling.
    """

    def __init__(self, pool_size, stride=None, mode='max', **kwargs):
        if mode not in _POOL_MODES:
            raise util.ConfigurationError(
                'pooling mode must be one of {}, got {!r}'.format(
                    ', '.join(_POOL_MODES), mode))
        super().__init__(**kwargs)
        self.pool_size = pool_size
        self.stride = pool_size if stride is None else stride
        self.mode = mode

    def _window(self):
        """Window and stride as pairs for the 2-D pooling op."""
        raise NotImplementedError

    def resolve_outputs(self):
        shape = self.input_shape
        if shape is None:
            raise util.ConfigurationError(
                'undefined input shape for layer "{}"'.format(self.name))
        ws, st = self._window()
        lengths = tuple(_output_length(length, w, s, 0)
                        for length, w, s in zip(shape[:-1], ws, st))
        size = self.kwargs.get('size')
        if size is not None and size != shape[-1]:
            raise util.ConfigurationError(
                'pooling layer "{}": size {} does not match input channels '
                '{}'.format(self.name, size, shape[-1]))
        self._output_shapes['out'] = lengths + (shape[-1], )

    def get_config(self):
        """Return the configuration, with the pooling options."""
        config = super().get_config()
        config.update(pool_size=self.pool_size, stride=self.stride,
                      mode=self.mode)
        return config

    def _pool(self, x):
        ws, st = self._window()
        return pool.pool_2d(x, ws=ws, stride=st, mode=self.mode,
                            ignore_border=True)

    def _pool_channels_last(self, x):
        """Pooled channels-last ``(B, ., ., d)`` data through the max-pooling
        Op of :mod:`theanets.ops`, or None where it does not apply (another
        mode, ``THEANETS_CONV=nnet``, a dtype it lacks)."""
        if self.mode != 'max' or not ops.conv_ops_apply(x):
            return None
        ws, st = self._window()
        return ops.max_pool2d(x, ws, st)


class Pool1(Pooling):
    """Pool ``(B, T, d)`` data along the time axis.

    Parameters
    ----------
    pool_size : int
        Window length along time.
    stride : int, optional
        Step along time; defaults to ``pool_size``.
    mode : str, optional
        See :class:`Pooling`.

    Examples
    --------
    >>> Pool1(pool_size=2, inputs='in').to_spec()['stride']
    2
    """

    def _window(self):
        return (self.pool_size, 1), (self.stride, 1)

    def transform(self, inputs):
        x = inputs[self.input_name]
        pre = self._pool_channels_last(x.dimshuffle(0, 1, 'x', 2))
        if pre is not None:
            pre = pre[:, :, 0]
        else:
            x = x.dimshuffle(0, 2, 1, 'x')
            pre = self._pool(x)[:, :, :, 0].dimshuffle(0, 2, 1)
        return dict(pre=pre, out=self.activate(pre)), []


class Pool2(Pooling):
    """Pool ``(B, W, H, d)`` image data over (W, H).

    Parameters
    ----------
    pool_size : pair of int
        Window extent along (W, H).
    stride : pair of int, optional
        Steps along (W, H); defaults to ``pool_size``.
    mode : str, optional
        See :class:`Pooling`.
    """

    def _window(self):
        return tuple(self.pool_size), tuple(self.stride)

    def transform(self, inputs):
        x = inputs[self.input_name]
        pre = self._pool_channels_last(x)
        if pre is None:
            pre = self._pool(x.dimshuffle(0, 3, 1, 2)).dimshuffle(0, 2, 3, 1)
        return dict(pre=pre, out=self.activate(pre)), []
