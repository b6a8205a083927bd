"""theanets._graph_cache: optimised graphs reused across processes.

A function compiled again (in this process or a later one) reads the graph
the optimizer made the first time instead of optimising again. The key must
change with anything the optimizer depends on, must not change with what it
does not (names, the order of hashing in a process), and an entry that is
unreadable, or does not fit the graph, must never reach the function.
"""

import collections
import io
import os
import pickle

import numpy as np
import pytest

import theanets  # noqa: F401  (chooses and configures the backend)
from theanets import _graph_cache
from theanets.backend import theano, TT

from tests.helpers import run_fresh


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The process's graph cache, on an empty directory of the test."""
    cache = _graph_cache.installed()
    assert cache is not None
    monkeypatch.setattr(cache, '_directory', str(tmp_path / 'graphs'))
    monkeypatch.setattr(cache, 'statistics', collections.Counter())
    monkeypatch.delenv(_graph_cache.ENV, raising=False)
    return cache


def entries(cache):
    directory = cache.directory
    if not os.path.isdir(directory):
        return []
    return sorted(os.listdir(directory))


def scaled_tanh(name='x', scale=2.0, dtype='float32'):
    x = TT.matrix(name, dtype=dtype)
    return theano.function([x], TT.tanh(x) * scale + 1)


def operations(function):
    return [str(node.op) for node in function.maker.fgraph.toposort()]


def key_of(cache, inputs, outputs):
    mode = theano.compile.mode.get_default_mode()
    optimizer = mode.optimizer
    assert isinstance(optimizer, _graph_cache.CachingOptimizer)
    graph = cache.backend.function_graph_class(inputs, outputs)
    return cache.key(graph, optimizer._optimizer, optimizer._query)


def test_a_function_compiled_again_reads_its_optimised_graph(cache):
    first = scaled_tanh()
    assert cache.statistics == dict(misses=1, stores=1)
    assert len(entries(cache)) == 1
    second = scaled_tanh()
    assert cache.statistics['hits'] == 1
    assert operations(second) == operations(first)
    x = np.linspace(-2, 2, 12, dtype='float32').reshape(3, 4)
    np.testing.assert_array_equal(second(x), first(x))
    np.testing.assert_allclose(second(x), np.tanh(x) * 2 + 1, atol=1e-6)


def test_updates_and_shared_variables_are_the_functions_own(cache):
    def counter():
        total = theano.shared(np.zeros(3, dtype='float32'), name='total')
        step = TT.vector('step', dtype='float32')
        return total, theano.function([step], total.sum(),
                                      updates=[(total, total + step)])

    first_total, first = counter()
    second_total, second = counter()
    assert cache.statistics['hits'] == 1
    second(np.ones(3, dtype='float32'))
    second(np.ones(3, dtype='float32'))
    np.testing.assert_array_equal(second_total.get_value(), [2, 2, 2])
    np.testing.assert_array_equal(first_total.get_value(), [0, 0, 0])
    assert float(first(np.ones(3, dtype='float32'))) == 0
    np.testing.assert_array_equal(first_total.get_value(), [1, 1, 1])


def test_names_do_not_enter_the_key(cache):
    a, b = TT.matrix('a'), TT.matrix('b')
    assert key_of(cache, [a], [TT.tanh(a) * 2]) == \
        key_of(cache, [b], [TT.tanh(b) * 2])


@pytest.mark.parametrize('other', [
    lambda x: TT.nnet.sigmoid(x) * 2,   # another operation
    lambda x: TT.tanh(x) * 3,           # another constant
    lambda x: TT.tanh(x.T) * 2,         # another structure
])
def test_the_key_follows_the_graph(cache, other):
    x = TT.matrix('x')
    y = TT.matrix('y')
    assert key_of(cache, [x], [TT.tanh(x) * 2]) != key_of(cache, [y],
                                                          [other(y)])


def test_the_key_follows_types(cache):
    x = TT.matrix('x', dtype='float32')
    y = TT.matrix('y', dtype='float64')
    z = TT.row('z', dtype='float32')
    keys = {key_of(cache, [v], [TT.tanh(v) * 2]) for v in (x, y, z)}
    assert len(keys) == 3


def test_the_key_follows_the_flags(cache):
    x = TT.matrix('x')
    before = key_of(cache, [x], [TT.tanh(x) * 2])
    previous = theano.config.on_opt_error
    theano.config.on_opt_error = 'raise' if previous != 'raise' else 'warn'
    try:
        assert key_of(cache, [x], [TT.tanh(x) * 2]) != before
    finally:
        theano.config.on_opt_error = previous
    assert key_of(cache, [x], [TT.tanh(x) * 2]) == before


def test_the_key_follows_the_optimizer(cache):
    x = TT.matrix('x')
    y = TT.tanh(x) * 2
    mode = theano.compile.mode.get_default_mode()
    fast = mode.optimizer
    fewer = mode.excluding('fusion').optimizer
    graph = cache.backend.function_graph_class([x], [y])
    assert cache.key(graph, fast._optimizer, fast._query) != \
        cache.key(graph, fewer._optimizer, fewer._query)


def test_an_unreadable_entry_is_replaced(cache):
    reference = scaled_tanh()
    name, = entries(cache)
    path = os.path.join(cache.directory, name)
    with open(path, 'wb') as handle:
        handle.write(b'not a pickle at all')
    again = scaled_tanh()
    assert cache.statistics['discarded'] == 1
    assert cache.statistics['stores'] == 2
    assert operations(again) == operations(reference)
    with open(path, 'rb') as handle:
        assert handle.read(1) == b'\x80'  # a pickle again
    assert scaled_tanh() is not None
    assert cache.statistics['hits'] == 1


def test_an_entry_of_another_graph_is_discarded(cache):
    scaled_tanh()
    other, = entries(cache)
    vector = TT.vector('v')
    theano.function([vector], vector.sum() * 2)
    mine = [name for name in entries(cache) if name != other][0]
    os.replace(os.path.join(cache.directory, other),
               os.path.join(cache.directory, mine))
    function = theano.function([vector], vector.sum() * 2)
    assert cache.statistics['discarded'] == 1
    assert float(function(np.arange(4, dtype=vector.dtype))) == 12


def test_an_entry_computed_from_foreign_variables_is_discarded(cache):
    x = TT.matrix('x')
    scaled_tanh()
    name, = entries(cache)
    stranger = TT.matrix('stranger')
    buffer = io.BytesIO()
    pickle.dump(dict(format=_graph_cache.FORMAT, outputs=[stranger * 2],
                     destroy_handler=False), buffer)
    with open(os.path.join(cache.directory, name), 'wb') as handle:
        handle.write(buffer.getvalue())
    function = scaled_tanh()
    assert cache.statistics['discarded'] == 1
    values = np.ones((2, 2), dtype=x.dtype)
    np.testing.assert_allclose(function(values), np.tanh(values) * 2 + 1,
                               atol=1e-6)


def test_the_switch_turns_the_cache_off(cache, monkeypatch):
    monkeypatch.setenv(_graph_cache.ENV, '0')
    mode = theano.compile.mode.get_default_mode()
    assert not isinstance(mode.optimizer, _graph_cache.CachingOptimizer)
    scaled_tanh()
    scaled_tanh()
    assert entries(cache) == []
    assert not cache.statistics


def test_only_the_plain_mode_with_a_query_is_served(cache):
    mode_class = type(theano.compile.mode.get_default_mode())

    class CheckingMode(mode_class):
        pass

    assert not isinstance(CheckingMode(optimizer='fast_run').optimizer,
                          _graph_cache.CachingOptimizer)
    plain = theano.compile.mode.get_default_mode()
    given = mode_class(optimizer=plain.optimizer._optimizer)
    assert not isinstance(given.optimizer, _graph_cache.CachingOptimizer)


class Tripled(theano.Op):
    """y = f(x) for an f given as a lambda: an op that cannot be pickled."""

    __props__ = ()

    def __init__(self):
        self.function = lambda x: 3 * x

    def make_node(self, x):
        x = TT.as_tensor_variable(x)
        return theano.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self.function(inputs[0])


def test_a_graph_that_cannot_be_pickled_is_optimised_as_usual(cache):
    x = TT.vector('x')
    function = theano.function([x], Tripled()(x) + 1)
    assert cache.statistics['unkeyable'] == 1
    assert entries(cache) == []
    np.testing.assert_array_equal(
        function(np.ones(2, dtype=x.dtype)), [4, 4])


def test_the_oldest_entries_go_first(cache, monkeypatch):
    monkeypatch.setattr(_graph_cache, 'MAX_ENTRIES', 2)
    for scale in (2.0, 3.0, 4.0):
        scaled_tanh(scale=scale)
        if scale == 2.0:
            oldest = entries(cache)
            past = os.stat(os.path.join(cache.directory, oldest[0]))
            os.utime(os.path.join(cache.directory, oldest[0]),
                     (past.st_atime - 100, past.st_mtime - 100))
    left = entries(cache)
    assert len(left) == 2
    assert oldest[0] not in left
    assert not any(name.startswith('.') for name in left)


KEYS = '''
import json, os
import numpy as np
import theanets  # noqa: F401  (chooses and configures the backend)
from theanets import _graph_cache
_graph_cache.installed()._directory = os.environ['GRAPHS']
keys = []
original = _graph_cache.GraphCache.key
def key(self, *args):
    keys.append(original(self, *args))
    return keys[-1]
_graph_cache.GraphCache.key = key
rng = np.random.RandomState(3)
x = rng.randn(20, 6).astype('float32')
y = rng.randint(0, 3, size=20).astype('int32')
net = theanets.Classifier([6, (5, 'relu'), 3], rng=1)
next(net.itertrain([x, y], batch_size=10, progress=False, hidden_dropout=0.1))
series = rng.randn(4, 3, 2).astype('float32')
net = theanets.recurrent.Regressor([2, (3, 'lstm'), 2], rng=2)
next(net.itertrain([series, series], batch_size=2, progress=False))
print(json.dumps(dict(keys=keys,
                      statistics=_graph_cache.installed().statistics)))
'''


def test_keys_are_the_same_in_every_process(tmp_path):
    """Hash randomisation, and whether the graphs compiled earlier came from
    the cache, do not change the keys of later graphs."""
    runs = [run_fresh(KEYS, tmp_path, env=dict(
        PYTHONHASHSEED=seed, GRAPHS=str(tmp_path / directory)))[0]
        for seed, directory in (('1', 'a'), ('2', 'a'), ('3', 'b'))]
    assert len(runs[0]['keys']) >= 4 and all(runs[0]['keys'])
    assert runs[0]['keys'] == runs[1]['keys'] == runs[2]['keys']
    assert runs[1]['statistics'].get('misses', 0) == 0
    assert runs[2]['statistics']['misses'] > 0


TRAIN = '''
import hashlib, json
import numpy as np
import theanets  # noqa: F401  (chooses and configures the backend)
from theanets import _graph_cache
rng = np.random.RandomState(13)
x = rng.randn(40, 6).astype('float32')
y = rng.randint(0, 3, size=40).astype('int32')
series = rng.randn(8, 4, 3).astype('float32')
labels = rng.randint(0, 3, size=(8, 4)).astype('int32')
runs = [
    (theanets.Classifier([6, (8, 'relu'), (5, 'tanh'), 3], rng=1), [x, y],
     dict(algo='rmsprop', hidden_dropout=0.2, weight_l2=1e-3, rng=4)),
    (theanets.recurrent.Classifier([3, (4, 'lstm'), 3], rng=2),
     [series, labels], dict(algo='nag')),
]
digest = hashlib.sha256()
for net, data, options in runs:
    for _, (train, _) in zip(range(2), net.itertrain(
            data, batch_size=4, progress=False, **options)):
        digest.update(np.float64(train['loss']).tobytes())
    for param in net.params:
        digest.update(param.get_value().tobytes())
    digest.update(np.asarray(net.predict(data[0])).tobytes())
print(json.dumps(dict(digest=digest.hexdigest(),
                      statistics=_graph_cache.installed().statistics)))
'''


def test_training_is_identical_with_the_graphs_read_back(tmp_path):
    """The same losses, parameters and predictions with the cache off, with
    the graphs optimised and stored, and with every graph read back."""
    off, stored, read = [
        run_fresh(TRAIN, tmp_path, env=dict(THEANETS_GRAPH_CACHE=switch))[0]
        for switch in ('0', '1', '1')]
    assert off['statistics'] == {}
    assert read['statistics']['hits'] > 0
    assert read['statistics'].get('misses', 0) == 0
    assert off['digest'] == stored['digest'] == read['digest']


def test_a_directory_that_cannot_be_written_leaves_the_optimizer_alone(
        cache, tmp_path, monkeypatch):
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a directory')
    monkeypatch.setattr(cache, '_directory', str(blocker / 'graphs'))
    function = scaled_tanh()
    assert cache.statistics['unwritable'] == 1
    values = np.zeros((1, 2), dtype=function.maker.fgraph.inputs[0].dtype)
    np.testing.assert_array_equal(function(values), [[1, 1]])


def test_outputs_read_back_are_copies_as_the_backend_makes_them(cache):
    """The backend's copies of aliased outputs are added after the graph is
    read back, as after the optimizer."""
    def functions():
        x = TT.matrix('x')
        return (theano.function([x], [x * 2, x * 2]),
                theano.function([x], x))

    functions()
    twice, identity = functions()
    assert cache.statistics['hits'] == 2
    values = np.ones((2, 2), dtype=twice.maker.fgraph.inputs[0].dtype)
    first, second = twice(values)
    assert not np.shares_memory(first, second)
    assert not np.shares_memory(identity(values), values)
