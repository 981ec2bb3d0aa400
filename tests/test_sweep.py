"""babygpt_sweep.py: grids and searches over a stage's options, recorded by Optuna, one folder per trial.

Tiny trials on a tiny corpus. Most sweeps run in this process; the --jobs 2 sweep runs in the background
from the start (each of its two processes pays ~2 s to import torch and optuna).
"""

import csv
import os
import shlex
import subprocess
import sys

import optuna
import pytest
from conftest import ROOT, tiny_text
from optuna.trial import TrialState

import babygpt_sweep
import babygpt_v12_wandb
from babygpt_sample import load_checkpoint

TINY_OPTIONS = {"max_iters": 4, "eval_interval": 2, "eval_iters": 1, "batch_size": 2, "block_size": 8, "n_embed": 16}
TINY_OPTIONS.update({"n_head": 2, "n_layer": 1, "max_new_tokens": 4, "device": "cpu", "prompt": "春"})


def tiny(*swept):
    """The fixed options of a tiny trial, less the swept ones."""
    return [arg for name, value in TINY_OPTIONS.items() if name not in swept for arg in (f"--{name}", str(value))]


TRIAL_FILES = {"command.txt", "log.txt", "metrics.csv", "loss_curve.png", "samples.txt", "checkpoint.pt"}

# A stage that is v12 with a train() that misbehaves on demand (SWEEP_TEST_MODE); it logs every call
# to trained.txt in the current folder, so a test can tell which trials really trained, and where.
TEST_STAGE = """
import os
import time

import babygpt_v12_wandb as v12
from babygpt_v12_wandb import make_parser, parse_args, sample_prompts, setup  # noqa: F401


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
    return v12.train(model, train_data, val_data, hp, report)
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


@pytest.fixture(scope="module")
def jobs_sweep(tmp_path_factory):
    """A 2 x 2 grid with --jobs 2 (this process and one worker process) on the default SQLite storage."""
    folder = tmp_path_factory.mktemp("jobs")
    write_corpus(folder)
    stage = write_test_stage(folder)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1", "SWEEP_TEST_MODE": "slow"}
    command = [sys.executable, str(ROOT / "babygpt_sweep.py"), "--stage", stage, "--jobs", "2"]
    command += ["--param", "learning_rate=1e-2,2e-2", "--param", "n_layer=1,2"]
    command += ["--", "--data", "corpus.txt", *tiny("learning_rate", "n_layer")]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": folder, "env": env}
    return folder, subprocess.Popen(command, **pipes)


@pytest.fixture(autouse=True, scope="module")
def start_jobs_sweep_early(request):
    if any("jobs_sweep" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("jobs_sweep")


def test_two_worker_processes_divide_a_grid_and_run_no_trial_twice(jobs_sweep):
    folder, process = jobs_sweep
    out, err = process.communicate(timeout=120)
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
        model, _, checkpoint = load_checkpoint(str(trial_folder / "checkpoint.pt"), "cpu")  # babygpt_sample loads it
        assert len(model.blocks) == trial.params["n_layer"]
        assert checkpoint["hyperparameters"]["learning_rate"] == trial.params["learning_rate"]
        log = (trial_folder / "log.txt").read_text(encoding="utf-8")
        assert log.startswith("$ python ") and "step     4 | train loss" in log
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
        assert len(losses) == 2 == int(mean["finished_trials"])
        assert float(mean["mean_val_loss"]) == pytest.approx(sum(losses) / 2, abs=1e-4)
        assert f"| {mean['value']} | {mean['mean_val_loss']}" in (sweep_folder / "summary.md").read_text()


def test_command_txt_reproduces_the_trial(grid, tmp_path, monkeypatch, capsys):
    _, sweep_folder = grid
    trial_folder = sorted(sweep_folder.glob("00*"))[0]
    command = shlex.split((trial_folder / "command.txt").read_text(encoding="utf-8"))
    assert command[0] == "python" and command[1].endswith("babygpt_v12_wandb.py")
    argv = command[2:]
    argv[argv.index("--out_dir") + 1] = str(tmp_path / "again")
    monkeypatch.chdir(sweep_folder.parent.parent)
    babygpt_v12_wandb.main(argv)

    def losses(run_folder):
        return [(row["step"], row["train_loss"], row["val_loss"]) for row in read_csv(run_folder / "metrics.csv")]

    assert losses(tmp_path / "again") == losses(trial_folder)  # the same seed on the CPU: the same losses


def test_running_the_same_command_again_trains_nothing(grid, monkeypatch, capsys):
    folder, sweep_folder = grid
    checkpoints = {path: path.stat().st_mtime_ns for path in sweep_folder.glob("*/checkpoint.pt")}
    code = sweep(folder, "--param", "learning_rate=1e-2,3e-3", "--param", "n_layer=1,2", monkeypatch=monkeypatch)
    assert code == 0
    assert "4 done already" in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in sweep_folder.glob("*/checkpoint.pt")} == checkpoints
    assert len(load_study(folder, "v12_learning_rate_n_layer").trials) == 4


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


def test_a_failing_combination_is_recorded_and_the_others_finish(folder, monkeypatch, capsys):
    code = sweep(folder, "--param", "n_head=2,3", "--storage", "journal.log", monkeypatch=monkeypatch)
    assert code == 0
    out = capsys.readouterr().out
    assert "failed: n_embed (16) must be divisible by n_head (3)" in out
    rows = read_csv(folder / "sweeps" / "v12_n_head" / "summary.csv")
    assert [(row["n_head"], row["state"]) for row in rows] == [("2", "finished"), ("3", "failed")]
    assert rows[1]["note"] == "n_embed (16) must be divisible by n_head (3)"
    failed_folder = folder / "sweeps" / "v12_n_head" / rows[1]["folder"]
    assert set(os.listdir(failed_folder)) == {"command.txt", "log.txt"}  # refused before any training
    assert "error: n_embed (16) must be divisible by n_head (3)" in (failed_folder / "log.txt").read_text()


def test_retry_failed_runs_failed_trials_again_once_their_cause_is_fixed(tmp_path, monkeypatch, capsys):
    argv = ["--param", "n_layer=1,2", "--storage", "journal.log"]
    assert sweep(tmp_path, *argv, monkeypatch=monkeypatch) == 0  # no corpus yet: every trial fails
    assert "add --retry_failed to run them again" in capsys.readouterr().out
    write_corpus(tmp_path)
    assert sweep(tmp_path, *argv, monkeypatch=monkeypatch) == 0
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
    "set_by_sweep": (["--param", "out_dir=a,b"], [], "the sweep sets --out_dir itself"),
    "swept_and_fixed": (["--param", "n_layer=1,2"], ["--n_layer", "3"], "both swept (--param) and fixed"),
    "fixed_out_dir": (["--param", "n_layer=1,2"], ["--out_dir", "x"], "--out_dir after --: the sweep sets it"),
    "fixed_unknown": (["--param", "n_layer=1,2"], ["--max_iter", "3"], "unrecognized arguments: --max_iter 3"),
    "no_stage": (["--stage", "nope.py", "--param", "n_layer=1,2"], [], "--stage nope.py: no such file"),
    "zero_jobs": (["--param", "n_layer=1,2", "--jobs", "0"], [], "--jobs must be at least 1"),
    "bad_name": (["--param", "n_layer=1,2", "--name", "../up"], [], "--name '../up': use letters"),
    "unknown_option": (["--param", "n_layer=1,2", "--trial", "3"], [], "unrecognized arguments: --trial 3"),
    "unreachable_storage": (
        ["--param", "n_layer=1,2", "--storage", "postgresql+psycopg2://nobody@127.0.0.1:1/none"],
        [],
        "cannot open the study storage postgresql+psycopg2://nobody@127.0.0.1:1/none: ",
    ),
    "unwritable_storage": (
        ["--param", "n_layer=1,2", "--storage", "sqlite:///no/such/folder/study.db"],
        [],
        "cannot open the study storage sqlite:///no/such/folder/study.db: ",
    ),
    "missing_driver": (
        ["--param", "n_layer=1,2", "--storage", "mysql://nobody@127.0.0.1:1/none"],
        [],
        "cannot open the study storage mysql://nobody@127.0.0.1:1/none: ",
    ),
    "unwritable_journal": (
        ["--param", "n_layer=1,2", "--storage", "no/such/folder/journal.log"],
        [],
        "cannot open the study storage no/such/folder/journal.log: ",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    argv, fixed, message = BAD_INPUT[case]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        babygpt_sweep.main([*argv, "--", "--data", "corpus.txt", *fixed])
    assert isinstance(exit.value.code, str) and "\n" not in exit.value.code
    assert "error: " in exit.value.code and message in exit.value.code
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
