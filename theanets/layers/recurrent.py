r"""Recurrent layers: hidden states that evolve over the time axis.

Recurrent layers consume one input of shape ``(B, T, d)`` (batch, time,
features) and produce outputs of shape ``(B, T, n)``. Each layer computes its
input projections for all time steps at once, then runs a symbolic loop
(Theano's ``scan``) over the time axis; :class:`RNN`, :class:`LSTM` and
:class:`GRU` instead run the whole recurrence in the fused C Ops of
:mod:`theanets.ops` unless ``bptt_limit`` is set (the RNN and the GRU also
need one of the activations the Ops implement).

Common keyword arguments (besides those of :class:`theanets.layers.Layer`):

``h_0``
    Name of a layer output (e.g. ``'h0'`` or ``'h0:out'``) that holds the
    initial hidden state, shape ``(B, n)``. Without it, the state starts at
    zero. :class:`LSTM` also takes ``c_0``, :class:`SCRN` ``s_0``.
``direction``
    If it contains ``'back'`` (any case), the loop runs from the last time
    step to the first. **The outputs of a backward layer are stacked in the
    order they were computed**, not flipped back: output index ``k`` holds
    the state after consuming inputs ``T-1, ..., T-1-k``. None or ``''``
    means forwards.
``bptt_limit``
    Truncate back-propagation through time to this many steps (default -1,
    no limit).
``radius``, ``radius_<p>``
    Rescale each square block of a weight matrix so that its largest singular
    value equals this number (see :meth:`Recurrent.add_weights`).
"""

import numpy as np

from .. import ops
from .. import util
from . import base
from ._recurrent import (Recurrent, RNN, BCRNN, Clockwork, RRNN, MRNN,
                         _time_major)
from ..backend import TT

__all__ = [
    'Recurrent', 'RNN', 'BCRNN', 'RRNN', 'MRNN', 'LSTM', 'GRU', 'Clockwork',
    'MUT1', 'SCRN', 'Bidirectional',
]


class LSTM(Recurrent):
    r"""Long short-term memory layer with peephole connections.

    With :math:`z = x_t W_{xh} + b + h_{t-1} W_{hh}` split into four column
    blocks :math:`z_i, z_f, z_c, z_o` (in this order):

    .. math::
       i_t = \sigma(z_i + c_{t-1} \odot w_{ci}), \quad
       f_t = \sigma(z_f + c_{t-1} \odot w_{cf}), \\
       c_t = f_t \odot c_{t-1} + i_t \odot \tanh(z_c), \quad
       o_t = \sigma(z_o + c_t \odot w_{co}), \quad
       h_t = o_t \odot \tanh(c_t)

    The layer's activation is not used. The bias ``b`` is drawn with mean 2.

    Parameters
    ----------
    c_0 : str, optional
        Name of the layer output holding the initial cell state.

    Notes
    -----
    Outputs ``out`` (:math:`h`) and ``cell`` (:math:`c`), ``(B, T, n)``.

    Unless ``bptt_limit`` is set, the recurrence runs in the fused C Ops of
    :mod:`theanets.ops` (forward and back-propagation through time, each in
    one call) instead of ``theano.scan``; the results agree to rounding.
    The environment variable ``THEANETS_LSTM=scan`` forces the ``scan``
    loop.
    """

    def __init__(self, c_0=None, **kwargs):
        super().__init__(**kwargs)
        self.c_0 = c_0

    def _state_attributes(self):
        return ('h_0', 'c_0')

    def setup(self):
        n, d = self.output_size, self.input_size
        self.add_weights('xh', d, 4 * n)
        self.add_weights('hh', n, 4 * n)
        self.add_bias('b', 4 * n, mean=2)
        self.add_bias('ci', n)
        self.add_bias('cf', n)
        self.add_bias('co', n)

    def transform(self, inputs):
        x = self._sequence(inputs)
        xw = TT.dot(x, self.find('xh'))
        fused = self._fused(inputs, xw, x.shape[1])
        if fused is not None:
            return fused
        a = xw + self.find('b')
        n = self.output_size

        def step(a_t, h_tm1, c_tm1, hh, ci, cf, co):
            z = a_t + TT.dot(h_tm1, hh)
            i = TT.nnet.sigmoid(z[:, :n] + c_tm1 * ci)
            f = TT.nnet.sigmoid(z[:, n:2 * n] + c_tm1 * cf)
            c = f * c_tm1 + i * TT.tanh(z[:, 2 * n:3 * n])
            o = TT.nnet.sigmoid(z[:, 3 * n:] + c * co)
            return [o * TT.tanh(c), c]

        (out, cell), updates = self._scan(
            step, [a],
            [self._state(inputs, self.h_0), self._state(inputs, self.c_0)],
            x.shape[1],
            [self.find('hh'), self.find('ci'), self.find('cf'),
             self.find('co')])
        return dict(out=_time_major(out), cell=_time_major(cell)), updates

    def _fused(self, inputs, xw, batch_size):
        """Outputs computed by the fused Ops of :mod:`theanets.ops`, or None.

        None means the ``scan`` loop must be used: see
        :meth:`Recurrent._fused_arguments`, or the environment variable
        ``THEANETS_LSTM`` is ``scan``.
        """
        if not ops.fused_lstm_enabled():
            return None
        args = self._fused_arguments(
            inputs, xw, batch_size, ('b', 'hh', 'ci', 'cf', 'co'),
            (self.h_0, self.c_0))
        if args is None:
            return None
        out, cell = ops.lstm(*args)
        return dict(out=_time_major(out), cell=_time_major(cell)), []


class GRU(Recurrent):
    r"""Gated recurrent unit layer (Cho et al., 2014).

    With :math:`a_t = x_t W + b` split into column blocks
    :math:`a^h, a^r, a^z` (candidate, reset, update):

    .. math::
       r_t = \sigma(a^r_t + h_{t-1} W_{hr}), \quad
       z_t = \sigma(a^z_t + h_{t-1} W_{hz}), \\
       p_t = a^h_t + (r_t \odot h_{t-1}) W_{hh}, \quad
       \hat h_t = g(p_t), \quad
       h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \hat h_t

    Outputs ``pre`` (:math:`p`), ``hid`` (:math:`\hat h`), ``rate``
    (:math:`z`) and ``out`` (:math:`h`), all ``(B, T, n)``.

    Notes
    -----
    Unless ``bptt_limit`` is set, the recurrence runs in the fused C Ops of
    :mod:`theanets.ops` (forward and back-propagation through time, each in
    one call) instead of ``theano.scan`` when the activation :math:`g` is
    ``'tanh'``, ``'linear'``, ``'relu'`` (``'rect:max'``) or ``'sigmoid'``
    (``'logistic'``); the results agree to rounding. The environment
    variable ``THEANETS_GRU=scan`` forces the ``scan`` loop.
    """

    def setup(self):
        n = self.output_size
        self.add_weights('hh', n, n)
        self.add_weights('hr', n, n)
        self.add_weights('hz', n, n)
        self.add_weights('w', self.input_size, 3 * n)
        self.add_bias('b', 3 * n)

    def transform(self, inputs):
        n = self.output_size

        def step(ah_t, ar_t, az_t, h_tm1, hh, hr, hz):
            r = TT.nnet.sigmoid(ar_t + TT.dot(h_tm1, hr))
            z = TT.nnet.sigmoid(az_t + TT.dot(h_tm1, hz))
            pre = ah_t + TT.dot(r * h_tm1, hh)
            hid = self.activate(pre)
            return [pre, hid, z, (1 - z) * h_tm1 + z * hid]

        x = self._sequence(inputs)
        xw = TT.dot(x, self.find('w'))
        fused = self._fused(inputs, xw, x.shape[1])
        if fused is not None:
            return fused
        a = xw + self.find('b')
        (pre, hid, rate, out), updates = self._scan(
            step, [a[:, :, :n], a[:, :, n:2 * n], a[:, :, 2 * n:]],
            [None, None, None, self._state(inputs, self.h_0)], x.shape[1],
            [self.find('hh'), self.find('hr'), self.find('hz')])
        return dict(pre=_time_major(pre), hid=_time_major(hid),
                    rate=_time_major(rate), out=_time_major(out)), updates

    def _fused(self, inputs, xw, batch_size):
        """Outputs computed by the fused Ops of :mod:`theanets.ops`, or None.

        None means the ``scan`` loop must be used: see
        :meth:`Recurrent._fused_arguments`, the activation is not one the
        Ops implement (see :meth:`Recurrent._fused_activation`), or the
        environment variable ``THEANETS_GRU`` is ``scan``.
        """
        if not ops.fused_gru_enabled():
            return None
        kind = self._fused_activation()
        if kind is None:
            return None
        args = self._fused_arguments(
            inputs, xw, batch_size, ('b', 'hh', 'hr', 'hz'), (self.h_0, ))
        if args is None:
            return None
        pre, hid, rate, out = ops.gru(*args, activation=kind)
        return dict(pre=_time_major(pre), hid=_time_major(hid),
                    rate=_time_major(rate), out=_time_major(out)), []


class MUT1(Recurrent):
    r"""The "MUT1" gated layer found by Jozefowicz et al. (2015).

    .. math::
       z_t = \sigma(x_t W_{xz} + b_z), \quad
       r_t = \sigma(x_t W_{xr} + b_r + h_{t-1} W_{hr}), \\
       p_t = \tanh(x_t W_{xh} + b_h) + (r_t \odot h_{t-1}) W_{hh}, \quad
       \hat h_t = \tanh(p_t), \quad
       h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \hat h_t

    The layer's activation is not used. Outputs ``pre``, ``hid``
    (:math:`\hat h`), ``rate`` (:math:`z`) and ``out`` (:math:`h`), all
    ``(B, T, n)``. The rate does not depend on the state, so it is computed
    before the loop and stays in time order when the layer runs backwards
    (the other outputs are in processing order).
    """

    def setup(self):
        n, d = self.output_size, self.input_size
        self.add_weights('xh', d, n)
        self.add_weights('xr', d, n)
        self.add_weights('xz', d, n)
        self.add_weights('hh', n, n)
        self.add_weights('hr', n, n)
        self.add_bias('bh', n)
        self.add_bias('br', n)
        self.add_bias('bz', n)

    def transform(self, inputs):
        def step(z_t, u_t, v_t, h_tm1, hh, hr):
            r = TT.nnet.sigmoid(v_t + TT.dot(h_tm1, hr))
            pre = u_t + TT.dot(r * h_tm1, hh)
            hid = TT.tanh(pre)
            return [pre, hid, (1 - z_t) * h_tm1 + z_t * hid]

        x = self._sequence(inputs)
        z = TT.nnet.sigmoid(TT.dot(x, self.find('xz')) + self.find('bz'))
        u = TT.tanh(TT.dot(x, self.find('xh')) + self.find('bh'))
        v = TT.dot(x, self.find('xr')) + self.find('br')
        (pre, hid, out), updates = self._scan(
            step, [z, u, v], [None, None, self._state(inputs, self.h_0)],
            x.shape[1], [self.find('hh'), self.find('hr')])
        return dict(pre=_time_major(pre), hid=_time_major(hid),
                    rate=_time_major(z), out=_time_major(out)), updates


class SCRN(Recurrent):
    r"""Structurally constrained recurrent layer (Mikolov et al., 2014).

    A slow "context" state :math:`s` is a leaky average of an input
    projection; the hidden state :math:`h` sees both. With
    :math:`a_t = x_t W` split into :math:`a^h, a^s`:

    .. math::
       s_t = (1 - \rho) \odot s_{t-1} + \rho \odot a^s_t, \quad
       h_t = g(a^h_t + h_{t-1} W_{hh} + s_t W_{sh}), \\
       \mathrm{out}_t = h_t W_{ho} + s_t W_{so} + b

    The output is linear; the activation applies to the hidden units only.

    Parameters
    ----------
    rate : {'vector', 'uniform', 'log'}, optional
        :math:`\rho = \sigma(r)` with learnable ``r`` (``'vector'``, default),
        or a fixed random vector of ``n`` rates (see :class:`RRNN`).
    s_0 : str, optional
        Name of the layer output holding the initial context state.
    context_size : int or float, optional
        Reported in :meth:`get_config`; None gives ``int(1 + sqrt(n))``, a
        float is a fraction of ``n``. It does not change the computation (the
        context state has ``n`` units).

    Notes
    -----
    Outputs ``hid`` (:math:`h`), ``state`` (:math:`s`), ``out``, all
    ``(B, T, n)``, and ``rate`` (:math:`\rho`, ``(n,)``).
    """

    def __init__(self, rate='vector', s_0=None, context_size=None, **kwargs):
        rate = 'vector' if rate is None else rate
        if (not isinstance(rate, str) or
                rate.lower().strip() not in ('vector', 'uniform', 'log')):
            raise util.ConfigurationError(
                'scrn layer: rate must be one of vector, uniform, log, '
                'got {!r}'.format(rate))
        super().__init__(**kwargs)
        self._rate = rate.lower().strip()
        self.s_0 = s_0
        self.context_size = context_size

    def _state_attributes(self):
        return ('h_0', 's_0')

    def setup(self):
        n = self.output_size
        self.add_weights('w', self.input_size, 2 * n)
        self.add_weights('sh', n, n)
        self.add_weights('hh', n, n)
        self.add_weights('ho', n, n)
        self.add_weights('so', n, n)
        self.add_bias('b', n)
        if self._rate == 'vector':
            self.add_bias('r', n)
        if self.context_size is None:
            self.context_size = int(1 + np.sqrt(n))
        elif isinstance(self.context_size, float):
            self.context_size = int(self.context_size * n)
        # The original sized these rates by context_size, which cannot
        # broadcast against the n-wide state; they are sized n here.
        self._rates = self._create_rates(self._rate, n)

    _spec_omits = ('rate', )

    def get_config(self):
        """Return the configuration, with ``rate`` (left out of
        :meth:`to_spec`, as theanets 0.8 did) and ``context_size`` (the
        computed int once the layer is bound)."""
        config = super().get_config()
        config.update(rate=self._rate, context_size=self.context_size)
        return config

    def transform(self, inputs):
        n = self.output_size

        def step(ah_t, as_t, h_tm1, s_tm1, hh, sh, rho):
            s = (1 - rho) * s_tm1 + rho * as_t
            h = self.activate(ah_t + TT.dot(h_tm1, hh) + TT.dot(s, sh))
            return [h, s]

        if self._rate == 'vector':
            rho = TT.nnet.sigmoid(self.find('r'))
        else:
            rho = self._rates
        x = self._sequence(inputs)
        a = TT.dot(x, self.find('w'))
        (hid, state), updates = self._scan(
            step, [a[:, :, :n], a[:, :, n:]],
            [self._state(inputs, self.h_0), self._state(inputs, self.s_0)],
            x.shape[1], [self.find('hh'), self.find('sh'), rho])
        hid = _time_major(hid)
        state = _time_major(state)
        out = (TT.dot(hid, self.find('ho')) + TT.dot(state, self.find('so')) +
               self.find('b'))
        return dict(hid=hid, state=state, out=out, rate=rho), updates


class Bidirectional(base.Layer):
    """Run one worker layer forwards and another backwards over the input.

    Two recurrent worker layers of size ``size // 2`` named ``<name>_fw`` and
    ``<name>_bw`` get every keyword argument of this layer (inputs,
    activation, rng, initial states, worker options). Output ``out`` (and
    ``pre``, ``cell`` if the worker produces them) is the concatenation of
    the workers' outputs along the feature axis; each worker output ``k`` is
    also available as ``fw_<k>`` and ``bw_<k>``.

    The backward worker's outputs are concatenated in its processing order
    (not flipped back in time): ``out[:, k, n//2:]`` is the backward state
    after consuming inputs ``T-1, ..., T-1-k``.

    Parameters
    ----------
    worker : str, optional
        Registered recurrent layer form of the workers (default ``'rnn'``).

    Examples
    --------
    >>> layer = Bidirectional(size=6, inputs='in', name='bi', worker='gru')
    >>> layer.forward.name, layer.backward.name, layer.forward.kwargs['size']
    ('bi_fw', 'bi_bw', 3)
    """

    def __init__(self, worker='rnn', **kwargs):
        size = kwargs.pop('size', None)
        shape = kwargs.pop('shape', None)
        if shape is not None:
            size = shape[-1]
        name = kwargs.pop('name', None) or 'layer{}'.format(base.Layer._count)
        kwargs.pop('direction', None)
        if size is None:
            raise util.ConfigurationError(
                'bidirectional layer "{}" does not specify a size'.format(
                    name))
        forward = base.Layer.build(worker, direction='forward', size=size // 2,
                                   name='{}_fw'.format(name), **kwargs)
        backward = base.Layer.build(worker, direction='backward',
                                    size=size // 2, name='{}_bw'.format(name),
                                    **kwargs)
        super().__init__(size=size, name=name, **kwargs)
        self.worker = worker
        self.forward = forward
        self.backward = backward

    @property
    def params(self):
        return self.forward.params + self.backward.params

    def bind(self, graph, reset=True, initialize=True):
        self.forward.bind(graph, reset=reset, initialize=initialize)
        self.backward.bind(graph, reset=reset, initialize=initialize)
        super().bind(graph, reset=reset, initialize=initialize)

    def get_config(self):
        config = super().get_config()
        config['worker'] = self.worker
        return config

    @staticmethod
    def _as_dict(outputs):
        if isinstance(outputs, dict):
            return outputs
        if isinstance(outputs, (list, tuple)):
            return dict(outputs)
        return dict(out=outputs)

    def transform(self, inputs):
        fw, fu = self.forward.transform(inputs)
        bw, bu = self.backward.transform(inputs)
        fw, bw = self._as_dict(fw), self._as_dict(bw)
        outputs = {}
        for key in ('out', 'pre', 'cell'):
            if key in fw and key in bw:
                outputs[key] = TT.concatenate([fw[key], bw[key]], axis=2)
        for key, value in fw.items():
            outputs['fw_' + key] = value
        for key, value in bw.items():
            outputs['bw_' + key] = value
        return outputs, list(fu.items() if hasattr(fu, 'items') else fu) + \
            list(bu.items() if hasattr(bu, 'items') else bu)
