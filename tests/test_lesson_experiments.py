"""The lessons' "Try it" answers are what bench/measure/lesson_experiments.py writes from its committed results.

Each experiment of bench/measure/lesson_experiments.py's table has its marker in both languages of its lesson, and
the block there is the one `python -m bench lesson_experiments --report` writes now: no measured answer is
typed by hand, and none is left behind when a result or the table changes. No training, no corpus.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
from bench.measure import lesson_experiments as experiments  # noqa: E402

pytestmark = pytest.mark.docs  # the pages (python -m pytest -m "not docs" checks the code alone)

LESSONS = [stage for stage in experiments.EXPERIMENTS if Path(experiments.lesson_path(stage, "en")).exists()]


def written_block(text, name):
    found = re.search(rf"<!-- measured: {re.escape(name)} -->.*?<!-- end measured -->", text, re.S)
    return found.group(0) if found else None


@pytest.mark.parametrize("stage", LESSONS)
def test_each_lesson_shows_the_answers_the_bench_writes(stage):
    results = experiments.load_results(experiments.RESULTS)
    problems = []
    for language in experiments.WORDS:
        path = Path(experiments.lesson_path(stage, language))
        text = path.read_text(encoding="utf-8")
        for name, block in experiments.answer_blocks(stage, language, results).items():
            written = written_block(text, name)
            if written is None:
                problems.append(f"{path.name} has no <!-- measured: {name} --> block")
            elif written != block:
                problems.append(f"{path.name}: {name} is stale")
    assert not problems, "\n".join(problems) + "\nrun: python -m bench lesson_experiments --report"


def test_a_command_shared_by_two_experiments_runs_once():
    jobs = experiments.jobs_for(list(experiments.EXPERIMENTS))
    v7_eight_blocks = "python babygpt_v7_residual_connection.py --n_layer 8 --max_iters 1000"
    users = [e for s in experiments.EXPERIMENTS.values() for e in s for r in e.get("runs", [])
             if experiments.command_line(r) == v7_eight_blocks]  # fmt: skip
    assert len(users) >= 2 and v7_eight_blocks in jobs
    chain = jobs["v12-metrics"]
    assert [step["script"] for step in chain["steps"]] == ["v12", "v12", "babygpt_sample.py"]
    assert not any(key.startswith("v12-refuse") or key.startswith("v12-sample") for key in jobs)


def test_what_a_stage_printed_is_read_back():
    log = (
        "corpus data/ci.txt: 2,062,696 characters, vocabulary size 6,103\n"
        "model: 409,335 parameters | 256 tokens per iteration | device cpu\n"
        "step     0 | train loss 8.7041 | val loss 8.7147 | val perplexity  6091.94 |       - tokens/s | x\n"
        "step    20 | train loss 6.5886 | val loss 6.8884 | val perplexity   980.88 |   2,188 tokens/s | x\n"
        "trained 20 steps in 0:00:03, 19% of that time evaluating\n\n--- 春江 ---\n春江龙轻\n\n--- 往事 ---\n往事娘还\n"
    )
    parsed = experiments.parse_output(log)
    assert parsed["parameters"] == 409335
    assert parsed["history"] == [[0, 8.7041, 8.7147], [20, 6.5886, 6.8884]]
    assert parsed["tokens_per_second"] == 2188
    assert parsed["samples"] == [["春江", "春江龙轻"], ["往事", "往事娘还"]]


def test_a_failed_run_shows_its_error_and_the_table_its_lowest_val_loss():
    words = experiments.WORDS["en"]
    failed = {"command": "python x.py", "returncode": 1, "history": [], "error": "error: the loss became NaN"}
    assert "stopped: error: the loss became NaN" in experiments.loss_row(failed, words)
    run = {"command": "c", "returncode": 0, "parameters": 10, "history": [[0, 9, 9], [1, 5, 4], [2, 3, 6]]}
    assert experiments.loss_row(run, words) == "| `c` | 10 | 3.000 | 6.000 | 4.000 (1) |"


def test_metrics_csv_is_shown_without_the_times_of_a_shared_machine():
    text = "step,train_loss,val_loss,tokens_per_second,elapsed_seconds\n0,8.8,8.9,,0.5\n25,6.157002258,6.4,900.1,9.9\n"
    assert experiments.csv_without_times(text) == ["step,train_loss,val_loss", "0,8.8,8.9", "25,6.1570,6.4"]
