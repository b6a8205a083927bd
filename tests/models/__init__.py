"""Tests of the model classes: theanets.feedforward, recurrent and
convolution."""
