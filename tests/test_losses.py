"""Tests for theanets.losses.

All numeric checks go through one compiled Theano function (the module-scoped
``evaluate`` fixture), which computes every loss under test from a shared set
of input arrays; each test then feeds its own arrays to it.
"""

import gzip
import io
import os
import pickle

import numpy as np
import pytest

import theanets
from theanets import feedforward, losses, saving, util
from theanets.backend import theano, TT

from tests.helpers import LEGACY_MODELS, assert_progress

def legacy_path(name):
    """The path of a theanets 0.8 model file shipped with the tests."""
    return os.path.join(LEGACY_MODELS, name)


class Step(losses.Loss):
    """A user-defined loss: the fraction of outputs above their target."""

    def __call__(self, outputs):
        # ``_target`` is the documented attribute loss subclasses read
        above = TT.gt(outputs[self.output_name], self._target)
        return TT.cast(above, util.FLOAT).mean()


class _Placeholder(object):
    """Stands in for every non-loss theanets object in a legacy pickle."""

    def __setstate__(self, state):
        self.state = state


class _LossOnlyUnpickler(saving.ModelUnpickler):
    """Unpickle a legacy model, restoring only the loss classes for real.

    This isolates the loss module from the model and layer modules: what is
    tested is that ``theanets.losses`` rebuilds the original's loss objects
    from their pickled attribute dicts. The backend's classes are read as
    theanets reads them (Theano's names map to PyTensor's on that backend).
    """

    def find_class(self, module, name):
        if module.startswith('theanets') and module != 'theanets.losses':
            return _Placeholder
        return super().find_class(module, name)


def load_legacy_loss(name):
    with gzip.open(legacy_path(name + '.pkl.gz')) as handle:
        model = _LossOnlyUnpickler(handle).load()
    (loss, ) = model.state[1]
    return loss


# ---------------------------------------------------------------------------
# numpy versions of the loss formulas, written from the definitions


def np_reduce(elementwise, w=None):
    if w is None:
        return elementwise.mean()
    return (w * elementwise).sum() / w.sum()


def np_mse(o, t, w=None):
    return np_reduce((o - t) ** 2, w)


def np_mae(o, t, w=None):
    return np_reduce(abs(o - t), w)


def np_kl(o, t, w=None):
    eps = 1e-8
    t = np.clip(t, eps, 1 - eps)
    o = np.clip(o, eps, 1 - eps)
    return np_reduce(abs(t * np.log(t / o)), w)


def np_gaussian_kernel(a, b, bw):
    diff = a[:, None] - b[None, :]
    return np.exp(-(diff ** 2).sum(axis=-1) / bw)


def np_mmd(o, t, bw=1):
    return (np_gaussian_kernel(t, t, bw).mean()
            - 2 * np_gaussian_kernel(t, o, bw).mean()
            + np_gaussian_kernel(o, o, bw).mean())


def np_gll(mu, c, y, eps=1e-3):
    prec = 1 / (abs(c) + eps)
    eta = mu * prec
    const = np.float32(mu.shape[-1] * np.log(2 * np.pi))
    const = const - np.log(prec.sum(-1)) + (eta * prec * eta).sum(-1)
    quad = (y * prec * y).sum(-1)
    return (0.5 * (const + quad) - (eta * y).sum(-1)).mean()


def np_labelled(p, labels):
    flat = p.reshape((-1, p.shape[-1]))
    return flat, flat[np.arange(len(flat)), labels.ravel()]


def np_xe(p, labels, w=None):
    _, q = np_labelled(p, labels)
    return np_reduce(-np.log(np.clip(q, 1e-8, 1)), None if w is None else w.ravel())


def np_hinge(p, labels, w=None):
    flat, q = np_labelled(p, labels)
    margin = np.maximum(0, (flat - q[:, None]).max(axis=-1))
    return np_reduce(margin, None if w is None else w.ravel())


def np_accuracy(p, labels, w=None):
    return np_reduce((p.argmax(axis=-1) == labels).astype(float), w)


# ---------------------------------------------------------------------------
# the one compiled function


SYMBOLS = dict(
    o2=TT.matrix, t2=TT.matrix, w2=TT.matrix, p2=TT.matrix,
    lab1=TT.ivector, lw1=TT.vector, mu2=TT.matrix, c2=TT.matrix, y2=TT.matrix,
    o3=TT.tensor3, t3=TT.tensor3, w3=TT.tensor3, p3=TT.tensor3,
    lab2=TT.imatrix, lw2=TT.matrix, mu3=TT.tensor3, c3=TT.tensor3,
    y3=TT.tensor3,
)


def linear_kernel(a, b):
    """A user kernel: dot products of the rows of ``a`` and ``b``."""
    return (a.dimshuffle(0, 'x', 1) * b).sum(axis=-1)


def _build_cases(v):
    """Return ``{name: (loss, outputs, target, weights, method)}``."""
    reg = {'out:out': v['o2'], 'hid1:out': v['o2'] + 1, 'out:pre': -v['o2']}
    reg3 = {'out:out': v['o3']}
    clf = {'out:out': v['p2']}
    clf3 = {'out:out': v['p3']}
    gauss = {'mean:out': v['mu2'], 'covar:out': v['c2'],
             'm:out': v['mu2'], 'c:pre': v['c2']}
    gauss3 = {'mean:out': v['mu3'], 'covar:out': v['c3']}
    cases = {}

    def add(name, key, outputs, target, weights=None, method=None, **kwargs):
        ndim = target.ndim
        loss = losses.Loss.build(key, target=ndim, weighted=weights is not None,
                                 **kwargs)
        cases[name] = (loss, outputs, target, weights, method)
        return loss

    for key in ('mse', 'mae', 'kl', 'step'):
        add(key, key, reg, v['t2'])
        add(key + '_w', key, reg, v['t2'], v['w2'])
        add(key + '3', key, reg3, v['t3'])
        add(key + '3_w', key, reg3, v['t3'], v['w3'])
    add('mmd', 'mmd', reg, v['t2'])
    add('mmd_w', 'mmd', reg, v['t2'], v['w2'])
    add('mmd05', 'mmd', reg, v['t2'], kernel=0.5)
    add('mmd_linear', 'mmd', reg, v['t2'], kernel=linear_kernel)
    add('mmd3', 'mmd', reg3, v['t3'])
    for key in ('xe', 'hinge'):
        add(key, key, clf, v['lab1'])
        add(key + '_w', key, clf, v['lab1'], v['lw1'])
        add(key + '3', key, clf3, v['lab2'])
        add(key + '3_w', key, clf3, v['lab2'], v['lw2'])
    add('acc', 'xe', clf, v['lab1'], method='accuracy')
    add('acc_w', 'xe', clf, v['lab1'], v['lw1'], method='accuracy')
    add('acc3', 'hinge', clf3, v['lab2'], method='accuracy')
    add('acc3_w', 'hinge', clf3, v['lab2'], v['lw2'], method='accuracy')
    add('gll', 'gll', gauss, v['y2'])
    add('gll_w', 'gll', gauss, v['y2'], v['w2'])
    add('gll_named', 'gll', gauss, v['y2'], mean_name='m', covar_name='c:pre')
    add('gll3', 'gll', gauss3, v['y3'])

    # output_name completion: 'hid1' reads 'hid1:out', 'out:pre' is kept.
    add('mse_hid1', 'mse', reg, v['t2'], output_name='hid1')
    add('mse_pre', 'mse', reg, v['t2'], output_name='out:pre')

    # a symbolic target is used as is (no givens needed for it).
    sym = losses.MeanSquaredError(target=v['t2'], weighted=True)
    cases['mse_sym'] = (sym, reg, v['t2'], v['w2'], None)

    # pickled and restored losses compute the same values.
    for name in ('mse_w', 'mmd', 'mmd05', 'xe_w', 'hinge3_w', 'gll', 'kl3_w'):
        loss, outputs, target, weights, method = cases[name]
        restored = pickle.loads(pickle.dumps(loss))
        cases[name + '_pickled'] = (restored, outputs, target, weights, method)

    # losses restored from the original's saved models.
    cases['legacy_mse'] = (load_legacy_loss('regressor_relu'), reg, v['t2'],
                           None, None)
    cases['legacy_ae'] = (load_legacy_loss('autoencoder_tied'), reg, v['t2'],
                          None, None)
    cases['legacy_xe'] = (load_legacy_loss('classifier_tanh'), clf, v['lab1'],
                          None, None)
    cases['legacy_acc'] = (load_legacy_loss('classifier_tanh'), clf,
                           v['lab1'], None, 'accuracy')
    return cases


@pytest.fixture(scope='module')
def cases():
    variables = {name: make(name) for name, make in SYMBOLS.items()}
    return variables, _build_cases(variables)


@pytest.fixture(scope='module')
def evaluate(cases):
    """A function of named arrays returning every loss value by name."""
    variables, built = cases
    names = sorted(built)
    exprs, givens = [], {}
    for name in names:
        loss, outputs, target, weights, method = built[name]
        exprs.append(getattr(loss, method or '__call__')(outputs))
        own = loss.variables  # [target] or [target, weights]
        if own[0] is not target:
            givens[own[0]] = target
        if len(own) > 1:
            givens[own[1]] = weights
    order = list(SYMBOLS)
    fn = theano.function([variables[k] for k in order], exprs,
                         givens=list(givens.items()), on_unused_input='ignore')

    def run(**arrays):
        values = fn(*[arrays[k] for k in order])
        return dict(zip(names, values))
    return run


def f32(x):
    return np.asarray(x, dtype='f')


def i32(x):
    return np.asarray(x, dtype='i')


# The arrays of the spec's reference values (1.12).
O = [[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]]
T = [[0.0, 1.0, 0.5], [1.0, 0.0, -0.5]]
W = [[1.0, 2.0, 0.0], [0.5, 1.0, 1.5]]
X3 = np.random.RandomState(1).rand(2, 3, 4)
X3 /= X3.sum(axis=-1, keepdims=True)


def reference_arrays(**overrides):
    gll = np.random.RandomState(3).randn(3, 2, 3, 4)
    arrays = dict(
        o2=f32(O), t2=f32(T), w2=f32(W), p2=f32(O),
        lab1=i32([1, 0]), lw1=f32([0.25, 1.0]),
        mu2=f32([[0.5, -1], [2, 0]]), c2=f32([[1, 0.5], [-2, 0.1]]),
        y2=f32([[0, -1.5], [1, 1]]),
        o3=f32(X3), t3=f32(np.random.RandomState(2).randn(2, 3, 4)),
        w3=f32(np.ones((2, 3, 4))), p3=f32(X3),
        lab2=i32([[0, 1, 3], [2, 2, 1]]), lw2=f32([[1, 0, 2], [0.5, 0.5, 1]]),
        mu3=f32(gll[0]), c3=f32(gll[1]), y3=f32(gll[2]),
    )
    arrays.update(overrides)
    return arrays


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def random_arrays(seed):
    rng = np.random.RandomState(seed)
    shape2, shape3 = (12, 4), (3, 4, 5)

    def labels(p):
        # about half the labels are the predicted class, the others random
        # (negative ones count from the last class)
        k = p.shape[-1]
        hit = rng.rand(*p.shape[:-1]) < 0.5
        return i32(np.where(hit, p.argmax(axis=-1),
                            rng.randint(-k, k, size=p.shape[:-1])))

    p2 = f32(softmax(rng.randn(*shape2)))
    p3 = f32(softmax(rng.randn(*shape3)))
    return dict(
        o2=f32(rng.rand(*shape2)), t2=f32(rng.uniform(-0.2, 1.3, shape2)),
        w2=f32(abs(rng.randn(*shape2))), p2=p2,
        lab1=labels(p2), lw1=f32(rng.rand(12)),
        mu2=f32(rng.randn(*shape2)), c2=f32(rng.randn(*shape2)),
        y2=f32(rng.randn(*shape2)),
        o3=f32(rng.rand(*shape3)), t3=f32(rng.uniform(-0.2, 1.3, shape3)),
        w3=f32(abs(rng.randn(*shape3))), p3=p3,
        lab2=labels(p3), lw2=f32(rng.rand(3, 4)),
        mu3=f32(rng.randn(*shape3)), c3=f32(rng.randn(*shape3)),
        y3=f32(rng.randn(*shape3)),
    )


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=2e-6, atol=1e-6)


@pytest.fixture(scope='module')
def reference(evaluate):
    return evaluate(**reference_arrays())


# ---------------------------------------------------------------------------
# registry


REGISTRY = [
    ('loss', losses.Loss),
    ('meansquarederror', losses.MeanSquaredError),
    ('mse', losses.MeanSquaredError),
    ('meanabsoluteerror', losses.MeanAbsoluteError),
    ('mae', losses.MeanAbsoluteError),
    ('gaussianloglikelihood', losses.GaussianLogLikelihood),
    ('gll', losses.GaussianLogLikelihood),
    ('maximummeandiscrepancy', losses.MaximumMeanDiscrepancy),
    ('mmd', losses.MaximumMeanDiscrepancy),
    ('kullbackleiblerdivergence', losses.KullbackLeiblerDivergence),
    ('kl', losses.KullbackLeiblerDivergence),
    ('kld', losses.KullbackLeiblerDivergence),
    ('crossentropy', losses.CrossEntropy),
    ('xe', losses.CrossEntropy),
    ('hinge', losses.Hinge),
]


@pytest.mark.parametrize('key, cls', REGISTRY)
def test_registry_keys(key, cls):
    assert losses.Loss.is_registered(key)
    assert losses.Loss.get_class(key) is cls
    assert losses.Loss.get_class(key.upper()) is cls
    target = 1 if issubclass(cls, losses.CrossEntropy) else 2
    assert type(losses.Loss.build(key.title(), target=target)) is cls


def test_package_exports_loss():
    assert theanets.Loss is losses.Loss
    assert theanets.losses is losses


def test_registry_holds_only_losses():
    registry = losses.Loss._registry  # the registry's contents are the subject
    assert all(issubclass(cls, losses.Loss) for cls in registry.values())
    assert not losses.Loss.is_registered('relu')
    assert not losses.Loss.is_registered(None)


def test_hinge_is_only_hinge():
    # which registry keys name Hinge: only the internal registry tells
    keys = [k for k, cls in losses.Loss._registry.items() if cls is losses.Hinge]
    assert keys == ['hinge']
    assert issubclass(losses.Hinge, losses.CrossEntropy)


def test_unknown_key():
    with pytest.raises(util.UnknownNameError) as info:
        losses.Loss.build('Squared', target=2)
    err = info.value
    assert isinstance(err, KeyError)
    assert isinstance(err, util.ConfigurationError)
    assert err.key == 'squared'
    assert 'mse' in str(err) and 'hinge' in str(err)


def test_base_loss_is_abstract():
    loss = losses.Loss.build('loss', target=2)
    assert type(loss) is losses.Loss
    with pytest.raises(NotImplementedError):
        loss({'out:out': TT.matrix()})


def test_user_subclass_by_name(reference):
    loss = losses.Loss.build('STEP', target=2, weight=0.5)
    assert isinstance(loss, Step)
    assert loss.weight == 0.5 and loss.output_name == 'out:out'
    # O > T for 3 of the 6 entries.
    close(reference['step'], 3 / 6)


# ---------------------------------------------------------------------------
# construction: variables, attributes, output names


def test_variables_count():
    # restated from the original tests
    loss = losses.Loss.build('mse', target=2)
    assert callable(loss)
    assert len(loss.variables) == 1
    assert len(losses.Loss.build('mse', target=2, weighted=True).variables) == 2


@pytest.mark.parametrize('ndim', [0, 1, 2, 3, 4])
def test_int_target_makes_float_variables(ndim):
    loss = losses.MeanAbsoluteError(target=ndim, weighted=True)
    target, weights = loss.variables
    assert (target.name, target.ndim, target.dtype) == ('target', ndim, util.FLOAT)
    assert (weights.name, weights.ndim, weights.dtype) == ('weights', ndim, util.FLOAT)
    # the loss computes with exactly these variables
    expr = loss({'out:out': TT.TensorType(util.FLOAT, (False, ) * ndim)()})
    assert {target, weights} <= set(theano.gof.graph.inputs([expr]))


@pytest.mark.parametrize('key', ['xe', 'hinge'])
@pytest.mark.parametrize('ndim', [1, 2])
def test_classification_target_is_int32(key, ndim):
    loss = losses.Loss.build(key, target=ndim, weighted=True)
    target, weights = loss.variables
    assert (target.name, target.ndim, target.dtype) == ('target', ndim, 'int32')
    assert (weights.name, weights.ndim, weights.dtype) == ('weights', ndim, util.FLOAT)


def test_symbolic_target_used_as_is():
    x = TT.tensor3('in')
    loss = losses.Loss.build('mse', target=x, weighted=True)
    target, weights = loss.variables
    assert target is x
    assert loss.variables[0] is x
    assert weights.name == 'weights'
    assert weights.ndim == 3 and weights.dtype == util.FLOAT
    assert losses.Loss.build('kl', target=x).variables == [x]


@pytest.mark.parametrize('key', ['xe', 'hinge'])
def test_classification_rejects_symbolic_target(key):
    with pytest.raises(TypeError) as info:
        losses.Loss.build(key, target=TT.ivector('labels'))
    assert isinstance(info.value, util.ConfigurationError)
    assert 'target' in str(info.value)


@pytest.mark.parametrize('key', ['xe', 'hinge'])
@pytest.mark.parametrize('method', ['__call__', 'accuracy'])
def test_classification_output_must_fit_the_labels(key, method):
    """A convolutional classifier without a flatten layer has a 4-D output
    for 1-D labels: a clear error at build time, not a shape error later."""
    loss = losses.Loss.build(key, target=1)
    output = {'out:out': TT.TensorType(util.FLOAT, (False, ) * 4)()}
    with pytest.raises(util.ConfigurationError,
                       match=r'"out:out" has 4 axes.*targets have 1.*flat'):
        getattr(loss, method)(output)


def test_recurrent_classification_output_fits_its_labels():
    loss = losses.Loss.build('xe', target=2)
    assert loss({'out:out': TT.tensor3()}).ndim == 0


@pytest.mark.parametrize('target', [5, -1, True, 2.0, 'target'])
def test_bad_target_ndim(target):
    with pytest.raises(util.ConfigurationError, match='target'):
        losses.Loss.build('mse', target=target)


def test_unweighted_has_no_weights():
    loss = losses.Loss.build('gll', target=2)
    (target, ) = loss.variables  # no weights variable
    assert target.name == 'target'


@pytest.mark.parametrize('given, expected', [
    ('out', 'out:out'), ('hid1', 'hid1:out'), ('foo:pre', 'foo:pre'),
    ('hid2:out', 'hid2:out'),
])
def test_output_name_completion(given, expected):
    assert losses.Loss.build('mae', target=2, output_name=given).output_name == expected


def test_output_name_selects_output(reference):
    arrays = reference_arrays()
    o, t = arrays['o2'], arrays['t2']
    close(reference['mse_hid1'], np_mse(o + 1, t))
    close(reference['mse_pre'], np_mse(-o, t))


def test_gll_names():
    loss = losses.Loss.build('gll', target=2)
    assert (loss.mean_name, loss.covar_name, loss.covar_eps) == (
        'mean:out', 'covar:out', 1e-3)
    loss = losses.GaussianLogLikelihood(
        mean_name='mu', covar_name='var:pre', covar_eps=0.1, target=3,
        output_name='mu', weight=2)
    assert (loss.mean_name, loss.covar_name, loss.covar_eps) == (
        'mu:out', 'var:pre', 0.1)
    assert loss.output_name == 'mu:out' and loss.weight == 2


def test_gll_requires_target():
    with pytest.raises(TypeError):
        losses.GaussianLogLikelihood(mean_name='mu')


@pytest.mark.parametrize('key', ['mse', 'xe'])
def test_instance_attributes(key):
    loss = losses.Loss.build(key, target=1, weight=0.25, output_name='hid1')
    assert sorted(vars(loss)) == ['_target', '_weights', 'output_name', 'weight']
    loss.weight = 2
    loss.output_name = 'lwout:out'
    assert (loss.weight, loss.output_name) == (2, 'lwout:out')


def test_mmd_kernel_attribute():
    assert losses.Loss.build('mmd', target=2).kernel.bw == 1
    assert losses.Loss.build('mmd', target=2, kernel=0.5).kernel.bw == 0.5
    assert isinstance(losses.MaximumMeanDiscrepancy.gaussian(3), losses.GaussianKernel)
    loss = losses.Loss.build('mmd', target=2, kernel=linear_kernel)
    assert loss.kernel is linear_kernel


# ---------------------------------------------------------------------------
# log messages


@pytest.mark.parametrize('loss, message', [
    (lambda: losses.Loss.build('mse', target=2),
     'using loss: 1.0 * MeanSquaredError (output out:out)'),
    (lambda: losses.Loss.build('mse', target=2, weight=0.5, output_name='hid1'),
     'using loss: 0.5 * MeanSquaredError (output hid1:out)'),
    (lambda: losses.Loss.build('xe', target=1, weight=1),
     'using loss: 1 * CrossEntropy (output out:out)'),
    (lambda: losses.Loss.build('hinge', target=2, output_name='foo:pre'),
     'using loss: 1.0 * Hinge (output foo:pre)'),
    (lambda: losses.Loss.build('step', target=2, weight=2.5),
     'using loss: 2.5 * Step (output out:out)'),
    (lambda: losses.Loss.build('gll', target=2),
     'using loss: 1.0 * GaussianLogLikelihood (mean mean:out, covar covar:out)'),
    (lambda: losses.Loss.build('gll', target=2, weight=0.1, mean_name='mu',
                               covar_name='var:pre'),
     'using loss: 0.1 * GaussianLogLikelihood (mean mu:out, covar var:pre)'),
])
def test_log(messages, loss, message):
    loss().log()
    assert messages() == [message]


# ---------------------------------------------------------------------------
# values


REFERENCE_VALUES = [
    ('mse', 0.1775), ('mse_w', 0.20354166666666665),
    ('mae', 0.3666666666666667), ('mae_w', 0.3875),
    ('kl', 0.2513279936343697), ('kl_w', 0.17665400493313643),
    ('mmd', 0.4581701881392115), ('mmd_w', 0.4581701881392115),
    ('mmd05', 0.7125513739491878),
    ('xe', 0.5249110622493389), ('xe_w', 0.6258527332357027),
    ('hinge', 0.0), ('hinge_w', 0.0), ('acc', 1.0), ('acc_w', 1.0),
    ('gll', 4.87952781890775), ('gll_w', 4.87952781890775),
    ('gll_named', 4.87952781890775),
    ('xe3', 1.986054263887319), ('xe3_w', 1.5359034751709235),
    ('hinge3', 0.22252943181320925), ('hinge3_w', 0.12173641287863153),
    ('acc3', 1 / 3), ('acc3_w', 0.6),
    ('mse3', 1.2718600410130652), ('mmd3', 1.3732495670952158),
]


@pytest.mark.parametrize('name, expected', REFERENCE_VALUES)
def test_reference_values(reference, name, expected):
    close(reference[name], expected)


@pytest.fixture(scope='module')
def other_labels(evaluate):
    return {labels: evaluate(**reference_arrays(lab1=i32(labels)))
            for labels in [(2, 1), (-1, 0)]}


@pytest.mark.parametrize('name, expected', [
    ('xe', 1.4978661367769954), ('xe_w', 1.4309230713827326),
    ('hinge', 0.375), ('hinge_w', 0.3), ('acc', 0.0), ('acc_w', 0.0),
])
def test_reference_values_labels_2_1(other_labels, name, expected):
    close(other_labels[(2, 1)][name], expected)


def test_negative_label_counts_from_last_class(other_labels):
    # -1 selects the last class, as in numpy indexing.
    close(other_labels[(-1, 0)]['xe'], 1.1512925464970227)


def test_mmd_single_points(evaluate):
    values = evaluate(**reference_arrays(o2=f32([[1]]), t2=f32([[0]]),
                                         w2=f32([[1]])))
    close(values['mmd'], 2 - 2 * np.exp(-1))
    close(values['mmd'], 1.2642411176571153)


def test_kl_keeps_absolute_terms(evaluate):
    values = evaluate(**reference_arrays(o2=f32([[0.25, 0.75]]),
                                         t2=f32([[0.5, 0.5]]),
                                         w2=f32([[1, 1]])))
    close(values['kl'], 0.27465307216702745)
    # the textbook KL (signed terms) would be 0.0719
    assert abs(values['kl'] - 0.0719) > 0.2


@pytest.mark.parametrize('mu, c, y, expected', [
    ([[0]], [[1]], [[0]], 0.9194382677370373),
    ([[1, 2]], [[0.5, -2]], [[0, 1]], 4.856676636209551),
])
def test_gll_hand_cases(evaluate, mu, c, y, expected):
    values = evaluate(**reference_arrays(mu2=f32(mu), c2=f32(c), y2=f32(y)))
    close(values['gll'], expected)
    close(values['gll'], np_gll(np.array(mu), np.array(c), np.array(y)))


def test_gll_keeps_original_terms(evaluate):
    # mu = 1, c = 0.5 - eps: p = 2, so the original's sum(mu**2 p**3) term is
    # 8 where the textbook has sum(mu**2 p) = 2, and log(sum p) = log 2 equals
    # the textbook sum(log p) only in one dimension.
    mu, c, y = [[1.0]], [[0.499]], [[1.0]]
    values = evaluate(**reference_arrays(mu2=f32(mu), c2=f32(c), y2=f32(y)))
    expected = 0.5 * (np.log(2 * np.pi) - np.log(2) + 8 + 2) - 2
    close(values['gll'], expected)


@pytest.fixture(scope='module', params=[21, 22])
def random_case(request, evaluate):
    arrays = random_arrays(request.param)
    return arrays, evaluate(**arrays)


def _np_expected(name, a):
    o2, t2, w2, o3, t3, w3 = (a[k] for k in ('o2', 't2', 'w2', 'o3', 't3', 'w3'))
    p2, lab1, lw1 = a['p2'], a['lab1'], a['lw1']
    p3, lab2, lw2 = a['p3'], a['lab2'], a['lw2']
    table = {
        'mse': np_mse(o2, t2), 'mse_w': np_mse(o2, t2, w2),
        'mse3': np_mse(o3, t3), 'mse3_w': np_mse(o3, t3, w3),
        'mae': np_mae(o2, t2), 'mae_w': np_mae(o2, t2, w2),
        'mae3': np_mae(o3, t3), 'mae3_w': np_mae(o3, t3, w3),
        'kl': np_kl(o2, t2), 'kl_w': np_kl(o2, t2, w2),
        'kl3': np_kl(o3, t3), 'kl3_w': np_kl(o3, t3, w3),
        'step': (o2 > t2).mean(), 'step_w': (o2 > t2).mean(),
        'step3': (o3 > t3).mean(), 'step3_w': (o3 > t3).mean(),
        'mmd': np_mmd(o2, t2), 'mmd_w': np_mmd(o2, t2),
        'mmd05': np_mmd(o2, t2, 0.5), 'mmd3': np_mmd(o3, t3),
        'mmd_linear': ((t2.mean(axis=0) - o2.mean(axis=0)) ** 2).sum(),
        'xe': np_xe(p2, lab1), 'xe_w': np_xe(p2, lab1, lw1),
        'xe3': np_xe(p3, lab2), 'xe3_w': np_xe(p3, lab2, lw2),
        'hinge': np_hinge(p2, lab1), 'hinge_w': np_hinge(p2, lab1, lw1),
        'hinge3': np_hinge(p3, lab2), 'hinge3_w': np_hinge(p3, lab2, lw2),
        'acc': np_accuracy(p2, lab1), 'acc_w': np_accuracy(p2, lab1, lw1),
        'acc3': np_accuracy(p3, lab2), 'acc3_w': np_accuracy(p3, lab2, lw2),
        'gll': np_gll(a['mu2'], a['c2'], a['y2']),
        'gll_w': np_gll(a['mu2'], a['c2'], a['y2']),
        'gll_named': np_gll(a['mu2'], a['c2'], a['y2']),
        'gll3': np_gll(a['mu3'], a['c3'], a['y3']),
        'mse_sym': np_mse(o2, t2, w2),
    }
    return table[name]


NUMPY_CHECKED = [
    'mse', 'mse_w', 'mse3', 'mse3_w', 'mae', 'mae_w', 'mae3', 'mae3_w',
    'kl', 'kl_w', 'kl3', 'kl3_w', 'step', 'step_w', 'step3', 'step3_w',
    'mmd', 'mmd_w', 'mmd05', 'mmd3', 'mmd_linear', 'xe', 'xe_w', 'xe3',
    'xe3_w', 'hinge', 'hinge_w', 'hinge3', 'hinge3_w', 'acc', 'acc_w', 'acc3',
    'acc3_w', 'gll', 'gll_w', 'gll_named', 'gll3', 'mse_sym',
]


@pytest.mark.parametrize('name', NUMPY_CHECKED)
def test_matches_numpy(random_case, name):
    arrays, values = random_case
    close(values[name], _np_expected(name, arrays))


def test_random_data_is_not_degenerate(random_case):
    arrays, values = random_case
    # weighting changes the value of the losses that use weights ...
    for name in ('mse', 'mae', 'kl', 'xe', 'hinge', 'acc', 'mse3', 'xe3', 'acc3'):
        assert abs(values[name] - values[name + '_w']) > 1e-5, name
    # ... negative labels occur, and some KL targets are clipped on each side.
    assert (arrays['lab1'] < 0).any() and (arrays['lab2'] < 0).any()
    assert (arrays['t2'] > 1).any() and (arrays['t2'] < 0).any()
    assert values['hinge'] > 0
    assert 0 < values['acc'] < 1 and 0 < values['acc3'] < 1


def test_recurrent_mean_over_all_elements(evaluate):
    # A 3-D output is averaged over batch x time x dims like a flat array.
    arrays = random_arrays(23)
    values = evaluate(**arrays)
    flat = dict(arrays, o2=arrays['o3'].reshape(-1, 5),
                t2=arrays['t3'].reshape(-1, 5), w2=arrays['w3'].reshape(-1, 5))
    flat_values = evaluate(**flat)
    for name in ('mse', 'mae', 'kl'):
        close(values[name + '3'], flat_values[name])
        close(values[name + '3_w'], flat_values[name + '_w'])


def test_dtypes(cases):
    _, built = cases
    for name, (loss, outputs, _, _, method) in sorted(built.items()):
        expr = getattr(loss, method or '__call__')(outputs)
        assert expr.ndim == 0, name
        if name.startswith('acc') or name == 'legacy_acc':
            # as in the original: float64 mean of 0/1, weighted in floatX
            expected = util.FLOAT if name.endswith('_w') else 'float64'
        else:
            expected = util.FLOAT
        assert expr.dtype == expected, name


def test_values_have_float_dtype(reference):
    assert reference['mse'].dtype == util.FLOAT
    assert reference['gll3'].dtype == util.FLOAT
    assert reference['hinge3_w'].dtype == util.FLOAT


def test_only_classification_losses_have_accuracy():
    assert callable(losses.Loss.build('hinge', target=1).accuracy)
    for key in ('mse', 'mae', 'kl', 'mmd', 'gll'):
        assert not hasattr(losses.Loss.build(key, target=2), 'accuracy')


# ---------------------------------------------------------------------------
# pickling


@pytest.mark.parametrize('name', ['mse_w', 'mmd', 'mmd05', 'xe_w', 'hinge3_w',
                                  'gll', 'kl3_w'])
def test_pickle_roundtrip(cases, random_case, name):
    _, built = cases
    loss = built[name][0]
    restored = built[name + '_pickled'][0]
    assert type(restored) is type(loss)
    assert sorted(vars(restored)) == sorted(vars(loss))
    for original, copy in zip(loss.variables, restored.variables):
        assert (copy.name, copy.type) == (original.name, original.type)
    assert (restored.weight, restored.output_name) == (loss.weight, loss.output_name)
    _, values = random_case
    close(values[name + '_pickled'], values[name])


def test_pickled_gll_and_mmd_attributes(cases):
    _, built = cases
    gll = built['gll_pickled'][0]
    assert (gll.mean_name, gll.covar_name, gll.covar_eps) == (
        'mean:out', 'covar:out', 1e-3)
    assert built['mmd05_pickled'][0].kernel.bw == 0.5


def test_mmd_with_default_kernel_pickles():
    # the original's closure kernel made such models unpicklable
    loss = losses.Loss.build('mmd', target=2)
    restored = pickle.loads(pickle.dumps(loss, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(restored.kernel, losses.GaussianKernel)
    assert restored.kernel.bw == 1


@pytest.mark.parametrize('name, cls, target', [
    ('regressor_relu', losses.MeanSquaredError, ('target', 'float32', 2)),
    ('autoencoder_tied', losses.MeanSquaredError, ('in', 'float32', 2)),
    ('classifier_tanh', losses.CrossEntropy, ('target', 'int32', 1)),
])
def test_legacy_pickles(messages, name, cls, target):
    loss = load_legacy_loss(name)
    assert type(loss) is cls
    assert vars(loss).keys() == {'weight', '_target', '_weights', 'output_name'}
    assert (loss.weight, loss.output_name, len(loss.variables)) == (1.0, 'out:out', 1)
    (variable, ) = loss.variables
    assert (variable.name, variable.dtype, variable.ndim) == target
    loss.log()
    assert messages() == ['using loss: 1.0 * {} (output out:out)'.format(
        cls.__name__)]


def test_legacy_losses_compute(random_case):
    _, values = random_case
    close(values['legacy_mse'], values['mse'])
    close(values['legacy_ae'], values['mse'])
    close(values['legacy_xe'], values['xe'])
    close(values['legacy_acc'], values['acc'])


def test_legacy_classifier_outputs(evaluate):
    # the original's own predictions are 100% "accurate" for its loss
    saved = np.load(legacy_path('classifier_tanh.npz'))
    proba, labels = saved['predict_proba'], i32(saved['predict'])
    values = evaluate(**reference_arrays(p2=proba, lab1=labels,
                                         lw1=f32(np.ones(len(labels)))))
    close(values['legacy_acc'], 1.0)
    close(values['legacy_xe'], np_xe(proba.astype(float), labels))


# ---------------------------------------------------------------------------
# losses inside models (spec 1.11, 4.1, 4.4)


def test_model_default_loss_output_name():
    net = feedforward.Regressor((1, 2, dict(size=1, form='tied', name='foo')))
    assert net.losses[0].output_name == 'foo:out'
    assert feedforward.Regressor((1, 2, 1)).losses[0].output_name == 'out:out'


def test_model_loss_variables():
    net = feedforward.Regressor([7, 8, 5], weighted=True)
    assert isinstance(net.losses[0], losses.MeanSquaredError)
    assert [(v.name, v.ndim) for v in net.variables] == [
        ('in', 2), ('target', 2), ('weights', 2)]
    net = feedforward.Classifier([7, 8, 6], weighted=True)
    assert isinstance(net.losses[0], losses.CrossEntropy)
    assert [(v.name, v.ndim, v.dtype) for v in net.variables] == [
        ('in', 2, util.FLOAT), ('target', 1, 'int32'), ('weights', 1, util.FLOAT)]
    net = feedforward.Autoencoder([7, 8, 7], loss='mae', weighted=True)
    assert isinstance(net.losses[0], losses.MeanAbsoluteError)
    assert net.losses[0].variables[0] is net.inputs[0]
    assert [v.name for v in net.variables] == ['in', 'weights']


def gll_regressor():
    net = feedforward.Regressor([
        7, dict(name='hid', size=8),
        dict(name='covar', activation='relu', inputs='hid', size=5),
        dict(name='mean', activation='linear', inputs='hid', size=5)])
    net.set_loss('gll', target=2, mean_name='mean', covar_name='covar')
    return net


def test_model_set_loss_gll(messages):
    net = gll_regressor()
    (loss, ) = net.losses
    assert isinstance(loss, losses.GaussianLogLikelihood)
    assert (loss.mean_name, loss.covar_name, loss.output_name) == (
        'mean:out', 'covar:out', 'mean:out')
    assert [v.name for v in net.variables] == ['in', 'target']
    net.build_graph()
    assert ('using loss: 1.0 * GaussianLogLikelihood (mean mean:out, covar '
            'covar:out)') in messages()


def test_model_classifier_monitors_accuracy():
    net = feedforward.Classifier([7, 8, 6])
    names = [name for name, _ in net.monitors()]
    assert names == ['err', 'acc']
    _, acc = net.monitors()[1]
    assert acc.ndim == 0


def test_model_with_mmd_loss_saves_and_loads():
    # the original could not pickle a model whose MMD loss used the default
    # (closure) kernel
    net = feedforward.Regressor([7, 8, 5], loss='mmd')
    handle = io.BytesIO()
    net.save(handle)
    handle.seek(0)
    loaded = theanets.Network.load(handle)
    (loss, ) = loaded.losses
    assert isinstance(loss, losses.MaximumMeanDiscrepancy)
    assert loss.kernel.bw == 1 and loss.output_name == 'out:out'


@pytest.mark.slow
@pytest.mark.parametrize('loss', ['xe', 'hinge'])
def test_classifier_progress(loss, inputs, classes):
    assert_progress(feedforward.Classifier([7, 8, 6], loss=loss), [inputs, classes])


@pytest.mark.slow
@pytest.mark.parametrize('loss', ['mse', 'mae', 'mmd'])
def test_regressor_progress(loss, inputs, outputs):
    assert_progress(feedforward.Regressor([7, 8, 5], loss=loss), [inputs, outputs])


@pytest.mark.slow
def test_regressor_kl_progress(inputs, outputs):
    net = feedforward.Regressor([7, 8, (5, 'softmax')], loss='kl')
    # targets are not normalised and some exceed 1: clipping matters
    assert (abs(outputs) > 1).any()
    assert_progress(net, [inputs, abs(outputs)])


@pytest.mark.slow
def test_regressor_gll_progress(inputs, outputs):
    assert_progress(gll_regressor(), [inputs, outputs])


@pytest.mark.slow
def test_weighted_classifier_progress(inputs, classes, class_weights):
    net = feedforward.Classifier([7, 8, 6], loss='hinge', weighted=True)
    assert_progress(net, [inputs, classes, class_weights])


@pytest.mark.parametrize('form', ['xe', 'hinge'])
def test_labelled_entry_matches_fancy_indexing(form):
    # CrossEntropy picks each row's labelled entry with a one-hot mask; the
    # loss and its gradient equal (exactly) those of numpy-style indexing,
    # negative labels (counted from the last class) and 3-D outputs included.
    loss = losses.Loss.build(form, target=2)
    output = TT.tensor3('output')
    expr = loss({'out:out': output})
    flat = output.reshape((-1, output.shape[-1]))
    labels = loss._target.flatten()
    picked = flat[TT.arange(flat.shape[0]), labels]
    if form == 'xe':
        reference = -TT.log(TT.clip(picked, 1e-8, 1)).mean()
    else:
        reference = TT.maximum(
            0, (flat - picked.dimshuffle(0, 'x')).max(axis=-1)).mean()
    fn = theano.function(
        [output, loss._target],
        [expr, reference, theano.grad(expr, output),
         theano.grad(reference, output)])
    rng = np.random.RandomState(4)
    values = rng.uniform(0, 1, size=(3, 4, 5)).astype(util.FLOAT)
    values[0, 0, 2] = 0  # clipped
    labels = rng.randint(-5, 5, size=(3, 4)).astype('int32')
    labels[0, 0] = 2
    got, want, got_grad, want_grad = fn(values, labels)
    assert got == want
    np.testing.assert_array_equal(got_grad, want_grad)
    assert np.count_nonzero(got_grad) > 0
