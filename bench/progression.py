"""The progression, measured honestly: every stage, several seeds, three budgets, one chart.

    python bench/progression.py                          # all three budgets (hours on 2 cores: it resumes)
    python bench/progression.py --budgets defaults       # one budget
    python bench/progression.py --report                 # only the tables and the chart, from what is done

Budgets:
  defaults  each stage with its own defaults (v11/v12: the CPU command), as a learner runs it
  equal     all twelve stages with one equal budget, the v11 CPU command's: block_size 64, n_embed 128,
            n_head 4, n_layer 4, dropout 0.1 (each where the stage has it), learning rate 1e-3, 1,500 steps
            of 16 sequences; room for context, depth and normalisation to matter. v11 changes only
            hyperparameters, so at this budget it *is* v10: v10 is run, and v11's row is its defaults run,
            the same command (the two losses agree to the last digit, and the report checks it)
  lecture   Karpathy's lecture settings on tiny shakespeare (block_size 8, n_embed 32, n_head 4, n_layer 3,
            learning rate 1e-3, 5,000 steps of 32), for the stages whose val loss the lecture reports

Every run is the stage's own main() (bench/runs.py), seeds 1337, 1 and 2, two runs at a time with one
thread each; results are appended to bench/results/progression.jsonl as each run ends, so a stopped
bench resumes where it was. v12 trains exactly as v11 (a test checks it), so it is not run again.
The chart goes to docs/progression.png; the tables are printed, and written between the lines
`<!-- measured: progression -->` and `<!-- end measured -->` of docs/progression.md (and `lecture` of
docs/lecture.md), in both languages (.zh.md): nothing in them is pasted by hand.
"""

import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import (  # noqa: E402
    CPU_COMMAND,
    ROOT,
    STAGE_MODULES,
    fill_measured,
    in_chinese,
    load_results,
    machine_description,
    run_jobs,
)

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
RESULTS = os.path.join(ROOT, "bench", "results", "progression.jsonl")
# the pages that hold the measured blocks (between <!-- measured: NAME --> and <!-- end measured -->)
PAGES = {
    "en": {
        "progression": os.path.join(ROOT, "docs", "progression.md"),
        "lecture": os.path.join(ROOT, "docs", "lecture.md"),
        "path": os.path.join(ROOT, "docs", "learning-path.md"),
    },
    "zh": {
        "progression": os.path.join(ROOT, "docs", "progression.zh.md"),
        "lecture": os.path.join(ROOT, "docs", "lecture.zh.md"),
        "path": os.path.join(ROOT, "docs", "learning-path.zh.md"),
    },
}
IDEAS = {  # each stage's idea, as the pages' tables name it
    "en": ["bigram", "+ position", "+ self-attention", "+ multi-head", "+ feed-forward", "+ blocks", "+ residual",
           "+ projection", "+ layer norm", "+ dropout", "scaled up"],
    "zh": ["二元模型", "+ 位置", "+ 自注意力", "+ 多头", "+ 前馈", "+ 堆叠 Block", "+ 残差", "+ 投影",
           "+ 层归一化", "+ dropout", "放大"],
}  # fmt: skip
WORDS = {
    "en": {
        "measured": "**Measured** with `python bench/progression.py` on {machine}, two runs at a time with one "
        "thread each; val loss: mean of seeds {seeds} [lowest–highest]; wall time and tokens/s: mean.",
        "caption": "final val loss per stage, mean and range of three seeds, at each stage's defaults and at one "
        "equal budget",
        "header": "| stage | at its defaults: val loss | wall time | tokens/s | equal budget: val loss | wall time |",
        "v11_equal": "v11 changes only hyperparameters, so at the equal budget it is v10 (v11's row there is its "
        "defaults run: the same command{check}).",
        "check": ", and with each seed the same loss as v10 to the last digit",
        "and": ", ",
        "lecture_measured": "**Measured** with `python bench/progression.py --budgets lecture` (same machine; "
        "mean of seeds {seeds} [lowest–highest]):",
        "lecture_header": "| stage | idea (as the lecture adds it) | lecture (Karpathy) | BabyGPT, same settings |",
        "lecture_ideas": ["multi-head attention", "+ feed-forward", "+ residual and projection", "+ layer norm"],
        "gpu_row": "| v11 | scaled up (lecture: an A100 GPU, about 15 minutes) | 1.48 | needs a GPU: not run yet"
        " (the trainer, same model and settings, on an H100: 1.541 and 1.544) |",
        "not_run": "not run yet",
        "diverged": "; seed {seed} diverged: {loss:.1f}",
        "partial": " ({done} of the seeds so far)",
        "path_measured": "**Measured** with `python bench/progression.py` ({machine}, two runs at a time with one "
        "thread each): how long each stage takes at its defaults, mean of seeds {seeds}; a laptop with a free "
        "core is likely faster.",
        "path_header": "| stage | lesson | one run at its defaults | tokens/s |",
        "minutes": "{minutes:.1f} min",
    },
    "zh": {
        "measured": "**实测**：`python bench/progression.py`，机器为 {machine}，两个运行同时进行、各用一个线程；"
        "验证损失为种子 {seeds} 的平均值 [最低–最高]，用时和每秒词元数为平均值。",
        "caption": "各阶段的最终验证损失：三个种子的平均值和范围，分别在各阶段默认值和同一预算下",
        "header": "| 阶段 | 默认值：验证损失 | 用时 | 每秒词元数 | 同一预算：验证损失 | 用时 |",
        "v11_equal": "v11 只改超参数，所以在同一预算下它就是 v10（表中 v11 这一格用的是它默认值那次运行，"
        "命令完全相同{check}）。",
        "check": "，每个种子的损失都和 v10 一模一样",
        "and": "、",
        "lecture_measured": "**实测**：`python bench/progression.py --budgets lecture`（同一台机器；"
        "种子 {seeds} 的平均值 [最低–最高]）：",
        "lecture_header": "| 阶段 | 新想法（按课程的加法） | 课程（Karpathy） | BabyGPT，相同设置 |",
        "lecture_ideas": ["多头注意力", "+ 前馈", "+ 残差和投影", "+ 层归一化"],
        "gpu_row": "| v11 | 放大（课程：在 GPU 上，A100 约 15 分钟） | 1.48 | 需要 GPU，还没有运行"
        "（用训练脚本、同样的模型和设置，在 H100 上：1.541 和 1.544） |",
        "not_run": "尚未运行",
        "diverged": "；种子 {seed} 发散：{loss:.1f}",
        "partial": "（目前 {done} 个种子）",
        "path_measured": "**实测**：`python bench/progression.py`，机器为 {machine}，两个运行同时进行、各用一个线程。"
        "下表是各阶段用默认值跑一次的用时，取种子 {seeds} 的平均值；笔记本电脑若有空闲的核，多半更快。",
        "path_header": "| 阶段 | 课程 | 默认值下跑一次 | 每秒词元数 |",
        "minutes": "{minutes:.1f} 分钟",
    },
}


def stage_options(stage, values):
    """The options of values that this stage has, as command-line arguments (v1 has no --n_head)."""
    import importlib

    sys.path.insert(0, ROOT)
    names = importlib.import_module(STAGE_MODULES[stage]).HYPERPARAMETERS
    return [f"--{name}={value}" for name, value in values.items() if name in names]


def jobs_for(budget, seeds):
    jobs = []
    spec = BUDGETS[budget]
    for seed in seeds:
        for stage in spec["stages"]:
            argv = ["--data", spec["data"], "--seed", str(seed), "--device", "cpu"]
            if budget == "defaults":
                argv += CPU_COMMAND.get(stage, "").split()
            else:
                argv += stage_options(stage, EQUAL_BUDGET if budget == "equal" else LECTURE)
            key = f"{budget}/{stage}/{seed}"
            jobs.append({"key": key, "budget": budget, "stage": stage, "seed": seed, "argv": argv})
    return jobs


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


def v11_is_v10(results, seeds):
    """Whether v11's defaults run and v10 at the equal budget, the same command, gave the same loss with
    every seed both have (None when no seed has both)."""
    pairs = [(results.get(f"defaults/v11/{s}"), results.get(f"equal/v10/{s}")) for s in seeds]
    pairs = [(a["val_loss"], b["val_loss"]) for a, b in pairs if a and b]
    return all(a == b for a, b in pairs) if pairs else None


def loss_cell(row, language, seeds):
    if row is None:
        return WORDS[language]["not_run"]
    spread = f" [{row['low']:.3f}–{row['high']:.3f}]" if row["n"] > 1 else ""
    cell = f"{row['mean']:.3f}{spread}" if row["n"] else ""
    for seed, loss in row["diverged"]:
        cell += WORDS[language]["diverged"].format(seed=seed, loss=loss)
    done = row["n"] + len(row["diverged"])
    return cell + (WORDS[language]["partial"].format(done=done) if done < len(seeds) else "")


# The machine of the results recorded before each result named its own (all of bench/results/progression.jsonl's)
EARLIER_MACHINE = "AMD EPYC, 2 cores, Python 3.11.7, torch 2.13.0+cpu"


def results_machine(results, language):
    """The machine(s) the results were measured on, as recorded with them (never the machine writing the page)."""
    machines = sorted({result.get("machine", EARLIER_MACHINE) for result in results.values()})
    return "; ".join(in_chinese(machine) if language == "zh" else machine for machine in machines)


def opening(name, language, seeds, results):
    """The first lines of a measured block: its marker, and the sentence that names the command and machine."""
    words = WORDS[language]
    seed_list = words["and"].join(map(str, seeds))
    template = words["measured" if name == "progression" else f"{name}_measured"]
    machine = results_machine(results, language)
    return [f"<!-- measured: {name} -->", template.format(machine=machine, seeds=seed_list)]


def progression_block(results, seeds, language):
    """The progression page's measured stage table, with the chart above it (docs/progression.png, beside the page)."""
    words = WORDS[language]
    lines = opening("progression", language, seeds, results)
    picture = "progression.zh.png" if language == "zh" else "progression.png"
    lines += ["", f"![{words['caption']}]({picture})", "", words["header"], "|---|--:|--:|--:|--:|--:|"]
    for stage, idea in zip(TRAINED_STAGES, IDEAS[language], strict=True):
        at_defaults, equal = summarise(results, "defaults", stage, seeds), summarise(results, "equal", stage, seeds)
        wall = [f"{row['wall']:.0f} s" if row else "" for row in (at_defaults, equal)]
        speed = f"{at_defaults['tokens_per_second']:,.0f}" if at_defaults else ""
        cells = [
            f"{stage} {idea}",
            loss_cell(at_defaults, language, seeds),
            wall[0],
            speed,
            loss_cell(equal, language, seeds),
            wall[1],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    same = v11_is_v10(results, seeds)
    lines += ["", words["v11_equal"].format(check=words["check"] if same else ""), "<!-- end measured -->"]
    if same is False:
        print("warning: v11's defaults run and v10 at the equal budget differ: the stages no longer train alike")
    return "\n".join(lines)


def lecture_block(results, seeds, language):
    """The lecture page's comparison with the lecture's reported val losses."""
    words = WORDS[language]
    lines = opening("lecture", language, seeds, results) + ["", words["lecture_header"], "|---|---|--:|--:|"]
    for (stage, reported), idea in zip(LECTURE_LOSSES.items(), words["lecture_ideas"], strict=True):
        ours = loss_cell(summarise(results, "lecture", stage, seeds), language, seeds)
        lines.append(f"| {stage} | {idea} | {reported:.2f} | {ours} |")
    lines += [words["gpu_row"], "<!-- end measured -->"]
    return "\n".join(lines)


def path_block(results, seeds, language):
    """The learning path's table: each stage's lesson and how long one run at its defaults took."""
    words = WORDS[language]
    lines = opening("path", language, seeds, results) + ["", words["path_header"], "|---|---|--:|--:|"]
    suffix = ".zh.md" if language == "zh" else ".md"
    for stage, idea in zip(TRAINED_STAGES, IDEAS[language], strict=True):
        row = summarise(results, "defaults", stage, seeds)
        time = words["minutes"].format(minutes=row["wall"] / 60) if row else words["not_run"]
        speed = f"{row['tokens_per_second']:,.0f}" if row else ""
        lines.append(f"| {stage} | [{idea}](learn/{stage}{suffix}) | {time} | {speed} |")
    return "\n".join(lines + ["<!-- end measured -->"])


def page_blocks(results, seeds, language):
    """The measured blocks of one language, by name (each goes into PAGES[language][name])."""
    return {
        "progression": progression_block(results, seeds, language),
        "lecture": lecture_block(results, seeds, language),
        "path": path_block(results, seeds, language),
    }


CHART_WORDS = {
    "en": {
        "budgets": ["each stage's defaults", "equal budget"],
        "diverged": "diverged, left out:\nseed {seeds}",
        "stages": ["bigram", "position", "attention", "heads", "ffwd", "blocks", "residual", "projection",
                   "layer norm", "dropout", "scaled"],
        "ylabel": "final val loss (data/ci.txt)",
        "title": "BabyGPT: val loss per stage, mean and range of {n} seeds",
    },
    "zh": {
        "budgets": ["各阶段的默认值", "同一预算"],
        "diverged": "发散，未计入：\n种子 {seeds}",
        "stages": ["二元模型", "位置", "注意力", "多头", "前馈", "堆叠", "残差", "投影", "层归一化", "dropout", "放大"],
        "ylabel": "最终验证损失（data/ci.txt）",
        "title": "BabyGPT：各阶段的验证损失，{n} 个种子的平均值和范围",
    },
}  # fmt: skip


def chart_path(path, language):
    """The chart's file for a language: NAME.png in English, NAME.zh.png with Chinese labels."""
    return path if language == "en" else path.removesuffix(".png") + ".zh.png"


def draw_chart(results, seeds, path, language="en"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    words = CHART_WORDS[language]
    if language == "zh":  # a font that draws Chinese, found as babygpt_sample.py finds one
        sys.path.insert(0, ROOT)
        from babygpt_sample import find_font

        fonts = find_font("".join(str(w) for w in words.values()).replace("\n", ""))
        if fonts is None:
            sys.exit("error: no installed font draws Chinese; install one (Debian/Ubuntu: apt install fonts-noto-cjk)")
    style = {"font.family": fonts, "axes.unicode_minus": False} if language == "zh" else {}
    with plt.rc_context(style):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        for budget, label, marker in zip(["defaults", "equal"], words["budgets"], ["o", "s"], strict=True):
            points = [(int(s[1:]), summarise(results, budget, s, seeds)) for s in TRAINED_STAGES]
            points = [(n, row) for n, row in points if row]
            if not points:
                continue
            xs = [n for n, _ in points]
            means = [row["mean"] for _, row in points]
            errors = [[row["mean"] - row["low"] for _, row in points], [row["high"] - row["mean"] for _, row in points]]
            line = ax.errorbar(xs, means, yerr=errors, marker=marker, capsize=3, label=label)
            for n, row in points:
                if row["diverged"]:
                    seeds_out = ", ".join(f"{seed} ({loss:.0f})" for seed, loss in row["diverged"])
                    ax.annotate(
                        words["diverged"].format(seeds=seeds_out), (n, row["high"]), xytext=(-40, 40),
                        textcoords="offset points", ha="center", fontsize=7, color=line[0].get_color(),
                        arrowprops={"arrowstyle": "->", "color": line[0].get_color()},
                    )  # fmt: skip
        ax.set_xticks(range(1, 12))
        ax.set_xticklabels([f"v{n}\n{name}" for n, name in enumerate(words["stages"], 1)], fontsize=8)
        ax.set_ylabel(words["ylabel"])
        ax.set_title(words["title"].format(n=len(seeds)))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = chart_path(path, language)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp.png"
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
    os.replace(tmp, path)
    print(f"\nchart: {os.path.relpath(path, ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--budgets", nargs="+", choices=list(BUDGETS), default=list(BUDGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=SEEDS, help="(default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each (default: %(default)s)")
    parser.add_argument("--report", action="store_true", help="only print the tables and draw the chart")
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--chart", default=os.path.join(ROOT, "docs", "progression.png"))
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    if not args.report:
        for budget in args.budgets:
            data = BUDGETS[budget]["data"]
            if not os.path.exists(os.path.join(ROOT, data)):
                what = "shakespeare" if "shakespeare" in data else ""
                sys.exit(f"error: {data} not found; build it with: python data/prepare.py {what}".rstrip())
        jobs = [job for budget in args.budgets for job in jobs_for(budget, args.seeds)]
        run_jobs(jobs, args.results, args.jobs)
    results = load_results(args.results)
    print("\n" + progression_block(results, args.seeds, "en") + "\n\n" + lecture_block(results, args.seeds, "en"))
    for language in ("en", "zh"):
        draw_chart(results, args.seeds, args.chart, language)
    for language, pages in PAGES.items():
        for name, block in page_blocks(results, args.seeds, language).items():
            fill_measured(pages[name], {name: block})
    fresh = f"{math.log(6103):.2f} on data/ci.txt, {math.log(65):.2f} on shakespeare"
    print(f"(a fresh model starts at ln(vocab_size): {fresh})")


if __name__ == "__main__":
    main()
