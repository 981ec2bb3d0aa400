"""The generated parts of every lesson page (docs/learn/vN.md and vN.zh.md), written from the files.

    python -m bench lessons              # rewrite the generated blocks of every lesson page there is
    python -m bench lessons --check      # only say which pages differ from what would be written (exit 1)
    python -m bench lessons --stages v3  # one lesson

A lesson page is prose written by hand around blocks that this script writes, each between the lines
`<!-- measured: NAME -->` and `<!-- end measured -->` (bench/runs.py's fill_measured; a bare start line
is filled too, so a new page needs only the start lines):

  lesson-map       the twelve stages in one line, this one in bold
(and the page's first line is the link to its twin in the other language: the script adds it if missing)
  lesson-diagram   a Mermaid diagram of the model as it is at this stage, the new idea highlighted
  lesson-diff      what the diff below is, how many hunks, and the command that shows it
  lesson-hunk-K    hunk K of the diff against the previous stage (v1: the key code of the model): code only,
                   the module docstrings left out (they describe each stage, so they always differ), with the
                   files' own line numbers; a note written by hand follows each hunk
  lesson-measured  the stage's row of the progression and the previous stage's (bench/results/progression.jsonl:
                   mean [lowest-highest] of three seeds, at the stage's defaults and at the equal budget), then
                   the lesson's one collapsed "How this was measured" note: machine, threads, seeds, and the
                   commands of the table's runs, of the sample and of figures the prose quotes (EXTRA_COMMANDS)
  lesson-sample    what the stage writes after the prompt 春江 when trained at the equal budget, seed 1337,
                   one thread (bench/results/lessons.jsonl, from lesson_runs); its command is in the note
  lesson-nav       the links to the previous and the next lesson, relative .md links that work on GitHub too
                   (v1's previous is lesson 0 where docs/learn/v0.md exists, else the learning path; v12's next
                   is the sampling page); a page without the block gets it at its end

When a stage file changes so that its diff has more or fewer hunks than the page, the page gets (or loses)
hunk blocks after its last one, a line `NOTE NEEDED` marks each new hunk, and the script names the page
whose notes need revising; tests/test_lessons.py fails until the notes are written. Reads no corpus, trains
nothing, imports no torch: it takes a second.
"""

import argparse
import ast
import difflib
import os
import re
import sys

from bench.progression_table import FRESH_LOSS, IDEAS, SEEDS, loss_cell, summarise
from bench.runs import ROOT, STAGE_MODULES, fill_measured, load_results

STAGES = list(STAGE_MODULES)  # v1 ... v12
LESSONS = os.path.join(ROOT, "docs", "learn")
PROGRESSION = os.path.join(ROOT, "bench", "results", "progression.jsonl")
SAMPLES = os.path.join(ROOT, "bench", "results", "lessons.jsonl")
SAMPLE_PROMPT = "春江"
SAMPLE_RUN = {"v11": "v10", "v12": "v10"}  # at the equal budget v11 is v10, and v12 trains as v11
NOTE_NEEDED = "NOTE NEEDED: a note on the hunk above, then delete this line (bench/pages/lessons.py added the hunk)"
# v1 has no previous stage: its lesson shows the code that makes it a model, by name in the file
V1_KEY_CODE = ["MODEL_HYPERPARAMETERS", "BabyGPT.__init__", "BabyGPT.forward"]
# Measured answers of the lessons' "Try it" experiments that come from the runs above, by lesson and block
# name: ("start", stage) is step 0 of the stage's lesson run (bench/results/lessons.jsonl); ("runs", [(results,
# key), ...]) the final losses of those runs with their commands, results being "progression" or "lessons".
# (Experiments that need runs of their own are bench/measure/lesson_experiments.py's.) A block may stand indented
# inside a collapsed `??? note`.
TRY = {
    "v1": {"lesson-try-start": ("start", "v1")},
    "v5": {"lesson-try-full": ("runs", [("progression", "defaults/v4/1337"), ("progression", "defaults/v5/1337")])},
    "v6": {"lesson-try-full": ("runs", [("progression", "defaults/v5/1337"), ("progression", "defaults/v6/1337")])},
}
# Commands of figures a lesson's own prose quotes, beside the table's in its "How this was measured" note (one
# note per lesson): stage -> [(comment in English, comment in Chinese, command), ...]
EXTRA_COMMANDS = {
    "v3": [
        (
            "# the equal budget with context 8 (5.990)",
            "# 同一预算，但上下文长度为 8（5.990）",
            "OMP_NUM_THREADS=1 python babygpt_v3_self_attention.py --max_iters 1500 --eval_interval 250 "
            "--eval_iters 20 --batch_size 16 --block_size 8 --n_embed 128 --learning_rate 1e-3 --seed 1337 "
            "--device cpu",
        ),
        (
            "# the equal budget with PyTorch's default initialisation (5.596), and with the stages' own",
            "# 同一预算，用 PyTorch 的默认初始化（5.596），以及用各阶段自己的初始化",
            "python -m bench init --stages v3 --inits pytorch gpt2_pytorch_head --seeds 1337 "
            '--results bench/results/init_equal.jsonl --options="--max_iters 1500 --eval_interval 250 '
            '--eval_iters 20 --batch_size 16 --block_size 64 --n_embed 128 --learning_rate 1e-3"',
        ),
    ],
}
# The machine of the committed results (bench/measure/progression.py and bench/measure/lesson_runs.py ran there)
MACHINE = {
    "en": "a 2-core AMD EPYC VM (no GPU, Python 3.11, torch 2.13.0+cpu)",
    "zh": "一台 2 核 AMD EPYC 虚拟机（没有 GPU，Python 3.11，torch 2.13.0+cpu）",
}
WORDS = {
    "en": {
        "diff": "Generated by `python -m bench lessons` from the two files: the code of `{a}` against `{b}`, the "
        "module docstrings left out (they describe each stage, so they always differ), in {hunks}, with the "
        "files' own line numbers. To see it whole: `diff -u {a} {b}` (on Windows: `git diff --no-index {a} {b}`).",
        "key_code": "Generated by `python -m bench lessons` from `{b}`: there is no previous stage to diff "
        "against, so here are the {n} pieces of code that make it a model, with the file's own line numbers. "
        "Everything else in the file stays the same in all twelve stages.",
        "hunk": "Hunk {k} of {n}: `{b}`, {lines}",
        "piece": "Piece {k} of {n}: `{b}`, {lines}",
        "lines": "line {a}",
        "lines_range": "lines {a}–{b}",
        "table": "| stage | at its defaults: val loss | equal budget: val loss |",
        "measured": "Val loss, mean of three seeds [lowest–highest]; lower is better, and a fresh model that guesses "
        "evenly scores ln 6,103 ≈ {fresh:.2f}. The two budgets: "
        "[the learning path](../learning-path.md#the-equal-budget).",
        "how_title": "How this was measured",
        "how": "With `python -m bench progression` on {machine}, one thread per run, seeds {seeds}; the val loss "
        "is measured on the val split, the last tenth of data/ci.txt ([what it holds](../corpus.md#the-val-split)). "
        "Each line below repeats one run of seed 1337; on another processor or thread count the last digits differ.",
        "sample_command": "# the sample below (the same run, with this stage's file)",
        "defaults": "# at its defaults",
        "equal": "# the equal budget",
        "sample": "Written at the end of the equal-budget run, seed 1337 (final val loss {loss:.3f}). Its command, "
        "in “How this was measured” above, prints this text after its training log, then a second one for 往事.",
        "sample_as": "At the equal budget {stage} trains exactly as {run}, so this is {run}'s run (final val loss "
        "{loss:.3f}); the last command in “How this was measured” above prints it with `{file}`.",
        "previous": "Previous",
        "next": "Next",
        "path": "The learning path",
        "after": "Sampling and attention maps",
        "start": "Step 0 of the run above, before any training: train loss {train:.4f}, val loss {val:.4f} "
        "(ln 6,103 ≈ {fresh:.2f}).",
        "runs": "Measured on {machine}, one thread, seed 1337; final losses:",
        "runs_header": "| command | train loss | val loss |",
        "not_run": "not run yet (`python {script}`)",
        "model": {
            "ids": "token ids (B, T)",
            "tok": "token embedding",
            "pos": "position embedding",
            "head1": "self-attention (one head)",
            "mha": "multi-head attention (n_head heads)",
            "mha_proj": "multi-head attention + projection",
            "ffwd": "feed-forward (Linear, ReLU)",
            "ffwd_wide": "feed-forward (4 × wider, + projection)",
            "ln": "layer norm",
            "ln_f": "final layer norm",
            "dropout": "dropout",
            "lm_head": "lm_head (Linear)",
            "logits": "logits: scores for the next token (B, T, vocab_size)",
            "block": "Block × n_layer",
            "block_big": "Block × 6 (n_embed 384, 6 heads, context 256)",
            "record": "the record: wandb, metrics.csv, checkpoint",
        },
    },
    "zh": {
        "diff": "下面的差异由 `python -m bench lessons` 从两个文件生成：`{a}` 和 `{b}` 的代码，去掉了模块文档字符串"
        "（它介绍各自的阶段，所以总是不同），共 {n} 个差异块，行号就是文件里的行号。想看完整的差异：`diff -u {a} {b}`"
        "（Windows 上：`git diff --no-index {a} {b}`）。",
        "key_code": "下面的代码由 `python -m bench lessons` 从 `{b}` 生成。第一个阶段没有上一阶段可比，所以这里列出让它"
        "成为模型的 {n} 段代码，行号就是文件里的行号。文件里其余的代码在十二个阶段中都一样。",
        "hunk": "第 {k} 个差异块（共 {n} 个）：`{b}` {lines}",
        "piece": "第 {k} 段（共 {n} 段）：`{b}` {lines}",
        "lines": "第 {a} 行",
        "lines_range": "第 {a}–{b} 行",
        "table": "| 阶段 | 默认值：验证损失 | 同一预算：验证损失 |",
        "measured": "表中是验证损失，取三个种子的平均值 [最低–最高]，越低越好；刚初始化的模型均匀地瞎猜，"
        "损失是 ln 6,103 ≈ {fresh:.2f}。两种预算是什么，见[学习路线](../learning-path.zh.md#同一预算)。",
        "how_title": "这些数字是怎么测的",
        "how": "用 `python -m bench progression` 在{machine}上测得，每次运行一个线程，种子为 {seeds}。"
        "验证损失在验证集上计算，也就是 data/ci.txt 的最后十分之一（[里面有什么](../corpus.zh.md#验证集)）。"
        "下面每条命令复现种子 1337 的一次运行；换一颗处理器或换一个线程数，末几位会不同。",
        "sample_command": "# 下面那段文字（同一次运行，换成这个阶段的文件）",
        "defaults": "# 默认设置",
        "equal": "# 同一预算",
        "sample": "这是同一预算下种子 1337 那次运行结束时写的（最终验证损失 {loss:.3f}）。"
        "它的命令在上面的“这些数字是怎么测的”里，训练日志之后先打印这段，再打印以“往事”开头的另一段。",
        "sample_as": "在同一预算下 {stage} 的训练和 {run} 完全一样，所以这是 {run} 那次运行"
        "（最终验证损失 {loss:.3f}）。"
        "上面“这些数字是怎么测的”里的最后一条命令用 `{file}` 打印的就是这段文字。",
        "previous": "上一课",
        "next": "下一课",
        "path": "学习路线",
        "after": "采样和注意力图",
        "start": "上面那次运行第 0 步、还没有训练时：训练损失 {train:.4f}，验证损失 {val:.4f}"
        "（ln 6,103 ≈ {fresh:.2f}）。",
        "runs": "在{machine}上测得，一个线程，种子 1337；最终损失：",
        "runs_header": "| 命令 | 训练损失 | 验证损失 |",
        "not_run": "尚未运行（`python {script}`）",
        "model": {
            "ids": "词元 id (B, T)",
            "tok": "词元嵌入",
            "pos": "位置嵌入",
            "head1": "自注意力（一个头）",
            "mha": "多头注意力（n_head 个头）",
            "mha_proj": "多头注意力 + 投影",
            "ffwd": "前馈网络（Linear、ReLU）",
            "ffwd_wide": "前馈网络（宽 4 倍，+ 投影）",
            "ln": "层归一化",
            "ln_f": "最后的层归一化",
            "dropout": "dropout",
            "lm_head": "lm_head（线性层）",
            "logits": "logits：下一个词元的分数 (B, T, vocab_size)",
            "block": "Block × n_layer",
            "block_big": "Block × 6（n_embed 384，6 个头，上下文长度 256）",
            "record": "记录：wandb、metrics.csv、检查点",
        },
    },
}


def stage_file(stage):
    return f"{STAGE_MODULES[stage]}.py"


def page_path(stage, language):
    return os.path.join(LESSONS, f"{stage}.md" if language == "en" else f"{stage}.zh.md")


def code_lines(stage):
    """The file's lines without its module docstring, each with its line number in the file."""
    with open(os.path.join(ROOT, stage_file(stage)), encoding="utf-8") as f:
        source = f.read()
    lines = list(enumerate(source.splitlines(), start=1))
    body = ast.parse(source).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        lines = lines[: body[0].lineno - 1] + lines[body[0].end_lineno :]
    return lines


def hunks(stage):
    """The diff of the previous stage's code against this stage's, as a list of hunks; each hunk is
    (first line, last line of this stage's file, the unified-diff text with the files' line numbers)."""
    previous = STAGES[STAGES.index(stage) - 1]
    old, new = code_lines(previous), code_lines(stage)
    matcher = difflib.SequenceMatcher(None, [t for _, t in old], [t for _, t in new], autojunk=False)
    result = []
    for group in matcher.get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        header = f"@@ -{old[i1][0]},{i2 - i1} +{new[j1][0]},{j2 - j1} @@"
        body = [header]
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                body += [" " + t for _, t in old[a1:a2]]
                continue
            body += ["-" + t for _, t in old[a1:a2]]
            body += ["+" + t for _, t in new[b1:b2]]
        result.append((new[j1][0], new[j2 - 1][0], "diff", "\n".join(body)))
    return result


def key_code(stage):
    """v1's pieces of code named in V1_KEY_CODE, as (first line, last line, "python", text)."""
    path = os.path.join(ROOT, stage_file(stage))
    with open(path, encoding="utf-8") as f:
        source = f.read()
    lines = source.splitlines()
    nodes = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            nodes.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.ClassDef):
            nodes.update({f"{node.name}.{item.name}": item for item in node.body if hasattr(item, "name")})
    pieces = []
    for name in V1_KEY_CODE:
        node = nodes[name]
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "\n".join(lines[first - 1 : node.end_lineno])
        pieces.append((first, node.end_lineno, "python", text))
    return pieces


def pieces(stage):
    return key_code(stage) if stage == "v1" else hunks(stage)


def twin_link(stage, language):
    """A page's first line: the link to its twin in the other language (the site's hook takes it out, since the
    site has a language switch; on GitHub it is the way across)."""
    return f"[中文]({stage}.zh.md)" if language == "en" else f"[English]({stage}.md)"


def map_block(stage, language):
    suffix = ".md" if language == "en" else ".zh.md"
    return " → ".join(f"**{s}**" if s == stage else f"[{s}]({s}{suffix})" for s in STAGES)


def diagram(stage, language):
    """A Mermaid flowchart of the model at this stage; the parts this stage adds are highlighted."""
    n = STAGES.index(stage) + 1
    label = WORDS[language]["model"]
    new = set()  # node ids this stage adds
    lines = ["flowchart TB"]

    def node(name, text, added_at, indent=""):
        lines.append(f'{indent}    {name}["{text}"]')
        if added_at == n:
            new.add(name)

    node("ids", label["ids"], 1)
    node("tok", label["tok"], 1)
    edges = ["ids --> tok"]
    last = "tok"
    if n >= 2:
        node("pos", label["pos"], 2)
        node("add0", "+", 2)
        edges += ["ids --> pos", "tok --> add0", "pos --> add0"]
        last = "add0"
    if n >= 6:
        lines.append(f'    subgraph blocks["{label["block_big" if n >= 11 else "block"]}"]')
        lines.append("        direction TB")
    sublayers = []
    if n >= 3:
        attention = "head1" if n == 3 else "mha_proj" if n >= 8 else "mha"
        sublayers.append(("attn", label[attention], {3: 3, 4: 4}.get(n, 8 if n >= 8 else 4)))
    if n >= 5:
        sublayers.append(("ffwd", label["ffwd_wide" if n >= 8 else "ffwd"], 8 if n >= 8 else 5))
    indent = "    " if n >= 6 else ""
    for index, (name, text, added_at) in enumerate(sublayers, start=1):
        start = last
        chain = [(f"ln{index}", label["ln"], 9)] if n >= 9 else []
        chain.append((name, text, added_at))
        chain += [(f"drop{index}", label["dropout"], 10)] if n >= 10 else []
        for node_id, node_text, node_added_at in chain:  # the sublayer in order: layer norm, itself, dropout
            node(node_id, node_text, node_added_at, indent)
            edges.append(f"{last} --> {node_id}")
            last = node_id
        if n >= 7:
            lines.append(f'{indent}    res{index}(("+"))')
            new.update({f"res{index}"} if n == 7 else set())
            edges += [
                f"{last} --> res{index}",
                f"{start} -. {'residual' if language == 'en' else '残差'} .-> res{index}",
            ]
            last = f"res{index}"
    if n >= 6:
        lines.append("    end")
    if n >= 9:
        node("ln_f", label["ln_f"], 9)
        edges.append(f"{last} --> ln_f")
        last = "ln_f"
    node("lm_head", label["lm_head"], 1)
    node("logits", label["logits"], 1)
    edges += [f"{last} --> lm_head", "lm_head --> logits"]
    if n >= 12:
        node("record", label["record"], 12)
        edges.append("logits -.-> record")
    lines += ["    " + edge for edge in edges]
    lines.append("    classDef new fill:#ffe58f,stroke:#d48806,stroke-width:2px,color:#000")
    if new:
        lines.append(f"    class {','.join(sorted(new))} new")
    if n in (6, 11):  # the stage's idea is the stack itself
        lines.append("    style blocks fill:#fff7d6,stroke:#d48806,stroke-width:2px")
    return "```mermaid\n" + "\n".join(lines) + "\n```"


def diff_block(stage, language):
    words = WORDS[language]
    n = len(pieces(stage))
    if stage == "v1":
        return words["key_code"].format(b=stage_file(stage), n=n)
    previous = STAGES[STAGES.index(stage) - 1]
    hunk_count = f"{n} hunk" if n == 1 else f"{n} hunks"  # the Chinese says 个, one or many
    return words["diff"].format(a=stage_file(previous), b=stage_file(stage), n=n, hunks=hunk_count)


def hunk_blocks(stage, language):
    words = WORDS[language]
    found = pieces(stage)
    blocks = []
    for k, (first, last, kind, text) in enumerate(found, start=1):
        lines = words["lines"].format(a=first) if first == last else words["lines_range"].format(a=first, b=last)
        caption = words["piece" if stage == "v1" else "hunk"].format(
            k=k, n=len(found), b=stage_file(stage), lines=lines
        )
        blocks.append(f"{caption}\n\n```{kind}\n{text}\n```")
    return blocks


def command_line(argv, file):
    return "OMP_NUM_THREADS=1 python " + " ".join([file, *argv])


def measured_block(stage, language, results, samples=None):
    words = WORDS[language]
    index = STAGES.index(stage)
    rows = [words["table"], "|---|--:|--:|"]
    for s in STAGES[max(0, index - 1) : index + 1]:
        if s == "v12":  # v12 trains exactly as v11 (a test checks it): the progression runs v11 only
            s_row = "v11"
        else:
            s_row = s
        idea = IDEAS[language][STAGES.index(s_row)]
        cells = [
            loss_cell(summarise(results, budget, s_row, SEEDS), language, SEEDS) for budget in ("defaults", "equal")
        ]
        name = f"**{s} {idea}**" if s == stage else f"{s} {idea}"
        rows.append(f"| {name} | {cells[0]} | {cells[1]} |")
    seeds = ("、" if language == "zh" else ", ").join(map(str, SEEDS))
    text = "\n".join(rows) + "\n\n" + words["measured"].format(fresh=FRESH_LOSS["data/ci.txt"])
    run_stage = "v11" if stage == "v12" else stage
    equal_key = f"equal/{run_stage}/1337" if run_stage != "v11" else "defaults/v11/1337"
    commands = [
        command_line(results[f"defaults/{run_stage}/1337"]["argv"], stage_file(stage)) + "  " + words["defaults"],
        command_line(results[equal_key]["argv"], stage_file(stage)) + "  " + words["equal"],
    ]
    run = (samples or {}).get(SAMPLE_RUN.get(stage, stage))
    if run is not None and run["argv"] != results[equal_key]["argv"]:
        commands.append(words["sample_command"] + "\n" + command_line(run["argv"], stage_file(stage)))
    for english, chinese, command in EXTRA_COMMANDS.get(stage, []):
        commands.append((english if language == "en" else chinese) + "\n" + command)
    how = words["how"].format(seeds=seeds, machine=MACHINE[language])
    note = f"{how}\n\n```bash\n" + "\n".join(commands) + "\n```"
    # one collapsed note per lesson: the reproduction detail stays out of the way of the idea
    return text + f'\n\n??? note "{words["how_title"]}"\n' + indented("\n" + note, "    ").lstrip("\n")


def sample_block(stage, language, samples):
    words = WORDS[language]
    run = samples[SAMPLE_RUN.get(stage, stage)]
    text = dict(map(tuple, run["samples"]))[SAMPLE_PROMPT]
    if stage in SAMPLE_RUN:
        intro = words["sample_as"].format(stage=stage, run=run["stage"], loss=run["val_loss"], file=stage_file(stage))
    else:
        intro = words["sample"].format(loss=run["val_loss"])
    return f"```text\n{text}\n```\n\n{intro}"


def try_block(spec, language, sources):
    """The measured answer of one "Try it" experiment (see TRY)."""
    words = WORDS[language]
    kind, what = spec
    if kind == "start":
        if what not in sources["lessons"]:
            return words["not_run"].format(script="bench/measure/lesson_runs.py")
        first = sources["lessons"][what]["history"][0]
        return words["start"].format(train=first["train_loss"], val=first["val_loss"], fresh=FRESH_LOSS["data/ci.txt"])
    rows = [words["runs"].format(machine=MACHINE[language]), "", words["runs_header"], "|---|--:|--:|"]
    for source, key in what:
        run = sources[source].get(key)
        if run is None:
            script = "bench/measure/lesson_runs.py" if source == "lessons" else f"bench/{source}.py"
            rows.append(f"| {words['not_run'].format(script=script)} | | |")
            continue
        command = " ".join(["python", stage_file(run["stage"]), *run["argv"]])
        train = run["train_loss"] if "train_loss" in run else run["history"][-1]["train_loss"]
        rows.append(f"| `{command}` | {train:.3f} | {run['val_loss']:.3f} |")
    return "\n".join(rows)


def page_title(path, fallback):
    """A page's first-level heading ("v3: self-attention"), or fallback where the page is not there."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def nav_block(stage, language):
    """The links to the previous and the next lesson (relative, so that they work on GitHub as on the site)."""
    words = WORDS[language]
    suffix = ".md" if language == "en" else ".zh.md"
    index = STAGES.index(stage)

    def lesson(name):
        return f"[{page_title(os.path.join(LESSONS, name + suffix), name)}]({name}{suffix})"

    if index > 0:
        previous = lesson(STAGES[index - 1])
    elif os.path.exists(os.path.join(LESSONS, f"v0{suffix}")):
        previous = lesson("v0")
    else:
        previous = f"[{words['path']}](../learning-path{suffix})"
    following = lesson(STAGES[index + 1]) if index + 1 < len(STAGES) else f"[{words['after']}](../sampling{suffix})"
    separator = "：" if language == "zh" else ": "
    return f"{words['previous']}{separator}{previous} · {words['next']}{separator}{following}"


def blocks_for(stage, language, results=None, samples=None):
    """Every generated block of one lesson page, by name, each with its marker lines."""
    results = load_results(PROGRESSION) if results is None else results
    samples = load_results(SAMPLES) if samples is None else samples
    sources = {"progression": results, "lessons": samples}
    texts = {
        "lesson-map": map_block(stage, language),
        "lesson-diagram": diagram(stage, language),
        "lesson-diff": diff_block(stage, language),
    }
    for k, text in enumerate(hunk_blocks(stage, language), start=1):
        texts[f"lesson-hunk-{k}"] = text
    texts["lesson-measured"] = measured_block(stage, language, results, samples)
    has_run = SAMPLE_RUN.get(stage, stage) in samples
    texts["lesson-sample"] = (
        sample_block(stage, language, samples)
        if has_run
        else WORDS[language]["not_run"].format(script="bench/measure/lesson_runs.py")
    )
    for name, spec in TRY.get(stage, {}).items():
        texts[name] = try_block(spec, language, sources)
    texts["lesson-nav"] = nav_block(stage, language)
    # blank lines around the text, so that Markdown never reads it as part of the HTML comment lines
    return {name: f"<!-- measured: {name} -->\n\n{text}\n\n<!-- end measured -->" for name, text in texts.items()}


HUNK_MARKER = re.compile(r"<!-- measured: lesson-hunk-(\d+) -->")
BLOCK = r"<!-- measured: {name} -->(?:(?:(?!<!-- measured:).)*?<!-- end measured -->)?"


def marker_indent(text, start):
    """The spaces before a block's start line: a block inside a collapsed note is indented with it."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    return before if not before.strip() else ""


def indented(block, indent):
    return "\n".join(indent + line if line and i else line for i, line in enumerate(block.split("\n")))


def page_blocks(text):
    """name -> the block as it stands in a page's text, its indentation taken off (a bare start line counts
    as a block)."""
    found = {}
    for match in re.finditer(r"<!-- measured: ([\w-]+) -->", text):
        name = match.group(1)
        block = re.compile(BLOCK.format(name=re.escape(name)), re.S).search(text, match.start()).group(0)
        indent = marker_indent(text, match.start())
        if indent:
            block = "\n".join(line.removeprefix(indent) for line in block.split("\n"))
        found[name] = block
    return found


def problems(path, blocks):
    """What differs between a page and the blocks that would be written into it, one line each."""
    relative = os.path.relpath(path, ROOT)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = page_blocks(text)
    result = []
    for name, block in blocks.items():
        if name not in found:
            result.append(f"{relative}: no block {name}")
        elif found[name] != block:
            result.append(f"{relative}: block {name} differs from what bench/pages/lessons.py writes now")
    extra = sorted(name for name in set(found) - set(blocks) if name.startswith("lesson-"))  # try-*: not ours
    if extra:
        result.append(f"{relative}: blocks {', '.join(extra)} are not written any more")
    twin = twin_link(os.path.basename(path).split(".")[0], "zh" if path.endswith(".zh.md") else "en")
    if not text.startswith(twin + "\n"):
        result.append(f"{relative}: the first line is not the link to the other language, {twin}")
    if NOTE_NEEDED in text:
        result.append(f"{relative}: a hunk still has no note ({NOTE_NEEDED.split(':')[0]})")
    return result


def write_page(path, blocks):
    """Fill a page's blocks; add or remove hunk blocks when the diff's hunk count has changed, and say so."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    twin = twin_link(os.path.basename(path).split(".")[0], "zh" if path.endswith(".zh.md") else "en")
    if not text.startswith(twin + "\n"):
        text = twin + "\n\n" + text
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    wanted = sum(name.startswith("lesson-hunk-") for name in blocks)
    have = sorted(int(k) for k in HUNK_MARKER.findall(text))
    if have != list(range(1, wanted + 1)):
        for k in have:
            if k > wanted:  # the hunk is gone: its block goes, its note stays for the author to revise
                text = re.compile(BLOCK.format(name=f"lesson-hunk-{k}"), re.S).sub("", text, count=1)
        anchor = max([k for k in have if k <= wanted], default=0)
        anchor_name = f"lesson-hunk-{anchor}" if anchor else "lesson-diff"
        found = re.compile(BLOCK.format(name=anchor_name), re.S).search(text)
        if found is None:
            raise SystemExit(f"error: {os.path.relpath(path, ROOT)} has no <!-- measured: {anchor_name} --> line")
        # a note written after the anchor hunk stays with it: new hunks go after that note, before the next block
        rest = text[found.end() :]
        next_block = re.search(r"\n(?=<!-- measured: |#)", rest)
        at = found.end() + (next_block.start() if next_block else len(rest))
        added = "".join(
            f"\n\n<!-- measured: lesson-hunk-{k} -->\n\n{NOTE_NEEDED}" for k in range(anchor + 1, wanted + 1)
        )
        text = text[:at].rstrip("\n") + added + "\n\n" + text[at:].lstrip("\n")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(
            f"{os.path.relpath(path, ROOT)}: the diff now has {wanted} hunks (the page had {len(have)}): "
            "revise the notes after its hunks"
        )
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if "lesson-nav" in blocks and "<!-- measured: lesson-nav -->" not in text:  # the links go at the page's end
        text = text.rstrip("\n") + "\n\n<!-- measured: lesson-nav -->\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    for name in blocks:
        match = re.search(f"<!-- measured: {re.escape(name)} -->", text)
        if match and marker_indent(text, match.start()):
            blocks = {**blocks, name: indented(blocks[name], marker_indent(text, match.start()))}
    fill_measured(path, blocks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=STAGES, help="lessons (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page would change")
    args = parser.parse_args(argv)
    results, samples = load_results(PROGRESSION), load_results(SAMPLES)
    found = []
    for stage in args.stages:
        for language in ("en", "zh"):
            path = page_path(stage, language)
            if not os.path.exists(path):
                continue
            blocks = blocks_for(stage, language, results, samples)
            if args.check:
                found += problems(path, blocks)
            else:
                write_page(path, blocks)
    if found:
        sys.exit("\n".join(found))


if __name__ == "__main__":
    main()
