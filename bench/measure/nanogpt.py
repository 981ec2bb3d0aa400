"""BabyGPT's trainer side by side with nanoGPT's train.py: the same work on a CPU, alternated, wall time and loss.

    python -m bench nanogpt --nanogpt /tmp/nanogpt --runs nanogpt train     # three rounds, alternated (~20 min quiet)
    python -m bench nanogpt --nanogpt /tmp/nanogpt --report      # then write the table into docs/speed*.md
    python -m bench nanogpt --nanogpt /tmp/nanogpt --again       # a new sitting: every run measured again
    python -m bench nanogpt --nanogpt /tmp/nanogpt --max_iters 20 --eval_interval 10 --warmup_iters 5  # a check

Get nanoGPT anywhere (nothing of it is kept in this repository) and tiny shakespeare:
    git clone https://github.com/karpathy/nanoGPT /tmp/nanogpt
    python data/prepare.py --help      (data/shakespeare.txt; or any copy of tiny shakespeare's input.txt)
nanoGPT's data/shakespeare_char/prepare.py downloads the text; this bench writes the same train.bin, val.bin
and meta.pkl into the checkout from --data instead (characters sorted, first 90% train, last 10% val).

The configuration is nanoGPT's for a CPU, from its README: 4 layers, 4 heads, n_embed 128, block 64,
batch 12, 2,000 steps, dropout 0, learning rate 1e-3 with 100 warmup steps and a cosine down to 1e-4,
weight decay 0.1, gradient clipping at 1.0, beta2 0.99, an estimate of 20 batches per split every 250
steps. Four commands run it (COMMANDS below): nanoGPT's train.py; babygpt_train.py with its defaults
(fused attention, fused AdamW); babygpt_train.py --attn_implementation stage (v12's per-head modules);
and babygpt_v11_hyper_params.py at the same sizes (v11 has no recipe: a constant 1e-3, PyTorch's AdamW).

Each command runs as its own process with --threads threads (OMP_NUM_THREADS), one at a time, the order
rotating from round to round, so that a slower or busier moment of a shared machine falls on each of
them in turn. Wall time is the whole process, start to exit, as a learner waits for it; tokens/s is
the training loop's own speed (evaluation left out: nanoGPT's per-iteration times without the
iterations that evaluated, BabyGPT's printed tokens/s); the final val loss is the last estimate, at
step 2,000. Each run records the machine's load average (1, 5 and 15 minutes) as it starts and as it ends:
on a shared machine that says how much else was running.

Each finished run is appended to bench/results/nanogpt.jsonl at once: run the same command again after a
stop and only the missing runs of the sitting go. A command whose runs are all recorded says so and measures
nothing; --again starts a new sitting (kept beside the old ones) in which every run is measured again.
--report writes the table of the latest sitting into docs/speed.md and docs/speed.zh.md: for each command,
the median of its ratios to nanoGPT over the rounds (a ratio is taken within a round, never across rounds),
with their range; only whole rounds count.
"""

import os
import re
import statistics
import subprocess
import sys
import time

from bench import runs
from bench.runs import ROOT

RESULTS = os.path.join(ROOT, "bench", "results", "nanogpt.jsonl")
DOCS = [os.path.join(ROOT, "docs", "speed.md"), os.path.join(ROOT, "docs", "speed.zh.md")]
SIZES = {"n_layer": 4, "n_head": 4, "block_size": 64, "batch_size": 12}
N_EMBED = 128

# name -> what it is; the commands are built by command()
COMMANDS = {
    "nanogpt": "nanoGPT `train.py`",
    "train": "`babygpt_train.py` (fused attention, the default)",
    "train_stage": "`babygpt_train.py --attn_implementation stage`",
    "v11": "`babygpt_v11_hyper_params.py`, constant 1e-3",
}


def command(name, args, out_dir):
    """(argv, working folder) of one run."""
    size = [f"--{key}={value}" for key, value in SIZES.items()]
    if name == "nanogpt":
        argv = ["train.py", "config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--dtype=float32"]
        argv += [f"--eval_iters={args.eval_iters}", "--log_interval=1", *size, f"--n_embd={N_EMBED}"]
        argv += [f"--max_iters={args.max_iters}", f"--lr_decay_iters={args.max_iters}", "--dropout=0.0"]
        argv += [f"--eval_interval={args.eval_interval}", f"--warmup_iters={args.warmup_iters}"]
        argv += [f"--out_dir={out_dir}"]
        return [sys.executable, *argv], args.nanogpt
    babygpt = [*size, f"--n_embed={N_EMBED}", "--dropout=0", "--learning_rate=1e-3", f"--max_iters={args.max_iters}"]
    babygpt += [f"--eval_interval={args.eval_interval}", f"--eval_iters={args.eval_iters}", f"--data={args.data}"]
    babygpt += ["--device=cpu"]
    if name == "v11":
        return [sys.executable, "babygpt_v11_hyper_params.py", *babygpt], ROOT
    recipe = [f"--warmup_iters={args.warmup_iters}", "--min_lr=1e-4", "--weight_decay=0.1", "--grad_clip=1.0"]
    recipe += ["--beta2=0.99", "--wandb_mode=disabled", f"--out_dir={out_dir}", "--overwrite"]
    if name == "train_stage":
        recipe += ["--attn_implementation=stage"]
    return [sys.executable, "babygpt_train.py", *babygpt, *recipe], ROOT


# ----------------------------------------------------------------------------
# Reading what each run printed

NANOGPT_EVAL = re.compile(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)", re.M)
NANOGPT_ITER = re.compile(r"^iter (\d+): loss [\d.]+, time ([\d.]+)ms", re.M)
BABYGPT_EVAL = re.compile(r"^step +(\d+) \| train loss ([\d.]+) \| val loss ([\d.]+) .*?\| +([\d,]+|-) tokens/s", re.M)


def read_output(name, output, eval_interval):
    """(step, train loss, val loss, tokens/s) of the last estimate a run printed; ValueError if there is none."""
    tokens_per_step = SIZES["batch_size"] * SIZES["block_size"]
    if name == "nanogpt":
        evaluations = NANOGPT_EVAL.findall(output)
        # an iteration's time includes the estimate made at its start: those iterations are left out
        times = [float(ms) for it, ms in NANOGPT_ITER.findall(output) if int(it) % eval_interval != 0]
        if not evaluations or not times:
            raise ValueError("no 'step N: ... val loss' and 'iter N: ... time' lines in nanoGPT's output")
        step, train_loss, val_loss = evaluations[-1]
        speed = tokens_per_step * len(times) / (sum(times) / 1000)
    else:
        evaluations = BABYGPT_EVAL.findall(output)
        if not evaluations:
            raise ValueError("no 'step N | train loss ... | val loss ...' line in the output")
        step, train_loss, val_loss, speed = evaluations[-1]
        speed = float(speed.replace(",", "")) if speed != "-" else None
    return int(step), float(train_loss), float(val_loss), speed


# ----------------------------------------------------------------------------
# Running


def children_cpu_seconds():
    """CPU time (user + system) of the finished child processes so far: less sensitive than wall time to other
    programs on a shared machine, though not immune (they share caches and memory bandwidth)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def job_key(round_number, name, args, sitting=1):
    """The results key of one run; sitting 1 (the first) has none in its key, as before sittings existed."""
    size = f"{args.max_iters}x{args.eval_interval}x{args.eval_iters}w{args.warmup_iters}/threads{args.threads}"
    if sitting != 1:
        size += f"/sitting{sitting}"
    return f"{size}/round{round_number}/{name}"


def sittings(results, args):
    """The sittings recorded for these settings, in order: [1, 2, ...] ([] before any run)."""
    found = {
        r.get("sitting", 1)
        for r in results.values()
        if r["key"] == job_key(r["round"], r["name"], args, r.get("sitting", 1))
    }
    return sorted(found)


def load_average():
    """The machine's load average over 1, 5 and 15 minutes (None where the system has none, as on Windows)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def plan(args):
    """(round, name) in the order they run: the names rotate by one from round to round."""
    names = list(args.runs)
    order = []
    for round_number in range(1, args.rounds + 1):
        shift = (round_number - 1) % len(names)
        order += [(round_number, name) for name in names[shift:] + names[:shift]]
    return order


def current_sitting(args):
    """The sitting this command runs in: the latest one (a new one with --again, or before any run)."""
    recorded = sittings(runs.load_results(args.results), args)
    if not recorded:
        return 1
    return recorded[-1] + 1 if args.again else recorded[-1]


def run_all(args):
    done = runs.load_results(args.results)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONIOENCODING": "utf-8"}
    sitting = args.sitting
    planned = plan(args)
    recorded = [key for key in (job_key(r, name, args, sitting) for r, name in planned) if key in done]
    if recorded:
        print(
            runs.already_recorded(len(recorded), len(planned), args.results, f"runs of sitting {sitting}"), flush=True
        )
    for round_number, name in planned:
        key = job_key(round_number, name, args, sitting)
        if key in done:
            continue
        out_dir = os.path.join(ROOT, "out", "bench_nanogpt", name)
        argv, cwd = command(name, args, out_dir)
        print(f"sitting {sitting}, round {round_number}: {name} ...", flush=True)
        load_before = load_average()
        start, cpu_before = time.perf_counter(), children_cpu_seconds()
        process = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8")
        wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu_before
        if process.returncode != 0:
            last = (process.stderr.strip().splitlines() or ["(no output)"])[-1]
            sys.exit(f"error: {name} failed (exit {process.returncode}): {last}")
        step, train_loss, val_loss, speed = read_output(name, process.stdout, args.eval_interval)
        result = {"key": key, "sitting": sitting, "round": round_number, "name": name}
        result.update(
            {"wall_seconds": wall, "cpu_seconds": cpu, "load_before": load_before, "load_after": load_average()}
        )
        result["tokens_per_second"] = speed
        result.update({"step": step, "train_loss": train_loss, "val_loss": val_loss, "threads": args.threads})
        result.update({"command": " ".join(argv[1:]), "machine": runs.machine_description(), "shared": args.shared})
        runs.append_result(args.results, result)
        speed_text = f"{speed:,.0f} tokens/s" if speed else "- tokens/s"
        print(f"  {wall:.1f} s ({cpu:.1f} s CPU), {speed_text}, val loss {val_loss:.4f} at step {step}", flush=True)


HEADERS = {
    False: ["command", "wall time vs nanoGPT", "CPU time vs nanoGPT", "training tokens/s vs nanoGPT", "final val loss"],
    True: ["命令", "墙钟时间（与 nanoGPT 之比）", "CPU 时间（同左）", "训练时每秒词元数（同左）", "最终验证损失"],
}
COMMANDS_ZH = {
    "nanogpt": "nanoGPT `train.py`",
    "train": "`babygpt_train.py`（融合注意力，默认）",
    "train_stage": "`babygpt_train.py --attn_implementation stage`",
    "v11": "`babygpt_v11_hyper_params.py`，固定学习率 1e-3",
}
SHARED = {
    False: "the machine was shared with other jobs while it ran: compare the ratios only",
    True: "测量时机器上同时运行着其他任务：只比较比值",
}


def median_and_range(ratios):
    """'0.95x (0.88x-1.02x)': the median of ratios and their range; one ratio alone: '0.95x'."""
    median = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{median:.2f}x"
    return f"{median:.2f}x ({min(ratios):.2f}x–{max(ratios):.2f}x)"


def round_loads(rows, round_number):
    """The lowest and highest 1-minute load average seen as the round's runs started and ended, or None."""
    loads = [
        load[0]
        for by_round in rows.values()
        if round_number in by_round
        for load in (by_round[round_number].get("load_before"), by_round[round_number].get("load_after"))
        if load
    ]
    return (min(loads), max(loads)) if loads else None


def table(args, zh=False):
    """The Markdown table of the latest sitting: per command the median of its ratios to nanoGPT over the whole
    rounds, with their range, and the final val losses; in English or Chinese (zh). None without a whole round
    of nanoGPT and babygpt_train.py."""
    results = runs.load_results(args.results)
    for sitting in reversed(sittings(results, args)):
        rows = {}
        for result in results.values():  # every round the sitting holds, --rounds or more
            if result["key"] == job_key(result["round"], result["name"], args, sitting):
                if result.get("sitting", 1) == sitting:
                    rows.setdefault(result["name"], {})[result["round"]] = result
        rounds = sorted(set(rows.get("nanogpt", {})) & set(rows.get("train", {})))  # whole rounds only
        if rounds:
            return sitting_table(rows, rounds, zh)
    return None


def sitting_table(rows, rounds, zh):
    lines = ["| " + " | ".join(HEADERS[zh]) + " |", "|---|--:|--:|--:|--:|"]
    for name, what in (COMMANDS_ZH if zh else COMMANDS).items():
        here = [r for r in rounds if r in rows.get(name, {})]
        if not here:
            continue
        walls, cpus, speeds = [], [], []
        for r in here:
            run, reference = rows[name][r], rows["nanogpt"][r]
            walls.append(run["wall_seconds"] / reference["wall_seconds"])
            cpus.append(run["cpu_seconds"] / reference["cpu_seconds"])
            if run["tokens_per_second"] and reference["tokens_per_second"]:
                speeds.append(run["tokens_per_second"] / reference["tokens_per_second"])
        losses = sorted({f"{rows[name][r]['val_loss']:.3f}" for r in here})
        cells = [median_and_range(ratios) if ratios else "-" for ratios in (walls, cpus, speeds)]
        if name == "nanogpt":
            cells = ["1.00x"] * 3  # the reference
        lines.append(f"| {what} | {' | '.join(cells)} | {', '.join(losses)} |")
    first = rows["nanogpt"][rounds[0]]
    threads, machine = first["threads"], first["machine"]
    comma = "、" if zh else ", "
    seconds = comma.join(f"{rows['nanogpt'][r]['wall_seconds']:.0f}" for r in rounds)
    loads = [round_loads(rows, r) for r in rounds]
    load_text = comma.join(f"{low:.1f}–{high:.1f}" for low, high in filter(None, loads))
    if zh:
        caption = f"{len(rounds)} 轮，每轮每条命令运行一次，依次运行、顺序轮换；比值取自同一轮"
        caption += "，表中是各轮比值的中位数，括号里是范围"
        caption += f"（nanoGPT 各轮用时 {seconds} 秒）；每条命令训练 {first['step']:,} 步、用 {threads} 个线程"
        caption += f"；{runs.in_chinese(machine)}"
        if load_text:
            caption += f"；各轮开始和结束时的 1 分钟平均负载：{load_text}"
    else:
        caption = (
            f"{len(rounds)} round(s), each command once per round, one after another in rotating order; a ratio is"
            f" taken within a round, the table gives the median over the rounds and (in brackets) the range"
            f" (nanoGPT took {seconds} s); {first['step']:,} steps and {threads} thread(s) each; {machine}"
        )
        if load_text:
            caption += f"; 1-minute load average as each round's runs started and ended: {load_text}"
    if first.get("shared"):
        caption += ("；" if zh else "; ") + SHARED[zh]
    return "\n".join([*lines, "", caption])


# The tables docs/speed.md (and .zh.md) shows, by block: the settings of each (options after the defaults)
BLOCKS = {
    "nanogpt": [],  # nanoGPT's CPU command: 2,000 steps, two threads per command
    "nanogpt-shared": ["--threads", "1", "--max_iters", "250", "--eval_interval", "250"],  # a loaded, shared machine
}


def report_text(zh=False, name="nanogpt"):
    """The table docs/speed.md (zh: docs/speed.zh.md) holds in block `name`: its settings' latest sitting."""
    return table(parse_args(BLOCKS[name]), zh)


def block_of(args):
    """The docs block whose settings args has (None: settings the pages do not show)."""
    for name, argv in BLOCKS.items():
        shown = parse_args(argv)
        if all(getattr(args, key) == getattr(shown, key) for key in SETTINGS):
            return name
    return None


SETTINGS = ("max_iters", "eval_interval", "eval_iters", "warmup_iters", "threads")  # what job_key holds


def check_args(args):
    for name in ("rounds", "max_iters", "eval_interval", "eval_iters", "threads"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be positive, got {getattr(args, name)}")
    if not 0 <= args.warmup_iters <= args.max_iters:
        raise ValueError(f"--warmup_iters must be between 0 and --max_iters, got {args.warmup_iters}")
    if args.max_iters % args.eval_interval:
        raise ValueError("--max_iters must be a multiple of --eval_interval (nanoGPT estimates only on those steps)")
    done = runs.load_results(args.results)
    if args.nanogpt is None and any(job_key(r, name, args) not in done for r, name in plan(args) if name == "nanogpt"):
        raise ValueError("--nanogpt PATH is needed: a checkout of nanoGPT (git clone, see --help)")
    if args.nanogpt is not None:
        if not os.path.isfile(os.path.join(args.nanogpt, "train.py")):
            raise ValueError(f"--nanogpt {args.nanogpt}: no train.py there; give the folder of a nanoGPT checkout")
    if not os.path.isfile(os.path.join(ROOT, args.data)) and not os.path.isfile(args.data):
        raise ValueError(f"--data {args.data} not found: tiny shakespeare, see --help")


def parse_args(argv=None):
    parser = runs.bench_parser(__doc__, "data/shakespeare.txt", RESULTS, "docs/speed.md and .zh.md", epilog=True)
    parser.add_argument("--nanogpt", metavar="PATH", help="folder of a nanoGPT checkout (needed to run it)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--runs", nargs="+", choices=list(COMMANDS), default=list(COMMANDS), help="(default: all)")
    parser.add_argument("--max_iters", type=int, default=2000, help="steps (default: %(default)s)")
    parser.add_argument("--eval_interval", type=int, default=250, help="steps between estimates (default: 250)")
    parser.add_argument("--eval_iters", type=int, default=20, help="batches per split per estimate (default: 20)")
    parser.add_argument("--warmup_iters", type=int, default=100, help="warmup steps (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="threads per run (default: %(default)s)")
    parser.add_argument("--shared", action="store_true", help="the machine is shared now: said under the table")
    args = parser.parse_args(argv)
    args.data = args.data if os.path.isabs(args.data) else os.path.join(ROOT, args.data)
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        check_args(args)
    except ValueError as e:
        sys.exit(f"error: {e}")
    if args.nanogpt is not None:
        args.nanogpt = os.path.abspath(args.nanogpt)
        with open(args.data, encoding="utf-8") as f:
            runs.write_nanogpt_data(f.read(), os.path.join(args.nanogpt, "data", "shakespeare_char"))
    print(f"machine: {runs.machine_description()}", flush=True)
    args.sitting = current_sitting(args)
    try:
        run_all(args)
    except KeyboardInterrupt:
        sys.exit("\nstopped; finished runs are kept: run the same command again to go on")
    except ValueError as e:
        sys.exit(f"error: {e}")
    block = block_of(args)
    if args.report and block is None:
        args.report = False
        print("(--report: docs/speed.md shows other settings; the table is printed only)")
    runs.print_table(args, block, table, DOCS, "no nanoGPT and babygpt_train.py results for these settings yet")


if __name__ == "__main__":
    main()
