"""Writing files atomically, for model files and exported models.

:func:`atomic_write` writes through a temporary file in the target's folder,
flushes it to disk, renames it over the target and syncs the folder, so a
reader sees either the old file or the new one, never a half-written file.
It writes through symbolic links, keeps read-only files unless asked, names
the user's path in its errors (:class:`theanets.exceptions.ModelFileWriteError`)
and removes the temporary files that earlier, killed writes left behind
(:func:`remove_stale_temporaries`).
"""

import errno
import os
import re
import tempfile
import time

from . import _logging
from .exceptions import ModelFileError, ModelFileWriteError

__all__ = ['atomic_write', 'remove_stale_temporaries', 'STALE_AFTER']

#: Temporary files of :func:`atomic_write`: ``.NAME.PID.XXXXXXXX.tmp``
#: (and ``.NAME.XXXXXXXX.tmp``, written by earlier versions, without PID).
_TEMPORARY = re.compile(r'^\..+?\.(?:(\d+)\.)?[a-z0-9_]{8}\.tmp$')

#: Seconds after its last write that a temporary file counts as abandoned.
STALE_AFTER = 3600


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def remove_stale_temporaries(directory, now=None):
    """Remove the temporary files that killed saves left in ``directory``.

    A file named like the temporary files of :meth:`theanets.Network.save`
    (``.NAME.PID.XXXXXXXX.tmp``), owned by this user, is removed if process
    PID no longer runs or if it was last modified more than
    :data:`STALE_AFTER` seconds (an hour) ago, which also covers files
    written from another machine sharing the folder. Files that cannot be
    examined or removed are left alone.

    Returns
    -------
    list of str
        The names of the files removed.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if not match:
            continue
        path = os.path.join(directory, name)
        try:
            info = os.lstat(path)
            if not os.path.isfile(path) or os.path.islink(path) or (
                    hasattr(os, 'getuid') and info.st_uid != os.getuid()):
                continue
            pid = match.group(1)
            stale = now - info.st_mtime > STALE_AFTER
            if pid is not None and int(pid) != os.getpid() and \
                    not _process_exists(int(pid)):
                stale = True
            if stale:
                os.unlink(path)
                removed.append(name)
        except (OSError, ValueError, OverflowError):
            continue
    if removed:
        _logging.debug('removed {} stale temporary file(s) of killed saves '
                       'in {}', len(removed), directory)
    return removed


class _GuardedFile(object):
    """A file that, once a write failed or the save is over, writes nowhere.

    ``numpy.savez`` and ``zipfile`` leave a half-written archive object
    behind when a write fails; its ``__del__`` writes, seeks and computes
    sizes from positions later, and prints "Exception ignored in
    ZipFile.__del__" when that fails. After the first failure (or once the
    save is over) this file keeps answering with consistent positions but
    discards the data.
    """

    def __init__(self, handle):
        self.handle = handle
        self.done = False
        self.position = 0
        self.end = 0

    def finish(self):
        if not self.done:
            self.done = True
            try:
                self.position = self.handle.tell()
            except (OSError, ValueError):
                pass
            self.end = max(self.end, self.position)

    def write(self, data):
        if not self.done:
            try:
                written = self.handle.write(data)
            except BaseException:
                self.finish()
                raise
            self.position += written if written is not None else len(data)
        else:
            self.position += len(data)
        self.end = max(self.end, self.position)
        return len(data)

    def seek(self, offset, whence=0):
        if not self.done:
            self.position = self.handle.seek(offset, whence)
        else:
            base = (0, self.position, self.end)[whence]
            self.position = base + offset
        return self.position

    def tell(self):
        return self.position if self.done else self.handle.tell()

    def flush(self):
        if not self.done:
            self.handle.flush()

    def __getattr__(self, name):  # seekable, fileno, ...
        return getattr(self.handle, name)


def _open_temporary(fd):
    """The file object a save writes to (tests replace it to fail)."""
    return os.fdopen(fd, 'wb')


def _write_error(path, error, doing):
    """A ModelFileWriteError for ``error`` that names the user's path."""
    return ModelFileWriteError(
        error.errno, 'cannot save the model to {!r}: {} failed: {}'.format(
            path, doing, error.strerror or error), path)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows, where folders cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename stands
    finally:
        os.close(fd)


def atomic_write(path, write, replace_read_only=False):
    """Call ``write(handle)`` on a temporary file, then rename it to path.

    A symbolic link is followed: its target is replaced, the link kept.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise _write_error(path, e, 'examining the existing file') from e
    if mode is not None and not mode & 0o222 and not replace_read_only:
        raise ModelFileWriteError(
            errno.EACCES, 'cannot save the model to {!r}: the file exists '
            'and is read-only; pass replace_read_only=True to replace it'
            .format(path), path)
    remove_stale_temporaries(directory)
    try:
        fd, temporary = tempfile.mkstemp(
            prefix='.{}.{}.'.format(os.path.basename(target), os.getpid()),
            suffix='.tmp', dir=directory)
    except OSError as e:
        raise _write_error(path, e, 'creating a temporary file in {!r}'
                           .format(directory)) from e
    try:
        guarded = None
        try:
            with _open_temporary(fd) as handle:
                guarded = _GuardedFile(handle)
                write(guarded)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            if guarded is not None:
                guarded.finish()
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as e:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, ModelFileError):
            raise _write_error(path, e, 'writing') from e
        raise
    _fsync_directory(directory)
