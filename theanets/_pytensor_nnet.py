r"""Convolution and pooling for the PyTensor backend.

PyTensor dropped Theano's ``nnet`` package, so the three functions that
theanets' convolution and pooling layers call are rebuilt here from ordinary
PyTensor ops (slicing, ``set_subtensor``/``inc_subtensor``, ``concatenate``,
``dot``, reductions), all of which have C implementations and gradients:

:func:`conv2d`
    Theano's ``tensor.nnet.conv2d``: a true (flipped-kernel) convolution of
    ``(B, C, H, W)`` images with ``(N, C, fh, fw)`` filters.
:func:`conv2d_grad_wrt_inputs`
    Theano's ``tensor.nnet.abstract_conv.conv2d_grad_wrt_inputs``: the
    transpose of :func:`conv2d` with respect to its images.
:func:`pool_2d`
    Theano's ``tensor.signal.pool.pool_2d`` over the last two axes.

The PyTensor compatibility layer (:mod:`theanets._pytensor_theano`) exposes
them under their Theano names; nothing else should import this module.

Along an axis of length ``L`` with filter length ``f``, dilation ``d``
(dilated extent ``e = (f - 1) d + 1``), padding ``l`` before and ``r`` after
and stride ``s``, the convolution has ``(L + l + r - e) // s + 1`` outputs;
``'valid'`` pads nothing, ``'full'`` pads ``e - 1`` and ``'half'`` pads
``e // 2`` on each side.

The convolution is computed as one matrix product: the ``fh * fw`` shifted,
strided views of the zero-padded images (channels last) are joined into an
"im2col" matrix of shape ``(B * H' * W', fh * fw * C)`` and multiplied by the
filters reshaped to ``(fh * fw * C, N)``, so that BLAS does the arithmetic.
Its transpose is the same product run backwards ("col2im"): the product of
the output gradient and the transposed filter matrix is scattered back,
view by view, into a zero-padded buffer with ``inc_subtensor``. Pooling
reduces the ``ws[0] * ws[1]`` strided views of the padded input (max pooling
over windows that tile the input reshapes it instead); the gradients are
PyTensor's own.

Measured with ``benchmarks/pytensor_conv.py`` (the benchmark network: batch
64, 28x28x1 images, conv 16 3x3, max pool 2x2, conv 32 3x3, max pool 2x2;
forward and backward pass, float32, C linker, one OpenBLAS thread, a shared
2-core machine): 29-42 ms of CPU time per step with these functions, 30-32
ms with Theano 1.0.5's own Ops, and 60-70 ms with the convolution written as
a sum of ``fh * fw`` per-offset ``tensordot`` products instead of im2col.
"""

import numbers
import warnings

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.extra_ops import cpu_contiguous

from .exceptions import ConfigurationError

__all__ = ['conv2d', 'conv2d_grad_wrt_inputs', 'pool_2d']

POOL_MODES = ('max', 'sum', 'average_inc_pad', 'average_exc_pad')


def _int_pair(value, name, minimum):
    """``value`` as a pair of ints of at least ``minimum``; an int ``k`` is
    ``(k, k)``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if (len(pair) != 2 or
            not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                    for v in pair) or
            min(pair) < minimum):
        raise ConfigurationError(
            '{} must be an int or a pair of ints, each at least {}; got '
            '{!r}'.format(name, minimum, value))
    return tuple(int(v) for v in pair)


def _tensor(value, name, ndim):
    """``value`` as a tensor variable with ``ndim`` axes."""
    tensor = pt.as_tensor_variable(value)
    if tensor.ndim != ndim:
        raise ConfigurationError(
            '{} must be a {}-d tensor, got {} axes ({})'.format(
                name, ndim, tensor.ndim, tensor.type))
    return tensor


def _kernel_size(filters, filter_shape):
    """Static spatial size ``(fh, fw)`` of the filters."""
    if filter_shape is not None:
        if len(filter_shape) != 4:
            raise ConfigurationError(
                'filter_shape must have 4 entries (N, C, fh, fw), got '
                '{!r}'.format(filter_shape))
        size = tuple(filter_shape[2:])
    else:
        size = tuple(filters.type.shape[2:])
    if None in size:
        raise ConfigurationError(
            'the spatial size of the filters must be known when the graph is '
            'built: pass filter_shape=(N, C, fh, fw); got {!r}'.format(
                filter_shape))
    return _int_pair(size, 'filter size', 1)


def _conv_padding(border_mode, extents):
    """Zero padding ``((before, after), (before, after))`` of both image
    axes for ``border_mode``, given the dilated filter extents."""
    if border_mode == 'valid':
        return ((0, 0), (0, 0))
    if border_mode == 'full':
        return tuple((e - 1, e - 1) for e in extents)
    if border_mode == 'half':
        return tuple((e // 2, e // 2) for e in extents)
    if isinstance(border_mode, numbers.Integral) and border_mode >= 0:
        return ((int(border_mode),) * 2,) * 2
    if isinstance(border_mode, (tuple, list)) and len(border_mode) == 2:
        padding = []
        for entry in border_mode:
            if isinstance(entry, numbers.Integral) and entry >= 0:
                padding.append((int(entry), int(entry)))
            elif (isinstance(entry, (tuple, list)) and len(entry) == 2 and
                  all(isinstance(p, numbers.Integral) and p >= 0
                      for p in entry)):
                padding.append((int(entry[0]), int(entry[1])))
            else:
                break
        else:
            return tuple(padding)
    raise ConfigurationError(
        'border_mode must be "valid", "full", "half", a non-negative int, or '
        'a pair of non-negative ints or (before, after) pairs; got '
        '{!r}'.format(border_mode))


def _pad(x, padding, axes, fill=0):
    """``x`` padded with ``fill`` along ``axes``; ``padding`` holds a
    ``(before, after)`` pair per axis (ints or symbolic scalars)."""
    if all(isinstance(p, numbers.Integral) and p == 0
           for pair in padding for p in pair):
        return x
    shape = list(x.shape[i] for i in range(x.ndim))
    inner = [slice(None)] * x.ndim
    for axis, (before, after) in zip(axes, padding):
        shape[axis] = shape[axis] + before + after
        inner[axis] = slice(before, before + x.shape[axis])
    buffer = pt.alloc(np.asarray(fill, dtype=x.dtype), *shape)
    return pt.set_subtensor(buffer[tuple(inner)], x)


def _window_view(length_after, offset, stride):
    """The slice that takes, along one axis, the element at ``offset``
    within each window; ``length_after`` elements of the window follow it.

    The stop is written from the end of the axis, so that it needs no
    symbolic length: an axis of length ``L`` gives
    ``ceil((L - offset - length_after) / stride)`` elements, the number of
    whole windows, or none when the axis is shorter than a window.
    """
    return slice(offset, -length_after if length_after else None, stride)


def conv2d(input, filters, input_shape=None, filter_shape=None,
           border_mode='valid', subsample=(1, 1), filter_flip=True,
           filter_dilation=(1, 1)):
    r"""Convolve a batch of multi-channel images with a bank of filters.

    .. math::
       y[b, n, i, j] = \sum_{c, u, v} \tilde{x}[b, c, i s_0 + u d_0,
       j s_1 + v d_1]\, w[n, c, f_0 - 1 - u, f_1 - 1 - v]

    where :math:`\tilde{x}` is the zero-padded input (without the flip when
    ``filter_flip`` is False: :math:`w[n, c, u, v]`).

    Parameters
    ----------
    input : tensor, shape ``(B, C, H, W)``
        Images; every length may be unknown until run time.
    filters : tensor, shape ``(N, C, fh, fw)``
        Filter bank.
    input_shape : tuple of 4 int or None, optional
        Known input shape; not needed (accepted for Theano's signature).
    filter_shape : tuple of 4 int or None, optional
        Filter shape; ``fh`` and ``fw`` are needed when the filter variable
        does not carry a static shape.
    border_mode : str, int or pair, optional
        ``'valid'`` (default), ``'full'``, ``'half'``, an int padding of
        both axes, or a pair with one entry per axis, each an int or a
        ``(before, after)`` pair.
    subsample : pair of int, optional
        Strides along (H, W), default ``(1, 1)``.
    filter_flip : bool, optional
        Flip the filters (a convolution, the default) or not (a
        cross-correlation).
    filter_dilation : pair of int, optional
        Spacing between filter taps, default ``(1, 1)``.

    Returns
    -------
    tensor, shape ``(B, N, H', W')``
        With ``H' = (H + l + r - e) // s + 1`` along each axis (see the
        module docstring).

    Examples
    --------
    >>> import pytensor
    >>> x = pt.tensor4('x', dtype='float64')
    >>> w = np.ones((1, 1, 2, 2))
    >>> f = pytensor.function([x], conv2d(x, w, filter_shape=w.shape))
    >>> f(np.arange(9.0).reshape(1, 1, 3, 3))[0, 0]
    array([[ 8., 12.],
           [20., 24.]])
    """
    x = _tensor(input, 'conv2d input', 4)
    w = _tensor(filters, 'conv2d filters', 4)
    kernel = _kernel_size(w, filter_shape)
    strides = _int_pair(subsample, 'subsample', 1)
    dilation = _int_pair(filter_dilation, 'filter_dilation', 1)
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    padding = _conv_padding(border_mode, extents)

    # Channels last, so that each shifted view is a block of im2col columns.
    # The copy must be C-contiguous in that order: the join of the views
    # keeps its inputs' memory layout, and reshaping the joined matrix would
    # otherwise copy it once more.
    image = cpu_contiguous(
        _pad(x.dimshuffle(0, 2, 3, 1), padding, axes=(1, 2)))
    views = []
    for u in range(kernel[0]):
        rows = _window_view(extents[0] - 1 - u * dilation[0],
                            u * dilation[0], strides[0])
        for v in range(kernel[1]):
            cols = _window_view(extents[1] - 1 - v * dilation[1],
                                v * dilation[1], strides[1])
            views.append(image[:, rows, cols, :])
    patches = views[0] if len(views) == 1 else pt.concatenate(views, axis=3)

    weights = w[:, :, ::-1, ::-1] if filter_flip else w
    # Rows in the order of the im2col columns: (u, v, c).
    matrix = weights.dimshuffle(2, 3, 1, 0).reshape((-1, w.shape[0]))
    product = pt.dot(patches.reshape((-1, patches.shape[3])), matrix)
    output = product.reshape(
        (patches.shape[0], patches.shape[1], patches.shape[2], w.shape[0]))
    return output.dimshuffle(0, 3, 1, 2)


def conv2d_grad_wrt_inputs(output_grad, filters, input_shape,
                           filter_shape=None, border_mode='valid',
                           subsample=(1, 1), filter_flip=True,
                           filter_dilation=(1, 1)):
    """The transpose of :func:`conv2d` with respect to its input.

    For a fixed filter bank ``w``, :func:`conv2d` is a linear map from
    ``(B, C, H, W)`` images to ``(B, N, H', W')`` outputs; this function
    applies its adjoint, so that ``<conv2d(x, w), y> == <x,
    conv2d_grad_wrt_inputs(y, w, x.shape)>``. It is the gradient of a cost
    with respect to a convolution's input, given the gradient ``y`` with
    respect to its output, and the "transposed convolution" of decoders.

    Parameters
    ----------
    output_grad : tensor, shape ``(B, N, H', W')``
        Data in the shape of a convolution's output.
    filters : tensor, shape ``(N, C, fh, fw)``
        Filter bank.
    input_shape : tuple of 4
        Shape of the convolution's input ``(B, C, H, W)``; ``B`` and ``C``
        may be None, ``H`` and ``W`` (ints or symbolic scalars) are needed
        because strides make them ambiguous.
    filter_shape, border_mode, subsample, filter_flip, filter_dilation
        As for :func:`conv2d`.

    Returns
    -------
    tensor, shape ``(B, C, H, W)``

    Examples
    --------
    >>> import pytensor
    >>> y = pt.tensor4('y', dtype='float64')
    >>> w = np.ones((1, 1, 2, 2))
    >>> x = conv2d_grad_wrt_inputs(y, w, (None, 1, 3, 3), w.shape)
    >>> pytensor.function([y], x)(np.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    y = _tensor(output_grad, 'conv2d_grad_wrt_inputs output_grad', 4)
    w = _tensor(filters, 'conv2d_grad_wrt_inputs filters', 4)
    if input_shape is None or len(input_shape) != 4 or \
            input_shape[2] is None or input_shape[3] is None:
        raise ConfigurationError(
            'conv2d_grad_wrt_inputs needs input_shape=(B, C, H, W) with the '
            'image lengths H and W given; got {!r}'.format(input_shape))
    lengths = tuple(input_shape[2:])
    kernel = _kernel_size(w, filter_shape)
    strides = _int_pair(subsample, 'subsample', 1)
    dilation = _int_pair(filter_dilation, 'filter_dilation', 1)
    extents = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    padding = _conv_padding(border_mode, extents)

    weights = w[:, :, ::-1, ::-1] if filter_flip else w
    matrix = weights.dimshuffle(2, 3, 1, 0).reshape((-1, w.shape[0]))
    grad = y.dimshuffle(0, 2, 3, 1)
    batch, out_rows, out_cols = grad.shape[0], grad.shape[1], grad.shape[2]
    channels = w.shape[1]
    columns = pt.dot(grad.reshape((-1, w.shape[0])), matrix.T).reshape(
        (batch, out_rows, out_cols, kernel[0] * kernel[1], channels))

    dtype = columns.dtype
    buffer = pt.zeros(
        (batch, lengths[0] + sum(padding[0]), lengths[1] + sum(padding[1]),
         channels), dtype=dtype)
    for u in range(kernel[0]):
        start = u * dilation[0]
        # max(., 0): no output rows must give an empty slice, never a
        # negative (wrapping) stop.
        rows = slice(start, pt.maximum(
            start + (out_rows - 1) * strides[0] + 1, 0), strides[0])
        for v in range(kernel[1]):
            start = v * dilation[1]
            cols = slice(start, pt.maximum(
                start + (out_cols - 1) * strides[1] + 1, 0), strides[1])
            buffer = pt.inc_subtensor(
                buffer[:, rows, cols, :],
                columns[:, :, :, u * kernel[1] + v, :])
    image = buffer[:, padding[0][0]:padding[0][0] + lengths[0],
                   padding[1][0]:padding[1][0] + lengths[1], :]
    return image.dimshuffle(0, 3, 1, 2)


def _lowest(dtype):
    """The value below every other of ``dtype``: the fill that max pooling
    never picks."""
    if np.issubdtype(np.dtype(dtype), np.floating):
        return -np.inf
    return np.iinfo(dtype).min


def _pool_length(length, window, stride, ignore_border):
    """Number of pooling windows along an axis of (padded) ``length``."""
    if ignore_border:
        return pt.maximum((length - window) // stride + 1, 0)
    if stride >= window:
        return (length - 1) // stride + 1
    return pt.maximum((length - 1 - window) // stride + 1, 0) + 1


def _window_counts(length, count, window, stride, pad, exclude_pad):
    """Per-window element counts along one axis: the window clamped to the
    padded axis, or to the data when ``exclude_pad``."""
    starts = pt.arange(count) * stride
    if exclude_pad:
        return (pt.minimum(starts + window, pad + length) -
                pt.maximum(starts, pad))
    return pt.minimum(starts + window, length + 2 * pad) - starts


def _max_pool_tiles(x, window):
    """Max pooling over non-overlapping windows that start at 0: the data
    that whole windows cover, reshaped so that each window has two axes of
    its own (a little faster than the general path's stacked views)."""
    lead = [x.shape[i] for i in range(x.ndim - 2)]
    counts = [x.shape[x.ndim - 2] // window[0],
              x.shape[x.ndim - 1] // window[1]]
    covered = x[(slice(None),) * (x.ndim - 2) +
                (slice(None, counts[0] * window[0]),
                 slice(None, counts[1] * window[1]))]
    tiles = covered.reshape(lead + [counts[0], window[0],
                                    counts[1], window[1]])
    return pt.max(tiles, axis=(x.ndim - 1, x.ndim + 1))


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0),
            mode='max'):
    """Pool windows over the last two axes of a tensor.

    Parameters
    ----------
    input : tensor with at least 2 axes
        Data; the last two axes are pooled, the others kept.
    ws : pair of int
        Window size.
    ignore_border : bool, optional
        True drops windows that would reach past the (padded) data; False
        keeps a partial window at the end of an axis when the whole windows
        leave data uncovered. None (Theano's default) warns and means False.
    stride : pair of int, optional
        Step between windows; defaults to ``ws``.
    pad : pair of int, optional
        Padding on both sides of each axis, smaller than the window; needs
        ``ignore_border=True``. The padding never wins a max and adds
        nothing to a sum.
    mode : str, optional
        ``'max'`` (default), ``'sum'``, ``'average_inc_pad'`` (sum over the
        window's size, padding included) or ``'average_exc_pad'`` (sum over
        the number of data elements in the window).

    Returns
    -------
    tensor
        Of the input's shape but for the last two axes, whose lengths are
        ``(L + 2p - w) // s + 1`` (at least 0) with ``ignore_border``, else
        the number of windows that cover the axis.

    Examples
    --------
    >>> import pytensor
    >>> x = pt.matrix('x', dtype='float64')
    >>> f = pytensor.function([x], pool_2d(x, ws=(2, 2), ignore_border=True))
    >>> f(np.arange(15.0).reshape(3, 5))
    array([[6., 8.]])
    """
    x = pt.as_tensor_variable(input)
    if x.ndim < 2:
        raise ConfigurationError(
            'pool_2d input must have at least 2 axes, got {} ({})'.format(
                x.ndim, x.type))
    if ws is None:
        raise ConfigurationError('pool_2d needs a window size ws')
    window = _int_pair(ws, 'pool_2d ws', 1)
    strides = window if stride is None else _int_pair(
        stride, 'pool_2d stride', 1)
    padding = _int_pair((0, 0) if pad is None else pad, 'pool_2d pad', 0)
    if mode not in POOL_MODES:
        raise ConfigurationError(
            'pool_2d mode must be one of {}, got {!r}'.format(
                ', '.join(POOL_MODES), mode))
    if ignore_border is None:
        warnings.warn(
            'pool_2d: ignore_border was not given and is taken as False, '
            'as in Theano; pass ignore_border=True to drop partial windows',
            stacklevel=2)
        ignore_border = False
    if any(padding) and not ignore_border:
        raise ConfigurationError(
            'pool_2d pad {} needs ignore_border=True'.format(padding))
    if any(p >= w for p, w in zip(padding, window)):
        raise ConfigurationError(
            'pool_2d pad {} must be smaller than the window {}'.format(
                padding, window))

    axes = (x.ndim - 2, x.ndim - 1)
    lengths = [x.shape[axis] for axis in axes]
    if (mode == 'max' and ignore_border and strides == window and
            not any(padding)):
        return _max_pool_tiles(x, window)
    counts = [_pool_length(length + 2 * p, w, s, ignore_border)
              for length, w, s, p in zip(lengths, window, strides, padding)]
    fill = _lowest(x.dtype) if mode == 'max' else 0
    if ignore_border:
        data = _pad(x, [(p, p) for p in padding], axes, fill)
        slices = [[_window_view(w - 1 - u, u, s) for u in range(w)]
                  for w, s in zip(window, strides)]
    else:
        # Extend each axis to hold the last, partial window.
        extra = [pt.maximum((n - 1) * s + w - length, 0) for n, w, s, length
                 in zip(counts, window, strides, lengths)]
        data = _pad(x, [(0, e) for e in extra], axes, fill)
        slices = [[slice(u, u + (n - 1) * s + 1, s) for u in range(w)]
                  for n, w, s in zip(counts, window, strides)]
    lead = (slice(None),) * (x.ndim - 2)
    views = [data[lead + (rows, cols)]
             for rows in slices[0] for cols in slices[1]]

    if mode == 'max':
        if len(views) == 1:
            return views[0]
        # A reduction, not a chain of maximum(): its gradient goes to every
        # element equal to the maximum, as Theano's max pooling does. Along
        # a new first axis, the views are whole contiguous blocks.
        return pt.max(pt.stack(views, axis=0), axis=0)
    total = views[0]
    for view in views[1:]:
        total = total + view
    if mode == 'sum':
        return total
    uniform = ignore_border and (mode == 'average_inc_pad' or not any(padding))
    if uniform:
        return total / np.asarray(window[0] * window[1], dtype=total.dtype)
    exclude_pad = mode == 'average_exc_pad'
    sizes = [_window_counts(length, n, w, s, p, exclude_pad)
             for length, n, w, s, p
             in zip(lengths, counts, window, strides, padding)]
    area = pt.outer(sizes[0], sizes[1]).astype(total.dtype)
    return total / area
