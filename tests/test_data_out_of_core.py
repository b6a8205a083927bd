"""Training on data too large for memory: memory maps, dask, h5py and zarr.

Such arrays are read block by block (``theanets._lazy``): every pass covers
each example once, shuffled across blocks by the training ``rng``; each
batch is checked as it is read, so a NaN or a bad label in a later chunk
stops training with a DataError naming the batch and its rows; shapes and
dtypes are checked from metadata before anything is compiled; and memory
stays bounded by a few blocks, whatever the size of the data.
"""

import os
import tracemalloc

import numpy as np
import pytest

from theanets import _data, _lazy, feedforward, validation
from theanets.exceptions import ConfigurationError, DataError
from theanets.options import TrainingOptions

from tests.helpers import NUM_INPUTS, NUM_OUTPUTS, NUM_CLASSES

ROWS = 600


@pytest.fixture(scope='module')
def task():
    """Float64 inputs, float32 targets of a linear teacher, int64 labels."""
    rng = np.random.RandomState(5)
    x = rng.randn(ROWS, NUM_INPUTS)
    y = x.dot(rng.randn(NUM_INPUTS, NUM_OUTPUTS)).astype('float32')
    labels = x[:, :NUM_CLASSES].argmax(axis=1).astype('int64')
    return x, y, labels


def _memmap(tmp_path, name, array):
    path = os.path.join(str(tmp_path), name + '.npy')
    np.save(path, array)
    return np.load(path, mmap_mode='r')


def _losses(net, train, **kwargs):
    kwargs = dict(dict(algo='sgd', learning_rate=0.02, batch_size=32,
                       max_updates=4, progress=False), **kwargs)
    return [float(t['loss']) for t, _ in net.itertrain(train, **kwargs)]


def _regressor():
    return feedforward.Regressor([NUM_INPUTS, NUM_OUTPUTS], rng=11)


def _assert_learns(losses):
    assert len(losses) == 4
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------------------
# each kind of out-of-core array trains


def test_memmap_trains_and_is_read_lazily(tmp_path, task):
    x, y, _ = task
    xm, ym = _memmap(tmp_path, 'x', x), _memmap(tmp_path, 'y', y)
    assert _lazy.lazy_kind(xm) == 'memmap'
    _assert_learns(_losses(_regressor(), [xm, ym], block_size=64))


def test_dask_array_with_chunks_smaller_than_the_data_trains(task):
    da = pytest.importorskip('dask.array')
    x, y, _ = task
    xd, yd = da.from_array(x, chunks=(150, -1)), da.from_array(y, chunks=100)
    assert _lazy.lazy_kind(xd) == 'dask'
    _assert_learns(_losses(_regressor(), [xd, yd]))


def test_h5py_dataset_trains(tmp_path, task):
    h5py = pytest.importorskip('h5py')
    x, y, _ = task
    with h5py.File(str(tmp_path / 'data.h5'), 'w') as handle:
        handle.create_dataset('x', data=x, chunks=(128, NUM_INPUTS))
        handle.create_dataset('y', data=y)  # contiguous: no chunks
        assert _lazy.lazy_kind(handle['x']) == 'h5py'
        _assert_learns(_losses(_regressor(), [handle['x'], handle['y']]))


def test_zarr_array_trains(tmp_path, task):
    zarr = pytest.importorskip('zarr')
    x, y, _ = task
    xz = zarr.open(str(tmp_path / 'x.zarr'), mode='w', shape=x.shape,
                   chunks=(100, NUM_INPUTS), dtype=x.dtype)
    xz[:] = x
    assert _lazy.lazy_kind(xz) == 'zarr'
    # in-memory targets beside out-of-core inputs
    _assert_learns(_losses(_regressor(), [xz, y]))


def test_classifier_trains_from_memmaps_with_int64_labels(tmp_path, task):
    x, _, labels = task
    xm = _memmap(tmp_path, 'x', x)
    lm = _memmap(tmp_path, 'labels', labels)
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES], rng=2)
    losses = _losses(net, [xm, lm], algo='adam', learning_rate=0.05,
                     block_size=100)
    assert losses[-1] < losses[0]
    assert (net.predict(x) == labels).mean() > 0.7


def test_validation_data_out_of_core_too(tmp_path, task):
    x, y, _ = task
    xm, ym = _memmap(tmp_path, 'x', x), _memmap(tmp_path, 'y', y)
    net = _regressor()
    pairs = list(net.itertrain([x[:400], y[:400]], [xm[400:], ym[400:]],
                               algo='sgd', learning_rate=0.02, max_updates=3,
                               progress=False))
    assert pairs[-1][1]['loss'] < pairs[0][1]['loss']


def test_seeded_runs_repeat_and_other_seeds_differ(tmp_path, task):
    x, y, _ = task
    xm, ym = _memmap(tmp_path, 'x', x), _memmap(tmp_path, 'y', y)
    first = _losses(_regressor(), [xm, ym], rng=4, block_size=64)
    again = _losses(_regressor(), [xm, ym], rng=4, block_size=64)
    other = _losses(_regressor(), [xm, ym], rng=5, block_size=64)
    assert first == again
    assert first != other


def test_in_memory_arrays_keep_their_path(task):
    # checked and cast whole, once, and cut by downhill as before
    x, y, _ = task
    net = _regressor()
    opts = TrainingOptions(net, 'sgd', {}, 13)
    train, valid = _data.prepare_datasets(net, [x, y], None, opts, True)
    assert isinstance(train, list) and train[0].dtype == np.float32
    assert not isinstance(train, _lazy.LazyArrays)


# ---------------------------------------------------------------------------
# the shuffling scheme


def _stream(arrays, **kwargs):
    net = feedforward.Autoencoder([1, 1, 1])
    check = validation.DatasetCheck(net, full=True)
    return _lazy.LazyArrays(arrays, 'train', check, **kwargs)


def test_every_pass_covers_each_example_once_shuffled_across_blocks(
        tmp_path):
    rows, size = 1000, 10
    xm = _memmap(tmp_path, 'ids', np.arange(rows, dtype='float64')[:, None])
    stream = _stream([xm], batch_size=size, block_size=50, rng=3)
    assert stream.block_rows == 50 and stream.iteration_size == 100
    passes = [[b[0].ravel().astype(int) for b in stream] for _ in range(2)]
    for batches in passes:
        seen = np.concatenate(batches)
        assert sorted(seen) == list(range(rows))
        for batch in batches:
            # a batch draws from the blocks of one window only
            assert len(set(batch // 50)) <= _lazy.SHUFFLE_WINDOW
        # examples are mixed across blocks, not read in order
        assert any(len(set(batch // 50)) > 1 for batch in batches)
        assert list(seen) != list(range(rows))
    assert [list(b) for b in passes[0]] != [list(b) for b in passes[1]]


def test_block_size_is_a_multiple_of_batch_size_and_one_batch_is_short(
        tmp_path):
    xm = _memmap(tmp_path, 'ids', np.arange(103, dtype='float32')[:, None])
    stream = _stream([xm], batch_size=10, block_size=25, rng=0)
    assert stream.block_rows == 30
    lengths = [len(b[0]) for b in stream]
    assert sorted(lengths) == [3] + [10] * 10


def test_default_blocks_follow_chunks_or_bytes(tmp_path):
    da = pytest.importorskip('dask.array')
    xd = da.zeros((1000, 4), chunks=(120, 4))
    assert _stream([xd], batch_size=32).block_rows == 128
    # 1 MiB per example (a sparse file: nothing is written)
    wide = np.lib.format.open_memmap(str(tmp_path / 'wide.npy'), mode='w+',
                                     dtype='float32', shape=(100, 2 ** 18))
    rows = _lazy.BLOCK_BYTES // 2 ** 20
    assert _stream([wide], batch_size=8).block_rows == rows
    # never more than the data, as a multiple of batch_size
    assert _stream([wide[:10]], batch_size=8).block_rows == 16


def test_validation_reads_in_order(tmp_path):
    xm = _memmap(tmp_path, 'ids', np.arange(100, dtype='float64')[:, None])
    stream = _stream([xm], batch_size=8, block_size=16).for_validation()
    seen = np.concatenate([b[0].ravel() for b in stream])
    np.testing.assert_array_equal(seen, np.arange(100))


# ---------------------------------------------------------------------------
# checks


def test_nan_in_a_later_chunk_names_the_batch_and_rows(tmp_path, task):
    x, y, _ = task
    bad = x.copy()
    bad[517, 3] = np.nan
    xm, ym = _memmap(tmp_path, 'x', bad), _memmap(tmp_path, 'y', y)
    net = _regressor()
    with pytest.raises(DataError) as info:
        net.train([x, y], [xm, ym], batch_size=32, max_updates=2,
                  progress=False)
    message = str(info.value)
    # validation reads in order: batch 16 holds rows 512:544
    assert message.startswith('valid[0] (batch 16): expected finite values')
    assert 'rows 512:544' in message
    with pytest.raises(DataError, match=r'^train\[0\] \(batch \d+\): '
                       r'expected finite values.*in shuffled order'):
        _regressor().train([xm, ym], [x, y], batch_size=32, block_size=64,
                           max_updates=2, progress=False)


def test_bad_label_in_a_later_chunk_is_a_data_error(tmp_path, task):
    da = pytest.importorskip('dask.array')
    x, _, labels = task
    bad = labels.copy()
    bad[450] = NUM_CLASSES + 4
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    with pytest.raises(DataError, match=r'^train\[1\] \(batch \d+\): '
                       r'expected integer class labels in \[0, {}\)'.format(
                           NUM_CLASSES)):
        net.train([da.from_array(x, chunks=100),
                   da.from_array(bad, chunks=100)], [x, labels],
                  batch_size=20, max_updates=2, progress=False)


def test_widths_and_dtypes_are_checked_from_metadata(tmp_path, task):
    x, y, labels = task
    wide = _memmap(tmp_path, 'wide', np.zeros((ROWS, NUM_INPUTS + 1)))
    with pytest.raises(DataError) as info:
        _regressor().train([wide, y], progress=False)
    assert str(info.value) == (
        'train[0]: expected a 2-D array of shape (N, {}) with dtype float32 '
        'for "in", got an array of shape ({}, {}) with dtype float64'.format(
            NUM_INPUTS, ROWS, NUM_INPUTS + 1))
    floats = _memmap(tmp_path, 'floats', labels.astype('float64'))
    net = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    with pytest.raises(DataError, match='non-integer values'):
        net.train([_memmap(tmp_path, 'x', x), floats], progress=False)
    short = _memmap(tmp_path, 'short', y[:-1])
    with pytest.raises(DataError, match='same number of examples'):
        _regressor().train([_memmap(tmp_path, 'x', x), short],
                           progress=False)


def test_block_size_must_be_a_positive_integer(tmp_path, task):
    x, y, _ = task
    with pytest.raises(ConfigurationError, match='block_size: expected a '
                       'positive integer, got 0'):
        _regressor().train([_memmap(tmp_path, 'x', x), y], block_size=0)


def test_other_axis_is_refused_for_dask(task):
    da = pytest.importorskip('dask.array')
    x, y, _ = task
    with pytest.raises(ConfigurationError, match='read along axis 0, got '
                       'axis=1'):
        _regressor().train([da.from_array(x.T), y.T], axis=1)


# ---------------------------------------------------------------------------
# memory


def _resident_peak_reset():
    """Reset the peak resident size (Linux); False where that is refused."""
    try:
        with open('/proc/self/clear_refs', 'w') as handle:
            handle.write('5')
        return True
    except OSError:
        return False


def _status(field):
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def test_memory_stays_bounded_by_a_few_blocks(tmp_path):
    # 200 MiB of float64 data; blocks of 2,048 rows (1.6 MB). Reading the
    # whole array, casting it or indexing it with a permutation would
    # allocate 100-200 MiB; the lazy path holds a window of 4 blocks.
    rows, width = 262144, 100
    path = str(tmp_path / 'big.npy')
    x = np.lib.format.open_memmap(path, mode='w+', dtype='float64',
                                  shape=(rows, width))
    rng = np.random.RandomState(0)
    for start in range(0, rows, 16384):
        x[start:start + 16384] = rng.randn(16384, width)
    x.flush()
    del x
    x = np.load(path, mmap_mode='r')
    data_bytes = rows * width * 8
    valid = np.asarray(x[:512], dtype='float32')
    net = feedforward.Autoencoder([width, 8, width], rng=0)
    net.train([valid], batch_size=512, max_updates=1, progress=False)

    measure_rss = _resident_peak_reset()
    rss_before = _status('VmRSS') if measure_rss else 0
    tracemalloc.start()
    try:
        net.train([x], [valid], algo='sgd', learning_rate=1e-3,
                  batch_size=512, block_size=2048, max_updates=1,
                  progress=False)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert traced_peak < data_bytes / 10
    if measure_rss:
        # the pages of the map that were read are handed back too
        assert _status('VmHWM') - rss_before < data_bytes / 4
