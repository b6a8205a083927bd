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
import time

import numpy as np

from . import _logging


class Monitors(collections.OrderedDict):
    """Monitor values (name to value) measured after one epoch.

    A dict whose :attr:`epoch` attribute says after which epoch of its
    training run the values were measured: 0 for the validation before
    the first epoch. Trainers yield the same validation dictionary again
    between validations; its ``epoch`` tells how old it is.

    Examples
    --------
    >>> m = Monitors([('loss', 0.25)], epoch=10)
    >>> m['loss'], m.epoch
    (0.25, 10)
    >>> m == {'loss': 0.25}
    True
    >>> m
    OrderedDict([('loss', 0.25)])
    """

    def __init__(self, *args, epoch=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch = epoch

    def __reduce__(self):
        return (type(self), (list(self.items()),), {'epoch': self.epoch})

    def __repr__(self):
        # Shown as the OrderedDict that theanets 0.8 returned (documented
        # examples print it); the epoch is an attribute.
        return 'OrderedDict({!r})'.format(list(self.items()))


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
        True if the validation values were measured after this iteration;
        between validations a trainer repeats the previous values.
    """

    __slots__ = ()


class MonitorSeries(dict):
    """One side (training or validation) of a history, as arrays.

    A dict mapping each monitor name to a float array with one value per
    recorded iteration (NaN where that monitor is missing), so that
    ``pandas.DataFrame(series)`` and ``list(series)`` work as for any
    mapping; :attr:`iterations` gives the matching iteration numbers.

    Parameters
    ----------
    entries : list of (int, dict)
        Iteration numbers and the monitor values recorded then.
    side : str
        ``'train'`` or ``'valid'`` (for messages).
    """

    def __init__(self, entries, side):
        names = []
        for _, monitors in entries:
            for name in monitors:
                if name not in names:
                    names.append(name)
        super().__init__(
            (name, np.array([m.get(name, np.nan) for _, m in entries],
                            dtype=float)) for name in names)
        self.side = side
        self.iterations = np.array([i for i, _ in entries], dtype=int)

    def __missing__(self, name):
        raise KeyError('no {} monitor named {!r}; recorded monitors are '
                       '{}'.format(self.side, name, list(self)))

    def keys(self):
        """Monitor names, in the order they first appear."""
        return list(super().keys())

    def __repr__(self):
        return '<{} monitors of {} iterations: {}>'.format(
            self.side, len(self.iterations), ', '.join(self))


class History(object):
    """The monitor values recorded while training a network.

    Attributes
    ----------
    records : list of :class:`Record`
        One record per training iteration, in order.
    validations : list of (int, dict)
        Every validation measured, with the iteration after which it was
        measured (0: before the first iteration).
    kept : :class:`Record` or None
        After training: the iteration whose parameters the model holds and
        the validation monitors of those parameters (iteration 0: the
        initial parameters).

    Examples
    --------
    >>> history = History()
    >>> history.append({'loss': 0.9}, {'loss': 1.0}, validated=False,
    ...                measured_at=0)
    >>> history.append({'loss': 0.7}, {'loss': 0.8}, validated=True)
    >>> history.train['loss']
    array([0.9, 0.7])
    >>> history.valid['loss'], history.valid.iterations
    (array([1. , 0.8]), array([0, 2]))
    >>> list(history.train), len(history)
    (['loss'], 2)
    """

    def __init__(self):
        self.records = []
        self.validations = []
        self.kept = None

    def append(self, train, valid, validated, measured_at=None):
        """Record the monitor values of the next iteration.

        Parameters
        ----------
        train, valid : dict
            Training and validation monitor values; they are copied, with
            values converted to float.
        validated : bool
            Whether the validation values were measured after this
            iteration.
        measured_at : int, optional
            For values measured earlier: the iteration after which they
            were (recorded once, as a validation).
        """
        iteration = len(self.records) + 1
        valid = _as_floats(valid)
        self.records.append(Record(iteration, _as_floats(train), valid,
                                   bool(validated)))
        self._note_validation(iteration if validated else measured_at, valid)

    def amend(self, valid, validated):
        """Replace the validation values of the latest iteration.

        Used when the validation after an iteration arrives after its pair
        (e.g. the final validation of an interrupted run).
        """
        last = self.records[-1]
        valid = _as_floats(valid)
        self.records[-1] = last._replace(valid=valid,
                                         validated=bool(validated))
        if validated:
            self._note_validation(last.iteration, valid)

    def _note_validation(self, iteration, valid):
        if iteration is None or not valid:
            return
        if self.validations and self.validations[-1][0] == iteration:
            self.validations[-1] = (iteration, valid)
        elif not self.validations or self.validations[-1][0] < iteration:
            self.validations.append((iteration, valid))

    @property
    def train(self):
        """:class:`MonitorSeries` of the training monitors, every iteration."""
        return MonitorSeries([(r.iteration, r.train) for r in self.records],
                             'train')

    @property
    def valid(self):
        """:class:`MonitorSeries` of the validation monitors.

        One entry per validation, at the iteration after which it was
        measured (0 for the validation before training).
        """
        return MonitorSeries(self.validations, 'valid')

    def to_frame(self):
        """The history as a ``pandas.DataFrame``, one row per iteration.

        Columns are the training monitors, then the validation monitors
        with a ``valid_`` prefix, which hold values only in the rows of the
        iterations after which validation ran (row 0 is the validation
        before training). Needs pandas.

        Returns
        -------
        pandas.DataFrame
            Indexed by iteration (named ``'iteration'``).
        """
        try:
            import pandas
        except ImportError:
            raise ImportError('History.to_frame needs pandas; install it '
                              'with pip install pandas') from None
        train, valid = self.train, self.valid
        index = sorted(set(train.iterations) | set(valid.iterations))
        frame = pandas.DataFrame(index=pandas.Index(index, name='iteration'))
        for name, values in train.items():
            frame[name] = pandas.Series(values, index=train.iterations)
        for name, values in valid.items():
            frame['valid_' + name] = pandas.Series(
                values, index=valid.iterations)
        return frame

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __repr__(self):
        return '<History: {} iterations, {} validations, monitors: {}>'.format(
            len(self), len(self.validations), ', '.join(self.train))


def _as_floats(monitors):
    """A copy of ``monitors`` with float values (keeping ``epoch``)."""
    result = Monitors(epoch=getattr(monitors, 'epoch', None))
    for name, value in (monitors or {}).items():
        try:
            result[name] = float(value)
        except (TypeError, ValueError):
            result[name] = value
    return result


def _epochs_of(train, valid):
    """(training epoch, validation epoch) of a pair, or None if unknown."""
    epochs = getattr(train, 'epoch', None), getattr(valid, 'epoch', None)
    if None in epochs:
        return None
    return epochs


def _brief(monitors):
    return ' '.join('{}={:.4g}'.format(name, float(value))
                    for name, value in monitors.items()
                    if isinstance(value, (int, float, np.number)))


def _postfix(train, valid, epochs):
    postfix = collections.OrderedDict()
    for key in ('loss', 'acc'):
        if key in train:
            postfix[key] = '{:.4g}'.format(float(train[key]))
    if 'loss' in valid:
        postfix['valid_loss'] = '{:.4g}'.format(float(valid['loss']))
        if epochs is not None:
            postfix['valid_loss'] += ' (epoch {})'.format(epochs[1])
    return postfix


def _console_logger():
    """The logger whose handlers print theanets' records: theanets' own
    (with its default handler) or the first ancestor with handlers (e.g. the
    root logger of a ``logging.basicConfig`` application)."""
    logger = logging.getLogger('theanets')
    while logger is not None:
        if logger.handlers or not logger.propagate or logger.parent is None:
            return logger
        logger = logger.parent
    return logging.getLogger()


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
        self._previous_train = None
        self._previous_valid = None
        self._last_line = time.monotonic()
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
            loggers=[_console_logger()], tqdm_class=type(self.bar))
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

    #: Seconds between the INFO progress lines of a run without a bar.
    PROGRESS_INTERVAL = 15.0

    def record(self, pair):
        """Record a yielded ``(train, valid)`` pair and update the bar.

        A pair with the same training monitors as the previous one (the
        final validation of an interrupted run) amends that iteration
        instead of adding one.
        """
        try:
            train, valid = pair
        except (TypeError, ValueError):
            train, valid = {}, {}
        train, valid = train or {}, valid or {}
        epochs = _epochs_of(train, valid)
        if epochs is not None:
            validated = epochs[0] == epochs[1]
        else:
            # A trainer without epoch numbers: between validations downhill
            # and most trainers yield the same validation dict again.
            validated = bool(valid) and valid is not self._previous_valid
        if self.history.records and train is self._previous_train:
            self.history.amend(valid, validated)
        else:
            measured_at = None
            if epochs is not None:
                measured_at = len(self.history) + 1 - (epochs[0] - epochs[1])
            self.history.append(train, valid, validated, measured_at)
            if self.bar is not None:
                self.bar.update(1)
        self._previous_train, self._previous_valid = train, valid
        if self.bar is not None:
            self.bar.set_postfix(_postfix(train, valid, epochs),
                                 refresh=False)
        else:
            self._log_progress(train, valid, epochs)

    def _log_progress(self, train, valid, epochs):
        now = time.monotonic()
        if now - self._last_line < self.PROGRESS_INTERVAL:
            return
        self._last_line = now
        text = 'iteration {}: {}'.format(len(self.history), _brief(train))
        if valid:
            text += ' | validation{}: {}'.format(
                '' if epochs is None else ' after epoch {}'.format(epochs[1]),
                _brief(valid))
        _logging.log('{}', text)

    def finish(self, outcome):
        """Note which iteration's parameters the model keeps.

        ``outcome`` is the trainer's :class:`theanets._epochs.Outcome` (or
        None); its epoch is mapped to this history's iteration numbers.
        """
        if outcome is None or outcome.valid is None:
            return
        last = self.history.records[-1] if self.history.records else None
        last_epoch = getattr(self._previous_train, 'epoch', None)
        iteration = outcome.epoch
        if last is not None and last_epoch is not None:
            iteration = last.iteration - (last_epoch - outcome.epoch)
        train = outcome.train if outcome.train is not None else (
            last.train if last is not None else {})
        self.history.kept = Record(iteration, _as_floats(train),
                                   _as_floats(outcome.valid), True)

    def close(self):
        """Close the progress bar and restore logging."""
        self.unsilence()
        if self._redirect is not None:
            redirect, self._redirect = self._redirect, None
            redirect.__exit__(None, None, None)
        if self.bar is not None:
            self.bar.close()
            self.bar = None
