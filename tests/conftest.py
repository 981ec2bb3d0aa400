"""What the tests share: the twelve stage modules, the one tiny model and its config, a tiny corpus.

The stages, the tools and babygpt/ are at the repository root, so the root goes on sys.path (bench/ is a
package there too: tests import `from bench.measure import nanogpt`).
"""

import importlib
import random
import struct
import sys
import zlib
from pathlib import Path

import pytest
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from babygpt import checks  # noqa: E402
from babygpt.checkpoint import STAGE_IDS, STAGE_MODULES, load_stage  # noqa: E402,F401  (the one registry)

# The longest files first: with -n (pytest-xdist, one file per worker at a time) the short ones then fill in
# around them at the end, instead of one worker finishing the sweep's processes alone while the other idles.
LONGEST_FIRST = ["test_sweep.py", "test_stages.py", "test_train.py", "test_playground.py", "test_sample.py"]
LONGEST_FIRST += ["test_site.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a file stays


def one_pixel_png():
    """A valid PNG of one white pixel, built by hand (signature, IHDR, IDAT, IEND)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1 x 1, 8 bits, RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\xff\xff\xff"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(autouse=True)
def quick_loss_curve(request, monkeypatch):
    """Drawing loss_curve.png costs a quarter of a second of matplotlib per run here, and the tests finish
    some hundred v12, trainer and sweep runs in this process: there the run folder gets a one-pixel PNG. Tests
    marked `loss_curve` (and runs in other processes) draw the real picture."""
    if "loss_curve" not in request.keywords:
        monkeypatch.setattr(importlib.import_module("babygpt_v12_wandb"), "loss_curve_png", lambda *args: ONE_PIXEL)


ONE_PIXEL = one_pixel_png()


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny models run faster on one thread than on two that wait for each other (3-10x here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def stage_number(module):
    """babygpt_v10_dropout -> 10"""
    return int(module.__name__.split("_")[1][1:])


@pytest.fixture(params=STAGE_IDS)
def stage(request):
    """Each test that takes `stage` runs once per stage, with ids v1 .. v12."""
    return load_stage(request.param)


# The one tiny model size, shared with the exercises' checks (babygpt/checks.py, which test_stages.py runs)
TINY_CONFIG, TINY_VOCAB, tiny_config = checks.TINY_MODEL, checks.VOCAB, checks.model_config


def tiny_model(stage=None, vocab_size=TINY_VOCAB, seed=0, **overrides):
    """The tests' tiny BabyGPT: of stage (a module; default v12), TINY_CONFIG with overrides (n_head=4, ...),
    its own init drawn after torch.manual_seed(seed), in training mode (babygpt.checks.tiny_model)."""
    return checks.tiny_model(stage or load_stage("v12"), vocab_size, seed, **overrides)


def tiny_text(n_lines=200, seed=0):
    """A few KB of varied text mixing Chinese and English; about 30 distinct characters."""
    words = ["春江", "往事", "明月", "花开", "流水", "the", "cat", "sat", "on", "a", "mat", "and", "sang"]
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + "。" for _ in range(n_lines)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def corpus(tmp_path):
    """Path of a tiny UTF-8 corpus written under tmp_path."""
    path = tmp_path / "corpus.txt"
    path.write_text(tiny_text(), encoding="utf-8")
    return path


def sharpen(model):
    """Draw the model's weights larger than its init (embeddings N(0, 1), linear weights N(0, 9 / in_features),
    biases 0), so that its next-character distributions are far from uniform and its attention varies: a test
    that compares two ways of computing them then compares something. Returns the model."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Embedding):
                module.weight.normal_(0, 1.0)
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0, 3.0 / module.in_features**0.5)
                if module.bias is not None:
                    module.bias.zero_()
    return model
