"""The ``theanets`` logger: levels, the default console handler, :func:`log`.

theanets logs through the standard :mod:`logging` module, on the logger
named ``theanets`` and its children (``theanets.downhill`` carries the
optimizer's own lines). Levels follow the usual conventions:

* DEBUG: how a model is built and compiled (layers, parameters, losses,
  regularizers, graph caching, Theano and optimizer settings);
* INFO: a few lines per training run, and one line per model saved, loaded
  or exported;
* WARNING: things that cost the user time or accuracy (no BLAS linked, no
  C++ compiler, a slower fallback).

theanets never overrides a logging configuration of the application, made
before or after ``import theanets``:

* If at import the root logger has handlers (for instance after
  :func:`logging.basicConfig`), or the ``theanets`` logger already has a
  level or handlers, theanets adds no handler and sets no level: its records
  propagate to the application's handlers and obey its levels.
* Otherwise a script that configures nothing would see no INFO lines at all
  (the root logger's default level is WARNING). theanets then gives its
  logger the level INFO and one handler of its own that prints on stderr.
  As soon as the application configures logging later (``basicConfig``,
  ``dictConfig``, a handler on the root or on the ``theanets`` logger), that
  handler steps aside before the next record is handled: it removes itself,
  puts the logger's level back to ``NOTSET`` unless the application set
  one, and the record takes the application's path, or none if the
  application's levels drop it.

``logging.getLogger('theanets').setLevel(...)`` always works, with or
without the default handler. For example, warnings only, from theanets and
everything else::

    logging.basicConfig(level=logging.WARNING)

or theanets' construction details on top of its default lines::

    logging.getLogger('theanets').setLevel(logging.DEBUG)

This module imports nothing from theanets.
"""

import inspect
import logging
import os
import sys
import threading

__all__ = ['log', 'debug', 'enable_detailed_callsite_logging']

logger = logging.getLogger('theanets')

_detailed_callsite = False


class Formatter(logging.Formatter):
    """Format records as ``YYYYMMDD HHMMSS theanets message``."""

    def __init__(self):
        super().__init__('%(asctime)s %(callsite)s %(message)s',
                         datefmt='%Y%m%d %H%M%S')

    def format(self, record):
        if not hasattr(record, 'callsite'):
            record.callsite = 'theanets'
        return super().format(record)


class _DefaultLevel(int):
    """The level INFO as theanets sets it, told apart from a user's INFO.

    ``setLevel`` stores an ``int`` as it is, so ``logger.level is
    DEFAULT_LEVEL`` holds exactly while nobody else has set a level. Saving
    and restoring the level (as pytest's ``caplog`` and
    :func:`theanets.history.quiet_logging` do) keeps it. It compares, hashes
    and prints as INFO.
    """

    def __repr__(self):
        return repr(int(self))


#: The level theanets gives its logger when the application configured none.
DEFAULT_LEVEL = _DefaultLevel(logging.INFO)


class DefaultHandler(logging.StreamHandler):
    """Print records on the current ``sys.stderr`` until the user configures.

    The stream is looked up at every record, so a replaced ``sys.stderr``
    (a notebook kernel, ``contextlib.redirect_stderr``) gets the lines. It is
    a console :class:`logging.StreamHandler`, so tqdm's
    ``logging_redirect_tqdm`` can route it above a progress bar.
    """

    _theanets_default = True

    def __init__(self, level=logging.NOTSET):
        logging.Handler.__init__(self, level)
        self.setFormatter(Formatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # always the current sys.stderr

    def handle(self, record):
        if _user_took_over(record):
            # The record goes on to the user's handlers, this one stays out.
            return False
        return super().handle(record)


class _StepAsideFilter(logging.Filter):
    """Lets the default handler step aside before a record is handled.

    Attached to the theanets loggers while the default handler is installed,
    it runs before any handler sees a record, so the record can be dropped
    when the user's new configuration does not enable its level.
    """

    def filter(self, record):
        if _user_took_over(record):
            return logging.getLogger(record.name).isEnabledFor(record.levelno)
        return True


_lock = threading.RLock()
_default = {'handler': None, 'filter': _StepAsideFilter(), 'loggers': []}


def _is_progress_redirect(handler):
    """True for the handler tqdm puts in place of console handlers."""
    return (type(handler).__name__ == '_TqdmLoggingHandler' and
            type(handler).__module__.startswith('tqdm.'))


def _configured_by_user(record):
    """Whether a handler other than ours would now see ``record``."""
    handler = _default['handler']
    current = logger.handlers
    if any(_is_progress_redirect(h) for h in current):
        # A progress bar borrowed the console handlers; it gives them back.
        return False
    if handler not in current:
        return True  # removed by the application (or by dictConfig)
    node = logging.getLogger(record.name)
    while node is not None:
        if any(h is not handler for h in node.handlers):
            return True
        if not node.propagate:
            break
        node = node.parent
    return False


def _user_took_over(record):
    """Step aside if the application configured logging; True if it did."""
    if _default['handler'] is None:
        return False
    with _lock:
        if _default['handler'] is None or not _configured_by_user(record):
            return False
        _step_aside()
        return True


def _step_aside():
    """Remove the default handler and filters; reset the level theanets set."""
    handler = _default['handler']
    # New lists, not in-place removal: logging may be iterating the old ones.
    logger.handlers = [h for h in logger.handlers if h is not handler]
    for each in _default['loggers']:
        each.filters = [f for f in each.filters
                        if f is not _default['filter']]
    _default['loggers'] = []
    _default['handler'] = None
    if logger.level is DEFAULT_LEVEL:
        logger.setLevel(logging.NOTSET)


def _configured_at_import():
    return bool(logging.root.handlers or logger.handlers or
                logger.level != logging.NOTSET)


def install_default_handler():
    """Show INFO lines on stderr, unless the application configured logging.

    Called once when theanets is imported; calling it again changes nothing.
    See the module documentation for when the handler is installed and when
    it steps aside.

    Returns
    -------
    bool
        True if the default handler is installed now.
    """
    with _lock:
        if _default['handler'] is not None:
            return True
        if any(getattr(h, '_theanets_default', False)
               for h in logger.handlers):
            return False  # installed by an earlier copy of this module
        if _configured_at_import():
            return False
        _default['handler'] = DefaultHandler()
        logger.addHandler(_default['handler'])
        logger.setLevel(DEFAULT_LEVEL)
        _watch(logger)
        return True


def _watch(each):
    if _default['handler'] is not None and each not in _default['loggers']:
        each.addFilter(_default['filter'])
        _default['loggers'].append(each)


def child_logger(suffix):
    """Return the logger ``theanets.<suffix>``, watched like ``theanets``.

    While the default handler is installed, a record of this logger makes it
    step aside before any handler runs if the application has configured
    logging meanwhile, exactly as a record of the ``theanets`` logger does.

    Examples
    --------
    >>> child_logger('downhill').name
    'theanets.downhill'
    """
    child = logging.getLogger('{}.{}'.format(logger.name, suffix))
    with _lock:
        _watch(child)
    return child


def enable_detailed_callsite_logging():
    """Name the calling module and line in log lines instead of ``theanets``."""
    global _detailed_callsite
    _detailed_callsite = True


def _callsite(frame):
    """Return ``'module.path:line'`` for a frame inside the package."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    filename = os.path.abspath(frame.f_code.co_filename)
    if filename.startswith(package_dir + os.sep):
        rel = os.path.relpath(filename, package_dir)
    else:
        rel = os.path.basename(filename)
    module = os.path.splitext(rel)[0].replace(os.sep, '.')
    return '{}:{}'.format(module, frame.f_lineno)


def log(msg, *args, **kwargs):
    """Log a message through the ``theanets`` logger at INFO level.

    The message is formatted with ``msg.format(*args, **kwargs)``, only if
    the logger is enabled for INFO.

    Parameters
    ----------
    msg : str
        A message, possibly with ``str.format`` fields.

    Examples
    --------
    >>> log('training {} layers', 3)
    """
    _emit(logging.INFO, msg, args, kwargs)


def debug(msg, *args, **kwargs):
    """Log a message through the ``theanets`` logger at DEBUG level.

    Like :func:`log`; for details a user rarely needs (layer construction,
    compiler settings, every epoch of a long training run).

    Examples
    --------
    >>> debug('layer {} has {} parameters', 'hid1', 672)
    """
    _emit(logging.DEBUG, msg, args, kwargs)


def _emit(level, msg, args, kwargs):
    if not logger.isEnabledFor(level):
        return
    text = msg.format(*args, **kwargs)
    # The record's pathname and lineno are those of log's or debug's caller.
    if _detailed_callsite:
        caller = inspect.currentframe().f_back.f_back
        logger.log(level, text, extra={'callsite': _callsite(caller)},
                   stacklevel=3)
    else:
        logger.log(level, text, stacklevel=3)


install_default_handler()
