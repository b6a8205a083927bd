"""What saving leaves on disk: temporary files, links, modes, errors."""

import errno
import gc
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import theanets
from theanets import _files, saving
from theanets.exceptions import ModelFileError, ModelFileWriteError


@pytest.fixture(scope='module')
def model():
    return theanets.Regressor([3, 2], rng=4)


@pytest.fixture(scope='module')
def other():
    return theanets.Regressor([3, 2], rng=5)


X = np.ones((2, 3), 'f')


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def touch(path, age=0):
    with open(path, 'wb') as handle:
        handle.write(b'half a model')
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_stale_temporary_files_are_removed_on_the_next_save(tmpdir, model):
    # before: every killed save left its .NAME.xxxx.tmp behind forever
    folder = str(tmpdir)
    dead = touch(os.path.join(folder, '.a.pkl.{}.abcd1234.tmp'.format(
        dead_pid())))
    old_format = touch(os.path.join(folder, '.b.npz.x1y2z3_q.tmp'),
                       age=2 * saving.STALE_AFTER)
    alive = touch(os.path.join(folder, '.c.pkl.{}.abcd1234.tmp'.format(
        os.getppid())))
    recent = touch(os.path.join(folder, '.d.pkl.q1w2e3r4.tmp'))
    unrelated = touch(os.path.join(folder, '.notes.tmp'), age=10 ** 6)
    model.save(os.path.join(folder, 'other.pkl'))
    assert sorted(os.listdir(folder)) == sorted(
        os.path.basename(p) for p in (alive, recent, unrelated)) + \
        ['other.pkl']
    assert not os.path.exists(dead) and not os.path.exists(old_format)


def test_temporary_file_of_a_killed_save_is_cleaned(tmpdir, model):
    folder = str(tmpdir)
    path = os.path.join(folder, 'killed.pkl')
    script = (
        'import sys, os, pickle, time; sys.path.insert(0, {root!r})\n'
        'import theanets\n'
        'model = theanets.Regressor([3, 2])\n'
        'def stall(obj, handle, *args):\n'
        '    handle.write(b"x" * 1000); handle.flush()\n'
        '    print("writing", flush=True); time.sleep(60)\n'
        'pickle.dump = stall\n'
        'model.save({path!r})\n').format(
            root=os.path.dirname(os.path.dirname(os.path.abspath(
                theanets.__file__))), path=path)
    child = subprocess.Popen([sys.executable, '-c', script],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout.readline() == b'writing\n'
    child.kill()
    child.wait()
    left = [n for n in os.listdir(folder) if n.endswith('.tmp')]
    assert len(left) == 1 and '.{}.'.format(child.pid) in left[0]
    model.save(path)
    assert os.listdir(folder) == ['killed.pkl']


@pytest.mark.parametrize('name', ['m.pkl', 'm.npz'])
def test_save_writes_through_a_symlink(tmpdir, model, other, name):
    # before: the link was replaced by a file, the target kept the old model
    folder = str(tmpdir)
    os.mkdir(os.path.join(folder, 'real'))
    target = os.path.join(folder, 'real', name)
    link = os.path.join(folder, 'link-' + name)
    other.save(target)
    os.symlink(target, link)
    model.save(link)
    assert os.path.islink(link) and os.readlink(link) == target
    np.testing.assert_array_equal(
        theanets.Network.load(target).predict(X), model.predict(X))
    assert sorted(os.listdir(os.path.join(folder, 'real'))) == [name]


def test_save_through_a_dangling_symlink_creates_the_target(tmpdir, model):
    target = os.path.join(str(tmpdir), 'new.pkl')
    link = os.path.join(str(tmpdir), 'link.pkl')
    os.symlink(target, link)
    model.save(link)
    assert os.path.islink(link) and os.path.isfile(target)


def test_read_only_file_is_not_replaced_unless_asked(tmpdir, model, other):
    # before: saving over a read-only file succeeded
    path = os.path.join(str(tmpdir), 'frozen.pkl')
    other.save(path)
    os.chmod(path, 0o444)
    with open(path, 'rb') as handle:
        before = handle.read()
    with pytest.raises(ModelFileWriteError, match=r"frozen.pkl'?: the file "
                       r"exists and is read-only; pass "
                       r"replace_read_only=True") as info:
        model.save(path)
    assert info.value.errno == errno.EACCES
    assert isinstance(info.value, OSError)
    with open(path, 'rb') as handle:
        assert handle.read() == before
    model.save(path, replace_read_only=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    np.testing.assert_array_equal(
        theanets.Network.load(path).predict(X), model.predict(X))


def test_folder_is_synced_after_the_rename(tmpdir, model, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, 'fsync', fsync)
    model.save(os.path.join(str(tmpdir), 'synced.npz'))
    assert synced == [False, True]  # the file, then its folder


class FullDisk(object):
    """A file that fails with ENOSPC after ``room`` bytes."""

    def __init__(self, fd, room):
        self.handle = os.fdopen(fd, 'wb')
        self.room = room

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, 'No space left on device')
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


@pytest.mark.parametrize('name', ['full.pkl', 'full.pkl.gz', 'full.npz'])
@pytest.mark.parametrize('room', [0, 100, 300])
def test_full_disk_is_a_clear_error_without_noise(tmpdir, model, monkeypatch,
                                                  name, room):
    # before: a raw OSError naming the temporary file, and for .npz
    # "Exception ignored in ZipFile.__del__"
    gc.collect()
    unraisable = []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)
    monkeypatch.setattr(_files, '_open_temporary',
                        lambda fd: FullDisk(fd, room))
    path = os.path.join(str(tmpdir), name)
    with pytest.raises(ModelFileWriteError) as info:
        model.save(path)
    gc.collect()
    assert info.value.errno == errno.ENOSPC
    assert isinstance(info.value, ModelFileError)
    assert isinstance(info.value, OSError)
    message = str(info.value)
    assert message.startswith("cannot save the model to '{}'".format(path))
    assert 'No space left on device' in message and '.tmp' not in message
    assert os.listdir(str(tmpdir)) == []
    assert unraisable == []


def test_folder_without_permission_names_the_path(tmpdir, model,
                                                  monkeypatch):
    def mkstemp(**kwargs):
        raise PermissionError(errno.EACCES, 'Permission denied',
                              kwargs['dir'])

    monkeypatch.setattr(_files.tempfile, 'mkstemp', mkstemp)
    path = os.path.join(str(tmpdir), 'denied.pkl')
    with pytest.raises(ModelFileWriteError, match=r"cannot save the model "
                       r"to '.*denied.pkl': creating a temporary file in "
                       r".* failed: Permission denied") as info:
        model.save(path)
    assert info.value.errno == errno.EACCES


def test_missing_folder_is_a_clear_error(tmpdir, model):
    path = os.path.join(str(tmpdir), 'no', 'such', 'm.pkl')
    with pytest.raises(ModelFileWriteError, match='No such file or directory'):
        model.save(path)
