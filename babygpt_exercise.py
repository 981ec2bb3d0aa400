"""Write each stage yourself: start an exercise, check it with the stage's own checks, mark a class's files.

    python babygpt_exercise.py start v3                  writes exercises/v3.py: v3 with its new idea taken out
    python babygpt_exercise.py check exercises/v3.py     the checks that define v3, then a short training against ours
    python babygpt_exercise.py check exercises/v3.py --diff    ...and the diff from your file to the solution
    python babygpt_exercise.py check class/ --stage v3   a teacher's table of a folder of files (marks.md, marks.csv)

The exercise is generated from the stage files, as the lessons' diffs are: v2 .. v12 are the previous stage with
a marked TODO block wherever the next stage's code differs (the previous stage's lines stand inside it, so the
unfinished file runs, trains and checks as the previous stage); v1 is the bigram model without its embedding
lookup, output head and loss, and stops with one line naming the TODO when it reaches one. The checks are
babygpt/checks.py's, the ones tests/test_stages.py runs on the stage files. Each file is checked in a process of
its own, with a time and a memory limit: a loop that never ends or a huge allocation is a failed row, never the
end of the check.
"""

import argparse
import ast
import concurrent.futures
import csv
import difflib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from babygpt import checks
from babygpt.checkpoint import STAGE_IDS, STAGE_MODULES
from babygpt.checks import Words

ROOT = os.path.dirname(os.path.abspath(__file__))
HEADER = re.compile(r"^# BabyGPT exercise (v\d+)\b.*?(?:language: (en|zh))?$", re.M)
TRAINING = {  # the short training of the comparison: the same for the learner's model and ours
    "seed": 1337,
    "max_iters": 100,
    "eval_iters": 10,
    "batch_size": 16,
    "learning_rate": 1e-2,
    "model": {"block_size": 8, "n_embed": 32, "n_head": 4, "n_layer": 2, "dropout": 0.1},
}
SAME_LOSS = 0.1  # a learner's model within this of ours trains as ours does (another init order moves it a little)

# One sentence per TODO, by stage and by where the code goes (the definition that holds it in the stage file). A
# place without its sentence (after a stage changed) gets a general one: the tool keeps working, and
# tests/test_exercise.py names the missing sentence.
TODO_WORDS = {
    ("v1", "BabyGPT.__init__"): Words(
        "create the token embedding table (vocab_size rows of n_embed numbers) and the output head, a linear layer"
        " from n_embed to vocab_size",
        "建好词元嵌入表（vocab_size 行，每行 n_embed 个数）和输出层：一个从 n_embed 到 vocab_size 的线性层",
    ),
    ("v1", "BabyGPT.forward"): Words(
        "look each token up in the embedding table, turn the vectors into logits with the output head, and, given"
        " targets, the cross-entropy loss; return logits, loss",
        "在嵌入表里查出每个词元的向量，用输出层变成 logits；有 targets 时再算交叉熵损失；返回 `logits, loss`",
    ),
    ("v2", "MODEL_HYPERPARAMETERS"): Words(
        "block_size is now also the number of positions the model learns", "block_size 现在也是模型学习的位置个数"
    ),
    ("v2", "BabyGPT.__init__"): Words(
        "create a position embedding table: one learned vector of n_embed numbers for each position 0 .. block_size-1",
        "建一张位置嵌入表：位置 0 .. block_size-1 各有一个可学习的向量，长 n_embed",
    ),
    ("v2", "BabyGPT.forward"): Words(
        "refuse more than block_size tokens (ValueError), look up the positions 0 .. T-1 and add their vectors to"
        " the token vectors",
        "超过 block_size 个词元时抛出 ValueError；查出位置 0 .. T-1 的向量，加到词元向量上",
    ),
    ("v3", "Head"): Words(
        "write class Head(n_embed, head_size, block_size): key, query and value layers without bias, and a causal"
        " mask kept as a buffer not saved with the weights (register_buffer(..., persistent=False)); forward returns"
        " softmax(q k^T / sqrt(head_size), masked) @ v",
        "写 class Head(n_embed, head_size, block_size)：不带偏置的键（key）、查询（query）、值（value）"
        "三个线性层和一个因果掩码。掩码存成不随权重保存的缓冲区（register_buffer(..., persistent=False)）。"
        "forward 返回 softmax(q k^T / sqrt(head_size)，掩码后) @ v",
    ),
    ("v3", "BabyGPT.__init__"): Words(
        "create self.attention: one Head as wide as the embedding", "建 self.attention：一个和嵌入一样宽的 Head"
    ),
    ("v3", "BabyGPT.forward"): Words(
        "pass x through the attention before the output head", "在输出层之前让 x 经过注意力"
    ),
    ("v4", "MODEL_HYPERPARAMETERS"): Words(
        "add n_head, the number of attention heads (n_embed must be divisible by it)",
        "加上 n_head：注意力头的个数（n_embed 要能被它整除）",
    ),
    ("v4", "MultiHeadAttention"): Words(
        "write class MultiHeadAttention(n_embed, n_head, block_size): n_head heads of size n_embed // n_head"
        " (refuse an n_embed it does not divide), their outputs concatenated back to n_embed",
        "写 class MultiHeadAttention(n_embed, n_head, block_size)：n_head 个大小为 n_embed // n_head 的头"
        "（不能整除时拒绝），把它们的输出拼接回 n_embed",
    ),
    ("v4", "BabyGPT.__init__"): Words(
        "take n_head and use multi-head attention in place of the one head",
        "接收 n_head，用多头注意力换掉那一个头",
    ),
    ("v5", "FeedForward"): Words(
        "write class FeedForward(n_embed): a linear layer n_embed -> n_embed followed by a ReLU, applied to each"
        " position",
        "写 class FeedForward(n_embed)：一个 n_embed -> n_embed 的线性层，后接 ReLU，逐个位置地作用",
    ),
    ("v5", "BabyGPT.__init__"): Words("create self.feed_forward", "建 self.feed_forward"),
    ("v5", "BabyGPT.forward"): Words(
        "after the attention, pass x through the feed-forward", "在注意力之后让 x 经过前馈网络"
    ),
    ("v6", "MODEL_HYPERPARAMETERS"): Words(
        "add n_layer, the number of stacked Blocks", "加上 n_layer：堆叠的 Block 个数"
    ),
    ("v6", "Block"): Words(
        "write class Block(n_embed, n_head, block_size): attention, then feed-forward",
        "写 class Block(n_embed, n_head, block_size)：先注意力，再前馈",
    ),
    ("v6", "BabyGPT.__init__"): Words(
        "take n_layer and stack n_layer Blocks (nn.Sequential) in place of the attention and feed-forward",
        "接收 n_layer，用 n_layer 个 Block（nn.Sequential）换掉单独的注意力和前馈网络",
    ),
    ("v6", "BabyGPT.forward"): Words("pass x through the blocks", "让 x 经过这些 Block"),
    ("v7", "Block.forward"): Words(
        "add each sublayer's output to its input: x = x + sublayer(x), for the attention and for the feed-forward",
        "把每个子层的输出加到它的输入上：注意力和前馈网络各自 `x = x + sublayer(x)`",
    ),
    ("v8", "MultiHeadAttention.__init__"): Words(
        "create self.proj, a linear layer n_embed -> n_embed", "建 self.proj：一个 n_embed -> n_embed 的线性层"
    ),
    ("v8", "MultiHeadAttention.forward"): Words(
        "return the concatenated heads through the projection", "把拼接后的各头输出经过投影再返回"
    ),
    ("v8", "FeedForward.__init__"): Words(
        "make the feed-forward 4 x wider inside: n_embed -> 4 n_embed, ReLU, 4 n_embed -> n_embed",
        "让前馈网络内部宽 4 倍：n_embed -> 4 n_embed，ReLU，4 n_embed -> n_embed",
    ),
    ("v9", "Block.__init__"): Words(
        "create two layer norms, ln1 and ln2, one before each sublayer", "建两个层归一化 ln1 和 ln2，每个子层前一个"
    ),
    ("v9", "Block.forward"): Words(
        "normalise before each sublayer (pre-norm): x = x + sublayer(ln(x))",
        "在每个子层之前做层归一化，即前置归一化（pre-norm）：`x = x + sublayer(ln(x))`",
    ),
    ("v9", "BabyGPT.__init__"): Words(
        "create ln_f, the final layer norm before the output head", "建 ln_f：输出层之前最后一个层归一化"
    ),
    ("v9", "BabyGPT.forward"): Words("apply ln_f just before the output head", "在输出层之前用上 ln_f"),
    ("v10", "MODEL_HYPERPARAMETERS"): Words(
        "add dropout, the probability of zeroing an activation in training", "加上 dropout：训练时把激活置零的概率"
    ),
    ("v10", "Head.__init__"): Words(
        "take dropout and create an nn.Dropout for the attention weights",
        "接收 dropout，为注意力权重建一个 nn.Dropout",
    ),
    ("v10", "Head.forward"): Words("apply dropout to the attention weights", "对注意力权重做 dropout"),
    ("v10", "MultiHeadAttention.__init__"): Words(
        "take dropout, pass it to each head, and create an nn.Dropout for after the projection",
        "接收 dropout，传给每个头，并为投影之后建一个 nn.Dropout",
    ),
    ("v10", "MultiHeadAttention.forward"): Words("apply dropout after the projection", "在投影之后做 dropout"),
    ("v10", "FeedForward.__init__"): Words(
        "take dropout and end the feed-forward with an nn.Dropout", "接收 dropout，在前馈网络最后加一个 nn.Dropout"
    ),
    ("v10", "Block.__init__"): Words(
        "take dropout and pass it to the attention and the feed-forward", "接收 dropout，传给注意力和前馈网络"
    ),
    ("v10", "BabyGPT.__init__"): Words("take dropout and pass it to each Block", "接收 dropout，传给每个 Block"),
    ("v12", "import"): Words("import what the records need", "导入记录要用的模块"),
    ("v12", "CHECKPOINT_FORMAT"): Words(
        "name the tag every checkpoint.pt carries, CHECKPOINT_FORMAT; then write class RunRecorder: it makes the run"
        " folder, and at each evaluation prints the report, appends to metrics.csv and saves checkpoint.pt; at the"
        " end it writes loss_curve.png and samples.txt (and logs to wandb unless disabled)",
        "给每个 checkpoint.pt 都带的格式标记起名 CHECKPOINT_FORMAT。再写 class RunRecorder：建好运行目录；"
        "每次评估时打印报告、追加 metrics.csv、保存 checkpoint.pt；"
        "最后写出 loss_curve.png 和 samples.txt（没有关掉 wandb 时也记到 wandb）",
    ),
    ("v12", "write_atomically"): Words(
        "write the helpers of the records: a file written whole or not at all, the run folder (never replacing a"
        " trained model without --overwrite), the CSV table and the loss curve",
        "写记录要用的辅助函数：要么整个写好、要么不写的文件写入，运行目录（没有 --overwrite 时绝不替换训练好的"
        "模型），CSV 表格和损失曲线",
    ),
    ("v12", "make_parser"): Words(
        "add the options --out_dir, --overwrite, --wandb_mode and --wandb_project",
        "加上选项 --out_dir、--overwrite、--wandb_mode 和 --wandb_project",
    ),
    ("v12", "run"): Words(
        "record every run: RunRecorder is the default recorder", "每次运行都记录：默认的记录器是 RunRecorder"
    ),
    ("v12", "main"): Words(
        "a run folder that cannot be written is one line: error: cannot write the run folder ...",
        "写不了运行目录时只说一行：`error: cannot write the run folder ...`",
    ),
    ("v11", "TRAINING_HYPERPARAMETERS"): Words(
        "choose the batch size and learning rate for a GPU run", "为 GPU 上的训练选好批大小和学习率"
    ),
    ("v11", "MODEL_HYPERPARAMETERS"): Words(
        "choose the sizes of a GPU model: the check wants the training FLOPs (6 x parameters in the blocks x"
        " batch_size x block_size x max_iters) between half of our v11's and all of it",
        "选一个 GPU 上的模型尺寸：检查要求训练的 FLOPs（6 × 块里的参数 × batch_size × block_size × max_iters）"
        "在我们 v11 的一半到全部之间",
    ),
}
GENERAL_TODO = Words(
    "write the code of {stage}'s idea that goes here (its lesson's diff shows it, once you want to see it)",
    "在这里写 {stage} 这一步新想法的代码（想看答案时，课程里的差异就是）",
)
SAY = {
    "en": {
        "header": "# BabyGPT exercise {stage} (python babygpt_exercise.py start {stage}) | language: {lang}",
        "how": "# Write the code of each TODO block below, then check it:",
        "check": "#     python babygpt_exercise.py check {path}",
        "behaves": "# Until you do, each block holds the previous stage's lines: the file runs and trains as {prev}.",
        "stops": "# Until you do, the file stops at the first TODO it reaches, with one line that names it.",
        "begin": "TODO {k} of {n} ({stage}): {words}",
        "end": "END OF TODO {k}",
        "stop": "TODO {k} of {n} in {path} is still to write: {words}",
    },
    "zh": {
        "header": "# BabyGPT exercise {stage} (python babygpt_exercise.py start {stage}) | language: {lang}",
        "how": "# 在下面每个 TODO 块里写代码，写完后检查：",
        "check": "#     python babygpt_exercise.py check {path}",
        "behaves": "# 写好之前，每个块里放的是上一阶段的代码：这个文件照 {prev} 的样子运行和训练。",
        "stops": "# 写好之前，文件运行到第一个还没写的 TODO 时会停下，用一行话说出是哪一个。",
        "begin": "TODO {k}/{n}（{stage}）：{words}",
        "end": "TODO {k} 结束",
        "stop": "{path} 的 TODO {k}/{n} 还没写：{words}",
    },
}
MESSAGES = {
    "en": {
        "unknown_stage": "unknown stage {stage!r}: the stages are {stages}",
        "exists": "{path} already exists (your work is kept): check it with `python babygpt_exercise.py check {path}`,"
        " or start over with --overwrite",
        "wrote": "wrote {path}: {stage_file} with its new code taken out, {k} TODO {blocks} to write. Then check it:",
        "kept": "(your earlier file is kept as {backup})",
        "missing": "{path} not found",
        "not_python": "{path} is not a Python file (.py)",
        "no_stage": "{path}: which stage is it? It lacks the exercise's first line (# BabyGPT exercise vN ...):"
        " pass --stage vN",
        "checking": "checking {path} as {stage}, with the checks of {stage_file}:",
        "passed": "  passed  {words}{detail}",
        "failed": "  FAILED  {words}: {found}",
        "hint": "          hint: {hint}",
        "not_run": "  not run {words} (the file stopped before it)",
        "summary": "{passed} of {total} checks passed.",
        "all_passed": "{passed} of {total} checks passed: this is {stage}.",
        "solution": "To compare with the solution: python babygpt_exercise.py check {path} --diff",
        "same": "training: your {stage} reaches a train loss of {yours:.3f} after {steps} steps, ours {ours:.3f}:"
        " the same",
        "close": "training: your {stage} reaches a train loss of {yours:.3f} after {steps} steps, ours {ours:.3f}:"
        " within {tol}, as ours trains",
        "above": "training: it trains, but your {stage} ends {diff:.2f} {side} ours (train loss {yours:.3f} against"
        " {ours:.3f} after {steps} steps)",
        "above_word": "above",
        "below_word": "below",
        "not_a_judge": "  a {steps}-step run on a tiny text cannot judge a model: the checks above decide; lower is not"
        " better here",
        "as_above": "the same as above",
        "no_training": "training: not compared (a check above failed first: {reason})",
        "timeout": "the check of {path} stopped after {seconds} s {where}: a loop that never ends?",
        "memory": "the check of {path} ran out of memory (limit {limit} MiB, {where}): a huge tensor?",
        "crashed": "the check of {path} crashed ({how}{where})",
        "where_check": "in the check '{words}'",
        "where_load": "while importing the file",
        "diff_title": "The diff from {path} to the solution, {stage_file} (lines with - are yours, + the solution's):",
        "no_diff": "{path} is the solution, {stage_file}, line for line.",
        "teacher": "marked {n} {files} in {folder}; the table: {md} and {csv}",
        "no_files": "{folder} holds no .py file to check",
        "todo_left": "TODO {k} is still to write: {words}",
    },
    "zh": {
        "unknown_stage": "没有阶段 {stage!r}：阶段有 {stages}",
        "exists": "{path} 已经存在（你的代码保留着）：用 `python babygpt_exercise.py check {path}` 检查它，"
        "或加 --overwrite 重新开始",
        "wrote": "已写出 {path}：就是 {stage_file}，只是拿掉了新代码，要写 {k} 个 TODO 块。写好后检查：",
        "kept": "（你原来的文件保存为 {backup}）",
        "missing": "找不到 {path}",
        "not_python": "{path} 不是 Python 文件（.py）",
        "no_stage": "{path} 是哪一阶段？它缺少练习文件的第一行（# BabyGPT exercise vN ...）：请加 --stage vN",
        "checking": "按 {stage} 检查 {path}，用的是 {stage_file} 的检查：",
        "passed": "  通过    {words}{detail}",
        "failed": "  未通过  {words}：{found}",
        "hint": "          提示：{hint}",
        "not_run": "  未运行  {words}（文件在这之前就停了）",
        "summary": "{total} 项检查通过了 {passed} 项。",
        "all_passed": "{total} 项检查全部通过：这就是 {stage}。",
        "solution": "想和答案对比：python babygpt_exercise.py check {path} --diff",
        "same": "训练：你的 {stage} 训练 {steps} 步后训练损失为 {yours:.3f}，我们的是 {ours:.3f}：一样",
        "close": "训练：你的 {stage} 训练 {steps} 步后训练损失为 {yours:.3f}，我们的是 {ours:.3f}：相差不到 {tol}，"
        "和我们的训练得一样好",
        "above": "训练：能训练，但你的 {stage} 最后比我们的{side} {diff:.2f}"
        "（{steps} 步后训练损失 {yours:.3f} 对 {ours:.3f}）",
        "above_word": "高",
        "below_word": "低",
        "not_a_judge": "  在一小段文字上训练 {steps} 步，评判不了一个模型：以上面的检查为准；这里损失更低并不代表更好",
        "as_above": "同上",
        "no_training": "训练：没有比较（上面有检查先失败了：{reason}）",
        "timeout": "{path} 的检查停下了：{where}用了超过 {seconds} 秒，有停不下来的循环？",
        "memory": "{path} 的检查用光了内存（上限 {limit} MiB，{where}）：张量太大？",
        "crashed": "{path} 的检查崩溃了（{how}{where}）",
        "where_check": "在检查“{words}”时",
        "where_load": "在导入文件时",
        "diff_title": "从 {path} 到答案 {stage_file} 的差异（diff）（- 开头的是你的行，+ 开头的是答案的）：",
        "no_diff": "{path} 和答案 {stage_file} 一行不差。",
        "teacher": "已批改 {folder} 里的 {n} 个文件；表格在 {md} 和 {csv}",
        "no_files": "{folder} 里没有要检查的 .py 文件",
        "todo_left": "TODO {k} 还没写：{words}",
    },
}


class Refused(Exception):
    """Bad input: one line for the learner, status 2."""


# ----------------------------------------------------------------------------
# The stages


def stage_ids():
    return list(STAGE_IDS)


def stage_file(stage):
    return STAGE_MODULES[stage] + ".py"


def stage_number(stage):
    return int(stage[1:])


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines(keepends=True)


def docstring_end(lines):
    """The index of the first line after the module docstring."""
    tree = ast.parse("".join(lines))
    first = tree.body[0]
    return first.end_lineno if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) else 0


def places(lines):
    """For each line (0-based), the name of the definition that holds it: "Head", "BabyGPT.forward",
    "MODEL_HYPERPARAMETERS", or "" outside any."""
    where = [""] * len(lines)
    for node in ast.parse("".join(lines)).body:
        name = None
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            name = "import"
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        if name is None:
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        for i in range(start, node.end_lineno):
            where[i] = name
        for inner in node.body if isinstance(node, ast.ClassDef) else []:
            if isinstance(inner, ast.FunctionDef):
                start = min([inner.lineno] + [d.lineno for d in inner.decorator_list]) - 1
                for i in range(start, inner.end_lineno):
                    where[i] = f"{name}.{inner.name}"
    return where


def cosmetic(old, new):
    """Whether two runs of lines differ only in comments and the text of strings (a reworded help)."""

    def bare(lines):
        return [re.sub(r"#.*$", "", re.sub(r'"[^"]*"', '""', line)).rstrip() for line in lines]

    return len(old) == len(new) and bare(old) == bare(new)


def change_groups(old, new):
    """The changes from old to new code lines, as (i1, i2, j1, j2) line ranges: opcodes of one definition that are
    at most 10 unchanged lines apart form one group. Changes in comments and strings alone are not groups."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    where = places(new)
    groups = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and cosmetic(old[i1:i2], new[j1:j2])):
            continue
        place = next((p for p in where[j1:j2] if p), where[max(j1 - 1, 0)])
        if groups and groups[-1][4] == place and i1 - groups[-1][1] <= 10:
            groups[-1][1], groups[-1][3] = i2, j2
        else:
            groups.append([i1, i2, j1, j2, place])
    return groups


def indent_of(lines):
    for line in lines:
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return ""


def exercise(stage, lang, path):
    """The exercise file for stage (see the module docstring), as (text, answers): answers[k - 1] holds the lines
    of the stage file that TODO block k stands for, so that putting them in gives the stage file back."""
    say, n = SAY[lang], stage_number(stage)
    new = read_lines(os.path.join(ROOT, stage_file(stage)))
    start_new = docstring_end(new)
    head = [
        say["header"].format(stage=stage, lang=lang) + "\n",
        say["how"] + "\n",
        say["check"].format(path=path) + "\n",
    ]
    if n == 1:
        head.append(say["stops"] + "\n")
        body, answers = v1_body(new, lang, path)
    else:
        head.append(say["behaves"].format(prev=f"v{n - 1}") + "\n")
        old = read_lines(os.path.join(ROOT, stage_file(f"v{n - 1}")))
        body, answers = todo_body(old[docstring_end(old) :], new[start_new:], stage, lang)
    return "".join(head + new[:start_new] + body), answers


def todo_places(stage):
    """Where each TODO block of the stage's exercise goes, in order: "Head", "BabyGPT.forward", ..."""
    if stage_number(stage) == 1:
        return ["BabyGPT.__init__", "BabyGPT.forward"]
    old = read_lines(os.path.join(ROOT, stage_file(f"v{stage_number(stage) - 1}")))
    new = read_lines(os.path.join(ROOT, stage_file(stage)))
    return [group[4] for group in change_groups(old[docstring_end(old) :], new[docstring_end(new) :])]


def todo_words(stage, place, lang):
    words = TODO_WORDS.get((stage, place))
    return words[lang] if words else GENERAL_TODO[lang].format(stage=stage)


def todo_block(k, n_blocks, stage, place, lang, indent, inside):
    say = SAY[lang]
    words = todo_words(stage, place, lang)
    begin = f"{indent}# {say['begin'].format(k=k, n=n_blocks, stage=stage, words=words)}\n"
    return [begin, *inside, f"{indent}# {say['end'].format(k=k)}\n"]


def todo_body(old, new, stage, lang):
    """old with a TODO block around each change that new makes; changes of wording alone are made at once."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    out = list(old)
    # the changes of wording alone: take new's lines (same count, so the indexes of old stay valid)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and cosmetic(old[i1:i2], new[j1:j2]):
            out[i1:i2] = new[j1:j2]
    groups = change_groups(old, new)
    for k, (i1, i2, j1, j2, place) in reversed(list(enumerate(groups, 1))):
        indent = indent_of(new[j1:j2] or old[i1:i2])
        out[i1:i2] = todo_block(k, len(groups), stage, place, lang, indent, out[i1:i2])
    return out, [new[j1:j2] for _, _, j1, j2, _ in groups]


def v1_body(lines, lang, path):
    """v1 without the embedding lookup, the output head and the loss: in BabyGPT.__init__ the lines that create
    token_embedding_table and lm_head, in BabyGPT.forward everything after its first line; each place stops with one
    line (SystemExit) that names its TODO."""
    say = SAY[lang]
    tree = ast.parse("".join(lines))
    model = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "BabyGPT")
    methods = {node.name: node for node in model.body if isinstance(node, ast.FunctionDef)}
    init = [
        s
        for s in methods["__init__"].body
        if isinstance(s, ast.Assign)
        and any(ast.unparse(t) in ("self.token_embedding_table", "self.lm_head") for t in s.targets)
    ]
    pieces = [
        ("BabyGPT.__init__", init[0].lineno - 1, init[-1].end_lineno),
        ("BabyGPT.forward", methods["forward"].body[1].lineno - 1, methods["forward"].end_lineno),
    ]
    offset = docstring_end(lines)
    out = lines[offset:]
    for k, (place, start, end) in reversed(list(enumerate(pieces, 1))):
        indent = indent_of(lines[start:end])
        stop = say["stop"].format(k=k, n=len(pieces), path=path, words=todo_words("v1", place, lang))
        inside = [f"{indent}raise SystemExit({stop!r})\n"]
        out[start - offset : end - offset] = todo_block(k, len(pieces), "v1", place, lang, indent, inside)
    return out, [lines[start:end] for _, start, end in pieces]


def start(args):
    path = os.path.join(args.dir, f"{args.stage}.py")
    lang = args.lang or (args.overwrite and file_language(path)) or locale_language()  # starting over keeps it
    stage = known_stage(args.stage, lang)
    path = os.path.join(args.dir, f"{stage}.py")
    backup = None
    if os.path.exists(path):
        if not args.overwrite:
            raise Refused(MESSAGES[lang]["exists"].format(path=path))
        backup = f"{path}.{time.strftime('%Y%m%d-%H%M%S')}.bak"
    text, answers = exercise(stage, lang, path)
    os.makedirs(args.dir, exist_ok=True)
    if backup:
        os.replace(path, backup)
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError:  # a full disk: the learner's file goes back where it was
        if backup:
            os.replace(backup, path)
        raise
    blocks = "block" if len(answers) == 1 else "blocks"
    print(MESSAGES[lang]["wrote"].format(path=path, k=len(answers), blocks=blocks, stage_file=stage_file(stage)))
    print(f"    python babygpt_exercise.py check {path}")
    if backup:
        print(MESSAGES[lang]["kept"].format(backup=backup))


def locale_language():
    """zh where the environment's locale is Chinese (LC_ALL, LC_MESSAGES or LANG), else en."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def known_stage(stage, lang):
    if stage not in stage_ids():
        raise Refused(MESSAGES[lang]["unknown_stage"].format(stage=stage, stages=", ".join(stage_ids())))
    return stage


def write_atomically(path, data):
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and (not e.filename or e.filename == tmp):  # a failed write() names no file
            e.filename = path
        raise


# ----------------------------------------------------------------------------
# Checking a file: the worker (in a process of its own) and the one who reads its results


def learner_stage(path, given):
    """The stage a file is an exercise of: --stage, else its first line, else its name (v3.py)."""
    if given:
        return given
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        first = ""
    match = HEADER.match(first)
    if match:
        return match.group(1)
    name = os.path.splitext(os.path.basename(path))[0]
    return name if name in stage_ids() else None


def file_language(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            match = HEADER.match(f.readline())
    except OSError:
        return None
    return match.group(2) if match else None


def worker(path, stage, results_path, shown):
    """Import the learner's file, run every check on it and the training comparison; write one JSON line per
    result to results_path as it comes (the parent reads them even if this process is stopped)."""
    import importlib.util

    import torch

    torch.set_num_threads(1)
    out = open(results_path, "a", encoding="utf-8")

    def emit(**record):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()

    n = stage_number(stage)
    emit(started="load")
    sys.argv = [path]
    try:
        spec = importlib.util.spec_from_file_location(f"exercise_{stage}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except SyntaxError as e:
        emit(load_error=Words(f"{shown}, line {e.lineno}: {e.msg}", f"{shown} 第 {e.lineno} 行有语法错误：{e.msg}"))
        return
    except BaseException as e:  # noqa: BLE001  (a learner's file may raise anything, SystemExit included)
        found = raised(e, path)
        if found is OUT_OF_MEMORY:
            emit(load_error=Words(f"importing {shown} {found['en']}", f"导入 {shown} 时{found['zh']}"))
        else:
            emit(load_error=Words(f"importing {shown} raised {found['en']}", f"导入 {shown} 时出错：{found['zh']}"))
        return
    missing = [name for name in ("BabyGPT", "MODEL_HYPERPARAMETERS", "train") if not hasattr(module, name)]
    if missing:
        emit(
            load_error=Words(
                f"{shown} defines no {', '.join(missing)}: is it a BabyGPT stage?",
                f"{shown} 里没有 {', '.join(missing)}：这是 BabyGPT 的某个阶段吗？",
            )
        )
        return
    check_module(module, n, path, emit)


def check_module(module, n, path, emit, trains=True):
    """Run the checks of stage n on an imported module, and (trains) the training comparison; emit(**record) gets
    {"started": name} before each, then {"check": name, "passed": ...} or {"training": ...}."""
    for check in checks.checks_for(n, trains):
        emit(started=check.name)
        try:
            detail = check.run(module, n)
        except checks.CheckFailed as e:
            emit(check=check.name, passed=False, found=e.found, hint=e.hint)
        except BaseException as e:  # noqa: BLE001  (a learner's code may raise anything, SystemExit included)
            emit(check=check.name, passed=False, found=raised(e, path), hint=checks.error_hint(e))
        else:
            emit(check=check.name, passed=True, detail=detail)
    if not trains:
        return
    emit(started="training")
    try:
        emit(training=compare_training(module, n))
    except BaseException as e:  # noqa: BLE001
        emit(training=None, found=raised(e, path))


OUT_OF_MEMORY = Words(
    "ran out of memory (over --memory_limit): a huge tensor?", "用光了内存（超过了 --memory_limit）：张量太大？"
)


def raised(error, path):
    """What an exception says, one line, with the line of the learner's file it came from."""
    if isinstance(error, SystemExit):
        text = str(error.code)
    elif isinstance(error, MemoryError) or "can't allocate memory" in str(error):
        return OUT_OF_MEMORY
    else:
        text = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
    line = None
    tb = error.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None:
        return Words(text, text)
    return Words(f"{text} (line {line})", f"{text}（第 {line} 行）")


def compare_training(module, n):
    """Train the learner's model and ours the same way: seed, data, steps; return both final val losses."""
    import torch

    ours = checks.load_stage(n)
    config = TRAINING["model"]
    tokenizer, train_data, val_data = checks.tiny_data(ours)
    losses = {}
    for name, source in (("yours", module), ("ours", ours)):
        torch.manual_seed(TRAINING["seed"])
        model = source.BabyGPT(
            tokenizer.vocab_size, **{k: config[k] for k in source.MODEL_HYPERPARAMETERS if k in config}
        )
        hp = argparse.Namespace(
            max_iters=TRAINING["max_iters"],
            eval_interval=TRAINING["max_iters"],
            eval_iters=TRAINING["eval_iters"],
            batch_size=TRAINING["batch_size"],
            learning_rate=TRAINING["learning_rate"],
            **{k: config[k] for k in ours.MODEL_HYPERPARAMETERS if k in config},
        )
        final = ours.train(model, train_data, val_data, hp, lambda metrics: None)
        losses[name] = final["train_loss"]  # the corpus is tiny: its val tenth says little
    return {**losses, "steps": TRAINING["max_iters"]}


def watch(process, results_path, time_limit):
    """Wait for the worker; stop it once one step (importing the file, one check, the training) has run for
    time_limit seconds. Starting Python and torch is not counted: a loaded machine takes long to. Returns the
    problem ("timeout", values) or None."""
    seen, since = 0, None
    while process.poll() is None:
        time.sleep(0.1)
        try:
            size = os.path.getsize(results_path)
        except OSError:
            size = 0
        if size != seen:  # a new step began or ended
            seen, since = size, time.monotonic()
        if since is not None and time.monotonic() - since > time_limit:
            process.kill()
            return ("timeout", {"seconds": f"{time_limit:g}"})
    return None


def run_worker(path, stage, time_limit, memory_limit, shown=None):
    """Check one file in a process of its own; return (results, problem): results as the worker wrote them, problem
    a key of MESSAGES (timeout, memory, crashed) with its values, or None."""
    with tempfile.TemporaryDirectory() as folder:
        results_path = os.path.join(folder, "results.jsonl")
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "_worker",
            os.path.abspath(path),
            stage,
            results_path,
            shown or path,
        ]
        env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)

        def limit_memory():
            import resource

            limit = memory_limit * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        preexec = limit_memory if os.name == "posix" and memory_limit else None
        output_path = os.path.join(folder, "output.txt")  # a file, not a pipe: a file that prints much never stalls
        with open(output_path, "wb") as output:
            process = subprocess.Popen(
                command,
                cwd=folder,  # a learner's file that writes files writes them there, and they go with the folder
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec,  # noqa: PLW1509  (a limit set before the worker starts, nothing else)
            )
            problem = watch(process, results_path, time_limit)
            process.wait()
        with open(output_path, "rb") as f:
            output = f.read()
        results = []
        if os.path.exists(results_path):
            with open(results_path, encoding="utf-8") as f:
                results = [json.loads(line) for line in f if line.strip()]
        if problem is None and process.returncode != 0:
            text = output.decode("utf-8", "replace")
            if "MemoryError" in text or "can't allocate" in text or process.returncode in (-9,):
                problem = ("memory", {"limit": memory_limit})
            else:
                last = [line for line in text.splitlines() if line.strip()][-1:] or [f"status {process.returncode}"]
                problem = ("crashed", {"how": last[0][-200:]})
    return results, problem


def summarise(path, stage, results, problem, lang):
    """The results of one file as rows: {check name: (passed, found, hint, detail)}, the training comparison and
    a one-line problem (load error, timeout, crash), in the learner's language."""
    say = MESSAGES[lang]
    rows, training, note = {}, None, None
    started = None
    for record in results:
        if "started" in record:
            started = record["started"]
        elif "check" in record:
            rows[record["check"]] = record
        elif "load_error" in record:
            note = record["load_error"][lang]
        elif "training" in record:
            training = record
    if problem is not None:
        kind, values = problem
        if started in checks.BY_NAME:
            where = say["where_check"].format(words=checks.title(checks.BY_NAME[started], stage_number(stage))[lang])
        elif started == "training":
            where = say["where_check"].format(words="training")
        else:
            where = say["where_load"]
        if kind == "crashed":
            values = {**values, "how": values["how"] + ", "}
        note = say[kind].format(path=path, where=where, **values)
    return rows, training, note


def print_report(path, stage, rows, training, note, lang):
    say = MESSAGES[lang]
    print(say["checking"].format(path=path, stage=stage, stage_file=stage_file(stage)))
    if note and not rows:
        print(f"  {note}")
    passed, previous = 0, None
    expected = checks.checks_for(stage_number(stage))
    for check in expected:
        record = rows.get(check.name)
        words = checks.title(check, stage_number(stage))[lang]
        if record is None:
            print(say["not_run"].format(words=words))
        elif record["passed"]:
            passed += 1
            detail = record.get("detail")
            detail = (f"（{detail[lang]}）" if lang == "zh" else f" ({detail[lang]})") if detail else ""
            print(say["passed"].format(words=words, detail=detail))
        else:
            found = record["found"][lang]
            print(say["failed"].format(words=words, found=say["as_above"] if found == previous else found))
            previous = found
            if record.get("hint"):
                print(say["hint"].format(hint=record["hint"][lang]))
    if note and rows:
        print(f"  {note}")
    print(training_line(stage, training, lang))
    total = len(expected)
    result = training.get("training") if training else None
    if result and (passed < total or round(result["yours"], 3) < round(result["ours"], 3)):
        print(say["not_a_judge"].format(steps=result["steps"]))
    if passed == total:
        print(say["all_passed"].format(passed=passed, total=total, stage=stage))
    else:
        print(say["summary"].format(passed=passed, total=total))
        print(say["solution"].format(path=path))
    return passed == total and training_ok(training)


def training_ok(training):
    return (
        bool(training and training.get("training"))
        and abs(training["training"]["yours"] - training["training"]["ours"]) <= SAME_LOSS
    )


def training_line(stage, training, lang):
    say = MESSAGES[lang]
    if not training or not training.get("training"):
        reason = training["found"][lang] if training and training.get("found") else "-"
        return say["no_training"].format(reason=reason)
    result = training["training"]
    yours, ours, steps = result["yours"], result["ours"], result["steps"]
    if f"{yours:.3f}" == f"{ours:.3f}":
        return say["same"].format(stage=stage, yours=yours, ours=ours, steps=steps)
    if abs(yours - ours) <= SAME_LOSS:
        return say["close"].format(stage=stage, yours=yours, ours=ours, steps=steps, tol=SAME_LOSS)
    side = say["above_word"] if yours > ours else say["below_word"]
    return say["above"].format(stage=stage, yours=yours, ours=ours, steps=steps, diff=abs(yours - ours), side=side)


def show_diff(path, stage, lang):
    say = MESSAGES[lang]
    solution = stage_file(stage)
    mine = read_lines(path)
    theirs = read_lines(os.path.join(ROOT, solution))
    diff = list(difflib.unified_diff(mine, theirs, fromfile=path, tofile=solution))
    if not diff:
        print(say["no_diff"].format(path=path, stage_file=solution))
        return
    print(say["diff_title"].format(path=path, stage_file=solution))
    sys.stdout.write("".join(line if line.endswith("\n") else line + "\n" for line in diff))


def syntax_error(path, lang, shown=None):
    """The file's syntax error as one line, or None: compiling runs nothing of the file."""
    try:
        with open(path, "rb") as f:
            compile(f.read(), path, "exec")
    except SyntaxError as e:
        shown = shown or path
        return Words(f"{shown}, line {e.lineno}: {e.msg}", f"{shown} 第 {e.lineno} 行有语法错误：{e.msg}")[lang]
    except ValueError as e:  # null bytes
        return f"{shown or path}: {e}"
    return None


def check_file(args, path, lang):
    stage = learner_stage(path, args.stage)
    if stage is None:
        raise Refused(MESSAGES[lang]["no_stage"].format(path=path))
    known_stage(stage, lang)
    syntax = syntax_error(path, lang)
    if syntax:
        raise Refused(syntax)
    results, problem = run_worker(path, stage, args.time_limit, args.memory_limit)
    rows, training, note = summarise(path, stage, results, problem, lang)
    if note and not rows:  # nothing was checked: one line
        raise Refused(note)
    ok = print_report(path, stage, rows, training, note, lang)
    if args.diff:
        print()
        show_diff(path, stage, lang)
    return 0 if ok and not note else 1


def check_folder(args, folder, lang):
    """A teacher's table: every .py file of the folder, each in its own process."""
    files = sorted(name for name in os.listdir(folder) if name.endswith(".py"))
    if not files:
        raise Refused(MESSAGES[lang]["no_files"].format(folder=folder))
    if args.stage:
        known_stage(args.stage, lang)

    def mark(name):
        path = os.path.join(folder, name)
        stage = learner_stage(path, args.stage)
        if stage not in stage_ids():
            return {"file": name, "stage": stage or "?", "note": MESSAGES[lang]["no_stage"].format(path=name)}
        syntax = syntax_error(path, lang, shown=name)
        if syntax:
            results, problem = [{"load_error": {lang: syntax}}], None
        else:
            results, problem = run_worker(path, stage, args.time_limit, args.memory_limit, shown=name)
        rows, training, note = summarise(name, stage, results, problem, lang)
        row = {"file": name, "stage": stage}
        for check in checks.checks_for(stage_number(stage)):
            record = rows.get(check.name)
            row[check.name] = "" if record is None else ("pass" if record["passed"] else "FAIL")
        result = (training or {}).get("training")
        row["passed"] = f"{sum(1 for r in rows.values() if r['passed'])}/{len(checks.checks_for(stage_number(stage)))}"
        row["loss_yours"] = f"{result['yours']:.3f}" if result else ""
        row["loss_ours"] = f"{result['ours']:.3f}" if result else ""
        row["note"] = note or ""
        print(f"{name}: {row['passed']} {note or ''}".rstrip(), flush=True)
        return row

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each thread waits on a process
        table = list(pool.map(mark, files))
    stages = {stage_number(row["stage"]) for row in table if row["stage"] in stage_ids()}
    marked = [c.name for c in checks.CHECKS if any(c in checks.checks_for(n) for n in stages)]  # those that apply
    columns = ["file", "stage", "passed", *marked, "loss_yours", "loss_ours", "note"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    markdown = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table:
        cells = [str(row.get(c, "")).replace("|", "\\|").replace("\n", " ") for c in columns]
        markdown.append("| " + " | ".join(cells) + " |")
    md, csv_path = f"{args.out}.md", f"{args.out}.csv"
    write_atomically(md, ("\n".join(markdown) + "\n").encode("utf-8"))
    write_atomically(csv_path, buffer.getvalue().encode("utf-8"))
    files_word = "file" if len(table) == 1 else "files"
    md, csv_path = os.path.abspath(md), os.path.abspath(csv_path)  # --out is relative to the current folder
    print(MESSAGES[lang]["teacher"].format(n=len(table), files=files_word, folder=folder, md=md, csv=csv_path))
    return 0


def check(args):
    path = args.path
    lang = args.lang or file_language(path) or locale_language()
    if not args.time_limit > 0 or args.memory_limit < 0 or args.jobs < 1:
        raise Refused("--time_limit must be positive, --memory_limit 0 or more, --jobs 1 or more")
    if os.path.isdir(path):
        return check_folder(args, path, lang)
    if not os.path.exists(path):
        raise Refused(MESSAGES[lang]["missing"].format(path=path))
    if not path.endswith(".py"):
        raise Refused(MESSAGES[lang]["not_python"].format(path=path))
    return check_file(args, path, lang)


# ----------------------------------------------------------------------------
# The command line


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message):
        sys.exit(f"{self.prog}: error: {message} (see --help)")


def make_parser():
    parser = OneLineErrorParser(
        prog="babygpt_exercise.py",
        description="Write each stage yourself: start an exercise, check it, mark a folder of them.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    begin = commands.add_parser("start", help="write the exercise for a stage", allow_abbrev=False)
    begin.add_argument("stage", help="which stage: v1 .. v12")
    begin.add_argument(
        "--lang",
        choices=["en", "zh"],
        help="language of the TODOs and messages (default: zh where the locale is Chinese, LANG=zh_CN.UTF-8, else en)",
    )
    begin.add_argument("--dir", default="exercises", help="folder to write it in (default: %(default)s)")
    begin.add_argument(
        "--overwrite",
        action="store_true",
        help="start over, in the old file's language unless --lang: the old file is kept beside it as .bak"
        " (default: off)",
    )
    test = commands.add_parser("check", help="check an exercise file, or mark a folder of them", allow_abbrev=False)
    test.add_argument("path", help="a learner's .py file, or a folder of them (one per learner: a teacher's table)")
    test.add_argument("--stage", help="the stage to check against (default: the file's first line, or its name)")
    test.add_argument(
        "--lang", choices=["en", "zh"], help="language of the report (default: the exercise's, else as start's)"
    )
    test.add_argument("--diff", action="store_true", help="also show the diff to the solution (default: off)")
    test.add_argument(
        "--time_limit",
        type=float,
        default=60,
        help="seconds one step may take: importing the file, one check, the training; a step that takes longer is"
        " stopped, as a loop that never ends (default: %(default)s)",
    )
    test.add_argument(
        "--memory_limit",
        type=int,
        default=4096,
        help="MiB one file's process may use, 0 for none (default: %(default)s)",
    )
    test.add_argument(
        "--jobs", type=int, default=2, help="a folder: how many files are checked at once (default: %(default)s)"
    )
    test.add_argument(
        "--out",
        default="marks",
        help="a folder's table goes to OUT.md and OUT.csv, relative to the current folder (default: %(default)s)",
    )
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_worker"]:  # checking one file, in the process run_worker started
        worker(*argv[1:])
        return
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    args = make_parser().parse_args(argv)
    try:
        if args.command == "start":
            start(args)
        else:
            sys.exit(check(args))
    except Refused as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"error: {e.filename}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
