"""Shared by the long benches: run stages in worker processes, keep every result, resume after a stop.

A bench describes each run as a job (a dict with a unique "key", the stage id and its command-line
arguments; a job may name a "module" instead of a stage, a tool whose main() and train() work as the
stages' do, e.g. babygpt_train). run_jobs() starts up to --jobs workers at once, each one
`python bench/runs.py --worker JOB`, which imports the stage and calls its own main() (the stage's real
code path, nothing copied), records what its train() returned, and prints one JSON line. Each finished
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STAGE_MODULES = {
    "v1": "babygpt_v1",
    "v2": "babygpt_v2_position",
    "v3": "babygpt_v3_self_attention",
    "v4": "babygpt_v4_multihead_attention",
    "v5": "babygpt_v5_feedforward",
    "v6": "babygpt_v6_block",
    "v7": "babygpt_v7_residual_connection",
    "v8": "babygpt_v8_projection",
    "v9": "babygpt_v9_layer_norm",
    "v10": "babygpt_v10_dropout",
    "v11": "babygpt_v11_hyper_params",
    "v12": "babygpt_v12_wandb",
}


def machine_description(language="en"):
    """The processor, its cores, Python and torch, as one phrase in English ("en") or Chinese ("zh")."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    if language == "zh":
        return f"{cpu}（{os.cpu_count()} 核），Python {platform.python_version()}，torch {torch.__version__}"
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"


def load_results(path):
    """key -> result of every finished job in a JSONL results file (a missing file: none yet)."""
    results = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    result = json.loads(line)
                    results[result["key"]] = result
    return results


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
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)
    print(f"filled {os.path.relpath(path, ROOT)}")


def run_jobs(jobs, results_path, n_workers, threads_per_worker=1):
    """Run the jobs not yet in results_path, n_workers at a time; append each result as it finishes."""
    done = load_results(results_path)
    todo = [job for job in jobs if job["key"] not in done]
    print(f"{len(jobs) - len(todo)} of {len(jobs)} runs already in {os.path.relpath(results_path, ROOT)}", flush=True)
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": str(threads_per_worker)}
    running = []
    start = time.perf_counter()
    finished = 0
    try:
        while todo or running:
            while todo and len(running) < n_workers:
                job = todo.pop(0)
                command = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(job)]
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
                result = {**job, **json.loads(out.decode("utf-8").strip().splitlines()[-1])}
                with open(results_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(result, ensure_ascii=False) + "\n")
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


def worker(job, threads):
    """Run one stage's main() in this process and print what its train() returned, as one JSON line."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, ROOT)
    stage = importlib.import_module(job.get("module") or STAGE_MODULES[job["stage"]])  # a stage, or a tool like it
    if job.get("init"):
        import init as inits  # bench/init.py: the initialisations compared there

        stage.BabyGPT._init_weights = inits.INITS[job["init"]]
    final = {}
    real_train = stage.train

    def train_and_keep(*args, **kwargs):
        final.update(real_train(*args, **kwargs))
        return final

    stage.train = train_and_keep
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        stage.main(job["argv"])
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
