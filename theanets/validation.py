"""Checks of the data that enter a model through its public methods.

Every array given to ``predict``, ``score``, ``train`` and friends passes
through these functions before Theano sees it, so that a mistake is reported
with the argument's name and the expected and actual shape and dtype
(:class:`theanets.exceptions.DataError`) instead of as a Theano traceback.
The functions take a network (anything with ``layers``, ``inputs``,
``variables`` and ``losses``) and never import the graph module.
"""

import warnings

import numpy as np
import scipy.sparse

from . import layers
from . import losses
from .backend import theano
from .exceptions import DataError, NegativeLabelWarning

__all__ = ['check_array', 'check_sparse', 'check_finite', 'check_labels',
           'check_like', 'unmask', 'check_inputs', 'check_dataset',
           'DatasetCheck', 'target_shapes', 'output_shapes', 'num_classes',
           'shape_of']


#: numpy's warning for ragged nested lists (``numpy.exceptions`` from 1.25;
#: numpy 2 raises instead).
_VISIBLE_DEPRECATION = getattr(getattr(np, 'exceptions', np),
                               'VisibleDeprecationWarning', Warning)

def expected_shape(variable, shape):
    """Format the array shape a variable expects, e.g. ``(N, 7)``."""
    if shape is None or len(shape) != variable.ndim - 1:
        dims = ['N'] + ['?'] * (variable.ndim - 1)
    else:
        dims = ['N'] + ['?' if s is None else str(s) for s in shape]
    if len(dims) == 1:
        return '(N,)'
    return '({})'.format(', '.join(dims))


def check_array(arg, array, variable, shape=None, convert=True):
    """Check (and if needed convert) one data array for a symbolic variable.

    This is the single place where data entering the model through the public
    API (``feed_forward``, ``predict``, ``score``, ``decode``, ``train``) is
    validated, so that mistakes are reported with the argument name and the
    expected and actual shapes instead of as a Theano traceback.

    Parameters
    ----------
    arg : str
        How the caller named the array (e.g. ``'x'`` or ``'train[1]'``).
    array : array-like
        The data.
    variable : Theano variable
        The symbolic variable that will receive the array.
    shape : tuple, optional
        Per-example shape (without the batch axis) the variable stands for;
        entries that are None are not checked.
    convert : bool, optional
        If True (the default), array-likes are turned into numpy arrays.
        If False, other containers (pandas frames, shared variables) are
        passed on, checked as far as they expose ``ndim`` and ``shape``.
        Numpy arrays and scipy sparse matrices of another numeric dtype are
        cast to the variable's dtype in both cases.

    Returns
    -------
    array
        The array, cast to the variable's dtype where that was needed.

    Raises
    ------
    DataError
        If the array has the wrong number of dimensions, a per-example axis of
        the wrong length, a non-numeric dtype, non-integer values for an
        integer variable, no examples at all, NaN or infinite values, or is
        dense where a sparse matrix is expected (or the other way round).

    Examples
    --------
    >>> var = theano.tensor.matrix('in')
    >>> check_array('x', np.zeros((2, 3)), var, (3,)).dtype == var.dtype
    True
    >>> check_array('x', np.zeros((2, 4)), var, (3,))
    Traceback (most recent call last):
    ...
    theanets.exceptions.DataError: x: expected a 2-D array of shape (N, 3) with dtype float32 for "in", got an array of shape (2, 4) with dtype float64
    """
    sparse_format = getattr(variable.type, 'format', None)

    def fail(what, actual_shape, actual_dtype):
        # The message is only formatted here, off the path of valid data
        # (a prediction for one row spends microseconds in this function).
        expected = '{}-D {} of shape {} with dtype {}'.format(
            variable.ndim,
            'array' if sparse_format is None else
            'scipy.sparse {} matrix'.format(sparse_format),
            expected_shape(variable, shape), variable.dtype)
        name = getattr(variable, 'name', None)
        if name:
            expected += ' for "{}"'.format(name)
        if isinstance(actual_shape, tuple) or actual_shape is None:
            actual_shape = tuple(actual_shape or ())
        raise DataError('{}: expected a {}, got {} of shape {} with dtype '
                        '{}'.format(arg, expected, what, actual_shape,
                                    actual_dtype))

    if isinstance(array, theano.Variable):
        return array  # e.g. a shared variable holding a dataset
    if sparse_format is not None:
        if not scipy.sparse.issparse(array):
            fail('a dense {}'.format(type(array).__name__),
                 getattr(array, 'shape', '?'), getattr(array, 'dtype', '?'))
        array = check_sparse(arg, array, sparse_format)
    elif scipy.sparse.issparse(array):
        fail('a scipy.sparse matrix', array.shape, array.dtype)
    elif np.ma.isMaskedArray(array):
        array = unmask(arg, array)
    elif convert and not isinstance(array, np.ndarray):
        try:
            with warnings.catch_warnings():
                # numpy 1.23 only warns when it makes an object array from
                # ragged nested lists; treat that as the error it becomes
                warnings.simplefilter('error', _VISIBLE_DEPRECATION)
                array = np.asarray(array)
        except Exception:  # ragged lists and other odd objects
            fail('an object that is not an array ({})'.format(
                type(array).__name__), '?', '?')
    ndim = getattr(array, 'ndim', None)
    actual_shape = getattr(array, 'shape', None)
    dtype = getattr(array, 'dtype', None)
    if ndim is None or actual_shape is None:
        return array  # not array-like; downhill reports what it cannot use
    actual_shape = tuple(actual_shape)
    if ndim != variable.ndim:
        fail('a {}-D array'.format(ndim), actual_shape, dtype)
    if shape is not None and len(shape) == ndim - 1:
        for want, got in zip(shape, actual_shape[1:]):
            if want is not None and want != got:
                fail('an array', actual_shape, dtype)
    if ndim > 0 and actual_shape[0] == 0:
        raise DataError('{}: expected at least one example, got an empty '
                        'array of shape {}'.format(arg, actual_shape))
    if not isinstance(dtype, np.dtype):
        return array  # pandas frames expose per-column dtypes only
    want_int = variable.dtype.startswith(('int', 'uint'))
    if dtype != variable.dtype:
        if want_int and dtype.kind not in 'iub':
            fail('an array of non-integer values', actual_shape, dtype)
        if not want_int and dtype.kind not in 'iubf':
            fail('an array of non-numeric values', actual_shape, dtype)
    check_finite(arg, array, actual_shape)
    if dtype != variable.dtype and (
            isinstance(array, np.ndarray) or scipy.sparse.issparse(array)):
        array = array.astype(variable.dtype)
    if isinstance(array, np.ndarray) and not array.flags.aligned and \
            not isinstance(array, np.memmap):
        # Theano's C code refuses unaligned buffers, which arrays unpickled
        # from a byte stream (e.g. sent to a Dask worker) can have. A
        # memory map is left to be read batch by batch.
        array = np.require(array, requirements='A')
    return array


def _sparse_structure_error(arg, array, problem):
    return DataError('{}: malformed scipy.sparse {} matrix of shape {}: {}'
                     .format(arg, array.format, array.shape, problem))


def _check_compressed(arg, array):
    """Check the index arrays of a CSR or CSC matrix against its shape."""
    major, minor = array.shape if array.format == 'csr' else array.shape[::-1]
    indptr, indices = array.indptr, array.indices
    for what, index in (('indptr', indptr), ('indices', indices)):
        if not isinstance(index, np.ndarray) or index.ndim != 1 or \
                index.dtype.kind not in 'iu':
            raise _sparse_structure_error(
                arg, array, 'expected {} to be a 1-D integer array, got {}'
                .format(what, getattr(index, 'dtype', type(index).__name__)))
    if len(indptr) != major + 1:
        raise _sparse_structure_error(
            arg, array, 'expected indptr of length {}, got {}'.format(
                major + 1, len(indptr)))
    if indptr[0] != 0 or indptr[-1] > len(indices) or \
            indptr[-1] > len(array.data) or (np.diff(indptr) < 0).any():
        raise _sparse_structure_error(
            arg, array, 'expected indptr to rise from 0 to at most the '
            'number of stored values ({}), got values from {} to {}'.format(
                min(len(indices), len(array.data)), indptr.min(),
                indptr.max()))
    used = indices[:indptr[-1]]
    if used.size and (used.min() < 0 or used.max() >= minor):
        bad = used[(used < 0) | (used >= minor)]
        raise _sparse_structure_error(
            arg, array, 'expected {} indices in [0, {}), got {} index(es) '
            'outside (e.g. {})'.format(
                'column' if array.format == 'csr' else 'row', minor,
                bad.size, bad[0]))


def check_sparse(arg, array, sparse_format):
    """Check a scipy sparse matrix's structure; return it canonical.

    scipy builds a CSR or CSC matrix from ``(data, indices, indptr)``
    without checking that the indices lie within its shape, and the
    compiled sparse products read memory at whatever index they are given.
    This checks the index arrays of the matrix (before any conversion, which
    would read them too), converts it to ``sparse_format`` and returns it
    with sorted indices and no duplicate entries, copying it rather than
    changing the caller's matrix.

    Parameters
    ----------
    arg : str
        How the caller named the matrix.
    array : scipy.sparse matrix
        The data.
    sparse_format : {'csr', 'csc'}
        The format the receiving variable expects.

    Returns
    -------
    scipy.sparse matrix
        The matrix in ``sparse_format``, canonical.

    Raises
    ------
    DataError
        If an index lies outside the matrix, ``indptr`` does not fit the
        shape or the stored values, or the matrix is not 2-D.

    Examples
    --------
    >>> bad = scipy.sparse.csr_matrix(
    ...     (np.ones(1, 'f'), np.array([7]), np.array([0, 1])), shape=(1, 3))
    >>> check_sparse('x', bad, 'csr')
    Traceback (most recent call last):
    ...
    theanets.exceptions.DataError: x: malformed scipy.sparse csr matrix of shape (1, 3): expected column indices in [0, 3), got 1 index(es) outside (e.g. 7)
    """
    if len(array.shape) != 2:
        raise _sparse_structure_error(arg, array, 'expected 2 dimensions')
    if array.format in ('csr', 'csc'):
        _check_compressed(arg, array)
    elif array.format == 'coo':
        for what, index, size in (('row', array.row, array.shape[0]),
                                  ('column', array.col, array.shape[1])):
            index = np.asarray(index)
            if index.size and (index.min() < 0 or index.max() >= size):
                raise _sparse_structure_error(
                    arg, array, 'expected {} indices in [0, {}), got values '
                    'from {} to {}'.format(what, size, index.min(),
                                           index.max()))
    try:
        converted = array.asformat(sparse_format)
    except Exception as e:  # bsr, dia... with inconsistent internals
        raise _sparse_structure_error(
            arg, array, 'cannot convert it to {} ({}: {})'.format(
                sparse_format, type(e).__name__, e)) from None
    if converted.format in ('csr', 'csc'):
        _check_compressed(arg, converted)
        untidy = len(converted.data) != converted.indptr[-1] or \
            len(converted.indices) != converted.indptr[-1]
        if untidy or not converted.has_canonical_format:
            if converted is array:
                converted = converted.copy()
            converted.prune()  # drop stored values beyond indptr[-1]
            converted.sum_duplicates()  # also sorts the indices
    return converted


def unmask(arg, array):
    """Return a masked array's data; raise DataError if any value is masked.

    A model has no notion of a missing value, and the values under a mask
    (often NaN) would be computed with as they are.

    Examples
    --------
    >>> unmask('x', np.ma.masked_array([[1.0, 2.0]], mask=[[0, 1]]))
    Traceback (most recent call last):
    ...
    theanets.exceptions.DataError: x: expected an array without masked values, got a masked array of shape (1, 2) with 1 masked value(s); fill them (x.filled(value)) or leave those examples out
    """
    masked = int(np.ma.count_masked(array))
    if masked:
        raise DataError(
            '{}: expected an array without masked values, got a masked array '
            'of shape {} with {} masked value(s); fill them ({}.filled(value))'
            ' or leave those examples out'.format(
                arg, array.shape, masked, arg.split('[')[0]))
    return np.ma.getdata(array)


#: Arrays of at most this many values are checked for NaN and infinity
#: element by element; larger ones through their sum, without a temporary.
_SMALL_ARRAY = 4096


def check_finite(arg, array, shape):
    """Raise DataError if a float array (or sparse matrix) holds NaN/inf."""
    values = array.data if scipy.sparse.issparse(array) else array
    if not isinstance(values, np.ndarray) or values.dtype.kind not in 'fc':
        return
    if values.size > _SMALL_ARRAY:
        # A sum is non-finite whenever any term is, and costs no temporary
        # array; only a non-finite sum (which finite values can also
        # overflow to) needs the element-wise check.
        with np.errstate(over='ignore'):  # huge finite values may overflow
            total = np.add.reduce(values, axis=None)
        if np.isfinite(total):
            return
    # A small array is checked element by element at once: its temporary is
    # small, and this skips the error-state switch, which costs more than
    # the check itself for the few rows of a prediction.
    finite = np.isfinite(values)
    if not finite.all():
        bad = values[~finite]
        raise DataError(
            '{}: expected finite values, got {} NaN or infinite value(s) '
            '(e.g. {}) in an array of shape {}'.format(
                arg, bad.size, bad.flat[0], shape))


#: Whether the warning about negative labels was given in this process.
_warned_negative_labels = False


def check_labels(arg, labels, num_classes):
    """Raise DataError unless integer class labels fit ``num_classes``.

    Labels in ``[0, num_classes)`` name a class; as in theanets 0.8 the
    cross-entropy and hinge losses also accept labels down to
    ``-num_classes``, which count from the last class (numpy indexing).
    The range is checked in the labels' own dtype, so that an int64 label
    of ``2**32 + 3`` is refused rather than cast to 3 first. The first time
    negative labels are seen, a :class:`NegativeLabelWarning` says how they
    are read.

    Examples
    --------
    >>> check_labels('y', np.array([0, 2**32 + 3]), 4)
    Traceback (most recent call last):
    ...
    theanets.exceptions.DataError: y: expected integer class labels in [0, 4) for a model with 4 classes (negative labels count from the last class, down to -4), got labels from 0 to 4294967299
    """
    global _warned_negative_labels
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in 'iu' \
            or not labels.size:
        return
    low, high = int(labels.min()), int(labels.max())
    if high >= num_classes or low < -num_classes:
        raise DataError(
            '{}: expected integer class labels in [0, {}) for a model with {} '
            'classes (negative labels count from the last class, down to '
            '-{}), got labels from {} to {}'.format(
                arg, num_classes, num_classes, num_classes, low, high))
    if low < 0 and not _warned_negative_labels:
        _warned_negative_labels = True
        warnings.warn(
            '{}: got negative class labels (down to {}); label -k means class '
            '{} - k, counted from the last class as numpy indexes (so e.g. '
            '-1 and {} are the same class); use labels in [0, {}) to avoid '
            'this warning'.format(arg, low, num_classes, num_classes - 1,
                                  num_classes),
            NegativeLabelWarning, stacklevel=2)


def check_like(arg, array, shape, dtype):
    """Check a finite numeric array of a given shape (targets, weights)."""
    if np.ma.isMaskedArray(array):
        array = unmask(arg, array)
    try:
        array = np.asarray(array)
    except Exception:
        raise DataError('{}: expected an array of shape {}, got {}'.format(
            arg, shape, type(array).__name__)) from None
    if array.dtype.kind not in 'iubf':
        raise DataError('{}: expected an array of numbers of shape {}, got '
                        'an array of dtype {}'.format(arg, shape, array.dtype))
    if array.shape != tuple(shape):
        raise DataError('{}: expected an array of shape {} (like the '
                        'predictions), got shape {}'.format(
                            arg, tuple(shape), array.shape))
    check_finite(arg, array, array.shape)
    if array.dtype.kind != 'f':
        array = array.astype(dtype)
    return array


def shape_of(layer):
    """The per-example output shape of an input layer, if it is known."""
    try:
        return tuple(layer.output_shape)
    except Exception:  # an unbound layer has no shape yet
        return None


def check_inputs(network, x, arg='x'):
    """Validate the data for a network's inputs; return a list of arrays.

    ``x`` is one array, or for a network with several input layers a list
    of arrays in layer order.
    """
    inputs = [layer for layer in network.layers
              if isinstance(layer, layers.Input)]
    if len(inputs) == 1:
        arrays = [x]
        names = [arg]
    else:
        if not isinstance(x, (tuple, list)) or len(x) != len(inputs):
            raise DataError(
                '{}: this network has {} input layers ({}); expected a '
                'list of {} arrays in that order, got {}'.format(
                    arg, len(inputs),
                    ', '.join('"{}"'.format(l.name) for l in inputs),
                    len(inputs), type(x).__name__ if not isinstance(
                        x, (tuple, list)) else '{} arrays'.format(len(x))))
        arrays = list(x)
        names = ['{}[{}]'.format(arg, i) for i in range(len(x))]
    return [check_array(name, array, layer.input,
                         shape_of(layer))
            for name, array, layer in zip(names, arrays, inputs)]



def output_shapes(network):
    """Map each fully scoped output name (``'out:out'``) to its shape."""
    return {layer.full_name(key): shape for layer in network.layers
            for key, shape in layer.output_shapes.items()}


def target_shapes(network):
    """The per-example shapes the built-in losses need of their variables.

    A regression-like loss (mean squared or absolute error, KL divergence,
    MMD with its Gaussian kernel, Gaussian log-likelihood) compares its
    target with an output element by element, so the target has the
    output's shape; a cross-entropy or hinge target holds one label per
    output row, so it has the output's shape without the class axis.
    Weights have their target's shape. A loss of another class gives no
    shape (only the number of dimensions is checked), and neither does a
    target that is a network input (an autoencoder's), which is checked as
    an input.

    Examples
    --------
    >>> net = theanets.Classifier([4, 3], weighted=True)
    >>> sorted((v.name, shape) for v, shape in target_shapes(net).items())
    [('target', ()), ('weights', ())]
    """
    outputs = output_shapes(network)
    inputs = _input_shapes(network)
    result = {}
    for loss in network.losses:
        name = getattr(loss, 'output_name', None)
        if isinstance(loss, losses.GaussianLogLikelihood):
            name = loss.mean_name
        elif isinstance(loss, losses.MaximumMeanDiscrepancy) and \
                not isinstance(loss.kernel, losses.GaussianKernel):
            continue  # a kernel of the user's may compare anything
        elif not isinstance(loss, (losses.MeanSquaredError,
                                   losses.MeanAbsoluteError,
                                   losses.KullbackLeiblerDivergence,
                                   losses.MaximumMeanDiscrepancy,
                                   losses.CrossEntropy)):
            continue
        shape = outputs.get(name)
        if shape is None:
            continue
        shape = tuple(shape)
        if isinstance(loss, losses.CrossEntropy):
            shape = shape[:-1]
        target = getattr(loss, '_target', None)
        if target is None:
            continue
        if target in network.inputs:
            shape = inputs.get(target)  # weights follow the input
        else:
            result.setdefault(target, shape)
        weights = getattr(loss, '_weights', None)
        if weights is not None and shape is not None and not isinstance(
                loss, (losses.GaussianLogLikelihood,
                       losses.MaximumMeanDiscrepancy)):
            result.setdefault(weights, shape)
    return result


def _input_shapes(network):
    """Per-example shapes of the inputs that some layer reads as data.

    An input read only as a recurrent initial state (``h_0='h0'``) has a
    declared size that nothing checks, as in the original; only inputs that
    some layer reads as data are held to their declared width.
    """
    fed = {name for layer in network.layers for name in layer.input_shapes}
    return {layer.input: shape_of(layer) for layer in network.layers
            if isinstance(layer, layers.Input) and layer.output_name in fed}


class DatasetCheck(object):
    """The checks that training data for one network must pass.

    Built once per training call, it knows the variables the data feed, the
    per-example shape each one expects (inputs from their layers, targets
    and weights from the losses, see :func:`target_shapes`), the label
    variables of classification losses and, for recurrent models, which
    arrays have a time axis; calling it checks one list of arrays, a whole
    dataset or one mini-batch, at the cost of one pass over the values
    (no copy unless a dtype must change).

    Parameters
    ----------
    network : :class:`theanets.Network`
        The model the data are for.
    full : bool or 'inputs'
        If True, the data hold one array per variable of the network
        (inputs, targets, weights); if ``'inputs'``, one per input (the
        unsupervised pretrainer's autoencoder reads nothing else); if
        False, the leading inputs, in order, are checked (the sample
        trainer reads the first and last arrays).

    Examples
    --------
    >>> net = theanets.Regressor([4, 3])
    >>> check = DatasetCheck(net, full=True)
    >>> x, y = check([np.zeros((2, 4)), np.zeros((2, 3))], 'train')
    >>> x.dtype == y.dtype == theano.config.floatX
    True
    >>> check([np.zeros((2, 4)), np.zeros((2, 2))], 'train', batch=7)
    Traceback (most recent call last):
    ...
    theanets.exceptions.DataError: train[1] (batch 7): expected a 2-D array of shape (N, 3) with dtype float32 for "target", got an array of shape (2, 2) with dtype float64
    """

    def __init__(self, network, full):
        self.full = full
        self.variables = list(network.variables if full is True
                              else network.inputs)
        self.shapes = dict(target_shapes(network))
        self.shapes.update(_input_shapes(network))
        self.classes = num_classes(network)
        # Recurrent models read (examples, time steps, ...) arrays; the
        # unknown leading per-example entry of a shape is the time axis.
        recurrent = getattr(network, 'INPUT_NDIM', 2) == 3
        self.timed = {var for var, shape in self.shapes.items()
                      if recurrent and shape and shape[0] is None}

    def __call__(self, data, name, batch=None):
        """Check a list of arrays; return it with arrays cast as needed.

        Parameters
        ----------
        data : list or tuple of arrays
            One array per variable (see the class parameters).
        name : str
            The argument the data came from (``'train'`` or ``'valid'``).
        batch : int, optional
            The number of the mini-batch being checked, named in messages.

        Returns
        -------
        list
            The arrays, cast to their variables' dtypes where needed
            (numpy arrays, scipy sparse matrices and plain lists; pandas
            objects and Theano shared variables are passed on).

        Raises
        ------
        DataError
            If an array does not fit its variable (see :func:`check_array`
            and :func:`check_labels`), the arrays differ in their number of
            examples, or, for a recurrent model, in their number of time
            steps, or have none.
        """
        where = '' if batch is None else ' (batch {})'.format(batch)
        data = list(data)
        variables = self.variables
        if self.full:
            if len(data) != len(variables):
                raise DataError(
                    '{}{}: expected {} arrays, one for each of the variables '
                    '{}, got {}'.format(name, where, len(variables),
                                        [v.name for v in variables],
                                        len(data)))
        else:
            variables = variables[:len(data)]
        for i, var in enumerate(variables):
            arg = '{}[{}]{}'.format(name, i, where)
            given = data[i]
            data[i] = check_array(arg, given, var, self.shapes.get(var),
                                  convert=batch is not None or
                                  isinstance(given, (list, tuple)))
            if var in self.classes:
                # in the labels' own dtype: the cast above can wrap int64
                check_labels(arg, given if isinstance(given, np.ndarray)
                             else data[i], self.classes[var])
        self._check_lengths(name + where, variables, data)
        return data

    def _check_lengths(self, label, variables, data):
        """Raise DataError unless the arrays agree on examples and steps."""
        def sizes(axis, timed_only):
            result = []
            for var, array in zip(variables, data):
                shape = getattr(array, 'shape', None)
                if isinstance(array, theano.Variable) or shape is None or \
                        len(shape) <= axis or (
                            timed_only and var not in self.timed):
                    continue
                result.append((var.name, shape[axis], shape))
            return result

        lengths = sizes(0, False)
        if len(set(n for _, n, _ in lengths)) > 1:
            raise DataError(
                '{}: expected the same number of examples (length of axis 0) '
                'in every array, got {}'.format(
                    label, ', '.join('{} for "{}"'.format(n, v)
                                     for v, n, _ in lengths)))
        steps = sizes(1, True)
        for var, count, shape in steps:
            if count == 0:
                raise DataError(
                    '{}: expected at least one time step for "{}" (axis 1 of '
                    'a recurrent model\'s arrays), got an array of shape '
                    '{}'.format(label, var, tuple(shape)))
        if len(set(n for _, n, _ in steps)) > 1:
            raise DataError(
                '{}: expected the same number of time steps (length of axis '
                '1) in every array of a recurrent model, got {}'.format(
                    label, ', '.join('{} for "{}"'.format(n, v)
                                     for v, n, _ in steps)))


def check_dataset(network, data, name, full):
    """Validate a list of training arrays; return the (cast) list.

    With ``full``, ``data`` must hold one array per variable of the network
    (inputs, targets, weights); otherwise only inputs, in order. See
    :class:`DatasetCheck`, which this builds for one call.
    """
    return DatasetCheck(network, full)(data, name)

def num_classes(network):
    """Map the label variable of each classification loss to its width."""
    shapes = output_shapes(network)
    result = {}
    for loss in network.losses:
        if not isinstance(loss, losses.CrossEntropy):
            continue
        shape = shapes.get(loss.output_name)
        target = getattr(loss, '_target', None)
        if shape and shape[-1] and target is not None and \
                target.dtype.startswith('int'):
            result[target] = shape[-1]
    return result
