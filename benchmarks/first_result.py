"""Time to first result: how long a new user waits for a tiny classifier.

Each measurement runs in a fresh Python interpreter and times four phases:

1. ``import theanets`` (imports and configures Theano),
2. building ``theanets.Classifier([10, (20, 'tanh'), 5])``,
3. the first training epoch (``next(net.itertrain(...))``: compiles the
   validation and training functions, validates once, trains one epoch of
   100 examples),
4. the first ``predict`` (compiles the prediction function).

It does this twice against one Theano compile directory: first **cold**
(the directory is new and empty, so every C module is compiled by gcc, as
on a fresh install) and then **warm** (a second process finds every module
in the cache, as on any later run).

Usage::

    python benchmarks/first_result.py [--runs 1] [--threads 1]
    python benchmarks/first_result.py --warm-only   # use ~/.theano as is
"""

import argparse
import json
import subprocess
import sys
import time

from common import add_common_arguments, set_threads, use_cold_theano_cache

CHILD = r'''
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import theanets
t1 = time.perf_counter()
rng = np.random.RandomState(13)
x = rng.randn(100, 10).astype('float32')
y = rng.randint(0, 5, size=100).astype('int32')
net = theanets.Classifier([10, (20, 'tanh'), 5])
t2 = time.perf_counter()
train, valid = next(net.itertrain([x, y], algo='sgd', batch_size=10,
                                  progress=False))
t3 = time.perf_counter()
accuracy = float((net.predict(x) == y).mean())
t4 = time.perf_counter()
json.dump(dict(imports=t1 - t0, build=t2 - t1, first_epoch=t3 - t2,
               first_predict=t4 - t3, total=t4 - t0,
               loss=float(train['loss']), accuracy=accuracy), sys.stdout)
'''

PHASES = ('imports', 'build', 'first_epoch', 'first_predict', 'total')


def run_child():
    """Run the timed script in a new interpreter; return its timings."""
    wall = time.perf_counter()
    out = subprocess.run([sys.executable, '-c', CHILD], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True).stdout
    timings = json.loads(out)
    timings['process'] = time.perf_counter() - wall
    return timings


def report(label, timings):
    print('{:<6} {}   process {:6.1f} s'.format(label, '  '.join(
        '{} {:6.2f} s'.format(phase, timings[phase]) for phase in PHASES),
        timings['process']))
    sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=1,
                        help='cold/warm pairs to measure (default 1)')
    parser.add_argument('--warm-only', action='store_true',
                        help='only measure warm runs, with the Theano cache '
                        'the environment already uses')
    add_common_arguments(parser, threads=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    # Original theanets (issue figures): 163 s cold, 24 s warm.
    targets = dict(cold=0.25 * 163, warm=0.25 * 24)
    totals = dict(cold=[], warm=[])
    for _ in range(args.runs):
        if not args.warm_only:
            path = use_cold_theano_cache()
            print('compile directory:', path)
            cold = run_child()
            report('cold', cold)
            totals['cold'].append(cold['total'])
        warm = run_child()
        report('warm', warm)
        totals['warm'].append(warm['total'])
    print()
    for kind in ('cold', 'warm'):
        if totals[kind]:
            best = min(totals[kind])
            print('{}: {:.1f} s to the first prediction; target <= {:.1f} s '
                  '(0.25x theanets 0.8): {}'.format(
                      kind, best, targets[kind],
                      'met' if best <= targets[kind] else 'NOT met'))


if __name__ == '__main__':
    main()
