"""The example notebook runs headless and shows what it promises."""

import os
import re
import sys

import pytest

import nbclient  # noqa: E402
import nbformat  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402

from tests.helpers import ROOT

EXAMPLES = os.path.join(ROOT, 'examples')
NOTEBOOK = os.path.join(EXAMPLES, 'digits.ipynb')


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == 'python3'
    code = [cell for cell in notebook.cells if cell.cell_type == 'code']
    assert code and all(not cell.outputs for cell in code)


def test_python3_kernel_uses_this_interpreter():
    spec = KernelSpecManager().get_kernel_spec('python3')
    # jupyter_client runs a bare "python" as the current interpreter.
    assert spec.argv[0] in ('python', 'python3', sys.executable)


@pytest.fixture(scope='module')
def executed():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name='python3',
        resources={'metadata': {'path': EXAMPLES}})
    client.execute()
    return notebook


def text_of(notebook, name):
    return ''.join(
        output.get('text', '')
        for cell in notebook.cells if cell.cell_type == 'code'
        for output in cell.outputs
        if output.output_type == 'stream' and output.name == name)


def test_notebook_runs_and_learns(executed):
    # Runs by default (about 20 s) so that CI executes the notebook.
    outputs = [output for cell in executed.cells if cell.cell_type == 'code'
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == 'error']
    stdout = text_of(executed, 'stdout')
    assert 'train (1200, 64) valid (300, 64) test (297, 64)' in stdout
    accuracy = float(re.search(
        r'test accuracy: ([0-9.]+) on 297 digits', stdout).group(1))
    assert accuracy > 0.9
    assert stdout.count('identical predictions: True') == 2
    assert 'identical predictions: False' not in stdout
    # The digit images, our own curves and plot_history's figure.
    images = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert len(images) == 3
    # Logging was turned down to warnings after the import: no INFO lines
    # from building, training, saving or loading models.
    stderr = text_of(executed, 'stderr')
    for message in ('learnable parameters', 'compiling', 'saved model',
                    'loaded model', 'downhill'):
        assert message not in stderr
