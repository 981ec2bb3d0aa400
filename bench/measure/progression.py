"""The progression, measured honestly: every stage, several seeds, three budgets, one chart.

    python -m bench progression                          # all three budgets (hours on 2 cores: it resumes)
    python -m bench progression --budgets defaults       # one budget
    python -m bench progression --report                 # only the tables and the chart, from what is done

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
import sys

from bench.progression_table import (
    BUDGETS,
    EQUAL_BUDGET,
    IDEAS,
    LECTURE,
    LECTURE_LOSSES,
    SEEDS,
    TRAINED_STAGES,
    WORDS,
    loss_cell,
    stage_options,
    summarise,
)
from bench.runs import (
    CPU_COMMAND,
    ROOT,
    add_again_option,
    fill_measured,
    in_chinese,
    load_results,
    machine_description,
    run_jobs,
)

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


def v11_is_v10(results, seeds):
    """Whether v11's defaults run and v10 at the equal budget, the same command, gave the same loss with
    every seed both have (None when no seed has both)."""
    pairs = [(results.get(f"defaults/v11/{s}"), results.get(f"equal/v10/{s}")) for s in seeds]
    pairs = [(a["val_loss"], b["val_loss"]) for a, b in pairs if a and b]
    return all(a == b for a, b in pairs) if pairs else None


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
    if language == "zh":  # a font that draws Chinese, found as babygpt/pictures.py finds one
        from babygpt.pictures import find_font

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
    add_again_option(parser)
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
        run_jobs(jobs, args.results, args.jobs, again=args.again)
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
