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


def compile_bytecode():
    """Compile theanets' modules to bytecode, as ``pip install`` does.

    The start-up benchmarks run theanets from the source tree. Where
    ``PYTHONDONTWRITEBYTECODE`` is set (as on the machine these notes were
    written on), every process would compile all of theanets' modules from
    source again, a cost that an installed theanets never pays. Returns the
    number of files that failed to compile (0 normally).
    """
    import compileall
    package = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'theanets')
    return 0 if compileall.compile_dir(package, quiet=1) else 1


def best_and_median(count, seconds):
    """Items per second from the fastest and from the median timing."""
    return count / min(seconds), count / statistics.median(seconds)


def latency(fn, repeats, warmup=3):
    """Fastest and median seconds per call of ``fn``, after ``warmup``
    untimed calls."""
    import time
    for _ in range(warmup):
        fn()
    times = []
    clock = time.perf_counter
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times), statistics.median(times)


def add_peer_python_argument(parser):
    """Add ``--torch-python``: where PyTorch runs when it is not here.

    PyTorch's CPU build exists for some Pythons only (on the machine these
    notes were written on, 3.11), while theanets' PyTensor backend runs on
    3.12+. With this option the PyTorch measurements of a script run in
    that other interpreter, within the same invocation and interleaved with
    theanets' runs, so both see the same machine load.
    """
    parser.add_argument(
        '--torch-python', metavar='PYTHON',
        help='interpreter that has PyTorch, when this one has none; the '
        'PyTorch runs happen there, in this same invocation')


def call_in_python(python, script, function, threads, **kwargs):
    """Call ``function(**kwargs)`` of a benchmark script in another Python.

    Parameters
    ----------
    python : str
        The interpreter to run it in.
    script : str
        Path of the benchmark script that defines ``function``.
    function : str
        Name of a module-level function of that script; it must return
        something JSON can encode (numbers, strings, lists, dicts).
    threads : int
        BLAS / PyTorch threads in the child (set before numpy loads).
    **kwargs
        Keyword arguments; numpy arrays travel through a temporary
        ``.npz`` file, everything else as JSON.

    Returns
    -------
    The function's return value, decoded from JSON.
    """
    import json
    import subprocess
    import numpy as np

    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    plain = {k: v for k, v in kwargs.items() if k not in arrays}
    with tempfile.TemporaryDirectory(prefix='bench-peer-') as tmp:
        npz = os.path.join(tmp, 'arrays.npz')
        np.savez(npz, **arrays)
        child = (
            'import json, os, runpy, sys\n'
            'sys.path.insert(0, {here!r})\n'
            'from common import set_threads\n'
            'set_threads({threads})\n'
            'import numpy as np\n'
            'kwargs = json.loads({plain!r})\n'
            'with np.load({npz!r}) as arrays:\n'
            '    kwargs.update({{k: arrays[k] for k in arrays.files}})\n'
            'namespace = runpy.run_path({script!r})\n'
            'result = namespace[{function!r}](**kwargs)\n'
            'sys.stdout.write("\\n" + json.dumps(result) + "\\n")\n'
        ).format(here=os.path.dirname(os.path.abspath(__file__)),
                 threads=int(threads), plain=json.dumps(plain), npz=npz,
                 script=os.path.abspath(script), function=function)
        out = subprocess.run([python, '-c', child], capture_output=True,
                             text=True)
    if out.returncode:
        raise SystemExit('{} {} failed in {}:\n{}'.format(
            script, function, python, out.stderr[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])
