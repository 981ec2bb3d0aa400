"""Tests for babygpt_playground.py: the page shows the model's own numbers, refuses bad input with a message and
keeps working, and works through Gradio's client and in a real browser.

Tiny random checkpoints made here; no corpus, no network. The page's functions are called directly (fast); one test
serves the page and talks to it with gradio_client; one drives headless Chromium (skipped if it is not installed).
"""

import hashlib
import html
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conftest import sharpen  # noqa: E402

import babygpt_playground as pg  # noqa: E402
from babygpt.pictures import attention_weights  # noqa: E402
from babygpt_v12_wandb import BabyGPT  # noqa: E402

VOCAB = "\n 。春江花月夜往事明流水abcdeist"  # 21 characters, Chinese among them
CONFIG = {"vocab_size": len(VOCAB), "block_size": 8, "n_embed": 16, "n_head": 2, "n_layer": 2, "dropout": 0.1}


def tiny_checkpoint(path, seed=2, stage=None):
    """Write a random tiny checkpoint (and a metrics.csv beside it) as babygpt_v12_wandb.py would; return its path.

    Larger weights than BabyGPT's init (conftest.sharpen)."""
    torch.manual_seed(seed)
    model = sharpen(BabyGPT(**CONFIG))
    checkpoint = {
        "format": "babygpt-checkpoint-v1",
        "model_config": CONFIG,
        "vocab": VOCAB,
        "model_state": model.state_dict(),
        "hyperparameters": {"prompt": ["春江"]},
        "step": 100,
        "val_loss": 2.5,
    }
    if stage:
        checkpoint["stage"] = stage
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    (path.parent / "metrics.csv").write_text("step,train_loss,val_loss\n0,3.1,3.2\n100,2.4,2.5\n")
    return str(path)


@pytest.fixture
def checkpoint(tmp_path):
    return tiny_checkpoint(tmp_path / "out" / "tiny" / "checkpoint.pt")


@pytest.fixture
def playground(checkpoint, tmp_path):
    return pg.Playground([checkpoint], folders=[tmp_path])  # a typed path may point anywhere in tmp_path


def reference_logits(path, prompt):
    """The last position's logits from the plain model forward (no cache), for comparison."""
    checkpoint = torch.load(path, weights_only=True)
    model = BabyGPT(**checkpoint["model_config"])
    model.load_state_dict(checkpoint["model_state"])
    model.eval()
    idx = torch.tensor([[VOCAB.index(ch) for ch in prompt]])[:, -CONFIG["block_size"] :]
    with torch.no_grad():
        return model(idx)[0][0, -1], model, idx


# ----------------------------------------------------------------------------
# The page's functions, called directly


@pytest.mark.parametrize("temperature", [0.3, 1.0, 1.5])
@pytest.mark.parametrize("top_k", [0, 3], ids=["all", "top_k_3"])
def test_chart_shows_softmax_of_logits_over_temperature_within_top_k(playground, checkpoint, temperature, top_k):
    prompt = "春江花月夜往事"
    rows, summary = playground.show(checkpoint, prompt, temperature, top_k)
    logits, _, _ = reference_logits(checkpoint, prompt)
    expected = torch.softmax(logits / temperature, dim=-1)
    if top_k:
        kept = torch.topk(logits, top_k).indices
        expected = torch.zeros_like(logits)
        expected[kept] = torch.softmax(logits[kept] / temperature, dim=-1)
    shown = {label: p for label, p, _ in rows}
    assert len(rows) == pg.BAR_COUNT
    for i in torch.argsort(logits, descending=True)[: pg.BAR_COUNT].tolist():
        assert shown[pg.show_character(VOCAB[i])] == pytest.approx(float(expected[i]), abs=1e-5)
    assert [kind for _, _, kind in rows].count("kept") == (top_k or pg.BAR_COUNT)
    assert f"temperature {temperature:g}" in summary


def test_lower_temperature_sharpens_the_chart(playground, checkpoint):
    top = {t: max(p for _, p, _ in playground.show(checkpoint, "春江", t, 0)[0]) for t in (0.3, 1.5)}
    assert top[0.3] > top[1.5]
    greedy, _ = playground.show(checkpoint, "春江", 0, 0)
    assert sorted(p for _, p, _ in greedy)[-2:] == [0.0, 1.0]


def test_attention_shown_is_the_samplers(playground, checkpoint):
    prompt = "春江花月夜往事明流水"  # longer than block_size: the last 8 characters
    page = playground.attention(checkpoint, prompt)
    attributes = {name: html.unescape(value) for name, value in re.findall(r'data-([a-z-]+)="([^"]*)"', page)}
    assert attributes["shape"] == "2 2 8"
    shown = pg.unpack_attention(attributes["weights"], 2, 2, 8)
    _, model, idx = reference_logits(checkpoint, prompt)
    expected = attention_weights(model, idx)
    assert shown.shape == expected.shape == (2, 2, 8, 8)
    largest = expected.amax(-1, keepdim=True)  # each within 3.3% of its row's largest (31 shades, square root)
    assert ((shown - expected).abs() <= 0.033 * largest + 1e-4).all()
    assert json.loads(attributes["labels"]) == list("花月夜往事明流水") and "the last 8 characters" in page
    assert "夜往事明流水" in re.sub(r"<[^>]+>", "", page)  # the characters themselves, not ids


def test_the_attention_map_of_v12s_default_size_is_under_a_megabyte():
    """6 layers x 6 heads over 256 characters: 1.2 million weights. Their JSON was 16.3 MB on every keystroke; packed,
    even weights with no pattern at all (random rows, the worst case for zlib) stay under 1 MB."""
    torch.manual_seed(0)
    future = torch.full((256, 256), float("-inf")).triu(1)
    weights = torch.softmax(3 * torch.randn(6, 6, 256, 256) + future, dim=-1)
    page = pg.attention_html([chr(0x4E00 + i) for i in range(256)], weights)
    assert len(page.encode()) < 1_000_000


def test_a_checkpoint_compared_with_itself_gives_identical_panels(playground, checkpoint):
    panels = playground.compare(checkpoint, checkpoint, "春江", 1.0, 5, 7, 30)
    a, b, message = panels[:3], panels[3:6], panels[6]
    assert a == b and len(a[2]) == len("春江") + 30 and "⚠" not in message
    other = tiny_checkpoint(Path(checkpoint).parent.parent / "other" / "checkpoint.pt", seed=3)
    assert playground.compare(checkpoint, other, "春江", 1.0, 5, 7, 30)[5] != a[2]


def test_generate_streams_and_the_seed_repeats_it(playground, checkpoint):
    streamed = list(playground.generate(checkpoint, "春江", 1.0, 0, 40, 7))
    texts = [text for text, _ in streamed]
    assert len(texts) > 3 and all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    assert len(texts[-1]) == 2 + 40 and "40 characters in" in streamed[-1][1]
    assert list(playground.generate(checkpoint, "春江", 1.0, 0, 40, 7))[-1][0] == texts[-1]


def test_next_appends_one_character_and_likeliest_is_the_argmax(playground, checkpoint):
    text, message = playground.step(checkpoint, "春江", 1.0, 0)
    assert len(text) == 3 and text.startswith("春江") and message == ""
    logits, _, _ = reference_logits(checkpoint, "春江")
    assert playground.step(checkpoint, "春江", 1.0, 0, greedy=True)[0] == "春江" + VOCAB[int(logits.argmax())]


def test_next_draws_from_the_charts_logits_without_running_the_model_again(playground, checkpoint):
    playground.show(checkpoint, "春江花", 1.0, 0)  # the page shows the chart of the text before Next is pressed
    model = playground.models.get(checkpoint).model
    runs = []
    handle = model.token_embedding_table.register_forward_hook(lambda *args: runs.append(1))  # any path runs it
    try:
        text, message = playground.step(checkpoint, "春江花", 1.0, 0, greedy=True)
    finally:
        handle.remove()
    assert runs == [] and message == ""
    logits, _, _ = reference_logits(checkpoint, "春江花")
    assert text == "春江花" + VOCAB[int(logits.argmax())]


def test_model_info_and_loss_curve(playground, checkpoint, tmp_path):
    info, curve, vocab_size, message = playground.load(checkpoint)
    n_params = sum(p.numel() for p in BabyGPT(**CONFIG).parameters())
    assert "stage **v12**" in info and "val loss **2.5000**" in info and f"{n_params:,} parameters" in info
    assert message == ""
    assert "block_size 8" in info and "n_layer 2" in info and vocab_size == len(VOCAB)
    assert ("val" in {split for _, split, _ in curve}) and (100, "val", 2.5) in curve
    train = tiny_checkpoint(tmp_path / "out" / "train" / "checkpoint.pt", stage="babygpt_train.py")
    assert "stage **babygpt_train.py**" in playground.load(train)[0]


def test_v6_beside_v7_any_stage_loads_and_compares(playground, tmp_path):
    """Any stage's checkpoint (a sweep's trial names its stage): chart, Next and Compare work; attention is shown
    from v10 on, and before that the page says so."""
    from conftest import load_stage

    paths = {}
    for stage_id, stage_file in (("v6", "babygpt_v6_block.py"), ("v7", "babygpt_v7_residual_connection.py")):
        torch.manual_seed(0)
        module = load_stage(stage_id)
        config = {key: CONFIG[key] for key in ("vocab_size", *module.MODEL_HYPERPARAMETERS)}
        model = module.BabyGPT(**config)
        checkpoint = {"format": "babygpt-checkpoint-v1", "model_config": config, "vocab": VOCAB, "stage": stage_file}
        paths[stage_id] = str(tmp_path / f"{stage_id}.pt")
        torch.save({**checkpoint, "model_state": model.state_dict(), "step": 0, "val_loss": 3.0}, paths[stage_id])
        assert f"stage **{stage_id}**" in playground.load(paths[stage_id])[0]
        logits = model(torch.tensor([[VOCAB.index("春"), VOCAB.index("江")]]))[0][0, -1].detach()
        shown = {label: p for label, p, _ in playground.show(paths[stage_id], "春江", 1.0, 0)[0]}
        assert shown[pg.show_character(VOCAB[int(logits.argmax())])] == pytest.approx(float(logits.softmax(-1).max()))
        assert "for v10 on" in playground.attention(paths[stage_id], "春江")
    a_info, _, a_text, b_info, _, b_text, message = playground.compare(paths["v6"], paths["v7"], "春江", 1.0, 0, 1, 20)
    assert "stage **v6**" in a_info and "stage **v7**" in b_info and len(a_text) == len(b_text) == 22


def test_checkpoints_are_found_where_runs_save_them_the_most_recently_written_first(tmp_path):
    written = {  # file -> modification time: an interrupted run sorts first by name, v12 was written last
        "out/sigtest/checkpoint.pt": 1000,
        "out/v12/checkpoint.pt": 3000,
        "out/v12/best.pt": 2000,
        "sweeps/study/trial_0/checkpoint.pt": 1000,  # as old as out/sigtest: by path, after it
        "out/a_first/best.pt": 1000,  # as old too: by path, before it (though found by a later pattern)
        "elsewhere/x.pt": 4000,  # not where runs save them
    }
    for file, mtime in written.items():
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_bytes(b"")
        os.utime(tmp_path / file, (mtime, mtime))
    found = pg.discover_checkpoints(str(tmp_path), given=["mine.pt"])
    relative = [os.path.relpath(path, tmp_path) if path != "mine.pt" else path for path in found]
    expected = [
        "out/v12/checkpoint.pt",
        "out/v12/best.pt",
        "out/a_first/best.pt",
        "out/sigtest/checkpoint.pt",
        "sweeps/study/trial_0/checkpoint.pt",
    ]
    assert relative == ["mine.pt", *(os.path.normpath(path) for path in expected)]  # the given ones first


def test_a_run_folder_is_read_as_its_checkpoint_pt(playground, checkpoint, tmp_path):
    folder = os.path.dirname(checkpoint)
    assert playground.load(folder) == playground.load(checkpoint)  # the same model, and the loss curve beside it
    assert playground.show(folder, "春江", 1.0, 0) == playground.show(checkpoint, "春江", 1.0, 0)
    args = pg.parse_args(["--checkpoint", folder])
    pg.check_args(args)
    assert args.checkpoint == [os.path.join(folder, "checkpoint.pt")]  # the dropdown shows the file
    assert playground.load(str(tmp_path))[3] == f"⚠️ {playground.policy.refusal(str(tmp_path))}"  # none in it


def snapshot(folder):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_bad_input_gets_a_message_and_the_page_keeps_working(playground, checkpoint, tmp_path, capsys):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(Path(checkpoint).read_bytes()[:1000])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    before = snapshot(tmp_path)
    cases = {  # the page says only that it cannot open it; the terminal that started the playground says why
        str(tmp_path / "missing.pt"): "No such file or directory",
        str(truncated): "truncated or damaged",
        str(foreign): "not a BabyGPT checkpoint",
    }
    for path, reason in cases.items():
        capsys.readouterr()
        assert playground.load(path)[3] == f"⚠️ {playground.policy.refusal(path)}"
        assert playground.show(path, "春江", 1.0, 0)[1] == f"⚠️ {playground.policy.refusal(path)}"
        assert "cannot open" in playground.attention(path, "春江")
        assert reason in capsys.readouterr().err
    assert "'Z'" in playground.show(checkpoint, "春江Z", 1.0, 0)[1]  # names the unknown character
    assert playground.step(checkpoint, "春江Z", 1.0, 0) == ("春江Z", playground.show(checkpoint, "春江Z", 1, 0)[1])
    assert "at least one character" in playground.show(checkpoint, "", 1.0, 0)[1]
    for n in (0, -5, 10**9, 2.5):
        (text, message), *rest = list(playground.generate(checkpoint, "春江", 1.0, 0, n, 1))
        assert text == "春江" and "between 1 and" in message and not rest
    assert "between 1 and" in playground.compare(checkpoint, checkpoint, "春江", 1.0, 0, 1, 10**9)[6]
    assert "temperature" in playground.show(checkpoint, "春江", -1, 0)[1]
    assert "seed" in list(playground.generate(checkpoint, "春江", 1.0, 0, 5, -1))[0][1]
    assert snapshot(tmp_path) == before  # nothing on disk touched
    rows, message = playground.show(checkpoint, "春江", 1.0, 0)  # and the page still works
    assert len(rows) == pg.BAR_COUNT and "⚠" not in message


def test_the_page_opens_only_checkpoints_in_the_folders_it_scans_and_says_nothing_of_the_rest(tmp_path):
    """Whoever reaches the page types paths that are opened on the server. Outside the folders scanned, missing, not a
    checkpoint, a folder, a named pipe (which blocked the read, and every other load behind it): one message, the
    same but for the path typed back, and at once."""
    scanned = tmp_path / "out"
    given = tiny_checkpoint(scanned / "run" / "checkpoint.pt")
    elsewhere = tiny_checkpoint(tmp_path / "elsewhere" / "checkpoint.pt", seed=3)  # a real checkpoint, outside
    (scanned / "notes.pt").write_text("not a checkpoint")
    (scanned / "empty").mkdir()
    os.mkfifo(scanned / "pipe.pt")
    (scanned / "link.pt").symlink_to(elsewhere)
    playground = pg.Playground([given], folders=[scanned], load_seconds=30)
    assert playground.load(given)[3] == "" and playground.load(str(scanned / "run"))[3] == ""  # a run folder too
    refused = [
        elsewhere,
        os.path.dirname(elsewhere),
        str(scanned / ".." / "elsewhere" / "checkpoint.pt"),
        str(scanned / "link.pt"),
        str(scanned / "missing.pt"),
        str(scanned / "notes.pt"),
        str(scanned / "empty"),
        str(scanned / "pipe.pt"),
        "/etc/passwd",
        "/etc/nothing-here",
        "/proc/self/environ",
    ]
    started = time.monotonic()
    messages = {path: playground.load(path)[3].replace(repr(path), "PATH") for path in refused}
    assert time.monotonic() - started < 10  # the pipe did not wait for its 30 s
    assert len(set(messages.values())) == 1, messages
    assert "cannot open PATH here" in messages["/etc/passwd"]
    assert playground.load(given)[3] == ""  # and the page keeps working


# ----------------------------------------------------------------------------
# Several things at once: a class on one page, or Next pressed during a Generate


def test_the_same_seed_gives_the_same_text_whatever_else_draws_meanwhile(playground, checkpoint):
    """Every draw has a generator of its own: draws elsewhere (torch's global generator, another event) between two
    of its characters change nothing."""
    alone = list(playground.generate(checkpoint, "春江", 1.0, 0, 40, 7))[-1][0]
    alone_next = playground.step(checkpoint, "春江", 1.0, 0, 7)[0]
    alone_compare = playground.compare(checkpoint, checkpoint, "春江", 1.0, 0, 7, 20)
    texts = []
    for text, _ in playground.generate(checkpoint, "春江", 1.0, 0, 40, 7):  # about 20 updates
        texts.append(text)
        torch.manual_seed(len(texts))
        torch.rand(5)  # what another event's draw does to the global generator
        other = threading.Thread(target=playground.step, args=(checkpoint, text, 1.0, 0, len(texts)), daemon=True)
        other.start()  # and another event's Next, on the same model
        other.join(5)
    assert texts[-1] == alone and len(texts) > 3
    torch.rand(5)
    assert playground.step(checkpoint, "春江", 1.0, 0, 7)[0] == alone_next
    assert playground.compare(checkpoint, checkpoint, "春江", 1.0, 0, 7, 20) == alone_compare
    assert list(playground.generate(checkpoint, "春江", 1.0, 0, 40, 8))[-1][0] != alone  # the seed does matter


def write_in_place(path, data, mtime_ns):
    """Overwrite the file's bytes without a new file (same inode), and give it this modification time."""
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate()
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_checkpoint_rewritten_in_place_never_shows_the_previous_ones_chart(tmp_path, monkeypatch):
    """A run still training rewrites its checkpoint: same size, new time. The chart (and Next) must come from what
    the file holds now, never from scores remembered for an earlier content. Scores remembered under id() of the
    loaded model were found again when Python gave the new one the id of a freed one (6 charts in 40 rewrites
    through the page); here every load gets the same id, the worst case, so that such a key fails every time."""
    path = tmp_path / "out" / "run" / "checkpoint.pt"
    versions = []
    for seed in (2, 3):
        tiny_checkpoint(path, seed=seed)
        versions.append(path.read_bytes())
    assert len(versions[0]) == len(versions[1]) and versions[0] != versions[1]
    expected = []
    for data in versions:
        path.write_bytes(data)
        expected.append(pg.Playground([str(path)]).show(str(path), "春江", 1.0, 0))
    assert expected[0] != expected[1]

    class Recycled(pg.Loaded):  # one object, initialised again by every load: id() is always the same
        def __new__(cls, *args, **kwargs):
            return recycled.setdefault("one", object.__new__(cls))

    recycled = {}
    monkeypatch.setattr(pg, "Loaded", Recycled)
    playground = pg.Playground([str(path)])
    mtime = path.stat().st_mtime_ns
    for i in range(6):
        write_in_place(path, versions[i % 2], mtime + (i + 1) * 1_000_000_000)
        assert playground.show(str(path), "春江", 1.0, 0) == expected[i % 2], f"rewrite {i + 1}"


def test_a_load_that_hangs_keeps_no_one_else_waiting(tmp_path, monkeypatch):
    """A checkpoint that never finishes loading (a named pipe, a stalled disk) answers with a message after the time
    limit, and meanwhile every other checkpoint loads: no lock is held while a file is read."""
    fast = tiny_checkpoint(tmp_path / "out" / "fast" / "checkpoint.pt")
    slow = tiny_checkpoint(tmp_path / "out" / "slow" / "checkpoint.pt", seed=3)
    release = threading.Event()
    real_load = pg.load_checkpoint

    def load(path, device):
        if "slow" in str(path):
            release.wait(30)
        return real_load(path, device)

    monkeypatch.setattr(pg, "load_checkpoint", load)
    playground = pg.Playground([fast, slow], load_seconds=1.0, folders=[])
    answers = {}
    waiting = threading.Thread(target=lambda: answers.setdefault("slow", playground.load(slow)))
    waiting.start()
    time.sleep(0.2)  # the slow load has begun
    started = time.monotonic()
    answers["fast"] = playground.load(fast)
    fast_seconds = time.monotonic() - started
    waiting.join(10)
    release.set()
    assert not waiting.is_alive()
    assert fast_seconds < 0.9 and answers["fast"][3] == ""  # not behind the slow one
    assert "took more than 1 s to load; try again" in answers["slow"][3]  # its own folder: a message of its own
    time.sleep(0.2)
    assert playground.load(slow)[3] == ""  # once the disk answers, it loads


# ----------------------------------------------------------------------------
# In the learner's language: English or Chinese, as the browser prefers or --lang says


@pytest.mark.parametrize(
    "header, language",
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("zh-TW", "zh"),
        ("fr-FR,fr;q=0.9", "en"),  # neither: English
        ("fr-FR,zh;q=0.5", "zh"),
        ("en;q=0.2,zh;q=0.7", "zh"),
        ("", "en"),
        ("zh;q=0", "en"),  # q=0: not wanted
        ("garbage;q=x", "en"),
    ],
)
def test_the_language_is_the_one_the_browser_prefers(header, language):
    assert pg.preferred_language(header) == language


def test_every_word_has_its_chinese_and_the_chinese_uses_the_glossarys_terms():
    from test_glossary import ENGLISH_TERMS, REFUSED, english_term_uses, variant_uses

    assert set(pg.WORDS["en"]) == set(pg.WORDS["zh"])
    for key, english in pg.WORDS["en"].items():  # the same blanks to fill in
        assert sorted(re.findall(r"{(\w+)", english)) == sorted(re.findall(r"{(\w+)", pg.WORDS["zh"][key])), key
    text = re.sub(r"{[^}]*}", "X", "\n".join(pg.WORDS["zh"].values()))  # the words around the blanks
    assert variant_uses(text, REFUSED) == []
    assert english_term_uses(text, ENGLISH_TERMS) == []


def test_the_page_answers_in_chinese_for_a_chinese_learner(playground, checkpoint, tmp_path):
    rows, summary = playground.show(checkpoint, "春江", 0.5, 3, language="zh")
    assert summary.startswith("温度 0.5；top_k 3 在 21 个字里保留 3 个") and "最可能的：" in summary
    assert {kind for _, _, kind in rows} == {"保留", "被 top_k 截掉"}
    info = playground.load(checkpoint, language="zh")[0]
    assert "阶段 **v12**" in info and "验证损失 **2.5000**" in info and "dropout 0.1（这里不用）" in info
    assert "第 8 个字（流）在每一层（行）" in playground.attention(checkpoint, "春江花月夜往事明流", language="zh")
    assert "最后 8 个字" in playground.attention(checkpoint, "春江花月夜往事明流", language="zh")
    *_, (text, message) = playground.generate(checkpoint, "春江", 1.0, 0, 10, 7, language="zh")
    assert message.startswith("10 个字用了") and "随机种子 7" in message
    assert text == list(playground.generate(checkpoint, "春江", 1.0, 0, 10, 7))[-1][0]  # the same text
    assert playground.compare(checkpoint, checkpoint, "春江", 1, 0, 7, 5, language="zh")[6].startswith("两边用同一段")
    assert playground.show(checkpoint, "", 1, 0, language="zh")[1] == "⚠️ 请输入提示词：模型至少需要一个字才能往下写"
    assert "'Z' 不在它的词表里" in playground.step(checkpoint, "春Z", 1, 0, language="zh")[1]
    refused = str(tmp_path / "missing.pt")
    assert playground.load(refused, language="zh")[3] == f"⚠️ {playground.policy.refusal(refused, 'zh')}"
    assert "这里打不开" in playground.policy.refusal(refused, "zh")
    forced = pg.Playground([checkpoint], language="zh")  # --lang zh: every request in Chinese
    assert forced.language(None) == "zh" and pg.Playground([checkpoint]).language(None) == "en"
    words = pg.page_words("0.0.0.0", "zh")  # and every browser gets the Chinese page
    assert words["en"]["next tab"] == "下一个字" and "网络上任何能连到这台电脑的人" in words["en"]["exposure"]
    assert pg.page_words("127.0.0.1")["en"]["exposure"].count("only this computer") == 1


# ----------------------------------------------------------------------------
# The command line


def test_command_line_refuses_bad_options_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(pg, "import_gradio", lambda: pytest.fail("a bad option must stop before the page is built"))
    for args, expected in (
        (["--checkpoint", str(tmp_path / "none.pt")], "not found"),
        (["--checkpoint", str(tmp_path)], "holds no checkpoint.pt"),
        (["--port", "70000"], "--port must be"),
        (["--folder", str(tmp_path / "none")], "--folder"),
        (["--prot", "1"], "unrecognized arguments"),
    ):
        with pytest.raises(SystemExit) as exit:  # sys.exit(message): the message on stderr, exit status 1
            pg.main(args)
        assert expected in str(exit.value.code) and len(str(exit.value.code).splitlines()) == 1, args


def test_without_any_checkpoint_it_says_how_to_train_one_instead_of_serving_an_empty_page(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "v12").mkdir(parents=True)  # a run folder whose training wrote nothing yet
    monkeypatch.setattr(pg, "import_gradio", lambda: pytest.fail("nothing to serve: Gradio need not even load"))
    with pytest.raises(SystemExit) as exit:
        pg.main(["--port", str(free_port())])
    message = str(exit.value.code)
    assert message.startswith("error: no checkpoint under out/ or sweeps/") and len(message.splitlines()) == 1
    assert "train one first: python babygpt_v12_wandb.py" in message and "out/v12/checkpoint.pt" in message


def test_a_port_in_use_is_one_line_in_the_learners_terms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_checkpoint(tmp_path / "out" / "tiny" / "checkpoint.pt")  # something to serve
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SystemExit) as exit:
            pg.main(["--port", str(taken.getsockname()[1])])
    message = str(exit.value.code)
    assert "the port is in use" in message and "try another --port" in message
    assert "launch()" not in message and len(message.splitlines()) == 1  # none of Gradio's own API words


# ----------------------------------------------------------------------------
# The served page: through Gradio's client, and in a real browser


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("served") / "out" / "tiny" / "checkpoint.pt")


@pytest.fixture(scope="module")
def served(served_checkpoint):
    """The page over served_checkpoint, served once for this file's tests on a free local port: its address."""
    try:
        gr = pg.import_gradio()
    except ImportError:
        pytest.skip(pg.GRADIO_MISSING)
    page = pg.build_page(pg.Playground([served_checkpoint]))
    port = free_port()
    page.launch(**pg.launch_options("127.0.0.1", port, gr), prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        page.close()


def test_through_gradio_client_a_prompt_gives_the_distribution_and_a_continuation(served, served_checkpoint):
    from gradio_client import Client

    client = Client(served, verbose=False)
    checkpoint = served_checkpoint
    chart, message = client.predict(checkpoint, "春江", 0.5, 3, api_name="/show")
    rows = chart["data"]  # the plot's table: [character, probability, kept or cut] per bar
    assert len(rows) == pg.BAR_COUNT and "top_k 3 keeps 3" in message
    expected = {label: p for label, p, _ in pg.Playground([checkpoint]).show(checkpoint, "春江", 0.5, 3)[0]}
    assert {row[0]: row[1] for row in rows} == pytest.approx(expected)
    text, message = client.predict(checkpoint, "春江", 1.0, 0, 25, 7, api_name="/generate")
    assert text.startswith("春江") and len(text) == 2 + 25 and "25 characters in" in message
    assert set(text) <= set(VOCAB)
    assert "data-weights" in client.predict(checkpoint, "春江", api_name="/attention_map")
    text, message = client.predict(checkpoint, "春江Z", 1.0, 0, api_name="/step")
    assert text == "春江Z" and "not in the vocabulary" in message
    chart, message, attention = client.predict(checkpoint, "春江花", 0.5, 3, api_name="/redraw")  # after Next
    assert {row[0]: row[1] for row in chart["data"]} == pytest.approx(
        {label: p for label, p, _ in pg.Playground([checkpoint]).show(checkpoint, "春江花", 0.5, 3)[0]}
    )
    assert "top_k 3 keeps 3" in message and "data-weights" in attention and ">花<" in attention


def test_every_font_file_of_the_page_draws_every_latin_letter_and_digit():
    """Gradio's SemiBold files hold A, B and Cyrillic only: a heading drawn from one began with a thinner B."""
    import string

    from fontTools.ttLib import TTFont  # comes with matplotlib; Gradio's brotli reads woff2

    try:
        gr = pg.import_gradio()
    except ImportError:
        pytest.skip(pg.GRADIO_MISSING)
    css = "\n".join(pg.page_theme(gr)._font_css)  # the theme's @font-face rules
    files = re.findall(r"url\('static/([^']+)'\)", css)
    assert len(files) == 4, css  # two weights of the text font and of the code font
    for file in files:
        drawn = TTFont(Path(gr.__file__).parent / "templates" / "frontend" / "static" / file).getBestCmap()
        missing = [ch for ch in string.ascii_letters + string.digits if ord(ch) not in drawn]
        assert not missing, f"{file} lacks {''.join(missing)}"


def test_eight_users_at_once_through_the_served_page(tmp_path):
    """Eight gradio_client users on one page for a few seconds, each with a session of its own: Generate, Next and
    Compare on two checkpoints, checkpoint switches, and a run rewriting its checkpoint in place (same size, new
    time) then asking for its chart. Every text equals the one user alone gets, every chart is the file's current
    one, no event fails and none hangs."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    try:
        gr = pg.import_gradio()
    except ImportError:
        pytest.skip(pg.GRADIO_MISSING)
    a, b, d = (tiny_checkpoint(tmp_path / "out" / name / "checkpoint.pt", seed=seed) for name, seed in
               (("a", 2), ("b", 3), ("d", 4)))  # fmt: skip
    rewritten = tmp_path / "out" / "training" / "checkpoint.pt"
    versions = [Path(tiny_checkpoint(rewritten, seed=seed)).read_bytes() for seed in (5, 6)]
    alone = pg.Playground([a, b, d])  # the single user's answers, computed here
    charts = []
    for data in versions:
        rewritten.write_bytes(data)
        charts.append(
            {label: p for label, p, _ in pg.Playground([str(rewritten)]).show(str(rewritten), "春江", 1, 0)[0]}
        )
    assert charts[0] != charts[1]

    page = pg.build_page(pg.Playground([a, b, d, str(rewritten)]))
    port = free_port()
    page.launch(**pg.launch_options("127.0.0.1", port, gr), prevent_thread_lock=True, quiet=True)
    mtime = rewritten.stat().st_mtime_ns
    everyone_in = threading.Barrier(8)
    deadline = []

    def user(number):
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        if everyone_in.wait(60) == 0:
            deadline.append(time.monotonic() + 3)  # seconds of traffic once all eight are connected
        while not deadline:
            time.sleep(0.01)
        done = 0
        while done < 2 or time.monotonic() < deadline[0]:
            seed, path = 10 * number + done, (a, b)[done % 2]
            role = number % 4
            if number == 7:  # the run that trains: rewrites its checkpoint, then looks at its chart
                write_in_place(rewritten, versions[done % 2], mtime + (done + 1) * 1_000_000_000)
                chart, message = client.submit(str(rewritten), "春江", 1.0, 0, api_name="/show").result(timeout=60)
                assert {row[0]: row[1] for row in chart["data"]} == pytest.approx(charts[done % 2]), done
            elif role == 0:  # Generate
                text, message = client.submit(path, "春江", 1.0, 3, 15, seed, api_name="/generate").result(timeout=60)
                assert text == "春江" + pg.continuation(alone.models.get(path), "春江", 15, 1.0, 3, seed)
            elif role == 1:  # Next, from a text of its own
                prompt = "春江花月夜"[: 1 + done % 5]
                text, message = client.submit(path, prompt, 1.0, 0, seed, api_name="/step").result(timeout=60)
                assert text == alone.step(path, prompt, 1.0, 0, seed)[0]
            elif role == 2:  # Compare
                _, _, a_text, _, _, b_text, message = client.submit(
                    a, b, "江", 0.8, 0, seed, 10, api_name="/compare"
                ).result(timeout=60)
                assert (a_text, b_text) == tuple(alone.compare(a, b, "江", 0.8, 0, seed, 10)[i] for i in (2, 5))
            else:  # checkpoint switches
                chosen = (a, b, d)[done % 3]
                info, _, _, message = client.submit(chosen, api_name="/load").result(timeout=60)
                assert f"**{chosen}**" in info
            assert "⚠" not in message, message
            done += 1
        return done

    try:
        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(user, range(8), timeout=120))
    finally:
        page.close()
    assert min(done) >= 2, done


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


DRAWN = """
return [...document.querySelectorAll('#attention td.strip')].map((cell) => {
  const [shade, veil] = [...cell.querySelectorAll('canvas')].map((canvas) => canvas.getContext('2d'));
  const ratio = window.devicePixelRatio;
  return [...cell.querySelectorAll('span')].map((s) => {
    const x = (s.offsetLeft + s.offsetWidth / 2) * ratio, y = (s.offsetTop + s.offsetHeight / 2) * ratio;
    return [shade.getImageData(x, y, 1, 1).data[3] > 0, veil.getImageData(x, y, 1, 1).data[3] > 0];
  });
});
"""  # per strip, per character: (shaded by a weight, veiled as the future), read from the canvases' pixels


def chromium(language="en-US"):
    """Headless Chromium whose learner reads language (its navigator.language and Accept-Language)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium absent: pip install selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(argument)
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="headless Chromium absent: apt-get install chromium chromium-driver"
)
def test_in_chromium_in_chinese_for_a_browser_that_prefers_it(served):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium("zh-CN")
    wait = WebDriverWait(driver, 180)
    try:
        driver.get(served)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "h1").text == "BabyGPT 演练场")
        wait.until(lambda d: d.find_element(By.ID, "message").text.startswith("温度 1；全部 21 个字都可能被抽到"))
        words = driver.find_element(By.TAG_NAME, "body").text
        for shown in (
            "检查点",
            "提示词",
            "温度",
            "随机种子",
            "下一个字（抽取）",
            "生成 N 个字",
            "比较",
            "谁能打开这个页面",
        ):
            assert shown in words, shown
        assert "Next (drawn)" not in words and "temperature" not in words
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#attention .bg-attn[data-ready]"))
        first = driver.find_element(By.CSS_SELECTOR, "#attention .pointer span")
        ActionChains(driver).move_to_element(first).perform()
        wait.until(lambda d: "第 1 个字（春）" in d.find_element(By.CSS_SELECTOR, "#attention .caption").text)
        assert "层 1" in driver.find_element(By.ID, "attention").text
        assert [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"] == []
    finally:
        driver.quit()


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="headless Chromium absent: apt-get install chromium chromium-driver"
)
def test_in_chromium_type_slide_and_step(served):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium("en-US")
    wait = WebDriverWait(driver, 180)  # seconds at most: a few on a quiet machine
    try:
        driver.get(served)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "h1").text == "BabyGPT playground")
        prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#prompt textarea"))
        wait.until(lambda d: prompt.get_attribute("value") == "春江")  # the checkpoint's own prompt
        wait.until(lambda d: "all 21 characters" in d.find_element(By.ID, "message").text)

        def chart():  # the bars as drawn (Vega's SVG paths, one per bar), and the line above the chart
            return driver.execute_script(
                "return [...document.querySelectorAll('#chart g.mark-rect path')].map(e => e.getAttribute('d')).join()"
            ), driver.find_element(By.ID, "message").text

        prompt.send_keys(Keys.END, "花月")
        wait.until(lambda d: "春江花月" in d.find_element(By.CSS_SELECTOR, "#attention").text)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#attention .bg-attn[data-ready]"))  # unpacked, built
        first = driver.find_element(By.CSS_SELECTOR, "#attention .pointer span")
        ActionChains(driver).move_to_element(first).perform()  # point at 春: the strips show where it looks
        wait.until(lambda d: "character 1 (春)" in d.find_element(By.CSS_SELECTOR, "#attention .caption").text)
        shades = driver.execute_script(DRAWN)  # 2 layers x 2 heads, each the text: the first looks only at itself
        assert shades == [[[True, False], [False, True], [False, True], [False, True]]] * 4, shades
        last = driver.find_elements(By.CSS_SELECTOR, "#attention .pointer span")[-1]
        ActionChains(driver).move_to_element(last).perform()  # the last looks at all four, none of them future
        wait.until(lambda d: "character 4 (月)" in d.find_element(By.CSS_SELECTOR, "#attention .caption").text)
        drawn = driver.execute_script(DRAWN)  # nothing veiled; in each head at least its largest weight shaded
        assert all(not veiled for strip in drawn for _, veiled in strip) and all(
            any(s for s, _ in strip) for strip in drawn
        )
        some = driver.find_elements(By.CSS_SELECTOR, "#attention .strip span")[1]
        ActionChains(driver).move_to_element(some).perform()  # its tooltip: the weight, as the sampler has it
        assert re.fullmatch(r"月 → 江: 0\.\d{3}", some.get_attribute("title")), some.get_attribute("title")
        wait.until(lambda d: chart()[0].count("M") >= pg.BAR_COUNT)
        before = chart()
        slider = driver.find_element(By.CSS_SELECTOR, "#temperature input[type=range]")
        for _ in range(10):
            slider.send_keys(Keys.ARROW_LEFT)  # 1.0 -> 0.5, one step of 0.05 at a time
        wait.until(lambda d: "temperature 0.5" in chart()[1])
        wait.until(lambda d: chart()[0] != before[0])  # the bars were redrawn
        driver.find_element(By.ID, "next").click()
        wait.until(lambda d: len(prompt.get_attribute("value")) == len("春江花月") + 1)
        time.sleep(1)  # the chart and attention redraw after the step
        driver.execute_cdp_cmd("DOM.enable", {})  # the fonts Chromium drew the heading with
        driver.execute_cdp_cmd("CSS.enable", {})
        root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        heading = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
        fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": heading})["fonts"]
        assert len(fonts) == 1, fonts  # every letter of "BabyGPT playground" from one font, none thinner
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


@pytest.mark.docs
def test_docs_latency_tables_are_the_benchs_last_result():
    """docs/playground.md and .zh.md show the tables `python -m bench playground --report` writes from its results."""
    from bench.measure import playground as bench

    for path, zh in zip(bench.DOCS, (False, True), strict=True):
        text = Path(path).read_text(encoding="utf-8")
        block = f"<!-- measured: playground -->\n{bench.report_text(zh)}\n<!-- end measured -->"
        assert block in text, f"{path}: run python -m bench playground --report"
        block = f"<!-- measured: playground-attention -->\n{bench.attention_report(zh)}\n<!-- end measured -->"
        assert block in text, f"{path}: run python -m bench playground --report"
