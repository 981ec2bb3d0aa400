"""Tests for the speed benches: `python -m bench gpu --tiny` runs on a CPU, bench/measure/nanogpt.py with a
stand-in for nanoGPT, and the tables in docs/speed.md and docs/speed.zh.md are the ones the benches write from
their results.

No nanoGPT and no GPU needed: a fake nanoGPT train.py prints what the real one prints.
"""

import argparse
import functools
import json
import pickle
import re

import numpy as np
import pytest
import torch
from conftest import ROOT, tiny_text

from bench import runs
from bench.measure import fused_losses, gpu, gpu_step, nanogpt, train_step


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------
# bench/measure/gpu.py


def test_gpu_script_runs_on_a_cpu_at_a_tiny_size(corpus, tmp_path, capsys, monkeypatch):
    results = tmp_path / "gpu.jsonl"
    argv = ["--tiny", "--data", str(corpus), "--steps", "3", "--lecture_steps", "4", "--peak_tflops", "0.001"]
    gpu.main([*argv, "--out", str(tmp_path / "out"), "--results", str(results)])
    out = capsys.readouterr().out
    rows = {row["variant"]: row for row in map(json.loads, results.read_text().splitlines())}
    assert set(rows) == {"stage", "fused", "lecture", "lecture, v11 itself"}  # no --compile on the CPU with --tiny
    for name in ("stage", "fused"):
        assert rows[name]["tokens_per_second"] > 0 and 0 < rows[name]["mfu"]
        assert rows[name]["expected_memory"] > 0
        assert f"| {name} |" in out
    assert rows["lecture"]["val_loss"] > 0 and "the lecture: 1.48" in out
    v11 = rows["lecture, v11 itself"]  # the stage's own log, read back
    assert 0 < v11["val_loss"] < 10 and v11["tokens_per_second"] > 0 and "--max_iters 4" in v11["command"]
    assert f"the same run with v11 itself (float32, per head, eager), round 1: val loss {v11['val_loss']:.4f}" in out
    assert "课程报告 1.48" in gpu.table(list(rows.values()), zh=True) and "核" in gpu.table(
        list(rows.values()), zh=True
    )
    gpu.main([*argv, "--out", str(tmp_path / "out"), "--results", str(results)])  # done: nothing runs again
    assert len(results.read_text().splitlines()) == 4
    docs = [tmp_path / "speed.md", tmp_path / "speed.zh.md"]
    for doc in docs:
        doc.write_text("<!-- measured: gpu -->\nold\n<!-- end measured -->\n", encoding="utf-8")
    monkeypatch.setattr(gpu, "DOCS", [str(doc) for doc in docs])
    with pytest.raises(SystemExit, match="a tiny run on a CPU never goes into the docs"):
        gpu.main([*argv, "--results", str(results), "--report"])
    with pytest.raises(SystemExit, match="holds --tiny results, which never go into the docs"):
        gpu.main(["--data", str(corpus), "--results", str(results), "--report"])
    assert all("old" in doc.read_text() for doc in docs)


def test_mfu_counts_six_flops_per_parameter_and_token_plus_attention():
    import babygpt_v12_wandb as v12

    model = v12.BabyGPT(20, 8, 16, 2, 1, 0.0)
    n = sum(p.numel() for p in model.parameters()) - 8 * 16  # the position table does no multiply
    assert gpu.flops_per_token(model) == 6 * n + 12 * 1 * 8 * 16
    assert gpu.peak_flops("NVIDIA H100 PCIe") == 756e12 and gpu.peak_flops("NVIDIA H100 80GB HBM3") == 989.4e12
    assert gpu.peak_flops("NVIDIA A100-SXM4-80GB") == 312e12 and gpu.peak_flops("NVIDIA A10") == 125e12
    assert gpu.peak_flops("Some GPU") is None and gpu.peak_flops("Some GPU", 100) == 100e12


def test_steady_speed_is_the_trainer_speed_between_two_estimates():
    # cumulative tokens/s as the trainer reports it: 100 steps of 10 tokens in 2 s, then 300 more in 3 s
    reports = [{"step": 0, "tokens_per_second": None}, {"step": 100, "tokens_per_second": 500.0}]
    reports.append({"step": 400, "tokens_per_second": 4000 / 5})
    assert gpu.steady_tokens_per_second(reports, 100, 10) == pytest.approx(3000 / 3)
    assert gpu.steady_tokens_per_second(reports, 0, 10) == pytest.approx(800)  # no warm-up: the whole run


def speed_row(variant, tokens_per_second, round_number, **extra):
    row = {"variant": variant, "tokens_per_second": tokens_per_second, "mfu": None, "compile_seconds": None}
    row.update(peak_memory=None, expected_memory=2**31, round=round_number, steps=400, warm_steps=100)
    return {**row, "machine": "Some CPU, 16 cores, Python 3.12.3, torch 2.11.0, Some GPU", **extra}


def test_gpu_table_compares_within_each_round_and_lists_rounds_side_by_side():
    results = [speed_row("stage", 100.0, 1), speed_row("fused", 300.0, 1), speed_row("nanoGPT + compile", 400.0, 1)]
    results += [speed_row("stage", 200.0, 2), speed_row("fused", 500.0, 2), speed_row("nanoGPT + compile", 1000.0, 2)]
    english = gpu.table(results)
    assert "| fused | 300 | 500 | 0.75x | 0.50x |" in english  # never 300 / 1000: ratios within a round
    assert "| stage | 100 | 200 | 0.25x | 0.20x |" in english
    assert english.index("| stage |") < english.index("| fused |") < english.index("| nanoGPT + compile |")
    assert "| variant (round 1) |" in english and "| fused | 3.00x | - | - | - | 2.00 GiB |" in english
    assert "from step 100 to 400" in english and "Some GPU" in english
    chinese = gpu.table(results, zh=True)
    assert "| fused | 300 | 500 | 0.75x | 0.50x |" in chinese and "每秒词元数：第 1 轮" in chinese


def test_a_variant_that_breaks_leaves_the_others_measured(corpus, tmp_path, monkeypatch, capsys):
    real = gpu.run_variant

    def breaks_on_stage(name, options, args, common):
        if name == "stage":
            raise RuntimeError("the compiler broke\nmore lines")
        return real(name, options, args, common)

    monkeypatch.setattr(gpu, "run_variant", breaks_on_stage)
    results = tmp_path / "gpu.jsonl"
    argv = ["--tiny", "--data", str(corpus), "--steps", "3", "--skip_lecture", "--results", str(results)]
    with pytest.raises(SystemExit, match=r"1 run\(s\) failed: tiny/speed/stage/3w0/round1"):
        gpu.main([*argv, "--out", str(tmp_path / "out")])
    assert "error: tiny/speed/stage/3w0/round1: RuntimeError: the compiler broke\n" in capsys.readouterr().out
    assert [json.loads(line)["variant"] for line in results.read_text().splitlines()] == ["fused"]


def test_without_a_gpu_the_report_writes_what_was_measured_and_running_is_refused(tmp_path, monkeypatch, corpus):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    results = tmp_path / "gpu.jsonl"
    results.write_text(json.dumps({**speed_row("fused", 300.0, 1), "key": "k"}) + "\n")
    docs = [tmp_path / "speed.md", tmp_path / "speed.zh.md"]
    for doc in docs:
        doc.write_text("<!-- measured: gpu -->\nold\n<!-- end measured -->\n", encoding="utf-8")
    monkeypatch.setattr(gpu, "DOCS", [str(doc) for doc in docs])
    argv = ["--data", str(corpus), "--results", str(results)]
    with pytest.raises(SystemExit, match="no CUDA GPU here"):
        gpu.main(argv)
    assert "old" in docs[0].read_text()
    gpu.main([*argv, "--report"])  # nothing can run here: the docs get the table of what was measured
    assert "| fused | 300 |" in docs[0].read_text() and "| fused | 300 |" in docs[1].read_text()
    for empty in (tmp_path / "missing.jsonl", tmp_path / "empty.jsonl"):
        (tmp_path / "empty.jsonl").write_text("")
        with pytest.raises(SystemExit, match="no results there; the docs keep their table"):
            gpu.main(["--data", str(corpus), "--results", str(empty), "--report"])
        assert "| fused | 300 |" in docs[0].read_text()


def test_a_results_file_that_is_not_one_is_refused_in_one_line(tmp_path):
    (tmp_path / "broken.jsonl").write_text('{"key": "a", "x": 1}\n{"key": "b", "x"\n')  # a run killed mid-line
    with pytest.raises(SystemExit, match=r"broken.jsonl, line 2: not a result .*; delete that line"):
        runs.load_results(str(tmp_path / "broken.jsonl"))
    (tmp_path / "nokey.jsonl").write_text('{"x": 1}\n')
    with pytest.raises(SystemExit, match="line 1: not a result"):
        runs.load_results(str(tmp_path / "nokey.jsonl"))
    with pytest.raises(SystemExit, match="is a folder; results go into a file"):
        runs.load_results(str(tmp_path))


def test_a_mistyped_bench_option_is_one_line_with_the_closest_real_one():
    with pytest.raises(SystemExit) as exited:
        gpu.main(["--stpes", "3"])
    assert "\n" not in str(exited.value.code) and "--stpes: did you mean --steps?" in str(exited.value.code)


FAKE_NANOGPT_LOG = """
import sys, time
args = dict(a[2:].split("=", 1) for a in sys.argv[2:])
if args.get("compile") == "True":
    sys.exit("torch.compile is not available here")
for it in range(0, int(args["max_iters"]) + 1, 10):
    time.sleep(0.3 if it == 10 else 0.05)  # the first steps are slow (a compile, say): left out of the speed
    print(f"iter {it}: loss 2.0, time 1.00ms, mfu -100.00%")
"""


def test_nanogpt_on_the_gpu_bench_is_timed_by_its_log_lines(corpus, tmp_path):
    checkout = tmp_path / "nanogpt"
    checkout.mkdir()
    (checkout / "train.py").write_text(FAKE_NANOGPT_LOG, encoding="utf-8")
    options = {"data": str(corpus), "nanogpt": str(checkout), "steps": 40, "warm_steps": 10, "tiny": True}
    args = argparse.Namespace(**options, out=str(tmp_path), peak_tflops=None)
    result = gpu.run_nanogpt("nanoGPT", gpu.NANOGPT_VARIANTS["nanoGPT"], args)
    # lines every 10 steps, 50 ms apart: 30 steps of 4 x 16 tokens from iter 10 to iter 40 in about 0.15 s
    assert 0.5 * 30 * 64 / 0.15 < result["tokens_per_second"] < 1.5 * 30 * 64 / 0.15
    assert "--compile=False" in result["command"] and "--max_iters=40" in result["command"]
    assert (checkout / "data" / "shakespeare_char" / "train.bin").exists()
    with pytest.raises(RuntimeError, match="nanoGPT's train.py failed .*torch.compile is not available here"):
        gpu.run_nanogpt("nanoGPT + compile", gpu.NANOGPT_VARIANTS["nanoGPT + compile"], args)


def test_gpu_step_script_runs_on_a_cpu_at_a_tiny_size(corpus, tmp_path, capsys):
    gpu_step.main(["--tiny", "--data", str(corpus), "--steps", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert re.search(r"babygpt fused eager +[\d.]+ ms/step +[\d,]+ tokens/s .*CPU issued in [\d.]+ ms/step", out)
    assert "174 tensors" in out and (tmp_path / "prof_babygpt_fused_eager.txt").exists()


# ----------------------------------------------------------------------------
# bench/measure/nanogpt.py

FAKE_TRAIN = """
import sys
args = dict(a[2:].split("=", 1) for a in sys.argv[2:])
max_iters, interval = int(args["max_iters"]), int(args["eval_interval"])
for it in range(max_iters + 1):
    if it % interval == 0:
        print(f"step {it}: train loss {3 - it / 100:.4f}, val loss {3.1 - it / 100:.4f}")
    print(f"iter {it}: loss 2.0, time {100 if it % interval == 0 else 10:.2f}ms, mfu -100.00%")
"""


def test_nanogpt_data_is_what_its_prepare_script_writes(tmp_path):
    text = "hello world\nthe end\n" * 10
    runs.write_nanogpt_data(text, tmp_path)
    meta = pickle.loads((tmp_path / "meta.pkl").read_bytes())
    assert meta["vocab_size"] == len(set(text)) and list(meta["itos"].values()) == sorted(set(text))
    train = np.fromfile(tmp_path / "train.bin", dtype=np.uint16)
    val = np.fromfile(tmp_path / "val.bin", dtype=np.uint16)
    n = int(len(text) * 0.9)
    assert "".join(meta["itos"][i] for i in train) == text[:n]  # BabyGPT's split too: the same val text
    assert "".join(meta["itos"][i] for i in val) == text[n:]


def test_nanogpt_bench_alternates_resumes_and_reports_ratios(corpus, tmp_path, monkeypatch, capsys):
    checkout = tmp_path / "nanogpt"
    checkout.mkdir()
    (checkout / "train.py").write_text(FAKE_TRAIN, encoding="utf-8")
    results = tmp_path / "nanogpt.jsonl"
    for doc in ("speed.md", "speed.zh.md"):
        (tmp_path / doc).write_text("before\n<!-- measured: nanogpt -->\nold\n<!-- end measured -->\nafter\n")
    monkeypatch.setattr(nanogpt, "DOCS", [str(tmp_path / "speed.md"), str(tmp_path / "speed.zh.md")])
    settings = ["--max_iters", "4", "--eval_interval", "2", "--warmup_iters", "1", "--eval_iters", "1"]
    monkeypatch.setitem(nanogpt.BLOCKS, "nanogpt", settings)  # the block --report writes these settings into
    argv = ["--nanogpt", str(checkout), "--data", str(corpus), "--results", str(results), "--runs", "nanogpt"]
    argv += [*settings, "--rounds", "2"]
    with pytest.raises(SystemExit, match="no nanoGPT and babygpt_train.py results"):
        nanogpt.main(argv)  # runs nanoGPT (the stand-in) twice, but a table needs the trainer
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["round"], r["name"]) for r in rows] == [(1, "nanogpt"), (2, "nanogpt")]
    assert rows[0]["val_loss"] == pytest.approx(3.06) and rows[0]["step"] == 4
    assert rows[0]["tokens_per_second"] == pytest.approx(12 * 64 / 0.010)  # the estimating iterations left out
    assert (checkout / "data" / "shakespeare_char" / "meta.pkl").exists()
    # the trainer's rows, as if they had run: the table of ratios, written between the markers
    with results.open("a") as f:
        for row in rows:
            key = nanogpt.job_key(row["round"], "train", nanogpt.parse_args(argv))
            trainer = {**row, "name": "train", "key": key, "val_loss": 2.5}
            trainer.update(wall_seconds=row["wall_seconds"] * 0.8, cpu_seconds=row["cpu_seconds"] * 0.5)
            f.write(json.dumps(trainer) + "\n")
    nanogpt.main([*argv, "--report"])  # nothing left to run
    assert len(results.read_text().splitlines()) == 4
    doc = (tmp_path / "speed.md").read_text()
    assert doc.startswith("before\n<!-- measured: nanogpt -->\n| command |")
    assert doc.endswith("<!-- end measured -->\nafter\n")
    row = "| `babygpt_train.py` (fused attention, the default) | 0.80x (0.80x–0.80x) | 0.50x (0.50x–0.50x) |"
    assert row + " 1.00x (1.00x–1.00x) | 2.500 |" in doc
    assert "2 round(s)" in doc and "1-minute load average as each round's runs started and ended: " in doc
    assert "| 命令 |" in (tmp_path / "speed.zh.md").read_text()


def test_nanogpt_bench_says_what_is_recorded_and_measures_again_in_a_new_sitting(corpus, tmp_path, capsys):
    """A learner who runs the bench again is told that nothing was measured, and how to measure again; --again
    measures every run again in a new sitting, kept beside the first, and the table shows the newest sitting's
    median ratio with its range over the rounds."""
    checkout = tmp_path / "nanogpt"
    checkout.mkdir()
    (checkout / "train.py").write_text(FAKE_TRAIN, encoding="utf-8")
    results = tmp_path / "nanogpt.jsonl"
    argv = ["--nanogpt", str(checkout), "--data", str(corpus), "--results", str(results), "--runs", "nanogpt"]
    argv += ["--max_iters", "4", "--eval_interval", "2", "--warmup_iters", "1", "--eval_iters", "1", "--rounds", "3"]
    with pytest.raises(SystemExit):
        nanogpt.main(argv)  # three rounds of nanoGPT (the stand-in); no table without the trainer
    capsys.readouterr()
    with pytest.raises(SystemExit):
        nanogpt.main(argv)
    out = capsys.readouterr().out
    assert "all 3 runs of sitting 1 already recorded in" in out and "run the same command with --again" in out
    assert len(results.read_text().splitlines()) == 3, "nothing measured again"
    with pytest.raises(SystemExit):
        nanogpt.main([*argv, "--again"])
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["sitting"] for r in rows] == [1, 1, 1, 2, 2, 2]
    assert all(len(r["load_before"]) == 3 and len(r["load_after"]) == 3 for r in rows)
    # the trainer's rows of sitting 2 (ratios 0.9, 1.2 and 1.0 to nanoGPT): the median and the range
    args = nanogpt.parse_args(argv)
    with results.open("a") as f:
        for row, ratio in zip(rows[3:], (0.9, 1.2, 1.0), strict=True):
            key = nanogpt.job_key(row["round"], "train", args, sitting=2)
            trainer = {**row, "name": "train", "key": key, "wall_seconds": row["wall_seconds"] * ratio}
            f.write(json.dumps(trainer) + "\n")
    table = nanogpt.table(args)
    assert "| `babygpt_train.py` (fused attention, the default) | 1.00x (0.90x–1.20x) |" in table
    assert table.startswith("| command |") and "3 round(s)" in table


def test_nanogpt_bench_rotates_the_order_from_round_to_round():
    args = nanogpt.parse_args(["--rounds", "3"])
    order = [name for _, name in nanogpt.plan(args)]
    assert order == [
        *("nanogpt", "train", "train_stage", "v11"),
        *("train", "train_stage", "v11", "nanogpt"),
        *("train_stage", "v11", "nanogpt", "train"),
    ]


def test_nanogpt_bench_refuses_bad_input_in_one_line(corpus, tmp_path):
    base = ["--data", str(corpus), "--results", str(tmp_path / "r.jsonl")]
    for argv, words in (
        (base, "--nanogpt PATH is needed"),
        ([*base, "--nanogpt", str(tmp_path)], "no train.py there"),
        ([*base, "--runs", "v11", "--max_iters", "1000", "--eval_interval", "300"], "multiple of --eval_interval"),
        (["--data", str(tmp_path / "missing.txt"), "--runs", "v11"], "not found"),
    ):
        with pytest.raises(SystemExit, match=re.escape(words)):
            nanogpt.main(argv)


# ----------------------------------------------------------------------------
# The docs hold the tables the benches write from their results


@pytest.mark.docs
@pytest.mark.parametrize("doc", ["speed.md", "speed.zh.md"])
def test_docs_tables_are_the_ones_the_benches_write(doc):
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    zh = doc.endswith(".zh.md")
    tables = {name: functools.partial(nanogpt.report_text, name=name) for name in nanogpt.BLOCKS}
    tables.update(profile=train_step.report_text, fused_losses=fused_losses.report_text, gpu=gpu.report_text)
    for name, report_text in tables.items():
        block = re.search(rf"<!-- measured: {name} -->\n(.*?)<!-- end measured -->", text, re.S)
        assert block is not None, name
        expected = report_text(zh) or runs.NOT_MEASURED[zh]  # before its results: a line saying so
        assert block.group(1) == expected + "\n", name
