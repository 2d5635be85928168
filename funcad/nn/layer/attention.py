"""MultiheadAttention with MindSpore's arguments and parameter names (which are torch's)."""

from __future__ import annotations

import math

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32, is_floating
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import HeUniform, Uniform, XavierNormal, XavierUniform, initializer
from funcad.nn.layer.basic import Dense, positive_int


def masked_softmax(scores):
    """Softmax over the last axis in which a row whose every entry is -inf (every key blocked) gives zeros, not NaN."""
    shift = ops.stop_gradient(ops.amax(scores, axis=-1, keepdims=True))
    e = ops.exp(scores - ops.where(ops.isfinite(shift), shift, 0.0))
    total = ops.sum(e, axis=-1, keepdims=True)
    return e / ops.where(ops.greater(total, 0.0), total, 1.0)


def additive_mask(cell: Cell, name: str, mask, dtype):
    """A bool mask (True = blocked) as 0 / -inf, a float mask as it is, both in ``dtype``."""
    kind = np.dtype(mask.dtype)
    if kind == np.bool_:
        return ops.cast(ops.where(mask, -np.inf, 0.0), dtype)
    if is_floating(kind):
        return ops.cast(mask, dtype)
    raise ValueError(f"{cell._where()}: only bool and floating types of {name} are supported, got {kind.name}")


def _append_zero_key(mask):
    """One more (never blocked) key column at the end of an additive mask."""
    return None if mask is None else ops.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


class MultiheadAttention(Cell):
    """Multi-head attention, Concat(head_1, ..., head_h) W_o with head_i = Attention(Q W_q^i, K W_k^i, V W_v^i).

    Inputs ``(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True)``
    with sequences (L, N, E) ((N, L, E) with ``batch_first``) or unbatched (L, E). Masks: True (bool) blocks a key,
    a float mask is added to the scores; ``key_padding_mask`` is (N, S), ``attn_mask`` (L, S) or (N * num_heads, L, S).
    Returns ``(attn_output, attn_weights)``, weights averaged over heads (N, L, S) or per head (N, num_heads, L, S).

    Parameters as MindSpore and torch: ``in_proj_weight`` (3E, E) (or ``q_proj_weight``, ``k_proj_weight``,
    ``v_proj_weight`` when kdim or vdim differ from E), ``in_proj_bias``, ``out_proj.weight``/``out_proj.bias``,
    ``bias_k``/``bias_v`` with ``add_bias_kv``. Differences from torch: the bias flag is ``has_bias``; with
    ``need_weights=False`` the result is the 1-tuple ``(attn_output,)``, as in MindSpore (torch: (attn_output, None));
    a query whose every key is blocked gets zero weights and a zero attention output (torch gives NaN there when it
    returns weights, and zeros otherwise). ``dropout`` applies to the attention weights while training.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, has_bias: bool = True, add_bias_kv: bool = False,
                 add_zero_attn: bool = False, kdim: int | None = None, vdim: int | None = None, batch_first: bool = False, dtype=float32):
        super().__init__()
        owner = "MultiheadAttention"
        self.embed_dim = positive_int(embed_dim, owner, "embed_dim")
        self.num_heads = positive_int(num_heads, owner, "num_heads")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"{owner}: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout}")
        self.kdim = self.embed_dim if kdim is None else positive_int(kdim, owner, "kdim")
        self.vdim = self.embed_dim if vdim is None else positive_int(vdim, owner, "vdim")
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout, self.batch_first, self.add_zero_attn = float(dropout), bool(batch_first), bool(add_zero_attn)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(initializer(XavierUniform(), (3 * e, e), dtype))
        else:
            self.q_proj_weight = Parameter(initializer(XavierUniform(), (e, e), dtype))
            self.k_proj_weight = Parameter(initializer(XavierUniform(), (e, self.kdim), dtype))
            self.v_proj_weight = Parameter(initializer(XavierUniform(), (e, self.vdim), dtype))
        self.in_proj_bias = Parameter(initializer("zeros", (3 * e,), dtype)) if has_bias else None
        self.out_proj = Dense(e, e, weight_init=HeUniform(math.sqrt(5)), bias_init=Uniform(1.0 / math.sqrt(e)), has_bias=has_bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(initializer(XavierNormal(), (1, 1, e), dtype))
            self.bias_v = Parameter(initializer(XavierNormal(), (1, 1, e), dtype))
        else:
            self.bias_k = self.bias_v = None

    def _projections(self):
        """(w_q, w_k, w_v) and (b_q, b_k, b_v)."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            weights = ops.chunk(self.in_proj_weight, 3, axis=0)
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        biases = (None,) * 3 if self.in_proj_bias is None else tuple(self.in_proj_bias[i * e:(i + 1) * e] for i in range(3))
        return weights, biases

    def _check_inputs(self, query, key, value) -> tuple[int, int, int]:
        """(L, S, N) after validating the three shapes; N is 0 for unbatched inputs."""
        q, k, v = tuple(query.shape), tuple(key.shape), tuple(value.shape)
        batched = len(q) == 3
        lead = (lambda s: s[:2]) if batched else (lambda s: s[:1])
        ok = len(q) in (2, 3) and len(k) == len(q) == len(v) and q[-1] == self.embed_dim and k[-1] == self.kdim and v[-1] == self.vdim
        ok = ok and lead(k) == lead(v) and (not batched or q[0 if self.batch_first else 1] == k[0 if self.batch_first else 1])
        if not ok:
            layout = "(N, L, {})" if self.batch_first else "(L, N, {})"
            raise ValueError(f"{self._where()}: expected query {layout.format(self.embed_dim)}, key {layout.format(self.kdim)} and value "
                             f"{layout.format(self.vdim)} with S for L in key and value (or unbatched (L, E)), got {q}, {k} and {v}")
        if not batched:
            return q[0], k[0], 0
        if self.batch_first:
            return q[1], k[1], q[0]
        return q[0], k[0], q[1]

    def _masks(self, key_padding_mask, attn_mask, length: int, source: int, batch: int, dtype):
        """The additive masks broadcastable to the (N, H, L, S) scores, or None."""
        n = max(batch, 1)
        if key_padding_mask is not None:
            expected = (batch, source) if batch else (source,)
            if tuple(key_padding_mask.shape) != expected:
                raise ValueError(f"{self._where()}: key_padding_mask must have shape {expected}, got {tuple(key_padding_mask.shape)}")
            key_padding_mask = ops.reshape(additive_mask(self, "key_padding_mask", key_padding_mask, dtype), (n, 1, 1, source))
        if attn_mask is not None:
            shape = tuple(attn_mask.shape)
            if shape not in ((length, source), (n * self.num_heads, length, source)):
                raise ValueError(f"{self._where()}: attn_mask must have shape ({length}, {source}) or "
                                 f"({n * self.num_heads}, {length}, {source}), got {shape}")
            attn_mask = additive_mask(self, "attn_mask", attn_mask, dtype)
            if len(shape) == 3:
                attn_mask = ops.reshape(attn_mask, (n, self.num_heads, length, source))
        return key_padding_mask, attn_mask

    def _heads(self, x, n: int):
        """(T, N, E) -> (N, H, T, head_dim)."""
        return ops.transpose(ops.reshape(x, (x.shape[0], n, self.num_heads, self.head_dim)), (1, 2, 0, 3))

    def construct(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                  average_attn_weights: bool = True):
        length, source, batch = self._check_inputs(query, key, value)
        if not batch:
            query, key, value = (ops.expand_dims(t, 1) for t in (query, key, value))
        elif self.batch_first:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        n, dtype = max(batch, 1), query.dtype
        key_padding_mask, attn_mask = self._masks(key_padding_mask, attn_mask, length, source, batch, dtype)
        (w_q, w_k, w_v), (b_q, b_k, b_v) = self._projections()
        q, k, v = ops.dense(query, w_q, b_q), ops.dense(key, w_k, b_k), ops.dense(value, w_v, b_v)
        if self.bias_k is not None:
            k = ops.concat([k, ops.broadcast_to(self.bias_k, (1, n, self.embed_dim))], axis=0)
            v = ops.concat([v, ops.broadcast_to(self.bias_v, (1, n, self.embed_dim))], axis=0)
            key_padding_mask, attn_mask = _append_zero_key(key_padding_mask), _append_zero_key(attn_mask)
        q, k, v = self._heads(q, n), self._heads(k, n), self._heads(v, n)
        if self.add_zero_attn:
            zeros = ops.zeros((n, self.num_heads, 1, self.head_dim), dtype)
            k, v = ops.concat([k, zeros], axis=2), ops.concat([v, zeros], axis=2)
            key_padding_mask, attn_mask = _append_zero_key(key_padding_mask), _append_zero_key(attn_mask)
        scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(self.head_dim))
        for mask in (attn_mask, key_padding_mask):
            if mask is not None:
                scores = scores + mask
        masked = attn_mask is not None or key_padding_mask is not None
        weights = masked_softmax(scores) if masked else ops.softmax(scores, axis=-1)
        if self.training and self.dropout > 0.0:
            weights = ops.dropout(weights, p=self.dropout)
        out = ops.reshape(ops.transpose(ops.matmul(weights, v), (2, 0, 1, 3)), (length, n, self.embed_dim))
        out = self.out_proj(out)
        if not batch:
            out, weights = ops.squeeze(out, 1), ops.squeeze(weights, 0)
        elif self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return (out,)
        head_axis = 0 if not batch else 1
        return out, (ops.mean(weights, axis=head_axis) if average_attn_weights else weights)

    def extend_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, batch_first={self.batch_first}"
