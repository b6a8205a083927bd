"""The training loop behind :meth:`theanets.Network.itertrain` and ``train``.

:func:`itertrain` checks the options and the data, picks a trainer from
:mod:`theanets.trainer`, wraps the data in ``downhill`` datasets, and passes
the trainer's monitor pairs on to the caller while it records them in the
model's history, shows progress and saves the model when asked. It takes a
network and never imports the graph module.
"""

import contextlib
import os
import threading
import time

from . import _data
from . import callbacks as _callbacks
from . import history
from . import options as _options
from . import trainer as trainers
from . import util

__all__ = ['TrainingMixin', 'TrainingGuard', 'itertrain', 'train',
           'build_trainer']


class TrainingGuard(object):
    """Refuses to let a second thread train a model that is being trained.

    Two threads updating the same parameters with two optimizers would mix
    their steps into a model neither trained; each model holds one guard,
    and :meth:`hold` raises :class:`theanets.util.TrainingError` in a
    thread that tries to train while another thread does. The thread that
    trains may start more training of the same model (e.g. a second
    ``itertrain`` loop), as before.

    Examples
    --------
    >>> guard = TrainingGuard()
    >>> with guard.hold('model'):
    ...     with guard.hold('model'):  # the same thread: allowed
    ...         pass
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._owner = None
        self._depth = 0

    @contextlib.contextmanager
    def hold(self, what):
        me = threading.get_ident()
        with self._lock:
            if self._owner is not None and self._owner != me:
                raise util.TrainingError(
                    'cannot train {} in this thread: another thread is '
                    'training it now; train one model per thread (or copy '
                    'the model first)'.format(what))
            self._owner = me
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if not self._depth:
                    self._owner = None


class TrainingMixin(object):
    """The training methods of :class:`theanets.Network`.

    They hand the work to :func:`itertrain` and :func:`train` of this
    module; the class only holds their public API and documentation.
    """

    def itertrain(self, train, valid=None, algo='rmsprop', subalgo='rmsprop',
                  save_every=0, save_progress=None, progress=None,
                  quiet=False, callbacks=None, save_best=None,
                  restore_best=True, **kwargs):
        """Train the network, yielding monitor values after each iteration.

        Parameters
        ----------
        train : list of arrays, batches, callable, iterator or dataset
            Training data: one array per variable in :attr:`variables` (for
            example ``[inputs, targets]`` or ``[inputs, targets, weights]``),
            a sequence of batches (``[[x1, y1], [x2, y2], ...]``), a
            callable returning one batch per call, an iterator or generator
            of batches, or a ``downhill.Dataset``. Every batch is cast and
            checked like arrays are (see :mod:`theanets._data` for the
            rules and how many batches make an epoch).
        valid : same as ``train``, optional
            Validation data. Defaults to the training data.
        algo : str or trainer, optional
            ``'sample'``, ``'layerwise'`` (or ``'supervised'``), ``'pretrain'``
            (or ``'unsupervised'``), or the name of a downhill optimizer
            (``'sgd'``, ``'nag'``, ``'rmsprop'``, ``'adam'``, …). An object
            with an ``itertrain(train, valid, **kwargs)`` method is used as
            the trainer. Defaults to ``'rmsprop'``.
        subalgo : str, optional
            Optimizer used by the pretrainers. Defaults to ``'rmsprop'``.
        save_every : int or float, optional
            Save the model every this many iterations (int) or minutes
            (float) when ``save_progress`` is set; 0 means never.
        save_progress : str or file-like, optional
            Where to save the model during training. In a file name,
            ``{epoch}`` is replaced by the iteration number and ``{time}``
            (or ``{}``, as in theanets 0.8) by the Unix time of the save;
            a name with such a field never overwrites a file saved earlier
            in the same run (a ``-2``, ``-3``, ... suffix is added when two
            saves would get the same name). A name without fields is
            rewritten at every save.
        progress : bool or None, optional
            Show a `tqdm <https://tqdm.github.io>`_ progress bar counting
            iterations (out of ``max_updates`` when given), with the latest
            training loss (and accuracy) and validation loss. True always
            shows one (an ImportError tells how to install tqdm if it is
            missing: ``pip install 'theanets[progress]'``), False never;
            None (the default) shows one when stderr is a terminal or in a
            Jupyter notebook, if tqdm is installed.
        quiet : bool, optional
            If True, theanets' INFO log records (including the optimizer's
            per-epoch lines on the ``theanets.downhill`` logger) are
            suppressed while training runs; warnings still show. Nothing
            global changes: the loggers get their levels back whenever a
            pair is handed to the caller and when training ends (see
            :func:`theanets.history.quiet_logging`). Defaults to False.
        callbacks : list, optional
            Callables ``f(state)`` or :class:`theanets.callbacks.Callback`
            objects, run after every epoch with a
            :class:`theanets.callbacks.TrainingState` (the model, the epoch,
            its monitors, whether validation ran); they can stop training
            and change the learning rate (see :mod:`theanets.callbacks`:
            early stopping on any monitor, step / exponential / cosine /
            plateau schedules).
        save_best : str or file-like, optional
            Save the model each time its validation loss reaches a new best
            (``{epoch}`` in a file name is replaced by the epoch), so the
            file holds the best model of the run. Gradient algorithms only.
        restore_best : bool, optional
            When training stops, keep the parameters with the best
            validation loss (True, the default) or the final ones.
        **kwargs
            Options for datasets (``batch_size``, ``iteration_size``,
            ``train_batches``, ``valid_batches``, ``axis``), the optimizer
            (``learning_rate``, ``momentum``, ``patience``, ``max_updates``,
            …), monitors and regularizers.

        Yields
        ------
        (dict, dict)
            Training and validation monitor values
            (:class:`theanets.history.Monitors`; ``valid.epoch`` says after
            which epoch the validation values were measured, 0 meaning
            before training: between validations the latest ones are
            repeated).

        Notes
        -----
        The gradient trainers validate before the first epoch, after every
        ``validate_every`` epochs (default 10) and whenever training stops
        (``max_updates``, patience, an interrupt, a callback), and the model
        then keeps the parameters with the best validation loss over all
        of them, the last one included (unless ``restore_best=False``).
        Leaving the loop early (``break``) keeps the current parameters.

        Every call starts a new :attr:`history`, which records the monitor
        values of each yielded pair (see :class:`theanets.history.History`)
        and, at the end, which iteration's parameters the model kept
        (``history.kept``).

        ``generator.throw(KeyboardInterrupt)`` on this generator is passed on
        to the trainer: the gradient trainers then restore the parameters
        with the best validation loss so far and stop, so the generator ends
        normally (:meth:`train` relies on this).

        Raises
        ------
        DataError
            If an array of the data does not fit its variable: wrong number
            of arrays (e.g. a missing weight array for a weighted model),
            dimensions or feature count, arrays of different lengths, no
            examples, non-numeric or NaN/infinite values, or class labels
            outside ``[-n_classes, n_classes)``.
        theanets.exceptions.UnknownKeywordError
            (a ``TypeError`` and a ``ConfigurationError``) for keywords that
            no dataset, optimizer, monitor or regularizer reads, unless
            ``algo`` is a trainer object; the message suggests the keyword
            probably meant and lists the known ones.
        theanets.util.ConfigurationError
            For option values that make no sense (a ``batch_size``,
            ``iteration_size``, ``validate_every`` below 1, a negative
            ``patience``, ``max_updates``, ``learning_rate`` or
            ``save_every``, a ``momentum`` outside ``[0, 1)``, a dropout
            probability outside ``[0, 1)``, a negative or non-finite noise
            level or regularizer weight, an unusable ``save_best`` or
            ``save_progress`` pattern), and an unknown ``algo``
            (:class:`theanets.util.UnknownNameError`, which lists the known
            names).
        theanets.util.TrainingError
            If a training or validation loss becomes NaN or infinite; the
            parameters keep the values of the last finite epoch; or if
            another thread is training this model.

        Warns
        -----
        RuntimeWarning
            When a one-shot iterator of batches runs out: training stops
            there as for any other stop.
        """
        with self._training.hold('this {}'.format(type(self).__name__)):
            self._history = history.History()
            yield from itertrain(
                self, self._history, self._rng, train, valid=valid,
                algo=algo, subalgo=subalgo, save_every=save_every,
                save_progress=save_progress, progress=progress, quiet=quiet,
                callbacks=callbacks, save_best=save_best,
                restore_best=restore_best, **kwargs)

    def train(self, *args, **kwargs):
        """Train the network until the trainer stops.

        Takes the arguments of :meth:`itertrain`, including ``progress``
        (a tqdm progress bar) and ``quiet`` (no INFO log records while
        training). The monitor values of every iteration are kept in
        :attr:`history` afterwards.

        Returns
        -------
        (dict, dict) or None
            Monitors describing the parameters the model holds afterwards:
            the validation monitors of those parameters (the best
            validation, see :meth:`itertrain`) and the training monitors of
            the epoch that produced them (of the last epoch when the
            initial parameters are kept). None if training yielded nothing.

        Raises
        ------
        theanets.util.TrainingError
            If the loss becomes NaN or infinite (see :meth:`itertrain`).

        Notes
        -----
        Pressing Ctrl-C (``KeyboardInterrupt``) during training stops it and
        returns normally with the monitors of the last completed iteration:
        the gradient trainers keep the parameters with the best validation
        loss so far, and the model stays usable (it can predict, be saved or
        train again). A second interrupt while the trainer winds down is
        raised as usual.
        """
        monitors = train(self.itertrain(*args, **kwargs))
        kept = self.history.kept
        if monitors is not None and kept is not None:
            return kept.train, kept.valid
        return monitors

    @property
    def history(self):
        """The :class:`theanets.history.History` of the latest training run.

        Each call of :meth:`itertrain` or :meth:`train` starts a new one and
        records the training and validation monitor values of every
        iteration; ``net.history.train['loss']`` is an array of the
        training losses, ``net.history.valid['loss']`` one of the validation
        losses (only iterations for which validation ran). Empty before the
        first training run. Not saved with the model.
        """
        record = self.__dict__.get('_history')
        if record is None:
            record = self._history = history.History()
        return record


def build_trainer(network, algo, subalgo):
    """Return ``(trainer, full_check, direct)`` for an ``algo`` argument.

    ``full_check`` is True for the trainers that read data for all the
    network's variables (inputs, targets, weights), ``'inputs'`` for the
    unsupervised pretrainer (whose autoencoder reads exactly the inputs) and
    False for the sample trainer (the first and last arrays of whatever it
    is given). ``direct`` is True for a
    trainer that optimises ``network`` itself, rather than networks made
    from its layers (the pretrainers) or through a trainer object of the
    caller's.
    """
    if not isinstance(algo, str):
        return algo, False, False
    name = algo.lower()
    if name == 'sample':
        return trainers.SampleTrainer(network), False, False
    if name.startswith('layer') or name.startswith('sup'):
        return trainers.SupervisedPretrainer(subalgo, network), True, False
    if name.startswith('pre') or name.startswith('unsup'):
        return (trainers.UnsupervisedPretrainer(subalgo, network), 'inputs',
                False)
    return trainers.DownhillTrainer(name, network), True, True


#: Trainers that run theanets' epoch loop and take callbacks themselves.
_EPOCH_LOOP_TRAINERS = (trainers.DownhillTrainer,
                        trainers.SupervisedPretrainer,
                        trainers.UnsupervisedPretrainer)


def itertrain(network, record, default_rng, train, valid=None,
              algo='rmsprop', subalgo='rmsprop', save_every=0,
              save_progress=None, progress=None, quiet=False, callbacks=None,
              save_best=None, restore_best=True, **kwargs):
    """Train ``network``, yielding monitor pairs; see ``Network.itertrain``.

    ``record`` is the :class:`theanets.history.History` that receives every
    pair, ``default_rng`` the seed or generator used when ``rng`` is not
    among the keywords (the model's own). The other arguments are those of
    :meth:`theanets.Network.itertrain`.
    """
    feedback = None
    try:
        feedback = history.TrainingFeedback(
            record, progress=progress, quiet=quiet,
            total=kwargs.get('max_updates') if _options.algo_is_downhill(
                kwargs.get('algorithm', algo)) else None)
        feedback.silence()
        opts = _options.TrainingOptions(network, algo, kwargs, default_rng,
                                        save_every)
        _options.check_save_progress(save_progress)
        callbacks = _callbacks_for(callbacks, save_best)
        yield from _iterate(network, feedback, opts, train, valid, subalgo,
                            save_every, save_progress, callbacks,
                            bool(restore_best))
    finally:
        if feedback is not None:
            feedback.close()


def _callbacks_for(callbacks, save_best):
    """The run's :class:`~theanets.callbacks.CallbackList` (with save_best)."""
    callbacks = _callbacks.CallbackList(callbacks)
    if save_best is not None:
        _options.check_save_best(save_best)
        callbacks.callbacks.append(_callbacks.SaveBest(save_best))
    return callbacks


def _iterate(network, feedback, opts, train, valid, subalgo, save_every,
             save_progress, callbacks, restore_best):
    """The body of :func:`itertrain`, reporting to ``feedback``."""
    trainer, full_check, direct = build_trainer(network, opts.algo, subalgo)
    trainer_kwargs = opts.for_network() if direct else dict(opts.kwargs)
    looped = isinstance(trainer, _EPOCH_LOOP_TRAINERS)
    if looped:
        trainer_kwargs.update(callbacks=callbacks, restore_best=restore_best)
    if any(isinstance(c, _callbacks.SaveBest) for c in callbacks) and \
            not direct:
        raise util.ConfigurationError(
            'save_best: needs a gradient algorithm ("sgd", "adam", ...); the '
            '{!r} trainer does not train this model directly'.format(
                opts.algo))

    if full_check is True:
        # Report configuration problems (e.g. a regularizer that cannot
        # apply) before data problems; the graph is cached for training.
        network.loss(**opts.for_network())

    train, valid = _data.prepare_datasets(network, train, valid, opts,
                                          full_check)
    valid = opts.dataset(valid, 'valid')
    train = opts.dataset(train, 'train')

    start = time.time()
    pairs = trainer.itertrain(train, valid, **trainer_kwargs)
    if not looped and len(callbacks):
        pairs = _with_callbacks(pairs, network, opts.algo, callbacks)
    saver = _ProgressSaver(network, save_progress)
    for i, monitors in enumerate(pairs):
        feedback.record(monitors)
        try:
            with feedback.caller_turn():
                yield monitors
        except KeyboardInterrupt:
            # Pass an interrupt thrown in by the caller on to the trainer,
            # which restores its best parameters and stops.
            if not hasattr(pairs, 'throw'):
                raise
            for monitors in throw(pairs, KeyboardInterrupt):
                feedback.record(monitors)
                with feedback.caller_turn():
                    yield monitors
            feedback.finish(getattr(trainer, 'kept', None))
            return
        now = time.time()
        if i and _should_save(save_progress, save_every, i, now - start):
            saver.save(i, now)
            start = now
    feedback.finish(getattr(trainer, 'kept', None))


class _ProgressSaver(object):
    """Writes the ``save_progress`` checkpoints of one run."""

    def __init__(self, network, target):
        self.network = network
        self.target = target
        self.written = set()

    def save(self, iteration, now):
        target = self.target
        if isinstance(target, str):
            name = _options.format_save_progress(target, iteration, now)
            if name != target:
                name = _unused_name(name, self.written)
            self.written.add(name)
            target = name
        self.network.save(target)


def _unused_name(name, taken):
    """``name``, or ``name`` with a ``-2``, ``-3``, ... suffix not in taken."""
    if name not in taken:
        return name
    root, ext = os.path.splitext(name)
    if root.endswith('.pkl') or root.endswith('.tar'):
        root, inner = os.path.splitext(root)
        ext = inner + ext
    n = 2
    while '{}-{}{}'.format(root, n, ext) in taken:
        n += 1
    return '{}-{}{}'.format(root, n, ext)


def _with_callbacks(pairs, network, algo, callbacks):
    """Run callbacks after each pair of a trainer without an epoch loop."""
    state = _callbacks.TrainingState(network, algo)
    callbacks.on_train_begin(state)
    try:
        for epoch, pair in enumerate(pairs, 1):
            train_m, valid_m = pair
            state.epoch, state.train, state.valid = epoch, train_m, valid_m
            state.validated = True
            stop = callbacks.on_epoch_end(state)
            yield pair
            if stop:
                state.stop_reason = state.stop_reason or 'stopped by a callback'
                break
    finally:
        if hasattr(pairs, 'close'):
            pairs.close()
    callbacks.on_train_end(state)


def train(iterator):
    """Run a training iterator to its end; see ``Network.train``.

    Returns the last monitor pair, or None if there was none. A
    ``KeyboardInterrupt`` outside the optimizer's own steps (e.g. while
    saving progress) is thrown into the iterator, so the trainer restores
    its best parameters; a second interrupt while it winds down ends the
    wait.
    """
    monitors = None
    try:
        for monitors in iterator:
            pass
    except KeyboardInterrupt:
        try:
            for monitors in throw(iterator, KeyboardInterrupt):
                pass
        except KeyboardInterrupt:
            pass
        util.log('training interrupted')
    return monitors


def throw(generator, exc):
    """Throw ``exc`` into a generator; yield what it yields afterwards."""
    try:
        item = generator.throw(exc)
    except StopIteration:
        return
    yield item
    yield from generator


def _should_save(save_progress, save_every, iteration, elapsed):
    """Decide whether to save the model after the given iteration."""
    if save_progress is None:
        return False
    if isinstance(save_every, float):
        return elapsed > 60 * save_every
    if isinstance(save_every, int):
        return save_every != 0 and iteration % save_every == 0
    return False
