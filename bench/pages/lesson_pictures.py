"""The lessons' pictures of real trained models, in English and in Chinese.

    python -m bench lesson_pictures                  # all three (needs lesson_runs' models and data/ci.txt)
    python -m bench lesson_pictures --pictures v3    # one

The models are the ones bench/measure/lesson_runs.py trains for the lessons (bench/out/lessons/vN.pt: each stage at the
progression's equal budget, seed 1337), and the text is the val set of data/ci.txt, which they never trained on.

  v3   docs/learn/v3-attention.png   the one attention head of v3 over the opening of 虞美人 (李煜): for each
                                     character (row), how much it takes from each earlier one (column)
  v9   docs/learn/v9-scale.png       the size (standard deviation) of the vectors through the stack, v8 (no
                                     layer norm) against v9: the residual stream after each Block, and what
                                     each sublayer receives
  v10  docs/learn/v10-gap.png        train and val loss over the steps, v9 (no dropout) against v10, from the
                                     lesson runs' evaluations (bench/results/lessons.jsonl)

Each picture is drawn twice, labels in English (NAME.png) and in Chinese (NAME.zh.png); the Chinese labels need
a CJK font, found through matplotlib's font manager as babygpt/pictures.py finds it. The figures the pictures show
are printed too. The weights in the pictures are the models' own: the softmax of each head is recorded as the
stage computes it (the stage's `F` is wrapped while the model runs), never recomputed here.
"""

import argparse
import os
import sys

from bench.runs import ROOT, STAGE_MODULES, load_results

MODELS = os.path.join(ROOT, "bench", "out", "lessons")
SAMPLES = os.path.join(ROOT, "bench", "results", "lessons.jsonl")
OUT = os.path.join(ROOT, "docs", "learn")
LINE = "虞美人 李煜\n春花秋月何时了，往事知多少？\n小楼昨夜又东风，故国不堪回首月明中。"  # in the val set (99.9%)
LABELS = ["↵" if ch == "\n" else "␣" if ch == " " else ch for ch in LINE]  # a line break and a space, visible
SCALE_WINDOWS = 64  # val windows averaged for the v9 picture
# each label of the pictures in both languages, side by side: its name and the English, then the Chinese below;
# " / " parts a list (the ticks of an axis)
WORDS_EN_ZH = """
attention_title  v3's one attention head over a ci it never trained on
                 v3 唯一的注意力头，读一首没训练过的词
attention_x      earlier character (looked at)
                 前面的字（被看的）
attention_y      character (looking)
                 当前的字（在看的）
attention_bar    share of attention
                 注意力的份额
scale_title      How large the vectors are, block by block (std over {n} val windows)
                 向量有多大，一层一层看（{n} 个验证集窗口上的标准差）
stream           residual stream
                 残差流
stream_y         std of the vectors
                 向量的标准差
inputs           what each sublayer receives
                 每个子层收到的输入
positions        embeddings / Block 1 / Block 2 / Block 3 / Block 4
                 嵌入之后 / Block 1 / Block 2 / Block 3 / Block 4
sublayers        attn 1 / ffwd 1 / attn 2 / ffwd 2 / attn 3 / ffwd 3 / attn 4 / ffwd 4
                 注意力 1 / 前馈 1 / 注意力 2 / 前馈 2 / 注意力 3 / 前馈 3 / 注意力 4 / 前馈 4
v8               v8 (no layer norm)
                 v8（没有层归一化）
v9               v9 (layer norm)
                 v9（有层归一化）
gap_title        Train and val loss at the equal budget: v9 (no dropout) and v10 (dropout 0.1)
                 同一预算下的训练损失和验证损失：v9（没有 dropout）和 v10（dropout 0.1）
losses           loss
                 损失
gap              val loss − train loss
                 验证损失 − 训练损失
step             step
                 步数
train            {stage} train
                 {stage} 训练
val              {stage} val
                 {stage} 验证
"""


def words_of(table):
    """{language: {name: text or list of texts}} of a table as WORDS_EN_ZH writes it."""
    lines = table.strip("\n").splitlines()
    words = {"en": {}, "zh": {}}
    for english, chinese in zip(lines[::2], lines[1::2], strict=True):
        name, english = english.split(maxsplit=1)
        for language, text in (("en", english), ("zh", chinese.strip())):
            words[language][name] = text.split(" / ") if " / " in text else text
    return words


WORDS = words_of(WORDS_EN_ZH)


def load_model(stage):
    """The stage's module and its trained lesson model (eval mode), and the tokenizer."""
    import importlib

    import torch

    module = importlib.import_module(STAGE_MODULES[stage])
    path = os.path.join(MODELS, f"{stage}.pt")
    if not os.path.exists(path):
        sys.exit(f"error: {os.path.relpath(path, ROOT)} not found; train it with: python -m bench lesson_runs")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = module.BabyGPT(**saved["model_config"])
    model.load_state_dict(saved["model_state"])
    return module, model.eval(), module.CharTokenizer(saved["vocab"])


class RecordingSoftmax:
    """Stands in for a stage's `F` (torch.nn.functional) and keeps every softmax it computes."""

    def __init__(self, functional):
        self.functional = functional
        self.outputs = []

    def __getattr__(self, name):
        return getattr(self.functional, name)

    def softmax(self, *args, **kwargs):
        out = self.functional.softmax(*args, **kwargs)
        self.outputs.append(out)
        return out


def attention_of(module, model, ids):
    """Every softmax the model computes over ids (1, T): its heads' attention weights, in forward order."""
    import torch

    recorder = RecordingSoftmax(module.F)
    module.F = recorder
    try:
        with torch.no_grad():
            model(ids)
    finally:
        module.F = recorder.functional
    return recorder.outputs


def val_data(module, tokenizer):
    text = module.load_corpus(os.path.join(ROOT, "data", "ci.txt"))
    import torch

    return module.split_data(torch.tensor(tokenizer.encode(text)), 64)[1]


def plt_for(language):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from babygpt.pictures import find_font

    text = "".join(str(v) for v in WORDS[language].values()) + "".join(LABELS)
    fonts = find_font(text)
    if fonts is None:
        sys.exit("error: no installed font draws Chinese; install one (Debian/Ubuntu: apt install fonts-noto-cjk)")
    plt.rcParams["font.family"] = fonts
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def save(fig, name, language):
    path = os.path.join(OUT, f"{name}.png" if language == "en" else f"{name}.zh.png")
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    print(f"  {os.path.relpath(path, ROOT)}")


def draw_attention():
    import torch

    module, model, tokenizer = load_model("v3")
    ids = torch.tensor([tokenizer.encode(LINE)])
    (weights,) = attention_of(module, model, ids)
    weights = weights[0]  # (T, T)
    previous = weights.diagonal(-1).mean().item()
    own = weights.diagonal().mean().item()
    print(f"v3: mean share on the character itself {own:.2f}, on the one just before {previous:.2f}")
    for language, words in WORDS.items():
        plt = plt_for(language)
        fig, ax = plt.subplots(figsize=(8.4, 7.6))
        image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0)
        ax.set_xticks(range(len(LABELS)), LABELS, fontsize=8)
        ax.set_yticks(range(len(LABELS)), LABELS, fontsize=8)
        ax.set_xlabel(words["attention_x"])
        ax.set_ylabel(words["attention_y"])
        ax.set_title(words["attention_title"])
        fig.colorbar(image, ax=ax, shrink=0.8, label=words["attention_bar"])
        fig.tight_layout()
        save(fig, "v3-attention", language)
        plt.close(fig)


def scales(stage, windows):
    """std of the residual stream after the embeddings and after each Block, and of each sublayer's input."""
    import torch

    module, model, tokenizer = load_model(stage)
    data = val_data(module, tokenizer)
    stream, inputs = [], []
    hooks = [model.blocks[0].register_forward_pre_hook(lambda m, args: stream.append(args[0]))]
    for block in model.blocks:
        hooks.append(block.register_forward_hook(lambda m, args, out: stream.append(out)))
        for sublayer in (block.attention, block.feed_forward):
            hooks.append(sublayer.register_forward_pre_hook(lambda m, args: inputs.append(args[0])))
    starts = torch.randint(len(data) - 64, (windows,), generator=torch.Generator().manual_seed(0))
    x = data[starts[:, None] + torch.arange(64)]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return [t.std().item() for t in stream], [t.std().item() for t in inputs]


def draw_scale():
    measured = {stage: scales(stage, SCALE_WINDOWS) for stage in ("v8", "v9")}
    for stage, (stream, inputs) in measured.items():
        print(f"{stage}: residual stream std {' '.join(f'{s:.2f}' for s in stream)}")
        print(f"{stage}: sublayer input std {' '.join(f'{s:.2f}' for s in inputs)}")
    for language, words in WORDS.items():
        plt = plt_for(language)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
        for stage, marker in (("v8", "o"), ("v9", "s")):
            stream, inputs = measured[stage]
            left.plot(range(len(stream)), stream, marker=marker, label=words[stage])
            right.plot(range(len(inputs)), inputs, marker=marker, label=words[stage])
        left.set_xticks(range(len(words["positions"])), words["positions"])
        right.set_xticks(range(len(words["sublayers"])), words["sublayers"], rotation=45)
        for ax, title in ((left, words["stream"]), (right, words["inputs"])):
            ax.set_title(title)
            ax.set_ylabel(words["stream_y"])
            ax.set_yscale("log")
            ax.set_yticks([0.05, 0.1, 0.2, 0.5, 1, 2])
            ax.yaxis.set_major_formatter("{x:.2g}")  # 0.05, not 5 × 10⁻²
            ax.yaxis.set_minor_formatter("")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(words["scale_title"].format(n=SCALE_WINDOWS))
        fig.tight_layout()
        save(fig, "v9-scale", language)
        plt.close(fig)


def draw_gap():
    runs = load_results(SAMPLES)
    missing = [s for s in ("v9", "v10") if s not in runs]
    if missing:
        sys.exit(f"error: no lesson run of {', '.join(missing)} yet: python -m bench lesson_runs")
    for stage in ("v9", "v10"):
        history = runs[stage]["history"]
        print(f"{stage}: " + ", ".join(f"step {h['step']}: {h['val_loss'] - h['train_loss']:+.3f}" for h in history))
    for language, words in WORDS.items():
        plt = plt_for(language)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
        for stage, color in (("v9", "tab:blue"), ("v10", "tab:orange")):
            history = runs[stage]["history"]
            steps = [h["step"] for h in history]
            left.plot(
                steps, [h["train_loss"] for h in history], "--", color=color, label=words["train"].format(stage=stage)
            )
            left.plot(steps, [h["val_loss"] for h in history], "-", color=color, label=words["val"].format(stage=stage))
            gaps = [h["val_loss"] - h["train_loss"] for h in history]
            right.plot(steps, gaps, "-o", color=color, label=stage)
        left.set_ylabel(words["losses"])
        left.set_ylim(top=7)
        right.set_ylabel(words["gap"])
        right.axhline(0, color="grey", lw=0.8)
        for ax in (left, right):
            ax.set_xlabel(words["step"])
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(words["gap_title"])
        fig.tight_layout()
        save(fig, "v10-gap", language)
        plt.close(fig)


PICTURES = {"v3": draw_attention, "v9": draw_scale, "v10": draw_gap}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--pictures", nargs="+", choices=list(PICTURES), default=list(PICTURES))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    for name in args.pictures:
        PICTURES[name]()


if __name__ == "__main__":
    main()
