"""Tests for babygpt_sample.py: the KV-cache generator must choose the tokens the plain one chooses.

Tiny random models on CPU, no corpus, no training; the whole file runs in a few seconds.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import babygpt_sample  # noqa: E402
from babygpt_sample import (  # noqa: E402
    CachedBabyGPT,
    CachedContext,
    FullRecomputeContext,
    end_of_input_key,
    generate_tokens,
    main,
)
from babygpt_v12_wandb import BabyGPT  # noqa: E402

VOCAB = "\n !abcdefghijklmnopq"  # 20 characters
BLOCK_SIZE = 8


def tiny_model(n_head=4, seed=2):
    """A random tiny BabyGPT whose greedy output varies with context and position.

    BabyGPT's own init (std 0.02) makes every logit nearly equal, and greedy decoding then repeats one
    character whatever the context: a broken cache would go unnoticed. Larger weights make it pick varied ones."""
    torch.manual_seed(seed)
    model = BabyGPT(len(VOCAB), block_size=BLOCK_SIZE, n_embed=16, n_head=n_head, n_layer=2, dropout=0.1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Embedding):
                module.weight.normal_(0, 1.0)
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0, 3.0 / module.in_features**0.5)
                if module.bias is not None:
                    module.bias.zero_()
    return model.eval()


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
        torch.testing.assert_close(context.next_logits(), expected[:, -1, :], atol=1e-5, rtol=1e-5, msg=f"step {step}")
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


def test_main_seed_makes_samples_reproducible(capsys, checkpoint):
    argv = ["--checkpoint", checkpoint, "--prompt", "a", "--max_new_tokens", "40", "--top_k", "100"]
    first = run_main(capsys, *argv, "--seed", "1").out
    assert run_main(capsys, *argv, "--seed", "1").out == first
    assert run_main(capsys, *argv, "--seed", "2").out != first


def test_main_default_prompts_are_the_ones_saved_in_the_checkpoint(capsys, checkpoint):
    out = run_main(capsys, "--checkpoint", checkpoint, "--max_new_tokens", "5").out
    assert "--- ab ---\nab" in out and "--- cd ---\ncd" in out


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
    ("--max_new_tokens", "0", ["--max_new_tokens", "positive"]),
    ("--num_samples", "-1", ["--num_samples", "positive"]),
    ("--top_k", "0", ["--top_k", "positive"]),
    ("--seed", "-1", ["--seed must be between 0 and 2**63 - 1"]),
    ("--seed", str(2**64), ["--seed must be between 0 and 2**63 - 1"]),
    ("--device", "cuda:7", ["cuda:7"]),
    ("--device", "tpu", ["tpu"]),
    ("--prompt", "", ["--prompt", "empty"]),
    ("--prompt", "ab$Z", ["not in the vocabulary", "$Z"]),
    ("--temp", "0", ["unrecognized arguments", "--temp"]),
    ("--max_new_tokens", "ten", ["--max_new_tokens", "invalid int"]),
]


@pytest.mark.parametrize("option, value, words", BAD_OPTIONS, ids=[f"{o}={v}" for o, v, _ in BAD_OPTIONS])
def test_bad_option_is_refused_in_one_line(checkpoint, option, value, words):
    message = exit_message("--checkpoint", checkpoint, option, value)
    for word in words:
        assert word in message


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
        (lambda path: path.mkdir(), ["cannot read"]),
        (write_bytes(valid_bytes()[:2000]), ["truncated"]),
        (write_bytes(b""), ["truncated"]),
        (write_bytes(b"To be, or not to be\n"), ["not a PyTorch file"]),
        (write_torch(nn.Linear(2, 2)), ["not a BabyGPT checkpoint", "objects"]),
        (write_torch([1, 2, 3]), ["not a BabyGPT checkpoint", "format"]),
        (write_torch(checkpoint_dict(format="nanogpt")), ["not a BabyGPT checkpoint", "format"]),
        (write_torch({k: v for k, v in checkpoint_dict().items() if k != "vocab"}), ["lacks vocab"]),
        (write_torch(checkpoint_dict(vocab="abc")), ["vocab"]),
        (write_torch(checkpoint_dict(model_config={"vocab_size": 20})), ["model_config", "n_embed"]),
        (write_torch(checkpoint_dict(model=BabyGPT(len(VOCAB), BLOCK_SIZE, 16, 4, 3, 0.1))), ["do not fit"]),
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
