"""Tests for babygpt_sample.py: the KV-cache generator must choose the tokens the plain one chooses, and the
attention maps must draw the model's own attention weights.

Tiny random models on CPU, no corpus, no training; the whole file runs in a few seconds. Nothing depends on
which fonts are installed: the test vocabulary is Latin, which matplotlib's own font draws.
"""

import contextlib
import importlib
import io
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import conftest  # noqa: E402
from conftest import sharpen  # noqa: E402

import babygpt.checkpoint  # noqa: E402
import babygpt.pictures  # noqa: E402
import babygpt_sample  # noqa: E402
from babygpt.checkpoint import STAGE_FILES, STAGE_IDS, default_prompts, load_checkpoint  # noqa: E402
from babygpt.pictures import (  # noqa: E402
    LATIN_FONT,
    attention_figure,
    attention_weights,
    draw_attention,
    find_font,
    shorten,
    show_character,
)
from babygpt.sampling import CachedBabyGPT, CachedContext, FullRecomputeContext, generate_tokens  # noqa: E402
from babygpt_sample import end_of_input_key, main, parse_args, typed_prompts  # noqa: E402
from babygpt_v12_wandb import BabyGPT, CharTokenizer  # noqa: E402

VOCAB = "\n !abcdefghijklmnopq"  # 20 characters
BLOCK_SIZE = conftest.TINY_CONFIG["block_size"]


def tiny_model(n_head=4, seed=2, stage=None):
    """A random tiny BabyGPT (v12's, or the given stage module's) whose greedy output varies with context and position.

    BabyGPT's own init (std 0.02) makes every logit nearly equal, and greedy decoding then repeats one
    character whatever the context: a broken cache would go unnoticed. Larger weights make it pick varied ones."""
    model = conftest.tiny_model(stage, len(VOCAB), seed, n_head=n_head, n_layer=2, dropout=0.1)
    return sharpen(model).eval()


def prompt_ids(length, batch_size=1, seed=1):
    return torch.randint(len(VOCAB), (batch_size, length), generator=torch.Generator().manual_seed(seed))


def generate(model, idx, max_new_tokens, use_cache, **sampling):
    context = CachedContext(CachedBabyGPT(model), idx) if use_cache else FullRecomputeContext(model, idx)
    return torch.cat(list(generate_tokens(context, max_new_tokens, **sampling)), dim=1)  # (B, max_new_tokens)


def checkpoint_dict(model=None, **changes):
    model = model or tiny_model()
    config = {"vocab_size": len(VOCAB), "block_size": BLOCK_SIZE, "n_embed": 16, "n_head": 4, "n_layer": 2}
    checkpoint = {
        "format": "babygpt-checkpoint-v1",
        "model_config": {**config, "dropout": 0.1},
        "vocab": VOCAB,
        "model_state": model.state_dict(),
        "hyperparameters": {"prompt": ["ab", "cd"], "max_iters": 0},
        "step": 0,
        "val_loss": 3.0,
    }
    return {**checkpoint, **changes}


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint_dict(), path)
    return str(path)


# ----------------------------------------------------------------------------
# Cached and uncached generation agree


@pytest.mark.parametrize("n_head", [2, 4], ids=["2_heads", "4_heads"])
@pytest.mark.parametrize("prompt_length", [1, 5, BLOCK_SIZE, BLOCK_SIZE + 5], ids=lambda n: f"prompt_{n}")
def test_greedy_cached_equals_uncached_far_past_block_size(n_head, prompt_length):
    model = tiny_model(n_head)
    idx = prompt_ids(prompt_length)
    cached = generate(model, idx, 4 * BLOCK_SIZE, use_cache=True, temperature=0)
    uncached = generate(model, idx, 4 * BLOCK_SIZE, use_cache=False, temperature=0)
    assert len(set(uncached[0].tolist())) > 3, "the test model should not repeat one character"
    assert torch.equal(cached, uncached)


def test_uncached_path_is_v12_generate():
    model = tiny_model()
    idx = prompt_ids(3)
    for sampling in ({"temperature": 0}, {"temperature": 0.8, "top_k": 5}):
        torch.manual_seed(7)
        ours = generate(model, idx, 3 * BLOCK_SIZE, use_cache=False, **sampling)
        torch.manual_seed(7)
        reference = model.generate(idx, 3 * BLOCK_SIZE, **sampling)[:, idx.size(1) :]
        assert torch.equal(ours, reference), sampling


@pytest.mark.parametrize("prompt_length", [1, BLOCK_SIZE, BLOCK_SIZE + 5], ids=lambda n: f"prompt_{n}")
def test_cached_logits_equal_model_forward_on_window_at_every_step(prompt_length):
    model = tiny_model()
    idx = prompt_ids(prompt_length, batch_size=2)
    context = CachedContext(CachedBabyGPT(model), idx)
    forced = prompt_ids(4 * BLOCK_SIZE, batch_size=2, seed=2)  # fed in whatever the logits say
    for step in range(forced.size(1)):
        with torch.no_grad():
            expected, _ = model(idx[:, -BLOCK_SIZE:])
        # float rounding in another order: up to 2e-5 on this random model, whose logits reach 10
        torch.testing.assert_close(context.next_logits(), expected[:, -1, :], atol=5e-5, rtol=1e-5, msg=f"step {step}")
        next_id = forced[:, step : step + 1]
        context.append(next_id)
        idx = torch.cat((idx, next_id), dim=1)


def test_sampling_with_a_seed_gives_the_same_tokens_cached_or_not():
    model = tiny_model()
    idx = prompt_ids(2)
    runs = []
    for use_cache in (True, False):
        torch.manual_seed(123)
        runs.append(generate(model, idx, 4 * BLOCK_SIZE, use_cache, temperature=1.5, top_k=10))
    assert torch.equal(runs[0], runs[1])
    torch.manual_seed(124)
    assert not torch.equal(runs[0], generate(model, idx, 4 * BLOCK_SIZE, True, temperature=1.5, top_k=10))


def test_top_k_larger_than_vocabulary_is_clamped_and_top_k_1_is_greedy():
    model = tiny_model()
    idx = prompt_ids(3)
    torch.manual_seed(5)
    unrestricted = generate(model, idx, 20, use_cache=True, temperature=1.0)
    torch.manual_seed(5)
    huge_k = generate(model, idx, 20, use_cache=True, temperature=1.0, top_k=10 * len(VOCAB))
    assert torch.equal(unrestricted, huge_k)
    greedy = generate(model, idx, 20, use_cache=True, temperature=0)
    assert torch.equal(generate(model, idx, 20, use_cache=True, temperature=1.0, top_k=1), greedy)


def test_cache_runs_one_token_per_step_until_the_window_slides(monkeypatch):
    model = tiny_model()
    fed = []  # how many tokens each call of the cached model runs
    call = CachedBabyGPT.__call__
    monkeypatch.setattr(
        CachedBabyGPT, "__call__", lambda self, idx, cache: fed.append(idx.size(1)) or call(self, idx, cache)
    )
    list(generate_tokens(CachedContext(CachedBabyGPT(model), prompt_ids(3)), 8, temperature=0))
    # prompt of 3, then one token at a time up to block_size 8, then the window slides: rebuilt over 8 tokens
    assert fed == [3, 1, 1, 1, 1, 1, 8, 8]


def test_tokens_are_yielded_one_at_a_time():
    class CountingContext(FullRecomputeContext):
        appended = 0

        def append(self, next_id):
            CountingContext.appended += 1
            super().append(next_id)

    tokens = generate_tokens(CountingContext(tiny_model(), prompt_ids(2)), 1000, temperature=0)
    first_three = [next(tokens) for _ in range(3)]
    assert [t.shape for t in first_three] == [(1, 1)] * 3
    assert CountingContext.appended == 2  # nothing computed ahead of what was asked for


def test_default_temperature_is_one():
    model = tiny_model()
    runs = []
    for sampling in ({}, {"temperature": 1.0}):
        torch.manual_seed(3)
        runs.append(generate(model, prompt_ids(2), 20, use_cache=True, **sampling))
    assert torch.equal(runs[0], runs[1])


def test_cache_takes_the_models_dtype():
    model = tiny_model().double()
    idx = prompt_ids(3)
    cached = generate(model, idx, 2 * BLOCK_SIZE, use_cache=True, temperature=0)
    assert torch.equal(cached, generate(model, idx, 2 * BLOCK_SIZE, use_cache=False, temperature=0))
    cache = CachedBabyGPT(model).new_cache(1, torch.device("cpu"))
    assert cache.keys.dtype == cache.values.dtype == torch.float64


def test_the_last_layer_computes_only_the_newest_position():
    # every layer but the last needs every position (their keys and values feed the next layer's cache)
    model = tiny_model()
    widths = {layer: [] for layer in range(len(model.blocks))}
    for layer, block in enumerate(model.blocks):
        block.feed_forward.register_forward_hook(lambda m, inputs, out, layer=layer: widths[layer].append(out.size(1)))
    list(generate_tokens(CachedContext(CachedBabyGPT(model), prompt_ids(5)), 2, temperature=0))
    assert widths == {0: [5, 1], 1: [1, 1]}


def test_the_cache_refuses_more_than_block_size_tokens():
    cached = CachedBabyGPT(tiny_model())
    cache = cached.new_cache(1, torch.device("cpu"))
    cached(prompt_ids(BLOCK_SIZE - 1), cache)
    with pytest.raises(ValueError, match=f"{BLOCK_SIZE + 1} tokens do not fit the cache of block_size {BLOCK_SIZE}"):
        cached(prompt_ids(2), cache)


# ----------------------------------------------------------------------------
# The command line


def run_main(capsys, *argv):
    main(list(argv))
    return capsys.readouterr()


def test_main_cached_and_uncached_print_the_same_greedy_text(capsys, checkpoint):
    argv = ["--checkpoint", checkpoint, "--prompt", "ab", "--prompt", "q", "--max_new_tokens", "30"]
    argv += ["--num_samples", "2", "--temperature", "0", "--device", "cpu"]
    cached = run_main(capsys, *argv)
    uncached = run_main(capsys, *argv, "--no_cache")
    assert cached.out == uncached.out
    assert cached.out.count("--- ab (") == 2 and cached.out.count("--- q (") == 2
    samples = [chunk.split("\n", 1)[1] for chunk in cached.out.split("--- ")[1:]]  # after each header line
    assert [sample[:-2] for sample in samples] == [sample[:-2] for sample in samples if sample.endswith("\n\n")]
    assert [len(sample) - 2 for sample in samples] == [2 + 30, 2 + 30, 1 + 30, 1 + 30]  # prompt + 30 new characters
    assert samples[0].startswith("ab") and samples[2].startswith("q")
    assert "kv cache" in cached.err and "no cache" in uncached.err


@pytest.mark.parametrize("sampling", [("0", "1337"), ("0.8", "5")], ids=["greedy", "seeded"])
@pytest.mark.parametrize("stage_file", STAGE_FILES, ids=STAGE_IDS)
def test_a_checkpoint_of_any_stage_samples_the_text_of_its_own_generate(capsys, tmp_path, stage_file, sampling):
    stage = importlib.import_module(stage_file.removesuffix(".py"))
    model = tiny_model(stage=stage)
    path = tmp_path / "checkpoint.pt"
    tiny = {"block_size": BLOCK_SIZE, "n_embed": 16, "n_head": 4, "n_layer": 2, "dropout": 0.1}  # as tiny_model's
    config = {"vocab_size": len(VOCAB), **{name: tiny[name] for name in stage.MODEL_HYPERPARAMETERS}}
    torch.save(checkpoint_dict(model, stage=stage_file, model_config=config), path)
    temperature, seed = sampling
    prompt, n = "ab", 3 * BLOCK_SIZE  # far past block_size: the window slides
    out = run_main(
        capsys,
        "--checkpoint",
        str(path),
        "--prompt",
        prompt,
        "--max_new_tokens",
        str(n),
        "--temperature",
        temperature,
        "--seed",
        seed,
        "--device",
        "cpu",
    )
    torch.manual_seed(int(seed))
    ids = model.generate(torch.tensor([[VOCAB.index(ch) for ch in prompt]]), n, temperature=float(temperature))
    text = "".join(VOCAB[i] for i in ids[0].tolist())
    assert len(set(text)) > 3, "the test model should not repeat one character"
    assert out.out == f"--- {prompt} ---\n{text}\n\n"
    uses_cache = STAGE_FILES.index(stage_file) >= STAGE_FILES.index("babygpt_v9_layer_norm.py")
    assert ("kv cache" if uses_cache else "no cache") in out.err


def test_a_checkpoint_without_a_stage_is_v12s_and_an_unknown_stage_is_refused(capsys, tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({k: v for k, v in checkpoint_dict().items() if k != "stage"}, path)
    assert "kv cache" in run_main(capsys, "--checkpoint", str(path), "--prompt", "a", "--max_new_tokens", "3").err
    torch.save(checkpoint_dict(stage="../evil.py"), path)
    message = exit_message("--checkpoint", str(path), "--prompt", "a")
    assert message.startswith("error: ") and "names stage '../evil.py'" in message and "\n" not in message


def test_attention_of_a_stage_before_v10_is_refused_in_one_line(tmp_path):
    stage = importlib.import_module("babygpt_v6_block")
    path = tmp_path / "checkpoint.pt"
    config = {"vocab_size": len(VOCAB), "block_size": BLOCK_SIZE, "n_embed": 16, "n_head": 4, "n_layer": 2}
    torch.save(checkpoint_dict(tiny_model(stage=stage), stage="babygpt_v6_block.py", model_config=config), path)
    message = exit_message("--checkpoint", str(path), "--prompt", "ab", "--attention", str(tmp_path / "a.png"))
    assert message.startswith("error: --attention") and "babygpt_v6_block.py" in message
    assert not (tmp_path / "a.png").exists()


def test_main_seed_makes_samples_reproducible(capsys, checkpoint):
    argv = ["--checkpoint", checkpoint, "--prompt", "a", "--max_new_tokens", "40", "--top_k", "100"]
    first = run_main(capsys, *argv, "--seed", "1").out
    assert run_main(capsys, *argv, "--seed", "1").out == first
    assert run_main(capsys, *argv, "--seed", "2").out != first


def test_main_default_prompts_are_the_ones_saved_in_the_checkpoint(capsys, checkpoint):
    out = run_main(capsys, "--checkpoint", checkpoint, "--max_new_tokens", "5").out
    assert "--- ab ---\nab" in out and "--- cd ---\ncd" in out


def test_defaults_and_help():
    defaults = {
        "checkpoint": "out/v12/checkpoint.pt",  # where babygpt_v12_wandb.py writes by default
        "prompt": None,
        "num_samples": 1,
        "max_new_tokens": 200,
        "temperature": 1.0,
        "top_k": None,
        "seed": 1337,
        "device": "auto",
        "interactive": False,
        "attention": None,
        "no_cache": False,
        "attn_implementation": "fused",
    }
    assert vars(parse_args([])) == defaults
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        parse_args(["--help"])
    text = " ".join(out.getvalue().split())
    assert babygpt_sample.__doc__.splitlines()[0] in text and "--attention PNG" in text
    options = text.split(" options: ", 1)[1]
    for name, default in defaults.items():
        option = options.split(f"--{name}", 1)[1]
        assert len(option.split("--", 1)[0].split()) > 2, f"--{name} has no help"  # more than a metavar
        if default not in (None, False, "auto"):
            assert f"(default: {default}" in option.split("--", 1)[0], name


def test_edges_of_each_range_are_accepted(capsys, checkpoint):
    for extra in (["--seed", "0"], ["--seed", str(2**63 - 1)], ["--top_k", "1"], ["--temperature", "0"]):
        run_main(capsys, "--checkpoint", checkpoint, "--prompt", "a", "--max_new_tokens", "1", *extra)
    assert "seed" in exit_message("--checkpoint", checkpoint, "--seed", str(2**63))


def test_header_line_names_the_checkpoint_and_the_model(capsys, checkpoint):
    result = run_main(capsys, "--checkpoint", checkpoint, "--prompt", "a", "--max_new_tokens", "1")
    n_params = sum(p.numel() for p in tiny_model().parameters())
    header = f"checkpoint {checkpoint}: step 0, val loss 3.0000 | {n_params:,} parameters, block_size 8, vocabulary 20"
    assert f"{header} | device cpu\n" in result.err and "checkpoint" not in result.out
    path = Path(checkpoint).with_name("no_val_loss.pt")  # e.g. saved before any evaluation
    torch.save({k: v for k, v in checkpoint_dict().items() if k != "val_loss"}, path)
    result = run_main(capsys, "--checkpoint", str(path), "--prompt", "a", "--max_new_tokens", "1")
    assert f"checkpoint {path}: step 0 | {n_params:,} parameters" in result.err


def test_samples_are_numbered_streamed_and_timed(capsys, monkeypatch, checkpoint):
    class FlushCounter(io.StringIO):
        flushes = 0

        def flush(self):
            self.flushes += 1

    out = FlushCounter()
    monkeypatch.setattr(sys, "stdout", out)
    clock = iter([10.0, 12.5])  # the start and the end of the samples of one prompt
    monkeypatch.setattr(babygpt_sample, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    main(["--checkpoint", checkpoint, "--prompt", "a\nb", "--num_samples", "2", "--max_new_tokens", "30"])
    assert (
        out.getvalue().startswith("--- a\\nb (1 of 2) ---\na\nb") and "\n--- a\\nb (2 of 2) ---\na\nb" in out.getvalue()
    )
    assert out.flushes >= 2 * (1 + 30)  # the prompt, then each character as soon as it is chosen
    assert "[60 tokens in 2.50 s: 24 tokens/s, kv cache]" in capsys.readouterr().err


def test_top_k_reaches_the_sampler(capsys, checkpoint):
    argv = ["--checkpoint", checkpoint, "--prompt", "ab", "--max_new_tokens", "30"]
    greedy = run_main(capsys, *argv, "--temperature", "0").out
    assert run_main(capsys, *argv, "--temperature", "5", "--top_k", "1").out == greedy


def test_top_k_0_draws_from_all_characters_as_leaving_it_out_and_help_says_so(capsys, checkpoint):
    argv = ["--checkpoint", checkpoint, "--prompt", "ab", "--max_new_tokens", "30", "--temperature", "5"]
    unlimited = run_main(capsys, *argv).out
    assert run_main(capsys, *argv, "--top_k", "0").out == unlimited  # the playground's 0 too: no limit
    assert run_main(capsys, *argv, "--top_k", "2").out != unlimited
    help_text = " ".join(babygpt_sample.make_parser().format_help().split())
    assert "0 means no limit" in help_text.split("--top_k", 2)[2].split("--", 1)[0]


def test_a_run_folder_reads_its_checkpoint_pt(capsys, checkpoint):
    folder = os.path.dirname(checkpoint)
    argv = ["--prompt", "ab", "--max_new_tokens", "20", "--temperature", "0"]
    from_folder = run_main(capsys, "--checkpoint", folder, *argv)
    assert from_folder.out == run_main(capsys, "--checkpoint", checkpoint, *argv).out
    assert f"checkpoint {os.path.join(folder, 'checkpoint.pt')}: step 0" in from_folder.err  # the file it read


def test_a_folder_without_a_checkpoint_and_a_missing_file_say_how_to_train_one(tmp_path):
    from babygpt_v12_wandb import parse_args as v12_args

    # the hint names v12's real default run folder and the docs section it points to
    assert f"which writes {v12_args([]).out_dir}/checkpoint.pt" in babygpt.checkpoint.TRAIN_HINT
    assert "## On a CPU: the CPU command" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for path, words in (
        (tmp_path, [f"the folder {tmp_path} holds no checkpoint.pt"]),
        (tmp_path / "nothing.pt", [f"checkpoint {tmp_path / 'nothing.pt'} not found"]),
    ):
        message = exit_message("--checkpoint", str(path), "--prompt", "a")
        for word in (*words, "train one first: python babygpt_v12_wandb.py", "writes out/v12/checkpoint.pt"):
            assert word in message
        assert "OUT_DIR" not in message


def test_typed_prompts_keep_their_spaces_and_end_at_ctrl_d_and_ctrl_z_together():
    tokenizer = CharTokenizer(VOCAB)
    lines = ["ab \r\n", "nX\n", "\x04\x1a\n", "cd\n"]
    assert list(typed_prompts(lines, tokenizer)) == ["ab ", "nX"]


def test_ctrl_c_and_a_closed_pipe_end_sampling_quietly(capsys, monkeypatch, checkpoint, tmp_path):
    argv = ["--checkpoint", checkpoint, "--prompt", "a"]
    monkeypatch.setattr(babygpt_sample, "write_samples", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    result = capsys.readouterr()
    assert exit_info.value.code == 130 and result.out == "" and result.err.endswith("device cpu\n\n")
    # piped into `head`, which has gone: stdout is pointed at the null device, so exiting prints no second error
    with open(tmp_path / "stdout", "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(babygpt_sample, "write_samples", lambda *a: (_ for _ in ()).throw(BrokenPipeError))
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 1
        assert os.path.samestat(os.fstat(stdout.fileno()), os.stat(os.devnull))


def test_an_attention_picture_that_cannot_be_written_is_one_line(monkeypatch, checkpoint, tmp_path):
    def refuse(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(babygpt.pictures, "write_atomically", refuse)
    png = str(tmp_path / "a.png")
    message = exit_message("--checkpoint", checkpoint, "--prompt", "ab", "--max_new_tokens", "2", "--attention", png)
    assert message == f"error: cannot write --attention {png}: Permission denied"


def test_interactive_answers_each_line_and_survives_a_bad_one(capsys, monkeypatch, checkpoint):
    monkeypatch.setattr(sys, "stdin", io.StringIO("ab\n\n   \nzz?\nc\n"))
    result = run_main(capsys, "--checkpoint", checkpoint, "--interactive", "--max_new_tokens", "5")
    assert result.out.count("--- ") == 2 and "--- ab ---\nab" in result.out and "--- c ---\nc" in result.out
    assert "error: prompt 'zz?': characters not in the vocabulary: '?z'" in result.err


@pytest.mark.parametrize("key", ["\x04", "\x1a", " \x1a\x1a\r"], ids=["ctrl_d", "ctrl_z", "ctrl_z_twice_crlf"])
def test_interactive_ends_at_a_line_of_ctrl_d_or_ctrl_z(capsys, monkeypatch, checkpoint, key):
    # a console that does not treat the key as end of input (an IDE's, or Ctrl-Z mid-line) passes it on as text
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"ab\n{key}\ncd\n"))
    result = run_main(capsys, "--checkpoint", checkpoint, "--interactive", "--max_new_tokens", "5")
    assert "--- ab ---" in result.out and "--- cd ---" not in result.out
    assert "not in the vocabulary" not in result.err


def test_interactive_skips_a_line_of_other_control_characters_with_one_clear_line(capsys, monkeypatch, checkpoint):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\x1b[A\nab\x04c\ncd\n"))  # an arrow key's escape sequence
    result = run_main(capsys, "--checkpoint", checkpoint, "--interactive", "--max_new_tokens", "5")
    assert "--- cd ---" in result.out and result.out.count("--- ") == 1
    ignored = [line for line in result.err.splitlines() if line.startswith("ignored")]
    assert len(ignored) == 2 and "'\\x1b'" in ignored[0] and "'\\x04'" in ignored[1], result.err
    assert all("Ctrl-Z then Enter" in line for line in ignored)
    assert "not in the vocabulary" not in result.err


class Console(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "platform, key", [("win32", "Ctrl-Z then Enter"), ("linux", "Ctrl-D"), ("darwin", "Ctrl-D")], ids=str
)
def test_interactive_names_the_platforms_end_of_input_key(capsys, monkeypatch, checkpoint, platform, key):
    monkeypatch.setattr(sys, "platform", platform)
    assert end_of_input_key() == key
    monkeypatch.setattr(sys, "stdin", Console(""))
    result = run_main(capsys, "--checkpoint", checkpoint, "--interactive")
    assert f"type a prompt and press Enter; {key} ends" in result.err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert f"until end of input ({key})" in " ".join(capsys.readouterr().out.split())


# ----------------------------------------------------------------------------
# Bad input: one clear line, non-zero exit, no traceback


def exit_message(*argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    message = exit_info.value.code
    assert isinstance(message, str), "sys.exit with a message exits with status 1"
    assert "\n" not in message.strip()
    return message


BAD_OPTIONS = [
    ("--temperature", "-0.5", ["--temperature", "-0.5"]),
    ("--temperature", "nan", ["--temperature"]),
    ("--temperature", "inf", ["--temperature", "finite positive number", "inf"]),
    ("--max_new_tokens", "0", ["--max_new_tokens", "positive"]),
    ("--num_samples", "-1", ["--num_samples", "positive"]),
    ("--top_k", "-1", ["--top_k must be 0 (all characters", "or positive, got -1"]),
    ("--seed", "-1", ["--seed must be between 0 and 2**63 - 1"]),
    ("--seed", str(2**64), ["--seed must be between 0 and 2**63 - 1"]),
    ("--device", "cuda:7", ["cuda:7"]),
    ("--device", "tpu", ["tpu"]),
    ("--prompt", "", ["--prompt", "empty"]),
    ("--prompt", "ab$Z", ["not in the vocabulary", "$Z"]),
    ("--temp", "0", ["unrecognized arguments", "--temp"]),
    ("--max_new_tokens", "ten", ["--max_new_tokens", "invalid int"]),
    ("--attention", str(Path("no such folder") / "a.png"), ["--attention", "existing folder"]),
    ("--attention", ".", ["--attention", "PNG file name"]),
    ("--attention", "a.txt", ["--attention a.txt", "NAME.png"]),  # a picture under another name: refused
    ("--attention", "a.png", ["--attention", "exactly one --prompt", "not 2"]),  # the checkpoint's default prompts
]


@pytest.mark.parametrize("option, value, words", BAD_OPTIONS, ids=[f"{o}={v}" for o, v, _ in BAD_OPTIONS])
def test_bad_option_is_refused_in_one_line(checkpoint, option, value, words):
    message = exit_message("--checkpoint", checkpoint, option, value)
    for word in words:
        assert word in message


def test_attention_refuses_interactive_and_two_prompts(checkpoint, tmp_path):
    png = str(tmp_path / "a.png")
    assert "--interactive" in exit_message("--checkpoint", checkpoint, "--attention", png, "--interactive")
    assert "not 2" in exit_message("--checkpoint", checkpoint, "--attention", png, "--prompt", "a", "--prompt", "b")
    assert not (tmp_path / "a.png").exists()


def write_bytes(data):
    return lambda path: path.write_bytes(data)


def write_torch(obj):
    return lambda path: torch.save(obj, path)


def valid_bytes():
    buffer = io.BytesIO()
    torch.save(checkpoint_dict(), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "make, words",
    [
        (None, ["not found"]),
        (lambda path: path.mkdir(), ["holds no checkpoint.pt"]),  # a folder named checkpoint.pt: no file inside
        (write_bytes(valid_bytes()[:2000]), ["truncated"]),
        (write_bytes(b""), ["truncated"]),
        (write_bytes(b"To be, or not to be\n"), ["not a PyTorch file"]),
        (write_torch(nn.Linear(2, 2)), ["not a BabyGPT checkpoint", "objects"]),
        (write_torch([1, 2, 3]), ["not a BabyGPT checkpoint", "format"]),
        (write_torch(checkpoint_dict(format="nanogpt")), ["not a BabyGPT checkpoint", "format"]),
        (write_torch({k: v for k, v in checkpoint_dict().items() if k != "vocab"}), ["lacks vocab"]),
        (write_torch(checkpoint_dict(vocab="abc")), ["vocab"]),
        (write_torch(checkpoint_dict(model_config={"vocab_size": 20})), ["model_config", "n_embed"]),
        (
            write_torch(checkpoint_dict(model=BabyGPT(len(VOCAB), BLOCK_SIZE, 16, 4, 3, 0.1))),
            ["do not fit", 'Unexpected key(s) in state_dict: "blocks.2.'],  # the first problem of the list
        ),
        (write_torch(checkpoint_dict(model_state=[1, 2])), ["model_state is not a state dict"]),
        (
            write_torch(checkpoint_dict(model_config={**checkpoint_dict()["model_config"], "n_head": 3})),
            ["do not fit", "n_embed (16) must be divisible by n_head (3)"],
        ),
    ],
    ids=[
        "missing",
        "folder",
        "truncated",
        "empty",
        "text",
        "whole_module",
        "list",
        "wrong_format",
        "no_vocab",
        "short_vocab",
        "short_config",
        "wrong_weights",
        "state_not_a_dict",
        "config_cannot_build",
    ],
)
def test_bad_checkpoint_is_refused_in_one_line(tmp_path, make, words):
    path = tmp_path / "checkpoint.pt"
    if make is not None:
        make(path)
    message = exit_message("--checkpoint", str(path), "--prompt", "a")
    assert message.startswith("error: ")
    for word in words:
        assert word in message


def test_default_prompts_are_the_usable_saved_ones_else_a_newline_else_the_first_character():
    tokenizer = CharTokenizer(VOCAB)
    saved = {"hyperparameters": {"prompt": ["ab", "", 5, "zz?", VOCAB]}}  # empty, not text, unknown characters
    assert default_prompts(saved, tokenizer) == ["ab", VOCAB]
    for checkpoint in ({}, {"hyperparameters": None}, {"hyperparameters": {"prompt": "ab"}}):  # e.g. not v12's
        assert default_prompts(checkpoint, CharTokenizer("\t\n ab")) == ["\n"]
        assert default_prompts(checkpoint, CharTokenizer(" ab")) == [" "]


# ----------------------------------------------------------------------------
# Attention maps


def panels(fig):
    """The heatmap axes of an attention figure (the colour bar is an axes too, without an image)."""
    return [ax for ax in fig.axes if ax.images]


def test_attention_weights_are_the_ones_each_head_multiplies_its_values_by():
    model = tiny_model(n_head=4)
    idx = prompt_ids(6)
    weights = attention_weights(model, idx)  # (n_layer, n_head, T, T)
    assert weights.shape == (2, 4, 6, 6)
    seen = {}  # (layer, head) -> [its values, its output], recorded by the model itself

    def record(key):
        return lambda module, inputs, output: seen.setdefault(key, []).append(output) and None  # None: keep output

    hooks = []
    for layer, block in enumerate(model.blocks):
        for h, head in enumerate(block.attention.heads):
            hooks.append(head.value.register_forward_hook(record((layer, h))))
            hooks.append(head.register_forward_hook(record((layer, h))))
    with torch.no_grad():
        model(idx)
    for hook in hooks:
        hook.remove()
    for (layer, h), (values, output) in seen.items():
        # the head's output is its weights times its values: only the true weights of this head give it
        torch.testing.assert_close(weights[layer, h] @ values[0], output[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6))
    assert torch.equal(weights.triu(diagonal=1), torch.zeros_like(weights)), "a character looked ahead"
    assert weights[0, 0].tril().std() > 0.05, "the test model should not attend uniformly"
    assert not torch.allclose(weights[0, 0], weights[0, 1]), "heads should differ"


def test_figure_has_one_panel_per_layer_and_head_showing_its_weights():
    weights = attention_weights(tiny_model(n_head=2), prompt_ids(5))  # (2 layers, 2 heads, 5, 5)
    labels = list("abcde")
    fig = attention_figure(weights, labels, "prompt: abcde")
    drawn = panels(fig)
    assert len(drawn) == 2 * 2
    for ax, (layer, h) in zip(drawn, [(0, 0), (0, 1), (1, 0), (1, 1)], strict=True):
        assert ax.get_title() == f"layer {layer + 1}, head {h + 1}"
        image = ax.images[0].get_array()
        future = torch.ones(5, 5, dtype=torch.bool).triu(diagonal=1).numpy()
        assert (image.mask == future).all(), "exactly the future is masked"
        assert (image.data[~future] == weights[layer, h].numpy()[~future]).all()
        assert [t.get_text() for t in ax.get_xticklabels()] == labels
        assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert fig._suptitle.get_text() == "prompt: abcde"


def pixel(fig, ax, row, column):
    """The RGB colour drawn at the centre of one cell of a heatmap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # (height, width, 4)
    x, y = ax.transData.transform((column, row))
    return tuple(int(c) for c in rgba[int(rgba.shape[0] - y), int(x)][:3])  # display y runs upwards


def test_masked_future_is_blank_and_zero_weight_is_not():
    weights = torch.eye(4).expand(1, 1, 4, 4)  # each character attends to itself alone: weight 0 on its past
    fig = attention_figure(weights, list("abcd"), "")
    ax = panels(fig)[0]
    white = (255, 255, 255)
    assert pixel(fig, ax, 0, 3) == white and pixel(fig, ax, 1, 2) == white  # the future
    assert pixel(fig, ax, 3, 0) != white and pixel(fig, ax, 2, 1) != white  # allowed, weight 0: a colour
    assert pixel(fig, ax, 3, 0) != pixel(fig, ax, 3, 3)  # weight 0 and weight 1 differ


def test_main_draws_a_png_of_the_prompts_attention_titled_with_its_continuation(capsys, monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(
        babygpt.pictures, "attention_figure", lambda *a, **k: figures.append(attention_figure(*a, **k)) or figures[-1]
    )
    model = tiny_model()
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint_dict(model), path)
    png = tmp_path / "attention.png"
    prompt = "abcdefghijkl"  # longer than block_size 8: the last 8 characters are drawn
    result = run_main(
        capsys,
        "--checkpoint",
        str(path),
        "--prompt",
        prompt,
        "--attention",
        str(png),
        "--temperature",
        "0",
        "--max_new_tokens",
        "12",
    )
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(png).shape
    assert height > 300 and width > 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attention.png", "checkpoint.pt"], "no temporary file left"
    (fig,) = figures
    drawn = panels(fig)
    assert len(drawn) == 2 * 4
    assert [t.get_text() for t in drawn[0].get_xticklabels()] == list(prompt[-BLOCK_SIZE:])
    expected = attention_weights(model, torch.tensor([[VOCAB.index(ch) for ch in prompt[-BLOCK_SIZE:]]]))
    for ax, heads in zip(drawn, expected.flatten(0, 1), strict=True):
        assert torch.equal(torch.from_numpy(ax.images[0].get_array().filled(0)), heads)
    continuation = result.out.split(f"--- {prompt} ---\n{prompt}", 1)[1].strip("\n")
    assert len(continuation) == 12
    title = fig._suptitle.get_text()
    assert "the last 8 of the prompt's 12 characters" in title
    assert (
        f"prompt: {prompt[-BLOCK_SIZE:]}" in title
        and f"continued: {continuation.replace(chr(10), '↵').replace(' ', '␣')}" in title
    )
    assert f"drawn to {png}" in result.err


def test_without_a_font_for_the_characters_labels_are_ids_and_one_line_says_what_to_install(
    capsys, monkeypatch, tmp_path
):
    monkeypatch.setattr(babygpt.pictures, "find_font", lambda text: None)
    model, tokenizer, _ = load_checkpoint_of(tmp_path)
    fig = draw_attention(model, tokenizer, "cab", "de\n", tmp_path / "a.png")
    assert [t.get_text() for t in panels(fig)[0].get_xticklabels()] == [str(VOCAB.index(ch)) for ch in "cab"]
    title = fig._suptitle.get_text()
    assert "prompt ids: 5 3 4" in title and "continued ids: 6 7 0" in title
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "apt install fonts-noto-cjk" in err and "Windows" in err
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")


def load_checkpoint_of(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint_dict(), path)
    return load_checkpoint(path, torch.device("cpu"))


def test_labels_show_newlines_spaces_and_control_characters():
    assert [show_character(ch) for ch in "\n a春\x1b\t\\"] == ["↵", "␣", "a", "春", "\\x1b", "\\t", "\\"]


def test_shorten_wraps_at_40_characters_and_cuts_after_3_lines():
    assert shorten("abc") == "abc" and shorten([]) == ""
    assert shorten("x" * 40) == "x" * 40 and shorten("x" * 41) == "x" * 40 + "\nx"
    assert shorten("x" * 200) == "\n".join(["x" * 40] * 3) + "…"
    ids = [str(i) for i in range(100, 130)]  # 30 ids of 3 digits: 10 per line of 39 characters
    lines = [" ".join(ids[i : i + 10]) for i in (0, 10, 20)]
    assert shorten(ids, " ") == "\n".join(lines) and shorten(ids + ["1"], " ") == "\n".join(lines) + " …"
    assert shorten(["ab", "cd", "ef"], width=5, max_lines=2) == "abcd\nef"


def test_a_model_whose_heads_skip_their_dropout_is_refused():
    model = tiny_model(n_head=2)
    head = model.blocks[1].attention.heads[1]
    head.forward = lambda x: torch.zeros(*x.shape[:2], head.key.out_features)  # never calls its dropout
    with pytest.raises(ValueError, match="Head.dropout"):
        attention_weights(model, prompt_ids(4))


def test_figure_uses_one_colour_scale_the_given_fonts_and_readable_labels():
    T = 40  # longer than 32: labels on every other character, always on the last one
    weights = torch.softmax(torch.randn(1, 1, T, T), dim=-1)
    labels = [f"{i}" for i in range(T)]  # ids: several characters each, so the x labels stand upright
    fig = attention_figure(weights, labels, "title", fonts=[LATIN_FONT])
    ax = panels(fig)[0]
    assert ax.images[0].get_clim() == (0.0, 1.0)  # one scale for every panel: the same colour, the same weight
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert len(ticks) <= 32 and ticks[-1] == "39" and ticks[:2] == ["1", "3"]
    for T, first in [(33, "0"), (70, "0")]:  # every other label from 33 on, every third from 65 on
        fig_T = attention_figure(torch.full((1, 1, T, T), 1 / T), [str(i) for i in range(T)], "")
        ticks = [t.get_text() for t in panels(fig_T)[0].get_xticklabels()]
        assert len(ticks) <= 32 and ticks[0] == first and ticks[-1] == str(T - 1), (T, ticks)
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {90.0}
    assert {t.get_rotation() for t in ax.get_yticklabels()} == {0.0}
    assert all(t.get_fontfamily() == [LATIN_FONT] for t in ax.get_xticklabels() + ax.get_yticklabels())
    assert fig._suptitle.get_fontfamily() == [LATIN_FONT]
    assert "key" in fig._supxlabel.get_text() and "query" in fig._supylabel.get_text()
    colour_bar = [a for a in fig.axes if not a.images][0]
    assert "white" in colour_bar.get_ylabel()
    characters = attention_figure(weights[:, :, :5, :5], list("abcde"), "")
    assert {t.get_rotation() for t in panels(characters)[0].get_xticklabels()} == {0.0}


def test_a_prompt_of_exactly_block_size_is_drawn_whole(tmp_path):
    model, tokenizer, _ = load_checkpoint_of(tmp_path)
    fig = draw_attention(model, tokenizer, "abcdefgh", "ij", tmp_path / "a.png")
    assert fig._suptitle.get_text().startswith("prompt: abcdefgh\n")  # no "the last 8 of ..."
    assert all(t.get_fontfamily() == [LATIN_FONT] for t in panels(fig)[0].get_xticklabels())


def test_find_font_skips_candidates_that_are_not_installed():
    assert find_font("春江", candidates=("No Such Font", LATIN_FONT)) is None


def test_find_font_draws_latin_text_with_matplotlibs_own_font_and_refuses_what_none_draws():
    assert find_font("abc ↵␣") == [LATIN_FONT]
    assert find_font("春江", candidates=()) is None
    assert find_font("春江", candidates=(LATIN_FONT,)) is None  # installed, but it has no Chinese


# ----------------------------------------------------------------------------
# Real runs in a child process (last, so that they import torch while the tests above run)


@pytest.fixture(scope="module")
def started_runs(tmp_path_factory):
    """Start every child at once; each spends seconds importing torch."""
    folder = tmp_path_factory.mktemp("runs")
    truncated, good, korean = folder / "truncated.pt", folder / "good.pt", folder / "korean.pt"
    truncated.write_bytes(valid_bytes()[:-100])
    torch.save(checkpoint_dict(), good)
    torch.save(checkpoint_dict(vocab=VOCAB.replace("q", "한")), korean)  # 한 is a character GBK lacks
    cases = [  # (arguments, console encoding, exit status, words stdout must hold, words stderr must hold)
        (["--checkpoint", str(truncated)], "utf-8", 1, [], ["error:", "truncated"]),
        (["--checkpoint", str(good), "--prompt", "abc", "--prompt", "h한llo"], "gbk", 1, [], ["error:", "'h?llo'"]),
        (["--checkpoint", str(korean), "--prompt", "a한", "--max_new_tokens", "5"], "gbk", 0, ["--- a? ---\na?"], []),
    ]
    runs = [
        subprocess.Popen(
            [sys.executable, babygpt_sample.__file__, *argv],
            cwd=ROOT,
            env={**os.environ, "PYTHONIOENCODING": encoding},  # as a console with that code page would
            text=True,
            encoding=encoding,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for argv, encoding, _, _, _ in cases
    ]
    return list(zip(runs, cases, strict=True))


@pytest.fixture(autouse=True, scope="module")
def start_runs_early(request):
    if any("started_runs" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("started_runs")


def test_real_runs_print_one_line_and_no_traceback_even_on_a_gbk_console(started_runs):
    for run, (argv, _, status, out_words, err_words) in started_runs:
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == status, (argv, stderr)
        assert "Traceback" not in stderr
        if status:
            assert stdout == "" and len(stderr.strip().splitlines()) == 1, stderr
        for word in out_words:
            assert word in stdout
        for word in err_words:
            assert word in stderr


def test_the_same_seed_gives_the_same_text_whatever_else_draws(capsys, checkpoint, monkeypatch):
    """The sampler draws from a torch.Generator of its own: something else in the process that draws from
    torch's global generator between two characters (a notebook cell, a test, a tool that imports the
    sampler) changes nothing."""
    argv = ["--checkpoint", checkpoint, "--prompt", "ab", "--max_new_tokens", "40", "--top_k", "100", "--seed", "3"]
    alone = run_main(capsys, *argv).out

    def print_and_draw(*args, **kwargs):  # each character printed, then a draw from the global generator
        print(*args, **kwargs)
        torch.rand(1)

    monkeypatch.setattr(babygpt_sample, "print", print_and_draw, raising=False)
    assert run_main(capsys, *argv).out == alone
