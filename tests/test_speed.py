"""Tests for the speed benches: bench/gpu.py --tiny runs on a CPU, bench/nanogpt.py with a stand-in for nanoGPT,
and the tables in docs/speed.md and docs/speed.zh.md are the ones the benches write from their results.

No nanoGPT and no GPU needed: a fake nanoGPT train.py prints what the real one prints.
"""

import importlib.util
import json
import pickle
import re

import numpy as np
import pytest
from conftest import ROOT, tiny_text


def load_bench(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu = load_bench("gpu")
nanogpt = load_bench("nanogpt")
train_step = load_bench("train_step")
fused_losses = load_bench("fused_losses")
runs = load_bench("runs")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------
# bench/gpu.py


def test_gpu_script_runs_on_a_cpu_at_a_tiny_size(corpus, tmp_path, capsys, monkeypatch):
    results = tmp_path / "gpu.jsonl"
    argv = ["--tiny", "--data", str(corpus), "--steps", "3", "--lecture_steps", "4", "--peak_tflops", "0.001"]
    gpu.main([*argv, "--out", str(tmp_path / "out"), "--results", str(results)])
    out = capsys.readouterr().out
    rows = {row["variant"]: row for row in map(json.loads, results.read_text().splitlines())}
    assert set(rows) == {"stage", "fused", "lecture"}  # no --compile on the CPU with --tiny
    for name in ("stage", "fused"):
        assert rows[name]["tokens_per_second"] > 0 and 0 < rows[name]["mfu"]
        assert rows[name]["expected_memory"] > 0
        assert f"| {name} |" in out
    assert rows["lecture"]["val_loss"] > 0 and "the lecture: 1.48" in out
    docs = [tmp_path / "speed.md", tmp_path / "speed.zh.md"]
    for doc in docs:
        doc.write_text("before\n<!-- measured: gpu -->\nold\n<!-- end measured -->\nafter\n", encoding="utf-8")
    monkeypatch.setattr(gpu, "DOCS", [str(doc) for doc in docs])
    gpu.main([*argv, "--out", str(tmp_path / "out"), "--results", str(results), "--report"])  # done: nothing runs
    assert len(results.read_text().splitlines()) == 3
    english, chinese = (doc.read_text(encoding="utf-8") for doc in docs)
    assert "| fused |" in english and "the lecture: 1.48" in english and "old" not in english
    assert "| fused |" in chinese and "讲座报告 1.48" in chinese and "核" in chinese


def test_mfu_counts_six_flops_per_parameter_and_token_plus_attention():
    import babygpt_v12_wandb as v12

    model = v12.BabyGPT(20, 8, 16, 2, 1, 0.0)
    n = sum(p.numel() for p in model.parameters()) - 8 * 16  # the position table does no multiply
    assert gpu.flops_per_token(model) == 6 * n + 12 * 1 * 8 * 16
    assert gpu.peak_flops("NVIDIA H100 PCIe") == 756e12 and gpu.peak_flops("NVIDIA H100 80GB HBM3") == 989.4e12
    assert gpu.peak_flops("NVIDIA A100-SXM4-80GB") == 312e12 and gpu.peak_flops("NVIDIA A10") == 125e12
    assert gpu.peak_flops("Some GPU") is None and gpu.peak_flops("Some GPU", 100) == 100e12


# ----------------------------------------------------------------------------
# bench/nanogpt.py

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
    nanogpt.write_nanogpt_data(text, tmp_path)
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
    argv = ["--nanogpt", str(checkout), "--data", str(corpus), "--results", str(results), "--runs", "nanogpt"]
    argv += ["--max_iters", "4", "--eval_interval", "2", "--warmup_iters", "1", "--eval_iters", "1", "--rounds", "2"]
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
    assert (
        "| `babygpt_train.py` (fused attention, the default) | 0.80x, 0.80x | 0.50x, 0.50x | 1.00x, 1.00x | 2.500 |"
        in doc
    )
    assert "| 命令 |" in (tmp_path / "speed.zh.md").read_text()


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


@pytest.mark.parametrize("doc", ["speed.md", "speed.zh.md"])
def test_docs_tables_are_the_ones_the_benches_write(doc):
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    benches = ((nanogpt, "nanogpt"), (train_step, "profile"), (fused_losses, "fused_losses"), (gpu, "gpu"))
    for bench, name in benches:
        block = re.search(rf"<!-- measured: {name} -->\n(.*?)<!-- end measured -->", text, re.S)
        assert block is not None, name
        zh = doc.endswith(".zh.md")
        expected = bench.report_text(zh) or runs.NOT_MEASURED[zh]  # before its results: a line saying so
        assert block.group(1) == expected + "\n", name
