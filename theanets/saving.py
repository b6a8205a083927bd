"""Saving models to files and loading them back.

:meth:`theanets.Network.save` and :meth:`theanets.Network.load` hand their
work to :func:`save` and :func:`load` here. Two formats exist: pickles (the
format of theanets 0.8, optionally gzip-compressed) and the safe ``.npz``
format of :mod:`theanets.serialize`. Saving to a path is atomic; loading
recognises the format from the file's first bytes and turns every way a
file can be broken into a :class:`theanets.exceptions.ModelFileError`.
"""

import gzip
import inspect
import io
import numbers
import os
import pickle

from . import _files
from . import _variables
from . import activations
from . import layers
from . import losses
from . import serialize
from . import util
from .backend import theano
from .backend import pickle_compat
from .exceptions import ModelFileError, MissingModelFileError

__all__ = ['SavingMixin', 'save', 'load', 'ModelUnpickler', 'restricted_load']

# Kept importable from here: the cleanup of killed saves lives in _files.
remove_stale_temporaries = _files.remove_stale_temporaries
STALE_AFTER = _files.STALE_AFTER

class SavingMixin(object):
    """The file methods of :class:`theanets.Network`: ``save`` and ``load``."""

    def save(self, filename_or_handle, format=None, replace_read_only=False):
        """Save the network to a file.

        Two formats are available:

        - **pickle** (the default, and the format of theanets 0.8): the model
          object pickled with the highest protocol, gzip-compressed when the
          path ends in ``.gz`` (e.g. ``'model.pkl.gz'``).
        - **npz** (safe), chosen by a path ending in ``.npz`` (any case,
          e.g. ``'model.npz'`` or ``'model.theanets.npz'``) or by
          ``format='npz'``: an uncompressed numpy archive holding a JSON
          description of the model (class, layers, losses, ``rng``) and the
          parameter arrays, without any pickled object. See
          :mod:`theanets.serialize`. Models configured with values JSON
          cannot describe (e.g. an :class:`~theanets.activations.Activation`
          instance given as a layer's ``activation``, rather than its
          name) can only be pickled; see the examples.

        Saving to a path is atomic: the data are written to a temporary file
        in the same folder, flushed to disk and then renamed over the
        target, so an existing file is either replaced completely or left
        untouched (also when saving fails or is interrupted); no
        half-written file is ever visible under the target name. After the
        rename the folder itself is flushed to disk, so the new name
        survives a power cut. A file object is written to directly and left
        open.

        Saving to a symbolic link replaces the file the link points to and
        keeps the link. An existing read-only file is not replaced unless
        ``replace_read_only`` is True. The temporary files are named
        ``.NAME.PID.XXXXXXXX.tmp`` (PID is the writing process); a save that
        is killed leaves its temporary file behind, and every save removes
        such files of that folder whose writer process no longer runs on
        this machine, or that have not been written to for an hour.

        Parameters
        ----------
        filename_or_handle : str, path or file-like
            A path, or a binary file object.
        format : {None, 'pickle', 'npz'}, optional
            The file format; None (the default) picks ``'npz'`` for paths
            ending in ``.npz`` and ``'pickle'`` otherwise.
        replace_read_only : bool, optional
            If True, replace an existing file even if it is read-only (it
            keeps its mode). Defaults to False.

        Raises
        ------
        theanets.util.ModelFileError
            If the npz format cannot describe this model.
        theanets.exceptions.ModelFileWriteError
            If the file cannot be written (a full disk, a folder without
            write permission, a read-only target): both a
            :class:`~theanets.util.ModelFileError` and an :class:`OSError`
            with the ``errno`` of the failure, naming the path given.
        ValueError
            For an unknown ``format``.

        Notes
        -----
        **Loading a pickle runs code.** Unpickling can execute arbitrary
        Python code chosen by whoever wrote the file, so only load pickled
        models from sources you trust. Prefer the ``.npz`` format to share
        models: loading it never unpickles or imports anything.

        Examples
        --------
        >>> import io
        >>> buffer = io.BytesIO()
        >>> theanets.Regressor([3, 2]).save(buffer, format='npz')
        >>> buffer.getvalue()[:2]
        b'PK'

        A layer whose activation is an object, not a name, pickles but
        has no ``.npz`` form:

        >>> from theanets.activations import CommonActivation
        >>> net = theanets.Regressor(
        ...     [3, dict(size=4, activation=CommonActivation('tanh')), 2])
        >>> net.save(io.BytesIO(), format='npz')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
          ...
        theanets.exceptions.ModelFileError: layer "hid1": cannot save activation = CommonActivation('tanh') of type CommonActivation in the safe .npz format ...
        >>> buffer = io.BytesIO()
        >>> net.save(buffer)
        >>> _ = buffer.seek(0)
        >>> theanets.Network.load(buffer).layers[1].activate.name
        'tanh'
        """
        save(self, filename_or_handle, format, replace_read_only)

    def to_onnx(self, path_or_file, opset=None, outputs=None):
        """Export the network as an ONNX model (needs ``theanets[onnx]``).

        The ONNX model computes what the prediction methods return, named
        after them (``predict``, ``predict_proba``, ...); see
        :func:`theanets.onnx.export`, which this calls, for the arguments.

        Returns
        -------
        onnx.ModelProto
            The model that was written.

        Examples
        --------
        >>> import io
        >>> proto = theanets.Regressor([3, 2]).to_onnx(io.BytesIO())
        >>> [output.name for output in proto.graph.output]
        ['predict']
        """
        from . import onnx
        return onnx.export(self, path_or_file, opset=opset, outputs=outputs)

    @classmethod
    def load(cls, filename_or_handle, allow_pickle=True, trusted=False,
             max_bytes=serialize.MAX_BYTES):
        """Load a saved network.

        The format is recognised from the file's first bytes: an npz
        archive (see :meth:`save`) is rebuilt without unpickling anything;
        anything else is read as a pickle (gzip-compressed when the path
        ends in ``.gz``), like the files theanets 0.8 wrote. A path ending
        in ``.npz`` is only ever read as an npz archive.

        Pickles are read by a **restricted unpickler** unless ``trusted`` is
        True: it resolves only the names a theanets model can hold (the
        theanets model, layer, loss and activation classes, the activation
        functions, numpy arrays, dtypes and ``RandomState`` objects, Theano's
        shared variables, types and elementwise ops, and a few builtins
        such as ``set`` and ``slice``). Any other name (``os.system``,
        ``builtins.eval``, a class of another library, ...) is refused with
        a :class:`theanets.util.ModelFileError` naming it, before anything
        it refers to is imported or called. Models saved by this version and
        by theanets 0.8 load this way.

        Files move between backends: an ``.npz`` file or a pickle saved on
        Theano loads on PyTensor (Theano need not be installed) and one
        saved on PyTensor loads on Theano, predicting the same to float32
        precision. The other backend's shared variables, types and ops in
        a pickle are rebuilt from their data (dtype, broadcast pattern,
        name, values) as the running backend's own, so the model trains
        and saves there like any other.

        Models load under any ``floatX``: float parameters and fixed
        arrays (and a pickle's float input and target variables) are cast
        to the type Theano runs with (:data:`theanets.util.FLOAT`), so a
        model saved under ``float64`` predicts and trains under ``float32``
        and the reverse. Widening is exact; ``float64`` values loaded under
        ``float32`` are rounded to the nearest ``float32``. Arrays of other
        dtypes (integers where weights belong, objects) are refused.

        Parameters
        ----------
        filename_or_handle : str, path or file-like
            A path or a binary file object.
        allow_pickle : bool, optional
            If False, refuse to read pickle files (raise
            :class:`theanets.util.ModelFileError`) so that loading never
            runs code from the file. Defaults to True.
        trusted : bool, optional
            If True, read pickles with the full :mod:`pickle` module, which
            can import and call anything the file names: only for files
            from a source you trust that hold something the restricted
            unpickler refuses (e.g. a model with a custom layer class
            defined outside theanets). Defaults to False.
        max_bytes : int, optional
            The most bytes of data the file may make loading read or
            allocate: for an ``.npz`` file, the arrays it stores (each
            checked against its declared size before it is read; arrays
            the model does not use are never read) and the layers it
            declares (refused before allocation if they would need much
            more than the stored parameters); for a pickle, the bytes
            unpickled (after gzip decompression). Defaults to 4 GiB
            (:data:`theanets.serialize.MAX_BYTES`); raise it for larger
            models.

        Returns
        -------
        Network
            The saved model, as an instance of the class it was saved from.

        Raises
        ------
        FileNotFoundError
            If the path does not exist (a
            :class:`theanets.util.ModelFileError` too).
        theanets.util.ModelFileError
            If the file is truncated or corrupt, does not hold a theanets
            model, is a pickle while ``allow_pickle`` is False, (unless
            ``trusted``) names a class or function outside the allowed set,
            needs more than ``max_bytes``, is a directory or cannot be read;
            every failure while loading is reported as this error.

        Notes
        -----
        **With** ``trusted=True`` **loading a pickle runs code** chosen by
        whoever wrote the file; the default restricted unpickler only
        rebuilds theanets, numpy and Theano objects. The ``.npz`` format
        never unpickles anything; ``allow_pickle=False`` accepts only it.

        Examples
        --------
        >>> import io
        >>> buffer = io.BytesIO()
        >>> theanets.Regressor([3, 2]).save(buffer)
        >>> _ = buffer.seek(0)
        >>> type(theanets.Network.load(buffer)).__name__
        'Regressor'
        """
        return load(filename_or_handle, allow_pickle, trusted, max_bytes)


def save(network, filename_or_handle, format=None, replace_read_only=False):
    """Write ``network`` to a path or binary file; see :meth:`theanets.Network.save`.

    Parameters
    ----------
    network : :class:`theanets.Network`
        The model to save.
    filename_or_handle : str, path or file-like
        A path (written atomically), or a binary file object.
    format : {None, 'pickle', 'npz'}, optional
        The file format; None picks ``'npz'`` for paths ending in ``.npz``
        and ``'pickle'`` otherwise.
    replace_read_only : bool, optional
        If True, an existing read-only file may be replaced.
    """
    if isinstance(filename_or_handle, (str, os.PathLike)):
        path = os.fspath(filename_or_handle)
        fmt = _file_format(path, format)

        def write(handle):
            if fmt == 'npz':
                serialize.save(network, handle)
            elif path.lower().endswith('.gz'):
                with gzip.GzipFile(filename=os.path.basename(path),
                                   mode='wb', fileobj=handle) as zipped:
                    pickle.dump(network, zipped, -1)
            else:
                pickle.dump(network, handle, -1)

        _files.atomic_write(path, write, replace_read_only)
    elif _file_format(None, format) == 'npz':
        serialize.save(network, filename_or_handle)
    else:
        pickle.dump(network, filename_or_handle, -1)
    util.log('saved model to {}', filename_or_handle)


def load(filename_or_handle, allow_pickle=True, trusted=False,
         max_bytes=serialize.MAX_BYTES):
    """Read a model from a path or binary file; see :meth:`theanets.Network.load`.

    Parameters
    ----------
    filename_or_handle : str, path or file-like
        A path or a binary file object.
    allow_pickle : bool, optional
        If False, refuse to read pickle files. Defaults to True.
    trusted : bool, optional
        If True, unpickle with the full :mod:`pickle` module instead of the
        restricted unpickler (:class:`ModelUnpickler`). Defaults to False.
    max_bytes : int, optional
        The most bytes of data the file may make this read or allocate;
        see :meth:`theanets.Network.load`.

    Returns
    -------
    :class:`theanets.Network`
        The saved model, as an instance of the class it was saved from.
    """
    if isinstance(filename_or_handle, (str, os.PathLike)):
        path = os.fspath(filename_or_handle)
        try:
            handle = open(path, 'rb')
        except FileNotFoundError:
            raise MissingModelFileError(
                'cannot load a model from {!r}: no such file'.format(
                    path)) from None
        except IsADirectoryError:
            raise ModelFileError(
                'cannot load a model from {!r}: it is a directory, not a '
                'file'.format(path)) from None
        except OSError as e:  # permissions, a broken device, ...
            raise ModelFileError(
                'cannot load a model from {!r}: {}'.format(
                    path, e.strerror or e)) from e
        with handle:
            model = _guarded(_load_handle, path, handle, path, allow_pickle,
                             trusted, path.lower().endswith('.gz'),
                             path.lower().endswith('.npz'), max_bytes)
    else:
        name = repr(filename_or_handle)
        model = _guarded(_load_handle, name, filename_or_handle, name,
                         allow_pickle, trusted, False, False, max_bytes)
    util.log('loaded model from {}', filename_or_handle)
    return model


def _guarded(function, name, *args):
    """Call ``function(*args)``, turning any OSError into ModelFileError."""
    try:
        return function(*args)
    except ModelFileError:
        raise
    except OSError as e:  # a read error (EIO), a file that changed, ...
        raise ModelFileError('cannot load a model from {}: {} ({})'.format(
            name, e.strerror or e, type(e).__name__)) from e


def _file_format(path, format):
    """Resolve the ``format`` argument of :func:`save`."""
    if format is None:
        return 'npz' if path and path.lower().endswith('.npz') else 'pickle'
    if format not in ('npz', 'pickle'):
        raise ValueError('format: expected None, "pickle" or "npz", got '
                         '{!r}'.format(format))
    return format


class RefusedNameError(pickle.UnpicklingError):
    """A pickle named something a theanets model cannot contain."""


#: Names outside theanets and Theano that a model's pickle may hold: numpy
#: arrays, scalars, dtypes and random states, and the builtins that pickles
#: of plain containers use.
_ALLOWED_NAMES = frozenset([
    ('numpy', 'dtype'), ('numpy', 'ndarray'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy.random._pickle', '__randomstate_ctor'),
    ('numpy.random._pickle', '__bit_generator_ctor'),
    ('numpy.random.mtrand', 'RandomState'),
    ('numpy.random._mt19937', 'MT19937'),
    ('numpy.random.bit_generator', 'SeedSequence'),
    ('numpy.random.bit_generator', '__pyx_unpickle_SeedSequence'),
    ('copyreg', '_reconstructor'), ('_codecs', 'encode'),
    ('collections', 'OrderedDict'),
] + [('builtins', name) for name in (
    'object', 'set', 'frozenset', 'slice', 'complex', 'range', 'bytearray',
    'list', 'dict', 'tuple', 'int', 'float', 'bool', 'str', 'bytes')])

def _allowed_object(module, obj):
    """Whether a resolved name is one a theanets model can contain."""
    if module == 'theanets' or module.startswith('theanets.'):
        if inspect.isclass(obj):
            return issubclass(obj, (util.model_class(util.BASE_MODEL),
                                    layers.Layer, losses.Loss,
                                    activations.Activation,
                                    losses.GaussianKernel))
        # theanets 0.8 and this version pickle activation functions by name
        return inspect.isfunction(obj) and any(
            obj is function for function in activations._COMMON.values())
    return pickle_compat.native_allowed(module, obj)


class ModelUnpickler(pickle.Unpickler):
    """An unpickler that resolves only what a theanets model can contain.

    Every global name in the file is checked before its module is imported
    and again once it is resolved; anything else raises
    :class:`RefusedNameError` (turned into a
    :class:`~theanets.util.ModelFileError` by :func:`load`), so no callable
    outside the allowed set is ever reached. The allowed set: theanets
    model, layer, loss and activation classes and activation functions
    (under their current module paths or those of theanets 0.8, which
    still exist), Theano types, variables, containers and tensor, scalar
    and sparse ops, numpy arrays, scalars, dtypes and ``RandomState``, and
    the builtin containers.

    Examples
    --------
    >>> import io, pickle
    >>> ModelUnpickler(io.BytesIO(pickle.dumps(np.arange(3)))).load()
    array([0, 1, 2])
    >>> ModelUnpickler(io.BytesIO(b'cos\\nsystem\\n(S"echo hi"\\ntR.')).load()
    Traceback (most recent call last):
    ...
    theanets.saving.RefusedNameError: the pickle names os.system, which a theanets model cannot contain; nothing it names was imported or called (pass trusted=True only if you trust the file's author)
    """

    def find_class(self, module, name):
        if (pickle_compat.canonical_numpy_module(module), name) in \
                _ALLOWED_NAMES:
            if module.startswith('numpy'):
                return pickle_compat.resolve(module, name)
            return super().find_class(module, name)
        if pickle_compat.is_foreign(module):
            # the other backend's classes: stand-ins that rebuild the
            # running backend's objects, without importing the other one
            standin = pickle_compat.foreign(module, name)
            if standin is None:
                self._refuse(module, name)
            return standin
        if not (module == 'theanets' or module.startswith('theanets.') or
                pickle_compat.is_native(module)) or \
                '.' in name:
            self._refuse(module, name)
        obj = super().find_class(module, name)
        if not _allowed_object(module, obj):
            self._refuse(module, name)
        return obj

    @staticmethod
    def _refuse(module, name):
        raise RefusedNameError(
            'the pickle names {}.{}, which a theanets model cannot contain; '
            'nothing it names was imported or called (pass trusted=True only '
            'if you trust the file\'s author)'.format(module, name))


class _TrustedUnpickler(pickle.Unpickler):
    """The full unpickler, reading the names of either backend and numpy.

    What ``trusted=True`` uses: any name resolves, except that the other
    backend's classes get their stand-ins and numpy's names the running
    numpy's spelling, as for :class:`ModelUnpickler`.
    """

    def find_class(self, module, name):
        if pickle_compat.is_foreign(module):
            standin = pickle_compat.foreign(module, name)
            if standin is not None:
                return standin
        elif module.startswith('numpy'):
            return pickle_compat.resolve(module, name)
        return super().find_class(module, name)


def _trusted_load(handle):
    return _TrustedUnpickler(handle).load()


def restricted_load(handle):
    """Unpickle one object from ``handle`` with :class:`ModelUnpickler`."""
    return ModelUnpickler(handle).load()


class _LimitedReader(object):
    """A read-only view of a binary file that fails after ``limit`` bytes."""

    def __init__(self, handle, limit, name):
        self.handle = handle
        self.left = limit
        self.limit = limit
        self.name = name

    def _count(self, data):
        self.left -= len(data)
        if self.left < 0:
            raise ModelFileError(
                'cannot load a model from {}: the pickle holds more than '
                'max_bytes={} bytes'.format(self.name, self.limit))
        return data

    def read(self, size=-1):
        if size is None or size < 0 or size > self.left + 1:
            size = self.left + 1
        return self._count(self.handle.read(size))

    def readline(self, size=-1):
        if size is None or size < 0 or size > self.left + 1:
            size = self.left + 1
        return self._count(self.handle.readline(size))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _check_unpickled(model, name):
    """Raise ModelFileError unless an unpickled object is a usable model.

    Every shared and symbolic input variable of a usable model is replaced
    by a new one made from its checked value (or type), name and broadcast
    pattern, in the running float type (as :func:`cast_to_floatx` does).
    """
    def fail(problem):
        raise ModelFileError('cannot load a model from {}: {}'.format(
            name, problem))

    if not isinstance(model, util.model_class(util.BASE_MODEL)):
        fail('it holds a {}, not a theanets model'.format(
            type(model).__name__))
    model_layers = getattr(model, 'layers', None)
    model_losses = getattr(model, 'losses', None)
    if not isinstance(model_layers, list) or not all(
            isinstance(layer, layers.Layer) for layer in model_layers):
        fail('its layers are not a list of theanets layers')
    if not isinstance(model_losses, list) or not all(
            isinstance(loss, losses.Loss) for loss in model_losses):
        fail('its losses are not a list of theanets losses')
    try:
        # Nothing of a pickled variable is used but its value, name, type
        # and broadcast pattern: a mutated file can leave a variable (or its
        # type) without an attribute that compiling reads much later.
        _variables.replace_variables(model, _variables.rebuilt)
        outputs = {}  # connect the layers, as build_graph does, uncached
        for layer in model_layers:
            outputs.update(layer.connect(outputs)[0])
        for loss in model_losses:  # what building any graph reads of them
            output_name = getattr(loss, 'output_name', None)
            if not isinstance(output_name, str):
                fail('a loss names the output {!r}, not a string'.format(
                    output_name))
            if not isinstance(getattr(loss, 'weight', None), numbers.Real):
                fail('a loss has the weight {!r}, not a number'.format(
                    getattr(loss, 'weight', None)))
            if not all(isinstance(v, theano.Variable)
                       for v in loss.variables):
                fail('a loss has targets that are not symbolic variables')
    except ModelFileError:
        raise
    except Exception as e:  # a mutated model that cannot compute
        fail('the model it holds is inconsistent ({}: {})'.format(
            type(e).__name__, e))


def _load_handle(handle, name, allow_pickle, trusted, gzipped, npz_only,
                 max_bytes=serialize.MAX_BYTES):
    """Read a model from an open binary file; see :func:`load`."""
    try:
        start = handle.tell()
        head = handle.read(4)
        handle.seek(start)
    except (AttributeError, OSError, io.UnsupportedOperation):
        head = None  # not seekable: only pickles can be read
    if head is not None and serialize.is_npz(head):
        return serialize.load(handle, name, max_bytes)
    if npz_only:
        raise ModelFileError(
            '{} is not a theanets .npz model file (it is not an npz archive '
            'or is truncated)'.format(name))
    if head is not None and not head:
        raise ModelFileError(
            'cannot load a model from {}: the file is empty'.format(name))
    if not allow_pickle:
        raise ModelFileError(
            'refusing to unpickle {} because allow_pickle is False; only the '
            'safe .npz format can be loaded this way'.format(name))
    read = _trusted_load if trusted else restricted_load
    try:
        if gzipped:
            with gzip.GzipFile(fileobj=handle, mode='rb') as zipped:
                model = read(_LimitedReader(zipped, max_bytes, name))
        else:
            model = read(_LimitedReader(handle, max_bytes, name))
    except ModelFileError:
        raise
    except RefusedNameError as e:
        raise ModelFileError(
            'refusing to load a model from {}: {}'.format(name, e)) from None
    except (AttributeError, ImportError) as e:
        raise ModelFileError(
            'cannot load a model from {}: the pickle refers to a name this '
            'installation does not have ({}: {}); it is not a theanets model '
            'or comes from an incompatible version'.format(
                name, type(e).__name__, e)) from e
    except Exception as e:  # EOFError, zlib.error, OverflowError, ...
        raise ModelFileError(
            'cannot load a model from {}: the file is truncated or corrupt '
            '({}: {})'.format(name, type(e).__name__, e)) from e
    _check_unpickled(model, name)
    return model


def cast_to_floatx(model):
    """Give an unpickled model the float type Theano runs with.

    A pickle keeps each array and symbolic input in the float type of the
    process that saved it (``float32`` for theanets 0.8 and for this version
    by default, ``float64`` under ``THEANO_FLAGS=floatX=float64``), and a
    model that mixes types cannot train: Theano refuses updates that would
    change a shared variable's type. This replaces, in every layer, loss and
    activation of ``model``, each float shared variable (parameters and
    fixed arrays) by a copy cast to :data:`theanets.util.FLOAT`, and each
    float input or target variable by one of that type. Variables that
    several attributes share stay shared. Integer and other arrays (e.g. a
    classifier's int32 labels) are left alone.

    Casting to a wider type is exact; ``float64`` values loaded under
    ``float32`` are rounded to the nearest ``float32``.

    Parameters
    ----------
    model : :class:`theanets.Network`
        An unpickled model; changed in place.

    Returns
    -------
    int
        The number of variables replaced.

    Examples
    --------
    A parameter stored as ``float16`` (a type Theano never runs with):

    >>> net = theanets.Regressor([3, 2])
    >>> net.layers[-1]._params[0] = theanets.backend.theano.shared(
    ...     np.zeros((3, 2), 'float16'), name='out.w')
    >>> cast_to_floatx(net)
    1
    >>> net.find('out', 'w').dtype == theanets.util.FLOAT
    True
    """
    replaced = _variables.replace_variables(model, _variables.as_floatx)
    return sum(new is not old for old, new in replaced)
