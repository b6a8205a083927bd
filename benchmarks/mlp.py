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

``--threads`` sets the OpenBLAS/OpenMP thread counts (read when the BLAS
library loads) and ``torch.set_num_threads``. PyTorch and scikit-learn are
optional (``pip install "theanets[bench]"``); a missing one is reported and
skipped.
"""

import argparse
import sys
import time

from common import add_common_arguments, best_and_median, set_threads

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
    net.predict_proba(xtest[:BATCH])  # compile the feed-forward function
    predict = _time_calls(lambda: net.predict_proba(xtest), repeats)
    accuracy = float((net.predict(xtest) == _labels(xtest)).mean())
    return dict(train=best, train_median=median, loss=float(train['loss']),
                first_epoch_s=first,
                predict=best_and_median(len(xtest), predict)[0],
                accuracy=accuracy)


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
    if not args.skip_torch:
        try:
            tr = bench_torch(x, y, xtest, args.epochs, args.learning_rate,
                             args.repeats, args.threads)
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
