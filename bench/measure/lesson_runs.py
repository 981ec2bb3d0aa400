"""The runs behind the lessons: every stage trained once at the equal budget, its samples and its model kept.

    python -m bench lesson_runs            # v1 ... v10 (about 50 minutes of CPU, two runs at a time; resumes)
    python -m bench lesson_runs --stages v3 v9

Each lesson shows what its stage writes after training, and some lessons draw a picture from the trained
model (v3: one head's attention; v9: activation scale with and without layer norm; v10: the train/val gap
with and without dropout). All of it comes from one run per stage at the progression's equal budget
(bench/measure/progression.py: block_size 64, n_embed 128, n_head 4, n_layer 4, dropout 0.1 where the stage has
them, learning rate 1e-3, 1,500 steps of 16), seed 1337, one thread: the same command as the progression's
equal-budget row, so its val loss agrees with bench/results/progression.jsonl to the last digit.

Each run is the stage's own setup(), train() and sample(), as its main() calls them, so the samples
are exactly what `python babygpt_vN_....py <the command>` prints. v11 changes only hyperparameters, so at
this budget it is v10 (and v12 trains as v11): their lessons use v10's run.

Results: bench/results/lessons.jsonl (one line per stage: command, every evaluation, the samples), and the
trained weights in bench/out/lessons/vN.pt (not committed: *.pt is ignored) for the lesson pictures.
"""

import argparse
import concurrent.futures
import importlib
import os

from bench.progression_table import EQUAL_BUDGET, stage_options
from bench.runs import ROOT, STAGE_MODULES, add_again_option, already_recorded, append_result, load_results

STAGES = [f"v{n}" for n in range(1, 11)]  # v11 = v10 at this budget, v12 trains as v11
SEED = 1337
RESULTS = os.path.join(ROOT, "bench", "results", "lessons.jsonl")
MODELS = os.path.join(ROOT, "bench", "out", "lessons")


def command(stage):
    """The stage's command-line arguments at the equal budget (default prompts, default sample length)."""
    return ["--data", "data/ci.txt", "--seed", str(SEED), "--device", "cpu", *stage_options(stage, EQUAL_BUDGET)]


def run_one(stage):
    """Train one stage in this process with one thread; save its weights; return its result."""
    import contextlib
    import io

    import torch

    torch.set_num_threads(1)
    module = importlib.import_module(STAGE_MODULES[stage])
    argv = command(stage)
    args = module.parse_args(argv)
    history = []
    with contextlib.redirect_stdout(io.StringIO()):
        run = module.setup(args)
        module.train(run.model, run.train_data, run.val_data, args, history.append)
        samples = module.sample(run.model, run.tokenizer, args.prompt, args.max_new_tokens)
    os.makedirs(MODELS, exist_ok=True)
    torch.save(
        {
            "stage": stage,
            "model_config": {"vocab_size": run.tokenizer.vocab_size, **run.model_config},
            "vocab": run.tokenizer.vocab,
            "model_state": run.model.state_dict(),
        },
        os.path.join(MODELS, f"{stage}.pt"),
    )
    keys = ("step", "train_loss", "val_loss")
    return {
        "key": stage,
        "stage": stage,
        "argv": argv,
        "threads": 1,
        "history": [{k: m[k] for k in keys} for m in history],
        "val_loss": history[-1]["val_loss"],
        "samples": samples,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--stages", nargs="+", default=STAGES, choices=STAGES, help="stages to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each (default: 2)")
    add_again_option(parser)
    args = parser.parse_args(argv)
    done = {} if args.again else load_results(RESULTS)
    todo = [s for s in args.stages if s not in done or not os.path.exists(os.path.join(MODELS, f"{s}.pt"))]
    if len(todo) < len(args.stages):
        print(already_recorded(len(args.stages) - len(todo), len(args.stages), RESULTS, "stages"), flush=True)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, stage): stage for stage in reversed(todo)}  # longest first
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            append_result(RESULTS, result)
            print(f"  {result['stage']}: val loss {result['val_loss']:.6f}", flush=True)


if __name__ == "__main__":
    main()
