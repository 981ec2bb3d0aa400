"""How often a CPU torchrun of babygpt_train.py aborts as it exits, before and after leave_process_group().

Before: each process leaves the process group with dist.destroy_process_group() alone. Now: with
babygpt_train.leave_process_group(), which then pauses GLOO_EXIT_PAUSE seconds.

    python -m bench torchrun_exit                      # 100 rounds: one torchrun each way
    python -m bench torchrun_exit --rounds 20

Each torchrun starts 2 Gloo processes on the CPU and trains the tests' tiny model for 12 steps on --data (any
text file), then exits. An abort is a torchrun that failed with "terminate called without an active exception"
(a worker thread of Gloo stopped during the interpreter's shutdown: see GLOO_EXIT_PAUSE in babygpt_train.py).
The two ways alternate their order from round to round. Each torchrun's outcome is appended to --results as it
ends, so a stopped run goes on where it stopped when started again with the same options.
"""

import os
import subprocess
import sys
import tempfile

from bench.runs import (
    ROOT,
    already_recorded,
    append_result,
    bench_parser,
    corpus_path,
    load_results,
    machine_description,
)

RESULTS = os.path.join(ROOT, "bench", "results", "torchrun_exit.jsonl")
TINY = [
    *("--max_iters", "12", "--eval_interval", "4", "--eval_iters", "2", "--batch_size", "4", "--block_size", "8"),
    *("--n_embed", "16", "--n_head", "2", "--n_layer", "1", "--gradient_accumulation_steps", "2"),
    *("--max_new_tokens", "5", "--wandb_mode", "disabled", "--device", "cpu"),
]
ABORT = "terminate called without an active exception"


WAYS = ("before", "now")


def worker(way, argv):
    """In each torchrun process: babygpt_train.py's main(), leaving the process group `way`."""
    import torch.distributed as dist

    import babygpt_train

    if way == "before":
        babygpt_train.leave_process_group = dist.destroy_process_group
    babygpt_train.main(argv)


def one_torchrun(way, corpus, folder):
    """'ok', 'aborted' or 'failed' (another failure: its last line is printed)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "bench.measure.torchrun_exit"]  # from the repository root, as every bench runs
    command += ["--worker", way, "--data", corpus, "--out_dir", os.path.join(folder, "run"), *TINY]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode == 0:
        return "ok"
    if ABORT in done.stderr:
        return "aborted"
    print(f"  failed otherwise: {(done.stderr.strip().splitlines() or ['(no output)'])[-1]}")
    return "failed"


def main():
    if sys.argv[1:2] == ["--worker"]:
        return worker(sys.argv[2], sys.argv[3:])
    parser = bench_parser(__doc__, "README.zh-CN.md", RESULTS, epilog=True)
    parser.add_argument("--rounds", type=int, default=100, help="torchruns each way (default: %(default)s)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    corpus = corpus_path(args.data, "pass any text file with --data")
    results = {} if args.again else load_results(args.results)
    recorded = sum(f"{way}, round {r}" in results for r in range(1, args.rounds + 1) for way in WAYS)
    if recorded:
        print(already_recorded(recorded, 2 * args.rounds, args.results, "torchruns"))
    machine = machine_description()
    for round_number in range(1, args.rounds + 1):
        for way in WAYS if round_number % 2 else reversed(WAYS):
            key = f"{way}, round {round_number}"
            if key in results:
                continue
            with tempfile.TemporaryDirectory() as folder:
                outcome = one_torchrun(way, corpus, folder)
            results[key] = {"key": key, "way": way, "outcome": outcome, "machine": machine}
            append_result(args.results, results[key])
        if round_number % 10 == 0 or round_number == args.rounds:
            print(f"round {round_number}/{args.rounds}", flush=True)
    print(f"\n{machine}; 2 Gloo processes per torchrun")
    for way, how in zip(WAYS, ("destroy_process_group() alone", "leave_process_group()"), strict=True):
        outcomes = [r["outcome"] for r in results.values() if r.get("way") == way and r.get("machine") == machine]
        print(
            f"  {way}, {how}: {outcomes.count('aborted')} of {len(outcomes)} torchruns aborted at exit"
            f" ({outcomes.count('failed')} failed otherwise)"
        )


if __name__ == "__main__":
    main()
