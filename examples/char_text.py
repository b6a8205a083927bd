#!/usr/bin/env python
"""Train a character-level GRU language model and let it write.

The text is the opening of the United States Declaration of Independence
(1776, public domain), shipped as ``data/declaration.txt``. A
:class:`theanets.recurrent.Text` object maps its characters to integer
codes; :meth:`~theanets.recurrent.Text.classifier_batches` cuts random
windows out of it, one-hot encodes the characters and pairs every step
with the code of the character that follows. A recurrent classifier with
one GRU layer learns to predict that next character.

After training the script prints the next-character accuracy on held-out
windows and two continuations of a seed phrase:

* ``most likely``: at each step the model reads the seed plus everything
  written so far and the most probable next character is appended;
* ``predict_sequence``: samples from
  :meth:`theanets.recurrent.Classifier.predict_sequence`. For compatibility
  with theanets 0.8 that method evaluates its whole working array, whose
  not-yet-written positions are still empty (all-zero inputs), and samples
  the distribution of the array's *last* time step; the model never saw
  empty inputs while training, so these samples are much rougher than the
  model's real next-character predictions.

Run it from anywhere::

    python examples/char_text.py
"""

import os

import numpy as np

import theanets

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 'We hold these truths '


def load_text():
    """Read the text, with runs of whitespace collapsed to one space."""
    with open(os.path.join(HERE, 'data', 'declaration.txt')) as handle:
        return ' '.join(handle.read().split())


def most_likely(net, txt, seed, length):
    """Extend ``seed`` by the most probable character, ``length`` times."""
    codes = txt.encode(seed)
    width = 1 + len(txt.alpha)
    for _ in range(length):
        x = np.zeros((1, len(codes), width), 'f')
        x[0, np.arange(len(codes)), codes] = 1
        codes.append(int(net.predict_proba(x)[0, -1].argmax()))
    return txt.decode(codes[len(seed):])


def main():
    txt = theanets.recurrent.Text(load_text(), min_count=2)
    width = 1 + len(txt.alpha)  # code 0 is the "unknown character"
    print('text: {} characters, alphabet of {}'.format(
        len(txt.text), len(txt.alpha)))

    net = theanets.recurrent.Classifier(
        [width, dict(form='gru', size=64), width])
    train = txt.classifier_batches(steps=30, batch_size=32, rng=1)
    valid = txt.classifier_batches(steps=30, batch_size=32, rng=2)
    net.train(train, valid, algo='adam', learning_rate=0.01,
              max_gradient_norm=1, train_batches=10, valid_batches=4,
              max_updates=35, validate_every=5, patience=10)

    inputs, labels = valid()
    print('next-character accuracy on held-out windows: {:.3f}'.format(
        net.score(inputs, labels)))

    print('seed:             {!r}'.format(SEED))
    print('most likely:      {!r}'.format(most_likely(net, txt, SEED, 60)))
    sampled = net.predict_sequence(txt.encode(SEED), 60, rng=3)
    print('predict_sequence: {!r}'.format(txt.decode(sampled)))


if __name__ == '__main__':
    main()
