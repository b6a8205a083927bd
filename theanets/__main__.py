"""The ``theanets`` command line (also ``python -m theanets``).

Commands:

``export MODEL OUT.onnx``
    Load a saved model (a pickle, including those theanets 0.8 wrote, or an
    ``.npz`` file) and write it as an ONNX model; see :mod:`theanets.onnx`.

Run ``theanets --help`` or ``theanets export --help`` for the options.
"""

import click

from . import graph
from . import util

try:
    from .onnx import DEFAULT_OPSET
except ImportError:  # reported when the export runs
    DEFAULT_OPSET = None


@click.group(context_settings=dict(help_option_names=['-h', '--help']))
def main():
    """Tools for models saved by theanets."""


@main.command('export')
@click.argument('model', type=click.Path(exists=True, dir_okay=False))
@click.argument('out', metavar='OUT.onnx', type=click.Path(dir_okay=False))
@click.option('--opset', type=int, default=None, metavar='N',
              help='ONNX operator set version (default: {}).'.format(
                  DEFAULT_OPSET))
@click.option('--output', 'outputs', multiple=True, metavar='NAME',
              help='Also export this layer output, e.g. "hid1:out" '
              '(repeatable).')
@click.option('--no-pickle', is_flag=True,
              help='Refuse pickled models (loading a pickle runs code from '
              'the file); only .npz models load.')
def export_command(model, out, opset, outputs, no_pickle):
    """Export the saved MODEL to the ONNX file OUT.onnx.

    MODEL is a file written by Network.save or by theanets 0.8 (for example
    model.pkl.gz). The ONNX model's outputs are named after the prediction
    methods: predict, and predict_proba and predict_logit for classifiers,
    encode for autoencoders.
    """
    try:
        from . import onnx as exporter
        network = graph.Network.load(model, allow_pickle=not no_pickle)
        proto = exporter.export(network, out, opset=opset,
                                outputs=list(outputs) or None)
    except (ImportError, util.Error, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo('wrote {} ({}, ONNX opset {})'.format(
        out, type(network).__name__, proto.opset_import[0].version))
    for kind, values in (('input', proto.graph.input),
                         ('output', proto.graph.output)):
        for value in values:
            click.echo('  {} {} {}'.format(kind, value.name, _shape(value)))


def _shape(value):
    """``[batch, 6]``-style text for the shape of a ``ValueInfoProto``."""
    tensor = value.type.tensor_type
    if not tensor.HasField('shape'):
        return '[?]'
    dims = [dim.dim_param or (str(dim.dim_value) if dim.HasField(
        'dim_value') else '?') for dim in tensor.shape.dim]
    return '[{}]'.format(', '.join(dims))


if __name__ == '__main__':
    main(prog_name='python -m theanets')
