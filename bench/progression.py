"""The progression, measured honestly: every stage, several seeds, three budgets, one chart.

    python bench/progression.py                          # all three budgets (hours on 2 cores: it resumes)
    python bench/progression.py --budgets defaults       # one budget
    python bench/progression.py --report                 # only the tables and the chart, from what is done

Budgets:
  defaults  each stage with its own defaults (v11/v12: the README's CPU command), as a learner runs it
  equal     all twelve stages with one equal budget, the v11 CPU command's: block_size 64, n_embed 128,
            n_head 4, n_layer 4, dropout 0.1 (each where the stage has it), learning rate 1e-3, 1,500 steps
            of 16 sequences; room for context, depth and normalisation to matter
  lecture   Karpathy's lecture settings on tiny shakespeare (block_size 8, n_embed 32, n_head 4, n_layer 3,
            learning rate 1e-3, 5,000 steps of 32), for the stages whose val loss the lecture reports

Every run is the stage's own main() (bench/runs.py), seeds 1337, 1 and 2, two runs at a time with one
thread each; results are appended to bench/results/progression.jsonl as each run ends, so a stopped
bench resumes where it was. v12 trains exactly as v11 (a test checks it), so it is not run again.
The chart goes to docs/progression.png; the tables are printed for the README.
"""

import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import ROOT, STAGE_MODULES, load_results, machine_description, run_jobs  # noqa: E402
from stages import CPU_COMMAND  # noqa: E402

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
    "equal": {"stages": TRAINED_STAGES, "data": "data/ci.txt"},
    "lecture": {"stages": list(LECTURE_LOSSES), "data": "data/shakespeare.txt"},
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
    runs = [results[k] for s in seeds if (k := f"{budget}/{stage}/{s}") in results]
    if not runs:
        return None
    losses = [r["val_loss"] for r in runs]
    return {
        "n": len(runs),
        "mean": statistics.mean(losses),
        "low": min(losses),
        "high": max(losses),
        "wall": statistics.mean(r["wall_seconds"] for r in runs),
        "tokens_per_second": statistics.mean(r["tokens_per_second"] for r in runs),
    }


def print_tables(results, seeds):
    for budget, spec in BUDGETS.items():
        rows = [(stage, summarise(results, budget, stage, seeds)) for stage in spec["stages"]]
        if not any(row for _, row in rows):
            continue
        print(f"\n{budget}: final val loss, mean of seeds {seeds} [lowest–highest]\n")
        lecture = budget == "lecture"
        print("| stage | val loss | wall time | tokens/s |" + (" lecture |" if lecture else ""))
        print("|---|--:|--:|--:|" + ("--:|" if lecture else ""))
        for stage, row in rows:
            if row is None:
                print(f"| {stage} | (not run yet) | | |" + (" |" if lecture else ""))
                continue
            spread = f" [{row['low']:.3f}–{row['high']:.3f}]" if row["n"] > 1 else ""
            extra = f" {LECTURE_LOSSES[stage]:.2f} |" if lecture else ""
            print(
                f"| {stage} | {row['mean']:.3f}{spread} | {row['wall']:.0f} s | {row['tokens_per_second']:,.0f} |"
                + extra
            )


def draw_chart(results, seeds, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2))
    for budget, label, marker in [("defaults", "each stage's defaults", "o"), ("equal", "equal budget", "s")]:
        points = [(int(s[1:]), summarise(results, budget, s, seeds)) for s in BUDGETS[budget]["stages"]]
        points = [(n, row) for n, row in points if row]
        if not points:
            continue
        xs = [n for n, _ in points]
        means = [row["mean"] for _, row in points]
        errors = [[row["mean"] - row["low"] for _, row in points], [row["high"] - row["mean"] for _, row in points]]
        ax.errorbar(xs, means, yerr=errors, marker=marker, capsize=3, label=label)
    ax.set_xticks(range(1, 12))
    ax.set_xticklabels(
        ["v1\nbigram", "v2\nposition", "v3\nattention", "v4\nheads", "v5\nffwd", "v6\nblocks",
         "v7\nresidual", "v8\nprojection", "v9\nlayer norm", "v10\ndropout", "v11\nscaled"],
        fontsize=8,
    )  # fmt: skip
    ax.set_ylabel("final val loss (data/ci.txt)")
    ax.set_title(f"BabyGPT: val loss per stage, mean and range of {len(seeds)} seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
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
    parser.add_argument("--results", default=os.path.join(ROOT, "bench", "results", "progression.jsonl"))
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
    print_tables(results, args.seeds)
    draw_chart(results, args.seeds, args.chart)
    fresh = f"{math.log(6103):.2f} on data/ci.txt, {math.log(65):.2f} on shakespeare"
    print(f"(a fresh model starts at ln(vocab_size): {fresh})")


if __name__ == "__main__":
    main()
