#!/usr/bin/env python
"""Teach a recurrent network to recall the value it saw a few steps ago.

Each sequence is a run of random numbers in [-1, 1]; at every time step the
network must output the number it received ``DELAY`` steps earlier. The
sequences have different lengths, so they are padded to a common length to
form a ``(batch, time, features)`` array, and a **weighted** recurrent
regressor receives a third array of per-time-step weights:

* weight 1 where a target exists (from step ``DELAY`` to the end of the
  sequence),
* weight 0 on the first ``DELAY`` steps (nothing to recall yet) and on the
  padding after the end of each sequence.

Steps with weight 0 do not enter the loss. To make that visible, the padded
targets are filled with a junk value (``PAD_TARGET``): the model is scored
only where the weights are 1, and its outputs on padding stay far from the
junk it never had to fit. For contrast, the same model trained without
weights has to fit the junk as well and recalls the real values worse.

Run it from anywhere::

    python examples/sequence_memory.py
"""

import numpy as np

import theanets

DELAY = 2
MIN_LEN, MAX_LEN = 5, 10
PAD_TARGET = 5.0


def make_sequences(n, rng):
    """Create ``n`` padded recall sequences.

    Returns
    -------
    x, y, w : ndarray (n, MAX_LEN, 1), float32
        Inputs, targets and per-time-step weights.
    lengths : ndarray (n, )
        The true length of every sequence.
    """
    lengths = rng.randint(MIN_LEN, MAX_LEN + 1, size=n)
    x = np.zeros((n, MAX_LEN, 1), 'f')
    y = np.full((n, MAX_LEN, 1), PAD_TARGET, 'f')
    w = np.zeros((n, MAX_LEN, 1), 'f')
    for i, length in enumerate(lengths):
        x[i, :length, 0] = rng.uniform(-1, 1, size=length)
        y[i, DELAY:length, 0] = x[i, :length - DELAY, 0]
        w[i, DELAY:length, 0] = 1  # only these steps are trained and scored
    return x, y, w, lengths


def masked_rmse(net, x, y, w):
    """Root mean squared error over the steps whose weight is 1."""
    err = (net.predict(x) - y) ** 2
    return float(np.sqrt((w * err).sum() / w.sum()))


def main():
    rng = np.random.RandomState(1)
    x, y, w, lengths = make_sequences(300, rng)
    train = [x[:200], y[:200], w[:200]]
    valid = [x[200:], y[200:], w[200:]]

    net = theanets.recurrent.Regressor(
        [1, dict(form='rnn', size=10, activation='tanh'), 1], weighted=True)
    # the weights are the third variable, after the inputs and targets
    print('model variables:', [v.name for v in net.variables])
    print('rmse on valid steps before training: {:.3f}'.format(
        masked_rmse(net, *valid)))

    net.train(train, valid, algo='rmsprop', learning_rate=0.01,
              batch_size=20, max_updates=60, patience=5, validate_every=5,
              max_gradient_norm=1)

    print('rmse on valid steps after training: {:.3f}'.format(
        masked_rmse(net, *valid)))
    pad = w[200:] == 0
    pad[:, :DELAY] = False  # keep only the padding after each sequence
    pred = net.predict(valid[0])
    print('mean |prediction - junk target| on padding: {:.2f} '
          '(padding ignored: weight 0)'.format(
              float(np.abs(pred[pad] - PAD_TARGET).mean())))

    # For contrast: the same model without weights must also fit the junk
    # padding targets and the undefined first steps, which costs accuracy
    # where it matters.
    plain = theanets.recurrent.Regressor(
        [1, dict(form='rnn', size=10, activation='tanh'), 1])
    plain.train(train[:2], valid[:2], algo='rmsprop', learning_rate=0.01,
                batch_size=20, max_updates=60, patience=5, validate_every=5,
                max_gradient_norm=1)
    print('unweighted model, rmse on valid steps: {:.3f}'.format(
        masked_rmse(plain, *valid)))

    i = 0
    length = lengths[200 + i]
    print('example sequence of length {} (delay {}):'.format(length, DELAY))
    print('  input     ', ' '.join('{:5.2f}'.format(v)
                                   for v in valid[0][i, :length, 0]))
    print('  target    ', '      ' * DELAY + ' '.join(
        '{:5.2f}'.format(v) for v in valid[1][i, DELAY:length, 0]))
    print('  prediction', '      ' * DELAY + ' '.join(
        '{:5.2f}'.format(v) for v in pred[i, DELAY:length, 0]))


if __name__ == '__main__':
    main()
