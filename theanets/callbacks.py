"""Callbacks: code that runs after every training epoch.

Pass a list of them to :meth:`theanets.Network.train` or ``itertrain``
(``callbacks=[...]``). After each epoch the trainer calls every callback
with a :class:`TrainingState`, which holds the model, the epoch number, the
training monitors of the epoch, the latest validation monitors and whether
validation ran after this epoch. A callback can stop training (set
``state.stop_training = True`` or return True) and, if it declares
``uses_learning_rate = True``, change the learning rate between epochs
without recompiling anything.

A callback is either a plain function ``f(state)``, called after every
epoch, or an instance of a :class:`Callback` subclass, whose
:meth:`~Callback.on_train_begin`, :meth:`~Callback.on_epoch_end` and
:meth:`~Callback.on_train_end` are called at those points of every
optimizer run (the layer-wise pretrainers make one run per stage).

Built in:

* :class:`EarlyStopping` -- stop when a monitor stops improving;
* :class:`StepDecay`, :class:`ExponentialDecay`, :class:`CosineDecay` --
  learning-rate schedules by epoch;
* :class:`ReduceLROnPlateau` -- lower the learning rate when a validation
  monitor stops improving;
* :class:`SaveBest` -- save the model whenever validation improves (what
  ``save_best=`` of ``train`` uses).

Examples
--------
>>> import numpy as np, theanets
>>> X = np.random.RandomState(0).randn(64, 4).astype('f')
>>> y = (X[:, 0] > 0).astype('i')
>>> net = theanets.Classifier([4, (8, 'relu'), 2])
>>> seen = []
>>> def remember(state):
...     seen.append(state.epoch)
>>> _ = net.train([X, y], algo='sgd', learning_rate=0.1, max_updates=3,
...               callbacks=[remember, theanets.callbacks.StepDecay(2)])
>>> seen
[1, 2, 3]
"""

import math

import numpy as np

from . import _logging
from .exceptions import ConfigurationError, ConfigValueError

__all__ = ['Callback', 'TrainingState', 'EarlyStopping',
           'LearningRateSchedule', 'StepDecay', 'ExponentialDecay',
           'CosineDecay', 'ReduceLROnPlateau', 'SaveBest', 'CallbackList']


class TrainingState(object):
    """What a callback sees of a training run.

    Attributes
    ----------
    model : :class:`theanets.Network`
        The network being optimized (for the layer-wise pretrainers, the
        network of the current stage).
    algo : str
        Name of the optimizer.
    epoch : int
        Number of completed epochs in this run; 0 in ``on_train_begin``.
    train : dict
        Training monitor values of the epoch (means over its mini-batches,
        each measured before that batch's update). Empty before the first
        epoch.
    valid : dict
        The latest validation monitor values; ``valid.epoch`` says after
        which epoch they were measured (0: before training).
    validated : bool
        True if validation ran after this epoch (``valid.epoch == epoch``).
    best_epoch : int
        The epoch whose parameters had the best validation loss so far.
    best_valid : dict
        The validation monitor values of that epoch.
    stop_training : bool
        Set to True to stop training after this epoch. The trainer then
        validates (if this epoch was not validated) and keeps the best
        parameters, as for any other stop.
    stop_reason : str or None
        Why training stopped (set once it has).
    """

    def __init__(self, model, algo, learning_rate=None):
        self.model = model
        self.algo = algo
        self.epoch = 0
        self.train = {}
        self.valid = {}
        self.validated = False
        self.best_epoch = 0
        self.best_valid = {}
        self.stop_training = False
        self.stop_reason = None
        self._learning_rate = learning_rate

    @property
    def learning_rate(self):
        """The optimizer's current learning rate (a float).

        Settable between epochs when the run was started with a callback
        that declares ``uses_learning_rate = True``: the value lives in a
        Theano shared variable, so changing it recompiles nothing.

        Raises
        ------
        theanets.exceptions.ConfigurationError
            If this run has a constant learning rate.
        """
        rate = self._learning_rate
        if rate is None:
            raise ConfigurationError(
                'learning_rate: this training run has a constant learning '
                'rate; give a callback the attribute uses_learning_rate = '
                'True (as the schedules in theanets.callbacks do) to be '
                'able to change it between epochs')
        if hasattr(rate, 'get_value'):
            return float(rate.get_value())
        return float(rate)

    @learning_rate.setter
    def learning_rate(self, value):
        rate = self._learning_rate
        if not hasattr(rate, 'set_value'):
            # Reading the property raises the right error.
            self.learning_rate
            raise ConfigurationError(
                'learning_rate: this run was given a symbolic learning rate '
                '({!r}) that theanets cannot set'.format(rate))
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ConfigValueError(
                'learning_rate: expected a non-negative finite number, got '
                '{!r}'.format(value))
        rate.set_value(np.asarray(value, dtype=rate.dtype))


class Callback(object):
    """Base class of the callbacks with more than an end-of-epoch hook.

    Subclasses override any of the three methods; each receives the run's
    :class:`TrainingState`. :meth:`on_epoch_end` may return True to stop
    training.

    Attributes
    ----------
    uses_learning_rate : bool
        True for callbacks that change ``state.learning_rate``; the trainer
        then keeps the learning rate in a shared variable.
    """

    uses_learning_rate = False

    def on_train_begin(self, state):
        """Called once the initial validation of a run has been measured."""

    def on_epoch_end(self, state):
        """Called after every epoch (and its validation, if one ran)."""

    def on_train_end(self, state):
        """Called when the run ends, after the best parameters are restored."""


class CallbackList(object):
    """The callbacks of one run, called in the order given.

    Parameters
    ----------
    callbacks : iterable of callables or :class:`Callback`, optional

    Raises
    ------
    theanets.exceptions.ConfigurationError
        If an entry is neither callable nor a :class:`Callback`.
    """

    def __init__(self, callbacks=None):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback) or callable(callbacks):
            callbacks = [callbacks]
        try:
            callbacks = list(callbacks)
        except TypeError:
            raise ConfigurationError(
                'callbacks: expected a list of callables or '
                'theanets.callbacks.Callback objects, got {!r}'.format(
                    callbacks)) from None
        for i, callback in enumerate(callbacks):
            if not isinstance(callback, Callback) and not callable(callback):
                raise ConfigurationError(
                    'callbacks[{}]: expected a callable or a theanets.'
                    'callbacks.Callback, got {!r}'.format(i, callback))
        self.callbacks = callbacks

    def __len__(self):
        return len(self.callbacks)

    def __iter__(self):
        return iter(self.callbacks)

    @property
    def uses_learning_rate(self):
        """True if a callback changes the learning rate."""
        return any(getattr(c, 'uses_learning_rate', False)
                   for c in self.callbacks)

    def on_train_begin(self, state):
        for callback in self.callbacks:
            if isinstance(callback, Callback):
                callback.on_train_begin(state)

    def on_epoch_end(self, state):
        """Call every callback; return True if one asks to stop."""
        for callback in self.callbacks:
            if isinstance(callback, Callback):
                answer = callback.on_epoch_end(state)
            else:
                answer = callback(state)
            if answer is True:
                state.stop_training = True
        return state.stop_training

    def on_train_end(self, state):
        for callback in self.callbacks:
            if isinstance(callback, Callback):
                callback.on_train_end(state)


def _parse_monitor(monitor):
    """Split ``'valid:loss'`` / ``'train:acc'`` / ``'loss'`` into parts."""
    if not isinstance(monitor, str) or not monitor:
        raise ConfigurationError(
            'monitor: expected a monitor name such as "loss" or "valid:acc", '
            'got {!r}'.format(monitor))
    side, _, name = monitor.rpartition(':')
    side = side or 'valid'
    if side not in ('train', 'valid'):
        raise ConfigurationError(
            'monitor: expected "train:<name>" or "valid:<name>", got '
            '{!r}'.format(monitor))
    return side, name


def _check_mode(mode, name):
    if mode == 'auto':
        mode = 'max' if name.startswith('acc') else 'min'
    if mode not in ('min', 'max'):
        raise ConfigurationError(
            'mode: expected "min", "max" or "auto", got {!r}'.format(mode))
    return mode


class _MonitorWatch(object):
    """Tracks the best value of one monitor (shared by the plateau rules)."""

    def __init__(self, monitor, mode, min_delta):
        self.side, self.name = _parse_monitor(monitor)
        self.monitor = monitor
        self.mode = _check_mode(mode, self.name)
        if not np.isfinite(min_delta) or min_delta < 0:
            raise ConfigValueError(
                'min_delta: expected a non-negative number, got {!r}'.format(
                    min_delta))
        self.min_delta = float(min_delta)
        self.reset()

    def reset(self):
        self.best = None
        self.waited = 0

    def measured(self, state):
        """The monitor's new value after this epoch, or None if not new."""
        if self.side == 'valid' and not state.validated:
            return None
        values = state.valid if self.side == 'valid' else state.train
        if self.name not in values:
            raise ConfigurationError(
                'monitor: no {} monitor named {!r}; this run has {}'.format(
                    self.side, self.name, sorted(values)))
        return float(values[self.name])

    def start(self, state):
        """Forget earlier runs; a validation monitor starts from the
        validation before training."""
        self.reset()
        if self.side == 'valid':
            self.improved(self.measured(state))

    def stalled(self, state, patience):
        """Judge this epoch's value (if there is a new one); True once
        ``patience`` judged values in a row failed to improve."""
        value = self.measured(state)
        if value is None or self.improved(value):
            return False
        return self.waited >= patience

    def improved(self, value):
        """Record ``value``; True if it beats the best by ``min_delta``."""
        if self.best is None:
            better = True
        elif self.mode == 'min':
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best = value
            self.waited = 0
        else:
            self.waited += 1
        return better


class EarlyStopping(Callback):
    """Stop training when a monitor has stopped improving.

    Parameters
    ----------
    monitor : str, optional
        ``'valid:<name>'`` or ``'train:<name>'``; a bare name means a
        validation monitor. Defaults to ``'valid:loss'``. Validation
        monitors are judged only after epochs that ran validation.
    patience : int, optional
        Stop after this many judged epochs without improvement. Defaults
        to 5.
    min_delta : float, optional
        The least change that counts as an improvement. Defaults to 0.
    mode : {'auto', 'min', 'max'}, optional
        Whether smaller or larger is better; ``'auto'`` picks ``'max'`` for
        monitors whose name starts with ``acc`` and ``'min'`` otherwise.

    Notes
    -----
    Stopping keeps the parameters with the best validation loss (the
    trainer's rule), which need not be those with the best value of this
    monitor.

    Examples
    --------
    >>> stop = EarlyStopping('train:loss', patience=2, min_delta=0.01)
    >>> stop.patience
    2
    """

    def __init__(self, monitor='valid:loss', patience=5, min_delta=0,
                 mode='auto'):
        self.patience = _count('patience', patience, 0)
        self._watch = _MonitorWatch(monitor, mode, min_delta)
        self.stopped_epoch = None

    def on_train_begin(self, state):
        self._watch.start(state)
        self.stopped_epoch = None

    def on_epoch_end(self, state):
        if self._watch.stalled(state, self.patience):
            self.stopped_epoch = state.epoch
            state.stop_reason = 'EarlyStopping on {}'.format(
                self._watch.monitor)
            _logging.debug('early stopping at epoch {}: {} did not improve '
                           'for {} epochs', state.epoch, self._watch.monitor,
                           self._watch.waited)
            return True
        return False


class LearningRateSchedule(Callback):
    """Base class of the schedules that set the learning rate by epoch.

    Subclasses define :meth:`rate`, the learning rate for the next epoch
    given the number of completed epochs and the initial rate. The initial
    rate is the run's ``learning_rate`` keyword (downhill's default 1e-4
    when not given).

    ``learning_rate`` means something to ``sgd``, ``nag``, ``rmsprop``,
    ``adagrad``, ``esgd`` and ``adam``; ``adadelta`` has none, and
    ``rprop`` reads it only once, as its initial step, so a schedule
    refuses to run with those two.
    """

    uses_learning_rate = True

    #: Optimizers whose updates do not read the learning rate every step.
    IGNORED_BY = ('adadelta', 'rprop')

    def __init__(self):
        self.initial_rate = None

    def on_train_begin(self, state):
        if str(state.algo).lower() in self.IGNORED_BY:
            raise ConfigurationError(
                'callbacks: {} changes the learning rate, which "{}" does not '
                'use between steps; use it with sgd, nag, rmsprop, adagrad, '
                'esgd or adam'.format(type(self).__name__, state.algo))
        self.initial_rate = state.learning_rate

    def on_epoch_end(self, state):
        state.learning_rate = self.rate(state.epoch, self.initial_rate)
        return False

    def rate(self, epoch, initial_rate):
        """The learning rate after ``epoch`` completed epochs."""
        raise NotImplementedError(
            '{} must define rate(epoch, initial_rate)'.format(
                type(self).__name__))


def _count(name, value, least):
    """``value`` as an int, if it is an integer of at least ``least``."""
    if isinstance(value, bool) or not isinstance(
            value, (int, np.integer)) or value < least:
        raise ConfigValueError('{}: expected {} integer, got {!r}'.format(
            name, 'a positive' if least > 0 else 'a non-negative', value))
    return int(value)


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(
            value, (int, float, np.integer, np.floating)) or \
            not np.isfinite(value) or value <= 0:
        raise ConfigValueError('{}: expected a positive number, got {!r}'
                               .format(name, value))
    return value


class StepDecay(LearningRateSchedule):
    """Multiply the learning rate by ``factor`` every ``step`` epochs.

    Parameters
    ----------
    step : int
        Number of epochs between reductions.
    factor : float, optional
        Multiplier applied at every step. Defaults to 0.5.

    Examples
    --------
    >>> StepDecay(10, 0.5).rate(25, 0.1)
    0.025
    """

    def __init__(self, step, factor=0.5):
        super().__init__()
        self.step = _count('step', step, 1)
        self.factor = _positive('factor', factor)

    def rate(self, epoch, initial_rate):
        return initial_rate * self.factor ** (epoch // self.step)


class ExponentialDecay(LearningRateSchedule):
    """Multiply the learning rate by ``factor`` after every epoch.

    Parameters
    ----------
    factor : float
        Per-epoch multiplier, e.g. 0.95.

    Examples
    --------
    >>> round(ExponentialDecay(0.9).rate(2, 1.0), 6)
    0.81
    """

    def __init__(self, factor):
        super().__init__()
        self.factor = _positive('factor', factor)

    def rate(self, epoch, initial_rate):
        return initial_rate * self.factor ** epoch


class CosineDecay(LearningRateSchedule):
    """Lower the learning rate along half a cosine over ``epochs`` epochs.

    The rate after ``e`` epochs is ``floor + (initial - floor) * (1 +
    cos(pi * e / epochs)) / 2``, and ``floor`` after ``epochs``.

    Parameters
    ----------
    epochs : int
        Length of the decay, typically the run's ``max_updates``.
    floor : float, optional
        Final learning rate. Defaults to 0.

    Examples
    --------
    >>> CosineDecay(10).rate(5, 0.2)
    0.1
    """

    def __init__(self, epochs, floor=0.0):
        super().__init__()
        self.epochs = _count('epochs', epochs, 1)
        if not np.isfinite(floor) or floor < 0:
            raise ConfigValueError(
                'floor: expected a non-negative number, got {!r}'.format(floor))
        self.floor = float(floor)

    def rate(self, epoch, initial_rate):
        progress = min(epoch, self.epochs) / self.epochs
        return self.floor + (initial_rate - self.floor) * 0.5 * (
            1 + math.cos(math.pi * progress))


class ReduceLROnPlateau(LearningRateSchedule):
    """Multiply the learning rate by ``factor`` when a monitor stalls.

    Parameters
    ----------
    monitor : str, optional
        As for :class:`EarlyStopping`; defaults to ``'valid:loss'``.
    factor : float, optional
        Multiplier in (0, 1). Defaults to 0.1.
    patience : int, optional
        Judged epochs without improvement before a reduction. Defaults
        to 2.
    min_delta : float, optional
        Least change that counts as an improvement. Defaults to 0.
    min_rate : float, optional
        The rate is never lowered below this. Defaults to 0.
    mode : {'auto', 'min', 'max'}, optional
        As for :class:`EarlyStopping`.

    Examples
    --------
    >>> ReduceLROnPlateau(factor=0.5, patience=3).factor
    0.5
    """

    def __init__(self, monitor='valid:loss', factor=0.1, patience=2,
                 min_delta=0, min_rate=0.0, mode='auto'):
        super().__init__()
        if not 0 < factor < 1:
            raise ConfigValueError(
                'factor: expected a number in (0, 1), got {!r}'.format(factor))
        self.factor = float(factor)
        self.patience = _count('patience', patience, 0)
        self.min_rate = float(min_rate)
        self._watch = _MonitorWatch(monitor, mode, min_delta)

    def on_train_begin(self, state):
        super().on_train_begin(state)
        self._watch.start(state)

    def on_epoch_end(self, state):
        if self._watch.stalled(state, self.patience):
            lowered = max(state.learning_rate * self.factor, self.min_rate)
            if lowered < state.learning_rate:
                _logging.debug('epoch {}: {} stalled; learning rate {:.4g} '
                               '-> {:.4g}', state.epoch, self._watch.monitor,
                               state.learning_rate, lowered)
                state.learning_rate = lowered
            self._watch.waited = 0
        return False

    def rate(self, epoch, initial_rate):
        raise NotImplementedError(
            'ReduceLROnPlateau sets the rate from the monitors, not by epoch')


class SaveBest(Callback):
    """Save the model each time its validation loss reaches a new best.

    This is what ``save_best=`` of :meth:`theanets.Network.train` uses;
    the file then always holds the best model of the run, including the
    untrained one if no epoch improves on it.

    Parameters
    ----------
    target : str or file-like
        File name (``{epoch}`` is replaced by the epoch number) or a binary
        file object, passed to :meth:`theanets.Network.save`.
    """

    def __init__(self, target):
        self.target = target
        self.saved_epochs = []

    def on_train_begin(self, state):
        self._save(state)

    def on_epoch_end(self, state):
        if state.validated and state.best_epoch == state.epoch:
            self._save(state)
        return False

    def _save(self, state):
        target = self.target
        if isinstance(target, str):
            target = target.format(epoch=state.epoch)
        elif hasattr(target, 'seek'):
            target.seek(0)
            if hasattr(target, 'truncate'):
                target.truncate()
        state.model.save(target)
        self.saved_epochs.append(state.epoch)
