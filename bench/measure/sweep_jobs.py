"""How should a sweep run trials at once on a CPU? One at a time, in threads, or in processes.

    python -m bench sweep_jobs                    # tiny and small v12 models on data/ci.txt, 4 trainings per way
    python -m bench sweep_jobs --sizes tiny --rounds 1

babygpt_sweep.py --jobs N runs N worker processes, each with its share of the CPU threads. The other
obvious design is Optuna's own study.optimize(n_jobs=N): N Python threads in one process. This bench
trains the same `trainings` v12 models (stage setup + train, no files written) three ways:
  one at a time   all CPU threads for each training, one after another
  threads         `jobs` Python threads at once, torch set to cores / jobs threads (what n_jobs does)
  processes       `jobs` worker processes at once, cores / jobs torch threads each (what --jobs does);
                  the processes are started before the clock starts, their start-up is printed apart
The ways are alternated round by round, so a busy machine slows them alike; the median is reported.
"""

import argparse
import concurrent.futures
import functools
import multiprocessing
import os
import platform
import statistics
import time

import torch

import babygpt_v12_wandb as v12

SIZES = {  # v12 options per model size
    "tiny": "--batch_size 8 --block_size 16 --n_embed 32 --n_head 2 --n_layer 1 --max_iters 150",
    "small": "--batch_size 16 --block_size 64 --n_embed 128 --n_head 4 --n_layer 4 --max_iters 20",  # README CPU
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data", default="data/ci.txt", help="corpus (default: %(default)s)")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="model sizes")
    parser.add_argument("--trainings", type=int, default=4, help="models trained per way (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the ways alternated (default: %(default)s)")
    return parser.parse_args(argv)


def train_one(argv):
    """One v12 training without files: the seconds it took."""
    args = v12.parse_args(argv)
    run = v12.setup(args)
    start = time.perf_counter()
    v12.train(run.model, run.train_data, run.val_data, args, lambda metrics: None)
    return time.perf_counter() - start


def start_worker(threads):
    torch.set_num_threads(threads)


def one_at_a_time(argvs, cores):
    torch.set_num_threads(cores)
    for argv in argvs:
        train_one(argv)


def in_threads(argvs, cores, jobs):
    torch.set_num_threads(max(1, cores // jobs))  # one setting for the whole process
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(train_one, argvs))


def main(argv=None):
    args = parse_args(argv)
    cores = torch.get_num_threads()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(f"{cores} torch threads; {args.trainings} trainings per way, {args.jobs} at once; median of {args.rounds}")
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with context.Pool(args.jobs, initializer=start_worker, initargs=(max(1, cores // args.jobs),)) as pool:
        warm_up = ["--data", args.data, "--eval_iters", "1", *SIZES["tiny"].split(), "--max_iters", "1"]
        pool.map(train_one, [warm_up] * args.jobs)
        print(
            f"starting {args.jobs} worker processes (import torch, first training step): "
            f"{time.perf_counter() - started:.1f} s, once per sweep"
        )
        train_one(warm_up)  # this process too: the first optimizer imports torch._dynamo, about 2 s
        for size in args.sizes:
            common = ["--data", args.data, "--eval_iters", "1", *SIZES[size].split()]
            argvs = [[*common, "--eval_interval", "1000", "--seed", str(seed)] for seed in range(args.trainings)]
            ways = {
                "one at a time": functools.partial(one_at_a_time, argvs, cores),
                "threads": functools.partial(in_threads, argvs, cores, args.jobs),
                "processes": functools.partial(pool.map, train_one, argvs),
            }
            seconds = {way: [] for way in ways}
            for _ in range(args.rounds):
                for way, run in ways.items():
                    start = time.perf_counter()
                    run()
                    seconds[way].append(time.perf_counter() - start)
            torch.set_num_threads(cores)
            base = statistics.median(seconds["one at a time"])
            print(f"\n{size}: {SIZES[size]}")
            for way, times in seconds.items():
                median = statistics.median(times)
                print(f"  {way:<14} {median:6.1f} s   {base / median:4.2f}x   ({', '.join(f'{t:.1f}' for t in times)})")


if __name__ == "__main__":
    main()
