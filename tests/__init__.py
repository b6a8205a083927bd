"""The theanets test suite; its layout follows the package.

``tests/test_<module>.py`` tests ``theanets/<module>.py``;
``tests/layers/`` tests ``theanets/layers/``; ``tests/models/`` tests the
model classes of ``theanets/feedforward.py``, ``recurrent.py`` and
``convolution.py``; ``tests/workflows/`` runs documented workflows end to end
(the seed page, the docs, the examples and notebook, progress display,
property-based checks).

The folders are packages so that modules in different folders may share a
base name (``tests/layers/test_feedforward.py`` and
``tests/models/test_feedforward.py``) under pytest's default import mode,
and so that test modules import :mod:`tests.helpers` by name. Fixtures are
in ``tests/conftest.py``.
"""
