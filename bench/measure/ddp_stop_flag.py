"""What babygpt_train.py's Ctrl-C flag costs under DDP: checked at every step (as it was) or every
STOP_CHECK_EVERY steps (as it is). Two Gloo processes on the CPU, the two variants alternated.

    python -m bench ddp_stop_flag                         # 8 rounds of 100 steps per variant, the tests' tiny model
    python -m bench ddp_stop_flag --rounds 4 --steps 50 -- --n_embed 64 --n_layer 2   # options after -- go to train()

Each round runs train() (babygpt_train.py's own loop: DDP, the recipe, evaluations at the first and last step
only) once per variant, the order alternating from round to round, after one warm-up round that is not counted.
A variant's time per step is the median over the rounds; the ratio is measured in this one run, so that other
work on the machine weighs on both variants alike. Each round's times are appended to
bench/results/ddp_stop_flag.jsonl as it ends.
"""

import argparse
import json
import os
import statistics
import tempfile
import time

from bench.runs import ROOT, machine_description

RESULTS = os.path.join(ROOT, "bench", "results", "ddp_stop_flag.jsonl")
TINY = ["--block_size", "8", "--n_embed", "16", "--n_head", "2", "--n_layer", "1", "--batch_size", "4"]


def worker(rank, options, rendezvous):
    import torch
    import torch.distributed as dist

    import babygpt_train
    import babygpt_v12_wandb as v12

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    every = babygpt_train.STOP_CHECK_EVERY
    variants = {"every step (before)": 1, f"every {every} steps (now)": every}
    argv = [*TINY, "--max_iters", str(options.steps), "--eval_interval", str(options.steps), "--eval_iters", "1"]
    hp = babygpt_train.parse_args([*argv, "--wandb_mode", "disabled", "--device", "cpu", *options.extra])
    data = torch.randint(20, (20_000,), generator=torch.Generator().manual_seed(rank))
    train_data, val_data = v12.split_data(data, hp.block_size)
    for round_number in range(options.rounds + 1):  # round 0 warms up
        names = list(variants) if round_number % 2 else list(reversed(variants))
        seconds = {}
        for name in names:
            babygpt_train.STOP_CHECK_EVERY = variants[name]
            torch.manual_seed(hp.seed)
            model = v12.BabyGPT(20, hp.block_size, hp.n_embed, hp.n_head, hp.n_layer, hp.dropout)
            dist.barrier()
            start = time.perf_counter()
            babygpt_train.train(model, train_data, val_data, hp, lambda metrics: None)
            dist.barrier()
            seconds[name] = (time.perf_counter() - start) / options.steps
        if rank == 0 and round_number > 0:
            row = {
                "round": round_number,
                "steps": options.steps,
                "argv": argv + options.extra,
                "seconds_per_step": seconds,
            }
            row["machine"] = machine_description()
            with open(RESULTS, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(
                f"round {round_number}/{options.rounds}: "
                + ", ".join(f"{n} {s * 1e3:.2f} ms" for n, s in seconds.items())
            )
    babygpt_train.leave_process_group()
    return list(variants)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--rounds", type=int, default=8, help="counted rounds (default: %(default)s)")
    parser.add_argument(
        "--steps", type=int, default=100, help="optimizer steps per variant and round (default: %(default)s)"
    )
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --, options passed to babygpt_train.py's parser")
    options = parser.parse_args()
    options.extra = options.extra[1:] if options.extra[:1] == ["--"] else options.extra
    import torch.multiprocessing

    with tempfile.TemporaryDirectory() as folder:
        start = len(open(RESULTS, encoding="utf-8").readlines()) if os.path.exists(RESULTS) else 0
        torch.multiprocessing.spawn(worker, args=(options, os.path.join(folder, "rendezvous")), nprocs=2)
    with open(RESULTS, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f.readlines()[start:]]
    names = list(rows[0]["seconds_per_step"])
    medians = {name: statistics.median(row["seconds_per_step"][name] for row in rows) for name in names}
    ratios = [row["seconds_per_step"][names[0]] / row["seconds_per_step"][names[1]] for row in rows]
    print(f"\n{rows[0]['machine']}; 2 Gloo processes, one thread each; median of {len(rows)} alternated rounds")
    for name in names:
        print(f"  stop flag {name}: {medians[name] * 1e3:.2f} ms per step")
    print(
        f"  time per step, before / now: {statistics.median(ratios):.3f}"
        f" (rounds: {min(ratios):.3f} to {max(ratios):.3f})"
    )


if __name__ == "__main__":
    main()
