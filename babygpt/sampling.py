"""Generation over a key/value cache: the sampler's and the playground's way to continue a prompt fast.

Why a cache. BabyGPT.generate runs the whole context through every layer for each new token, although
only the newest token is new: the keys and values attention computed for the earlier tokens are the
same as last step, because a token only looks back. So we keep them, per layer, and run just the newest
token through the model; its query attends over the cached keys and values (CachedBabyGPT, CachedContext).
FullRecomputeContext is the reference, generate()'s own steps; generate_tokens() draws from either.

Same tokens, not the same bits. The cached path does the same arithmetic as generate() in another order
(all heads in one matmul, one query against cached keys), so its logits agree with generate()'s to float
rounding, not bit for bit: on a CPU they differ by a few millionths (up to 5e-6 for a small trained
model whose logits reach 16). The chosen characters are the same unless the two likeliest tie to within
that margin (greedy), or a seeded draw lands that close to the boundary between two characters: rare
enough that tests/test_sample.py asserts identical text, and checks the logits to 5e-5.

Where the cache stops helping. Position embeddings are absolute and the model sees at most block_size
tokens. Once the text is longer, the window slides by one token per step, every token in it moves to
a new position, and every cached key and value is stale. To give the tokens that generate() gives, the
cache is then rebuilt over the last block_size tokens at every step: past block_size the cached path
costs a full forward per token, like --no_cache (a little less: see CachedBabyGPT.__call__).
python -m bench sample measures both phases.

Importing this file reads nothing and trains nothing.
"""

import torch
from torch.nn import functional as F

from babygpt.fused import stacked_qkv_weight
from babygpt_v12_wandb import pick_next_token


class KVCache:
    """Every layer's keys and values for the tokens seen so far, in buffers of block_size positions."""

    def __init__(self, n_layer, batch_size, n_head, block_size, head_size, device, dtype):
        shape = (n_layer, batch_size, n_head, block_size, head_size)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions 0 .. length - 1 hold keys and values


class CachedBabyGPT:
    """A BabyGPT run over a KVCache: its own weights, with each layer's heads stacked for speed.

    Every Head has its own key, query and value matrices (head_size, n_embed). Stacked into one
    (3 * n_embed, n_embed) matrix per layer, a single matmul computes all heads' queries, keys and
    values, and attention runs over all heads at once. Head h owns features h*head_size ... (h+1)*head_size - 1,
    the order in which MultiHeadAttention concatenates its heads. Build it after the weights are final.
    """

    def __init__(self, model):
        model.eval()  # sampling never uses dropout
        self.model = model
        self.block_size = model.block_size
        heads = model.blocks[0].attention.heads
        self.n_head, self.head_size = len(heads), heads[0].key.out_features
        with torch.no_grad():
            # one (3 * n_embed, n_embed) matrix per layer: all queries, then keys, then values (babygpt/fused.py)
            self.qkv_weights = [stacked_qkv_weight(block.attention.heads) for block in model.blocks]

    def new_cache(self, batch_size, device):
        dtype = self.model.lm_head.weight.dtype
        n_layer = len(self.model.blocks)
        return KVCache(n_layer, batch_size, self.n_head, self.block_size, self.head_size, device, dtype)

    @torch.no_grad()
    def __call__(self, idx, cache):
        """Logits (B, vocab_size) for the token after idx (B, T).

        idx takes positions cache.length ... cache.length + T - 1; its keys and values join the cache.
        T is the whole prompt when the cache is empty, and 1 (the newest token) afterwards."""
        B, T = idx.shape
        start, end = cache.length, cache.length + T
        if end > self.block_size:
            raise ValueError(f"{end} tokens do not fit the cache of block_size {self.block_size}")
        model = self.model
        positions = torch.arange(start, end, device=idx.device)  # (T,)
        x = model.token_embedding_table(idx) + model.position_embedding_table(positions)  # (B, T, n_embed)
        last = len(model.blocks) - 1
        for layer in range(len(model.blocks)):
            # Of the last layer, later steps need the keys and values of every position but the output of the
            # last one only (the next token's logits): its feed-forward and lm_head skip the other T - 1.
            x = self.block(layer, x, cache, start, queries_from=T - 1 if layer == last else 0)
        cache.length = end
        x = model.ln_f(x[:, -1, :])  # (B, n_embed)
        return model.lm_head(x)  # (B, vocab_size)

    def block(self, layer, x, cache, start, queries_from=0):
        """One Block (pre-norm attention then feed-forward) for new positions start ... start + T - 1.

        Returns the block's output for positions start + queries_from onwards."""
        block = self.model.blocks[layer]
        B, T, C = x.shape
        q, k, v = F.linear(block.ln1(x), self.qkv_weights[layer]).split(C, dim=-1)  # each (B, T, C)
        # (B, T, C) -> (B, n_head, T, head_size): one row of heads per token
        q, k, v = (t.view(B, T, self.n_head, self.head_size).transpose(1, 2) for t in (q, k, v))
        end = start + T
        cache.keys[layer, :, :, start:end] = k
        cache.values[layer, :, :, start:end] = v
        keys = cache.keys[layer, :, :, :end]  # (B, n_head, end, head_size): every position so far
        values = cache.values[layer, :, :, :end]
        q, x = q[:, :, queries_from:], x[:, queries_from:]  # the positions whose output is wanted
        Tq = q.size(2)
        # (B, nh, Tq, hs) @ (B, nh, hs, end) -> (B, nh, Tq, end), scaled as in Head
        scores = q @ keys.transpose(-2, -1) * self.head_size**-0.5
        if Tq > 1:  # query i sits at position end - Tq + i and may look at keys 0 ... end - Tq + i
            allowed = torch.ones(Tq, end, dtype=torch.bool, device=x.device).tril(diagonal=end - Tq)
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = F.softmax(scores, dim=-1)  # (B, nh, Tq, end)
        out = weights @ values  # (B, nh, Tq, end) @ (B, nh, end, hs) -> (B, nh, Tq, hs)
        out = out.transpose(1, 2).reshape(B, Tq, C)  # heads side by side, as torch.cat in MultiHeadAttention
        x = x + block.attention.proj(out)  # (B, Tq, C)
        return x + block.feed_forward(block.ln2(x))


# ----------------------------------------------------------------------------
# Generation: a context gives the logits for the next token; a generator picks and yields tokens


class FullRecomputeContext:
    """The text so far; the next token's logits come from running the model over the last block_size tokens,
    exactly as BabyGPT.generate does. The reference the cached path must match (--no_cache)."""

    def __init__(self, model, idx):
        self.model, self.idx = model, idx[:, -model.block_size :]

    def append(self, next_id):
        self.idx = torch.cat((self.idx, next_id), dim=1)[:, -self.model.block_size :]  # (B, <= block_size)

    @torch.no_grad()
    def next_logits(self):
        logits, _ = self.model(self.idx)  # (B, T, vocab_size)
        return logits[:, -1, :]  # (B, vocab_size)


class CachedContext:
    """The text so far and a KV cache over its last block_size tokens; appending a token runs only that token,
    until the text outgrows block_size."""

    def __init__(self, cached_model, idx):
        self.model = cached_model
        self.cache = cached_model.new_cache(idx.size(0), idx.device)
        self.window = idx[:, -cached_model.block_size :]  # (B, <= block_size): what the model sees
        self.logits = self.model(self.window, self.cache)

    def append(self, next_id):
        self.window = torch.cat((self.window, next_id), dim=1)[:, -self.model.block_size :]
        if self.cache.length < self.model.block_size:
            self.logits = self.model(next_id, self.cache)  # the newest token, at position cache.length
        else:
            # The window slid by one: every token moved to a new position, so every cached key and value
            # is stale. Rebuild them over the window, as generate() recomputes it: the same logits (to rounding).
            self.cache.length = 0
            self.logits = self.model(self.window, self.cache)

    def next_logits(self):
        return self.logits


def generate_tokens(context, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    """Yield max_new_tokens token ids, each (B, 1), one at a time as soon as each is chosen. generator: the
    torch.Generator the draws come from (None: torch's global one), on the context's device."""
    next_id = None
    for _ in range(max_new_tokens):
        if next_id is not None:  # appended only when another token is asked for: no work after the last one
            context.append(next_id)
        next_id = pick_next_token(context.next_logits(), temperature, top_k, generator)
        yield next_id
