"""The playground: watch your own BabyGPT think, in the browser.

A local web page over any checkpoint you trained: the next-character distribution as a bar chart that moves
with the temperature and top_k sliders, one character at a time or a streamed continuation, every attention
head over your text (point at a character to see where it looks), and two checkpoints side by side.

Run:   python babygpt_playground.py                      (finds out/*/checkpoint.pt, out/*/best.pt,
                                                          sweeps/*/*/checkpoint.pt, opens the newest; prints
                                                          the page's address)
       python babygpt_playground.py --checkpoint out/v12 --port 7861      (a run folder, or its checkpoint.pt)
       python babygpt_playground.py --help                (every option)

Engine: Gradio (pip install gradio), over Streamlit and Panel: live slider events, native bar/line plots, an
HTML view for the hoverable attention map, and gradio_client to test the page without a browser; it runs offline.

Model code comes from babygpt_sample.py (load_checkpoint, the KV-cached model, attention_weights) and the stages;
this file adds only what a page needs. Nothing here writes to disk: a checkpoint is only read.
"""

import csv
import hashlib
import html
import json
import math
import os
import re
import stat
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from glob import glob

import torch
from torch.nn import functional as F

import babygpt_v12_wandb
from babygpt_sample import (
    ATTENTION_FROM,
    STAGES,
    TRAIN_HINT,
    CachedBabyGPT,
    CachedContext,
    FullRecomputeContext,
    attention_weights,
    checkpoint_file,
    default_prompts,
    generate_tokens,
    load_checkpoint,
    show_character,
    stage_of,
    uses_cache,
)
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

    def refusal(self, path):
        return (
            f"cannot open {path!r} here: choose a checkpoint from the list (the page opens only checkpoints in the"
            " folders it scans; the terminal running the playground says why)"
        )

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
        """A babygpt_sample context over idx (1, T): cached where the stage allows, else recomputed."""
        return CachedContext(self.cached, idx) if self.cached else FullRecomputeContext(self.model, idx)

    def encode(self, prompt):
        """idx (1, T) for prompt; ValueError naming any character the model never saw."""
        if not prompt:
            raise ValueError("type a prompt: the model needs at least one character to continue")
        try:
            ids = self.tokenizer.encode(prompt)
        except ValueError as e:
            raise ValueError(f"this model cannot read the prompt: {e}") from None
        return torch.tensor([ids], dtype=torch.long, device=self.device)


class SlowLoad(ValueError):
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
            raise ValueError("choose a checkpoint (or pass --checkpoint PATH)")
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
            raise SlowLoad(f"checkpoint {path} took more than {self.load_seconds:g} s to load; try again") from None

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
                raise ValueError(f"checkpoint {path} is being rewritten as it is read; try again in a moment")
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


def stage_label(stage):
    """v1 .. v12 for a stage file (babygpt_v6_block.py -> v6); another script (babygpt_train.py) keeps its name."""
    match = re.match(r"babygpt_(v\d+)", stage)
    return match.group(1) if match else stage


def model_info(loaded):
    """A Markdown summary: stage, sizes, parameter count, step and val loss (the checkpoint's, else metrics.csv's)."""
    config, checkpoint = loaded.checkpoint["model_config"], loaded.checkpoint
    val_loss = checkpoint.get("val_loss")
    curve = [loss for _, split, loss in read_loss_curve(loaded.path) if split == "val"]
    if not isinstance(val_loss, float) and curve:
        val_loss = curve[-1]
    loss = f"val loss **{val_loss:.4f}**" if isinstance(val_loss, float) else "val loss unknown"
    lines = [
        f"**{loaded.path}**: stage **{stage_label(loaded.stage)}**, {loaded.n_params:,} parameters,"
        f" step {checkpoint.get('step', '?')}, {loss}",
        " · ".join(  # each stage's own sizes: v1 has no n_head, v10 on a dropout (never used here)
            f"{name} {value:,}" if isinstance(value, int) else f"{name} {value} (off here)"
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


def bar_rows(logits, probs, tokenizer, count=BAR_COUNT):
    """The chart's rows for the count likeliest characters, likeliest first: (label, probability, 'kept' or
    'cut by top_k'). Labels show a newline as ↵ and a space as ␣."""
    order = torch.argsort(logits, descending=True, stable=True)[:count].tolist()
    rows = []
    for i in order:
        rows.append((show_character(tokenizer.vocab[i]), float(probs[i]), "kept" if probs[i] > 0 else "cut by top_k"))
    return rows


def parse_top_k(top_k, vocab_size):
    """The slider's top_k as pick_next_token wants it: None (all characters) for 0 or for vocab_size and above."""
    top_k = int(top_k or 0)
    if top_k < 0:
        raise ValueError(f"top_k must be 0 (all characters) or positive, got {top_k}")
    return None if top_k == 0 or top_k >= vocab_size else top_k


def check_temperature(temperature):
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}")
    return temperature


def check_length(n):
    if n is None or not float(n).is_integer() or not 1 <= int(n) <= MAX_GENERATE:
        raise ValueError(f"generate between 1 and {MAX_GENERATE:,} characters at a time (asked for {n})")
    return int(n)


def check_seed(seed):
    if seed is None or not float(seed).is_integer() or not 0 <= int(seed) < 2**63:
        raise ValueError(f"the seed must be a whole number between 0 and 2**63 - 1 (got {seed})")
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
    weights (n_layer, n_head, T, T) over them, taken from the model by babygpt_sample.attention_weights."""
    if STAGES.index(loaded.stage) < ATTENTION_FROM:
        raise ValueError(
            f"attention is shown for {stage_label(STAGES[ATTENTION_FROM])} on (heads whose weights pass through"
            f" Head.dropout); this model is {stage_label(loaded.stage)}'s"
        )
    idx = loaded.encode(prompt)[:, -loaded.model.block_size :]
    labels = [show_character(ch) for ch in loaded.tokenizer.decode(idx[0].tolist())]
    return labels, attention_weights(loaded.model, idx)


ATTENTION_CSS = """
.bg-attn{font-family:ui-monospace,'Noto Sans Mono CJK SC','Noto Sans CJK SC',monospace;font-size:15px}
.bg-attn .pointer{margin-bottom:6px}
.bg-attn .pointer span{cursor:pointer;padding:1px 2px;border-bottom:2px solid transparent}
.bg-attn .pointer span.q{border-bottom-color:#d62728;font-weight:bold}
.bg-attn table{border-collapse:collapse}
.bg-attn td{padding:3px 6px;vertical-align:top;border:1px solid #ddd}
.bg-attn .strip span{padding:0 1px;border-radius:2px;cursor:pointer}
.bg-attn .strip span.q{outline:2px solid #d62728}
.bg-attn .strip span.f{color:#bbb}
.bg-attn .head,.bg-attn .caption{font-size:12px;color:#555;font-family:sans-serif}
"""

# Pointing at a character (in the text line or in any strip) reshades every strip by where that character looks,
# in the browser, from the weights the page carries (the same rule as attention_html's, written in JavaScript).
ATTENTION_JS = """
element.addEventListener('mouseover', (event) => {
  const target = event.target.closest('[data-i]');
  const root = element.querySelector('.bg-attn');
  if (!target || !root) return;
  const q = Number(target.dataset.i), weights = JSON.parse(root.dataset.weights);
  const labels = JSON.parse(root.dataset.labels);
  root.querySelectorAll('.pointer span').forEach((s) => s.classList.toggle('q', Number(s.dataset.i) === q));
  root.querySelector('.caption').textContent = root.dataset.caption.replace('{n}', q + 1).replace('{c}', labels[q]);
  root.querySelectorAll('.strip').forEach((strip) => {
    const row = weights[strip.dataset.l][strip.dataset.h][q], top = Math.max(...row, 1e-9);
    strip.querySelectorAll('span').forEach((s) => {
      const j = Number(s.dataset.i), w = j <= q ? row[j] : null;
      s.className = j === q ? 'q' : (w === null ? 'f' : '');
      s.style.background = w === null ? '' : `rgba(31,119,180,${(w / top).toFixed(3)})`;
      s.style.color = w !== null && w / top > 0.6 ? '#fff' : '';
      s.title = w === null ? 'the future: masked' : `${labels[q]} → ${labels[j]}: ${w.toFixed(3)}`;
    });
  });
});
"""
CAPTION = (
    "where character {n} ({c}) looks, in every layer (row) and head (column): darker is more weight, relative to"
    " the head's largest; grey is the future, hidden by the causal mask. Point at another character."
)


def attention_html(labels, weights, query=None):
    """HTML: the text once, then one strip of the text per layer (row) and head (column), each character shaded by
    how much the chosen character (query, default the last) attends to it, its tooltip giving the weight. Pointing
    at a character chooses it (ATTENTION_JS). weights: (n_layer, n_head, T, T), row i summing to 1 over j <= i."""
    n_layer, n_head, T, _ = weights.shape
    query = T - 1 if query is None else max(0, min(int(query), T - 1))
    escaped = [html.escape(label) for label in labels]
    marked = ' class="q"'
    pointer = "".join(
        f'<span data-i="{i}"{marked if i == query else ""}>{label}</span>' for i, label in enumerate(escaped)
    )
    rows = ["<tr><td></td>" + "".join(f'<td class="head">head {h + 1}</td>' for h in range(n_head)) + "</tr>"]
    for layer in range(n_layer):
        cells = []
        for head in range(n_head):
            row = weights[layer, head, query]
            top = max(float(row.max()), 1e-9)  # relative to the head's largest weight: a diffuse head stays visible
            spans = []
            for j, label in enumerate(escaped):
                if j > query:
                    spans.append(f'<span data-i="{j}" class="f" title="the future: masked">{label}</span>')
                    continue
                w = float(row[j])
                style = f"background:rgba(31,119,180,{w / top:.3f})" + (";color:#fff" if w / top > 0.6 else "")
                title = html.escape(f"{labels[query]} → {labels[j]}: {w:.3f}")
                css = marked if j == query else ""
                spans.append(f'<span data-i="{j}"{css} style="{style}" title="{title}">{label}</span>')
            cells.append(f'<td class="strip" data-l="{layer}" data-h="{head}">{"".join(spans)}</td>')
        rows.append(f'<tr><td class="head">layer {layer + 1}</td>{"".join(cells)}</tr>')
    data = json.dumps(weights.double().numpy().round(4).tolist())  # every query's weights, for pointing (JS)
    caption = CAPTION.format(n=query + 1, c=labels[query])
    return (
        f'<div class="bg-attn" data-weights="{html.escape(data)}" data-labels="{html.escape(json.dumps(labels))}"'
        f' data-caption="{html.escape(CAPTION)}"><div class="pointer">{pointer}</div>'
        f'<p class="caption">{html.escape(caption)}</p><table>{"".join(rows)}</table></div>'
    )


# ----------------------------------------------------------------------------
# The page's functions: plain Python, called by the page's events (and by the tests directly)


class Playground:
    """What the page does, event by event. Every method takes the page's current values and returns new ones;
    bad input becomes a message for the page (never an exception), so the page keeps working."""

    def __init__(self, checkpoints, device="cpu", seed=1337, load_seconds=LOAD_SECONDS, folders=FOLDERS):
        """checkpoints: the dropdown's paths (each may be opened); folders: where else a typed path may point."""
        self.checkpoints = list(checkpoints)
        self.policy = CheckpointPolicy(folders, self.checkpoints)
        self.models = CheckpointCache(device, load_seconds)
        self.seed = check_seed(seed)  # the seed box's first value: Next (drawn), Generate and Compare draw from it
        self.logits = OrderedDict()  # (file_identity, prompt) -> logits, the most recently used last
        self.logits_lock = threading.Lock()

    # -- helpers

    def open(self, path):
        """The Loaded for path, if the policy lets the page open it and it loads; else ValueError with the one
        refusal (the reason on stderr, for the terminal)."""
        if not path:
            raise ValueError("choose a checkpoint (or pass --checkpoint PATH)")
        try:
            return self.models.get(self.policy.check(path))
        except SlowLoad:  # in a folder the page may open: a big checkpoint on a slow disk; the learner may retry
            raise
        except ValueError as e:
            print(f"playground: refused {path!r}: {e}", file=sys.stderr, flush=True)
            raise ValueError(self.policy.refusal(path)) from None

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

    def distribution(self, loaded, prompt, temperature, top_k):
        """(rows, summary) of the bar chart: bar_rows and one line saying what temperature and top_k did."""
        temperature = check_temperature(temperature)
        k = parse_top_k(top_k, loaded.tokenizer.vocab_size)
        logits = self.scores(loaded, prompt)
        probs = next_distribution(logits, temperature, k)
        summary = f"temperature {temperature:g}" + (" (greedy: the likeliest only)" if temperature == 0 else "")
        if k is not None and temperature > 0:
            before = next_distribution(logits, temperature)  # the same temperature, no cut
            held = float(before[probs > 0].sum())
            summary += f"; top_k {k} keeps {k} of {logits.numel():,} characters, which held {held:.1%} before the cut"
        else:
            summary += f"; all {logits.numel():,} characters can be drawn"
        rows = bar_rows(logits, probs, loaded.tokenizer)
        summary += "; likeliest: " + ", ".join(f"{label} {p:.1%}" for label, p, _ in rows[:5])
        return rows, summary

    # -- events

    def load(self, path):
        """(info Markdown, loss-curve rows, top_k maximum, message) for the chosen checkpoint."""
        try:
            loaded = self.open(path)
        except ValueError as e:
            return "", [], None, f"⚠️ {e}"
        return model_info(loaded), read_loss_curve(loaded.path), loaded.tokenizer.vocab_size, ""  # a folder's file

    def default_prompt(self, path):
        try:
            loaded = self.open(path)
        except ValueError:
            return ""
        return default_prompts(loaded.checkpoint, loaded.tokenizer)[0]

    def show(self, path, prompt, temperature, top_k):
        """(chart rows, message) for the prompt at this temperature and top_k."""
        try:
            rows, summary = self.distribution(self.open(path), prompt, temperature, top_k)
        except ValueError as e:
            return [], f"⚠️ {e}"
        return rows, summary

    def attention(self, path, prompt):
        """The attention map's HTML, or a message in its place."""
        try:
            loaded = self.open(path)
            with loaded.lock:
                labels, weights = text_attention(loaded, prompt)
        except ValueError as e:
            return f"<p>⚠️ {html.escape(str(e))}</p>"
        shown = f"<p>the last {len(labels)} characters (block_size)</p>" if len(labels) < len(prompt) else ""
        return shown + attention_html(labels, weights)

    def step(self, path, prompt, temperature, top_k, seed=None, greedy=False):
        """(prompt with one more character, message). The draw's seed mixes the page's seed with the text
        (next_seed): the same seed and text give the same character, whatever else runs."""
        try:
            loaded = self.open(path)
            temperature, k = check_temperature(temperature), parse_top_k(top_k, loaded.tokenizer.vocab_size)
            seed = next_seed(self.seed if seed is None else seed, prompt)
            # the logits the chart shows for this text, remembered: Next costs no model run of its own
            return prompt + draw_next(loaded, self.scores(loaded, prompt), temperature, k, seed, greedy), ""
        except ValueError as e:
            return prompt, f"⚠️ {e}"

    def generate(self, path, prompt, temperature, top_k, n, seed):
        """Yield (prompt + the continuation so far, message) while n characters are generated."""
        try:
            loaded = self.open(path)
            temperature, k = check_temperature(temperature), parse_top_k(top_k, loaded.tokenizer.vocab_size)
            n, seed = check_length(n), check_seed(seed)
            loaded.encode(prompt)  # a bad prompt is refused before anything streams
        except ValueError as e:
            yield prompt, f"⚠️ {e}"
            return
        start = time.perf_counter()
        for text in stream_continuation(loaded, prompt, n, temperature, k, seed):
            yield prompt + text, f"generating: {len(text)} of {n} characters"
        seconds = time.perf_counter() - start
        yield prompt + text, f"{n} characters in {seconds:.2f} s ({n / seconds:,.0f} characters/s), seed {seed}"

    def compare(self, path_a, path_b, prompt, temperature, top_k, seed, n):
        """Both checkpoints on the same prompt, temperature, top_k and seed:
        (info A, rows A, text A, info B, rows B, text B, message)."""
        panels = []
        try:
            temperature, n, seed = check_temperature(temperature), check_length(n), check_seed(seed)
            for path in (path_a, path_b):
                loaded = self.open(path)
                rows, summary = self.distribution(loaded, prompt, temperature, top_k)
                k = parse_top_k(top_k, loaded.tokenizer.vocab_size)
                text = continuation(loaded, prompt, n, temperature, k, seed)
                panels += [f"{model_info(loaded)}\n\n{summary}", rows, prompt + text]
        except ValueError as e:
            return ("", [], "", "", [], "", f"⚠️ {e}")
        return (*panels, f"the same prompt, temperature, top_k and seed ({seed}) for both")


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
INTRO = """# BabyGPT playground
Your own model, thinking: pick a checkpoint, type a prompt, and watch the next-character distribution move with
the temperature and top_k sliders; point at a character in the attention map to see where each head looks."""


def exposure(host):
    """What the page says about who can reach it, served on host."""
    local = host in ("127.0.0.1", "localhost", "::1")
    where = (
        f"Served on {host}: only this computer can open this page."
        if local
        else f"Served on {host}: anyone who can reach this computer on the network can open this page."
    )
    return (
        f"**Who can open this page.** {where} With `--host 0.0.0.0` anyone on the network can, with no password:"
        " they see the checkpoints listed (their paths), run them on this computer's processor, and may type paths;"
        " the page opens only checkpoints in the folders it scans (`out/`, `sweeps/` and those given with"
        " `--folder`) and tells nothing of any other file. No share link is made."
    )


def build_page(playground, host="127.0.0.1"):
    """The Gradio Blocks page over playground (a Playground), as served on host. Needs Gradio; the caller has checked
    it is there."""
    gr = import_gradio()
    choices = playground.checkpoints
    first = choices[0] if choices else None
    second = choices[1] if len(choices) > 1 else first
    none_found = f"⚠️ no checkpoint chosen: type a checkpoint's path in the box above, or {TRAIN_HINT}"

    def bars(label, elem_id=None):
        return gr.BarPlot(
            frame([], BAR_COLUMNS),
            x="character",
            y="probability",
            tooltip="all",  # character, probability, kept or cut by top_k
            y_lim=[0, 1],
            sort="-y",  # the likeliest first; the cut ones (0 after the cut) last
            x_label_angle=0,
            height=300,
            label=label,
            elem_id=elem_id,
        )

    def on_load(path):
        info, curve, vocab_size, message = playground.load(path)
        curve = [row for row in curve if row[1] == "val"]  # one line: Gradio 6.31 draws no mark split by colour
        top_k = gr.update(maximum=min(vocab_size, 200)) if vocab_size else gr.update()
        return info, frame(curve, CURVE_COLUMNS), top_k, message or ("" if path else none_found)

    def on_show(path, prompt, temperature, top_k):
        rows, message = playground.show(path, prompt, temperature, top_k)
        return frame(rows, BAR_COLUMNS), message

    def on_redraw(path, prompt, temperature, top_k):  # the chart and the attention map: one trip, not two
        return *on_show(path, prompt, temperature, top_k), playground.attention(path, prompt)

    def on_compare(*values):
        a_info, a_rows, a_text, b_info, b_rows, b_text, message = playground.compare(*values)
        return a_info, frame(a_rows, BAR_COLUMNS), a_text, b_info, frame(b_rows, BAR_COLUMNS), b_text, message

    with gr.Blocks(title="BabyGPT playground", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        with gr.Row():
            checkpoint = gr.Dropdown(
                choices, value=first, label="checkpoint", allow_custom_value=True, scale=3,
                info="found under out/ and sweeps/, or type a path",
            )  # fmt: skip
        with gr.Row():
            info = gr.Markdown()
            curve = gr.LinePlot(
                frame([], CURVE_COLUMNS), x="step", y="loss", height=240, label="val loss curve", elem_id="curve"
            )
        with gr.Tab("Next character"):
            prompt = gr.Textbox(label="prompt", lines=2, elem_id="prompt")
            with gr.Row():
                temperature = gr.Slider(0, 2, value=1.0, step=0.05, label="temperature", elem_id="temperature",
                                        info="below 1 sharpens, above 1 flattens; 0 is greedy")  # fmt: skip
                top_k = gr.Slider(0, 200, value=0, step=1, label="top_k", elem_id="top_k",
                                  info="draw only from the k likeliest; 0 is all")  # fmt: skip
                seed = gr.Number(playground.seed, label="seed", precision=0, minimum=0, elem_id="seed",
                                 info="the same seed and text draw the same characters")  # fmt: skip
            with gr.Row():
                next_drawn = gr.Button("Next (drawn)", variant="primary", elem_id="next")
                next_best = gr.Button("Next (likeliest)", elem_id="next_best")
                length = gr.Number(100, label="N characters", precision=0, minimum=1, maximum=MAX_GENERATE)
                generate = gr.Button("Generate N", elem_id="generate")
            message = gr.Markdown(elem_id="message")
            chart = bars("the next character: probability of each of the 20 likeliest", elem_id="chart")
            gr.Markdown("### Attention: every layer and head over the text (its last block_size characters)")
            attention = gr.HTML(elem_id="attention", css_template=ATTENTION_CSS, js_on_load=ATTENTION_JS)
        with gr.Tab("Compare"):
            with gr.Row():
                checkpoint_a = gr.Dropdown(choices, value=first, label="checkpoint A", allow_custom_value=True)
                checkpoint_b = gr.Dropdown(choices, value=second, label="checkpoint B", allow_custom_value=True)
            with gr.Row():
                compare_prompt = gr.Textbox(label="prompt", scale=3)
                compare_length = gr.Number(100, label="N characters", precision=0, minimum=1, maximum=MAX_GENERATE)
                compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
            compare_message = gr.Markdown()
            with gr.Row():
                with gr.Column():
                    a_info, a_chart = gr.Markdown(), bars("A: the next character")
                    a_text = gr.Textbox(label="A continues", lines=6)
                with gr.Column():
                    b_info, b_chart = gr.Markdown(), bars("B: the next character")
                    b_text = gr.Textbox(label="B continues", lines=6)
            gr.Markdown("Temperature, top_k and seed are the ones on the Next character tab.")
        gr.Markdown(exposure(host), elem_id="exposure")

        # Events. The public API (gradio_client, the tests, bench/playground.py) names seven: load (a checkpoint
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
            playground.attention,
            [checkpoint, prompt],
            attention,
            api_name="attention_map",
            show_progress="hidden",
            trigger_mode="always_last",
        )
        for slider in (temperature, top_k):  # a slider move needs no model run: the logits are remembered
            slider.change(**redraw, trigger_mode="always_last")
        next_drawn.click(
            playground.step, [*view, seed], [prompt, message], api_name="step", show_progress="hidden"
        ).then(**redraw_both, api_name="redraw")
        next_best.click(
            lambda *values: playground.step(*values, greedy=True), [*view, seed], [prompt, message], **private
        ).then(**redraw_both, api_visibility="private")
        generate.click(
            playground.generate, [*view, length, seed], [prompt, message], api_name="generate", show_progress="minimal"
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


def launch_options(host, port, gr):
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
    playground = Playground(checkpoints, device, args.seed, folders=(*FOLDERS, *args.folder))
    print(f"checkpoints, the page opens the first: {', '.join(checkpoints)}")
    page = build_page(playground, args.host)
    try:
        page.launch(**launch_options(args.host, args.port, gr), prevent_thread_lock=True, quiet=True)
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
