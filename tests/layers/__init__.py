"""Tests of theanets.layers, one module per layers module."""
