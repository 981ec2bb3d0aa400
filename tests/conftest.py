"""Fixtures shared by the stage tests: the twelve stage modules and a tiny corpus.

The stages are top-level scripts in the repository root, so the root goes on sys.path.
"""

import importlib
import random
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STAGE_MODULES = {  # test id -> module name, in reading order
    "v1": "babygpt_v1",
    "v2": "babygpt_v2_position",
    "v3": "babygpt_v3_self_attention",
    "v4": "babygpt_v4_multihead_attention",
    "v5": "babygpt_v5_feedforward",
    "v6": "babygpt_v6_block",
    "v7": "babygpt_v7_residual_connection",
    "v8": "babygpt_v8_projection",
    "v9": "babygpt_v9_layer_norm",
    "v10": "babygpt_v10_dropout",
    "v11": "babygpt_v11_hyper_params",
    "v12": "babygpt_v12_wandb",
}
STAGE_IDS = list(STAGE_MODULES)


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny models run faster on one thread than on two that wait for each other (3-10x here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_stage(stage_id):
    """Import one stage by its test id ("v3"); importing has no side effects."""
    return importlib.import_module(STAGE_MODULES[stage_id])


def stage_number(module):
    """babygpt_v10_dropout -> 10"""
    return int(module.__name__.split("_")[1][1:])


@pytest.fixture(params=STAGE_IDS)
def stage(request):
    """Each test that takes `stage` runs once per stage, with ids v1 .. v12."""
    return load_stage(request.param)


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
