"""Tests for the twelve BabyGPT stages: tiny models on CPU, a fixed seed, no network, no data/ci.txt.

Most tests run once per stage, with ids v1 .. v12:
    python -m pytest tests/test_stages.py -q            (everything, well under a minute)
    python -m pytest tests/test_stages.py -q -k v3      (one stage)
-k matches substrings, so -k v1 also selects v10, v11 and v12; for v1 alone use
    python -m pytest tests/test_stages.py -q -k "v1 and not v10 and not v11 and not v12"
"""

import argparse
import ast
import csv
import functools
import inspect
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import types

import matplotlib.image
import pytest
import torch
from conftest import ROOT, STAGE_IDS, STAGE_MODULES, load_stage, stage_number, tiny_text

from babygpt import checks
from babygpt.checks import (
    TRAINING_NAMES,
    VOCAB,
    expected_model_names,
    expected_parameter_count,
    model_config,
    random_ids,
    tiny_model,
)


def expected_names(n):
    return TRAINING_NAMES + expected_model_names(n)


SMALL_DEFAULTS = {  # v1 .. v10: sized for a laptop CPU
    "max_iters": 5000,
    "eval_interval": 500,
    "eval_iters": 50,
    "batch_size": 32,
    "learning_rate": 1e-2,
    "block_size": 8,
    "n_embed": 32,
    "n_head": 4,
    "n_layer": 3,
    "dropout": 0.2,
}
LARGE_DEFAULTS = {  # v11, v12: sized for a GPU
    "max_iters": 5000,
    "eval_interval": 500,
    "eval_iters": 50,
    "batch_size": 64,
    "learning_rate": 3e-4,
    "block_size": 256,
    "n_embed": 384,
    "n_head": 6,
    "n_layer": 6,
    "dropout": 0.2,
}

METRIC_KEYS = [  # what train() passes to report(), the stage API
    "step",
    "train_loss",
    "val_loss",
    "val_perplexity",
    "learning_rate",
    "tokens_per_second",
    "elapsed_seconds",
    "remaining_seconds",
    "eval_fraction",
]


def tiny_argv(stage, data, tmp_path, *extra, run_folder=True, **overrides):
    """Command-line arguments for a run of a few seconds' worth: only the options this stage has."""
    values = {
        "max_iters": 20,
        "eval_interval": 10,
        "eval_iters": 2,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "block_size": 8,
        "n_embed": 16,
        "n_head": 2,
        "n_layer": 1,
        "dropout": 0.2,
        **overrides,
    }
    argv = [f"--data={data}", "--device=cpu", "--max_new_tokens=10"]
    argv += [f"--{name}={values[name]}" for name in stage.HYPERPARAMETERS]
    if stage_number(stage) >= 12 and run_folder:  # else the defaults: out/v12 under the cwd, wandb offline
        argv += ["--wandb_mode=disabled", f"--out_dir={tmp_path / 'run'}", "--overwrite"]
    return argv + list(extra)


def files_under(path):
    """Every file and folder under path, relative to it."""
    return sorted(
        os.path.relpath(os.path.join(d, name), path) for d, dirs, files in os.walk(path) for name in dirs + files
    )


# ----------------------------------------------------------------------------
# Hyperparameters and the command line


def test_hyperparameters_are_exactly_what_the_stage_needs(stage):
    checks.hyperparameters(stage, stage_number(stage))


def test_defaults(stage):
    n = stage_number(stage)
    expected = LARGE_DEFAULTS if n >= 11 else SMALL_DEFAULTS
    defaults = {name: default for name, (default, _) in stage.HYPERPARAMETERS.items()}
    assert defaults == {name: expected[name] for name in expected_names(n)}
    args = stage.parse_args([])
    assert {name: getattr(args, name) for name in defaults} == defaults
    others = {"data": "data/ci.txt", "device": "auto", "prompt": None, "max_new_tokens": 100, "seed": 1337}
    assert {name: getattr(args, name) for name in others} == others


def test_every_hyperparameter_is_an_option_that_overrides_its_default(stage):
    for name, (default, _) in stage.HYPERPARAMETERS.items():
        new = default / 2 if isinstance(default, float) else default + 3
        args = stage.parse_args([f"--{name}", str(new)])
        assert getattr(args, name) == new and type(getattr(args, name)) is type(default)
        others = {other: getattr(args, other) for other in stage.HYPERPARAMETERS if other != name}
        assert others == {other: d for other, (d, _) in stage.HYPERPARAMETERS.items() if other != name}


def test_help_mentions_every_option(stage, capsys):
    with pytest.raises(SystemExit) as exit_info:
        stage.parse_args(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    options = [*stage.HYPERPARAMETERS, "data", "device", "prompt", "max_new_tokens", "seed"]
    if stage_number(stage) >= 12:
        options += ["out_dir", "wandb_mode", "wandb_project"]
    for name in options:
        assert f"--{name}" in out
    text = " ".join(out.split())  # argparse wraps long help lines
    assert stage.__doc__.splitlines()[0] in text  # what this stage is, first
    for name, (default, meaning) in stage.HYPERPARAMETERS.items():
        assert f"--{name} {name.upper()} {meaning} (default: {default})" in text
    for default in ["data/ci.txt", "100", "1337"]:  # --data, --max_new_tokens, --seed
        assert f"(default: {default})" in text
    helpless = [a.dest for a in stage.make_parser()._actions if a.dest != "help" and not (a.help or "").strip()]
    assert not helpless, f"options without help: {helpless}"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--bogus", "1"], "unrecognized arguments: --bogus"),
        (["--max_iter", "5"], "unrecognized arguments: --max_iter"),  # abbreviations are not guessed
        (["--max_iters", "1.5"], "invalid int value"),
        (["--learning_rate", "fast"], "invalid float value"),
    ],
    ids=["unknown", "abbreviated", "not_int", "not_float"],
)
def test_bad_option_is_a_one_line_error(stage, argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        stage.parse_args(argv)
    message = exit_info.value.code
    assert isinstance(message, str) and "\n" not in message  # a string exit code means status 1
    assert words in message
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["--max_iter", "5"], "--max_iter: did you mean --max_iters?"),
        (["--lerning_rate=0.1"], "--lerning_rate: did you mean --learning_rate?"),
        (["--sed", "3", "--max_iter", "5"], "--sed: did you mean --seed?; --max_iter: did you mean --max_iters?"),
        (["--lr", "0.01"], "--lr: did you mean --learning_rate?"),  # was --help: the closest string, not meaning
        (["--lr=0.01"], "--lr: did you mean --learning_rate?"),
        (["--n_embd", "64"], "--n_embd: did you mean --n_embed?"),  # nanoGPT's name
        (["--bs", "8", "--iters", "9"], "--bs: did you mean --batch_size?; --iters: did you mean --max_iters?"),
        (["--learning-rate", "0.1"], "--learning-rate: did you mean --learning_rate?"),
        (["--hlep"], "--hlep: did you mean --help?"),  # no value: a flag may be meant
    ],
    ids=["space", "equals", "two", "alias", "alias_equals", "nanogpt", "two_aliases", "hyphen", "flag"],
)
def test_a_mistyped_option_gets_the_closest_real_one(stage, argv, hint):
    with pytest.raises(SystemExit) as exit_info:
        stage.parse_args(argv)
    message = exit_info.value.code
    assert hint in message and "unrecognized arguments" in message and "\n" not in message


@pytest.mark.parametrize(
    "argv",
    [["--lr", "0.01"], ["--hel", "3"], ["--sed", "-5"], ["--overwrit", "3"]],
    ids=["lr", "hel", "negative", "flag"],
)
def test_an_option_given_a_value_is_never_taken_for_a_flag(stage, argv):
    with pytest.raises(SystemExit) as exit_info:
        stage.parse_args(argv)
    flags = [o for a in stage.make_parser()._actions if a.nargs == 0 for o in a.option_strings]  # --help, ...
    assert not [flag for flag in flags if f"did you mean {flag}?" in exit_info.value.code]


def test_an_option_of_another_stage_is_named_as_absent(stage):
    with pytest.raises(SystemExit) as exit_info:
        stage.parse_args(["--n_heads", "4", "--temp", "0.5"])
    message = exit_info.value.code
    has_heads = "n_head" in stage.MODEL_HYPERPARAMETERS  # from v4 on
    assert ("--n_heads: did you mean --n_head?" in message) == has_heads
    assert (f"--n_heads: {stage.make_parser().prog} has no --n_head" in message) != has_heads
    assert "--temp: " in message and "has no --temperature" in message  # babygpt_sample.py's option


def test_a_mistyped_flag_gets_the_flag_but_not_when_given_a_value():
    v12 = load_stage("v12")
    for argv, hint in [(["--overwrit"], "did you mean --overwrite?"), (["--overwrit", "3"], None)]:
        with pytest.raises(SystemExit) as exit_info:
            v12.parse_args(argv)
        assert (hint in exit_info.value.code) if hint else "did you mean" not in exit_info.value.code


def test_an_unknown_option_far_from_any_gets_no_guess(stage):
    with pytest.raises(SystemExit) as exit_info:
        stage.parse_args(["--zzzzzz", "1"])
    assert "did you mean" not in exit_info.value.code


def test_help_shows_every_default(stage):
    for action in stage.make_parser()._actions:
        if action.option_strings and action.dest != "help" and not isinstance(action, argparse._StoreTrueAction):
            assert "default" in action.help, f"--{action.dest} does not show its default"


# ----------------------------------------------------------------------------
# Shared code


SHARED = [
    "CharTokenizer",
    "load_corpus",
    "find_corpus",
    "split_data",
    "pick_device",
    "synchronize",
    "get_batch",
    "estimate_loss",
    "train",
    "check_losses",
    "format_seconds",
    "TrainingMeter",
    "print_report",
    "pick_next_token",
    "sample",
    "console_safe_output",
    "OneLineErrorParser",
    "parse_args",
    "check_args",
    "choose_prompts",
    "setup",
    "BabyGPT.generate",
    "BabyGPT._init_weights",
]


@functools.cache
def top_level_sources(stage):
    """name -> source text of each top-level function and class of a stage, and of each method as
    "Class.method" (one parse of its file, where inspect.getsource parses the whole file again for every class)."""
    source = inspect.getsource(stage)
    kinds = (ast.FunctionDef, ast.ClassDef)
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, kinds):
            found[node.name] = ast.get_source_segment(source, node)
            for inner in node.body if isinstance(node, ast.ClassDef) else []:
                if isinstance(inner, kinds):
                    found[f"{node.name}.{inner.name}"] = ast.get_source_segment(source, inner)
    return found


def source_of(stage, name):
    return top_level_sources(stage)[name]


@pytest.mark.parametrize(
    "name, stage_ids",
    [(name, STAGE_IDS) for name in SHARED] + [(name, STAGE_IDS[:11]) for name in ["make_parser", "run", "main"]],
    ids=[*SHARED, "make_parser", "run", "main"],
)
def test_shared_code_is_identical_in_every_stage(name, stage_ids):
    v1 = source_of(load_stage("v1"), name)
    differing = [sid for sid in stage_ids[1:] if source_of(load_stage(sid), name) != v1]
    assert not differing, f"{name} differs from v1 in {differing}"


# ----------------------------------------------------------------------------
# The model


def test_the_model_comes_first_within_80_lines_of_the_docstring(stage):
    # a stage reads as its lesson: hyperparameters, tokenizer, batching, then the model; the plumbing comes last
    source = inspect.getsource(stage)
    tree = ast.parse(source)
    first_model_class = next(
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node is not tree.body[0] and node.name != "CharTokenizer"
    )
    assert first_model_class.lineno - tree.body[0].end_lineno <= 80
    banner = source.index("# Everything below is the same in every stage")
    assert source.index("def load_corpus(") > banner > source.index("def sample(")


def test_train_shows_the_loop_and_nothing_else(stage):
    # the loop a learner reads: evaluate, then batch, loss, backward, step; the timing bookkeeping lives below the
    # banner, in TrainingMeter (issue 28)
    train = source_of(stage, "train")
    assert len(train.splitlines()) <= 25
    assert "perf_counter" not in train and "TrainingMeter" in train


def test_v1s_lesson_half_fits_in_200_lines():
    lines = inspect.getsource(load_stage("v1")).splitlines()  # the module docstring counts
    assert next(i for i, line in enumerate(lines) if line.startswith("# ====")) <= 200


def test_v12_knows_nothing_of_the_trainers_files():
    assert "best.pt" not in inspect.getsource(load_stage("v12"))  # babygpt_train.py handles its own best.pt


def test_shapes(stage):
    checks.shapes(stage, stage_number(stage))


def test_initial_loss_is_about_ln_vocab_size(stage):
    checks.initial_loss(stage, stage_number(stage))


def test_causal_later_tokens_never_change_earlier_logits(stage):
    checks.causal(stage, stage_number(stage))


def test_earlier_tokens_reach_later_logits_only_through_attention(stage):
    checks.earlier_tokens_reach_later(stage, stage_number(stage))


def test_position_matters_from_v2_on(stage):
    checks.position_matters(stage, stage_number(stage))


def test_forward_refuses_more_than_block_size_tokens_from_v2_on(stage):
    checks.refuses_long_input(stage, stage_number(stage))


def test_parameter_count_matches_the_architecture(stage):
    checks.parameter_count(stage, stage_number(stage))


def test_dropout_only_from_v10_on(stage):
    checks.dropout(stage, stage_number(stage))


def test_each_head_is_scaled_causal_dot_product_attention(stage):
    checks.head_is_attention(stage, stage_number(stage))


def test_the_model_adds_position_to_token_embeddings_and_blocks_add_to_the_residual_stream(stage):
    checks.residual_stream(stage, stage_number(stage))


def test_feed_forward_is_not_linear(stage):
    checks.feed_forward_not_linear(stage, stage_number(stage))


def test_each_sublayer_reads_a_layer_normed_stream_from_v9_on(stage):
    checks.pre_norm(stage, stage_number(stage))


def test_the_defaults_fit_the_compute_budget():
    checks.compute_budget(load_stage("v11"), 11)  # the budget is v11's own: its defaults use all of it


def test_a_run_is_recorded_in_its_folder():
    checks.records_the_run(load_stage("v12"), 12)


def test_initial_weights_are_small_and_centred_and_biases_zero(stage):
    checks.initial_weights(stage, stage_number(stage))


def test_the_causal_mask_is_not_saved_with_the_weights(stage):
    checks.mask_not_saved(stage, stage_number(stage))


def test_every_parameter_gets_a_gradient(stage):
    checks.every_parameter_learns(stage, stage_number(stage))


def test_training_lowers_the_loss(stage):
    checks.training_lowers_the_loss(stage, stage_number(stage))


def tiny_training(stage, train_data, val_data, max_iters=6, eval_interval=3, **model_overrides):
    """A model and the hyperparameters for a few steps of stage.train() on the given data."""
    model = tiny_model(stage, **model_overrides)
    config = model_config(stage, **model_overrides)
    hp = argparse.Namespace(
        max_iters=max_iters, eval_interval=eval_interval, eval_iters=2, batch_size=4, learning_rate=1e-2, **config
    )
    return model, hp


def test_training_runs_in_train_mode_and_evaluation_in_eval_mode(stage):
    checks.training_and_evaluation_modes(stage, stage_number(stage))


def test_val_loss_is_measured_on_the_val_split(stage):
    # train on a text of tokens 0 and 1 only, validate on tokens 2 and 3: the model learns that
    # 2 and 3 never occur, so the val loss must end far above the train loss
    train_data = torch.tensor([0, 1] * 150)
    val_data = torch.tensor([2, 3] * 50)
    model, hp = tiny_training(stage, train_data, val_data, max_iters=30, eval_interval=30)
    final = stage.train(model, train_data, val_data, hp, lambda metrics: None)
    assert final["val_loss"] > final["train_loss"] + 2


def test_split_data_keeps_the_order_train_first(stage):
    train_data, val_data = stage.split_data(torch.arange(100), 8)
    assert torch.equal(train_data, torch.arange(90)) and torch.equal(val_data, torch.arange(90, 100))


def test_split_data_needs_more_than_block_size_tokens_in_each_split(stage):
    with pytest.raises(ValueError, match="too short"):
        stage.split_data(torch.arange(90), 9)  # val: 9 tokens, no window of 9 + 1 fits
    _, val_data = stage.split_data(torch.arange(90), 8)
    x, y = stage.get_batch(val_data, 4, 8)
    assert torch.equal(x, val_data[:8].expand(4, 8)) and torch.equal(y, val_data[1:].expand(4, 8))


def test_the_corpus_is_read_as_utf8_whatever_the_locale(stage, tmp_path, monkeypatch):
    # open() without an encoding uses the locale's: GBK on a Chinese Windows, which garbles or refuses UTF-8
    path = tmp_path / "ci.txt"
    path.write_text("春江花月夜\n", encoding="utf-8")
    real_open = open
    monkeypatch.setattr(
        stage, "open", lambda *a, encoding=None, **k: real_open(*a, encoding=encoding or "gbk", **k), raising=False
    )
    assert stage.load_corpus(str(path)) == "春江花月夜\n"


@pytest.mark.parametrize(
    "cuda, mps, name, expected",
    [
        (True, True, "auto", "cuda"),
        (False, True, "auto", "mps"),
        (False, False, "auto", "cpu"),
        (True, False, "cuda", "cuda"),
        (True, False, "cuda:0", "cuda:0"),
        (True, False, "cuda:1", "no such CUDA GPU"),  # one GPU here: cuda:0 only
        (False, True, "mps", "mps"),
        (False, False, "mps", "no Apple MPS"),
        (False, False, "meta", "not supported"),
        (False, False, "cpu", "cpu"),
    ],
    ids=lambda v: str(v),
)
def test_pick_device_finds_the_best_device_and_refuses_a_missing_one(stage, monkeypatch, cuda, mps, name, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    if " " in expected:
        with pytest.raises(ValueError, match=expected):
            stage.pick_device(name)
    else:
        assert stage.pick_device(name) == torch.device(expected)


def test_synchronize_waits_for_the_gpu_it_is_given(stage, monkeypatch):
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(("cuda", device)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append(("mps", None)))
    for name in ["cpu", "cuda:0", "mps"]:
        stage.synchronize(torch.device(name))
    assert waited == [("cuda", torch.device("cuda:0")), ("mps", None)]


def test_a_diverging_loss_reports_infinite_perplexity(stage):
    # a loss above ~709 overflows exp(); the perplexity is then infinite, not a crash
    data = torch.arange(1, VOCAB).repeat(20)  # token 0 never occurs...
    model, hp = tiny_training(stage, data, data, max_iters=0)
    with torch.no_grad():
        model.lm_head.bias[0] = 3000.0  # ...but the model bets everything on it: loss about 3000
    final = stage.train(model, data, data, hp, lambda metrics: None)
    assert final["val_loss"] > 709 and final["val_perplexity"] == math.inf


def test_a_nan_loss_stops_training_with_a_hint(stage):
    data = random_ids(B=1, T=200)[0]
    model, hp = tiny_training(stage, data, data, max_iters=10, eval_interval=5)
    reports = []
    with torch.no_grad():
        model.lm_head.bias[0] = float("nan")
    with pytest.raises(ValueError, match="NaN by step 0.*lower --learning_rate"):
        stage.train(model, data, data, hp, reports.append)
    assert reports == []  # nothing reported (v12: no checkpoint of a broken model)


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "-:--:--"), (0, "0:00:00"), (59.6, "0:01:00"), (3723, "1:02:03"), (36000, "10:00:00"), (90061, "25:01:01")],
)
def test_format_seconds_counts_hours_past_a_day(stage, seconds, text):
    assert stage.format_seconds(seconds) == text


class FlushCounter(io.StringIO):
    flushes = 0

    def flush(self):
        self.flushes += 1


def test_print_report_shows_one_line_at_once(stage, monkeypatch):
    metrics = {
        "step": 40,
        "train_loss": 2.5,
        "val_loss": 2.75,
        "val_perplexity": 15.642,
        "learning_rate": 0.01,
        "tokens_per_second": 12345.6,
        "elapsed_seconds": 3723,
        "remaining_seconds": 59.6,
        "eval_fraction": 0.25,
    }
    first = {**metrics, "step": 0, "tokens_per_second": None, "remaining_seconds": None}
    out = FlushCounter()
    monkeypatch.setattr(sys, "stdout", out)
    stage.print_report(metrics)
    assert out.flushes == 1  # shown as it happens, even when stdout is a file or a pipe
    stage.print_report(first)
    stage.print_report({**metrics, "val_loss": 95.0, "val_perplexity": math.exp(95.0)})  # a run that diverged
    assert out.getvalue().splitlines() == [
        "step    40 | train loss 2.5000 | val loss 2.7500 | val perplexity    15.64 |  12,346 tokens/s"
        " | 1:02:03 elapsed, 0:01:00 left",
        "step     0 | train loss 2.5000 | val loss 2.7500 | val perplexity    15.64 |       - tokens/s"
        " | 1:02:03 elapsed, -:--:-- left",
        "step    40 | train loss 2.5000 | val loss 95.0000 | val perplexity 1.81e+41 |  12,346 tokens/s"
        " | 1:02:03 elapsed, 0:01:00 left",  # not 42 digits
    ]


def test_train_reports_speed_and_time_without_the_evaluations(stage, monkeypatch):
    # a fake clock: a training step takes 1 s, a loss estimate's batch 0.01 s, a report 0.5 s
    clock = [100.0]
    monkeypatch.setattr(stage, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    data = random_ids(B=1, T=200)[0]
    model, hp = tiny_training(stage, data, data, max_iters=4, eval_interval=2)
    hp.eval_iters = 1

    def tick(module, inputs):
        clock[0] += 1.0 if torch.is_grad_enabled() else 0.01

    model.register_forward_pre_hook(tick)
    reports = []

    def report(metrics):
        reports.append(metrics)
        clock[0] += 0.5

    stage.train(model, data, data, hp, report)
    tokens_per_step = hp.batch_size * hp.block_size
    assert [set(m) for m in reports] == [set(METRIC_KEYS)] * 3
    assert [m["learning_rate"] for m in reports] == [hp.learning_rate] * 3
    timings = [
        (m["step"], m["tokens_per_second"], m["elapsed_seconds"], m["remaining_seconds"], m["eval_fraction"])
        for m in reports
    ]
    # step 0: one evaluation of 2 batches; then each report adds 0.5 s, each 2 steps 2 s and each evaluation 0.02 s
    expected = [
        (0, None, 0.02, None, 1.0),
        (2, tokens_per_step, 2.54, 2.52, 0.54 / 2.54),  # time left: 2.52 s for the last 2 steps, 2 to go
        (4, tokens_per_step, 5.06, 0.0, 1.06 / 5.06),
    ]
    assert timings == [tuple(v if v is None else pytest.approx(v, abs=1e-9) for v in row) for row in expected]


def test_speed_and_time_left_come_from_the_last_interval(stage, monkeypatch):
    # a fake clock: the first 4 steps take 1 s each, the next 4 steps 0.25 s each (the machine got less busy)
    clock = [0.0]
    monkeypatch.setattr(stage, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    data = random_ids(B=1, T=200)[0]
    model, hp = tiny_training(stage, data, data, max_iters=12, eval_interval=4)
    steps = []

    def tick(module, inputs):
        if torch.is_grad_enabled():  # a training step
            steps.append(1)
            clock[0] += 1.0 if len(steps) <= 4 else 0.25
        else:  # a batch of a loss estimate: 4 per evaluation
            clock[0] += 0.01

    model.register_forward_pre_hook(tick)
    reports = []
    stage.train(model, data, data, hp, reports.append)
    tokens_per_step = hp.batch_size * hp.block_size
    speeds = [None, tokens_per_step, 4 * tokens_per_step, 4 * tokens_per_step]  # evaluations left out
    assert [m["tokens_per_second"] for m in reports] == [None, *map(pytest.approx, speeds[1:])]
    # time left at the last interval's pace, evaluation included: 8 steps at 1.01 s, then 4 at 0.26 s
    assert [m["remaining_seconds"] for m in reports] == [None, *map(pytest.approx, [8.08, 1.04, 0.0])]


def test_no_progress_bar_when_the_output_is_not_a_terminal(stage, monkeypatch, capsys):
    data = random_ids(B=1, T=200)[0]
    model, hp = tiny_training(stage, data, data, max_iters=4, eval_interval=2)
    stage.train(model, data, data, hp, stage.print_report)
    captured = capsys.readouterr()
    assert [line.split("|")[0] for line in captured.out.splitlines()] == [f"step {s:>5} " for s in (0, 2, 4)]
    assert captured.err == ""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_progress_bar_with_the_evaluation_lines_above_it(stage, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(stage, "tqdm", functools.partial(stage.tqdm, mininterval=0, miniters=1))  # draw every step
    data = random_ids(B=1, T=200)[0]
    model, hp = tiny_training(stage, data, data, max_iters=4, eval_interval=2)
    stage.train(model, data, data, hp, stage.print_report)
    out = terminal.getvalue()
    assert "step 1/4" in out and "step/s" in out and "left]" in out  # the bar: steps, speed, time left
    evaluations = [line for line in re.split(r"[\r\n]", out) if line.startswith("step ")]
    assert [line.split("|")[0] for line in evaluations] == [f"step {s:>5} " for s in (0, 2, 4)]  # whole lines


def test_find_corpus_looks_beside_the_script(stage, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert stage.find_corpus("tests/conftest.py") == str(ROOT / "tests" / "conftest.py")  # not in cwd: beside
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("mine")
    assert stage.find_corpus("tests/conftest.py") == "tests/conftest.py"  # the working folder comes first
    assert stage.find_corpus("nowhere/ci.txt") == "nowhere/ci.txt"  # missing everywhere: reported as given


def test_get_batch_targets_are_inputs_shifted_by_one(stage):
    data = torch.arange(100)
    x, y = stage.get_batch(data, 5, 8)
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(x[:, 1:] - x[:, :-1], torch.ones(5, 7, dtype=torch.long))


# ----------------------------------------------------------------------------
# Generation


def test_generate_length_range_and_past_block_size(stage):
    model = tiny_model(stage)
    prompt = random_ids(B=2, T=3)
    torch.manual_seed(0)
    out = model.generate(prompt, 20)  # 23 tokens: well past block_size 8
    assert out.shape == (2, 23) and out.dtype == torch.long
    assert torch.equal(out[:, :3], prompt)
    assert out.min() >= 0 and out.max() < VOCAB


def greedy(model, idx, max_new_tokens):
    """The likeliest next token, one step at a time, written out by hand."""
    for _ in range(max_new_tokens):
        logits = model(idx[:, -model.block_size :])[0][:, -1]
        idx = torch.cat((idx, logits.argmax(-1, keepdim=True)), dim=1)
    return idx


def test_temperature_zero_is_greedy_and_top_k_one_agrees(stage):
    model = tiny_model(stage, dropout=0.5).eval()
    prompt = random_ids(B=2, T=3)
    torch.manual_seed(1)
    cold = model.generate(prompt, 15, temperature=0)
    torch.manual_seed(2)
    assert torch.equal(model.generate(prompt, 15, temperature=0), cold)  # deterministic whatever the seed
    with torch.no_grad():
        assert torch.equal(greedy(model, prompt, 15), cold)
    assert torch.equal(model.generate(prompt, 15, temperature=1.0, top_k=1), cold)
    model.train()  # dropout on in the model, but generate must switch it off
    assert torch.equal(model.generate(prompt, 15, temperature=0), cold)


def test_temperature_scales_the_sampling_distribution(stage):
    # 20,000 draws from one row of scores: the frequencies follow softmax(logits / temperature)
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).expand(20000, 4)
    for temperature in [0.5, 1.0, 2.0]:
        torch.manual_seed(0)
        draws = stage.pick_next_token(logits, temperature)[:, 0]
        frequencies = torch.bincount(draws, minlength=4) / len(draws)
        expected = torch.softmax(logits[0] / temperature, dim=-1)
        assert torch.allclose(frequencies, expected, atol=0.015), (temperature, frequencies, expected)


def test_top_k_draws_only_among_the_k_best(stage):
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0, -1.0]]).expand(5000, 5)
    torch.manual_seed(0)
    draws = stage.pick_next_token(logits, 1.0, top_k=2)[:, 0]
    assert set(draws.tolist()) == {1, 3}
    expected = torch.softmax(torch.tensor([3.0, 2.0]), dim=-1)[0].item()
    assert (draws == 1).float().mean().item() == pytest.approx(expected, abs=0.03)


@pytest.mark.filterwarnings("error")  # a learner sees no warning either (softmax without dim= warns)
def test_top_k_on_a_single_row_as_generate_passes_it(stage):
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0, -1.0]])  # (1, vocab_size): one sequence
    torch.manual_seed(0)
    assert {stage.pick_next_token(logits, 1.0, top_k=2).item() for _ in range(200)} == {1, 3}
    torch.manual_seed(0)
    assert len({stage.pick_next_token(logits, 1.0, top_k=99).item() for _ in range(200)}) == 5  # k past the vocab


def test_default_temperature_is_one(stage):
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).expand(50, 4)
    torch.manual_seed(0)
    default = stage.pick_next_token(logits)
    torch.manual_seed(0)
    assert torch.equal(default, stage.pick_next_token(logits, 1.0))
    model, prompt = tiny_model(stage), random_ids(B=4, T=2)
    with torch.no_grad():  # clear preferences, so that another temperature would draw other tokens
        model.lm_head.bias.copy_(torch.linspace(-3, 3, VOCAB))
    torch.manual_seed(0)
    default = model.generate(prompt, 20)
    torch.manual_seed(0)
    assert torch.equal(default, model.generate(prompt, 20, temperature=1.0))


def test_a_tiny_temperature_picks_the_likeliest_without_overflow(stage):
    logits = torch.tensor([[0.5, 2.0, -3.0], [7.0, 1.0, 6.5]])
    for temperature in [1e-38, 1e-45]:
        assert stage.pick_next_token(logits, temperature).flatten().tolist() == [1, 0]


def test_sampling_depends_on_the_seed(stage):
    model = tiny_model(stage)
    prompt = random_ids(B=4, T=2)
    torch.manual_seed(1)
    first = model.generate(prompt, 30)
    torch.manual_seed(1)
    assert torch.equal(model.generate(prompt, 30), first)
    torch.manual_seed(2)
    assert not torch.equal(model.generate(prompt, 30), first)


@pytest.mark.parametrize("training", [True, False], ids=["train_mode", "eval_mode"])
def test_generate_keeps_the_mode_and_needs_no_grad(stage, training):
    model = tiny_model(stage)
    model.train(training)
    grad_enabled = []
    model.lm_head.register_forward_hook(lambda *_: grad_enabled.append(torch.is_grad_enabled()))
    model.generate(random_ids(B=1, T=2), 5)
    assert grad_enabled == [False] * 5
    assert all(m.training == training for m in model.modules())


def test_a_generator_of_its_own_draws_the_same_whatever_else_draws(stage):
    # a playground serving several people: each request draws from its own torch.Generator, so the same seed
    # gives the same text even when another request draws from the global generator in between
    model, prompt = tiny_model(stage), random_ids(B=4, T=2)
    first = model.generate(prompt, 30, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(7)
    for _ in range(30):
        torch.rand(3)  # another request's draws from the global generator
        model.generate(prompt, 1)
    assert torch.equal(model.generate(prompt, 30, generator=generator), first)
    assert not torch.equal(model.generate(prompt, 30, generator=torch.Generator().manual_seed(8)), first)
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).expand(50, 4)
    draws = stage.pick_next_token(logits, 1.0, 3, torch.Generator().manual_seed(1))
    torch.manual_seed(5)
    assert torch.equal(stage.pick_next_token(logits, 1.0, 3, torch.Generator().manual_seed(1)), draws)
    torch.manual_seed(0)  # and without one, the global generator draws as before: the same seed, the same text
    default = model.generate(prompt, 30)
    torch.manual_seed(0)
    assert torch.equal(model.generate(prompt, 30, generator=None), default)


def test_sample_continues_prompts_of_different_lengths_and_prints_each(stage, capsys):
    text = tiny_text()
    tokenizer = stage.CharTokenizer("".join(sorted(set(text))))
    model = tiny_model(stage, vocab_size=tokenizer.vocab_size)
    prompts = ["春", "往事", "the cat sat on a mat"]  # the last is longer than block_size
    torch.manual_seed(0)
    samples = stage.sample(model, tokenizer, prompts, 10)
    assert [prompt for prompt, _ in samples] == prompts
    for prompt, out in samples:
        assert out.startswith(prompt) and len(out) == len(prompt) + 10
        assert set(out) <= set(tokenizer.vocab)
    assert capsys.readouterr().out == "".join(f"\n--- {prompt} ---\n{out}\n" for prompt, out in samples)


def test_tokenizer_round_trip_and_unknown_characters(stage):
    tokenizer = stage.CharTokenizer("".join(sorted(set("hello 世界"))))
    assert tokenizer.vocab == " ehlo世界" and tokenizer.vocab_size == 7
    assert tokenizer.decode(tokenizer.encode("hello 世界")) == "hello 世界"
    with pytest.raises(ValueError, match="xz"):
        tokenizer.encode("zebra x")


# ----------------------------------------------------------------------------
# main(): end to end, in process


PROMPTS = ["春", "往事", "the cat sat on"]  # different lengths, the last longer than block_size

EVAL_LINE = re.compile(r"^step +(\d+) \| train loss (\d+\.\d+) \| val loss (\d+\.\d+)", re.MULTILINE)


def run_main(stage, argv, capsys):
    stage.main(argv)
    return capsys.readouterr().out


def test_a_gpu_sized_run_on_a_cpu_is_said_to_take_hours_before_it_starts(stage, corpus, tmp_path, capsys, monkeypatch):
    class Started(Exception):
        pass

    def train(*args, **kwargs):
        raise Started

    monkeypatch.setattr(stage, "train", train)
    args = stage.parse_args(tiny_argv(stage, corpus, tmp_path, max_iters=10**11))  # 6 x params x tokens x steps
    with pytest.raises(Started):
        stage.run(args)
    out = capsys.readouterr().out
    assert stage.GPU_SIZED_NOTE in out.splitlines() and stage.GPU_SIZED_NOTE.startswith("note: a GPU-sized run")


@pytest.mark.loss_curve
def test_main_end_to_end(stage, corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n = stage_number(stage)
    text = corpus.read_text(encoding="utf-8")
    argv = tiny_argv(stage, corpus, tmp_path, *[f"--prompt={p}" for p in PROMPTS])
    out = run_main(stage, argv, capsys)

    vocab_size = len(set(text))
    assert f"corpus {corpus}: {len(text):,} characters, vocabulary size {vocab_size}\n" in out
    assert f"model: {expected_parameter_count(n, vocab_size, 8, 16, 2, 1):,} parameters" in out
    assert "| 32 tokens per iteration | device cpu" in out
    evals = EVAL_LINE.findall(out)
    assert [int(step) for step, _, _ in evals] == [0, 10, 20]
    assert float(evals[-1][2]) < float(evals[0][2])
    assert re.search(r"^trained 20 steps in 0:00:\d\d, \d+% of that time evaluating$", out, re.MULTILINE)
    assert "GPU-sized" not in out  # a run of seconds gets no warning
    for prompt in PROMPTS:
        start = out.index(f"--- {prompt} ---\n") + len(f"--- {prompt} ---\n")
        sample = out[start : start + len(prompt) + 11]  # samples may hold newlines: count characters
        assert sample.startswith(prompt) and sample.endswith("\n") and set(sample) <= set(text)

    if n < 12:
        assert files_under(tmp_path) == ["corpus.txt"]  # nothing written
        return
    run = tmp_path / "run"
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["format"] == "babygpt-checkpoint-v1" and checkpoint["stage"] == "babygpt_v12_wandb.py"
    assert checkpoint["vocab"] == "".join(sorted(set(text)))
    assert checkpoint["model_config"] == {"vocab_size": vocab_size, **model_config(stage, dropout=0.2)}
    assert checkpoint["step"] == 20 and checkpoint["hyperparameters"]["max_iters"] == 20
    assert checkpoint["val_loss"] == pytest.approx(float(evals[-1][2]), abs=1e-4)
    model = stage.BabyGPT(**checkpoint["model_config"])
    model.load_state_dict(checkpoint["model_state"])
    tokenizer = stage.CharTokenizer(checkpoint["vocab"])
    assert len(stage.sample(model, tokenizer, ["往事"], 5)[0][1]) == 7

    with open(run / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["step"]) for row in rows] == [0, 10, 20]
    assert [f"{float(row['val_loss']):.4f}" for row in rows] == [val for _, _, val in evals]
    picture = matplotlib.image.imread(run / "loss_curve.png")  # the real picture: 7 x 4 inches at 120 dpi
    assert picture.shape[:2] == (480, 840) and picture.std() > 0.1
    samples = (run / "samples.txt").read_text(encoding="utf-8")
    for prompt in PROMPTS:
        assert f"--- {prompt} ---\n{prompt}" in samples
    assert not [name for name in os.listdir(run) if name.endswith(".tmp")]  # atomic writes left no debris
    assert "wandb" not in os.listdir(run)  # --wandb_mode disabled records nothing


def test_same_seed_same_losses(stage, corpus, tmp_path, capsys):
    argv = tiny_argv(stage, corpus, tmp_path, "--prompt=春", max_iters=10)

    def losses_and_sample(*extra):
        out = run_main(stage, argv + list(extra), capsys)
        return EVAL_LINE.findall(out), out.split("--- 春 ---")[1]

    first = losses_and_sample()
    assert losses_and_sample() == first
    assert losses_and_sample("--seed=7") != first


def test_default_prompts_fall_back_to_the_corpus_first_word(stage, tmp_path, capsys):
    corpus = tmp_path / "english.txt"
    corpus.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20, encoding="utf-8")
    argv = [a for a in tiny_argv(stage, corpus, tmp_path) if not a.startswith("--prompt")]
    out = run_main(stage, argv, capsys)
    assert f"{corpus} lacks the characters of the default prompts 春江 往事: using 'First'" in out
    assert "\n--- First ---\nFirst" in out


def test_default_prompt_fallback_cuts_a_long_first_word_and_survives_a_blank_corpus(stage, capsys):
    for text, expected in [("Supercalifragilistic is long\n" * 3, "Supercal"), ("\n \n" * 20, "\n")]:
        tokenizer = stage.CharTokenizer("".join(sorted(set(text))))
        assert stage.choose_prompts(None, text, tokenizer, "corpus.txt") == [expected]
        assert stage.choose_prompts([text[:3]], text, tokenizer, "corpus.txt") == [text[:3]]  # given: kept


def test_setup_returns_what_training_needs(stage, corpus):
    args = stage.parse_args(tiny_argv(stage, corpus, corpus.parent, "--prompt=春"))
    run = stage.setup(args)
    text = corpus.read_text(encoding="utf-8")
    assert run.corpus == str(corpus) and run.text == text and run.device == torch.device("cpu")
    assert run.model_config == {name: getattr(args, name) for name in stage.MODEL_HYPERPARAMETERS}
    assert run.tokenizer.vocab == "".join(sorted(set(text))) and args.prompt == ["春"]
    data = torch.cat([run.train_data, run.val_data])
    assert data.dtype == torch.long and run.tokenizer.decode(data.tolist()) == text


class ListRecorder:
    """A recorder for run(): keeps what it is given; stop_at makes report() ask to stop at that step."""

    def __init__(self, args, model, tokenizer, model_config, stop_at=None):
        self.made_with = (args, model, tokenizer, model_config)
        self.history, self.finished, self.stop_at = [], None, stop_at

    def report(self, metrics):
        self.history.append(metrics)
        return metrics["step"] == self.stop_at

    def finish(self, samples):
        self.finished = samples


def test_run_is_the_entry_point_a_tool_can_record_and_stop(stage, corpus, tmp_path, capsys):
    args = stage.parse_args(tiny_argv(stage, corpus, tmp_path, "--prompt=春", max_iters=30))
    result = stage.run(args, lambda *made_with: ListRecorder(*made_with, stop_at=10))
    recorder = result.recorder
    assert recorder.made_with == (args, result.setup.model, result.setup.tokenizer, result.setup.model_config)
    assert [m["step"] for m in recorder.history] == [0, 10]  # asked to stop at 10 of 30: stopped there
    assert result.final is recorder.history[-1]
    assert recorder.finished == result.samples and [prompt for prompt, _ in result.samples] == ["春"]
    out = capsys.readouterr().out
    assert "step " not in out  # the recorder reports, not print_report
    assert "trained 10 steps" in out and result.samples[0][1] in out  # samples are still drawn and printed
    assert not (tmp_path / "run").exists()  # in v12 too: the recorder given replaces the run folder's


def test_check_args_accepts_the_edges_of_each_range(stage):
    for argv in (["--seed=0"], [f"--seed={2**63 - 1}"], ["--max_new_tokens=1"], ["--prompt=x"]):
        stage.check_args(stage.parse_args(argv))  # raises ValueError if refused
    with pytest.raises(ValueError, match="--seed must be between 0 and 2"):
        stage.check_args(stage.parse_args([f"--seed={2**63}"]))


def test_output_a_console_cannot_show_becomes_a_question_mark(stage, monkeypatch):
    # a GBK console (Chinese Windows) has no emoji: the run must print '?' and go on
    console = io.TextIOWrapper(io.BytesIO(), encoding="gbk")
    monkeypatch.setattr(sys, "stdout", console)
    monkeypatch.setattr(sys, "stderr", console)
    stage.console_safe_output()
    print("春江😀", file=sys.stdout)
    print("😀", file=sys.stderr)
    console.flush()
    assert console.buffer.getvalue().decode("gbk") == "春江?\n?\n"


def test_a_run_never_replaces_a_trained_model_silently(corpus, tmp_path, capsys):
    stage = load_stage("v12")
    argv = [a for a in tiny_argv(stage, corpus, tmp_path, max_iters=2) if a != "--overwrite"]
    run_main(stage, argv, capsys)
    checkpoint = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        stage.main(argv)
    assert "already holds a trained model" in exit_info.value.code and "--overwrite" in exit_info.value.code
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == checkpoint
    run_main(stage, argv + ["--overwrite", "--seed=3"], capsys)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() != checkpoint


def test_wandb_disabled_needs_no_wandb(corpus, tmp_path, capsys, monkeypatch):
    stage = load_stage("v12")
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` now fails, as if not installed
    run_main(stage, tiny_argv(stage, corpus, tmp_path, max_iters=2), capsys)
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    argv = tiny_argv(stage, corpus, tmp_path, max_iters=2)
    offline = ["--wandb_mode=offline" if a == "--wandb_mode=disabled" else a for a in argv]
    with pytest.raises(SystemExit, match="wandb is not installed"):
        stage.main(offline)


@pytest.mark.parametrize(
    "name, hint",
    [
        ("ci.txt", "build it with: python data/prepare.py"),
        ("shakespeare.txt", "build it with: python data/prepare.py shakespeare"),
        ("poems.txt", "check the path"),  # a learner's own file: data/prepare.py cannot build it
    ],
)
def test_a_missing_corpus_says_how_to_get_it(stage, name, hint, tmp_path):
    path = tmp_path / "data" / name
    with pytest.raises(ValueError) as refused:
        stage.load_corpus(str(path))
    assert str(refused.value) == f"corpus {path} not found; {hint}"


def test_a_diverging_run_ends_in_one_line(stage, corpus, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        stage.main(tiny_argv(stage, corpus, tmp_path, learning_rate=1e30))
    message = exit_info.value.code
    assert message.startswith("error: the loss became NaN") and "\n" not in message


def test_ctrl_c_stops_training_with_one_line_and_status_130(stage, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt  # what Ctrl-C raises wherever training is

    monkeypatch.setattr(stage, "run", interrupted)
    try:
        stage.main([])
    except KeyboardInterrupt:  # (caught here: left alone, it would stop pytest itself)
        pytest.fail("Ctrl-C left main() as a traceback")
    except SystemExit as stopped:
        assert stopped.code == 130 and capsys.readouterr().err == "\ninterrupted (Ctrl-C)\n"
    else:
        pytest.fail("main() went on after Ctrl-C")


@pytest.mark.skipif(os.name == "nt", reason="a SIGINT to a child process is POSIX")
def test_ctrl_c_in_the_middle_of_a_real_run_prints_no_traceback(corpus, tmp_path):
    v12 = load_stage("v12")
    argv = tiny_argv(v12, corpus, tmp_path, max_iters=10**6, eval_interval=1, eval_iters=1)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "encoding": "utf-8"}
    process = subprocess.Popen([sys.executable, str(ROOT / "babygpt_v12_wandb.py"), *argv], env=env, **pipes)
    for line in process.stdout:
        if line.startswith("step     1 |"):  # training, past its first evaluation
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "\ninterrupted (Ctrl-C)\n"


# ----------------------------------------------------------------------------
# Bad input: one line, the key words, before any output or file


def bad_input_cases():
    """(stage id, corpus kind, extra arguments, words the error must contain), with ids like v3-empty_corpus"""
    no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
    cases = []
    for sid in STAGE_IDS:
        n = int(sid[1:])
        stage_cases = [
            ("missing_corpus", "missing", [], ["not found", "check the path"]),
            ("empty_corpus", "empty", [], ["empty"]),
            ("corpus_is_a_folder", "folder", [], ["cannot read corpus corpus.txt"]),
            ("not_utf8", "latin1", [], ["not UTF-8"]),
            ("too_short", "short", ["--prompt=a"], ["too short", "50 characters", "block_size = 8"]),
            ("unknown_prompt_chars", "good", ["--prompt=春€x¿"], ["not in the vocabulary", "€", "¿"]),
            ("empty_prompt", "good", ["--prompt=春", "--prompt="], ["--prompt must not be empty"]),
            ("cuda_missing", "good", ["--device=cuda"], ["'cuda' is not available"]),
            ("nonsense_device", "good", ["--device=banana"], ["unknown device 'banana'"]),
            ("negative_seed", "good", ["--seed=-1"], ["--seed must be between 0 and 2**63 - 1"]),
            ("huge_seed", "good", [f"--seed={2**64}"], ["--seed must be between 0 and 2**63 - 1"]),
        ]
        for name in expected_names(n) + ["max_new_tokens"]:
            for value in ["0", "-1"]:
                if name != "dropout":
                    words = [f"--{name} must be", "positive", f"got {float(value):g}"]
                    stage_cases.append((f"{name}={value}", "good", [f"--{name}={value}"], words))
        for value in ["inf", "nan"]:
            words = ["--learning_rate must be a positive number", f"got {value}"]
            stage_cases.append((f"learning_rate={value}", "good", [f"--learning_rate={value}"], words))
        if n >= 4:
            words = ["n_embed (16)", "divisible by n_head (3)"]
            stage_cases.append(("n_embed_not_divisible", "good", ["--n_embed=16", "--n_head=3"], words))
        if n >= 10:
            for value in ["1", "1.5", "-0.1"]:
                words = ["--dropout must be at least 0 and less than 1"]
                stage_cases.append((f"dropout={value}", "good", [f"--dropout={value}"], words))
        if n >= 12:
            stage_cases.append(
                ("out_dir_is_a_file", "good", ["--out_dir=taken"], ["cannot write the run folder taken"])
            )
        for name, corpus_kind, argv, words in stage_cases:
            marks = [no_cuda] if name == "cuda_missing" else []
            cases.append(pytest.param(sid, corpus_kind, argv, words, id=f"{sid}-{name}", marks=marks))
    return cases


CORPORA = {
    "good": tiny_text().encode("utf-8"),
    "empty": b"",
    "latin1": "café au lait\n".encode("latin-1") * 50,
    "short": ("abcdefghij" * 5).encode("utf-8"),  # 50 characters: 45 train, 5 val
}


@pytest.mark.parametrize("sid, corpus_kind, extra, words", bad_input_cases())
def test_bad_input_is_refused_in_one_line_before_anything_is_written(
    sid, corpus_kind, extra, words, tmp_path, capsys, monkeypatch
):
    stage = load_stage(sid)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "corpus.txt"
    if corpus_kind == "folder":
        data.mkdir()
    elif corpus_kind != "missing":
        data.write_bytes(CORPORA[corpus_kind])
    (tmp_path / "taken").write_text("a file where the run folder should go")
    before = files_under(tmp_path)
    argv = tiny_argv(stage, "corpus.txt", tmp_path, *extra, run_folder=False)
    with pytest.raises(SystemExit) as exit_info:
        stage.main(argv)
    message = exit_info.value.code
    assert isinstance(message, str) and message.startswith("error: ") and "\n" not in message
    for word in words:
        assert word in message
    assert capsys.readouterr().out == ""
    assert files_under(tmp_path) == before  # v12: no run folder out/v12, no wandb folder


@pytest.mark.parametrize("sid", STAGE_IDS[9:])
def test_zero_dropout_is_allowed(sid):
    stage = load_stage(sid)
    stage.check_args(stage.parse_args(["--dropout=0"]))  # raises ValueError if refused


# ----------------------------------------------------------------------------
# Real processes: importing has no side effects; bad input ends in one line, no traceback


IMPORT_ALL = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
import torch
torch.manual_seed(0)
state = torch.get_rng_state()
for name in sys.argv[2:]:
    importlib.import_module(name)
print(json.dumps({
    "wandb": "wandb" in sys.modules,
    "matplotlib": "matplotlib" in sys.modules,
    "rng_untouched": torch.equal(state, torch.get_rng_state()),
}))
"""

CLI_CASES = {  # id -> (stage, arguments, words in the error)
    "v1-missing_corpus": ("v1", ["--data=missing.txt"], "missing.txt not found; check the path"),
    "v12-abbreviated_option": ("v12", ["--max_iter=5"], "unrecognized arguments: --max_iter=5"),
}


@pytest.fixture(scope="module")
def started_processes(tmp_path_factory):
    """Start every subprocess at once, each in an empty folder; each pays ~1.5 s to import torch."""
    started = {}
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    commands = {"import_all": [sys.executable, "-c", IMPORT_ALL, str(ROOT), *STAGE_MODULES.values()]}
    for case_id, (sid, argv, _) in CLI_CASES.items():
        commands[case_id] = [sys.executable, str(ROOT / f"{STAGE_MODULES[sid]}.py"), *argv]
    # a GBK console (Chinese Windows) cannot show the emoji this corpus holds: the run must still finish
    gbk_corpus = tmp_path_factory.mktemp("gbk_corpus") / "corpus.txt"
    gbk_corpus.write_text(tiny_text() + "😀 春江 😀。\n" * 30, encoding="utf-8")
    gbk_run = [f"--data={gbk_corpus}", "--device=cpu", "--max_iters=2", "--eval_interval=1", "--eval_iters=1"]
    commands["gbk_console"] = [sys.executable, str(ROOT / "babygpt_v1.py"), *gbk_run, "--prompt=😀春"]
    for case_id, command in commands.items():
        cwd = tmp_path_factory.mktemp(case_id)
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        case_env = {**env, "PYTHONIOENCODING": "gbk"} if case_id == "gbk_console" else env
        encoding = case_env["PYTHONIOENCODING"]
        process = subprocess.Popen(command, cwd=cwd, env=case_env, encoding=encoding, **pipes)
        started[case_id] = (cwd, process)
    return started


@pytest.fixture(autouse=True, scope="module")
def start_processes_early(request):
    """If a selected test needs the subprocesses, start them now, on the core the in-process tests leave idle."""
    if any("processes" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("started_processes")


@pytest.fixture(scope="module")
def processes(started_processes):
    results = {}
    for case_id, (cwd, process) in started_processes.items():
        out, err = process.communicate(timeout=120)
        results[case_id] = (cwd, process.returncode, out, err)
    return results


def test_importing_a_stage_has_no_side_effects(processes):
    cwd, returncode, out, err = processes["import_all"]
    assert returncode == 0, err
    assert err == ""
    assert json.loads(out) == {"wandb": False, "matplotlib": False, "rng_untouched": True}
    assert out.count("\n") == 1  # nothing printed but the report
    assert os.listdir(cwd) == []


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_command_line_bad_input_exits_with_one_line(processes, case_id):
    cwd, returncode, out, err = processes[case_id]
    assert returncode != 0
    assert out == ""
    assert "Traceback" not in err
    assert err.count("\n") == 1 and "error:" in err
    assert CLI_CASES[case_id][2] in err
    assert os.listdir(cwd) == []  # v12 made no run folder (out/v12) and no wandb folder


def test_a_console_that_cannot_show_a_character_does_not_end_the_run(processes):
    cwd, returncode, out, err = processes["gbk_console"]
    assert returncode == 0, err
    assert "Traceback" not in err
    assert "--- ?春 ---" in out and "trained 2 steps" in out  # the emoji printed as ?, the rest as it is
