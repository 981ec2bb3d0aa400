"""Lesson 0 (docs/learn/v0.md and v0.zh.md): its code cells run in order, as a notebook runs them, and what
each one printed written under it.

    python -m bench lesson0            # run the English page's cells (needs data/ci.txt; a minute or two), record
                                       # them in bench/results/lesson0.json, then write both pages
    python -m bench lesson0 --write    # write both pages from the recorded run only (no corpus, no torch run)
    python -m bench lesson0 --check    # write nothing; exit 1 if a page differs from what --write would write

Lesson 0 is written to be run: every ```python block of the page is one cell, self-contained in the page's
order (the notebook of lesson 0 is made from the page), and nothing is pasted into it. This script runs the
English page's cells in that order in one namespace, from the repository root, with one thread, and records
each cell's source, what it printed, and the figures the prose quotes (FIGURES: taken from the cells' own
variables after the run). Then it writes, in both languages:

  v0-out-N     after cell N (counted from 1), a ```text block with what the cell printed (cells that print
               nothing get none); the block is rewritten in place, and added when a cell gains output
  v0-run       the machine and the command that printed them
  v0-NAME      short notes that quote figures of the run (NOTES below), between the lines
               `<!-- measured: v0-NAME -->` and `<!-- end measured -->`

Every number the page shows is one of these. The recorded run also holds a fingerprint of the stage code the
cells call (STAGE_CODE): tests/test_lesson0.py fails when a cell or that code has changed since the run, or
when a page differs from what --write writes, and says to run this script again.
"""

import contextlib
import hashlib
import inspect
import io
import math
import os
import platform
import re
import sys

from bench.runs import ROOT, exit_if_stale, read_json, record_parser, recorded

PAGES = {"en": os.path.join(ROOT, "docs", "learn", "v0.md"), "zh": os.path.join(ROOT, "docs", "learn", "v0.zh.md")}
RESULTS = os.path.join(ROOT, "bench", "results", "lesson0.json")
COMMAND = "python -m bench lesson0"
# the stage code the cells call: when any of it changes, the recorded outputs may be stale
STAGE_CODE = [
    ("babygpt_v1", "load_corpus"),
    ("babygpt_v1", "find_corpus"),
    ("babygpt_v1", "CharTokenizer"),
    ("babygpt_v1", "get_batch"),
    ("babygpt_v1", "estimate_loss"),
    ("babygpt_v1", "split_data"),
    ("babygpt_v1", "BabyGPT"),
    ("babygpt_v1", "pick_next_token"),
    ("babygpt_v1", "sample"),
    ("babygpt_v3_self_attention", "Head"),
]

CELL = re.compile(r"^```python\n(.*?)\n```\n", re.S | re.M)
BLOCK = r"<!-- measured: {name} -->(?:(?:(?!<!-- measured:).)*?<!-- end measured -->)?"  # as bench/runs.py fills
OUTPUT = re.compile(r"\n*<!-- measured: v0-out-\d+ -->\n.*?<!-- end measured -->\n", re.S)


# FIGURES: name -> how to take it from the cells' variables (ns), as the text the prose shows
def _round(value, digits):
    return f"{value:.{digits}f}"


FIGURES = {
    "characters": lambda ns: f"{len(ns['text']):,}",
    "vocab_size": lambda ns: f"{ns['tokenizer'].vocab_size:,}",
    "line": lambda ns: ns["line"],
    "line_length": lambda ns: str(len(ns["line"])),
    "target_char": lambda ns: ns["small"].vocab[ns["target"]],
    "target_logit": lambda ns: _round(ns["logits"][ns["target"]].item(), 2),
    "target_exp": lambda ns: _round(ns["exps"][ns["target"]], 4),
    "exp_sum": lambda ns: _round(sum(ns["exps"]), 4),
    "target_p": lambda ns: _round(ns["probs_by_hand"][ns["target"]], 4),
    "loss5": lambda ns: _round(-math.log(ns["probs_by_hand"][ns["target"]]), 4),
    "ln5": lambda ns: _round(math.log(5), 4),
    "ln_vocab": lambda ns: _round(math.log(ns["tokenizer"].vocab_size), 4),
    "ln_vocab_short": lambda ns: _round(math.log(ns["tokenizer"].vocab_size), 2),
    "perplexity5": lambda ns: _round(math.exp(-math.log(ns["probs_by_hand"][ns["target"]])), 4),
    "grad": lambda ns: _round(ns["by_hand"].item(), 6),
    "lr_grad": lambda ns: _round(0.5 * ns["by_hand"].item(), 6),
    "train_last": lambda ns: _round(ns["last"]["train"], 4),
    "val_last": lambda ns: _round(ns["last"]["val"], 4),
    "memorised_train": lambda ns: _round(ns["memorised"]["train"], 4),
    "memorised_val": lambda ns: _round(ns["memorised"]["val"], 4),
    "max_iters": lambda ns: f"{ns['v1'].TRAINING_HYPERPARAMETERS['max_iters'][0]:,}",
}

# the notes of the page that quote figures, by language; {name} is a figure above
NOTES = {
    "en": {
        "softmax": "月 has the highest score, {target_logit}, and gets the largest share: $e^{{{target_logit}}}$ = "
        "{target_exp} out of a total of {exp_sum}, that is {target_p}. The loss when 月 is the right answer is "
        "−ln {target_p} = {loss5}: by hand and by `F.cross_entropy`, the same.",
        "nats": "An even guess among 5 characters scores ln 5 = {ln5} nats, among the corpus's {vocab_size} "
        "characters ln {vocab_size} = {ln_vocab}. The five-character example scored {loss5}: a perplexity of "
        "{perplexity5}, as unsure as an even choice among about one and a half characters.",
        "gradient": "By hand and by autograd: {grad}, the same number. The nudge agrees too, in the digits a "
        "nudge can show.",
        "sgd": "The weight moved by exactly the learning rate times its gradient, 0.5 × {grad} = {lr_grad}, downhill.",
        "train": "After 300 steps the model scores {train_last} on train and {val_last} on val, down from "
        "about ln {vocab_size} = {ln_vocab_short}.",
        "memorised": "On the 2,000 characters it trained on: {memorised_train}. On val: {memorised_val}, far "
        "worse than a fresh model's even guess ({ln_vocab_short}). It learned those 2,000 characters by heart, "
        "and nothing that carries over to other text.",
        "sample": "Pairs that are real, lines that end in 。, no sense: a bigram model after 300 steps. At its "
        "defaults v1 trains the same model for {max_iters} steps.",
        "run": "Every output on this page was printed by the cells above it when `{command}` ran them in order "
        "on {machine}, one thread. The same cells print the same numbers in a notebook; with another torch "
        "version or processor the last digits may differ.",
    },
    "zh": {
        "softmax": "“月”的分数最高（{target_logit}），分到的概率也最大：$e^{{{target_logit}}}$ = {target_exp}，"
        "总和是 {exp_sum}，占 {target_p}。正确答案是“月”时，损失就是 −ln {target_p} = {loss5}。"
        "手算和 `F.cross_entropy` 算出的完全一样。",
        "nats": "在 5 个字里均匀瞎猜，损失是 ln 5 = {ln5} 奈特；在语料的 {vocab_size} 个字里均匀瞎猜，是 "
        "ln {vocab_size} = {ln_vocab}。五个字的例子损失是 {loss5}，困惑度 {perplexity5}："
        "不确定的程度相当于在一个半字里均匀地挑。",
        "gradient": "手算和自动求导都得到 {grad}，是同一个数。轻推一下的结果也对得上（在轻推能显示的那几位上）。",
        "sgd": "这个权重移动的量正好是学习率乘以它的梯度：0.5 × {grad} = {lr_grad}，方向是下坡。",
        "train": "300 步之后，训练损失是 {train_last}，验证损失是 {val_last}；"
        "开始时两者都约为 ln {vocab_size} = {ln_vocab_short}。",
        "memorised": "在它训练过的那 2,000 个字上，损失是 {memorised_train}；在验证集上是 {memorised_val}，"
        "比刚初始化时均匀瞎猜的 {ln_vocab_short} 还差得多。它把那 2,000 个字背了下来，却没学到能用在别的文本上的东西。",
        "sample": "有真实的字对，行以“。”结尾，但没有意思：这是一个只训练了 300 步的二元模型。"
        "v1 按默认设置会把同样的模型训练 {max_iters} 步。",
        "run": "本页每段输出都是 `{command}` 按顺序运行它上面的代码时打印出来的，运行在 {machine} 上，一个线程。"
        "在 notebook 里运行同样的代码会打印同样的数；换一个 torch 版本或处理器，最后几位可能不同。",
    },
}


def machine(recorded, language):
    """The recorded machine (bench/runs.py's machine_description) as a phrase in the page's language."""
    if language == "en":
        return recorded
    from bench.runs import in_chinese

    return in_chinese(recorded)


def page_cells(text):
    """The page's ```python blocks, in order: the cells."""
    return [match.group(1) for match in CELL.finditer(text)]


def stage_code_fingerprint():
    """sha256 of the source of each piece of stage code the cells call (STAGE_CODE), by name."""
    import importlib

    found = {}
    for module, name in STAGE_CODE:
        source = inspect.getsource(getattr(importlib.import_module(module), name))
        found[f"{module}.{name}"] = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    return found


def run_cells(cells):
    """Run the cells in order in one namespace from the repository root, one thread; return what each printed
    and the namespace."""
    import torch

    torch.set_num_threads(1)
    namespace = {"__name__": "__lesson0__"}
    outputs = []
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        for number, cell in enumerate(cells, start=1):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(cell, f"lesson 0, cell {number}", "exec"), namespace)
            outputs.append(printed.getvalue())
            print(f"cell {number} of {len(cells)} done", file=sys.stderr, flush=True)
    finally:
        os.chdir(here)
    return outputs, namespace


def load_results(path=RESULTS):
    return read_json(path, f"{COMMAND} (needs data/ci.txt)")


def notes(results, language):
    """name -> the generated note block (with its marker lines)."""
    missing = sorted(set(FIGURES) - set(results["figures"]))
    if missing:  # a figure added to FIGURES after the run
        raise SystemExit(f"error: the recorded run has no figure {', '.join(missing)}; run: {COMMAND}")
    texts = {name: text.format(**results["figures"]) for name, text in NOTES[language].items() if name != "run"}
    texts["run"] = NOTES[language]["run"].format(command=COMMAND, machine=machine(results["machine"], language))
    return {
        f"v0-{name}": f"<!-- measured: v0-{name} -->\n\n{text}\n\n<!-- end measured -->" for name, text in texts.items()
    }


def render(text, results, language):
    """The page as this script writes it: each cell followed by its output block, and the notes filled."""
    outputs = results["outputs"]
    pieces, at, number = [], 0, 0
    for number, match in enumerate(CELL.finditer(text), start=1):
        pieces.append(text[at : match.end()])
        at = match.end()
        following = OUTPUT.match(text, at)
        if following:  # the old output block goes; the new one takes its place
            at = following.end()
        printed = outputs[number - 1].strip("\n") if number <= len(outputs) else ""
        if printed:
            pieces.append(f"\n<!-- measured: v0-out-{number} -->\n\n```text\n{printed}\n```\n\n<!-- end measured -->\n")
    pieces.append(text[at:])
    text = "".join(pieces)
    for name, block in notes(results, language).items():
        pattern = re.compile(BLOCK.format(name=re.escape(name)), re.S)
        text = pattern.sub(lambda _, block=block: block, text)
    return text


def problems(results, pages=PAGES):
    """What differs between the pages and what this script writes from the recorded run, one line each."""
    found = []
    for language, path in pages.items():
        relative = os.path.relpath(path, ROOT)
        if not os.path.exists(path):
            found.append(f"{relative} is missing")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        cells = page_cells(text)
        if language == "en" and cells != results["cells"]:
            changed = [n for n, (a, b) in enumerate(zip(cells, results["cells"], strict=False), 1) if a != b]
            where = f"cell {changed[0]}" if changed else f"{len(cells)} cells, {len(results['cells'])} were run"
            found.append(f"{relative}: the cells differ from those last run ({where}): run {COMMAND}")
        for name in notes(results, language):
            if f"<!-- measured: {name} -->" not in text:
                found.append(f"{relative}: no block {name}")
        if render(text, results, language) != text:
            found.append(f"{relative}: differs from what {COMMAND} --write writes")
    return found


def run_the_page():
    """The English page's cells run in order: what lesson0.json records."""
    with open(PAGES["en"], encoding="utf-8") as f:
        cells = page_cells(f.read())
    outputs, namespace = run_cells(cells)
    from bench.runs import machine_description

    return {
        "command": COMMAND,
        "machine": machine_description(),
        "python": platform.python_version(),
        "stage_code": stage_code_fingerprint(),
        "cells": cells,
        "outputs": outputs,
        "figures": {name: take(namespace) for name, take in FIGURES.items()},
    }


def main(argv=None):
    args = record_parser(__doc__, "the recorded run")[0].parse_args(argv)
    results = recorded(args, RESULTS, run_the_page, f"{COMMAND} (needs data/ci.txt)")
    if args.check:
        exit_if_stale(problems(results))
        return
    for language, path in PAGES.items():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(render(text, results, language))
        print(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
