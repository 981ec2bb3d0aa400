"""What each hyperparameter does, measured: one-at-a-time sweeps around the v12 CPU command.

    python -m bench hyperparameters                  # run the six sweeps (about 75 min on 2 cores; it resumes)
    python -m bench hyperparameters --only dropout   # one of them
    python -m bench hyperparameters --report         # only the tables and pictures, from what is done

Each option is swept alone with babygpt_sweep.py while every other option keeps its value in the v12 CPU
command (1,500 steps of 16 x 64 characters, n_embed 128, 4 heads, 4 layers, learning rate 1e-3, dropout
0.1, seed 1337), so the middle value of every sweep is that command itself. The exact command of each
sweep is printed, and is the one in docs/hyperparameters.md: copy it to run one sweep yourself. Two
sweeps run at a time, one CPU thread each, so their wall times are comparable with each other. Each sweep
is resumable by itself (its Optuna study is in sweeps/hp_OPTION/study.db): run this again after a stop.

The report copies each sweep's summary.md and summary.csv (small text) to docs/hyperparameters/, draws
docs/hyperparameters/OPTION.png (final val loss and wall time per value), and writes each option's command,
picture, table and link into both guides, docs/hyperparameters.md and docs/hyperparameters.zh.md, between
the lines `<!-- measured: OPTION -->` and `<!-- end measured -->`: nothing in them is pasted by hand.
"""

import argparse
import csv
import os
import re
import shlex
import subprocess
import sys
import time

from bench.runs import CPU_COMMAND, ROOT, fill_measured, machine_description

# option -> values, the CPU command's value in the middle; the costliest sweeps first, so two at a time finish
# together
SWEEPS = {
    "n_embed": "64,128,256",
    "block_size": "16,32,64,128",
    "batch_size": "8,16,32",
    "n_layer": "2,4,8",
    "learning_rate": "3e-4,1e-3,3e-3",
    "dropout": "0.0,0.1,0.2",
}
DOCS = os.path.join(ROOT, "docs", "hyperparameters")
GUIDES = {
    "en": os.path.join(ROOT, "docs", "hyperparameters.md"),
    "zh": os.path.join(ROOT, "docs", "hyperparameters.zh.md"),
}
WORDS = {  # the generated block's words, per guide
    "en": {
        "measured": "**Measured** (`python -m bench hyperparameters`, one thread per sweep):",
        "header": "| {option} | final val loss | val − train | wall time | tokens/s |",
        "minutes": "min",
        "summary": "The sweep's summary: every trial, its train loss and a sample of its text",
        "caption": "final val loss (line) and wall time (bars) for each {option}",
    },
    "zh": {
        "measured": "**实测**（`python -m bench hyperparameters`，每个扫描一个线程）：",
        "header": "| {option} | 最终验证损失 | 验证 − 训练 | 用时 | 每秒词元数 |",
        "minutes": "分钟",
        "summary": "这次扫描的汇总：每个试验的训练损失和一段生成的文字",
        "caption": "{option} 每个取值的最终验证损失（折线）和用时（柱）",
    },
}
LOGS = os.path.join(ROOT, "out", "hyperparameters")


def sweep_name(option):
    return f"hp_{option}"


def sweep_command(option):
    """babygpt_sweep.py's arguments: this option swept, the rest of the CPU command fixed after --."""
    fixed = shlex.split(CPU_COMMAND["v12"])
    at = fixed.index(f"--{option}")
    del fixed[at : at + 2]
    fixed += ["--wandb_mode", "disabled"]
    return ["--name", sweep_name(option), "--param", f"{option}={SWEEPS[option]}", "--", *fixed]


def run_sweeps(options, at_once):
    os.makedirs(LOGS, exist_ok=True)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1"}
    todo, running = list(options), []
    try:
        while todo or running:
            while todo and len(running) < at_once:
                option = todo.pop(0)
                command = [sys.executable, "babygpt_sweep.py", *sweep_command(option)]
                print(f"start: python {shlex.join(command[1:])}", flush=True)
                log = open(os.path.join(LOGS, f"{option}.log"), "a", encoding="utf-8")
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                running.append((option, process, log))
            time.sleep(1)
            for option, process, log in list(running):
                if process.poll() is not None:
                    log.close()
                    running.remove((option, process, log))
                    failed = f"FAILED (exit {process.returncode}, see {log.name})"
                    status = "done" if process.returncode == 0 else failed
                    print(f"{option}: {status}", flush=True)
    except KeyboardInterrupt:
        for _, process, _ in running:
            process.terminate()  # the sweep marks its trial as interrupted: it runs again next time
        for _, process, _ in running:
            process.wait()
        sys.exit("\nstopped; finished trials are kept: run the same command again to go on")


def read_summary(option):
    """[(value label, val loss, wall seconds, tokens/s, train-val gap)] of the finished trials, in sweep order."""
    path = os.path.join(ROOT, "sweeps", sweep_name(option), "summary.csv")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        rows = {row[option]: row for row in csv.DictReader(f) if row["state"] == "finished"}
    return [
        (
            label,
            float(rows[label]["val_loss"]),
            float(rows[label]["wall_seconds"]),
            float(rows[label]["tokens_per_second"]),
            float(rows[label]["train_val_gap"]),
        )
        for label in SWEEPS[option].split(",")
        if label in rows
    ]


def copy_summary(option):
    """The sweep's summary.md (links to the trial folders, which are not committed, made plain text) and
    summary.csv, into docs/hyperparameters/OPTION/."""
    source = os.path.join(ROOT, "sweeps", sweep_name(option))
    target = os.path.join(DOCS, option)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(source, "summary.md"), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"\[(\d+)\]\([^)]*/\)", r"\1", text)  # trial folders: not in the repository
    text = re.sub(r"\n## Pictures\n.*?(?=\nResume or extend)", "\n", text, flags=re.S)  # drawn beside it instead
    with open(os.path.join(target, "summary.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with (
        open(os.path.join(source, "summary.csv"), encoding="utf-8") as f,
        open(os.path.join(target, "summary.csv"), "w", encoding="utf-8") as g,
    ):
        g.write(f.read())


def draw(option, rows):
    """docs/hyperparameters/OPTION.png: final val loss (left axis) and wall time (right) for each value."""
    from matplotlib.figure import Figure

    labels = [row[0] for row in rows]
    figure = Figure(figsize=(4.2, 3), layout="constrained")
    ax = figure.add_subplot()
    xs = range(len(rows))
    ax.plot(xs, [row[1] for row in rows], "o-", color="C0")
    ax.set_xticks(list(xs), labels)
    ax.set(xlabel=option, ylabel="final val loss")
    ax.yaxis.label.set_color("C0")
    ax.grid(alpha=0.3)
    time_axis = ax.twinx()
    time_axis.bar(xs, [row[2] / 60 for row in rows], width=0.35, alpha=0.25, color="C1")
    time_axis.set_ylabel("wall time (min)", color="C1")
    ax.set_zorder(time_axis.get_zorder() + 1)
    ax.patch.set_visible(False)
    figure.savefig(os.path.join(DOCS, f"{option}.png"), dpi=100)


def measured_block(option, rows, language):
    """The generated part of a guide's entry: the command, the picture, the table, the link."""
    words = WORDS[language]
    command = f"python babygpt_sweep.py {shlex.join(sweep_command(option))}"
    lines = [f"<!-- measured: {option} -->", words["measured"], ""]
    lines += ["```bash", command, "```", ""]
    lines += [f"![{words['caption'].format(option=option)}](hyperparameters/{option}.png)", ""]
    lines += [words["header"].format(option=option), "|--:|--:|--:|--:|--:|"]
    for label, loss, wall, speed, gap in rows:
        lines.append(f"| {label} | {loss:.3f} | {gap:+.3f} | {wall / 60:.1f} {words['minutes']} | {speed:,.0f} |")
    lines += ["", f"[{words['summary']}](hyperparameters/{option}/summary.md)", "<!-- end measured -->"]
    return "\n".join(lines)


def fill_guides(blocks):
    """Write each option's measured block into both guides."""
    for language, path in GUIDES.items():
        if os.path.exists(path):
            fill_measured(path, {option: measured_block(option, rows, language) for option, rows in blocks.items()})


def report(options):
    print(f"\nmachine: {machine_description()}; two sweeps at a time, one thread each")
    blocks = {}
    for option in options:
        rows = read_summary(option)
        print(f"\n{option}: python babygpt_sweep.py {shlex.join(sweep_command(option))}\n")
        if not rows:
            print("(not run yet)")
            continue
        copy_summary(option)
        draw(option, rows)
        blocks[option] = rows
        print(f"| {option} | final val loss | train-val gap | wall time | tokens/s |")
        print("|--:|--:|--:|--:|--:|")
        for label, loss, wall, speed, gap in rows:
            print(f"| {label} | {loss:.3f} | {gap:+.3f} | {wall / 60:.1f} min | {speed:,.0f} |")
    fill_guides(blocks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--only", nargs="+", choices=list(SWEEPS), default=list(SWEEPS), help="these sweeps only")
    parser.add_argument("--at_once", type=int, default=2, help="sweeps run at once (default: %(default)s)")
    parser.add_argument("--report", action="store_true", help="only print the tables and draw the pictures")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(ROOT, "data", "ci.txt")):
        sys.exit("error: data/ci.txt not found; build it with: python data/prepare.py")
    if not args.report:
        run_sweeps(args.only, args.at_once)
    report(args.only)


if __name__ == "__main__":
    main()
