"""ONNX forms of the recurrent layers.

Where only the hidden state ``out`` is needed, :class:`~theanets.layers.LSTM`
(peepholes included), :class:`~theanets.layers.GRU` and
:class:`~theanets.layers.RNN` become the ONNX ``LSTM``, ``GRU`` and ``RNN``
operators, whose equations are the layers' own:

* ONNX orders the LSTM gates ``i, o, f, c`` and the peepholes ``i, o, f``;
  theanets orders both ``i, f, c, o``. The blocks are reordered.
* ONNX's GRU keeps ``z`` of the old state where theanets keeps ``1 - z``;
  the update-gate weights and bias are negated, since
  ``sigmoid(-a) = 1 - sigmoid(a)``. The reset gate multiplies the old state
  before the recurrent product in both (``linear_before_reset=0``).
* The GRU and RNN activation must be one the operators know: ``tanh``,
  ``sigmoid``/``logistic`` or ``relu``/``rect:max``.

Every other case (the other forms, other activations, or an output such as
``pre``, ``cell`` or ``rate`` that the operators do not return) runs the
layer's step equations in an ONNX ``Scan`` over the time axis.

A backward layer stacks its outputs in processing order (see
:mod:`theanets.layers.recurrent`): the ONNX operators run forwards over the
time-reversed input, and ``Scan`` reads its sequences backwards and appends
its outputs, which gives the same order.
"""

import numpy as np

from .. import layers
from ..layers import recurrent
from . import _activations
from ._builder import FLOAT, INT64, value_info


def sources(layer):
    """Full names of the layer outputs that a recurrent layer reads."""
    workers = [layer.forward, layer.backward] \
        if isinstance(layer, layers.Bidirectional) else [layer]
    names = list(layer.input_shapes)
    for worker in workers:
        for attr in worker._state_attributes():
            name = getattr(worker, attr, None)
            if name and name not in names:
                names.append(name)
    return names


# -- shared pieces --------------------------------------------------------

def _value(shared):
    """A parameter's value as float32."""
    return np.asarray(shared.get_value(), np.float32)


def _project(b, layer, x, weight, bias=None, hint=None):
    """``x W`` (+ ``bias``) for parameters named ``weight`` and ``bias``."""
    y = b.op('MatMul', [x, b.param(layer.find(weight))],
             hint=hint or 'x' + weight)
    if bias is not None:
        y = b.op('Add', [y, b.param(layer.find(bias))],
                 hint=hint or 'x' + weight)
    return y


def _initial(b, layer, inputs, x, name, hint):
    """The initial state read from output ``name``, or zeros ``(B, n)``."""
    if name and name in inputs:
        return inputs[name]
    return b.zeros(x, layer.output_size, hint=hint)


def _time_major(b, x):
    """``(B, T, k)`` to ``(T, B, k)``, or back."""
    return b.transpose(x, (1, 0, 2), hint='time_major')


def _leak(body, z, old, new):
    """``(1 - z) * old + z * new``, in the order theanets computes it."""
    kept = body.op('Mul', [body.op('Sub', [body.const(1.0), z]), old])
    return body.op('Add', [kept, body.op('Mul', [z, new])], hint='h')


def _scan(b, layer, states, sequences, step):
    """Run ``step`` over the time axis of the sequences in an ONNX ``Scan``.

    Parameters
    ----------
    b : GraphBuilder
        The graph to add the loop to.
    layer : :class:`theanets.layers.recurrent.Recurrent`
        The layer; its direction sets the order of the loop.
    states : list of (str, str)
        ``(hint, initial tensor)`` for each state carried between steps,
        all of shape ``(B, n)``.
    sequences : list of (str, str, int)
        ``(hint, tensor, k)``: each step reads one slice along the time
        axis of a ``(B, T, k)`` float tensor, or for ``k`` None one entry
        of an int64 vector of time steps.
    step : callable
        ``step(body, previous_states, slices)`` adds the step's nodes to the
        loop body and returns ``(new_states, outputs)``: tensor names, the
        outputs as a list of ``(hint, tensor)``.

    Returns
    -------
    list of str
        The stacked outputs, ``(B, T, k)``, in processing order.
    """
    n = layer.output_size
    body = b.body()
    with body.scope('step'):
        previous = [body.fresh(hint + '_tm1') for hint, _ in states]
        slices = [body.fresh(hint + '_t') for hint, _, _ in sequences]
        new_states, outputs = step(body, previous, slices)
        results = []
        for name in list(new_states) + [name for _, name in outputs]:
            # A body output must be a tensor of its own, made in the body.
            if name in results or not body.produces(name):
                name = body.op('Identity', [name], hint='copy')
            results.append(name)
    graph = body.graph(
        b.fresh('step_body'),
        [value_info(name, FLOAT, [None, n]) for name in previous] +
        [value_info(name, INT64, []) if width is None else
         value_info(name, FLOAT, [None, width])
         for name, (_, _, width) in zip(slices, sequences)],
        [value_info(name) for name in results])
    count = len(states) + len(outputs)
    direction = 1 if layer.backwards else 0
    names = b.op('Scan', [init for _, init in states] +
                 [tensor for _, tensor, _ in sequences],
                 outputs=count, hint='scan', body=graph,
                 num_scan_inputs=len(sequences),
                 scan_input_axes=[0 if width is None else 1
                                  for _, _, width in sequences],
                 scan_input_directions=[direction] * len(sequences),
                 scan_output_axes=[1] * len(outputs))
    names = [names] if count == 1 else names
    return names[len(states):]


def _time_steps(b, x):
    """The int64 vector ``0, 1, ..., T - 1`` for the time axis of ``x``."""
    length = b.op('Gather', [b.op('Shape', [x], hint='shape'),
                             b.const(1, np.int64)], hint='steps', axis=0)
    return b.op('Range', [b.const(0, np.int64), length,
                          b.const(1, np.int64)], hint='steps')


# -- the ONNX recurrent operators -----------------------------------------

def _native_input(b, layer, x):
    """The time-major input of an ONNX operator, reversed when backwards."""
    x = _time_major(b, x)
    return b.reverse(x, 0) if layer.backwards else x


def _native_state(b, inputs, name):
    """An initial state ``(1, B, n)`` for an ONNX operator, or ``''``."""
    if name and name in inputs:
        return b.unsqueeze(inputs[name], [0], hint='initial')
    return ''


def _native_output(b, y):
    """``Y`` of an ONNX operator, ``(T, 1, B, n)``, as ``(B, T, n)``."""
    return _time_major(b, b.squeeze(y, [1], hint='y'))


def _stored(b, layer, value, suffix):
    return b.array(value[None], '{}.{}'.format(layer.name, suffix))


def _native_rnn(b, layer, inputs, x, activation):
    n = layer.output_size
    bias = np.concatenate([_value(layer.find('b')), np.zeros(n, 'f')])
    y = b.op('RNN', [
        _native_input(b, layer, x),
        _stored(b, layer, _value(layer.find('xh')).T, 'onnx_w'),
        _stored(b, layer, _value(layer.find('hh')).T, 'onnx_r'),
        _stored(b, layer, bias, 'onnx_b'), '',
        _native_state(b, inputs, layer.h_0)],
        hint='rnn', hidden_size=n, activations=[activation])
    return _native_output(b, y)


def _lstm_blocks(value):
    """Columns in theanets' ``i, f, c, o`` order to ONNX's ``i, o, f, c``."""
    i, f, c, o = np.split(value, 4, axis=-1)
    return np.concatenate([i, o, f, c], axis=-1)


def _native_lstm(b, layer, inputs, x):
    n = layer.output_size
    bias = np.concatenate([_lstm_blocks(_value(layer.find('b'))),
                           np.zeros(4 * n, 'f')])
    peepholes = np.concatenate([_value(layer.find(name))
                                for name in ('ci', 'co', 'cf')])
    y = b.op('LSTM', [
        _native_input(b, layer, x),
        _stored(b, layer, _lstm_blocks(_value(layer.find('xh'))).T, 'onnx_w'),
        _stored(b, layer, _lstm_blocks(_value(layer.find('hh'))).T, 'onnx_r'),
        _stored(b, layer, bias, 'onnx_b'), '',
        _native_state(b, inputs, layer.h_0),
        _native_state(b, inputs, layer.c_0),
        _stored(b, layer, peepholes, 'onnx_p')],
        hint='lstm', hidden_size=n)
    return _native_output(b, y)


def _native_gru(b, layer, inputs, x, activation):
    n = layer.output_size
    # theanets: columns of w and b in h, r, z order; ONNX: z, r, h, with
    # the update gate negated (ONNX's z is theanets' 1 - z).
    wh, wr, wz = np.split(_value(layer.find('w')), 3, axis=1)
    bh, br, bz = np.split(_value(layer.find('b')), 3)
    weights = np.concatenate([-wz, wr, wh], axis=1).T
    recurrent_weights = np.concatenate(
        [-_value(layer.find('hz')), _value(layer.find('hr')),
         _value(layer.find('hh'))], axis=1).T
    bias = np.concatenate([-bz, br, bh, np.zeros(3 * n, 'f')])
    y = b.op('GRU', [
        _native_input(b, layer, x),
        _stored(b, layer, weights, 'onnx_w'),
        _stored(b, layer, recurrent_weights, 'onnx_r'),
        _stored(b, layer, bias, 'onnx_b'), '',
        _native_state(b, inputs, layer.h_0)],
        hint='gru', hidden_size=n, activations=['Sigmoid', activation],
        linear_before_reset=0)
    return _native_output(b, y)


# -- converters -------------------------------------------------------------

def convert_rnn(b, layer, inputs, wanted):
    """:class:`~theanets.layers.RNN`: the ``RNN`` operator or a ``Scan``."""
    x = inputs[layer.input_name]
    activation = _activations.native_name(layer.activate)
    if wanted <= {'out'} and activation:
        return dict(out=_native_rnn(b, layer, inputs, x, activation))

    def step(body, previous, slices):
        h_tm1, = previous
        a_t, = slices
        pre = body.op('Add', [a_t, body.op(
            'MatMul', [h_tm1, body.param(layer.find('hh'))])], hint='pre')
        out = _activations.emit(body, layer.activate, pre, layer)
        return [out], [('pre', pre), ('out', out)]

    pre, out = _scan(
        b, layer, [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0'))],
        [('a', _project(b, layer, x, 'xh', 'b'), layer.output_size)], step)
    return dict(pre=pre, out=out)


def _masked_loop(b, layer, inputs, update, extra=()):
    """The loop of BCRNN and Clockwork.

    Both feed back ``pre`` and ``out`` (starting from the initial state) and
    mask the recurrent weights; ``update(body, p, pre_tm1, extra_slices)``
    gives the new ``pre`` from ``p = a_t + h_{t-1} (W_hh * M)``.
    """
    x = inputs[layer.input_name]
    mask = _value(layer.fixed_values['mask'])
    masked = b.array(_value(layer.find('hh')) * mask,
                     layer.name + '.hh_masked')

    def step(body, previous, slices):
        pre_tm1, h_tm1 = previous
        a_t = slices[-1]
        p = body.op('Add', [a_t, body.op('MatMul', [h_tm1, masked])])
        pre = update(body, p, pre_tm1, slices[:-1])
        out = _activations.emit(body, layer.activate, pre, layer)
        return [pre, out], [('pre', pre), ('out', out)]

    h_0 = _initial(b, layer, inputs, x, layer.h_0, 'h_0')
    a = _project(b, layer, x, 'xh', 'b')
    pre, out = _scan(b, layer, [('pre', h_0), ('h', h_0)],
                     list(extra(x)) + [('a', a, layer.output_size)], step)
    return dict(pre=pre, out=out)


def convert_bcrnn(b, layer, inputs, wanted):
    """:class:`~theanets.layers.recurrent.BCRNN` in a ``Scan``."""
    rates = _value(layer.fixed_values['rate'])
    kept = b.const(rates, hint=layer.name + '.rates')
    mixed = b.const(1 - rates, hint=layer.name + '.one_minus_rates')

    def update(body, p, pre_tm1, slices):
        return body.op('Add', [body.op('Mul', [kept, pre_tm1]),
                               body.op('Mul', [mixed, p])], hint='pre')

    return _masked_loop(b, layer, inputs, update, lambda x: ())


def convert_clockwork(b, layer, inputs, wanted):
    """:class:`~theanets.layers.Clockwork` in a ``Scan``, fed the steps."""
    period = b.const(layer.fixed_values['period'].get_value(), np.int64,
                     hint=layer.name + '.period')

    def update(body, p, pre_tm1, slices):
        t, = slices
        due = body.op('Equal', [body.op('Mod', [t, period]),
                                body.const(0, np.int64)], hint='due')
        return body.op('Where', [due, p, pre_tm1], hint='pre')

    return _masked_loop(b, layer, inputs, update,
                        lambda x: [('t', _time_steps(b, x), None)])


def convert_rrnn(b, layer, inputs, wanted):
    """:class:`~theanets.layers.RRNN` in a ``Scan``."""
    x = inputs[layer.input_name]
    sequences = [('a', _project(b, layer, x, 'xh', 'b'), layer.output_size)]
    if layer.get_config()['rate'] == 'matrix':
        rate = b.op('Sigmoid', [_project(b, layer, x, 'xr', 'r')],
                    hint='rate')
        sequences.append(('z', rate, layer.output_size))
        constant = None
    elif layer.get_config()['rate'] == 'vector':
        rate = constant = b.op('Sigmoid', [b.param(layer.find('r'))],
                               hint='rate')
    else:
        rate = constant = b.param(layer.fixed_values['rate'])

    def step(body, previous, slices):
        h_tm1, = previous
        z = slices[1] if constant is None else constant
        pre = body.op('Add', [slices[0], body.op(
            'MatMul', [h_tm1, body.param(layer.find('hh'))])], hint='pre')
        hid = _activations.emit(body, layer.activate, pre, layer)
        out = _leak(body, z, h_tm1, hid)
        return [out], [('pre', pre), ('hid', hid), ('out', out)]

    pre, hid, out = _scan(
        b, layer, [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0'))],
        sequences, step)
    if constant is None:
        rate = _time_major(b, rate)
    return dict(pre=pre, hid=hid, out=out, rate=rate)


def convert_mrnn(b, layer, inputs, wanted):
    """:class:`~theanets.layers.MRNN` in a ``Scan``."""
    x = inputs[layer.input_name]
    factors = _project(b, layer, x, 'xf')

    def step(body, previous, slices):
        h_tm1, = previous
        a_t, f_t = slices
        gains = body.op('Mul', [f_t, body.op(
            'MatMul', [h_tm1, body.param(layer.find('hf'))])])
        pre = body.op('Add', [a_t, body.op(
            'MatMul', [gains, body.param(layer.find('fh'))])], hint='pre')
        out = _activations.emit(body, layer.activate, pre, layer)
        return [out], [('pre', pre), ('out', out)]

    pre, out = _scan(
        b, layer, [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0'))],
        [('a', _project(b, layer, x, 'xh', 'b'), layer.output_size),
         ('f', factors, layer.factors)], step)
    return dict(pre=pre, out=out, factors=_time_major(b, factors))


def convert_lstm(b, layer, inputs, wanted):
    """:class:`~theanets.layers.LSTM`: the ``LSTM`` operator or a ``Scan``."""
    x = inputs[layer.input_name]
    if wanted <= {'out'}:
        return dict(out=_native_lstm(b, layer, inputs, x))
    n = layer.output_size

    def step(body, previous, slices):
        h_tm1, c_tm1 = previous
        z = body.op('Add', [slices[0], body.op(
            'MatMul', [h_tm1, body.param(layer.find('hh'))])], hint='z')
        zi, zf, zc, zo = body.split(z, [n] * 4, axis=1, hint='gate')

        def gate(pre, cell, peephole, hint):
            return body.op('Sigmoid', [body.op('Add', [pre, body.op(
                'Mul', [cell, body.param(layer.find(peephole))])])],
                hint=hint)

        i = gate(zi, c_tm1, 'ci', 'i')
        f = gate(zf, c_tm1, 'cf', 'f')
        c = body.op('Add', [body.op('Mul', [f, c_tm1]), body.op(
            'Mul', [i, body.op('Tanh', [zc])])], hint='cell')
        o = gate(zo, c, 'co', 'o')
        h = body.op('Mul', [o, body.op('Tanh', [c])], hint='out')
        return [h, c], [('out', h), ('cell', c)]

    out, cell = _scan(
        b, layer,
        [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0')),
         ('c', _initial(b, layer, inputs, x, layer.c_0, 'c_0'))],
        [('a', _project(b, layer, x, 'xh', 'b'), 4 * n)], step)
    return dict(out=out, cell=cell)


def convert_gru(b, layer, inputs, wanted):
    """:class:`~theanets.layers.GRU`: the ``GRU`` operator or a ``Scan``."""
    x = inputs[layer.input_name]
    activation = _activations.native_name(layer.activate)
    if wanted <= {'out'} and activation:
        return dict(out=_native_gru(b, layer, inputs, x, activation))
    n = layer.output_size
    ah, ar, az = b.split(_project(b, layer, x, 'w', 'b'), [n] * 3, axis=2,
                         hint='a')

    def step(body, previous, slices):
        h_tm1, = previous
        ah_t, ar_t, az_t = slices

        def recur(weight):
            return body.op('MatMul', [h_tm1, body.param(layer.find(weight))])

        r = body.op('Sigmoid', [body.op('Add', [ar_t, recur('hr')])],
                    hint='r')
        z = body.op('Sigmoid', [body.op('Add', [az_t, recur('hz')])],
                    hint='rate')
        reset = body.op('Mul', [r, h_tm1], hint='reset')
        pre = body.op('Add', [ah_t, body.op(
            'MatMul', [reset, body.param(layer.find('hh'))])], hint='pre')
        hid = _activations.emit(body, layer.activate, pre, layer)
        out = _leak(body, z, h_tm1, hid)
        return [out], [('pre', pre), ('hid', hid), ('rate', z), ('out', out)]

    pre, hid, rate, out = _scan(
        b, layer, [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0'))],
        [('ah', ah, n), ('ar', ar, n), ('az', az, n)], step)
    return dict(pre=pre, hid=hid, rate=rate, out=out)


def convert_mut1(b, layer, inputs, wanted):
    """:class:`~theanets.layers.MUT1` in a ``Scan``."""
    x = inputs[layer.input_name]
    n = layer.output_size
    rate = b.op('Sigmoid', [_project(b, layer, x, 'xz', 'bz')], hint='rate')
    u = b.op('Tanh', [_project(b, layer, x, 'xh', 'bh')], hint='u')
    v = _project(b, layer, x, 'xr', 'br')

    def step(body, previous, slices):
        h_tm1, = previous
        z_t, u_t, v_t = slices
        r = body.op('Sigmoid', [body.op('Add', [v_t, body.op(
            'MatMul', [h_tm1, body.param(layer.find('hr'))])])], hint='r')
        reset = body.op('Mul', [r, h_tm1], hint='reset')
        pre = body.op('Add', [u_t, body.op(
            'MatMul', [reset, body.param(layer.find('hh'))])], hint='pre')
        hid = body.op('Tanh', [pre], hint='hid')
        out = _leak(body, z_t, h_tm1, hid)
        return [out], [('pre', pre), ('hid', hid), ('out', out)]

    pre, hid, out = _scan(
        b, layer, [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0'))],
        [('z', rate, n), ('u', u, n), ('v', v, n)], step)
    return dict(pre=pre, hid=hid, out=out, rate=rate)


def convert_scrn(b, layer, inputs, wanted):
    """:class:`~theanets.layers.SCRN` in a ``Scan``."""
    x = inputs[layer.input_name]
    n = layer.output_size
    if layer.get_config()['rate'] == 'vector':
        rho = b.op('Sigmoid', [b.param(layer.find('r'))], hint='rate')
    else:
        rho = b.param(layer.fixed_values['rate'])
    kept = b.op('Sub', [b.const(1.0), rho], hint='kept')
    ah, as_ = b.split(_project(b, layer, x, 'w'), [n, n], axis=2, hint='a')

    def step(body, previous, slices):
        h_tm1, s_tm1 = previous
        ah_t, as_t = slices
        s = body.op('Add', [body.op('Mul', [kept, s_tm1]),
                            body.op('Mul', [rho, as_t])], hint='state')
        total = body.op('Add', [ah_t, body.op(
            'MatMul', [h_tm1, body.param(layer.find('hh'))])])
        total = body.op('Add', [total, body.op(
            'MatMul', [s, body.param(layer.find('sh'))])])
        h = _activations.emit(body, layer.activate, total, layer)
        return [h, s], [('hid', h), ('state', s)]

    hid, state = _scan(
        b, layer,
        [('h', _initial(b, layer, inputs, x, layer.h_0, 'h_0')),
         ('s', _initial(b, layer, inputs, x, layer.s_0, 's_0'))],
        [('ah', ah, n), ('as', as_, n)], step)
    out = b.op('Add', [_project(b, layer, hid, 'ho'),
                       _project(b, layer, state, 'so')])
    out = b.op('Add', [out, b.param(layer.find('b'))], hint='out')
    return dict(hid=hid, state=state, out=out, rate=rho)


def convert_bidirectional(b, layer, inputs, wanted):
    """:class:`~theanets.layers.Bidirectional`: both workers, joined."""
    merged = ('out', 'pre', 'cell')
    parts = {}
    for prefix, worker in (('fw_', layer.forward), ('bw_', layer.backward)):
        needs = {key for key in wanted if key in merged} | {
            key[len(prefix):] for key in wanted if key.startswith(prefix)}
        with b.scope(prefix[:-1]):
            parts[prefix] = CONVERTERS[type(worker)](b, worker, inputs, needs)
    outputs = {}
    for key in merged:
        if key in wanted:
            outputs[key] = b.op('Concat', [parts['fw_'][key],
                                           parts['bw_'][key]],
                                hint=key, axis=2)
    for prefix, produced in parts.items():
        for key, name in produced.items():
            outputs[prefix + key] = name
    return outputs


#: Converters by exact layer class.
CONVERTERS = {
    layers.RNN: convert_rnn,
    recurrent.BCRNN: convert_bcrnn,
    layers.Clockwork: convert_clockwork,
    layers.RRNN: convert_rrnn,
    layers.MRNN: convert_mrnn,
    layers.LSTM: convert_lstm,
    layers.GRU: convert_gru,
    layers.MUT1: convert_mut1,
    layers.SCRN: convert_scrn,
    layers.Bidirectional: convert_bidirectional,
}
