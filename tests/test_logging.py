"""Tests for :mod:`theanets._logging`: levels, the default handler, and
never overriding the application's logging configuration.

What theanets does depends on the logging configuration at import time, so
most tests run a short script in a fresh interpreter
(:func:`tests.helpers.run_fresh`) and look at its stderr. Each script
configures logging (before or after ``import theanets``), then logs one
record at each level through the ``theanets`` logger and prints the
logger's state as JSON.
"""

import logging
import re
import sys

import pytest

from theanets import _logging, feedforward, history

from tests.helpers import run_fresh

PROBE = '''
import json, logging, logging.config, sys
{before}
import theanets
from theanets import util, _logging
logger = logging.getLogger('theanets')
{after}
util.debug('debug line')
util.log('info line')
logger.warning('warning line')
extra = None
{then}
print(json.dumps({{
    'extra': extra,
    'default_handler': any(isinstance(h, _logging.DefaultHandler)
                           for h in logger.handlers),
    'handlers': len(logger.handlers),
    'level': logger.level,
    'propagate': logger.propagate,
    'root_level': logging.root.level,
}}))
'''

#: A line of theanets' own handler: ``YYYYMMDD HHMMSS theanets message``.
DEFAULT_LINE = r'^\d{{8}} \d{{6}} theanets {}$'

USER_FORMAT = "format='USER %(levelname)s %(name)s %(message)s'"


def probe(tmp_path, before='', after='', then=''):
    """Run :data:`PROBE`; return ``(state, stderr lines)``."""
    code = PROBE.format(before=before, after=after, then=then)
    state, err = run_fresh(code, tmp_path)
    return state, err.splitlines()


def default_lines(lines, message):
    return [line for line in lines
            if re.match(DEFAULT_LINE.format(re.escape(message)), line)]


def theanets_lines(lines):
    """Lines that theanets' own handler printed."""
    return [line for line in lines if re.match(DEFAULT_LINE.format('.*'),
                                               line)]


# -- nothing configured: theanets shows its INFO lines ----------------------

def test_unconfigured_shows_info_and_warnings_on_stderr(tmp_path):
    state, lines = probe(tmp_path)
    assert len(default_lines(lines, 'info line')) == 1
    assert len(default_lines(lines, 'warning line')) == 1
    assert not any('debug line' in line for line in lines)
    # a plain import logs nothing else (backend details are DEBUG)
    assert theanets_lines(lines) == [
        line for line in lines if 'info line' in line or
        'warning line' in line]
    assert state == {'extra': None, 'default_handler': True, 'handlers': 1, 'level': 20,
                     'propagate': True, 'root_level': logging.WARNING}


def test_unconfigured_level_changes_are_obeyed(tmp_path):
    _, lines = probe(tmp_path, after='logger.setLevel(logging.DEBUG)')
    assert len(default_lines(lines, 'debug line')) == 1
    assert len(default_lines(lines, 'info line')) == 1
    _, lines = probe(tmp_path, after='logger.setLevel(logging.WARNING)')
    assert not any('info line' in line for line in lines)
    assert len(default_lines(lines, 'warning line')) == 1


def test_default_handler_writes_to_the_current_stderr(tmp_path):
    state, lines = probe(tmp_path, then='''
import contextlib, io
buffer = io.StringIO()
with contextlib.redirect_stderr(buffer):
    util.log('redirected line')
extra = buffer.getvalue()
''')
    assert not any('redirected line' in line for line in lines)
    assert re.match(DEFAULT_LINE.format('redirected line'), state['extra'])
    assert state['default_handler']


# -- configured before the import -----------------------------------------

def test_basic_config_warning_before_import_hides_info(tmp_path):
    state, lines = probe(
        tmp_path, before='logging.basicConfig(level=logging.WARNING, {})'
        .format(USER_FORMAT))
    assert lines == ['USER WARNING theanets warning line']
    assert state == {'extra': None, 'default_handler': False, 'handlers': 0, 'level': 0,
                     'propagate': True, 'root_level': logging.WARNING}


def test_basic_config_info_before_import_uses_the_user_format_once(tmp_path):
    state, lines = probe(
        tmp_path, before='logging.basicConfig(level=logging.INFO, {})'
        .format(USER_FORMAT))
    assert lines == ['USER INFO theanets info line',
                     'USER WARNING theanets warning line']
    # numpy.distutils, imported by Theano, would have set it to WARNING
    assert state['root_level'] == logging.INFO
    assert not state['default_handler']


def test_level_set_before_import_wins(tmp_path):
    state, lines = probe(
        tmp_path, before='logging.getLogger("theanets").setLevel('
        'logging.WARNING)', after='logging.basicConfig(level=logging.DEBUG, '
        '{})'.format(USER_FORMAT))
    assert lines == ['USER WARNING theanets warning line']
    assert state['level'] == logging.WARNING
    assert not state['default_handler']


def test_handler_on_theanets_before_import_gets_each_record_once(tmp_path):
    state, lines = probe(tmp_path, before='''
handler = logging.StreamHandler()
handler.setFormatter(logging.Formatter('MINE %(message)s'))
logging.getLogger('theanets').addHandler(handler)
logging.getLogger('theanets').setLevel(logging.INFO)
''')
    assert lines == ['MINE info line', 'MINE warning line']
    assert state['handlers'] == 1 and not state['default_handler']


# -- configured after the import: the user's configuration wins ---------------

def test_basic_config_warning_after_import_stops_info(tmp_path):
    state, lines = probe(
        tmp_path, after='''
util.log('before configuring')
logging.basicConfig(level=logging.WARNING, {})
'''.format(USER_FORMAT), then='''
logging.getLogger('theanets.downhill').info('child info line')
_logging.child_logger('downhill').info('child info line')
''')
    assert len(default_lines(lines, 'before configuring')) == 1
    assert lines[1:] == ['USER WARNING theanets warning line']
    assert state == {'extra': None, 'default_handler': False, 'handlers': 0, 'level': 0,
                     'propagate': True, 'root_level': logging.WARNING}


def test_basic_config_info_after_import_gets_each_record_once(tmp_path):
    state, lines = probe(
        tmp_path, after='logging.basicConfig(level=logging.INFO, {})'
        .format(USER_FORMAT),
        then="logging.getLogger('theanets.downhill').info('child line')")
    assert lines == ['USER INFO theanets info line',
                     'USER WARNING theanets warning line',
                     'USER INFO theanets.downhill child line']
    assert not state['default_handler']


def test_first_record_after_configuring_can_come_from_a_child(tmp_path):
    # the child's record reaches the default handler first: it steps aside
    # and the record goes on to the user's handler, once
    state, lines = probe(
        tmp_path, after='''
logging.basicConfig(level=logging.INFO, {})
logging.getLogger('theanets.other').info('child first')
'''.format(USER_FORMAT))
    assert lines == ['USER INFO theanets.other child first',
                     'USER INFO theanets info line',
                     'USER WARNING theanets warning line']
    assert not state['default_handler']


def test_user_handler_after_import_gets_each_record_once(tmp_path):
    state, lines = probe(tmp_path, after='''
handler = logging.StreamHandler()
handler.setFormatter(logging.Formatter('MINE %(message)s'))
logger.setLevel(logging.INFO)
logger.addHandler(handler)
''')
    # the explicit INFO level stays (it is the user's, not theanets')
    assert lines == ['MINE info line', 'MINE warning line']
    assert state == {'extra': None, 'default_handler': False, 'handlers': 1, 'level': 20,
                     'propagate': True, 'root_level': logging.WARNING}


def test_user_handler_without_level_gets_the_root_level(tmp_path):
    state, lines = probe(tmp_path, after='''
handler = logging.StreamHandler()
handler.setFormatter(logging.Formatter('MINE %(message)s'))
logger.addHandler(handler)
''')
    assert lines == ['MINE warning line']
    assert state['level'] == logging.NOTSET


def test_removing_the_default_handler_hands_back_the_level(tmp_path):
    state, lines = probe(tmp_path, after='logger.handlers.clear()')
    # the last resort handler of logging shows warnings only
    assert lines == ['warning line']
    assert state['level'] == logging.NOTSET


def test_dict_config_disabling_existing_loggers_silences_theanets(tmp_path):
    state, lines = probe(tmp_path, after='''
logging.config.dictConfig({'version': 1, 'disable_existing_loggers': True,
    'handlers': {'console': {'class': 'logging.StreamHandler'}},
    'root': {'level': 'INFO', 'handlers': ['console']}})
''')
    assert lines == []


def test_dict_config_keeping_existing_loggers_gets_each_record_once(tmp_path):
    state, lines = probe(tmp_path, after='''
logging.config.dictConfig({'version': 1, 'disable_existing_loggers': False,
    'formatters': {'user': {'format': 'DICT %(levelname)s %(message)s'}},
    'handlers': {'console': {'class': 'logging.StreamHandler',
                             'formatter': 'user'}},
    'root': {'level': 'INFO', 'handlers': ['console']}})
''')
    assert lines == ['DICT INFO info line', 'DICT WARNING warning line']
    assert not state['default_handler'] and state['level'] == 0


def test_dict_config_of_the_theanets_logger(tmp_path):
    state, lines = probe(tmp_path, after='''
logging.config.dictConfig({'version': 1, 'disable_existing_loggers': False,
    'formatters': {'user': {'format': 'DICT %(message)s'}},
    'handlers': {'console': {'class': 'logging.StreamHandler',
                             'formatter': 'user'}},
    'loggers': {'theanets': {'level': 'DEBUG', 'handlers': ['console'],
                             'propagate': False}}})
''')
    assert lines == ['DICT debug line', 'DICT info line', 'DICT warning line']
    assert state == {'extra': None, 'default_handler': False, 'handlers': 1, 'level': 10,
                     'propagate': False, 'root_level': logging.WARNING}


def test_progress_bar_borrows_the_default_handler(tmp_path):
    # tqdm's redirect replaces console handlers while a bar is shown; that
    # is no configuration by the user, so the default handler comes back
    state, lines = probe(tmp_path, then='''
from tqdm.contrib.logging import logging_redirect_tqdm
with logging_redirect_tqdm(loggers=[logger]):
    util.log('during the bar')
util.log('after the bar')
''')
    assert len(default_lines(lines, 'during the bar')) == 1
    assert len(default_lines(lines, 'after the bar')) == 1
    assert state['default_handler'] and state['level'] == logging.INFO


# -- in this process -----------------------------------------------------------

def test_default_level_is_info_but_not_a_user_level():
    assert _logging.DEFAULT_LEVEL == logging.INFO
    assert logging.getLevelName(_logging.DEFAULT_LEVEL) == 'INFO'
    assert repr(_logging.DEFAULT_LEVEL) == '20'
    assert _logging.DEFAULT_LEVEL is not logging.INFO


def test_install_is_idempotent_and_respects_this_session():
    # the test session sets the theanets level before the import (conftest)
    logger = logging.getLogger('theanets')
    handlers = list(logger.handlers)
    assert _logging.install_default_handler() is False
    assert logger.handlers == handlers
    assert not any(isinstance(h, _logging.DefaultHandler) for h in handlers)


def test_building_and_using_a_model_logs_nothing_at_info(caplog, inputs,
                                                          classes):
    caplog.set_level(logging.DEBUG, logger='theanets')
    net = feedforward.Classifier([7, (8, 'tanh'), 6])
    net.predict(inputs)
    theanets_records = [r for r in caplog.records
                        if r.name.startswith('theanets')]
    assert [r.levelno for r in theanets_records] == \
        [logging.DEBUG] * len(theanets_records)
    messages = [r.getMessage() for r in theanets_records]
    assert 'learnable parameters: 54' in messages
    assert 'building computation graph' in messages
    assert any(m.startswith('using loss: ') for m in messages)
    # records name the line that logged them, not theanets._logging
    assert {r.filename for r in theanets_records} >= {'_layer.py', 'graph.py'}


def test_training_setup_lines_are_debug(caplog, inputs, classes):
    caplog.set_level(logging.DEBUG, logger='theanets')
    net = feedforward.Classifier([7, 6])
    next(net.itertrain([inputs, classes], algo='sgd', batch_size=32,
                       progress=False))
    downhill = [r for r in caplog.records if r.name == 'theanets.downhill']
    assert downhill and {r.levelno for r in downhill} == {logging.DEBUG}
    assert any(r.getMessage().startswith('compiling ') for r in downhill)


def test_quiet_logging_keeps_the_default_level():
    logger = logging.getLogger('theanets')
    saved = logger.level
    logger.setLevel(_logging.DEFAULT_LEVEL)
    try:
        with history.quiet_logging():
            assert not logger.isEnabledFor(logging.INFO)
        assert logger.level is _logging.DEFAULT_LEVEL
    finally:
        logger.setLevel(saved)


# -- no C++ compiler --------------------------------------------------------

NO_COMPILER = '''
import json
import numpy as np
import theanets
theanets.backend.setup()  # again: the warning is once per process
net = theanets.recurrent.Regressor([3, (4, 'lstm'), 2])
out = net.predict(np.ones((2, 5, 3), 'f'))
info = theanets.backend.info()
print(json.dumps({'cxx': theanets.backend.theano.config.cxx,
                  'shape': list(out.shape), 'scan': info['scan']}))
'''


def _compiler_warnings(err):
    return [line for line in err.splitlines()
            if 'compiler' in line.lower() or 'g++' in line]


def _assert_one_compiler_warning(err):
    (line, ) = _compiler_warnings(err)
    assert 'no C++ compiler' in line
    assert 'apt install g++' in line and 'dnf install gcc-c++' in line
    assert 'gxx_linux-64' in line and 'xcode-select --install' in line
    assert re.search(r'roughly \d+-\d+x slower', line)
    # Theano's own notices are replaced by this one
    assert 'DeprecationWarning' not in err and 'g++ not detected' not in err
    assert len(err.splitlines()) == 1, err


def test_one_warning_when_the_compiler_is_switched_off(tmp_path):
    result, err = run_fresh(NO_COMPILER, tmp_path, flags='cxx=')
    assert result == {'cxx': '', 'shape': [2, 5, 2], 'scan': 'python'}
    _assert_one_compiler_warning(err)


@pytest.mark.skipif(sys.platform != 'linux', reason='hides g++ via PATH')
def test_one_warning_when_no_compiler_is_found(tmp_path):
    empty = tmp_path / 'empty-bin'
    empty.mkdir()
    result, err = run_fresh(NO_COMPILER, tmp_path, env={'PATH': str(empty)})
    assert result == {'cxx': '', 'shape': [2, 5, 2], 'scan': 'python'}
    _assert_one_compiler_warning(err)


def test_no_compiler_warning_with_a_compiler(tmp_path):
    result, err = run_fresh(NO_COMPILER, tmp_path)
    assert result['cxx']
    assert _compiler_warnings(err) == []


def test_compiler_flags_of_the_user_win(tmp_path):
    result, _ = run_fresh('''
import json, theanets
print(json.dumps(theanets.backend.info()['flags_set']))
''', tmp_path, flags='cxx=,tensor.local_elemwise_fusion=True')
    assert 'tensor.local_elemwise_fusion' not in result

