"""Pictures the tools draw: fonts that draw Chinese, attention maps, loss curves.

    find_font(text)                 font families that together draw text (a CJK one for Chinese), or None;
                                    FONT_HINT says how to install one
    attention_weights(model, idx)   every head's own attention weights (n_layer, n_head, T, T)
    draw_attention(...)             a PNG of them, one heatmap per layer and head (babygpt_sample.py --attention)
    loss_curves_figure(curves, ...) val loss curves, one line per run (the sweep's curves.png, docs/sweep_curves.png)

Each picture is a matplotlib Figure on its own (no pyplot, no window, no global state); matplotlib is
imported inside the functions, so importing this file is quick, reads nothing and trains nothing.
"""

import contextlib
import io
import math
import sys
import warnings

import torch

from babygpt.fused import stage_attention
from babygpt_v12_wandb import write_atomically

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


@contextlib.contextmanager
def font_context(text):
    """Within the block, matplotlib draws text in fonts that have its characters (a CJK font for Chinese when
    one is installed; without one, empty boxes, and no warning per glyph), and as text, never as math."""
    import matplotlib

    fonts = None if text.isascii() else find_font(text)
    rc = {"text.parse_math": False, **({"font.family": fonts} if fonts else {})}  # values are text, never math
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield fonts
