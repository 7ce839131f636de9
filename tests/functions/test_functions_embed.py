"""Tests for dezero.functions.embed: embed_id."""
import numpy as np
import pytest

import dezero.functions as F
from dezero import Variable, cuda
from dezero.utils import check_double_backward, gradient_check

W = np.random.RandomState(0).randn(5, 3)
IDS = np.array([[0, 4, 1], [4, 4, 2]])


def test_embed_id_picks_rows(xp):
    y = F.embed_id(xp.asarray(IDS), Variable(xp.asarray(W)))
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(cuda.as_numpy(y.data), W[IDS])


def test_embed_id_gradient_accumulates_repeated_ids(xp):
    w = Variable(xp.asarray(W.astype(np.float32)))
    y = F.embed_id(Variable(xp.asarray(IDS)), w)
    y.backward()
    assert w.grad.dtype == np.float32
    counts = np.bincount(IDS.ravel(), minlength=5)[:, None]  # id 4 three times, id 3 never
    np.testing.assert_array_equal(cuda.as_numpy(w.grad.data), np.broadcast_to(counts, (5, 3)))


def test_embed_id_gradients(xp):
    ids = xp.asarray(IDS)

    def f(w):
        return F.embed_id(ids, w)

    assert gradient_check(f, xp.asarray(W))
    assert check_double_backward(f, xp.asarray(W))
    # Second order through a nonlinearity after the lookup.
    assert check_double_backward(lambda w: F.sigmoid(F.embed_id(ids, w)), xp.asarray(W))


def test_embed_id_rejects_out_of_range_and_float_ids():
    with pytest.raises(IndexError, match=r"embed_id: ids must lie in \[0, 5\) for W of shape "
                                         r"\(5, 3\), got ids in \[0, 5\]"):
        F.embed_id(np.array([0, 5]), W)
    with pytest.raises(IndexError, match=r"got ids in \[-1, 0\]"):
        F.embed_id(np.array([0, -1]), W)
    with pytest.raises(TypeError, match=r"embed_id: ids must be integers, got dtype float64"):
        F.embed_id(np.array([0.0, 1.0]), W)
