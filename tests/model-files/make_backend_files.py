"""Write this folder's cross-backend model files with the running backend.

Each case of :func:`cases` is saved as ``backends/<backend>-<case>.npz`` and
as a pickle (``.pkl``, or ``.pkl.gz``), with its inputs and predictions in
``backends/<backend>-<case>.expected.npz``. tests/test_backend_files.py
checks that every file, whichever backend wrote it, loads on the running
backend and predicts what was recorded. Run this script from the repository
root once per backend, e.g.::

    PYTHONPATH=. /path/to/theano-venv/bin/python tests/model-files/make_backend_files.py
    PYTHONPATH=. /path/to/pytensor-venv/bin/python tests/model-files/make_backend_files.py

It never overwrites an existing file. :func:`seeded_models` are the models
whose initial parameters both backends must draw identically (the test pins
their digests).
"""

import hashlib
import os

import numpy as np

import theanets

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'backends')


def cases():
    """``(name, model, inputs, pickle suffix)`` for each case, seeded."""
    rng = np.random.RandomState(23)
    x2 = rng.randn(5, 4).astype('f')
    yield 'regressor', theanets.Regressor(
        [4, (5, 'tanh'), (3, 'prelu'), 2], rng=3), [x2], '.pkl'
    yield 'classifier', theanets.Classifier(
        [4, (5, 'logistic'), dict(size=3, activation='relu'), 3],
        rng=np.random.RandomState(8)), [x2], '.pkl.gz'
    yield 'autoencoder', theanets.Autoencoder(
        [4, (3, 'tanh'), ('tied', 'linear')], rng=5), [x2], '.pkl'
    yield 'sparse_input', theanets.Regressor(
        [dict(form='input', size=4, sparse='csr'), (3, 'sigmoid'), 2],
        rng=9), [x2], '.pkl'


def seeded_models():
    """``(name, model)``: the file cases and a recurrent model, seeded."""
    for name, model, _, _ in cases():
        yield name, model
    yield 'lstm', theanets.recurrent.Regressor(
        [4, dict(form='lstm', size=3), (2, 'tanh')], rng=4)


def fed(model, inputs):
    """The arrays to feed ``model``: sparse matrices for a sparse input."""
    import scipy.sparse
    layer = model.layers[0]
    if type(layer.input.type).__name__ in ('SparseType', 'SparseTensorType'):
        return [scipy.sparse.csr_matrix(inputs[0])] + list(inputs[1:])
    return list(inputs)


def predictions(model, inputs):
    """What the model predicts for ``inputs`` (class probabilities for a
    classifier)."""
    arrays = fed(model, inputs)
    x = arrays if len(arrays) > 1 else arrays[0]
    if isinstance(model, theanets.Classifier):
        return model.predict_proba(x)
    return model.predict(x)


def parameter_digest(model):
    """SHA-256 of the model's parameters: names, shapes, float32 bytes."""
    digest = hashlib.sha256()
    for param in model.params:
        value = np.ascontiguousarray(param.get_value(), dtype='<f4')
        digest.update('{}{}'.format(param.name, value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def main():
    backend = theanets.backend.name()
    os.makedirs(HERE, exist_ok=True)
    for name, model in seeded_models():
        print(name, parameter_digest(model))
    for name, model, inputs, suffix in cases():
        stem = os.path.join(HERE, '{}-{}'.format(backend, name))
        if os.path.exists(stem + '.npz'):
            continue
        model.save(stem + '.npz')
        model.save(stem + suffix)
        expected = {'x{}'.format(i): x for i, x in enumerate(inputs)}
        expected['out'] = predictions(model, inputs)
        # the next draw of a layer's generator: checks that its state
        # survives the file (numpy 1 and 2 pickle random states differently)
        expected['rng_next'] = model.layers[1].rng.randint(2 ** 31)
        np.savez(stem + '.expected.npz', **expected)
        print('wrote', stem + '.*')


if __name__ == '__main__':
    main()
