"""Does the fused path train to the same losses as v12's per-head modules? Two seeds, short runs.

    python -m bench fused_losses              # 4 runs of babygpt_train.py, two at a time (~5 min on 2 quiet cores)
    python -m bench fused_losses --report     # then write the table into docs/speed.md and docs/speed.zh.md

babygpt_train.py --attn_implementation fused and stage, seeds 1337 and 1, on tiny shakespeare at nanoGPT's CPU
size (bench/measure/nanogpt.py) for --max_iters steps, with dropout 0.1, so that the dropout of the attention weights
is part of what is compared. With dropout the two paths draw their masks differently, so their losses differ
by the noise of training, not by rounding; the seed-to-seed spread says how large that noise is. Losses are
deterministic for a seed and one thread: publishable from any machine. Each run is the script's own main()
(bench/runs.py), appended to bench/results/fused_losses.jsonl as it ends: the same command resumes.
"""

import os
import sys

from bench.runs import ROOT, TINY_SHAKESPEARE, bench_parser, corpus_path, load_results, print_table, run_jobs

RESULTS = os.path.join(ROOT, "bench", "results", "fused_losses.jsonl")
DOCS = [os.path.join(ROOT, "docs", "speed.md"), os.path.join(ROOT, "docs", "speed.zh.md")]
SEEDS = (1337, 1)
SIZE = ["--batch_size", "12", "--block_size", "64", "--n_embed", "128", "--n_head", "4", "--n_layer", "4"]
SIZE += ["--dropout", "0.1", "--learning_rate", "1e-3", "--min_lr", "1e-4", "--eval_interval", "250"]
SIZE += ["--eval_iters", "20", "--wandb_mode", "disabled", "--device", "cpu", "--max_new_tokens", "1"]


def jobs(args):
    result = []
    for seed in SEEDS:
        for implementation in ("fused", "stage"):
            out_dir = os.path.join("out", "bench_fused_losses", f"{implementation}-{seed}")
            argv = ["--data", args.data, "--seed", str(seed), "--max_iters", str(args.max_iters), *SIZE]
            argv += ["--attn_implementation", implementation, "--out_dir", out_dir, "--overwrite"]
            key = f"{implementation}/{seed}/{args.max_iters}"
            result.append({"key": key, "module": "babygpt_train", "argv": argv, "seed": seed, "impl": implementation})
    return result


def table(args, zh=False):
    """Final val loss per seed, fused and stage; None before every run is done."""
    results = load_results(args.results)
    found = [results.get(job["key"]) for job in jobs(args)]
    if None in found:
        return None
    header = (
        "| 随机种子 | 融合注意力 | v12 逐头模块 | 差 |"
        if zh
        else "| seed | fused | stage (v12's modules) | difference |"
    )
    lines = [header, "|--:|--:|--:|--:|"]
    for i, seed in enumerate(SEEDS):
        fused, stage = found[2 * i]["val_loss"], found[2 * i + 1]["val_loss"]
        lines.append(f"| {seed} | {fused:.4f} | {stage:.4f} | {fused - stage:+.4f} |")
    if zh:
        caption = f"第 {args.max_iters} 步的最终验证损失，dropout 0.1，单线程"
    else:
        caption = f"final val loss at step {args.max_iters}, dropout 0.1, one thread"
    return "\n".join([*lines, "", caption])


def parse_args(argv=None):
    parser = bench_parser(__doc__, "data/shakespeare.txt", RESULTS, "docs/speed.md and .zh.md")
    parser.add_argument("--max_iters", type=int, default=500, help="steps per run (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each (default: 2)")
    return parser.parse_args(argv)


def report_text(zh=False):
    """The table the docs hold: the default command's; None before it ran."""
    return table(parse_args([]), zh)


def main(argv=None):
    args = parse_args(argv)
    if args.max_iters < 250 or args.max_iters % 250:
        sys.exit("error: --max_iters must be a multiple of 250 (the estimate interval)")
    corpus_path(args.data, TINY_SHAKESPEARE)
    run_jobs(jobs(args), args.results, args.jobs, again=args.again)
    print_table(args, "fused_losses", table, DOCS, "some runs failed; run the same command again")


if __name__ == "__main__":
    main()
