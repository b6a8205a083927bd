"""Tests for training feedback: tqdm progress bars and quiet training."""

import io
import logging
import sys
import threading
import time

import pytest

from theanets import feedforward, history, util

from tests.helpers import NUM_INPUTS, NUM_HID1, NUM_CLASSES


class ScriptedTrainer(object):
    """A trainer that logs like the real ones and yields fixed values."""

    def __init__(self, epochs=3):
        self.epochs = epochs
        self.kwargs = None

    def itertrain(self, train, valid=None, **kwargs):
        self.kwargs = kwargs
        for i in range(self.epochs):
            util.log('scripted epoch {}', i + 1)
            logging.getLogger('theanets.downhill').info('downhill line')
            logging.getLogger('theanets').warning('scripted warning')
            yield ({'loss': 1.0 - i / 10, 'acc': 0.5 + i / 10},
                   {'loss': 1.5})


class TerminalStream(io.StringIO):
    def isatty(self):
        return True


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.INFO):
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def records():
    handler = Records()
    logger = logging.getLogger('theanets')
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope='module')
def net():
    return feedforward.Classifier([NUM_INPUTS, (NUM_HID1, 'tanh'),
                                   NUM_CLASSES])


@pytest.fixture(scope='module')
def train(inputs, classes):
    """Train a model on the shared data with a scripted stand-in trainer."""
    def run(net, epochs=3, **kwargs):
        return net.train([inputs, classes], algo=ScriptedTrainer(epochs),
                         **kwargs)
    return run


def test_progress_true_draws_a_bar_with_postfix(net, train, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', stream)
    train(net, progress=True, quiet=True)
    text = stream.getvalue()
    assert 'training' in text and '3epoch' in text.replace(' ', '')
    assert 'loss=0.8' in text and 'acc=0.7' in text
    assert 'valid_loss=1.5' in text


def test_progress_total_is_max_updates_for_downhill(net, monkeypatch, inputs,
                                                    classes):
    stream = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', stream)
    net.train([inputs, classes], algo='sgd', max_updates=3, batch_size=16,
              progress=True, quiet=True)
    text = stream.getvalue()
    assert '3/3' in text
    assert 'loss=' in text and 'acc=' in text
    # the bar says when the validation it shows was measured
    assert 'valid_loss=' in text and '(epoch 3)' in text


def test_progress_lines_go_to_the_log_only_without_a_bar(
        net, monkeypatch, inputs, classes, records):
    from theanets import history
    monkeypatch.setattr(history.TrainingFeedback, 'PROGRESS_INTERVAL', 0.0)
    net.train([inputs, classes], algo='sgd', max_updates=2, batch_size=16,
              progress=False)
    lines = [m for m in records.messages() if m.startswith('iteration ')]
    assert len(lines) == 2
    assert 'validation after epoch 0:' in lines[0]
    assert 'validation after epoch 2:' in lines[1]
    del records.records[:]
    monkeypatch.setattr(sys, 'stderr', io.StringIO())
    net.train([inputs, classes], algo='sgd', max_updates=2, batch_size=16,
              progress=True)
    assert not [m for m in records.messages() if m.startswith('iteration ')]


def test_progress_auto_is_off_when_stderr_is_not_a_terminal(net, train,
                                                            monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, 'stderr', stream)
    train(net, quiet=True)
    assert stream.getvalue() == ''


def test_progress_auto_is_on_for_a_terminal(net, train, monkeypatch):
    stream = TerminalStream()
    monkeypatch.setattr(sys, 'stderr', stream)
    train(net, quiet=True)
    assert 'loss=0.8' in stream.getvalue()


def test_progress_false_never_draws(net, train, monkeypatch):
    stream = TerminalStream()
    monkeypatch.setattr(sys, 'stderr', stream)
    train(net, progress=False, quiet=True)
    assert stream.getvalue() == ''


def test_progress_without_tqdm(net, train, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tqdm', None)
    monkeypatch.setitem(sys.modules, 'tqdm.auto', None)
    hint = r"pip install 'theanets\[progress\]'"
    with pytest.raises(ImportError, match=hint):
        train(net, progress=True, quiet=True)
    stream = TerminalStream()
    monkeypatch.setattr(sys, 'stderr', stream)
    assert train(net, quiet=True) is not None  # auto: silently no bar
    assert stream.getvalue() == ''


def test_quiet_suppresses_info_but_not_warnings(net, train, records):
    train(net, progress=False, quiet=True)
    assert records.messages(logging.INFO) == []
    assert records.messages(logging.WARNING) == ['scripted warning'] * 3
    assert logging.getLogger('theanets').isEnabledFor(logging.INFO)


def test_without_quiet_info_records_are_kept(net, train, records):
    train(net, epochs=1, progress=False)
    messages = records.messages(logging.INFO)
    assert 'scripted epoch 1' in messages and 'downhill line' in messages


def test_quiet_suppresses_downhill_and_compile_logs(net, records, inputs,
                                                    classes):
    net.train([inputs, classes], algo='sgd', max_updates=2, batch_size=16,
              progress=False, quiet=True)
    assert records.messages(logging.INFO) == []
    assert len(net.history) == 2


def test_quiet_only_while_the_trainer_runs(net, records, inputs, classes):
    for i, _ in enumerate(net.itertrain([inputs, classes], quiet=True,
                                        algo=ScriptedTrainer(2),
                                        progress=False)):
        util.log('caller {}', i)
    assert records.messages(logging.INFO) == ['caller 0', 'caller 1']
    assert logging.getLogger('theanets').level == logging.INFO


def test_quiet_restores_levels_after_an_error(net, inputs, classes):
    class Failing(object):
        def itertrain(self, train, valid=None, **kwargs):
            raise RuntimeError('boom')
            yield

    child = logging.getLogger('theanets.history-test')
    child.setLevel(logging.DEBUG)
    try:
        with pytest.raises(RuntimeError, match='boom'):
            net.train([inputs, classes], algo=Failing(), quiet=True,
                      progress=False)
        assert child.level == logging.DEBUG
        assert logging.getLogger('theanets').level == logging.INFO
        assert logging.getLogger('theanets.downhill').level == logging.NOTSET
    finally:
        child.setLevel(logging.NOTSET)


def test_quiet_logging_silences_children_with_their_own_level():
    child = logging.getLogger('theanets.history-test')
    child.setLevel(logging.INFO)
    try:
        with history.quiet_logging():
            assert not child.isEnabledFor(logging.INFO)
            assert child.isEnabledFor(logging.WARNING)
        assert child.level == logging.INFO
        with history.quiet_logging(False):
            assert child.isEnabledFor(logging.INFO)
    finally:
        child.setLevel(logging.NOTSET)


def test_overlapping_quiet_blocks_restore_the_levels():
    # Blocks that overlap in several threads (scikit-learn's threading
    # backend runs estimators so) must not leave the loggers at WARNING:
    # the last block to close restores what the first one saved.
    logger = logging.getLogger('theanets')
    before = logger.level
    opened = threading.Barrier(4)
    loud = []

    def quiet_worker(pause):
        with history.quiet_logging():
            opened.wait(timeout=10)
            time.sleep(pause)  # the first block closes while others run
            loud.append(logger.isEnabledFor(logging.INFO))

    threads = [threading.Thread(target=quiet_worker, args=(0.01 * i, ))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loud == [False] * 4
    assert logger.level == before
    with history.quiet_logging():
        with history.quiet_logging():  # nested in one thread
            pass
        assert not logger.isEnabledFor(logging.INFO)
    assert logger.level == before


def test_progress_prints_log_lines_above_the_bar(net, train, monkeypatch):
    stream = TerminalStream()
    monkeypatch.setattr(sys, 'stderr', stream)
    console = logging.StreamHandler(stream)
    console.setFormatter(logging.Formatter('LOG %(message)s'))
    direct = []
    monkeypatch.setattr(console, 'emit', direct.append)
    logger = logging.getLogger('theanets')
    logger.addHandler(console)
    try:
        train(net, epochs=2, progress=True)
        assert console in logger.handlers  # put back after training
    finally:
        logger.removeHandler(console)
    # while the bar is shown the lines go through tqdm.write (with the
    # handler's format and stream), not through the handler itself
    assert direct == []
    text = stream.getvalue()
    assert 'LOG scripted epoch 1\n' in text
    assert text.count('LOG scripted epoch') == 2
    assert text.count('LOG downhill line') == 2
    assert 'loss=0.9' in text


def test_progress_auto_is_on_in_a_notebook(net, train, monkeypatch):
    class ZMQInteractiveShell(object):
        config = {}

    fake_ipython = type(sys)('IPython')
    fake_ipython.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, 'IPython', fake_ipython)
    assert history._in_notebook()  # the internal detector this test covers
    stream = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, 'stderr', stream)
    train(net, quiet=True)
    assert 'loss=0.8' in stream.getvalue()
    fake_ipython.get_ipython = lambda: None  # plain IPython terminal: no
    assert not history._in_notebook()
