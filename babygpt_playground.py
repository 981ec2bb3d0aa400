"""The playground: watch your own BabyGPT think, in the browser.

A local web page over any checkpoint you trained: the next-character distribution as a bar chart that moves
with the temperature and top_k sliders, one character at a time or a streamed continuation, every attention
head over your text (point at a character to see where it looks), and two checkpoints side by side.

Run:   python babygpt_playground.py                      (finds out/*/checkpoint.pt, out/*/best.pt,
                                                          sweeps/*/*/checkpoint.pt, opens the newest; prints
                                                          the page's address)
       python babygpt_playground.py --checkpoint out/v12 --port 7861      (a run folder, or its checkpoint.pt)
       python babygpt_playground.py --lang zh             (the page in Chinese for everyone; by default each
                                                          browser gets its own language, Chinese or English)
       python babygpt_playground.py --help                (every option)

Several people at once (a class on one page): every draw has a random generator of its own, seeded from the page's
seed, so the same seed gives the same text whatever else runs; checkpoints load without holding any lock; the page
opens only checkpoints in the folders it scans (out/, sweeps/, --folder) and says nothing of any other path.

Engine: Gradio (pip install gradio), over Streamlit and Panel: live slider events, native bar/line plots, an
HTML view for the hoverable attention map, and gradio_client to test the page without a browser; it runs offline.

Model code comes from babygpt/ (load_checkpoint, the KV-cached model, attention_weights) and the stages;
this file adds only what a page needs. Nothing here writes to disk: a checkpoint is only read.
"""

import base64
import csv
import hashlib
import html
import json
import math
import os
import stat
import sys
import threading
import time
import zlib
from collections import OrderedDict
from concurrent.futures import Future
from glob import glob

import torch
from torch.nn import functional as F

import babygpt_v12_wandb
from babygpt.checkpoint import (
    ATTENTION_FROM,
    CHECKPOINT_STAGES,
    TRAIN_HINT,
    checkpoint_file,
    default_prompts,
    load_checkpoint,
    stage_id,
    stage_of,
    uses_cache,
)
from babygpt.pictures import attention_weights, show_character
from babygpt.sampling import CachedBabyGPT, CachedContext, FullRecomputeContext, generate_tokens
from babygpt_v12_wandb import OneLineErrorParser, pick_next_token

CHECKPOINT_PATTERNS = ("out/*/checkpoint.pt", "out/*/best.pt", "sweeps/*/*/checkpoint.pt")  # where runs save them
FOLDERS = ("out", "sweeps")  # the folders whose checkpoints the page may open, besides --folder and --checkpoint
MAX_GENERATE = 2000  # characters one Generate may ask for: about a minute on a 2-core CPU at the v12 CPU size
BAR_COUNT = 20  # characters on the bar chart: the likeliest ones
LOAD_SECONDS = 60.0  # the longest a page event waits for one checkpoint to load (a slow disk); then a message
EVENTS_AT_ONCE = 16  # page events of one kind (Generate, say) served side by side; more wait in Gradio's queue
REMEMBERED_LOGITS = 64  # (checkpoint, text) pairs whose next-character scores are kept: a slider move runs no model
GRADIO_MISSING = "the playground needs Gradio: pip install gradio (or pip install -r requirements-dev.txt)"


# ----------------------------------------------------------------------------
# The page's words, in English and Chinese (the Chinese as in the lessons and docs/glossary.zh.md)

WORDS = {
    "en": {
        # what the page says as it answers (Python fills them in)
        "temperature": "temperature {t:g}",
        "greedy": " (greedy: the likeliest only)",
        "cut": "; top_k {k} keeps {k} of {n:,} characters, which held {held:.1%} before the cut",
        "all": "; all {n:,} characters can be drawn",
        "likeliest": "; likeliest: ",
        "comma": ", ",
        "kept": "kept",
        "cut by top_k": "cut by top_k",
        "info": "**{path}**: stage **{stage}**, {n:,} parameters, step {step}, {loss}",
        "val loss": "val loss **{loss:.4f}**",
        "val loss unknown": "val loss unknown",
        "off here": "{name} {value} (off here)",
        "generating": "generating: {done} of {n} characters",
        "generated": "{n} characters in {seconds:.2f} s ({speed:,.0f} characters/s), seed {seed}",
        "compared": "the same prompt, temperature, top_k and seed ({seed}) for both",
        "caption": "where character {n} ({c}) looks, in every layer (row) and head (column): darker is more weight,"
        " relative to the head's largest; grey is the future, hidden by the causal mask. Point at another character.",
        "head": "head",
        "layer": "layer",
        "future": "the future: masked",
        "last characters": "the last {n} characters (block_size)",
        "no attention": "attention is shown for {first} on (heads whose weights pass through Head.dropout); this model"
        " is {stage}'s",
        "choose": "choose a checkpoint (or pass --checkpoint PATH)",
        "none chosen": "no checkpoint chosen: type a checkpoint's path in the box above, or " + TRAIN_HINT,
        "refused": "cannot open {path!r} here: choose a checkpoint from the list (the page opens only checkpoints in"
        " the folders it scans; the terminal running the playground says why)",
        "slow": "checkpoint {path} took more than {seconds:g} s to load; try again",
        "rewritten": "checkpoint {path} is being rewritten as it is read; try again in a moment",
        "empty prompt": "type a prompt: the model needs at least one character to continue",
        "unknown characters": "this model cannot read the prompt: {characters} not in the vocabulary",
        "bad top_k": "top_k must be 0 (all characters) or positive, got {top_k}",
        "bad temperature": "temperature must be 0 (greedy) or positive, got {temperature}",
        "bad length": "generate between 1 and {most:,} characters at a time (asked for {n})",
        "bad seed": "the seed must be a whole number between 0 and 2**63 - 1 (got {seed})",
        # the page itself (Gradio's I18n shows them in the browser's language)
        "intro": "# BabyGPT playground\nYour own model, thinking: pick a checkpoint, type a prompt, and watch the"
        " next-character distribution move with the temperature and top_k sliders; point at a character in the"
        " attention map to see where each head looks.",
        "checkpoint": "checkpoint",
        "checkpoint info": "found under out/ and sweeps/, or type a path",
        "curve": "val loss curve",
        "next tab": "Next character",
        "prompt": "prompt",
        "temperature label": "temperature",
        "temperature info": "below 1 sharpens, above 1 flattens; 0 is greedy",
        "top_k info": "draw only from the k likeliest; 0 is all",
        "seed": "seed",
        "seed info": "the same seed and text draw the same characters",
        "next drawn": "Next (drawn)",
        "next likeliest": "Next (likeliest)",
        "length": "N characters",
        "generate": "Generate N",
        "chart": "the next character: probability of each of the 20 likeliest",
        "attention heading": "### Attention: every layer and head over the text (its last block_size characters)",
        "compare tab": "Compare",
        "checkpoint A": "checkpoint A",
        "checkpoint B": "checkpoint B",
        "compare": "Compare",
        "A chart": "A: the next character",
        "B chart": "B: the next character",
        "A text": "A continues",
        "B text": "B continues",
        "compare note": "Temperature, top_k and seed are the ones on the Next character tab.",
        "exposure": "**Who can open this page.** {where} With `--host 0.0.0.0` anyone on the network can, with no"
        " password: they see the checkpoints listed (their paths), run them on this computer's processor, and may"
        " type paths; the page opens only checkpoints in the folders it scans (`out/`, `sweeps/` and those given"
        " with `--folder`) and tells nothing of any other file. No share link is made.",
        "local": "Served on {host}: only this computer can open this page.",
        "network": "Served on {host}: anyone who can reach this computer on the network can open this page.",
    },
    "zh": {
        "temperature": "温度 {t:g}",
        "greedy": "（贪心解码：只取最可能的字）",
        "cut": "；top_k {k} 在 {n:,} 个字里保留 {k} 个，截断之前它们共占 {held:.1%} 的概率",
        "all": "；全部 {n:,} 个字都可能被抽到",
        "likeliest": "；最可能的：",
        "comma": "，",
        "kept": "保留",
        "cut by top_k": "被 top_k 截掉",
        "info": "**{path}**：阶段 **{stage}**，{n:,} 个参数，第 {step} 步，{loss}",
        "val loss": "验证损失 **{loss:.4f}**",
        "val loss unknown": "验证损失未知",
        "off here": "{name} {value}（这里不用）",
        "generating": "正在生成：{done} / {n} 个字",
        "generated": "{n} 个字用了 {seconds:.2f} 秒（每秒 {speed:,.0f} 个字），随机种子 {seed}",
        "compared": "两边用同一段提示词、同一个温度、同一个 top_k 和同一个随机种子（{seed}）",
        "caption": "第 {n} 个字（{c}）在每一层（行）、每个注意力头（列）里看向哪里："
        "颜色越深，权重越大（相对于这个头的最大权重）；灰色的是未来，被因果掩码遮住了。把鼠标指向别的字试试。",
        "head": "头",
        "layer": "层",
        "future": "未来：被因果掩码遮住",
        "last characters": "最后 {n} 个字（block_size）",
        "no attention": "注意力图从 {first} 起才有（注意力头的权重要经过 Head.dropout）；这个模型来自 {stage}",
        "choose": "请选一个检查点（或者启动时用 --checkpoint PATH 指定）",
        "none chosen": "还没有选检查点：在上面的框里输入检查点的路径，或者先训练一个："
        "python babygpt_v12_wandb.py（在 CPU 上用 docs/index.zh.md 里 CPU 命令的选项），它会写出 out/v12/checkpoint.pt",
        "refused": "这里打不开 {path!r}：请从列表里选一个检查点"
        "（页面只打开它扫描的目录里的检查点；原因写在运行演练场的终端里）",
        "slow": "检查点 {path} 加载超过了 {seconds:g} 秒，请再试一次",
        "rewritten": "检查点 {path} 正在被重写，请稍后再试",
        "empty prompt": "请输入提示词：模型至少需要一个字才能往下写",
        "unknown characters": "这个模型读不了这段提示词：{characters} 不在它的词表里",
        "bad top_k": "top_k 必须是 0（全部字）或正整数，现在是 {top_k}",
        "bad temperature": "温度必须是 0（贪心解码）或正数，现在是 {temperature}",
        "bad length": "一次生成 1 到 {most:,} 个字（现在要 {n} 个）",
        "bad seed": "随机种子必须是 0 到 2**63 - 1 之间的整数（现在是 {seed}）",
        "intro": "# BabyGPT 演练场\n看你自己的模型怎么“想”：选一个检查点，输入提示词，"
        "拖动温度和 top_k 滑块，看下一个字的概率分布怎么变；把鼠标指向注意力图里的某个字，看每个注意力头在看哪里。",
        "checkpoint": "检查点",
        "checkpoint info": "在 out/ 和 sweeps/ 下找到的，也可以输入路径",
        "curve": "验证损失曲线",
        "next tab": "下一个字",
        "prompt": "提示词",
        "temperature label": "温度",
        "temperature info": "小于 1 更集中，大于 1 更平均；0 是贪心解码",
        "top_k info": "只从最可能的 k 个字里抽；0 表示全部",
        "seed": "随机种子",
        "seed info": "种子和文字都相同，抽到的字就相同",
        "next drawn": "下一个字（抽取）",
        "next likeliest": "下一个字（最可能）",
        "length": "字数 N",
        "generate": "生成 N 个字",
        "chart": "下一个字：最可能的 20 个字各自的概率",
        "attention heading": "### 注意力：每一层、每个注意力头在看文字的哪里（只看最后 block_size 个字）",
        "compare tab": "比较",
        "checkpoint A": "检查点 A",
        "checkpoint B": "检查点 B",
        "compare": "比较",
        "A chart": "A：下一个字",
        "B chart": "B：下一个字",
        "A text": "A 的续写",
        "B text": "B 的续写",
        "compare note": "温度、top_k 和随机种子用“下一个字”页上的设置。",
        "exposure": "**谁能打开这个页面。** {where}用 `--host 0.0.0.0` 启动时，网络上任何人都能打开，"
        "而且不需要密码：他们能看到列出的检查点（包括路径），用这台电脑的处理器运行这些模型，也能输入路径；但页面只打开它扫描的目录（`out/`、`sweeps/`"
        " 和 `--folder` 指定的目录）里的检查点，关于其他任何文件，它什么也不透露。页面不会生成公开分享链接。",
        "local": "现在监听的是 {host}：只有这台电脑能打开这个页面。",
        "network": "现在监听的是 {host}：网络上任何能连到这台电脑的人都能打开这个页面。",
    },
}
LANGUAGES = tuple(WORDS)  # --lang's choices besides auto


def say(language, key, **values):
    """The page's words for key in language (en or zh), with values filled in."""
    return WORDS[language][key].format(**values)


class PageError(ValueError):
    """Bad input or an unopenable checkpoint, said on the page in the learner's language: WORDS[language][key] with
    values. str() is the English."""

    def __init__(self, key, **values):
        self.key, self.values = key, values
        super().__init__(say("en", key, **values))

    def said(self, language):
        return say(language, self.key, **self.values)


def told(error, language):
    """A ValueError's message in language: a PageError's in its words, any other's as it is."""
    return error.said(language) if isinstance(error, PageError) else str(error)


def preferred_language(accept_language):
    """en or zh from a browser's Accept-Language header ("zh-CN,zh;q=0.9,en;q=0.8"): the language it prefers most
    among those the page speaks, English when it names neither."""
    choices = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            weight = float(weight) if weight else 1.0
        except ValueError:
            weight = 0.0
        language = tag.split("-")[0].strip().lower()
        if language in WORDS and weight > 0:
            choices.append((-weight, position, language))
    return min(choices)[2] if choices else "en"


# ----------------------------------------------------------------------------
# Checkpoints: found, loaded once, described


def discover_checkpoints(root=".", given=(), folders=()):
    """The checkpoints given (first, in order), then those under root matching CHECKPOINT_PATTERNS and every *.pt
    file under the folders given, the most recently written first (the page opens the first: the run just trained,
    not the alphabetically first), equal times by path."""
    found = {}  # path -> modification time
    patterns = [(root, pattern) for pattern in CHECKPOINT_PATTERNS] + [(folder, "**/*.pt") for folder in folders]
    for folder, pattern in patterns:
        for path in glob(pattern, root_dir=folder, recursive=True):
            path = os.path.normpath(os.path.join(folder, path))  # out/v12/checkpoint.pt, not ./out/v12/checkpoint.pt
            try:
                found[path] = os.path.getmtime(path)
            except OSError:  # removed since glob listed it
                pass
    found = sorted(found, key=lambda path: (-found[path], path))
    given = [path for path in given if path]
    return given + [path for path in found if os.path.abspath(path) not in {os.path.abspath(p) for p in given}]


def file_identity(path):
    """What tells one content of the file at path from another without reading it: (path, device, inode, size,
    modification and change times in ns). A run that rewrites its checkpoint changes it, whether it writes a new
    file and renames it over the old one (a new inode) or writes in place (new times). OSError if there is none."""
    status = os.stat(path)
    return (path, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def is_within(path, folder):
    """Whether path lies in folder or below it (both real paths: no symbolic link, no '..')."""
    return os.path.commonpath([path, folder]) == folder


class CheckpointPolicy:
    """Which files the page may open: the checkpoints given at start and regular files under the folders it scans.

    A path typed into the checkpoint box is opened on the server, by whoever can reach the page (with --host 0.0.0.0,
    anyone on the network). So anything else, and anything that fails to load, gets one message that tells nothing
    about the file system: not whether the path exists, nor what it holds. The reason goes to the terminal running
    the playground, for the person who started it."""

    def __init__(self, folders=FOLDERS, files=()):
        self.folders = [os.path.realpath(folder) for folder in folders]
        self.files = {os.path.realpath(path) for path in files}

    def refusal(self, path, language="en"):
        return say(language, "refused", path=path)

    def check(self, path):
        """The file to load for path (a run folder: its checkpoint.pt), as the page names it; ValueError otherwise."""
        name = os.path.join(path, "checkpoint.pt") if os.path.isdir(path) else path
        real = os.path.realpath(name)
        if real not in self.files and not any(is_within(real, folder) for folder in self.folders):
            raise ValueError(f"{name} is outside the folders the playground scans ({', '.join(self.folders)})")
        try:
            mode = os.stat(real).st_mode
        except OSError as e:
            raise ValueError(f"{name}: {e.strerror}") from None
        if not stat.S_ISREG(mode):  # a named pipe would block the read; a device never ends
            raise ValueError(f"{name} is not a regular file")
        return name


class Loaded:
    """A loaded checkpoint: model (eval mode), tokenizer, the checkpoint dict, and how to run it fast.

    identity (file_identity) names the content it was loaded from: what is remembered about this model (its scores
    for a text) is remembered under it, never under id(), which Python gives again to a later object."""

    def __init__(self, path, model, tokenizer, checkpoint, identity=None):
        self.path, self.model, self.tokenizer, self.checkpoint = path, model, tokenizer, checkpoint
        self.identity = identity or (os.path.realpath(path),)
        self.device = next(model.parameters()).device
        self.stage = stage_of(checkpoint)[0]  # the stage file: babygpt_v6_block.py
        # The KV cache runs v9's block on (pre-norm, projection); earlier stages recompute the context, as generate().
        self.cached = CachedBabyGPT(model) if uses_cache(checkpoint) else None
        self.n_params = sum(p.numel() for p in model.parameters())
        # one model run at a time: attention_weights hooks the heads, and another run would pass through its hooks.
        # Each draw has a generator of its own, so the lock decides only who waits, never which character is drawn.
        self.lock = threading.Lock()

    def new_context(self, idx):
        """A babygpt.sampling context over idx (1, T): cached where the stage allows, else recomputed."""
        return CachedContext(self.cached, idx) if self.cached else FullRecomputeContext(self.model, idx)

    def encode(self, prompt):
        """idx (1, T) for prompt; ValueError naming any character the model never saw."""
        if not prompt:
            raise PageError("empty prompt")
        unknown = sorted(set(prompt) - set(self.tokenizer.stoi))
        if unknown:
            raise PageError("unknown characters", characters=", ".join(repr(ch) for ch in unknown))
        return torch.tensor([self.tokenizer.encode(prompt)], dtype=torch.long, device=self.device)


class SlowLoad(PageError):
    """A load past its time limit: it goes on, and the same checkpoint asked for again waits for it."""


class CheckpointCache:
    """Loaded checkpoints by file, reloaded when the file changes (a run still training rewrites it).

    A load runs in a thread of its own, with no lock held: a slow file keeps waiting only the events that asked for
    it, for LOAD_SECONDS at most, and two events asking for the same file at once share one load."""

    def __init__(self, device="cpu", load_seconds=LOAD_SECONDS):
        self.device, self.load_seconds = torch.device(device), load_seconds
        self.entries = {}  # real path -> the Loaded last read from it
        self.loading = {}  # file_identity -> Future of the Loaded being read
        self.lock = threading.Lock()  # guards the two dicts, never held while a file is read

    def get(self, path):
        """The Loaded for path; ValueError with one line for a missing, damaged, foreign or too slow file."""
        if not path:
            raise PageError("choose")
        path = checkpoint_file(path)  # a run folder's checkpoint.pt; ValueError if there is none
        try:
            identity = file_identity(os.path.realpath(path))
        except OSError:
            raise ValueError(f"checkpoint {path} not found; {TRAIN_HINT}") from None
        with self.lock:
            loaded = self.entries.get(identity[0])
            if loaded is not None and loaded.identity == identity:
                return loaded
            future = self.loading.get(identity)
            if future is None:
                future = self.loading[identity] = Future()
                threading.Thread(target=self._load, args=(path, identity, future), daemon=True).start()
        try:
            return future.result(timeout=self.load_seconds)
        except TimeoutError:
            raise SlowLoad("slow", path=path, seconds=self.load_seconds) from None

    def _load(self, path, identity, future):
        """Read path (whose file_identity was identity) into future; a file rewritten while it was read is read
        again, so a Loaded's identity is always the content it holds."""
        try:
            for _ in range(3):
                try:
                    model, tokenizer, checkpoint = load_checkpoint(path, self.device)  # ValueError for a bad file
                    failed = None
                except ValueError as e:
                    failed = e
                try:
                    after = file_identity(identity[0])
                except OSError:
                    raise ValueError(f"checkpoint {path} not found; {TRAIN_HINT}") from None
                if after == identity:
                    if failed:
                        raise failed
                    break
                identity = after  # rewritten meanwhile: what was read may be either content, or half of each
            else:
                raise PageError("rewritten", path=path)
            loaded = Loaded(path, model, tokenizer, checkpoint, identity)
            with self.lock:
                newest = self.entries.get(identity[0])
                if newest is None or newest.identity[4:] <= identity[4:]:  # never replace a newer content
                    self.entries[identity[0]] = loaded
            future.set_result(loaded)
        except ValueError as e:
            future.set_exception(e)
        except Exception as e:  # never leave a waiting event without an answer
            future.set_exception(ValueError(f"cannot load checkpoint {path}: {type(e).__name__}"))
        finally:
            with self.lock:
                for key in [key for key, value in self.loading.items() if value is future]:
                    del self.loading[key]


def read_loss_curve(checkpoint_path):
    """Rows (step, split, loss) from the metrics.csv beside the checkpoint, [] if there is none or it is unreadable."""
    path = os.path.join(os.path.dirname(checkpoint_path), "metrics.csv")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for split in ("train", "val"):
                    loss = row.get(f"{split}_loss")
                    if loss not in (None, ""):
                        rows.append((int(float(row["step"])), split, float(loss)))
    except (OSError, ValueError, KeyError, csv.Error):
        return []
    return rows


def model_info(loaded, language="en"):
    """A Markdown summary: stage, sizes, parameter count, step and val loss (the checkpoint's, else metrics.csv's)."""
    config, checkpoint = loaded.checkpoint["model_config"], loaded.checkpoint
    val_loss = checkpoint.get("val_loss")
    curve = [loss for _, split, loss in read_loss_curve(loaded.path) if split == "val"]
    if not isinstance(val_loss, float) and curve:
        val_loss = curve[-1]
    loss = (
        say(language, "val loss", loss=val_loss) if isinstance(val_loss, float) else say(language, "val loss unknown")
    )
    step, stage = checkpoint.get("step", "?"), stage_id(loaded.stage)
    lines = [
        say(language, "info", path=loaded.path, stage=stage, n=loaded.n_params, step=step, loss=loss),
        " · ".join(  # each stage's own sizes: v1 has no n_head, v10 on a dropout (never used here)
            f"{name} {value:,}" if isinstance(value, int) else say(language, "off here", name=name, value=value)
            for name, value in config.items()
        ),
    ]
    return "\n\n".join(lines)


# ----------------------------------------------------------------------------
# The next character: logits, the distribution the draw uses, the bar chart's rows


@torch.no_grad()
def next_logits(loaded, prompt):
    """The model's scores (vocab_size,) for the character after prompt (its last block_size characters)."""
    idx = loaded.encode(prompt)
    return loaded.new_context(idx).next_logits()[0].float().cpu()


def next_distribution(logits, temperature, top_k=None):
    """The probabilities (vocab_size,) a draw uses: softmax(logits / temperature) over the top_k likeliest.

    The formula of pick_next_token (babygpt_v12_wandb.py): characters outside the top_k get 0 and the kept
    ones share 1. Temperature 0 is greedy: all the probability on the likeliest character."""
    if temperature == 0:
        return F.one_hot(logits.argmax(), logits.numel()).float()
    scaled = (logits - logits.max()) / temperature  # the max first: no overflow however small the temperature
    if top_k is not None and top_k < logits.numel():
        kth_best = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < kth_best, float("-inf"))
    return F.softmax(scaled, dim=-1)


def bar_rows(logits, probs, tokenizer, count=BAR_COUNT, language="en"):
    """The chart's rows for the count likeliest characters, likeliest first: (label, probability, 'kept' or
    'cut by top_k', in language). Labels show a newline as ↵ and a space as ␣."""
    order = torch.argsort(logits, descending=True, stable=True)[:count].tolist()
    kept, cut = say(language, "kept"), say(language, "cut by top_k")
    return [(show_character(tokenizer.vocab[i]), float(probs[i]), kept if probs[i] > 0 else cut) for i in order]


def parse_top_k(top_k, vocab_size):
    """The slider's top_k as pick_next_token wants it: None (all characters) for 0 or for vocab_size and above."""
    top_k = int(top_k or 0)
    if top_k < 0:
        raise PageError("bad top_k", top_k=top_k)
    return None if top_k == 0 or top_k >= vocab_size else top_k


def check_temperature(temperature):
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature >= 0):
        raise PageError("bad temperature", temperature=temperature)
    return temperature


def check_length(n):
    if n is None or not float(n).is_integer() or not 1 <= int(n) <= MAX_GENERATE:
        raise PageError("bad length", most=MAX_GENERATE, n=n)
    return int(n)


def check_seed(seed):
    if seed is None or not float(seed).is_integer() or not 0 <= int(seed) < 2**63:
        raise PageError("bad seed", seed=seed)
    return int(seed)


def new_generator(seed, device="cpu"):
    """A torch.Generator of one request's own, on device, seeded with seed. Every draw on the page comes from one:
    torch's global generator is shared by every event running at once, and a draw of one would move the others'."""
    generator = torch.Generator(device=device)
    generator.manual_seed(check_seed(seed))
    return generator


def next_seed(seed, text):
    """The seed Next (drawn) uses after text: the page's seed and the text mixed by SHA-256, so the same seed and text
    give the same character, whoever else is drawing, and the next character's draw is a new one."""
    digest = hashlib.sha256(f"{check_seed(seed)}\n{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**63


def draw_next(loaded, logits, temperature, top_k, seed, greedy=False):
    """The character after a text whose next_logits are `logits`: the likeliest if greedy, else drawn as
    pick_next_token draws, from a generator of its own seeded with seed."""
    next_id = pick_next_token(logits[None], 0 if greedy else temperature, top_k, new_generator(seed, logits.device))
    return loaded.tokenizer.decode([next_id.item()])


def stream_continuation(loaded, prompt, n, temperature, top_k, seed, every=None):
    """Yield the continuation so far (without the prompt) as it grows to n characters, every `every` characters
    (default: about 20 updates) and at the end. The draws come from a generator of this call's own, seeded with
    seed: the same seed gives the same text, whatever else runs meanwhile."""
    idx = loaded.encode(prompt)
    every = every or max(1, n // 20)
    generator = new_generator(seed, loaded.device)
    with loaded.lock:
        context = loaded.new_context(idx)
    tokens = generate_tokens(context, n, temperature, top_k, generator)
    text = ""
    for count in range(1, n + 1):
        with loaded.lock:  # one model run at a time, and other events' runs between two of ours
            next_id = next(tokens)
        text += loaded.tokenizer.decode([next_id.item()])
        if count % every == 0 or count == n:
            yield text


def continuation(loaded, prompt, n, temperature, top_k, seed):
    """The whole continuation of prompt, n characters (stream_continuation's last value)."""
    return next(stream_continuation(loaded, prompt, n, temperature, top_k, seed, every=n))


# ----------------------------------------------------------------------------
# Attention: every layer and head, as an HTML heat map you point at


def text_attention(loaded, prompt):
    """(labels, weights): the last block_size characters of prompt as shown on the page, and every head's attention
    weights (n_layer, n_head, T, T) over them, taken from the model by babygpt.pictures.attention_weights."""
    if CHECKPOINT_STAGES.index(loaded.stage) < ATTENTION_FROM:
        first = stage_id(CHECKPOINT_STAGES[ATTENTION_FROM])
        raise PageError("no attention", first=first, stage=stage_id(loaded.stage))
    idx = loaded.encode(prompt)[:, -loaded.model.block_size :]
    labels = [show_character(ch) for ch in loaded.tokenizer.decode(idx[0].tolist())]
    return labels, attention_weights(loaded.model, idx)


ATTENTION_LEVELS = 31  # shades sent per weight: (level / 31)² of its row's largest weight, 5 bits before zlib
ATTENTION_CSS = """
.bg-attn{font-family:ui-monospace,'Noto Sans Mono CJK SC','Noto Sans CJK SC',monospace;font-size:15px}
.bg-attn .pointer{margin-bottom:6px}
.bg-attn .pointer span{cursor:pointer;padding:1px 2px;border-bottom:2px solid transparent}
.bg-attn .pointer span.q{border-bottom-color:#d62728;font-weight:bold}
.bg-attn table{border-collapse:collapse}
.bg-attn td{padding:3px 6px;vertical-align:top;border:1px solid #ddd}
.bg-attn td.strip{position:relative;z-index:0}
.bg-attn td.strip span{padding:0 1px;cursor:pointer}
.bg-attn td.strip canvas{position:absolute;left:0;top:0;pointer-events:none}
.bg-attn td.strip canvas.shade{z-index:-1}
.bg-attn td.strip canvas.veil{z-index:1}
.bg-attn .head,.bg-attn .caption{font-size:12px;color:#555;font-family:sans-serif}
"""

# The map arrives as the text line and, in data-weights, every head's weights packed by pack_attention. The page
# unpacks them once per new map and builds the strips: the characters as text, each strip with a canvas behind them
# (the shades) and one in front (the masked future, veiled, and the character pointed at, outlined). A pointer move
# repaints the canvases from the unpacked weights and the characters' boxes, measured once: no element changes, so
# the browser restyles nothing. Pointing at a character (in the text line or in any strip) reshades every strip.
ATTENTION_JS = """
const LEVELS = {levels};
const SHADES = Array.from({length: LEVELS + 1}, (_, level) => `rgba(31,119,180,${0.85 * (level / LEVELS) ** 2})`);
async function unpack(root) {
  const [L, H, T] = root.dataset.shape.split(' ').map(Number);
  const packed = Uint8Array.from(atob(root.dataset.weights), (c) => c.charCodeAt(0));
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream('deflate'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const n = L * H * T * (T + 1) / 2;  // the lower triangles, row by row, head after head
  return {L, H, T, levels: bytes.subarray(0, n), tops: new Uint16Array(bytes.slice(n).buffer),
          labels: JSON.parse(root.dataset.labels)};
}
function build(root, map) {
  const table = root.querySelector('table');
  const heading = ['<tr><td></td>'];
  for (let h = 0; h < map.H; h++) heading.push(`<td class="head">${root.dataset.headWord} ${h + 1}</td>`);
  const strip = [...root.querySelectorAll('.pointer span')].map((s) => `<span>${s.innerHTML}</span>`).join('');
  const cell = `<td class="strip"><canvas class="shade"></canvas>${strip}<canvas class="veil"></canvas></td>`;
  const rows = [heading.join('') + '</tr>'];
  for (let l = 0; l < map.L; l++) {
    rows.push(`<tr><td class="head">${root.dataset.layerWord} ${l + 1}</td>` + cell.repeat(map.H) + '</tr>');
  }
  table.innerHTML = rows.join('');
  map.cells = [...table.querySelectorAll('.strip')];
  map.pointer = [...root.querySelectorAll('.pointer span')];
  root._map = map;
  measure(map);
  new ResizeObserver(() => { if (root._map === map) { measure(map); paint(root, map.q); } }).observe(table);
}
function measure(map) {  // every character's box in its strip, and canvases the strips' size
  const ratio = window.devicePixelRatio || 1;
  map.boxes = map.cells.map((cell) => {
    const spans = cell.querySelectorAll('span'), box = new Float32Array(4 * spans.length);
    spans.forEach((s, j) => box.set([s.offsetLeft, s.offsetTop, s.offsetWidth, s.offsetHeight], 4 * j));
    cell.querySelectorAll('canvas').forEach((canvas) => {
      canvas.width = cell.clientWidth * ratio;
      canvas.height = cell.clientHeight * ratio;
      canvas.style.width = cell.clientWidth + 'px';
      canvas.style.height = cell.clientHeight + 'px';
      canvas.getContext('2d').setTransform(ratio, 0, 0, ratio, 0, 0);
    });
    return box;
  });
}
function paint(root, q) {
  const map = root._map, T = map.T, row = q * (q + 1) / 2, triangle = T * (T + 1) / 2;
  map.cells.forEach((cell, head) => {
    const box = map.boxes[head], levels = map.levels.subarray(head * triangle + row, head * triangle + row + q + 1);
    const [shade, veil] = [...cell.querySelectorAll('canvas')].map((canvas) => canvas.getContext('2d'));
    shade.clearRect(0, 0, cell.clientWidth, cell.clientHeight);
    veil.clearRect(0, 0, cell.clientWidth, cell.clientHeight);
    for (let j = 0; j <= q; j++) {
      if (!levels[j]) continue;
      shade.fillStyle = SHADES[levels[j]];
      shade.fillRect(box[4 * j], box[4 * j + 1], box[4 * j + 2], box[4 * j + 3]);
    }
    veil.fillStyle = 'rgba(255,255,255,0.7)';  // the future, hidden from the character pointed at
    for (let j = q + 1; j < T; j++) veil.fillRect(box[4 * j], box[4 * j + 1], box[4 * j + 2], box[4 * j + 3]);
    veil.strokeStyle = '#d62728';
    veil.lineWidth = 2;
    veil.strokeRect(box[4 * q], box[4 * q + 1], box[4 * q + 2], box[4 * q + 3]);
  });
}
function point(root, q) {
  const map = root._map;
  if (map.q !== undefined) map.pointer[map.q].className = '';
  map.pointer[q].className = 'q';
  root.querySelector('.caption').textContent =
    root.dataset.caption.replace('{n}', q + 1).replace('{c}', map.labels[q]);
  map.q = q;
  paint(root, q);
}
function weight(root, head, j) {  // the weight of character j for the chosen one, for a tooltip
  const map = root._map, T = map.T, level = map.levels[head * T * (T + 1) / 2 + map.q * (map.q + 1) / 2 + j];
  return (level / LEVELS) ** 2 * map.tops[head * T + map.q] / 65535;
}
async function refresh() {  // a new map on the page: unpack it once, build its strips, point at its last character
  // Gradio updates the page's elements in place: the same root may come back with new data and an empty table
  const root = element.querySelector('.bg-attn');
  if (!root || (root._packed === root.dataset.weights && root.querySelector('.strip'))) return;
  const packed = root._packed = root.dataset.weights;
  const map = await unpack(root);
  if (root.dataset.weights !== packed) return;  // a newer map arrived meanwhile: its own refresh builds it
  build(root, map);
  point(root, map.T - 1);
  root.dataset.ready = '1';
}
function where(target) {  // (strip cell or null, index of the character) of a character element
  return [target.closest('.strip'), [...target.parentNode.querySelectorAll('span')].indexOf(target)];
}
element.addEventListener('mouseover', (event) => {
  const target = event.target.closest('.pointer span, .strip span');
  const root = element.querySelector('.bg-attn');
  if (!target || !root || !root._map) return;
  const [strip, j] = where(target), map = root._map;
  if (!strip) { point(root, j); return; }
  if (j > map.q) { target.title = root.dataset.future; return; }
  const head = map.cells.indexOf(strip);
  target.title = `${map.labels[map.q]} → ${map.labels[j]}: ${weight(root, head, j).toFixed(3)}`;
});
element.addEventListener('click', (event) => {  // a strip's character: point at it (touch screens have no hover)
  const target = event.target.closest('.strip span');
  const root = element.querySelector('.bg-attn');
  if (target && root && root._map) point(root, where(target)[1]);
});
new MutationObserver(refresh).observe(element, {childList: true, subtree: true});  // each new value
refresh();
""".replace("{levels}", str(ATTENTION_LEVELS))


def pack_attention(weights):
    """weights (n_layer, n_head, T, T), row i summing to 1 over j <= i, as base64 text for the page, at most
    about 0.84 bytes per weight: zlib of one byte per weight of each lower triangle (row by row, head after head),
    level = round(31 * sqrt(w / the row's largest)), then each row's largest as a uint16 (of 65535, little-endian).
    The square root spends the levels where the eye sees them: small weights keep their shade."""
    n_layer, n_head, T, _ = weights.shape
    weights = weights.float().clamp(0, 1)
    tops = weights.amax(-1, keepdim=True).clamp_min(1e-12)  # (L, H, T, 1)
    rows, columns = torch.tril_indices(T, T)
    levels = torch.round((weights / tops).sqrt() * ATTENTION_LEVELS).to(torch.uint8)[:, :, rows, columns]
    tops = torch.round(tops.squeeze(-1) * 65535).to(torch.int32).numpy().astype("<u2")
    return base64.b64encode(zlib.compress(levels.numpy().tobytes() + tops.tobytes(), 1)).decode("ascii")


def unpack_attention(text, n_layer, n_head, T):
    """pack_attention's weights back (n_layer, n_head, T, T), the masked future 0: each within 3.3% of its row's
    largest weight of the model's own (what the page shades and its tooltips say)."""
    data = zlib.decompress(base64.b64decode(text))
    n = n_layer * n_head * T * (T + 1) // 2
    levels = torch.frombuffer(bytearray(data[:n]), dtype=torch.uint8).float().view(n_layer, n_head, -1)
    tops = torch.frombuffer(bytearray(data[n:]), dtype=torch.int16).view(torch.uint16).float() / 65535
    rows, columns = torch.tril_indices(T, T)
    weights = torch.zeros(n_layer, n_head, T, T)
    weights[:, :, rows, columns] = (levels / ATTENTION_LEVELS) ** 2
    return weights * tops.view(n_layer, n_head, T, 1)


def attention_html(labels, weights, language="en"):
    """HTML: the text once (a span per character, to point at), then, built in the browser (ATTENTION_JS), one strip of
    the text per layer (row) and head (column), each character shaded by how much the character pointed at (at
    first the last) attends to it, its tooltip giving the weight. weights: (n_layer, n_head, T, T), packed by
    pack_attention; labels: the T characters as shown."""
    n_layer, n_head, T, _ = weights.shape
    pointer = "".join(f"<span>{html.escape(label)}</span>" for label in labels)
    attributes = {
        "shape": f"{n_layer} {n_head} {T}",
        "weights": pack_attention(weights),
        "labels": json.dumps(labels, ensure_ascii=False),
        "caption": WORDS[language]["caption"],
        "head-word": say(language, "head"),
        "layer-word": say(language, "layer"),
        "future": say(language, "future"),
    }
    data = "".join(f' data-{name}="{html.escape(value)}"' for name, value in attributes.items())
    caption = say(language, "caption", n=T, c=labels[-1])
    return (
        f'<div class="bg-attn"{data}><div class="pointer">{pointer}</div>'
        f'<p class="caption">{html.escape(caption)}</p><table></table></div>'
    )


# ----------------------------------------------------------------------------
# The page's functions: plain Python, called by the page's events (and by the tests directly)


class Playground:
    """What the page does, event by event. Every method takes the page's current values and returns new ones;
    bad input becomes a message for the page (never an exception), so the page keeps working."""

    def __init__(self, checkpoints, device="cpu", seed=1337, load_seconds=LOAD_SECONDS, folders=FOLDERS, language=None):
        """checkpoints: the dropdown's paths (each may be opened); folders: where else a typed path may point;
        language: en or zh for every request (--lang), None to answer each in its browser's language."""
        self.checkpoints = list(checkpoints)
        self.forced_language = language
        self.policy = CheckpointPolicy(folders, self.checkpoints)
        self.models = CheckpointCache(device, load_seconds)
        self.seed = check_seed(seed)  # the seed box's first value: Next (drawn), Generate and Compare draw from it
        self.logits = OrderedDict()  # (file_identity, prompt) -> logits, the most recently used last
        self.logits_lock = threading.Lock()

    # -- helpers

    def language(self, request=None):
        """en or zh: --lang's, else the one the request's browser prefers (its Accept-Language), else en."""
        if self.forced_language:
            return self.forced_language
        headers = getattr(request, "headers", None) or {}
        return preferred_language(headers.get("accept-language", ""))

    def open(self, path):
        """The Loaded for path, if the policy lets the page open it and it loads; else ValueError with the one
        refusal (the reason on stderr, for the terminal)."""
        if not path:
            raise PageError("choose")
        try:
            return self.models.get(self.policy.check(path))
        except SlowLoad:  # in a folder the page may open: a big checkpoint on a slow disk; the learner may retry
            raise
        except ValueError as e:
            print(f"playground: refused {path!r}: {e}", file=sys.stderr, flush=True)
            raise PageError("refused", path=path) from None

    def scores(self, loaded, prompt):
        """next_logits, remembered for the last REMEMBERED_LOGITS (checkpoint content, prompt) pairs."""
        key = (loaded.identity, prompt)
        with self.logits_lock:
            if key in self.logits:
                self.logits.move_to_end(key)
                return self.logits[key]
        with loaded.lock:
            logits = next_logits(loaded, prompt)
        with self.logits_lock:
            self.logits[key] = logits
            while len(self.logits) > REMEMBERED_LOGITS:
                self.logits.popitem(last=False)
        return logits

    def distribution(self, loaded, prompt, temperature, top_k, language="en"):
        """(rows, summary) of the bar chart: bar_rows and one line saying what temperature and top_k did."""
        temperature = check_temperature(temperature)
        k = parse_top_k(top_k, loaded.tokenizer.vocab_size)
        logits = self.scores(loaded, prompt)
        probs = next_distribution(logits, temperature, k)
        summary = say(language, "temperature", t=temperature) + (say(language, "greedy") if temperature == 0 else "")
        if k is not None and temperature > 0:
            before = next_distribution(logits, temperature)  # the same temperature, no cut
            held = float(before[probs > 0].sum())
            summary += say(language, "cut", k=k, n=logits.numel(), held=held)
        else:
            summary += say(language, "all", n=logits.numel())
        rows = bar_rows(logits, probs, loaded.tokenizer, language=language)
        likeliest = say(language, "comma").join(f"{label} {p:.1%}" for label, p, _ in rows[:5])
        return rows, summary + say(language, "likeliest") + likeliest

    # -- events

    def load(self, path, language="en"):
        """(info Markdown, loss-curve rows, top_k maximum, message) for the chosen checkpoint."""
        try:
            loaded = self.open(path)
        except ValueError as e:
            return "", [], None, f"⚠️ {told(e, language)}"
        info = model_info(loaded, language)
        return info, read_loss_curve(loaded.path), loaded.tokenizer.vocab_size, ""  # a folder's: its file's curve

    def default_prompt(self, path):
        try:
            loaded = self.open(path)
        except ValueError:
            return ""
        return default_prompts(loaded.checkpoint, loaded.tokenizer)[0]

    def show(self, path, prompt, temperature, top_k, language="en"):
        """(chart rows, message) for the prompt at this temperature and top_k."""
        try:
            rows, summary = self.distribution(self.open(path), prompt, temperature, top_k, language)
        except ValueError as e:
            return [], f"⚠️ {told(e, language)}"
        return rows, summary

    def attention(self, path, prompt, language="en"):
        """The attention map's HTML, or a message in its place."""
        try:
            loaded = self.open(path)
            with loaded.lock:
                labels, weights = text_attention(loaded, prompt)
        except ValueError as e:
            return f"<p>⚠️ {html.escape(told(e, language))}</p>"
        last = say(language, "last characters", n=len(labels))
        shown = f"<p>{html.escape(last)}</p>" if len(labels) < len(prompt) else ""
        return shown + attention_html(labels, weights, language)

    def step(self, path, prompt, temperature, top_k, seed=None, greedy=False, language="en"):
        """(prompt with one more character, message). The draw's seed mixes the page's seed with the text
        (next_seed): the same seed and text give the same character, whatever else runs."""
        try:
            loaded = self.open(path)
            temperature, k = check_temperature(temperature), parse_top_k(top_k, loaded.tokenizer.vocab_size)
            seed = next_seed(self.seed if seed is None else seed, prompt)
            # the logits the chart shows for this text, remembered: Next costs no model run of its own
            return prompt + draw_next(loaded, self.scores(loaded, prompt), temperature, k, seed, greedy), ""
        except ValueError as e:
            return prompt, f"⚠️ {told(e, language)}"

    def generate(self, path, prompt, temperature, top_k, n, seed, language="en"):
        """Yield (prompt + the continuation so far, message) while n characters are generated."""
        try:
            loaded = self.open(path)
            temperature, k = check_temperature(temperature), parse_top_k(top_k, loaded.tokenizer.vocab_size)
            n, seed = check_length(n), check_seed(seed)
            loaded.encode(prompt)  # a bad prompt is refused before anything streams
        except ValueError as e:
            yield prompt, f"⚠️ {told(e, language)}"
            return
        start = time.perf_counter()
        for text in stream_continuation(loaded, prompt, n, temperature, k, seed):
            yield prompt + text, say(language, "generating", done=len(text), n=n)
        seconds = time.perf_counter() - start
        yield prompt + text, say(language, "generated", n=n, seconds=seconds, speed=n / seconds, seed=seed)

    def compare(self, path_a, path_b, prompt, temperature, top_k, seed, n, language="en"):
        """Both checkpoints on the same prompt, temperature, top_k and seed:
        (info A, rows A, text A, info B, rows B, text B, message)."""
        panels = []
        try:
            temperature, n, seed = check_temperature(temperature), check_length(n), check_seed(seed)
            for path in (path_a, path_b):
                loaded = self.open(path)
                rows, summary = self.distribution(loaded, prompt, temperature, top_k, language)
                k = parse_top_k(top_k, loaded.tokenizer.vocab_size)
                text = continuation(loaded, prompt, n, temperature, k, seed)
                panels += [f"{model_info(loaded, language)}\n\n{summary}", rows, prompt + text]
        except ValueError as e:
            return ("", [], "", "", [], "", f"⚠️ {told(e, language)}")
        return (*panels, say(language, "compared", seed=seed))


# ----------------------------------------------------------------------------
# The page


def frame(rows, columns):
    """A pandas DataFrame for a Gradio plot (pandas comes with Gradio). columns: {name: dtype}; the dtypes hold even
    with no rows, so the plot's axes are numbers from the start, not categories."""
    import pandas as pd

    table = pd.DataFrame(rows, columns=list(columns))
    return table.astype(columns)


BAR_COLUMNS = {"character": str, "probability": float, "top_k": str}
CURVE_COLUMNS = {"step": int, "split": str, "loss": float}


def page_words(host, language=None):
    """Gradio's I18n translations of the page's own words (keys of WORDS), with what exposure says for host: each
    language's words under its code, or, if language is given (--lang), that language's words for every browser."""
    local = host in ("127.0.0.1", "localhost", "::1")
    translations = {}
    for code in WORDS:
        words = dict(WORDS[code])
        words["exposure"] = say(code, "exposure", where=say(code, "local" if local else "network", host=host))
        translations[code] = words
    if language:
        return {code: translations[language] for code in (*WORDS, "zh-CN", "zh-TW", "en-US", "en-GB")}
    return {**translations, "zh-CN": translations["zh"], "zh-TW": translations["zh"]}


def build_page(playground):
    """The Gradio Blocks page over playground (a Playground). Needs Gradio; the caller has checked it is there. Its
    own words are Gradio I18n keys (launch_options gives their translations); what it says as it answers is in the
    language of each request (Playground.language)."""
    gr = import_gradio()
    from gradio.i18n import I18nData as t  # a key of WORDS, said in the browser's language

    choices = playground.checkpoints
    first = choices[0] if choices else None
    second = choices[1] if len(choices) > 1 else first

    def bars(label, elem_id=None):
        return gr.BarPlot(
            frame([], BAR_COLUMNS),
            x="character",
            y="probability",
            y_title=" ",  # the label above says what the bars are, in the page's language (Gradio would write the
            # column's English name, which its I18n does not translate)
            tooltip="all",  # character, probability, kept or cut by top_k
            y_lim=[0, 1],
            sort="-y",  # the likeliest first; the cut ones (0 after the cut) last
            x_label_angle=0,
            height=300,
            label=label,
            elem_id=elem_id,
        )

    # The events' functions: the page's values in, the Playground's answers out, in the request's language.
    def on_load(path, request: gr.Request):
        language = playground.language(request)
        info, curve, vocab_size, message = playground.load(path, language)
        curve = [row for row in curve if row[1] == "val"]  # one line: Gradio 6.31 draws no mark split by colour
        top_k = gr.update(maximum=min(vocab_size, 200)) if vocab_size else gr.update()
        none_found = f"⚠️ {say(language, 'none chosen')}"
        return info, frame(curve, CURVE_COLUMNS), top_k, message or ("" if path else none_found)

    def on_show(path, prompt, temperature, top_k, request: gr.Request):
        rows, message = playground.show(path, prompt, temperature, top_k, playground.language(request))
        return frame(rows, BAR_COLUMNS), message

    def on_attention(path, prompt, request: gr.Request):
        return playground.attention(path, prompt, playground.language(request))

    def on_redraw(path, prompt, temperature, top_k, request: gr.Request):  # chart and attention map: one trip
        return *on_show(path, prompt, temperature, top_k, request), on_attention(path, prompt, request)

    def on_step(path, prompt, temperature, top_k, seed, request: gr.Request):
        return playground.step(path, prompt, temperature, top_k, seed, language=playground.language(request))

    def on_best(path, prompt, temperature, top_k, seed, request: gr.Request):
        language = playground.language(request)
        return playground.step(path, prompt, temperature, top_k, seed, greedy=True, language=language)

    def on_generate(path, prompt, temperature, top_k, n, seed, request: gr.Request):
        yield from playground.generate(path, prompt, temperature, top_k, n, seed, playground.language(request))

    def on_compare(path_a, path_b, prompt, temperature, top_k, seed, n, request: gr.Request):
        values = (path_a, path_b, prompt, temperature, top_k, seed, n, playground.language(request))
        a_info, a_rows, a_text, b_info, b_rows, b_text, message = playground.compare(*values)
        return a_info, frame(a_rows, BAR_COLUMNS), a_text, b_info, frame(b_rows, BAR_COLUMNS), b_text, message

    with gr.Blocks(title="BabyGPT playground", analytics_enabled=False) as page:
        gr.Markdown(t("intro"), elem_id="intro")
        with gr.Row():
            checkpoint = gr.Dropdown(
                choices, value=first, label=t("checkpoint"), allow_custom_value=True, scale=3,
                info=t("checkpoint info"),
            )  # fmt: skip
        with gr.Row():
            info = gr.Markdown()
            curve = gr.LinePlot(
                frame([], CURVE_COLUMNS), x="step", y="loss", y_title=" ", height=240, label=t("curve"), elem_id="curve"
            )
        with gr.Tab(t("next tab")):
            prompt = gr.Textbox(label=t("prompt"), lines=2, elem_id="prompt")
            with gr.Row():
                temperature = gr.Slider(0, 2, value=1.0, step=0.05, label=t("temperature label"),
                                        elem_id="temperature", info=t("temperature info"))  # fmt: skip
                top_k = gr.Slider(0, 200, value=0, step=1, label="top_k", elem_id="top_k",
                                  info=t("top_k info"))  # fmt: skip
                seed = gr.Number(playground.seed, label=t("seed"), precision=0, minimum=0, elem_id="seed",
                                 info=t("seed info"))  # fmt: skip
            with gr.Row():
                next_drawn = gr.Button(t("next drawn"), variant="primary", elem_id="next")
                next_best = gr.Button(t("next likeliest"), elem_id="next_best")
                length = gr.Number(100, label=t("length"), precision=0, minimum=1, maximum=MAX_GENERATE)
                generate = gr.Button(t("generate"), elem_id="generate")
            message = gr.Markdown(elem_id="message")
            chart = bars(t("chart"), elem_id="chart")
            gr.Markdown(t("attention heading"))
            attention = gr.HTML(elem_id="attention", css_template=ATTENTION_CSS, js_on_load=ATTENTION_JS)
        with gr.Tab(t("compare tab")):
            with gr.Row():
                checkpoint_a = gr.Dropdown(choices, value=first, label=t("checkpoint A"), allow_custom_value=True)
                checkpoint_b = gr.Dropdown(choices, value=second, label=t("checkpoint B"), allow_custom_value=True)
            with gr.Row():
                compare_prompt = gr.Textbox(label=t("prompt"), scale=3)
                compare_length = gr.Number(100, label=t("length"), precision=0, minimum=1, maximum=MAX_GENERATE)
                compare_button = gr.Button(t("compare"), variant="primary", elem_id="compare")
            compare_message = gr.Markdown()
            with gr.Row():
                with gr.Column():
                    a_info, a_chart = gr.Markdown(), bars(t("A chart"))
                    a_text = gr.Textbox(label=t("A text"), lines=6)
                with gr.Column():
                    b_info, b_chart = gr.Markdown(), bars(t("B chart"))
                    b_text = gr.Textbox(label=t("B text"), lines=6)
            gr.Markdown(t("compare note"))
        gr.Markdown(t("exposure"), elem_id="exposure")

        # Events. The public API (gradio_client, the tests, bench/measure/playground.py) names seven: load (a checkpoint
        # chosen), show, attention_map, step, redraw (the chart and the attention map after Next), generate and
        # compare; the others are private.
        view = [checkpoint, prompt, temperature, top_k]
        private = {"show_progress": "hidden", "api_visibility": "private"}
        redraw = dict(fn=on_show, inputs=view, outputs=[chart, message], **private)
        # after a new text (loaded, Next, Generate), both panels in one event: each event is a round trip
        redraw_both = dict(fn=on_redraw, inputs=view, outputs=[chart, message, attention], show_progress="hidden")
        chosen = dict(fn=on_load, inputs=checkpoint, outputs=[info, curve, top_k, message], show_progress="hidden")
        first_prompt = dict(fn=playground.default_prompt, inputs=checkpoint, outputs=prompt, **private)

        page.load(**chosen, api_visibility="private").then(**first_prompt).then(**redraw_both, api_visibility="private")
        checkpoint.change(**chosen, api_name="load").then(**first_prompt).then(**redraw_both, api_visibility="private")
        prompt.input(
            on_show, view, [chart, message], api_name="show", show_progress="hidden", trigger_mode="always_last"
        )
        prompt.input(
            on_attention,
            [checkpoint, prompt],
            attention,
            api_name="attention_map",
            show_progress="hidden",
            trigger_mode="always_last",
        )
        for slider in (temperature, top_k):  # a slider move needs no model run: the logits are remembered
            slider.change(**redraw, trigger_mode="always_last")
        next_drawn.click(on_step, [*view, seed], [prompt, message], api_name="step", show_progress="hidden").then(
            **redraw_both, api_name="redraw"
        )
        next_best.click(on_best, [*view, seed], [prompt, message], **private).then(
            **redraw_both, api_visibility="private"
        )
        generate.click(
            on_generate, [*view, length, seed], [prompt, message], api_name="generate", show_progress="minimal"
        ).then(**redraw_both, api_visibility="private")
        compare_button.click(
            on_compare,
            [checkpoint_a, checkpoint_b, compare_prompt, temperature, top_k, seed, compare_length],
            [a_info, a_chart, a_text, b_info, b_chart, b_text, compare_message],
            api_name="compare",
        )
        prompt.change(lambda text: text, prompt, compare_prompt, **private)  # Compare starts from the same prompt
    # Events run side by side (Gradio runs one at a time of each kind by default): one learner's long Generate must not
    # keep a whole class from generating. Their model runs take turns (Loaded.lock), a character at a time.
    page.queue(default_concurrency_limit=EVENTS_AT_ONCE)
    return page


# ----------------------------------------------------------------------------
# Command line


def import_gradio():
    """Gradio, imported with everything that would reach the network off: its analytics and Hugging Face's telemetry.
    (The page itself needs no network: Gradio ships its scripts and its default theme's fonts.)"""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gradio

    return gradio


PLOT_CSS = ".vega-embed, .vega-embed svg {overflow: visible !important} #chart, #curve {padding-bottom: 28px}"


def page_theme(gr):
    """Gradio's default theme with its bold text drawn from whole font files. Gradio ships the SemiBold (600) files of
    its fonts as subsets of 55 and 75 glyphs (A, B and Cyrillic), so a heading at weight 600 drew its A and B from them
    and every other letter from a system font's bold: "BabyGPT" began with a thinner B. The Bold (700) files draw
    every letter, and text at 600 takes the nearest heavier face declared."""
    return gr.themes.Default(
        font=(gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"),
        font_mono=(gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "Consolas", "monospace"),
    )


def launch_options(host, port, gr, language=None):
    """Blocks.launch's options: local only (no share link), no server-side rendering (it would need Node.js), the
    default theme (its fonts come with Gradio; page_theme), and no footer links."""
    return dict(
        server_name=host,
        server_port=port,
        share=False,
        ssr_mode=False,
        footer_links=[],
        theme=page_theme(gr),
        css=PLOT_CSS,
        i18n=gr.I18n(**page_words(host, language)),
    )


def parse_args(argv=None):
    parser = OneLineErrorParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        help="a checkpoint (or a run folder holding checkpoint.pt) to offer first; repeat for more"
        " (default: the ones found under out/ and sweeps/, the most recently written first)",
    )
    parser.add_argument(
        "--folder",
        action="append",
        default=[],
        help="a folder whose checkpoints (every *.pt file in it and below) the page lists and may open, besides"
        " out/ and sweeps/; repeat for more. The page opens nothing outside these folders and the --checkpoint files",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on; 0.0.0.0 opens the page to everyone who can reach this computer, with no password"
        " (they run the listed checkpoints; nothing outside the scanned folders opens) (default: %(default)s)",
    )
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    parser.add_argument(
        "--lang",
        choices=("auto", *LANGUAGES),
        default="auto",
        help="the page's language: auto (each browser's own: Chinese for a browser that prefers it, else English),"
        " en or zh (default: %(default)s)",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N or mps")
    parser.add_argument(
        "--seed",
        type=int,
        default=1337,
        help="the page's seed at start: Next (drawn), Generate and Compare draw from a generator of their own"
        " seeded with it, so the same seed gives the same text (default: %(default)s)",
    )
    return parser.parse_args(argv)


def check_args(args):
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be between 1 and 65535, got {args.port}")
    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be between 0 and 2**63 - 1, got {args.seed}")
    args.checkpoint = [checkpoint_file(path) for path in args.checkpoint]  # run folders: their checkpoint.pt
    for folder in args.folder:
        if not os.path.isdir(folder):
            raise ValueError(f"--folder {folder}: no such folder")


def main(argv=None):
    babygpt_v12_wandb.console_safe_output()
    args = parse_args(argv)
    try:
        check_args(args)
        device = babygpt_v12_wandb.pick_device(args.device)
    except ValueError as e:
        sys.exit(f"error: {e}")
    checkpoints = discover_checkpoints(given=args.checkpoint, folders=args.folder)
    if not checkpoints:  # a page with nothing to show: say what to do instead
        sys.exit(f"error: no checkpoint under out/ or sweeps/ in {os.getcwd()}; {TRAIN_HINT}")
    try:
        gr = import_gradio()
    except ImportError:
        sys.exit(f"error: {GRADIO_MISSING}")
    language = None if args.lang == "auto" else args.lang
    playground = Playground(checkpoints, device, args.seed, folders=(*FOLDERS, *args.folder), language=language)
    print(f"checkpoints, the page opens the first: {', '.join(checkpoints)}")
    page = build_page(playground)
    try:
        page.launch(**launch_options(args.host, args.port, gr, language), prevent_thread_lock=True, quiet=True)
    except OSError:  # the port is taken, or the address is not this machine's (Gradio's own words name its API)
        sys.exit(
            f"error: cannot serve on {args.host}:{args.port}: the port is in use or the address is not this"
            " machine's; try another --port (or --host)"
        )
    print(f"open http://{args.host}:{args.port}/ in a browser; Ctrl-C stops the playground", flush=True)
    try:
        page.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        page.close()


if __name__ == "__main__":
    main()
