"""An index of the compile cache, so that a process reads only what it uses.

Theano's ``ModuleCache`` (and PyTensor's, the same design) keeps one
directory per compiled C module in the compile directory, each with a
``key.pkl`` file holding the keys that map to it. The first time a process
compiles anything, ``ModuleCache.refresh`` unpickles the ``key.pkl`` of
*every* module there: on a developer's cache of about 1,500 modules that
takes 1-2 s and about 300 MB of resident memory, for a process that needs
forty of them (and Theano walks the whole cache again at exit).

:func:`install` adds a small persistent index beside Theano's cache, the
file :data:`INDEX_FILE` in the compile directory: for each module directory,
its module hash and digests of the keys that led to it. A lookup then loads
only the ``key.pkl`` files its key (or, on a miss, its module hash) points
to. Nothing else about the cache changes:

* **The index only finds candidates.** A module is used only if Theano's
  own key comparison finds the key in the ``key.pkl`` that was loaded, so a
  wrong, stale or colliding index entry costs a file read, never a wrong
  module. A key digest (:func:`key_digest`) is a SHA-256 of a deterministic
  description of the key; a key that describes differently in another
  process is still found through its module hash.
* **Modules the index does not know are found as before.** Every refresh
  still lists the compile directory and reads the ``key.pkl`` of each
  directory the index does not name (a module compiled by plain Theano, by a
  process that ran with the index off, or by one whose index update was
  lost), with Theano's own code, its checks and clean-ups; those modules
  then join the index. Without an index file (or with one that cannot be
  read) every directory is unknown, which is Theano's full refresh.
* **Compiling, locking and cleaning up are Theano's.** Modules are compiled
  and registered by Theano's code under its compile lock. The index file is
  replaced atomically (written beside it, then renamed), after re-reading
  and merging what other processes wrote (under an advisory file lock
  where the platform has one), so concurrent processes never see a partial
  file; an update lost in a race only makes a module unknown again. Calls
  that ask for a full refresh (an age threshold, ``delete_if_problem``,
  e.g. ``clear()``) run Theano's own refresh. Theano's exit handler deletes
  modules unused for a month; with the index it sees every module once a
  day (:data:`FULL_SCAN_INTERVAL`), in the exit handler of the first process
  after that time.

``THEANETS_CACHE_INDEX=off`` in the environment leaves the cache exactly as
the backend ships it. ``benchmarks/first_result.py --large-cache`` measures
the effect (see ``benchmarks/README.md``).
"""

import contextlib
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
import time

from . import _logging

__all__ = ['install', 'key_digest', 'module_cache', 'INDEX_FILE',
           'INDEX_ENV']

#: The index file, in the backend's compile directory.
INDEX_FILE = 'theanets_cache_index.json'

#: Environment variable: ``off`` leaves the backend's compile cache as is.
INDEX_ENV = 'THEANETS_CACHE_INDEX'

#: Version of the index file's layout; a file of another one is ignored.
INDEX_FORMAT = 1

#: Seconds between the full walks of the cache that let Theano's exit
#: handler delete old modules (one day).
FULL_SCAN_INTERVAL = 24 * 3600

#: Seconds between two writes of the index file while modules compile.
SAVE_INTERVAL = 2.0

#: Memory addresses in ``str()`` of objects without a ``__str__``.
_ADDRESS = re.compile(r' at 0x[0-9a-fA-F]+')

#: Types whose ``repr`` is the same in every process.
_PLAIN = frozenset([type(None), bool, int, float, complex, str, bytes])

#: How deep :func:`key_digest` describes nested objects.
_MAX_DEPTH = 32


def enabled():
    """Whether the index is wanted (``THEANETS_CACHE_INDEX`` is not off)."""
    return os.environ.get(INDEX_ENV, '').strip().lower() not in (
        'off', '0', 'no', 'false')


# ----------------------------------------------------------------------
# key digests

def _describe(obj, out, depth=0):
    """Append a deterministic description of ``obj`` to the list ``out``.

    Equal keys built in different processes describe alike as long as
    their parts print alike; nothing depends on ``hash()`` (randomised for
    strings) or on memory addresses.
    """
    if obj is None or isinstance(obj, (bool, int, float, complex, str,
                                       bytes)):
        out.append(type(obj).__name__[0] + repr(obj))
    elif depth > _MAX_DEPTH:
        out.append(type(obj).__name__)
    elif isinstance(obj, (tuple, list)):
        if all(type(item) in _PLAIN for item in obj):
            # e.g. the compiler flags, a third of a key: one C-level repr
            out.append(repr(tuple(obj)))
            return
        out.append('(')
        for item in obj:
            _describe(item, out, depth + 1)
        out.append(')')
    elif isinstance(obj, (set, frozenset)):
        out.append('{%s}' % ','.join(sorted(
            _description(item, depth + 1) for item in obj)))
    elif isinstance(obj, dict):
        out.append('{%s}' % ','.join(sorted(
            _description(k, depth + 1) + ':' + _description(v, depth + 1)
            for k, v in obj.items())))
    elif _is_numpy(obj, 'ndarray'):
        data = sys.modules['numpy'].ascontiguousarray(obj)
        out.append('a{}{}{}'.format(data.dtype.str, data.shape, hashlib.sha1(
            data.tobytes() if data.dtype != object else
            repr(data.tolist()).encode('utf-8')).hexdigest()))
    elif _is_numpy(obj, 'generic'):
        out.append('n' + obj.dtype.str + repr(obj.item()))
    else:
        cls = type(obj)
        out.append('<{}.{}'.format(cls.__module__, cls.__qualname__))
        props = getattr(cls, '__props__', None)
        if isinstance(props, tuple):
            for prop in props:
                _describe(getattr(obj, prop, None), out, depth + 1)
        try:
            text = str(obj)
        except Exception:  # a broken __str__ only makes the digest coarser
            text = ''
        out.append(_ADDRESS.sub('', text) + '>')


def _is_numpy(obj, name):
    """``isinstance(obj, numpy.<name>)``, without importing numpy."""
    numpy = sys.modules.get('numpy')
    return numpy is not None and isinstance(obj, getattr(numpy, name))


def _description(obj, depth=0):
    out = []
    _describe(obj, out, depth)
    return ''.join(out)


def key_digest(key):
    """A digest of a compile-cache key that is the same in every process.

    Parameters
    ----------
    key : tuple
        A key as the backend's ``CLinker.cmodule_key`` builds it.

    Returns
    -------
    str
        Hex SHA-256 of a deterministic description of ``key``: equal keys
        built in two processes give the same digest; two different keys
        almost never do (and a collision costs only a file read: a module
        is used only when the backend's key comparison matches).

    Examples
    --------
    >>> key = ((1, 2), ('CLinker.cmodule_key', ('-O3',), 'hash:abc'))
    >>> key_digest(key) == key_digest(tuple(list(key)))
    True
    >>> key_digest(((1,), ())) == key_digest(((2,), ()))
    False
    """
    return hashlib.sha256(_description(key).encode(
        'utf-8', 'surrogatepass')).hexdigest()


# ----------------------------------------------------------------------
# the index file

@contextlib.contextmanager
def _file_lock(path):
    """Hold an advisory lock on ``path`` where the platform offers one."""
    try:
        import fcntl
    except ImportError:  # Windows: writes stay atomic, updates may be lost
        yield
        return
    try:
        handle = open(path, 'a')
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


def _share_like_folder(path, folder):
    """Give a new file the read/write bits of its folder (mkstemp makes it
    private), so that a compile directory shared by a group stays so."""
    with contextlib.suppress(OSError):
        os.chmod(path, os.stat(folder).st_mode & 0o666)


def _replace_json(path, document):
    """Write ``document`` to ``path`` atomically (a reader sees the old
    file or the new one, never a part)."""
    folder = os.path.dirname(path)
    handle, scratch = tempfile.mkstemp(
        prefix='.' + os.path.basename(path) + '.', dir=folder)
    try:
        _share_like_folder(scratch, folder)
        with os.fdopen(handle, 'w', encoding='utf-8') as out:
            json.dump(document, out, separators=(',', ':'))
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(scratch)
        raise


class CacheIndex(object):
    """The module directories of one compile directory, by key and hash.

    Parameters
    ----------
    dirname : str
        The compile directory (Theano's ``config.compiledir``).

    Attributes
    ----------
    modules : dict
        Directory name -> ``{'hash': module hash, 'keys': [digest, ...]}``.
    full_scan : float
        When the whole cache was last read (seconds since the epoch; 0 if
        never, as for a missing or unreadable index file).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     index = CacheIndex(folder)
    ...     index.record('tmpabc', 'hash1', ['digest1'])
    ...     index.save()
    ...     CacheIndex(folder).by_digest('digest1')
    True
    ['tmpabc']
    """

    def __init__(self, dirname):
        self.dirname = str(dirname)
        self.path = os.path.join(self.dirname, INDEX_FILE)
        self.modules = {}
        self.full_scan = 0.0
        self._digests = {}
        self._hashes = {}
        self._added = {}
        self._forgotten = set()
        self.saved = 0.0
        self.load()

    def load(self):
        """Read the index file (an unreadable or missing one reads as
        empty), keeping the changes this process has not saved yet."""
        modules, self.full_scan = self._read()
        self._set(modules)

    def _set(self, modules):
        for name in self._forgotten:
            modules.pop(name, None)
        for name, added in self._added.items():
            entry = modules.get(name)
            if entry is None or entry['hash'] != added['hash']:
                modules[name] = {'hash': added['hash'],
                                 'keys': list(added['keys'])}
            else:
                entry['keys'].extend(d for d in added['keys']
                                     if d not in entry['keys'])
        self.modules = modules
        self._digests, self._hashes = {}, {}
        for name, entry in modules.items():
            self._link(name, entry)

    def _read(self):
        """``(modules, full_scan)`` from the file, or ``({}, 0.0)``."""
        try:
            with open(self.path, encoding='utf-8') as handle:
                data = json.load(handle)
            modules = data['modules']
            full_scan = float(data['full_scan'])
            if data['format'] != INDEX_FORMAT or not isinstance(modules,
                                                                dict):
                raise ValueError('index format')
            for name, entry in modules.items():
                if not (isinstance(entry, dict) and
                        isinstance(entry.get('hash'), str) and
                        isinstance(entry.get('keys'), list) and
                        all(isinstance(k, str) for k in entry['keys']) and
                        os.path.basename(name) == name and
                        name not in ('', '.', '..')):
                    raise ValueError('index entry')
        except FileNotFoundError:
            return {}, 0.0
        except Exception as err:  # corrupt: Theano's full refresh rebuilds it
            _logging.debug('ignoring the compile-cache index {}: {}: {}',
                           self.path, type(err).__name__, err)
            return {}, 0.0
        return modules, full_scan

    def _link(self, name, entry):
        self._hashes.setdefault(entry['hash'], set()).add(name)
        for digest in entry['keys']:
            self._digests.setdefault(digest, set()).add(name)

    def _unlink(self, name, entry):
        for table, values in ((self._hashes, [entry['hash']]),
                              (self._digests, entry['keys'])):
            for value in values:
                names = table.get(value)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del table[value]

    def __contains__(self, name):
        return name in self.modules

    def by_digest(self, digest):
        """Directories recorded for a key digest, in Theano's order."""
        return sorted(self._digests.get(digest, ()))

    def by_hash(self, module_hash):
        """Directories recorded for a module hash, in Theano's order."""
        return sorted(self._hashes.get(module_hash, ()))

    def record(self, name, module_hash, digests):
        """Note that directory ``name`` holds ``module_hash`` for ``digests``.

        Returns whether this changed the index.
        """
        entry = self.modules.get(name)
        if entry is not None and entry['hash'] != module_hash:
            self.forget(name)
            entry = None
        if entry is None:
            entry = {'hash': module_hash, 'keys': []}
            self.modules[name] = entry
            self._forgotten.discard(name)
            self._link(name, entry)
        new = [d for d in digests if d not in entry['keys']]
        if not new and name in self._added:
            return False
        if new:
            entry['keys'].extend(new)
            self._link(name, {'hash': module_hash, 'keys': new})
        added = self._added.setdefault(name, {'hash': module_hash,
                                              'keys': []})
        added['keys'].extend(d for d in entry['keys']
                             if d not in added['keys'])
        return True

    def forget(self, name):
        """Drop directory ``name`` (gone or unusable) from the index."""
        entry = self.modules.pop(name, None)
        if entry is not None:
            self._unlink(name, entry)
        self._added.pop(name, None)
        self._forgotten.add(name)

    @property
    def dirty(self):
        """Whether this process has changes the file does not have yet."""
        return bool(self._added or self._forgotten)

    def save(self, full_scan=None, keep=None):
        """Merge this process's changes into the file, atomically.

        Parameters
        ----------
        full_scan : float, optional
            Set when the whole cache was just read.
        keep : callable, optional
            ``keep(name)`` decides whether an entry that another process
            wrote stays (after a full scan: whether its directory exists).
        """
        if not self.dirty and full_scan is None:
            return
        try:
            with _file_lock(self.path + '.lock'):
                modules, stamp = self._read()
                if keep is not None:
                    modules = {n: e for n, e in modules.items() if keep(n)}
                self._set(modules)
                self.full_scan = max(stamp, full_scan or 0.0)
                _replace_json(self.path, {'format': INDEX_FORMAT,
                                          'full_scan': self.full_scan,
                                          'modules': self.modules})
        except OSError as err:  # a read-only cache still works, unindexed
            _logging.debug('cannot write the compile-cache index {}: {}',
                           self.path, err)
            return
        self._added.clear()
        self._forgotten.clear()
        self.saved = time.time()

    def save_soon(self):
        """Save changes at most every :data:`SAVE_INTERVAL` seconds (the exit
        handler saves the rest): a cold start compiles dozens of modules."""
        if self.dirty and time.time() - self.saved >= SAVE_INTERVAL:
            self.save()


# ----------------------------------------------------------------------
# the ModuleCache patches

def _index(cache):
    """The :class:`CacheIndex` of a ``ModuleCache`` instance."""
    index = cache.__dict__.get('_theanets_index')
    if index is None or index.dirname != str(cache.dirname):
        index = CacheIndex(cache.dirname)
        cache.__dict__['_theanets_index'] = index
    return index


def _directory_of(cache, entry):
    """The name of the cache directory that holds module file ``entry``."""
    folder = os.path.dirname(entry)
    if os.path.normpath(os.path.dirname(folder)) != os.path.normpath(
            str(cache.dirname)):
        return None
    return os.path.basename(folder)


def _record(cache, index, key_data, keys=None):
    """Add a loaded module (with all its keys, or only ``keys``) to the
    index; return whether that changed it."""
    name = _directory_of(cache, key_data.get_entry())
    if name is None:
        return False
    digests = []
    for key in (key_data.keys if keys is None else keys):
        if key[0]:
            try:
                digests.append(key_digest(key))
            except Exception:  # an odd key: found through its hash instead
                pass
    return index.record(name, key_data.module_hash, digests)


def _load_directory(cmodule, cache, index, name):
    """Load one indexed module directory as ``refresh`` would.

    Returns whether the module is now loaded. Directories that are gone or
    unusable leave the index (Theano's next full refresh deletes them if
    they are broken); one that is too old to use or whose keys cannot be
    unpickled yet (an op class not imported) stays.
    """
    root = os.path.join(str(cache.dirname), name)
    key_pkl = os.path.join(root, 'key.pkl')
    if key_pkl in cache.loaded_key_pkl:
        return True
    try:
        files = os.listdir(root)
        if 'delete.me' in files or 'key.pkl' not in files:
            raise ValueError('no module')
        entry = cmodule.module_name_from_dir(root, files=files)
        too_old = (time.time() - cmodule.last_access_time(entry)
                   >= cache.age_thresh_use)
    except (OSError, ValueError):
        index.forget(name)
        return False
    if too_old:
        return False
    try:
        with open(key_pkl, 'rb') as handle:
            key_data = pickle.load(handle)
    except Exception:
        return False
    if not isinstance(key_data, cmodule.KeyData):
        index.forget(name)
        return False
    recorded = key_data.get_entry()
    if recorded != entry:
        if not cmodule.is_same_entry(entry, recorded):
            index.forget(name)
            return False
        key_data.entry, key_data.key_pkl = entry, key_pkl
    if not key_data.keys or any(not key[0] for key in key_data.keys):
        index.forget(name)
        return False
    if key_data.module_hash in cache.module_hash_to_key_data:
        return False  # a duplicate; Theano keeps the one it loaded
    cache.module_hash_to_key_data[key_data.module_hash] = key_data
    for key in key_data.keys:
        if key not in cache.entry_from_key:
            cache.entry_from_key[key] = entry
            cache.similar_keys.setdefault(cmodule.get_safe_part(key),
                                          []).append(key)
    cache.loaded_key_pkl.add(key_pkl)
    if index.modules.get(name, {}).get('hash') != key_data.module_hash:
        _record(cache, index, key_data)
    return True


def _indexed_cmodule(cache):
    """The ``cmodule`` of an indexed cache, or None when it is not indexed."""
    if not getattr(type(cache), '_theanets_indexed', False):
        return None
    return sys.modules.get(type(cache).__module__)


def find_key(cache, key):
    """Whether ``cache`` holds a module for ``key``, loading it from the index.

    What a lookup of ``key`` by the cache would load first, without
    compiling anything: :mod:`theanets._c_compile` asks this before it
    compiles a module ahead of the backend.
    """
    if key in cache.entry_from_key:
        return True
    cmodule = _indexed_cmodule(cache)
    if cmodule is None or key is None or not key[0]:
        return False
    try:
        digest = key_digest(key)
    except Exception:  # the backend finds it through its module hash
        return False
    index = _index(cache)
    for name in index.by_digest(digest):
        _load_directory(cmodule, cache, index, name)
        if key in cache.entry_from_key:
            return True
    return False


def find_hash(cache, module_hash):
    """Whether ``cache`` holds a module of this source hash (see find_key)."""
    if module_hash in cache.module_hash_to_key_data:
        return True
    cmodule = _indexed_cmodule(cache)
    if cmodule is None:
        return False
    index = _index(cache)
    for name in index.by_hash(module_hash):
        if _load_directory(cmodule, cache, index, name):
            break
    return module_hash in cache.module_hash_to_key_data


def install(cmodule):
    """Index the ``ModuleCache`` of a backend's ``cmodule`` module.

    Parameters
    ----------
    cmodule : module
        ``theano.gof.cmodule`` or ``pytensor.link.c.cmodule``.

    Patches the class (every instance, including one that exists already)
    unless :data:`INDEX_ENV` is off; calling it again changes nothing.
    Returns whether the index is in use.
    """
    cls = cmodule.ModuleCache
    if getattr(cls, '_theanets_indexed', False):
        return True
    if not enabled():
        return False
    original_refresh = cls.refresh
    original_module_from_key = cls.module_from_key
    original_get_from_hash = cls._get_from_hash
    original_on_atexit = cls._on_atexit

    def refresh(self, age_thresh_use=None, delete_if_problem=False,
                cleanup=True):
        index = _index(self)
        full = (age_thresh_use is not None or delete_if_problem or
                self.__dict__.get('_theanets_full_scan', False))
        skipped = set()
        if not full:
            for name in index.modules:
                key_pkl = os.path.join(str(self.dirname), name, 'key.pkl')
                if key_pkl not in self.loaded_key_pkl:
                    skipped.add(key_pkl)
        self.loaded_key_pkl |= skipped
        try:
            result = original_refresh(self, age_thresh_use, delete_if_problem,
                                      cleanup)
        finally:
            self.loaded_key_pkl -= skipped
        for key_data in list(self.module_hash_to_key_data.values()):
            name = _directory_of(self, key_data.get_entry())
            if name is not None and name not in index:
                _record(self, index, key_data)
        now = time.time()
        if not skipped and now - index.full_scan >= FULL_SCAN_INTERVAL / 24:
            # Nothing was skipped: Theano has just seen the whole cache.
            folder = str(self.dirname)
            index.save(full_scan=now, keep=lambda name: os.path.isdir(
                os.path.join(folder, name)))
        else:
            index.save_soon()
        return result

    def module_from_key(self, key, *args, **kwargs):
        digest = index = None
        if key is not None and key[0] and key not in self.entry_from_key:
            index = _index(self)
            try:
                digest = key_digest(key)
            except Exception:  # found through its module hash instead
                digest = None
            if digest is not None:
                for name in index.by_digest(digest):
                    _load_directory(cmodule, self, index, name)
                    if key in self.entry_from_key:
                        break
        module = original_module_from_key(self, key, *args, **kwargs)
        if digest is not None:
            entry = self.entry_from_key.get(key)
            name = None if entry is None else _directory_of(self, entry)
            known = index.modules.get(name)
            if name is not None and (known is None or
                                     digest not in known['keys']):
                for key_data in self.module_hash_to_key_data.values():
                    if key_data.get_entry() == entry:
                        index.record(name, key_data.module_hash, [digest])
                        break
            index.save_soon()
        return module

    def _get_from_hash(self, module_hash, key, *args, **kwargs):
        if module_hash not in self.module_hash_to_key_data:
            index = _index(self)
            for name in index.by_hash(module_hash):
                if _load_directory(cmodule, self, index, name):
                    break
            if key in self.entry_from_key:
                # The module's key.pkl lists this key already (the index
                # had filed it under another digest).
                if kwargs.get('keep_lock', args[0] if args else False):
                    cmodule.compilelock.get_lock()  # as Theano's would
                return self._get_from_key(key)
        return original_get_from_hash(self, module_hash, key, *args,
                                      **kwargs)

    def _on_atexit(self):
        index = _index(self)
        index.load()
        if time.time() - index.full_scan >= FULL_SCAN_INTERVAL:
            # Let Theano see every module, so that it deletes old ones.
            self.__dict__['_theanets_full_scan'] = True
        try:
            original_on_atexit(self)
        finally:
            self.__dict__.pop('_theanets_full_scan', None)
            index.save()

    for name, function in (('refresh', refresh),
                           ('module_from_key', module_from_key),
                           ('_get_from_hash', _get_from_hash),
                           ('_on_atexit', _on_atexit)):
        function.__wrapped__ = getattr(cls, name)
        function.__doc__ = getattr(cls, name).__doc__
        setattr(cls, name, function)
    cls._theanets_indexed = True
    return True


# ----------------------------------------------------------------------
# the -march=native detection

#: File in the compile directory that keeps the detected ``-march`` flags.
MARCH_FILE = 'theanets_march_flags.json'

#: Lines of ``/proc/cpuinfo`` that identify what ``-march=native`` sees.
_CPU_FIELDS = ('vendor_id', 'cpu family', 'model', 'model name', 'flags',
               'CPU implementer', 'CPU architecture', 'CPU variant',
               'CPU part', 'Features')


def machine_identity(cxx, cxxflags):
    """A digest of what the ``-march=native`` equivalent depends on, or None.

    The processor (``/proc/cpuinfo``), the compiler binary (its real path,
    size and modification time) and the user's compiler flags. None where
    there is no ``/proc/cpuinfo`` or no compiler binary, so the backend
    detects the flags itself.
    """
    import shutil
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            cpu = sorted({line.strip() for line in f
                          if line.split(':')[0].strip() in _CPU_FIELDS})
        binary = shutil.which(cxx)
        if not cpu or binary is None:
            return None
        binary = os.path.realpath(binary)
        stat = os.stat(binary)
    except OSError:
        return None
    return hashlib.sha256(repr((cpu, binary, stat.st_size, stat.st_mtime_ns,
                                cxx, cxxflags)).encode('utf-8')).hexdigest()


def install_march_cache(cmodule, compiledir, cxx, cxxflags):
    """Remember the backend's ``-march=native`` detection across processes.

    Theano and PyTensor find the flags that ``-march=native`` stands for in
    every process, before the first compile-cache lookup (the flags are part
    of each module's key): three ``g++ -E -v`` runs and a test program
    compiled and run, about 0.5 s of every warm start. The flags they find
    are kept in :data:`MARCH_FILE` under :func:`machine_identity`, and a
    later process on the same processor with the same compiler and flags
    starts from them, so the keys, and the modules compiled, are the same.

    Parameters
    ----------
    cmodule : module
        ``theano.gof.cmodule`` or ``pytensor.link.c.cmodule``.
    compiledir : str
        The compile directory.
    cxx, cxxflags : str
        The ``cxx`` and ``gcc.cxxflags`` flags.
    """
    compiler = cmodule.GCC_compiler
    detect = compiler.compile_args
    if getattr(detect, '_theanets_march_cache', False) or not enabled():
        return
    path = os.path.join(str(compiledir), MARCH_FILE)

    def compile_args(march_flags=True, **kwargs):
        if not (march_flags and compiler.march_flags is None):
            return detect(march_flags, **kwargs)
        identity = machine_identity(cxx, cxxflags)
        known = {}
        if identity is not None:
            with contextlib.suppress(Exception):
                with open(path, encoding='utf-8') as handle:
                    known = json.load(handle)
                flags = known[identity]
                if (isinstance(flags, list) and
                        all(isinstance(f, str) for f in flags)):
                    compiler.march_flags = list(flags)
        found = compiler.march_flags is not None
        args = detect(march_flags, **kwargs)
        if identity is not None and not found and isinstance(
                compiler.march_flags, list):
            known = known if isinstance(known, dict) else {}
            known[identity] = compiler.march_flags
            with contextlib.suppress(OSError):
                _replace_json(path, known)
        return args

    compile_args._theanets_march_cache = True
    compile_args.__wrapped__ = detect
    compile_args.__doc__ = detect.__doc__
    compiler.compile_args = staticmethod(compile_args)


# ----------------------------------------------------------------------
# the backends

#: The running backend's ``get_module_cache``, once :func:`setup` ran.
_module_cache_getter = []


def setup(cmodule, get_module_cache, compiledir, cxx, cxxflags):
    """Index a backend's compile cache and keep its ``-march`` detection.

    Called by :func:`theanets.backend.setup` with the backend's pieces.

    Parameters
    ----------
    cmodule : module
        ``theano.gof.cmodule`` or ``pytensor.link.c.cmodule``.
    get_module_cache : callable
        The backend's function that returns its ``ModuleCache``.
    compiledir, cxx, cxxflags : str
        The ``compiledir``, ``cxx`` and ``gcc.cxxflags`` flags.
    """
    install(cmodule)
    if cxx:
        install_march_cache(cmodule, compiledir, cxx, cxxflags)
    _module_cache_getter[:] = [get_module_cache]


def module_cache():
    """The running backend's ``ModuleCache`` (created on first use).

    Raises RuntimeError before the backend is set up.
    """
    if not _module_cache_getter:
        raise RuntimeError('the backend is not set up yet: call '
                           'theanets.backend.setup() first')
    return _module_cache_getter[0]()
