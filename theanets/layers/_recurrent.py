"""The recurrent base class and the simple recurrent forms.

:class:`Recurrent` holds what every recurrent layer shares (input
projections for all time steps, the ``scan`` over time, initial states,
the ``direction`` and ``bptt_limit`` options). :class:`RNN`,
:class:`BCRNN`, :class:`Clockwork`, :class:`RRNN` and :class:`MRNN` are the
forms without gates. Everything here is documented, imported and pickled
under :mod:`theanets.layers.recurrent`, whose docstring describes the common
keyword arguments.
"""

import numbers

import numpy as np

from .. import activations
from .. import ops
from .. import util
from . import base
from ._layer import _plain_reference
from ..backend import theano, TT

__all__ = ['Recurrent', 'RNN', 'BCRNN', 'RRNN', 'MRNN', 'Clockwork']

_RATES = ('matrix', 'vector', 'uniform', 'log')


def _time_major(x):
    """Swap the batch and time axes of a 3-D tensor."""
    return x.dimshuffle(1, 0, 2)


class Recurrent(base.Layer):
    """Base class of the recurrent layers.

    Parameters
    ----------
    h_0 : str, optional
        Name of the layer output holding the initial hidden state. Resolved to
        a full output name (``'h0'`` becomes ``'h0:out'``) when the layer is
        bound. Defaults to zeros.
    **kwargs
        Passed to :class:`theanets.layers.Layer`; see the module docstring
        for ``direction``, ``bptt_limit`` and ``radius``.
    """

    def __init__(self, h_0=None, **kwargs):
        super().__init__(**kwargs)
        self.h_0 = h_0

    def resolve_inputs(self, layers):
        """Resolve the data input, then the initial-state names."""
        super().resolve_inputs(layers)
        for attr in self._state_attributes():
            value = self._resolve_state(getattr(self, attr), layers)
            setattr(self, attr, value)

    def _state_attributes(self):
        return ('h_0', )

    def _resolve_state(self, name, layers):
        """Turn an initial-state layer name into a full output name."""
        if not name:
            return name
        if isinstance(name, base.Layer):
            name = name.output_name
        return self._resolve_shape(name, layers)[0]

    def get_config(self):
        """Return the configuration, with the initial-state names."""
        config = super().get_config()
        config.update((attr, _plain_reference(getattr(self, attr)))
                      for attr in self._state_attributes())
        return config

    def _transposed(self, y, input_shape=None):
        """Multiply by the transpose of the input weight ``xh``."""
        return TT.dot(y, self._tied_weight('xh').T)

    def add_weights(self, name, nin, nout, mean=0, std=0, sparsity=0,
                    radius=0, diagonal=0):
        """Add a weight matrix, built from square blocks when it is recurrent.

        Each setting is looked up as the per-parameter keyword (``std_hh``),
        then the global keyword (``std``), then the argument. The standard
        deviation defaults to ``1 / sqrt(nin + nout)``.

        If ``nin`` equals the layer size and ``nout`` is a multiple of it, the
        matrix is the column concatenation of ``nout / nin`` square blocks,
        each drawn separately, each with its own ``radius`` rescaling and
        ``diagonal`` initialisation. Otherwise one ``nin x nout`` matrix is
        drawn and ``radius``/``diagonal`` are ignored.

        Parameters
        ----------
        name : str
            Short parameter name, e.g. ``'hh'``.
        nin, nout : int
            Rows and columns of the matrix.
        mean, std, sparsity, radius, diagonal : float, optional
            Defaults for the initialisation settings.
        """
        glorot = 1 / np.sqrt(nin + nout)
        m = self._setting('mean', name, mean)
        s = self._setting('std', name, std or glorot)
        p = self._setting('sparsity', name, sparsity)
        r = self._setting('radius', name, radius)
        dg = self._setting('diagonal', name, diagonal)
        if nin == self.output_size and nout % nin == 0:
            blocks = [util.random_matrix(nin, nin, mean=m, std=s, sparsity=p,
                                         radius=r, diagonal=dg, rng=self.rng)
                      for _ in range(nout // nin)]
            value = np.concatenate(blocks, axis=1)
        else:
            value = util.random_matrix(nin, nout, mean=m, std=s, sparsity=p,
                                       rng=self.rng)
        self._params.append(theano.shared(value, name=self._fmt(name)))

    @property
    def backwards(self):
        """True if the loop runs from the last time step to the first."""
        direction = self.kwargs.get('direction') or ''
        return 'back' in direction.lower()

    def _sequence(self, inputs):
        """The data input, time-major ``(T, B, d)``."""
        return _time_major(inputs[self.input_name])

    @property
    def fixed_values(self):
        """The fixed rate vector and module mask, where the form has them.

        :class:`RRNN` and :class:`~theanets.layers.recurrent.SCRN` draw
        ``'uniform'`` and ``'log'`` rate vectors from numpy's global random
        state when they are bound, so a model rebuilt from its configuration
        alone would get other rates; :class:`BCRNN` derives its rates and
        mask from ``num_modules``, :class:`Clockwork` its mask and periods
        from ``periods``.
        """
        fixed = {}
        for name, attr in (('rate', '_rates'), ('mask', '_mask'),
                           ('period', '_period')):
            value = self.__dict__.get(attr)
            if value is not None:
                fixed[name] = value
        return fixed

    def _create_rates(self, dist, size=None, eps=1e-4):
        """A fixed (not learnable) vector of rates, or None.

        ``'uniform'`` draws from U(eps, 1 - eps), ``'log'`` gives
        ``exp(U(-6, -eps))``. The draws use numpy's global random state.
        """
        if size is None:
            size = self.output_size
        util.reserve((size,))
        if dist == 'uniform':
            value = np.random.uniform(eps, 1 - eps, size=size)
        elif dist == 'log':
            value = np.exp(np.random.uniform(-6, -eps, size=size))
        else:
            return None
        return theano.shared(value.astype(util.FLOAT), name=self._fmt('rate'))

    def _scan(self, fn, sequences, outputs, batch_size, constants=()):
        """Run ``fn`` over the time axis.

        Parameters
        ----------
        fn : callable
            Step function; arguments are the current slices of
            ``sequences``, then the previous values of the fed-back outputs,
            then ``constants``.
        sequences : list of tensors
            Time-major sequences.
        outputs : list
            One entry per step output: None if the output is not fed back,
            a symbolic initial value, or an int width for zeros.
        batch_size : symbolic scalar
            Number of rows of zero initial states.
        constants : list, optional
            Non-sequences passed to every step.

        Returns
        -------
        results : list of tensors
            Stacked step outputs, time-major, in processing order.
        updates : OrderedDict
            Updates collected by the loop.
        """
        outputs_info = []
        for i, init in enumerate(outputs):
            if isinstance(init, numbers.Integral):
                zeros = theano.shared(np.zeros((1, init), util.FLOAT),
                                      name=self._fmt('init{}'.format(i)))
                init = TT.repeat(zeros, batch_size, axis=0)
            outputs_info.append(init)
        results, updates = theano.scan(
            fn,
            sequences=list(sequences),
            outputs_info=outputs_info,
            non_sequences=list(constants),
            go_backwards=self.backwards,
            truncate_gradient=self.kwargs.get('bptt_limit', -1),
            name=self._fmt('scan'))
        if not isinstance(results, (list, tuple)):
            results = [results]
        return list(results), updates

    def _fused_arguments(self, inputs, xw, batch_size, params, states):
        """Arguments for a fused recurrence Op of :mod:`theanets.ops`, or None.

        Returns ``xw``, the parameters named ``params`` and the initial
        states named ``states`` (zeros where no input holds them), all cast
        to one float dtype; ``xw`` is reversed for a backward layer, whose
        outputs then stay in processing order, as with
        ``scan(go_backwards=True)``. None means the ``scan`` loop must be
        used: back-propagation through time is truncated (``bptt_limit``)
        or the data type is not float32 or float64.
        """
        if self.kwargs.get('bptt_limit', -1) not in (-1, None):
            return None
        params = [self.find(name) for name in params]
        states = [self._state(inputs, name) for name in states]
        symbolic = [s for s in states if not isinstance(s, numbers.Integral)]
        dtype = theano.scalar.upcast(
            xw.dtype, *[v.dtype for v in params + symbolic])
        if dtype not in ('float32', 'float64'):
            return None
        states = [TT.zeros((batch_size, self.output_size), dtype=dtype)
                  if isinstance(s, numbers.Integral) else s for s in states]
        xw = TT.cast(xw, dtype)
        if self.backwards:
            xw = xw[::-1]
        return [xw] + [TT.cast(v, dtype) for v in params + states]

    def _fused_activation(self):
        """The ``activation`` of the fused RNN and GRU Ops computing this
        layer's activation, or None if they do not implement it.

        Only a parameter-free common activation's name tells which formula
        it computes (see :func:`theanets.ops.fused_activation`).
        """
        if type(self.activate) is not activations.CommonActivation:
            return None
        return ops.fused_activation(self.activate.name)

    def _state(self, inputs, name):
        """The initial state named ``name`` if given, else the zeros width.

        Returns ``inputs[name]`` when ``name`` is a key of ``inputs``,
        otherwise the layer size (an int, which :meth:`_scan` turns into
        zeros).
        """
        if name and name in inputs:
            return inputs[name]
        return int(self.output_size)

    def _setup_rnn(self):
        """Create ``xh``, ``hh`` and ``b``, the parameters of an RNN."""
        self.add_weights('xh', self.input_size, self.output_size)
        self.add_weights('hh', self.output_size, self.output_size)
        self.add_bias('b', self.output_size)

    def _rnn_loop(self, inputs, fn, sequences=(), constants=()):
        """Run an RNN-style loop whose outputs are ``pre`` and ``out``.

        The step receives the slices of ``sequences``, the slice of
        ``x W_xh + b``, the previous ``pre`` and ``out`` (both starting at
        the initial state), then ``constants``.
        """
        x = self._sequence(inputs)
        a = TT.dot(x, self.find('xh')) + self.find('b')
        h_0 = self._state(inputs, self.h_0)
        (pre, out), updates = self._scan(
            fn, list(sequences) + [a], [h_0, h_0], x.shape[1], constants)
        return dict(pre=_time_major(pre), out=_time_major(out)), updates


class RNN(Recurrent):
    r"""Standard ("vanilla") recurrent layer.

    .. math::
       p_t = x_t W_{xh} + b + h_{t-1} W_{hh}, \qquad h_t = g(p_t)

    Parameters ``xh`` ``(d, n)``, ``hh`` ``(n, n)``, ``b`` ``(n,)``; outputs
    ``pre`` (:math:`p`) and ``out`` (:math:`h`), both ``(B, T, n)``.

    Unless ``bptt_limit`` is set, the recurrence runs in the fused C Ops of
    :mod:`theanets.ops` (forward and back-propagation through time, each in
    one call) instead of ``theano.scan`` when the activation :math:`g` is
    ``'tanh'``, ``'linear'``, ``'relu'`` (``'rect:max'``) or ``'sigmoid'``
    (``'logistic'``); the results agree to rounding. The environment
    variable ``THEANETS_RNN=scan`` forces the ``scan`` loop.

    Examples
    --------
    >>> inp = base.Input(size=3, ndim=3, name='in')
    >>> layer = RNN(size=4, inputs='in', name='rnn')
    >>> class Graph:
    ...     layers = [inp, layer]
    >>> inp.bind(Graph); layer.bind(Graph)
    >>> layer.output_shape, [p.name for p in layer.params]
    ((None, 4), ['rnn.xh', 'rnn.hh', 'rnn.b'])
    """

    def setup(self):
        self._setup_rnn()

    def transform(self, inputs):
        fused = self._fused(inputs)
        if fused is not None:
            return fused

        def step(a_t, pre_tm1, h_tm1, hh):
            pre = a_t + TT.dot(h_tm1, hh)
            return [pre, self.activate(pre)]
        return self._rnn_loop(inputs, step, constants=[self.find('hh')])

    def _fused(self, inputs):
        """Outputs computed by the fused Ops of :mod:`theanets.ops`, or None.

        None means the ``scan`` loop must be used: see
        :meth:`Recurrent._fused_arguments` and
        :meth:`Recurrent._fused_activation`, or the environment variable
        ``THEANETS_RNN`` is ``scan``.
        """
        if not ops.fused_rnn_enabled():
            return None
        kind = self._fused_activation()
        if kind is None:
            return None
        x = self._sequence(inputs)
        xw = TT.dot(x, self.find('xh'))
        args = self._fused_arguments(
            inputs, xw, x.shape[1], ('b', 'hh'), (self.h_0, ))
        if args is None:
            return None
        pre, out = ops.rnn(*args, activation=kind)
        return dict(pre=_time_major(pre), out=_time_major(out)), []


def _module_mask(size, num_modules):
    """Block-triangular mask: module ``i`` is fed by modules ``j >= i``."""
    k = max(1, size // num_modules)
    util.reserve((size, size))
    mask = np.zeros((size, size), util.FLOAT)
    for i in range(num_modules):
        mask[i * k:, i * k:(i + 1) * k] = 1
    return mask, k


class BCRNN(Recurrent):
    r"""Blocked cascading recurrent layer.

    The ``n`` units are split into ``num_modules`` modules of equal size;
    module ``i`` receives recurrent input from itself and from slower modules
    (``j >= i``) and leaks its state with a fixed rate that grows from nearly
    0 (module 0) to nearly 1 (the last module):

    .. math::
       \tilde p_t = x_t W_{xh} + b + h_{t-1} (W_{hh} \odot M), \quad
       p_t = \rho \odot p_{t-1} + (1 - \rho) \odot \tilde p_t, \quad
       h_t = g(p_t)

    Parameters
    ----------
    num_modules : int
        Number of modules; must divide the layer size.
    """

    def __init__(self, num_modules, **kwargs):
        super().__init__(**kwargs)
        self.num_modules = num_modules

    def bind(self, *args, **kwargs):
        super().bind(*args, **kwargs)
        if self.output_size % self.num_modules != 0:
            raise util.ConfigurationError(
                'layer "{}": size {} is not a multiple of num_modules '
                '{}'.format(self.name, self.output_size, self.num_modules))

    def setup(self):
        self._setup_rnn()
        n, m = self.output_size, self.num_modules
        mask, k = _module_mask(n, m)
        self._mask = theano.shared(mask, name='mask')
        levels = np.linspace(-1e-4, -6, m)
        rates = np.zeros(n, util.FLOAT)
        for i in range(m):
            rates[i * k:(i + 1) * k] = 1 - 10 ** levels[i]
        self._rates = theano.shared(rates, name='rates')

    def get_config(self):
        config = super().get_config()
        config['num_modules'] = self.num_modules
        return config

    def _step(self, x_t, pre_tm1, h_tm1, hh, mask, rates):
        p = x_t + TT.dot(h_tm1, hh * mask)
        pre = rates * pre_tm1 + (1 - rates) * p
        return [pre, self.activate(pre)]

    def transform(self, inputs):
        return self._rnn_loop(inputs, self._step, constants=[
            self.find('hh'), self._mask, self._rates])


class Clockwork(Recurrent):
    r"""Clockwork recurrent layer (Koutník et al., 2014).

    The ``n`` units are split into ``len(periods)`` modules of equal size,
    fastest first. Module ``i`` updates only at time steps ``t`` (0-based)
    where ``t mod T_i == 0`` and keeps its previous pre-activation otherwise;
    it receives recurrent input from itself and from slower modules.

    .. math::
       \tilde p_t = x_t W_{xh} + b + h_{t-1} (W_{hh} \odot M), \quad
       p_t = \begin{cases} \tilde p_t & t \bmod T = 0 \\ p_{t-1} & \text{else}
       \end{cases}, \quad h_t = g(p_t)

    Parameters
    ----------
    periods : sequence of int
        Update period of each module; stored sorted ascending. The layer size
        must be a multiple of the number of periods.

    Examples
    --------
    >>> Clockwork(periods=(4, 1, 2), size=6, inputs='in').periods
    array([1, 2, 4])
    """

    def __init__(self, periods, **kwargs):
        super().__init__(**kwargs)
        self.periods = np.asarray(sorted(periods), int)

    def bind(self, *args, **kwargs):
        super().bind(*args, **kwargs)
        if self.output_size % len(self.periods) != 0:
            raise util.ConfigurationError(
                'clockwork layer "{}": size {} is not a multiple of periods '
                '{}'.format(self.name, self.output_size, self.periods))

    def setup(self):
        self._setup_rnn()
        n, m = self.output_size, len(self.periods)
        mask, k = _module_mask(n, m)
        self._mask = theano.shared(mask, name='mask')
        module = np.minimum(np.arange(n) // k, m - 1)
        period = self.periods[module].astype('int32')
        self._period = theano.shared(period, name='period')

    def log(self):
        util.debug('layer {} "{}" {} {} [T {}] from {}',
                   self.__class__.__name__, self.name, self.output_shape,
                   self._activation_name(),
                   ' '.join(str(p) for p in self.periods),
                   self._inputs_description())
        util.debug('learnable parameters: {}', self.log_params())

    def get_config(self):
        """Return the configuration; ``periods`` is a sorted tuple."""
        config = super().get_config()
        config['periods'] = tuple(int(p) for p in self.periods)
        return config

    def _step(self, t, x_t, pre_tm1, h_tm1, hh, mask, period):
        p = x_t + TT.dot(h_tm1, hh * mask)
        pre = TT.switch(TT.eq(t % period, 0), p, pre_tm1)
        return [pre, self.activate(pre)]

    def transform(self, inputs):
        steps = TT.arange(inputs[self.input_name].shape[1])
        return self._rnn_loop(
            inputs, self._step, sequences=[steps],
            constants=[self.find('hh'), self._mask, self._period])


class RRNN(Recurrent):
    r"""Recurrent layer with a leaky ("rate") state update.

    .. math::
       p_t = x_t W_{xh} + b + h_{t-1} W_{hh}, \quad \hat h_t = g(p_t), \quad
       h_t = (1 - z) \odot h_{t-1} + z \odot \hat h_t

    Parameters
    ----------
    rate : str, optional
        How the rate :math:`z` is computed:

        ``'matrix'`` (default; also used for None)
            :math:`z_t = \sigma(x_t W_{xr} + r)`, learnable ``r`` and ``xr``;
            output ``rate`` is time-major ``(T, B, n)``.
        ``'vector'``
            :math:`z = \sigma(r)`, learnable ``r``.
        ``'uniform'``, ``'log'``
            a fixed random vector (U(0, 1) or log-uniform in (e^-6, 1)),
            drawn from numpy's global random state; not learnable.

    Notes
    -----
    Outputs ``pre``, ``hid`` (:math:`\hat h`), ``out`` (:math:`h`), all
    ``(B, T, n)``, and ``rate`` (:math:`z`). With ``'matrix'`` the rate is
    computed before the loop, so it stays in time order when the layer runs
    backwards.
    """

    def __init__(self, rate='matrix', **kwargs):
        rate = 'matrix' if rate is None else rate
        if not isinstance(rate, str) or rate.lower().strip() not in _RATES:
            raise util.ConfigurationError(
                'rrnn layer: rate must be one of {}, got {!r}'.format(
                    ', '.join(_RATES), rate))
        super().__init__(**kwargs)
        self._rate = rate.lower().strip()

    _spec_omits = ('rate', )

    def get_config(self):
        """Return the configuration, with ``rate`` (left out of
        :meth:`to_spec`, as theanets 0.8 did)."""
        config = super().get_config()
        config['rate'] = self._rate
        return config

    def setup(self):
        self._setup_rnn()
        if self._rate in ('vector', 'matrix'):
            self.add_bias('r', self.output_size)
        if self._rate == 'matrix':
            self.add_weights('xr', self.input_size, self.output_size)
        self._rates = self._create_rates(self._rate)

    def transform(self, inputs):
        x = self._sequence(inputs)
        a = TT.dot(x, self.find('xh')) + self.find('b')
        h_0 = self._state(inputs, self.h_0)
        hh = self.find('hh')

        def step(a_t, z_t, h_tm1, hh):
            pre = a_t + TT.dot(h_tm1, hh)
            hid = self.activate(pre)
            return [pre, hid, (1 - z_t) * h_tm1 + z_t * hid]

        if self._rate == 'matrix':
            z = TT.nnet.sigmoid(TT.dot(x, self.find('xr')) + self.find('r'))
            (pre, hid, out), updates = self._scan(
                step, [a, z], [None, None, h_0], x.shape[1], [hh])
        else:
            if self._rate == 'vector':
                z = TT.nnet.sigmoid(self.find('r'))
            else:
                z = self._rates
            (pre, hid, out), updates = self._scan(
                lambda a_t, h_tm1, hh, z: step(a_t, z, h_tm1, hh),
                [a], [None, None, h_0], x.shape[1], [hh, z])
        return dict(pre=_time_major(pre), hid=_time_major(hid),
                    out=_time_major(out), rate=z), updates


class MRNN(Recurrent):
    r"""Multiplicative recurrent layer (Sutskever et al., 2011).

    The recurrent weights are modulated by input-driven factor gains:

    .. math::
       f_t = x_t W_{xf}, \quad
       p_t = x_t W_{xh} + b + (f_t \odot (h_{t-1} W_{hf})) W_{fh}, \quad
       h_t = g(p_t)

    Parameters
    ----------
    factors : int, optional
        Number of factors ``F``; defaults to ``ceil(sqrt(size))``.

    Notes
    -----
    Outputs ``pre``, ``out`` ``(B, T, n)`` and ``factors`` (:math:`f`,
    time-major ``(T, B, F)``, in time order even when running backwards).
    """

    def __init__(self, factors=None, **kwargs):
        if factors is None:
            factors = int(np.ceil(np.sqrt(kwargs['size'])))
        super().__init__(**kwargs)
        self.factors = factors

    def setup(self):
        n, d, f = self.output_size, self.input_size, self.factors
        self.add_weights('xh', d, n)
        self.add_weights('xf', d, f)
        self.add_weights('hf', n, f)
        self.add_weights('fh', f, n)
        self.add_bias('b', n)

    def get_config(self):
        config = super().get_config()
        config['factors'] = self.factors
        return config

    def transform(self, inputs):
        def step(a_t, f_t, h_tm1, hf, fh):
            pre = a_t + TT.dot(f_t * TT.dot(h_tm1, hf), fh)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        a = TT.dot(x, self.find('xh')) + self.find('b')
        f = TT.dot(x, self.find('xf'))
        (pre, out), updates = self._scan(
            step, [a, f], [None, self._state(inputs, self.h_0)], x.shape[1],
            [self.find('hf'), self.find('fh')])
        return dict(pre=_time_major(pre), out=_time_major(out),
                    factors=f), updates


# Pickles and the documentation name these classes by their public module.
for _cls in (Recurrent, RNN, BCRNN, Clockwork, RRNN, MRNN):
    _cls.__module__ = 'theanets.layers.recurrent'
del _cls
