"""Cold start: time to a first result on an empty compile cache, per lever.

Each measurement runs in a fresh interpreter with a new, empty compile
directory (as on a fresh install) and times ``import theanets``, building
``theanets.Classifier([20, (32, 'relu'), 3])``, its first training epoch on
100 rows (``next(net.itertrain(...))``, which compiles the validation and
training functions) and the first ``predict``. The variants run one after
the other in each round, so a change in the machine's load hits all of
them:

``backend``
    the backend's own way: one ``g++ -g`` run after the other, every module
    parsing its headers (``THEANETS_COMPILE_JOBS=1 THEANETS_PCH=0
    THEANETS_DEBUG_INFO=1``);
``no-debug-info``
    without debug information (``-g0``) only;
``pch``
    with theanets' precompiled header only;
``parallel``
    modules compiled in parallel only;
``no-batch``
    the three above: one ``g++`` run per module (``THEANETS_BATCH_COMPILE=0``,
    theanets' default before batches);
``theanets``
    the three and modules compiled in batches, several per ``g++`` run
    (the default);
``python-linker``
    Theano's Python linker (``linker=py``: no C at all), for comparison.

The child is ``first_result.py``'s; it also prints a digest of the trained
parameters and the loss, so the table shows which variants compute the
same numbers.

Before the first run the script compiles theanets' modules to bytecode
(as ``pip install`` does), so that no child pays for compiling them
where ``PYTHONDONTWRITEBYTECODE`` is set.

Usage::

    python benchmarks/cold_start.py [--rounds 2] [--threads 1]
        [--variants backend,theanets]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import compile_bytecode, set_threads
from first_result import CHILD


_ONE_LEVER = dict(THEANETS_COMPILE_JOBS='1', THEANETS_PCH='0',
                  THEANETS_DEBUG_INFO='1', THEANETS_BATCH_COMPILE='0')


def _only(variable):
    """The environment of a variant with the lever of ``variable`` only."""
    return {k: v for k, v in _ONE_LEVER.items() if k != variable}


VARIANTS = {
    'backend': dict(env=dict(_ONE_LEVER)),
    'no-debug-info': dict(env=_only('THEANETS_DEBUG_INFO')),
    'pch': dict(env=_only('THEANETS_PCH')),
    'parallel': dict(env=_only('THEANETS_COMPILE_JOBS')),
    'no-batch': dict(env=dict(THEANETS_BATCH_COMPILE='0')),
    'theanets': dict(env={}),
    'python-linker': dict(env={}, flags='linker=py'),
}

#: theanets 0.8 on this task, as measured when issue 15 was filed (it does
#: not run on Python 3.11, so it is not re-measured here).
THEANETS_08_COLD = 23.1


def run_child(variant):
    """One cold run of a variant in a new interpreter; its timings."""
    settings = VARIANTS[variant]
    env = dict(os.environ)
    for variable in _ONE_LEVER:
        env.pop(variable, None)
    env.update(settings['env'])
    base = tempfile.mkdtemp(prefix='theanets-cold-')
    flags = ['base_compiledir=' + base]
    if settings.get('flags'):
        flags.append(settings['flags'])
    # THEANO_FLAGS reaches both backends: theanets reads it for PyTensor
    env['THEANO_FLAGS'] = ','.join(
        f for f in [env.get('THEANO_FLAGS', '')] + flags if f)
    if settings.get('flags'):
        env['PYTENSOR_FLAGS'] = ','.join(
            f for f in [env.get('PYTENSOR_FLAGS', ''), settings['flags']]
            if f)
    wall = time.perf_counter()
    out = subprocess.run([sys.executable, '-c', CHILD], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        return dict(error=out.stderr.strip().splitlines()[-1][:200])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result['process'] = time.perf_counter() - wall
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1,
                        help='BLAS threads of the children (default 1)')
    parser.add_argument('--variants', default=','.join(VARIANTS),
                        help='comma-separated subset of: {}'.format(
                            ', '.join(VARIANTS)))
    args = parser.parse_args(argv)
    set_threads(args.threads)
    compile_bytecode()
    variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error('unknown variants: {}'.format(', '.join(unknown)))
    results = {v: [] for v in variants}
    for round_ in range(args.rounds):
        for variant in variants:
            result = run_child(variant)
            results[variant].append(result)
            if 'error' in result:
                print('round {} {:<14} failed: {}'.format(
                    round_ + 1, variant, result['error']), flush=True)
                continue
            print('round {} {:<14} {:>7.2f} s  (import {:.2f}, first epoch '
                  '{:.2f}, predict {:.2f})  loss {} params {}'.format(
                      round_ + 1, variant, result['total'],
                      result['imports'], result['first_epoch'],
                      result['first_predict'], result['loss'],
                      result['digest']), flush=True)
    print()
    backend = next((r['backend'] for rs in results.values() for r in rs
                    if 'backend' in r), '?')
    print('backend: {}; load average {:.2f}'.format(
        backend, os.getloadavg()[0]))
    base = [r['total'] for r in results.get('backend', []) if 'total' in r]
    print('{:<14} {:>9} {:>9} {:>13} {:>12}'.format(
        'variant', 'best s', 'median s', 'vs backend', 'vs 0.8 23.1 s'))
    for variant in variants:
        totals = [r['total'] for r in results[variant] if 'total' in r]
        if not totals:
            print('{:<14} failed'.format(variant))
            continue
        ratio = ('{:.2f}x'.format(min(totals) / min(base)) if base else '')
        print('{:<14} {:>9.2f} {:>9.2f} {:>13} {:>11.2f}x'.format(
            variant, min(totals), statistics.median(totals), ratio,
            min(totals) / THEANETS_08_COLD))


if __name__ == '__main__':
    main()
