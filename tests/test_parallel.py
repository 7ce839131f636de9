"""dezero._parallel: batch chunks over threads, and kernels that give the same result split."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable, _parallel

pytest.importorskip('threadpoolctl', reason='the split pins BLAS through threadpoolctl')


@pytest.mark.parametrize('threads,n,min_chunk,expected', [
    ('1', 64, 8, [(0, 64)]),                      # one thread: no split
    ('2', 64, 8, [(0, 32), (32, 64)]),
    ('3', 7, 4, [(0, 7)]),                        # too small to share
    ('3', 10, 4, [(0, 5), (5, 10)]),              # no more chunks than n // min_chunk
    ('3', 12, 4, [(0, 4), (4, 8), (8, 12)]),
    ('4', 20, 8, [(0, 10), (10, 20)]),
])
def test_chunks_cut_the_batch_per_thread(monkeypatch, threads, n, min_chunk, expected):
    monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
    assert _parallel.chunks(np, n, min_chunk) == expected


def test_chunks_never_split_other_array_modules(monkeypatch, standin_gpu):
    monkeypatch.setenv('DEZERO_NUM_THREADS', '2')
    assert _parallel.chunks(standin_gpu, 64, 8) == [(0, 64)]


def test_bad_thread_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv('DEZERO_NUM_THREADS', 'two')
    with pytest.raises(ValueError, match='DEZERO_NUM_THREADS must be a positive integer'):
        _parallel.num_threads()


def test_run_returns_results_in_order_and_restores_blas_threads(monkeypatch):
    before = [lc.get_num_threads() for lc in _parallel._blas_controllers()]
    out = _parallel.run(lambda a, b: list(range(a, b)), [(0, 2), (2, 5), (5, 6)])
    assert out == [[0, 1], [2, 3, 4], [5]]
    assert [lc.get_num_threads() for lc in _parallel._blas_controllers()] == before


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('stride,pad', [(1, 1), (2, 0)])
def test_conv2d_split_over_threads_matches_one_thread(monkeypatch, dtype, stride, pad):
    rng = np.random.RandomState(0)
    x = rng.randn(20, 3, 9, 8).astype(dtype)
    W = rng.randn(5, 3, 3, 3).astype(dtype)
    b = rng.randn(5).astype(dtype)
    results = {}
    splits = []
    run = _parallel.run
    monkeypatch.setattr(_parallel, 'run', lambda fn, parts: splits.append(len(parts)) or
                        run(fn, parts))
    for threads in ('1', '2'):
        monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
        xv, Wv, bv = Variable(x), Variable(W), Variable(b)
        y = F.conv2d(xv, Wv, bv, stride=stride, pad=pad)
        F.sum(y * y).backward()
        results[threads] = [y.data, xv.grad.data, Wv.grad.data, bv.grad.data]
    assert 2 in splits  # the two-thread pass really split the batch
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for one, two in zip(results['1'], results['2']):
        assert two.dtype == dtype
        np.testing.assert_allclose(two, one, rtol=rtol, atol=rtol)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_max_pooling_split_over_threads_matches_one_thread(monkeypatch, dtype):
    rng = np.random.RandomState(1)
    # few distinct values: many ties, whose gradient must still go to the first maximum
    x = rng.randint(0, 3, size=(18, 3, 7, 6)).astype(dtype)
    gy = rng.randn(18, 3, 3, 3).astype(dtype)
    results = {}
    splits = []
    run = _parallel.run
    monkeypatch.setattr(_parallel, 'run', lambda fn, parts: splits.append(len(parts)) or
                        run(fn, parts))
    for threads in ('1', '2'):
        monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
        xv = Variable(x)
        y = F.pooling(xv, 2, 2)
        y.grad = Variable(gy)
        y.backward()
        results[threads] = [y.data, xv.grad.data]
    assert 2 in splits
    for one, two in zip(results['1'], results['2']):
        np.testing.assert_array_equal(two, one)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_relu_split_over_threads_matches_one_thread(monkeypatch, dtype):
    rng = np.random.RandomState(2)
    x = rng.randn(_parallel.ELEMENTWISE_MIN + 5).astype(dtype).reshape(-1, 1)
    gy = rng.randn(*x.shape).astype(dtype)
    results = {}
    splits = []
    run = _parallel.run
    monkeypatch.setattr(_parallel, 'run', lambda fn, parts: splits.append(len(parts)) or
                        run(fn, parts))
    for threads in ('1', '2'):
        monkeypatch.setenv('DEZERO_NUM_THREADS', threads)
        xv = Variable(x)
        y = F.relu(xv)
        y.grad = Variable(gy)
        y.backward()
        results[threads] = [y.data, xv.grad.data]
    assert splits.count(2) == 2  # forward and backward both split
    for one, two in zip(results['1'], results['2']):
        assert two.dtype == dtype
        np.testing.assert_array_equal(two, one)
