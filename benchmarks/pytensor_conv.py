"""Forward and backward pass of a small convolutional network, per backend.

The network of the CNN benchmark: batch 64, 28x28x1 images, conv 16 3x3,
relu, max pool 2x2, conv 32 3x3, relu, max pool 2x2, the sum of squares of
the result as the cost; one compiled function (mode ``FAST_RUN``, the C
linker) returns the cost and the gradients of both filter banks. The script
uses theanets' backend names, so that it times

* ``nnet``: ``TT.nnet.conv2d`` and ``pool.pool_2d`` -- Theano's own Ops on
  the Theano backend, ``theanets/_pytensor_nnet.py`` (im2col and one
  ``dot``) on the PyTensor backend;
* ``tensordot``: the convolution as a sum of one ``tensordot`` per filter
  offset (the formulation ``_pytensor_nnet`` does not use), same pooling.

Run from the repository root, with either venv::

    PYTHONPATH=$PWD python benchmarks/pytensor_conv.py [--repeat 50]

OpenBLAS runs one thread (unless ``OPENBLAS_NUM_THREADS`` says otherwise),
and each step is timed in process CPU time as well as wall time: on a
shared machine the CPU time is the steadier figure.
"""

import argparse
import os
import time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from theanets import backend  # noqa: E402
from theanets.backend import theano, TT, pool  # noqa: E402


def conv_tensordot(x, w, filter_size):
    """Valid, stride-1, flipped convolution as a sum over filter offsets."""
    fh, fw = filter_size
    total = 0
    for u in range(fh):
        for v in range(fw):
            view = x[:, :, u:x.shape[2] - (fh - 1 - u),
                     v:x.shape[3] - (fw - 1 - v)]
            # (B, C, H', W') . (N, C) over C -> (B, H', W', N)
            total = total + TT.tensordot(
                view, w[:, :, fh - 1 - u, fw - 1 - v], axes=[[1], [1]])
    return total.dimshuffle(0, 3, 1, 2)


def network(variant, x, w1, w2):
    def conv(a, w):
        if variant == 'tensordot':
            return conv_tensordot(a, w, (3, 3))
        return TT.nnet.conv2d(a, w, filter_shape=w.get_value().shape)

    def pool2(a):
        return pool.pool_2d(a, ws=(2, 2), ignore_border=True)

    hidden = pool2(TT.maximum(conv(x, w1), 0))
    return pool2(TT.maximum(conv(hidden, w2), 0))


def measure(variant, repeat, dtype):
    rng = np.random.default_rng(1)
    x = TT.tensor4('x', dtype=dtype)
    w1 = theano.shared(rng.normal(0, 0.3, (16, 1, 3, 3)).astype(dtype))
    w2 = theano.shared(rng.normal(0, 0.1, (32, 16, 3, 3)).astype(dtype))
    cost = TT.sqr(network(variant, x, w1, w2)).sum()
    start = time.perf_counter()
    step = theano.function([x], [cost] + theano.grad(cost, [w1, w2]),
                           mode='FAST_RUN')
    compile_s = time.perf_counter() - start
    images = rng.normal(size=(64, 1, 28, 28)).astype(dtype)
    step(images)
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        step(images)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (compile_s, 1000 * np.median(wall), 1000 * np.median(cpu),
            step(images))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=50)
    parser.add_argument('--dtype', default='float32')
    args = parser.parse_args()
    info = backend.info()
    print('backend: {} {}'.format(info['backend'], info['version']))
    results = {}
    for variant in ('nnet', 'tensordot'):
        compile_s, wall, cpu, values = measure(
            variant, args.repeat, args.dtype)
        results[variant] = values
        print('{:10s} compile {:6.1f} s   step {:7.2f} ms wall, {:7.2f} ms '
              'CPU (medians of {})'.format(variant, compile_s, wall, cpu,
                                          args.repeat))
    for got, want in zip(results['tensordot'], results['nnet']):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    print('both variants agree')


if __name__ == '__main__':
    main()
