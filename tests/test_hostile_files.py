"""Hostile and broken model files: bounded work, always ModelFileError."""

import copy
import gzip
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import theanets
from theanets import _variables, saving, serialize
from theanets.exceptions import ModelFileError, MissingModelFileError


@pytest.fixture(scope='module')
def model():
    return theanets.Regressor([3, (4, 'tanh'), 2], rng=5)


@pytest.fixture(scope='module')
def npz_bytes(model):
    buffer = io.BytesIO()
    model.save(buffer, format='npz')
    return buffer.getvalue()


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info)
                for info in archive.infolist()}


def archive_bytes(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def structure_of(data):
    raw = members(data)['__structure__.npy']
    return json.loads(np.load(io.BytesIO(raw)).tobytes())


def with_structure(data, doc):
    entries = members(data)
    entries['__structure__.npy'] = npy_bytes(
        np.frombuffer(json.dumps(doc).encode(), np.uint8))
    return archive_bytes(entries)


def load_bytes(data, **kwargs):
    return theanets.Network.load(io.BytesIO(data), **kwargs)


def test_member_declaring_a_huge_array_is_refused(npz_bytes):
    # before: a 2 KB member declaring a 4 TB array ended in MemoryError
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, dict(
        descr='<f4', fortran_order=False, shape=(10 ** 12,)))
    entries = members(npz_bytes)
    entries['param:hid1.w.npy'] = header.getvalue() + b'\0' * 2000
    with pytest.raises(ModelFileError, match=r"'param:hid1.w' is corrupt: "
                       r"it declares shape \(1000000000000,\) and dtype "
                       r"float32 \(4000000000000 bytes\)"):
        load_bytes(archive_bytes(entries))


def test_zip_bomb_over_max_bytes_is_refused(npz_bytes):
    entries = members(npz_bytes)
    entries['param:hid1.w.npy'] = npy_bytes(np.zeros(2 ** 22, 'f'))  # 16 MiB
    bomb = archive_bytes(entries, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100000
    with pytest.raises(ModelFileError, match=r"'param:hid1.w' declares "
                       r"16777344 bytes, more than the \d+ bytes left of "
                       r"max_bytes"):
        load_bytes(bomb, max_bytes=2 ** 20)


def test_unused_members_are_never_read(npz_bytes, model):
    # before: every member was decompressed (a 3 MB bomb cost 3.2 GB)
    entries = members(npz_bytes)
    entries['unused.npy'] = b'\x93NUMPY' + os.urandom(64)
    entries['bomb.npy'] = npy_bytes(np.zeros(2 ** 24, 'f'))
    data = archive_bytes(entries, zipfile.ZIP_DEFLATED)
    loaded = load_bytes(data, max_bytes=2 ** 20)
    x = np.ones((2, 3), 'f')
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_unsupported_compression_is_a_model_file_error(npz_bytes):
    data = bytearray(archive_bytes(members(npz_bytes), zipfile.ZIP_DEFLATED))
    # set the compression method of every entry to 99 (AES): zipfile raises
    # NotImplementedError when asked to read it
    for signature, offset in ((b'PK\x03\x04', 8), (b'PK\x01\x02', 10)):
        start = 0
        while True:
            start = data.find(signature, start)
            if start < 0:
                break
            data[start + offset:start + offset + 2] = (99).to_bytes(2, 'little')
            start += 4
    with pytest.raises(ModelFileError, match='compression method 99'):
        load_bytes(bytes(data))


def test_layer_too_large_for_the_file_is_refused_before_allocation(npz_bytes):
    # before: a 2 KB structure declaring a layer of size 1e5 attempted a
    # 74.5 GiB allocation before any parameter was checked
    doc = structure_of(npz_bytes)
    doc['layers'][1]['kwargs']['size'] = 10 ** 5
    doc['layers'][2]['kwargs']['size'] = 10 ** 5
    with pytest.raises(ModelFileError, match=r'refusing to allocate a '
                       r'100000 x 100000 array'):
        load_bytes(with_structure(npz_bytes, doc))


def test_deeply_nested_structure_is_refused(npz_bytes):
    # before: JSON nested 100,000 deep gave a raw RecursionError
    entries = members(npz_bytes)
    text = '[' * 100000 + ']' * 100000
    entries['__structure__.npy'] = npy_bytes(
        np.frombuffer(text.encode(), np.uint8))
    with pytest.raises(ModelFileError, match='structure is corrupt'):
        load_bytes(archive_bytes(entries))
    doc = structure_of(npz_bytes)
    nested = []
    for _ in range(80):
        nested = [nested]
    doc['extra'] = nested
    with pytest.raises(ModelFileError, match='nests deeper than 64 levels'):
        load_bytes(with_structure(npz_bytes, doc))


def test_structure_over_its_limit_is_refused(npz_bytes, monkeypatch):
    monkeypatch.setattr(serialize, 'MAX_STRUCTURE_BYTES', 100)
    with pytest.raises(ModelFileError, match='structure declares'):
        load_bytes(npz_bytes)


@pytest.mark.parametrize('rng', [[1, 2, 3], {'__array__': 'param:hid1.b'},
                                 'seed', {'__rng__': 'param:hid1.b',
                                          'pos': 1, 'has_gauss': 0,
                                          'gauss': 0.0}])
def test_layer_rng_of_the_wrong_kind_is_a_model_file_error(npz_bytes, rng):
    # before: an rng given as an array raised a raw AttributeError
    doc = structure_of(npz_bytes)
    doc['layers'][1]['kwargs']['rng'] = rng
    with pytest.raises(ModelFileError, match='<_io.BytesIO'):
        load_bytes(with_structure(npz_bytes, doc))


def test_max_bytes_bounds_pickles(model):
    data = pickle.dumps(model, -1)
    assert isinstance(load_bytes(data), theanets.Regressor)
    with pytest.raises(ModelFileError, match='more than max_bytes=100 bytes'):
        load_bytes(data, max_bytes=100)
    bomb = gzip.compress(pickle.dumps(np.zeros(2 ** 22, 'f')))
    handle = gzip.GzipFile(fileobj=io.BytesIO(bomb))
    with pytest.raises(ModelFileError, match='more than max_bytes'):
        theanets.Network.load(handle, max_bytes=2 ** 20)


def test_directory_and_unreadable_files(tmpdir, monkeypatch):
    # before: raw IsADirectoryError / PermissionError
    with pytest.raises(ModelFileError, match=r'it is a directory') as info:
        theanets.Network.load(str(tmpdir))
    assert not isinstance(info.value, MissingModelFileError)
    path = os.path.join(str(tmpdir), 'model.pkl')
    theanets.Regressor([2, 1]).save(path)

    def forbidden(*args, **kwargs):
        raise PermissionError(13, 'Permission denied', path)

    monkeypatch.setattr(saving, 'open', forbidden, raising=False)
    with pytest.raises(ModelFileError, match=r"model.pkl'?: Permission "
                       r"denied"):
        theanets.Network.load(path)


def test_read_error_while_loading_is_a_model_file_error(model):
    class Failing(io.BytesIO):
        def read(self, *args):
            if self.tell() > 10:
                raise OSError(5, 'Input/output error')
            return super().read(*args)

    with pytest.raises(ModelFileError, match='Input/output error'):
        theanets.Network.load(Failing(pickle.dumps(model)))


def test_pickled_model_with_broken_internals_is_refused(model):
    broken = pickle.loads(pickle.dumps(model))
    broken.layers = ['not a layer']
    with pytest.raises(ModelFileError, match='not a list of theanets layers'):
        load_bytes(pickle.dumps(broken))


# ----------------------------------------------------------------------
# seeded random mutations of valid files

def mutants(data, count, seed):
    rng = np.random.RandomState(seed)
    for _ in range(count):
        mutant = bytearray(data)
        kind = rng.randint(4)
        if kind == 0:  # flip a few bytes
            for position in rng.randint(len(mutant), size=rng.randint(1, 5)):
                mutant[position] = rng.randint(256)
        elif kind == 1:  # truncate
            del mutant[rng.randint(len(mutant)):]
        elif kind == 2:  # delete a chunk
            start = rng.randint(len(mutant))
            del mutant[start:start + rng.randint(1, 64)]
        else:  # insert random bytes
            start = rng.randint(len(mutant))
            mutant[start:start] = rng.bytes(rng.randint(1, 64))
        yield bytes(mutant)


def file_kinds(model):
    buffer = io.BytesIO()
    model.save(buffer, format='npz')
    pickled = pickle.dumps(_reproducible(model), -1)
    return {'model.npz': buffer.getvalue(), 'model.pkl': pickled,
            'model.pkl.gz': gzip.compress(pickled, mtime=0)}


def _reproducible(model):
    """A copy of ``model`` that pickles to the same bytes in every process
    and checkout, so that a failing mutant seed reproduces: the input layer's
    unseeded random state is seeded, and no variable keeps the record of
    where (which file, which line) it was made or its process-wide number."""
    model = pickle.loads(pickle.dumps(model))
    for layer in model.layers:
        layer.rng = np.random.RandomState(0)

    def anonymous(variable):
        vars(variable.tag).pop('trace', None)
        variable.auto_name = 'auto_0'  # a count of variables made so far
        return variable

    _variables.replace_variables(model, anonymous)
    return model


def fuzz(tmpdir, model, count, seed, predict):
    x = np.ones((2, 3), 'f')
    loaded = 0
    for suffix, data in sorted(file_kinds(model).items()):
        path = os.path.join(str(tmpdir), suffix)
        for mutant in mutants(data, count, seed):
            with open(path, 'wb') as handle:
                handle.write(mutant)
            try:
                copy = theanets.Network.load(path)
            except ModelFileError:
                continue
            loaded += 1
            assert isinstance(copy, theanets.Network)
            if predict:
                assert copy.predict(x).shape == (2, 2)
    return loaded


def test_mutated_files_raise_model_file_error(tmpdir, model):
    fuzz(tmpdir, model, count=150, seed=16, predict=False)


@pytest.mark.slow
def test_mutated_files_raise_model_file_error_many(tmpdir, model):
    fuzz(tmpdir, model, count=1000, seed=1616, predict=False)


@pytest.mark.slow
def test_mutated_files_that_load_predict(tmpdir, model):
    fuzz(tmpdir, model, count=150, seed=7, predict=True)


def _without(obj, attribute):
    """``obj``'s copy without ``attribute`` (its own copy: types may be
    shared with other variables)."""
    broken = copy.copy(obj)
    del vars(broken)[attribute]
    return broken


@pytest.mark.parametrize('part', ['variable', 'type'])
def test_pickled_parameter_missing_an_attribute_is_rebuilt(model, part):
    # Seen in fuzzing: mutants whose parameter (or its type) lost an
    # attribute that compiling reads (owner; numpy_dtype) loaded and then
    # failed inside the backend's compile with AttributeError.
    x = np.ones((2, 3), 'f')
    if part == 'variable':
        broken = pickle.loads(pickle.dumps(model))
        broken.layers[-1]._params[0] = _without(
            broken.layers[-1]._params[0], 'owner')
        data = pickle.dumps(broken)
    else:  # the mutant renamed the pickle's one copy of the name
        data = pickle.dumps(model, -1)
        assert data.count(b'numpy_dtype') == 1
        data = data.replace(b'numpy_dtype', b'numpy_ltype')
    loaded = load_bytes(data)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [p.name for p in loaded.params] == [p.name for p in model.params]


def test_pickled_variables_with_broken_parts_are_refused(model):
    broken = pickle.loads(pickle.dumps(model))
    broken.layers[-1]._params[0].name = 7
    with pytest.raises(ModelFileError, match='a variable is named 7, not a string'):
        load_bytes(pickle.dumps(broken))
    broken = pickle.loads(pickle.dumps(model))
    param = broken.layers[-1]._params[0]
    param.type = copy.copy(param.type)
    vars(param.type)['broadcastable'] = (True, False)  # the array is 4 x 2
    with pytest.raises(ModelFileError, match=r"out.w has the broadcast pattern \(True, False\) for an array of shape \(4, 2\)"):
        load_bytes(pickle.dumps(broken))
    broken = pickle.loads(pickle.dumps(model))
    target = broken.losses[0].variables[0]
    target.type = copy.copy(target.type)
    vars(target.type)['dtype'] = 'float99'
    with pytest.raises(ModelFileError, match="has the dtype 'float99'"):
        load_bytes(pickle.dumps(broken))


def test_pickled_traces_are_kept_when_well_formed(model):
    # where a parameter was made, as the backend shows it in its errors
    loaded = load_bytes(pickle.dumps(model))
    assert [p.tag.trace for p in loaded.params] == [
        p.tag.trace for p in model.params]
    broken = pickle.loads(pickle.dumps(model))
    broken.layers[-1]._params[0].tag.trace = [[('file', 'one', 'f', 7)]]
    loaded = load_bytes(pickle.dumps(broken))
    assert not hasattr(loaded.layers[-1]._params[0].tag, 'trace')
    np.testing.assert_array_equal(
        loaded.layers[-1]._params[0].get_value(),
        model.layers[-1]._params[0].get_value())


def test_pickled_model_with_a_broken_loss_is_refused(model):
    broken = pickle.loads(pickle.dumps(model))
    del broken.losses[0].output_name
    with pytest.raises(ModelFileError, match='a loss names the output None, not a string'):
        load_bytes(pickle.dumps(broken))
    broken = pickle.loads(pickle.dumps(model))
    broken.losses[0].weight = 'heavy'
    with pytest.raises(ModelFileError, match="weight 'heavy', not a number"):
        load_bytes(pickle.dumps(broken))
