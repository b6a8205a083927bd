"""Reuse optimised graphs across processes.

Before a compiled function is linked, the backend runs its graph optimizer
on the function's graph (merging, canonicalising, fusing elementwise
operations, choosing BLAS and in-place operations). For the small models
theanets users start with, that is most of a warm start's compile time:
about 60% of the first training epoch when every C module is already in the
compile cache. The optimizer is deterministic, so the graph it produces
depends only on the graph it is given, the optimizations registered, the
backend's flags and the versions of the libraries. :func:`install` wraps the
optimizer of the backend's plain compile modes so that

* before it runs, a key is computed from those things: a digest of the
  graph's structure (every operation with its parameters, every constant's
  value, every variable's type, which inputs may be overwritten, the
  updates), of the optimizer's passes, of every configuration flag and of
  the library versions;
* when a graph of that key was stored, the optimised graph is read back
  onto the function's own inputs, checked (its outputs' types, and that no
  in-place operation overwrites a protected input) and put in place of the
  optimizer's work;
* otherwise the optimizer runs as usual and its result is stored, written
  to a temporary file and renamed, so a reader never sees half a file.

The graphs live in ``theanets-graphs/`` in the backend's compile directory
(at most :data:`MAX_ENTRIES` files; the least recently used go first). An
entry that cannot be read, or no longer fits the graph, is removed and the
optimizer runs; so does a graph whose operations cannot be pickled. Modes
other than the backend's plain ``Mode`` (``DebugMode``, ``NanGuardMode``,
``MonitorMode``) and an optimizer given as an object rather than a query are
never served from the cache. ``THEANETS_GRAPH_CACHE=0`` turns the cache off.

The entries are pickles, read with the same trust as the rest of the
compile directory, whose modules the backend loads as machine code.
"""

import collections
import collections.abc
import hashlib
import io
import os
import pickle
import platform
import sys
import tempfile
import threading

from . import _logging

_logger = _logging.logger

ENV = 'THEANETS_GRAPH_CACHE'
DIRECTORY = 'theanets-graphs'
SUFFIX = '.graph'

#: The most graphs kept in a compile directory.
MAX_ENTRIES = 2000

#: Changes whenever what an entry holds, or how keys are made, changes.
FORMAT = 1

_SIMPLE = (bool, int, float, str, bytes, type(None))

Backend = collections.namedtuple('Backend', [
    'name',             # e.g. 'theano 1.0.5'
    'mode_class',       # the backend's plain compile Mode
    'variable_class',
    'constant_class',
    'apply_class',
    'function_graph_class',
    'destroy_handler_class',
    'query_class',      # the optimizer database's query
    'clone_get_equiv',  # (inputs, outputs, memo) -> memo
    'set_output',       # (fgraph, index, variable, reason) -> None
    'config_items',     # () -> iterable of (flag name, value)
    'compiledir',       # () -> the compile directory
])


def enabled():
    """Whether ``THEANETS_GRAPH_CACHE`` lets optimised graphs be reused.

    Examples
    --------
    >>> import os
    >>> enabled() == (os.environ.get(ENV, '1').strip().lower()
    ...               not in ('0', 'off', 'false', 'no'))
    True
    """
    value = os.environ.get(ENV, '1').strip().lower()
    return value not in ('0', 'off', 'false', 'no')


class _KeyPickler(pickle.Pickler):
    """Pickles a graph by its structure alone.

    Variables become their role (an input of the function by position, a
    constant by its value, an operation's output, or an inner graph's leaf
    by the order in which it is met), so that names given by counters, tags
    and stack traces do not enter the key.
    """

    def __init__(self, file, backend, inputs):
        super().__init__(file, protocol=4)
        self._backend = backend
        self._inputs = {id(variable): position
                        for position, variable in enumerate(inputs)}
        self._leaves = {}

    def reducer_override(self, obj):
        backend = self._backend
        if isinstance(obj, backend.variable_class):
            return tuple, (self._describe(obj),)
        if isinstance(obj, backend.apply_class):
            return tuple, (('apply', obj.op, list(obj.inputs),
                            len(obj.outputs)),)
        if isinstance(obj, backend.function_graph_class):
            return tuple, (('graph', list(obj.inputs), list(obj.outputs)),)
        if isinstance(obj, collections.abc.Mapping) and \
                not isinstance(obj, dict):
            # PyTensor's frozendict caches its hash in its state
            return tuple, (('mapping', type(obj).__qualname__,
                            list(obj.items())),)
        return NotImplemented

    def _describe(self, variable):
        kind = type(variable).__name__
        position = self._inputs.get(id(variable))
        if position is not None:
            return 'input', position, kind, variable.type
        if isinstance(variable, self._backend.constant_class):
            return 'constant', kind, variable.type, variable.data
        if variable.owner is not None:
            return 'output', variable.owner, variable.index, variable.type
        leaf = self._leaves.setdefault(id(variable), len(self._leaves))
        return 'leaf', leaf, kind, variable.type


class _GraphPickler(pickle.Pickler):
    """Pickles an optimised graph without the function's inputs."""

    def __init__(self, file, inputs):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._inputs = {id(variable): position
                        for position, variable in enumerate(inputs)}

    def persistent_id(self, obj):
        return self._inputs.get(id(obj))


class _GraphUnpickler(pickle.Unpickler):
    """Reads an optimised graph back onto a function's own inputs."""

    def __init__(self, file, inputs):
        super().__init__(file)
        self._inputs = inputs

    def persistent_load(self, position):
        return self._inputs[position]


def _digest_optimizer(optimizer, digest):
    """Add the passes of ``optimizer`` (names and classes) to ``digest``."""
    seen = set()
    pending = [optimizer]
    while pending:
        item = pending.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen.add(id(item))
        kind = type(item)
        digest.update('{}.{}:{};'.format(
            kind.__module__, kind.__qualname__,
            getattr(item, 'name', '')).encode())
        attributes = getattr(item, '__dict__', {})
        for name in ('transform', 'fn'):
            function = attributes.get(name)
            if hasattr(function, '__code__'):
                digest.update('{}.{}'.format(
                    function.__module__, function.__qualname__).encode())
                digest.update(function.__code__.co_code)
        children = list(item) if isinstance(item, (list, tuple)) else []
        for name, value in sorted(attributes.items()):
            if isinstance(value, dict):
                value = list(value.values())
            if isinstance(value, (list, tuple)):
                children.extend(v for v in value if _is_optimizer(v))
            elif _is_optimizer(value):
                children.append(value)
        pending.extend(reversed(children))


def _is_optimizer(value):
    return not isinstance(value, type) and (
        hasattr(value, 'apply') or hasattr(value, 'transform'))


def _describe_query(query):
    """The tags a query of the optimizer database asks for, as text
    (its own ``str`` shows object addresses on PyTensor)."""
    def canonical(value):
        if isinstance(value, _SIMPLE):
            return repr(value)
        if isinstance(value, dict):
            return sorted((str(k), canonical(v)) for k, v in value.items())
        if isinstance(value, (set, frozenset)):
            return sorted(canonical(v) for v in value)
        if isinstance(value, (list, tuple)) or \
                type(value).__name__ == 'OrderedSet':
            return [canonical(v) for v in value]
        if hasattr(value, 'include'):
            return canonical(vars(value))
        return '{}:{}'.format(type(value).__qualname__,
                              getattr(value, 'name', ''))
    return repr(canonical(query))


def _flag_value(value):
    if isinstance(value, _SIMPLE):
        return repr(value)
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, _SIMPLE) for v in value):
        return repr(value)
    return type(value).__qualname__


class GraphCache(object):
    """Optimised graphs on disk, keyed by what the optimizer depends on.

    Parameters
    ----------
    backend : Backend
        The backend's pieces.
    directory : str, optional
        Where the graphs are kept; by default ``theanets-graphs`` in the
        backend's compile directory (looked up when first needed).
    """

    def __init__(self, backend, directory=None):
        self.backend = backend
        self._directory = directory
        self._lock = threading.Lock()
        self.statistics = collections.Counter()
        self._environment = None

    @property
    def directory(self):
        if self._directory is None:
            self._directory = os.path.join(self.backend.compiledir(),
                                           DIRECTORY)
        return self._directory

    def key(self, fgraph, optimizer, query):
        """The key of optimising ``fgraph`` with ``optimizer``, or None when
        the graph cannot be described (an operation that does not pickle).
        """
        digest = hashlib.sha256()
        digest.update(self._environment_key())
        digest.update(_describe_query(query).encode())
        _digest_optimizer(optimizer, digest)
        for name, value in self.backend.config_items():
            digest.update('{}={};'.format(name, _flag_value(value)).encode())
        digest.update(repr(self._features(fgraph)).encode())
        buffer = io.BytesIO()
        try:
            _KeyPickler(buffer, self.backend, fgraph.inputs).dump(
                (list(fgraph.inputs), list(fgraph.outputs)))
        except Exception as error:  # an op that does not pickle
            _logger.debug('graph cache: no key for this graph (%s)', error)
            self.statistics['unkeyable'] += 1
            return None
        digest.update(buffer.getvalue())
        return digest.hexdigest()

    def _environment_key(self):
        if self._environment is None:
            import numpy
            # the package's __init__ may still be running (or, in a bare
            # copy of the package, absent)
            version = getattr(sys.modules.get(__package__), '__version__',
                              None)
            self._environment = repr((
                FORMAT, version, self.backend.name, numpy.__version__,
                sys.version, platform.machine())).encode()
        return self._environment

    def _features(self, fgraph):
        """What the graph's features tell the optimizer: which inputs are
        protected from in-place operations, whether in-place operations are
        tracked already, which outputs update which inputs."""
        positions = {id(v): i for i, v in enumerate(fgraph.inputs)}
        described = []
        for feature in fgraph._features:
            protected = getattr(feature, 'protected', None)
            if protected is not None:
                described.append((type(feature).__name__, sorted(
                    positions.get(id(v), -1) for v in protected)))
            elif isinstance(feature, self.backend.destroy_handler_class):
                described.append(type(feature).__name__)
        mapping = getattr(fgraph, 'update_mapping', None) or {}
        return described, sorted(mapping.items())

    def _path(self, key):
        return os.path.join(self.directory, key + SUFFIX)

    def load(self, key, fgraph):
        """Put the stored optimised graph of ``key`` into ``fgraph``.

        Returns whether it did; ``fgraph`` is unchanged when it did not.
        """
        path = self._path(key)
        try:
            with open(path, 'rb') as handle:
                stored = _GraphUnpickler(handle, list(fgraph.inputs)).load()
        except FileNotFoundError:
            self.statistics['misses'] += 1
            return False
        except Exception as error:
            self._discard(path, 'cannot be read ({})'.format(error))
            return False
        try:
            if not self._apply(stored, fgraph):
                self._discard(path, 'does not fit the graph')
                return False
        except Exception as error:
            self._discard(path, 'does not fit the graph ({})'.format(error))
            return False
        self.statistics['hits'] += 1
        try:
            os.utime(path)
        except OSError:
            pass
        return True

    def _apply(self, stored, fgraph):
        if not (isinstance(stored, dict) and stored.get('format') == FORMAT):
            return False
        outputs = stored['outputs']
        original = list(fgraph.outputs)
        if len(outputs) != len(original) or any(
                new.type != old.type for new, old in zip(outputs, original)):
            return False
        if not _rooted_in(outputs, fgraph.inputs, self.backend.constant_class):
            return False
        added = None
        if stored['destroy_handler'] and not any(
                isinstance(feature, self.backend.destroy_handler_class)
                for feature in fgraph._features):
            added = self.backend.destroy_handler_class()
            fgraph.attach_feature(added)
        changed = []
        try:
            for position, variable in enumerate(outputs):
                if variable is not fgraph.outputs[position]:
                    self.backend.set_output(fgraph, position, variable,
                                            'theanets graph cache')
                    changed.append(position)
            fgraph.execute_callbacks('validate')
        except Exception:
            for position in reversed(changed):
                self.backend.set_output(fgraph, position, original[position],
                                        'theanets graph cache: undo')
            if added is not None:
                try:
                    fgraph.remove_feature(added)
                except Exception:  # Theano 1.0.5's cannot be detached
                    pass
            raise
        return True

    def store(self, key, fgraph):
        """Write the optimised ``fgraph`` under ``key``; True if written."""
        inputs = list(fgraph.inputs)
        memo = {variable: variable for variable in inputs}
        equivalents = self.backend.clone_get_equiv(
            inputs, list(fgraph.outputs), memo)
        stored = {
            'format': FORMAT,
            'outputs': [equivalents[v] for v in fgraph.outputs],
            'destroy_handler': any(
                isinstance(feature, self.backend.destroy_handler_class)
                for feature in fgraph._features),
        }
        buffer = io.BytesIO()
        try:
            _GraphPickler(buffer, inputs).dump(stored)
        except Exception as error:  # an op that does not pickle
            _logger.debug('graph cache: optimised graph not stored (%s)',
                          error)
            self.statistics['unstorable'] += 1
            return False
        try:
            os.makedirs(self.directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                dir=self.directory, prefix='.tmp-', suffix=SUFFIX)
            try:
                with os.fdopen(handle, 'wb') as output:
                    output.write(buffer.getvalue())
                os.replace(temporary, self._path(key))
            except BaseException:
                _remove(temporary)
                raise
        except OSError as error:
            _logger.debug('graph cache: cannot write in %s (%s)',
                          self.directory, error)
            self.statistics['unwritable'] += 1
            return False
        self.statistics['stores'] += 1
        self._trim()
        return True

    def _trim(self):
        try:
            names = [name for name in os.listdir(self.directory)
                     if name.endswith(SUFFIX) and not name.startswith('.')]
        except OSError:
            return
        if len(names) <= MAX_ENTRIES:
            return
        paths = [os.path.join(self.directory, name) for name in names]
        ages = {}
        for path in paths:
            try:
                ages[path] = os.stat(path).st_mtime
            except OSError:
                pass
        for path in sorted(ages, key=ages.get)[:len(ages) - MAX_ENTRIES]:
            _remove(path)

    def _discard(self, path, reason):
        _logger.debug('graph cache: %s %s; optimising again', path, reason)
        self.statistics['discarded'] += 1
        _remove(path)

    def optimize(self, optimizer, query, fgraph):
        """Optimise ``fgraph`` in place as ``optimizer(fgraph)`` would, from
        the cache where it can."""
        with self._lock:
            key = self.key(fgraph, optimizer, query)
            if key is not None and self.load(key, fgraph):
                return None
        result = optimizer(fgraph)
        if key is not None:
            with self._lock:
                self.store(key, fgraph)
        return result


class CachingOptimizer(object):
    """A mode's optimizer that is served from a :class:`GraphCache` when it
    is called on a graph, as the backend's function maker does; everything
    else (``optimize``, ``rewrite``, ``apply`` and the rest) is the
    optimizer's own."""

    def __init__(self, optimizer, query, cache):
        self._optimizer = optimizer
        self._query = query
        self._cache = cache

    def __call__(self, fgraph):
        return self._cache.optimize(self._optimizer, self._query, fgraph)

    def __getattr__(self, name):
        return getattr(self._optimizer, name)

    def __repr__(self):
        return 'CachingOptimizer({!r})'.format(self._optimizer)


def _rooted_in(outputs, inputs, constant_class):
    """Whether every variable ``outputs`` are computed from is one of
    ``inputs`` or a constant."""
    allowed = set(map(id, inputs))
    seen = set()
    pending = list(outputs)
    while pending:
        variable = pending.pop()
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        if variable.owner is not None:
            pending.extend(variable.owner.inputs)
        elif id(variable) not in allowed and \
                not isinstance(variable, constant_class):
            return False
    return True


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


_installed = {}


def installed():
    """The :class:`GraphCache` of this process, or None."""
    return _installed.get('cache')


def install(backend):
    """Serve the optimizer of the backend's plain ``Mode`` from a
    :class:`GraphCache`; idempotent. Returns the cache."""
    mode_class = backend.mode_class
    current = mode_class.__dict__['optimizer']
    if getattr(current.fget, '_theanets', None) is not None:
        return current.fget._theanets
    cache = GraphCache(backend)
    original = current.fget

    def optimizer(mode):
        result = original(mode)
        if (type(mode) is not mode_class or not enabled()
                or not isinstance(mode._optimizer, backend.query_class)):
            return result
        return CachingOptimizer(result, mode._optimizer, cache)

    optimizer._theanets = cache
    optimizer.__doc__ = original.__doc__
    mode_class.optimizer = property(optimizer)
    _installed['cache'] = cache
    return cache
