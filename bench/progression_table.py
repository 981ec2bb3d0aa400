"""The progression's settings and how its results are summarised: seeds, budgets, the stages' ideas, a table cell.

bench/measure/progression.py runs the stages with these settings and writes the progression's pages;
bench/measure/lesson_runs.py trains each stage at the equal budget, and bench/pages/lessons.py puts the
progression's rows into the lessons: all three read them from here, so that no bench imports another.
Importing this file reads nothing and trains nothing.
"""

import importlib
import math
import statistics

from bench.runs import STAGE_MODULES

SEEDS = [1337, 1, 2]


TRAINED_STAGES = [f"v{n}" for n in range(1, 12)]  # v12 trains exactly as v11


EQUAL_BUDGET = {
    "max_iters": 1500,
    "eval_interval": 250,
    "eval_iters": 20,
    "batch_size": 16,
    "learning_rate": 1e-3,
    "block_size": 64,
    "n_embed": 128,
    "n_head": 4,
    "n_layer": 4,
    "dropout": 0.1,
}


LECTURE = {  # the lecture's small model; eval_iters as in our stages
    "max_iters": 5000,
    "eval_interval": 500,
    "eval_iters": 50,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "block_size": 8,
    "n_embed": 32,
    "n_head": 4,
    "n_layer": 3,
    "dropout": 0.0,
}


# The lecture's reported val losses, by the stage that adds the same idea (v8: residual + projection).
LECTURE_LOSSES = {"v4": 2.28, "v5": 2.24, "v8": 2.08, "v9": 2.06}


BUDGETS = {
    "defaults": {"stages": TRAINED_STAGES, "data": "data/ci.txt"},
    "equal": {"stages": TRAINED_STAGES[:-1], "data": "data/ci.txt"},  # v11 here = v10 (see above)
    "lecture": {"stages": list(LECTURE_LOSSES), "data": "data/shakespeare.txt"},
}


# ln(vocab_size): the val loss of a fresh model that guesses evenly (6,103 characters in data/ci.txt, 65 in
# tiny shakespeare)
FRESH_LOSS = {"data/ci.txt": math.log(6103), "data/shakespeare.txt": math.log(65)}


IDEAS = {  # each stage's idea, as the pages' tables name it
    "en": ["bigram", "+ position", "+ self-attention", "+ multi-head", "+ feed-forward", "+ blocks", "+ residual",
           "+ projection", "+ layer norm", "+ dropout", "scaled up"],
    "zh": ["二元模型", "+ 位置", "+ 自注意力", "+ 多头", "+ 前馈", "+ 堆叠 Block", "+ 残差", "+ 投影",
           "+ 层归一化", "+ dropout", "放大"],
}  # fmt: skip


WORDS = {
    "en": {
        "measured": "**Measured** with `python -m bench progression` on {machine}, two runs at a time with one "
        "thread each; val loss: mean of seeds {seeds} [lowest–highest]; wall time and tokens/s: mean.",
        "caption": "final val loss per stage, mean and range of three seeds, at each stage's defaults and at one "
        "equal budget",
        "header": "| stage | at its defaults: val loss | wall time | tokens/s | equal budget: val loss | wall time |",
        "v11_equal": "v11 changes only hyperparameters, so at the equal budget it is v10 (v11's row there is its "
        "defaults run: the same command{check}).",
        "check": ", and with each seed the same loss as v10 to the last digit",
        "and": ", ",
        "lecture_measured": "**Measured** with `python -m bench progression --budgets lecture` (same machine; "
        "mean of seeds {seeds} [lowest–highest]):",
        "lecture_header": "| stage | idea (as the lecture adds it) | lecture (Karpathy) | BabyGPT, same settings |",
        "lecture_ideas": ["multi-head attention", "+ feed-forward", "+ residual and projection", "+ layer norm"],
        "gpu_row": "| v11 | scaled up (lecture: an A100 GPU, about 15 minutes) | 1.48 | needs a GPU: not run yet"
        " (the trainer, same model and settings, on an H100: 1.541 and 1.544) |",
        "not_run": "not run yet",
        "diverged": "; seed {seed} diverged: {loss:.1f}",
        "partial": " ({done} of the seeds so far)",
        "path_measured": "**Measured** with `python -m bench progression` ({machine}, two runs at a time with one "
        "thread each): how long each stage takes at its defaults, mean of seeds {seeds}; a laptop with a free "
        "core is likely faster.",
        "path_header": "| stage | lesson | one run at its defaults | tokens/s |",
        "minutes": "{minutes:.1f} min",
    },
    "zh": {
        "measured": "**实测**：`python -m bench progression`，机器为 {machine}，两个运行同时进行、各用一个线程；"
        "验证损失为种子 {seeds} 的平均值 [最低–最高]，用时和每秒词元数为平均值。",
        "caption": "各阶段的最终验证损失：三个种子的平均值和范围，分别在各阶段默认值和同一预算下",
        "header": "| 阶段 | 默认值：验证损失 | 用时 | 每秒词元数 | 同一预算：验证损失 | 用时 |",
        "v11_equal": "v11 只改超参数，所以在同一预算下它就是 v10（表中 v11 这一格用的是它默认值那次运行，"
        "命令完全相同{check}）。",
        "check": "，每个种子的损失都和 v10 一模一样",
        "and": "、",
        "lecture_measured": "**实测**：`python -m bench progression --budgets lecture`（同一台机器；"
        "种子 {seeds} 的平均值 [最低–最高]）：",
        "lecture_header": "| 阶段 | 新想法（按课程的加法） | 课程（Karpathy） | BabyGPT，相同设置 |",
        "lecture_ideas": ["多头注意力", "+ 前馈", "+ 残差和投影", "+ 层归一化"],
        "gpu_row": "| v11 | 放大（课程：在 GPU 上，A100 约 15 分钟） | 1.48 | 需要 GPU，还没有运行"
        "（用训练脚本、同样的模型和设置，在 H100 上：1.541 和 1.544） |",
        "not_run": "尚未运行",
        "diverged": "；种子 {seed} 发散：{loss:.1f}",
        "partial": "（目前 {done} 个种子）",
        "path_measured": "**实测**：`python -m bench progression`，机器为 {machine}，两个运行同时进行、各用一个线程。"
        "下表是各阶段用默认值跑一次的用时，取种子 {seeds} 的平均值；笔记本电脑若有空闲的核，多半更快。",
        "path_header": "| 阶段 | 课程 | 默认值下跑一次 | 每秒词元数 |",
        "minutes": "{minutes:.1f} 分钟",
    },
}


def stage_options(stage, values):
    """The options of values that this stage has, as command-line arguments (v1 has no --n_head)."""
    names = importlib.import_module(STAGE_MODULES[stage]).HYPERPARAMETERS
    return [f"--{name}={value}" for name, value in values.items() if name in names]


def summarise(results, budget, stage, seeds):
    """Mean and range over the seeds of one stage at one budget (None before any of its runs is done)."""
    if budget == "equal" and stage not in BUDGETS["equal"]["stages"]:
        budget = "defaults"  # v11 at the equal budget is its defaults run: the same command
    runs = [results[k] for s in seeds if (k := f"{budget}/{stage}/{s}") in results]
    if not runs:
        return None
    # a run that ends worse than a fresh model's even guess has diverged: kept apart, never averaged in
    fresh = FRESH_LOSS[BUDGETS[budget]["data"]]
    diverged = [(r["seed"], r["val_loss"]) for r in runs if not r["val_loss"] < fresh]
    losses = [r["val_loss"] for r in runs if r["val_loss"] < fresh] or [math.nan]
    return {
        "n": len(runs) - len(diverged),
        "diverged": diverged,
        "mean": statistics.mean(losses),
        "low": min(losses),
        "high": max(losses),
        "wall": statistics.mean(r["wall_seconds"] for r in runs),
        "tokens_per_second": statistics.mean(r["tokens_per_second"] for r in runs),
    }


def loss_cell(row, language, seeds):
    if row is None:
        return WORDS[language]["not_run"]
    spread = f" [{row['low']:.3f}–{row['high']:.3f}]" if row["n"] > 1 else ""
    cell = f"{row['mean']:.3f}{spread}" if row["n"] else ""
    for seed, loss in row["diverged"]:
        cell += WORDS[language]["diverged"].format(seed=seed, loss=loss)
    done = row["n"] + len(row["diverged"])
    return cell + (WORDS[language]["partial"].format(done=done) if done < len(seeds) else "")
