"""Out-of-core training data: arrays read block by block as training goes.

Arrays too large for memory -- numpy memory maps (``np.memmap``,
``np.load(path, mmap_mode='r')``), ``dask.array`` arrays, HDF5 datasets
(``h5py.Dataset``) and zarr arrays -- serve as the arrays of
``[inputs, targets(, weights)]`` like numpy arrays do, but they are never
read whole: :class:`LazyArrays` reads a few blocks of consecutive examples
at a time, checks and casts them, cuts them into mini-batches and lets
them go. In-memory numpy arrays may stand beside them (e.g. labels that fit
in memory); they are read the same way.

Blocks and shuffling
--------------------

The examples (axis 0) are cut into **blocks** of ``block_size``
consecutive examples; the last block may be shorter. Each pass over the
data (one epoch, unless ``iteration_size`` says otherwise):

1. the order of the blocks is shuffled (``rng.permutation``);
2. the shuffled blocks are read :data:`SHUFFLE_WINDOW` at a time (a
   **window**), each source's blocks into one new array;
3. the examples of a window are shuffled (``rng.permutation`` of its
   rows, gathered into a new array) and cut, in that order, into
   mini-batches of ``batch_size`` (views of that array). The window is
   checked (finite values, labels in range) and cast (``floatX``, int32
   labels) as a whole before its first batch.

When a window fails a check, its batches are checked one by one, and the
:class:`~theanets.exceptions.DataError` names the first batch that fails
(its number in the pass) and the rows of the data it holds; training
does not take a step on any batch of that window.

So an example can land in a batch with any example of up to
``SHUFFLE_WINDOW - 1`` other blocks, chosen anew each pass; a pass holds
``ceil(N / batch_size)`` batches, one of them shorter when ``batch_size``
does not divide ``N`` (``block_size`` is always a multiple of
``batch_size``, so only the window with the last block has a short
batch). ``rng`` is the training ``rng``, so a seed fixes the order.
Validation data are read in order: blocks one at a time, batches
contiguous, nothing shuffled.

``block_size`` defaults to the size of the source's chunks along axis 0
(``dask``'s ``chunks``, ``h5py``'s and ``zarr``'s ``chunks``, the largest
when several arrays have chunks), and for arrays without chunks (memory
maps, contiguous HDF5 datasets) to :data:`BLOCK_BYTES` worth of examples
(all arrays together); a default block holds at most
:data:`MAX_BLOCK_BYTES`. It is then rounded up to a multiple of
``batch_size``. The ``block_size`` training keyword sets the number of
examples per block instead. Peak memory is about twice ``SHUFFLE_WINDOW``
blocks (a window as read and as shuffled, or as cast), whatever the size
of the data.

Pages of a memory map that have been read are handed back to the
operating system after each window (``madvise(MADV_DONTNEED)``, not for
copy-on-write maps, ``mode='c'``, whose changes that would drop), so that
the process's resident memory does not grow with the file as it is read.
"""

import mmap
import sys

import numpy as np

from .backend import downhill
from .exceptions import ConfigurationError, DataError

__all__ = ['lazy_kind', 'describe', 'is_out_of_core', 'LazyArrays', 'SHUFFLE_WINDOW',
           'BLOCK_BYTES', 'MAX_BLOCK_BYTES']

#: Blocks read (and shuffled together) at a time.
SHUFFLE_WINDOW = 4

#: Bytes of a default block of arrays without chunks (memory maps).
BLOCK_BYTES = 32 * 2 ** 20

#: Most bytes of a default block, however large the chunks.
MAX_BLOCK_BYTES = 256 * 2 ** 20


def _module_class(module, name):
    """``module.name`` if that module is imported already, else None."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


def lazy_kind(array):
    """Say which kind of out-of-core array ``array`` is, if any.

    The optional libraries are not imported here: an object can only be a
    dask, h5py or zarr array if its library is imported already.

    Returns
    -------
    str or None
        ``'memmap'``, ``'dask'``, ``'h5py'`` or ``'zarr'``; None for
        anything else (in-memory numpy arrays included).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.npy')
    >>> np.save(path, np.zeros((10, 3), 'float32'))
    >>> lazy_kind(np.load(path, mmap_mode='r')), lazy_kind(np.zeros(3))
    ('memmap', None)
    """
    if isinstance(array, np.memmap):
        return 'memmap'
    root = (type(array).__module__ or '').split('.')[0]
    for kind, module, name in (('dask', 'dask.array', 'Array'),
                               ('h5py', 'h5py', 'Dataset'),
                               ('zarr', 'zarr', 'Array')):
        if root == kind:
            cls = _module_class(module, name)
            if cls is not None and isinstance(array, cls):
                return kind
    return None


def describe(array):
    """A short name of an array's kind, for messages (``'dask array'``)."""
    kind = lazy_kind(array)
    if kind is None:
        return type(array).__name__
    return {'memmap': 'memmap', 'dask': 'dask array',
            'h5py': 'h5py Dataset', 'zarr': 'zarr array'}[kind]


def is_out_of_core(data):
    """True if ``data`` (an array or a list of arrays) holds a lazy array."""
    if isinstance(data, (list, tuple)):
        return any(lazy_kind(item) is not None for item in data)
    return lazy_kind(data) is not None


class Metadata(object):
    """The shape and dtype of an array, for checks that must not read it.

    :class:`theanets.validation.DatasetCheck` checks dimensions, widths,
    dtypes and lengths from these attributes alone (values, and so
    finiteness and label ranges, are checked batch by batch).
    """

    def __init__(self, array):
        self.shape = _known_shape(array)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(array.dtype)


def _known_shape(array):
    """``array.shape`` as ints; DataError for a dask array of unknown
    chunk sizes (NaN lengths)."""
    shape = tuple(array.shape)
    if not all(isinstance(n, (int, np.integer)) for n in shape):
        raise DataError(
            'expected an array of known shape, got a {} of shape {}; for a '
            'dask array whose chunk sizes are unknown call '
            'x.compute_chunk_sizes() first'.format(describe(array), shape))
    return tuple(int(n) for n in shape)


class _Source(object):
    """One array of a :class:`LazyArrays`, read a range of rows at a time."""

    def __init__(self, array):
        self.array = array
        self.kind = lazy_kind(array)
        self.shape = _known_shape(array)
        self.dtype = np.dtype(array.dtype)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))

    @property
    def chunk_rows(self):
        """Examples per chunk along axis 0, or None for arrays without."""
        if self.kind == 'dask':
            return int(max(self.array.chunks[0]))
        if self.kind in ('h5py', 'zarr'):
            chunks = self.array.chunks
            if chunks:
                return int(chunks[0])
        return None

    def read(self, ranges, order=None):
        """The rows of ``ranges`` (``(start, stop)`` pairs) in one array,
        in the order of the permutation ``order`` if one is given."""
        if self.kind == 'memmap':
            # one gather straight from the map, without a copy in between
            rows = np.concatenate([np.arange(start, stop)
                                   for start, stop in ranges])
            if order is not None:
                rows = rows[order]
            return np.take(np.asarray(self.array), rows, axis=0)
        out = self._read(ranges)
        return out if order is None else np.take(out, order, axis=0)

    def _read(self, ranges):
        rows = sum(stop - start for start, stop in ranges)
        out = np.empty((rows,) + self.shape[1:], dtype=self.dtype)
        if self.kind == 'dask':
            import dask
            parts = dask.compute(*[self.array[start:stop]
                                   for start, stop in ranges])
        else:
            parts = (self.array[start:stop] for start, stop in ranges)
        offset = 0
        for (start, stop), part in zip(ranges, parts):
            out[offset:offset + stop - start] = part
            offset += stop - start
        return out

    def release(self):
        """Hand the pages of a memory map back to the operating system."""
        if self.kind != 'memmap' or getattr(self.array, 'mode', 'c') == 'c':
            return
        handle = getattr(self.array, '_mmap', None)
        advice = getattr(mmap, 'MADV_DONTNEED', None)
        if handle is None or advice is None:
            return
        try:
            handle.madvise(advice)
        except (OSError, ValueError):  # a closed map, an odd platform
            pass


def _block_rows(sources, batch_size, block_size):
    """Examples per block: ``block_size`` or from the chunks, as a
    multiple of ``batch_size``."""
    if block_size is None:
        row_bytes = max(1, sum(s.row_bytes for s in sources))
        chunks = [s.chunk_rows for s in sources if s.chunk_rows]
        block_size = max(chunks) if chunks else BLOCK_BYTES // row_bytes
        block_size = max(1, min(block_size, MAX_BLOCK_BYTES // row_bytes))
    # no larger than the data (as a multiple of batch_size)
    block_size = min(block_size, sources[0].shape[0])
    return -(-block_size // batch_size) * batch_size


class LazyArrays(downhill.Dataset):
    """Checked mini-batches read block by block from out-of-core arrays.

    A ``downhill.Dataset`` (so the trainers take it as one); iterating it
    yields the ``iteration_size`` batches of one epoch, going on where the
    epoch before stopped and starting a new pass when one ends. See the
    module notes for the blocks and the shuffling.

    Parameters
    ----------
    arrays : list of arrays
        One array per variable, examples along axis 0, all of the same
        length (checked before, see :func:`theanets._data.prepare_datasets`).
    name : str
        ``'train'`` or ``'valid'``, for messages.
    check : :class:`theanets.validation.DatasetCheck`
        Checks (and casts) each batch.
    batch_size : int
        Examples per mini-batch.
    block_size : int, optional
        Examples per block (rounded up to a multiple of ``batch_size``);
        by default from the arrays' chunks.
    shuffle : bool, optional
        Shuffle blocks and examples (training) or read in order
        (validation).
    rng : int, ``numpy.random.RandomState`` or ``Generator``, optional
        Shuffles the data (an int seeds a new ``RandomState``).
    iteration_size : int, optional
        Batches per epoch; by default one pass, ``ceil(N / batch_size)``.

    Attributes
    ----------
    block_rows : int
        Examples per block.
    num_examples : int
        Examples in the data.

    Examples
    --------
    >>> import tempfile, os
    >>> from theanets import validation
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.npy')
    >>> np.save(path, np.arange(20, dtype='float64').reshape(10, 2))
    >>> x = np.load(path, mmap_mode='r')
    >>> net = theanets.Autoencoder([2, 1, 2])
    >>> check = validation.DatasetCheck(net, full=True)
    >>> data = LazyArrays([x], 'train', check, batch_size=4, rng=0)
    >>> [(len(b[0]), b[0].dtype.name) for b in data]
    [(4, 'float32'), (4, 'float32'), (2, 'float32')]
    """

    def __init__(self, arrays, name, check, batch_size, block_size=None,
                 shuffle=True, rng=None, iteration_size=None):
        # downhill.Dataset.__init__ would cut arrays in memory; set the
        # attributes the trainers read instead.
        self.name = name
        self.check = check
        self.arrays = list(arrays)
        self.sources = [_Source(array) for array in self.arrays]
        self.num_examples = self.sources[0].shape[0]
        self.batch_size = int(batch_size)
        self.block_rows = _block_rows(self.sources, self.batch_size,
                                      block_size)
        self.shuffle_data = bool(shuffle)
        self.rng = rng
        if rng is None or isinstance(rng, (int, np.integer)):
            self.rng = np.random.RandomState(rng)
        self.iteration_size = iteration_size or \
            -(-self.num_examples // self.batch_size)
        self._block_size = block_size
        self._stream = None
        self._peeked = []

    def for_validation(self):
        """The same arrays, read in order, for validation."""
        return LazyArrays(self.arrays, 'valid', self.check, self.batch_size,
                          self._block_size, shuffle=False)

    @property
    def num_blocks(self):
        return -(-self.num_examples // self.block_rows)

    def _block(self, index):
        start = index * self.block_rows
        return start, min(start + self.block_rows, self.num_examples)

    def _passes(self):
        """Checked batches, pass after pass, forever."""
        size = self.batch_size
        window = SHUFFLE_WINDOW if self.shuffle_data else 1
        while True:
            order = np.arange(self.num_blocks)
            if self.shuffle_data:
                order = self.rng.permutation(self.num_blocks)
            number = 0
            for first in range(0, len(order), window):
                ranges = [self._block(i) for i in order[first:first + window]]
                rows = sum(stop - start for start, stop in ranges)
                where = None
                if self.shuffle_data:
                    # one gather per window: the batches are then views,
                    # as they are of in-memory arrays
                    where = self.rng.permutation(rows)
                parts = []
                for source in self.sources:
                    parts.append(source.read(ranges, where))
                    source.release()
                parts = self._checked_window(parts, number, ranges, where)
                for begin in range(0, rows, size):
                    yield [part[begin:begin + size] for part in parts]
                    number += 1
                del parts

    def _checked_window(self, parts, number, ranges, where):
        """Check (and cast) a window's arrays at once; if they fail, raise
        the DataError of the first batch that fails, with its number (the
        first of the window is ``number``) and rows."""
        try:
            return self.check(parts, self.name)
        except DataError as error:
            failure = error
        size = self.batch_size
        for offset, begin in enumerate(range(0, len(parts[0]), size)):
            pick = slice(begin, begin + size)
            try:
                self.check([part[pick] for part in parts], self.name,
                           batch=number + offset)
            except DataError as error:
                raise DataError('{}; the batch holds examples {} of the '
                                'data'.format(error, self._rows_of(
                                    ranges, pick if where is None else
                                    where[pick]))) from None
        raise failure  # e.g. a check of the window as a whole

    def _rows_of(self, ranges, picked):
        """The rows of the data a batch took, as ranges for a message."""
        starts = np.cumsum([0] + [stop - start for start, stop in ranges])
        positions = np.arange(starts[-1])[picked]
        used = sorted(set(np.searchsorted(starts, positions, 'right') - 1))
        if not self.shuffle_data:
            start = ranges[0][0]
            return 'from rows {}:{}'.format(start + positions[0],
                                            start + positions[-1] + 1)
        return 'from rows {} (in shuffled order)'.format(', '.join(
            '{}:{}'.format(*ranges[i]) for i in used))

    def _next(self):
        if self._peeked:
            return self._peeked.pop()
        if self._stream is None:
            self._stream = self._passes()
        return next(self._stream)

    def peek(self):
        """Read and check the first batch now; the first epoch starts with
        it."""
        if not self._peeked:
            self._peeked.append(self._next())

    def iterate(self, shuffle=True):
        """Yield the checked batches of one epoch (``shuffle`` is unused:
        whether to shuffle was decided when the dataset was made)."""
        for _ in range(self.iteration_size):
            yield self._next()

    def __iter__(self):
        return self.iterate(True)

    def shuffle(self):
        """Do nothing: each pass shuffles as it starts."""


def check_axis(data, name, axis):
    """Raise ConfigurationError for lazy arrays cut along another axis."""
    if axis not in (0, None):
        kinds = sorted({lazy_kind(a) for a in data} - {None})
        raise ConfigurationError(
            '{}: out-of-core arrays ({}) are read along axis 0, got axis={!r};'
            ' store the examples along axis 0'.format(
                name, ', '.join(kinds), axis))
