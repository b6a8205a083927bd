"""Convolutional classifier: theanets vs PyTorch, training and prediction.

The network of issue 15, on 28x28x1 float32 images in mini-batches of 64:

    conv 16 3x3 (relu) -> max pool 2x2 -> conv 32 3x3 (relu) -> max pool 2x2
    -> softmax over 10 classes

trained with SGD (learning rate 0.01, momentum 0.9). theanets builds it as a
``theanets.convolution.Classifier`` (the pooling layers with a linear
activation: their input is already rectified); the PyTorch peer is the same
network (``Conv2d``, ``MaxPool2d``, ``Linear``), initialised with theanets'
initial parameters (filters flipped, as PyTorch correlates, and the dense
weights permuted to its channels-first flattening; the script checks that
both give the same initial probabilities). Both train on the same images
(random, with labels from a fixed random linear map), one epoch per round,
in the same batch order (theanets' own shuffling aside).

Printed for each side: training images per second and ``predict_proba``
images per second (1024 images per call; PyTorch: ``softmax(model(x))``
under ``no_grad``), fastest and median round, and the ratios to PyTorch.
theanets runs twice: with the channels-last Ops of ``theanets.ops`` (the
default) and with ``THEANETS_CONV=nnet`` (the backend's ``conv2d`` and
``pool_2d``), in the same invocation.

Usage::

    python benchmarks/conv.py [--threads 1] [--rounds 5] [--images 2048]
                              [--torch-python PYTHON] [--skip-torch]

Under the PyTensor backend's Python (which has no PyTorch) pass
``--torch-python /work/venv/bin/python`` (an interpreter with PyTorch): the
PyTorch runs then happen there, in this invocation.
"""

import argparse
import os
import statistics
import sys
import time

from common import (add_common_arguments, add_peer_python_argument,
                    call_in_python, set_threads, use_cold_theano_cache)

BATCH = 64
SIDE = 28
CLASSES = 10
LEARNING_RATE = 0.01
MOMENTUM = 0.9
PREDICT_IMAGES = 1024


def make_data(n, seed=0):
    """``n`` random images ``(n, 28, 28, 1)`` and int32 labels."""
    import numpy as np
    rng = np.random.RandomState(seed)
    x = rng.uniform(0, 1, (n, SIDE, SIDE, 1)).astype('float32')
    project = rng.normal(0, 1, (SIDE * SIDE, CLASSES))
    y = x.reshape(n, -1).dot(project).argmax(axis=1).astype('int32')
    return x, y


def layers():
    """The theanets layer list of the classifier."""
    conv = dict(form='conv2', filter_size=(3, 3), activation='relu')
    pool = dict(form='pool2', pool_size=(2, 2), activation='linear')
    return [(SIDE, SIDE, 1), dict(conv, size=16), pool, dict(conv, size=32),
            pool, 'flat', CLASSES]


def graph_ops(net):
    """Names of the convolution and pooling Ops in ``net``'s graph."""
    outputs, _ = net.build_graph()
    seen, stack, names = set(), list(outputs.values()), set()
    while stack:
        var = stack.pop()
        if id(var) in seen or var.owner is None:
            continue
        seen.add(id(var))
        name = type(var.owner.op).__name__
        if 'Conv' in name or 'Pool' in name or 'Corr' in name:
            names.add(name)
        stack.extend(var.owner.inputs)
    return sorted(names)


def bench_theanets(x, y, rounds, conv=None):
    """Train and predict with theanets; ``conv`` sets THEANETS_CONV."""
    import numpy as np
    import theanets

    saved = os.environ.get('THEANETS_CONV')
    if conv is None:
        os.environ.pop('THEANETS_CONV', None)
    else:
        os.environ['THEANETS_CONV'] = conv
    try:
        net = theanets.convolution.Classifier(layers())
        it = net.itertrain(
            [x, y], [x[:BATCH], y[:BATCH]], algo='sgd', batch_size=BATCH,
            learning_rate=LEARNING_RATE, momentum=MOMENTUM,
            validate_every=10 ** 6, patience=10 ** 6, min_improvement=0,
            max_updates=10 ** 9)
        t0 = time.perf_counter()
        next(it)  # compile, validate once, train one epoch
        first = time.perf_counter() - t0
        train, loss = [], None
        for _ in range(rounds):
            start = time.perf_counter()
            monitors, _ = next(it)
            train.append(time.perf_counter() - start)
            loss = monitors['loss']
        batch = x[:PREDICT_IMAGES]
        net.predict_proba(batch)
        predict = []
        for _ in range(rounds):
            start = time.perf_counter()
            net.predict_proba(batch)
            predict.append(time.perf_counter() - start)
        return dict(train=summary(len(x), train),
                    predict=summary(len(batch), predict),
                    first_s=first, loss=float(loss), ops=graph_ops(net),
                    backend=theanets.backend.name())
    finally:
        if saved is None:
            os.environ.pop('THEANETS_CONV', None)
        else:
            os.environ['THEANETS_CONV'] = saved


def initial_probabilities(x):
    """theanets' parameters and probabilities at initialisation."""
    import theanets
    net = theanets.convolution.Classifier(layers())
    return ([p.get_value() for p in net.params],
            net.predict_proba(x[:BATCH]))


def summary(count, seconds):
    return dict(best=count / min(seconds),
                median=count / statistics.median(seconds))


def bench_torch(x, y, rounds, torch_threads, w1, b1, w2, b2, w3, b3):
    """Train and predict with the PyTorch peer, initialised from theanets'
    parameters; returns the speeds and the initial probabilities."""
    import numpy as np
    import torch

    torch.set_num_threads(torch_threads)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 5 * 5, CLASSES))
    with torch.no_grad():
        for layer, w, b in ((model[0], w1, b1), (model[3], w2, b2)):
            layer.weight.copy_(torch.from_numpy(
                np.ascontiguousarray(w[:, :, ::-1, ::-1])))
            layer.bias.copy_(torch.from_numpy(b))
        # theanets flattens (W, H, C), PyTorch (C, W, H)
        dense = w3.reshape(5, 5, 32, CLASSES).transpose(2, 0, 1, 3)
        model[7].weight.copy_(torch.from_numpy(
            np.ascontiguousarray(dense.reshape(-1, CLASSES).T)))
        model[7].bias.copy_(torch.from_numpy(b3))
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype('int64'))
    with torch.no_grad():
        initial = torch.softmax(model(xt[:BATCH]), dim=1).numpy()
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE,
                          momentum=MOMENTUM)
    lossf = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)

    def epoch():
        total = 0.0
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt) - BATCH + 1, BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss = lossf(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        return total / (len(xt) // BATCH)

    epoch()  # warm-up
    train, loss = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        loss = epoch()
        train.append(time.perf_counter() - start)
    batch = xt[:PREDICT_IMAGES]

    def predict():
        with torch.no_grad():
            return torch.softmax(model(batch), dim=1)

    predict()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        predict()
        times.append(time.perf_counter() - start)
    return dict(train=summary(len(x), train),
                predict=summary(len(batch), times), loss=loss,
                initial_proba=initial.tolist(),
                threads=torch.get_num_threads(), version=torch.__version__)


def run_torch(args, x, y, params):
    names = ('w1', 'b1', 'w2', 'b2', 'w3', 'b3')
    kwargs = dict(x=x, y=y, rounds=args.rounds, torch_threads=args.threads,
                  **dict(zip(names, params)))
    if args.torch_python:
        return call_in_python(args.torch_python, __file__, 'bench_torch',
                              args.threads, **kwargs)
    try:
        import torch  # noqa: F401
    except ImportError:
        print('pytorch: not installed here (pass --torch-python)')
        return None
    return bench_torch(**kwargs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_common_arguments(parser, threads=1)
    add_peer_python_argument(parser)
    parser.add_argument('--rounds', type=int, default=5,
                        help='timed rounds (epochs, predict calls) after a '
                        'warm-up one (default 5)')
    parser.add_argument('--images', type=int, default=2048,
                        help='training images per epoch (default 2048)')
    parser.add_argument('--skip-torch', action='store_true')
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.cold:
        print('cold Theano cache:', use_cold_theano_cache())

    import numpy as np
    import theanets

    x, y = make_data(args.images)
    params, proba = initial_probabilities(x)
    print('backend: {}, threads {}, {} training images, batch {}, {} rounds'
          .format(theanets.backend.name(), args.threads, len(x), BATCH,
                  args.rounds))
    rows = []
    for label, conv in (('theanets ops', None), ('theanets nnet', 'nnet')):
        result = bench_theanets(x, y, args.rounds, conv)
        rows.append((label, result))
        print('{:14s} ops {}'.format(label, ', '.join(result['ops']) or
                                     '(the backend\'s im2col and dot)'))
    torch_result = None if args.skip_torch else run_torch(args, x, y, params)
    if torch_result is not None:
        rows.append(('pytorch ' + torch_result['version'], torch_result))
        gap = np.abs(np.asarray(torch_result['initial_proba']) - proba).max()
        print('initial probabilities, max |theanets - pytorch|: {:.2e}'
              .format(gap))
    print('{:22s} {:>11s} {:>11s} {:>11s} {:>11s} {:>8s}'.format(
        '', 'train best', 'median', 'pred best', 'median', 'loss'))
    for label, r in rows:
        print('{:22s} {:11.0f} {:11.0f} {:11.0f} {:11.0f} {:8.4f}'.format(
            label, r['train']['best'], r['train']['median'],
            r['predict']['best'], r['predict']['median'], r['loss']))
    print('(images per second)')
    if torch_result is not None:
        for label, r in rows[:2]:
            print('{:14s} / pytorch: train {:.2f}x (median {:.2f}x), '
                  'predict {:.2f}x (median {:.2f}x)'.format(
                      label,
                      r['train']['best'] / torch_result['train']['best'],
                      r['train']['median'] / torch_result['train']['median'],
                      r['predict']['best'] / torch_result['predict']['best'],
                      r['predict']['median']
                      / torch_result['predict']['median']))


if __name__ == '__main__':
    sys.exit(main())
