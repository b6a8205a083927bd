#!/usr/bin/env python
"""Classify 8x8 images of handwritten digits.

The data (1,797 digits from the UCI optdigits set, see ``data/README.md``)
ship with this example, so it runs offline. The script trains a classifier
with one hidden layer, reports its accuracy on held-out digits, then saves
the model, loads it back and checks that the copy predicts the same labels.

Run it from anywhere::

    python examples/digits.py
"""

import os
import tempfile

import numpy as np

import theanets

HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits():
    """Return ``(train, valid, test)``, each a ``[images, labels]`` pair.

    Pixels are scaled to [0, 1] float32 and labels are int32, as a
    :class:`theanets.Classifier` expects. The split is fixed: 1,200 digits
    for training, 300 for validation and the remaining 297 for testing.
    """
    with np.load(os.path.join(HERE, 'data', 'digits.npz')) as data:
        x = (data['x'] / 16.0).astype('f')
        y = data['y'].astype('i')
    order = np.random.RandomState(0).permutation(len(x))
    x, y = x[order], y[order]
    return [x[:1200], y[:1200]], [x[1200:1500], y[1200:1500]], \
        [x[1500:], y[1500:]]


def main():
    train, valid, test = load_digits()

    # 64 pixels in, one hidden layer of 100 tanh units, 10 classes out.
    net = theanets.Classifier([64, (100, 'tanh'), 10])
    net.train(train, valid, algo='rmsprop', learning_rate=0.003,
              batch_size=32, max_updates=40, patience=2, validate_every=5)

    accuracy = net.score(*test)
    print('test accuracy: {:.3f} on {} digits'.format(accuracy, len(test[0])))

    predicted = net.predict(test[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'digits.pkl.gz')
        net.save(path)
        copy = theanets.Classifier.load(path)
    if not (copy.predict(test[0]) == predicted).all():
        raise SystemExit('the reloaded model predicts different labels')
    print('saved and reloaded: identical predictions for all {} test '
          'digits'.format(len(predicted)))

    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (test[1], predicted), 1)
    print('confusion matrix (rows: true digit, columns: predicted):')
    print(confusion)


if __name__ == '__main__':
    main()
