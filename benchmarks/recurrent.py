"""Training throughput of every recurrent layer form: theanets vs PyTorch.

The task is the one of ``benchmarks/lstm.py`` (its data generator, model
and training loop are imported from there): sequences of 20 steps x 16
float32 features, a label per step (the argmax of the first 10 features of
``x[t] + x[t - 1]``), trained with Adam (lr 1e-3) in mini-batches of 32 as

    input (16) -> <recurrent layer>(32) -> softmax over 10 classes, per step

For each form the script trains theanets with that layer and, right after
it, the nearest PyTorch model, and prints both speeds in sequences per
second (fastest timed epoch; the median is shown too) and their ratio:

============================  ==========================================
theanets form                 PyTorch peer
============================  ==========================================
``rnn`` (tanh)                ``nn.RNN`` (tanh)
``lstm``                      ``nn.LSTM``
``gru`` (tanh)                ``nn.GRU``
``bidirectional`` (LSTM)      ``nn.LSTM(bidirectional=True)``, 16 + 16
``bidirectional-rnn``         ``nn.RNN(bidirectional=True)``, 16 + 16
``bidirectional-gru``         ``nn.GRU(bidirectional=True)``, 16 + 16
``rrnn``, ``mrnn``,           ``nn.LSTM``: PyTorch has no such layer, the
``bcrnn``, ``clockwork``,     LSTM is a reference cost (a ratio above 1
``mut1``, ``scrn`` (tanh)     means "cheaper than PyTorch's LSTM")
============================  ==========================================

The bidirectional layers have 32 units, 16 per direction, as the PyTorch
peers. ``bcrnn`` (not a registered form) is built as a
``theanets.layers.recurrent.BCRNN(num_modules=4)`` instance, ``clockwork``
with ``periods=(1, 2, 4, 8)``; ``rrnn`` uses its default ``rate='matrix'``,
``mrnn`` its default ``factors`` (6), ``scrn`` ``rate='vector'``.

Usage::

    python benchmarks/recurrent.py [--forms rnn,lstm,...] [--threads 1]
                                   [--sequences 4096] [--epochs 5]
                                   [--torch-python PYTHON] [--skip-torch]
                                   [--cold]

Under the PyTensor backend's Python (which has no PyTorch), pass
``--torch-python`` with an interpreter that has PyTorch: the PyTorch runs
then happen there, interleaved with theanets' runs in this invocation.
The ``ops`` column names what runs each recurrence: ``Scan`` for
``theano.scan``, else the fused Op of ``theanets.ops``; set
``THEANETS_LSTM=scan``, ``THEANETS_GRU=scan`` or ``THEANETS_RNN=scan`` to
compare with the ``scan`` loops.
"""

import argparse
import collections
import sys
import time

from common import (add_common_arguments, add_peer_python_argument,
                    call_in_python, set_threads, use_cold_theano_cache)
import lstm
from lstm import BATCH, CLASSES, FEATURES, HIDDEN, STEPS

# numpy, theanets and PyTorch are imported only after main() has set the
# thread counts, which BLAS libraries read when they are loaded.

Form = collections.namedtuple('Form', 'layer peer peer_has_layer')


def _bcrnn():
    from theanets.layers.recurrent import BCRNN
    return BCRNN(num_modules=4, size=HIDDEN, activation='tanh',
                 inputs='in', name='hid1')


#: The forms measured, in order: the layer spec of theanets (a dict, or a
#: function returning a Layer), the key of the PyTorch peer in
#: ``lstm.TORCH_PEERS`` and whether PyTorch has that layer (the issue's
#: target, >= 1.0x, applies only then).
FORMS = collections.OrderedDict([
    ('rnn', Form(dict(form='rnn', activation='tanh'), 'rnn', True)),
    ('lstm', Form(dict(form='lstm'), 'lstm', True)),
    ('gru', Form(dict(form='gru', activation='tanh'), 'gru', True)),
    ('bidirectional', Form(dict(form='bidirectional', worker='lstm'),
                           'bilstm', True)),
    ('bidirectional-rnn', Form(dict(form='bidirectional', worker='rnn',
                                    activation='tanh'), 'birnn', True)),
    ('bidirectional-gru', Form(dict(form='bidirectional', worker='gru',
                                    activation='tanh'), 'bigru', True)),
    ('rrnn', Form(dict(form='rrnn', activation='tanh'), 'lstm', False)),
    ('mrnn', Form(dict(form='mrnn', activation='tanh'), 'lstm', False)),
    ('bcrnn', Form(_bcrnn, 'lstm', False)),
    ('clockwork', Form(dict(form='clockwork', periods=(1, 2, 4, 8),
                            activation='tanh'), 'lstm', False)),
    ('mut1', Form(dict(form='mut1'), 'lstm', False)),
    ('scrn', Form(dict(form='scrn', activation='tanh'), 'lstm', False)),
])

PEER_NAMES = {'rnn': 'nn.RNN', 'lstm': 'nn.LSTM', 'gru': 'nn.GRU',
              'birnn': 'nn.RNN(bidir.)', 'bilstm': 'nn.LSTM(bidir.)',
              'bigru': 'nn.GRU(bidir.)'}


def theanets_layer(form):
    """The layer spec of ``form`` for :func:`lstm.bench_theanets`."""
    spec = FORMS[form].layer
    if callable(spec):
        return spec()
    return dict(spec, size=HIDDEN)


def parse_forms(text):
    """The forms named in a comma-separated ``--forms`` value."""
    if not text:
        return list(FORMS)
    forms = [f.strip().lower() for f in text.split(',') if f.strip()]
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        raise SystemExit('--forms: unknown form(s) {}; choose from {}'.format(
            ', '.join(unknown), ', '.join(FORMS)))
    return forms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--forms', help='comma-separated subset of: '
                        + ', '.join(FORMS))
    parser.add_argument('--sequences', type=int, default=4096)
    parser.add_argument('--epochs', type=int, default=5,
                        help='timed epochs after the first (default 5)')
    parser.add_argument('--learning-rate', type=float, default=1e-3)
    parser.add_argument('--skip-torch', action='store_true')
    add_peer_python_argument(parser)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    forms = parse_forms(args.forms)

    set_threads(args.threads)
    if args.cold:
        use_cold_theano_cache()

    x, y = lstm.make_data(args.sequences)
    n = len(x) - len(x) % BATCH
    x, y = x[:n], y[:n]
    print('task: {} sequences x {} steps x {} features -> <form>({}) -> {} '
          'classes per step; batch {}, Adam lr {:g}, float32, CPU, '
          '{} thread(s)'.format(n, STEPS, FEATURES, HIDDEN, CLASSES, BATCH,
                                args.learning_rate, args.threads))
    sys.stdout.flush()

    rows = []
    for form in forms:
        spec = FORMS[form]
        t = time.perf_counter()
        th = lstm.bench_theanets(x, y, args.epochs, args.learning_rate,
                                 form=form, layer=theanets_layer(form))
        print('{:18s} theanets {seq_per_s:8.0f} seq/s (median '
              '{median_seq_per_s:.0f}; {backend}, {impl}; compile '
              '{compile_s:.1f} s; loss {loss:.3f})'.format(
                  form, impl='+'.join(th['ops']), **th))
        sys.stdout.flush()
        tr = None
        if not args.skip_torch:
            tr = run_torch(args, x, y, spec.peer)
            if tr is not None:
                print('{:18s} {:15s} {seq_per_s:8.0f} seq/s (median '
                      '{median_seq_per_s:.0f}; loss {loss:.3f})  ratio '
                      '{ratio:.2f}x'.format(
                          '', PEER_NAMES[spec.peer],
                          ratio=th['seq_per_s'] / tr['seq_per_s'], **tr))
        print('{:18s} ({:.0f} s)'.format('', time.perf_counter() - t))
        sys.stdout.flush()
        rows.append((form, spec, th, tr))
    print_table(rows)


def run_torch(args, x, y, peer):
    """PyTorch's result for ``peer``, here or in ``--torch-python``; None
    when PyTorch is not available."""
    kwargs = dict(x=x, y=y, epochs=args.epochs,
                  learning_rate=args.learning_rate,
                  torch_threads=args.threads, form=peer)
    if args.torch_python:
        return call_in_python(args.torch_python, lstm.__file__, 'torch_peer',
                              args.threads, **kwargs)
    try:
        import torch  # noqa: F401
    except ImportError:
        print('pytorch: not installed here (pip install "theanets[bench]",'
              ' or pass --torch-python)')
        args.skip_torch = True
        return None
    return lstm.torch_peer(**kwargs)


def print_table(rows):
    """The results as a Markdown table (best epoch; median in brackets)."""
    print()
    print('| form | ops | theanets seq/s | PyTorch peer | peer seq/s | '
          'ratio | target |')
    print('| --- | --- | ---: | --- | ---: | ---: | --- |')
    for form, spec, th, tr in rows:
        cells = [form, '+'.join(th['ops']),
                 '{:,.0f} ({:,.0f})'.format(th['seq_per_s'],
                                            th['median_seq_per_s'])]
        if tr is None:
            cells += [PEER_NAMES[spec.peer], '', '', '']
        else:
            ratio = th['seq_per_s'] / tr['seq_per_s']
            if spec.peer_has_layer:
                target = 'met' if ratio >= 1.0 else 'NOT met'
            else:
                target = 'reference cost'
            cells += [PEER_NAMES[spec.peer],
                      '{:,.0f} ({:,.0f})'.format(tr['seq_per_s'],
                                                 tr['median_seq_per_s']),
                      '{:.2f}x'.format(ratio), target]
        print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
