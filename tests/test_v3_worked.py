"""v3's worked attention (docs/learn/v3.md and v3.zh.md): the four-character tables are what
bench/pages/v3_worked.py writes from its recorded numbers, and those numbers follow from each other as attention
computes them. Text only: no model, no corpus (the model is bench/measure/lesson_runs.py's, not committed)."""

import copy
from pathlib import Path

import pytest

from bench.pages import v3_worked

pytestmark = pytest.mark.docs  # the pages (python -m pytest -m "not docs" checks the code alone)


def test_the_recorded_numbers_are_scaled_masked_softmaxed_and_mixed():
    assert v3_worked.inconsistencies(v3_worked.load()) == []


def test_the_model_is_the_lesson_runs_v3():
    """The tables read the model of the lesson's run (and of its picture): the same val loss, to the last digit."""
    assert v3_worked.load()["val_loss"] == v3_worked.load_results(v3_worked.LESSON_RUNS)["v3"]["val_loss"]


def test_a_wrong_number_is_caught(tmp_path):
    results = v3_worked.load()
    broken = copy.deepcopy(results)
    broken["weights"][3][0] += 0.01  # a row that no longer is the softmax of its scores
    assert any("weights[3][0]" in p for p in v3_worked.inconsistencies(broken))
    assert any("output[3]" in p for p in v3_worked.inconsistencies(broken))
    broken = copy.deepcopy(results)
    broken["scaled"][1][0] *= 2
    assert any("scaled[1][0]" in p for p in v3_worked.inconsistencies(broken))
    pages = {language: tmp_path / Path(path).name for language, path in v3_worked.PAGES.items()}
    for language, path in v3_worked.PAGES.items():
        pages[language].write_text(Path(path).read_text(encoding="utf-8"), encoding="utf-8")
    assert v3_worked.problems(results, pages) == []
    text = pages["zh"].read_text(encoding="utf-8")
    pages["zh"].write_text(text.replace("| 春 | 1.000 |", "| 春 | 0.999 |", 1), encoding="utf-8")
    assert any("block v3-worked differs" in p for p in v3_worked.problems(results, pages))
