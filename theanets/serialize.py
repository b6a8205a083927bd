"""A model file format that loads without running code: ``.npz``.

:meth:`theanets.Network.save` writes a model to a path ending in ``.npz``
with :func:`save`, and :meth:`theanets.Network.load` reads it back with
:func:`load`. The file is an uncompressed numpy ``.npz`` archive without any
pickled object in it:

* ``__structure__`` holds a JSON document (as a uint8 array): the model
  class (one of the theanets model classes), the model's ``rng``, every
  layer (registered form, name, and its configuration from
  :meth:`theanets.layers.Layer.get_config`, stored as ``kwargs``, the
  keyword arguments with the layer's ``rng``, and ``args``, the options the
  layer keeps as attributes, such as a tied layer's partner or a
  convolution's ``filter_size``), every loss (form, weight, output, target
  and options) and the parameter names;
* ``param:<name>`` holds the value of each parameter (``hid1.w``, …);
* ``fixed:<layer>.<name>`` holds each fixed array of a layer that is not a
  parameter (:attr:`theanets.layers.Layer.fixed_values`, e.g. the random
  rate vector of an RRNN with ``rate='uniform'``); files without them load
  with the arrays the rebuilt layer made;
* ``value:<k>`` holds any numpy array found in the keyword arguments, and
  ``rng:<k>`` the Mersenne Twister state of a ``numpy.random.RandomState``.

Loading reads the archive with ``numpy.load(..., allow_pickle=False)``,
parses the JSON and rebuilds the model from classes that are already
registered in the running process (theanets model classes, layer and loss
registries, activation names). No name from the file is ever imported, and
no code from the file is executed. Float arrays are cast to the float type
Theano runs with, so a file saved under one ``floatX`` loads under another
(exactly when the type widens; ``float64`` values are rounded to
``float32``); arrays of any other dtype must match the model's exactly. Models whose configuration holds values
JSON cannot describe (e.g. an :class:`~theanets.activations.Activation`
instance given as a layer's ``activation``, or a callable MMD loss kernel)
cannot be saved this way; save them as a pickle (any other suffix) instead.

Examples
--------
>>> import io
>>> net = theanets.Regressor([3, (4, 'tanh'), 2])
>>> buffer = io.BytesIO()
>>> save(net, buffer)
>>> _ = buffer.seek(0)
>>> copy = load(buffer)
>>> x = np.ones((2, 3), 'f')
>>> bool((copy.predict(x) == net.predict(x)).all())
True
"""

import inspect
import json
import zipfile

import numpy as np

from . import util
from . import layers
from . import losses

__all__ = ['save', 'load', 'FORMAT', 'VERSION', 'MAX_BYTES']

#: Value of the ``format`` field of the structure document.
FORMAT = 'theanets-model'

#: Version of the structure document written by :func:`save`.
VERSION = 1

_STRUCTURE = '__structure__'


def _model_classes():
    """The model classes a file may name, by ``module.Class`` path."""
    return util.model_classes()


def _fail(message, *args):
    raise util.ModelFileError(message.format(*args))


class _Encoder(object):
    """Turn configuration values into JSON, collecting arrays on the side."""

    def __init__(self, where):
        self.where = where
        self.arrays = {}

    def __call__(self, value, what):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, np.generic) and value.dtype.kind in 'biuf':
            return value.item()
        if isinstance(value, tuple):
            return {'__tuple__': [self(v, what) for v in value]}
        if isinstance(value, list):
            return [self(v, what) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {'__dict__': [[k, self(v, what)] for k, v in value.items()]}
        if isinstance(value, np.ndarray) and value.dtype.kind in 'biuf':
            key = 'value:{}'.format(len(self.arrays))
            self.arrays[key] = value
            return {'__array__': key}
        if isinstance(value, np.random.RandomState):
            name, keys, pos, has_gauss, gauss = value.get_state()
            key = 'rng:{}'.format(len(self.arrays))
            self.arrays[key] = keys
            return {'__rng__': key, 'pos': int(pos),
                    'has_gauss': int(has_gauss), 'gauss': float(gauss)}
        if isinstance(value, layers.Layer):
            return value.output_name
        _fail('{}: cannot save {} = {!r} of type {} in the safe .npz format '
              '(only numbers, strings, tuples, lists, dicts, numpy arrays and '
              'RandomState objects can be stored); save the model with '
              'another suffix (e.g. ".pkl") to use pickle instead',
              self.where, what, value, type(value).__name__)


def _decode(value, arrays):
    """Inverse of :class:`_Encoder`."""
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if '__tuple__' in value:
        return tuple(_decode(v, arrays) for v in value['__tuple__'])
    if '__dict__' in value:
        return {k: _decode(v, arrays) for k, v in value['__dict__']}
    if '__array__' in value:
        return _array(arrays, value['__array__'])
    if '__rng__' in value:
        rng = np.random.RandomState()
        rng.set_state(('MT19937', _array(arrays, value['__rng__']),
                       value['pos'], value['has_gauss'], value['gauss']))
        return rng
    _fail('unknown value in the model structure: {!r}', value)


def _array(arrays, key):
    if not isinstance(key, str) or key not in arrays:
        _fail('the model file lacks the array {!r}', key)
    return arrays[key]


def _constructor_parameters(cls, skip):
    """Names of the explicit constructor parameters along the MRO."""
    names = []
    for klass in cls.__mro__:
        init = vars(klass).get('__init__')
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            if param.name not in skip and param.name not in names:
                names.append(param.name)
    return names


def _layer_arguments(layer):
    """Split a layer's configuration into the two dicts a file holds.

    Returns ``(kwargs, args)``: the layer's :meth:`get_config
    <theanets.layers.Layer.get_config>` without ``form`` and ``name``, split
    into the keyword arguments the layer keeps in ``kwargs`` (plus its
    ``rng`` seed) and the options it keeps as attributes (``args``). Loading
    merges the two again, so the split only keeps the files' layout.
    """
    config = layer.get_config()
    del config['form'], config['name']
    kwargs = layer.seed_arguments()
    args = {}
    for key, value in config.items():
        if key in layer.kwargs or key == 'activation':
            kwargs[key] = value
        else:
            args[key] = value
    return kwargs, args


def _loss_arguments(loss):
    skip = {'self', 'target', 'weight', 'weighted', 'output_name'}
    args = {}
    for name in _constructor_parameters(type(loss), skip):
        for attr in (name, '_' + name):
            if attr in vars(loss):
                value = getattr(loss, attr)
                if isinstance(value, losses.GaussianKernel):
                    value = value.bw
                args[name] = value
                break
        else:
            _fail('loss {}: cannot find the value of its constructor argument '
                  '{!r} to save it in the safe .npz format',
                  type(loss).__name__, name)
    return args


def _registered_form(family, obj, what):
    """The registry key of ``obj``'s class, checking it rebuilds that class."""
    form = type(obj).__name__.lower()
    if family._registry.get(form) is not type(obj):
        _fail('{} of class {} is not registered under {!r}; it cannot be '
              'saved in the safe .npz format', what, type(obj).__name__, form)
    return form


def structure(model):
    """Describe a model as a JSON-ready dict plus a dict of arrays.

    Parameters
    ----------
    model : :class:`theanets.Network`
        The model to describe.

    Returns
    -------
    doc : dict
        The structure document (see the module docstring).
    arrays : dict
        Maps archive keys to numpy arrays (parameter values and any arrays
        from the configuration).

    Raises
    ------
    theanets.util.ModelFileError
        If the model holds something the format cannot describe.
    """
    classes = _model_classes()
    path = '{}.{}'.format(type(model).__module__, type(model).__name__)
    if classes.get(path) is not type(model):
        _fail('cannot save a {} in the safe .npz format: only the theanets '
              'model classes ({}) can be rebuilt without pickle; save the '
              'model with another suffix (e.g. ".pkl") to use pickle',
              path, ', '.join(sorted(classes)))
    encode = _Encoder('model')
    inputs = model.inputs
    doc = dict(format=FORMAT, version=VERSION, model=path,
               rng=encode(model._rng, 'rng'), layers=[], losses=[],
               params=[])
    for layer in model.layers:
        encode.where = 'layer "{}"'.format(layer.name)
        kwargs, args = _layer_arguments(layer)
        doc['layers'].append(dict(
            form=_registered_form(layers.Layer, layer, 'layer'),
            name=layer.name,
            kwargs={k: encode(v, k) for k, v in kwargs.items()},
            args={k: encode(v, k) for k, v in args.items()}))
    for loss in model.losses:
        encode.where = 'loss {}'.format(type(loss).__name__)
        target = loss._target
        if any(target is var for var in inputs):
            target = dict(input=[var is target for var in inputs].index(True))
        else:
            target = dict(ndim=target.ndim)
        doc['losses'].append(dict(
            form=_registered_form(losses.Loss, loss, 'loss'),
            weight=encode(loss.weight, 'weight'),
            output_name=loss.output_name,
            weighted=loss._weights is not None,
            target=target,
            args={k: encode(v, k)
                  for k, v in _loss_arguments(loss).items()}))
    arrays = dict(encode.arrays)
    for param in model.params:
        if param.name in doc['params']:
            _fail('two parameters are named {!r}; the safe .npz format needs '
                  'unique names', param.name)
        doc['params'].append(param.name)
        arrays['param:' + param.name] = param.get_value(borrow=False)
    for layer in model.layers:
        for key, value in layer.fixed_values.items():
            arrays['fixed:{}.{}'.format(layer.name, key)] = value.get_value(
                borrow=False)
    return doc, arrays


def save(model, handle):
    """Write a model in the safe ``.npz`` format to a binary file object.

    Parameters
    ----------
    model : :class:`theanets.Network`
        The model to save.
    handle : binary file object
        Where to write; it is left open.

    Raises
    ------
    theanets.util.ModelFileError
        If the model holds something the format cannot describe.
    """
    doc, arrays = structure(model)
    text = json.dumps(doc, sort_keys=True)
    arrays[_STRUCTURE] = np.frombuffer(text.encode('utf-8'), np.uint8)
    np.savez(handle, **arrays)


def is_npz(head):
    """True if the first bytes of a file are those of a zip (npz) archive."""
    return head[:4] in (b'PK\x03\x04', b'PK\x05\x06')


#: Default of ``max_bytes`` in :func:`load`: the most bytes of arrays a
#: model file may make :func:`load` allocate (4 GiB).
MAX_BYTES = 4 * 2 ** 30

#: The most bytes the JSON structure document may take (64 MiB).
MAX_STRUCTURE_BYTES = 64 * 2 ** 20

#: The deepest nesting of lists and objects the structure document may use.
MAX_STRUCTURE_DEPTH = 64

#: Bytes a rebuilt model may allocate beyond the parameters the file holds
#: (initial values of arrays that the file does not store).
_ALLOCATION_SLACK = 16 * 2 ** 20


class _Archive(object):
    """The arrays of an npz file, each read only when it is asked for.

    Every member is checked before anything is allocated for it: it must be
    a ``.npy`` entry stored uncompressed or deflated, its ``.npy`` header
    must declare a numeric dtype and a shape whose size matches the
    member's declared size, and that size must fit in what is left of the
    byte budget. Members the model does not ask for are never read.
    """

    def __init__(self, archive, name, budget):
        self.archive = archive
        self.name = name
        self.budget = budget
        self.members = {}
        for info in archive.infolist():
            if info.filename.endswith('.npy'):
                self.members[info.filename[:-4]] = info

    def __contains__(self, key):
        return key in self.members

    def declared_bytes(self, prefixes):
        """Total declared size of the members whose names start so."""
        return sum(info.file_size for key, info in self.members.items()
                   if key.startswith(prefixes))

    def __getitem__(self, key):
        info = self.members[key]
        if info.compress_type not in (zipfile.ZIP_STORED,
                                      zipfile.ZIP_DEFLATED):
            _fail('{}: the array {!r} uses zip compression method {}; only '
                  'stored and deflated members can be read', self.name, key,
                  info.compress_type)
        if info.flag_bits & 0x1:
            _fail('{}: the array {!r} is encrypted', self.name, key)
        if info.file_size > self.budget:
            _fail('{}: the array {!r} declares {} bytes, more than the {} '
                  'bytes left of max_bytes', self.name, key, info.file_size,
                  self.budget)
        with self.archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(member)
            else:
                _fail('{}: the array {!r} has .npy format version {}, which '
                      'this theanets does not read', self.name, key, version)
            shape, fortran, dtype = header
            if dtype.hasobject or dtype.kind not in 'biuf':
                _fail('{}: the array {!r} is corrupt: it has dtype {}, and a '
                      'model file holds only numeric arrays', self.name, key,
                      dtype)
            count = 1
            for dim in shape:
                count *= dim
            nbytes = count * dtype.itemsize
            if member.tell() + nbytes != info.file_size:
                _fail('{}: the array {!r} is corrupt: it declares shape {} '
                      'and dtype {} ({} bytes), which does not match its '
                      'size in the archive ({} bytes)', self.name, key, shape, dtype,
                      nbytes, info.file_size - member.tell())
            array = np.empty(shape[::-1] if fortran else shape, dtype)
            view = memoryview(array.reshape(-1).view(np.uint8))
            filled = 0
            while filled < nbytes:
                got = member.readinto(view[filled:])
                if not got:
                    _fail('{}: the array {!r} is truncated or corrupt',
                          self.name, key)
                filled += got
        self.budget -= nbytes
        return array.T if fortran else array


def _check_depth(doc, name):
    """Raise ModelFileError if a JSON document nests too deeply."""
    level = [doc]
    for depth in range(MAX_STRUCTURE_DEPTH + 1):
        level = [child for value in level
                 for child in (value.values() if isinstance(value, dict)
                               else value if isinstance(value, list) else ())
                 if isinstance(child, (dict, list))]
        if not level:
            return
    _fail('{}: the model structure nests deeper than {} levels', name,
          MAX_STRUCTURE_DEPTH)


def load(handle, name='<file>', max_bytes=MAX_BYTES):
    """Rebuild a model saved by :func:`save`, without unpickling anything.

    Parameters
    ----------
    handle : binary file object
        The file to read.
    name : str, optional
        How to name the file in error messages.
    max_bytes : int, optional
        The most bytes of arrays the file may make this allocate: the
        arrays it stores and the layers it declares. Each array's declared
        size is checked against what is left before it is read, and only
        the arrays the model needs are read. Defaults to :data:`MAX_BYTES`
        (4 GiB).

    Returns
    -------
    :class:`theanets.Network`
        The model, an instance of the class it was saved from.

    Raises
    ------
    theanets.util.ModelFileError
        If the file is not a complete npz archive, holds no theanets
        structure document, names a class, layer form, loss or parameter
        this process does not know or that does not fit, or needs more than
        ``max_bytes``; any other failure while reading it is reported as
        this error too.
    """
    try:
        return _load(handle, name, max_bytes)
    except util.ModelFileError:
        raise
    except Exception as e:  # anything a hostile file can provoke
        _fail('{}: cannot rebuild the model ({}: {})',
              name, type(e).__name__, e)


def _load(handle, name, max_bytes):
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError) as e:
        _fail('cannot read the model file {}: it is truncated, corrupt or not '
              'an npz archive ({}: {})', name, type(e).__name__, e)
    with archive:
        arrays = _Archive(archive, name, max_bytes)
        if _STRUCTURE not in arrays:
            _fail('{} is an npz archive but not a theanets model (it has no '
                  '{!r} entry)', name, _STRUCTURE)
        if arrays.members[_STRUCTURE].file_size > MAX_STRUCTURE_BYTES:
            _fail('{}: the model structure declares {} bytes, more than the '
                  '{} a model file may use', name,
                  arrays.members[_STRUCTURE].file_size, MAX_STRUCTURE_BYTES)
        try:
            raw = arrays[_STRUCTURE]
            doc = json.loads(raw.tobytes().decode('utf-8'))
        except util.ModelFileError:
            raise
        except (UnicodeDecodeError, ValueError, RecursionError,
                zipfile.BadZipFile, EOFError, OSError, RuntimeError,
                NotImplementedError) as e:
            _fail('{}: the model structure is corrupt ({}: {})', name,
                  type(e).__name__, e)
        _check_depth(doc, name)
        if not isinstance(doc, dict) or doc.get('format') != FORMAT:
            _fail('{} is not a theanets model file', name)
        if doc.get('version') != VERSION:
            _fail('{}: unsupported model file version {!r} (this theanets '
                  'reads version {})', name, doc.get('version'), VERSION)
        # A correct file's layers allocate what its parameters hold; the
        # limit stops a file that declares huge layers before it allocates.
        stored = arrays.declared_bytes(('param:', 'fixed:'))
        limit = min(arrays.budget, 2 * stored + _ALLOCATION_SLACK)
        try:
            with util.allocation_limit(limit, name):
                return _rebuild(doc, arrays, name)
        except util.ModelFileError:
            raise
        except (util.Error, KeyError, TypeError, ValueError, IndexError,
                AttributeError) as e:
            _fail('{}: cannot rebuild the model ({}: {})',
                  name, type(e).__name__, e)


def _rebuild(doc, arrays, name):
    cls = _model_classes().get(doc['model'])
    if cls is None:
        _fail('{} names the model class {!r}, which is not a theanets model '
              'class', name, doc['model'])
    model = cls.__new__(cls)
    util.model_class(util.BASE_MODEL).__init__(model, layers=(), loss=None,
                           rng=_decode(doc['rng'], arrays))
    for spec in doc['layers']:
        form = spec['form']
        if not layers.Layer.is_registered(form):
            _fail('{}: unknown layer form {!r}', name, form)
        config = {k: _decode(v, arrays) for k, v in spec['kwargs'].items()}
        config.update((k, _decode(v, arrays)) for k, v in spec['args'].items())
        config.update(form=form, name=spec['name'])
        model.layers.append(layers.Layer.from_config(config))
    for layer in model.layers:
        layer.bind(model)
    for spec in doc['losses']:
        target = spec['target']
        if 'input' in target:
            target = model.inputs[target['input']]
        else:
            target = target['ndim']
        args = {k: _decode(v, arrays) for k, v in spec['args'].items()}
        if not losses.Loss.is_registered(spec['form']):
            _fail('{}: unknown loss {!r}', name, spec['form'])
        model.add_loss(losses.Loss.build(
            spec['form'], target=target, weight=spec['weight'],
            weighted=spec['weighted'], output_name=spec['output_name'],
            **args))
    params = model.params
    saved = doc['params']
    if [p.name for p in params] != saved:
        _fail('{}: the rebuilt model has parameters {} but the file holds {}',
              name, [p.name for p in params], saved)
    for param in params:
        value = _array(arrays, 'param:' + param.name)
        param.set_value(_fitted(value, param.get_value(borrow=True), name,
                                'parameter {}'.format(param.name)))
    for layer in model.layers:
        for key, variable in layer.fixed_values.items():
            stored = 'fixed:{}.{}'.format(layer.name, key)
            if stored not in arrays:
                continue  # a file written before fixed arrays were saved
            variable.set_value(_fitted(
                arrays[stored], variable.get_value(borrow=True), name,
                'the fixed array {}'.format(stored)))
    return model


def _fitted(value, current, name, what):
    """Return a stored array in the dtype of the array it replaces.

    Float arrays are cast to the model's float type, so that files saved
    under one ``floatX`` load under another (exactly when the type widens;
    ``float64`` values are rounded to ``float32``). Any other dtype must
    match exactly, as must the shape.
    """
    floats = value.dtype.kind == 'f' and current.dtype.kind == 'f'
    if value.shape != current.shape or (
            value.dtype != current.dtype and not floats):
        needed = ('a float dtype' if current.dtype.kind == 'f'
                  else 'dtype {}'.format(current.dtype))
        _fail('{}: {} has shape {} and dtype {} in the file, but the model '
              'needs shape {} and {}', name, what, value.shape, value.dtype,
              current.shape, needed)
    return value.astype(current.dtype, copy=False)
