"""babygpt_sweep.py: grids and searches over a stage's options, recorded by Optuna, one folder per trial.

Tiny trials on a tiny corpus. Most sweeps run in this process; the --jobs 2 sweep runs in the background
from the start (each of its two processes pays ~2 s to import torch and optuna).
"""

import contextlib
import csv
import io
import json
import os
import shlex
import sqlite3
import subprocess
import sys
import threading
import time

import optuna
import pytest
from conftest import ROOT, load_stage, tiny_text
from optuna.trial import TrialState

import babygpt_sweep
import babygpt_train
from babygpt.checkpoint import load_checkpoint

TINY_OPTIONS = {"max_iters": 4, "eval_interval": 2, "eval_iters": 1, "batch_size": 2, "block_size": 8, "n_embed": 16}
TINY_OPTIONS.update({"n_head": 2, "n_layer": 1, "max_new_tokens": 4, "device": "cpu", "prompt": "春"})


def tiny(*swept):
    """The fixed options of a tiny trial, less the swept ones."""
    return [arg for name, value in TINY_OPTIONS.items() if name not in swept for arg in (f"--{name}", str(value))]


TRIAL_FILES = {"command.txt", "log.txt", "metrics.csv", "loss_curve.png", "samples.txt", "checkpoint.pt"}

# A stage that is v12 with a train() that misbehaves on demand (SWEEP_TEST_MODE); it logs every call
# to trained.txt in the current folder, so a test can tell which trials really trained, and where. Its
# entry point is v12's, run with this train() in place of v12's own.
TEST_STAGE = """
import multiprocessing
import os
import signal
import time

import babygpt_v12_wandb as v12
from babygpt_v12_wandb import RunRecorder, make_parser, parse_args  # noqa: F401

v12_train = v12.train


def run(args, make_recorder=RunRecorder):
    v12.train = train
    try:
        return v12.run(args, make_recorder)
    finally:
        v12.train = v12_train


def train(model, train_data, val_data, hp, report):
    with open("trained.txt", "a") as f:
        f.write(f"{hp.learning_rate} {hp.n_layer} {os.getpid()}\\n")
    with open("trained.txt") as f:
        calls = len(f.readlines())
    mode = os.environ.get("SWEEP_TEST_MODE")
    if mode == "interrupt" and calls == 2:
        raise KeyboardInterrupt  # as if Ctrl-C was pressed during the second trial
    if mode == "slow":
        time.sleep(0.4)  # long enough for the other workers to take their share
    if mode == "bad_third" and calls == 3:
        original = report
        report = lambda metrics: original({**metrics, "val_loss": metrics["val_loss"] + 5})
    scripted = {}
    if mode == "bad_last":  # val losses by step: the third trial is better than the others at step 2, worse at 4
        scripted = {2: 3.0, 4: 2.0} if calls < 3 else {2: 2.9, 4: 2.95}
        original = report
        report = lambda metrics: original({**metrics, "val_loss": scripted.get(metrics["step"], metrics["val_loss"])})
    if mode == "kill_worker":
        if multiprocessing.current_process().name != "MainProcess":
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel does to a worker out of memory
        for _ in range(3000):  # the main process waits (up to 5 minutes) until the worker has started its trial
            with open("trained.txt") as f:
                if len({line.split()[2] for line in f}) == 2:
                    break
            time.sleep(0.1)
    final = v12_train(model, train_data, val_data, hp, report)
    return {**final, "val_loss": scripted.get(final["step"], final["val_loss"])}
"""


def write_test_stage(folder):
    path = folder / "test_stage.py"
    path.write_text(TEST_STAGE, encoding="utf-8")
    return str(path)


def write_corpus(folder):
    path = folder / "corpus.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return str(path)


def sweep(folder, *argv, fixed=(), monkeypatch=None):
    """Run babygpt_sweep.main in folder; returns the exit code (0 when it returns normally)."""
    monkeypatch.chdir(folder)
    swept = [arg.split("=")[0] for arg in argv if "=" in arg]
    argv = [*argv, "--", "--data", str(folder / "corpus.txt"), *tiny(*swept), *fixed]
    try:
        babygpt_sweep.main(argv)
    except SystemExit as e:
        return e.code
    return 0


def read_csv(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_study(folder, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/sweeps/{name}/study.db")


def trained(folder):
    path = folder / "trained.txt"
    return path.read_text().splitlines() if path.exists() else []


# ----------------------------------------------------------------------------
# Two workers on one storage: started first, in the background


def start_sweep_process(folder, mode, *params):
    """babygpt_sweep.py --jobs 2 over the test stage in folder, in the background: (folder, process)."""
    write_corpus(folder)
    stage = write_test_stage(folder)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1", "SWEEP_TEST_MODE": mode}
    command = [sys.executable, str(ROOT / "babygpt_sweep.py"), "--stage", stage, "--jobs", "2", *params]
    swept = [param.split("=")[0] for param in params if "=" in param]
    command += ["--", "--data", "corpus.txt", *tiny(*swept)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": folder, "env": env}
    return folder, subprocess.Popen(command, **pipes)


@pytest.fixture(scope="module")
def jobs_sweep(tmp_path_factory):
    """A 2 x 2 grid with --jobs 2 (this process and one worker process) on the default SQLite storage."""
    params = ["--param", "learning_rate=1e-2,2e-2", "--param", "n_layer=1,2"]
    return start_sweep_process(tmp_path_factory.mktemp("jobs"), "slow", *params)


@pytest.fixture(scope="module")
def killed_worker_sweep(tmp_path_factory):
    """A grid of two with --jobs 2 whose worker process is killed (SIGKILL) at the start of its trial."""
    params = ["--param", "learning_rate=1e-2,2e-2"]
    return start_sweep_process(tmp_path_factory.mktemp("killed"), "kill_worker", *params)


@pytest.fixture(autouse=True, scope="module")
def start_background_sweeps_early(request):
    for name in ("jobs_sweep", "killed_worker_sweep"):
        if any(name in item.fixturenames for item in request.session.items):
            request.getfixturevalue(name)


# ----------------------------------------------------------------------------
# A 2 x 2 grid over v12


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grid")
    write_corpus(folder)
    with pytest.MonkeyPatch.context() as monkeypatch:
        code = sweep(folder, "--param", "learning_rate=1e-2,3e-3", "--param", "n_layer=1,2", monkeypatch=monkeypatch)
    assert code == 0
    return folder, folder / "sweeps" / "v12_learning_rate_n_layer"


def test_grid_runs_every_combination_once_each_in_a_complete_folder(grid):
    folder, sweep_folder = grid
    study = load_study(folder, "v12_learning_rate_n_layer")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert sorted((t.params["learning_rate"], t.params["n_layer"]) for t in study.trials) == [
        (3e-3, 1),
        (3e-3, 2),
        (1e-2, 1),
        (1e-2, 2),
    ]
    for trial in study.trials:
        name = f"{trial.number:03d}_learning_rate={'1e-2' if trial.params['learning_rate'] == 1e-2 else '3e-3'}"
        trial_folder = sweep_folder / f"{name}_n_layer={trial.params['n_layer']}"
        assert set(os.listdir(trial_folder)) == TRIAL_FILES
        model, _, checkpoint = load_checkpoint(str(trial_folder / "checkpoint.pt"), "cpu")  # as the sampler loads it
        assert len(model.blocks) == trial.params["n_layer"]
        assert checkpoint["hyperparameters"]["learning_rate"] == trial.params["learning_rate"]
        log = (trial_folder / "log.txt").read_text(encoding="utf-8")
        assert log.startswith("$ OMP_NUM_THREADS=1 python ") and "step     4 | train loss" in log
        assert float(read_csv(trial_folder / "metrics.csv")[-1]["val_loss"]) == trial.value
    for picture in ("curves.png", "loss_vs_time.png", "val_loss_by_param.png"):
        assert (sweep_folder / picture).stat().st_size > 10_000
        assert f"]({picture})" in (sweep_folder / "summary.md").read_text(encoding="utf-8")


def test_summary_ranks_trials_by_final_val_loss(grid):
    folder, sweep_folder = grid
    rows = read_csv(sweep_folder / "summary.csv")
    assert [row["rank"] for row in rows] == ["1", "2", "3", "4"]
    assert [row["state"] for row in rows] == ["finished"] * 4
    losses = [float(row["val_loss"]) for row in rows]
    assert losses == sorted(losses)
    values = {t.number: t.value for t in load_study(folder, "v12_learning_rate_n_layer").trials}
    assert [round(values[int(row["trial"])], 4) for row in rows] == losses
    for row in rows:
        assert int(row["parameters"]) > 0 and float(row["tokens_per_second"]) > 0
        gap = float(row["val_loss"]) - float(row["train_loss"])
        assert float(row["train_val_gap"]) == pytest.approx(gap, abs=2e-4)
        assert row["sample"]  # the opening of the sample, to compare text beside the numbers
    markdown = (sweep_folder / "summary.md").read_text(encoding="utf-8")
    assert markdown.index(f"| 1 | [{rows[0]['trial']}](") < markdown.index(f"| 4 | [{rows[3]['trial']}](")


def test_mean_val_loss_per_value_is_the_mean_of_the_trials(grid):
    _, sweep_folder = grid
    rows = read_csv(sweep_folder / "summary.csv")
    means = read_csv(sweep_folder / "means.csv")
    assert [(m["param"], m["value"]) for m in means] == [
        ("learning_rate", "1e-2"),
        ("learning_rate", "3e-3"),
        ("n_layer", "1"),
        ("n_layer", "2"),
    ]
    for mean in means:
        losses = [float(row["val_loss"]) for row in rows if row[mean["param"]] == mean["value"]]
        assert len(losses) == 2 == int(mean["finished_trials"]) and mean["not_in_the_mean"] == ""
        assert float(mean["mean_val_loss"]) == pytest.approx(sum(losses) / 2, abs=1e-4)
        assert f"| {mean['value']} | {mean['mean_val_loss']}" in (sweep_folder / "summary.md").read_text()


def test_command_txt_reproduces_the_trial_with_its_threads(grid, tmp_path, monkeypatch):
    _, sweep_folder = grid
    trial_folder = sorted(sweep_folder.glob("00*"))[0]
    command = shlex.split((trial_folder / "command.txt").read_text(encoding="utf-8"))
    assert command[0] == "OMP_NUM_THREADS=1"  # the trial ran on one thread; two add up in another order
    assert command[1] == "python" and command[2].endswith("babygpt_v12_wandb.py")
    command[command.index("--out_dir") + 1] = str(tmp_path / "again")
    # what `python babygpt_v12_wandb.py ...` runs, in this process (on one thread: conftest sets it)
    monkeypatch.chdir(sweep_folder.parent.parent)
    with contextlib.redirect_stdout(io.StringIO()):
        load_stage("v12").main(command[3:])

    def losses(run_folder):
        return [(row["step"], row["train_loss"], row["val_loss"]) for row in read_csv(run_folder / "metrics.csv")]

    assert losses(tmp_path / "again") == losses(trial_folder)  # the same seed and threads: the same losses


def test_running_the_same_command_again_trains_nothing(grid, monkeypatch, capsys):
    folder, sweep_folder = grid
    checkpoints = {path: path.stat().st_mtime_ns for path in sweep_folder.glob("*/checkpoint.pt")}
    trial_folder = next(sweep_folder.glob("00*"))
    left = [sweep_folder / "summary.csv.4242.tmp", trial_folder / "checkpoint.pt.4242.tmp"]  # by a killed process
    for path in left:
        path.write_text("half a file")
        os.utime(path, (time.time() - 120, time.time() - 120))
    young = sweep_folder / "summary.md.4243.tmp"  # perhaps being written by a worker on another machine right now
    young.write_text("being written")
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 1.0, 1.0), raising=False)  # other work on the machine
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    code = sweep(folder, "--param", "learning_rate=1e-2,3e-3", "--param", "n_layer=1,2", monkeypatch=monkeypatch)
    assert code == 0
    out = capsys.readouterr().out
    assert "4 done already" in out
    assert "already busy (load average 7.5 over the last minute, 4 cores): the trials' time and tokens/s" in out
    assert {path: path.stat().st_mtime_ns for path in sweep_folder.glob("*/checkpoint.pt")} == checkpoints
    assert len(load_study(folder, "v12_learning_rate_n_layer").trials) == 4
    assert not any(path.exists() for path in left) and young.exists()
    young.unlink()


def test_another_sweep_under_the_same_name_is_refused(grid, monkeypatch):
    folder, _ = grid
    code = sweep(folder, "--param", "learning_rate=1e-2,5e-3", "--param", "n_layer=1,2", monkeypatch=monkeypatch)
    assert "is another sweep" in code and "--name" in code
    assert len(load_study(folder, "v12_learning_rate_n_layer").trials) == 4


# ----------------------------------------------------------------------------
# Failures, interruptions, pruning, searches


@pytest.fixture
def folder(tmp_path, monkeypatch):
    write_corpus(tmp_path)
    monkeypatch.setattr(babygpt_sweep, "draw_charts", lambda *args: [])  # pictures are tested on the grid
    return tmp_path


def test_an_idle_machine_gets_no_busy_note():
    assert babygpt_sweep.busy_note(0.9, 2) is None and babygpt_sweep.busy_note(1.9, 4) is None
    assert babygpt_sweep.busy_note(1.0, 2) is not None and babygpt_sweep.busy_note(2.0, 4) is not None


def test_a_failing_combination_is_recorded_and_the_others_finish(folder, monkeypatch, capsys):
    code = sweep(folder, "--param", "n_head=2,3", "--storage", "journal.log", monkeypatch=monkeypatch)
    assert code == 0
    out = capsys.readouterr().out
    assert "failed: n_embed (16) must be divisible by n_head (3)" in out
    rows = read_csv(folder / "sweeps" / "v12_n_head" / "summary.csv")
    assert [(row["n_head"], row["state"]) for row in rows] == [("2", "finished"), ("3", "failed")]
    assert rows[1]["note"] == "n_embed (16) must be divisible by n_head (3)"
    means = read_csv(folder / "sweeps" / "v12_n_head" / "means.csv")
    assert [(m["value"], m["finished_trials"], m["not_in_the_mean"]) for m in means] == [
        ("2", "1", ""),
        ("3", "0", f"trial {rows[1]['trial']} failed"),
    ]
    failed_folder = folder / "sweeps" / "v12_n_head" / rows[1]["folder"]
    assert set(os.listdir(failed_folder)) == {"command.txt", "log.txt"}  # refused before any training
    assert "error: n_embed (16) must be divisible by n_head (3)" in (failed_folder / "log.txt").read_text()


def test_retry_failed_runs_failed_trials_again_once_their_cause_is_fixed(tmp_path, monkeypatch, capsys):
    argv = ["--param", "n_layer=1,2", "--storage", "journal.log"]
    code = sweep(tmp_path, *argv, monkeypatch=monkeypatch)  # no corpus yet: every trial fails, and it says so
    assert code.startswith("error: every trial failed; why is in") and code.endswith("summary.md")
    assert "add --retry_failed to run them again" in capsys.readouterr().out
    write_corpus(tmp_path)
    assert sweep(tmp_path, *argv, monkeypatch=monkeypatch).startswith("error: every trial failed")
    assert "2 failed" in capsys.readouterr().out  # kept as they were
    assert sweep(tmp_path, *argv, "--retry_failed", monkeypatch=monkeypatch) == 0
    rows = read_csv(tmp_path / "sweeps" / "v12_n_layer" / "summary.csv")
    assert [row["state"] for row in rows] == ["finished", "finished"]
    assert sorted(row["trial"] for row in rows) == ["0", "1"]


def test_an_interrupted_sweep_resumes_where_it_stopped(folder, monkeypatch, capsys):
    stage = write_test_stage(folder)
    monkeypatch.setenv("SWEEP_TEST_MODE", "interrupt")
    argv = ["--stage", stage, "--param", "learning_rate=1e-2,3e-3", "--storage", "journal.log"]
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 130  # Ctrl-C during the second trial
    assert "interrupted: finished trials are kept" in capsys.readouterr().out
    sweep_folder = folder / "sweeps" / "test_stage_learning_rate"
    assert [row["state"] for row in read_csv(sweep_folder / "summary.csv")] == ["finished", "waiting"]
    first = next(sweep_folder.glob("*/samples.txt")).parent
    checkpoint_time = (first / "checkpoint.pt").stat().st_mtime_ns

    monkeypatch.delenv("SWEEP_TEST_MODE")
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    assert len(trained(folder)) == 3  # the first trial was not trained again; the interrupted one was
    assert (first / "checkpoint.pt").stat().st_mtime_ns == checkpoint_time
    rows = read_csv(sweep_folder / "summary.csv")
    assert [row["state"] for row in rows] == ["finished", "finished"]
    assert sorted(row["trial"] for row in rows) == ["0", "1"]  # the re-run kept its number and folder
    assert sorted(p.name.split("_")[0] for p in sweep_folder.iterdir() if p.is_dir()) == ["000", "001"]
    for row in rows:
        assert set(os.listdir(sweep_folder / row["folder"])) == TRIAL_FILES


def test_prune_stops_a_clearly_worse_trial(folder, monkeypatch, capsys):
    stage = write_test_stage(folder)
    monkeypatch.setenv("SWEEP_TEST_MODE", "bad_third")  # the third trial's val loss is 5 higher
    argv = ["--stage", stage, "--param", "learning_rate=1e-2,2e-2,3e-2", "--prune", "--storage", "journal.log"]
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    assert "pruned at step 2" in capsys.readouterr().out
    rows = read_csv(folder / "sweeps" / "test_stage_learning_rate" / "summary.csv")
    assert [(row["state"], row["note"]) for row in rows] == [
        ("finished", ""),
        ("finished", ""),
        ("pruned", "at step 2"),
    ]
    pruned_folder = folder / "sweeps" / "test_stage_learning_rate" / rows[2]["folder"]
    assert [row["step"] for row in read_csv(pruned_folder / "metrics.csv")] == ["0", "2"]  # stopped there
    assert set(os.listdir(pruned_folder)) == TRIAL_FILES
    # the mean per value covers the finished trials only, and says so: the pruned trial is named, not averaged
    means = {mean["value"]: mean for mean in read_csv(folder / "sweeps" / "test_stage_learning_rate" / "means.csv")}
    pruned = means[rows[2]["learning_rate"]]
    assert (pruned["mean_val_loss"], pruned["finished_trials"]) == ("", "0")
    assert pruned["not_in_the_mean"] == f"trial {rows[2]['trial']} pruned at step 2"
    assert [means[row["learning_rate"]]["finished_trials"] for row in rows[:2]] == ["1", "1"]
    markdown = (folder / "sweeps" / "test_stage_learning_rate" / "summary.md").read_text(encoding="utf-8")
    assert "| learning_rate | mean val loss | finished trials | not in the mean |" in markdown
    assert f"| {rows[2]['learning_rate']} |  | 0 | trial {rows[2]['trial']} pruned at step 2 |" in markdown


def test_prune_never_stops_a_trial_at_its_last_evaluation(folder, monkeypatch, capsys):
    stage = write_test_stage(folder)
    monkeypatch.setenv("SWEEP_TEST_MODE", "bad_last")  # the third trial is worse than the median at the last step
    argv = ["--stage", stage, "--param", "learning_rate=1e-2,2e-2,3e-2", "--prune", "--storage", "journal.log"]
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    assert "pruned" not in capsys.readouterr().out  # it ran to the end: nothing left to save by stopping it
    rows = read_csv(folder / "sweeps" / "test_stage_learning_rate" / "summary.csv")
    assert [row["state"] for row in rows] == ["finished"] * 3
    assert [row["val_loss"] for row in rows] == ["2.0000", "2.0000", "2.9500"]  # ranked, with its final loss
    means = read_csv(folder / "sweeps" / "test_stage_learning_rate" / "means.csv")
    assert [int(mean["finished_trials"]) for mean in means] == [1, 1, 1]


def test_fail_stale_runs_again_a_trial_left_running_in_a_journal_file(folder, monkeypatch, capsys):
    argv = ["--param", "n_layer=1,2", "--storage", "journal.log"]
    monkeypatch.chdir(folder)
    settings = babygpt_sweep.prepare([*argv, "--", "--data", str(folder / "corpus.txt"), *tiny("n_layer")])
    study = babygpt_sweep.open_study(settings, create_folder=True)
    settings.axes[0].suggest(study.ask())  # a worker took a grid point, then was killed: no heartbeat tells
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "1 trial is running in another worker" in out and "--fail_stale MINUTES" in out
    rows = read_csv(folder / "sweeps" / "v12_n_layer" / "summary.csv")
    assert sorted(row["state"] for row in rows) == ["finished", "running"]  # without a word, forever

    time.sleep(1.5)
    assert sweep(folder, *argv, "--fail_stale", "0.02", monkeypatch=monkeypatch) == 0  # running over 1.2 seconds
    out = capsys.readouterr().out
    assert "was running for over 0.02 minutes: counted as killed" in out
    rows = read_csv(folder / "sweeps" / "v12_n_layer" / "summary.csv")
    assert [row["state"] for row in rows] == ["finished", "finished"]
    assert sorted(row["trial"] for row in rows) == ["0", "1"]  # the re-run kept the grid point's number


def test_trials_are_never_more_than_asked_when_workers_race(folder, monkeypatch):
    stage = write_test_stage(folder)
    argv = ["--stage", stage, "--param", "learning_rate=1e-3:1e-2:log", "--search", "random", "--trials", "2"]
    argv += ["--storage", "journal.log"]
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    assert len(trained(folder)) == 2
    # a second worker read the books just before the first one's last trial started: it starts one more
    real_work_left, reads = babygpt_sweep.Books.work_left, []

    def work_left_read_too_early(books, settings):
        reads.append(1)
        return len(reads) == 1 or real_work_left(books, settings)

    monkeypatch.setattr(babygpt_sweep.Books, "work_left", work_left_read_too_early)
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    assert len(reads) > 1 and len(trained(folder)) == 2  # given up before training
    assert len(read_csv(folder / "sweeps" / "test_stage_learning_rate" / "summary.csv")) == 2


def test_a_database_password_is_shown_nowhere(folder, monkeypatch, capsys):
    url = "postgresql+psycopg2://babygpt:SECRET@dbhost/sweeps"
    monkeypatch.setattr(babygpt_sweep, "open_storage", lambda url: optuna.storages.InMemoryStorage())
    assert sweep(folder, "--param", "n_layer=1,2", "--storage", url, monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "study postgresql+psycopg2://babygpt:***@dbhost/sweeps" in out
    written = [
        path.read_text(encoding="utf-8")
        for path in (folder / "sweeps" / "v12_n_layer").rglob("*.*")
        if path.suffix in (".md", ".csv", ".txt")
    ]
    assert "SECRET" not in out + "".join(written)
    markdown = (folder / "sweeps" / "v12_n_layer" / "summary.md").read_text(encoding="utf-8")
    assert "Study: `postgresql+psycopg2://babygpt:***@dbhost/sweeps`" in markdown
    assert "--storage 'postgresql+psycopg2://babygpt:***@dbhost/sweeps'" in markdown and "type yours" in markdown


def test_a_trainer_trial_folder_is_the_trainers_own_run_folder_and_resumes(folder, monkeypatch, capsys):
    argv = ["--stage", "babygpt_train.py", "--param", "learning_rate=1e-2", "--storage", "journal.log"]
    assert sweep(folder, *argv, fixed=["--warmup_iters", "1"], monkeypatch=monkeypatch) == 0
    sweep_folder = folder / "sweeps" / "babygpt_train_learning_rate"
    trial_folder = next(sweep_folder.glob("000_*"))
    assert set(os.listdir(trial_folder)) == TRIAL_FILES | {"best.pt"}
    command = (trial_folder / "command.txt").read_text(encoding="utf-8")
    assert command.startswith("OMP_NUM_THREADS=1 python ") and "babygpt_train.py " in command
    babygpt_train.main(["--resume", str(trial_folder), "--max_iters", "6"])  # the trainer continues it
    assert [row["step"] for row in read_csv(trial_folder / "metrics.csv")] == ["0", "2", "4", "6"]


def test_a_trial_of_an_early_stage_is_recorded_with_a_checkpoint_that_names_its_stage(folder, monkeypatch):
    argv = ["--stage", "babygpt_v6_block.py", "--param", "learning_rate=1e-2,2e-2", "--storage", "journal.log"]
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    rows = read_csv(folder / "sweeps" / "v6_learning_rate" / "summary.csv")
    assert [row["state"] for row in rows] == ["finished", "finished"]
    trial_folder = folder / "sweeps" / "v6_learning_rate" / rows[0]["folder"]
    assert set(os.listdir(trial_folder)) == TRIAL_FILES
    model, _, checkpoint = load_checkpoint(str(trial_folder / "checkpoint.pt"), "cpu")  # as the sampler loads it
    assert checkpoint["stage"] == "babygpt_v6_block.py" and type(model).__module__ == "babygpt_v6_block"
    command = shlex.split((trial_folder / "command.txt").read_text(encoding="utf-8"))
    assert command[2].endswith("babygpt_v6_block.py") and "--out_dir" not in command  # v6 has no such option


def test_random_search_draws_from_ranges(folder, monkeypatch):
    argv = ["--param", "learning_rate=1e-3:1e-2:log", "--param", "n_layer=1:2", "--search", "random"]
    assert sweep(folder, *argv, "--trials", "3", "--storage", "journal.log", monkeypatch=monkeypatch) == 0
    rows = read_csv(folder / "sweeps" / "v12_learning_rate_n_layer" / "summary.csv")
    assert [row["state"] for row in rows] == ["finished"] * 3
    for row in rows:
        command = (folder / "sweeps" / "v12_learning_rate_n_layer" / row["folder"] / "command.txt").read_text()
        learning_rate = float(command.split("--learning_rate ")[1].split()[0])  # every digit
        assert 1e-3 <= learning_rate <= 1e-2 and row["n_layer"] in ("1", "2")
        assert row["learning_rate"] == babygpt_sweep.compact_number(learning_rate)


def refused_storage(url, shown=None):
    """A BAD_INPUT case: a storage the sweep cannot open, refused in one line naming it (shown: as printed)."""
    return ["--param", "n_layer=1,2", "--storage", url], [], f"cannot open the study storage {shown or url}: "


# ----------------------------------------------------------------------------
# Bad input: one line, non-zero exit, nothing written

BAD_INPUT = {  # id -> (argv before --, fixed options after --, part of the message)
    "malformed": (["--param", "learning_rate"], [], "expected NAME=V1,V2"),
    "malformed_range": (["--param", "learning_rate=1e-3:1e-2:ln"], [], "expected NAME=V1,V2"),
    "unknown": (["--param", "n_layers=1,2"], [], "has no option --n_layers; it has batch_size"),
    "empty_grid": (["--param", "n_layer="], [], "no values"),
    "empty_value": (["--param", "n_layer=1,,2"], [], "an empty value"),
    "wrong_type": (["--param", "n_layer=1,two"], [], "n_layer takes a whole number, not 'two'"),
    "wrong_type_range": (["--param", "n_layer=1.5:4"], [], "n_layer takes a whole number, not '1.5'"),
    "not_finite": (["--param", "learning_rate=1e-3,nan"], [], "not a finite number"),
    "twice": (["--param", "n_layer=1,1"], [], "'1' is listed twice"),
    "backwards_range": (["--param", "learning_rate=1e-2:1e-3", "--trials", "2"], [], "LOW must be less than HIGH"),
    "range_in_grid": (["--param", "learning_rate=1e-3:1e-2", "--search", "grid"], [], "--search grid needs lists"),
    "endless_search": (["--param", "learning_rate=1e-3:1e-2"], [], "needs --trials N or --timeout"),
    "set_by_sweep": (["--param", "out_dir=a,b"], [], "--out_dir cannot be swept: the sweep sets it"),
    "swept_and_fixed": (["--param", "n_layer=1,2"], ["--n_layer", "3"], "both swept (--param) and fixed"),
    "fixed_out_dir": (["--param", "n_layer=1,2"], ["--out_dir", "x"], "--out_dir after --: the sweep sets it"),
    "fixed_overwrite": (["--param", "n_layer=1,2"], ["--overwrite"], "--overwrite after --: the sweep sets it"),
    "fixed_resume": (
        ["--stage", "babygpt_train.py", "--param", "n_layer=1,2"],
        ["--resume", "out/train"],
        "--resume after --: a sweep starts every trial afresh",
    ),
    "in_memory_storage": (["--param", "n_layer=1,2", "--storage", "sqlite://"], [], "is an in-memory database"),
    "fail_stale_zero": (["--param", "n_layer=1,2", "--fail_stale", "0"], [], "--fail_stale must be a positive"),
    "fixed_unknown": (["--param", "n_layer=1,2"], ["--max_iter", "3"], "unrecognized arguments: --max_iter 3"),
    "no_stage": (["--stage", "nope.py", "--param", "n_layer=1,2"], [], "--stage nope.py: no such file"),
    "zero_jobs": (["--param", "n_layer=1,2", "--jobs", "0"], [], "--jobs must be at least 1"),
    "bad_name": (["--param", "n_layer=1,2", "--name", "../up"], [], "--name '../up': use letters"),
    "unknown_option": (["--param", "n_layer=1,2", "--trial", "3"], [], "--trial: did you mean --trials?"),
    # a stage's option before the --: said first, before the missing --param
    "stage_option_first": (["--max_iter", "3"], [], "--max_iter; a stage's options go after the --"),
    "unreachable_storage": refused_storage("postgresql+psycopg2://nobody@127.0.0.1:1/none"),
    "unreachable_storage_password": refused_storage(
        "postgresql+psycopg2://nobody:SECRET@127.0.0.1:1/none",
        shown="postgresql+psycopg2://nobody:***@127.0.0.1:1/none",
    ),
    "unwritable_storage": refused_storage("sqlite:///no/such/folder/study.db"),
    "missing_driver": refused_storage("mysql://nobody@127.0.0.1:1/none"),
    "unwritable_journal": refused_storage("no/such/folder/journal.log"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    argv, fixed, message = BAD_INPUT[case]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        babygpt_sweep.main([*argv, "--", "--data", "corpus.txt", *fixed])
    assert isinstance(exit.value.code, str) and "\n" not in exit.value.code
    assert "error: " in exit.value.code and message in exit.value.code
    assert "SECRET" not in exit.value.code  # a database password is never shown
    assert capsys.readouterr().out == ""
    assert os.listdir(tmp_path) == []


def test_a_file_in_the_way_of_the_sweeps_folder_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "sweeps").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        babygpt_sweep.main(["--param", "n_layer=1,2"])
    assert exit.value.code == "error: cannot create the sweep folder sweeps/v12_n_layer: sweeps is a file"
    assert os.listdir(tmp_path) == ["sweeps"]


def test_a_script_without_the_stage_functions_is_refused(tmp_path, monkeypatch):
    (tmp_path / "other.py").write_text("print('hello')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        babygpt_sweep.main(["--stage", "other.py", "--param", "n_layer=1,2"])
    assert "--stage other.py is not a BabyGPT training script: it lacks make_parser(), parse_args()" in exit.value.code
    assert os.listdir(tmp_path) == ["other.py"]


# ----------------------------------------------------------------------------
# The two sweeps started in the background (above): last, so that the tests before them run meanwhile


def test_two_worker_processes_divide_a_grid_and_run_no_trial_twice(jobs_sweep):
    folder, process = jobs_sweep
    out, err = process.communicate(timeout=600)  # a ceiling for a loaded machine; about 15 s when quiet
    assert process.returncode == 0, err
    assert err == ""
    runs = trained(folder)
    assert len(runs) == 4 and len({tuple(line.split()[:2]) for line in runs}) == 4  # each grid point once
    assert len({line.split()[2] for line in runs}) == 2  # by both processes
    study = load_study(folder, "test_stage_learning_rate_n_layer")
    assert sorted((t.params["learning_rate"], t.params["n_layer"]) for t in study.trials) == [
        (1e-2, 1),
        (1e-2, 2),
        (2e-2, 1),
        (2e-2, 2),
    ]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    rows = read_csv(folder / "sweeps" / "test_stage_learning_rate_n_layer" / "summary.csv")
    assert sorted(row["trial"] for row in rows) == ["0", "1", "2", "3"]
    assert out.count(": started") == 4 and "[4/4]" in out
    for trial_folder in (folder / "sweeps" / "test_stage_learning_rate_n_layer").glob("00*"):  # one thread each
        assert (trial_folder / "command.txt").read_text().startswith("OMP_NUM_THREADS=1 python ")


def test_a_killed_worker_process_is_named_with_its_trial_and_how_to_run_it_again(killed_worker_sweep):
    folder, process = killed_worker_sweep
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    worker_pid = next(line.split()[2] for line in trained(folder) if line.split()[2] != str(process.pid))
    assert f"worker process {worker_pid} was killed (SIGKILL) during trial " in out
    assert "run the same command again in 60 seconds" in out
    assert "(above)" not in out and "running in another worker" not in out  # it is not running: it was killed
    rows = read_csv(folder / "sweeps" / "test_stage_learning_rate" / "summary.csv")
    assert sorted(row["state"] for row in rows) == ["finished", "running"]


# ----------------------------------------------------------------------------
# A torn journal, and waits on a storage's lock


def whole_operations(path):
    """The journal's lines as Optuna reads them: every one a JSON object ending in a newline, or an error."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} ends in half a line"
    return [json.loads(line) for line in data.splitlines()]


def one_trial_in_a_journal(folder, monkeypatch, capsys):
    argv = ["--param", "n_layer=1", "--storage", "journal.log"]
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    return argv, folder / "journal.log"


def test_a_journal_torn_at_its_end_is_repaired(folder, monkeypatch, capsys):
    """A worker killed while it wrote (or a full disk) leaves half a line at the end of the journal: the next
    command takes it out (kept in journal.log.torn) and says so, before writing behind it would break the file."""
    argv, journal = one_trial_in_a_journal(folder, monkeypatch, capsys)
    last = journal.read_bytes().splitlines(keepends=True)[-1]
    with open(journal, "ab") as f:
        f.write(last[:30])
    assert sweep(folder, *argv, "--trials", "2", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    lines = len(whole_operations(journal))
    assert "repaired the journal journal.log: took out half a line at line" in out, out
    assert "1 done already" in out
    assert (folder / "journal.log.torn").read_bytes() == last[:30] + b"\n"
    assert lines > 0


def test_a_journal_written_behind_a_torn_line_is_repaired(folder, monkeypatch, capsys):
    """The state learners meet: another worker wrote behind the half-line, and every later command failed with
    "Expecting ':' delimiter". The half-line is taken out and the operation written behind it is kept."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    argv, journal = one_trial_in_a_journal(folder, monkeypatch, capsys)
    create = json.loads(journal.read_bytes().splitlines()[0])  # the operation that created the study
    assert create["op_code"] == 0
    create["study_name"] = "written_behind"
    with open(journal, "ab") as f:  # half a line, then another worker's writes behind it
        f.write(b'{"op_code":6,"worker_id":' + json.dumps(create, separators=(",", ":")).encode() + b"\n")
        f.write(json.dumps({**create, "study_name": "written_after"}, separators=(",", ":")).encode() + b"\n")
    with pytest.raises(ValueError, match="Expecting"):  # what every command met before
        optuna.get_all_study_names(JournalStorage(JournalFileBackend(str(journal))))
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "repaired the journal journal.log: took out half a line at line" in out, out
    assert "1 done already" in out
    names = optuna.get_all_study_names(JournalStorage(JournalFileBackend(str(journal))))
    assert {"written_behind", "written_after"} <= set(names)  # the other worker's writes are kept
    assert (folder / "journal.log.torn").read_bytes() == b'{"op_code":6,"worker_id":\n'
    assert whole_operations(journal)


def test_a_journal_damaged_otherwise_gets_one_line_that_says_how_to_mend_it(folder, monkeypatch, capsys):
    argv, journal = one_trial_in_a_journal(folder, monkeypatch, capsys)
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = b"edited by hand\n"
    journal.write_bytes(b"".join(lines))
    code = sweep(folder, *argv, monkeypatch=monkeypatch)
    assert (
        code == "error: the journal journal.log is damaged at line 3, and not by a torn write: restore it from a "
        "copy, or delete that line (losing what it held) with: sed -i '3d' journal.log"
    )
    assert journal.read_bytes() == b"".join(lines)  # left as it was


def test_a_wait_for_the_journal_lock_is_said(tmp_path, monkeypatch, capsys):
    """Optuna waits silently for the journal's lock (up to 30 s for one a killed worker left): said after 3 s."""
    monkeypatch.setattr(babygpt_sweep, "LOCK_NOTE_SECONDS", 0.3)
    journal = str(tmp_path / "journal.log")
    storage = babygpt_sweep.open_storage(journal)
    os.symlink(journal, journal + ".lock")  # held by another worker, which lets go after 1.5 s
    release = threading.Timer(1.5, os.unlink, [journal + ".lock"])
    release.start()
    optuna.create_study(storage=storage, study_name="waits")
    release.join()
    out = capsys.readouterr().out
    assert f"waiting for the journal's lock {journal}.lock: another worker is writing" in out
    assert "got the journal's lock after" in out


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # the heartbeat, as main() says
def test_a_wait_for_the_database_lock_is_said(tmp_path, monkeypatch, capsys):
    """SQLite waits silently (up to 60 s) while another worker holds the database's lock: said after 3 s."""
    monkeypatch.setattr(babygpt_sweep, "LOCK_NOTE_SECONDS", 0.3)
    database = tmp_path / "study.db"
    storage = babygpt_sweep.open_storage(f"sqlite:///{database}")
    holder = sqlite3.connect(database, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another worker in the middle of a write, done after 1.5 s
    release = threading.Timer(1.5, holder.rollback)
    release.start()
    optuna.create_study(storage=storage, study_name="waits")
    release.join()
    holder.close()
    out = capsys.readouterr().out
    assert "waiting for the study storage: no answer for 0.3 s (another worker holds its lock" in out
    assert "the study storage answered after" in out


# ----------------------------------------------------------------------------
# A full disk: /dev/full answers every write with ENOSPC, as a full disk does


def writes_to_a_full_disk(real_write, *names):
    """write_atomically, except that files with these names go to /dev/full (ENOSPC, and no file name)."""

    def write(path, data):
        if os.path.basename(path) not in names:
            return real_write(path, data)
        with open("/dev/full", "wb") as f:
            f.write(data)

    return write


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here (not Linux)")


@needs_dev_full
def test_a_full_disk_while_writing_the_summary_is_one_line(folder, monkeypatch, capsys):
    monkeypatch.setattr(
        babygpt_sweep, "write_atomically", writes_to_a_full_disk(babygpt_sweep.write_atomically, "summary.csv")
    )
    code = sweep(folder, "--param", "n_layer=1", "--storage", "journal.log", monkeypatch=monkeypatch)
    assert code == (
        "error: cannot write sweeps/v12_n_layer/summary.csv: No space left on device; the finished trials are kept in"
        " the study journal.log: free some space, then run the same command to go on"
    )
    monkeypatch.undo()
    assert sweep(folder, "--param", "n_layer=1", "--storage", "journal.log", monkeypatch=monkeypatch) == 0
    assert "1 done already" in capsys.readouterr().out  # the finished trial was kept


@needs_dev_full
def test_a_full_disk_during_a_trial_stops_the_sweep_in_one_line(folder, monkeypatch, capsys):
    """Every next trial would fail too: the sweep stops, and the interrupted trial runs again when it goes on."""
    load_stage = babygpt_sweep.load_stage

    def stage_on_a_full_disk(path):  # the stage the sweep loads, its checkpoint.pt written to /dev/full
        stage = load_stage(path)
        stage.write_atomically = writes_to_a_full_disk(stage.write_atomically, "checkpoint.pt")
        return stage

    monkeypatch.setattr(babygpt_sweep, "load_stage", stage_on_a_full_disk)
    argv = ["--param", "n_layer=1,2", "--storage", "journal.log"]
    code = sweep(folder, *argv, monkeypatch=monkeypatch)
    assert code.startswith("error: cannot write sweeps/v12_n_layer/000_n_layer=")
    assert code.endswith(
        ": No space left on device; the finished trials are kept in the study journal.log: free"
        " some space, then run the same command to go on"
    )
    assert len(trained_trials(capsys.readouterr().out)) == 1  # it stopped at the first trial
    monkeypatch.setattr(babygpt_sweep, "load_stage", load_stage)
    assert sweep(folder, *argv, monkeypatch=monkeypatch) == 0
    rows = read_csv(folder / "sweeps" / "v12_n_layer" / "summary.csv")
    assert [row["state"] for row in rows] == ["finished", "finished"]


def trained_trials(out):
    return [line for line in out.splitlines() if line.startswith("trial ") and line.endswith(".txt)")]
