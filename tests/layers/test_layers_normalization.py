"""BatchNorm layer: lazy shapes, running statistics as buffers, train/test behaviour."""
import numpy as np

import dezero
import dezero.functions as F
from dezero.layers import BatchNorm


def test_batchnorm_builds_lazily_from_first_input():
    bn = BatchNorm()
    assert bn.gamma.data is None and bn.avg_mean.data is None
    x = np.random.randn(8, 3).astype(np.float32)
    y = bn(x)
    assert y.shape == (8, 3) and y.dtype == np.float32
    for arr in (bn.gamma.data, bn.beta.data, bn.avg_mean.data, bn.avg_var.data):
        assert arr.shape == (3,) and arr.dtype == np.float32
    np.testing.assert_array_equal(bn.gamma.data, np.ones(3))


def test_running_stats_are_buffers_not_params():
    bn = BatchNorm()
    bn(np.random.randn(4, 2).astype(np.float32))
    assert [k for k, _ in bn.named_params()] == ['gamma', 'beta']
    assert [k for k, _, _ in bn.named_buffers()] == ['avg_mean', 'avg_var']


def test_training_normalises_and_updates_running_mean():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 3)) * 3 + 5).astype(np.float32)
    bn = BatchNorm()
    y = bn(x)
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(y.data.std(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.avg_mean.data, 0.1 * x.mean(axis=0), rtol=1e-4)


def test_test_mode_uses_running_statistics():
    bn = BatchNorm()
    x = np.random.randn(16, 2, 3, 3).astype(np.float32)
    bn(x)
    bn.avg_mean.data[...] = [1.0, -1.0]
    bn.avg_var.data[...] = [4.0, 1.0]
    with dezero.test_mode():
        y = bn(x)
    expected = (x - np.array([1.0, -1.0]).reshape(1, 2, 1, 1)) / np.sqrt(
        np.array([4.0, 1.0]).reshape(1, 2, 1, 1) + 2e-5)
    np.testing.assert_allclose(y.data, expected, rtol=1e-4, atol=1e-5)


def test_gradients_reach_gamma_and_beta_only():
    bn = BatchNorm()
    y = bn(np.random.randn(5, 4).astype(np.float32))
    F.sum(y * y).backward()
    assert bn.gamma.grad is not None and bn.beta.grad is not None
    assert bn.gamma.grad.shape == (4,)


def test_running_statistics_read_as_variables_like_the_book():
    # The book's BatchNorm keeps avg_mean/avg_var as Variables: `.data` is the array.
    import dezero
    bn = dezero.layers.BatchNorm()
    bn(np.random.RandomState(0).randn(4, 3).astype(np.float32))
    assert isinstance(bn.avg_mean, dezero.Variable) and isinstance(bn.avg_mean.data, np.ndarray)
    assert bn.avg_var.data.shape == (3,)
    assert all(p is not bn.avg_mean for p in bn.params())
