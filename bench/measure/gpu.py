"""The GPU figures in one script: speed, MFU and memory of babygpt_train.py at full size, and the lecture's run.

    python -m bench gpu                      # on a CUDA GPU with bfloat16: under ten minutes on a recent one,
                                             # and then v11 itself in float32, some minutes more (see Lecture)
    python -m bench gpu --tiny               # on a CPU at a tiny size, in seconds: checks the script
    python -m bench gpu --peak_tflops 312    # a GPU missing from PEAK_TFLOPS: give its dense bfloat16 peak
    python -m bench gpu --report             # then write the table into docs/speed.md and docs/speed.zh.md
    python -m bench gpu --nanogpt /tmp/nanogpt --report   # nanoGPT's train.py too, side by side (a checkout)

Speed. v12 at its full size (babygpt_v12_wandb.py's defaults: 6 layers, 6 heads, n_embed 384, block 256,
batch 64, dropout 0.2) through babygpt_train.py itself, --steps steps in each of five variants, one after
another in this process: v12's per-head modules (--attn_implementation stage) and the fused path, each in
bfloat16, without and with --compile, and the fused path with --compile --compile_mode reduce-overhead
(CUDA graphs). For each: the training tokens/s in the steady state (from the times
babygpt_train.py measures after --warm_steps steps, evaluation and compile time left out), the compile
time, the model FLOPs utilisation (MFU: the FLOPs the
model needs per token, 6 per parameter for the forward and backward passes plus 12 * n_layer * block_size *
n_embed for attention, PaLM's appendix B as nanoGPT counts them, times tokens/s, over the GPU's dense
bfloat16 peak), and the CUDA allocator's peak memory against babygpt_train.expected_memory().

nanoGPT, with --nanogpt PATH (a checkout; nothing of it is kept here): its train.py with its own
configuration for this model, config/train_shakespeare_char.py (the same sizes, dropout and batch; bfloat16,
without and with its --compile), as a process of its own, for the same steps. Its steady-state tokens/s is
read from when its log lines arrive (log_interval 10: the lines after step --warm_steps, to the last), so
that it keeps its own one host sync per ten steps; its data is written from --data as bench/measure/nanogpt.py does.

Lecture. Karpathy's lecture trains this model (v11's defaults) on tiny shakespeare for 5,000 steps and
reports val loss 1.48. The same run through babygpt_train.py with its fused path, bfloat16 and --compile,
and the lecture's optimizer (constant learning rate 3e-4, no warmup, no clipping, AdamW's default betas and
weight decay 0.01, the last on matrices and embeddings only), its final val loss and wall time. Then the same
5,000 steps with babygpt_v11_hyper_params.py itself, as it is (float32, per-head attention, no compiling, its
defaults): the gap between the two says how much of the distance to 1.48 the trainer's ways account for.
In float32 without TF32, by its FLOPs, that run takes several minutes on an H100: where a call has a time limit,
run the bench again with the same --round, which runs only what that round lacks.

Each result is appended to bench/results/gpu.jsonl as it ends (a stopped run resumes; --tiny writes to
--results elsewhere only when asked, and never into the docs). --round N keeps a run as round N beside the
others: the table compares speeds within a round only. --report without a GPU writes the table of the results
already measured into docs/speed.md and docs/speed.zh.md.
"""

import contextlib
import io
import os
import re
import subprocess
import sys
import time

from bench import runs
from bench.runs import ROOT

RESULTS = os.path.join(ROOT, "bench", "results", "gpu.jsonl")
DOCS = [os.path.join(ROOT, "docs", "speed.md"), os.path.join(ROOT, "docs", "speed.zh.md")]

# Dense bfloat16 tensor-core peaks, TFLOP/s, from NVIDIA's data sheets (without sparsity). The first name
# that occurs in torch.cuda.get_device_name() wins: longer names first.
PEAK_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,  # SXM
    "GH200": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "RTX 6000 Ada": 364.2,
}

# name -> (extra options of babygpt_train.py); every variant runs bfloat16 (float32 on the CPU with --tiny).
# The order of the table; they run in RUN_ORDER, the comparison that matters most first.
VARIANTS = {
    "stage": ["--attn_implementation", "stage"],
    "fused": ["--attn_implementation", "fused"],
    "stage + compile": ["--attn_implementation", "stage", "--compile"],
    "fused + compile": ["--attn_implementation", "fused", "--compile"],
    "fused + compile, CUDA graphs": [
        "--attn_implementation",
        "fused",
        "--compile",
        "--compile_mode",
        "reduce-overhead",
    ],
}
NANOGPT_VARIANTS = {"nanoGPT": ["--compile=False"], "nanoGPT + compile": ["--compile=True"]}
RUN_ORDER = ["fused + compile", "nanoGPT + compile", "fused + compile, CUDA graphs", "fused", "stage", "nanoGPT"]
RUN_ORDER += ["stage + compile", "lecture", "lecture, v11 itself"]
NANOGPT_ITER = re.compile(r"^iter (\d+): loss")
STAGE_LINE = re.compile(r"^step +[\d,]+ \| train loss ([\d.]+) \| val loss ([\d.]+) .*\| +([\d,]+) tokens/s")
TINY = ["--block_size", "16", "--n_embed", "32", "--n_head", "2", "--n_layer", "2", "--batch_size", "4"]
LECTURE = ["--warmup_iters", "0", "--lr_decay", "none", "--grad_clip", "0", "--beta2", "0.999"]
LECTURE += ["--weight_decay", "0.01", "--learning_rate", "3e-4"]


def peak_flops(device_name, given_tflops=None):
    """The device's dense bfloat16 peak in FLOP/s: given, else from PEAK_TFLOPS, else None."""
    if given_tflops:
        return given_tflops * 1e12
    for name, tflops in PEAK_TFLOPS.items():
        if name in device_name:
            return tflops * 1e12
    return None


def flops_per_token(model):
    """Training FLOPs per token: 6 N (forward 2, backward 4, per weight; position embeddings left out, as a
    lookup does no multiply) + 12 * n_layer * T * C for the attention scores and their weighted sums."""
    n = sum(p.numel() for p in model.parameters()) - model.position_embedding_table.weight.numel()
    n_layer, T, C = len(model.blocks), model.block_size, model.token_embedding_table.embedding_dim
    return 6 * n + 12 * n_layer * T * C


def train_once(argv):
    """babygpt_train.main(argv) in this process; returns (final metrics, TrainingState, model, its output)."""
    import torch

    import babygpt_train as trainer

    captured = {"reports": []}
    real_train = trainer.train

    def train_and_keep(model, train_data, val_data, hp, report, state=None, save=None):
        captured.update(model=model, state=state, hp=hp, data_tokens=len(train_data) + len(val_data))

        def report_and_keep(metrics):
            captured["reports"].append(dict(metrics))
            report(metrics)

        captured["final"] = real_train(model, train_data, val_data, hp, report_and_keep, state, save)
        return captured["final"]

    trainer.train = train_and_keep
    output = io.StringIO()
    try:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        with contextlib.redirect_stdout(output):
            trainer.main(argv)
    finally:
        trainer.train = real_train
    return captured, output.getvalue()


def warm_steps(args):
    """The steps left out of the steady-state speed: --warm_steps, or none when the run is not longer."""
    return args.warm_steps if args.warm_steps < args.steps else 0


def steady_tokens_per_second(reports, warm_step, tokens_per_step):
    """Training tokens/s from the estimate at warm_step to the last one. babygpt_train.py's tokens/s is
    cumulative (all training time since step 0, evaluation left out): each estimate gives the training time
    so far, and the difference of two gives the speed between them."""
    last = reports[-1]
    if not warm_step:
        return last["tokens_per_second"]
    first = next(m for m in reports if m["step"] == warm_step)

    def seconds(m):
        return m["step"] * tokens_per_step / m["tokens_per_second"]

    return (last["step"] - first["step"]) * tokens_per_step / (seconds(last) - seconds(first))


def device_peak(device_type, args):
    import torch

    return peak_flops(torch.cuda.get_device_name() if device_type == "cuda" else "", args.peak_tflops)


def run_variant(name, options, args, common):
    import torch

    import babygpt_train as trainer

    warm = warm_steps(args)
    argv = [*common, *options, "--max_iters", str(args.steps), "--eval_interval", str(warm or args.steps)]
    argv += ["--eval_iters", "2", "--warmup_iters", "0", "--out_dir", os.path.join(args.out, name.replace(" ", ""))]
    start = time.perf_counter()
    captured, _ = train_once(argv)
    model, hp = captured["model"], captured["hp"]
    device = next(model.parameters()).device
    tokens_per_second = steady_tokens_per_second(captured["reports"], warm, hp.batch_size * hp.block_size)
    peak = device_peak(device.type, args)
    expected = sum(trainer.expected_memory(model, hp.batch_size, captured["data_tokens"], 1, device.type).values())
    measured = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "variant": name,
        "tokens_per_second": tokens_per_second,
        "mfu": tokens_per_second * flops_per_token(model) / peak if peak else None,
        "compile_seconds": captured["state"].compile_seconds,
        "peak_memory": measured,
        "expected_memory": expected,
        "wall_seconds": time.perf_counter() - start,
    }


def nanogpt_command(options, args):
    """nanoGPT's train.py with its configuration for this model, for --steps steps, evaluating only at step 0
    (2 batches) and saving nothing; at a tiny size, in float32, on the CPU with --tiny."""
    argv = [sys.executable, "train.py", "config/train_shakespeare_char.py", *options]
    argv += [f"--max_iters={args.steps}", f"--lr_decay_iters={args.steps}", f"--eval_interval={args.steps + 1}"]
    argv += ["--eval_iters=2", "--log_interval=10", "--always_save_checkpoint=False"]
    argv += [f"--out_dir={os.path.join(args.out, 'nanogpt')}"]
    if args.tiny:
        argv += ["--device=cpu", "--dtype=float32", "--n_layer=2", "--n_head=2", "--n_embd=32", "--block_size=16"]
        argv += ["--batch_size=4"]
    else:
        argv += ["--device=cuda", "--dtype=bfloat16"]
    return argv


def run_nanogpt(name, options, args):
    """nanoGPT's train.py as its own process: steady-state tokens/s from the arrival times of its log lines."""
    import babygpt_v12_wandb as v12

    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    runs.write_nanogpt_data(text, os.path.join(args.nanogpt, "data", "shakespeare_char"))
    argv = nanogpt_command(options, args)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    start = time.perf_counter()
    arrivals, output = {}, []
    with subprocess.Popen(
        argv, cwd=args.nanogpt, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as p:
        for line in p.stdout:
            output.append(line)
            found = NANOGPT_ITER.match(line)
            if found:
                arrivals[int(found.group(1))] = time.perf_counter()
    if p.returncode != 0 or not arrivals:
        last = (output or ["(no output)"])[-1].strip()
        raise RuntimeError(f"nanoGPT's train.py failed (exit {p.returncode}): {last}")
    sizes = {"batch_size": 64, "block_size": 256, "n_layer": 6, "n_head": 6, "n_embd": 384}  # the configuration's
    sizes.update(
        (k, int(v)) for k, v in re.findall(r"--(batch_size|block_size|n_layer|n_head|n_embd)=(\d+)", " ".join(argv))
    )
    batch, block = sizes["batch_size"], sizes["block_size"]
    steps = sorted(arrivals)
    first = next((s for s in steps if s >= warm_steps(args)), steps[0])
    if first == steps[-1]:
        first = steps[0]
    tokens_per_second = (steps[-1] - first) * batch * block / (arrivals[steps[-1]] - arrivals[first])
    same_sizes = v12.BabyGPT(len(set(text)), block, sizes["n_embd"], sizes["n_head"], sizes["n_layer"], 0.0)
    peak = device_peak("cpu" if args.tiny else "cuda", args)
    return {
        "variant": name,
        "tokens_per_second": tokens_per_second,
        "mfu": tokens_per_second * flops_per_token(same_sizes) / peak if peak else None,
        "compile_seconds": None,
        "peak_memory": None,
        "expected_memory": None,
        "wall_seconds": time.perf_counter() - start,
        "command": " ".join(argv[1:]),
    }


def run_lecture(args, common):
    argv = [*common, *LECTURE, "--attn_implementation", "fused", "--max_iters", str(args.lecture_steps)]
    argv += ["--eval_interval", str(max(1, args.lecture_steps // 10)), "--out_dir", os.path.join(args.out, "lecture")]
    argv += ["--eval_iters", "2"] if args.tiny else ["--compile"]
    start = time.perf_counter()
    captured, _ = train_once(argv)
    final = captured["final"]
    return {
        "variant": "lecture",
        "val_loss": final["val_loss"],
        "train_loss": final["train_loss"],
        "tokens_per_second": final["tokens_per_second"],
        "wall_seconds": time.perf_counter() - start,
    }


def run_lecture_stage(args):
    """babygpt_v11_hyper_params.py itself for --lecture_steps steps, as a process of its own: its defaults, float32,
    no compiling (with --tiny: the tiny size on the CPU). Its final losses and its last log line's tokens/s."""
    argv = [sys.executable, os.path.join(ROOT, "babygpt_v11_hyper_params.py"), "--data", args.data]
    argv += ["--max_iters", str(args.lecture_steps), "--eval_interval", str(max(1, args.lecture_steps // 10))]
    argv += ["--max_new_tokens", "20"]
    argv += ["--device", "cpu", *TINY, "--eval_iters", "2"] if args.tiny else ["--device", "cuda"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    found = [m for m in map(STAGE_LINE.match, done.stdout.splitlines()) if m]
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"babygpt_v11_hyper_params.py failed (exit {done.returncode}): {last}")
    train_loss, val_loss, speed = found[-1].groups()
    return {
        "variant": "lecture, v11 itself",
        "val_loss": float(val_loss),
        "train_loss": float(train_loss),
        "tokens_per_second": float(speed.replace(",", "")),
        "wall_seconds": time.perf_counter() - start,
        "command": " ".join(argv[1:]),
    }


def gib(size):
    return "-" if size is None else f"{size / 2**30:.2f} GiB"


TABLE_ORDER = [*VARIANTS, *NANOGPT_VARIANTS]


def table(results, zh=False):
    """The Markdown the docs hold for a list of results, in English or (zh) Chinese; None when there are none.

    First the speed of every variant in every round, and its ratio to nanoGPT + compile within that round
    (never across rounds, which may run on other machines); then, for the round that ran the most variants
    (the earliest of those), the ratio to v12's per-head modules (stage), MFU, compile time and memory; then
    the lecture runs and the machines."""
    if not results:
        return None
    rounds = {}  # round -> variant -> result
    for r in results:
        rounds.setdefault(r.get("round", 1), {})[r["variant"]] = r
    order = sorted(rounds)
    names = [name for name in TABLE_ORDER if any(name in rounds[n] for n in order)]
    lines = []
    if names:
        versus = [n for n in order if "nanoGPT + compile" in rounds[n]]
        if zh:
            header = ["变体", *(f"第 {n} 轮" for n in order), *(f"第 {n} 轮" for n in versus)]
            header[1] = f"每秒词元数：{header[1]}"
            if versus:
                header[1 + len(order)] = f"与 nanoGPT + compile 之比：{header[1 + len(order)]}"
        else:
            header = ["variant", *(f"round {n}" for n in order), *(f"round {n}" for n in versus)]
            header[1] = f"tokens/s, {header[1]}"
            if versus:
                header[1 + len(order)] = f"vs nanoGPT + compile, {header[1 + len(order)]}"
        lines += ["| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]
        for name in names:
            cells = [f"{rounds[n][name]['tokens_per_second']:,.0f}" if name in rounds[n] else "-" for n in order]
            for n in versus:
                own, nanogpt = rounds[n].get(name), rounds[n]["nanoGPT + compile"]
                cells.append(f"{own['tokens_per_second'] / nanogpt['tokens_per_second']:.2f}x" if own else "-")
            lines.append("| " + " | ".join([name, *cells]) + " |")
        widest = max(order, key=lambda n: (sum(name in rounds[n] for name in names), -n))
        row = rounds[widest]
        base = row.get("stage")
        if zh:
            header = [f"变体（第 {widest} 轮）", "与 stage 之比", "MFU", "编译用时", "显存峰值", "训练脚本的估算"]
        else:
            header = [f"variant (round {widest})", "vs stage", "MFU", "compile", "peak memory", "expected"]
        lines += ["", "| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]
        for name in (name for name in names if name in row):
            r = row[name]
            cells = [name, f"{r['tokens_per_second'] / base['tokens_per_second']:.2f}x" if base else "-"]
            cells += ["-" if r["mfu"] is None else f"{r['mfu']:.1%}"]
            cells += ["-" if r["compile_seconds"] is None else f"{r['compile_seconds']:.0f} s"]
            cells += [gib(r["peak_memory"]), gib(r["expected_memory"])]
            lines.append("| " + " | ".join(cells) + " |")
        first = next(r for r in row.values() if not r["variant"].startswith("lecture"))
        steps, warm = first.get("steps"), first.get("warm_steps")
        if zh:
            lines.append(f"\n每个变体训练 {steps} 步，每秒词元数取第 {warm} 步到第 {steps} 步之间（不含评估）")
            lines[-1] += "；比值只在同一轮内计算"
        else:
            lines.append(
                f"\neach variant trained {steps} steps, tokens/s from step {warm} to {steps} (evaluation left out)"
            )
            lines[-1] += "; ratios within a round only"
    for variant in ("lecture", "lecture, v11 itself"):
        lecture_rounds = [n for n in order if variant in rounds[n]]
        if lecture_rounds:
            lines.append(lecture_line(variant, [rounds[n][variant] for n in lecture_rounds], lecture_rounds, zh))
    machines = list(dict.fromkeys(r["machine"] for r in results))
    lines.append("\n" + "\n".join(runs.in_chinese(m) if zh else m for m in machines))
    return "\n".join(lines)


def lecture_line(variant, lectures, lecture_rounds, zh):
    """One line of the table's text for the lecture's runs (variant "lecture" or "lecture, v11 itself")."""
    separator = "、" if zh else " and "
    val, train = (separator.join(f"{r[key]:.4f}" for r in lectures) for key in ("val_loss", "train_loss"))
    speed = separator.join(f"{r['tokens_per_second']:,.0f}" for r in lectures)
    minutes = separator.join(f"{r['wall_seconds'] / 60:.1f}" for r in lectures)
    if zh:
        which = "课程那次训练" if variant == "lecture" else "同样的训练直接用 v11（float32，逐头注意力，不编译）"
        return (
            f"\n{which}（第 {'、'.join(map(str, lecture_rounds))} 轮各跑一次）：验证损失 {val}"
            f"（课程报告 1.48），训练损失 {train}，每秒 {speed} 个词元，用时 {minutes} 分钟"
        )
    which = "the lecture's run" if variant == "lecture" else "the same run with v11 itself (float32, per head, eager)"
    return (
        f"\n{which}, round{'s' * (len(lectures) > 1)} {' and '.join(map(str, lecture_rounds))}:"
        f" val loss {val} (the lecture: 1.48), train loss {train}, {speed} tokens/s, {minutes} min"
    )


def write_report(results_path):
    """The table of results_path into docs/speed.md and .zh.md; refused in one line (the docs keep their table)
    when the file holds no results or holds a --tiny run's."""
    results = runs.load_results(results_path)
    if not results:
        sys.exit(f"error: {results_path}: no results there; the docs keep their table")
    if any(key.startswith("tiny/") for key in results):
        sys.exit(f"error: {results_path} holds --tiny results, which never go into the docs")
    runs.fill_measured_twins("gpu", lambda zh: report_text(zh, results_path), DOCS)


def report_text(zh=False, results_path=RESULTS):
    """The table docs/speed.md (zh: .zh.md) holds: bench/gpu.jsonl's results; None before a GPU ran them."""
    return table(list(runs.load_results(results_path).values()), zh)


def main(argv=None):
    parser = runs.bench_parser(__doc__, "data/shakespeare.txt", epilog=True)
    parser.add_argument("--steps", type=int, default=400, help="steps per speed variant (default: %(default)s)")
    parser.add_argument(
        "--lecture_steps", type=int, help="the lecture runs' steps (default: 5000; with --tiny, 20: seconds on a CPU)"
    )
    parser.add_argument("--peak_tflops", type=float, help="the device's dense bfloat16 peak, TFLOP/s (default: table)")
    parser.add_argument("--tiny", action="store_true", help="a tiny size on the CPU, float32, no compile")
    parser.add_argument("--skip_lecture", action="store_true", help="only the speed variants")
    parser.add_argument(
        "--out", default=os.path.join(ROOT, "out", "bench_gpu"), help="run folders (default: out/bench_gpu)"
    )
    parser.add_argument("--results", help="JSONL file of results (default: bench/results/gpu.jsonl; none with --tiny)")
    runs.add_again_option(parser)
    parser.add_argument("--report", action="store_true", help="then write the table into docs/speed.md and .zh.md")
    parser.add_argument("--warm_steps", type=int, default=100, help="steps left out of tokens/s (default: %(default)s)")
    parser.add_argument(
        "--round", type=int, default=1, help="this run's round: results are kept per round (default: 1)"
    )
    parser.add_argument("--nanogpt", metavar="PATH", help="a nanoGPT checkout: run its train.py side by side too")
    args = parser.parse_args(argv)
    if args.lecture_steps is None:
        args.lecture_steps = 20 if args.tiny else 5000
    if min(args.steps, args.lecture_steps, args.round) <= 0 or args.warm_steps < 0:
        sys.exit("error: --steps, --lecture_steps and --round must be positive, --warm_steps not negative")
    if args.report and args.tiny:
        sys.exit("error: --report with --tiny: a tiny run on a CPU never goes into the docs")
    if args.peak_tflops is not None and args.peak_tflops <= 0:
        sys.exit(f"error: --peak_tflops must be positive, got {args.peak_tflops}")
    if args.nanogpt is not None and not os.path.isfile(os.path.join(args.nanogpt, "train.py")):
        sys.exit(f"error: --nanogpt {args.nanogpt}: no train.py there; give the folder of a nanoGPT checkout")
    args.data = runs.corpus_path(args.data, runs.TINY_SHAKESPEARE)
    import torch

    results_path = args.results or (None if args.tiny else RESULTS)
    common = ["--data", args.data, "--wandb_mode", "disabled", "--overwrite", "--max_new_tokens", "20"]
    if args.tiny:
        common += ["--device", "cpu", "--dtype", "float32", *TINY]
    else:
        common += ["--device", "cuda", "--dtype", "bfloat16"]
    prefix = "tiny/" if args.tiny else ""
    variants = {name: (run_variant, options) for name, options in VARIANTS.items()}
    if args.nanogpt:
        variants.update({name: (run_nanogpt, options) for name, options in NANOGPT_VARIANTS.items()})
    if not args.skip_lecture:
        variants["lecture"] = (run_lecture, None)
        variants["lecture, v11 itself"] = (run_lecture_stage, None)
    if args.tiny:  # no compiling on the CPU: it needs a C++ compiler and minutes
        variants = {name: run for name, run in variants.items() if "compile" not in name}
    jobs = []
    for name in RUN_ORDER:
        if name in variants:
            lecture = name.startswith("lecture")
            size = f"{args.lecture_steps}" if lecture else f"{args.steps}w{warm_steps(args)}"
            job = {"lecture": "lecture", "lecture, v11 itself": "lecture/v11"}.get(name, f"speed/{name}")
            jobs.append((f"{prefix}{job}/{size}/round{args.round}", name))
    done = runs.load_results(results_path) if results_path and not args.again else {}
    recorded = sum(key in done for key, _ in jobs)
    if recorded:
        print(runs.already_recorded(recorded, len(jobs), results_path, "runs"))
    if any(key not in done for key, _ in jobs) and not args.tiny and not torch.cuda.is_available():
        if not args.report:
            sys.exit("error: no CUDA GPU here; python -m bench gpu --tiny checks the script on a CPU at a tiny size")
        print("no CUDA GPU here: nothing runs; the docs get the table of the results already measured")
        write_report(results_path)
        return
    machine = runs.machine_description()
    if torch.cuda.is_available() and not args.tiny:
        machine += f", {torch.cuda.get_device_name()}"
    results, failed = [], []
    for key, name in jobs:
        if key in done:
            results.append(done[key])
            continue
        print(f"{key} ...", flush=True)
        run, options = variants[name]
        try:
            if run is run_lecture:
                result = run_lecture(args, common)
            elif run is run_lecture_stage:
                result = run_lecture_stage(args)
            elif run is run_nanogpt:
                result = run_nanogpt(name, options, args)
            else:
                result = run_variant(name, options, args, common)
        except SystemExit as e:  # babygpt_train.py or nanoGPT refused something: its one line
            sys.exit(f"error: {key}: {str(e.code).removeprefix('error: ')}")
        except Exception as e:  # a variant that breaks on this machine (a compiler's error, say): the rest still run
            print(f"error: {key}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")
            failed.append(key)
            continue
        result.update(key=key, machine=machine, steps=args.steps, warm_steps=warm_steps(args), round=args.round)
        print(f"  {result['tokens_per_second']:,.0f} tokens/s, {result['wall_seconds']:.0f} s", flush=True)
        results.append(result)
        if results_path:
            runs.append_result(results_path, result)
    print(f"\n{table(results)}")
    if args.report:
        write_report(results_path)
    if failed:
        sys.exit(f"error: {len(failed)} run(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
