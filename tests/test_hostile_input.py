"""Hostile and malformed data given to a model: clear errors, right answers."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse

import theanets
from theanets import validation
from theanets.exceptions import DataError

WIDTH = 5


@pytest.fixture(scope='module')
def sparse_models():
    return {fmt: theanets.Regressor(
        [dict(form='input', size=WIDTH, sparse=fmt), 3], rng=13)
        for fmt in ('csr', 'csc')}


def one_entry_csr(column):
    return scipy.sparse.csr_matrix(
        (np.ones(1, 'f'), np.array([column]), np.array([0, 1])),
        shape=(1, WIDTH))


@pytest.mark.parametrize('fmt', ['csr', 'csc'])
@pytest.mark.parametrize('column', [WIDTH, 7, 10 ** 8, -1])
def test_out_of_bounds_sparse_index_is_refused(sparse_models, fmt, column):
    # before: index 7 gave 1.57e13 in the output and 1e8 a segfault
    with pytest.raises(DataError, match=r'^x: malformed scipy.sparse csr '
                       r'matrix of shape \(1, 5\): expected column indices '
                       r'in \[0, 5\).*e\.g\. {}'.format(column)):
        sparse_models[fmt].predict(one_entry_csr(column))


def test_out_of_bounds_csc_row_index_is_refused(sparse_models):
    x = scipy.sparse.csc_matrix(
        (np.ones(1, 'f'), np.array([3]), np.array([0, 1] + [1] * (WIDTH - 1))),
        shape=(2, WIDTH))
    with pytest.raises(DataError, match=r'expected row indices in \[0, 2\)'):
        sparse_models['csr'].predict(x)


def test_inconsistent_indptr_is_refused(sparse_models):
    x = scipy.sparse.csr_matrix(np.eye(2, WIDTH, dtype='f'))
    x.indptr = np.array([0, 2, 1])  # scipy checks this only at construction
    with pytest.raises(DataError, match='expected indptr to rise from 0'):
        sparse_models['csr'].predict(x)
    x.indptr = np.array([0, 1])
    with pytest.raises(DataError, match='expected indptr of length 3, got 2'):
        sparse_models['csr'].predict(x)
    x.indptr = np.array([0.0, 1.0, 2.0])
    with pytest.raises(DataError, match='indptr to be a 1-D integer array'):
        sparse_models['csr'].predict(x)


def test_coo_out_of_bounds_is_refused(sparse_models):
    x = scipy.sparse.coo_matrix(np.eye(2, WIDTH, dtype='f'))
    x.col = np.array([0, 9])
    with pytest.raises(DataError, match=r'expected column indices in '
                       r'\[0, 5\), got values from 0 to 9'):
        sparse_models['csr'].predict(x)


def test_unsorted_and_duplicate_indices_give_the_dense_answer(sparse_models):
    model = sparse_models['csr']
    dense = np.zeros((1, WIDTH), 'f')
    dense[0, 1], dense[0, 3] = 3.0, 2.0
    expected = model.predict(scipy.sparse.csr_matrix(dense))
    unsorted = scipy.sparse.csr_matrix(
        (np.array([2.0, 3.0], 'f'), np.array([3, 1]), np.array([0, 2])),
        shape=(1, WIDTH))
    duplicated = scipy.sparse.csr_matrix(
        (np.array([2.0, 1.0, 2.0], 'f'), np.array([3, 1, 1]),
         np.array([0, 3])), shape=(1, WIDTH))
    for x in (unsorted, duplicated):
        indices = x.indices.copy()
        np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)
        np.testing.assert_array_equal(x.indices, indices)  # not modified


def test_sparse_nan_is_refused(sparse_models):
    x = one_entry_csr(2)
    x.data[0] = np.nan
    with pytest.raises(DataError, match='x: expected finite values'):
        sparse_models['csr'].predict(x)


def test_check_sparse_returns_canonical_copy():
    x = scipy.sparse.csr_matrix(
        (np.array([1.0, 2.0]), np.array([3, 1]), np.array([0, 2])),
        shape=(1, WIDTH))
    checked = validation.check_sparse('x', x, 'csc')
    assert checked.format == 'csc' and checked.has_canonical_format
    np.testing.assert_array_equal(checked.toarray(), x.toarray())


def test_sparse_training_data_checked():
    model = theanets.Regressor([dict(form='input', size=WIDTH, sparse='csr'),
                                2])
    x = scipy.sparse.csr_matrix(np.eye(4, WIDTH, dtype='f'))
    x.indices = x.indices.copy()
    x.indices[2] = 50
    y = np.zeros((4, 2), 'f')
    with pytest.raises(DataError, match=r'train\[0\]: malformed'):
        model.train([x, y], max_updates=1)


# ----------------------------------------------------------------------
# class labels

@pytest.fixture
def classifier():
    return theanets.Classifier([3, 4], rng=3)


def label_data(labels):
    labels = np.asarray(labels)
    return [np.ones((len(labels), 3), 'f'), labels]


@pytest.mark.parametrize('label', [2 ** 32 + 3, 2 ** 31, 2 ** 63 - 1,
                                   -2 ** 32 + 1])
def test_large_int64_labels_do_not_wrap(classifier, label):
    # before: 2**32 + 3 was cast to int32 first and trained as label 3
    data = label_data(np.array([0, label], 'int64'))
    with pytest.raises(DataError, match=r'train\[1\]: expected integer class '
                       r'labels in \[0, 4\).*got labels from -?\d+ to '
                       r'-?\d+$') as info:
        classifier.train(data, max_updates=1)
    assert str(label) in str(info.value)


def test_uint64_labels_do_not_wrap(classifier):
    data = label_data(np.array([1, 2 ** 64 - 1], 'uint64'))
    with pytest.raises(DataError, match='got labels from 1 to '
                       '18446744073709551615'):
        classifier.train(data, max_updates=1)


def test_negative_labels_warn_once(classifier, monkeypatch, recwarn):
    monkeypatch.setattr(validation, '_warned_negative_labels', False)
    data = label_data(np.array([-1, 1, 0, 2], 'int32'))
    with pytest.warns(theanets.exceptions.NegativeLabelWarning,
                      match=r'train\[1\]: got negative class labels \(down '
                      r'to -1\); label -k means class 4 - k.*-1 and 3 are '
                      r'the same class'):
        validation.check_dataset(classifier, data, 'train', True)
    recwarn.clear()
    validation.check_dataset(classifier, data, 'train', True)
    assert not [w for w in recwarn.list
                if issubclass(w.category,
                              theanets.exceptions.NegativeLabelWarning)]


def test_labels_in_range_do_not_warn(classifier, monkeypatch, recwarn):
    monkeypatch.setattr(validation, '_warned_negative_labels', False)
    validation.check_dataset(classifier, label_data([0, 3, 1]), 'train', True)
    assert not recwarn.list


# ----------------------------------------------------------------------
# small items: masked arrays, seeds, algo, save_progress, float16

def test_masked_values_are_refused():
    # before: the NaN under the mask reached the model; predict gave NaN
    model = theanets.Regressor([3, 2])
    x = np.ma.masked_array(np.ones((4, 3), 'f'), mask=np.zeros((4, 3), bool))
    x.data[1, 2] = np.nan
    x.mask[1, 2] = True
    with pytest.raises(DataError, match=r'x: expected an array without '
                       r'masked values, got a masked array of shape \(4, 3\) '
                       r'with 1 masked value'):
        model.predict(x)
    with pytest.raises(DataError, match=r'train\[0\]: expected an array '
                       r'without masked values'):
        model.train([x, np.ones((4, 2), 'f')], max_updates=1)
    y = np.ma.masked_array(np.ones((4, 2), 'f'), mask=[[0, 0]] * 3 + [[1, 0]])
    with pytest.raises(DataError, match='y: expected an array without masked'):
        model.score(np.ones((4, 3), 'f'), y)


def test_unmasked_masked_array_predicts_like_its_data():
    model = theanets.Regressor([3, 2])
    data = np.random.RandomState(0).randn(4, 3).astype('f')
    np.testing.assert_array_equal(
        model.predict(np.ma.masked_array(data, mask=False)),
        model.predict(data))


@pytest.mark.parametrize('rng', [-1, 2 ** 32, 2 ** 40])
def test_out_of_range_seeds_are_configuration_errors(rng):
    # before: numpy's raw "Seed must be between 0 and 2**32 - 1"
    pattern = r'rng: expected an int seed in \[0, 2\*\*32\)'
    with pytest.raises(theanets.util.ConfigurationError, match=pattern):
        theanets.Regressor([3, 2], rng=rng)
    with pytest.raises(theanets.util.ConfigurationError, match=pattern):
        theanets.Regressor([3, dict(size=2, rng=rng)])
    with pytest.raises(theanets.util.ConfigurationError, match=pattern):
        theanets.Regressor([3, 2]).train(
            [np.ones((4, 3), 'f'), np.ones((4, 2), 'f')], max_updates=1,
            rng=rng)


def test_rng_of_the_wrong_type_is_a_configuration_error():
    with pytest.raises(theanets.util.ConfigurationError,
                       match='rng: expected an int seed.*got array'):
        theanets.Regressor([3, dict(size=2, rng=np.arange(3))])


@pytest.mark.parametrize('algo', [None, 3, object()])
def test_algo_that_names_no_trainer(algo):
    # before: AttributeError: 'NoneType' object has no attribute 'itertrain'
    model = theanets.Regressor([3, 2])
    with pytest.raises(theanets.util.ConfigurationError,
                       match='algo: expected the name of a training '
                       'algorithm'):
        model.train([np.ones((4, 3), 'f'), np.ones((4, 2), 'f')], algo=algo)


@pytest.mark.parametrize('pattern', ['model-{x}.pkl', 'model-{1}.pkl',
                                     'model-{.pkl', 'model-{:q}.pkl'])
def test_bad_save_progress_pattern_fails_before_training(tmpdir, pattern,
                                                          monkeypatch):
    # before: raised only at the first save, after an epoch of training
    model = theanets.Regressor([3, 2])
    before = [p.get_value().copy() for p in model.params]
    path = os.path.join(str(tmpdir), pattern)
    with pytest.raises(theanets.util.ConfigurationError,
                       match='save_progress: expected a file name'):
        model.train([np.ones((4, 3), 'f'), np.ones((4, 2), 'f')],
                    max_updates=3, save_every=1, save_progress=path)
    for param, value in zip(model.params, before):
        np.testing.assert_array_equal(param.get_value(), value)
    assert os.listdir(str(tmpdir)) == []


def test_good_save_progress_pattern_still_works(tmpdir):
    model = theanets.Regressor([3, 2])
    path = os.path.join(str(tmpdir), 'model-{}.pkl')
    model.train([np.ones((4, 3), 'f'), np.ones((4, 2), 'f')], max_updates=3,
                save_every=1, save_progress=path)
    assert len(os.listdir(str(tmpdir))) >= 1


FLOAT16_SCRIPT = '''
import sys
sys.path.insert(0, {root!r})
import numpy as np
import theanets
x = np.ones((8, 3), 'float16')
model = theanets.Regressor([3, 2])
try:
    model.train([x, x[:, :2]], algo='adam', max_updates=1)
except theanets.util.ConfigurationError as error:
    print('refused:', error)
'''


def test_float16_with_adam_is_a_clear_error():
    # before: a raw Theano TypeError about the update's type
    root = os.path.dirname(os.path.dirname(os.path.abspath(
        theanets.__file__)))
    env = dict(os.environ, THEANO_FLAGS='floatX=float16')
    result = subprocess.run(
        [sys.executable, '-c', FLOAT16_SCRIPT.format(root=root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert 'refused: algo: "adam" cannot train with floatX=float16' in \
        result.stdout.decode()
