"""The epoch loop of one optimizer run: steps, validation, the best epoch.

:class:`theanets.trainer.DownhillTrainer` compiles a downhill optimizer and
hands it to :func:`run_epochs`, which drives it epoch by epoch. The loop
takes the same steps in the same order as ``downhill.Optimizer.iterate``
(so seeded runs follow the same trajectory as with theanets 0.8) and the
same patience rule, with these differences:

* validation after epoch ``k`` (every ``validate_every`` epochs) happens
  before the pair of epoch ``k`` is yielded, so that pair carries it;
* whenever training stops -- ``max_updates``, patience, an interrupt, a
  callback -- an epoch that was not validated is validated, and the
  parameters kept are those with the lowest validation loss over every
  validation including that one (downhill kept those of the last
  validation that improved by ``min_improvement``, its patience rule,
  which still decides when to stop);
* validation monitors are means over the validation *examples*: batches are
  weighted by their size when the sizes differ;
* callbacks (:mod:`theanets.callbacks`) run after every epoch.

Monitor dictionaries are :class:`theanets.history.Monitors`, whose
``epoch`` attribute says after which epoch they were measured.
"""

import collections
import warnings

import numpy as np

from . import _logging
from .callbacks import TrainingState
from .exceptions import DataError, DataExhaustedError, TrainingError
from .history import Monitors

__all__ = ['run_epochs', 'step_epochs', 'Outcome']


#: What a run keeps: the epoch whose parameters the model holds afterwards,
#: that epoch's training monitors (None for epoch 0) and its validation.
Outcome = collections.namedtuple('Outcome', 'epoch train valid reason')


#: Stop reasons that end an epoch before its last batch (callbacks are not
#: called for such an epoch).
_CUT_SHORT = ('interrupted', 'the training data ran out')


def _snapshot(params):
    """Copies of the current values of some shared variables."""
    return [param.get_value(borrow=False) for param in params]


def _restore(params, values):
    for param, value in zip(params, values):
        param.set_value(value)


def _first_non_finite(monitors, label):
    for name, value in monitors.items():
        try:
            finite = np.all(np.isfinite(value))
        except TypeError:  # not a number; nothing to check
            continue
        if not finite:
            return 'the {} monitor {!r} ({})'.format(label, name, value)
    return None


def _non_finite_params(params):
    for param in params:
        if not np.isfinite(param.get_value(borrow=True)).all():
            return 'parameter {!r}'.format(param.name)
    return None


def _batch_length(batch, axis):
    first = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
    shape = getattr(first, 'shape', None)
    if not shape:
        return 1
    return shape[axis if len(shape) > axis else 0]


def _format(monitors):
    return ' '.join('{}={:.6f}'.format(k, float(v))
                    for k, v in monitors.items())


class _Run(object):
    """State of one run of :func:`run_epochs` (kept out of the generator)."""

    def __init__(self, optimizer, params, valid, axis):
        self.optimizer = optimizer
        self.params = params
        self.valid = valid
        self.axis = axis
        self.names = list(optimizer._monitor_names)
        self.min_improvement = optimizer.min_improvement
        self.reference_loss = self.best_loss = 1e100
        self.best = Outcome(0, None, None, None)
        self.best_values = None
        self.validations = 0
        self.best_validation = 0

    def evaluate(self, epoch):
        """Validation monitors of the current parameters."""
        values, lengths = [], []
        dataset = self.valid
        batches = [()] if dataset is None else dataset
        for batch in batches:
            values.append(self.optimizer.f_eval(*batch))
            lengths.append(_batch_length(batch, self.axis))
        if not values:
            raise DataError('valid: the validation data gave no mini-batches')
        if len(set(lengths)) > 1:
            means = np.average(np.asarray(values, dtype='float64'), axis=0,
                               weights=lengths)
        else:
            means = np.mean(values, axis=0)
        return Monitors(zip(self.names, means), epoch=epoch)

    def step(self, dataset, epoch):
        """One epoch of updates: (monitors or None, why it stopped early).

        The reason is None for a complete epoch, ``'interrupted'`` after a
        KeyboardInterrupt and ``'the training data ran out'`` when a
        one-shot iterator is exhausted (with a warning); the monitors then
        cover the batches before that.
        """
        values = []
        stopped = None
        try:
            for batch in dataset:
                values.append(self.optimizer.f_step(*batch))
        except KeyboardInterrupt:
            stopped = 'interrupted'
        except DataExhaustedError as error:
            warnings.warn('training stopped: {}'.format(error),
                          RuntimeWarning, stacklevel=2)
            stopped = 'the training data ran out'
        if not values:
            if stopped is None:
                raise DataError(
                    'train: the training data gave no mini-batches')
            return None, stopped
        return Monitors(zip(self.names, np.mean(values, axis=0)),
                        epoch=epoch), stopped

    def offer(self, valid, train):
        """Count a validation; True if its parameters are the best so far.

        Two rules, kept apart: patience follows downhill's (a validation
        loss *improves* when it is lower than the loss of the last
        improvement by more than ``min_improvement`` times that loss), so
        runs stop at the same epoch as with theanets 0.8; the parameters
        kept are those with the lowest validation loss, however small the
        margin (downhill kept those of the last improvement).
        """
        self.validations += 1
        # A Python float: under numpy 2 a float32 loss would make the
        # comparison below float32, where 1e100 overflows.
        loss = float(valid['loss'])
        if self.reference_loss - loss > self.reference_loss * \
                self.min_improvement:
            self.reference_loss = loss
            self.best_validation = self.validations
        best = loss < self.best_loss
        if best:
            self.best_loss = loss
            self.best = Outcome(valid.epoch, train, valid, None)
            self.best_values = _snapshot(self.params)
        marker = ' *' if best else ''
        _logging.debug('validation {} {}{}', valid.epoch, _format(valid),
                       marker)
        return best

    def patience_elapsed(self, patience):
        return self.validations - self.best_validation > patience


def _stop_description(reason, options):
    if reason == 'max_updates':
        return 'max_updates={} reached'.format(options.get('max_updates'))
    if reason == 'patience':
        return ('no improvement of the validation loss by min_improvement={} '
                'in patience={} validations'.format(
                    options.get('min_improvement'), options.get('patience')))
    return reason


def run_epochs(optimizer, network, algo, train, valid, callbacks, options,
               restore_best=True, learning_rate=None):
    """Optimize epoch by epoch; yield ``(train, valid)`` monitor pairs.

    Parameters
    ----------
    optimizer : ``downhill.Optimizer``
        Compiled (its ``f_step`` and ``f_eval`` exist) and prepared (its
        ``validate_every``, ``patience`` and ``min_improvement`` are set).
    network : :class:`theanets.Network`
        The model whose parameters the optimizer updates.
    algo : str
        The optimizer's name (for callbacks and messages).
    train, valid : iterables of batches
        Each iteration over ``train`` is one epoch; ``valid`` is iterated
        for every validation (None: call ``f_eval`` without inputs).
    callbacks : :class:`theanets.callbacks.CallbackList`
    options : dict
        The run's keywords (``max_updates``, ``axis``, ...).
    restore_best : bool, optional
        Keep the parameters with the best validation loss (True, the
        default) or the final ones.
    learning_rate : shared variable, optional
        The learning rate, when callbacks may change it.

    Returns
    -------
    :class:`Outcome`
        As the generator's return value (``StopIteration.value``): the
        epoch whose parameters the model holds afterwards, its monitors
        and the reason training stopped.

    Raises
    ------
    theanets.exceptions.TrainingError
        If a monitor or a parameter becomes NaN or infinite; the parameters
        are first reset to their values after the last finite epoch.
    """
    params = [p for p in network.params if hasattr(p, 'get_value')]
    max_updates = options.get('max_updates')
    validate_every = optimizer.validate_every
    patience = optimizer.patience
    run = _Run(optimizer, params, valid, options.get('axis', 0) or 0)
    state = TrainingState(network, algo, learning_rate)
    last_finite = _snapshot(params)
    epoch = 0
    reason = None
    train_m = None
    try:
        valid_m = run.evaluate(0)
    except KeyboardInterrupt:
        _logging.log('training interrupted before the first epoch')
        return Outcome(0, None, None, 'interrupted')
    _check_finite(valid_m, 'validation', params, last_finite, 0)
    run.offer(valid_m, None)
    _update_state(state, 0, {}, valid_m, True, run)
    callbacks.on_train_begin(state)

    while reason is None:
        if max_updates is not None and epoch >= max_updates:
            reason = 'max_updates'
            break
        previous_train = train_m
        train_m, stopped = run.step(train, epoch + 1)
        if train_m is None:
            # Stopped before the first batch of an epoch: the previous
            # epoch may still need its validation, handed to the caller
            # with that epoch's training monitors again.
            reason, train_m = stopped, previous_train
            if epoch and valid_m.epoch != epoch:
                valid_m, validated = _validate(run, epoch, valid_m, params,
                                               last_finite, train_m)
                if validated:
                    _update_state(state, epoch, train_m, valid_m, True, run)
                    yield train_m, valid_m
            break
        epoch += 1
        _logging.debug('{} {} {}', type(optimizer).__name__, epoch,
                       _format(train_m))
        _check_finite(train_m, 'training', params, last_finite, epoch)
        if stopped is not None:
            reason = stopped
        elif max_updates is not None and epoch >= max_updates:
            reason = 'max_updates'
        validated = False
        if reason is not None or epoch % validate_every == 0:
            valid_m, validated = _validate(run, epoch, valid_m, params,
                                           last_finite, train_m)
            if not validated:
                reason = reason or 'interrupted'
            elif reason is None and run.patience_elapsed(patience):
                reason = 'patience'
        last_finite = _snapshot(params)
        _update_state(state, epoch, train_m, valid_m, validated, run)
        complete = reason not in _CUT_SHORT
        if complete and callbacks.on_epoch_end(state) and reason is None:
            reason = state.stop_reason or 'stopped by a callback'
            if not validated:
                valid_m, validated = _validate(run, epoch, valid_m, params,
                                               last_finite, train_m)
                _update_state(state, epoch, train_m, valid_m, validated, run)
        try:
            yield train_m, valid_m
        except KeyboardInterrupt:
            # Thrown in while the caller handled the pair (Network.train
            # does this): validate what we have and hand the caller that
            # validation with the same training monitors.
            reason = 'interrupted'
            if not validated:
                valid_m, validated = _validate(run, epoch, valid_m, params,
                                               last_finite, train_m)
                if validated:
                    _update_state(state, epoch, train_m, valid_m, True, run)
                    yield train_m, valid_m

    if restore_best and run.best_values is not None:
        _restore(params, run.best_values)
        kept = run.best._replace(reason=reason)
    else:
        kept = Outcome(epoch, train_m, valid_m, reason)
    state.stop_reason = reason
    callbacks.on_train_end(state)
    summary = 'kept the parameters after epoch {}'.format(kept.epoch)
    if kept.valid:
        summary += ' (validation {})'.format(' '.join(
            '{}={:.4g}'.format(k, float(v)) for k, v in kept.valid.items()))
    _logging.log('{}: stopped after {} epoch{}, {}; {}', algo, epoch,
                 '' if epoch == 1 else 's',
                 _stop_description(reason, _effective(optimizer, options)),
                 summary)
    return kept


def step_epochs(optimizer, network, train, epochs, options):
    """Take ``epochs`` passes of updates over ``train``; no validation.

    Returns the training monitors of the last pass. An interrupt ends the
    current pass after its last complete batch (the monitors then cover
    that part) and is raised again afterwards.
    """
    params = [p for p in network.params if hasattr(p, 'get_value')]
    run = _Run(optimizer, params, None, options.get('axis', 0) or 0)
    monitors = None
    for epoch in range(1, epochs + 1):
        before = _snapshot(params)
        monitors, stopped = run.step(train, epoch)
        if monitors is not None:
            _check_finite(monitors, 'training', params, before, epoch)
        if stopped == 'interrupted':
            raise KeyboardInterrupt
        if stopped is not None:
            break
    return monitors


def _effective(optimizer, options):
    return dict(options, patience=optimizer.patience,
                min_improvement=optimizer.min_improvement)


def _validate(run, epoch, previous, params, last_finite, train_m):
    """Validate after ``epoch``; (monitors, True), or (previous, False)
    if interrupted or the validation data ran out."""
    try:
        valid_m = run.evaluate(epoch)
    except KeyboardInterrupt:
        return previous, False
    except DataExhaustedError as error:
        warnings.warn('validation skipped: {}'.format(error), RuntimeWarning,
                      stacklevel=2)
        return previous, False
    _check_finite(valid_m, 'validation', params, last_finite, epoch)
    run.offer(valid_m, train_m)
    return valid_m, True


def _check_finite(monitors, label, params, last_finite, epoch):
    problem = _first_non_finite(monitors, label) or _non_finite_params(params)
    if problem is None:
        return
    _restore(params, last_finite)
    raise TrainingError(
        'training stopped at epoch {}: {} is not finite; the parameters were '
        'reset to their values after epoch {} (try a smaller learning_rate, '
        'gradient clipping with max_gradient_norm, or scaling the '
        'data)'.format(epoch, problem, max(epoch - 1, 0)))


def _update_state(state, epoch, train_m, valid_m, validated, run):
    state.epoch = epoch
    state.train = train_m
    state.valid = valid_m
    state.validated = validated
    state.best_epoch = run.best.epoch
    state.best_valid = run.best.valid
