#!/usr/bin/env python
"""Classify 8x8 images of handwritten digits with a convolutional network.

Uses the digits shipped in ``data/digits.npz`` (see ``data/README.md``).
Convolution models take images shaped ``(batch, width, height, channels)``,
so each 64-pixel row becomes an ``(8, 8, 1)`` image. Two layers of 3x3
filters (valid convolutions: 8x8 -> 6x6 -> 4x4) feed a ``'flat'`` layer
that unrolls the feature maps for the softmax output layer.

Run it from anywhere::

    python examples/conv_digits.py
"""

import os

import numpy as np

import theanets

HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits():
    """Return ``(train, valid, test)`` ``[images, labels]`` pairs.

    Images are float32 ``(N, 8, 8, 1)`` with pixels scaled to [0, 1];
    labels are int32. The split is fixed: 1,200 training, 300 validation
    and 297 test digits.
    """
    with np.load(os.path.join(HERE, 'data', 'digits.npz')) as data:
        x = (data['x'] / 16.0).astype('f').reshape((-1, 8, 8, 1))
        y = data['y'].astype('i')
    order = np.random.RandomState(0).permutation(len(x))
    x, y = x[order], y[order]
    return [x[:1200], y[:1200]], [x[1200:1500], y[1200:1500]], \
        [x[1500:], y[1500:]]


def main():
    train, valid, test = load_digits()

    net = theanets.convolution.Classifier([
        (8, 8, 1),
        dict(form='conv2', size=16, filter_size=(3, 3)),
        dict(form='conv2', size=16, filter_size=(3, 3)),
        'flat',
        10,
    ])
    for layer in net.layers:
        print('layer {} ({}): output shape {}'.format(
            layer.name, type(layer).__name__, layer.output_shape))

    net.train(train, valid, algo='rmsprop', learning_rate=0.003,
              batch_size=32, max_updates=30, patience=2, validate_every=5)

    print('train accuracy: {:.3f}'.format(net.score(*train)))
    print('test accuracy: {:.3f} on {} digits'.format(
        net.score(*test), len(test[0])))
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (test[1], net.predict(test[0])), 1)
    print('confusion matrix (rows: true digit, columns: predicted):')
    print(confusion)


if __name__ == '__main__':
    main()
