"""Prediction latency of an MLP: theanets vs PyTorch and scikit-learn.

One run builds the classifier of ``mlp.py``

    784 inputs -> 256 relu -> 256 relu -> 10-way softmax, float32

with theanets, copies its weights into a PyTorch ``nn.Sequential`` (of
``Linear`` and ``ReLU``) and into a scikit-learn ``MLPClassifier``
(``coefs_`` / ``intercepts_``), and times ``predict_proba`` and ``predict``
of each on ONE row and on 1,000 rows, as a user calls them: a numpy array
in, a numpy array out. PyTorch runs under ``torch.inference_mode()`` and,
for comparison, under ``torch.no_grad()``; its ``predict`` is the argmax of
the logits, its ``predict_proba`` the softmax. The script also checks that
the three give the same probabilities.

Each latency is the fastest of many calls after a warm-up (the call least
disturbed by other processes on a shared machine); the median is printed
too. The libraries take turns for ``--rounds`` rounds so that a change in
the machine's load hits all of them; a figure is the best over the rounds
(the median: the median of the rounds' medians). Ratios are theanets'
latency over the peer's: below 1 theanets answers faster.

Usage::

    python benchmarks/latency.py [--threads 1] [--rounds 3] [--repeats 2000]
                                 [--torch-python PYTHON]

``--threads`` sets the OpenBLAS/OpenMP thread counts (read when the BLAS
library loads) and ``torch.set_num_threads``. Under an interpreter without
PyTorch (the PyTensor backend on Python 3.12+), ``--torch-python`` names one
that has it; the PyTorch timings then run there, in the same invocation.
"""

import argparse
import statistics
import sys

from common import (add_common_arguments, add_peer_python_argument,
                    call_in_python, latency, set_threads)

SIZES = (784, 256, 256, 10)
ROWS = (1, 1000)
CALLS = ('predict_proba', 'predict')


def repeats_for(rows, repeats):
    """Fewer calls for the big batch keep a round short."""
    return repeats if rows == 1 else max(20, repeats // 20)


def time_torch(num_threads, repeats, w0, b0, w1, b1, w2, b2, x1, x1000):
    """PyTorch's timings and probabilities.

    Returns ``timings`` (``{'<mode> <call> <rows>': [best, median]}``),
    ``proba`` (``{'<rows>': probabilities}``), ``version`` and ``threads``.
    Module level, so that :func:`common.call_in_python` can run it in
    another interpreter.
    """
    import torch

    torch.set_num_threads(num_threads)
    model = torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
        torch.nn.Linear(SIZES[2], SIZES[3]))
    with torch.no_grad():
        for linear, w, b in zip(model[::2], (w0, w1, w2), (b0, b1, b2)):
            # nn.Linear computes x @ weight.T + bias
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
    model.eval()

    def predict_proba(x):
        return torch.softmax(model(torch.from_numpy(x)), dim=1).numpy()

    def predict(x):
        return model(torch.from_numpy(x)).argmax(dim=1).numpy()

    timings, proba = {}, {}
    for rows, x in ((1, x1), (1000, x1000)):
        for mode, context in (('inference_mode', torch.inference_mode),
                              ('no_grad', torch.no_grad)):
            for name, fn in (('predict_proba', predict_proba),
                             ('predict', predict)):
                def call():
                    with context():
                        return fn(x)
                timings['{} {} {}'.format(mode, name, rows)] = latency(
                    call, repeats_for(rows, repeats), warmup=20)
        with torch.inference_mode():
            proba[str(rows)] = predict_proba(x).tolist()
    return dict(timings=timings, proba=proba, version=torch.__version__,
                threads=torch.get_num_threads())


def make_sklearn(weights):
    """An ``MLPClassifier`` holding ``weights`` (pairs of float32 w, b)."""
    import warnings
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], activation='relu',
                          max_iter=1, random_state=0)
    # One tiny fit sets up the classes and the layer structure; the weights
    # are then replaced by theanets' (float32 input keeps float32 weights).
    rng = np.random.RandomState(0)
    x = rng.randn(2 * SIZES[-1], SIZES[0]).astype('float32')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        model.fit(x, np.arange(len(x)) % SIZES[-1])
    model.coefs_ = [w.copy() for w, _ in weights]
    model.intercepts_ = [b.copy() for _, b in weights]
    return model


def time_library(predict_proba, predict, inputs, repeats):
    """Timings ``{'<call> <rows>': (best, median)}`` of two methods."""
    result = {}
    for rows, x in inputs.items():
        for name, fn in (('predict_proba', predict_proba),
                         ('predict', predict)):
            result['{} {}'.format(name, rows)] = latency(
                lambda: fn(x), repeats_for(rows, repeats), warmup=20)
    return result


def merge(rounds):
    """Best of the rounds' best, median of their medians."""
    return {key: (min(r[key][0] for r in rounds),
                  statistics.median(r[key][1] for r in rounds))
            for key in rounds[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=2000,
                        help='timed single-row calls per library, call and '
                        'round; the 1,000-row case makes 1/20 as many '
                        '(default 2000)')
    parser.add_argument('--rounds', type=int, default=3,
                        help='turns each library takes (default 3)')
    parser.add_argument('--skip-torch', action='store_true')
    parser.add_argument('--skip-sklearn', action='store_true')
    add_common_arguments(parser, threads=1)
    add_peer_python_argument(parser)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.cold:
        from common import use_cold_theano_cache
        use_cold_theano_cache()

    import logging
    import numpy as np
    import theanets
    logging.getLogger('theanets').setLevel(logging.WARNING)

    net = theanets.Classifier(
        [SIZES[0], (SIZES[1], 'relu'), (SIZES[2], 'relu'), SIZES[3]], rng=0)
    weights = [(net.find(layer, 'w').get_value(),
                net.find(layer, 'b').get_value())
               for layer in ('hid1', 'hid2', 'out')]
    rng = np.random.RandomState(1)
    inputs = {rows: rng.randn(rows, SIZES[0]).astype('float32')
              for rows in ROWS}
    peer_arrays = dict(x1=inputs[1], x1000=inputs[1000])
    for i, (w, b) in enumerate(weights):
        peer_arrays['w{}'.format(i)] = w
        peer_arrays['b{}'.format(i)] = b

    torch_python = None
    if not args.skip_torch:
        import importlib.util
        if importlib.util.find_spec('torch') is None:
            torch_python = args.torch_python
            if torch_python is None:
                print('pytorch: not installed here and no --torch-python; '
                      'skipped')
                args.skip_torch = True
    sklearn_model = None
    if not args.skip_sklearn:
        try:
            sklearn_model = make_sklearn(weights)
        except ImportError:
            print('scikit-learn: not installed; skipped')
            args.skip_sklearn = True

    rounds = {'theanets': [], 'scikit-learn': [], 'pytorch': []}
    torch_extra = None
    for _ in range(args.rounds):
        rounds['theanets'].append(time_library(
            net.predict_proba, net.predict, inputs, args.repeats))
        if sklearn_model is not None:
            rounds['scikit-learn'].append(time_library(
                sklearn_model.predict_proba, sklearn_model.predict, inputs,
                args.repeats))
        if not args.skip_torch:
            if torch_python is None:
                torch_result = time_torch(args.threads, args.repeats,
                                          **peer_arrays)
            else:
                torch_result = call_in_python(
                    torch_python, __file__, 'time_torch', args.threads,
                    num_threads=args.threads, repeats=args.repeats,
                    **peer_arrays)
            rounds['pytorch'].append(torch_result['timings'])
            torch_extra = torch_result

    print('theanets {} on {} {}; {} thread(s); {} round(s) of {} single-row '
          '/ {} 1,000-row calls per library and call'.format(
              theanets.__version__, theanets.backend.info()['backend'],
              theanets.backend.info()['version'], args.threads, args.rounds,
              args.repeats, repeats_for(1000, args.repeats)))
    columns = [('theanets', 'theanets', '{call} {rows}')]
    if not args.skip_torch:
        print('pytorch {} ({} thread(s){})'.format(
            torch_extra['version'], torch_extra['threads'],
            ', run by ' + torch_python if torch_python else ''))
        columns += [('pytorch inference_mode', 'pytorch',
                     'inference_mode {call} {rows}'),
                    ('pytorch no_grad', 'pytorch', 'no_grad {call} {rows}')]
    if not args.skip_sklearn:
        import sklearn
        print('scikit-learn {} ({} weights)'.format(
            sklearn.__version__, sklearn_model.coefs_[0].dtype))
        columns.append(('scikit-learn', 'scikit-learn', '{call} {rows}'))
    merged = {name: merge(r) for name, r in rounds.items() if r}

    print()
    print('ms per call, fastest (median of the rounds\' medians):')
    print('{:<14} {:>5}'.format('call', 'rows') + ''.join(
        ' {:>24}'.format(label) for label, _, _ in columns))
    for rows in ROWS:
        for call in CALLS:
            cells = []
            for _, library, key in columns:
                best, median = merged[library][key.format(
                    call=call, rows=rows)]
                cells.append('{:>10.4f} ({:>8.4f})'.format(
                    1e3 * best, 1e3 * median))
            print('{:<14} {:>5}'.format(call, rows) +
                  ''.join(' {:>24}'.format(c) for c in cells))

    if len(columns) > 1:
        print()
        print('theanets latency / peer latency (fastest; median in '
              'brackets):')
    for label, library, key in columns[1:]:
        for rows in ROWS:
            for call in CALLS:
                t_best, t_med = merged['theanets']['{} {}'.format(call, rows)]
                p_best, p_med = merged[library][key.format(call=call,
                                                           rows=rows)]
                print('  {:<24} {:<14} {:>5} rows  {:5.2f}x ({:.2f}x)'.format(
                    label, call, rows, t_best / p_best, t_med / p_med))

    diffs = []
    for rows in ROWS:
        mine = net.predict_proba(inputs[rows])
        if sklearn_model is not None:
            diffs.append(('scikit-learn', rows, float(np.abs(
                mine - sklearn_model.predict_proba(inputs[rows])).max())))
        if torch_extra is not None:
            diffs.append(('pytorch', rows, float(np.abs(
                mine - np.array(torch_extra['proba'][str(rows)])).max())))
    if diffs:
        print()
        print('largest difference from theanets\' probabilities: ' + ', '.join(
            '{} {} rows {:.1e}'.format(*d) for d in diffs))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
