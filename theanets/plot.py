"""Plots of training runs (needs matplotlib: ``pip install 'theanets[plot]'``).

matplotlib is imported only when a plot is drawn, so importing this module
costs nothing. Without a display (e.g. on a server or in tests) select a
non-interactive backend first (``matplotlib.use('Agg')``) and pass ``path``
to write the figure to a file.
"""

from . import history as _history


def _pyplot():
    """Import matplotlib.pyplot, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            'plotting needs matplotlib; install it with '
            "pip install 'theanets[plot]' (or pip install matplotlib)") from e
    return plt


def _as_history(history_or_network):
    if isinstance(history_or_network, _history.History):
        return history_or_network
    record = getattr(history_or_network, 'history', None)
    if isinstance(record, _history.History):
        return record
    raise TypeError(
        'history_or_network: expected a theanets History or a network that '
        'was trained, got {!r}'.format(type(history_or_network).__name__))


def plot_history(history_or_network, metrics=('loss', 'acc'), ax=None,
                 path=None):
    """Draw training and validation curves of a training run.

    Each metric gets its own axes with a line of the training values of
    every iteration (``'train <metric>'``) and a line with markers of the
    validation values at the iterations where validation ran
    (``'valid <metric>'``). Metrics that were not recorded (e.g. ``'acc'``
    for a regressor) are left out.

    Parameters
    ----------
    history_or_network : :class:`theanets.history.History` or Network
        A history, or a network whose :attr:`~theanets.Network.history` of
        its latest training run is used.
    metrics : str or sequence of str, optional
        Monitor names to plot. Defaults to ``('loss', 'acc')``.
    ax : matplotlib Axes or sequence of Axes, optional
        Where to draw: one Axes for all metrics, or one per plotted metric.
        By default a new figure with one Axes per metric is created.
    path : str or path-like, optional
        If given, the figure is saved there (the format follows the file
        extension, e.g. ``.png``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    ValueError
        If the history is empty or has none of the metrics, or ``ax`` has
        the wrong number of Axes.
    """
    record = _as_history(history_or_network)
    if isinstance(metrics, str):
        metrics = (metrics, )
    if not len(record):
        raise ValueError('history_or_network: the history is empty; train the '
                         'network before plotting its history')
    available = record.train.keys()
    chosen = [m for m in metrics if m in available]
    if not chosen:
        raise ValueError('metrics: none of {} was recorded; recorded '
                         'monitors are {}'.format(list(metrics), available))

    if ax is None:
        plt = _pyplot()
        figure, axes = plt.subplots(
            1, len(chosen), figsize=(5 * len(chosen), 3.5), squeeze=False)
        axes = list(axes[0])
    elif hasattr(ax, 'plot'):
        axes = [ax] * len(chosen)
        figure = ax.figure
    else:
        axes = list(ax)
        if len(axes) != len(chosen):
            raise ValueError('ax: expected one Axes per plotted metric ({}: '
                             '{}), got {}'.format(len(chosen), chosen,
                                                  len(axes)))
        figure = axes[0].figure

    train, valid = record.train, record.valid
    for metric, axes_ in zip(chosen, axes):
        axes_.plot(train.iterations, train[metric],
                   label='train {}'.format(metric))
        if metric in valid:
            axes_.plot(valid.iterations, valid[metric], marker='o',
                       label='valid {}'.format(metric))
    shared = len(set(map(id, axes))) < len(axes)
    for metric, axes_ in zip(chosen, axes):
        axes_.set_xlabel('iteration')
        axes_.set_ylabel(' / '.join(chosen) if shared else metric)
        axes_.set_title(' / '.join(chosen) if shared else metric)
        axes_.legend()
    if path is not None:
        figure.savefig(path)
    return figure
