"""Cost per time step of a recurrent layer: Theano's C vs Python scan loop.

Compiles the loss and the gradients of a small recurrent regressor
(16 inputs -> LSTM(32) -> 10 outputs) and times one call for a few batch
sizes and sequence lengths, reporting microseconds per time step (forward
and backward pass). Run once per loop and compare::

    python benchmarks/scan_step.py --scan c
    python benchmarks/scan_step.py --scan python

Threads are set to 1 (``--threads``) so that BLAS threading does not
dominate the small matrix products. The LSTM runs through ``scan`` (the
script sets ``THEANETS_LSTM=scan``) unless ``--lstm fused`` asks for the
fused Ops of :mod:`theanets.ops`, which need no scan loop at all.
"""

import argparse
import os
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--scan', choices=('c', 'python'))
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--form', default='lstm')
    parser.add_argument('--lstm', choices=('scan', 'fused'), default='scan',
                        help='how an LSTM runs (default: scan)')
    args = parser.parse_args(argv)
    if args.scan:
        os.environ['THEANETS_SCAN'] = args.scan
    os.environ['THEANETS_LSTM'] = args.lstm
    for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(args.threads)

    import numpy as np
    import theanets
    import theano
    import theano.tensor as TT

    net = theanets.recurrent.Regressor(
        [16, dict(form=args.form, size=32), 10])
    loss = net.loss()
    fn = theano.function(net.variables, [loss] + TT.grad(loss, net.params))
    rng = np.random.RandomState(0)
    loop = '{} scan loop'.format(theanets.backend.info()['scan'])
    if args.form == 'lstm' and args.lstm == 'fused':
        loop = 'fused LSTM Ops'
    for batch, steps in ((1, 20), (1, 200), (32, 20)):
        x = rng.randn(batch, steps, 16).astype('f')
        y = rng.randn(batch, steps, 10).astype('f')
        fn(x, y)
        calls = max(20, 6000 // steps)
        best = float('inf')
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(calls):
                fn(x, y)
            best = min(best, (time.perf_counter() - start) / calls)
        print('{}, {}, batch {:2d}, {:3d} steps: {:7.1f} us per '
              'call, {:6.1f} us per step'.format(
                  loop, args.form, batch, steps, best * 1e6,
                  best * 1e6 / steps))


if __name__ == '__main__':
    main()
