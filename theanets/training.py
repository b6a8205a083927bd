"""The training loop behind :meth:`theanets.Network.itertrain` and ``train``.

:func:`itertrain` checks the options and the data, picks a trainer from
:mod:`theanets.trainer`, wraps the data in ``downhill`` datasets, and passes
the trainer's monitor pairs on to the caller while it records them in the
model's history, shows progress and saves the model when asked. It takes a
network and never imports the graph module.
"""

import contextlib
import threading
import time

from . import _data
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
                  quiet=False, **kwargs):
        """Train the network, yielding monitor values after each iteration.

        Parameters
        ----------
        train : list of arrays, callable or ``downhill.Dataset``
            Training data: one array per variable in :attr:`variables` (for
            example ``[inputs, targets]`` or ``[inputs, targets, weights]``),
            or a callable returning such a list, or a dataset.
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
            Where to save the model during training; a ``'{}'`` in the path
            is replaced by the Unix time.
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
        **kwargs
            Options for datasets (``batch_size``, ``iteration_size``,
            ``train_batches``, ``valid_batches``, ``axis``), the optimizer
            (``learning_rate``, ``momentum``, ``patience``, ``max_updates``,
            …), monitors and regularizers.

        Yields
        ------
        (dict, dict)
            Training and validation monitor values.

        Notes
        -----
        Every call starts a new :attr:`history`, which records the monitor
        values of each yielded pair (see :class:`theanets.history.History`).

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
        theanets.util.ConfigurationError
            For option values that make no sense (a ``batch_size``,
            ``iteration_size``, ``validate_every`` below 1, a negative
            ``patience``, ``max_updates``, ``learning_rate`` or
            ``save_every``, a ``momentum`` outside ``[0, 1)``), and an
            unknown ``algo`` (:class:`theanets.util.UnknownNameError`, which
            lists the known names).
        theanets.util.TrainingError
            If a training or validation loss becomes NaN or infinite; the
            parameters keep the values of the last finite epoch; or if
            another thread is training this model.
        """
        with self._training.hold('this {}'.format(type(self).__name__)):
            self._history = history.History()
            yield from itertrain(
                self, self._history, self._rng, train, valid=valid,
                algo=algo, subalgo=subalgo, save_every=save_every,
                save_progress=save_progress, progress=progress, quiet=quiet,
                **kwargs)

    def train(self, *args, **kwargs):
        """Train the network until the trainer stops.

        Takes the arguments of :meth:`itertrain`, including ``progress``
        (a tqdm progress bar) and ``quiet`` (no INFO log records while
        training). The monitor values of every iteration are kept in
        :attr:`history` afterwards.

        Returns
        -------
        (dict, dict) or None
            The training and validation monitors of the last iteration.

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
        return train(self.itertrain(*args, **kwargs))

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
    network's variables (inputs, targets, weights); the sample and
    unsupervised trainers read inputs only. ``direct`` is True for a
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
        return trainers.UnsupervisedPretrainer(subalgo, network), False, False
    return trainers.DownhillTrainer(name, network), True, True


def itertrain(network, record, default_rng, train, valid=None,
              algo='rmsprop', subalgo='rmsprop', save_every=0,
              save_progress=None, progress=None, quiet=False, **kwargs):
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
        yield from _iterate(network, feedback, opts, train, valid, subalgo,
                            save_every, save_progress)
    finally:
        if feedback is not None:
            feedback.close()


def _iterate(network, feedback, opts, train, valid, subalgo, save_every,
             save_progress):
    """The body of :func:`itertrain`, reporting to ``feedback``."""
    trainer, full_check, direct = build_trainer(network, opts.algo, subalgo)
    trainer_kwargs = opts.for_network() if direct else opts.kwargs

    if full_check:
        # Report configuration problems (e.g. a regularizer that cannot
        # apply) before data problems; the graph is cached for training.
        network.loss(**opts.for_network())

    train, valid = _data.prepare_datasets(network, train, valid, opts,
                                          full_check)
    valid = opts.dataset(valid, 'valid')
    train = opts.dataset(train, 'train')

    start = time.time()
    pairs = trainer.itertrain(train, valid, **trainer_kwargs)
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
            return
        now = time.time()
        if i and _should_save(save_progress, save_every, i, now - start):
            if isinstance(save_progress, str):
                network.save(save_progress.format(int(now)))
            else:
                network.save(save_progress)
            start = now


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
