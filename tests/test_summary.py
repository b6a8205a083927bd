"""Tests for network summaries: Network.summary, __repr__, _repr_html_."""

import html.parser

from theanets import feedforward, graph

from tests.helpers import NUM_INPUTS, NUM_HID1, NUM_CLASSES, NUM_OUTPUTS

# 7 -> 8 (tanh) -> 6 (softmax): (7 * 8 + 8) + (8 * 6 + 6) = 64 + 54 = 118
CLASSIFIER_SUMMARY = '''\
Classifier: 3 layers, 118 parameters
layer  class        output shape  activation  params  inputs
-----  -----------  ------------  ----------  ------  ------
in     Input        (7,)          -           0       -
hid1   Feedforward  (8,)          tanh        64      in
out    Feedforward  (6,)          softmax     54      hid1
total parameters: 118
losses: 1 * xe on out'''


def classifier():
    return feedforward.Classifier([NUM_INPUTS, (NUM_HID1, 'tanh'),
                                   NUM_CLASSES])


def test_summary_of_a_classifier():
    assert classifier().summary() == CLASSIFIER_SUMMARY


def test_repr_is_one_line():
    assert repr(classifier()) == (
        'Classifier([in (7,) -> hid1 Feedforward (8,) tanh -> out '
        'Feedforward (6,) softmax], 118 params, loss=xe)')


def test_summary_lists_every_input_weighted_losses_and_weights():
    net = feedforward.Regressor([
        NUM_INPUTS, (NUM_HID1, 'relu'),
        dict(size=NUM_OUTPUTS, inputs=('in', 'hid1'))], weighted=True)
    net.add_loss('mae', weight=0.5)
    text = net.summary()
    # out reads 7 + 8 inputs: (7 + 8) * 5 + 5 = 80 parameters
    assert 'out    Feedforward  (5,)          linear      80      ' \
        'in, hid1' in text
    assert text.endswith('total parameters: 144\n'
                         'losses: 1 * mse on out (weighted), 0.5 * mae on out')
    assert repr(net).endswith('144 params, loss=mse+0.5*mae)')


def test_summary_of_unbound_layers_and_no_loss():
    net = graph.Network([NUM_INPUTS], loss=None)
    net.add_layer((3, 'tanh'), name='late')  # not bound: no shape, no params
    lines = net.summary().splitlines()
    assert lines[0] == 'Network: 2 layers, 0 parameters'
    assert lines[4].split() == ['late', 'Feedforward', '?', 'tanh', '?', 'in']
    assert lines[-1] == 'losses: none'
    assert repr(net) == 'Network([in (7,) -> late Feedforward ? tanh], ' \
        '0 params, loss=none)'


class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.cells = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        assert self.tags.pop() == tag  # well-formed nesting

    def handle_data(self, data):
        if self.tags and self.tags[-1] in ('td', 'th', 'caption'):
            self.cells.append(data)


def test_repr_html_is_an_escaped_table():
    net = feedforward.Regressor([
        NUM_INPUTS, dict(size=4, name='a<b>&"c', activation='tanh'),
        NUM_OUTPUTS])
    text = net._repr_html_()
    assert text.startswith('<table class="theanets-summary">')
    assert text.endswith('</table>')
    assert 'a<b>' not in text and 'a&lt;b&gt;&amp;&quot;c' in text
    parser = _Cells()
    parser.feed(text)
    parser.close()
    assert parser.tags == []
    cells = parser.cells
    assert cells[0] == 'Regressor: 3 layers, 57 parameters'
    assert cells[1:7] == ['layer', 'class', 'output shape', 'activation',
                          'params', 'inputs']
    assert cells[13:19] == ['a<b>&"c', 'Feedforward', '(4,)', 'tanh', '32',
                            'in']
    assert cells[19:25] == ['out', 'Feedforward', '(5,)', 'linear', '25',
                            'a<b>&"c']
    assert cells[-2:] == ['total parameters: 57', 'losses: 1 * mse on out']
