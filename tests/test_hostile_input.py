"""Hostile and malformed data given to a model: clear errors, right answers."""

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
