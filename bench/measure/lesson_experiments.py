"""The lessons' "Try it" experiments, run as a learner would run them, with their measured answers.

    python -m bench lesson_experiments                  # every experiment not yet run (resumes after a stop)
    python -m bench lesson_experiments --stages v7 v9   # only these lessons' experiments
    python -m bench lesson_experiments --report         # only write the answers into the lessons

Each lesson (docs/learn/vN.md and docs/learn/vN.zh.md) ends with two or three experiments a learner can run
on a CPU in a few minutes. EXPERIMENTS below lists them, lesson by lesson: an id, what the experiment shows,
and its commands, each exactly what the lesson tells the learner to type (`python babygpt_v7_....py
--n_layer 8 --max_iters 1000`). Every command runs as its own process with one thread (OMP_NUM_THREADS=1:
the same seed and thread count give the same losses on any load), two at a time; a command shared by two
experiments runs once. Each finished run is appended to bench/results/lesson_experiments.jsonl, so a stopped
bench resumes where it was.

--report writes each answer into both languages of its lesson, between the lines
`<!-- measured: try-vN-ID -->` and `<!-- end measured -->` (bench/runs.py fill_measured): the table of what
each command printed (parameters, final train and val loss, the lowest val loss), or its output, never
typed by hand. tests/test_lesson_experiments.py checks that the lessons hold what --report writes.

An experiment may be a chain (its commands run in order in one job, in a fresh run folder: v12 trains, is
refused a second time, then samples from its checkpoint), or a cost comparison (v11: each size change on
its own, the commands alternated over two rounds, so the time per step is a ratio measured under the same
load, never an absolute time).
"""

import argparse
import concurrent.futures
import csv
import io
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys

from bench.runs import (
    ROOT,
    STAGE_MODULES,
    add_again_option,
    already_recorded,
    append_result,
    fill_measured,
    load_results,
)

RESULTS = os.path.join(ROOT, "bench", "results", "lesson_experiments.jsonl")
LESSONS = os.path.join(ROOT, "docs", "learn")
SMALL_CORPUS = "data/ci_small.txt"  # the first 3,000 lines of data/ci.txt (31,734 characters): v10's experiment
SMALL_CORPUS_LINES = 3000
SHORT = ["--max_iters", "1000"]  # the stages' defaults, a fifth of the steps: about a minute on one thread
CPU_SIZES = [  # the v11/v12 CPU command's sizes (README: v11 and v12 on a CPU)
    "--batch_size", "16", "--block_size", "64", "--n_embed", "128", "--n_head", "4", "--n_layer", "4",
    "--learning_rate", "1e-3", "--dropout", "0.1",
]  # fmt: skip
V12_RUN = ["--wandb_mode", "disabled", "--out_dir", "out/try-v12", "--max_iters", "100", "--eval_interval", "25",
           "--eval_iters", "10", *CPU_SIZES]  # fmt: skip


def run(script, *args):
    """One command of an experiment: a stage id (v7) or a file of the repository, and its arguments."""
    return {"script": script, "args": list(args)}


def contexts(stage, *lengths):
    """stage at its defaults (context 8, batch 32) and at each longer context, at the same 256 characters a step."""
    longer = [run(stage, "--block_size", str(n), "--batch_size", str(256 // n), *SHORT) for n in lengths]
    return [run(stage, *SHORT), *longer]


def at_values(stage, option, *values, default):
    """stage with option at each of values, in order; at the stage's default value without the option."""
    return [run(stage, *SHORT) if value == default else run(stage, option, str(value), *SHORT) for value in values]


def idea_and_context(stage, idea, shows_idea, shows_context, lengths):
    """A lesson's two experiments: "idea", the stage against the one before it at the defaults (its new idea), and
    "context", the stage with longer contexts at the same characters a step."""
    before = f"v{int(stage[1:]) - 1}"
    return [
        {"id": idea, "shows": shows_idea, "runs": [run(before, *SHORT), run(stage, *SHORT)]},
        {"id": "context", "shows": shows_context, "runs": contexts(stage, *lengths)},
    ]


# lesson -> its experiments. "runs": the commands; "shows": what the answer shows (for whoever edits this
# table; the lesson says it in its own words). "kind": "losses" (default: a table of what each run reached),
# "cost" (parameters, expected memory, time per step as a ratio), "output" (what the commands printed) or
# "progression" (a command already measured by bench/measure/progression.py: its three seeds). A "chain" runs its
# commands in order in one job; "from": another experiment's chain whose "steps" this one shows.
EXPERIMENTS = {
    "v1": [
        {
            "id": "context",
            "shows": "windows 8 times longer, 8 times fewer: the same characters a step, the bigram cannot use them",
            "runs": contexts("v1", 64),
        },
    ],
    "v2": idea_and_context(
        "v2",
        "position",
        shows_idea="v1 against v2: position alone buys nothing, as long as each prediction sees one character",
        shows_context="a position table 8 times longer (64 rows): more parameters, still one character seen",
        lengths=(64,),
    ),
    "v3": idea_and_context(
        "v3",
        "attention",
        shows_idea="v2 against v3 at the defaults: one head of attention, context 8",
        shows_context="v3 with context 8, 32 and 64 at the same characters per step",
        lengths=(32, 64),
    ),
    "v4": [
        {
            "id": "heads",
            "shows": "1, 4 (the default) and 8 heads in the same n_embed 32; one head of size 32 is v3",
            "runs": [run("v3", *SHORT), *at_values("v4", "--n_head", 1, 4, 8, default=4)],
        },
        {
            "id": "narrow",
            "shows": "32 heads of one dimension each: a query and a key of one number can still pick where to look",
            "runs": [run("v4", *SHORT), run("v4", "--n_head", "32", *SHORT)],
        },
    ],
    "v5": [
        {
            "id": "feedforward",
            "shows": "v4 against v5: the feed-forward layer, without residual connections, makes the fit worse",
            "runs": [run("v4", *SHORT), run("v5", *SHORT)],
        },
    ],
    "v6": [
        {
            "id": "depth",
            "shows": "1, 3 (the default) and 8 Blocks without residual connections: deeper trains worse",
            "runs": [run("v5", *SHORT), *at_values("v6", "--n_layer", 1, 3, 8, default=3)],
        },
    ],
    "v7": [
        {
            "id": "deep",
            "shows": "eight Blocks: without residual connections (v6) the stack barely trains, with them (v7) it does",
            "runs": [run("v6", "--n_layer", "8", *SHORT), run("v7", "--n_layer", "8", *SHORT)],
        },
        {
            "id": "depth",
            "shows": "with residual connections, depth 1, 3 (the default) and 8 at the same steps",
            "runs": at_values("v7", "--n_layer", 1, 3, 8, default=3),
        },
    ],
    "v8": [
        {
            "id": "noise",
            "shows": "v7 against v8 with two seeds each: the projection's gain is smaller than the seeds' spread",
            "runs": [
                run("v7", *SHORT),
                run("v8", *SHORT),
                run("v7", *SHORT, "--seed", "1"),
                run("v8", *SHORT, "--seed", "1"),
            ],
        },
        {
            "id": "diverge",
            "kind": "progression",
            "shows": "the seed that diverged at learning rate 1e-2, against the two that did not",
            "progression": ["defaults/v8/1337", "defaults/v8/1", "defaults/v8/2"],
        },
    ],
    "v9": [
        {
            "id": "lr",
            "shows": "a learning rate three times the default: without layer norm (v8) and with it (v9)",
            "runs": [run("v8", "--learning_rate", "3e-2", *SHORT), run("v9", "--learning_rate", "3e-2", *SHORT)],
        },
        {
            "id": "seed2",
            "kind": "progression",
            "shows": "the seed with which v8 diverged at its defaults, in v8 and in v9",
            "progression": ["defaults/v8/2", "defaults/v9/2"],
        },
    ],
    "v10": [
        {
            "id": "small",
            "shows": "a small corpus read 18 times: dropout 0 memorises it (val loss rises), 0.2 keeps the gap smaller",
            "runs": [
                run("v10", "--data", SMALL_CORPUS, "--dropout", "0", "--max_iters", "2000", "--eval_interval", "250"),
                run("v10", "--data", SMALL_CORPUS, "--max_iters", "2000", "--eval_interval", "250"),
            ],
        },
        {
            "id": "equal",
            "kind": "progression",
            "shows": "the full corpus at the equal budget, under one pass: v9 (no dropout) and v10 (dropout 0.1)",
            "progression": ["equal/v9/1337", "equal/v10/1337", "equal/v9/1", "equal/v10/1"],
        },
    ],
    "v11": [
        {
            "id": "cost",
            "kind": "cost",
            "shows": "each of v11's size changes on its own, from the CPU command: parameters, memory, time per step",
            "base": run("v11", *CPU_SIZES),
            "changes": [["--batch_size", "64"], ["--block_size", "256"], ["--n_embed", "384"], ["--n_layer", "6"]],
            "timing": ["--max_iters", "8", "--eval_interval", "8", "--eval_iters", "1", "--max_new_tokens", "1"],
            "rounds": 2,
        },
        {
            "id": "cpu",
            "kind": "progression",
            "shows": "the CPU command, as bench/measure/progression.py measured it with three seeds",
            "progression": ["defaults/v11/1337", "defaults/v11/1", "defaults/v11/2"],
        },
    ],
    "v12": [
        {
            "id": "metrics",
            "kind": "output",
            "chain": "out/try-v12",
            "shows": "a run with wandb off still leaves its run folder: metrics.csv, one row per evaluation",
            "runs": [
                run("v12", *V12_RUN),
                run("v12", *V12_RUN),
                run(
                    "babygpt_sample.py",
                    "--checkpoint",
                    "out/try-v12/checkpoint.pt",
                    "--prompt",
                    "春江",
                    "--max_new_tokens",
                    "40",
                ),
            ],  # fmt: skip
            "steps": [0],
            "read": "out/try-v12/metrics.csv",
        },
        {
            "id": "refuse",
            "kind": "output",
            "from": "metrics",
            "steps": [1],
            "shows": "the same command again is refused: a trained model is never replaced silently",
        },
        {
            "id": "sample",
            "kind": "output",
            "from": "metrics",
            "steps": [2],
            "shows": "the sampler continues a prompt from the checkpoint, without the corpus",
        },
    ],
}


def script_file(script):
    return f"{STAGE_MODULES[script]}.py" if script in STAGE_MODULES else script


def shell_join(words):
    """A command line as a learner types it: quotes only where a shell needs them (a prompt like 春江 needs none)."""
    return " ".join(shlex.quote(w) if re.search(r"[\s'\"\\$`!*?&;|<>(){}\[\]#~]", w) or not w else w for w in words)


def command_line(step):
    """What the learner types."""
    return shell_join(["python", script_file(step["script"]), *step["args"]])


def cost_steps(experiment):
    """The cost experiment's commands: the base and each change, alternated over the rounds."""
    base = experiment["base"]
    configs = [base] + [run(base["script"], *base["args"], *change) for change in experiment["changes"]]
    return [run(c["script"], *c["args"], *experiment["timing"]) for _ in range(experiment["rounds"]) for c in configs]


def jobs_for(stages):
    """key -> list of commands run in order in one process chain; each plain run is its own job."""
    jobs = {}
    for stage in stages:
        for experiment in EXPERIMENTS.get(stage, []):
            kind = experiment.get("kind", "losses")
            if kind == "progression" or "from" in experiment:
                continue
            if kind == "cost":
                jobs[f"{stage}-{experiment['id']}"] = {"steps": cost_steps(experiment)}
            elif "chain" in experiment:
                jobs[f"{stage}-{experiment['id']}"] = {"steps": experiment["runs"], "clean": experiment["chain"]}
            else:
                for step in experiment["runs"]:
                    jobs[command_line(step)] = {"steps": [step]}
    return jobs


def parse_output(stdout):
    """Parameters, every evaluation, the last speed and the samples, from what a stage printed."""
    found = re.search(r"model: ([\d,]+) parameters", stdout)
    history, speed = [], None
    for m in re.finditer(
        r"step\s+(\d+) \| train loss ([\d.na]+) \| val loss ([\d.na]+) \|.*?\|\s+([\d,-]+) tokens/s", stdout
    ):
        history.append([int(m.group(1)), float(m.group(2)), float(m.group(3))])
        speed = None if m.group(4) == "-" else int(m.group(4).replace(",", ""))
    samples = re.findall(r"^--- (.+?) ---\n(.*?)(?=\n--- |\ntrained|\nrun folder|\Z)", stdout, re.S | re.M)
    return {
        "parameters": int(found.group(1).replace(",", "")) if found else None,
        "history": history,
        "tokens_per_second": speed,
        "samples": [[prompt, text.strip()] for prompt, text in samples],
    }


def run_step(step):
    """Run one command with one thread; return what it printed and reached (and its peak resident size)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, script_file(step["script"]), *step["args"]]
    with open(os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = process.communicate()
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return {
        "command": command_line(step),
        "returncode": process.returncode,
        "stdout": stdout[-4000:],
        "error": (stderr.strip().splitlines() or [""])[-1],
        **parse_output(stdout),
    }


def estimated_cost(job):
    """Steps times Blocks, summed over the job's commands (a chain or a cost job is short): cheap jobs go first."""
    total = 0
    for step in job["steps"]:
        if step["script"] not in STAGE_MODULES:  # a tool: sampling from a checkpoint is quick
            continue
        args = step["args"]
        value = {name: int(args[args.index(name) + 1]) for name in ("--max_iters", "--n_layer") if name in args}
        total += value.get("--max_iters", 5000) * value.get("--n_layer", 3)
    return total


def run_job(key, job):
    if key in load_results(RESULTS):  # finished meanwhile by another run of this bench
        return None
    if job.get("clean"):
        shutil.rmtree(os.path.join(ROOT, job["clean"]), ignore_errors=True)
    steps = []
    for step in job["steps"]:
        steps.append(run_step(step))
    files = {}
    for name in [job["clean"] + "/metrics.csv"] if job.get("clean") else []:
        path = os.path.join(ROOT, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                files[name] = f.read()
    return {"key": key, "threads": 1, "steps": steps, "files": files}


def make_small_corpus():
    """data/ci_small.txt: the first lines of data/ci.txt, as `head -n 3000 data/ci.txt` writes them."""
    with open(os.path.join(ROOT, "data", "ci.txt"), encoding="utf-8", newline="") as f:
        lines = [line for _, line in zip(range(SMALL_CORPUS_LINES), f, strict=False)]
    with open(os.path.join(ROOT, SMALL_CORPUS), "w", encoding="utf-8", newline="") as f:
        f.writelines(lines)


def run_all(stages, n_jobs, again=False):
    if not os.path.exists(os.path.join(ROOT, "data", "ci.txt")):
        sys.exit("error: data/ci.txt not found; build it with: python data/prepare.py")
    make_small_corpus()
    done = {} if again else load_results(RESULTS)
    jobs = jobs_for(stages)
    todo = {key: job for key, job in jobs.items() if key not in done}
    if len(todo) < len(jobs):
        print(already_recorded(len(jobs) - len(todo), len(jobs), RESULTS), flush=True)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(n_jobs) as pool:
        order = sorted(todo, key=lambda key: estimated_cost(todo[key]))
        futures = [pool.submit(run_job, key, todo[key]) for key in order]
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            if result is None:
                continue
            append_result(RESULTS, result)
            last = result["steps"][-1]
            print(f"  {result['key']}: exit {last['returncode']} {last['history'][-1:] or last['error']}", flush=True)


# ----------------------------------------------------------------------------
# The answers

WORDS = {
    "en": {
        "measured": "Measured by `python -m bench lesson_experiments`, on the machine and with the one thread of"
        " “How this was measured” above (on another processor an overfitting run can differ by about 0.1):",
        "losses": "| command | parameters | train loss | val loss | lowest val loss (step) |",
        "diverged": "stopped: {error}",
        "cost": "| change from the CPU command | parameters | expected memory (CPU) | time per step |",
        "cost_note": "Parameters and memory: counted (`expected_memory` of babygpt_train.py, float32, the forward"
        " pass's activations included). Time per step: relative to the CPU command, each size measured {steps}"
        " steps twice, the commands alternated, median ratio; absolute times on this shared machine are not"
        " published.",
        "base": "none (the CPU command)",
        "all": "all of them, with `--n_head 6`: v11's defaults",
        "not_timed": "not run here (a GPU's job)",
        "progression": "Measured by `python -m bench progression` (see “How this was measured” above), which ran"
        " these commands:",
        "progression_table": "| command | final train loss | final val loss |",
        "missing": "(not measured yet: run `python -m bench lesson_experiments`)",
        "printed": "It printed:",
        "rounded": "(The time columns are left out here and the numbers rounded to four decimals; the file has all.)",
    },
    "zh": {
        "measured": "由 `python -m bench lesson_experiments` 测得，机器和单线程同上面的“这些数字是怎么测的”"
        "（换一颗处理器，过拟合的训练可能差到 0.1 左右）：",
        "losses": "| 命令 | 参数量 | 训练损失 | 验证损失 | 最低验证损失（步数） |",
        "diverged": "中途停止：{error}",
        "cost": "| 相对 CPU 命令的改动 | 参数量 | 预计内存（CPU） | 每步时间 |",
        "cost_note": "参数量和内存是算出来的（babygpt_train.py 的 `expected_memory`，float32，"
        "含前向传播保存的激活值）。"
        "每步时间是相对 CPU 命令的倍数：每种尺寸跑 {steps} 步、测两轮，命令交替运行，取比值的中位数；"
        "这台机器是多人共用的，绝对时间不公布。",
        "base": "不改（CPU 命令本身）",
        "all": "全部改，再加 `--n_head 6`：v11 的默认值",
        "not_timed": "这里没有跑（要用 GPU）",
        "progression": "由 `python -m bench progression` 测得（见上面的“这些数字是怎么测的”），"
        "它运行的就是这几条命令：",
        "progression_table": "| 命令 | 最终训练损失 | 最终验证损失 |",
        "missing": "（还没有测：运行 `python -m bench lesson_experiments`）",
        "printed": "输出：",
        "rounded": "（这里省略了时间那几列，数字也只保留四位小数；文件里是完整的。）",
    },
}


def loss_row(step, words):
    if step["returncode"] != 0 or not step["history"]:
        return f"| `{step['command']}` | | {words['diverged'].format(error=step['error'])} | | |"
    last = step["history"][-1]
    best = min(step["history"], key=lambda h: h[2])
    return (
        f"| `{step['command']}` | {step['parameters']:,} | {last[1]:.3f} | {last[2]:.3f} | {best[2]:.3f} ({best[0]}) |"
    )


def losses_block(experiment, results, words):
    lines = [words["losses"], "|---|--:|--:|--:|--:|"]
    for step in experiment["runs"]:
        result = results.get(command_line(step))
        if result is None:
            return None
        lines.append(loss_row(result["steps"][0], words))
    return lines


def cost_block(experiment, result, words, language):
    import torch

    import babygpt_train
    import babygpt_v11_hyper_params as v11

    n_configs = 1 + len(experiment["changes"])
    steps = result["steps"]
    speeds = [
        [steps[r * n_configs + c]["tokens_per_second"] for c in range(n_configs)] for r in range(experiment["rounds"])
    ]
    lines = [words["cost"], "|---|--:|--:|--:|"]
    tokens = []
    for c, change in enumerate([[]] + experiment["changes"]):
        args = v11.parse_args([*experiment["base"]["args"], *change])
        model_args = {name: getattr(args, name) for name in v11.MODEL_HYPERPARAMETERS}
        with torch.device("meta"):  # sizes only: no memory, no time
            model = v11.BabyGPT(6103, **model_args)
        memory = sum(babygpt_train.expected_memory(model, args.batch_size, data_tokens=2062696).values())
        n_params = sum(p.numel() for p in model.parameters())
        tokens.append(args.batch_size * args.block_size)
        # time per step (tokens per step / tokens per second) relative to the base's, in the same round
        ratios = [(tokens[c] / speeds[r][c]) / (tokens[0] / speeds[r][0]) for r in range(len(speeds))]
        label = words["base"] if not change else f"`{' '.join(change)}`"
        lines.append(f"| {label} | {n_params:,} | {memory / 2**30:.2f} GiB | {statistics.median(ratios):.1f} × |")
    args = v11.parse_args([])  # all of them at once: v11's defaults, counted only (a GPU's job)
    with torch.device("meta"):
        model = v11.BabyGPT(6103, **{name: getattr(args, name) for name in v11.MODEL_HYPERPARAMETERS})
    memory = sum(babygpt_train.expected_memory(model, args.batch_size, data_tokens=2062696).values())
    n_params = sum(p.numel() for p in model.parameters())
    lines.append(f"| {words['all']} | {n_params:,} | {memory / 2**30:.2f} GiB | {words['not_timed']} |")
    timing = experiment["timing"][experiment["timing"].index("--max_iters") + 1]
    return lines + ["", words["cost_note"].format(steps=timing)]


def progression_block(experiment, words):
    """Runs bench/measure/progression.py already made (one thread each): each command and its final losses."""
    progression = load_results(os.path.join(ROOT, "bench", "results", "progression.jsonl"))
    if not all(key in progression for key in experiment["progression"]):
        return None
    lines = [words["progression"], "", words["progression_table"], "|---|--:|--:|"]
    for key in experiment["progression"]:
        result = progression[key]
        command = shell_join(["python", script_file(result["stage"]), *result["argv"]])
        lines.append(f"| `{command}` | {result['train_loss']:.3f} | {result['val_loss']:.3f} |")
    return lines


TIME_COLUMNS = ("tokens_per_second", "elapsed_seconds", "remaining_seconds", "eval_fraction")


def csv_without_times(text):
    """metrics.csv without its time columns (times on this shared machine are not published)."""
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if name not in TIME_COLUMNS] if rows else []
    return [",".join(shorter(row[i]) for i in keep) for row in rows]


def shorter(value):
    """A number with more than four decimals, rounded to four (the file keeps every digit)."""
    whole, point, decimals = value.partition(".")
    return f"{float(value):.4f}" if point and len(decimals) > 4 and whole.lstrip("-").isdigit() else value


def output_block(experiment, chain, result, words):
    lines = []
    for index in experiment["steps"]:
        step = result["steps"][index]
        lines += ["```bash", command_line(chain["runs"][index]), "```", "", words["printed"], "", "```text"]
        note = []
        if index == 0 and chain.get("read"):
            lines += csv_without_times(result["files"].get(chain["read"], ""))
            note = ["", words["rounded"]]
        elif step["returncode"] != 0:
            lines.append(step["error"])
        else:
            lines += [line for line in step["stdout"].strip().splitlines() if line.strip()]
        lines += ["```", *note]
    return lines


def answer_blocks(stage, language, results):
    """name -> the generated block of each of this lesson's experiments, in this language."""
    words = WORDS[language]
    by_id = {e["id"]: e for e in EXPERIMENTS.get(stage, [])}
    blocks = {}
    for experiment in EXPERIMENTS.get(stage, []):
        name = f"try-{stage}-{experiment['id']}"
        kind = experiment.get("kind", "losses")
        chain = by_id[experiment.get("from", experiment["id"])]
        result = results.get(f"{stage}-{chain['id']}")
        if kind == "losses":
            lines = losses_block(experiment, results, words)
        elif kind == "progression":
            lines = progression_block(experiment, words)
        elif result is None:
            lines = None
        elif kind == "cost":
            lines = cost_block(experiment, result, words, language)
        else:
            lines = output_block(experiment, chain, result, words)
        intro = [] if kind == "progression" else [words["measured"], ""]  # progression's lines name their bench
        body = [words["missing"]] if lines is None else [*intro, *lines]
        # the block sits in a collapsed admonition (`??? note`), whose lines are indented by four spaces
        lines = [f"<!-- measured: {name} -->", *body, "<!-- end measured -->"]
        blocks[name] = "\n".join([lines[0]] + [f"    {line}" if line else "" for line in lines[1:]])
    return blocks


def lesson_path(stage, language):
    return os.path.join(LESSONS, f"{stage}.md" if language == "en" else f"{stage}.zh.md")


def report(stages):
    results = load_results(RESULTS)
    for stage in stages:
        for language in WORDS:
            path = lesson_path(stage, language)
            blocks = answer_blocks(stage, language, results)
            if not os.path.exists(path):
                print(f"{os.path.relpath(path, ROOT)}: no such lesson yet")
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            missing = [name for name in blocks if f"<!-- measured: {name} -->" not in text]
            if missing:
                print(f"{os.path.relpath(path, ROOT)} lacks the markers of {', '.join(missing)}")
            fill_measured(path, {name: block for name, block in blocks.items() if name not in missing})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    stages = list(EXPERIMENTS)
    parser.add_argument("--stages", nargs="+", default=stages, choices=stages, help="lessons (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each (default: 2)")
    add_again_option(parser)
    parser.add_argument("--report", action="store_true", help="only write the measured answers into the lessons")
    args = parser.parse_args(argv)
    if not args.report:
        run_all(args.stages, args.jobs, args.again)
    report(args.stages)


if __name__ == "__main__":
    main()
