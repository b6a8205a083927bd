"""Tests for theanets.exceptions: the error classes and what they also are."""

from theanets import graph, util


def test_data_error_is_shared():
    assert graph.DataError is util.DataError
    assert issubclass(util.DataError, ValueError)
    assert issubclass(util.DataError, util.Error)
    assert issubclass(util.TrainingError, ValueError)
    assert issubclass(util.ModelFileError, ValueError)
    assert issubclass(util.MissingModelFileError, FileNotFoundError)
