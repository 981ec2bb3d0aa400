"""What each ingredient of babygpt_train.py's recipe buys: an ablation, and a speed comparison.

    python -m bench recipe                       # the ablation on data/ci.txt, seeds 1337 and 1 (~80 min on 2 cores)
    python -m bench recipe --seeds 1337          # one seed (about half that)
    python -m bench recipe --seeds 1 --rows v12 recipe v12_lr_3e-3 recipe_lr_3e-3   # some rows, another seed
    python -m bench recipe --speed               # float32 vs bfloat16 vs --compile, ratios measured in one run
    python -m bench recipe --speed --full-size --device cuda    # the same at v11's full size, on a GPU
    python -m bench recipe -- --max_iters 200 --eval_interval 100   # options after -- go to every run

Ablation. Every run trains v12's model at the README's v12 CPU command size (1,500 steps of 16 x 64
characters, n_embed 128, 4 heads, 4 layers, learning rate 1e-3, dropout 0.1), equal steps, same seeds:
v12's own plain loop (babygpt_v12_wandb.py: AdamW at one learning rate; PyTorch's default weight decay 0.01
on every tensor; betas 0.9/0.999), the full recipe (babygpt_train.py at its defaults), the recipe with each
ingredient removed in turn, the recipe with all of them removed, and both loops again at a learning rate
of 3e-3 (warmup and clipping are there to make a higher rate safe). Each run is the script's own main()
(bench/runs.py), two at a time with one thread each; each result is appended to bench/results/recipe.jsonl
as it ends, so a stopped ablation resumes where it was. The table gives the final val loss (mean of the
seeds, their range), its difference from the full recipe, the wall time and the training speed.

Speed. One process builds one model per variant (the same weights) and alternates them: a round runs
--steps optimizer steps of each variant in turn, the order rotating, for --rounds rounds after one warm-up
round; the median tokens/s of each variant and its ratio to float32 are printed, with the compile time
apart. The result is appended to bench/results/recipe.jsonl too (and not measured again: delete its line to).
"""

import argparse
import copy
import os
import statistics
import sys
import time

from bench.runs import (
    CPU_COMMAND,
    ROOT,
    add_again_option,
    already_recorded,
    append_result,
    load_results,
    machine_description,
    run_jobs,
)

# name -> (what it is, the script: v12 (its own plain loop) or babygpt_train, the row's own options)
ABLATION = {
    "v12": ("v12's plain loop (babygpt_v12_wandb.py)", "v12", []),
    "recipe": ("the full recipe (babygpt_train.py defaults)", "babygpt_train", []),
    "no_warmup": ("recipe without warmup", "babygpt_train", ["--warmup_iters", "0"]),
    "no_lr_decay": ("recipe without cosine decay", "babygpt_train", ["--lr_decay", "none"]),
    "no_weight_decay": ("recipe without weight decay", "babygpt_train", ["--weight_decay", "0"]),
    "no_grad_clip": ("recipe without gradient clipping", "babygpt_train", ["--grad_clip", "0"]),
    "beta2_0.999": ("recipe with beta2 0.999 (PyTorch's, v12's)", "babygpt_train", ["--beta2", "0.999"]),
    "nothing": (
        "recipe with every ingredient removed",
        "babygpt_train",
        ["--warmup_iters", "0", "--lr_decay", "none", "--weight_decay", "0", "--grad_clip", "0", "--beta2", "0.999"],
    ),
    # warmup and clipping exist to make a higher learning rate safe: the same comparison at 3e-3
    "v12_lr_3e-3": ("v12's plain loop, learning rate 3e-3", "v12", ["--learning_rate", "3e-3"]),
    "recipe_lr_3e-3": ("the full recipe, learning rate 3e-3", "babygpt_train", ["--learning_rate", "3e-3"]),
}
RESULTS = os.path.join(ROOT, "bench", "results", "recipe.jsonl")


# ----------------------------------------------------------------------------
# Ablation


def ablation_jobs(seeds, data, extra, rows=None):
    """One job per ablation row and seed; extra options (after --, v12's options only) go into every run's
    command, before the row's own, and into the key."""
    jobs = []
    for seed in seeds:
        for name, (_, script, options) in ABLATION.items():
            if rows and name not in rows:
                continue
            out_dir = os.path.join("out", "bench_recipe", f"{name}-{seed}")
            argv = ["--data", data, "--seed", str(seed), "--device", "cpu", *CPU_COMMAND["v12"].split()]
            argv += ["--wandb_mode", "disabled", "--out_dir", out_dir, "--overwrite"]
            argv += extra + options  # the row's own options last: they are its point
            key = "/".join(["ablation", name, str(seed), *([" ".join(extra)] if extra else [])])
            job = {"key": key, "row": name, "seed": seed, "argv": argv}
            job.update({"stage": script} if script == "v12" else {"module": script})
            jobs.append(job)
    return jobs


def print_ablation(jobs, results, seeds):
    """One column per seed (a row not run with a seed leaves its cell empty); "vs recipe" compares seed by seed,
    the mean of the differences over the seeds both rows have."""
    print("\nfinal val loss at equal steps, per seed; wall time and tokens/s: means over the row's runs\n")
    print("| run | " + " | ".join(f"seed {seed}" for seed in seeds) + " | vs recipe | wall time | tokens/s |")
    print("|---|" + "--:|" * (len(seeds) + 3))
    found = {(job["row"], job["seed"]): results[job["key"]] for job in jobs if job["key"] in results}
    for name, (what, _, _) in ABLATION.items():
        runs = {seed: found[(name, seed)] for seed in seeds if (name, seed) in found}
        if not runs:
            continue
        cells = [f"{runs[seed]['val_loss']:.3f}" if seed in runs else "" for seed in seeds]
        both = [seed for seed in runs if ("recipe", seed) in found]
        versus = ""
        if name != "recipe" and both:
            differences = [runs[seed]["val_loss"] - found[("recipe", seed)]["val_loss"] for seed in both]
            versus = f"{statistics.mean(differences):+.3f}"
        wall = statistics.mean(r["wall_seconds"] for r in runs.values())
        speed = statistics.mean(r["tokens_per_second"] for r in runs.values())
        print(f"| {what} | {' | '.join(cells)} | {versus} | {wall:.0f} s | {speed:,.0f} |")


# ----------------------------------------------------------------------------
# Speed


def speed_variants(device):
    """(name, dtype, compile, tf32) for this device; on CUDA, float32 without TF32 is how v12 runs."""
    if device.type == "cuda":
        return [
            ("float32 (v12: no TF32)", "float32", False, False),
            ("float32 + TF32", "float32", False, True),
            ("bfloat16", "bfloat16", False, True),
            ("bfloat16 + compile", "bfloat16", True, True),
        ]
    return [
        ("float32", "float32", False, False),
        ("bfloat16", "bfloat16", False, False),
        ("float32 + compile", "float32", True, False),
        ("bfloat16 + compile", "bfloat16", True, False),
    ]


def measure_speed(args, extra):
    import torch

    import babygpt_train as trainer
    import babygpt_v12_wandb as v12

    size = [] if args.full_size else CPU_COMMAND["v12"].split()
    hp = trainer.parse_args(["--data", args.data, "--device", args.device, "--wandb_mode", "disabled", *size, *extra])
    run = trainer.setup(hp)
    device, tokens_per_step = run.device, hp.batch_size * hp.block_size * hp.gradient_accumulation_steps

    variants = []
    for name, dtype, compile_it, tf32 in speed_variants(device):
        try:
            trainer.check_dtype(dtype, device)
        except ValueError as e:
            print(f"{name}: skipped ({e})")
            continue
        model = copy.deepcopy(run.model)  # every variant starts from the same weights
        optimizer = trainer.make_optimizer(model, hp, device)
        amp = trainer.autocast(device, dtype)
        compile_seconds = None
        if compile_it:
            print(f"{name}: compiling ...", flush=True)
            model, compile_seconds = trainer.compile_model(model, hp, run.train_data, amp)
        variants.append({"name": name, "model": model, "optimizer": optimizer, "amp": amp, "tf32": tf32})
        variants[-1].update({"compile_seconds": compile_seconds, "speeds": []})

    def burst(variant):
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = variant["tf32"]
        v12.synchronize(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            micro = [v12.get_batch(run.train_data, hp.batch_size, hp.block_size)]
            micro *= hp.gradient_accumulation_steps
            trainer.train_step(variant["model"], variant["optimizer"], None, micro, hp.grad_clip, variant["amp"])
        v12.synchronize(device)
        return args.steps * tokens_per_step / (time.perf_counter() - start)

    for variant in variants:  # warm-up round, not counted
        burst(variant)
    for round_number in range(args.rounds):
        shift = round_number % len(variants)
        for variant in variants[shift:] + variants[:shift]:  # the order rotates, so no variant always goes first
            variant["speeds"].append(burst(variant))
        print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    base = statistics.median(variants[0]["speeds"])
    return {
        "variants": [
            {
                "name": v["name"],
                "tokens_per_second": statistics.median(v["speeds"]),
                "ratio": statistics.median(v["speeds"]) / base,
                "compile_seconds": v["compile_seconds"],
            }
            for v in variants
        ],
        "device": str(device),
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "rounds": args.rounds,
        "tokens_per_step": tokens_per_step,
    }


def print_speed(result):
    print(
        f"\ntraining speed on {result['device']} ({result['threads']} threads), median of {result['rounds']} rounds"
        f" of {result['steps']} steps each, variants alternated; {result['tokens_per_step']:,} tokens per step\n"
    )
    print("| variant | tokens/s | vs first | compile time |")
    print("|---|--:|--:|--:|")
    for v in result["variants"]:
        compiled = f"{v['compile_seconds']:.0f} s" if v["compile_seconds"] is not None else ""
        print(f"| {v['name']} | {v['tokens_per_second']:,.0f} | {v['ratio']:.2f}x | {compiled} |")


# ----------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1337, 1], help="ablation seeds (default: %(default)s)")
    parser.add_argument("--rows", nargs="+", choices=list(ABLATION), help="ablation: only these rows (default: all)")
    parser.add_argument("--data", default="data/ci.txt", help="corpus (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="ablation runs at once, one thread each (default: 2)")
    parser.add_argument("--results", default=RESULTS, help="JSONL file of finished runs (default: %(default)s)")
    add_again_option(parser)
    parser.add_argument("--speed", action="store_true", help="measure float32 vs bfloat16 vs --compile instead")
    parser.add_argument("--full-size", action="store_true", help="speed at v11's full (GPU) size")
    parser.add_argument("--device", default="auto", help="speed: auto, cpu or cuda (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="speed: rounds counted (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=20, help="speed: steps per variant per round (default: 20)")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --, options passed to every run")
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    if not os.path.exists(os.path.join(ROOT, args.data)) and not os.path.exists(args.data):
        sys.exit(f"error: {args.data} not found; build it with: python data/prepare.py")
    print(f"machine: {machine_description()}")

    if args.speed:
        key = "/".join(["speed", args.device, "full" if args.full_size else "cpu_command", *extra])
        key += f"/{args.rounds}x{args.steps}"
        result = None if args.again else load_results(args.results).get(key)
        if result is None:
            result = {"key": key, "machine": machine_description(), **measure_speed(args, extra)}
            append_result(args.results, result)
        else:
            print(already_recorded(1, 1, args.results, "measurements of these settings"))
        print_speed(result)
        return

    run_jobs(ablation_jobs(args.seeds, args.data, extra, args.rows), args.results, args.jobs, again=args.again)
    print_ablation(ablation_jobs(args.seeds, args.data, extra), load_results(args.results), args.seeds)


if __name__ == "__main__":
    main()
