#!/usr/bin/env python
"""Learn the exclusive-or function with a small classifier.

XOR is the classic problem that no linear model can solve: the two classes
sit on opposite corners of the unit square. One hidden layer is enough.
"""

import numpy as np

import theanets

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], 'f')
Y = np.array([0, 1, 1, 0], 'i')


def main():
    net = theanets.Classifier([2, (8, 'tanh'), 2])
    net.train([X, Y], algo='rmsprop', learning_rate=0.05, batch_size=4,
              max_updates=300, patience=100)

    for x, p in zip(X, net.predict_proba(X)):
        print('{:.0f} xor {:.0f} -> {:d}  (p = {:.3f})'.format(
            x[0], x[1], int(p.argmax()), p.max()))
    print('accuracy: {:.2f}'.format(net.score(X, Y)))


if __name__ == '__main__':
    main()
