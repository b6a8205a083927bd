"""Sphinx configuration for the theanets documentation."""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

with open(os.path.join(HERE, '..', 'theanets', '__init__.py'),
          encoding='utf-8') as handle:
    release = re.search(r"__version__ = '([^']+)'", handle.read()).group(1)
version = release

project = 'theanets'
author = 'theanets developers'
copyright = '2026, theanets developers'

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.doctest',
    'sphinx.ext.mathjax',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]

autosummary_generate = True
autodoc_default_options = {
    'members': True,
    'show-inheritance': True,
}
autodoc_member_order = 'groupwise'
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

doctest_global_setup = '''
import numpy as np
import theanets
'''

templates_path = []
exclude_patterns = ['_build']
master_doc = 'index'
pygments_style = 'sphinx'
html_theme = 'alabaster'
html_static_path = []


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn adds ``set_<method>_request`` methods to every estimator
    # subclass; their docstrings refer to labels of scikit-learn's own docs.
    if name.startswith('set_') and name.endswith('_request'):
        return True
    return None


def setup(app):
    app.connect('autodoc-skip-member', _skip_member)
