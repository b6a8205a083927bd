"""The documentation pages run as doctests.

``docs/classifier-api.rst`` carries the examples of the page the project
started from: every one of its ``>>>`` lines must run exactly as written
there. ``docs/quickstart.rst`` is the user guide's first page.
"""

import doctest
import io
import os
import re

import numpy as np
import pytest

import theanets

from tests.helpers import ROOT

DOCS = os.path.join(ROOT, 'docs')

#: The ``>>>`` lines of the seed page, verbatim and in order.
SEED_LINES = [
    "model = theanets.Classifier([10, (20, 'tanh'), 50])",
    "inputs = np.random.randn(1000, 10).astype('f')",
    "outputs = np.random.randint(50, size=1000).astype('i')",
    "model.train([inputs, outputs])",
    "test = np.random.randn(3, 10).astype('f')",
    "print(model.predict(test))",
    "model.predict_proba(test).shape",
]

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def parse(name):
    with open(os.path.join(DOCS, name), encoding='utf-8') as handle:
        text = handle.read()
    return doctest.DocTestParser().get_doctest(
        text, {'np': np, 'theanets': theanets}, name, name, 0)


def run(name):
    """Run the doctests of ``docs/<name>``; fail with doctest's report."""
    test = parse(name)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
    return runner.tries


def source_lines(name):
    """The ``>>>`` lines of a page, without doctest directives."""
    return [re.sub(r'\s*#\s*doctest:.*$', '', ex.source.splitlines()[0])
            for ex in parse(name).examples]


def test_seed_lines_are_verbatim():
    assert source_lines('classifier-api.rst') == SEED_LINES


def test_predict_proba_shape_expected():
    examples = parse('classifier-api.rst').examples
    assert examples[-1].want == '(3, 50)\n'


def test_classifier_page():
    # Not marked slow although it trains a model (about 5 s warm, 35 s on a
    # cold Theano cache): this page is the project's founding contract.
    assert run('classifier-api.rst') == len(SEED_LINES)


@pytest.mark.slow
def test_quickstart_page():
    assert run('quickstart.rst') > 20
