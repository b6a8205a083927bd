"""Property-based tests: every input gives a result or a documented error.

Documented errors are :class:`theanets.util.ConfigurationError` (bad layer
or loss specifications; its :class:`~theanets.util.UnknownNameError`
subclass is also a ``KeyError``), ``KeyError`` for unknown activation names,
``ValueError`` for a bad maxout piece count, and
:class:`theanets.util.DataError` (a ``ValueError``) for data that do not fit.
"""

import io
import logging
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import theanets
from theanets import feedforward, graph, util
from theanets import trainer as trainers

#: More examples with e.g. ``THEANETS_HYPOTHESIS_EXAMPLES=400``.
SETTINGS = settings(max_examples=int(
    os.environ.get('THEANETS_HYPOTHESIS_EXAMPLES', 40)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid', 'softmax', 'prelu',
               'maxout:2', 'bogus', 'tanh+relu']
FORMS = ['ff', 'feedforward', 'classifier', 'tied', 'flat', 'bogus']


@pytest.fixture(autouse=True, scope='module')
def quiet():
    logger = logging.getLogger('theanets')
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


sizes = st.integers(min_value=-1, max_value=4)
layer_specs = st.one_of(
    sizes,
    st.tuples(sizes, st.sampled_from(ACTIVATIONS)),
    st.tuples(sizes, st.sampled_from(FORMS), st.sampled_from(ACTIVATIONS)),
    st.sampled_from(FORMS),
    st.builds(dict, size=sizes, activation=st.sampled_from(ACTIVATIONS)),
    st.builds(dict, shape=st.tuples(sizes, sizes)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
)

DOCUMENTED = (util.ConfigurationError, KeyError, ValueError)


@SETTINGS
@given(first=st.one_of(sizes, st.tuples(sizes, sizes)),
       rest=st.lists(layer_specs, min_size=0, max_size=3),
       cls=st.sampled_from([theanets.Regressor, theanets.Classifier,
                            theanets.Autoencoder]))
def test_layer_specs_build_or_fail_clearly(first, rest, cls):
    try:
        model = cls([first] + rest)
    except DOCUMENTED as e:
        assert str(e)  # every error says what went wrong
        return
    names = [p.name for p in model.params]
    assert len(names) == len(set(names))
    for layer in model.layers:
        assert all(s is None or s > 0 for s in layer.output_shape)
    for param in model.params:
        assert np.isfinite(param.get_value()).all()


@pytest.fixture(scope='module')
def compiled():
    model = feedforward.Regressor([3, (2, 'tanh'), 2])
    model.predict(np.zeros((1, 3), 'f'))  # compile once
    return model


DTYPES = ['float32', 'float64', 'float16', 'int32', 'int8', 'uint8', 'bool',
          'complex64', 'U1', 'object']


@st.composite
def arrays(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim,
                                max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    values = np.zeros(shape, dtype=dtype)
    if values.size and dtype.startswith('float') and draw(st.booleans()):
        values.flat[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf]))
    return values


@SETTINGS
@given(x=arrays())
def test_predict_result_or_data_error(compiled, x):
    fits = (x.ndim == 2 and x.shape[0] > 0 and x.shape[1] == 3 and
            x.dtype.kind in 'iubf' and
            (x.dtype.kind != 'f' or np.isfinite(x).all()))
    try:
        y = compiled.predict(x)
    except util.DataError as e:
        assert not fits
        assert str(e).startswith('x: expected')
        return
    assert fits
    assert y.shape == (x.shape[0], 2) and y.dtype == util.FLOAT
    assert np.isfinite(y).all()


class _Recorder(object):
    """Stands in for a downhill trainer: records the data it was given."""

    def __init__(self, algo, network):
        self.calls = []

    def itertrain(self, train, valid=None, **kwargs):
        yield {'loss': 0.0}, {'loss': 0.0}


@SETTINGS
@given(n=st.integers(0, 4), m=st.integers(0, 4),
       labels=st.lists(st.integers(-8, 8), min_size=1, max_size=4),
       label_dtype=st.sampled_from(['int32', 'int64', 'float32']),
       batch_size=st.integers(-1, 3))
def test_training_data_result_or_documented_error(n, m, labels, label_dtype,
                                                   batch_size):
    model = _CLASSIFIER
    x = np.ones((n, 3), 'f')
    y = np.resize(np.array(labels, label_dtype), m)
    original = trainers.DownhillTrainer
    trainers.DownhillTrainer = _Recorder
    try:
        result = model.train([x, y], algo='sgd', batch_size=batch_size)
    except util.ConfigurationError as e:
        assert batch_size <= 0 and 'batch_size' in str(e)
        return
    except util.DataError as e:
        assert batch_size > 0
        assert (n == 0 or m == 0 or n != m or label_dtype == 'float32' or
                y.min() < -4 or y.max() >= 4), str(e)
        return
    finally:
        trainers.DownhillTrainer = original
    assert batch_size > 0 and n == m > 0
    assert label_dtype != 'float32' and -4 <= y.min() and y.max() < 4
    assert result == ({'loss': 0.0}, {'loss': 0.0})


_CLASSIFIER = feedforward.Classifier([3, 4])


@SETTINGS
@given(hidden=st.lists(st.tuples(st.integers(1, 3).map(lambda k: 2 * k),
                                 st.sampled_from(['tanh', 'prelu', 'relu',
                                                  'maxout:2', 'sigmoid'])),
                       min_size=0, max_size=2),
       cls=st.sampled_from([theanets.Regressor, theanets.Classifier]),
       tied=st.booleans(), weighted=st.booleans(), seed=st.integers(0, 99))
def test_npz_round_trip_keeps_structure_and_values(hidden, cls, tied,
                                                   weighted, seed):
    if tied and hidden:
        cls = theanets.Autoencoder
        spec = [3] + hidden + [('tied', 'linear')] * len(hidden)
    else:
        spec = [3] + hidden + [2]
    model = cls(spec, weighted=weighted, rng=seed)
    buffer = io.BytesIO()
    model.save(buffer, format='npz')
    buffer.seek(0)
    loaded = graph.Network.load(buffer, allow_pickle=False)
    assert type(loaded) is cls
    assert [l.to_spec() for l in loaded.layers] == \
        [l.to_spec() for l in model.layers]
    assert [v.type for v in loaded.variables] == \
        [v.type for v in model.variables]
    for p, q in zip(model.params, loaded.params):
        assert p.name == q.name
        np.testing.assert_array_equal(p.get_value(), q.get_value())


@SETTINGS
@given(data=st.binary(max_size=64))
def test_load_of_random_bytes_fails_clearly(data):
    # random bytes are never unpickled (that could call anything)
    with pytest.raises(util.ModelFileError):
        graph.Network.load(io.BytesIO(data), allow_pickle=False)


_PICKLED = io.BytesIO()
feedforward.Regressor([2, (2, 'prelu'), 1]).save(_PICKLED)
_NPZ = io.BytesIO()
feedforward.Regressor([2, (2, 'prelu'), 1]).save(_NPZ, format='npz')


@SETTINGS
@given(which=st.sampled_from(['pickle', 'npz']), cut=st.floats(0, 1),
       flip=st.one_of(st.none(), st.floats(0, 1)))
def test_load_of_damaged_files_fails_clearly(which, cut, flip):
    data = (_PICKLED if which == 'pickle' else _NPZ).getvalue()
    damaged = bytearray(data[:int(cut * (len(data) - 1))])
    if flip is not None and which == 'npz' and damaged:
        # flipping bytes of a pickle could name other importable objects;
        # only the npz archive (never unpickled) is damaged this way
        damaged[int(flip * (len(damaged) - 1))] ^= 0xFF
    with pytest.raises(util.ModelFileError):
        graph.Network.load(io.BytesIO(bytes(damaged)))
