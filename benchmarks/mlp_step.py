"""One MLP training step against its GEMMs alone, best of many steps.

The training step of ``mlp.py`` (784-256-256-10 relu, softmax,
cross-entropy, SGD with momentum 0.9, batches of 64, float32) timed three
ways, batch by batch, in one process:

* ``step``: theanets' compiled training function, called as theanets'
  epoch loop calls it;
* ``vm``: the same function's virtual machine, with its inputs put into
  its storage by hand (what remains without Theano's Python call
  overhead);
* ``gemms``: only the step's eight matrix products, through
  ``cblas_sgemm`` of the BLAS Theano links (see ``mlp.py``'s roofline).

Each is timed on single steps, taking turns for ``--rounds`` rounds of 50
steps; the fastest and the tenth-fastest percentile of the steps are the
figures least disturbed by other processes on a shared machine, which is
what makes this script useful where whole epochs vary by tens of percent.
``gemms / step`` is the fraction of the roofline a step reaches.

Usage::

    python benchmarks/mlp_step.py [--rounds 40] [--threads 1]
"""

import argparse
import gc
import time

from common import add_common_arguments, set_threads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=40,
                        help='rounds of 50 steps per variant (default 40)')
    add_common_arguments(parser, threads=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.cold:
        from common import use_cold_theano_cache
        use_cold_theano_cache()

    import logging
    import numpy as np
    import theanets
    from theanets.backend import downhill
    import mlp
    logging.getLogger('theanets').setLevel(logging.WARNING)

    x, y = mlp.make_data(20000)
    net = theanets.Classifier([mlp.FEATURES, (mlp.HIDDEN, 'relu'),
                               (mlp.HIDDEN, 'relu'), mlp.CLASSES], rng=0)
    it = net.itertrain(
        [x, y], [x[:mlp.BATCH], y[:mlp.BATCH]], algo='sgd',
        momentum=mlp.MOMENTUM, learning_rate=0.01, batch_size=mlp.BATCH,
        validate_every=10 ** 6, patience=10 ** 6, min_improvement=0,
        max_updates=10 ** 9, progress=False)
    next(it)  # compiles the functions
    # The optimizer theanets built (held by the running generator).
    optimizer, = [o for o in gc.get_objects()
                  if isinstance(o, downhill.Optimizer)]
    step = optimizer.f_step
    machine = getattr(step, 'vm', None) or step.fn  # PyTensor / Theano
    storage = [c.storage for c in step.input_storage[:2]]

    sgemm = mlp._blas_sgemm(theanets.backend.info()['ldflags'])
    if sgemm is None:
        raise SystemExit('cannot call the BLAS Theano links through ctypes')
    rng = np.random.RandomState(0)
    sizes = (mlp.FEATURES, mlp.HIDDEN, mlp.HIDDEN, mlp.CLASSES)
    w = [rng.randn(a, b).astype('float32') * 0.05
         for a, b in zip(sizes[:-1], sizes[1:])]
    grads = [np.empty_like(v) for v in w]
    buffers = [np.empty((mlp.BATCH, s), 'float32')
               for s in sizes[1:] + sizes[1:3]]

    def gemms(xb, _):
        mlp.sgemm_step(sgemm, xb, w, grads, buffers)

    def vm(xb, yb):
        storage[0][0], storage[1][0] = xb, yb
        machine()

    batches = [(x[i:i + mlp.BATCH], y[i:i + mlp.BATCH])
               for i in range(0, len(x) - mlp.BATCH + 1, mlp.BATCH)]
    variants = dict(step=step, vm=vm, gemms=gemms)
    times = {name: [] for name in variants}
    clock = time.perf_counter
    k = 0
    for _ in range(args.rounds):
        for name, fn in variants.items():
            for _ in range(50):
                batch = batches[k % len(batches)]
                k += 1
                start = clock()
                fn(*batch)
                times[name].append(clock() - start)

    print('theanets on {} {}, {} thread(s), {} rounds of 50 steps; us per '
          'step'.format(theanets.backend.info()['backend'],
                        theanets.backend.info()['version'], args.threads,
                        args.rounds))
    summary = {}
    for name, values in times.items():
        values.sort()
        summary[name] = values[0], values[len(values) // 10]
        print('{:<6} fastest {:8.1f}   10th percentile {:8.1f}   median '
              '{:8.1f}'.format(name, 1e6 * values[0],
                               1e6 * values[len(values) // 10],
                               1e6 * values[len(values) // 2]))
    print('gemms / step: {:.3f} (fastest), {:.3f} (10th percentile)'.format(
        summary['gemms'][0] / summary['step'][0],
        summary['gemms'][1] / summary['step'][1]))


if __name__ == '__main__':
    main()
