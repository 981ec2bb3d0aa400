"""Where a training step of babygpt_train.py spends its time, and what the fused paths bought.

    python -m bench train_step                      # nanoGPT's CPU configuration on data/shakespeare.txt (~3 min)
    python -m bench train_step --rounds 3 --steps 5 # quicker
    python -m bench train_step --report             # also write the table into docs/speed.md and docs/speed.zh.md

Profile. torch.profiler records one optimizer step of the trainer as it runs now (fused attention, fused
AdamW), after warm-up steps, and of the step as it was (v12's per-head modules, PyTorch's plain AdamW), and
prints the operators that took the most time, with the number of operator calls per step. The counts are
exact on any machine; the shares of time are ratios within one step.

Speed. One process builds the model once per variant (the same weights) and alternates them: a round runs
--steps steps of each variant in turn, the order rotating, after a warm-up round; the median tokens/s of
each variant and its ratio to the first are printed. Every step is babygpt_train.train_step, the trainer's
own, on batches of the corpus. The results are appended to bench/results/train_step.jsonl (and not measured
again: delete its line to measure again).

The configuration is nanoGPT's for a CPU (bench/measure/nanogpt.py): 4 layers, 4 heads, n_embed 128, block 64,
batch 12, dropout 0; one thread (--threads), as the other benches.
"""

import copy
import os
import statistics
import sys
import time

from bench import runs
from bench.runs import ROOT

RESULTS = os.path.join(ROOT, "bench", "results", "train_step.jsonl")
DOCS = [os.path.join(ROOT, "docs", "speed.md"), os.path.join(ROOT, "docs", "speed.zh.md")]
CONFIG = ["--batch_size", "12", "--block_size", "64", "--n_embed", "128", "--n_head", "4", "--n_layer", "4"]
CONFIG += ["--dropout", "0", "--learning_rate", "1e-3", "--min_lr", "1e-4"]

# name -> (attention implementation, fused AdamW): the step as it was first, each change then added
VARIANTS = {
    "before: v12's modules, plain AdamW": ("stage", False),
    "fused attention, plain AdamW": ("fused", False),
    "now: fused attention, fused AdamW": ("fused", True),
}


def build(args):
    """The trainer's arguments and run (data, model) for the configuration; one model per variant."""
    import torch

    import babygpt.fused
    import babygpt_train as trainer

    torch.set_num_threads(args.threads)
    argv = ["--data", args.data, "--device", "cpu", "--wandb_mode", "disabled", *CONFIG]
    hp = trainer.parse_args(argv)
    run = trainer.setup(hp)
    variants = {}
    for name, (implementation, fused_adamw) in VARIANTS.items():
        model = copy.deepcopy(run.model)
        babygpt.fused.set_attention(model, implementation)
        if fused_adamw:
            optimizer = trainer.make_optimizer(model, hp, run.device)
        else:  # what make_optimizer returned before on a CPU
            groups = trainer.parameter_groups(model, hp.weight_decay)
            optimizer = torch.optim.AdamW(groups, lr=hp.learning_rate, betas=(hp.beta1, hp.beta2))
        variants[name] = (model, optimizer)
    return hp, run, variants


def steps(hp, run, model, optimizer, n):
    import contextlib

    import babygpt_train as trainer
    import babygpt_v12_wandb as v12

    for _ in range(n):
        batch = v12.get_batch(run.train_data, hp.batch_size, hp.block_size)
        trainer.train_step(model, optimizer, None, [batch], hp.grad_clip, contextlib.nullcontext())


def profile_step(hp, run, model, optimizer, top):
    """The operators of one step, heaviest first: (name, calls, share of the step's self time)."""
    from torch.profiler import ProfilerActivity, profile

    steps(hp, run, model, optimizer, 3)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        steps(hp, run, model, optimizer, 1)
    events = [e for e in prof.key_averages() if not e.key.startswith(("autograd::", "Optimizer.", "Autograd"))]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return {
        "operator_calls": sum(e.count for e in events),
        "top": [(e.key, e.count, e.self_cpu_time_total / total) for e in events[:top]],
    }


def measure(args):
    import torch

    hp, run, variants = build(args)
    result = {"profiles": {}, "speeds": {name: [] for name in variants}}
    for name in (list(variants)[0], list(variants)[-1]):
        result["profiles"][name] = profile_step(hp, run, *variants[name], args.top)
    tokens = args.steps * hp.batch_size * hp.block_size
    names = list(variants)
    for name in names:  # warm-up round, not counted
        steps(hp, run, *variants[name], args.steps)
    for round_number in range(args.rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:  # the order rotates, so no variant always goes first
            start = time.perf_counter()
            steps(hp, run, *variants[name], args.steps)
            result["speeds"][name].append(tokens / (time.perf_counter() - start))
        print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    result["n_parameter_tensors"] = len(list(variants[names[0]][0].parameters()))
    result["threads"] = torch.get_num_threads()
    return result


LABELS = {
    False: {
        "speed": "| training step | tokens/s vs before |",
        "profile": "| operator | calls per step | share of the step |",
        "calls": "{name}: {calls:,} operator calls per step",
        "caption": "median of {rounds} rounds of {steps} steps per variant, alternated; {threads} thread(s); {machine}",
        "shared": "the machine was shared with other jobs while it ran: compare the ratios only",
    },
    True: {
        "speed": "| 训练步 | 每秒词元数（与改动前之比） |",
        "profile": "| 算子 | 每步调用次数 | 占一步时间的比例 |",
        "calls": "{name}：每步调用 {calls:,} 次算子",
        "caption": "三种写法轮流运行，每种每轮 {steps} 步，共 {rounds} 轮，取中位数；{threads} 个线程；{machine}",
        "shared": "测量时机器上同时运行着其他任务：只比较比值",
    },
}
VARIANTS_ZH = {
    "before: v12's modules, plain AdamW": "改动前：v12 逐头的模块，普通 AdamW",
    "fused attention, plain AdamW": "融合注意力，普通 AdamW",
    "now: fused attention, fused AdamW": "现在：融合注意力，融合 AdamW",
}


def table(result, zh=False):
    """The Markdown tables, in English or Chinese (zh): the speed of each variant against the first, then the
    heaviest operators of each profile."""
    labels = LABELS[zh]
    name_of = (lambda name: VARIANTS_ZH[name]) if zh else (lambda name: name)
    speeds = {name: statistics.median(values) for name, values in result["speeds"].items()}
    first = next(iter(speeds.values()))
    lines = [labels["speed"], "|---|--:|"]
    lines += [f"| {name_of(name)} | {speed / first:.2f}x |" for name, speed in speeds.items()]
    for name, profile in result["profiles"].items():
        lines += ["", labels["calls"].format(name=name_of(name), calls=profile["operator_calls"]), ""]
        lines += [labels["profile"], "|---|--:|--:|"]
        lines += [f"| `{key}` | {count:,} | {share:.0%} |" for key, count, share in profile["top"]]
    caption = labels["caption"].format(
        rounds=result["rounds"],
        steps=result["steps"],
        threads=result["threads"],
        machine=runs.in_chinese(result["machine"]) if zh else result["machine"],
    )
    if result.get("shared"):
        caption += ("；" if zh else "; ") + labels["shared"]
    return "\n".join([*lines, "", caption])


def result_key(args):
    return f"{args.data}/{args.rounds}x{args.steps}/threads{args.threads}"


def report_text(zh=False):
    """The tables docs/speed.md (zh: docs/speed.zh.md) holds: the default command's; None before it ran."""
    args = parse_args([])
    result = runs.load_results(args.results).get(result_key(args))
    return None if result is None else table(result, zh)


def parse_args(argv=None):
    parser = runs.bench_parser(__doc__, "data/shakespeare.txt", RESULTS, "docs/speed.md and .zh.md")
    parser.add_argument("--rounds", type=int, default=5, help="rounds counted (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=20, help="steps per variant per round (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    parser.add_argument("--top", type=int, default=8, help="operators listed per profile (default: %(default)s)")
    parser.add_argument("--shared", action="store_true", help="the machine is shared now: said under the tables")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if min(args.rounds, args.steps, args.threads, args.top) <= 0:
        sys.exit("error: --rounds, --steps, --threads and --top must be positive")
    runs.corpus_path(args.data, runs.TINY_SHAKESPEARE)
    key = result_key(args)
    result = None if args.again else runs.load_results(args.results).get(key)
    if result is None:
        result = {"key": key, "machine": runs.machine_description(), "shared": args.shared, **measure(args)}
        result.update(rounds=args.rounds, steps=args.steps)
        runs.append_result(args.results, result)
    else:
        print(runs.already_recorded(1, 1, args.results, "measurements of these settings"))
    print(f"\n{table(result)}")
    if args.report:
        runs.fill_measured_twins("profile", lambda zh: table(result, zh), DOCS)


if __name__ == "__main__":
    main()
