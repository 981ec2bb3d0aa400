"""Tests for babygpt_train.py: the recipe's pieces, exact resume, DDP, the run folder, bad input.

Tiny models on CPU, a tiny corpus, no network. Two things run in other processes, started at once in the
background so that they overlap the in-process tests: the DDP comparison (two Gloo processes) and a
two-process torchrun of the script itself.
"""

import argparse
import contextlib
import csv
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import types

import pytest
import torch
import torch.distributed as dist
from conftest import ROOT, tiny_model, tiny_text

import babygpt.checkpoint
import babygpt_train
import babygpt_v12_wandb as v12
from babygpt_train import (
    expected_memory,
    learning_rate_at,
    make_optimizer,
    parameter_groups,
    train_step,
)


def recipe(**overrides):
    """The hyperparameters the recipe's functions read, at the script's defaults unless overridden."""
    return argparse.Namespace(**{**vars(babygpt_train.parse_args([])), **overrides})


def batches(seed, n, batch_size=3, vocab_size=20):
    """n reproducible (x, y) batches of tiny random token ids."""
    generator = torch.Generator().manual_seed(seed)
    data = torch.randint(vocab_size, (500,), generator=generator)
    starts = torch.randint(len(data) - 9, (n, batch_size), generator=generator)
    windows = data[starts[..., None] + torch.arange(9)]  # (n, B, 9)
    return [(w[:, :-1], w[:, 1:]) for w in windows]


def run_argv(corpus, out_dir, *extra):
    return [
        *("--data", str(corpus), "--out_dir", str(out_dir), "--wandb_mode", "disabled"),
        *("--max_iters", "12", "--eval_interval", "4", "--eval_iters", "2", "--batch_size", "4"),
        *("--block_size", "8", "--n_embed", "16", "--n_head", "2", "--n_layer", "1", "--dropout", "0.1"),
        *("--warmup_iters", "3", "--gradient_accumulation_steps", "2", "--max_new_tokens", "5"),
        *extra,
    ]


def tiny_corpus(folder):
    path = folder / "corpus.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return path


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------
# Work in other processes: one torchrun of this file (see the end), started before everything else


def ddp_updates(result_path):
    """In each of the torchrun processes: two updates of a DDP model on this rank's own micro-batches (one, then
    two), counting the gradient all-reduces of each update."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    dist.init_process_group("gloo")
    model = tiny_model()
    ddp_model = torch.nn.parallel.DistributedDataParallel(model)
    all_reduces = []
    ddp_model.register_comm_hook(None, lambda state, bucket: all_reduces.append(1) or allreduce_hook(state, bucket))
    optimizer = make_optimizer(model, recipe(learning_rate=1e-2), torch.device("cpu"))
    counts = []
    for step in range(2):
        micro_batches = batches(100 * step + dist.get_rank(), step + 1)
        train_step(ddp_model, optimizer, None, micro_batches, 0.5, contextlib.nullcontext())
        counts.append(len(all_reduces) - sum(counts))
    if dist.get_rank() == 0:
        torch.save({"weights": model.state_dict(), "all_reduces": counts}, result_path)
    # main() then trains in the same process group


@pytest.fixture(scope="module")
def background(tmp_path_factory):
    """torchrun with two CPU processes, each computing the DDP comparison, then training with the script's main()."""
    folder = tmp_path_factory.mktemp("background")
    (folder / "corpus.txt").write_text(tiny_text(), encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "test_train"]
    command += [str(folder / "ddp.pt"), *run_argv(folder / "corpus.txt", folder / "run"), "--device", "cpu"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, cwd=folder, env=env, start_new_session=True, **pipes)
    yield folder, process
    with contextlib.suppress(ProcessLookupError):  # torchrun and its workers, should a test have failed early
        os.killpg(process.pid, signal.SIGKILL) if hasattr(os, "killpg") else process.kill()


@pytest.fixture(autouse=True, scope="module")
def start_background_early(request):
    if any("background" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("background")


def torchrun_output(process, cache={}):  # noqa: B006 (the two tests share one run)
    if process not in cache:
        cache[process] = process.communicate(timeout=300)  # (a machine busy with other work)
        assert process.returncode == 0, cache[process][1][-3000:]
    return cache[process]


# ----------------------------------------------------------------------------
# The recipe's pieces


def test_learning_rate_warms_up_linearly_then_follows_a_cosine_to_min_lr():
    hp = recipe(learning_rate=1.0, min_lr=0.1, warmup_iters=10, max_iters=110, lr_decay="cosine")
    assert [learning_rate_at(step, hp) for step in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert learning_rate_at(10, hp) == pytest.approx(1.0)  # the cosine starts at the top
    assert learning_rate_at(60, hp) == pytest.approx(0.55)  # half way down: the mean of 1.0 and 0.1
    assert learning_rate_at(110, hp) == pytest.approx(0.1)
    rates = [learning_rate_at(step, hp) for step in range(10, 111)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_learning_rate_schedule_can_be_switched_off():
    assert learning_rate_at(0, recipe(learning_rate=0.3, warmup_iters=0, lr_decay="none")) == 0.3
    assert learning_rate_at(999, recipe(learning_rate=0.3, warmup_iters=0, lr_decay="none", max_iters=999)) == 0.3
    assert learning_rate_at(5, recipe(learning_rate=0.3, warmup_iters=10, lr_decay="none")) == pytest.approx(0.18)
    hp = recipe(learning_rate=1.0, min_lr=None, warmup_iters=0, max_iters=10)
    assert learning_rate_at(10, hp) == pytest.approx(0.1)  # min_lr defaults to learning_rate / 10


def test_weight_decay_goes_to_matrices_and_embeddings_never_to_biases_or_layernorm():
    model = tiny_model()
    decayed, not_decayed = parameter_groups(model, 0.1)
    names = {id(p): name for name, p in model.named_parameters()}
    decayed_names = {names[id(p)] for p in decayed["params"]}
    not_decayed_names = {names[id(p)] for p in not_decayed["params"]}
    assert (decayed["weight_decay"], not_decayed["weight_decay"]) == (0.1, 0.0)
    assert decayed_names | not_decayed_names == set(names.values())
    assert {"token_embedding_table.weight", "position_embedding_table.weight", "lm_head.weight"} <= decayed_names
    assert "blocks.0.attention.heads.0.key.weight" in decayed_names
    assert all(name.endswith("bias") or ".ln" in name or name.startswith("ln_f") for name in not_decayed_names)
    assert {"lm_head.bias", "ln_f.weight", "blocks.0.ln1.weight"} <= not_decayed_names
    optimizer = make_optimizer(model, recipe(weight_decay=0.1), torch.device("cpu"))
    assert [group["weight_decay"] for group in optimizer.param_groups] == [0.1, 0.0]


def test_gradient_accumulation_is_the_update_of_one_batch_that_many_times_larger():
    micro = batches(seed=1, n=4)
    big = [(torch.cat([x for x, _ in micro]), torch.cat([y for _, y in micro]))]
    results = []
    for chunks in (micro, big):
        model = tiny_model()
        optimizer = make_optimizer(model, recipe(learning_rate=1e-2), torch.device("cpu"))
        loss, norm = train_step(model, optimizer, None, chunks, 0.5, contextlib.nullcontext())
        results.append((model.state_dict(), loss, norm))
    (accumulated, loss_a, norm_a), (one_batch, loss_b, norm_b) = results
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-6)
    assert norm_a.item() == pytest.approx(norm_b.item(), rel=1e-5) and norm_a > 0.5  # clipping was active
    for name in accumulated:
        torch.testing.assert_close(accumulated[name], one_batch[name], rtol=0, atol=1e-6)
    assert not torch.equal(accumulated["lm_head.weight"], tiny_model().state_dict()["lm_head.weight"])


def test_gradient_clipping_bounds_the_update_and_reports_the_norm_before_it():
    def sgd_change(grad_clip):
        model = tiny_model()
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        _, norm = train_step(model, optimizer, None, batches(2, 1), grad_clip, contextlib.nullcontext())
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        return (after - before).norm().item(), norm.item()

    change, norm = sgd_change(grad_clip=0)  # off: the step is the whole gradient
    assert change == pytest.approx(norm, rel=1e-4) and norm > 0.1
    clipped_change, clipped_norm = sgd_change(grad_clip=0.05)
    assert clipped_norm == pytest.approx(norm)  # the norm before clipping
    assert clipped_change == pytest.approx(0.05, rel=1e-3)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_trains_close_to_float32(dtype):
    losses = {}
    for name in ("float32", dtype):
        model = tiny_model()
        optimizer = make_optimizer(model, recipe(learning_rate=1e-2), torch.device("cpu"))
        # a modest initial scale: the default 2**16 overflows on the first steps, which GradScaler then
        # skips (as it should), and the two runs would no longer take the same steps
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if name == "float16" else None
        amp = babygpt_train.autocast(torch.device("cpu"), name)
        losses[name] = [train_step(model, optimizer, scaler, [b], 1.0, amp)[0].item() for b in batches(3, 5)]
    assert losses[dtype] == pytest.approx(losses["float32"], rel=0.02)
    assert losses[dtype] != losses["float32"]  # autocast really ran in 16 bits
    assert babygpt_train.resolve_dtype("auto", torch.device("cpu")) == "float32"


def test_compile_warm_up_leaves_weights_gradients_and_random_state_as_they_were(monkeypatch):
    modes = []
    monkeypatch.setattr(torch, "compile", lambda model, mode: modes.append(mode) or model)  # the real one: minutes
    model = tiny_model(dropout=0.5)
    weights = {name: t.clone() for name, t in model.state_dict().items()}
    data = torch.randint(20, (200,))
    torch.manual_seed(7)
    expected_draw = torch.rand(3)
    torch.manual_seed(7)
    compiled, seconds = babygpt_train.compile_model(
        model, recipe(batch_size=2, block_size=8, compile_mode="reduce-overhead"), data, contextlib.nullcontext()
    )
    assert modes == ["reduce-overhead"]  # --compile_mode reaches torch.compile
    assert torch.equal(torch.rand(3), expected_draw)
    assert seconds > 0 and model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(weights[name], t) for name, t in model.state_dict().items())


def test_memory_estimate_counts_the_activations_autograd_keeps():
    """The activation estimate against the bytes of every distinct tensor autograd saves for the backward pass
    (the weights aside), plus the logits the caller holds."""
    for dropout in (0.0, 0.2):
        model = tiny_model(dropout=dropout, vocab_size=30)
        saved = {}  # storage address -> bytes, each storage once

        def keep(tensor, saved=saved):
            saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
            return tensor

        x, y = batches(4, 1, batch_size=6, vocab_size=30)[0]
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
            logits, _ = model(x, y)
        saved[logits.untyped_storage().data_ptr()] = logits.untyped_storage().nbytes()
        weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
        measured = sum(size for ptr, size in saved.items() if ptr not in weights)
        estimate = expected_memory(model, batch_size=6)["activations"]
        assert estimate == pytest.approx(measured, rel=0.01), dropout
    memory = expected_memory(model, batch_size=6)
    n = sum(p.numel() for p in model.parameters())
    assert (memory["weights"], memory["gradients"], memory["AdamW moments"]) == (4 * n, 4 * n, 8 * n)


def test_parser_takes_every_v12_option_with_v12s_defaults():
    ours, theirs = vars(babygpt_train.parse_args([])), vars(v12.parse_args([]))
    assert {name: ours[name] for name in theirs if name != "out_dir"} == {
        k: v for k, v in theirs.items() if k != "out_dir"
    }
    assert ours["out_dir"] == "out/train"  # apart from v12's, so that neither refuses the other's folder
    with pytest.raises(SystemExit):
        babygpt_train.parse_args(["--warmup", "5"])  # no abbreviations


# ----------------------------------------------------------------------------
# Whole runs (in this process)


@pytest.fixture(scope="module")
def whole_run(finished_run):
    """A run never interrupted, for the resumed ones to match (finished_run's: the tests only read it)."""
    return finished_run / "run"


# Batches drawn: 4 per estimate (2 per split), 2 per step (2 micro-batches). The 26th is drawn while step 8's
# estimate runs: the run stops right after it, at step 8. The 30th is drawn during step 8: it stops at step 9.
@pytest.mark.parametrize("ctrl_c_at_batch, stopped_at", [(26, 8), (30, 9)], ids=["during_an_estimate", "in_a_step"])
def test_interrupted_run_resumes_to_the_same_losses_and_weights(
    whole_run, ctrl_c_at_batch, stopped_at, tmp_path, monkeypatch, capsys
):
    real_get_batch, calls = v12.get_batch, []

    def ctrl_c(*args):
        calls.append(1)
        if len(calls) == ctrl_c_at_batch:
            signal.raise_signal(signal.SIGINT)
        return real_get_batch(*args)

    monkeypatch.setattr(v12, "get_batch", ctrl_c)
    with pytest.raises(SystemExit) as stopped:
        babygpt_train.main(run_argv(tiny_corpus(tmp_path), tmp_path / "stopped"))
    monkeypatch.undo()
    assert stopped.value.code == 130
    assert "checkpoint saved: continue with --resume" in capsys.readouterr().out
    assert torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=True)["step"] == stopped_at

    babygpt_train.main(["--resume", str(tmp_path / "stopped")])
    summary = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trained ")]
    assert len(summary) == 1 and f"trained steps {stopped_at} to 12 in 0:00:" in summary[0]  # this sitting, then
    assert "in this sitting" in summary[0] and "the whole run: 12 steps in 0:00:" in summary[0]  # both sittings
    assert summary[0].endswith("over 2 sittings")
    columns = ("step", "train_loss", "val_loss", "learning_rate", "grad_norm")
    whole, resumed = read_metrics(whole_run), read_metrics(tmp_path / "stopped")
    assert [[row[c] for c in columns] for row in resumed] == [[row[c] for c in columns] for row in whole]
    assert [row["step"] for row in whole] == ["0", "4", "8", "12"]
    elapsed = [float(row["elapsed_seconds"]) for row in resumed]  # the clock goes on across the sittings
    assert elapsed == sorted(elapsed) and len(set(elapsed)) == len(elapsed)
    final = [torch.load(run / "checkpoint.pt", weights_only=True) for run in (whole_run, tmp_path / "stopped")]
    assert final[0]["step"] == final[1]["step"] == 12
    assert all(torch.equal(final[0]["model_state"][k], t) for k, t in final[1]["model_state"].items())


def test_best_checkpoint_is_kept_apart_from_the_last_and_both_load_in_the_sampler(corpus, tmp_path, monkeypatch):
    val_losses = iter([3.0, 2.0, 2.5, 2.7])  # estimates at steps 0, 4, 8, 12: the best is at step 4
    monkeypatch.setattr(v12, "estimate_loss", lambda *args: {"train": 2.9, "val": next(val_losses)})
    babygpt_train.main(run_argv(corpus, tmp_path / "run"))
    loaded = {}
    for name in ("best.pt", "checkpoint.pt"):
        model, tokenizer, checkpoint = babygpt.checkpoint.load_checkpoint(str(tmp_path / "run" / name), "cpu")
        loaded[name] = (checkpoint["step"], checkpoint["val_loss"], model)
    assert (loaded["best.pt"][:2], loaded["checkpoint.pt"][:2]) == ((4, 2.0), (12, 2.7))
    assert not torch.equal(loaded["best.pt"][2].lm_head.weight, loaded["checkpoint.pt"][2].lm_head.weight)
    assert set(os.listdir(tmp_path / "run")) >= {"metrics.csv", "loss_curve.png", "samples.txt", "best.pt"}
    for _, _, model in loaded.values():  # and they generate
        text = tokenizer.decode(model.generate(torch.tensor([tokenizer.encode("春江")]), 6, temperature=0)[0].tolist())
        assert text.startswith("春江") and len(text) == 8


def test_entry_point_reports_every_evaluation_stops_when_report_returns_true_and_the_folder_resumes(corpus, tmp_path):
    """The stages' contract: the recorder's report(metrics) returning True stops training there (a sweep's
    pruner); the run folder is finished as after a whole run, and --resume continues it."""
    seen = []

    class PruneAtStep4(babygpt_train.RunRecorder):
        def report(self, metrics):
            super().report(metrics)
            seen.append((metrics["step"], metrics["val_loss"]))
            return metrics["step"] == 4

    args = babygpt_train.parse_args(run_argv(corpus, tmp_path / "trial"))
    result = babygpt_train.run(args, make_recorder=PruneAtStep4)
    assert [step for step, _ in seen] == [0, 4] and result.final["step"] == 4
    assert result.final["val_loss"] == seen[-1][1] and [m["step"] for m in result.history] == [0, 4]
    assert [prompt for prompt, _ in result.samples] == ["春江", "往事"]  # sampled from the model of step 4
    assert all(text.startswith(prompt) and len(text) == len(prompt) + 5 for prompt, text in result.samples)
    assert (tmp_path / "trial" / "samples.txt").read_text(encoding="utf-8").count(result.samples[0][1]) == 1
    assert {"metrics.csv", "loss_curve.png", "samples.txt", "checkpoint.pt", "best.pt"} <= set(
        os.listdir(result.out_dir)
    )
    assert vars(args) == vars(babygpt_train.parse_args(run_argv(corpus, tmp_path / "trial")))  # the caller's args kept

    finished = babygpt_train.run(babygpt_train.parse_args(["--resume", str(tmp_path / "trial")]))
    assert [m["step"] for m in finished.history] == [0, 4, 8, 12] and finished.final["step"] == 12
    assert finished.final["val_loss"] == float(read_metrics(tmp_path / "trial")[-1]["val_loss"])
    assert [prompt for prompt, _ in finished.samples] == ["春江", "往事"]
    assert (tmp_path / "trial" / "samples.txt").read_text(encoding="utf-8").count(finished.samples[1][1]) == 1


def test_the_dtype_changes_neither_the_batches_nor_the_dropout_masks(corpus, tmp_path, monkeypatch):
    """Same --seed, same random stream whatever --dtype: checking a dtype must not draw random numbers."""
    real_get_batch = v12.get_batch
    streams = {}
    for dtype in ("float32", "bfloat16"):
        drawn = streams[dtype] = []  # the random state at each batch: the batches and every dropout mask between

        def recording_get_batch(*args, drawn=drawn):
            drawn.append(torch.get_rng_state())
            return real_get_batch(*args)

        monkeypatch.setattr(v12, "get_batch", recording_get_batch)
        argv = run_argv(corpus, tmp_path / dtype, "--max_iters", "4", "--dtype", dtype, "--max_new_tokens", "1")
        babygpt_train.run(babygpt_train.parse_args(argv))
    assert len(streams["float32"]) == len(streams["bfloat16"]) > 8
    assert all(torch.equal(a, b) for a, b in zip(streams["float32"], streams["bfloat16"], strict=True))


def test_resume_keeps_the_runs_machine_options_and_says_when_one_given_differs(corpus, tmp_path, capsys):
    class StopAtStep8(babygpt_train.RunRecorder):
        def report(self, metrics):
            super().report(metrics)
            return metrics["step"] == 8

    float16 = ("--dtype", "float16")
    whole = babygpt_train.run(babygpt_train.parse_args(run_argv(corpus, tmp_path / "whole", *float16)))
    babygpt_train.run(babygpt_train.parse_args(run_argv(corpus, tmp_path / "run", *float16)), None, StopAtStep8)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["hyperparameters"]
    assert {name: saved[name] for name in ("dtype", "device", "compile", "tf32")} == {
        "dtype": "float16",
        "device": "cpu",  # what --device auto chose, as the run really used it
        "compile": False,
        "tf32": True,
    }
    capsys.readouterr()
    resumed = babygpt_train.run(babygpt_train.parse_args(["--resume", str(tmp_path / "run")]))
    assert [m["val_loss"] for m in resumed.history] == [m["val_loss"] for m in whole.history]
    assert "dtype float16" in capsys.readouterr().out

    babygpt_train.main(["--resume", str(tmp_path / "run"), "--max_iters", "16", "--dtype", "float32"])
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "--dtype float32 (the run: float16)" in notes[0]
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["hyperparameters"]["dtype"] == "float32"


def test_a_compile_mode_given_anew_is_said_to_change_the_losses_only_where_a_sitting_compiles():
    saved = {"hyperparameters": {"compile": False, "compile_mode": "reduce-overhead", "dtype": "float32"}}
    cpu = torch.device("cpu")

    def changed(**given):
        args = recipe(dtype="float32", **given)
        return babygpt_train.resolve_machine_options(args, cpu, 1, saved, tuple(given))

    assert changed(compile_mode="default") == []  # neither sitting compiles: the losses are the same
    both = ["--compile True (the run: False)", "--compile_mode default (the run: reduce-overhead)"]
    assert changed(compile_mode="default", compile=True) == both


def test_resume_under_torchrun_puts_each_process_on_its_own_gpu(finished_run, monkeypatch):
    """Argument level: process 1 of 2 resumes with --device cuda:0 and must take cuda:1 (no GPU needed)."""
    for name, value in {"RANK": 1, "LOCAL_RANK": 1, "WORLD_SIZE": 2, "LOCAL_WORLD_SIZE": 2}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(dist, "init_process_group", lambda **kwargs: None)
    picked = []

    def pick_device(name):
        picked.append(name)
        raise ValueError("stop here")

    monkeypatch.setattr(v12, "pick_device", pick_device)
    argv = ["--resume", str(finished_run / "run"), "--device", "cuda:0", "--max_iters", "16"]
    with pytest.raises(SystemExit):
        babygpt_train.main(argv)
    assert picked == ["cuda:1"]


class FakeWandb:
    """wandb as the trainer uses it: init() records its arguments and gives a run that colours its closing lines."""

    def __init__(self):
        self.inits = []

    def init(self, **kwargs):
        self.inits.append(kwargs)
        run = types.SimpleNamespace(id=kwargs["id"] or f"run{len(self.inits)}", summary={}, log=lambda *a, **k: None)
        run.finish = lambda: print("\x1b[34m\x1b[1mwandb\x1b[0m: Synced 5 W&B file(s)", file=sys.stderr)
        return run


def test_a_resumed_run_goes_on_in_its_own_wandb_run_and_log_lines_carry_no_colour_codes(
    corpus, tmp_path, monkeypatch, capsys
):
    wandb = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", wandb)
    argv = run_argv(corpus, tmp_path / "run", "--max_iters", "4", "--wandb_mode", "offline")
    babygpt_train.main(argv)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["wandb_run_id"] == "run1"
    babygpt_train.main(["--resume", str(tmp_path / "run"), "--max_iters", "8"])
    assert [(init["id"], init["resume"]) for init in wandb.inits] == [(None, None), ("run1", "allow")]
    assert wandb.inits[1]["config"]["wandb_mode"] == "offline"
    err = capsys.readouterr().err
    assert err.count("wandb: Synced 5 W&B file(s)") == 2 and "\x1b" not in err


def offline_history_steps(folder):
    """The steps a wandb offline folder logged: its run-ID.wandb file is records in LevelDB's log format (blocks
    of 32 KiB, each record with a 7-byte header: checksum, length, type), each record a wandb protobuf Record."""
    import struct

    from wandb.proto import wandb_internal_pb2

    (path,) = folder.glob("run-*.wandb")
    data, position, pieces, steps = path.read_bytes(), 7, b"", []  # 7: the file's own header
    while position + 7 <= len(data):
        if 32768 - position % 32768 < 7:  # a block's tail too short for a header is padding
            position += 32768 - position % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if length == 0 and kind == 0:
            break
        pieces += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pieces)
            pieces = b""
            if record.WhichOneof("record_type") == "history":
                items = {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
                steps.append(int(items["_step"]))
    return steps


def test_an_offline_run_resumed_is_one_run_id_and_the_note_gives_the_command_that_uploads_it_whole(
    corpus, tmp_path, capsys
):
    """Real wandb, offline (no network): each sitting writes its own folder, with the run's id and the steps
    following on; wandb's own closing line names one folder, the trainer's names all of them."""
    pytest.importorskip("wandb")
    run = tmp_path / "run"
    babygpt_train.main(run_argv(corpus, run, "--max_iters", "4", "--wandb_mode", "offline"))
    babygpt_train.main(["--resume", str(run), "--max_iters", "8"])
    folders = sorted((run / "wandb").glob("offline-run-*"))
    run_id = torch.load(run / "checkpoint.pt", weights_only=True)["wandb_run_id"]
    assert len(folders) == 2 and all(folder.name.endswith(f"-{run_id}") for folder in folders)
    first, second = (offline_history_steps(folder) for folder in folders)
    assert first == [0, 4] and second == [8]  # steps follow on: nothing logged twice when uploaded as one run
    out = capsys.readouterr().out
    command = f"wandb sync --id {run_id} {run}/wandb/offline-run-*-{run_id}"
    assert f"wandb (offline): upload with: {command} (after a --resume" in out
    assert f"wandb (offline): this run's 2 sittings are 2 folders with the run id {run_id}; upload them" in out
    assert out.rstrip().splitlines()[-2].endswith(command)
    assert sorted(glob.glob(command.split()[-1])) == [str(folder) for folder in folders]


def test_resuming_onto_another_corpus_is_refused_unless_allowed(corpus, tmp_path, capsys):
    babygpt_train.main(run_argv(corpus, tmp_path / "run", "--max_iters", "4"))
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["corpus_sha256"] == hashlib.sha256(corpus.read_bytes()).hexdigest()
    moved = tmp_path / "moved.txt"  # the same text elsewhere: fine
    moved.write_text(corpus.read_text(encoding="utf-8"), encoding="utf-8")
    babygpt_train.main(["--resume", str(tmp_path / "run"), "--max_iters", "8", "--data", str(moved)])
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    moved.write_text("".join(lines[1:] + lines[:1]), encoding="utf-8")  # the same characters, another order
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(SystemExit) as refused:
        babygpt_train.main(["--resume", str(tmp_path / "run"), "--max_iters", "12", "--data", str(moved)])
    message = str(refused.value.code)
    assert message.startswith("error: ") and "\n" not in message
    assert "is not the corpus the run trained on" in message and "--allow_corpus_change" in message
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before
    capsys.readouterr()
    argv = ["--resume", str(tmp_path / "run"), "--max_iters", "12", "--data", str(moved), "--allow_corpus_change"]
    babygpt_train.main(argv)
    assert "note: resuming on another corpus than the run's" in capsys.readouterr().out
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 12 and checkpoint["corpus_sha256"] == hashlib.sha256(moved.read_bytes()).hexdigest()


MISLEADING_OPTIONS = {  # id -> (the options, the words of the note said at the start)
    "all_warmup": (["--warmup_iters", "12"], "note: the run is all warmup (--warmup_iters 12, --max_iters 12)"),
    "warmup_longer": (["--warmup_iters", "30"], "to 1.20e-04 at the last step, and never decays"),
    "min_lr_above": (["--min_lr", "0.01"], "note: --min_lr 0.01 is above --learning_rate 0.0003"),
    "compile_mode_alone": (
        ["--compile_mode", "reduce-overhead"],
        "note: --compile_mode reduce-overhead does nothing without --compile",
    ),
}


@pytest.mark.parametrize("extra, words", list(MISLEADING_OPTIONS.values()), ids=list(MISLEADING_OPTIONS))
def test_an_option_that_is_not_what_it_seems_is_said_in_one_line_at_the_start(extra, words, corpus, tmp_path, capsys):
    babygpt_train.main(run_argv(corpus, tmp_path / "run", "--max_iters", "12", "--eval_interval", "12", *extra))
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and words in notes[0]
    assert out.index(notes[0]) < out.index("step     0 |")


def test_a_gpu_sized_run_on_a_cpu_is_said_to_take_hours(corpus, tmp_path, capsys, monkeypatch):
    class Started(Exception):
        pass

    def train(*args, **kwargs):
        raise Started

    monkeypatch.setattr(babygpt_train, "train", train)
    with pytest.raises(Started):
        babygpt_train.run(babygpt_train.parse_args(run_argv(corpus, tmp_path / "run", "--max_iters", str(10**11))))
    assert babygpt_train.v12.GPU_SIZED_NOTE in capsys.readouterr().out.splitlines()


def test_cuda_graphs_asked_for_on_a_cpu_are_said_to_be_left_out():
    notes = babygpt_train.compile_notes(recipe(compile=True, compile_mode="reduce-overhead", device="cpu"))
    assert notes == [
        "note: CUDA graphs need a CUDA GPU: on the CPU, --compile_mode reduce-overhead compiles without them"
    ]
    assert "on mps," in babygpt_train.compile_notes(recipe(compile=True, compile_mode="max-autotune", device="mps"))[0]
    assert babygpt_train.compile_notes(recipe(compile=True, compile_mode="reduce-overhead", device="cuda:0")) == []
    assert babygpt_train.compile_notes(recipe(compile=True, compile_mode="default", device="cpu")) == []


# ----------------------------------------------------------------------------
# Bad input: one line, a non-zero exit, nothing written


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A folder with corpus.txt and run/, the run folder of a whole run of run_argv's settings."""
    folder = tmp_path_factory.mktemp("finished")
    (folder / "corpus.txt").write_text(tiny_text(), encoding="utf-8")
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        babygpt_train.main(run_argv(folder / "corpus.txt", folder / "run"))
    return folder


def broken_copy(finished_run, tmp_path, how):
    """A copy of the finished run's folder with its checkpoint spoilt in one way."""
    run = tmp_path / "run"
    run.mkdir()
    data = (finished_run / "run" / "checkpoint.pt").read_bytes()
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "v12":
        checkpoint = torch.load(finished_run / "run" / "checkpoint.pt", weights_only=True)
        for key in ("optimizer_state", "rng_states", "history"):
            del checkpoint[key]
        torch.save(checkpoint, run / "checkpoint.pt")
        data = (run / "checkpoint.pt").read_bytes()
    if how != "missing":
        (run / "checkpoint.pt").write_bytes(data)
    return run


BAD_RUNS = {
    "accumulation": (["--gradient_accumulation_steps", "0"], "--gradient_accumulation_steps must be at least 1"),
    "weight_decay": (["--weight_decay", "-0.1"], "--weight_decay must be 0 (off) or a positive number"),
    "beta": (["--beta2", "1"], "--beta2 must be at least 0 and less than 1"),
    "min_lr": (["--min_lr", "-1"], "--min_lr must be 0 or a positive number"),
    "dtype": (["--dtype", "float8"], "argument --dtype: invalid choice: 'float8'"),
}


@pytest.mark.parametrize("case", BAD_RUNS)
def test_bad_option_is_refused_in_one_line_before_anything_is_written(case, corpus, tmp_path):
    extra, words = BAD_RUNS[case]
    with pytest.raises(SystemExit) as refused:
        babygpt_train.main(run_argv(corpus, tmp_path / "run", *extra))
    message = str(refused.value.code)
    assert words in message and "\n" not in message and "error" in message
    assert not (tmp_path / "run").exists()


BAD_RESUMES = {
    "no_folder": ("nowhere", [], "no such run folder"),
    "missing": ("missing", [], "it holds no checkpoint.pt, so there is nothing to resume"),
    "truncated": ("truncated", [], "the file is truncated or damaged"),
    "v12": ("v12", [], "only a run of babygpt_train.py can be resumed"),
    "model_size": ("intact", ["--n_embed", "32"], "the run in"),
    "finished": ("intact", [], "already reached step 12 of --max_iters 12; pass a larger --max_iters"),
}


@pytest.mark.parametrize("case", BAD_RESUMES)
def test_bad_resume_is_refused_in_one_line_and_leaves_the_folder_as_it_was(case, finished_run, tmp_path):
    how, extra, words = BAD_RESUMES[case]
    run = tmp_path / "nowhere" if how == "nowhere" else broken_copy(finished_run, tmp_path, how)
    before = {name: (run / name).read_bytes() for name in os.listdir(run)} if run.exists() else None
    with pytest.raises(SystemExit) as refused:
        babygpt_train.main(["--resume", str(run), *extra])
    message = str(refused.value.code)
    assert message.startswith("error: ") and words in message and "\n" not in message
    if case == "model_size":
        assert "n_embed = 16; a resumed run keeps its model size" in message
    after = {name: (run / name).read_bytes() for name in os.listdir(run)} if run.exists() else None
    assert after == before


def test_more_processes_than_gpus_is_refused_in_one_line(monkeypatch, corpus, tmp_path):
    too_many = torch.cuda.device_count() + 1
    for name, value in {"RANK": 0, "LOCAL_RANK": 0, "WORLD_SIZE": too_many, "LOCAL_WORLD_SIZE": too_many}.items():
        monkeypatch.setenv(name, str(value))
    with pytest.raises(SystemExit) as refused:
        babygpt_train.main(run_argv(corpus, tmp_path / "run", "--device", "cuda"))
    assert f"torchrun started {too_many} processes on this machine but it has {too_many - 1} CUDA GPU" in str(
        refused.value.code
    )
    assert not dist.is_initialized() and not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------
# Data parallel


def test_ddp_update_equals_one_process_with_the_combined_batch(background):
    folder, process = background
    torchrun_output(process)
    model = tiny_model()
    optimizer = make_optimizer(model, recipe(learning_rate=1e-2), torch.device("cpu"))
    for step in range(2):
        both = batches(100 * step, step + 1) + batches(100 * step + 1, step + 1)
        combined = [(torch.cat([x for x, _ in both]), torch.cat([y for _, y in both]))]
        train_step(model, optimizer, None, combined, 0.5, contextlib.nullcontext())
    ddp = torch.load(folder / "ddp.pt", weights_only=True)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(ddp["weights"][name], tensor, rtol=0, atol=1e-6)
    one_micro_batch, two_micro_batches = ddp["all_reduces"]
    assert one_micro_batch == two_micro_batches > 0  # no gradient synchronisation on the first of two micro-batches


def test_torchrun_trains_on_two_cpu_processes_and_only_rank_0_prints_and_records(background):
    folder, process = background
    out, _ = torchrun_output(process)
    assert out.count("tokens per iteration: 128 = batch 4 x block 8 x accumulation 2 x processes 2") == 1
    assert out.count("step    12 |") == 1
    assert [row["step"] for row in read_metrics(folder / "run")] == ["0", "4", "8", "12"]
    checkpoint = torch.load(folder / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng_states"]) == 2
    assert not torch.equal(checkpoint["rng_states"][0]["cpu"], checkpoint["rng_states"][1]["cpu"])
    # one all-reduce per evaluation (the losses); the stop flag's only every STOP_CHECK_EVERY (10) steps: 0 and 10
    assert (folder / "ddp.pt.all_reduces").read_text() == str(4 + 2)


def test_under_torchrun_a_refusal_on_rank_0_stops_every_process_with_one_line(background):
    folder, process = background
    torchrun_output(process)  # every process came back from the three refusals: none hung or crashed
    ended = [json.loads((folder / f"ddp.pt.{rank}.json").read_text(encoding="utf-8")) for rank in (0, 1)]
    words = {
        "trained": "already holds a trained model (checkpoint.pt): pass --overwrite",
        "unwritable": "error: cannot write the run folder",
        "wandb": "error: wandb could not start (division by zero)",
    }
    for case, expected in words.items():
        assert expected in ended[0][case] and "\n" not in ended[0][case], case  # rank 0 prints the line
        assert ended[1][case] == 1, case  # the other process leaves quietly, with the same status
    assert not (folder / "run-wandb").exists()


def refusals_under_torchrun(result_path, argv):
    """In each of the torchrun processes, after the run: three refusals that only rank 0 can see (the run folder
    already holds a model, it cannot be written, wandb does not start). Each process records how main() ended."""
    out_dir = argv[argv.index("--out_dir") + 1]
    unwritable = os.path.join(argv[argv.index("--data") + 1], "run")  # a folder inside a file
    cases = {
        "trained": argv,
        "unwritable": [*argv, "--out_dir", unwritable],
        "wandb": [*argv, "--out_dir", out_dir + "-wandb", "--wandb_mode", "offline"],
    }
    ended = {}
    for case, case_argv in cases.items():
        if case == "wandb":  # a wandb whose start fails, as it does online without `wandb login`
            sys.modules["wandb"] = types.SimpleNamespace(init=lambda **kwargs: 1 / 0)
        try:
            babygpt_train.main(case_argv)
            ended[case] = "trained"
        except SystemExit as e:
            ended[case] = e.code
    with open(f"{result_path}.{dist.get_rank()}.json", "w", encoding="utf-8") as f:
        json.dump(ended, f)


def count_all_reduces(result_path, argv):
    """main(argv), counting the all-reduces it makes (the gradients' aside: DDP makes those in C++)."""
    real_all_reduce, calls = dist.all_reduce, []
    dist.all_reduce = lambda *args, **kwargs: calls.append(1) or real_all_reduce(*args, **kwargs)
    try:
        babygpt_train.main(argv)
    finally:
        dist.all_reduce = real_all_reduce
    if dist.get_rank() == 0:
        with open(f"{result_path}.all_reduces", "w", encoding="utf-8") as f:
            f.write(str(len(calls)))


if __name__ == "__main__":  # run by torchrun in the `background` fixture: python -m test_train DDP_RESULT ARGV...
    ddp_updates(sys.argv[1])
    count_all_reduces(sys.argv[1], sys.argv[2:])
    refusals_under_torchrun(sys.argv[1], sys.argv[2:])
    babygpt_train.leave_process_group()  # the one ddp_updates joined, as the trainer leaves the one it joins


def test_the_trainer_replacing_a_folder_leaves_no_stale_best_pt_and_a_resume_keeps_it(tmp_path):
    # the trainer's best.pt is the trainer's business: v12 knows nothing of it (issue 28), and a trainer run
    # that replaces a folder, whoever wrote it last, replaces its best.pt too
    corpus, run = tiny_corpus(tmp_path), tmp_path / "run"
    v12_argv = run_argv(corpus, run)[:22]  # the options v12 has too (the recipe's come after them)
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        babygpt_train.main(run_argv(corpus, run, "--max_iters", "8"))
        babygpt_train.main(["--resume", str(run), "--max_iters", "12"])
        assert (run / "best.pt").exists()  # a resume goes on with its own best model
        old_run_id = torch.load(run / "best.pt", weights_only=True)["run_id"]
        v12.main([*v12_argv, "--overwrite"])
        assert torch.load(run / "checkpoint.pt", weights_only=True)["stage"] == "babygpt_v12_wandb.py"
        babygpt_train.main(run_argv(corpus, run, "--max_iters", "4", "--overwrite"))
    best, last = (torch.load(run / name, weights_only=True) for name in ("best.pt", "checkpoint.pt"))
    assert best["run_id"] == last["run_id"] != old_run_id and best["step"] <= 4  # the new run's best model


def full_disk_on(name, occurrence, real_write):
    """v12's write_atomically, whose occurrence-th write of a file called name goes to /dev/full: ENOSPC from
    the kernel, as on a full disk, and a failed write() that names no file."""
    calls = []

    def write(path, data):
        if os.path.basename(path) == name:
            calls.append(path)
            if len(calls) == occurrence:
                with open("/dev/full", "wb") as f:
                    f.write(data)
        return real_write(path, data)

    return write


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here (not Linux)")
@pytest.mark.parametrize(
    ("name", "occurrence"),
    [("checkpoint.pt", 3), ("metrics.csv", 3), ("best.pt", 1), ("loss_curve.png", 1), ("samples.txt", 1)],
)
def test_a_full_disk_is_one_line_naming_the_file_and_the_last_good_checkpoint_is_kept(
    corpus, tmp_path, monkeypatch, name, occurrence
):
    run = tmp_path / "run"
    monkeypatch.setattr(v12, "write_atomically", full_disk_on(name, occurrence, v12.write_atomically))
    with pytest.raises(SystemExit) as stopped:
        babygpt_train.main(run_argv(corpus, run, "--max_iters", "8"))
    assert stopped.value.code == (
        f"error: cannot write {run / name}: No space left on device; the last good checkpoint"
        f" {run / 'checkpoint.pt'} is kept: free some space, then continue with --resume {run}"
    )
    step = torch.load(run / "checkpoint.pt", weights_only=True)["step"]  # whole, and loadable
    assert step == (4 if name in ("checkpoint.pt", "metrics.csv") else 8 if name != "best.pt" else 0)
    assert not list(run.glob("*.tmp"))
    monkeypatch.undo()
    babygpt_train.main(["--resume", str(run), "--max_iters", "12"])
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 12


def test_tokens_per_second_and_time_left_are_the_last_intervals_as_in_the_stages(corpus, tmp_path, monkeypatch):
    """On a clock where a step takes 1 s until step 4 and 3 s after, and an evaluation 0.5 s, the report at step 8
    says the pace of steps 4 to 8 (not the average since the start), as the stages' TrainingMeter does."""
    clock = [0.0]
    monkeypatch.setattr(babygpt_train, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    real_step = babygpt_train.train_step
    steps = []

    def timed_step(*args, **kwargs):
        steps.append(1)
        clock[0] += 1.0 if len(steps) <= 4 else 3.0
        return real_step(*args, **kwargs)

    monkeypatch.setattr(babygpt_train, "train_step", timed_step)
    real_evaluate = babygpt_train.evaluate

    def timed_evaluate(*args, **kwargs):
        clock[0] += 0.5
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(babygpt_train, "evaluate", timed_evaluate)
    result = babygpt_train.run(babygpt_train.parse_args(run_argv(corpus, tmp_path / "run")))
    by_step = {m["step"]: m for m in result.history}
    tokens_per_step = 4 * 8 * 2  # batch x block x accumulation
    assert by_step[0]["tokens_per_second"] is None and by_step[0]["remaining_seconds"] is None
    assert by_step[4]["tokens_per_second"] == pytest.approx(4 * tokens_per_step / 4.0)
    assert by_step[8]["tokens_per_second"] == pytest.approx(4 * tokens_per_step / 12.0)  # the average: 8 x / 16
    assert by_step[8]["remaining_seconds"] == pytest.approx(12.5)  # 4 steps left at 12.5 s per 4 (average: 8.75)
    assert by_step[8]["elapsed_seconds"] == pytest.approx(17.5)
