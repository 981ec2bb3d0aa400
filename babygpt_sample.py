"""Sample from a trained BabyGPT without retraining, fast: a key/value cache instead of recomputing.

babygpt_v12_wandb.py saves out_dir/checkpoint.pt (weights, model config and vocabulary). This script
loads it and continues prompts, printing each character as soon as it is chosen; it can also draw
what every attention head looks at. A sweep's trial of any stage writes such a checkpoint too: it names
its stage, whose own BabyGPT is built here. The cache needs the pre-norm blocks of v9 on; the earlier
stages are sampled step by step as their own generate() does.

Run:   python babygpt_sample.py --checkpoint out/v12/checkpoint.pt --prompt 春江 --temperature 0
                   (--checkpoint out/v12, the run folder, reads the same file)
       python babygpt_sample.py --checkpoint out/v12/checkpoint.pt --interactive
                   (a prompt per line; end with Ctrl-D, on Windows Ctrl-Z then Enter)
       python babygpt_sample.py --checkpoint out/v12/checkpoint.pt --prompt 春江花月夜 --attention attention.png
                   (one heatmap per layer and head: which earlier characters each character attends to)
       python babygpt_sample.py --help                                             (every option)

Why a cache. BabyGPT.generate runs the whole context through every layer for each new token, although
only the newest token is new: the keys and values attention computed for the earlier tokens are the
same as last step, because a token only looks back. So we keep them, per layer, and run just the newest
token through the model; its query attends over the cached keys and values.

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
bench/sample.py measures both phases.
"""

import importlib
import io
import math
import os
import pickle
import sys
import time
import unicodedata
import warnings
import zipfile

import torch
from torch.nn import functional as F

from babygpt_fused import add_attention_option, set_attention, stacked_qkv_weight, stage_attention
from babygpt_v12_wandb import (
    CharTokenizer,
    OneLineErrorParser,
    console_safe_output,
    pick_device,
    pick_next_token,
    write_atomically,
)

CHECKPOINT_FORMAT = "babygpt-checkpoint-v1"  # the tag babygpt_v12_wandb.py writes into every checkpoint
TRAIN_HINT = (  # what a learner without a checkpoint does first (the sampler and the playground say it)
    "train one first: python babygpt_v12_wandb.py (on a CPU, with the options of the CPU command in docs/index.md),"
    " which writes out/v12/checkpoint.pt"
)
STAGES = (  # the files whose checkpoints this script samples; a checkpoint's "stage" names one (none: v12's)
    "babygpt_v1.py",
    "babygpt_v2_position.py",
    "babygpt_v3_self_attention.py",
    "babygpt_v4_multihead_attention.py",
    "babygpt_v5_feedforward.py",
    "babygpt_v6_block.py",
    "babygpt_v7_residual_connection.py",
    "babygpt_v8_projection.py",
    "babygpt_v9_layer_norm.py",
    "babygpt_v10_dropout.py",
    "babygpt_v11_hyper_params.py",
    "babygpt_v12_wandb.py",
    "babygpt_train.py",  # trains v12's model
)
CACHED_FROM = STAGES.index("babygpt_v9_layer_norm.py")  # the pre-norm Blocks with a projection CachedBabyGPT runs
ATTENTION_FROM = STAGES.index("babygpt_v10_dropout.py")  # heads whose weights pass through Head.dropout


def stage_of(checkpoint):
    """The stage file that wrote a checkpoint, and its module, imported from beside this script."""
    stage = checkpoint.get("stage", "babygpt_v12_wandb.py")  # older checkpoints name none: all of them v12's
    if stage not in STAGES:
        raise ValueError(f"it names stage {stage!r}, none of {STAGES[0]} ... {STAGES[-2]}")
    module = "babygpt_v12_wandb" if stage == "babygpt_train.py" else stage.removesuffix(".py")
    return stage, importlib.import_module(module)


# ----------------------------------------------------------------------------
# Loading a checkpoint


def checkpoint_file(path):
    """The checkpoint file path names: path itself, or FOLDER/checkpoint.pt for a run folder (out/v12).

    Raises ValueError with a one-line message when there is nothing to load."""
    if os.path.isdir(path):
        inside = os.path.join(path, "checkpoint.pt")
        if not os.path.isfile(inside):
            raise ValueError(f"the folder {path} holds no checkpoint.pt; {TRAIN_HINT}")
        return inside
    if not os.path.exists(path):
        raise ValueError(f"checkpoint {path} not found; {TRAIN_HINT}")
    return path


def load_checkpoint(path, device):
    """The model (in eval mode, on device), tokenizer and checkpoint dict saved by babygpt_v12_wandb.py, or by a
    sweep's trial of any stage: the checkpoint names its stage, whose BabyGPT is built with the saved config.
    path is the file, or a run folder holding checkpoint.pt.

    Raises ValueError with a one-line message for a missing, damaged or foreign file."""
    path = checkpoint_file(path)
    try:
        with warnings.catch_warnings():  # torch warns about pickle details; the user needs one clear line
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data only
    except FileNotFoundError:  # removed since checkpoint_file looked
        raise ValueError(f"checkpoint {path} not found; {TRAIN_HINT}") from None
    except (IsADirectoryError, PermissionError) as e:
        raise ValueError(f"cannot read checkpoint {path}: {e.strerror}") from None
    except Exception as e:  # torch.load raises RuntimeError, OSError, EOFError, KeyError ... for a file it cannot parse
        if isinstance(e, pickle.UnpicklingError) and zipfile.is_zipfile(path):  # written by torch.save, refused
            raise ValueError(
                f"{path} is not a BabyGPT checkpoint: it holds Python objects other than tensors and plain data"
            ) from None
        raise ValueError(
            f"cannot load checkpoint {path}: the file is truncated or damaged, or not a PyTorch file"
        ) from None

    foreign = f"{path} is not a BabyGPT checkpoint"
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{foreign} (no format tag {CHECKPOINT_FORMAT!r}; babygpt_v12_wandb.py writes them)")
    missing = [key for key in ("model_config", "vocab", "model_state") if key not in checkpoint]
    if missing:
        raise ValueError(f"{foreign}: it lacks {', '.join(missing)}")
    config, vocab, state = checkpoint["model_config"], checkpoint["vocab"], checkpoint["model_state"]
    try:
        _, stage = stage_of(checkpoint)
    except ValueError as e:
        raise ValueError(f"{foreign}: {e}") from None
    config_keys = ("vocab_size", *stage.MODEL_HYPERPARAMETERS)
    if not isinstance(config, dict) or any(key not in config for key in config_keys):
        raise ValueError(f"{foreign}: its model_config needs {', '.join(config_keys)}")
    if not isinstance(vocab, str) or len(vocab) != config["vocab_size"]:
        raise ValueError(f"{foreign}: its vocab is not a string of vocab_size = {config['vocab_size']} characters")
    if not isinstance(state, dict):
        raise ValueError(f"{foreign}: its model_state is not a state dict")
    try:
        model = stage.BabyGPT(**{key: config[key] for key in config_keys})
        model.load_state_dict(state)
    except (ValueError, TypeError, RuntimeError) as e:
        # load_state_dict lists every mismatch over several lines; its first problem is enough to see what is wrong
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        reason = lines[1] if len(lines) > 1 else lines[0] if lines else type(e).__name__
        raise ValueError(f"{foreign}: its weights do not fit its model_config ({reason[:200]})") from None
    model.to(device).eval()  # sampling never uses dropout
    return model, CharTokenizer(vocab), checkpoint


def default_prompts(checkpoint, tokenizer):
    """The prompts the model was trained to continue (v12 saves them), else a newline, else the first character."""
    hyperparameters = checkpoint.get("hyperparameters")
    saved = hyperparameters.get("prompt") if isinstance(hyperparameters, dict) else None
    if isinstance(saved, list):
        prompts = [p for p in saved if isinstance(p, str) and p and set(p) <= set(tokenizer.vocab)]
        if prompts:
            return prompts
    return ["\n" if "\n" in tokenizer.vocab else tokenizer.vocab[0]]


# ----------------------------------------------------------------------------
# The model, run over a key/value cache


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
            # one (3 * n_embed, n_embed) matrix per layer: all queries, then keys, then values (babygpt_fused.py)
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


# ----------------------------------------------------------------------------
# Attention maps: which earlier characters each character looks at

CJK_FONTS = (  # font families that draw Chinese, in order of preference: Linux, Windows, macOS
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
    "DengXian",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Heiti TC",
    "STHeiti",
    "Arial Unicode MS",
)
LATIN_FONT = "DejaVu Sans"  # matplotlib's own default, always there: Latin letters, arrows, ↵ and ␣
FONT_HINT = (
    "no installed font draws these characters, so the attention map labels them with their ids; for the"
    " characters install a CJK font and run again: Debian/Ubuntu: sudo apt install fonts-noto-cjk;"
    " Fedora: sudo dnf install google-noto-sans-cjk-fonts; macOS: brew install --cask font-noto-sans-cjk-sc;"
    " Windows: Microsoft YaHei ships with Windows, else install Noto Sans CJK SC from"
    " github.com/notofonts/noto-cjk (right-click, Install for all users)"
)


@torch.no_grad()
def attention_weights(model, idx):
    """Every head's attention weights (n_layer, n_head, T, T) over idx (1, T), T <= block_size, on the CPU.

    They are the model's own, not recomputed: Head.forward passes its softmax weights through Head.dropout
    (the identity in eval mode) before multiplying the values by them, so a hook on each head's dropout
    sees exactly the weights the head uses. Row i holds how much token i takes from each token j <= i."""
    captured = []  # filled in forward order: layer by layer, each layer's heads in turn
    heads = [head for block in model.blocks for head in block.attention.heads]
    hooks = [
        head.dropout.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0])) for head in heads
    ]
    was_training = model.training
    model.eval()
    try:
        with stage_attention(model):  # the hooks are on v12's own Heads, which the fused path does not call
            model(idx)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    T = idx.size(1)
    if len(captured) != len(heads) or any(weights.shape != (1, T, T) for weights in captured):
        raise ValueError("this model's heads do not pass their attention weights through Head.dropout")
    n_layer = len(model.blocks)
    return torch.cat(captured).view(n_layer, len(heads) // n_layer, T, T).float().cpu()


def find_font(text, candidates=CJK_FONTS):
    """The font families (best first) that together draw every character of text, or None if none do.

    Latin text needs only matplotlib's own font; Chinese needs one of candidates. A font installed after
    matplotlib cached its font list is found too: the system font folders are searched for new files."""
    from matplotlib import font_manager, ft2font

    needed = {ord(ch) for ch in text}
    charmaps = {}  # font file -> the code points it draws

    def draws(path, code_points):
        if path not in charmaps:
            try:
                charmaps[path] = set(ft2font.FT2Font(path).get_charmap())
            except (OSError, RuntimeError):  # a damaged or unreadable font file
                charmaps[path] = set()
        return code_points <= charmaps[path]

    manager = font_manager.fontManager
    latin = font_manager.findfont(font_manager.FontProperties(family=LATIN_FONT))
    missing = {point for point in needed if not draws(latin, {point})}
    if not missing:
        return [LATIN_FONT]
    for search_system_folders in (False, True):
        if search_system_folders:
            known = {entry.fname for entry in manager.ttflist}
            for path in font_manager.findSystemFonts():
                if path not in known:
                    try:
                        manager.addfont(path)
                    except Exception:  # FreeType refuses some files (bitmap fonts, damaged ones): skip them
                        pass
        files = {entry.name: entry.fname for entry in manager.ttflist}
        for name in candidates:
            if name in files and draws(files[name], missing):
                return [name, LATIN_FONT]  # the CJK font first; matplotlib takes what it lacks from the next
    return None


def show_character(ch):
    """How a character appears on a label: a newline as ↵, a space as ␣, other control characters escaped."""
    return {"\n": "↵", " ": "␣"}.get(ch) or (repr(ch)[1:-1] if not ch.isprintable() else ch)


def shorten(pieces, separator="", width=40, max_lines=3):
    """pieces (characters, or ids) joined into lines of at most width characters, at most max_lines lines."""
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(separator) + len(piece) > width:
            lines.append("")
        lines[-1] += (separator if lines[-1] else "") + piece
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += " …" if separator else "…"
    return "\n".join(lines)


def attention_figure(weights, labels, title, fonts=None):
    """A matplotlib Figure: one heatmap per layer (row of panels) and head (column) of weights (n_layer, n_head, T, T).

    In each panel row i is the attending character, column j the attended one, labelled by labels; the
    future (j > i), which the causal mask hides from row i, is left blank (white): a colour means weight,
    even 0.0, and white means "not allowed to look". fonts: font families for labels and title."""
    import matplotlib
    import numpy as np
    from matplotlib.figure import Figure  # a Figure on its own: no pyplot, no window, no global state

    n_layer, n_head, T, _ = weights.shape
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # future[i, j]: j comes after i
    colours = matplotlib.colormaps["viridis"].with_extremes(bad="white")  # viridis has no white: blank stands out
    panel = min(max(2.4, 0.25 * T), 6.0)  # inches per panel: room for T labels, within reason
    fig = Figure(figsize=(panel * n_head + 1.5, panel * n_layer + 1.5), layout="constrained")
    axes = fig.subplots(n_layer, n_head, squeeze=False)
    step = math.ceil(T / 32)  # at most 32 labels per axis; the last character always gets one
    ticks = list(range((T - 1) % step, T, step))
    font = {"family": fonts} if fonts else {}
    font["parse_math"] = False  # the learner's text, never math: '$$' would crash, and '$5 or $5' lose its $ signs
    label_size = 10 if T <= 12 else 7
    for layer in range(n_layer):
        for head in range(n_head):
            ax = axes[layer, head]
            image = ax.imshow(
                np.ma.masked_array(weights[layer, head].numpy(), mask=future),
                cmap=colours,
                vmin=0.0,
                vmax=1.0,  # every row sums to 1: one scale for all panels
                interpolation="nearest",
            )
            ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
            ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=label_size, **font)
            ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=label_size, **font)
            if not all(len(labels[i]) == 1 for i in ticks):  # ids or escapes: upright labels would overlap
                ax.tick_params(axis="x", labelrotation=90)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight (white: the masked future)")
    fig.supxlabel("attended character (key)")
    fig.supylabel("attending character (query)")
    fig.suptitle(title, fontsize=round(4 + 3 * panel), **font)  # 11 points, larger on larger figures
    return fig


def draw_attention(model, tokenizer, prompt, continuation, path):
    """Write a PNG of every head's attention over the prompt (its last block_size characters) to path,
    with the prompt and the model's continuation in the title; return the Figure."""
    ids = tokenizer.encode(prompt)[-model.block_size :]  # what the model sees
    idx = torch.tensor([ids], dtype=torch.long, device=next(model.parameters()).device)  # (1, T)
    weights = attention_weights(model, idx)
    labels = [show_character(ch) for ch in tokenizer.decode(ids)]
    continued = [show_character(ch) for ch in continuation]
    fonts = find_font("".join(labels + continued))
    if fonts is None:  # ids rather than empty boxes
        print(FONT_HINT, file=sys.stderr)
        labels = [str(i) for i in ids]
        continued_ids = [str(i) for i in tokenizer.encode(continuation)]
        title = f"prompt ids: {shorten(labels, ' ')}\ncontinued ids: {shorten(continued_ids, ' ')}"
        title += "\n(character ids: no installed font draws these characters)"
    else:
        title = f"prompt: {shorten(labels)}\ncontinued: {shorten(continued)}"
    if len(ids) < len(prompt):
        title = f"the last {len(ids)} of the prompt's {len(prompt)} characters (block_size)\n{title}"
    fig = attention_figure(weights, labels, title, fonts)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_atomically(path, buffer.getvalue())  # a crash never leaves half a picture
    return fig


# ----------------------------------------------------------------------------
# Command line


def uses_cache(checkpoint):
    """Whether CachedBabyGPT runs this checkpoint's architecture (pre-norm Blocks with a projection: v9 on). Earlier
    stages are sampled by FullRecomputeContext, the same steps as their own generate()."""
    return STAGES.index(stage_of(checkpoint)[0]) >= CACHED_FROM


def make_parser():
    parser = OneLineErrorParser(
        description=__doc__.splitlines()[0],
        allow_abbrev=False,  # a mistyped option is an error, never a guess
    )
    parser.add_argument(
        "--checkpoint",
        default="out/v12/checkpoint.pt",
        help="checkpoint written by babygpt_v12_wandb.py or a sweep's trial of any stage, or the run folder holding"
        " it (out/v12 reads out/v12/checkpoint.pt) (default: %(default)s)",
    )
    parser.add_argument(
        "--prompt",
        action="append",
        help="text to continue; repeat for more (default: the prompts the checkpoint was trained with)",
    )
    parser.add_argument("--num_samples", type=int, default=1, help="samples per prompt (default: %(default)s)")
    parser.add_argument(
        "--max_new_tokens", type=int, default=200, help="characters to generate per sample (default: %(default)s)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1 plays safe, above 1 takes risks; 0 always takes the likeliest (greedy) (default: %(default)s)",
    )
    parser.add_argument(
        "--top_k",
        type=int,
        default=None,
        help="draw only from the k likeliest characters; 0 means no limit, as leaving it out (default: all of them)",
    )
    parser.add_argument(
        "--seed", type=int, default=1337, help="random seed: same seed, same samples (default: %(default)s)"
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--interactive",
        action="store_true",
        help=f"then read prompts from standard input, one per line, until end of input ({end_of_input_key()})",
    )
    parser.add_argument(
        "--attention",
        metavar="PNG",
        help="also draw into this PNG file a heatmap per layer and head: how much each character of the one --prompt"
        " (its last block_size characters) attends to each earlier one; the continuation goes in the title",
    )
    parser.add_argument(
        "--no_cache", action="store_true", help="recompute the whole context for every token, as generate() does"
    )
    add_attention_option(parser, "how attention is computed without the cache (the cache always stacks the heads)")
    return parser


def parse_args(argv=None):
    return make_parser().parse_args(argv)


def check_args(args):
    """Refuse values that cannot work, before the checkpoint is loaded."""
    for name in ("max_new_tokens", "num_samples"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be positive, got {getattr(args, name)}")
    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be between 0 and 2**63 - 1, got {args.seed}")
    if args.top_k is not None and args.top_k < 0:
        raise ValueError(f"--top_k must be 0 (all characters, as when it is left out) or positive, got {args.top_k}")
    args.top_k = args.top_k or None  # 0: no limit, as in the playground
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ValueError(f"--temperature must be 0 (greedy) or a finite positive number, got {args.temperature}")
    if args.prompt is not None and any(prompt == "" for prompt in args.prompt):
        raise ValueError("--prompt must not be empty: the model needs at least one character to continue")
    if args.attention is not None:
        if args.interactive:
            raise ValueError("--attention draws the one --prompt given on the command line, not --interactive ones")
        folder = os.path.dirname(os.path.abspath(args.attention))
        if os.path.isdir(args.attention) or not os.path.isdir(folder) or not args.attention.lower().endswith(".png"):
            raise ValueError(f"--attention {args.attention}: give a PNG file name (NAME.png) in an existing folder")


def end_of_input_key(platform=None):
    """The keys that end standard input at this platform's console."""
    return "Ctrl-Z then Enter" if (platform or sys.platform) == "win32" else "Ctrl-D"


END_OF_INPUT_CHARACTERS = "\x04\x1a"  # Ctrl-D and Ctrl-Z, as a console that does not act on them passes them on


def typed_prompts(lines, tokenizer):
    """The prompts among lines read from the console, until end of input or a line of only Ctrl-D or Ctrl-Z.

    Blank lines are skipped. A line with other control characters (an arrow key's escape sequence, say)
    is not text anyone meant to continue: it is skipped with one line on stderr saying so."""
    for line in lines:
        prompt = line.rstrip("\r\n")
        if not prompt.strip():
            continue
        if set(prompt.strip()) <= set(END_OF_INPUT_CHARACTERS):
            return
        controls = sorted({ch for ch in prompt if unicodedata.category(ch) == "Cc" and ch not in tokenizer.stoi})
        if controls:
            print(
                f"ignored a line with control characters {''.join(controls)!r} (typed by a shortcut key):"
                f" type plain text, and end with {end_of_input_key()}",
                file=sys.stderr,
            )
            continue
        yield prompt


def encode_prompt(tokenizer, prompt, device):
    try:
        ids = tokenizer.encode(prompt)
    except ValueError as e:  # names the characters the model has never seen
        raise ValueError(f"prompt {prompt!r}: {e}") from None
    return torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)


def write_samples(new_context, tokenizer, prompt, idx, args, generator=None):
    """Print num_samples continuations of one prompt, a character at a time, and return them (without the
    prompt); their speed goes to stderr. generator: the torch.Generator the draws come from (None: the global one)."""
    start = time.perf_counter()
    continuations = []
    for n in range(args.num_samples):
        label = prompt.replace("\n", "\\n")
        print(f"--- {label} ---" if args.num_samples == 1 else f"--- {label} ({n + 1} of {args.num_samples}) ---")
        print(prompt, end="", flush=True)
        continuations.append("")
        tokens = generate_tokens(new_context(idx), args.max_new_tokens, args.temperature, args.top_k, generator)
        for next_id in tokens:
            continuations[-1] += tokenizer.decode([next_id.item()])
            print(continuations[-1][-1], end="", flush=True)
        print("\n")
    seconds = time.perf_counter() - start
    n_tokens = args.num_samples * args.max_new_tokens
    path = "no cache" if args.no_cache else "kv cache"
    print(f"[{n_tokens} tokens in {seconds:.2f} s: {n_tokens / seconds:,.0f} tokens/s, {path}]", file=sys.stderr)
    return continuations


def main(argv=None):
    console_safe_output()  # a console that cannot show a character (GBK lacks some) shows '?', and sampling goes on
    args = parse_args(argv)
    try:  # every problem with the input is reported in one line, before anything is generated
        check_args(args)
        device = pick_device(args.device)
        args.checkpoint = checkpoint_file(args.checkpoint)  # a run folder's checkpoint.pt, named so in the header
        model, tokenizer, checkpoint = load_checkpoint(args.checkpoint, device)
        prompts = args.prompt
        if prompts is None:
            prompts = [] if args.interactive else default_prompts(checkpoint, tokenizer)
        encoded = [encode_prompt(tokenizer, prompt, device) for prompt in prompts]
        if args.attention is not None and len(prompts) != 1:
            raise ValueError(
                f"--attention draws one prompt's attention: give exactly one --prompt (not {len(prompts)})"
            )
        stage = stage_of(checkpoint)[0]
        if args.attention is not None and STAGES.index(stage) < ATTENTION_FROM:
            raise ValueError(f"--attention draws the heads of {STAGES[ATTENTION_FROM]} on; this model is {stage}'s")
    except ValueError as e:
        sys.exit(f"error: {e}")
    args.no_cache = args.no_cache or not uses_cache(checkpoint)  # before v9, the stage's generate() way

    generator = torch.Generator(device).manual_seed(args.seed)  # its own: the same seed, the same text, whatever
    # else in the process draws from torch's global generator (a notebook, a test, a tool that imports this)
    set_attention(model, args.attn_implementation)  # the same weights either way
    if args.no_cache:
        new_context = lambda idx: FullRecomputeContext(model, idx)
    else:
        cached_model = CachedBabyGPT(model)  # the heads are stacked once, not per sample
        new_context = lambda idx: CachedContext(cached_model, idx)
    n_params = sum(p.numel() for p in model.parameters())
    val_loss = checkpoint.get("val_loss")
    print(
        f"checkpoint {args.checkpoint}: step {checkpoint.get('step')}"
        f"{f', val loss {val_loss:.4f}' if isinstance(val_loss, float) else ''} | {n_params:,} parameters,"
        f" block_size {model.block_size}, vocabulary {tokenizer.vocab_size:,} | device {device}",
        file=sys.stderr,
    )
    try:
        for prompt, idx in zip(prompts, encoded, strict=True):
            continuations = write_samples(new_context, tokenizer, prompt, idx, args, generator)
        if args.attention is not None:
            try:
                draw_attention(model, tokenizer, prompts[0], continuations[0], args.attention)
            except OSError as e:
                sys.exit(f"error: cannot write --attention {args.attention}: {e.strerror or e}")
            n_layer, n_head = len(model.blocks), len(model.blocks[0].attention.heads)
            print(f"attention of {n_layer} layers x {n_head} heads drawn to {args.attention}", file=sys.stderr)
        if args.interactive:
            if sys.stdin.isatty():
                print(f"type a prompt and press Enter; {end_of_input_key()} ends", file=sys.stderr)
            for prompt in typed_prompts(sys.stdin, tokenizer):
                try:
                    idx = encode_prompt(tokenizer, prompt, device)
                except ValueError as e:  # one bad line must not end the session
                    print(f"error: {e}", file=sys.stderr)
                    continue
                write_samples(new_context, tokenizer, prompt, idx, args, generator)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # e.g. piped into head: stop quietly; point stdout elsewhere so exit doesn't complain
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
