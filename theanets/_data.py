"""Training data of every kind, turned into checked mini-batch sources.

:func:`prepare_datasets` takes the ``train`` and ``valid`` arguments of
:meth:`theanets.Network.itertrain` and returns what
:meth:`theanets.options.TrainingOptions.dataset` makes datasets of. Every
kind of data passes the checks of arrays (:class:`validation.DatasetCheck`:
dtype, dimensions, widths of inputs, targets and weights, time steps,
finite values, label range) and is cast the same way (``floatX`` for float
variables, int32 for labels); data that arrive batch by batch are checked
batch by batch, and their first batch before anything is compiled.

How an argument is read
-----------------------

========================================  ====================================
argument                                  read as
========================================  ====================================
a ``downhill.Dataset``                    its batches, each checked
an array (numpy, scipy.sparse, pandas,    a dataset of that one array
Theano shared variable)
a list or tuple whose items are all       a **sequence of batches**, each a
lists or tuples                           list of arrays
any other list or tuple                   **one array per variable**, cut
                                          into batches of ``batch_size``
a callable                                called for each batch
an iterator (e.g. a generator)            each next item is a batch
any other iterable                        a sequence of batches, read again
                                          for every epoch (``__iter__``)
========================================  ====================================

So ``[inputs, targets]`` holds two arrays, while ``[[x1, y1], [x2, y2]]``
holds two batches.

Arrays too large for memory -- numpy memory maps, ``dask.array``, ``h5py``
and ``zarr`` arrays -- are arrays too, but they take another path: they are
never read whole, but block by block as training goes, shuffled across
blocks, each batch checked and cast as it is read (their shapes and dtypes
are checked before anything is compiled); see :mod:`theanets._lazy`.
In-memory numpy arrays are checked and cast whole, once, as before. A batch is a list (or tuple) of arrays in the order of
:attr:`theanets.Network.variables`; for a model with one variable a lone
array also serves.

Batches per epoch
-----------------

* callable: ``iteration_size`` (or ``train_batches`` / ``valid_batches``),
  else ``len(callable)``, else 100 (as ``downhill.Dataset`` does);
* sequence or other iterable of batches: one pass, unless ``iteration_size``
  (or ``train_batches`` / ``valid_batches``) is given; then each epoch takes
  that many batches, going on where the last epoch stopped and starting a
  new pass when one ends (like the batches of arrays);
* iterator: it gives each batch once, so an epoch needs a length:
  ``iteration_size`` (or ``train_batches`` / ``valid_batches``), else
  ``len(iterator)``; without one, a ConfigurationError asks for it. When the
  iterator runs out, training stops with a DataError: make the generator
  endless, cap training with ``max_updates``, or pass an iterable (read
  again each epoch) or a callable.

Without ``valid`` the training data also serve for validation; an iterator
is then shared, so each validation reads fresh batches from it.
"""

import collections.abc

import numpy as np
import scipy.sparse

from . import _lazy
from . import util
from . import validation
from .backend import theano, downhill
from .exceptions import ConfigurationError, DataError, DataExhaustedError

__all__ = ['prepare_datasets', 'lazy_dataset', 'BatchStream', 'CheckedCallable',
           'kind_of']


def _is_array(data):
    """True for one array of data (rather than a container of arrays)."""
    return isinstance(data, (np.ndarray, theano.Variable)) or \
        scipy.sparse.issparse(data) or hasattr(data, 'iloc') or \
        hasattr(data, '__array__')


def kind_of(data):
    """Say how :func:`prepare_datasets` reads a ``train`` or ``valid`` value.

    Returns
    -------
    str
        ``'dataset'`` (a ``downhill.Dataset``), ``'array'`` (one array),
        ``'arrays'`` (a list or tuple of arrays, one per variable),
        ``'batches'`` (a re-iterable sequence of batches: a list or tuple of
        lists or tuples, or another iterable), ``'callable'`` or
        ``'iterator'``; None for anything else.

    Examples
    --------
    >>> x, y = np.zeros((4, 3)), np.zeros((4, 2))
    >>> kind_of([x, y]), kind_of([[x, y], [x, y]]), kind_of(x)
    ('arrays', 'batches', 'array')
    >>> kind_of(lambda: [x, y]), kind_of(iter([[x, y]])), kind_of(5)
    ('callable', 'iterator', None)
    """
    if isinstance(data, downhill.Dataset):
        return 'dataset'
    if _is_array(data):
        return 'array'
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(item, (list, tuple)) for item in data):
            return 'batches'
        return 'arrays'
    if callable(data):
        return 'callable'
    if isinstance(data, collections.abc.Iterator):
        return 'iterator'
    if isinstance(data, collections.abc.Iterable) and not isinstance(
            data, (str, bytes, collections.abc.Mapping)):
        return 'batches'
    return None


def _describe(data):
    """A short name of a data source for messages, never its values."""
    return type(data).__name__


def check_batch(check, batch, name, number, hint=''):
    """Check one mini-batch with a :class:`validation.DatasetCheck`.

    A lone array stands for a list holding it. Returns the list of checked
    (and cast) arrays; ``number`` is named in messages, and ``hint`` is
    added to the message of a batch with the wrong number of arrays.
    """
    if _is_array(batch):
        batch = [batch]
    elif not isinstance(batch, (list, tuple)):
        hint = ''
        if isinstance(batch, collections.abc.Iterator):
            hint = ('; to train on a generator, pass the generator itself '
                    '(with iteration_size), or an object whose __iter__ '
                    'returns a new one for each epoch')
        raise DataError(
            '{} (batch {}): expected a batch, a list of arrays one for each '
            'of the variables {}, got {}{}'.format(
                name, number, [v.name for v in check.variables],
                _describe(batch), hint))
    try:
        return check(batch, name, batch=number)
    except DataError as error:
        if hint and check.full and len(batch) != len(check.variables):
            raise DataError('{} ({})'.format(error, hint)) from None
        raise


class CheckedCallable(object):
    """A callable that returns a callable's batches after checking them.

    ``downhill.Dataset`` calls it once for each batch; its length is that of
    the wrapped callable (a ``TypeError`` when that has none, which makes
    downhill fall back to 100 batches per epoch).

    Parameters
    ----------
    source : callable
        Returns one batch (a list of arrays) per call.
    name : str
        ``'train'`` or ``'valid'``, for messages.
    check : :class:`validation.DatasetCheck`
        The checks of the model being trained.
    """

    def __init__(self, source, name, check):
        self.source = source
        self.name = name
        self.check = check
        self.count = 0
        self._peeked = []

    def peek(self):
        """Draw and check the first batch now; the next call returns it."""
        if not self._peeked:
            self._peeked.append(self._draw())

    def _draw(self):
        try:
            batch = self.source()
        except StopIteration:
            # e.g. ``lambda: next(batches)``; downhill's generator would
            # turn it into a bare RuntimeError
            raise DataError(
                '{}: the callable ({}) raised StopIteration after {} batches; '
                'a callable must return a batch on every call (pass an '
                'iterator itself to read batches from it)'.format(
                    self.name, _describe(self.source), self.count)) from None
        number = self.count
        self.count += 1
        return check_batch(self.check, batch, self.name, number)

    def __call__(self):
        if self._peeked:
            return self._peeked.pop()
        return self._draw()

    def __len__(self):
        return len(self.source)


class BatchStream(downhill.Dataset):
    """Checked mini-batches from a batch source, iterable once per epoch.

    A ``downhill.Dataset`` (so the trainers and ``TrainingOptions.dataset``
    take it as one) over an iterator, a re-iterable sequence of batches or
    a ``downhill.Dataset`` of the user's; iterating it yields the batches of
    one epoch (see the module notes), each checked and cast by a
    :class:`validation.DatasetCheck`.

    Parameters
    ----------
    source : iterator, iterable or ``downhill.Dataset``
        Where the batches come from.
    kind : {'iterator', 'batches', 'dataset'}
        What ``source`` is (see :func:`kind_of`).
    name : str
        ``'train'`` or ``'valid'``, for messages.
    check : :class:`validation.DatasetCheck` or None
        The checks of the model being trained; None for batches that were
        checked already.
    epoch_batches : int, optional
        Batches per epoch; None for one pass over ``source`` (required for
        an iterator).

    Attributes
    ----------
    name : str
        As given.
    iteration_size : int or None
        Batches per epoch (that of a wrapped ``downhill.Dataset``); None
        when an epoch is one pass over a sequence of batches.

    Examples
    --------
    >>> net = theanets.Regressor([3, 2])
    >>> check = validation.DatasetCheck(net, full=True)
    >>> x, y = np.zeros((4, 3)), np.zeros((4, 2))
    >>> stream = BatchStream([[x, y], [x, y]], 'batches', 'train', check)
    >>> [[a.dtype.name for a in batch] for batch in stream]
    [['float32', 'float32'], ['float32', 'float32']]
    """

    def __init__(self, source, kind, name, check, epoch_batches=None):
        # downhill.Dataset.__init__ would cut arrays; this class reads its
        # batches from the source instead and sets the same attributes.
        self.name = name
        self.batch_size = getattr(source, 'batch_size', None)
        self.rng = getattr(source, 'rng', None)
        self.iteration_size = epoch_batches
        if kind == 'dataset':
            self.iteration_size = source.iteration_size
        self.source = source
        self.kind = kind
        self.check = check
        self._epoch_batches = None if kind == 'dataset' else epoch_batches
        self._pass = None        # the iterator of the pass being read
        self._position = 0       # batches read from that pass
        self._drawn = 0          # batches read in all
        self._peeked = []

    def _new_pass(self):
        if self.kind == 'iterator':
            return self.source
        if self.kind == 'dataset':
            return iter(self.source.iterate(True))
        return iter(self.source)

    def _number(self):
        """The number a message gives the next batch."""
        # within its pass for re-iterable sources (a list's index), overall
        # for an iterator
        return self._drawn if self.kind == 'iterator' else self._position

    def _next(self, restart):
        """The next checked batch, or None at the end of a pass.

        With ``restart``, a pass that ends is followed by a new one (and a
        new pass without batches is an error).
        """
        if self._peeked:
            return self._peeked.pop()
        if self._pass is None:
            self._pass, self._position = self._new_pass(), 0
        fresh = self._position == 0
        try:
            batch = next(self._pass)
        except StopIteration:
            self._pass = None
            if self.kind == 'iterator':
                raise self._exhausted() from None
            if fresh:
                raise DataError(
                    '{}: the {} {} gave no batches{}'.format(
                        self.name, 'downhill.Dataset' if self.kind ==
                        'dataset' else 'iterable', _describe(self.source),
                        '' if not self._drawn else
                        ' when read again (after {} batches); an object that '
                        'can be read only once must be passed as an iterator '
                        'with iteration_size'.format(self._drawn))) from None
            if not restart:
                return None
            return self._next(restart)
        number = self._number()
        self._position += 1
        self._drawn += 1
        if self.check is None:
            return batch
        return check_batch(self.check, batch, self.name, number)

    def _exhausted(self):
        return DataExhaustedError(
            '{}: the iterator ({}) ran out of batches after {} ({} per '
            'epoch); an iterator such as a generator gives each batch once, '
            'so it must last for the whole training: make it endless, cap '
            'training with max_updates, or pass a callable or a re-iterable '
            'sequence of batches (e.g. a list of batches, or an object whose '
            '__iter__ starts a new pass)'.format(
                self.name, _describe(self.source), self._drawn,
                self._epoch_batches))

    def peek(self):
        """Read and check the first batch now; the first epoch starts with
        it."""
        if not self._peeked:
            self._peeked.append(self._next(restart=False))

    def iterate(self, shuffle=True):
        """Yield the checked batches of one epoch (``shuffle`` is unused:
        batches come in the source's order)."""
        if self._epoch_batches is None:
            while True:
                batch = self._next(restart=False)
                if batch is None:
                    return
                yield batch
        else:
            for _ in range(self._epoch_batches):
                yield self._next(restart=True)

    def __iter__(self):
        return self.iterate(True)

    def shuffle(self):
        """Do nothing: the batches come in the source's order."""


def _dataset_arrays(dataset):
    """The arrays a ``downhill.Dataset`` cuts along axis 0, or None.

    A dataset built from arrays keeps them, and the slices of each batch,
    in private attributes (downhill 0.4); checking the arrays once checks
    every batch. None for a dataset built from a callable, one that cuts
    along another axis, or one whose internals look otherwise.
    """
    inputs = getattr(dataset, '_inputs', None)
    slices = getattr(dataset, '_slices', None)
    if getattr(dataset, '_callable', None) is not None or \
            not isinstance(inputs, list) or not inputs or not slices:
        return None
    for where in slices[0]:
        cut = [i for i, part in enumerate(where) if part != slice(None)]
        if cut != [0]:
            return None
    return list(inputs)


def _epoch_batches(opts, name):
    """``iteration_size``, else ``<name>_batches``, from the options."""
    kwargs = opts.kwargs
    value = kwargs.get('iteration_size')
    if value is None:
        value = kwargs.get('{}_batches'.format(name))
    return value


def _lazy_arrays(check, data, name, opts):
    """Out-of-core arrays of ``train`` or ``valid`` (see lazy_dataset)."""
    kwargs = opts.kwargs
    return lazy_dataset(
        check, data, name, batch_size=kwargs.get('batch_size', 32),
        rng=kwargs['rng'], block_size=kwargs.get('block_size'),
        iteration_size=_epoch_batches(opts, name))


def lazy_dataset(check, arrays, name, batch_size=32, rng=None,
                 block_size=None, iteration_size=None, shuffle=None):
    """Checked mini-batches of arrays read block by block.

    Dimensions, widths, dtypes and lengths are checked now from the arrays'
    metadata, and the first batch is read and checked; values (finiteness,
    labels) are checked batch by batch as they are read. See
    :mod:`theanets._lazy` for the blocks and the shuffling.

    Parameters
    ----------
    check : :class:`validation.DatasetCheck`
        The checks of the model being trained.
    arrays : list of arrays
        One array per variable; memory maps, dask, h5py or zarr arrays and
        in-memory numpy arrays.
    name : str
        ``'train'`` or ``'valid'``, for messages.
    batch_size, rng, block_size, iteration_size
        As for :class:`theanets._lazy.LazyArrays`.
    shuffle : bool, optional
        Shuffle the data; by default only training data (``name ==
        'train'``) are shuffled.

    Returns
    -------
    :class:`theanets._lazy.LazyArrays`
    """
    check([_lazy.Metadata(array) for array in arrays], name)
    stream = _lazy.LazyArrays(
        arrays, name, check, batch_size=batch_size, block_size=block_size,
        shuffle=name == 'train' if shuffle is None else shuffle, rng=rng,
        iteration_size=iteration_size)
    util.log('{}: {} of {} mini-batches per epoch from out-of-core arrays '
             '({}), in blocks of {} examples', name, stream.iteration_size,
             -(-stream.num_examples // stream.batch_size),
             ', '.join('{} {}'.format(_lazy.describe(a), tuple(a.shape))
                       for a in arrays), stream.block_rows)
    stream.peek()
    return stream


def _prepare(check, data, name, opts):
    """Check one ``train`` or ``valid`` argument (see prepare_datasets)."""
    kind = kind_of(data)
    if kind is None:
        raise DataError(
            '{}: expected a list of arrays (one for each of the variables '
            '{}), a callable returning such a list for each batch, an '
            'iterable or iterator of such lists, or a downhill.Dataset; got '
            '{}'.format(name, [v.name for v in check.variables],
                        _describe(data)))
    if kind in ('array', 'arrays'):
        data = [data] if kind == 'array' else list(data)
        if not data:
            raise DataError('{}: expected a list of arrays, one for each of '
                            'the variables {}, got an empty {}'.format(
                                name, [v.name for v in check.variables],
                                'list'))
        axis = opts.kwargs.get('axis', 0)
        lazy = _lazy.is_out_of_core(data)
        if axis != 0 and lazy and not all(
                _lazy.lazy_kind(a) in (None, 'memmap') for a in data):
            _lazy.check_axis(data, name, axis)
        if axis != 0:
            return data  # examples along another axis: downhill cuts them
        if lazy:
            return _lazy_arrays(check, data, name, opts)
        return check(data, name)
    if kind == 'callable':
        source = CheckedCallable(data, name, check)
        source.peek()
        return source
    if kind == 'dataset':
        arrays = _dataset_arrays(data)
        if arrays is not None:
            checked = check(arrays, name)
            if all(a is b for a, b in zip(checked, arrays)):
                return data  # its batches are slices of arrays that fit
    if kind == 'batches' and isinstance(data, (list, tuple)):
        # in memory anyway: check (and cast) every batch before compiling
        hint = ('{} is a {} of lists or tuples, so it is read as a sequence '
                'of batches, each a list of arrays; give one array per '
                'variable as numpy arrays'.format(name, type(data).__name__))
        data = [check_batch(check, batch, name, number, hint)
                for number, batch in enumerate(data)]
        check = None
    epoch_batches = None
    if kind != 'dataset':
        epoch_batches = _epoch_batches(opts, name)
    if kind == 'iterator' and epoch_batches is None:
        try:
            epoch_batches = len(data)
        except TypeError:
            raise ConfigurationError(
                '{}: an iterator ({}) gives each batch once, so theanets '
                'cannot tell how many batches make an epoch; pass '
                'iteration_size=N (or {}_batches=N), or pass a callable or a '
                're-iterable sequence of batches instead'.format(
                    name, _describe(data), name)) from None
    stream = BatchStream(data, kind, name, check, epoch_batches)
    if kind != 'dataset':
        util.log('{}: {} from {} {}', name,
                 'one pass per epoch' if epoch_batches is None else
                 '{} mini-batch(es) per epoch'.format(epoch_batches),
                 'iterator' if kind == 'iterator' else 'iterable',
                 _describe(data))
    stream.peek()
    return stream


def prepare_datasets(network, train, valid, opts, full):
    """Check training and validation data; return ``(train, valid)``.

    Every kind of data the module notes list is accepted; what is returned
    is for :meth:`theanets.options.TrainingOptions.dataset`:

    * a list of arrays (one per variable, whose axis 0 holds the examples)
      comes back checked and cast (with another ``axis`` it comes back as
      given);
    * a callable comes back as a :class:`CheckedCallable` (downhill then
      builds a dataset that calls it);
    * a ``downhill.Dataset`` built from arrays that fit the model comes back
      as it is (its arrays are checked once: its batches are slices of
      them);
    * anything else, including a ``downhill.Dataset`` built from a callable
      or from arrays that must be cast, comes back as a
      :class:`BatchStream`.

    The batches of a list or tuple of batches are all checked now, before
    anything is compiled; the first batch of a callable, iterator or other
    iterable is read and checked now and kept for the first epoch, and the
    others are checked as they are read. Without ``valid`` (None) the
    training data serve for both, as the same object when they come in
    batches.

    Parameters
    ----------
    network : :class:`theanets.Network`
        The model being trained.
    train, valid
        The ``train`` and ``valid`` arguments of ``itertrain``.
    opts : :class:`theanets.options.TrainingOptions`
        The options of the call (``iteration_size``, ``train_batches``,
        ``valid_batches``, ``axis``).
    full : bool or 'inputs'
        Which of the network's variables the data hold (see
        :class:`validation.DatasetCheck`).

    Returns
    -------
    (train, valid)
        The prepared training and validation data.

    Raises
    ------
    DataError
        If an array or a batch does not fit the model (the message names
        ``'train'`` or ``'valid'``, the array's position, and for a batch its
        number), or the data are of no kind listed above.
    ConfigurationError
        For an iterator without a number of batches per epoch.

    Examples
    --------
    >>> from theanets.options import TrainingOptions
    >>> net = theanets.Regressor([3, 2])
    >>> opts = TrainingOptions(net, 'sgd', {}, 13)
    >>> x, y = np.zeros((4, 3)), np.zeros((4, 5))
    >>> prepare_datasets(net, lambda: [x, y], None, opts, True)
    Traceback (most recent call last):
    ...
    theanets.exceptions.DataError: train[1] (batch 0): expected a 2-D array of shape (N, 2) with dtype float32 for "target", got an array of shape (4, 5) with dtype float64
    """
    check = validation.DatasetCheck(network, full)
    prepared = {}
    result = []
    for name, data in (('train', train),
                       ('valid', train if valid is None else valid)):
        if id(data) not in prepared:
            prepared[id(data)] = _prepare(check, data, name, opts)
        result.append(prepared[id(data)])
    if valid is None and isinstance(result[0], _lazy.LazyArrays):
        # validate on the same arrays, read in order, not on the stream
        # of training batches
        result[1] = _lazy_arrays(check, result[0].arrays, 'valid', opts)
    return tuple(result)
