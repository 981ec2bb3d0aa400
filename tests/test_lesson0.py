"""Lesson 0 (docs/learn/v0.md and v0.zh.md) shows what its own code prints, as the stages print it now.

bench/pages/lesson0.py runs the page's Python cells in order and records their source, what each printed, the figures
the notes quote, and a fingerprint of the stage code the cells call (bench/results/lesson0.json); it writes
each output under its cell, in both languages. These tests read text only (no corpus, no training): they fail
when a page differs from what the recorded run writes, when a cell was edited after the run, or when the stage
code the cells call has changed since (its outputs may then be stale), and say to run the script again.
"""

import shutil
from pathlib import Path

import pytest

from bench.pages import lesson0

pytestmark = pytest.mark.docs  # the pages (python -m pytest -m "not docs" checks the code alone)

RERUN = "run: python -m bench lesson0 (needs data/ci.txt; --write alone rewrites the pages from the recorded run)"


def test_the_stage_code_the_cells_call_is_unchanged_since_the_run():
    now = lesson0.stage_code_fingerprint()
    changed = [name for name, digest in now.items() if lesson0.load_results()["stage_code"].get(name) != digest]
    assert not changed, f"changed since lesson 0's outputs were printed: {', '.join(changed)}\n{RERUN}"


def test_every_cell_that_prints_has_its_output_under_it():
    results = lesson0.load_results()
    assert len(results["outputs"]) == len(results["cells"]) > 10
    text = Path(lesson0.PAGES["en"]).read_text(encoding="utf-8")
    for number, printed in enumerate(results["outputs"], start=1):
        if printed.strip():
            assert f"<!-- measured: v0-out-{number} -->\n\n```text\n{printed.strip(chr(10))}\n```" in text


def test_an_edited_cell_a_changed_output_or_a_lost_note_is_caught(tmp_path):
    results = lesson0.load_results()
    pages = {language: tmp_path / Path(path).name for language, path in lesson0.PAGES.items()}
    for language, path in lesson0.PAGES.items():
        shutil.copy(path, pages[language])
    assert lesson0.problems(results, pages) == []
    english, chinese = (pages[language].read_text(encoding="utf-8") for language in ("en", "zh"))

    pages["en"].write_text(english.replace("num_samples=1000", "num_samples=2000", 1), encoding="utf-8")
    assert any("the cells differ from those last run" in p for p in lesson0.problems(results, pages))

    pages["en"].write_text(english.replace("loss by hand: 0.", "loss by hand: 1.", 1), encoding="utf-8")
    assert any("differs from what" in p for p in lesson0.problems(results, pages))

    pages["en"].write_text(english, encoding="utf-8")
    pages["zh"].write_text(chinese.replace("<!-- measured: v0-softmax -->", "", 1), encoding="utf-8")
    assert any("no block v0-softmax" in p for p in lesson0.problems(results, pages))

    # --write puts it right: the output under its cell again
    broken = english.replace("loss by hand: 0.", "loss by hand: 1.", 1)
    assert lesson0.render(broken, results, "en") == english
