r"""Export theanets models to ONNX, to run them where Theano does not.

:func:`export` (also :meth:`theanets.Network.to_onnx` and the command
``python -m theanets export MODEL OUT.onnx``) writes a standard ONNX model
that any ONNX runtime can execute, for example ONNX Runtime::

    import onnxruntime
    session = onnxruntime.InferenceSession('model.onnx')
    labels, probabilities, logits = session.run(None, {'in': x})

The ONNX model
--------------

- **Inputs** are the network's input layers, by name (usually ``'in'``),
  float32, with a dynamic batch axis (``'batch'``) and, for recurrent
  models, a dynamic time axis (``'time'``). Sparse input layers take dense
  arrays.
- **Outputs** are what the prediction methods return, named after them:
  ``predict`` for every model; for classifiers ``predict`` (int64 labels),
  ``predict_proba`` and ``predict_logit`` (when the last layer has a
  ``pre`` output); for autoencoders also ``encode`` (the middle layer).
  The ``outputs`` argument adds any layer output by its theanets name
  (``'hid1:out'``). Each output's ``doc_string`` says what it holds, and
  the model's metadata (``theanets.outputs``) maps the outputs to theanets
  names.
- **Values** agree with theanets' own predictions to float32 rounding. Only
  the layers the outputs depend on are exported; regularizers (noise,
  dropout) apply to training and are left out, as in ``predict``.

What exports
------------

Every layer class of :mod:`theanets.layers` and every built-in activation:

- feed-forward, classifier and tied layers (a tied layer reads its
  partner's weights through a ``Transpose``; they are stored once);
- ``Product``, ``Concatenate``, ``Flatten`` and ``Reshape``;
- ``Conv1`` and ``Conv2`` with every border mode and stride (ONNX ``Conv``
  correlates, so the kernels are stored flipped), ``Pool1`` and ``Pool2``
  in every mode;
- ``LSTM`` (with its peepholes), ``GRU`` and ``RNN`` become the ONNX
  operators of the same names when only their ``out`` is needed (and, for
  the GRU and RNN, the activation is ``tanh``, ``sigmoid`` or ``relu``);
  otherwise, and for ``BCRNN``, ``Clockwork``, ``RRNN``, ``MRNN``,
  ``MUT1``, ``SCRN`` and ``Bidirectional``, the step equations run in an
  ONNX ``Scan``; both directions and
  initial states read from other layers export;
- the common activations, ``prelu``, ``lgrelu``, ``elu``, ``maxout:k``
  and compositions such as ``'relu+norm:z'``, also in models saved by
  theanets 0.8.

What does not
-------------

- A layer or activation class defined outside theanets (a subclass
  included): its computation is only known to its Python code. Exporting
  a model whose outputs depend on one raises
  :class:`theanets.util.ConfigurationError` naming the layer and the
  reason, before anything is written.
- ``Autoencoder.decode`` and ``encode(..., sample=True)``: decoding starts
  from a middle layer's values, not from the model's inputs, and sampling
  draws random numbers. Training (losses, gradients) is not exported
  either: ONNX describes inference.
- Float64 models compute in float32 in the exported file.

Requires the ``onnx`` package: ``pip install 'theanets[onnx]'``.

Examples
--------
>>> import io
>>> net = theanets.Autoencoder([4, (2, 'tanh'), 'tied'])
>>> proto = export(net, io.BytesIO())
>>> [(value.name, [d.dim_param or d.dim_value
...                for d in value.type.tensor_type.shape.dim])
...  for value in list(proto.graph.input) + list(proto.graph.output)]
[('in', ['batch', 4]), ('predict', ['batch', 4]), ('encode', ['batch', 2])]
"""

try:
    import onnx  # noqa: F401  (the ONNX package, not this module)
except ImportError as error:
    raise ImportError(
        'exporting theanets models to ONNX needs the onnx package: '
        "pip install 'theanets[onnx]'") from error

from ._export import DEFAULT_OPSET, MIN_OPSET, convert, export

__all__ = ['DEFAULT_OPSET', 'MIN_OPSET', 'convert', 'export']
