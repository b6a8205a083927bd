"""Scaling out with Dask.

Part ``grid`` (a): a 16-candidate ``GridSearchCV`` over a
:class:`theanets.estimators.TheanetsClassifier`, run sequentially in this
process and then under ``joblib.parallel_backend('dask')`` on a
``LocalCluster`` of worker processes; prints both wall times, their ratio
and whether the two searches found identical scores.

Both runs use a warm Theano compile cache (``~/.theano``, or the
``base_compiledir`` of ``THEANO_FLAGS``): one fit in this process and one
on every worker compile what the search needs before the timing starts, so
the figures compare training, not gcc. The time to start the cluster is
printed separately.

Usage::

    python benchmarks/scale.py --part grid [--workers 2] [--threads 1]
"""

import argparse
import time

from common import set_threads


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--part', choices=['grid'], default='grid',
                        help='what to measure (grid: a grid search on a '
                        'LocalCluster against the sequential search)')
    parser.add_argument('--workers', type=int, default=2,
                        help='worker processes of the cluster (default 2)')
    parser.add_argument('--threads', type=int, default=1,
                        help='BLAS threads of this process and of each '
                        'worker (default 1)')
    parser.add_argument('--rows', type=int, default=3000,
                        help='training rows of the grid search (default '
                        '3000)')
    parser.add_argument('--epochs', type=int, default=10,
                        help='max_updates of every fit (default 10)')
    args = parser.parse_args()
    set_threads(args.threads)
    if args.part == 'grid':
        figures = grid_search(args.workers, args.threads, args.rows,
                              args.epochs)
        print('grid search: {candidates} candidates x 3 folds = {fits} fits, '
              '{} rows, {} epochs each'.format(args.rows, args.epochs,
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


if __name__ == '__main__':
    main()
