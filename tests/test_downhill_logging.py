"""downhill's console output goes to the ``theanets.downhill`` logger.

downhill 0.4.0 prints with ``click.echo``; :func:`theanets.backend.setup`
routes its messages into logging instead, on either backend. These tests
run in this process.
"""

import logging

import click
import downhill
import downhill.dataset

from theanets import backend

backend.setup()  # which routes downhill's output


def test_downhill_log_goes_to_theanets_logger(logs, capsys):
    downhill.util.log('compiling {}'.format(click.style('SGD', fg='red')))
    downhill.util.log_param('patience', 7)
    assert capsys.readouterr().out == ''
    assert logs.messages('theanets.downhill') == [
        'compiling SGD', 'setting: patience = 7']
    assert all(r.levelno == logging.DEBUG for r in logs.records)


def test_downhill_dataset_summary_goes_to_theanets_logger(logs, capsys, inputs,
                                                          outputs):
    downhill.Dataset([inputs, outputs], name='probe', batch_size=32, rng=1)
    assert capsys.readouterr().out == ''
    assert logs.messages('theanets.downhill') == [
        'probe: 2 of 2 mini-batches from (64, 7); (64, 5)']


def test_route_downhill_logging_is_idempotent_and_leaves_click_alone(logs):
    echo = click.echo
    backend.route_downhill_logging()
    backend.route_downhill_logging()
    assert click.echo is echo
    assert downhill.base.click is click
    proxy = downhill.dataset.click
    assert isinstance(proxy, backend._EchoToLog)
    assert proxy._module is click            # wrapped once, not twice
    # (the proxy's internal reference to the module it wraps)
    assert proxy.style is click.style
    downhill.util.log('once')
    assert logs.messages() == ['once']


def test_downhill_messages_can_be_silenced(logs):
    logger = logging.getLogger('theanets.downhill')
    logger.setLevel(logging.WARNING)
    try:
        downhill.util.log('hidden')
    finally:
        logger.setLevel(logging.NOTSET)
    downhill.util.log('shown')
    assert logs.messages() == ['shown']
