"""Peak memory of training the benchmark MLP on 60,000 x 784 float32 rows.

A fresh interpreter imports theanets, builds the 784-256-256-10 relu
classifier of ``mlp.py`` and compiles its training function on a few rows
(so that compiled code and Theano's own allocations are part of the
baseline), records its resident memory, then creates the training data and
trains (SGD + momentum, batch 64, validating on a held-out tenth of the
rows). The script reports the peak resident memory above that baseline
and its ratio to the bytes that must be in memory: the data plus the
parameters. The project's target is a ratio under 2.

Usage::

    python benchmarks/memory.py [--rows 60000] [--epochs 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from common import set_threads

CHILD = r'''
import json, resource, sys
import numpy as np
import theanets

def rss():
    with open('/proc/self/statm') as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

rows, epochs = int(sys.argv[1]), int(sys.argv[2])
net = theanets.Classifier([784, (256, 'relu'), (256, 'relu'), 10], rng=0)
warm = np.zeros((128, 784), 'float32'), np.zeros(128, 'int32')
net.train(warm, algo='sgd', momentum=0.9, batch_size=64, max_updates=1,
          progress=False)
base, base_peak = rss(), peak()
rng = np.random.default_rng(0)
x = rng.standard_normal((rows, 784), dtype=np.float32)
y = (x[:, :10] + x[:, 10:20]).argmax(axis=1).astype('int32')
cut = rows * 9 // 10
for _ in zip(range(epochs), net.itertrain(
        [x[:cut], y[:cut]], [x[cut:], y[cut:]], algo='sgd', momentum=0.9,
        learning_rate=0.01, batch_size=64, progress=False)):
    pass
accuracy = float((net.predict(x[cut:]) == y[cut:]).mean())
params = sum(p.get_value(borrow=True).nbytes for p in net.params)
json.dump(dict(baseline=base, baseline_peak=base_peak, peak=peak(),
               data=x.nbytes + y.nbytes, params=params,
               accuracy=accuracy), sys.stdout)
'''

MB = 2.0 ** 20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', type=int, default=60000)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--compiledir', help='Theano base_compiledir for '
                        'the child (default: a new temporary directory)')
    args = parser.parse_args(argv)
    set_threads(args.threads)
    os.environ['THEANO_FLAGS'] = 'base_compiledir=' + (
        args.compiledir or tempfile.mkdtemp(prefix='theano-memory-'))
    proc = subprocess.run(
        [sys.executable, '-c', CHILD, str(args.rows), str(args.epochs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True)
    if proc.returncode:
        sys.exit(proc.stderr)
    r = json.loads(proc.stdout)
    needed = r['data'] + r['params']
    above = r['peak'] - r['baseline']
    print('rows {}, {} epochs: data {:.1f} MB + parameters {:.1f} MB = '
          '{:.1f} MB'.format(args.rows, args.epochs, r['data'] / MB,
                             r['params'] / MB, needed / MB))
    print('process: {:.1f} MB resident after import + build + compile '
          '(peak so far {:.1f} MB), peak while training {:.1f} MB; '
          'validation accuracy {:.3f}'.format(
              r['baseline'] / MB, r['baseline_peak'] / MB, r['peak'] / MB,
              r['accuracy']))
    ratio = above / needed
    print('peak above baseline: {:.1f} MB = {:.2f}x (data + parameters); '
          'target < 2x: {}'.format(above / MB, ratio,
                                   'met' if ratio < 2 else 'NOT met'))
    print('whole-process peak: {:.1f} MB = {:.2f}x (data + parameters)'
          .format(r['peak'] / MB, r['peak'] / needed))


if __name__ == '__main__':
    main()
