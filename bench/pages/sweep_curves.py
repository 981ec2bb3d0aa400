"""docs/sweep_curves.png: the val loss curves of the sweep docs/sweeps.md runs, drawn by the sweep itself.

    python -m bench sweep_curves            # runs the sweep of docs/sweeps.md (~9 min on 2 quiet cores), copies
                                            # sweeps/v12_learning_rate_n_layer/curves.png to docs/sweep_curves.png
    python -m bench sweep_curves --again    # a new sweep (the old folder is set aside), then the picture

The command is the one docs/sweeps.md shows (COMMAND below; tests/test_docs.py checks that the page shows
it): babygpt_sweep.py trains v12 six times (learning rate 3e-4, 1e-3, 3e-3 by 2 or 4 layers, 300 steps of
the CPU settings) and draws curves.png, the val loss of every trial against the step. A sweep already
finished is not trained again (the sweep's own resume: its journal says every trial is done), and only
the picture is copied; --again moves the old folder to sweeps/NAME.old first. Needs data/ci.txt and
Optuna (pip install -r requirements-dev.txt).
"""

import os
import shlex
import shutil
import subprocess
import sys

from bench.runs import ROOT, bench_parser, corpus_path

COMMAND = (
    "python babygpt_sweep.py --jobs 2 --param learning_rate=3e-4,1e-3,3e-3 --param n_layer=2,4 --"
    " --max_iters 300 --eval_interval 50 --eval_iters 20 --batch_size 16 --block_size 64 --n_embed 128 --n_head 4"
    " --dropout 0.1"
)
NAME = "v12_learning_rate_n_layer"  # the sweep's default name for these params (babygpt_sweep.default_name)
PICTURE = os.path.join(ROOT, "docs", "sweep_curves.png")


def main(argv=None):
    parser = bench_parser(__doc__, "data/ci.txt", epilog=True)
    parser.add_argument("--again", action="store_true", help="run the sweep afresh (the old folder is kept apart)")
    args = parser.parse_args(argv)
    corpus_path(args.data)
    folder = os.path.join(ROOT, "sweeps", NAME)
    curves = os.path.join(folder, "curves.png")
    if args.again and os.path.exists(folder):
        shutil.rmtree(f"{folder}.old", ignore_errors=True)
        os.replace(folder, f"{folder}.old")
        print(f"the old sweep moved to {os.path.relpath(folder, ROOT)}.old; sweeping again", flush=True)
    elif os.path.exists(curves):
        where = os.path.relpath(folder, ROOT)
        print(f"{where} holds this sweep already: only missing trials run; to sweep again, add --again", flush=True)
    command = [sys.executable, *shlex.split(COMMAND)[1:]]
    if args.data != "data/ci.txt":
        command += ["--data", args.data]  # after --: the stage's option
    print(" ".join(command[1:]), flush=True)
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        sys.exit("error: the sweep failed (its own message is above)")
    if not os.path.exists(curves):
        sys.exit(f"error: the sweep wrote no {os.path.relpath(curves, ROOT)}")
    shutil.copyfile(curves, PICTURE)
    print(f"wrote {os.path.relpath(PICTURE, ROOT)}")


if __name__ == "__main__":
    main()
