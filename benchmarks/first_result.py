"""Time to first result: how long a new user waits for a tiny classifier.

Each measurement runs in a fresh Python interpreter (this one: Theano on
Python 3.11, PyTensor on 3.12+) and times four phases:

1. ``import theanets`` (imports and configures the backend),
2. building ``theanets.Classifier([20, (32, 'relu'), 3])``,
3. the first training epoch (``next(net.itertrain([x, y], algo='sgd',
   batch_size=10, progress=False))`` on 100 rows: compiles the validation
   and training functions, validates once, trains one epoch),
4. the first ``predict`` (compiles the prediction function).

By default it does this against one new compile directory: first **cold**
(the directory is empty, so every C module is compiled, as on a fresh
install) and then **warm** (later processes find every module cached). The
warm runs of each round alternate: everything on, without theanets'
compile-cache index (``THEANETS_CACHE_INDEX=off``) and without its cache of
optimised graphs (``THEANETS_GRAPH_CACHE=0``).

Before the first run the script compiles theanets' modules to bytecode
(as ``pip install`` does), so that no child pays for compiling them
where ``PYTHONDONTWRITEBYTECODE`` is set.

A warm start also pays for the size of the cache: the backend reads the
keys of every module in it unless the index is on. ``--build-cache N``
first fills a new compile directory with the modules of N distinct small
graphs (as a developer's cache fills over months), and ``--large-cache
DIR`` copies an existing compile directory (e.g. ``~/.theano/compiledir_*``
of this backend) to a scratch place; the classifier's runs then use that
large cache.

Usage::

    python benchmarks/first_result.py [--runs 3] [--threads 1]
    python benchmarks/first_result.py --build-cache 300
    python benchmarks/first_result.py --large-cache ~/.theano/compiledir_...
    python benchmarks/first_result.py --warm-only   # the cache in use as is
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from common import (add_common_arguments, compile_bytecode, set_threads,
                    use_cold_theano_cache)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r'''
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
import theanets
t1 = time.perf_counter()
rng = np.random.RandomState(13)
x = rng.randn(100, 20).astype('float32')
y = rng.randint(0, 3, size=100).astype('int32')
net = theanets.Classifier([20, (32, 'relu'), 3])
t2 = time.perf_counter()
train, valid = next(net.itertrain([x, y], algo='sgd', batch_size=10,
                                  progress=False))
t3 = time.perf_counter()
accuracy = float((net.predict(x) == y).mean())
t4 = time.perf_counter()
used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                            resource.RUSAGE_CHILDREN)]
from theanets import _compile_cache, _graph_cache, backend
cache = _compile_cache.module_cache()
graphs = _graph_cache.installed().statistics
import hashlib
digest = hashlib.sha256(b''.join(
    p.get_value().tobytes() for p in net.params)).hexdigest()[:12]
json.dump(dict(imports=t1 - t0, build=t2 - t1, first_epoch=t3 - t2,
               first_predict=t4 - t3, total=t4 - t0,
               cpu=sum(u.ru_utime + u.ru_stime for u in used),
               loss=float(train['loss']), accuracy=accuracy, digest=digest,
               backend=backend.name(), compiled=cache.stats[2],
               keys_read=len(cache.loaded_key_pkl),
               graphs_read=graphs['hits'],
               rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
               / 1024.0), sys.stdout)
'''

#: Compiles graphs ``start`` to ``stop`` of a family of distinct small
#: elementwise graphs (their constants differ, so each is its own module).
FILLER = r'''
import sys
from theanets.backend import theano, TT
start, stop = int(sys.argv[1]), int(sys.argv[2])
x = TT.matrix('x')
for i in range(start, stop):
    theano.function([x], TT.tanh(x * (1.0 + i / 1000.0) + i / 7.0))
'''

PHASES = ('imports', 'build', 'first_epoch', 'first_predict', 'total')

#: ``total`` is wall time to the first prediction; ``CPU`` the processor
#: time (the process and its gcc children) until then, which other load on
#: the machine changes less.

#: theanets 0.8 on this task, measured when the issue was filed (seconds).
REFERENCE = dict(cold=23.1, warm=6.2)

#: Targets: cold 0.25x of theanets 0.8; warm 0.5 s.
TARGETS = dict(cold=0.25 * REFERENCE['cold'], warm=0.5)


#: The warm variants: label, totals' name and the environment they set.
WARM_VARIANTS = (
    ('warm', 'warm', {}),
    ('warm, no index', 'unindexed', dict(THEANETS_CACHE_INDEX='off')),
    ('warm, no graphs', 'ungraphed', dict(THEANETS_GRAPH_CACHE='0')),
)


def child_env(**settings):
    """The environment of a child: theanets' levers on but for
    ``settings``."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    for _, _, variant in WARM_VARIANTS:
        for name in variant:
            env.pop(name, None)
    env.update(settings)
    return env


def run_child(**settings):
    """Run the timed script in a new interpreter; return its timings."""
    wall = time.perf_counter()
    out = subprocess.run([sys.executable, '-c', CHILD], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=child_env(**settings), universal_newlines=True,
                         cwd=ROOT).stdout
    timings = json.loads(out)
    timings['process'] = time.perf_counter() - wall
    return timings


def report(label, timings):
    print('{:<14} {}   CPU {:5.2f} s  process {:5.2f} s  compiled {:3d}  '
          'key files read {:5d}  graphs read {:2d}  peak RSS {:4.0f} MB'
          .format(label, '  '.join(
              '{} {:5.2f} s'.format(phase, timings[phase])
              for phase in PHASES), timings['cpu'], timings['process'],
              timings['compiled'], timings['keys_read'],
              timings['graphs_read'], timings['rss_mb']))
    sys.stdout.flush()


def compile_directory():
    """The compile directory the backend uses in a child, and its modules."""
    code = ('from theanets.backend import theano; import os; '
            'd = theano.config.compiledir; print(d); '
            'print(sum(n.startswith("tmp") for n in os.listdir(d)) '
            'if os.path.isdir(d) else 0)')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=child_env(), universal_newlines=True,
                         cwd=ROOT).stdout.split()
    return out[-2], int(out[-1])


def fill_cache(count, workers=2):
    """Compile ``count`` distinct small graphs into the compile directory."""
    bounds = [count * i // workers for i in range(workers + 1)]
    procs = [subprocess.Popen([sys.executable, '-c', FILLER, str(lo),
                               str(hi)], env=child_env(), cwd=ROOT,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for lo, hi in zip(bounds, bounds[1:])]
    for proc in procs:
        if proc.wait():
            raise SystemExit('filling the compile cache failed')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=3,
                        help='warm runs of each kind (default 3)')
    parser.add_argument('--warm-only', action='store_true',
                        help='only measure warm runs, with the compile '
                        'cache the environment already uses')
    parser.add_argument('--build-cache', type=int, metavar='N',
                        help='first fill a new compile directory with the '
                        'modules of N distinct small graphs')
    parser.add_argument('--large-cache', metavar='DIR',
                        help='measure against a scratch copy of the compile '
                        'directory DIR')
    add_common_arguments(parser, threads=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    compile_bytecode()
    totals = dict(cold=[], **{name: [] for _, name, _ in WARM_VARIANTS})
    large = args.build_cache or args.large_cache
    if not args.warm_only:
        base = use_cold_theano_cache()
        if args.large_cache:
            source = os.path.abspath(os.path.expanduser(args.large_cache))
            started = time.perf_counter()
            shutil.copytree(source, os.path.join(
                base, os.path.basename(source.rstrip(os.sep))),
                ignore=shutil.ignore_patterns('lock_dir', 'theanets_*'))
            print('copied {} in {:.0f} s'.format(
                source, time.perf_counter() - started))
        if args.build_cache:
            started = time.perf_counter()
            fill_cache(args.build_cache)
            print('compiled {} graphs in {:.0f} s'.format(
                args.build_cache, time.perf_counter() - started))
        folder, modules = compile_directory()
        print('compile directory: {} ({} modules)'.format(folder, modules))
        cold = run_child()
        report('cold' if not large else 'new modules', cold)
        if not large:
            totals['cold'].append(cold['total'])
    else:
        folder, modules = compile_directory()
        print('compile directory: {} ({} modules)'.format(folder, modules))
    for _ in range(args.runs):
        for label, name, settings in WARM_VARIANTS:
            warm = run_child(**settings)
            report(label, warm)
            totals[name].append(warm['total'])
    print()
    print('backend {}, {} modules in the cache{}'.format(
        warm['backend'], modules, ' (large)' if large else ''))
    kinds = [('cold', 'cold')] + [(name, label)
                                  for label, name, _ in WARM_VARIANTS]
    for kind, label in kinds:
        if totals[kind]:
            best = min(totals[kind])
            reference = 'cold' if kind == 'cold' else 'warm'
            print('{}: {:.2f} s to the first prediction (median {:.2f}); '
                  'theanets 0.8: {:.1f} s ({:.2f}x); target <= {:.1f} s: {}'
                  .format(label, best, sorted(totals[kind])[
                      len(totals[kind]) // 2], REFERENCE[reference],
                      best / REFERENCE[reference], TARGETS[reference],
                      'met' if best <= TARGETS[reference] else 'NOT met'))


if __name__ == '__main__':
    main()
