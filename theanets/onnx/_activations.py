"""ONNX forms of the activation functions of :mod:`theanets.activations`.

Every built-in activation converts: the common ones, the parameterised ones
(their learnable vectors become initializers) and compositions. A
user-defined :class:`theanets.Activation` subclass cannot, because only its
Python code knows what it computes.
"""

from .. import activations
from ..exceptions import ConfigurationError


def common_name(act):
    """The common activation name of ``act``, or None.

    Besides :class:`theanets.activations.CommonActivation`, this recognises
    the plain functions that models saved by theanets 0.8 hold (such as
    ``theanets.activations._relu`` or ``theano.tensor.tanh``).

    Examples
    --------
    >>> from theanets import activations
    >>> common_name(activations.build('rect:max', None))
    'rect:max'
    >>> common_name(activations._softmax)
    'softmax'
    >>> common_name(activations.build('tanh+relu', None)) is None
    True
    """
    if type(act) is activations.CommonActivation:
        return act.name
    for name, function in activations._COMMON.items():
        # Unpickling rebuilds a Theano op (such as tanh) as an equal copy.
        if act is function or (type(act) is type(function) and
                               act == function):
            return name
    return None


#: Activations that the ONNX recurrent operators implement, by common name.
NATIVE = {
    'tanh': 'Tanh',
    'logistic': 'Sigmoid',
    'sigmoid': 'Sigmoid',
    'relu': 'Relu',
    'rect:max': 'Relu',
}


def native_name(act):
    """The ONNX recurrent-operator name of ``act`` (e.g. ``'Tanh'``), or None.

    Examples
    --------
    >>> from theanets import activations
    >>> native_name(activations.build('logistic', None))
    'Sigmoid'
    >>> native_name(activations.build('linear', None)) is None
    True
    """
    return NATIVE.get(common_name(act))


def _std_parts(b, x):
    """``x`` minus its mean over the last axis, and the population std."""
    centered = b.op('Sub', [x, b.reduce('ReduceMean', x, [-1])],
                    hint='centered')
    square = b.op('Mul', [centered, centered], hint='square')
    std = b.op('Sqrt', [b.reduce('ReduceMean', square, [-1])], hint='std')
    return centered, std


def _tiny(b, value):
    """``value + 1e-8``, the guard against dividing by zero."""
    return b.op('Add', [value, b.const(1e-8)], hint='guarded')


def _norm_mean(b, x):
    return b.op('Sub', [x, b.reduce('ReduceMean', x, [-1])], hint='norm_mean')


def _norm_max(b, x):
    peak = b.reduce('ReduceMax', b.op('Abs', [x]), [-1], hint='peak')
    return b.op('Div', [x, _tiny(b, peak)], hint='norm_max')


def _norm_std(b, x):
    _, std = _std_parts(b, x)
    return b.op('Div', [x, _tiny(b, std)], hint='norm_std')


def _norm_z(b, x):
    centered, std = _std_parts(b, x)
    return b.op('Div', [centered, _tiny(b, std)], hint='norm_z')


# The formulas of theanets.activations, by common name. The rectifiers are
# written (x + |x|) / 2 and so on there; the ONNX operators below compute
# the same values exactly (relu) or to the last bit of float32 (the clips).
_COMMON = {
    'linear': lambda b, x: x,
    'logistic': lambda b, x: b.op('Sigmoid', [x]),
    'sigmoid': lambda b, x: b.op('Sigmoid', [x]),
    'tanh': lambda b, x: b.op('Tanh', [x]),
    'softplus': lambda b, x: b.op('Softplus', [x]),
    'softmax': lambda b, x: b.op('Softmax', [x], axis=-1),
    'relu': lambda b, x: b.op('Relu', [x]),
    'rect:max': lambda b, x: b.op('Relu', [x]),
    'rect:min': lambda b, x: b.op('Min', [x, b.const(1.0)], hint='rect_min'),
    'rect:minmax': lambda b, x: b.op(
        'Clip', [x, b.const(0.0), b.const(1.0)], hint='rect_minmax'),
    'norm:mean': _norm_mean,
    'norm:max': _norm_max,
    'norm:std': _norm_std,
    'norm:z': _norm_z,
}


def _prelu(b, act, x):
    # pos + e^leak * neg is x for x >= 0 and e^leak * x below: PRelu.
    slope = b.op('Exp', [b.param(act.leak)], hint='slope')
    return b.op('PRelu', [x, slope], hint='prelu')


def _lgrelu(b, act, x):
    pos = b.op('Mul', [b.op('Relu', [x]),
                       b.op('Exp', [b.param(act.gain)], hint='gain')])
    neg = b.op('Mul', [b.op('Min', [x, b.const(0.0)]),
                       b.op('Exp', [b.param(act.leak)], hint='leak')])
    return b.op('Add', [pos, neg], hint='lgrelu')


def _elu(b, act, x):
    # x [x >= 0] + e^gain (e^min(x, 0) - 1): the exponential never sees a
    # positive value, as in the Theano expression.
    below = b.op('Sub', [b.op('Exp', [b.op('Min', [x, b.const(0.0)])]),
                         b.const(1.0)])
    scaled = b.op('Mul', [b.op('Exp', [b.param(act.gain)], hint='gain'),
                          below])
    return b.op('Add', [b.op('Relu', [x]), scaled], hint='elu')


def _maxout(b, act, x):
    pieces = b.op('Add', [b.op('Mul', [b.unsqueeze(x, [-1]),
                                       b.param(act.slope)]),
                          b.param(act.intercept)], hint='pieces')
    return b.reduce('ReduceMax', pieces, [-1], keepdims=0, hint='maxout')


_PARAMETERISED = {
    activations.Prelu: _prelu,
    activations.LGrelu: _lgrelu,
    activations.Elu: _elu,
    activations.Maxout: _maxout,
}


def describe(act):
    """A short description of an activation for error messages."""
    name = getattr(act, 'name', None) or getattr(act, '__name__', None)
    return '{!r} ({})'.format(name, type(act).__name__) if name else \
        repr(act)


def check(act, layer):
    """Raise a :class:`~theanets.util.ConfigurationError` unless ``act``
    converts.

    Parameters
    ----------
    act : callable
        The activation of ``layer``.
    layer : :class:`theanets.layers.Layer`
        The layer, named in the error.
    """
    if type(act) is activations.Compose:
        check(act.f, layer)
        check(act.g, layer)
    elif common_name(act) is None and type(act) not in _PARAMETERISED:
        raise ConfigurationError(
            'layer "{}" cannot be exported to ONNX: its activation {} is not '
            'one of the built-in activations of theanets.activations, so '
            'what it computes is only known to its Python code'.format(
                layer.name, describe(act)))


def emit(b, act, x, layer):
    """Add the nodes that apply ``act`` to tensor ``x``; return the result.

    Parameters
    ----------
    b : :class:`theanets.onnx._builder.GraphBuilder`
        The graph (or loop body) to add nodes to.
    act : callable
        The activation, as bound to ``layer`` (``layer.activate``).
    x : str
        The name of the pre-activation tensor.
    layer : :class:`theanets.layers.Layer`
        The owner of ``act``, named in errors.

    Returns
    -------
    str
        The name of the activation tensor (``x`` itself for ``'linear'``).
    """
    check(act, layer)
    if type(act) is activations.Compose:
        return emit(b, act.g, emit(b, act.f, x, layer), layer)
    name = common_name(act)
    if name is not None:
        return _COMMON[name](b, x)
    return _PARAMETERISED[type(act)](b, act, x)

