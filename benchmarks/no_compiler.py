"""How much slower theanets trains when Theano has no C++ compiler.

Without a compiler (no ``g++`` found, or ``THEANO_FLAGS=cxx=``) Theano runs
every graph with its Python implementations. This script trains the same
models in fresh interpreters with the default flags and with ``cxx=``
(empty), one after the other, and prints the ratio of the times:

* ``digits``: the classifier of ``examples/digits.py`` (64-100-10, tanh,
  rmsprop, mini-batches of 32 over the 1,200 training digits);
* ``lstm``: a small sequence regressor (8 inputs, LSTM of 32 units, 20 time
  steps, 256 sequences, mini-batches of 16).

For each it reports the median time of an epoch, once the functions are
compiled, and the time to the first finished epoch (import not included).
The figure is the one quoted in the warning theanets logs when it finds no
compiler.

Usage::

    python benchmarks/no_compiler.py [--epochs 6] [--threads 1]
"""

import argparse
import json
import os
import subprocess
import sys

from common import add_common_arguments, set_threads

CHILD = r'''
import json, os, statistics, sys, time
import numpy as np
import theanets
model, epochs = sys.argv[1], int(sys.argv[2])
rng = np.random.RandomState(13)
if model == 'digits':
    with np.load(os.path.join('examples', 'data', 'digits.npz')) as data:
        x = (data['x'][:1200] / 16.0).astype('f')
        y = data['y'][:1200].astype('i')
    net = theanets.Classifier([64, (100, 'tanh'), 10])
    kwargs = dict(algo='rmsprop', learning_rate=0.003, batch_size=32)
    train = [x, y]
else:
    x = rng.randn(256, 20, 8).astype('f')
    y = rng.randn(256, 20, 4).astype('f')
    net = theanets.recurrent.Regressor([8, (32, 'lstm'), 4])
    kwargs = dict(algo='rmsprop', learning_rate=0.003, batch_size=16)
    train = [x, y]
start = time.perf_counter()
stamps = []
for _ in net.itertrain(train, validate_every=1000, patience=1000,
                       progress=False, **kwargs):
    stamps.append(time.perf_counter())
    if len(stamps) > epochs:
        break
epoch = statistics.median(b - a for a, b in zip(stamps[1:], stamps[2:]))
print(json.dumps(dict(first=stamps[0] - start, epoch=epoch,
                      cxx=theanets.backend.theano.config.cxx)))
'''


def run(model, epochs, no_compiler):
    env = dict(os.environ)
    flags = env.get('THEANO_FLAGS', '')
    if no_compiler:
        env['THEANO_FLAGS'] = ','.join(f for f in (flags, 'cxx=') if f)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (root, env.get('PYTHONPATH')) if p)
    proc = subprocess.run(
        [sys.executable, '-c', CHILD, model, str(epochs)], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_arguments(parser, threads=1)
    parser.add_argument('--epochs', type=int, default=6,
                        help='epochs timed after the first (default 6)')
    parser.add_argument('--models', default='digits,lstm',
                        help='comma-separated: digits, lstm')
    args = parser.parse_args()
    set_threads(args.threads)
    for model in args.models.split(','):
        with_cxx = run(model, args.epochs, no_compiler=False)
        without = run(model, args.epochs, no_compiler=True)
        assert with_cxx['cxx'] and not without['cxx']
        print('{:7s} epoch: {:8.3f} s with g++, {:8.3f} s without: {:5.1f}x '
              'slower; first epoch: {:6.2f} s vs {:6.2f} s ({:.1f}x)'.format(
                  model, with_cxx['epoch'], without['epoch'],
                  without['epoch'] / with_cxx['epoch'], with_cxx['first'],
                  without['first'], without['first'] / with_cxx['first']))
        sys.stdout.flush()


if __name__ == '__main__':
    main()
