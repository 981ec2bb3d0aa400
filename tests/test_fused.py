"""Tests for babygpt/fused.py: the fused attention equals v12's per-head attention over the same parameters.

Tiny models on CPU, fixed seeds. The fused path adds the same numbers in another order, so it agrees with the
stage to float32 rounding (a few 1e-7 here), never bit for bit.
"""

import copy

import pytest
import torch
from conftest import tiny_model, tiny_text

import babygpt.fused
import babygpt.pictures
import babygpt.sampling
import babygpt_train
import babygpt_v12_wandb as v12
from babygpt.fused import FusedMultiHeadAttention, set_attention

CONFIGS = {  # id -> (block_size, n_embed, n_head, n_layer)
    "1head": (8, 16, 1, 1),
    "2heads": (8, 16, 2, 1),
    "4heads_2layers": (8, 32, 4, 2),
    "8heads_hs2": (6, 16, 8, 2),
}


def tiny_pair(config, dropout=0.0, seed=0, vocab_size=20):
    """A v12 model and a deep copy of it (the same weights) running fused."""
    block_size, n_embed, n_head, n_layer = CONFIGS[config]
    sizes = {"block_size": block_size, "n_embed": n_embed, "n_head": n_head, "n_layer": n_layer}
    stage = tiny_model(vocab_size=vocab_size, seed=seed, dropout=dropout, **sizes)
    fused = copy.deepcopy(stage)
    assert set_attention(fused, "fused") == n_layer
    return stage, fused


def tokens(batch_size, T, seed=1, vocab_size=20):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(vocab_size, (batch_size, T), generator=generator)


@pytest.mark.parametrize("config", CONFIGS)
def test_fused_forward_equals_the_stages_per_head_forward_to_float32_rounding(config):
    stage, fused = tiny_pair(config)
    block_size = stage.block_size
    for T in (1, block_size // 2, block_size):  # the causal mask must hold for every length, not only block_size
        x, y = tokens(3, T), tokens(3, T, seed=2)
        (stage_logits, stage_loss), (fused_logits, fused_loss) = stage(x, y), fused(x, y)
        assert torch.allclose(fused_logits, stage_logits, rtol=0, atol=1e-5), (
            T,
            (fused_logits - stage_logits).abs().max(),
        )
        assert fused_loss.item() == pytest.approx(stage_loss.item(), abs=1e-6)


@pytest.mark.parametrize("config", CONFIGS)
def test_fused_gradients_reach_v12s_own_parameters_and_equal_the_stages(config):
    stage, fused = tiny_pair(config)
    x, y = tokens(4, stage.block_size), tokens(4, stage.block_size, seed=3)
    stage(x, y)[1].backward()
    fused(x, y)[1].backward()
    stage_grads, fused_grads = dict(stage.named_parameters()), dict(fused.named_parameters())
    assert stage_grads.keys() == fused_grads.keys()  # the same parameters, by name: v12's
    for name, parameter in fused_grads.items():
        assert parameter.grad is not None, name  # every Head's query, key and value matrix gets its gradient
        assert torch.allclose(parameter.grad, stage_grads[name].grad, rtol=1e-4, atol=1e-7), name


def test_fused_model_keeps_v12s_state_dict_and_loads_into_the_stage_and_back():
    stage, fused = tiny_pair("4heads_2layers", seed=5)
    state = fused.state_dict()
    assert list(state) == list(stage.state_dict())
    reloaded = v12.BabyGPT(20, 8, 32, 4, 2, 0.0)
    reloaded.load_state_dict(state)  # a checkpoint trained fused is a v12 checkpoint
    x = tokens(2, 8)
    assert torch.allclose(reloaded(x)[0], fused(x)[0], atol=1e-5)
    assert all(isinstance(m, FusedMultiHeadAttention) for m in (b.attention for b in fused.blocks))
    set_attention(fused, "stage")
    assert torch.equal(fused(x)[0], stage(x)[0])  # back to the stage's own forward, bit for bit
    assert babygpt.fused.attention_implementation(fused) == "stage"
    with pytest.raises(ValueError, match="flash"):
        set_attention(fused, "flash")


def test_fused_dropout_drops_attention_in_training_only():
    stage, fused = tiny_pair("2heads", dropout=0.5)
    x = tokens(2, 8)
    fused.eval()
    stage.eval()
    assert torch.allclose(fused(x)[0], stage(x)[0], atol=1e-5)  # eval: no dropout, the same function
    fused.train()
    torch.manual_seed(0)
    first = fused(x)[0]
    assert not torch.allclose(first, fused(x)[0])  # training: a new dropout mask each call
    # only the attention's dropout: with the modules' own dropouts set to 0, the output still varies
    for module in fused.modules():
        if isinstance(module, torch.nn.Dropout) and module not in [b.attention.heads[0].dropout for b in fused.blocks]:
            module.p = 0.0
    assert not torch.allclose(fused(x)[0], fused(x)[0])


def test_stage_attention_runs_the_stage_within_and_restores_fused_after():
    _, fused = tiny_pair("2heads")
    with babygpt.fused.stage_attention(fused):
        assert babygpt.fused.attention_implementation(fused) == "stage"
    assert babygpt.fused.attention_implementation(fused) == "fused"


def test_memory_estimate_counts_what_the_fused_path_keeps_for_the_backward_pass():
    """As tests/test_train.py checks it for the stage: every distinct tensor autograd saves, the weights aside."""
    for dropout in (0.0, 0.2):
        _, model = tiny_pair("2heads", dropout=dropout, vocab_size=30)
        saved = {}  # storage address -> bytes, each storage once

        def keep(tensor, saved=saved):
            saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
            return tensor

        x, y = tokens(6, 8, vocab_size=30), tokens(6, 8, seed=2, vocab_size=30)
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
            logits, _ = model(x, y)
        saved[logits.untyped_storage().data_ptr()] = logits.untyped_storage().nbytes()
        weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
        measured = sum(size for ptr, size in saved.items() if ptr not in weights)
        estimate = babygpt_train.expected_memory(model, batch_size=6)["activations"]
        assert estimate == pytest.approx(measured, rel=0.01), dropout


# ----------------------------------------------------------------------------
# The tools


def trainer_argv(corpus, out_dir, *extra):
    return [
        *("--data", str(corpus), "--out_dir", str(out_dir), "--wandb_mode", "disabled", "--device", "cpu"),
        *("--max_iters", "20", "--eval_interval", "10", "--eval_iters", "2", "--batch_size", "4"),
        *("--block_size", "8", "--n_embed", "16", "--n_head", "2", "--n_layer", "1", "--dropout", "0"),
        *("--warmup_iters", "3", "--max_new_tokens", "5"),
        *extra,
    ]


def test_trainer_runs_fused_by_default_and_the_stage_on_request(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(tiny_text(), encoding="utf-8")
    for extra, expected in (((), "fused"), (("--attn_implementation", "stage"), "stage")):
        run = babygpt_train.setup(babygpt_train.parse_args(trainer_argv(corpus, tmp_path / "run", *extra)))
        assert babygpt.fused.attention_implementation(run.model) == expected


def test_trainer_trains_to_the_same_losses_fused_or_not(tmp_path):
    """Whole runs with dropout 0: the same batches, the same updates to rounding, the same losses to ~1e-5."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(tiny_text(), encoding="utf-8")
    losses = {}
    for implementation in ("fused", "stage"):
        argv = trainer_argv(corpus, tmp_path / implementation, "--attn_implementation", implementation)
        args = babygpt_train.parse_args(argv)
        run = babygpt_train.setup(args)
        reported = []
        babygpt_train.train(run.model, run.train_data, run.val_data, args, reported.append)
        losses[implementation] = [(m["train_loss"], m["val_loss"]) for m in reported]
    assert len(losses["fused"]) == 3  # steps 0, 10 and 20
    assert losses["fused"][-1][1] < losses["fused"][0][1] - 0.1  # it learned something
    for fused, stage in zip(losses["fused"], losses["stage"], strict=True):
        assert fused == pytest.approx(stage, abs=1e-4)


def test_sampler_no_cache_gives_the_same_text_fused_or_stage_and_still_draws_attention(tmp_path, capsys):
    torch.manual_seed(0)
    model = v12.BabyGPT(20, 8, 16, 2, 2, 0.0)
    texts = {}
    for implementation in ("fused", "stage"):
        set_attention(model, implementation)
        context = babygpt.sampling.FullRecomputeContext(model, tokens(1, 3))
        ids = [t.item() for t in babygpt.sampling.generate_tokens(context, 12, temperature=0)]
        texts[implementation] = ids
    assert texts["fused"] == texts["stage"]
    set_attention(model, "fused")
    weights = babygpt.pictures.attention_weights(model, tokens(1, 5))  # hooks on the Heads: run as the stage
    assert weights.shape == (2, 2, 5, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 5))
    assert babygpt.fused.attention_implementation(model) == "fused"  # restored afterwards
