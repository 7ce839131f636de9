"""Layers added for PyTorch/Keras users: activations, Dropout, Flatten, MaxPool2d/AvgPool2d,
LayerNorm, Embedding, MultiHeadAttention and TransformerEncoderLayer."""
import threading

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Variable
from dezero.models import Sequential
from dezero.utils import check_double_backward, gradient_check

X = np.random.RandomState(0).randn(3, 4)


@pytest.mark.parametrize('layer,f', [
    (L.ReLU(), F.relu), (L.Sigmoid(), F.sigmoid), (L.Tanh(), F.tanh), (L.GELU(), F.gelu),
    (L.GELU('tanh'), lambda x: F.gelu(x, approximate='tanh')),
    (L.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (L.SiLU(), F.silu), (L.Softplus(2.0), lambda x: F.softplus(x, 2.0)),
    (L.LeakyReLU(0.1), lambda x: F.leaky_relu(x, 0.1)),
    (L.Hardtanh(-2, 2), lambda x: F.hardtanh(x, -2, 2)),
    (L.Softmax(axis=-1), lambda x: F.softmax(x, axis=-1)), (L.LogSoftmax(), F.log_softmax),
    (L.Identity(), lambda x: x),
], ids=lambda v: type(v).__name__ if isinstance(v, L.Layer) else '')
def test_activation_layers_apply_their_function(layer, f):
    np.testing.assert_array_equal(layer(X).data, Variable(X).data if f(X) is X else f(X).data)
    assert list(layer.params()) == []


def test_activation_layer_rejects_bad_options_at_construction():
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        L.GELU('fast')


def test_dropout_layer_follows_the_train_flag():
    layer = L.Dropout(0.5)
    x = np.ones((100, 100), np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    assert 0.4 < (y.data == 0).mean() < 0.6 and set(np.unique(y.data)) == {0.0, 2.0}
    with dezero.test_mode():
        assert layer(x).data is x or np.array_equal(layer(x).data, x)
    # the flag is per thread: test mode here does not switch off dropout elsewhere
    seen = {}
    with dezero.test_mode():
        t = threading.Thread(target=lambda: seen.setdefault('y', layer(x).data))
        t.start()
        t.join()
    assert (seen['y'] == 0).any()


def test_dropout_zero_is_identity_and_bad_p_fails_early():
    np.testing.assert_array_equal(L.Dropout(0.0)(X).data, X)
    with pytest.raises(ValueError, match=r'dropout_ratio must be a number in \[0, 1\)'):
        L.Dropout(1.5)


def test_flatten_and_pooling_layers():
    x = np.random.RandomState(1).randn(2, 3, 4, 4)
    assert L.Flatten()(x).shape == (2, 48)
    assert L.Flatten(2)(x).shape == (2, 3, 16)
    np.testing.assert_array_equal(L.MaxPool2d(2)(x).data, F.pooling(x, 2, 2).data)
    np.testing.assert_array_equal(L.AvgPool2d(2, stride=1, pad=1)(x).data,
                                  F.average_pooling(x, 2, 1, 1).data)
    model = Sequential(L.Conv2d(2, 3, pad=1), L.ReLU(), L.MaxPool2d(2), L.Flatten(), L.Linear(3))
    assert model(x.astype(np.float32)).shape == (2, 3)
    with pytest.raises(TypeError, match='MaxPool2d: kernel_size must be an int >= 1'):
        L.MaxPool2d(0)
    with pytest.raises(ValueError, match=r'AvgPool2d.forward: expected a 4-D input'):
        L.AvgPool2d(2)(X)


def test_layer_norm_layer_lazy_eager_and_checkpoint(tmp_path):
    x = np.random.RandomState(2).randn(2, 3, 6).astype(np.float32)
    lazy = L.LayerNorm()
    y = lazy(x)
    assert lazy.gamma.shape == (6,) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, F.layer_norm(x, np.ones(6), np.zeros(6)).data, rtol=1e-6)
    lazy.gamma.data[:] = 2.0
    path = lazy.save_weights(tmp_path / 'ln')
    fresh = L.LayerNorm()
    fresh.load_weights(path)  # built from the checkpoint
    np.testing.assert_array_equal(fresh.gamma.data, lazy.gamma.data)
    with pytest.raises(ValueError, match=r'LayerNorm.forward: the last axis of the input'):
        L.LayerNorm(5)(x)
    with pytest.raises(TypeError, match=r'LayerNorm: normalized_size must be a positive int'):
        L.LayerNorm(0)
    eager = L.LayerNorm(6, dtype=np.float64)
    assert gradient_check(lambda v: eager(v), x.astype(np.float64))


def test_embedding_is_embed_id():
    assert L.Embedding is L.EmbedID
    emb = L.Embedding(10, 3)
    assert emb(np.array([[1, 2], [3, 4]])).shape == (2, 2, 3)


# ---------------------------------------------------------------------------
# attention
# ---------------------------------------------------------------------------
def _np_mha(mha, q, k, v, add=0.0):
    def proj(layer, x):
        return x @ layer.W.data + layer.b.data
    n, t, e = q.shape
    h, d = mha.num_heads, mha.head_dim

    def split(x):
        return x.reshape(n, -1, h, d).transpose(0, 2, 1, 3)
    qh, kh, vh = split(proj(mha.q_proj, q)), split(proj(mha.k_proj, k)), split(proj(mha.v_proj, v))
    s = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(d) + add
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    y = (w @ vh).transpose(0, 2, 1, 3).reshape(n, t, e)
    return proj(mha.out_proj, y)


def _mha(seed=0, **kw):
    np.random.seed(seed)
    mha = L.MultiHeadAttention(8, 2, dtype=np.float64, **kw)
    for lin in (mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj):
        lin.b.data = np.random.randn(8)
    return mha


def test_multi_head_attention_matches_numpy_reference():
    mha = _mha()
    rng = np.random.RandomState(3)
    q, kv = rng.randn(2, 3, 8), rng.randn(2, 5, 8)
    np.testing.assert_allclose(mha(q, kv, kv).data, _np_mha(mha, q, kv, kv), rtol=1e-10)
    mask = rng.rand(2, 3, 5) > 0.3
    mask[..., 0] = True
    np.testing.assert_allclose(mha(q, kv, kv, mask=mask).data,
                               _np_mha(mha, q, kv, kv, np.where(mask[:, None], 0, -1e30)),
                               rtol=1e-10)
    assert len(list(mha.params())) == 8


def test_multi_head_attention_gradients():
    mha = _mha(1)
    rng = np.random.RandomState(4)
    x = rng.randn(2, 3, 8)
    mask = F.causal_mask(3)
    assert gradient_check(lambda v: mha(v, v, v, mask=mask), x)
    assert check_double_backward(lambda v: mha(v, v, v), rng.randn(1, 2, 8))


def test_multi_head_attention_float32_and_bad_input():
    mha = L.MultiHeadAttention(8, 4)
    y = mha(*(np.ones((2, 3, 8), np.float32),) * 3)
    assert y.dtype == np.float32 and y.shape == (2, 3, 8)
    with pytest.raises(ValueError, match='embed_dim 8 must be divisible by num_heads 3'):
        L.MultiHeadAttention(8, 3)
    with pytest.raises(ValueError, match=r'q must have shape \(N, L, 8\)'):
        mha(np.ones((2, 3, 6), np.float32), np.ones((2, 3, 8)), np.ones((2, 3, 8)))
    with pytest.raises(ValueError, match='must share N and S'):
        mha(np.ones((2, 3, 8)), np.ones((2, 4, 8)), np.ones((2, 5, 8)))


def test_transformer_encoder_layer_shapes_train_flag_and_gradients():
    np.random.seed(0)
    layer = L.TransformerEncoderLayer(8, 2, dropout=0.5)
    assert layer.linear1.W.shape == (8, 32)  # dim_feedforward = 4 * d_model
    x = np.random.randn(2, 5, 8).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 5, 8) and y.dtype == np.float32
    with dezero.test_mode():
        a, b = layer(x).data, layer(x).data
    np.testing.assert_array_equal(a, b)  # no dropout in test mode
    assert not np.array_equal(layer(x).data, layer(x).data)  # dropout while training
    np.random.seed(1)
    small = L.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, dtype=np.float64,
                                      activation='gelu', norm_first=True)
    assert gradient_check(lambda v: small(v, mask=F.causal_mask(3)), np.random.randn(2, 3, 4))
    with pytest.raises(ValueError, match="activation must be 'relu' or 'gelu'"):
        L.TransformerEncoderLayer(4, 2, activation='tanh')


@pytest.mark.slow  # importing torch takes seconds
@pytest.mark.parametrize('norm_first', [False, True])
def test_transformer_encoder_layer_matches_pytorch(norm_first):
    torch = pytest.importorskip('torch', reason='comparison with PyTorch needs torch')
    np.random.seed(0)
    e = 8
    ours = L.TransformerEncoderLayer(e, 2, dim_feedforward=16, dropout=0.0, dtype=np.float64,
                                     norm_first=norm_first)
    ref = torch.nn.TransformerEncoderLayer(e, 2, 16, 0.0, batch_first=True, dtype=torch.float64,
                                           norm_first=norm_first).eval()
    sa = ours.self_attn
    for lin in (sa.q_proj, sa.k_proj, sa.v_proj, sa.out_proj, ours.linear1, ours.linear2):
        lin.b.data = np.random.randn(*lin.b.shape)
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(torch.tensor(np.concatenate(
            [sa.q_proj.W.data.T, sa.k_proj.W.data.T, sa.v_proj.W.data.T])))
        ref.self_attn.in_proj_bias.copy_(torch.tensor(np.concatenate(
            [sa.q_proj.b.data, sa.k_proj.b.data, sa.v_proj.b.data])))
        for mine, theirs in ((sa.out_proj, ref.self_attn.out_proj), (ours.linear1, ref.linear1),
                             (ours.linear2, ref.linear2)):
            theirs.weight.copy_(torch.tensor(mine.W.data.T))
            theirs.bias.copy_(torch.tensor(mine.b.data))
    x = np.random.randn(3, 5, e)
    mask = np.random.rand(5, 5) > 0.3
    np.fill_diagonal(mask, True)
    expected = ref(torch.tensor(x), src_mask=torch.tensor(~mask)).detach().numpy()
    np.testing.assert_allclose(ours(x, mask=mask).data, expected, rtol=1e-10, atol=1e-12)
