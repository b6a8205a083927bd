"""Prediction latency: ONNX Runtime on an exported model vs theanets' predict.

One run builds two classifiers, exports each with ``theanets.onnx`` and
times, for one row and for 1,000 rows, theanets' own ``predict_proba`` and
ONNX Runtime's ``InferenceSession.run`` of the exported ``predict_proba``
output, side by side:

    mlp:  784 inputs -> 256 relu -> 256 relu -> 10-way softmax
    lstm: sequences of 20 steps x 16 features -> LSTM(32) -> 10-way softmax
          per step (the ONNX ``LSTM`` operator)

Each latency is the fastest of many calls after a warm-up, the call least
disturbed by other processes on a shared machine (the median is printed
too); the ratio is theanets' latency over ONNX Runtime's, so a ratio above 1
means ONNX Runtime answers faster (the ratio of the medians follows). The
script also checks that both give the same probabilities.

Usage::

    python benchmarks/onnx_latency.py [--threads 1] [--repeats 300]
                                      [--models mlp,lstm]

``--threads`` sets the OpenBLAS/OpenMP thread counts (read when the BLAS
library loads) and ONNX Runtime's intra-op thread count. Needs the ``onnx``
and ``onnxruntime`` packages (``pip install -e ".[test]"``).
"""

import argparse
import io

from common import add_common_arguments, latency, set_threads

ROWS = (1, 1000)


def build(name):
    """An untrained model (latency does not depend on the weights) and a
    function drawing ``rows`` inputs for it."""
    import numpy as np
    import theanets
    rng = np.random.RandomState(0)
    if name == 'mlp':
        model = theanets.Classifier(
            [784, (256, 'relu'), (256, 'relu'), 10], rng=0)
        return model, lambda rows: rng.randn(rows, 784).astype('float32')
    model = theanets.recurrent.Classifier([16, (32, 'lstm'), 10], rng=0)
    return model, lambda rows: rng.randn(rows, 20, 16).astype('float32')


def bench(name, threads, repeats):
    import numpy as np
    import onnxruntime
    import theanets.onnx

    model, draw = build(name)
    buffer = io.BytesIO()
    proto = theanets.onnx.export(model, buffer)
    ops = sorted({node.op_type for node in proto.graph.node} &
                 {'LSTM', 'GRU', 'RNN', 'Scan', 'MatMul'})
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        buffer.getvalue(), options, providers=['CPUExecutionProvider'])
    rows = []
    for count in ROWS:
        x = draw(count)
        # Fewer repeats for the big batch keep the run short.
        n = repeats if count == 1 else max(20, repeats // 3)
        theanets_s = latency(lambda: model.predict_proba(x), n)
        onnx_s = latency(
            lambda: session.run(['predict_proba'], {'in': x}), n)
        diff = float(np.abs(model.predict_proba(x) - session.run(
            ['predict_proba'], {'in': x})[0]).max())
        rows.append((count, theanets_s, onnx_s, diff))
    return ops, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=300,
                        help='timed single-row calls per library; the '
                        '1,000-row case makes a third as many (default 300)')
    parser.add_argument('--models', default='mlp,lstm',
                        help='comma-separated, from mlp and lstm '
                        '(default both)')
    add_common_arguments(parser, threads=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.cold:
        from common import use_cold_theano_cache
        use_cold_theano_cache()

    import logging
    import onnxruntime
    import theanets
    logging.getLogger('theanets').setLevel(logging.WARNING)
    print('theanets {}, onnxruntime {}, {} thread(s)'.format(
        theanets.__version__, onnxruntime.__version__, args.threads))
    print('{:<5} {:>5} {:>17} {:>17} {:>7} {:>9} {:>9}'.format(
        'model', 'rows', 'theanets ms', 'onnxruntime ms', 'ratio',
        '(median)', 'max diff'))
    for name in args.models.split(','):
        ops, rows = bench(name.strip(), args.threads, args.repeats)
        for count, (t_min, t_med), (o_min, o_med), diff in rows:
            print('{:<5} {:>5} {:>8.3f} ({:>6.3f}) {:>8.3f} ({:>6.3f}) '
                  '{:>6.2f}x {:>8.2f}x {:>9.1e}'.format(
                      name, count, 1e3 * t_min, 1e3 * t_med, 1e3 * o_min,
                      1e3 * o_med, t_min / o_min, t_med / o_med, diff))
        print('      (ONNX operators: {})'.format(', '.join(ops)))
    print('ms per call: fastest (median); ratio = theanets / onnxruntime')


if __name__ == '__main__':
    main()
