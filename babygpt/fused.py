"""Fused attention for the v12 model: all heads of a layer in one matrix product and one attention call.

The stages compute attention head by head on purpose: each Head is the lesson of v3 and v4. To train and
sample for real, the trainer (babygpt_train.py) and the sampler (babygpt_sample.py) compute the same
thing the way nanoGPT does, over the same parameters:

    every Head's query, key and value matrices (head_size, n_embed), stacked into one (3 * n_embed, n_embed)
    matrix per layer: one matmul gives every head's queries, keys and values;
    torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True) then runs all heads at once,
    with the same 1/sqrt(head_size) scaling, the same causal mask and dropout on the attention weights.

The stacking is a torch.cat of the Heads' own weights, done in every forward pass: gradients flow back
through it to each Head's parameters, so the model's state_dict, its checkpoints and its optimizer state
are v12's, unchanged, and a checkpoint trained fused loads into every stage and tool. The forward agrees
with the stage's per-head one to float32 rounding (tests/test_fused.py), not bit for bit: the same sums
are added in another order.

    import babygpt.fused
    babygpt.fused.set_attention(model, "fused")     # every v12 MultiHeadAttention in model, in place
    babygpt.fused.set_attention(model, "stage")     # back to v12's own per-head forward

Importing this file reads nothing and trains nothing.
"""

import contextlib

import torch
from torch.nn import functional as F

import babygpt_v12_wandb as v12

ATTENTION_IMPLEMENTATIONS = {
    "fused": "all heads in one q/k/v matmul and one scaled_dot_product_attention call (nanoGPT's way)",
    "stage": "v12's own modules, one Head at a time (the lesson's way; the reference the fused path must equal)",
}


def add_attention_option(parser, what="how attention is computed"):
    """--attn_implementation fused|stage (default fused), for the tools that take it."""
    meanings = "; ".join(f"{name}: {meaning}" for name, meaning in ATTENTION_IMPLEMENTATIONS.items())
    parser.add_argument(
        "--attn_implementation",
        choices=list(ATTENTION_IMPLEMENTATIONS),
        default="fused",
        help=f"{what}, over the same parameters: {meanings} (default: %(default)s)",
    )


def stacked_qkv_weight(heads):
    """One (3 * n_embed, n_embed) matrix from the heads' (head_size, n_embed) query, key and value matrices:
    every query matrix in head order, then every key matrix, then every value matrix. Head h owns features
    h * head_size ... (h + 1) * head_size - 1 of each third, the order in which MultiHeadAttention
    concatenates its heads. A torch.cat, so gradients reach the heads' own parameters."""
    return torch.cat([getattr(head, name).weight for name in ("query", "key", "value") for head in heads])


def split_heads(t, n_head):
    """(B, T, n_embed) -> (B, n_head, T, head_size): one row of heads per token, as attention wants them."""
    B, T, C = t.shape
    return t.view(B, T, n_head, C // n_head).transpose(1, 2)


class FusedMultiHeadAttention(v12.MultiHeadAttention):
    """v12's MultiHeadAttention with a fused forward: the same submodules and parameters (so the same
    state_dict), all heads computed together. set_attention() turns a model's attention modules into this
    class and back; nothing is copied."""

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = F.linear(x, stacked_qkv_weight(self.heads)).split(C, dim=-1)  # each (B, T, C)
        q, k, v = (split_heads(t, len(self.heads)) for t in (q, k, v))  # each (B, nh, T, hs)
        # softmax(q k^T / sqrt(hs), causal) v per head, dropout on the weights in training, as in Head
        dropout = self.heads[0].dropout.p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)  # (B, nh, T, hs)
        out = out.transpose(1, 2).reshape(B, T, C)  # heads side by side, as torch.cat in MultiHeadAttention
        return self.dropout(self.proj(out))  # (B, T, n_embed)


CLASSES = {"fused": FusedMultiHeadAttention, "stage": v12.MultiHeadAttention}


def set_attention(model, implementation):
    """Run every v12 MultiHeadAttention in model with implementation ("fused" or "stage"), in place; return
    the number of layers it applies to. Other modules (a stage before v12 has its own classes) are left alone."""
    if implementation not in CLASSES:
        raise ValueError(f"attention implementation {implementation!r}: use one of {', '.join(CLASSES)}")
    layers = [module for module in model.modules() if isinstance(module, v12.MultiHeadAttention)]
    for module in layers:
        module.__class__ = CLASSES[implementation]
    return len(layers)


def attention_implementation(model):
    """ "fused" if any attention module of model runs fused, else "stage"."""
    return "fused" if any(isinstance(m, FusedMultiHeadAttention) for m in model.modules()) else "stage"


@contextlib.contextmanager
def stage_attention(model):
    """Within the block, model runs v12's own per-head modules (what a hook on a Head needs); then as before."""
    before = attention_implementation(model)
    set_attention(model, "stage")
    try:
        yield model
    finally:
        set_attention(model, before)
