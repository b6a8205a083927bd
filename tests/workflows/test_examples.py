"""Run every script in ``examples/`` and the README's Python snippets.

Each one trains a model, so each runs in its own interpreter and the tests
are marked slow.
"""

import ast
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

EXAMPLES = os.path.join(ROOT, 'examples')


def run_python(args, cwd):
    """Run Python with ``args`` in ``cwd``; return its stdout."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    proc = subprocess.run(
        [sys.executable] + args, cwd=str(cwd), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def run_example(name, tmp_path):
    """Run ``examples/<name>`` from a scratch directory; return its stdout."""
    out = run_python([os.path.join(EXAMPLES, name)], tmp_path)
    assert list(tmp_path.iterdir()) == [], 'example left files behind'
    return out


def number_after(label, text):
    match = re.search(re.escape(label) + r'\s*([-+0-9.]+)', text)
    assert match, 'no "{}" in output:\n{}'.format(label, text[-2000:])
    return float(match.group(1))


def quoted_after(label, text):
    """The Python string literal printed after ``label``."""
    match = re.search('^' + re.escape(label) + r'\s*(.*)$', text, re.M)
    assert match, 'no "{}" in output:\n{}'.format(label, text[-2000:])
    return ast.literal_eval(match.group(1))


def test_every_example_is_tested():
    """Each script in ``examples/`` is run by some test module."""
    source = ''
    for folder, _, names in sorted(os.walk(os.path.join(ROOT, 'tests'))):
        for name in sorted(names):
            if name.startswith('test_') and name.endswith('.py'):
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as handle:
                    source += handle.read()
    scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith('.py'))
    assert {'autoencoder.py', 'digits.py', 'xor.py'} <= set(scripts)
    untested = [f for f in scripts
                if "run_example('{}'".format(f) not in source]
    assert untested == []


@pytest.mark.slow
def test_xor(tmp_path):
    out = run_example('xor.py', tmp_path)
    for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
        assert '{} xor {} -> {}'.format(a, b, a ^ b) in out, out
    assert number_after('accuracy:', out) == 1.0


@pytest.mark.slow
def test_digits(tmp_path):
    out = run_example('digits.py', tmp_path)
    assert number_after('test accuracy:', out) >= 0.9
    assert 'on 297 digits' in out
    assert 'identical predictions for all 297 test digits' in out
    rows = re.findall(r'^\s*\[+([ 0-9]+)\]+\s*$', out, re.M)
    assert len(rows) == 10
    confusion = [[int(v) for v in row.split()] for row in rows]
    assert sum(map(sum, confusion)) == 297
    assert sum(confusion[i][i] for i in range(10)) >= 0.9 * 297


@pytest.mark.slow
def test_autoencoder(tmp_path):
    out = run_example('autoencoder.py', tmp_path)
    assert 'codes for 297 test digits: shape (297, 16)' in out
    match = re.search(r'([0-9.]+) before training, ([0-9.]+) after', out)
    assert match, out
    before, after = map(float, match.groups())
    assert after < before / 2
    assert 0 < number_after('R^2 of the reconstruction:', out) <= 1


@pytest.mark.slow
def test_readme_snippets(tmp_path):
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as handle:
        blocks = re.findall(r'```python\n(.*?)```', handle.read(), re.S)
    assert len(blocks) == 4
    script = tmp_path / 'readme.py'
    script.write_text('\n'.join(blocks) + (
        '\nprint(net.predict(test).shape, net.predict_proba(test).shape)'
        '\nprint((same.predict_proba(test) == net.predict_proba(test)).all())'
        '\nprint((safe.predict_proba(test) == net.predict_proba(test)).all())'
        '\nprint(sorted(net.feed_forward(test)))\n'))
    out = run_python([str(script)], tmp_path).splitlines()
    assert len([line for line in out if line.startswith('loss ')]) == 5
    assert out[-4:] == [
        '(3,) (3, 50)', 'True', 'True',
        "['hid1:out', 'hid1:pre', 'in:out', 'out:out', 'out:pre']"]


@pytest.mark.slow
def test_sequence_memory(tmp_path):
    out = run_example('sequence_memory.py', tmp_path)
    assert "model variables: ['in', 'target', 'weights']" in out
    before = number_after('rmse on valid steps before training:', out)
    after = number_after('rmse on valid steps after training:', out)
    unweighted = number_after('unweighted model, rmse on valid steps:', out)
    assert after < 0.2 < before
    # fitting the junk on padded steps ruins the unweighted model
    assert unweighted > 3 * after
    # the weighted model's outputs on padding are not pulled to the junk
    assert number_after('on padding:', out) > 3
    rows = {}
    for key in ('input', 'target', 'prediction'):
        line = re.search(r'^\s*{}\s+(.*)$'.format(key), out, re.M).group(1)
        rows[key] = [float(v) for v in line.split()]
    length = int(number_after('example sequence of length', out))
    assert len(rows['input']) == length
    assert rows['target'] == rows['input'][:length - 2]
    assert len(rows['prediction']) == length - 2
    assert max(abs(p - t) for p, t in zip(rows['prediction'],
                                          rows['target'])) < 0.5


@pytest.mark.slow
def test_char_text(tmp_path):
    out = run_example('char_text.py', tmp_path)
    match = re.search(r'text: (\d+) characters, alphabet of (\d+)', out)
    assert match and int(match.group(1)) > 4000
    assert number_after('accuracy on held-out windows:', out) > 0.5
    assert quoted_after('seed:', out) == 'We hold these truths '
    likely = quoted_after('most likely:', out)
    sampled = quoted_after('predict_sequence:', out)
    assert len(likely) == len(sampled) == 60
    # the trained model writes words, e.g. "the" or "of"
    words = likely.split()
    assert len(words) >= 5
    assert {'the', 'of', 'and', 'to'} & set(words)


@pytest.mark.slow
def test_conv_digits(tmp_path):
    out = run_example('conv_digits.py', tmp_path)
    assert 'layer hid1 (Conv2): output shape (6, 6, 16)' in out
    assert 'layer hid2 (Conv2): output shape (4, 4, 16)' in out
    assert 'layer hid3 (Flatten): output shape (256,)' in out
    assert number_after('test accuracy:', out) >= 0.95
    assert 'on 297 digits' in out
    rows = re.findall(r'^\s*\[+([ 0-9]+)\]+\s*$', out, re.M)
    assert len(rows) == 10
    confusion = [[int(v) for v in row.split()] for row in rows]
    assert sum(map(sum, confusion)) == 297
    assert sum(confusion[i][i] for i in range(10)) >= 0.95 * 297
