"""Write the .npz model files of this folder with the running theanets.

The files in this folder were written by theanets at commit cbd555c (before
layers had ``get_config``); tests/test_serialize.py checks that they still
load and compute the outputs stored beside them. Run this script from the
repository root (``PYTHONPATH=. python tests/model-files/make_files.py``)
only to add a new case; it never overwrites an existing file.
"""

import os

import numpy as np

import theanets

HERE = os.path.dirname(os.path.abspath(__file__))


def cases():
    rng = np.random.RandomState(11)
    x2 = rng.randn(3, 4).astype('f')
    x3 = rng.randn(2, 5, 4).astype('f')
    x4 = rng.randn(2, 6, 5, 3).astype('f')
    yield 'feedforward_tied', theanets.Autoencoder(
        [4, (3, 'tanh'), (2, 'prelu'), ('tied', 'relu'), ('tied', 'linear')],
        rng=5), [x2]
    yield 'recurrent_options', theanets.recurrent.Regressor([
        dict(form='input', name='h0', size=3, ndim=2),
        dict(form='input', name='in', size=4),
        dict(form='rnn', size=3, inputs='in', h_0='h0', direction='back',
             bptt_limit=3, radius=1.1),
        dict(form='rrnn', size=4, rate='vector'),
        dict(form='clockwork', size=4, periods=(2, 1)),
        dict(form='mrnn', size=3, factors=2),
        dict(form='scrn', size=3, rate='vector', context_size=2),
        dict(form='lstm', size=3, c_0='h0', std=0.3),
        dict(form='bidirectional', size=4, worker='gru'),
        2], rng=7), [rng.randn(2, 3).astype('f'), x3]
    yield 'convolution', theanets.convolution.Classifier([
        (6, 5, 3),
        dict(form='conv2', size=2, filter_size=(3, 2), stride=(1, 2),
             border_mode='half'),
        dict(form='pool2', pool_size=(2, 1), activation='linear'),
        'flat', 3], rng=3), [x4]
    yield 'conv1', theanets.recurrent.Regressor([
        4, dict(form='conv1', size=2, filter_size=2, stride=2,
                border_mode='full'), 3]), [x3]
    yield 'sparse_input', theanets.Regressor(
        [dict(form='input', size=4, sparse='csc'), (3, 'tanh'), 2],
        rng=np.random.RandomState(4)), [x2]


def main():
    import scipy.sparse
    for name, model, inputs in cases():
        path = os.path.join(HERE, name + '.npz')
        if os.path.exists(path):
            continue
        model.save(path)
        if isinstance(model.layers[0], theanets.layers.Input) and \
                model.layers[0].input.type.__class__.__name__ == 'SparseType':
            fed = [scipy.sparse.csc_matrix(inputs[0])]
        else:
            fed = inputs
        outputs = model.feed_forward(fed if len(fed) > 1 else fed[0])
        expected = {'x{}'.format(i): x for i, x in enumerate(inputs)}
        expected['out'] = outputs[model.layers[-1].output_name]
        np.savez(os.path.join(HERE, name + '.expected.npz'), **expected)
        print('wrote', path)


if __name__ == '__main__':
    main()
