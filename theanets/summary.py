"""Descriptions of a network: the summary table, ``repr`` and HTML.

:meth:`theanets.Network.summary`, ``repr(network)`` and the table a
Jupyter notebook shows are made here from the network's layers and losses.
"""

import html

import numpy as np

from . import layers

__all__ = ['SummaryMixin', 'summary', 'short_repr', 'html_table']


class SummaryMixin(object):
    """The description methods of :class:`theanets.Network`."""

    def summary(self):
        """Return a table describing the network.

        One row per layer: name, class, per-example output shape,
        activation, number of learnable parameters and the layers it reads
        from; then the total number of parameters and the losses with their
        weights. Regularizers are options of each training call and are not
        part of the model, so they are not listed.

        Returns
        -------
        str
            The table, several lines without a trailing newline.

        Examples
        --------
        >>> net = theanets.Regressor([3, (4, 'tanh'), 2])
        >>> print(net.summary())
        Regressor: 3 layers, 26 parameters
        layer  class        output shape  activation  params  inputs
        -----  -----------  ------------  ----------  ------  ------
        in     Input        (3,)          -           0       -
        hid1   Feedforward  (4,)          tanh        16      in
        out    Feedforward  (2,)          linear      10      hid1
        total parameters: 26
        losses: 1 * mse on out
        """
        return summary(self)

    def __repr__(self):
        return short_repr(self)

    def _repr_html_(self):
        """An HTML table of :meth:`summary`, for Jupyter notebooks."""
        return html_table(self)


def summary(network):
    """Return a table describing a network.

    One row per layer: name, class, per-example output shape,
    activation, number of learnable parameters and the layers it reads
    from; then the total number of parameters and the losses with their
    weights. Regularizers are options of each training call and are not
    part of the model, so they are not listed.

    Returns
    -------
    str
        The table, several lines without a trailing newline.

    Examples
    --------
    >>> net = theanets.Regressor([3, (4, 'tanh'), 2])
    >>> print(summary(net))
    Regressor: 3 layers, 26 parameters
    layer  class        output shape  activation  params  inputs
    -----  -----------  ------------  ----------  ------  ------
    in     Input        (3,)          -           0       -
    hid1   Feedforward  (4,)          tanh        16      in
    out    Feedforward  (2,)          linear      10      hid1
    total parameters: 26
    losses: 1 * mse on out
    """
    rows, total = _rows(network)
    header = ('layer', 'class', 'output shape', 'activation', 'params',
              'inputs')
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]
    table = [header, tuple('-' * w for w in widths)] + rows
    lines = ['{}: {} layers, {} parameters'.format(
        type(network).__name__, len(network.layers), total)]
    for row in table:
        lines.append('  '.join(cell.ljust(width) for cell, width
                               in zip(row, widths)).rstrip())
    lines.append('total parameters: {}'.format(total))
    lines.append('losses: {}'.format(
        ', '.join(_loss_descriptions(network)) or 'none'))
    return '\n'.join(lines)


def short_repr(network):
    """A one-line description: layers, parameter count and losses."""
    rows, total = _rows(network)
    parts = []
    for name, kind, shape, activation, _, _ in rows:
        if kind == 'Input':
            parts.append('{} {}'.format(name, shape))
        else:
            parts.append('{} {} {} {}'.format(name, kind, shape,
                                              activation))
    losses_text = '+'.join(
        (_loss_key(loss) if loss.weight == 1 else '{}*{}'.format(
            _format_number(loss.weight), _loss_key(loss)))
        for loss in network.losses) or 'none'
    return '{}([{}], {} params, loss={})'.format(
        type(network).__name__, ' -> '.join(parts), total, losses_text)


def html_table(network):
    """An HTML table of :func:`summary`, for Jupyter notebooks."""
    esc = html.escape
    rows, total = _rows(network)
    header = ('layer', 'class', 'output shape', 'activation', 'params',
              'inputs')
    out = ['<table class="theanets-summary">',
           '<caption>{}: {} layers, {} parameters</caption>'.format(
               esc(type(network).__name__), len(network.layers), total),
           '<thead><tr>{}</tr></thead>'.format(
               ''.join('<th>{}</th>'.format(esc(h)) for h in header)),
           '<tbody>']
    for row in rows:
        out.append('<tr>{}</tr>'.format(
            ''.join('<td>{}</td>'.format(esc(cell)) for cell in row)))
    out.append('</tbody>')
    out.append('<tfoot><tr><td colspan="{}">total parameters: {}</td>'
               '</tr>'.format(len(header), total))
    out.append('<tr><td colspan="{}">losses: {}</td></tr></tfoot>'.format(
        len(header),
        esc(', '.join(_loss_descriptions(network)) or 'none')))
    out.append('</table>')
    return '\n'.join(out)


def _rows(network):
    """One row of strings per layer, and the total parameter count."""
    rows = []
    total = 0
    for layer in network.layers:
        try:
            shape = str(tuple(layer.output_shape))
        except Exception:
            shape = '?'
        if isinstance(layer, layers.Input):
            activation = '-'
            inputs = '-'
        else:
            try:
                activation = layer._activation_name()
            except Exception:
                activation = layer.kwargs.get('activation', '?')
            if not isinstance(activation, str):
                activation = getattr(activation, '__name__',
                                     type(activation).__name__)
            inputs = ', '.join(_short_output_name(name)
                               for name in layer.input_shapes) or '-'
        try:
            count = sum(int(np.prod(p.get_value(borrow=True).shape))
                        for p in layer.params)
            total += count
            count = str(count)
        except Exception:
            count = '?'
        rows.append((layer.name, type(layer).__name__, shape, activation,
                     count, inputs))
    return rows, total


def _loss_descriptions(network):
    """Describe each loss: weight, name, output and options."""
    result = []
    for loss in network.losses:
        text = '{} * {} on {}'.format(
            _format_number(loss.weight), _loss_key(loss),
            _short_output_name(getattr(loss, 'output_name', 'out')))
        if getattr(loss, '_weights', None) is not None:
            text += ' (weighted)'
        result.append(text)
    return result


def _short_output_name(name):
    """``'hid1:out'`` becomes ``'hid1'``; other outputs keep their suffix."""
    return name[:-4] if name.endswith(':out') else name


def _loss_key(loss):
    """The short registered name of a loss (``'xe'``), else its class name."""
    keys = type(loss).__dict__.get('__extra_registration_keys__') or []
    return keys[0] if keys else type(loss).__name__.lower()


def _format_number(value):
    """Format a loss weight compactly (``1``, ``0.5``)."""
    try:
        return '{:g}'.format(value)
    except (TypeError, ValueError):
        return str(value)
