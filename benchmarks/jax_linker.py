"""PyTensor's JAX linker against its C linker, side by side (PyTensor only).

theanets compiles its graphs through PyTensor's C virtual machine unless the
user chooses another mode; ``PYTENSOR_FLAGS=mode=JAX`` compiles them with
``jax.jit`` instead, for the processor or for a GPU. Each measurement runs
in a fresh interpreter, one variant after the other in every round:

``c``
    theanets' default: the C linker (``cvm``) and its OpenBLAS.
``jax``
    ``mode=JAX`` on the device JAX picks (a GPU when a CUDA ``jaxlib`` is
    installed, else the processor).
``jax-tf32``
    ``mode=JAX`` with ``JAX_DEFAULT_MATMUL_PRECISION=tensorfloat32``: float32
    products in the GPU's TensorFloat-32 instead of the full precision that
    theanets asks for (only where JAX's default device is not the
    processor, as the next).
``jax-cpu``
    ``mode=JAX`` with ``JAX_PLATFORMS=cpu``.

Parts (``--part``, default all):

``first-result``
    :mod:`first_result`'s task (import, build, first epoch, first predict
    of ``Classifier([20, (32, 'relu'), 3])``) on an empty compile directory
    (``cold``) and again on the filled one (``warm``). JAX keeps no compiled
    code between processes unless its persistent cache is turned on, so its
    cold and warm runs differ only in PyTensor's own compile directory.
``mlp``
    :mod:`mlp`'s 784-256-256-10 classifier: training examples/s (SGD with
    momentum, batches of 64 and of ``--large-batch``) and ``predict_proba``
    examples/s.
``conv``
    :mod:`conv`'s Conv2-Pool2-Conv2-Pool2 classifier, batches of 64:
    training and ``predict_proba`` images/s.
``lstm``
    :mod:`lstm`'s LSTM(32) sequence classifier (the fused LSTM Ops), Adam,
    batches of 32: training sequences/s.

Each child also prints the trained loss, so the variants can be seen to
compute the same model (the losses agree to float32 rounding). With
``--threads 1`` the throughput children run on one core (processor
affinity): XLA's processor backend uses every core whatever
``OMP_NUM_THREADS`` says. The first-result children are not held (a user
has all cores there, for ``g++`` as for XLA).

Usage::

    PYTHONPATH=. python3.13 benchmarks/jax_linker.py [--rounds 2]
        [--threads 1] [--part mlp] [--large-batch 1024]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from common import add_common_arguments, compile_bytecode, set_threads

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: A child measuring one part under one variant: prints a JSON line.
CHILD = r'''
import json, os, sys, time
sys.path.insert(0, {here!r})
part, batch, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if part == 'first-result':
    from first_result import CHILD
    exec(CHILD)
    raise SystemExit
import conv, lstm, mlp
if os.environ.get('OMP_NUM_THREADS') == '1':
    # one core: XLA's processor backend ignores the thread-count variables
    os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})
if part == 'mlp':
    mlp.BATCH = batch
    x, y = mlp.make_data(64 * 160)
    xtest, ytest = mlp.make_data(8192, seed=1)
    mlp._TEST_LABELS[id(xtest)] = ytest
    result = mlp.bench_theanets(x, y, xtest, rounds, 0.01, rounds)
elif part == 'conv':
    x, y = conv.make_data(64 * 40)
    result = conv.bench_theanets(x, y, rounds)
    result['train'] = result['train']['best']
    result['predict'] = result['predict']['best']
else:
    x, y = lstm.make_data(lstm.BATCH * 64)
    result = lstm.bench_theanets(x, y, rounds, 0.01)
    result.update(train=result['seq_per_s'], first_s=result['compile_s'])
import theanets
if theanets.backend.theano.config.mode == 'JAX':
    import jax
    result['device'] = str(jax.devices()[0].platform)
else:
    result['device'] = 'cpu (C)'
print(json.dumps(result))
'''

PARTS = ('first-result', 'mlp', 'conv', 'lstm')


def variants():
    """(name, environment changes) of each variant this machine runs."""
    found = [('c', {'PYTENSOR_FLAGS': None}),
             ('jax', {'PYTENSOR_FLAGS': 'mode=JAX'})]
    probe = subprocess.run(
        [sys.executable, '-c', 'import jax; print(jax.devices()[0].platform)'],
        capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit('JAX is not importable here: pip install jax')
    if probe.stdout.strip() != 'cpu':
        found.append(('jax-tf32', {
            'PYTENSOR_FLAGS': 'mode=JAX',
            'JAX_DEFAULT_MATMUL_PRECISION': 'tensorfloat32'}))
        found.append(('jax-cpu', {'PYTENSOR_FLAGS': 'mode=JAX',
                                  'JAX_PLATFORMS': 'cpu'}))
    return found


def run_child(part, batch, rounds, changes, compiledir):
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env['THEANO_FLAGS'] = 'base_compiledir=' + compiledir
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (ROOT, env.get('PYTHONPATH')) if p)
    done = subprocess.run(
        [sys.executable, '-c', CHILD.format(here=HERE), part, str(batch),
         str(rounds)], env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return dict(error=done.stderr.strip().splitlines()[-1:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def first_result(found, rounds):
    rows = []
    for round_ in range(rounds):
        for name, changes in found:
            compiledir = tempfile.mkdtemp(prefix='jax-linker-')
            for state in ('cold', 'warm'):
                got = run_child('first-result', 0, 0, changes, compiledir)
                rows.append((round_, name, state, got))
                print('  round {} {:8} {}: {}'.format(
                    round_ + 1, name, state, _first_line(got)), flush=True)
    return rows


def _first_line(got):
    if 'error' in got:
        return 'failed: {}'.format(got['error'])
    return ('total {total:.2f} s (imports {imports:.2f}, first epoch '
            '{first_epoch:.2f}, predict {first_predict:.2f}), loss '
            '{loss:.7f}'.format(**got))


def throughput(found, part, batches, rounds):
    for batch in batches:
        print('{} (batch {}):'.format(part, batch), flush=True)
        base = None
        for name, changes in found:
            got = run_child(part, batch, rounds, changes,
                            tempfile.mkdtemp(prefix='jax-linker-'))
            if 'error' in got:
                print('  {:8} failed: {}'.format(name, got['error']))
                continue
            base = base or got
            predict = ('' if 'predict' not in got else
                       '  predict {:>11,.0f}/s ({:.2f}x)'.format(
                           got['predict'], got['predict'] / base['predict']))
            print('  {:8} {:>8} train {:>11,.0f}/s ({:.2f}x){}  first epoch '
                  '{:.2f} s  loss {:.6f}'.format(
                      name, got['device'], got['train'],
                      got['train'] / base['train'], predict,
                      got.get('first_epoch_s', got.get('first_s')),
                      got['loss']), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_arguments(parser, threads=1)
    parser.add_argument('--rounds', type=int, default=2,
                        help='rounds of each measurement (default 2)')
    parser.add_argument('--part', choices=PARTS, action='append',
                        help='what to measure (default: all)')
    parser.add_argument('--large-batch', type=int, default=1024,
                        help='the MLP batch size besides 64 (default 1024)')
    args = parser.parse_args(argv)
    set_threads(args.threads)
    compile_bytecode()
    found = variants()
    print('python {}, variants {}, {} thread(s)'.format(
        sys.version.split()[0], ', '.join(n for n, _ in found),
        args.threads), flush=True)
    for part in args.part or PARTS:
        if part == 'first-result':
            print('first result (seconds):', flush=True)
            first_result(found, args.rounds)
        elif part == 'mlp':
            throughput(found, 'mlp', (64, args.large_batch), args.rounds)
        else:
            throughput(found, part, (64, ), args.rounds)


if __name__ == '__main__':
    main()
