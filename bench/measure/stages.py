"""Run each stage with its default hyperparameters and tabulate what it costs and reaches.

    python -m bench stages                      # all twelve on data/ci.txt (v11/v12 with the CPU command)
    python -m bench stages --stages v1 v7       # just some
    python -m bench stages --full-size          # v11/v12 with their real defaults (a GPU job)

Each stage runs as a learner would run it (python babygpt_vN.py --data ...), one after the
other so they never compete for the CPU. The table reports wall time (start-up, training,
evaluation and sampling), training tokens/s as the stage itself measures it (evaluation
excluded), the share of the run spent evaluating, and the final val loss. Paste it into the
README's stage table together with the machine line printed above it.
"""

import argparse
import os
import re
import subprocess
import sys
import time

from bench.runs import CPU_COMMAND, ROOT, STAGE_MODULES, machine_description

STAGES = {stage: f"{module}.py" for stage, module in STAGE_MODULES.items()}


# v12 records into its own folder, never the learner's out/v12, and replaces its own earlier record
V12_RECORD = ["--wandb_mode", "disabled", "--out_dir", "out/bench_v12", "--overwrite"]


def parse_output(stdout):
    """Pull the figures out of what the stage printed."""
    params = re.search(r"model: ([\d,]+) parameters", stdout)
    evals = re.findall(r"val loss ([\d.]+) .*?\| +([\d,]+) tokens/s", stdout)
    done = re.search(r"trained \d+ steps in ([\d:]+), (\d+)% of that time evaluating", stdout)
    if not (params and evals and done):
        raise ValueError("unexpected output")
    val_loss, tokens_per_second = evals[-1]
    return {
        "params": int(params.group(1).replace(",", "")),
        "val_loss": float(val_loss),
        "tokens_per_second": int(tokens_per_second.replace(",", "")),
        "eval_share": int(done.group(2)),
    }


def run_stage(name, data, extra, full_size):
    command = [sys.executable, STAGES[name], "--data", data]
    if name in CPU_COMMAND and not full_size:
        command += CPU_COMMAND[name].split()
    if name == "v12":
        command += V12_RECORD
    command += extra  # last, so that the options after -- win over the CPU command
    start = time.perf_counter()
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=env)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        sys.exit(f"error: {' '.join(command)} failed: {last_line}")
    return {"wall": wall, **parse_output(result.stdout)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES), help="which stages")
    parser.add_argument("--data", default="data/ci.txt", help="corpus (default: %(default)s)")
    parser.add_argument("--full-size", action="store_true", help="run v11/v12 with their real (GPU-sized) defaults")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --, options passed to every stage")
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    if not os.path.exists(os.path.join(ROOT, args.data)):
        sys.exit(f"error: {args.data} not found; build it with: python data/prepare.py")

    print(f"machine: {machine_description()}")
    print(f"command: python -m bench stages {' '.join(sys.argv[1:])}".rstrip())
    print()
    print("| stage | parameters | wall time | training tokens/s | evaluating | final val loss |")
    print("|---|--:|--:|--:|--:|--:|")
    for name in args.stages:
        r = run_stage(name, args.data, extra, args.full_size)
        note = " (CPU command)" if name in CPU_COMMAND and not args.full_size else ""
        print(
            f"| {name}{note} | {r['params']:,} | {r['wall']:.0f} s | {r['tokens_per_second']:,} "
            f"| {r['eval_share']}% | {r['val_loss']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
