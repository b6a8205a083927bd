"""Theano's module names, served by PyTensor: the PyTensor backend.

On Python 3.12 and newer (or with ``THEANETS_BACKEND=pytensor``) theanets
runs on PyTensor, the maintained continuation of Theano. PyTensor keeps
Theano's graphs, ``scan``, ``function``, shared variables and C linker, but
renamed its package and some modules and dropped others (``nnet``,
``signal.pool``, ``sandbox.rng_mrg``). theanets itself, downhill 0.4.0 and
user code written for theanets 0.8 all say ``import theano`` and
``import theano.tensor as TT``; :func:`install` makes those names resolve to
PyTensor:

* ``theano``, ``theano.tensor``, ``theano.gof``, ``theano.sandbox.rng_mrg``,
  ``theano.tensor.nnet``, ``theano.tensor.signal.pool`` and a few more are
  small modules made here: they hold Theano's names for PyTensor's objects
  and forward every other attribute to the PyTensor module they stand for;
* any other ``theano.X`` module is PyTensor's ``pytensor.X`` itself;
* what PyTensor lacks is written here on PyTensor's ops: the neural-network
  functions of ``theano.tensor.nnet`` (convolution and pooling in
  :mod:`theanets._pytensor_nnet`) and ``MRG_RandomStreams``, whose draws
  come from PyTensor's random generators (reproducible per seed, but not the
  numbers Theano's MRG generator draws);
* ``theano.config`` reads and sets PyTensor's flags under Theano's dotted
  names (``config.blas.ldflags`` is PyTensor's ``blas__ldflags``).

Before PyTensor's first import its flags are chosen like Theano's
(:func:`choose_flags`): ``floatX``, ``cxx`` and the compile directory
(``base_compiledir``, ``compiledir``) from ``THEANO_FLAGS`` or
``.theanorc`` when the user set them there (scripts written for 0.8 do,
and so does :class:`theanets._dask.TheanoCompileDir` for cluster workers),
else ``floatX=float32``; the C virtual machine linker
(PyTensor's default, Numba, fails on some of theanets' graphs and compiles
far more slowly) and the OpenBLAS of the ``scipy-openblas32`` wheel, which
pip installs of PyTensor otherwise lack. Flags the user set in
``PYTENSOR_FLAGS`` or a ``.pytensorrc`` file win.

Only :mod:`theanets.backend` imports this module.
"""

import importlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import types
import warnings

import numpy as np

from . import _theano_env

_logger = logging.getLogger('theanets')

#: What :func:`prepare` did: the BLAS linked and the flags chosen.
_state = {}

#: Names (Theano's, lowercased and dotted) of flags theanets may choose.
_FLAG_NAMES = {'floatx': 'floatX', 'linker': 'linker',
               'blas.ldflags': 'blas__ldflags',
               'gcc.cxxflags': 'gcc__cxxflags'}


#: Theano flags (``THEANO_FLAGS``, ``.theanorc``) that mean the same to
#: PyTensor: scripts written for theanets 0.8 set them, and PyTensor reads
#: only its own variables. Its own settings of them win.
_SHARED_FLAGS = {'floatx': 'floatX', 'cxx': 'cxx',
                 'base_compiledir': 'base_compiledir',
                 'compiledir': 'compiledir'}


def user_flags(pytensor_flags=None):
    """Return the PyTensor flags the user set, as a dict name -> value.

    Names are lowercased in Theano's dotted form (``'floatx'``,
    ``'blas.ldflags'``), whether written ``blas__ldflags`` or in a section
    ``[blas]`` of a ``.pytensorrc`` file; ``PYTENSOR_FLAGS`` (or
    ``pytensor_flags`` when given) wins over the files.

    Examples
    --------
    >>> sorted(user_flags('floatX=float64,blas__ldflags=-lblas'))
    ['blas.ldflags', 'floatx']
    """
    if pytensor_flags is None:
        pytensor_flags = os.environ.get('PYTENSOR_FLAGS', '')
    found = _theano_env.parse_flags(
        os.environ.get('PYTENSORRC', '~/.pytensorrc'), pytensor_flags,
        'PyTensor')
    return {name.replace('__', '.'): value for name, value in found.items()}


def choose_flags(user):
    """Choose the PyTensor flags theanets wants, leaving the user's alone.

    Returns ``(blas, flags)``: a description of the BLAS to be linked
    (``'chosen by the user'``, or None when there is none) and a dict of
    PyTensor flag names to values.
    """
    chosen = {}
    theano_user = _theano_env.user_flags()
    for flag in _SHARED_FLAGS:
        if flag not in user and flag in theano_user:
            chosen[_SHARED_FLAGS[flag]] = theano_user[flag]
    if 'floatx' not in user and 'floatX' not in chosen:
        chosen['floatX'] = 'float32'
    compiler = _theano_env.compiler_expected(
        dict(user, **({'cxx': chosen['cxx']} if 'cxx' in chosen else {})))
    if 'linker' not in user and 'mode' not in user:
        # Without a compiler, the Python virtual machine (cvm needs C).
        chosen['linker'] = 'cvm' if compiler else 'vm'
    if 'blas.ldflags' in user:
        return 'chosen by the user', chosen
    blas, flags = _theano_env.find_blas()
    if not flags or ('gcc.cxxflags' in user and 'gcc.cxxflags' in flags):
        return None, chosen
    chosen.update((_FLAG_NAMES[name], value) for name, value in flags.items())
    return blas, chosen


def _import_pytensor():
    """Import PyTensor with theanets' flags; return it."""
    if 'pytensor' in sys.modules:
        _state.setdefault('blas', 'set before theanets was imported')
        _state.setdefault('flags', {})
        return sys.modules['pytensor']
    blas, flags = choose_flags(user_flags())
    _state.update(blas=blas, flags=flags)
    config_logger = logging.getLogger('pytensor.configparser')
    config_logger.addFilter(_drop_config_notices)
    try:
        with _theano_env.flags_in_environment(flags, 'PYTENSOR_FLAGS'), \
                warnings.catch_warnings():
            # Its advice to install from conda, when no BLAS is found:
            # theanets says what to install instead.
            warnings.filterwarnings('ignore',
                                    'PyTensor could not link to a BLAS')
            import pytensor
            import pytensor.tensor
    finally:
        config_logger.removeFilter(_drop_config_notices)
    return pytensor


def _drop_config_notices(record):
    """Filter out PyTensor's INFO notices about each flag it registers."""
    return not record.getMessage().startswith('Suppressed KeyError')


def state():
    """What the preparation did: ``blas`` and ``flags`` (empty before)."""
    return dict(_state)


# -- the modules --------------------------------------------------------------


class _Facade(types.ModuleType):
    """A ``theano.*`` module: its own names, then its PyTensor module's."""

    def __init__(self, name, target=None, doc=None):
        super().__init__(name, doc)
        self.__dict__['_target'] = target
        self.__package__ = name
        self.__path__ = []  # a package, so that submodules import
        if getattr(target, '__file__', None):
            self.__file__ = target.__file__

    def __getattr__(self, name):
        target = self.__dict__.get('_target')
        if target is None or name.startswith('__'):
            raise AttributeError('module {!r} has no attribute {!r}'.format(
                self.__name__, name))
        try:
            return getattr(target, name)
        except AttributeError:
            raise AttributeError(
                'module {!r} (PyTensor backend) has no attribute {!r}'.format(
                    self.__name__, name)) from None

    def __dir__(self):
        names = set(self.__dict__)
        target = self.__dict__.get('_target')
        if target is not None:
            names.update(dir(target))
        return sorted(names)


class _ConfigSection(object):
    """``theano.config.<section>``: PyTensor's ``<section>__<name>`` flags."""

    def __init__(self, config, section):
        object.__setattr__(self, '_config', config)
        object.__setattr__(self, '_section', section)

    def _flag(self, name):
        return '{}__{}'.format(self._section, name)

    def __getattr__(self, name):
        flag = self._flag(name)
        try:
            return getattr(self._config, flag)
        except AttributeError:
            return _ConfigSection(self._config, flag)

    def __setattr__(self, name, value):
        setattr(self._config, self._flag(name), value)


class _Config(object):
    """``theano.config`` over PyTensor's config: dotted names work."""

    def __init__(self, config):
        object.__setattr__(self, '_config', config)

    def __getattr__(self, name):
        try:
            return getattr(self._config, name)
        except AttributeError:
            return _ConfigSection(self._config, name)

    def __setattr__(self, name, value):
        setattr(self._config, name, value)

    def __dir__(self):
        return dir(self._config)


class _TensorTypeMeta(type):
    """Lets ``TT.TensorType(dtype, broadcastable)`` build PyTensor's type.

    PyTensor's ``TensorType`` takes static shapes; Theano's took a
    broadcastable pattern. Instance checks see PyTensor's class.
    """

    def __call__(cls, dtype, broadcastable=None, name=None, shape=None):
        from pytensor.tensor.type import TensorType
        if shape is None and broadcastable is not None:
            shape = tuple(1 if b else None for b in broadcastable)
        return TensorType(dtype, shape=shape, name=name)

    def __instancecheck__(cls, obj):
        from pytensor.tensor.type import TensorType
        return isinstance(obj, TensorType)

    def __subclasscheck__(cls, sub):
        from pytensor.tensor.type import TensorType
        return issubclass(sub, TensorType)


class TensorType(metaclass=_TensorTypeMeta):
    """Theano's ``TensorType(dtype, broadcastable)``, made by PyTensor."""


class MRG_RandomStreams(object):
    """Theano's ``MRG_RandomStreams`` interface over PyTensor's generators.

    Each draw gets its own generator, a shared variable whose default update
    advances it at every call of a compiled function (as Theano's MRG states
    were). The generators' seeds are spawned in order from ``seed``, so the
    same seed and the same sequence of draws give the same numbers every
    time on this backend; they are not the numbers Theano's MRG generator
    draws.

    Parameters
    ----------
    seed : int, optional
        Seed of the generators (default 12345, as in Theano).
    """

    def __init__(self, seed=12345):
        if isinstance(seed, int) and seed == 0:
            raise ValueError('MRG_RandomStreams: the seed must not be 0 '
                             '(Theano refuses it too)')
        self.default_instance_seed = seed
        self._sequence = np.random.SeedSequence(seed)
        self._generators = []

    def seed(self, seed):
        """Reseed every generator made so far, and those made later."""
        self._sequence = np.random.SeedSequence(seed)
        for generator in self._generators:
            generator.set_value(np.random.default_rng(self._spawn()))

    def updates(self):
        """The ``(generator, next generator)`` pairs of the draws so far."""
        return [(g, g.default_update) for g in self._generators]

    def _spawn(self):
        return self._sequence.spawn(1)[0]

    def _draw(self, method, size, dtype, *args):
        from pytensor.tensor.random.variable import shared_rng
        generator = shared_rng(np.random.default_rng(self._spawn()))
        next_generator, draw = getattr(generator, method)(*args, size=size)
        with warnings.catch_warnings():
            # PyTensor prefers explicit updates; Theano's streams (and the
            # graphs written for them) rely on this default update.
            warnings.simplefilter('ignore', DeprecationWarning)
            generator.default_update = next_generator
        self._generators.append(generator)
        if dtype is None:
            import pytensor
            dtype = pytensor.config.floatX
        return draw.astype(dtype) if draw.dtype != dtype else draw

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None,
                nstreams=None, **kwargs):
        """Uniform draws in ``[low, high)`` of shape ``size``."""
        return self._draw('uniform', size, dtype, low, high)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None,
               nstreams=None, **kwargs):
        """Normal draws of mean ``avg`` and deviation ``std``."""
        return self._draw('normal', size, dtype, avg, std)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype='int64',
                 nstreams=None, **kwargs):
        """Binomial draws (``n`` trials of probability ``p``)."""
        return self._draw('binomial', size, dtype, n, p)


def _clone(output, replace=None, strict=True, share_inputs=True):
    """Theano's ``clone``: a copy of ``output`` with ``replace`` applied."""
    from pytensor.graph.replace import clone_replace
    return clone_replace(output, replace=replace, rebuild_strict=strict,
                         copy_inputs_over=share_inputs)


def _theano_op_class():
    """Theano's ``Op`` on PyTensor: a ``COp`` whose ``L_op``, ``grad`` and
    ``R_op`` serve as PyTensor's ``pullback`` and ``pushforward``.

    PyTensor still calls an Op's Theano-style gradient methods, but warns
    that it will stop doing so; an Op written for Theano (theanets' fused
    recurrent Ops, or a user's) defines those, so this class forwards
    PyTensor's names to them. An Op without ``c_code`` runs its
    ``perform`` without first trying the C linker.
    """
    from pytensor.gradient import DisconnectedType, disconnected_type
    from pytensor.link.c.op import COp

    class Op(COp):
        __doc__ = _theano_op_class.__doc__.split('\n\n')[0]

        def make_thunk(self, node, storage_map, compute_map, no_recycling,
                       impl=None):
            # An Op with only ``perform`` (allowed by Theano's Op) would
            # otherwise first be tried in C, with a warning that it has no
            # C code version.
            if type(self).c_code is COp.c_code:
                impl = 'py'
            return super().make_thunk(node, storage_map, compute_map,
                                      no_recycling, impl=impl)

        def pullback(self, inputs, outputs, cotangents):
            cls = type(self)
            if cls.L_op is not COp.L_op:
                return self.L_op(inputs, outputs, cotangents)
            if cls.grad is not COp.grad:
                return self.grad(inputs, cotangents)
            return super().pullback(inputs, outputs, cotangents)

        def pushforward(self, inputs, outputs, tangents):
            if type(self).R_op is COp.R_op:
                return super().pushforward(inputs, outputs, tangents)
            eval_points = [None if isinstance(t.type, DisconnectedType)
                           else t for t in tangents]
            return [disconnected_type() if r is None else r
                    for r in self.R_op(inputs, eval_points)]

    Op.__module__, Op.__qualname__ = 'theano.gof', 'Op'
    return Op


def _scan(*args, **kwargs):
    """Theano's ``scan``: PyTensor's, returning ``(outputs, updates)``.

    That is still PyTensor's default, but each call warns that a later
    version will return the outputs alone; Theano's callers (theanets,
    downhill, user code) all unpack the pair, so the notice is not shown.
    """
    import pytensor
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', 'Scan return signature will change', DeprecationWarning)
        return pytensor.scan(*args, **kwargs)


def _shared(value, name=None, strict=False, allow_downcast=None,
            broadcastable=None, **kwargs):
    """Theano's ``shared``: a broadcast pattern becomes a static shape."""
    import pytensor
    if broadcastable is not None and 'shape' not in kwargs:
        kwargs['shape'] = tuple(1 if b else None for b in broadcastable)
    return pytensor.shared(value, name=name, strict=strict,
                           allow_downcast=allow_downcast, **kwargs)


def _rop(f, wrt, eval_points, **kwargs):
    """Theano's ``Rop``: PyTensor's push-forward (Jacobian times vector)."""
    from pytensor.gradient import pushforward
    return pushforward(f, wrt, eval_points, **kwargs)


def _lop(f, wrt, eval_points, **kwargs):
    """Theano's ``Lop``: PyTensor's pull-back (vector times Jacobian)."""
    from pytensor.gradient import pullback
    return pullback(f, wrt, eval_points, **kwargs)


def _softmax(x, axis=-1):
    """Theano's ``nnet.softmax``: normalised along the last axis."""
    from pytensor.tensor.special import softmax
    return softmax(x, axis=axis)


def _relu(x, alpha=0):
    """Theano's ``nnet.relu``; ``alpha`` is the slope below zero."""
    if alpha == 0:
        return 0.5 * (x + abs(x))
    f1 = 0.5 * (1 + alpha)
    f2 = 0.5 * (1 - alpha)
    return f1 * x + f2 * abs(x)


def _categorical_crossentropy(coding_dist, true_dist):
    """Cross-entropy of rows of probabilities and one-hot rows or labels."""
    import pytensor.tensor as pt
    if true_dist.ndim == coding_dist.ndim:
        return -pt.sum(true_dist * pt.log(coding_dist), axis=-1)
    rows = pt.arange(coding_dist.shape[0])
    return -pt.log(coding_dist[rows, true_dist])


def _binary_crossentropy(output, target):
    import pytensor.tensor as pt
    return -(target * pt.log(output) + (1 - target) * pt.log(1 - output))


def _hard_sigmoid(x):
    import pytensor.tensor as pt
    return pt.clip(0.2 * x + 0.5, 0, 1)


def _elu(x, alpha=1):
    import pytensor.tensor as pt
    return pt.switch(x > 0, x, alpha * pt.expm1(x))


def _patternbroadcast(x, broadcastable):
    import pytensor.tensor as pt
    axes = [i for i, b in enumerate(broadcastable) if b]
    return pt.specify_broadcastable(x, *axes) if axes else x


def _addbroadcast(x, *axes):
    import pytensor.tensor as pt
    return pt.specify_broadcastable(x, *axes)


def _nnet_function(name):
    """``theanets._pytensor_nnet.<name>``, imported on its first call."""
    def call(*args, **kwargs):
        from . import _pytensor_nnet
        return getattr(_pytensor_nnet, name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = 'PyTensor implementation of Theano\'s ``{}``.'.format(name)
    return call


def _build_modules(pytensor):
    """Make the ``theano.*`` facade modules; return them by name."""
    import pytensor.compile
    import pytensor.gradient
    import pytensor.graph
    import pytensor.graph.utils
    import pytensor.link.c.op
    import pytensor.scalar
    import pytensor.sparse
    import pytensor.tensor as pt
    import pytensor.tensor.blas
    import pytensor.tensor.blas.c_code.blas_headers as blas_headers
    import pytensor.tensor.sharedvar
    import pytensor.tensor.variable
    nnet_ops = types.SimpleNamespace(**{
        name: _nnet_function(name)
        for name in ('conv2d', 'conv2d_grad_wrt_inputs', 'pool_2d')})

    modules = {}

    def facade(name, target=None, **names):
        module = _Facade(name, target, 'Theano name on the PyTensor backend')
        module.__dict__.update(names)
        modules[name] = module
        return module

    abstract_conv = facade(
        'theano.tensor.nnet.abstract_conv', None,
        conv2d=nnet_ops.conv2d,
        conv2d_grad_wrt_inputs=nnet_ops.conv2d_grad_wrt_inputs)
    nnet = facade(
        'theano.tensor.nnet', None,
        sigmoid=pt.sigmoid, ultra_fast_sigmoid=pt.sigmoid,
        hard_sigmoid=_hard_sigmoid, softplus=pt.softplus,
        softmax=_softmax, relu=_relu, elu=_elu,
        categorical_crossentropy=_categorical_crossentropy,
        binary_crossentropy=_binary_crossentropy,
        conv2d=nnet_ops.conv2d, abstract_conv=abstract_conv)
    pool = facade('theano.tensor.signal.pool', None,
                  pool_2d=nnet_ops.pool_2d)
    import pytensor.tensor.signal
    signal = facade('theano.tensor.signal', pytensor.tensor.signal,
                    pool=pool)
    blas_module = facade('theano.tensor.blas', pytensor.tensor.blas)
    blas_headers_module = facade('theano.tensor.blas_headers', blas_headers)
    tensor = facade(
        'theano.tensor', pt,
        nnet=nnet, signal=signal, blas=blas_module,
        blas_headers=blas_headers_module,
        sharedvar=pytensor.tensor.sharedvar,
        var=pytensor.tensor.variable,
        TensorType=TensorType,
        Rop=_rop, Lop=_lop, grad=pytensor.gradient.grad, sgn=pt.sign,
        patternbroadcast=_patternbroadcast, addbroadcast=_addbroadcast)
    rng_mrg = facade('theano.sandbox.rng_mrg', None,
                     MRG_RandomStreams=MRG_RandomStreams)
    sandbox = facade('theano.sandbox', None, rng_mrg=rng_mrg)
    import pytensor.graph.basic
    import pytensor.graph.traversal as traversal
    import pytensor.scan.utils
    scan_package = sys.modules['pytensor.scan']  # pytensor.scan: the function
    theano_op = _theano_op_class()
    gof_graph = facade(
        'theano.gof.graph', pytensor.graph.basic,
        ancestors=traversal.ancestors, inputs=traversal.graph_inputs,
        io_toposort=traversal.io_toposort,
        applys_between=traversal.applys_between,
        variables=traversal.vars_between,
        orphans=traversal.orphans_between)
    scan_module = facade('theano.scan_module', scan_package,
                         until=scan_package.utils.until)
    gof = facade(
        'theano.gof', pytensor.graph, graph=gof_graph,
        Op=theano_op, COp=pytensor.link.c.op.COp,
        Apply=pytensor.graph.Apply, Variable=pytensor.graph.Variable,
        Constant=pytensor.graph.Constant, Type=pytensor.graph.Type,
        MethodNotDefined=pytensor.graph.utils.MethodNotDefined,
        utils=pytensor.graph.utils)
    import pytensor.sparse.variable
    sparse = facade(
        'theano.sparse', pytensor.sparse,
        SparseVariable=pytensor.sparse.variable.SparseVariable,
        SparseConstant=pytensor.sparse.variable.SparseConstant,
        SparseType=pytensor.sparse.SparseTensorType)
    config = _Config(pytensor.config)
    theano = facade(
        'theano', pytensor,
        __version__='1.0.5+pytensor.{}'.format(pytensor.__version__),
        config=config, tensor=tensor, sandbox=sandbox, gof=gof,
        sparse=sparse, compile=pytensor.compile,
        gradient=pytensor.gradient, scalar=pytensor.scalar,
        Op=theano_op, Apply=pytensor.graph.Apply,
        Variable=pytensor.graph.Variable, Constant=pytensor.graph.Constant,
        change_flags=pytensor.config.change_flags, clone=_clone,
        shared=_shared,
        scan=_scan, scan_module=scan_module)
    theano.__path__ = []
    return modules


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports any other ``theano.X`` as PyTensor's ``pytensor.X``."""

    def find_spec(self, name, path=None, target=None):
        if not name.startswith('theano.') or name in sys.modules:
            return None
        parent, _, child = name.rpartition('.')
        known = getattr(sys.modules.get(parent), '__dict__', {}).get(child)
        if isinstance(known, types.ModuleType):
            return importlib.util.spec_from_loader(name, self)
        real = 'pytensor.' + name[len('theano.'):]
        try:
            found = importlib.util.find_spec(real)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        parent, _, child = spec.name.rpartition('.')
        known = getattr(sys.modules.get(parent), '__dict__', {}).get(child)
        if isinstance(known, types.ModuleType):
            return known
        return importlib.import_module(
            'pytensor.' + spec.name[len('theano.'):])

    def exec_module(self, module):
        pass


_FINDER = _AliasFinder()


def compiles_per_shape():
    """Whether PyTensor compiles through JAX by default (``mode=JAX`` or
    ``linker=jax``), whose functions are specialised to their inputs'
    shapes. Reads the flags only: it runs at every prediction."""
    config = sys.modules['pytensor'].config
    return str(config.mode).upper() == 'JAX' or config.linker == 'jax'


def install():
    """Import PyTensor and make ``theano`` and its modules resolve to it.

    Idempotent; returns the ``theano`` facade module. Refuses to run when
    the real Theano is already imported.
    """
    current = sys.modules.get('theano')
    if isinstance(current, _Facade):
        return current
    if current is not None and not getattr(current, '_theanets_shim', False):
        raise ImportError(
            'the PyTensor backend cannot start: Theano is already imported '
            '(from {}). Choose one backend per process: unset '
            'THEANETS_BACKEND to use Theano, or import theanets before '
            'theano'.format(getattr(current, '__file__', '?')))
    pytensor = _import_pytensor()
    from pytensor.link.jax.linker import JAXLinker
    from . import _pytensor_jax
    _pytensor_jax.install(JAXLinker)
    modules = _build_modules(pytensor)
    sys.modules.update(modules)
    for name, module in modules.items():
        parent, _, child = name.rpartition('.')
        if parent in modules:
            setattr(modules[parent], child, module)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    return modules['theano']


class _NumpyWithCast(types.ModuleType):
    """numpy for downhill: numpy 2 removed ``np.cast``, which it uses."""

    def __init__(self, numpy):
        super().__init__('numpy')
        self.__dict__['_numpy'] = numpy
        self.__dict__['cast'] = _Cast(numpy)

    def __getattr__(self, name):
        return getattr(self.__dict__['_numpy'], name)


class _Cast(object):
    def __init__(self, numpy):
        self._numpy = numpy

    def __getitem__(self, dtype):
        return lambda value: self._numpy.asarray(value, dtype=dtype)


def patch_downhill(downhill):
    """Give downhill's modules ``np.cast`` back where numpy lacks it."""
    import numpy
    if hasattr(numpy, 'cast'):
        return
    for name in list(sys.modules):
        module = sys.modules[name]
        if (name.startswith('downhill.') and module is not None
                and getattr(module, 'np', None) is numpy):
            module.np = _NumpyWithCast(numpy)
