"""Tests for theanets.util: registries, initialisers, matching and logging."""

import logging

import numpy as np
import pytest

import theanets
from theanets import util


# -- module-level names --------------------------------------------------------

def test_module_names():
    assert util.basestring is str
    assert util.FLOAT == 'float32'
    assert [c().ndim for c in util.FLOAT_CONTAINERS] == [0, 1, 2, 3, 4]
    assert {c().dtype for c in util.FLOAT_CONTAINERS} == {'float32'}
    assert [c().ndim for c in util.INT_CONTAINERS] == [0, 1, 2, 3, 4]
    assert {c().dtype for c in util.INT_CONTAINERS} == {'int32'}
    assert issubclass(util.ConfigurationError, util.Error)
    assert issubclass(util.UnknownNameError, KeyError)
    assert issubclass(util.UnknownNameError, util.ConfigurationError)


# -- Registrar -----------------------------------------------------------------

@pytest.fixture
def family():
    Base = util.Registrar('Base', (), {})

    class Widget(Base):
        pass

    class Gadget(Widget):
        __extra_registration_keys__ = ['gg', 'Gizmo']

    class Gadget2(Gadget):  # does not take over its parent's extra keys
        pass

    return Base, Widget, Gadget, Gadget2


def test_registrar_registers_by_lowercase_name(family):
    Base, Widget, Gadget, Gadget2 = family
    # the registry's internal dict is what registration fills in
    assert 'base' not in Widget._registry
    assert Widget._registry == {
        'widget': Widget, 'gadget': Gadget, 'gadget2': Gadget2,
        'gg': Gadget, 'gizmo': Gadget}


def test_registrar_build_and_lookup(family):
    _, Widget, Gadget, _ = family
    assert isinstance(Widget.build('GADGET'), Gadget)
    assert Widget.get_class('Widget') is Widget
    assert Widget.is_registered('GiZmO')
    assert not Widget.is_registered('nothing')
    assert not Widget.is_registered(3)


def test_registrar_unknown_key_lists_known_names(family):
    _, Widget, _, _ = family
    with pytest.raises(KeyError) as info:
        Widget.build('Bogus')
    assert info.value.args == ('bogus', )
    assert isinstance(info.value, util.ConfigurationError)
    assert str(info.value) == (
        "unknown widget 'bogus'; known names are: gadget, gadget2, gg, "
        "gizmo, widget")


# -- initialisers --------------------------------------------------------------

def test_random_matrix_sparsity():
    w = util.random_matrix(1000, 200, sparsity=0.1, rng=5)
    assert w.shape == (1000, 200)
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.01
    assert abs(w.std() - 0.95) < 0.01
    assert abs((w == 0).mean() - 0.1) < 0.01
    assert (np.diag(w) != 0).all()


def test_random_matrix_diagonal():
    w = util.random_matrix(1000, 200, diagonal=0.9, rng=4)
    assert (np.diag(w) == np.float32(0.9)).all()
    assert w.sum() == 180


def test_random_matrix_radius():
    w = util.random_matrix(1000, 200, radius=2, rng=4)
    s = np.linalg.svd(w, compute_uv=False)
    assert s[0] == 2
    assert s[1] < 2


def test_random_matrix_matches_documented_draws():
    rng = np.random.RandomState(13)
    expected = (0.5 + 0.1 * rng.randn(3, 4)).astype('f')
    np.testing.assert_array_equal(
        util.random_matrix(3, 4, mean=0.5, std=0.1, rng=13), expected)


def test_random_matrix_draws_even_with_diagonal():
    rng = np.random.RandomState(3)
    util.random_matrix(2, 3, diagonal=1, rng=rng)
    after = rng.randn()
    reference = np.random.RandomState(3)
    reference.randn(2, 3)
    assert after == reference.randn()


def test_random_vector():
    v = util.random_vector(10000, rng=4)
    assert v.shape == (10000, )
    assert v.dtype == np.float32
    assert abs(v.mean()) < 0.05
    assert abs(v.std() - 1) < 0.05


def test_as_random_state():
    shared = np.random.RandomState(1)
    assert util.as_random_state(shared) is shared
    assert util.as_random_state(7).randn() == np.random.RandomState(7).randn()
    assert isinstance(util.as_random_state(None), np.random.RandomState)


# -- glob matching ---------------------------------------------------------------

@pytest.fixture(scope='module')
def autoencoder():
    return theanets.Autoencoder([10, 20, 30, 10])


@pytest.mark.parametrize('pattern, count', [('*', 7), ('hid?:*', 4),
                                            ('*:pre', 3)])
def test_outputs_matching(autoencoder, pattern, count):
    outputs, _ = autoencoder.build_graph()
    assert len(list(util.outputs_matching(outputs, pattern))) == count


def test_outputs_matching_pairs_and_pattern_lists():
    pairs = [('a:out', 1), ('b:out', 2), ('b:pre', 3)]
    assert list(util.outputs_matching(pairs, ['b:*', '*:out'])) == pairs


@pytest.mark.parametrize('pattern, names', [
    ('*', ['hid1.b', 'hid1.w', 'hid2.b', 'hid2.w', 'out.b', 'out.w']),
    ('*.w', ['hid1.w', 'hid2.w', 'out.w']),
    ('o*.?', ['out.b', 'out.w']),
])
def test_params_matching(autoencoder, pattern, names):
    found = util.params_matching(autoencoder.layers, pattern)
    assert sorted(name for name, _ in found) == names


# -- logging -----------------------------------------------------------------------

def test_log_formats_message(messages):
    util.log('training {} layers {name}', 3, name='now')
    util.log('escaped braces {{}} stay')
    assert messages()[-2:] == ['training 3 layers now', 'escaped braces {} stay']
    with pytest.raises(IndexError):  # always formatted, as the original
        util.log('a field {} without arguments')


def test_log_line_format():
    record = logging.LogRecord('theanets', logging.INFO, __file__, 1,
                               'hello', (), None)
    line = util._Formatter().format(record)
    date, time, module, message = line.split(' ')
    assert len(date) == 8 and date.isdigit()
    assert len(time) == 6 and time.isdigit()
    assert (module, message) == ('theanets', 'hello')


def test_detailed_callsite(monkeypatch):
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect()
    logger = logging.getLogger('theanets')
    logger.addHandler(handler)
    # start from the internal "not enabled yet" state, whatever ran before
    monkeypatch.setattr(theanets._logging, '_detailed_callsite', False)
    try:
        util.enable_detailed_callsite_logging()
        util.log('where am I')
    finally:
        logger.removeHandler(handler)
    assert records[-1].callsite.startswith('test_util:')
    line = util._Formatter().format(records[-1])
    assert ' test_util:' in line and line.endswith('where am I')
