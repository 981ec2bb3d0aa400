"""v3's attention worked through on four characters, with the numbers of the trained model, for the v3 lesson.

    python -m bench v3_worked            # compute from lesson_runs' v3 model (trains it first if it is
                                         # missing: about 8 minutes on one thread), record, write both pages
    python -m bench v3_worked --write    # write both pages from the recorded numbers only (no model, no torch)
    python -m bench v3_worked --check    # write nothing; exit 1 if a page differs from what --write writes
    python -m bench v3_worked --picture  # only draw docs/learn/v3-worked.png and .zh.png from the recorded numbers

The model is v3 as the lesson trains it (bench/measure/lesson_runs.py: the equal budget, seed 1337, one thread, the
stage's own setup() and train(); its weights in bench/out/lessons/v3.pt, not committed), and the text is the
first four characters of a line of the val set, 春花秋月 (李煜, 虞美人), read from positions 0 to 3. Through the
model's own layers (its token and position embeddings, its one Head's query, key and value), step by step as
Head.forward computes them:

  scores     q · k for every pair of characters (q, k: head_size numbers each)
  scaled     the scores times 1/sqrt(head_size)
  masked     the pairs where a character would look ahead set to -inf (the lower-triangular mask)
  weights    softmax of each row: what each character takes from each earlier one, summing to 1
  output     weights @ v: each character's mix of the values (the first VALUE_COLUMNS of head_size numbers shown)

and the head's own output Head.forward(x) for the same x, which must equal the mix computed here. Steps 3 and 4
are also drawn, each cell with its number (docs/learn/v3-worked.png, and v3-worked.zh.png with Chinese labels).
All of it is recorded in bench/results/v3_worked.json and written into docs/learn/v3.md and v3.zh.md between the lines
`<!-- measured: v3-worked -->` and `<!-- end measured -->`. tests/test_v3_worked.py checks that the pages hold
what --write writes and that the recorded numbers follow from each other (scaled = scores/sqrt(d), each row
of weights is the softmax of its masked row and sums to 1, output = weights @ values).
"""

import math
import os
import re
import subprocess
import sys

from bench.runs import ROOT, exit_if_stale, fill_measured, load_results, read_json, record_parser, recorded

RESULTS = os.path.join(ROOT, "bench", "results", "v3_worked.json")
MODEL = os.path.join(ROOT, "bench", "out", "lessons", "v3.pt")
LESSON_RUNS = os.path.join(ROOT, "bench", "results", "lessons.jsonl")
PAGES = {"en": os.path.join(ROOT, "docs", "learn", "v3.md"), "zh": os.path.join(ROOT, "docs", "learn", "v3.zh.md")}
PICTURE = {
    "en": os.path.join(ROOT, "docs", "learn", "v3-worked.png"),
    "zh": os.path.join(ROOT, "docs", "learn", "v3-worked.zh.png"),
}
TEXT = "春花秋月"  # the first four characters of 春花秋月何时了，往事知多少？ (李煜, 虞美人), in the val set
VALUE_COLUMNS = 4  # of the values and the output, how many of the head_size numbers the tables show
COMMAND = "python -m bench v3_worked"
NAME = "v3-worked"

WORDS = {
    "en": {
        "intro": "Computed by `{command}` from the trained v3 of this lesson (the model of the picture above, "
        "val loss {val_loss:.3f}), on the first four characters of 虞美人's first line, {text}, as positions 0 "
        "to 3. Each character's vector (token embedding + position embedding, {n_embed} numbers) goes through "
        "the head's three linear layers: q, k and v have {head_size} numbers each. Rows are the character that "
        "looks (its query), columns the character looked at (its key).",
        "scores": "**1. Scores, q · k.** One dot product for every pair:",
        "scaled": "**2. Scaled**, divided by √{head_size} = {sqrt:.2f}, so that softmax stays soft:",
        "masked": "**3. Masked.** Above the diagonal a character would look ahead: −∞, so that softmax gives "
        "those pairs nothing:",
        "weights": "**4. Softmax of each row**: the attention weights. Each row sums to 1:",
        "values": "**5. The weighted sum of the values.** The first {columns} of the {head_size} numbers of each "
        "character's value v, and of its output, the same weights times the values:",
        "value_row": "v({ch})",
        "output_row": "output({ch})",
        "sum": "For {last}, the first number of its output is {terms} = {total}. The head's own "
        "`forward` gives the same output for all {head_size} numbers of all four characters (largest "
        "difference {diff:.1e}).",
        "character": "looks ↓ at →",
        "picture_title": "v3's one head on 春花秋月: from scores to weights",
        "picture_scores": "3. scaled and masked scores",
        "picture_weights": "4. softmax of each row: the weights",
        "picture_x": "character looked at (key)",
        "picture_y": "character looking (query)",
        "number": "number {k}",
    },
    "zh": {
        "intro": "由 `{command}` 从这一课训练好的 v3（就是上图那个模型，验证损失 {val_loss:.3f}）算出。输入是"
        "《虞美人》第一行的前四个字“{text}”，位置 0 到 3。每个字的向量（词元嵌入 + 位置嵌入，{n_embed} 个数）"
        "经过这个头的三个线性层，得到 q、k、v，各有 {head_size} 个数。下面各表中，行是“在看”的字（用它的查询），"
        "列是“被看”的字（用它的键）。",
        "scores": "**1. 分数 q · k。** 每一对字做一次点积：",
        "scaled": "**2. 缩放**：除以 √{head_size} = {sqrt:.2f}，让 softmax 保持“软”：",
        "masked": "**3. 掩码。** 对角线上方是往后看的位置，填入 −∞，softmax 之后这些位置的权重就是 0：",
        "weights": "**4. 每一行做 softmax**，得到注意力权重，每行加起来等于 1：",
        "values": "**5. 对值加权求和。** 下表是每个字的值 v 的前 {columns} 个数（共 {head_size} 个），"
        "以及它的输出，即用上面的权重对各个值加权求和：",
        "value_row": "v（{ch}）",
        "output_row": "输出（{ch}）",
        "sum": "以“{last}”为例，它的输出的第一个数是 {terms} = {total}。这个头自己的 `forward` 算出的输出，"
        "四个字的全部 {head_size} 个数都和这里一样（最大差 {diff:.1e}）。",
        "character": "在看的字 ↓ 被看的字 →",
        "picture_title": "v3 的注意力头读“春花秋月”：从分数到权重",
        "picture_scores": "3. 缩放并掩码后的分数",
        "picture_weights": "4. 每行做 softmax：注意力权重",
        "picture_x": "被看的字（键）",
        "picture_y": "在看的字（查询）",
        "number": "第 {k} 个数",
    },
}


def compute():
    """The worked numbers, from the lesson's v3 model (trained first if missing)."""
    import torch

    torch.set_num_threads(1)
    import babygpt_v3_self_attention as v3

    if not os.path.exists(MODEL):
        print("bench/out/lessons/v3.pt is missing: training it with python -m bench lesson_runs --stages v3 (~8 min)")
        command = [sys.executable, "-m", "bench", "lesson_runs", "--stages", "v3"]
        if subprocess.run(command, cwd=ROOT).returncode != 0 or not os.path.exists(MODEL):
            sys.exit("error: python -m bench lesson_runs --stages v3 did not write bench/out/lessons/v3.pt")
    saved = torch.load(MODEL, map_location="cpu")
    model = v3.BabyGPT(**saved["model_config"])
    model.load_state_dict(saved["model_state"])
    model.eval()
    tokenizer = v3.CharTokenizer(saved["vocab"])
    head = model.attention
    with torch.no_grad():
        idx = torch.tensor([tokenizer.encode(TEXT)])  # (1, 4)
        positions = torch.arange(len(TEXT))
        x = model.token_embedding_table(idx) + model.position_embedding_table(positions)  # (1, T, n_embed)
        q, k, v = head.query(x)[0], head.key(x)[0], head.value(x)[0]  # (T, head_size) each
        scores = q @ k.T  # (T, T)
        scaled = scores / math.sqrt(k.size(-1))
        masked = scaled.masked_fill(head.tril[: len(TEXT), : len(TEXT)] == 0, float("-inf"))
        weights = torch.softmax(masked, dim=-1)
        output = weights @ v  # (T, head_size)
        difference = (head(x)[0] - output).abs().max().item()
    lesson_run = load_results(LESSON_RUNS).get("v3", {})
    return {
        "command": COMMAND,
        "text": TEXT,
        "model_config": saved["model_config"],
        "val_loss": lesson_run.get("val_loss"),
        "head_size": k.size(-1),
        "scores": scores.tolist(),
        "scaled": scaled.tolist(),
        "weights": weights.tolist(),
        "values": v[:, :VALUE_COLUMNS].tolist(),
        "output": output[:, :VALUE_COLUMNS].tolist(),
        "forward_difference": difference,
    }


def draw(results):
    """docs/learn/v3-worked.png and v3-worked.zh.png: the masked scores and the weights of the recorded run,
    each cell with its number, labels in the page's language (a CJK font found as babygpt/pictures.py finds it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from babygpt.pictures import find_font

    chars = list(results["text"])
    n = len(chars)
    scaled = np.array(results["scaled"])
    future = np.triu(np.ones((n, n), dtype=bool), k=1)
    weights = np.array(results["weights"])
    for language, words in WORDS.items():
        fonts = find_font("".join(str(v) for v in words.values()) + results["text"])
        if fonts is None:
            sys.exit("error: no installed font draws Chinese; install one (Debian/Ubuntu: apt install fonts-noto-cjk)")
        plt.rcParams["font.family"] = fonts
        plt.rcParams["axes.unicode_minus"] = False
        fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.6))
        panels = [
            (np.ma.masked_array(scaled, future), "cividis", words["picture_scores"], 2),
            (np.ma.masked_array(weights, future), "viridis", words["picture_weights"], 3),
        ]
        for ax, (values, cmap, title, digits) in zip(axes, panels, strict=True):
            colours = plt.get_cmap(cmap).copy()
            colours.set_bad("#d9d9d9")  # the masked pairs: grey
            image = ax.imshow(values, cmap=colours, vmin=0 if digits == 3 else None, vmax=1 if digits == 3 else None)
            for i in range(n):
                for j in range(n):
                    masked_text = "−∞" if digits == 2 else "0"  # after softmax a masked pair weighs 0
                    text = masked_text if future[i, j] else number(values[i, j], digits)
                    light = not future[i, j] and image.norm(values[i, j]) < 0.5
                    ax.text(j, i, text, ha="center", va="center", fontsize=12, color="white" if light else "black")
            ax.set_xticks(range(n), chars, fontsize=13)
            ax.set_yticks(range(n), chars, fontsize=13)
            ax.set_xlabel(words["picture_x"])
            ax.set_ylabel(words["picture_y"])
            ax.set_title(title)
        fig.suptitle(words["picture_title"])
        fig.tight_layout()
        path = PICTURE[language]
        fig.savefig(path + ".tmp.png", dpi=100)
        os.replace(path + ".tmp.png", path)
        plt.close(fig)
        print(f"drew {os.path.relpath(path, ROOT)}")


def table(header, rows, cells):
    lines = ["| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]
    lines += ["| " + " | ".join([label, *row]) + " |" for label, row in zip(rows, cells, strict=True)]
    return "\n".join(lines)


def number(value, digits):
    return "−∞" if value == -math.inf else f"{value:.{digits}f}".replace("-", "−")


def block(results, language):
    words = WORDS[language]
    chars = list(results["text"])
    n = len(chars)
    d = results["head_size"]
    header = [words["character"], *chars]
    masked = [
        [value if j <= i else -math.inf for j, value in enumerate(row)] for i, row in enumerate(results["scaled"])
    ]
    parts = [
        words["intro"].format(
            command=results["command"],
            val_loss=results["val_loss"],
            text=results["text"],
            n_embed=results["model_config"]["n_embed"],
            head_size=d,
        ),
        words["scores"],
        table(header, chars, [[number(x, 2) for x in row] for row in results["scores"]]),
        words["scaled"].format(head_size=d, sqrt=math.sqrt(d)),
        table(header, chars, [[number(x, 2) for x in row] for row in results["scaled"]]),
        words["masked"],
        table(header, chars, [[number(x, 2) for x in row] for row in masked]),
        words["weights"],
        table(header, chars, [[number(x, 3) for x in row] for row in results["weights"]]),
        words["values"].format(columns=VALUE_COLUMNS, head_size=d),
        table(
            ["", *(words["number"].format(k=k) for k in range(1, VALUE_COLUMNS + 1))],
            [words["value_row"].format(ch=ch) for ch in chars] + [words["output_row"].format(ch=ch) for ch in chars],
            [[number(x, 3) for x in row] for row in results["values"] + results["output"]],
        ),
    ]
    last = n - 1

    def factor(value):  # a negative value in brackets: 0.25 × (−0.113)
        return f"({number(value, 3)})" if value < 0 else number(value, 3)

    terms = " + ".join(
        f"{number(results['weights'][last][j], 3)} × {factor(results['values'][j][0])}" for j in range(n)
    )
    total = number(results["output"][last][0], 3)
    difference = results["forward_difference"]
    parts.append(words["sum"].format(last=chars[last], terms=terms, total=total, head_size=d, diff=difference))
    return f"<!-- measured: {NAME} -->\n\n" + "\n\n".join(parts) + "\n\n<!-- end measured -->"


def inconsistencies(results, tolerance=1e-4):
    """Where the recorded numbers do not follow from each other as attention computes them, one line each."""
    found = []
    n, d = len(results["text"]), results["head_size"]
    for i in range(n):
        for j in range(n):
            if abs(results["scaled"][i][j] - results["scores"][i][j] / math.sqrt(d)) > tolerance:
                found.append(f"scaled[{i}][{j}] is not scores[{i}][{j}] / sqrt({d})")
        exps = [math.exp(results["scaled"][i][j]) if j <= i else 0.0 for j in range(n)]
        for j in range(n):
            if abs(results["weights"][i][j] - exps[j] / sum(exps)) > tolerance:
                found.append(f"weights[{i}][{j}] is not the softmax of row {i}, masked")
        for c in range(len(results["values"][0])):
            mixed = sum(results["weights"][i][j] * results["values"][j][c] for j in range(n))
            if abs(results["output"][i][c] - mixed) > tolerance:
                found.append(f"output[{i}][{c}] is not row {i} of the weights times the values")
    if not results["forward_difference"] < tolerance:
        found.append(f"the head's own forward differs by {results['forward_difference']}")
    return found


def problems(results, pages=PAGES):
    found = []
    pattern = re.compile(rf"<!-- measured: {NAME} -->.*?<!-- end measured -->", re.S)
    for language, path in pages.items():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        match = pattern.search(text)
        if match is None:
            found.append(f"{os.path.relpath(path, ROOT)}: no block {NAME}")
        elif match.group(0) != block(results, language):
            found.append(f"{os.path.relpath(path, ROOT)}: block {NAME} differs from what {COMMAND} --write writes")
    return found


def load(path=RESULTS):
    return read_json(path, COMMAND)


def main(argv=None):
    parser, mode = record_parser(__doc__, "the recorded numbers")
    mode.add_argument("--picture", action="store_true", help="only draw the picture from the recorded numbers")
    args = parser.parse_args(argv)
    if args.picture:
        draw(load())
        return
    results = recorded(args, RESULTS, compute, COMMAND)
    if args.check:
        exit_if_stale(problems(results))
        return
    for language, path in PAGES.items():
        fill_measured(path, {NAME: block(results, language)})
    if not args.write:
        draw(results)


if __name__ == "__main__":
    main()
