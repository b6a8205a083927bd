"""Training history and feedback: monitor records, progress bar, quiet runs.

Every call of :meth:`theanets.Network.itertrain` (and so of
:meth:`~theanets.Network.train`) starts a fresh :class:`History` in the
model's ``history`` attribute and appends one :class:`Record` per yielded
``(train, valid)`` pair. The same call can show a progress bar (`tqdm
<https://tqdm.github.io>`_, installed with
``pip install 'theanets[progress]'``) and can silence the library's INFO
log records while it runs (:func:`quiet_logging`).
"""

import collections
import contextlib
import logging
import sys
import threading

import numpy as np


class Record(collections.namedtuple(
        'Record', 'iteration train valid validated')):
    """Monitor values of one training iteration.

    Attributes
    ----------
    iteration : int
        1 for the first pair the trainer yielded, 2 for the next, …
    train : dict
        Training monitor values (name to float).
    valid : dict
        The latest validation monitor values (name to float).
    validated : bool
        True if the validation set was evaluated for this iteration; between
        validations a trainer repeats the previous validation values.
    """

    __slots__ = ()


class MonitorSeries(object):
    """Array access to one side (training or validation) of a history.

    ``series['loss']`` is a float array with one value per recorded
    iteration (NaN where that monitor is missing) and
    :attr:`iterations` gives the matching iteration numbers.
    """

    def __init__(self, records, side):
        self._records = records
        self._side = side

    @property
    def iterations(self):
        """Iteration numbers of the values, as an int array."""
        return np.array([r.iteration for r in self._records], dtype=int)

    def keys(self):
        """Monitor names, in the order they first appear."""
        names = []
        for record in self._records:
            for name in getattr(record, self._side):
                if name not in names:
                    names.append(name)
        return names

    def __contains__(self, name):
        return name in self.keys()

    def __getitem__(self, name):
        if name not in self:
            raise KeyError('no {} monitor named {!r}; recorded monitors are '
                           '{}'.format(self._side, name, self.keys()))
        return np.array([getattr(r, self._side).get(name, np.nan)
                         for r in self._records], dtype=float)

    def __len__(self):
        return len(self._records)

    def __repr__(self):
        return '<{} monitors of {} iterations: {}>'.format(
            self._side, len(self), ', '.join(self.keys()))


class History(object):
    """The monitor values recorded while training a network.

    Attributes
    ----------
    records : list of :class:`Record`
        One record per training iteration, in order.

    Examples
    --------
    >>> history = History()
    >>> history.append({'loss': 0.9}, {'loss': 1.0}, validated=True)
    >>> history.append({'loss': 0.7}, {'loss': 1.0}, validated=False)
    >>> history.train['loss']
    array([0.9, 0.7])
    >>> history.valid['loss'], history.valid.iterations
    (array([1.]), array([1]))
    >>> len(history), history.records[-1].iteration
    (2, 2)
    """

    def __init__(self):
        self.records = []

    def append(self, train, valid, validated):
        """Record the monitor values of the next iteration.

        Parameters
        ----------
        train, valid : dict
            Training and validation monitor values; they are copied, with
            values converted to float.
        validated : bool
            Whether the validation values were computed for this iteration.
        """
        self.records.append(Record(
            len(self.records) + 1, _as_floats(train), _as_floats(valid),
            bool(validated)))

    @property
    def train(self):
        """:class:`MonitorSeries` of the training monitors, every iteration."""
        return MonitorSeries(self.records, 'train')

    @property
    def valid(self):
        """:class:`MonitorSeries` of the validation monitors.

        Only iterations for which validation ran are included.
        """
        return MonitorSeries([r for r in self.records if r.validated],
                             'valid')

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __repr__(self):
        return '<History: {} iterations, {} validations, monitors: {}>'.format(
            len(self), len(self.valid), ', '.join(self.train.keys()))


def _as_floats(monitors):
    result = collections.OrderedDict()
    for name, value in (monitors or {}).items():
        try:
            result[name] = float(value)
        except (TypeError, ValueError):
            result[name] = value
    return result


def _theanets_loggers():
    """The ``theanets`` logger and its existing child loggers."""
    names = [name for name in list(logging.Logger.manager.loggerDict)
             if name == 'theanets' or name.startswith('theanets.')]
    loggers = [logging.getLogger(name) for name in sorted(set(names) |
                                                           {'theanets'})]
    return [lg for lg in loggers if isinstance(lg, logging.Logger)]


#: Guards the loggers' levels while blocks of :func:`quiet_logging` run in
#: several threads: how many blocks are open, and the levels to restore.
_quiet_lock = threading.Lock()
_quiet_state = {'open': 0, 'saved': []}


@contextlib.contextmanager
def quiet_logging(quiet=True):
    """Suppress the library's INFO (and DEBUG) log records in a block.

    The ``theanets`` logger and its children (``theanets.downhill`` carries
    the optimizer's per-epoch lines) are raised to level WARNING while the
    block runs and get their own levels back afterwards, so warnings and
    errors still show and nothing changes once the block is left.

    Logger levels belong to the whole process, so while any thread is in
    such a block, INFO records of every thread are suppressed. Blocks may
    overlap (nested, or in several threads): the levels are saved when the
    first one opens and restored when the last one closes.

    Parameters
    ----------
    quiet : bool, optional
        If False, do nothing (handy to pass a flag through).

    Examples
    --------
    >>> import logging
    >>> with quiet_logging():
    ...     logging.getLogger('theanets').isEnabledFor(logging.INFO)
    False
    >>> logging.getLogger('theanets').isEnabledFor(logging.INFO)
    True
    """
    if not quiet:
        yield
        return
    with _quiet_lock:
        if not _quiet_state['open']:
            saved = []
            for logger in _theanets_loggers():
                if logger.getEffectiveLevel() < logging.WARNING:
                    saved.append((logger, logger.level))
                    logger.setLevel(logging.WARNING)
            _quiet_state['saved'] = saved
        _quiet_state['open'] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_state['open'] -= 1
            if not _quiet_state['open']:
                for logger, level in reversed(_quiet_state['saved']):
                    logger.setLevel(level)
                _quiet_state['saved'] = []


def _in_notebook():
    """True when running inside a Jupyter kernel."""
    ipython = sys.modules.get('IPython')
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return type(shell).__name__ == 'ZMQInteractiveShell'


def _stderr_is_terminal():
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # missing or closed stream
        return False


def progress_bar(progress, total=None):
    """Create the tqdm progress bar for a training run, or None.

    Parameters
    ----------
    progress : bool or None
        True: always show a bar (raises ImportError without tqdm). False:
        never. None: show one when stderr is a terminal or in a notebook and
        tqdm is installed.
    total : int, optional
        Expected number of iterations (e.g. ``max_updates``).

    Returns
    -------
    tqdm bar or None
    """
    if progress is None:
        progress = _stderr_is_terminal() or _in_notebook()
        required = False
    else:
        required = True
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if required:
            raise ImportError(
                'progress=True needs the tqdm package; install it with '
                "pip install 'theanets[progress]' (or pip install tqdm)"
            ) from None
        return None
    return tqdm(total=total, desc='training', unit='epoch', leave=True,
                file=sys.stderr, dynamic_ncols=True)


class TrainingFeedback(object):
    """History, progress bar and quiet logging of one training run.

    :meth:`theanets.Network.itertrain` creates one of these per call; it is
    the single place where those options are handled.

    Parameters
    ----------
    history : :class:`History`
        Where iterations are recorded.
    progress : bool or None
        See :func:`progress_bar`.
    quiet : bool
        If True, theanets' INFO log records are suppressed while the trainer
        runs (but not while the caller handles a yielded pair).
    total : int, optional
        Expected number of iterations for the progress bar.
    """

    def __init__(self, history, progress=None, quiet=False, total=None):
        self.history = history
        self.bar = progress_bar(progress, total)
        self.quiet = bool(quiet)
        self._previous_valid = None
        self._quiet_block = None
        self._redirect = None
        if self.bar is not None:
            self._redirect_logging()

    def _redirect_logging(self):
        """Print theanets' console log lines above the bar, not through it."""
        try:
            from tqdm.contrib.logging import logging_redirect_tqdm
        except ImportError:  # older tqdm: lines interleave with the bar
            return
        self._redirect = logging_redirect_tqdm(
            loggers=[logging.getLogger('theanets')], tqdm_class=type(self.bar))
        self._redirect.__enter__()

    def silence(self):
        """Start suppressing log records (if quiet)."""
        if self.quiet and self._quiet_block is None:
            self._quiet_block = quiet_logging()
            self._quiet_block.__enter__()

    def unsilence(self):
        """Stop suppressing log records."""
        if self._quiet_block is not None:
            block, self._quiet_block = self._quiet_block, None
            block.__exit__(None, None, None)

    @contextlib.contextmanager
    def caller_turn(self):
        """Restore normal logging while the caller handles a pair."""
        self.unsilence()
        try:
            yield
        finally:
            self.silence()

    def record(self, pair):
        """Record a yielded ``(train, valid)`` pair and update the bar."""
        try:
            train, valid = pair
        except (TypeError, ValueError):
            train, valid = {}, {}
        # Between validations downhill yields the same validation dict again.
        validated = valid is not self._previous_valid
        self._previous_valid = valid
        self.history.append(train, valid, validated)
        if self.bar is not None:
            postfix = collections.OrderedDict()
            for key in ('loss', 'acc'):
                if key in (train or {}):
                    postfix[key] = '{:.4g}'.format(float(train[key]))
            if valid and 'loss' in valid:
                postfix['valid_loss'] = '{:.4g}'.format(float(valid['loss']))
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)

    def close(self):
        """Close the progress bar and restore logging."""
        self.unsilence()
        if self._redirect is not None:
            redirect, self._redirect = self._redirect, None
            redirect.__exit__(None, None, None)
        if self.bar is not None:
            self.bar.close()
            self.bar = None
