"""The ``theanets`` logger: its default handler, format and :func:`log`.

Importing this module gives the ``theanets`` logger a stderr handler at INFO
level (once per process), so that the first thing the library logs while
it configures its backend reaches the user. Applications that configure
logging themselves can remove it with
``logging.getLogger('theanets').handlers.clear()``, or silence the library
with ``logging.getLogger('theanets').setLevel(logging.WARNING)``.

This module imports nothing from theanets.
"""

import inspect
import logging
import os

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


def install_default_handler():
    """Give the ``theanets`` logger a stderr handler at INFO level, once."""
    if not any(getattr(h, '_theanets_default', False)
               for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(Formatter())
        handler._theanets_default = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


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

    The message is formatted with ``msg.format(*args, **kwargs)``.

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
    if _detailed_callsite:
        caller = inspect.currentframe().f_back.f_back
        logger.log(level, text, extra={'callsite': _callsite(caller)})
    else:
        logger.log(level, text)


install_default_handler()
