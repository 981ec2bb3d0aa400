"""Shared by the long benches: run stages in worker processes, keep every result, resume after a stop.

The one home of the code the benches share (the stages, their CPU command, the candidate initialisations,
the machine line, results files, README blocks, the job runner). It imports nothing from bench/: the
benches import it, never each other.

A bench describes each run as a job (a dict with a unique "key", the stage id and its command-line
arguments; a job may name a "module" instead of a stage, a tool whose run(args) works as the stages'
does, e.g. babygpt_train). run_jobs() starts up to --jobs workers at once, each one
`python -m bench.runs --worker JOB`, which imports the stage and calls its own entry point run(args) (the
stage's real code path, nothing copied) and prints the last evaluation's metrics as one JSON line. Each finished
job is appended to a JSONL file at once, so a bench stopped half way (Ctrl-C, a closed laptop, the end
of a session) loses nothing: run the same command again and only the missing jobs run.
"""

import argparse
import contextlib
import importlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import time

import torch.nn as nn

from babygpt.checkpoint import STAGE_MODULES  # the one registry of the stages

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# what a bench on tiny shakespeare says when the text is missing
TINY_SHAKESPEARE = "build it with: python data/prepare.py shakespeare"

# v11 and v12 default to a 15.4M-parameter model that needs a GPU. On a CPU the README
# gives this smaller command instead; it is the one benchmarked here.
CPU_COMMAND = {
    "v11": "--max_iters 1500 --eval_interval 250 --eval_iters 20 --batch_size 16 --block_size 64"
    " --n_embed 128 --n_head 4 --n_layer 4 --learning_rate 1e-3 --dropout 0.1",
}
CPU_COMMAND["v12"] = CPU_COMMAND["v11"]  # the same model, recorded


# ----------------------------------------------------------------------------
# Weight initialisations: bench/measure/init.py compares them; a job that names one ("init") runs with it


def gpt2_init(self, module):
    """GPT-2's: every Linear and Embedding weight drawn from N(0, 0.02), biases zero."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def pytorch_init(self, module):
    """PyTorch's own defaults: Embedding N(0, 1), Linear uniform within 1/sqrt(fan_in)."""


def pytorch_zero_head_init(self, module):
    """PyTorch's defaults, but the output head starts at zero: every first prediction is uniform."""
    if module is getattr(self, "lm_head", None):
        nn.init.zeros_(module.weight)
        nn.init.zeros_(module.bias)


def gpt2_pytorch_head_init(self, module):
    """GPT-2's everywhere but the output head, which keeps PyTorch's default (uniform within 1/sqrt(n_embed))."""
    if module is not getattr(self, "lm_head", None):
        gpt2_init(self, module)


INITS = {
    "gpt2": gpt2_init,
    "pytorch": pytorch_init,
    "pytorch_zero_head": pytorch_zero_head_init,
    "gpt2_pytorch_head": gpt2_pytorch_head_init,
}


# ----------------------------------------------------------------------------


def machine_description(language="en"):
    """The processor, its cores, Python and torch, as one phrase in English ("en") or Chinese ("zh")."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    english = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"
    return in_chinese(english) if language == "zh" else english


def in_chinese(machine):
    """machine_description()'s English phrase (as results files keep it) in Chinese; other text unchanged."""
    found = re.fullmatch(r"(.*), (\d+) cores, Python ([^,]+), torch ([^,]+)(, .*)?", machine)
    if found is None:
        return machine
    cpu, cores, python, torch_version, rest = found.groups()
    rest = "，" + rest[2:] if rest else ""
    return f"{cpu}（{cores} 核），Python {python}，torch {torch_version}{rest}"


def bench_parser(doc, data, results=None, report=None, epilog=False):
    """The argument parser a bench starts from: its docstring's first line as the description, no abbreviated
    options, every error in one line (v12's parser), --data (default `data`), and --results (default
    `results`) and --report (writes into `report`, a phrase naming the pages) when given. epilog: the rest of
    the docstring under --help."""
    from babygpt_v12_wandb import OneLineErrorParser  # a bad option is one line, with did-you-mean

    extra = {"formatter_class": argparse.RawDescriptionHelpFormatter, "epilog": doc.split("\n\n", 1)[1]}
    parser = OneLineErrorParser(description=doc.splitlines()[0], allow_abbrev=False, **(extra if epilog else {}))
    parser.add_argument("--data", default=data, help="corpus (default: %(default)s)")
    if results is not None:
        parser.add_argument("--results", default=results, help="JSONL file of results (default: %(default)s)")
        add_again_option(parser)
    if report is not None:
        parser.add_argument("--report", action="store_true", help=f"write the tables into {report}")
    return parser


def add_again_option(parser):
    """--again: measure again what the results file already holds (the newest result of a run is the one shown)."""
    parser.add_argument(
        "--again",
        action="store_true",
        help="measure again the runs already recorded (without it they are shown, not run again)",
    )


def corpus_path(data, hint="build it with: python data/prepare.py"):
    """The corpus file `data`, as given or else below the repository root. Exits with one line that ends
    with `hint` when neither exists."""
    for path in (data, os.path.join(ROOT, data)):
        if os.path.isfile(path):
            return os.path.abspath(path)
    sys.exit(f"error: {data} not found; {hint}")


def print_table(args, name, table, docs, missing):
    """Print table(args) (a Markdown table, None while runs are missing: then exit with error `missing`);
    with args.report, also write it into docs (the English page, then its Chinese twin) as block `name`."""
    text = table(args)
    if text is None:
        sys.exit(f"error: {missing}")
    print(f"\n{text}")
    if args.report:
        fill_measured_twins(name, lambda zh: table(args, zh), docs)


def load_results(path):
    """key -> result of every finished job in a JSONL results file (a missing file: none yet)."""
    results = {}
    if os.path.isdir(path):
        sys.exit(f"error: {path} is a folder; results go into a file (JSONL)")
    if os.path.exists(path):
        drop_a_torn_last_line(path)
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    result = json.loads(line)
                    results[result["key"]] = result
                except (ValueError, TypeError, KeyError):
                    sys.exit(f"error: {path}, line {number}: not a result (a JSON object with a key); delete that line")
    return results


def read_json(path, rerun):
    """A results file of one JSON object; exits with one line that ends `run: {rerun}` when there is none."""
    if not os.path.exists(path):
        sys.exit(f"error: {os.path.relpath(path, ROOT)} not found; run: {rerun}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, data):
    """Write a results file of one JSON object (one space of indent, UTF-8 as it is), and say so. Written whole
    or not at all: a full disk is one line, and the file before it is kept."""
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        sys.exit(f"error: cannot write {path}: {e.strerror or e}; the results file before it is kept")
    print(f"wrote {os.path.relpath(path, ROOT)}")


def record_parser(doc, what):
    """The parser of a script that records a measurement and writes pages from it: --write (the pages from the
    record only: `what`) or --check (write nothing; exit 1 if a page would change). Returns (parser, their group)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0], allow_abbrev=False)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write the pages from {what} only")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page would change")
    return parser, mode


def recorded(args, path, measure, rerun):
    """The record such a script writes its pages from: measure() saved to path first (not with --write or
    --check), then read back; `rerun` is the command a missing record asks for."""
    if not (args.write or args.check):
        write_json(path, measure())
    return read_json(path, rerun)


def exit_if_stale(problems):
    """--check's verdict: exit 1 with one line per page block that differs (problems), else carry on."""
    if problems:
        sys.exit("\n".join(problems))


def drop_a_torn_last_line(path):
    """A bench killed while it appended a result (or stopped by a full disk) leaves half a line at the end, with
    no newline: it is no result, and the next result appended behind it would spoil that one too. It is taken
    out, and said."""
    with open(path, "rb") as f:
        data = f.read()
    if not data or data.endswith(b"\n"):
        return
    kept = data[: data.rfind(b"\n") + 1]
    try:
        with open(path, "r+b") as f:
            f.truncate(len(kept))
    except OSError as e:
        sys.exit(f"error: cannot repair {path} (half a line at its end): {e.strerror}")
    print(
        f"note: {path}: took out half a line at its end ({len(data) - len(kept)} bytes, from a bench stopped while"
        " it wrote, or a full disk): that run is measured again",
        file=sys.stderr,
    )


def append_result(path, result):
    """Append one finished result to a JSONL results file (load_results reads it back), making its folder."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(result, ensure_ascii=False) + "\n")
    except OSError as e:  # a full disk: one line, and every result before this one is kept
        sys.exit(
            f"error: cannot write {path}: {e.strerror or e}; the results before this one are kept: free some space,"
            " then run the same command (it measures only what is missing)"
        )


def fill_measured(path, blocks):
    """Write each generated block into a document: blocks maps NAME to text that begins with
    `<!-- measured: NAME -->` and ends with `<!-- end measured -->`, and replaces the same lines there (a
    marker without its end line is replaced alone). Nothing between the markers is written by hand."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for name, block in blocks.items():
        # up to its own end line, never into the next block
        start = f"<!-- measured: {re.escape(name)} -->"
        pattern = re.compile(rf"{start}(?:(?:(?!<!-- measured:).)*?<!-- end measured -->)?", re.S)
        text = pattern.sub(lambda match, block=block: block, text)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError as e:  # a full disk: the page is left as it was, and one line says so
        with contextlib.suppress(OSError):
            os.remove(temporary)
        sys.exit(f"error: cannot write {path}: {e.strerror or e}; the page is left as it was")
    print(f"filled {os.path.relpath(path, ROOT)}")


NOT_MEASURED = {
    False: "*Not measured yet: the command above writes this table.*",
    True: "*尚未测量：上面的命令会写出这张表。*",
}


def fill_measured_twins(name, table, paths):
    """fill_measured for a page and its Chinese twin (paths: the English page, then the Chinese one): the block
    `name` gets table(False) in the first and table(True) in the second, NOT_MEASURED where a table is None."""
    for path, zh in zip(paths, (False, True), strict=True):
        text = table(zh) or NOT_MEASURED[zh]
        fill_measured(path, {name: f"<!-- measured: {name} -->\n{text}\n<!-- end measured -->"})


def already_recorded(n_recorded, n_runs, results_path, what="runs"):
    """The line a bench prints when it finds runs recorded: that they are shown, not measured, and how to measure
    them again (--again)."""
    where = os.path.relpath(results_path, ROOT)
    if n_recorded == n_runs:
        head = f"all {n_runs} {what} already recorded in {where}: nothing is measured now, the table shows them"
    else:
        head = (
            f"{n_recorded} of {n_runs} {what} already recorded in {where}: only the other {n_runs - n_recorded} run now"
        )
    return f"{head}; to measure again, run the same command with --again"


def run_jobs(jobs, results_path, n_workers, threads_per_worker=1, again=False):
    """Run the jobs not yet in results_path (every job with again), n_workers at a time; append each result as it
    finishes (a job measured again: its newest result is the one load_results returns)."""
    done = {} if again else load_results(results_path)
    todo = [job for job in jobs if job["key"] not in done]
    if len(todo) < len(jobs):
        print(already_recorded(len(jobs) - len(todo), len(jobs), results_path), flush=True)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": str(threads_per_worker)}
    running = []
    start = time.perf_counter()
    finished = 0
    try:
        while todo or running:
            while todo and len(running) < n_workers:
                job = todo.pop(0)
                command = [sys.executable, "-m", "bench.runs", "--worker", json.dumps(job)]
                command += ["--threads", str(threads_per_worker)]
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                running.append((job, process))
            time.sleep(0.5)
            for job, process in list(running):
                if process.poll() is None:
                    continue
                running.remove((job, process))
                out, err = process.communicate()
                if process.returncode != 0:
                    last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no output)"]
                    print(f"  {job['key']}: FAILED: {last[0]}", flush=True)
                    continue
                result = {
                    **job,
                    "machine": machine_description(),
                    **json.loads(out.decode("utf-8").strip().splitlines()[-1]),
                }
                append_result(results_path, result)
                finished += 1
                elapsed = time.perf_counter() - start
                left = elapsed / finished * (len(todo) + len(running))
                print(
                    f"  {job['key']}: val loss {result['val_loss']:.4f}, {result['wall_seconds']:.0f} s"
                    f"  ({finished} done, about {left / 60:.0f} min left)",
                    flush=True,
                )
    except KeyboardInterrupt:
        for _, process in running:
            process.kill()
        sys.exit("\nstopped; finished runs are kept: run the same command again to go on")


# ----------------------------------------------------------------------------
# nanoGPT's data files (bench/measure/nanogpt.py and bench/measure/gpu.py run nanoGPT on our corpus)


def write_nanogpt_data(text, folder):
    """What nanoGPT's data/shakespeare_char/prepare.py writes, from text: train.bin and val.bin (uint16 ids of
    the first 90% and the last 10%) and meta.pkl (vocab_size, itos, stoi), characters sorted."""
    import pickle

    import numpy as np

    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = np.array([stoi[ch] for ch in text], dtype=np.uint16)
    n = len(text)
    os.makedirs(folder, exist_ok=True)
    ids[: int(n * 0.9)].tofile(os.path.join(folder, "train.bin"))
    ids[int(n * 0.9) :].tofile(os.path.join(folder, "val.bin"))
    with open(os.path.join(folder, "meta.pkl"), "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)


def worker(job, threads):
    """Run one stage in this process through its own entry point, run(args), as `python STAGE ARGV` does, and
    print the last evaluation's metrics, as one JSON line."""
    import torch

    torch.set_num_threads(threads)
    stage = importlib.import_module(job.get("module") or STAGE_MODULES[job["stage"]])  # a stage, or a tool like it
    if job.get("init"):
        stage.BabyGPT._init_weights = INITS[job["init"]]
    args = stage.parse_args(job["argv"])
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            final = stage.run(args).final
    except ValueError as e:
        sys.exit(f"error: {e}")
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "val_loss": final["val_loss"],
                "train_loss": final["train_loss"],
                "tokens_per_second": final["tokens_per_second"],
                "train_seconds": final["elapsed_seconds"],
                "wall_seconds": wall,
                "threads": threads,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one bench job (used by the benches, not by hand)")
    parser.add_argument("--worker", required=True, help="the job, as JSON")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    worker(json.loads(args.worker), args.threads)
