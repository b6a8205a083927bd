"""The training loop behind :meth:`theanets.Network.itertrain` and ``train``.

:func:`itertrain` checks the options and the data, picks a trainer from
:mod:`theanets.trainer`, wraps the data in ``downhill`` datasets, and passes
the trainer's monitor pairs on to the caller while it records them in the
model's history, shows progress and saves the model when asked. It takes a
network and never imports the graph module.
"""

import time

from . import history
from . import options as _options
from . import trainer as trainers
from . import util
from . import validation

__all__ = ['itertrain', 'train', 'build_trainer']


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

    if valid is None:
        valid = train
    checked = {}
    for name, data in (('train', train), ('valid', valid)):
        if id(data) not in checked and isinstance(data, (tuple, list)) \
                and opts.kwargs.get('axis', 0) == 0:
            checked[id(data)] = validation.check_dataset(
                network, data, name, full_check)

    valid = opts.dataset(checked.get(id(valid), valid), 'valid')
    train = opts.dataset(checked.get(id(train), train), 'train')

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
