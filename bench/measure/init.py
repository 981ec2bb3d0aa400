"""Which weight initialisation trains the stages best? Each candidate, several stages, several seeds.

    python -m bench init                       # the comparison behind the stages' initialisation (about 2 h here)
    python -m bench init --stages v9 v10 v11 --inits gpt2 gpt2_pytorch_head --seeds 1   # the README's second seed
    python -m bench init --seeds 1337 1 2      # more seeds
    python -m bench init --jobs 1              # one run at a time
    python -m bench init --data data/shakespeare.txt --options="--learning_rate 1e-3" --stages v4 v5 v8 v9 \
        --inits pytorch --seeds 1337 1 --results bench/results/init_lecture.jsonl   # the lecture's settings

Every run is the stage's own main() at its defaults (v11: the README's CPU command) with
BabyGPT._init_weights swapped for a candidate (INITS, in bench/runs.py with the rest of the benches'
shared code). Results go to bench/results/init.jsonl as each run ends, so a stopped comparison
resumes where it was. Prints one table: mean final val loss per stage and candidate, with the
seeds' range.
"""

import argparse
import math
import os
import statistics
import sys

from bench.runs import CPU_COMMAND, INITS, ROOT, add_again_option, load_results, machine_description, run_jobs

DEFAULT_RESULTS = os.path.join(ROOT, "bench", "results", "init.jsonl")  # the stages' defaults on data/ci.txt


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--stages", nargs="+", default=["v1", "v4", "v7", "v9", "v10", "v11"])
    parser.add_argument("--inits", nargs="+", choices=list(INITS), default=list(INITS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1337])
    parser.add_argument("--data", default="data/ci.txt")
    parser.add_argument("--options", default="", help="more stage options for every run, e.g. a learning rate")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each (default: %(default)s)")
    parser.add_argument("--results", default=DEFAULT_RESULTS)
    add_again_option(parser)
    args = parser.parse_args()
    if not os.path.exists(os.path.join(ROOT, args.data)):
        sys.exit(f"error: {args.data} not found; build it with: python data/prepare.py")
    if (args.data != "data/ci.txt" or args.options) and args.results == DEFAULT_RESULTS:
        sys.exit("error: runs with another --data or --options go to their own --results file")

    jobs = []
    for seed in args.seeds:
        for stage in args.stages:
            for init in args.inits:
                argv = ["--data", args.data, "--seed", str(seed), "--device", "cpu"]
                argv += CPU_COMMAND.get(stage, "").split() + args.options.split()
                jobs.append({"key": f"{stage}/{init}/{seed}", "stage": stage, "init": init, "seed": seed, "argv": argv})
    print(f"machine: {machine_description()}")
    run_jobs(jobs, args.results, args.jobs, again=args.again)

    results = load_results(args.results)
    print(f"\nfinal val loss, mean over seeds {args.seeds} (range in brackets)\n")
    print("| stage | " + " | ".join(args.inits) + " |")
    print("|---|" + "--:|" * len(args.inits))
    for stage in args.stages:
        cells = []
        for init in args.inits:
            losses = [results[k]["val_loss"] for s in args.seeds if (k := f"{stage}/{init}/{s}") in results]
            if not losses:
                cells.append("-")
                continue
            spread = f" [{min(losses):.3f}–{max(losses):.3f}]" if len(losses) > 1 else ""
            cells.append(f"{statistics.mean(losses):.3f}{spread}")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    if args.data == "data/ci.txt":
        print(f"\n(a fresh model's loss is about ln(vocab_size), {math.log(6103):.2f} for data/ci.txt)")


if __name__ == "__main__":
    main()
