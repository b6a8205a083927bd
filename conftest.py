"""Names available to every doctest (in the package and in docs/)."""

import numpy as np
import pytest

import theanets


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace['np'] = np
    doctest_namespace['theanets'] = theanets
