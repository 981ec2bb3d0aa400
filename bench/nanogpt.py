"""BabyGPT's trainer side by side with nanoGPT's train.py: the same work on a CPU, alternated, wall time and loss.

    python bench/nanogpt.py --nanogpt /tmp/nanogpt               # three rounds of the four commands (~40 min here)
    python bench/nanogpt.py --nanogpt /tmp/nanogpt --report      # then write the table into docs/speed*.md
    python bench/nanogpt.py --nanogpt /tmp/nanogpt --max_iters 20 --eval_interval 10 --warmup_iters 5  # a check

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
step 2,000. Each finished run is appended to bench/results/nanogpt.jsonl at once: run the same command
again after a stop and only the missing runs go. --report writes the table of ratios to nanoGPT
(times are compared within a round, never across rounds) into docs/speed.md and docs/speed.zh.md.
"""

import os
import pickle
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import ROOT, append_result, bench_parser, in_chinese, load_results, machine_description, print_table  # noqa: E402

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
# nanoGPT's data, written from the text


def write_nanogpt_data(text, folder):
    """What nanoGPT's data/shakespeare_char/prepare.py writes, from text: train.bin and val.bin (uint16 ids of
    the first 90% and the last 10%) and meta.pkl (vocab_size, itos, stoi), characters sorted."""
    import numpy as np

    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = np.array([stoi[ch] for ch in text], dtype=np.uint16)
    n = len(text)
    os.makedirs(folder, exist_ok=True)
    ids[: int(n * 0.9)].tofile(os.path.join(folder, "train.bin"))
    ids[int(n * 0.9) :].tofile(os.path.join(folder, "val.bin"))
    with open(os.path.join(folder, "meta.pkl"), "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)


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


def job_key(round_number, name, args):
    size = f"{args.max_iters}x{args.eval_interval}x{args.eval_iters}w{args.warmup_iters}/threads{args.threads}"
    return f"{size}/round{round_number}/{name}"


def plan(args):
    """(round, name) in the order they run: the names rotate by one from round to round."""
    names = list(args.runs)
    order = []
    for round_number in range(1, args.rounds + 1):
        shift = (round_number - 1) % len(names)
        order += [(round_number, name) for name in names[shift:] + names[:shift]]
    return order


def run_all(args):
    done = load_results(args.results)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONIOENCODING": "utf-8"}
    for round_number, name in plan(args):
        key = job_key(round_number, name, args)
        if key in done:
            continue
        out_dir = os.path.join(ROOT, "out", "bench_nanogpt", name)
        argv, cwd = command(name, args, out_dir)
        print(f"round {round_number}: {name} ...", flush=True)
        start, cpu_before = time.perf_counter(), children_cpu_seconds()
        process = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8")
        wall, cpu = time.perf_counter() - start, children_cpu_seconds() - cpu_before
        if process.returncode != 0:
            last = (process.stderr.strip().splitlines() or ["(no output)"])[-1]
            sys.exit(f"error: {name} failed (exit {process.returncode}): {last}")
        step, train_loss, val_loss, speed = read_output(name, process.stdout, args.eval_interval)
        result = {"key": key, "round": round_number, "name": name, "wall_seconds": wall, "cpu_seconds": cpu}
        result["tokens_per_second"] = speed
        result.update({"step": step, "train_loss": train_loss, "val_loss": val_loss, "threads": args.threads})
        result.update({"command": " ".join(argv[1:]), "machine": machine_description(), "shared": args.shared})
        append_result(args.results, result)
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


def table(args, zh=False):
    """The Markdown table of ratios to nanoGPT, round by round, and the final val losses, in English or
    Chinese (zh); None without results."""
    results = load_results(args.results)
    rows = {}
    for round_number in range(1, args.rounds + 1):
        for name in COMMANDS:
            result = results.get(job_key(round_number, name, args))
            if result is not None:
                rows.setdefault(name, {})[round_number] = result
    if "nanogpt" not in rows or not rows.get("train"):
        return None
    rounds = sorted(rows["nanogpt"])
    lines = ["| " + " | ".join(HEADERS[zh]) + " |", "|---|--:|--:|--:|--:|"]
    for name, what in (COMMANDS_ZH if zh else COMMANDS).items():
        if name not in rows:
            continue
        walls, cpus, speeds = [], [], []
        for r in rounds:
            if r in rows[name]:
                walls.append(rows[name][r]["wall_seconds"] / rows["nanogpt"][r]["wall_seconds"])
                cpus.append(rows[name][r]["cpu_seconds"] / rows["nanogpt"][r]["cpu_seconds"])
                if rows[name][r]["tokens_per_second"] and rows["nanogpt"][r]["tokens_per_second"]:
                    speeds.append(rows[name][r]["tokens_per_second"] / rows["nanogpt"][r]["tokens_per_second"])
        losses = sorted({f"{result['val_loss']:.3f}" for result in rows[name].values()})
        cells = [", ".join(f"{r:.2f}x" for r in ratios) for ratios in (walls, cpus, speeds)]
        lines.append(f"| {what} | {' | '.join(cells)} | {', '.join(losses)} |")
    first = next(iter(rows["nanogpt"].values()))
    threads, machine = first["threads"], first["machine"]
    seconds = ("、" if zh else ", ").join(f"{rows['nanogpt'][r]['wall_seconds']:.0f}" for r in rounds)
    if zh:
        caption = f"{len(rounds)} 轮，每轮每条命令运行一次，依次运行、顺序轮换；比值取自同一轮"
        caption += f"（nanoGPT 各轮用时 {seconds} 秒）；每条命令 {threads} 个线程；{in_chinese(machine)}"
    else:
        caption = (
            f"{len(rounds)} round(s), each command once per round, one after another in rotating order;"
            f" ratios within a round (nanoGPT took {seconds} s); {threads} thread(s) each; {machine}"
        )
    if first.get("shared"):
        caption += ("；" if zh else "; ") + SHARED[zh]
    return "\n".join([*lines, "", caption])


def report_text(zh=False):
    """The table docs/speed.md (zh: docs/speed.zh.md) holds: the default command's (--rounds 3)."""
    return table(parse_args([]), zh)


def check_args(args):
    for name in ("rounds", "max_iters", "eval_interval", "eval_iters", "threads"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be positive, got {getattr(args, name)}")
    if not 0 <= args.warmup_iters <= args.max_iters:
        raise ValueError(f"--warmup_iters must be between 0 and --max_iters, got {args.warmup_iters}")
    if args.max_iters % args.eval_interval:
        raise ValueError("--max_iters must be a multiple of --eval_interval (nanoGPT estimates only on those steps)")
    done = load_results(args.results)
    if args.nanogpt is None and any(job_key(r, name, args) not in done for r, name in plan(args) if name == "nanogpt"):
        raise ValueError("--nanogpt PATH is needed: a checkout of nanoGPT (git clone, see --help)")
    if args.nanogpt is not None:
        if not os.path.isfile(os.path.join(args.nanogpt, "train.py")):
            raise ValueError(f"--nanogpt {args.nanogpt}: no train.py there; give the folder of a nanoGPT checkout")
    if not os.path.isfile(os.path.join(ROOT, args.data)) and not os.path.isfile(args.data):
        raise ValueError(f"--data {args.data} not found: tiny shakespeare, see --help")


def parse_args(argv=None):
    parser = bench_parser(__doc__, "data/shakespeare.txt", RESULTS, "docs/speed.md and .zh.md", epilog=True)
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
            write_nanogpt_data(f.read(), os.path.join(args.nanogpt, "data", "shakespeare_char"))
    print(f"machine: {machine_description()}", flush=True)
    try:
        run_all(args)
    except KeyboardInterrupt:
        sys.exit("\nstopped; finished runs are kept: run the same command again to go on")
    except ValueError as e:
        sys.exit(f"error: {e}")
    print_table(args, "nanogpt", table, DOCS, "no nanoGPT and babygpt_train.py results for these settings yet")


if __name__ == "__main__":
    main()
