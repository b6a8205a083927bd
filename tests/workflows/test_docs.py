"""The documentation: every page's examples run, and Sphinx builds cleanly.

Each ``docs/**/*.rst`` page is run as a doctest, with ``np`` and
``theanets`` in its namespace, the way ``tests/workflows/test_seed_page.py`` runs the
seed page (which it keeps to itself, with its verbatim checks).
"""

import doctest
import glob
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import theanets

from tests.helpers import ROOT

DOCS = os.path.join(ROOT, 'docs')

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: Pages with their own tests (``tests/workflows/test_seed_page.py``).
OWN_TESTS = {'classifier-api.rst', 'quickstart.rst'}

#: The user guide: pages with examples, run by default.
GUIDE = sorted(
    os.path.relpath(path, DOCS)
    for path in glob.glob(os.path.join(DOCS, 'guide', '*.rst')))

#: Every page, relative to ``docs/`` (generated API stubs excluded).
PAGES = sorted(
    os.path.relpath(path, DOCS)
    for path in glob.glob(os.path.join(DOCS, '**', '*.rst'), recursive=True)
    if not os.path.relpath(path, DOCS).startswith(('_build', 'generated')))


def run_page(name):
    """Run the examples of ``docs/<name>``; fail with doctest's report."""
    with open(os.path.join(DOCS, name), encoding='utf-8') as handle:
        text = handle.read()
    test = doctest.DocTestParser().get_doctest(
        text, {'np': np, 'theanets': theanets}, name, name, 0)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    cwd = os.getcwd()
    try:
        runner.run(test, out=report.write)
    finally:
        os.chdir(cwd)
    assert runner.failures == 0, report.getvalue()
    return runner.tries


def test_guide_pages_are_listed():
    assert [os.path.basename(p) for p in GUIDE] == [
        'deploying.rst', 'errors.rst', 'estimators.rst', 'losses.rst',
        'models.rst', 'performance.rst', 'regularizers.rst', 'scaling.rst',
        'training.rst', 'using.rst']
    with open(os.path.join(DOCS, 'index.rst'), encoding='utf-8') as handle:
        index = handle.read()
    for page in GUIDE:
        assert '   ' + page[:-len('.rst')] + '\n' in index


@pytest.mark.parametrize('page', GUIDE)
def test_guide_page(page):
    assert run_page(page) >= 5


@pytest.mark.slow
@pytest.mark.parametrize('page', [
    p for p in PAGES if p not in GUIDE and p not in OWN_TESTS])
def test_other_page(page):
    run_page(page)


def test_sphinx_build(tmp_path):
    # A fresh interpreter: autodoc imports the package, and -W turns every
    # warning (a malformed docstring, a broken reference) into a failure.
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q',
         '-b', 'html', '-d', str(tmp_path / 'doctrees'),
         DOCS, str(tmp_path / 'html')],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True)
    assert result.returncode == 0, result.stdout
    assert (tmp_path / 'html' / 'guide' / 'training.html').exists()
    assert (tmp_path / 'html' / 'generated' / 'theanets.serialize.html').exists()
