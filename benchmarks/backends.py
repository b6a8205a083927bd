"""theanets on Theano vs theanets on PyTensor, side by side in one run.

Runs the MLP and LSTM benchmarks (``mlp.py``, ``lstm.py``, without their
peers) once per backend, alternating between the two interpreters for
``--rounds`` rounds so that a change in the machine's load hits both, and
prints each backend's best figure and the ratio PyTensor / Theano.

Usage::

    python benchmarks/backends.py --theano /path/to/py3.11 \\
        --pytensor /path/to/py3.13 [--rounds 2] [--threads 1]

Each interpreter needs theanets importable (installed, or run from the
repository root: the script puts the root on ``PYTHONPATH``). The default
interpreters are the running one for its own backend and
``THEANETS_OTHER_PYTHON`` (set by ``.ci/run``) for the other.
"""

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: (label, script arguments, regular expression of the figures, units)
MEASUREMENTS = (
    ('MLP 784-256-256-10 training', ['mlp.py', '--skip-torch',
                                     '--skip-sklearn'],
     r'^theanets\s+train\s+([0-9.]+) ex/s', 'ex/s'),
    ('MLP predict_proba', ['mlp.py', '--skip-torch', '--skip-sklearn'],
     r'predict_proba\s+([0-9.]+) ex/s', 'ex/s'),
    ('LSTM(32) classifier training', ['lstm.py', '--skip-torch'],
     r'^theanets:\s+([0-9.]+) sequences/s', 'seq/s'),
)


def backend_of(python):
    """The backend theanets picks under ``python``."""
    out = subprocess.run(
        [python, '-c', 'import theanets; print(theanets.backend.name())'],
        capture_output=True, text=True, env=_environment(), cwd=ROOT)
    if out.returncode:
        raise SystemExit('{}: cannot import theanets:\n{}'.format(
            python, out.stderr[-2000:]))
    return out.stdout.strip().splitlines()[-1]


def _environment():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


def run_script(python, arguments, threads):
    """Run one benchmark script; return its standard output."""
    command = [python, os.path.join(ROOT, 'benchmarks', arguments[0])]
    command += arguments[1:] + ['--threads', str(threads)]
    out = subprocess.run(command, capture_output=True, text=True,
                         env=_environment(), cwd=ROOT)
    if out.returncode:
        raise SystemExit('{} failed:\n{}'.format(
            ' '.join(command), out.stderr[-3000:]))
    return out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--theano', help='Python 3.11 with Theano')
    parser.add_argument('--pytensor', help='Python with PyTensor')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    mine = backend_of(sys.executable)
    other = os.environ.get('THEANETS_OTHER_PYTHON')
    pythons = {mine: sys.executable}
    if other:
        pythons[backend_of(other)] = other
    if args.theano:
        pythons['theano'] = args.theano
    if args.pytensor:
        pythons['pytensor'] = args.pytensor
    missing = {'theano', 'pytensor'} - set(pythons)
    if missing:
        raise SystemExit('no interpreter for {} (see --help)'.format(
            ', '.join(sorted(missing))))
    for backend, python in sorted(pythons.items()):
        found = backend_of(python)
        if found != backend:
            raise SystemExit('{} runs the {} backend, not {}'.format(
                python, found, backend))
        print('{:<9} {}'.format(backend, python))

    scripts = []
    for _, arguments, _, _ in MEASUREMENTS:
        if arguments not in scripts:
            scripts.append(arguments)
    outputs = {}
    for round_ in range(args.rounds):
        for arguments in scripts:
            for backend in ('theano', 'pytensor'):
                print('round {}: {} {}'.format(
                    round_ + 1, backend, ' '.join(arguments)), flush=True)
                outputs.setdefault((backend, tuple(arguments)), []).append(
                    run_script(pythons[backend], arguments, args.threads))

    print()
    print('{:<30} {:>12} {:>12} {:>17}'.format(
        'measurement (best of rounds)', 'Theano', 'PyTensor',
        'PyTensor/Theano'))
    for label, arguments, pattern, unit in MEASUREMENTS:
        best = {}
        for backend in ('theano', 'pytensor'):
            figures = [float(m.group(1)) for text in
                       outputs[(backend, tuple(arguments))]
                       for m in [re.search(pattern, text, re.M)] if m]
            if not figures:
                raise SystemExit('no figure for {} on {}'.format(
                    label, backend))
            best[backend] = max(figures)
        print('{:<30} {:>8.0f} {:<3} {:>8.0f} {:<3} {:>16.2f}x'.format(
            label, best['theano'], unit, best['pytensor'], unit,
            best['pytensor'] / best['theano']))


if __name__ == '__main__':
    main()
