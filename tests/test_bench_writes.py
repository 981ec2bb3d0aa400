"""The benches' results writers (bench/runs.py, which the long benches share) on a full disk and after a
bench stopped half way through writing a result: one line, and nothing recorded before is lost."""

import importlib.util
import json
import os

import pytest
from conftest import ROOT

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here (not Linux)")


@pytest.fixture
def runs():
    spec = importlib.util.spec_from_file_location("bench_runs_for_writes", ROOT / "bench" / "runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def full_disk_for(module, monkeypatch, wanted):
    """open() in module, except that writing a file for which wanted(path) is true writes to /dev/full (ENOSPC)."""
    real_open = open

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        writing = any(letter in mode for letter in "wa+")
        return real_open("/dev/full" if writing and wanted(str(path)) else path, mode, *args, **kwargs)

    monkeypatch.setattr(module, "open", open_on_a_full_disk, raising=False)


@needs_dev_full
def test_a_result_on_a_full_disk_is_one_line_and_the_results_before_it_are_kept(runs, tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    runs.append_result(str(path), {"key": "a", "val_loss": 3.0})
    full_disk_for(runs, monkeypatch, lambda name: name == str(path))
    with pytest.raises(SystemExit) as stopped:
        runs.append_result(str(path), {"key": "b", "val_loss": 2.0})
    assert stopped.value.code == (
        f"error: cannot write {path}: No space left on device; the results before this one are kept: free some"
        " space, then run the same command (it measures only what is missing)"
    )
    assert list(runs.load_results(str(path))) == ["a"]


def stopped_on_a_full_disk(runs, monkeypatch, path, old, write):
    """path holding old, a disk full for temporary files, write(path as a string): the line it stopped with. The old
    file is kept as it was and no temporary file is left behind."""
    path.write_text(old, encoding="utf-8")
    full_disk_for(runs, monkeypatch, lambda name: name.endswith(".tmp"))
    with pytest.raises(SystemExit) as stopped:
        write(str(path))
    assert path.read_text(encoding="utf-8") == old and not list(path.parent.glob("*.tmp"))
    return stopped.value.code


@needs_dev_full
def test_a_page_on_a_full_disk_is_one_line_and_left_as_it_was(runs, tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    new = {"t": "<!-- measured: t -->\nnew\n<!-- end measured -->"}
    old = "<!-- measured: t -->\nold\n<!-- end measured -->\n"
    said = stopped_on_a_full_disk(runs, monkeypatch, page, old, lambda name: runs.fill_measured(name, new))
    assert said == f"error: cannot write {page}: No space left on device; the page is left as it was"


def test_half_a_result_at_the_end_is_taken_out_and_said(runs, tmp_path, capsys):
    """A bench killed while it appended (or a full disk) left half a line: the next run stopped at it
    ("line 2: not a result ... delete that line"), and a result appended behind it would have been spoilt."""
    path = tmp_path / "results.jsonl"
    whole = json.dumps({"key": "a", "val_loss": 3.0}) + "\n"
    path.write_text(whole + '{"key": "b", "val_lo', encoding="utf-8")
    assert list(runs.load_results(str(path))) == ["a"]
    assert f"note: {path}: took out half a line at its end (20 bytes" in capsys.readouterr().err
    runs.append_result(str(path), {"key": "b", "val_loss": 2.0})
    assert list(runs.load_results(str(path))) == ["a", "b"]


@needs_dev_full
def test_a_results_file_of_one_object_on_a_full_disk_is_one_line_and_the_old_one_is_kept(runs, tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    said = stopped_on_a_full_disk(
        runs, monkeypatch, path, '{"old": 1}\n', lambda name: runs.write_json(name, {"new": 2})
    )
    assert said == f"error: cannot write {path}: No space left on device; the results file before it is kept"


@needs_dev_full
def test_any_bench_on_a_full_disk_ends_in_one_line(monkeypatch):
    """The benches that write their own files (pictures, pages, results) end in one line through python -m
    bench, whatever they were writing."""
    import importlib

    runner = importlib.import_module("bench.__main__")

    def writes_to_a_full_disk(*args, **kwargs):
        with open("/dev/full", "w", encoding="utf-8") as f:
            f.write("a result")

    monkeypatch.setattr(runner.runpy, "run_module", writes_to_a_full_disk)
    monkeypatch.setattr(runner.sys, "argv", list(runner.sys.argv))
    with pytest.raises(SystemExit) as stopped:
        runner.main(["val_split"])
    assert stopped.value.code == "error: python -m bench val_split: cannot write its results: No space left on device"
