"""Names in model pickles, across backends and numpy versions.

Part of the backend layer (:mod:`theanets.backend` owns it and is the only
way in: ``from .backend import pickle_compat``). A pickled model names the
classes of the backend and the numpy that wrote it:

* a model saved on Theano (by theanets 0.8 or this version) names
  ``theano.tensor.sharedvar.TensorSharedVariable``,
  ``theano.tensor.type.TensorType``, ``theano.gof.link.Container``, ... and,
  for theanets 0.8's activations, Theano's ``Elemwise`` and scalar ops;
* a model saved on PyTensor names ``pytensor.tensor.sharedvar``,
  ``pytensor.link.basic.Container``, ...;
* numpy 2 writes ``numpy._core.*`` where numpy 1 wrote ``numpy.core.*``,
  and pickles random states with bit generator objects where numpy 1 wrote
  the bit generator's name.

:func:`resolve` gives the restricted unpickler of :mod:`theanets.saving`
the object a name stands for on the running backend. The other backend's
names are never imported (Theano need not be installed to read a Theano
pickle on PyTensor, nor PyTensor on Theano): each is mapped to a
*stand-in*, a class of the running backend whose instances, once the
pickle hands them their state, rebuild themselves as the running
backend's object from plain data only (dtype, broadcast pattern, name,
parameter array) and then become exactly that class. A shared variable
loaded this way is an ordinary shared variable of the running backend
with the saved value.

Examples
--------
>>> import numpy as np
>>> rebuilt = resolve('numpy._core.multiarray', '_reconstruct')
>>> rebuilt is resolve('numpy.core.multiarray', '_reconstruct')
True
"""

import importlib
import inspect

import numpy as np

from . import backend

#: The package names each backend pickles its objects under.
_PACKAGE = {'theano': 'theano', 'pytensor': 'pytensor'}

_NUMPY_2 = int(np.__version__.split('.')[0]) >= 2


def running():
    """The running backend: ``'theano'`` or ``'pytensor'``."""
    return backend.name()


def foreign_package():
    """The package of the backend that is not running (never imported)."""
    return 'pytensor' if running() == 'theano' else 'theano'


def is_foreign(module):
    """Whether ``module`` belongs to the backend that is not running."""
    package = foreign_package()
    return module == package or module.startswith(package + '.')


# -- the running backend's objects -------------------------------------------


def native_packages():
    """The running backend's packages whose objects a model may hold.

    Its shared variables and their containers, types, variables and the
    elementwise ops that theanets 0.8 stored as activations.
    """
    if running() == 'theano':
        return ('theano.tensor', 'theano.scalar', 'theano.sparse',
                'theano.gof', 'theano.compile.sharedvalue',
                'theano.misc.frozendict')
    return ('pytensor.tensor', 'pytensor.scalar', 'pytensor.sparse',
            'pytensor.graph', 'pytensor.link.basic',
            'pytensor.compile.sharedvalue', 'pytensor.misc.frozendict')


def is_native(module):
    """Whether ``module`` is one of :func:`native_packages`."""
    return _in_package(module, native_packages())


def _in_package(module, packages):
    return any(module == p or module.startswith(p + '.') for p in packages)


def native_allowed(module, obj):
    """Whether a resolved backend name is one a theanets model can contain.

    Types, variables, containers, scratchpads, frozen dicts and ops
    (elementwise, scalar, sparse), but no op that wraps Python code (those
    of the graph and compile packages), and among plain functions only the
    output-type rules of scalar ops (``upgrade_to_float``, ...).
    """
    classes = _native_classes()
    if inspect.isclass(obj):
        if issubclass(obj, classes['safe_bases']):
            return True
        return issubclass(obj, classes['op']) and not _in_package(
            module, classes['code_packages'])
    scalar = classes['scalar']
    if module != scalar.__name__:
        return False
    if inspect.isfunction(obj):  # defined there, not imported into it
        return obj.__module__ == scalar.__name__
    return isinstance(obj, (scalar.transfer_type, scalar.specific_out))


def _native_classes():
    """The running backend's classes, by role."""
    theano = backend.theano
    if running() == 'theano':
        def module(name):  # theano.tensor.var is also the variance function
            return importlib.import_module('theano.' + name)
        gof = theano.gof
        return dict(
            safe_bases=(gof.Type, gof.Variable, gof.link.Container,
                        gof.utils.scratchpad,
                        module('misc.frozendict').frozendict),
            op=gof.op.PureOp, scalar=module('scalar.basic'),
            code_packages=('theano.gof', 'theano.compile'),
            shared=module('tensor.sharedvar').TensorSharedVariable,
            variable=module('tensor.var').TensorVariable,
            tensor_type=module('tensor.type').TensorType,
            sparse_variable=module('sparse.basic').SparseVariable,
            sparse_type=module('sparse.type').SparseType,
            container=gof.link.Container,
            scratchpad=gof.utils.scratchpad,
            elemwise=module('tensor.elemwise').Elemwise,
            scalar_modules=(module('scalar.basic'),
                            module('tensor.nnet.sigm')),
            scalar_op=module('scalar.basic').ScalarOp)
    import pytensor.graph
    import pytensor.graph.utils
    import pytensor.link.basic
    import pytensor.misc.frozendict
    import pytensor.scalar.basic
    import pytensor.scalar.math
    import pytensor.sparse.type
    import pytensor.sparse.variable
    import pytensor.tensor.elemwise
    import pytensor.tensor.sharedvar
    import pytensor.tensor.type
    import pytensor.tensor.variable
    return dict(
        safe_bases=(pytensor.graph.Type, pytensor.graph.Variable,
                    pytensor.link.basic.Container,
                    pytensor.graph.utils.Scratchpad,
                    pytensor.misc.frozendict.frozendict),
        op=pytensor.graph.Op, scalar=pytensor.scalar.basic,
        code_packages=('pytensor.graph', 'pytensor.compile'),
        shared=pytensor.tensor.sharedvar.TensorSharedVariable,
        variable=pytensor.tensor.variable.TensorVariable,
        tensor_type=pytensor.tensor.type.TensorType,
        sparse_variable=pytensor.sparse.variable.SparseVariable,
        sparse_type=pytensor.sparse.type.SparseTensorType,
        container=pytensor.link.basic.Container,
        scratchpad=pytensor.graph.utils.Scratchpad,
        elemwise=pytensor.tensor.elemwise.Elemwise,
        scalar_modules=(pytensor.scalar.basic, pytensor.scalar.math),
        scalar_op=pytensor.scalar.basic.ScalarOp)


# -- stand-ins for the other backend's classes --------------------------------


class ForeignStateError(ValueError):
    """A pickled object of the other backend whose state cannot be used."""


def _state_dict(state, what):
    if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
        state = state[0]  # (dict, slots) with no slots
    if not isinstance(state, dict):
        raise ForeignStateError('a pickled {} has the state {!r}, not a '
                                'dict'.format(what, type(state).__name__))
    return state


def _standin(native, kind, rebuild):
    """A subclass of ``native`` whose instances rebuild themselves.

    The unpickler creates an instance without calling ``__init__`` and
    hands it the pickled state; ``rebuild(state)`` returns a fresh native
    object made from that state, whose attributes and class the instance
    then takes, so every reference the pickle holds to it sees a native
    object.
    """
    def __setstate__(self, state):
        fresh = rebuild(_state_dict(state, kind))
        vars(self).clear()
        vars(self).update(vars(fresh))
        self.__class__ = type(fresh)

    def __reduce_ex__(self, protocol):
        raise ForeignStateError(
            'a stand-in for a pickled {} was never given its state'.format(
                kind))

    return type(native)(native.__name__, (native, ), {
        '__setstate__': __setstate__, '__reduce_ex__': __reduce_ex__,
        '__module__': __name__,
        '__doc__': 'Rebuilds a pickled {} of the other backend.'.format(
            kind)})


def _checked(value, kinds, what):
    if not isinstance(value, kinds):
        raise ForeignStateError('a pickled {} holds a {}'.format(
            what, type(value).__name__))
    return value


def _broadcastable(state):
    """The broadcast pattern of a pickled tensor type of either backend."""
    pattern = state.get('broadcastable')
    if pattern is None and state.get('shape') is not None:
        pattern = tuple(size == 1 for size in state['shape'])
    pattern = _checked(pattern, tuple, 'tensor type')
    return tuple(bool(b) for b in pattern)


def _make_tensor_type(classes, dtype, broadcastable):
    if running() == 'theano':
        return classes['tensor_type'](dtype, broadcastable)
    return classes['tensor_type'](
        dtype, shape=tuple(1 if b else None for b in broadcastable))


def _make_sparse_type(classes, fmt, dtype):
    return classes['sparse_type'](fmt, dtype)


def _rebuilders(classes):
    """Functions that rebuild a native object from a foreign state."""

    def tensor_type(state):
        return _make_tensor_type(classes, _checked(
            state.get('dtype'), str, 'tensor type'), _broadcastable(state))

    def sparse_type(state):
        return _make_sparse_type(
            classes, _checked(state.get('format'), str, 'sparse type'),
            _checked(state.get('dtype'), str, 'sparse type'))

    def variable(state):
        if state.get('owner') is not None:
            raise ForeignStateError(
                'the pickle holds a symbolic variable computed by an op; a '
                'theanets model file holds only inputs and parameters')
        kind = _checked(state.get('type'), classes['safe_bases'][0],
                        'variable')
        return kind(name=state.get('name'))

    def shared(state):
        container = _checked(state.get('container'), classes['container'],
                             'shared variable')
        value = _checked(container.storage[0], np.ndarray, 'shared variable')
        kind = _checked(state.get('type'), classes['safe_bases'][0],
                        'shared variable')
        return classes['shared'](type=kind, value=value, strict=False,
                                 name=state.get('name'))

    def plain(native):
        def rebuild(state):
            fresh = object.__new__(native)
            vars(fresh).update(state)
            return fresh
        return rebuild

    def scalar_op(native):
        def rebuild(state):
            rule = state.get('output_types_preference')
            if rule is not None and not native_allowed(
                    classes['scalar'].__name__, rule):
                raise ForeignStateError(
                    'a pickled scalar op has the output type rule {!r}'.format(
                        rule))
            return native(output_types_preference=rule,
                          name=state.get('name'))
        return rebuild

    def elemwise(state):
        op = _checked(state.get('scalar_op'), classes['scalar_op'],
                      'elementwise op')
        name = state.get('name')
        return classes['elemwise'](op, name=name if isinstance(name, str)
                                   else None)

    return dict(tensor_type=tensor_type, sparse_type=sparse_type,
                variable=variable, shared=shared, plain=plain,
                scalar_op=scalar_op, elemwise=elemwise)


#: The other backend's classes a model may hold, by the name each backend
#: pickles them under: ``(module, name) -> (role, kind of rebuild)``.
_FOREIGN_CLASSES = {
    'theano': {
        ('theano.tensor.sharedvar', 'TensorSharedVariable'):
            ('shared', 'shared'),
        ('theano.tensor.var', 'TensorVariable'): ('variable', 'variable'),
        ('theano.tensor.type', 'TensorType'):
            ('tensor_type', 'tensor_type'),
        ('theano.sparse.basic', 'SparseVariable'):
            ('sparse_variable', 'variable'),
        ('theano.sparse.type', 'SparseType'):
            ('sparse_type', 'sparse_type'),
        ('theano.gof.link', 'Container'): ('container', 'plain'),
        ('theano.gof.utils', 'scratchpad'): ('scratchpad', 'plain'),
        ('theano.tensor.elemwise', 'Elemwise'): ('elemwise', 'elemwise'),
    },
    'pytensor': {
        ('pytensor.tensor.sharedvar', 'TensorSharedVariable'):
            ('shared', 'shared'),
        ('pytensor.tensor.variable', 'TensorVariable'):
            ('variable', 'variable'),
        ('pytensor.tensor.type', 'TensorType'):
            ('tensor_type', 'tensor_type'),
        ('pytensor.sparse.variable', 'SparseVariable'):
            ('sparse_variable', 'variable'),
        ('pytensor.sparse.type', 'SparseTensorType'):
            ('sparse_type', 'sparse_type'),
        ('pytensor.link.basic', 'Container'): ('container', 'plain'),
        ('pytensor.graph.utils', 'Scratchpad'): ('scratchpad', 'plain'),
        ('pytensor.tensor.elemwise', 'Elemwise'): ('elemwise', 'elemwise'),
    },
}

#: Scalar ops the two backends name differently (Theano's name first).
_SCALAR_RENAMES = (('ScalarSigmoid', 'Sigmoid'),
                   ('UltraFastScalarSigmoid', 'Sigmoid'),
                   ('ScalarSoftplus', 'Softplus'))

#: The modules each backend keeps scalar ops in.
_SCALAR_MODULES = {
    'theano': ('theano.scalar.basic', 'theano.scalar.basic_scipy',
               'theano.tensor.nnet.sigm'),
    'pytensor': ('pytensor.scalar.basic', 'pytensor.scalar.math'),
}

_standins = {}


class _Discarded(object):
    """A part of a pickled op that the rebuilt op makes anew (e.g. the
    frozen ``inplace_pattern`` of an elementwise op)."""

    def __setstate__(self, state):
        pass


def _native_scalar_class(classes, name):
    if running() == 'pytensor':
        name = dict(_SCALAR_RENAMES).get(name, name)
    else:
        name = {new: old for old, new in _SCALAR_RENAMES
                if not old.startswith('Ultra')}.get(name, name)
    for module in classes['scalar_modules']:
        native = getattr(module, name, None)
        if inspect.isclass(native) and issubclass(
                native, classes['scalar_op']):
            return native
    return None


def foreign(module, name):
    """The stand-in for a name of the backend that is not running.

    Returns None when the name is nothing a theanets model holds (the
    caller refuses it). Nothing of the other backend is imported.
    """
    package = foreign_package()
    key = (package, module, name)
    if key in _standins:
        return _standins[key]
    classes = _native_classes()
    rebuilders = _rebuilders(classes)
    found = None
    if (module, name) in _FOREIGN_CLASSES[package]:
        role, rebuild = _FOREIGN_CLASSES[package][(module, name)]
        native = classes[role]
        if rebuild == 'plain':
            rebuild = rebuilders['plain'](native)
        else:
            rebuild = rebuilders[rebuild]
        found = _standin(native, role, rebuild)
    elif module == package + '.misc.frozendict' and name == 'frozendict':
        found = _Discarded
    elif module in _SCALAR_MODULES[package]:
        native = _native_scalar_class(classes, name)
        scalar = classes['scalar']
        rule = getattr(scalar, name, None)
        if native is not None:
            found = _standin(native, 'scalar op',
                             rebuilders['scalar_op'](native))
        elif module.endswith('.scalar.basic') and rule is not None and (
                native_allowed(scalar.__name__, rule)
                or rule in (scalar.transfer_type, scalar.specific_out)):
            found = rule  # output type rules: same names on both backends
    _standins[key] = found
    return found


# -- numpy ---------------------------------------------------------------------


def numpy_module(module):
    """``module`` spelled as the running numpy names it.

    numpy 2 moved ``numpy.core`` to ``numpy._core`` (keeping a deprecated
    alias); pickles name the module of the numpy that wrote them.
    """
    old, new = 'numpy.core', 'numpy._core'
    if _NUMPY_2 and (module == old or module.startswith(old + '.')):
        return new + module[len(old):]
    if not _NUMPY_2 and (module == new or module.startswith(new + '.')):
        return old + module[len(new):]
    return module


def canonical_numpy_module(module):
    """``module`` with numpy 2's ``numpy._core`` spelled ``numpy.core``."""
    new = 'numpy._core'
    if module == new or module.startswith(new + '.'):
        return 'numpy.core' + module[len(new):]
    return module


class _PendingBitGenerator(object):
    """A numpy 2 pickle's bit generator, read under numpy 1.

    numpy 2 pickles a ``RandomState`` as
    ``__randomstate_ctor(__bit_generator_ctor(MT19937))`` with the bit
    generator's state ``(state, seed_sequence)``; numpy 1's helpers take
    only a name and its ``__setstate__`` only the state.
    """

    def __init__(self, kind):
        self.kind = kind
        self.state = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and state:
            state = state[0]
        self.state = state

    def build(self):
        generator = self.kind()
        if self.state is not None:
            generator.state = self.state
        return generator


def _bit_generator_kind(value):
    from numpy.random import _pickle
    if isinstance(value, str):
        return _pickle.BitGenerators.get(value)
    if inspect.isclass(value) and value in _pickle.BitGenerators.values():
        return value
    return None


def _bit_generator_ctor(bit_generator='MT19937', *args):
    """numpy 1's ``__bit_generator_ctor``, also given a class (numpy 2)."""
    kind = _bit_generator_kind(bit_generator)
    if kind is None:
        raise ForeignStateError('unknown bit generator {!r}'.format(
            bit_generator))
    return _PendingBitGenerator(kind)


def _randomstate_ctor(bit_generator='MT19937', *args):
    """numpy 1's ``__randomstate_ctor``, also given a bit generator."""
    if isinstance(bit_generator, _PendingBitGenerator):
        generator = bit_generator.build()
    elif isinstance(bit_generator, np.random.BitGenerator):
        generator = bit_generator
    else:
        kind = _bit_generator_kind(bit_generator)
        if kind is None:
            raise ForeignStateError('unknown bit generator {!r}'.format(
                bit_generator))
        generator = kind()
    return np.random.RandomState(generator)


def numpy_replacement(module, name):
    """What stands for a numpy name the running numpy reads differently.

    Returns None when the running numpy's own object serves.
    """
    if _NUMPY_2 or module != 'numpy.random._pickle':
        return None
    return {'__randomstate_ctor': _randomstate_ctor,
            '__bit_generator_ctor': _bit_generator_ctor}.get(name)


def resolve(module, name):
    """The running numpy's object for a pickled numpy name (any spelling)."""
    replacement = numpy_replacement(canonical_numpy_module(module), name)
    if replacement is not None:
        return replacement
    return getattr(importlib.import_module(numpy_module(module)), name)
