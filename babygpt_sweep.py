"""BabyGPT sweeps: train a stage once per combination of hyperparameters, then compare the runs.

"Double block_size: how much lower is the loss, how much slower?" The honest answer is an experiment.
This script runs it: every trial is the stage's own code (setup, train, sample), recorded in its own
folder, and all trials are compared in one ranked table and a few pictures. Optuna keeps the books:
the study lives in a storage (an SQLite file by default), so the same command resumes an interrupted
sweep, and several workers on one shared storage divide the trials between them.

Run:   python babygpt_sweep.py --param learning_rate=3e-4,1e-3,3e-3 --param n_layer=2,4 -- \\
           --max_iters 300 --eval_interval 50 --eval_iters 20 --batch_size 16 --block_size 64 \\
           --n_embed 128 --n_head 4 --dropout 0.1
       (a grid of 3 x 2 = 6 trials of babygpt_v12_wandb.py; everything after -- goes to every trial)
       python babygpt_sweep.py --param learning_rate=1e-4:1e-2:log --param n_layer=2:6 --search tpe --trials 20 -- ...
       (a search over ranges: Optuna's TPE picks each next trial from the results so far)
       python babygpt_sweep.py --help    (every option)

Resume: run the same command again. Finished trials are kept, interrupted ones are run again.
Results: sweeps/NAME/summary.md (ranked table, mean val loss per value, importances, pictures) and one
folder per trial (command.txt, log.txt, metrics.csv, loss_curve.png, samples.txt, checkpoint.pt).
Live view: optuna-dashboard sqlite:///sweeps/NAME/study.db

How this file reads, one job per part:
  1. The command line: what a sweep is (the stage, its swept and fixed options), checked before anything runs
  2. The storage and the study: where Optuna keeps the trials
  3. The books: which trial is which (class Books), from one read of the study
  4. One trial: the stage's own code, recorded in the trial's folder
  5. Workers: trials one after another, in this process and --jobs - 1 others
  6. The report: summary.md, summary.csv, means.csv and the pictures
  main()
"""

import argparse
import contextlib
import csv
import difflib
import errno
import glob
import importlib.util
import io
import json
import math
import multiprocessing
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import sys
import threading
import time
import traceback
import warnings

import optuna
import torch
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileSymlinkLock
from optuna.trial import TrialState

from babygpt.errors import first_line
from babygpt.pictures import font_context
from babygpt_v12_wandb import (
    OneLineErrorParser,
    RunRecorder,
    console_safe_output,
    find_corpus,
    format_seconds,
    write_atomically,
)

DEFAULT_STAGE = "babygpt_v12_wandb.py"
SWEEPS_FOLDER = "sweeps"
STAGE_API = ("make_parser", "parse_args", "run")  # what a trial calls in the stage: its parser and its entry point
SET_BY_THE_SWEEP = {  # options a sweep sets itself, or cannot honour: refused after --, and as --param
    "out_dir": "the sweep sets it (one folder per trial)",
    "overwrite": "the sweep sets it (one folder per trial)",
    "resume": "a sweep starts every trial afresh (resume one trial with: babygpt_train.py --resume TRIAL_FOLDER)",
}
HEARTBEAT_SECONDS = 10  # a running trial marks itself alive in a database storage this often ...
GRACE_SECONDS = 60  # ... and one silent this long has lost its worker (killed): it is run again
MAX_RETRIES_AFTER_A_DEATH = 2  # a trial whose worker dies every time (out of memory?) is then given up
OVERFIT_GAP = 0.1  # val loss this far above train loss is flagged: compare it between trials (docs/sweeps.md)
PRUNER_STARTUP_TRIALS = 2  # --prune compares with at least this many finished trials
SAMPLE_OPENING_CHARACTERS = 40
IMPORTANCE_MIN_TRIALS = 20  # below this Optuna's importances swing from one sweep to the next: means say more
DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # no space left, or over the disk quota
ORPHAN_SECONDS = 60  # a FILE.PID.tmp this old was left by a killed process: no write takes that long
LOCK_NOTE_SECONDS = 3  # a wait for a storage's lock longer than this is said (Optuna's own waits are silent)


# ============================================================================
# 1. The command line: what a sweep is, checked before anything runs
# ============================================================================

# ----------------------------------------------------------------------------
# Loading a stage: any training script with the stages' functions


def load_stage(path):
    """Import a training script from its file. Importing a stage reads nothing and trains nothing."""
    if not os.path.isfile(path):
        raise ValueError(f"--stage {path}: no such file")
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = "babygpt_sweep_stage_" + re.sub(r"\W", "_", stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise ValueError(f"--stage {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise ValueError(f"--stage {path} cannot be imported: {type(e).__name__}: {first_line(e)}") from None
    missing = [name for name in STAGE_API if not callable(getattr(module, name, None))]
    if missing:
        lacks = ", ".join(f"{name}()" for name in missing)
        raise ValueError(f"--stage {path} is not a BabyGPT training script: it lacks {lacks}")
    return module


def stage_options(stage):
    """The stage's command-line options that take one value: name -> argparse action."""
    options = {}
    for action in stage.make_parser()._actions:
        takes_one_value = isinstance(action, argparse._StoreAction) and action.nargs is None
        if takes_one_value and action.option_strings:
            options[action.dest] = action
    return options


def option_given(argv, name):
    return any(arg == f"--{name}" or arg.startswith(f"--{name}=") for arg in argv)


# ----------------------------------------------------------------------------
# --param: a grid axis (a list of values) or a range for a search

PARAM_SYNTAX = "NAME=V1,V2,... (a list) or NAME=LOW:HIGH or NAME=LOW:HIGH:log (a range)"
TYPE_NAMES = {int: "a whole number", float: "a number", str: "text"}


class Axis:
    """One swept hyperparameter: a list of values (a grid axis) or a range (for random or TPE search)."""

    def __init__(self, name, kind, spec, values=None, labels=None, low=None, high=None, log=False):
        self.name, self.kind, self.spec = name, kind, spec  # spec: the text after "=", as typed
        self.values, self.labels = values, labels  # a list axis: the values and their text as typed
        self.low, self.high, self.log = low, high, log  # a range

    @property
    def is_range(self):
        return self.values is None

    def suggest(self, trial):
        """This trial's value, chosen by Optuna's sampler."""
        if not self.is_range:
            return trial.suggest_categorical(self.name, self.values)
        if self.kind is int:
            return trial.suggest_int(self.name, self.low, self.high, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def label(self, value):
        """Short text for folder names and tables: as typed for a list, 3 significant digits in a range."""
        if not self.is_range:
            return self.labels[self.values.index(value)]
        return str(value) if self.kind is int else compact_number(value)

    def argument(self, value):
        """The value on the stage's command line: as typed for a list, every digit for a range."""
        if not self.is_range:
            return self.labels[self.values.index(value)]
        return repr(value)


def compact_number(value):
    """3 significant digits, exponents without padding: 3.12e-05 -> 3.12e-5, 0.000312 -> 0.000312, 0.25 -> 0.25."""
    text = f"{value:.3g}"
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{'' if m.group(1) == '+' else '-'}{m.group(2)}", text)


def convert(text, kind, name, param):
    """A value of the option's type, or one clear line saying why not."""
    try:
        value = kind(text)
    except (ValueError, TypeError):
        raise ValueError(
            f"--param {param}: {name} takes {TYPE_NAMES.get(kind, 'another type')}, not {text!r}"
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"--param {param}: {text!r} is not a finite number")
    return value


def parse_param(param, options, stage_name):
    """'learning_rate=1e-3,3e-3' or 'learning_rate=1e-4:1e-2:log' -> Axis, checked against the stage's options."""
    name, equals, spec = param.partition("=")
    name = name.strip()
    if not equals or not name:
        raise ValueError(f"--param {param}: expected {PARAM_SYNTAX}")
    if name in SET_BY_THE_SWEEP:
        raise ValueError(f"--param {param}: --{name} cannot be swept: {SET_BY_THE_SWEEP[name]}")
    if name not in options:
        raise ValueError(f"--param {param}: {stage_name} has no option --{name}; it has {', '.join(sorted(options))}")
    action = options[name]
    kind = action.type or str
    if kind in (int, float) and ":" in spec and "," not in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise ValueError(f"--param {param}: expected {PARAM_SYNTAX}")
        low, high = (convert(part.strip(), kind, name, param) for part in parts[:2])
        log = len(parts) == 3
        if not low < high:
            raise ValueError(f"--param {param}: LOW must be less than HIGH in the range LOW:HIGH")
        if log and low <= 0:
            raise ValueError(f"--param {param}: a log range needs LOW > 0")
        return Axis(name, kind, spec, low=low, high=high, log=log)
    labels = [label.strip() for label in spec.split(",")]
    if labels == [""]:
        raise ValueError(f"--param {param}: no values; expected {PARAM_SYNTAX}")
    if "" in labels:
        raise ValueError(f"--param {param}: an empty value between commas")
    values = [convert(label, kind, name, param) for label in labels]
    if action.choices is not None:
        for label, value in zip(labels, values, strict=True):
            if value not in action.choices:
                choices = ", ".join(map(str, action.choices))
                raise ValueError(f"--param {param}: {label!r} is not one of {name}'s choices ({choices})")
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"--param {param}: {labels[i]!r} is listed twice")
    return Axis(name, kind, spec, values=values, labels=labels)


# ----------------------------------------------------------------------------
# The options


def make_parser():
    parser = OneLineErrorParser(
        prog="babygpt_sweep.py",
        usage="python babygpt_sweep.py [options] --param NAME=VALUES [--param ...] [-- STAGE OPTIONS]",
        description=__doc__.splitlines()[0] + " Everything after -- is passed to every trial unchanged.",
        allow_abbrev=False,  # a mistyped option is an error, never a guess
    )
    parser.add_argument(
        "--stage", default=DEFAULT_STAGE, help="the training script to run: any stage (default: %(default)s)"
    )
    parser.add_argument(
        "--param",
        action="append",
        required=True,
        metavar="NAME=VALUES",
        help=f"a swept option of the stage: {PARAM_SYNTAX}; integers for an integer option; repeat for more",
    )
    parser.add_argument(
        "--search",
        choices=["grid", "random", "tpe"],
        help="grid: every combination of the lists; random or tpe (Optuna's Bayesian sampler): --trials draws "
        "from the lists and ranges (default: grid when every --param is a list, else tpe)",
    )
    parser.add_argument("--trials", type=int, help="run at most this many trials in the study (default: all the grid)")
    parser.add_argument(
        "--timeout", type=float, metavar="MINUTES", help="start no new trial after this many minutes (default: none)"
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="stop a trial early when its val loss at an evaluation is worse than the median of the other trials'"
        f" at the same step (Optuna's MedianPruner, after {PRUNER_STARTUP_TRIALS} finished trials; never at step 0"
        " nor at the last evaluation, where there is nothing left to save)",
    )
    parser.add_argument(
        "--retry_failed",
        action="store_true",
        help="run the failed trials of this sweep again (after fixing what made them fail); finished ones are kept",
    )
    parser.add_argument(
        "--fail_stale",
        type=float,
        metavar="MINUTES",
        help="count a trial still 'running' after this many minutes as killed, and run it again: for a journal-file"
        " storage, which cannot notice a killed worker by itself; pick more than the longest trial takes"
        f" (default: none; a database storage notices a killed worker {GRACE_SECONDS} s after its last heartbeat)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="trials run at once: this process and JOBS - 1 worker processes, sharing the CPU threads (default: 1)",
    )
    parser.add_argument("--name", help=f"the sweep's folder {SWEEPS_FOLDER}/NAME (default: the stage and the params)")
    parser.add_argument(
        "--storage",
        help="where the study lives: a database URL (sqlite:///file.db, postgresql+psycopg2://user:password@host/db, "
        "mysql://...) or a journal file path on a shared disk; workers running the same command on one storage "
        f"divide the trials (default: sqlite:///{SWEEPS_FOLDER}/NAME/study.db)",
    )
    return parser


def parse_command_line(argv):
    """Our options before '--', the fixed stage options after it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, fixed = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = make_parser()
    options = {name for action in parser._actions for name in action.option_strings}
    stray = [word.split("=")[0] for word in ours if word.startswith("--") and word.split("=")[0] not in options]
    if stray:  # first, before a missing --param: most often a stage's option put before the --
        close = difflib.get_close_matches(stray[0], options, n=1)  # then the parser says "did you mean"
        hint = "" if close else "; a stage's options go after the --, as in ... -- --max_iters 500"
        parser.error(f"unrecognized arguments: {stray[0]}{hint}")
    args = parser.parse_args(ours)
    args.fixed = fixed
    args.argv = argv
    return args


def default_name(stage_path, axes):
    """babygpt_v12_wandb.py, learning_rate, n_layer -> v12_learning_rate_n_layer"""
    stem = os.path.splitext(os.path.basename(stage_path))[0]
    version = re.match(r"babygpt_(v\d+)", stem)
    return "_".join([version.group(1) if version else stem, *(axis.name for axis in axes)])


def prepare(argv):
    """Check everything about the sweep before anything is written: the sweep as a namespace of settings."""
    args = parse_command_line(argv)
    for option in ("trials", "jobs"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            raise ValueError(f"--{option} must be at least 1, got {getattr(args, option)}")
    for option in ("timeout", "fail_stale"):
        value = getattr(args, option)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"--{option} must be a positive number of minutes, got {value}")
    if args.storage is not None and in_memory(args.storage):
        raise ValueError(
            f"--storage {args.storage} is an in-memory database: every process would get its own, empty one, and"
            " nothing would be kept; give a file, e.g. sqlite:///sweep.db"
        )

    args.stage = find_corpus(args.stage)  # like a corpus: a relative path is found beside the stages too
    stage = load_stage(args.stage)
    stage_name = os.path.basename(args.stage)
    options = stage_options(stage)
    axes = [parse_param(param, options, stage_name) for param in args.param]
    names = [axis.name for axis in axes]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"--param {name} is given twice: put all its values in one --param")
        if option_given(args.fixed, name):
            raise ValueError(f"--{name} is both swept (--param) and fixed (after --): keep one")
    for name, why in SET_BY_THE_SWEEP.items():
        if option_given(args.fixed, name):
            raise ValueError(f"--{name} after --: {why}")
    try:
        stage.parse_args(args.fixed)  # the fixed options are checked once, here, by the stage's own parser
    except SystemExit as e:
        raise ValueError(f"the options after -- for {stage_name}: {parser_message(e)}") from None

    if args.search is None:
        args.search = "tpe" if any(axis.is_range for axis in axes) else "grid"
    if args.search == "grid" and any(axis.is_range for axis in axes):
        ranges = ", ".join(axis.name for axis in axes if axis.is_range)
        raise ValueError(f"--search grid needs lists of values, but {ranges} is a range: use --search random or tpe")
    if args.search != "grid" and args.trials is None and args.timeout is None:
        raise ValueError(f"--search {args.search} needs --trials N or --timeout MINUTES: it could go on forever")

    args.name = args.name or default_name(args.stage, axes)
    if not re.fullmatch(r"[\w.+=-]+", args.name) or args.name.startswith("."):
        raise ValueError(f"--name {args.name!r}: use letters, digits and . _ - + = only (it names a folder)")
    args.folder = os.path.join(SWEEPS_FOLDER, args.name)
    args.storage = args.storage or f"sqlite:///{SWEEPS_FOLDER}/{args.name}/study.db"  # / on Windows too
    args.shown_storage = hide_password(args.storage)  # what the console, errors and summary.md show
    args.shown_argv = [hide_password(arg) if args.storage in arg else arg for arg in args.argv]
    grid_size = math.prod(len(axis.values) for axis in axes) if args.search == "grid" else None
    args.planned = min(n for n in (grid_size, args.trials) if n is not None) if grid_size or args.trials else None
    args.grid_size = grid_size
    args.axes, args.stage_module, args.stage_name = axes, stage, stage_name
    args.records_run_folder = "out_dir" in options  # v12 and later write a run folder themselves
    args.definition = {  # what makes two commands the same sweep; --trials, --timeout, --jobs may change
        "stage": stage_name,
        "params": {axis.name: axis.spec for axis in axes},
        "fixed": args.fixed,
        "search": args.search,
    }
    return args


def parser_message(exit):
    """The message of an argparse error (SystemExit) without its 'prog: error:' prefix."""
    text = exit.code if isinstance(exit.code, str) else "not accepted"
    return re.sub(r"^\S+: error: ", "", text)


def in_memory(url):
    """sqlite://, sqlite:///:memory: and the like: a database that lives and dies with one process."""
    return re.fullmatch(r"sqlite(\+\w+)?://(/(:memory:)?)?(\?.*)?", url) is not None


def hide_password(url):
    """A storage URL as it may be shown or written down: postgresql://user:SECRET@host/db -> postgresql://user:***@host/db."""
    scheme, separator, rest = url.partition("://")
    location, slash, path = rest.partition("/")
    user_info, at, host = location.rpartition("@")
    if not separator or not at or ":" not in user_info:
        return url  # a journal file, SQLite, or no password
    return f"{scheme}://{user_info.split(':', 1)[0]}:***@{host}{slash}{path}"


def password_of(url):
    """The password in a storage URL, or None: kept out of every message (a driver may repeat the URL)."""
    shown = hide_password(url)
    if shown == url:
        return None
    location = url.partition("://")[2].partition("/")[0]
    return location.rpartition("@")[0].split(":", 1)[1]


def without_password(text, sweep):
    """text with the storage's password, as typed and URL-decoded, replaced by ***."""
    secret = password_of(sweep.storage)
    if secret:
        from urllib.parse import unquote

        for form in {secret, unquote(secret)}:
            text = text.replace(form, "***")
    return text


# ============================================================================
# 2. The storage and the study: where Optuna keeps the trials
# ============================================================================
#
# What each storage notices by itself when a worker is killed (SIGKILL, a power cut, out of memory):
#   SQLite file, PostgreSQL, MySQL   a running trial writes a heartbeat every HEARTBEAT_SECONDS; one silent for
#                                    GRACE_SECONDS is failed by the next worker that starts a trial, and run again
#   journal file                     nothing: the trial stays "running" until a command with --fail_stale MINUTES
#                                    fails it (and runs it again) once it has run longer than that


def open_storage(url):
    if "://" not in url:  # a journal file: appended to by every worker, safe on a shared disk; no heartbeat
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url, lock_obj=AnnouncedLock(url)))
    announce_slow_database_answers()
    return optuna.storages.RDBStorage(
        url,
        engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,  # wait for a lock
        heartbeat_interval=HEARTBEAT_SECONDS,
        grace_period=GRACE_SECONDS,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES_AFTER_A_DEATH),
    )


class AnnouncedLock(JournalFileSymlinkLock):
    """Optuna's lock on a journal file (a link FILE.lock that a worker makes while it writes; one left older than
    30 s by a killed worker is taken over), which says so when a wait lasts longer than LOCK_NOTE_SECONDS."""

    def acquire(self):
        started = time.monotonic()
        said = threading.Event()

        def note():
            said.set()
            print(
                f"waiting for the journal's lock {self._lock_file}: another worker is writing, or one was killed"
                f" while writing (its lock is taken over once it is {self.grace_period} s old)",
                flush=True,
            )

        timer = threading.Timer(LOCK_NOTE_SECONDS, note)
        timer.daemon = True
        timer.start()
        try:
            return super().acquire()
        finally:
            timer.cancel()
            if said.is_set():
                print(f"got the journal's lock after {time.monotonic() - started:.0f} s", flush=True)


def announce_slow_database_answers():
    """A database storage waits for a lock another worker holds inside the driver (SQLite: up to its 60 s
    timeout), silently: a statement that has not answered after LOCK_NOTE_SECONDS is said, and its answer."""
    import sqlalchemy

    if sqlalchemy.event.contains(sqlalchemy.engine.Engine, "before_cursor_execute", start_statement_timer):
        return
    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", start_statement_timer)
    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "after_cursor_execute", stop_statement_timer)
    sqlalchemy.event.listen(
        sqlalchemy.engine.Engine, "handle_error", lambda context: stop_statement_timer(context.connection)
    )


def start_statement_timer(connection, *args):
    started, said = time.monotonic(), threading.Event()

    def note():
        said.set()
        print(
            f"waiting for the study storage: no answer for {LOCK_NOTE_SECONDS} s"
            " (another worker holds its lock; SQLite gives up after 60 s)",
            flush=True,
        )

    timer = threading.Timer(LOCK_NOTE_SECONDS, note)
    timer.daemon = True
    connection.info["babygpt_timer"] = (timer, started, said)
    timer.start()


def stop_statement_timer(connection, *args):
    timer, started, said = (
        connection.info.pop("babygpt_timer", (None, 0, None)) if connection is not None else (None, 0, None)
    )
    if timer is not None:
        timer.cancel()
        if said.is_set():
            print(f"the study storage answered after {time.monotonic() - started:.0f} s", flush=True)


def journal_damage(data):
    """Where a journal file (one JSON object a line, each line ending in a newline) is damaged: None when it is
    whole, else (kept, removed, bad_line): kept, the bytes to keep (None if it cannot be mended here); removed,
    the bytes to take out; bad_line, the first damaged line's number (from 1).

    Optuna appends each write under a lock, so a line can be torn only where a write stopped: a worker killed
    in mid-write, or a full disk, leaves half a line at the end without its newline; the next worker's write
    then lands behind it, and Optuna reads that line as broken JSON ("Expecting ':' delimiter") from then on.
    Both halves are recognised: the last half-line goes, and a half-line in front of a whole operation goes."""
    lines = data.split(b"\n")  # the last piece is what follows the last newline: b"" in a whole file
    kept, removed, bad_line = [], [], None
    for number, line in enumerate(lines, start=1):
        if number == len(lines):  # no newline after it: a write that stopped half-way
            if line:
                removed.append(line)
                bad_line = bad_line or number
            break
        if is_operation(line):
            kept.append(line + b"\n")
            continue
        bad_line = bad_line or number
        start = next((i for i in range(1, len(line)) if line.startswith(b"{", i) and is_operation(line[i:])), None)
        if start is None:  # not a torn write: a line edited or damaged some other way
            return None, None, number
        removed.append(line[:start])
        kept.append(line[start:] + b"\n")
    return None if bad_line is None else (b"".join(kept), b"".join(removed), bad_line)


def is_operation(line):
    """One whole line of Optuna's journal: a JSON object with an op_code."""
    try:
        operation = json.loads(line)
    except ValueError:
        return False
    return isinstance(operation, dict) and "op_code" in operation


def repair_journal(path):
    """Find and mend a torn line in the journal file at path (journal_damage), holding the journal's lock so
    that no worker writes meanwhile; the removed bytes are appended to PATH.torn. Returns a line saying what
    was repaired, or None when the journal is whole. ValueError: damage that is not a torn write."""
    try:
        with open(path, "rb") as f:
            if journal_damage(f.read()) is None:
                return None
    except OSError:  # no journal yet, or one Optuna cannot open either: it says why
        return None
    lock = AnnouncedLock(path)
    try:
        lock.acquire()
    except OSError as e:
        raise ValueError(f"cannot repair the journal {path}: {e.strerror} (its lock {lock._lock_file})") from None
    try:
        with open(path, "rb") as f:
            damage = journal_damage(f.read())  # again under the lock: another worker may have mended it
        if damage is None:
            return None
        kept, removed, line = damage
        if kept is None:
            raise ValueError(
                f"the journal {path} is damaged at line {line}, and not by a torn write: restore it from a copy,"
                f" or delete that line (losing what it held) with: sed -i '{line}d' {shlex.quote(path)}"
            )
        try:
            with open(f"{path}.torn", "ab") as f:
                f.write(removed + b"\n")
            write_atomically(path, kept)
        except OSError as e:
            raise ValueError(
                f"cannot repair the journal {path} (half a line at line {line}): {e.strerror} on"
                f" {e.filename or path}; free some space, or let it be written, and run again"
            ) from None
    finally:
        lock.release()
    return (
        f"repaired the journal {path}: took out half a line at line {line} ({len(removed)} bytes, left by a worker"
        f" killed while writing or by a full disk; kept in {path}.torn)"
    )


def has_heartbeat(sweep):
    return "://" in sweep.storage


def make_sampler(sweep):
    if sweep.search == "grid":
        return optuna.samplers.GridSampler({axis.name: axis.values for axis in sweep.axes})
    if sweep.search == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler(constant_liar=True)  # parallel workers do not all try the same spot


def make_pruner(sweep):
    if not sweep.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=1)


def create_or_load_study(sweep, attempts=5):
    """optuna.create_study(load_if_exists=True), tried again when another worker, started at the same moment
    on a fresh database, was creating Optuna's tables too (the database refuses the second CREATE)."""
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                storage=open_storage(sweep.storage),
                study_name=sweep.name,
                direction="minimize",
                sampler=make_sampler(sweep),
                pruner=make_pruner(sweep),
                load_if_exists=True,
            )
        except Exception as e:
            import sqlalchemy.exc

            racing = isinstance(e, (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError))
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.5 + random.random())  # let the other worker finish creating the tables


def open_study(sweep, create_folder, requeue=True):
    """Create the study, or load it to resume; refuse a storage that holds another sweep under this name.
    requeue: put the books in order (put_in_order): fail the trials whose worker was killed, queue a
    re-run of each interrupted one, and remove the temporary files killed processes left."""
    created = []  # folders made here, removed again if the storage cannot be opened: nothing left behind
    if create_folder:
        try:
            for folder in (SWEEPS_FOLDER, sweep.folder):
                with contextlib.suppress(FileExistsError):  # made already, perhaps by another worker just now
                    os.mkdir(folder)
                    created.append(folder)
                if not os.path.isdir(folder):
                    raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file")
        except OSError as e:
            remove_created(created)
            raise ValueError(f"cannot create the sweep folder {sweep.folder}: {e.strerror}") from None
    try:
        repaired = None if has_heartbeat(sweep) else repair_journal(sweep.storage)
    except ValueError:
        remove_created(created)
        raise
    if repaired:
        print(repaired)
    try:
        study = create_or_load_study(sweep)
        saved = study.user_attrs.get("sweep")
        if saved is None:
            study.set_user_attr("sweep", sweep.definition)
    except ImportError as e:
        remove_created(created)
        missing = first_line(e.__cause__ or e.__context__ or e)
        hint = (
            " (pip install 'psycopg[binary]', or write postgresql+psycopg2:// for psycopg2)"
            if "psycopg" in missing
            else ""
        )
        reason = without_password(f"no database driver: {missing}{hint}", sweep)
        raise ValueError(f"cannot open the study storage {sweep.shown_storage}: {reason}") from None
    except Exception as e:  # SQLAlchemy, the driver or the file system: all say why in their first line
        remove_created(created)
        reason = without_password(first_line(getattr(e, "orig", None) or e), sweep)
        raise ValueError(f"cannot open the study storage {sweep.shown_storage}: {reason}") from None
    if saved is not None and saved != sweep.definition:
        raise ValueError(
            f"the study {sweep.name!r} in {sweep.shown_storage} is another sweep ({describe(saved)}): "
            "give this one its own --name"
        )
    if requeue:
        put_in_order(study, sweep)
        remove_orphaned_temporary_files(sweep.folder)
    return study


def remove_created(folders):
    for folder in reversed(folders):
        shutil.rmtree(folder, ignore_errors=True)


def describe(definition):
    params = " ".join(f"{name}={spec}" for name, spec in definition["params"].items())
    return f"{definition['stage']} {params} -- {' '.join(definition['fixed'])}".strip(" -")


def remove_orphaned_temporary_files(folder, now=None):
    """The FILE.PID.tmp files (write_atomically's) that a killed process left in the sweep's folder and its trial
    folders. Only those older than ORPHAN_SECONDS: a younger one may be one that a worker, perhaps on another
    machine sharing the disk, is writing right now."""
    now = time.time() if now is None else now
    for path in glob.glob(os.path.join(glob.escape(folder), "*.tmp")) + glob.glob(
        os.path.join(glob.escape(folder), "*", "*.tmp")
    ):
        match = re.search(r"\.(\d+)\.tmp$", path)
        if not match:
            continue
        with contextlib.suppress(OSError):  # removed by another worker just now
            if now - os.path.getmtime(path) > ORPHAN_SECONDS:
                os.remove(path)


# ============================================================================
# 3. The books: which trial is which
# ============================================================================


def origin(trial):
    """The number of the trial that a re-run repeats (Optuna's retry callback keeps it), else the trial's own."""
    return trial.system_attrs.get("failed_trial", trial.number)


def folder_number(trial):
    """The number in the trial's folder name and the summary's trial column: a grid point's number
    (0 .. grid size - 1) in a grid, else Optuna's trial number. A re-run keeps the number of the trial
    it repeats: the same folder, the same row."""
    return trial.system_attrs.get("grid_id", origin(trial))


class Books:
    """Which trial is which, from one read of the study. Optuna records the trials; these rules say what they mean.

    Every trial in the study is exactly one of:
      counted      it stands for its combination in the summary: finished, pruned, failed, running, or waiting
                   (a queued re-run)
      repeated     a re-run of it was queued (its number is in a later trial's retry_history): the re-run stands
                   for it, in the same folder and the same row
      interrupted  stopped without a result (Ctrl-C, or its worker was killed) and no re-run queued yet: the
                   next command queues one. A combination whose worker died under it more than
                   MAX_RETRIES_AFTER_A_DEATH times is counted instead, as failed: it kills its worker (out of memory?)
      duplicate    another worker had taken its grid point first: given up before training
      surplus      started after --trials combinations were taken (two workers racing): given up before training
    """

    def __init__(self, study):
        self.trials = study.get_trials(deepcopy=False)
        self.by_number = {trial.number: trial for trial in self.trials}
        self.repeated = {n for trial in self.trials for n in trial.system_attrs.get("retry_history", [])}
        self.kind = {trial.number: self.classify(trial) for trial in self.trials}
        self.counted = [trial for trial in self.trials if self.kind[trial.number] == "counted"]

    def classify(self, trial):
        if "duplicate_of" in trial.user_attrs:
            return "duplicate"
        if trial.user_attrs.get("surplus"):
            return "surplus"
        if trial.number in self.repeated:
            return "repeated"
        if self.stopped_without_result(trial) and self.deaths(trial) <= MAX_RETRIES_AFTER_A_DEATH:
            return "interrupted"
        return "counted"

    @staticmethod
    def stopped_without_result(trial):
        """Failed in Optuna's books without a reason of ours: stopped by Ctrl-C, or its worker died."""
        attrs = trial.user_attrs
        given_up = "duplicate_of" in attrs or attrs.get("surplus")
        return trial.state == TrialState.FAIL and not attrs.get("failure") and not given_up

    def deaths(self, trial):
        """How often this combination's worker died under it (Ctrl-C not counted), this attempt included."""
        attempts = [self.by_number[n] for n in trial.system_attrs.get("retry_history", []) if n in self.by_number]
        return sum(self.stopped_without_result(t) and not t.user_attrs.get("interrupted") for t in [*attempts, trial])

    def trial(self, number):
        return self.by_number[number]

    def progress(self):
        """(done, running, waiting, grid points taken) over all workers."""
        states = [trial.state for trial in self.counted]
        running, waiting = states.count(TrialState.RUNNING), states.count(TrialState.WAITING)
        taken = {trial.system_attrs["grid_id"] for trial in self.counted if "grid_id" in trial.system_attrs}
        return len(states) - running - waiting, running, waiting, taken

    def work_left(self, sweep):
        done, running, waiting, taken = self.progress()
        if waiting:
            return True  # re-runs of interrupted trials come first
        if sweep.planned is not None and done + running >= sweep.planned:
            return False
        return sweep.grid_size is None or len(taken) < sweep.grid_size

    def taken_first(self, number):
        """The trial that took this one's grid point (or re-runs the same trial) first, or None. Two workers can
        pick one grid point at the same moment (near the end of a grid): the lower number runs it."""
        this = self.by_number[number]
        key = this.system_attrs.get("grid_id", this.system_attrs.get("failed_trial"))
        for other in self.counted:
            same = other.system_attrs.get("grid_id", other.system_attrs.get("failed_trial"))
            first = other.number < number or other.state.is_finished()
            if key is not None and other.number != number and same == key and first:
                return other
        return None

    def surplus(self, number, planned):
        """True when planned (--trials) combinations were taken before this new trial: two workers can both see
        one trial left and both start one. A re-run is never surplus: it stands for a trial counted already."""
        if planned is None or origin(self.by_number[number]) != number:
            return False
        return sum(origin(trial) < number for trial in self.counted) >= planned

    def to_run_again(self, failed_too=False):
        """The interrupted trials; with failed_too (--retry_failed: the cause is fixed) the failed ones as well."""
        return [
            trial
            for trial in self.trials
            if self.kind[trial.number] == "interrupted"
            or (failed_too and self.kind[trial.number] == "counted" and trial.user_attrs.get("failure"))
        ]

    def running_longer_than(self, minutes):
        now = time.time()
        return [
            trial
            for trial in self.counted
            if trial.state == TrialState.RUNNING and now - trial.datetime_start.timestamp() > minutes * 60
        ]

    def running_in(self, worker):
        """The trial the worker ("host:pid") is running, or None."""
        return next(
            (
                t
                for t in self.counted
                if t.state == TrialState.RUNNING and t.user_attrs.get("run", {}).get("worker") == worker
            ),
            None,
        )

    def best(self):
        finished = [trial for trial in self.counted if trial.state == TrialState.COMPLETE]
        return min(finished, key=lambda trial: trial.value) if finished else None


def put_in_order(study, sweep):
    """What a command does before its first trial: fail the trials whose worker was killed (the heartbeat of a
    database storage; --fail_stale for any storage), then queue a re-run of every interrupted trial that has none
    yet, and with --retry_failed of every failed one. Each step reads the books anew: the one before changed them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # marked experimental
        optuna.storages.fail_stale_trials(study)  # a database storage: no heartbeat for GRACE_SECONDS
    if sweep.fail_stale:
        for trial in Books(study).running_longer_than(sweep.fail_stale):
            with contextlib.suppress(ValueError, RuntimeError):  # another worker failed it just now
                study.tell(trial.number, state=TrialState.FAIL)
            print(f"trial {folder_number(trial)} was running for over {sweep.fail_stale:g} minutes: counted as killed")
    for trial in Books(study).to_run_again(failed_too=sweep.retry_failed):
        run_again(study, trial)


def run_again(study, trial):
    """Queue a copy of the trial (same values, same folder) for the next free worker: Optuna's own retry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the callback is marked experimental
        RetryHeartbeatStaleTrialCallback()(study, trial)


# ============================================================================
# 4. One trial: the stage's own code, recorded in the trial's folder
# ============================================================================


class TrialFailed(Exception):
    """The stage refused the combination, or training crashed: the trial is recorded as failed."""


class GivenUp(Exception):
    """Another worker took this combination first, or --trials were all taken: the trial does not run."""


def trial_folder(sweep, number, params):
    parts = [f"{number:03d}"] + [f"{axis.name}={axis.label(params[axis.name])}" for axis in sweep.axes]
    name = re.sub(r"[^\w.+=-]", "-", "_".join(parts))[:150]  # values such as data/ci.txt become data-ci.txt
    return os.path.join(sweep.folder, name)


def stage_arguments(sweep, params, folder):
    """The stage's command-line arguments for one trial: the fixed ones, the swept values, and for a stage that
    records its runs (v12, babygpt_train.py) the trial's folder, replaced if a re-run finds it, without wandb
    unless asked for (one record per trial is enough: the folder and the study)."""
    argv = [*sweep.fixed]
    for axis in sweep.axes:
        argv += [f"--{axis.name}", axis.argument(params[axis.name])]
    if sweep.records_run_folder:
        argv += ["--out_dir", folder, "--overwrite"]
        if not option_given(sweep.fixed, "wandb_mode"):
            argv += ["--wandb_mode", "disabled"]
    return argv


def trial_command(sweep, argv):
    """The command that reproduces the trial on its own. It names the CPU threads the trial ran with: another
    count adds the numbers up in another order, and the losses differ in their last digits."""
    return f"OMP_NUM_THREADS={torch.get_num_threads()} {shlex.join(['python', sweep.stage, *argv])}"


def run_trial(sweep, study, trial, console):
    """Optuna's objective: the final val loss of one training run."""
    params = {axis.name: axis.suggest(trial) for axis in sweep.axes}
    books = Books(study)
    first = books.taken_first(trial.number)
    if first is not None:
        trial.set_user_attr("duplicate_of", first.number)
        raise GivenUp
    if books.surplus(trial.number, sweep.trials):
        trial.set_user_attr("surplus", True)
        raise GivenUp

    this = books.trial(trial.number)
    number = folder_number(this)
    folder = trial_folder(sweep, number, params)
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted run of this trial left
    os.makedirs(folder)
    argv = stage_arguments(sweep, params, folder)
    command = trial_command(sweep, argv)
    worker = f"{socket.gethostname()}:{os.getpid()}"  # which machine and process ran it
    trial.set_user_attr("run", {"folder": folder, "command": command, "worker": worker})
    for name in ("interrupted", "failure"):  # a re-run starts with the attributes of the trial it repeats
        if this.user_attrs.get(name):
            trial.set_user_attr(name, None)
    with open(os.path.join(folder, "command.txt"), "w", encoding="utf-8") as f:
        f.write(command + "\n")
    values = " ".join(f"{axis.name}={axis.label(params[axis.name])}" for axis in sweep.axes)
    print(f"trial {number} {values}: started (log: {os.path.join(folder, 'log.txt')})", file=console, flush=True)

    with open(os.path.join(folder, "log.txt"), "w", encoding="utf-8", buffering=1) as log:
        log.write(f"$ {command}\n")
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            result = {"history": []}  # what the run shows: kept for a trial that fails half way too
            try:
                return run_stage(sweep, trial, argv, folder, result)
            except (optuna.TrialPruned, KeyboardInterrupt):
                raise
            except SystemExit as e:  # the stage's parser refused a value
                reason = parser_message(e)
            except ValueError as e:  # the stage refused the combination, or the loss became NaN
                reason = first_line(e)
            except (torch.cuda.OutOfMemoryError, MemoryError):
                reason = "out of memory: try a smaller batch_size, block_size or model"
            except OSError as e:
                if e.errno in DISK_FULL:  # every next trial would fail too: the sweep stops (write_error)
                    e.filename = e.filename or folder  # a failed write() names no file: the trial's folder
                    raise
                traceback.print_exc(file=log)
                reason = f"{type(e).__name__}: {first_line(e)}"
            except Exception as e:  # a crash in the stage: the sweep goes on, the log keeps the traceback
                traceback.print_exc(file=log)
                reason = f"{type(e).__name__}: {first_line(e)}"
            print(f"error: {reason}")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # give the failed trial's GPU memory back before the next one
    if result["history"]:
        trial.set_user_attr("result", result)
    trial.set_user_attr("failure", reason)
    raise TrialFailed(reason)


def run_stage(sweep, trial, argv, folder, result):
    """Run the trial through the stage's own entry point, run(args, ...), as `python STAGE ARGV` runs it, and
    report every evaluation to Optuna (the pruner and optuna-dashboard see it at once). Fill result (parameters,
    history, final metrics, the opening of the sample) and save it in the study in one write (each write to
    SQLite waits for the disk). The trial's folder then holds what the stage writes:
      babygpt_train.py   its run folder: metrics.csv, loss_curve.png, samples.txt, checkpoint.pt and best.pt,
                         which `babygpt_train.py --resume FOLDER` continues
      v12                its run folder
      v1 .. v11          they record nothing themselves: v12's recorder records them, and the checkpoint names
                         the stage, so that babygpt_sample.py rebuilds that stage's model
    Every one is run alike: run(args, make_recorder=...) with a subclass of its RunRecorder (v12's where a stage
    has none) whose report() returns True to stop the trial at that evaluation (the run folder is finished
    all the same)."""
    stage = sweep.stage_module
    args = stage.parse_args(argv)
    pruned_at = []

    def evaluated(metrics):
        """True: stop the trial here (pruned). Never at the last evaluation: nothing is left to save there."""
        result["history"].append([metrics[k] for k in ("step", "elapsed_seconds", "train_loss", "val_loss")])
        trial.report(metrics["val_loss"], metrics["step"])
        if sweep.prune and metrics["step"] < args.max_iters and trial.should_prune():
            pruned_at.append(metrics["step"])
            print(f"pruned at step {metrics['step']}: val loss {metrics['val_loss']:.4f}")
            return True
        return False

    recorder_class = getattr(stage, "RunRecorder", RunRecorder)
    recorders = []

    class TrialRecorder(recorder_class):
        def report(self, metrics):
            super().report(metrics)
            return evaluated(metrics)

    def make_recorder(*made):
        recorders.append(TrialRecorder(*made, stage=os.path.basename(sweep.stage)))
        return recorders[-1]

    if not sweep.records_run_folder:  # v1 .. v11: v12's recorder needs these
        args.out_dir, args.overwrite, args.wandb_mode = folder, True, "disabled"
    outcome = stage.run(args, make_recorder=make_recorder)
    parameters = sum(p.numel() for p in recorders[0].model.parameters())

    prompt, text = outcome.samples[0] if outcome.samples else ("", "")
    keys = ("step", "train_loss", "val_loss", "val_perplexity", "tokens_per_second", "elapsed_seconds")
    final = {key: outcome.final[key] for key in keys}
    result.update(parameters=parameters, final=final, sample=text[len(prompt) :][:SAMPLE_OPENING_CHARACTERS])
    trial.set_user_attr("result", result)
    if pruned_at:
        raise optuna.TrialPruned(f"pruned at step {pruned_at[0]}")
    return final["val_loss"]


# ============================================================================
# 5. Workers: trials one after another, in this process and --jobs - 1 others
# ============================================================================


def run_trials(sweep, study, deadline, console, stop=None):
    """Run trials until the grid is done, --trials are reached, the deadline passes or stop is set. Ctrl-C
    marks the running trial as interrupted and queues its re-run before letting the interruption through."""
    current = {}

    def objective(trial):
        current["trial"] = trial
        try:
            return run_trial(sweep, study, trial, console)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)  # Optuna records it as failed: this says "run it again"
            raise

    try:
        while Books(study).work_left(sweep) and (deadline is None or time.time() < deadline):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            current.clear()
            started = time.time()
            study.optimize(objective, n_trials=1, catch=(TrialFailed, GivenUp))
            if "trial" in current:
                print_progress(sweep, Books(study), current["trial"].number, time.time() - started, console)
                write_summary(sweep, study, pictures=False)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the bookkeeping
        if "trial" in current:
            number = current["trial"].number
            trial = Books(study).trial(number)
            if trial.state == TrialState.RUNNING:  # interrupted before Optuna could record it
                study.tell(number, state=TrialState.FAIL)
                trial = Books(study).trial(number)
            if Books.stopped_without_result(trial):  # not when Ctrl-C came between trials
                run_again(study, trial)  # only its own trial: other workers queue theirs
                print(f"trial {folder_number(trial)} interrupted: it runs again when the sweep goes on", file=console)
        raise


def print_progress(sweep, books, number, seconds, console):
    trial = books.trial(number)
    if books.kind[number] != "counted":
        return  # given up before it started
    done, _, _, _ = books.progress()
    values = " ".join(f"{axis.name}={axis.label(trial.params[axis.name])}" for axis in sweep.axes)
    if trial.state == TrialState.COMPLETE:
        best = books.best()
        result = f"val loss {trial.value:.4f} (best: {best.value:.4f}, trial {folder_number(best)})"
    elif trial.state == TrialState.PRUNED:
        final = trial.user_attrs.get("result", {}).get("final", {})
        result = f"pruned at step {final.get('step')}, val loss {final.get('val_loss', math.nan):.4f}"
    else:
        result = f"failed: {trial.user_attrs.get('failure') or 'interrupted'}"
    of = f"{done}/{sweep.planned}" if sweep.planned else f"{done}"
    left = ""
    if sweep.planned:
        durations = [t.duration.total_seconds() for t in books.counted if t.duration is not None]
        if durations and done < sweep.planned:
            left = f" | about {format_seconds(statistics.mean(durations) * (sweep.planned - done) / sweep.jobs)} left"
    print(f"[{of}] trial {folder_number(trial)} {values}: {result} | {format_seconds(seconds)}{left}", file=console)
    console.flush()


def worker_main(argv, threads, deadline, stop):
    """A worker process of --jobs N: its share of the CPU threads, then trials until none is left or stop is set.
    It starts with Ctrl-C held back (inherited), so that one pressed while it imports arrives here, cleanly."""
    signal.signal(signal.SIGINT, interrupt_once)
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        hold_ctrl_c(False)
        sweep = prepare(argv)
        study = open_study(sweep, create_folder=False, requeue=False)  # the main process has done it
        run_trials(sweep, study, deadline, sys.stdout, stop)
    except KeyboardInterrupt:
        sys.exit(130)
    except ValueError as e:
        sys.exit(f"error: {e}")
    except OSError as e:
        sys.exit(write_error(sweep, e))


def write_error(sweep, error):
    """The one line a sweep stops with when a write fails (a full disk, a folder taken away): the file, why,
    and that nothing finished is lost (the study holds every finished trial)."""
    where = f" {error.filename}" if error.filename else f" in {sweep.folder}"
    why = error.strerror or first_line(error)
    return (
        f"error: cannot write{where}: {why}; the finished trials are kept in the study {sweep.shown_storage}:"
        " free some space, then run the same command to go on"
    )


def hold_ctrl_c(hold):
    """Hold Ctrl-C back (it is delivered when released), where the system allows it (not on Windows)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK if hold else signal.SIG_UNBLOCK, {signal.SIGINT})


def interrupt_once(signum, frame):
    """The first Ctrl-C stops the trial; later ones are ignored while the books are put in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_jobs(sweep, study, deadline):
    """--jobs N: this process and N - 1 worker processes run trials of the same study at once, each with its
    share of the CPU threads. Processes, not threads: tiny models spend most of their time in Python, which
    one process runs one thread at a time (bench/measure/sweep_jobs.py measures both). Returns the workers that
    stopped with an error or were killed, as (process id, exit code)."""
    cores = torch.get_num_threads()
    threads = max(1, cores // sweep.jobs)
    context = multiprocessing.get_context("spawn")  # the same on Linux, macOS and Windows
    stop = context.Event()
    workers = [
        context.Process(target=worker_main, args=(sweep.argv, threads, deadline, stop)) for _ in range(sweep.jobs - 1)
    ]
    torch.set_num_threads(threads)
    try:
        hold_ctrl_c(True)  # the workers inherit this and let Ctrl-C through once they can handle it
        try:
            for worker in workers:
                worker.start()
        finally:
            hold_ctrl_c(False)
        run_trials(sweep, study, deadline, sys.stdout)
        for worker in workers:
            worker.join()
    except KeyboardInterrupt:  # the workers got the Ctrl-C too (one process group) unless still starting
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop.set()  # a worker still starting sees this before its first trial
        for worker in workers:
            if worker.pid is not None and worker.is_alive() and os.name == "posix":
                os.kill(worker.pid, signal.SIGINT)
        for worker in workers:
            worker.join()
        raise
    finally:
        torch.set_num_threads(cores)
    return [(worker.pid, worker.exitcode) for worker in workers if worker.exitcode not in (0, None)]


def worker_stopped(sweep, books, pid, exitcode):
    """One line on a worker process that ended badly. One that printed an error said why above; one that was
    killed (SIGKILL: out of memory, or by hand) said nothing, and left its trial 'running' in the study."""
    if exitcode > 0:
        return f"worker process {pid} stopped with an error (above)"
    try:
        how = f"was killed ({signal.Signals(-exitcode).name})"
    except ValueError:
        how = f"was killed (signal {-exitcode})"
    trial = books.running_in(f"{socket.gethostname()}:{pid}")
    if trial is None:
        return f"worker process {pid} {how} between trials: nothing was lost"
    return (
        f"worker process {pid} {how} during trial {folder_number(trial)}, which stays 'running': {how_to_rerun(sweep)}"
    )


def how_to_rerun(sweep):
    """What runs a trial again whose worker was killed, on this sweep's storage."""
    if has_heartbeat(sweep):
        return f"run the same command again in {GRACE_SECONDS} seconds (its heartbeat has stopped) and it runs again"
    return "a journal file notices no killed worker: run the same command with --fail_stale MINUTES to run it again"


# ============================================================================
# 6. The report: summary.md, summary.csv, means.csv and the pictures
# ============================================================================

STATE_ORDER = {"finished": 0, "pruned": 1, "failed": 2, "interrupted": 3, "running": 4, "waiting": 5}


def summary_rows(sweep, books):
    """One row per combination tried, best first: finished by final val loss, then pruned, failed, running."""
    rows = []
    for trial in books.counted:
        result = trial.user_attrs.get("result", {}) if trial.state != TrialState.WAITING else {}  # not its own yet
        final, run = result.get("final", {}), trial.user_attrs.get("run", {})
        state = {
            TrialState.COMPLETE: "finished",
            TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed",
            TrialState.RUNNING: "running",
            TrialState.WAITING: "waiting",
        }[trial.state]
        note = trial.user_attrs.get("failure") or ""
        if state == "pruned":
            note = f"at step {final.get('step')}"
        if state == "failed" and not trial.user_attrs.get("failure"):
            note = "its worker stopped every time it ran (out of memory?)"
        train_loss, val_loss = final.get("train_loss"), final.get("val_loss")
        gap = val_loss - train_loss if val_loss is not None and train_loss is not None else None
        params = {axis.name: trial.params.get(axis.name) for axis in sweep.axes}
        rows.append(
            {
                "rank": None,
                "trial": folder_number(trial),
                "optuna_trial": trial.number,  # as optuna-dashboard shows it
                "state": state,
                "note": note,
                "values": params,
                "labels": {n: sweep_axis(sweep, n).label(v) if v is not None else "" for n, v in params.items()},
                "parameters": result.get("parameters"),
                "step": final.get("step"),
                "val_loss": val_loss,
                "val_perplexity": final.get("val_perplexity"),
                "train_loss": train_loss,
                "train_val_gap": gap,
                "overfitting": gap is not None and gap >= OVERFIT_GAP,
                "wall_seconds": trial.duration.total_seconds() if trial.duration is not None else None,
                "tokens_per_second": final.get("tokens_per_second"),
                "sample": result.get("sample", ""),
                "folder": run.get("folder", ""),
                "worker": run.get("worker", ""),
                "history": result.get("history", []),
            }
        )
    rows.sort(key=lambda r: (STATE_ORDER[r["state"]], math.inf if r["val_loss"] is None else r["val_loss"], r["trial"]))
    for rank, row in enumerate(r for r in rows if r["state"] == "finished"):
        row["rank"] = rank + 1
    return rows


def sweep_axis(sweep, name):
    return next(axis for axis in sweep.axes if axis.name == name)


def mean_val_loss_by_value(sweep, rows):
    """For each swept parameter, the mean final val loss per value, over the finished trials only:
    {name: [{"label", "mean" (None without a finished trial), "trials" (how many the mean covers),
    "left_out" (["trial 4 pruned at step 2", "trial 5 failed"])}, ...]}. A pruned trial stopped early and a
    failed one has no final loss, so neither is in the mean; they are named beside it, since a mean over
    fewer trials says less. A range with many distinct values is cut into four groups of about equal size."""
    left_out = [row for row in rows if row["state"] in ("pruned", "failed")]
    means = {}
    for axis in sweep.axes:
        name = axis.name
        finished = sorted((row for row in rows if row["state"] == "finished"), key=lambda row: row["values"][name])
        if not axis.is_range or len({row["values"][name] for row in finished}) <= 6:
            values = axis.values if not axis.is_range else sorted({row["values"][name] for row in finished + left_out})
            groups = [(axis.label(value), [r for r in finished if r["values"][name] == value]) for value in values]
            group_of = {value: i for i, value in enumerate(values)}.get
        else:
            quarters = [finished[len(finished) * i // 4 : len(finished) * (i + 1) // 4] for i in range(4)]
            groups = [
                (f"{axis.label(q[0]['values'][name])} to {axis.label(q[-1]['values'][name])}", q) for q in quarters
            ]
            starts = [q[0]["values"][name] for q in quarters[1:]]
            group_of = lambda value, starts=starts: sum(value >= start for start in starts)  # its quarter
        named = [[] for _ in groups]
        for row in left_out:
            step = f" at step {row['step']}" if row["state"] == "pruned" and row["step"] is not None else ""
            named[group_of(row["values"][name])].append(f"trial {row['trial']} {row['state']}{step}")
        means[name] = [
            {
                "label": label,
                "mean": statistics.mean(row["val_loss"] for row in members) if members else None,
                "trials": len(members),
                "left_out": names,
            }
            for (label, members), names in zip(groups, named, strict=True)
            if members or names
        ]
    return means


def parameter_importances(sweep, study, rows):
    """Optuna's importances (PED-ANOVA by default): how much each parameter explains of the spread in val loss.
    None when the sweep is too small for them to mean anything."""
    if len(sweep.axes) < 2 or sum(row["state"] == "finished" for row in rows) < IMPORTANCE_MIN_TRIALS:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.importance.get_param_importances(study)
    except Exception:  # too few distinct values, or too few trials for the evaluator
        return None


def format_row(row, sweep):
    """A row as text for summary.csv and summary.md."""

    def number(value, digits):
        return "" if value is None else f"{value:.{digits}f}"

    return {
        "rank": row["rank"] or "",
        "trial": row["trial"],
        "optuna_trial": row["optuna_trial"],
        **row["labels"],
        "parameters": "" if row["parameters"] is None else row["parameters"],
        "val_loss": number(row["val_loss"], 4),
        "val_perplexity": number(row["val_perplexity"], 2),
        "train_loss": number(row["train_loss"], 4),
        "train_val_gap": number(row["train_val_gap"], 4),
        "overfitting": "yes" if row["overfitting"] else "",
        "wall_seconds": number(row["wall_seconds"], 1),
        "tokens_per_second": number(row["tokens_per_second"], 0),
        "state": row["state"],
        "note": row["note"],
        "sample": row["sample"],
        "folder": os.path.basename(row["folder"]),
        "worker": row["worker"],
    }


def write_summary(sweep, study, pictures):
    """summary.csv, means.csv and summary.md, from the study alone (so any worker on any machine can write
    it), and with pictures=True the three charts."""
    rows = summary_rows(sweep, Books(study))
    table = [format_row(row, sweep) for row in rows]
    fields = list(table[0]) if table else ["rank", "trial", "state"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    write_file(os.path.join(sweep.folder, "summary.csv"), buffer.getvalue().encode("utf-8"))

    means = mean_val_loss_by_value(sweep, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["param", "value", "mean_val_loss", "finished_trials", "not_in_the_mean"])
    for name, groups in means.items():
        for group in groups:
            mean = "" if group["mean"] is None else f"{group['mean']:.4f}"
            writer.writerow([name, group["label"], mean, group["trials"], "; ".join(group["left_out"])])
    write_file(os.path.join(sweep.folder, "means.csv"), buffer.getvalue().encode("utf-8"))

    importances = parameter_importances(sweep, study, rows)
    charts = draw_charts(sweep, rows, means) if pictures else []
    markdown = summary_markdown(sweep, rows, table, means, importances, charts)
    write_file(os.path.join(sweep.folder, "summary.md"), markdown.encode("utf-8"))


def write_file(path, data):
    """write_atomically, with the file's name on its OSError: a write() that fails (a full disk) names none,
    and the temporary file's name would mean nothing to a learner."""
    try:
        write_atomically(path, data)
    except OSError as e:
        if not e.filename or str(e.filename).endswith(".tmp"):
            e.filename = path
        raise


def markdown_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " / ")


def summary_markdown(sweep, rows, table, means, importances, charts):
    counts = {state: sum(row["state"] == state for row in rows) for state in STATE_ORDER}
    tally = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    fixed = shlex.join(sweep.fixed) or "(none: the stage's defaults)"
    lines = [
        f"# Sweep {sweep.name}",
        "",
        f"Stage `{sweep.stage_name}`, {sweep.search} search over "
        + ", ".join(f"`{axis.name}={axis.spec}`" for axis in sweep.axes)
        + f"; fixed options `{fixed}`.",
        f"{len(rows)} trials: {tally or 'none yet'}. Study: `{sweep.shown_storage}` (study name `{sweep.name}`).",
        "",
        "## Trials, best first",
        "",
        "Ranked by the final val loss (lower is better). gap = val loss - train loss; "
        f"⚠ marks a gap of {OVERFIT_GAP} or more: compare it with the other trials' gaps. A gap that grows as "
        "a run goes on means the model learns the training text by heart (a model too large for its data, or "
        "trained too long); a gap there from the start is the val text being other text. A pruned trial stopped "
        "early, so its loss "
        "is not comparable; a failed one says why. Each trial's folder holds command.txt, log.txt, "
        "metrics.csv, loss_curve.png, samples.txt and checkpoint.pt.",
        "",
    ]
    names = [axis.name for axis in sweep.axes]
    header = ["rank", "trial", *names, "parameters", "val loss", "val ppl", "train loss", "gap", "time", "tokens/s"]
    header += ["state", "sample"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, text in zip(rows, table, strict=True):
        gap = (
            f"{row['train_val_gap']:+.4f}{' ⚠' if row['overfitting'] else ''}"
            if row["train_val_gap"] is not None
            else ""
        )
        state = f"{row['state']}: {row['note']}" if row["note"] else row["state"]
        cells = [text["rank"], f"[{row['trial']}]({text['folder']}/)" if text["folder"] else row["trial"]]
        cells += [text[name] for name in names]
        cells += [f"{row['parameters']:,}" if row["parameters"] else "", text["val_loss"], text["val_perplexity"]]
        cells += [text["train_loss"], gap, format_seconds(row["wall_seconds"]) if row["wall_seconds"] else ""]
        cells += [f"{row['tokens_per_second']:,.0f}" if row["tokens_per_second"] else "", state, row["sample"]]
        lines.append("| " + " | ".join(markdown_cell(cell) for cell in cells) + " |")
    lines += ["", "## Mean final val loss per value", ""]
    lines += [
        "Each value's mean over the finished trials that used it (the other parameters vary within it). A pruned"
        " trial stopped early and a failed one has no final loss: they are not in the mean, and named beside it;"
        " a mean over fewer trials says less."
    ]
    for name, groups in means.items():
        if groups:
            best = min((g for g in groups if g["mean"] is not None), key=lambda g: g["mean"], default=None)
            lines += ["", f"| {name} | mean val loss | finished trials | not in the mean |", "|---|---|---|---|"]
            for group in groups:
                mean = "" if group["mean"] is None else f"{group['mean']:.4f}{' ← best' if group is best else ''}"
                cells = [group["label"], mean, group["trials"], ", ".join(group["left_out"])]
                lines.append("| " + " | ".join(markdown_cell(cell) for cell in cells) + " |")
    if importances is not None:
        lines += ["", "## Parameter importances", ""]
        lines += [
            "How much of the spread in final val loss each parameter explains (Optuna's "
            "`get_param_importances`); with few trials, a hint rather than a measurement.",
            "",
            "| parameter | importance |",
            "|---|---|",
        ]
        lines += [f"| {name} | {value:.2f} |" for name, value in importances.items()]
    if charts:
        lines += ["", "## Pictures", ""]
        lines += [f"![{caption}]({file})\n\n{caption}\n" for file, caption in charts]
    hidden = " (the password is shown as ***: type yours in its place)" if sweep.shown_storage != sweep.storage else ""
    lines += ["", f"Resume or extend: `python babygpt_sweep.py {shlex.join(sweep.shown_argv)}`{hidden}", ""]
    return "\n".join(lines)


def trial_label(row, sweep):
    return f"{row['trial']}: " + " ".join(f"{axis.name}={row['labels'][axis.name]}" for axis in sweep.axes)


def save_figure(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    write_file(path, buffer.getvalue())


def draw_charts(sweep, rows, means):
    """curves.png, val_loss_by_param.png and loss_vs_time.png: [(file name, caption), ...]. Values in
    Chinese (a corpus path, say) are drawn in a CJK font when there is one."""
    with font_context("".join(trial_label(row, sweep) for row in rows)):
        return draw_charts_in_current_font(sweep, rows, means)


def draw_charts_in_current_font(sweep, rows, means):
    from matplotlib.figure import Figure  # no pyplot: nothing global, no screen needed

    drawn = [row for row in rows if row["history"]]
    charts = []
    if drawn:
        for file, x_index, x_label, caption in (
            ("curves.png", 0, "step", "Val loss of every trial against training step."),
            (
                "loss_vs_time.png",
                1,
                "wall time (seconds)",
                "Val loss against wall time: what each trial's loss cost (left is cheaper, lower is better).",
            ),
        ):
            figure = Figure(figsize=(9, 5), layout="constrained")
            ax = figure.add_subplot()
            for row in drawn:
                style = {"finished": "-", "pruned": "--"}.get(row["state"], ":")
                xs, ys = [h[x_index] for h in row["history"]], [h[3] for h in row["history"]]
                ax.plot(xs, ys, style, marker=".", label=f"{trial_label(row, sweep)} ({row['state']})")
            ax.set(xlabel=x_label, ylabel="val loss", title=f"sweep {sweep.name}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
            save_figure(figure, os.path.join(sweep.folder, file))
            charts.append((file, caption))

    finished = [row for row in rows if row["state"] == "finished"]
    if finished:
        figure = Figure(figsize=(4 * len(sweep.axes) + 1, 4), layout="constrained")
        for i, axis in enumerate(sweep.axes):
            ax = figure.add_subplot(1, len(sweep.axes), i + 1)
            if axis.kind is str:  # text values: one column each
                positions = {label: j for j, label in enumerate(axis.labels or [])}
                ax.set_xticks(list(positions.values()), list(positions))
                xs = [positions[row["labels"][axis.name]] for row in finished]
            else:
                xs = [row["values"][axis.name] for row in finished]
                if axis.log or (min(xs) > 0 and max(xs) >= 3 * min(xs)):
                    ax.set_xscale("log")  # learning rates and the like: each step a factor
                if not axis.is_range:
                    ax.set_xticks(axis.values, axis.labels)
                    ax.minorticks_off()
            ax.scatter(xs, [row["val_loss"] for row in finished], label="one trial")
            if not axis.is_range:
                groups = [group for group in means[axis.name] if group["mean"] is not None]
                mean_xs = [
                    positions[g["label"]] if axis.kind is str else axis.values[axis.labels.index(g["label"])]
                    for g in groups
                ]
                ax.plot(mean_xs, [g["mean"] for g in groups], "s-", color="C1", label="mean per value")
            ax.set(xlabel=axis.name, ylabel="final val loss" if i == 0 else None)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        figure.suptitle(f"sweep {sweep.name}: final val loss against each parameter")
        save_figure(figure, os.path.join(sweep.folder, "val_loss_by_param.png"))
        charts.append(("val_loss_by_param.png", "Final val loss against each parameter, with the mean per value."))
    return charts


# ============================================================================
# main
# ============================================================================


def busy_note(load_average=None, cores=None):
    """A line saying the machine is already busy as the sweep starts, or None. Busy: the load average over the
    last minute (Unix's count of processes running or waiting for a core, os.getloadavg(); not on Windows) is at
    least half the cores. Other work then slows every trial, and the summary's time and tokens/s with it."""
    if load_average is None:
        if not hasattr(os, "getloadavg"):
            return None
        load_average = os.getloadavg()[0]
    cores = cores or os.cpu_count() or 1
    if load_average < max(1.0, cores / 2):
        return None
    return (
        f"note: this machine is already busy (load average {load_average:.1f} over the last minute, {cores} cores):"
        " the trials' time and tokens/s will be worse than on an idle machine"
    )


def main(argv=None):
    console_safe_output()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own progress lines say what happened
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:  # every problem with the input is one line, before anything is written
        sweep = prepare(argv)
        study = open_study(sweep, create_folder=True)
    except ValueError as e:
        sys.exit(f"error: {e}")

    deadline = time.time() + sweep.timeout * 60 if sweep.timeout else None
    done, running, waiting, _ = Books(study).progress()
    planned = f"{sweep.planned} trials" if sweep.planned else "trials until the timeout"
    print(
        f"sweep {sweep.name}: {sweep.search} search, {planned} of {sweep.stage_name}"
        f"{f', {sweep.jobs} at once' if sweep.jobs > 1 else ''}; study {sweep.shown_storage}"
        + (f" ({done} done already, {running} running elsewhere)" if done or running else "")
    )
    note = busy_note()
    if note:
        print(note)
    interrupted = False
    stopped = []
    unwritten = []  # an OSError of writing: a full disk, a folder taken away
    previous_handler = signal.signal(signal.SIGINT, interrupt_once)
    try:
        if sweep.jobs > 1:
            stopped = run_jobs(sweep, study, deadline)
        else:
            run_trials(sweep, study, deadline, sys.stdout)
    except KeyboardInterrupt:
        interrupted = True
    except OSError as e:
        unwritten.append(e)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            write_summary(sweep, study, pictures=True)
        except OSError as e:
            unwritten.append(e)
        remove_orphaned_temporary_files(sweep.folder)
        signal.signal(signal.SIGINT, previous_handler)
    if unwritten:
        sys.exit(write_error(sweep, unwritten[0]))

    summary = os.path.join(sweep.folder, "summary.md")
    if interrupted:
        print(f"\ninterrupted: finished trials are kept; run the same command to go on. Summary: {summary}")
        sys.exit(130)
    books = Books(study)
    for pid, exitcode in stopped:
        print(worker_stopped(sweep, books, pid, exitcode))
    rows = summary_rows(sweep, books)
    tally = ", ".join(
        f"{sum(r['state'] == s for r in rows)} {s}" for s in STATE_ORDER if any(r["state"] == s for r in rows)
    )
    print(f"\n{len(rows)} trials ({tally or 'none'}). Summary: {summary}")
    finished = [row for row in rows if row["state"] == "finished"]
    if finished:
        best = finished[0]
        print(f"best: trial {trial_label(best, sweep)}, val loss {best['val_loss']:.4f} ({best['folder']})")
    if any(row["state"] == "failed" for row in rows):
        print("failed trials are kept as they are; once their cause is fixed, add --retry_failed to run them again")
    killed_here = [books.running_in(f"{socket.gethostname()}:{pid}") for pid, _ in stopped]  # named above
    running = sum(row["state"] == "running" for row in rows) - sum(trial is not None for trial in killed_here)
    if running:
        print(
            f"{running} {'trials are' if running > 1 else 'trial is'} running in another worker; if that worker was"
            f" killed instead, {how_to_rerun(sweep)}"
        )
    if rows and all(row["state"] == "failed" for row in rows):  # nothing to compare: the command did not work
        sys.exit(f"error: every trial failed; why is in {summary}")


if __name__ == "__main__":
    main()
