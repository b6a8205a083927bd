"""Tests for theanets.plot (rendered headless with matplotlib's Agg)."""

import sys

import matplotlib
matplotlib.use('Agg')  # noqa: E402  (headless; before pyplot is imported)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from theanets import feedforward, history, plot  # noqa: E402

from tests.helpers import NUM_INPUTS, NUM_CLASSES  # noqa: E402

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


class ScriptedTrainer(object):
    """Yields 4 epochs of fixed values, validating before epochs 1 and 3."""

    def itertrain(self, train, valid=None, **kwargs):
        validation = None
        for i in range(4):
            if i % 2 == 0:
                validation = {'loss': 2.0 - i / 4, 'acc': 0.4 + i / 10}
            yield {'loss': 1.0 - i / 10, 'acc': 0.5 + i / 10}, validation


@pytest.fixture(scope='module')
def net(inputs, classes):
    model = feedforward.Classifier([NUM_INPUTS, NUM_CLASSES])
    model.train([inputs, classes], algo=ScriptedTrainer(), quiet=True,
                progress=False)
    return model


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def lines_of(axes):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in axes.get_lines()}


def test_plot_history_renders_a_png(net, tmp_path):
    path = tmp_path / 'history.png'
    figure = plot.plot_history(net, path=path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert len(figure.axes) == 2
    loss, acc = figure.axes
    assert loss.get_title() == 'loss' and acc.get_title() == 'acc'
    assert loss.get_xlabel() == 'iteration' and loss.get_ylabel() == 'loss'
    assert lines_of(loss) == {
        'train loss': ([1, 2, 3, 4], [1.0, 0.9, 0.8, 0.7]),
        'valid loss': ([1, 3], [2.0, 1.5])}
    np.testing.assert_allclose(lines_of(acc)['train acc'][1],
                               [0.5, 0.6, 0.7, 0.8])
    np.testing.assert_allclose(lines_of(acc)['valid acc'][1], [0.4, 0.6])
    assert [t.get_text() for t in loss.get_legend().get_texts()] == \
        ['train loss', 'valid loss']


def test_plot_history_skips_metrics_that_were_not_recorded(tmp_path):
    record = history.History()
    for i in range(3):
        record.append({'loss': 1.0 / (i + 1)}, {'loss': 2.0}, i == 0)
    figure = plot.plot_history(record, path=str(tmp_path / 'r.png'))
    assert [ax.get_title() for ax in figure.axes] == ['loss']
    assert lines_of(figure.axes[0])['valid loss'] == ([1], [2.0])
    assert (tmp_path / 'r.png').read_bytes().startswith(PNG_SIGNATURE)


def test_plot_history_on_given_axes(net):
    figure, (left, right) = plt.subplots(1, 2)
    assert plot.plot_history(net.history, metrics=('acc', 'loss'),
                             ax=[left, right]) is figure
    assert left.get_title() == 'acc' and right.get_title() == 'loss'
    figure, single = plt.subplots()
    plot.plot_history(net, ax=single)
    assert sorted(lines_of(single)) == ['train acc', 'train loss',
                                        'valid acc', 'valid loss']
    assert single.get_title() == 'loss / acc'
    plot.plot_history(net, metrics='loss', ax=[single])


def test_plot_history_errors(net):
    with pytest.raises(ValueError, match='one Axes per plotted metric'):
        plot.plot_history(net, ax=[plt.subplots()[1]])
    with pytest.raises(ValueError, match='none of'):
        plot.plot_history(net, metrics=('err2',))
    with pytest.raises(ValueError, match='empty'):
        plot.plot_history(feedforward.Classifier([NUM_INPUTS, NUM_CLASSES]))
    with pytest.raises(TypeError, match='History'):
        plot.plot_history([1.0, 0.5])


def test_plot_history_without_matplotlib(net, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib.pyplot', None)
    with pytest.raises(ImportError, match=r"pip install 'theanets\[plot\]'"):
        plot.plot_history(net)


def test_plot_history_draws_validation_where_it_was_measured(tmp_path):
    # validation before training (iteration 0), after iteration 2 and 3
    record = history.History()
    record.append({'loss': 1.0}, {'loss': 3.0}, False, measured_at=0)
    record.append({'loss': 0.9}, {'loss': 2.0}, True)
    record.append({'loss': 0.8}, {'loss': 2.0}, False, measured_at=2)
    record.append({'loss': 0.7}, {'loss': 1.5}, True)
    figure = plot.plot_history(record, path=str(tmp_path / 'v.png'))
    assert lines_of(figure.axes[0])['valid loss'] == ([0, 2, 4],
                                                      [3.0, 2.0, 1.5])
