"""Helpers shared by the benchmark scripts (thread counts, cold caches,
timing summaries). Import this before numpy: thread counts are read by the
BLAS library when it loads.
"""

import os
import statistics
import tempfile


def add_common_arguments(parser, threads=2):
    """Add ``--threads`` and ``--cold`` to an argument parser."""
    parser.add_argument('--threads', type=int, default=threads,
                        help='threads for BLAS and PyTorch (default {})'
                        .format(threads))
    parser.add_argument('--cold', action='store_true',
                        help='compile every Theano module from scratch, in '
                        'an empty compile directory')


def set_threads(threads):
    """Fix the thread counts of OpenBLAS, OpenMP and MKL.

    Must run before numpy (or anything that loads a BLAS) is imported.
    """
    for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(threads)


def use_cold_theano_cache():
    """Point Theano at a new, empty compile directory; return its path.

    Must run before theanets (which imports Theano) is imported.
    """
    path = tempfile.mkdtemp(prefix='theano-cold-')
    flags = os.environ.get('THEANO_FLAGS', '')
    os.environ['THEANO_FLAGS'] = ','.join(
        f for f in (flags, 'base_compiledir=' + path) if f)
    return path


def best_and_median(count, seconds):
    """Items per second from the fastest and from the median timing."""
    return count / min(seconds), count / statistics.median(seconds)
