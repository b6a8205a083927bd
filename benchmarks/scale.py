"""Scaling past one machine's memory (and, later, past one machine).

Each part runs side by side in one invocation and prints the ratio the
project tracks:

``--part grid`` (issue 13, benchmark a)
    A 16-candidate ``GridSearchCV`` over a
    :class:`theanets.estimators.TheanetsClassifier`, run sequentially in
    this process and then under ``joblib.parallel_backend('dask')`` on a
    ``LocalCluster`` of ``--workers`` processes; prints both wall times,
    their ratio and whether the two searches found identical scores. Both
    runs use a warm Theano compile cache (one fit in this process and one
    on every worker compile what the search needs before the timing), so
    the figures compare training, not gcc; the cluster's start-up time is
    printed separately.

``--part memmap`` (issue 13, benchmark b)
    The MLP of ``mlp.py`` (784 -> 256 relu -> 256 relu -> 10, SGD +
    momentum 0.9, batches of 64, float32) trained on a memory-mapped
    float32 dataset of ``--gigabytes`` (default 4) in a file under /tmp,
    read block by block (``theanets._lazy``), against the same model
    trained in memory on the first ``--subset`` rows of the same data.
    Each run is a fresh interpreter; the script prints examples/s of both
    (the fastest timed epoch, and the median), their ratio (target: the
    memmap run within 20% of in-memory speed) and the memmap run's peak
    resident memory (target: under 1 GB). The file is deleted afterwards.

Usage::

    python benchmarks/scale.py --part grid [--workers 2] [--threads 1]
                               [--rows 3000] [--grid-epochs 10]
    python benchmarks/scale.py --part memmap [--gigabytes 4] [--threads 1]
                               [--subset 100000] [--epochs 2]

The data file is written just before the runs, so it is read from the
page cache when there is memory to hold it (a warm disk), as in repeated
epochs of a real run on a machine with spare memory.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from common import add_common_arguments, set_threads

FEATURES = 784
HIDDEN = 256
CLASSES = 10
BATCH = 64
MOMENTUM = 0.9
LEARNING_RATE = 0.01
GIGABYTE = 2.0 ** 30

# ---------------------------------------------------------------------------
# part (b): training from a memory map

#: The run in a child process. argv: data folder, 'memmap' or 'memory',
#: rows (for 'memory': the subset), timed epochs. Prints a JSON object.
TRAIN_CHILD = r'''
import json, resource, sys, time
import numpy as np
import theanets

folder, mode, rows, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4])
BATCH, MOMENTUM, LEARNING_RATE = {batch}, {momentum}, {learning_rate}
x = np.load(folder + '/x.npy', mmap_mode='r')
y = np.load(folder + '/y.npy', mmap_mode='r')
if mode == 'memory':
    x, y = np.array(x[:rows]), np.array(y[:rows])
valid = [np.array(x[:BATCH]), np.array(y[:BATCH])]

def rss():
    with open('/proc/self/statm') as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()

net = theanets.Classifier([{features}, ({hidden}, 'relu'),
                           ({hidden}, 'relu'), {classes}], rng=0)
it = net.itertrain(
    [x, y], valid, algo='sgd', momentum=MOMENTUM,
    learning_rate=LEARNING_RATE, batch_size=BATCH, validate_every=10 ** 6,
    patience=10 ** 6, min_improvement=0, max_updates=10 ** 9,
    progress=False)
next(it)  # compiles and validates once, before the first epoch
baseline = rss()
times, loss = [], None
for _ in range(epochs):
    start = time.perf_counter()
    train, _ = next(it)
    times.append(time.perf_counter() - start)
    loss = float(train['loss'])
def peak_rss():
    # VmHWM starts afresh at exec; ru_maxrss would count the parent's pages
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024

peak = peak_rss()
json.dump(dict(rows=len(x), times=times, loss=loss, baseline=baseline,
               peak=peak), sys.stdout)
'''.format(batch=BATCH, momentum=MOMENTUM, learning_rate=LEARNING_RATE,
           features=FEATURES, hidden=HIDDEN, classes=CLASSES)


def write_dataset(folder, gigabytes, seed=0):
    """Write ``x.npy`` (float32, ``gigabytes`` of it) and ``y.npy`` (int32
    labels of a random linear teacher, as in ``mlp.py``); return rows."""
    import numpy as np
    rows = int(gigabytes * GIGABYTE // (FEATURES * 4))
    rng = np.random.RandomState(seed)
    teacher = rng.randn(FEATURES, CLASSES).astype('float32')
    x = np.lib.format.open_memmap(os.path.join(folder, 'x.npy'), mode='w+',
                                  dtype='float32', shape=(rows, FEATURES))
    y = np.lib.format.open_memmap(os.path.join(folder, 'y.npy'), mode='w+',
                                  dtype='int32', shape=(rows,))
    step = 65536
    for start in range(0, rows, step):
        part = rng.standard_normal((min(step, rows - start), FEATURES))
        part = part.astype('float32')
        x[start:start + len(part)] = part
        y[start:start + len(part)] = (part @ teacher).argmax(axis=1)
    x.flush()
    y.flush()
    del x, y
    return rows


def run_child(folder, mode, rows, epochs):
    out = subprocess.run(
        [sys.executable, '-c', TRAIN_CHILD, folder, mode, str(rows),
         str(epochs)], check=True, stdout=subprocess.PIPE,
        universal_newlines=True)
    result = json.loads(out.stdout)
    result['best'] = result['rows'] / min(result['times'])
    result['median'] = result['rows'] / sorted(result['times'])[
        len(result['times']) // 2]
    return result


def part_memmap(args):
    folder = tempfile.mkdtemp(prefix='theanets-scale-', dir='/tmp')
    try:
        start = time.perf_counter()
        rows = write_dataset(folder, args.gigabytes)
        size = os.path.getsize(os.path.join(folder, 'x.npy'))
        print('data: {:,} rows x {} float32 features = {:.2f} GB in {} '
              '(written in {:.0f} s); MLP {}-{}-{}-{}, SGD lr {:g} momentum '
              '{:g}, batch {}, {} thread(s)'.format(
                  rows, FEATURES, size / GIGABYTE, folder,
                  time.perf_counter() - start, FEATURES, HIDDEN, HIDDEN,
                  CLASSES, LEARNING_RATE, MOMENTUM, BATCH, args.threads))
        sys.stdout.flush()
        memory = run_child(folder, 'memory', min(args.subset, rows),
                           args.epochs + 1)
        mapped = run_child(folder, 'memmap', rows, args.epochs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    line = ('{:<22} {rows:>10,} rows  train {best:8.0f} ex/s (median '
            '{median:.0f}, loss {loss:.3f})  peak RSS {peak_mb:6.0f} MB '
            '(after compile {base_mb:.0f} MB)')
    for name, result in (('in memory (subset)', memory),
                         ('memory-mapped', mapped)):
        print(line.format(name, peak_mb=result['peak'] / 2 ** 20,
                          base_mb=result['baseline'] / 2 ** 20, **result))
    print()
    ratio = mapped['best'] / memory['best']
    print('memmap / in-memory training speed  {:5.2f}x   target >= 0.80x: '
          '{}'.format(ratio, 'met' if ratio >= 0.8 else 'NOT met'))
    peak = mapped['peak'] / GIGABYTE
    print('memmap run peak RSS                {:5.2f} GB  target < 1 GB: {}'
          .format(peak, 'met' if peak < 1 else 'NOT met'))


# ---------------------------------------------------------------------------
# part (a): a grid search on a dask LocalCluster against the sequential one

def grid_search(workers, threads, rows, epochs):
    """Time the sequential and the cluster search; return the figures."""
    import joblib
    import numpy as np
    from dask.distributed import Client, LocalCluster
    from sklearn.model_selection import GridSearchCV

    from theanets.estimators import TheanetsClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(rows, 20).astype('f')
    teacher = rng.randn(20, 4)
    y = (X @ teacher).argmax(axis=1)
    estimator = TheanetsClassifier(hidden_layers=(32,), max_updates=epochs,
                                   patience=epochs, random_state=0)
    grid = {'learning_rate': [0.001, 0.003, 0.01, 0.03],
            'batch_size': [16, 32, 64, 128]}

    def search(n_jobs):
        return GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs)

    estimator.fit(X[:100], y[:100])  # compile in this process
    start = time.perf_counter()
    sequential = search(1).fit(X, y)
    sequential_s = time.perf_counter() - start

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                           processes=True, dashboard_address=None,
                           env={'OMP_NUM_THREADS': str(threads),
                                'OPENBLAS_NUM_THREADS': str(threads)})
    client = Client(cluster)
    client.wait_for_workers(workers)
    startup_s = time.perf_counter() - start
    try:
        client.run(lambda: estimator.fit(X[:100], y[:100]) and None)
        start = time.perf_counter()
        with joblib.parallel_backend('dask'):
            parallel = search(None).fit(X, y)
        cluster_s = time.perf_counter() - start
    finally:
        client.close()
        cluster.close()
    same = all(np.array_equal(sequential.cv_results_[key],
                              parallel.cv_results_[key])
               for key in sequential.cv_results_ if key.startswith('split'))
    return dict(candidates=len(sequential.cv_results_['params']),
                fits=len(sequential.cv_results_['params']) * 3,
                sequential_s=sequential_s, cluster_s=cluster_s,
                startup_s=startup_s, same_scores=same)


def part_grid(args):
    figures = grid_search(args.workers, args.threads, args.rows,
                          args.grid_epochs)
    print('grid search: {candidates} candidates x 3 folds = {fits} fits, '
          '{} rows, {} epochs each'.format(args.rows, args.grid_epochs,
                                            **figures))
    print('sequential (1 process, {} BLAS thread(s)): {:.1f} s'.format(
        args.threads, figures['sequential_s']))
    print('LocalCluster ({} workers, {} thread(s) each): {:.1f} s '
          '(+ {:.1f} s to start the cluster)'.format(
              args.workers, args.threads, figures['cluster_s'],
              figures['startup_s']))
    print('speed-up: {:.2f}x; identical scores: {}'.format(
        figures['sequential_s'] / figures['cluster_s'],
        figures['same_scores']))


#: The parts ``--part`` chooses from.
PARTS = {'grid': part_grid, 'memmap': part_memmap}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--part', choices=sorted(PARTS), required=True,
                        help='which measurement to run')
    parser.add_argument('--gigabytes', type=float, default=4.0,
                        help='memmap: size of the memory-mapped inputs '
                        '(default 4)')
    parser.add_argument('--subset', type=int, default=100000,
                        help='memmap: rows of the in-memory run (default '
                        '100000)')
    parser.add_argument('--epochs', type=int, default=2,
                        help='memmap: timed epochs over the memory map (the '
                        'in-memory run times one more; default 2)')
    parser.add_argument('--workers', type=int, default=2,
                        help='grid: worker processes of the cluster '
                        '(default 2)')
    parser.add_argument('--rows', type=int, default=3000,
                        help='grid: training rows of the search (default '
                        '3000)')
    parser.add_argument('--grid-epochs', type=int, default=10,
                        help='grid: max_updates of every fit (default 10)')
    add_common_arguments(parser, threads=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.cold:
        from common import use_cold_theano_cache
        use_cold_theano_cache()
    PARTS[args.part](args)


if __name__ == '__main__':
    main()
