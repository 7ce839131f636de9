"""MultiHeadAttention and TransformerEncoderLayer on batch-first (N, T, E) inputs."""
import numpy as np

import dezero.functions as F
from dezero.core import using_config
from dezero.layers import _validate
from dezero.layers.activation import GELU, ReLU
from dezero.layers.base import Layer
from dezero.layers.linear import Linear
from dezero.layers.normalization import Dropout, LayerNorm


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (PyTorch's nn.MultiheadAttention with
    batch_first=True), called as mha(q, k, v, mask=None).

    q (N, T, E), k (N, S, E) and v (N, S, E) are projected by q_proj, k_proj, v_proj
    (Linear E -> E), split into num_heads heads of size E / num_heads, attended with
    F.scaled_dot_product_attention and merged by out_proj. Returns (N, T, E) only
    (PyTorch also returns the attention weights).

    Args:
        embed_dim: E.
        num_heads: must divide embed_dim.
        dropout: dropout probability on the attention weights, as in PyTorch (applied
            only while Config.train is True).
        nobias: leave out the projections' biases.
        dtype: dtype of the weights.

    mask: None, a boolean array (True = may attend) or a float array added to the
    scores, broadcastable to (N, num_heads, T, S); a (T, S) mask is shared by all
    samples, an (N, T, S) mask by all heads, and an (N, 1, 1, S) boolean mask masks
    padded keys.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, nobias=False, dtype=np.float32):
        super().__init__()
        _validate.check_size('MultiHeadAttention', 'embed_dim', embed_dim)
        _validate.check_size('MultiHeadAttention', 'num_heads', num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}.")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        for name in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            setattr(self, name, Linear(embed_dim, nobias=nobias, dtype=dtype, in_size=embed_dim))
        with using_config('train', False):
            F.dropout(np.zeros(0), dropout)  # reject a bad ratio now
        self.dropout_p = dropout

    def _split(self, x):
        n, t, _ = x.shape
        x = F.reshape(x, (n, t, self.num_heads, self.head_dim))
        return F.transpose(x, (0, 2, 1, 3))  # (N, H, L, D)

    def forward(self, q, k, v, mask=None):
        for who, x in (('q', q), ('k', k), ('v', v)):
            if x.ndim != 3 or x.shape[-1] != self.embed_dim:
                raise ValueError(f"MultiHeadAttention: {who} must have shape (N, L, "
                                 f"{self.embed_dim}), got {x.shape}.")
        n, t = q.shape[0], q.shape[1]
        if k.shape[:2] != v.shape[:2] or k.shape[0] != n:
            raise ValueError(f"MultiHeadAttention: q (N, T, E), k (N, S, E), v (N, S, E) must "
                             f"share N and S, got shapes {q.shape}, {k.shape}, {v.shape}.")
        qh = self._split(self.q_proj(q))
        kh = self._split(self.k_proj(k))
        vh = self._split(self.v_proj(v))
        if mask is not None:
            mask = mask.data if hasattr(mask, 'creator') else mask
            if getattr(mask, 'ndim', 0) == 3:
                mask = mask[:, None]  # (N, T, S) -> shared by the heads
        y = F.scaled_dot_product_attention(qh, kh, vh, mask=mask, dropout_p=self.dropout_p)
        y = F.reshape(F.transpose(y, (0, 2, 1, 3)), (n, t, self.embed_dim))
        return self.out_proj(y)


class TransformerEncoderLayer(Layer):
    """One Transformer encoder block on (N, T, E) (PyTorch's nn.TransformerEncoderLayer with
    batch_first=True): self-attention and a feed-forward network, each with a residual
    connection, dropout and LayerNorm.

    Post-norm (PyTorch's default): x = norm1(x + drop(attn(x))); x = norm2(x + drop(ff(x))).
    With norm_first=True: x = x + drop(attn(norm1(x))); x = x + drop(ff(norm2(x))).
    ff(x) = linear2(drop(activation(linear1(x)))).

    Args:
        d_model: E.
        nhead: attention heads (must divide d_model).
        dim_feedforward: hidden size of the feed-forward network (4 * d_model when None).
        dropout: dropout probability (training only).
        activation: 'relu' (PyTorch's default) or 'gelu'.
        norm_first: pre-norm instead of post-norm.
        eps: LayerNorm's eps.

    Called as layer(x, mask=None) with mask as for MultiHeadAttention.
    """

    def __init__(self, d_model, nhead, dim_feedforward=None, dropout=0.1, activation='relu',
                 norm_first=False, eps=1e-5, dtype=np.float32):
        super().__init__()
        _validate.check_size('TransformerEncoderLayer', 'dim_feedforward', dim_feedforward,
                             allow_none=True)
        if activation not in ('relu', 'gelu'):
            raise ValueError(f"TransformerEncoderLayer: activation must be 'relu' or 'gelu', "
                             f"got {activation!r}.")
        ff = 4 * d_model if dim_feedforward is None else dim_feedforward
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, dtype=dtype)
        self.linear1 = Linear(ff, dtype=dtype, in_size=d_model)
        self.linear2 = Linear(d_model, dtype=dtype, in_size=ff)
        self.norm1 = LayerNorm(d_model, eps=eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=eps, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.activation = ReLU() if activation == 'relu' else GELU()

    def _sa(self, x, mask):
        return self.dropout(self.self_attn(x, x, x, mask=mask))

    def _ff(self, x):
        return self.dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, mask))
        return self.norm2(x + self._ff(x))
