"""Tests of theanets/_pytensor_nnet.py, the PyTensor backend's convolution
and pooling (Theano's ``conv2d``, ``conv2d_grad_wrt_inputs`` and
``pool_2d``).

These apply to the PyTensor backend only and are skipped where PyTensor is
not installed. Results are compared with direct-loop numpy references
written here, with a few values that Theano 1.0.5 itself computed, and with
finite differences; the transposed convolution is checked to be the adjoint
of the convolution.
"""

import itertools

import numpy as np
import pytest

pytest.importorskip('pytensor')

import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

from theanets import _pytensor_nnet as nnet  # noqa: E402
from theanets.exceptions import ConfigurationError  # noqa: E402

BORDER_MODES = ['valid', 'full', 'half', 1, (2, 0), ((0, 2), (1, 0))]
STRIDES = [(1, 1), (2, 1), (2, 2)]
FILTER_SIZES = [(1, 1), (2, 2), (3, 2), (4, 3)]
C_MODE = pytensor.compile.mode.get_mode('FAST_RUN')


def compile_function(inputs, outputs):
    return pytensor.function(inputs, outputs, mode=C_MODE)


def seeded(seed, *shape):
    return np.random.RandomState(seed).randn(*shape)


def theano_data(*shape):
    """The inputs of the pinned Theano values: ``sin(0.7 k)``, k = 1, 2..."""
    count = int(np.prod(shape))
    return np.sin(np.arange(1, count + 1) * 0.7).reshape(shape)


# -- numpy references: direct loops over every output element -------------

def reference_padding(border_mode, extents):
    if border_mode == 'valid':
        return [(0, 0), (0, 0)]
    if border_mode == 'full':
        return [(e - 1, e - 1) for e in extents]
    if border_mode == 'half':
        return [(e // 2, e // 2) for e in extents]
    if isinstance(border_mode, int):
        return [(border_mode, border_mode)] * 2
    return [(b, b) if isinstance(b, int) else tuple(b) for b in border_mode]


def reference_conv2d(x, w, border_mode, stride, flip=True, dilation=(1, 1)):
    """``y[b, n, i, j] = sum_{c,u,v} xpad[b, c, i s0 + u d0, j s1 + v d1]
    * w[n, c, fh-1-u, fw-1-v]``, one element at a time."""
    batch, channels, height, width = x.shape
    count, _, fh, fw = w.shape
    extents = ((fh - 1) * dilation[0] + 1, (fw - 1) * dilation[1] + 1)
    (top, bottom), (left, right) = reference_padding(border_mode, extents)
    padded = np.zeros((batch, channels, height + top + bottom,
                       width + left + right))
    padded[:, :, top:top + height, left:left + width] = x
    kernel = w[:, :, ::-1, ::-1] if flip else w
    rows = (padded.shape[2] - extents[0]) // stride[0] + 1
    cols = (padded.shape[3] - extents[1]) // stride[1] + 1
    y = np.zeros((batch, count, max(rows, 0), max(cols, 0)))
    for b, n, i, j in np.ndindex(*y.shape):
        total = 0.0
        for c, u, v in np.ndindex(channels, fh, fw):
            total += (padded[b, c, i * stride[0] + u * dilation[0],
                             j * stride[1] + v * dilation[1]] *
                      kernel[n, c, u, v])
        y[b, n, i, j] = total
    return y


def reference_pool(x, ws, stride, mode, ignore_border=True, pad=(0, 0)):
    """Pool the last two axes window by window (Theano's rules: padding
    never wins a max; ``average_inc_pad`` divides by the window clamped to
    the padded image, ``average_exc_pad`` by its data elements)."""
    lengths = x.shape[-2:]
    padded_lengths = [n + 2 * p for n, p in zip(lengths, pad)]
    counts = []
    for n, w, s in zip(padded_lengths, ws, stride):
        if ignore_border:
            counts.append(max((n - w) // s + 1, 0))
        else:
            # windows start at 0, s, 2s, ... until every element is covered
            k = 1
            while (k - 1) * s + w < n and k * s < n:
                k += 1
            counts.append(k)
    out = np.zeros(x.shape[:-2] + tuple(counts))
    for index in np.ndindex(*out.shape):
        lead, (i, j) = index[:-2], index[-2:]
        starts = (i * stride[0], j * stride[1])
        padded_bounds = [(s, min(s + w, n)) for s, w, n
                         in zip(starts, ws, padded_lengths)]
        data_bounds = [(max(lo, p) - p, min(hi, p + n) - p) for (lo, hi), p, n
                       in zip(padded_bounds, pad, lengths)]
        block = x[lead][data_bounds[0][0]:data_bounds[0][1],
                        data_bounds[1][0]:data_bounds[1][1]]
        if mode == 'max':
            out[index] = block.max()
        elif mode == 'sum':
            out[index] = block.sum()
        elif mode == 'average_exc_pad':
            out[index] = block.sum() / block.size
        else:
            area = np.prod([hi - lo for lo, hi in padded_bounds])
            out[index] = block.sum() / area
    return out


def test_reference_conv2d_matches_a_hand_computed_case():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, 2.0]]]])
    # flipped kernel [[2, 0], [0, 1]]: 2 * x[i, j] + x[i+1, j+1]
    assert reference_conv2d(x, w, 'valid', (1, 1))[0, 0].tolist() == \
        [[4.0, 7.0], [13.0, 16.0]]


# -- conv2d ----------------------------------------------------------------

@pytest.mark.parametrize('filter_size', FILTER_SIZES)
def test_conv2d_matches_reference(filter_size):
    """Every border mode and stride, non-square images of two sizes through
    one compiled function (unknown batch size and lengths)."""
    x = pt.tensor4('x', dtype='float64')
    w = pt.tensor4('w', dtype='float64')
    filter_shape = (2, 3) + filter_size
    configs = list(itertools.product(BORDER_MODES, STRIDES))
    f = compile_function([x, w], [
        nnet.conv2d(x, w, input_shape=(None, 3, None, None),
                    filter_shape=filter_shape, border_mode=border_mode,
                    subsample=stride)
        for border_mode, stride in configs])
    weights = seeded(1, *filter_shape)
    for image_shape in [(2, 3, 7, 9), (1, 3, 6, 5)]:
        images = seeded(2, *image_shape)
        for (border_mode, stride), got in zip(configs, f(images, weights)):
            want = reference_conv2d(images, weights, border_mode, stride)
            assert got.shape == want.shape, (border_mode, stride)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12,
                                       err_msg=str((border_mode, stride)))


def test_conv2d_without_flip_and_with_dilation():
    x = pt.tensor4('x', dtype='float64')
    w = pt.tensor4('w', dtype='float64')
    configs = [(False, (1, 1), 'valid'), (True, (2, 1), 'half'),
               (False, (2, 3), 'full'), (True, (3, 2), (1, 2))]
    f = compile_function([x, w], [
        nnet.conv2d(x, w, filter_shape=(2, 2, 3, 2), border_mode=border_mode,
                    subsample=(1, 2), filter_flip=flip,
                    filter_dilation=dilation)
        for flip, dilation, border_mode in configs])
    images, weights = seeded(3, 2, 2, 9, 8), seeded(4, 2, 2, 3, 2)
    for (flip, dilation, border_mode), got in zip(configs, f(images, weights)):
        want = reference_conv2d(images, weights, border_mode, (1, 2),
                                flip=flip, dilation=dilation)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_image_smaller_than_filter_gives_empty_output():
    x = pt.tensor4('x', dtype='float64')
    f = compile_function([x], nnet.conv2d(x, np.ones((2, 1, 4, 4)),
                                          filter_shape=(2, 1, 4, 4)))
    assert f(np.ones((3, 1, 3, 5))).shape == (3, 2, 0, 2)


def test_conv2d_float32_stays_float32():
    x = pt.tensor4('x', dtype='float32')
    w = pt.tensor4('w', dtype='float32')
    y = nnet.conv2d(x, w, filter_shape=(4, 2, 3, 3), border_mode='half',
                    subsample=(2, 2))
    assert y.dtype == 'float32'
    images = seeded(5, 3, 2, 8, 7).astype('float32')
    weights = seeded(6, 4, 2, 3, 3).astype('float32')
    got = compile_function([x, w], y)(images, weights)
    assert got.dtype == np.float32
    np.testing.assert_allclose(
        got, reference_conv2d(images.astype(float), weights.astype(float),
                              'half', (2, 2)), rtol=1e-5, atol=1e-5)


def test_conv2d_takes_the_filter_size_from_a_static_shape():
    x = pt.tensor4('x', dtype='float64')
    weights = seeded(7, 2, 1, 2, 3)
    shared = pytensor.shared(weights, shape=weights.shape)
    images = seeded(8, 1, 1, 4, 6)
    got = compile_function([x], nnet.conv2d(x, shared))(images)
    np.testing.assert_allclose(
        got, reference_conv2d(images, weights, 'valid', (1, 1)), rtol=1e-12)


def test_conv2d_matches_theano():
    """Pinned from Theano 1.0.5 (/work/venv): ``TT.nnet.conv2d(x, w,
    border_mode='half', subsample=(2, 1))`` with ``x =
    theano_data(1, 2, 4, 5)``, ``w = 0.5 * theano_data(2, 2, 2, 3)``."""
    theano_values = [
        [[0.218998555889, 1.140769756519, 1.51769112889, 1.180818648766,
          0.272221178218],
         [0.572892668174, 1.954890700117, 2.39089825275, 1.702428998299,
          0.301889767137],
         [0.329440141609, 1.239189372978, 1.435454473281, 0.956602905205,
          0.021832393292]],
        [[0.559562487989, 0.053660938307, -0.89637970513, -1.424838966924,
          -0.941626113498],
         [0.837922853485, 0.044646753743, -1.261522216073, -1.974377575842,
          -1.184634853202],
         [0.697633978882, 0.146435276378, -0.721279922967, -1.24976590423,
          -0.713816261735]]]
    x = pt.tensor4('x', dtype='float64')
    weights = 0.5 * theano_data(2, 2, 2, 3)
    y = nnet.conv2d(x, weights, filter_shape=weights.shape,
                    border_mode='half', subsample=(2, 1))
    got = compile_function([x], y)(theano_data(1, 2, 4, 5))
    np.testing.assert_allclose(got[0], theano_values, atol=1e-11)


@pytest.mark.parametrize('border_mode', [
    -1, 1.5, ('valid', 1), (1, -1), (1, 2, 3), ((1, 2, 3), 0), ((1, -2), 0)])
def test_conv2d_rejects_bad_border_modes(border_mode):
    with pytest.raises(ConfigurationError, match='border_mode'):
        nnet.conv2d(pt.tensor4('x'), np.ones((1, 1, 2, 2)),
                    filter_shape=(1, 1, 2, 2), border_mode=border_mode)


@pytest.mark.parametrize('subsample', [(0, 1), 2.0, (1, 2, 1)])
def test_conv2d_rejects_bad_strides(subsample):
    with pytest.raises(ConfigurationError, match='subsample'):
        nnet.conv2d(pt.tensor4('x'), np.ones((1, 1, 2, 2)),
                    filter_shape=(1, 1, 2, 2), subsample=subsample)


def test_conv2d_error_messages():
    x, w = pt.tensor4('x'), pt.tensor4('w')
    with pytest.raises(ConfigurationError, match='filter_shape'):
        nnet.conv2d(x, w)
    with pytest.raises(ConfigurationError, match='4-d tensor, got 3 axes'):
        nnet.conv2d(pt.tensor3('x'), w, filter_shape=(1, 1, 2, 2))
    with pytest.raises(ConfigurationError, match="got 'same'"):
        nnet.conv2d(x, w, filter_shape=(1, 1, 2, 2), border_mode='same')
    with pytest.raises(ConfigurationError, match='H and W'):
        nnet.conv2d_grad_wrt_inputs(x, w, (None, 1, None, 4),
                                    filter_shape=(1, 1, 2, 2))


# -- conv2d_grad_wrt_inputs ------------------------------------------------

@pytest.mark.parametrize('filter_size', [(1, 1), (2, 2), (3, 2)])
def test_transposed_conv_is_the_adjoint(filter_size):
    """``<conv(x), y> == <x, conv_T(y)>`` for every border mode and stride,
    including image lengths that the strides do not fit exactly, given as
    symbolic lengths."""
    x = pt.tensor4('x', dtype='float64')
    w = pt.tensor4('w', dtype='float64')
    filter_shape = (3, 2) + filter_size
    configs = list(itertools.product(BORDER_MODES, STRIDES))
    grads = [pt.tensor4('y', dtype='float64') for _ in configs]
    forward = compile_function([x, w], [
        nnet.conv2d(x, w, filter_shape=filter_shape, border_mode=border_mode,
                    subsample=stride)
        for border_mode, stride in configs])
    backward = compile_function([x, w] + grads, [
        nnet.conv2d_grad_wrt_inputs(
            y, w, input_shape=(None, 2, x.shape[2], x.shape[3]),
            filter_shape=filter_shape, border_mode=border_mode,
            subsample=stride)
        for (border_mode, stride), y in zip(configs, grads)])
    weights = seeded(9, *filter_shape)
    for image_shape in [(2, 2, 7, 8), (1, 2, 6, 5)]:
        images = seeded(10, *image_shape)
        outputs = forward(images, weights)
        output_grads = [seeded(11 + i, *value.shape)
                        for i, value in enumerate(outputs)]
        image_grads = backward(images, weights, *output_grads)
        for config, value, grad, back in zip(
                configs, outputs, output_grads, image_grads):
            assert back.shape == images.shape, config
            np.testing.assert_allclose(np.vdot(value, grad),
                                       np.vdot(images, back), rtol=1e-11,
                                       err_msg=str(config))


def test_transposed_conv_equals_autodiff_of_conv():
    x = pt.tensor4('x', dtype='float64')
    y = pt.tensor4('y', dtype='float64')
    weights = seeded(12, 3, 2, 3, 2)
    conv = nnet.conv2d(x, weights, filter_shape=weights.shape,
                       border_mode=(1, 2), subsample=(2, 3),
                       filter_dilation=(2, 1))
    autodiff = pytensor.grad(None, x, known_grads={conv: y})
    transposed = nnet.conv2d_grad_wrt_inputs(
        y, weights, input_shape=(None, 2, 8, 9), filter_shape=weights.shape,
        border_mode=(1, 2), subsample=(2, 3), filter_dilation=(2, 1))
    f = compile_function([x, y], [autodiff, transposed])
    images = seeded(13, 2, 2, 8, 9)
    grad = seeded(14, *reference_conv2d(images, weights, (1, 2), (2, 3),
                                        dilation=(2, 1)).shape)
    want, got = f(images, grad)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_transposed_conv_matches_theano():
    """Pinned from Theano 1.0.5 (/work/venv):
    ``abstract_conv.conv2d_grad_wrt_inputs(y, w, input_shape=(None, 2, 5,
    6), border_mode=(1, 0), subsample=(2, 2))`` with ``y =
    theano_data(1, 2, 3, 2)``, ``w = 0.5 * theano_data(2, 2, 2, 3)``; the
    last column is outside every window."""
    theano_values = [
        [[0.710177069742, 0.497446261974, 0.753744715406, 0.601228609054,
          0.216703997796, 0.0],
         [-0.375893517961, -0.156596331848, 0.001411723874, -0.26180801173,
          -0.265544792536, 0.0],
         [0.365169646853, 0.422243746839, 0.136338306787, 0.044671052746,
          0.212724319541, 0.0],
         [0.169479694907, -0.243887292832, -0.148361002658, -0.111262569272,
          -0.564385886939, 0.0],
         [-0.586043386643, -0.353911135458, -0.707398650461, -0.586043386643,
          -0.14439170816, 0.0]],
        [[-0.410037185896, -0.689948959084, -0.904028208512, -0.623709456362,
          -0.69541735722, 0.0],
         [0.361387159207, 0.423285982261, 0.13768722424, 0.040004423933,
          0.209613711795, 0.0],
         [0.014367109721, -0.264129650583, -0.137763713384, 0.219674457004,
          0.055394188676, 0.0],
         [-0.58842225569, -0.362091840057, -0.717144734791, -0.593890653827,
          -0.156784492774, 0.0],
         [0.414921059078, 0.600162234954, 0.857197598994, 0.698384336012,
          0.714247741185, 0.0]]]
    y = pt.tensor4('y', dtype='float64')
    weights = 0.5 * theano_data(2, 2, 2, 3)
    x = nnet.conv2d_grad_wrt_inputs(
        y, weights, input_shape=(None, 2, 5, 6), filter_shape=weights.shape,
        border_mode=(1, 0), subsample=(2, 2))
    got = compile_function([y], x)(theano_data(1, 2, 3, 2))
    np.testing.assert_allclose(got[0], theano_values, atol=1e-11)


# -- pool_2d ---------------------------------------------------------------

POOL_CASES = [
    # window, stride: tiling, overlapping, gaps, 1-wide, non-dividing
    ((2, 2), (2, 2)), ((3, 3), (1, 1)), ((3, 2), (2, 1)), ((2, 3), (3, 3)),
    ((1, 2), (1, 2)), ((4, 1), (2, 1)),
]


@pytest.mark.parametrize('mode', nnet.POOL_MODES)
def test_pool_2d_matches_reference(mode):
    x = pt.tensor4('x', dtype='float64')
    f = compile_function([x], [
        nnet.pool_2d(x, ws=ws, stride=stride, mode=mode, ignore_border=True)
        for ws, stride in POOL_CASES])
    for shape in [(2, 3, 7, 9), (1, 2, 6, 5)]:
        data = seeded(20, *shape)
        for (ws, stride), got in zip(POOL_CASES, f(data)):
            want = reference_pool(data, ws, stride, mode)
            assert got.shape == want.shape, (ws, stride)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12,
                                       err_msg=str((ws, stride)))


@pytest.mark.parametrize('mode', nnet.POOL_MODES)
def test_pool_2d_with_padding_and_partial_windows(mode):
    x = pt.tensor3('x', dtype='float64')
    cases = [dict(ws=(3, 2), stride=(2, 2), pad=(1, 1), ignore_border=True),
             dict(ws=(3, 3), stride=(1, 2), pad=(2, 0), ignore_border=True),
             dict(ws=(3, 3), stride=(2, 3), ignore_border=False),
             dict(ws=(2, 3), stride=(2, 2), ignore_border=False),
             dict(ws=(3, 1), stride=(4, 1), ignore_border=False)]
    f = compile_function([x], [nnet.pool_2d(x, mode=mode, **case)
                               for case in cases])
    for shape in [(2, 5, 7), (1, 8, 6)]:
        data = seeded(21, *shape)
        for case, got in zip(cases, f(data)):
            want = reference_pool(data, case['ws'], case['stride'], mode,
                                  case['ignore_border'],
                                  case.get('pad', (0, 0)))
            assert got.shape == want.shape, case
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12,
                                       err_msg=str(case))


def test_pool_2d_matches_theano():
    """Pinned from Theano 1.0.5 (/work/venv): ``pool.pool_2d`` of
    ``theano_data(1, 1, 5, 7)``."""
    theano_values = {
        ('average_exc_pad', (3, 2), (2, 2), (1, 1), True): [
            [0.006475524683, 0.63061489896, 0.456743016108, -0.475352287985],
            [-0.402614680366, -0.365525465492, 0.160916853918, 0.420226621302],
            [0.647942381291, -0.036482540225, -0.718300469704,
             -0.207692416934]],
        ('average_inc_pad', (3, 2), (2, 2), (1, 1), True): [
            [0.002158508228, 0.42040993264, 0.304495344072, -0.316901525323],
            [-0.201307340183, -0.365525465492, 0.160916853918, 0.420226621302],
            [0.215980793764, -0.024321693484, -0.478866979803,
             -0.138461611289]],
        ('max', (3, 3), (2, 3), (0, 0), False): [
            [0.985449729988, 0.990607355695, 0.845746831143],
            [0.992766405836, 0.990607355695, 0.845746831143]],
        ('average_exc_pad', (2, 3), (2, 2), (0, 0), False): [
            [0.422568440868, 0.5578613383, -0.232932245257],
            [-0.573921782563, -0.397161694046, 0.438912905751],
            [0.705491565233, -0.335230133204, -0.819447781143]],
        ('average_inc_pad', (2, 3), (2, 2), (0, 0), False): [
            [0.422568440868, 0.5578613383, -0.232932245257],
            [-0.573921782563, -0.397161694046, 0.438912905751],
            [0.705491565233, -0.335230133204, -0.819447781143]],
    }
    x = pt.tensor4('x', dtype='float64')
    keys = list(theano_values)
    f = compile_function([x], [
        nnet.pool_2d(x, ws=ws, stride=stride, pad=pad, mode=mode,
                     ignore_border=ignore_border)
        for mode, ws, stride, pad, ignore_border in keys])
    for key, got in zip(keys, f(theano_data(1, 1, 5, 7))):
        np.testing.assert_allclose(got[0, 0], theano_values[key], atol=1e-11,
                                   err_msg=str(key))


def test_pool_2d_small_input_and_default_stride():
    x = pt.matrix('x', dtype='float64')
    f = compile_function([x], [nnet.pool_2d(x, ws=(3, 2), ignore_border=True),
                               nnet.pool_2d(x, ws=(3, 2), stride=(1, 1),
                                            mode='sum', ignore_border=True)])
    tiled, overlapping = f(seeded(22, 2, 5))
    assert tiled.shape == (0, 2)
    assert overlapping.shape == (0, 4)


def test_pool_2d_float32_stays_float32():
    x = pt.tensor4('x', dtype='float32')
    outputs = [nnet.pool_2d(x, ws=(2, 2), mode=mode, ignore_border=True)
               for mode in nnet.POOL_MODES]
    assert [y.dtype for y in outputs] == ['float32'] * 4
    data = seeded(23, 2, 3, 5, 4).astype('float32')
    for mode, got in zip(nnet.POOL_MODES,
                         compile_function([x], outputs)(data)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(
            got, reference_pool(data.astype(float), (2, 2), (2, 2), mode),
            rtol=1e-6)


def test_pool_2d_without_ignore_border_warns_and_keeps_partial_windows():
    x = pt.matrix('x', dtype='float64')
    with pytest.warns(UserWarning, match='ignore_border'):
        y = nnet.pool_2d(x, ws=(2, 2))
    assert compile_function([x], y)(np.ones((3, 5))).shape == (2, 3)


def test_pool_2d_error_messages():
    x = pt.tensor4('x')
    with pytest.raises(ConfigurationError, match="got 'mean'"):
        nnet.pool_2d(x, ws=(2, 2), mode='mean', ignore_border=True)
    with pytest.raises(ConfigurationError, match='smaller than the window'):
        nnet.pool_2d(x, ws=(2, 2), pad=(2, 0), ignore_border=True)
    with pytest.raises(ConfigurationError, match='needs ignore_border=True'):
        nnet.pool_2d(x, ws=(2, 2), pad=(1, 0), ignore_border=False)
    with pytest.raises(ConfigurationError, match='at least 2 axes'):
        nnet.pool_2d(pt.vector('v'), ws=(2, 2), ignore_border=True)
    with pytest.raises(ConfigurationError, match='stride'):
        nnet.pool_2d(x, ws=(2, 2), stride=(1, 0), ignore_border=True)


def test_max_pool_gradient_goes_to_every_tied_maximum():
    """As with Theano's MaxPoolGrad, each element equal to its window's
    maximum receives the window's gradient."""
    x = pt.matrix('x', dtype='float64')
    y = nnet.pool_2d(x, ws=(2, 2), ignore_border=True)
    grad = compile_function([x], pytensor.grad(y.sum(), x))
    data = np.array([[1.0, 1.0, 0.0, 3.0],
                     [1.0, 0.0, 2.0, 1.0]])
    np.testing.assert_array_equal(grad(data), [[1, 1, 0, 1], [1, 0, 0, 0]])
    overlapping = nnet.pool_2d(x, ws=(2, 2), stride=(1, 1), ignore_border=True)
    grad = compile_function([x], pytensor.grad(overlapping.sum(), x))
    # every element of a constant image is the maximum of each of its windows
    np.testing.assert_array_equal(grad(np.ones((3, 4))),
                                  [[1, 2, 2, 1], [2, 4, 4, 2], [1, 2, 2, 1]])


# -- finite-difference gradients (float64) ---------------------------------

def verify_grad(function, values, seed):
    pytensor.gradient.verify_grad(
        function, values, rng=np.random.default_rng(seed), mode=C_MODE)


@pytest.mark.parametrize('border_mode, stride, dilation', [
    ('valid', (1, 1), (1, 1)), ('full', (2, 1), (1, 1)),
    ('half', (2, 2), (1, 2)), (((0, 2), 1), (1, 2), (1, 1))])
def test_conv2d_gradients(border_mode, stride, dilation):
    def conv(x, w):
        return nnet.conv2d(x, w, filter_shape=(3, 2, 3, 2),
                           border_mode=border_mode, subsample=stride,
                           filter_dilation=dilation)
    verify_grad(conv, [seeded(30, 2, 2, 6, 5), seeded(31, 3, 2, 3, 2)], 32)


@pytest.mark.parametrize('border_mode, stride', [
    ('valid', (2, 2)), ('half', (1, 1)), ((1, 0), (2, 1))])
def test_transposed_conv_gradients(border_mode, stride):
    def transposed(y, w):
        return nnet.conv2d_grad_wrt_inputs(
            y, w, input_shape=(None, 2, 7, 6), filter_shape=(3, 2, 2, 3),
            border_mode=border_mode, subsample=stride)
    output_shape = reference_conv2d(np.zeros((1, 2, 7, 6)),
                                    np.zeros((3, 2, 2, 3)),
                                    border_mode, stride).shape
    verify_grad(transposed, [seeded(33, *output_shape),
                             seeded(34, 3, 2, 2, 3)], 35)


@pytest.mark.parametrize('mode', nnet.POOL_MODES)
@pytest.mark.parametrize('case', [
    dict(ws=(2, 2), ignore_border=True),
    dict(ws=(3, 2), stride=(1, 2), pad=(1, 1), ignore_border=True),
    dict(ws=(2, 3), stride=(2, 2), ignore_border=False)])
def test_pool_2d_gradients(mode, case):
    verify_grad(lambda x: nnet.pool_2d(x, mode=mode, **case),
                [seeded(36, 2, 5, 7)], 37)
