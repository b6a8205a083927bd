"""Training and prediction throughput of an MLP: theanets vs PyTorch and
scikit-learn.

All three libraries train the same classifier on the same generated data,
on the CPU, in float32, with plain SGD + momentum 0.9 on mini-batches of 64:

    784 inputs -> 256 relu -> 256 relu -> 10-way softmax, cross-entropy

and then predict class probabilities for a held-out set. The script prints
the steady-state speed of each library in examples per second (the fastest
of the timed repetitions, the least disturbed by other processes on a shared
machine; the median is printed too) and the two ratios the project tracks:
theanets training vs PyTorch, and theanets ``predict_proba`` vs
scikit-learn's ``MLPClassifier.predict_proba``.

Usage::

    python benchmarks/mlp.py [--examples 20000] [--epochs 5] [--threads 2]
                             [--skip-torch] [--skip-sklearn]
                             [--torch-python PYTHON]

``--threads`` sets the OpenBLAS/OpenMP thread counts (read when the BLAS
library loads) and ``torch.set_num_threads``. PyTorch and scikit-learn are
optional (``pip install "theanets[bench]"``); a missing one is reported and
skipped. Where this interpreter has no PyTorch (the PyTensor backend on
Python 3.12+), ``--torch-python`` names one that has it: the PyTorch peer
then trains there, in the same invocation, on the same data.
"""

import argparse
import sys
import time

from common import (add_common_arguments, add_peer_python_argument,
                    best_and_median, call_in_python, set_threads)

FEATURES = 784
HIDDEN = 256
CLASSES = 10
BATCH = 64
MOMENTUM = 0.9


def make_data(n, seed=0):
    """Float32 inputs ``(n, 784)`` and int32 labels from a random linear
    teacher, so the task is learnable and every library sees the same rows.
    """
    import numpy as np
    rng = np.random.RandomState(seed)
    x = rng.randn(n, FEATURES).astype('float32')
    teacher = rng.randn(FEATURES, CLASSES).astype('float32')
    y = (x @ teacher).argmax(axis=1).astype('int32')
    return x, y


def bench_theanets(x, y, xtest, epochs, learning_rate, repeats):
    import theanets

    t0 = time.perf_counter()
    net = theanets.Classifier(
        [FEATURES, (HIDDEN, 'relu'), (HIDDEN, 'relu'), CLASSES], rng=0)
    # Validate once on a small set (before the first epoch), so that timed
    # epochs measure training alone, like the peers' loops.
    it = net.itertrain(
        [x, y], [x[:BATCH], y[:BATCH]], algo='sgd', momentum=MOMENTUM,
        learning_rate=learning_rate, batch_size=BATCH,
        validate_every=10 ** 6, patience=10 ** 6, min_improvement=0,
        max_updates=10 ** 9, progress=False)
    next(it)
    first = time.perf_counter() - t0
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        train, _ = next(it)
        times.append(time.perf_counter() - t)
    best, median = best_and_median(len(x), times)
    # compile the feed-forward function (under JAX: for the chunks' shapes)
    net.predict_proba(xtest)
    predict = _time_calls(lambda: net.predict_proba(xtest), repeats)
    accuracy = float((net.predict(xtest) == _labels(xtest)).mean())
    return dict(train=best, train_median=median, loss=float(train['loss']),
                first_epoch_s=first,
                predict=best_and_median(len(xtest), predict)[0],
                accuracy=accuracy)


def sgemm_step(sgemm, xb, w, grads, buffers):
    """The eight matrix products of one training step, through ``sgemm``.

    ``w`` and ``grads`` are the three weight matrices and their gradients;
    ``buffers`` the step's ``h1, h2, z, d1, d2`` arrays (written).
    """
    h1, h2, z, d1, d2 = buffers
    sgemm(xb, w[0], h1)
    sgemm(h1, w[1], h2)
    sgemm(h2, w[2], z)
    sgemm(h2, z, grads[2], trans_a=True)
    sgemm(z, w[2], d2, trans_b=True)
    sgemm(h1, d2, grads[1], trans_a=True)
    sgemm(d2, w[1], d1, trans_b=True)
    sgemm(xb, d1, grads[0], trans_a=True)


def _blas_sgemm(ldflags):
    """A ``sgemm(a, b, out, trans_a, trans_b)`` calling ``cblas_sgemm`` of
    the BLAS Theano links (``ldflags``), through ctypes; None if it cannot
    be found."""
    import ctypes
    import ctypes.util
    import os
    import re

    dirs = re.findall(r'-L(\S+)', ldflags or '')
    names = re.findall(r'-l(\S+)', ldflags or '')
    library = None
    for name in names:
        paths = [os.path.join(d, 'lib{}.so'.format(name)) for d in dirs]
        found = [p for p in paths if os.path.exists(p)]
        path = found[0] if found else ctypes.util.find_library(name)
        if not path:
            continue
        try:
            dll = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ('scipy_cblas_sgemm', 'cblas_sgemm'):
            if hasattr(dll, symbol):
                library = path, getattr(dll, symbol)
                break
        if library:
            break
    if library is None:
        return None
    path, gemm = library
    gemm.restype = None
    c_int, c_float, c_ptr = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
    gemm.argtypes = [c_int] * 6 + [c_float, c_ptr, c_int, c_ptr, c_int,
                                   c_float, c_ptr, c_int]
    row_major, plain, transposed = 101, 111, 112

    def sgemm(a, b, out, trans_a=False, trans_b=False):
        # Row-major C-contiguous float32 operands; out = op(a) @ op(b).
        m, n = out.shape
        k = a.shape[0] if trans_a else a.shape[1]
        gemm(row_major, transposed if trans_a else plain,
             transposed if trans_b else plain, m, n, k, 1.0, a.ctypes.data,
             a.shape[1], b.ctypes.data, b.shape[1], 0.0, out.ctypes.data, n)
    sgemm.library = path
    return sgemm


def bench_gemm_limit(x, epochs, ldflags):
    """Examples per second of the matrix products of a training step alone.

    A step of the 784-256-256-10 network needs eight matrix products: three
    forward (``x W1``, ``h1 W2``, ``h2 W3``), three weight gradients
    (``h2' dz``, ``h1' dh2``, ``x' dh1``) and two back-propagated deltas
    (``dz W3'``, ``dh2 W2'``). Everything else a step does (bias adds,
    relu, softmax, cross-entropy, the momentum updates) is left out, so no
    implementation of this step can be faster: this is its roofline. Timed
    with numpy's matrix product and, when it can be found, ``cblas_sgemm``
    of the BLAS that Theano links (which may be another library than
    numpy's), on preallocated outputs, batch by batch like an epoch.
    """
    import numpy as np
    rng = np.random.RandomState(0)
    sizes = (FEATURES, HIDDEN, HIDDEN, CLASSES)
    w = [rng.randn(a, b).astype('float32') * 0.05
         for a, b in zip(sizes[:-1], sizes[1:])]
    grads = [np.empty_like(v) for v in w]
    starts = range(0, len(x), BATCH)
    # every batch but maybe the last has BATCH rows
    buffers = {}

    def arrays(rows):
        if rows not in buffers:
            buffers[rows] = [np.empty((rows, s), 'float32') for s in sizes[1:]
                             ] + [np.empty((rows, s), 'float32')
                                  for s in sizes[1:3]]
        return buffers[rows]

    def step_numpy(xb):
        h1, h2, z, d1, d2 = arrays(len(xb))
        np.matmul(xb, w[0], out=h1)
        np.matmul(h1, w[1], out=h2)
        np.matmul(h2, w[2], out=z)
        np.matmul(h2.T, z, out=grads[2])
        np.matmul(z, w[2].T, out=d2)
        np.matmul(h1.T, d2, out=grads[1])
        np.matmul(d2, w[1].T, out=d1)
        np.matmul(xb.T, d1, out=grads[0])

    results = {}
    steps = [('numpy', step_numpy)]
    sgemm = _blas_sgemm(ldflags)
    if sgemm is not None:
        def step_blas(xb):
            sgemm_step(sgemm, xb, w, grads, arrays(len(xb)))
        steps.append(('blas', step_blas))
        results['library'] = sgemm.library
    for label, step in steps:
        times = []
        for _ in range(epochs + 1):  # the first is a warm-up
            t = time.perf_counter()
            for i in starts:
                step(x[i:i + BATCH])
            times.append(time.perf_counter() - t)
        results[label] = best_and_median(len(x), times[1:])
    return results


def bench_torch(x, y, xtest, epochs, learning_rate, repeats, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=learning_rate,
                          momentum=MOMENTUM)
    lossf = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype('int64'))
    gen = torch.Generator().manual_seed(0)
    starts = list(range(0, len(xt), BATCH))

    def epoch():
        # Shuffle the order of the (contiguous) batches, as downhill does.
        total = 0.0
        for k in torch.randperm(len(starts), generator=gen).tolist():
            i = starts[k]
            opt.zero_grad()
            loss = lossf(model(xt[i:i + BATCH]), yt[i:i + BATCH])
            loss.backward()
            opt.step()
            total += loss.item()
        return total / len(starts)

    epoch()  # warm-up
    times, loss = [], None
    for _ in range(epochs):
        t = time.perf_counter()
        loss = epoch()
        times.append(time.perf_counter() - t)
    best, median = best_and_median(len(x), times)
    xtest_t = torch.from_numpy(xtest)

    def predict_proba():
        with torch.no_grad():
            return torch.softmax(model(xtest_t), dim=1).numpy()

    predict = _time_calls(predict_proba, repeats)
    accuracy = float((predict_proba().argmax(axis=1)
                      == _labels(xtest)).mean())
    return dict(train=best, train_median=median, loss=loss,
                predict=best_and_median(len(xtest), predict)[0],
                accuracy=accuracy, threads=torch.get_num_threads(),
                version=torch.__version__)


def torch_peer(x, y, xtest, ytest, epochs, learning_rate, repeats,
               torch_threads):
    """:func:`bench_torch` with the test labels passed in, so that
    :func:`common.call_in_python` can run it in another interpreter."""
    _TEST_LABELS[id(xtest)] = ytest
    return bench_torch(x, y, xtest, epochs, learning_rate, repeats,
                       torch_threads)


def run_torch(args, x, y, xtest, ytest):
    """PyTorch's result, here or in ``--torch-python``; raises ImportError
    when PyTorch is in neither."""
    kwargs = dict(x=x, y=y, xtest=xtest, ytest=ytest, epochs=args.epochs,
                  learning_rate=args.learning_rate, repeats=args.repeats,
                  torch_threads=args.threads)
    if args.torch_python:
        return call_in_python(args.torch_python, __file__, 'torch_peer',
                              args.threads, **kwargs)
    return torch_peer(**kwargs)


def bench_sklearn(x, y, xtest, epochs, learning_rate, repeats):
    import warnings
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN, HIDDEN), activation='relu',
        solver='sgd', momentum=MOMENTUM, nesterovs_momentum=False,
        learning_rate_init=learning_rate, batch_size=BATCH, alpha=0.0,
        max_iter=1, shuffle=True, random_state=0, warm_start=True)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        model.fit(x, y)  # warm-up epoch
        for _ in range(epochs):
            t = time.perf_counter()
            model.fit(x, y)
            times.append(time.perf_counter() - t)
    best, median = best_and_median(len(x), times)
    predict = _time_calls(lambda: model.predict_proba(xtest), repeats)
    accuracy = float((model.predict(xtest) == _labels(xtest)).mean())
    dtype = model.coefs_[0].dtype
    return dict(train=best, train_median=median, loss=model.loss_,
                predict=best_and_median(len(xtest), predict)[0],
                accuracy=accuracy, version=sklearn.__version__,
                dtype=str(dtype))


_TEST_LABELS = {}


def _labels(xtest):
    return _TEST_LABELS[id(xtest)]


def _time_calls(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--examples', type=int, default=20000,
                        help='training examples (default 20000)')
    parser.add_argument('--test', type=int, default=10000,
                        help='examples to predict (default 10000)')
    parser.add_argument('--epochs', type=int, default=5,
                        help='timed epochs after a warm-up (default 5)')
    parser.add_argument('--repeats', type=int, default=10,
                        help='timed predict_proba calls (default 10)')
    parser.add_argument('--learning-rate', type=float, default=0.01)
    parser.add_argument('--skip-torch', action='store_true')
    parser.add_argument('--skip-sklearn', action='store_true')
    add_common_arguments(parser)
    add_peer_python_argument(parser)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.cold:
        from common import use_cold_theano_cache
        use_cold_theano_cache()

    x, y = make_data(args.examples + args.test)
    x, y, xtest, ytest = (x[:args.examples], y[:args.examples],
                          x[args.examples:], y[args.examples:])
    _TEST_LABELS[id(xtest)] = ytest
    print('task: {} examples x {} features -> {} relu -> {} relu -> {} '
          'classes; SGD lr {:g} momentum {:g}, batch {}, float32, CPU, '
          '{} thread(s); predict_proba on {} examples'.format(
              len(x), FEATURES, HIDDEN, HIDDEN, CLASSES, args.learning_rate,
              MOMENTUM, BATCH, args.threads, len(xtest)))
    line = ('{:<13} train {train:8.0f} ex/s (median {train_median:.0f}, '
            'loss {loss:.3f})   predict_proba {predict:9.0f} ex/s   '
            'test accuracy {accuracy:.3f}{extra}')

    th = bench_theanets(x, y, xtest, args.epochs, args.learning_rate,
                        args.repeats)
    import theanets
    print(line.format('theanets', extra='  (build + compile + first epoch '
                      '{:.1f} s; BLAS {})'.format(
                          th['first_epoch_s'],
                          theanets.backend.info()['blas']), **th))
    sys.stdout.flush()
    results = dict(theanets=th)
    limit = bench_gemm_limit(x, args.epochs,
                             theanets.backend.info()['ldflags'])
    print('{:<13} train {:8.0f} ex/s (median {:.0f}) with numpy\'s matmul'
          .format('GEMMs only', *limit['numpy']))
    if 'blas' in limit:
        print('{:<13} train {:8.0f} ex/s (median {:.0f}) with cblas_sgemm of '
              'the BLAS Theano links ({})'.format('GEMMs only',
                                                  *limit['blas'],
                                                  limit['library']))
    roofline = max(limit[k][0] for k in ('numpy', 'blas') if k in limit)
    sys.stdout.flush()
    if not args.skip_torch:
        try:
            tr = run_torch(args, x, y, xtest, ytest)
        except ImportError:
            print('pytorch       not installed (pip install "theanets[bench]")')
        else:
            results['pytorch'] = tr
            print(line.format('pytorch', extra='  (torch {version}, {threads} '
                              'thread(s))'.format(**tr), **tr))
            sys.stdout.flush()
    if not args.skip_sklearn:
        try:
            sk = bench_sklearn(x, y, xtest, args.epochs, args.learning_rate,
                               args.repeats)
        except ImportError:
            print('scikit-learn  not installed (pip install "theanets[bench]")')
        else:
            results['scikit-learn'] = sk
            print(line.format('scikit-learn', extra='  (scikit-learn '
                              '{version}, {dtype} weights)'.format(**sk),
                              **sk))

    print()
    print('theanets / GEMM roofline  training      {:5.2f}x   (the faster of '
          'the GEMM-only figures; 1.0 = nothing but matrix products)'.format(
              th['train'] / roofline))
    for peer, key, target, what in (
            ('pytorch', 'train', 1.1, 'training'),
            ('scikit-learn', 'train', None, 'training'),
            ('pytorch', 'predict', None, 'predict_proba'),
            ('scikit-learn', 'predict', 1.0, 'predict_proba')):
        if peer not in results:
            continue
        ratio = th[key] / results[peer][key]
        goal = ('' if target is None else '   target >= {:.1f}x: {}'.format(
            target, 'met' if ratio >= target else 'NOT met'))
        print('theanets / {:<12} {:<13} {:5.2f}x{}'.format(
            peer, what, ratio, goal))


if __name__ == '__main__':
    main()
