"""Training throughput of an LSTM sequence classifier: theanets vs PyTorch.

Both libraries train the same model on the same generated data, on the CPU,
in float32, with Adam and mini-batches of 32 sequences:

    input (16 features) -> LSTM(32) -> softmax over 10 classes, per time step

Each sequence has 20 time steps; the label of step ``t`` is the argmax of the
first 10 features of ``x[t] + x[t - 1]``, so the model must remember one step.
The script prints, for each library, the steady-state training speed in
sequences per second (from the fastest timed epoch, which is the least
disturbed by other processes on a shared machine; the median is shown too)
and, for theanets, the time spent building and compiling the training
function; then the ratio of the two speeds.

Usage::

    python benchmarks/lstm.py [--sequences 4096] [--epochs 5] [--threads 2]
                              [--lstm {fused,scan}] [--scan {c,python}]
                              [--form {lstm,gru}] [--cold] [--skip-torch]
                              [--torch-python PYTHON]

``--threads`` sets the OpenBLAS/OpenMP thread counts and
``torch.set_num_threads``. ``--lstm`` chooses how theanets runs the LSTM
recurrence: the fused C Ops of ``theanets.ops`` (default) or ``theano.scan``
(sets ``THEANETS_LSTM``; with ``--form gru``, ``THEANETS_GRU``). ``--form
gru`` replaces the LSTM by a GRU (tanh candidate) in both libraries
(``nn.GRU`` in PyTorch). ``--scan`` chooses Theano's scan loop for the
scan version (default: the C loop when theanets could build it). ``--cold``
points Theano at an empty compile directory, so the reported compile time
includes compiling every C module from scratch.
PyTorch is an optional dependency (the ``bench`` extra); without it the
script only measures theanets, unless ``--torch-python`` names an
interpreter that has it (for the PyTensor backend on Python 3.12+, where
PyTorch's CPU build may be missing): the PyTorch peer then trains there, in
the same invocation, on the same data.
"""

import argparse
import os
import statistics
import sys
import time

from common import (add_common_arguments, add_peer_python_argument,
                    call_in_python, set_threads, use_cold_theano_cache)

# numpy, Theano and PyTorch are imported only after main() has set the thread
# counts, which BLAS libraries read when they are loaded.

STEPS = 20
FEATURES = 16
HIDDEN = 32
CLASSES = 10
BATCH = 32


def make_data(n, seed=0):
    """Return float32 inputs ``(n, STEPS, FEATURES)``, int32 labels."""
    import numpy as np
    rng = np.random.RandomState(seed)
    x = rng.randn(n, STEPS, FEATURES).astype('float32')
    prev = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
    y = (x + prev)[:, :, :CLASSES].argmax(axis=2).astype('int32')
    return x, y


def recurrence_ops(net):
    """Names of the Ops that run the recurrences of ``net``'s graph.

    ``'Scan'`` for a ``scan`` loop, else the fused Ops of
    :mod:`theanets.ops` (``'LSTMForward'``, ...), sorted.
    """
    outputs, _ = net.build_graph()
    seen, stack, names = set(), list(outputs.values()), set()
    while stack:
        var = stack.pop()
        if id(var) in seen or var.owner is None:
            continue
        seen.add(id(var))
        name = type(var.owner.op).__name__
        if name == 'Scan' or name.endswith('Forward'):
            names.add(name)
        stack.extend(var.owner.inputs)
    return sorted(names)


def bench_theanets(x, y, epochs, learning_rate, form='lstm', layer=None):
    """Train a classifier on ``x, y``; its recurrent layer is ``form``
    (size :data:`HIDDEN`), or ``layer`` (a layer dict or a Layer) if
    given."""
    import theanets
    from theanets import ops

    t0 = time.perf_counter()
    if layer is None:
        layer = dict(form=form, size=HIDDEN)
        if form == 'gru':
            layer['activation'] = 'tanh'
    net = theanets.recurrent.Classifier([FEATURES, layer, CLASSES])
    # A tiny validation set, validated only once (before the first epoch),
    # so the timed epochs are pure training.
    valid = [x[:BATCH], y[:BATCH]]
    it = net.itertrain(
        [x, y], valid, algo='adam', batch_size=BATCH,
        learning_rate=learning_rate, validate_every=10 ** 6,
        patience=10 ** 6, min_improvement=0, max_updates=10 ** 9)
    t1 = time.perf_counter()
    next(it)  # compile, validate once, train one epoch
    first = time.perf_counter() - t1
    times, cpu, loss = [], [], None
    for _ in range(epochs):
        t, c = time.perf_counter(), time.process_time()
        train, _ = next(it)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        loss = train['loss']
    epoch = min(times)
    return dict(
        seq_per_s=len(x) / epoch,
        median_seq_per_s=len(x) / statistics.median(times),
        epoch_s=epoch,
        cpu_s=statistics.median(cpu),
        compile_s=max(t1 - t0 + first - epoch, 0.0),
        loss=float(loss),
        scan=theanets.backend.info()['scan'],
        backend=theanets.backend.name(),
        ops=recurrence_ops(net),
        form=form.upper(),
        lstm='fused' if (ops.fused_gru_enabled() if form == 'gru'
                         else ops.fused_lstm_enabled()) else 'scan')


#: PyTorch modules of the peers: (class name, bidirectional).
TORCH_PEERS = {'rnn': ('RNN', False), 'lstm': ('LSTM', False),
               'gru': ('GRU', False), 'birnn': ('RNN', True),
               'bilstm': ('LSTM', True), 'bigru': ('GRU', True)}


def bench_torch(x, y, epochs, learning_rate, threads, form='lstm'):
    """Train the PyTorch peer of ``form``, a key of :data:`TORCH_PEERS`
    (``'rnn'`` is ``nn.RNN`` with tanh; a bidirectional peer has
    :data:`HIDDEN` / 2 units per direction)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            name, bidirectional = TORCH_PEERS[form]
            size = HIDDEN // 2 if bidirectional else HIDDEN
            self.lstm = getattr(torch.nn, name)(
                FEATURES, size, batch_first=True,
                bidirectional=bidirectional)
            self.out = torch.nn.Linear(HIDDEN, CLASSES)

        def forward(self, inputs):
            h, _ = self.lstm(inputs)
            return self.out(h)

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    lossf = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype('int64'))
    gen = torch.Generator().manual_seed(0)

    def epoch():
        total = 0.0
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt) - BATCH + 1, BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            logits = model(xt[idx])
            loss = lossf(logits.reshape(-1, CLASSES), yt[idx].reshape(-1))
            loss.backward()
            opt.step()
            total += loss.item()
        return total / (len(xt) // BATCH)

    epoch()  # warm-up
    times, cpu, loss = [], [], None
    for _ in range(epochs):
        t, c = time.perf_counter(), time.process_time()
        loss = epoch()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    best = min(times)
    return dict(seq_per_s=len(x) / best, epoch_s=best, loss=loss,
                median_seq_per_s=len(x) / statistics.median(times),
                cpu_s=statistics.median(cpu),
                threads=torch.get_num_threads(),
                version=torch.__version__)


def torch_peer(x, y, epochs, learning_rate, torch_threads, form='lstm'):
    """:func:`bench_torch` under names that :func:`common.call_in_python`
    can pass (its own ``threads`` argument sets the child's BLAS)."""
    return bench_torch(x, y, epochs, learning_rate, torch_threads, form=form)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sequences', type=int, default=4096)
    parser.add_argument('--epochs', type=int, default=5,
                        help='timed epochs after the first (default 5)')
    parser.add_argument('--learning-rate', type=float, default=1e-3)
    parser.add_argument('--lstm', choices=('fused', 'scan'),
                        help='recurrence implementation (sets '
                        'THEANETS_LSTM, or THEANETS_GRU with --form gru)')
    parser.add_argument('--form', choices=('lstm', 'gru'), default='lstm',
                        help='recurrent layer (default lstm)')
    parser.add_argument('--scan', choices=('c', 'python'),
                        help='force the scan loop (sets THEANETS_SCAN)')
    parser.add_argument('--skip-torch', action='store_true')
    add_common_arguments(parser)
    add_peer_python_argument(parser)
    args = parser.parse_args(argv)
    if args.scan:
        os.environ['THEANETS_SCAN'] = args.scan
    if args.lstm:
        env = 'THEANETS_GRU' if args.form == 'gru' else 'THEANETS_LSTM'
        os.environ[env] = args.lstm

    set_threads(args.threads)
    if args.cold:
        use_cold_theano_cache()

    x, y = make_data(args.sequences)
    n = len(x) - len(x) % BATCH
    x, y = x[:n], y[:n]
    print('task: {} sequences x {} steps x {} features -> {}({}) -> {} '
          'classes per step; batch {}, Adam lr {:g}, float32, CPU'.format(
              n, STEPS, FEATURES, args.form.upper(), HIDDEN, CLASSES, BATCH,
              args.learning_rate))

    th = bench_theanets(x, y, args.epochs, args.learning_rate, args.form)
    print('theanets: {seq_per_s:8.0f} sequences/s  (median '
          '{median_seq_per_s:.0f}; fastest epoch {epoch_s:.2f} s wall, '
          '{cpu_s:.2f} s CPU; {form}: {lstm}; scan loop: {scan}; '
          'loss {loss:.3f})\n'
          '          graph build + compile + one validation batch: '
          '{compile_s:.1f} s'.format(**th))
    sys.stdout.flush()
    if args.skip_torch:
        return
    try:
        kwargs = dict(x=x, y=y, epochs=args.epochs,
                      learning_rate=args.learning_rate,
                      torch_threads=args.threads, form=args.form)
        if args.torch_python:
            tr = call_in_python(args.torch_python, __file__, 'torch_peer',
                                args.threads, **kwargs)
        else:
            tr = torch_peer(**kwargs)
    except ImportError:
        print('pytorch:  not installed (pip install "theanets[bench]")')
        return
    print('pytorch:  {seq_per_s:8.0f} sequences/s  (median '
          '{median_seq_per_s:.0f}; fastest epoch {epoch_s:.2f} s wall, '
          '{cpu_s:.2f} s CPU; torch {version}, torch.get_num_threads() = '
          '{threads}; loss {loss:.3f})'.format(**tr))
    print('ratio theanets / pytorch: {:.2f}x'.format(
        th['seq_per_s'] / tr['seq_per_s']))


if __name__ == '__main__':
    main()
