#!/usr/bin/env python
"""Compress handwritten digits with a tied-weight autoencoder.

The encoder maps each 8x8 digit (64 pixels) to 16 numbers; the decoder is
"tied": it reuses the transpose of the encoder's weight matrix, so only its
bias is extra. The script reports how well held-out digits are
reconstructed before and after training.
"""

import os

import numpy as np

import theanets

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with np.load(os.path.join(HERE, 'data', 'digits.npz')) as data:
        x = (data['x'] / 16.0).astype('f')
    x = x[np.random.RandomState(1).permutation(len(x))]
    train, valid, test = x[:1200], x[1200:1500], x[1500:]

    # 'tied' finds its partner by itself: here, the 16-unit encoder layer.
    net = theanets.Autoencoder([64, (16, 'sigmoid'), 'tied'])

    def error(data):
        return float(((net.predict(data) - data) ** 2).mean())

    before = error(test)
    net.train([train], [valid], algo='rmsprop', learning_rate=0.003,
              batch_size=32, max_updates=40, patience=2, validate_every=5)
    after = error(test)

    print('codes for {} test digits: shape {}'.format(
        len(test), net.encode(test).shape))
    print('reconstruction error (MSE): {:.4f} before training, {:.4f} after'
          .format(before, after))
    print('R^2 of the reconstruction: {:.3f}'.format(net.score(test)))
    if not after < before / 2:
        raise SystemExit('training did not reduce the reconstruction error')


if __name__ == '__main__':
    main()
