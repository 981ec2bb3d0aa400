"""Text in pictures is never math: matplotlib reads $...$ as TeX (mathtext), so a prompt or a folder name with
$ signs lost them ('costs $5 or $5' drawn as "costs 5 or 5" with "or" in italics), and '$$' crashed the
drawing. Every picture the tools draw with the learner's text (the loss curve's title, the attention map's
title and labels, the sweep's charts) keeps the text as it is."""

import io
import sys

import matplotlib.figure
import matplotlib.text
import pytest
import torch
from conftest import tiny_text

import babygpt_train
import babygpt_v12_wandb as v12
from babygpt.pictures import draw_attention

NOT_MATH = ["$$", "costs $5 or $5", "$x^2$"]


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib Figure saved while the test runs."""
    figures = []
    savefig = matplotlib.figure.Figure.savefig

    def spy(self, *args, **kwargs):
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    return figures


def texts_read_as_math(figure):
    """The texts of the figure that matplotlib draws as mathtext."""
    return [t.get_text() for t in figure.findobj(matplotlib.text.Text) if t._preprocess_math(t.get_text())[1]]


def all_texts(figure):
    return "\n".join(t.get_text() for t in figure.findobj(matplotlib.text.Text))


@pytest.mark.loss_curve
@pytest.mark.parametrize("name", NOT_MATH)
def test_the_loss_curve_keeps_the_run_folders_name(name, saved_figures):
    png = v12.loss_curve_png([{"step": 0, "train_loss": 3.0, "val_loss": 3.1}], f"out/{name}")
    assert png.startswith(b"\x89PNG")
    (figure,) = saved_figures
    assert f"BabyGPT: out/{name}" in all_texts(figure) and not texts_read_as_math(figure)


@pytest.mark.loss_curve
def test_a_run_folder_named_with_dollar_signs_trains_to_the_end(tmp_path, monkeypatch):
    """'$$' in --out_dir crashed the trainer (and v12) at the end, with a three-line ParseException and no
    loss_curve.png or samples.txt."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(tiny_text(), encoding="utf-8")
    run = tmp_path / "out$$"
    argv = ["--data", str(corpus), "--out_dir", str(run), "--wandb_mode", "disabled", "--max_iters", "2"]
    argv += ["--eval_interval", "2", "--eval_iters", "1", "--batch_size", "2", "--block_size", "8"]
    argv += ["--n_embed", "16", "--n_head", "2", "--n_layer", "1", "--max_new_tokens", "3", "--prompt", "春"]
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    babygpt_train.main(argv)
    assert (run / "loss_curve.png").read_bytes().startswith(b"\x89PNG") and (run / "samples.txt").exists()


def tiny_v12(vocab):
    torch.manual_seed(0)
    model = v12.BabyGPT(len(vocab), block_size=16, n_embed=16, n_head=2, n_layer=1, dropout=0.0).eval()
    return model, v12.CharTokenizer(vocab)


@pytest.mark.parametrize("prompt", NOT_MATH)
def test_the_attention_map_keeps_the_prompt_as_typed(prompt, tmp_path, saved_figures):
    """'$$' gave an 18-frame traceback and no PNG; 'costs $5 or $5' lost its $ signs, "or" in italics."""
    model, tokenizer = tiny_v12("".join(sorted(set("".join(NOT_MATH)))))
    path = tmp_path / "attention.png"
    draw_attention(model, tokenizer, prompt, "or", str(path))
    assert path.read_bytes().startswith(b"\x89PNG")
    (figure,) = saved_figures
    assert not texts_read_as_math(figure)
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert "$" in labels and f"prompt: {prompt.replace(' ', '␣')}" in all_texts(figure)


def test_the_sweeps_charts_keep_the_values_as_written(tmp_path, monkeypatch, saved_figures):
    """A swept value with $ signs (here two corpus files, a$x$.txt and b$y$.txt) is drawn as written."""
    import babygpt_sweep

    corpora = [tmp_path / "a$x$.txt", tmp_path / "b$y$.txt"]
    for corpus in corpora:
        corpus.write_text(tiny_text(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    argv = ["--param", f"data={corpora[0]},{corpora[1]}", "--", "--max_iters", "2", "--eval_interval", "1"]
    argv += ["--eval_iters", "1", "--batch_size", "2", "--block_size", "8", "--n_embed", "16", "--n_head", "2"]
    argv += ["--n_layer", "1", "--max_new_tokens", "2", "--prompt", "春", "--device", "cpu"]
    babygpt_sweep.main(argv)
    assert len(saved_figures) >= 3
    assert any("$x$" in all_texts(figure) for figure in saved_figures)
    assert not [text for figure in saved_figures for text in texts_read_as_math(figure)]
