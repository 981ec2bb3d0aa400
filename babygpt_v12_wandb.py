r"""BabyGPT v12: experiment tracking: wandb, a run folder and a checkpoint.

The same model and defaults as v11, now with a record of every run. wandb logs the
hyperparameters as config and the losses, perplexity, learning rate and tokens/s at
each evaluation; it runs offline by default (no account, no network; upload later
with `wandb sync`). The run folder (--out_dir) gets metrics.csv, a loss-curve PNG, the
samples, and a checkpoint with weights, config and vocabulary, which
babygpt_sample.py loads to generate without the corpus.

Run:   python babygpt_v12_wandb.py            (needs data/ci.txt: python data/prepare.py)
       python babygpt_v12_wandb.py --help     (every option)
CPU:   python babygpt_v12_wandb.py --max_iters 1500 --eval_interval 250 --eval_iters 20 \
           --batch_size 16 --block_size 64 --n_embed 128 --n_head 4 --n_layer 4 \
           --learning_rate 1e-3 --dropout 0.1    (a smaller model for a laptop: about 4 minutes)
Diff:  diff -u babygpt_v11_hyper_params.py babygpt_v12_wandb.py
"""

import argparse
import contextlib
import difflib
import io
import math
import os
import sys
import time
import types

import torch
import torch.nn as nn
from torch.nn import functional as F
from tqdm import tqdm

# Hyperparameters: name -> (default, meaning). Each one is also a command-line option: --max_iters 200.
TRAINING_HYPERPARAMETERS = {
    "max_iters": (5000, "training steps (optimizer updates)"),
    "eval_interval": (500, "estimate train and val loss every this many steps"),
    "eval_iters": (50, "batches averaged per split for each loss estimate"),
    "batch_size": (64, "sequences per training batch"),
    "learning_rate": (3e-4, "AdamW learning rate"),
}
MODEL_HYPERPARAMETERS = {  # passed to the model's constructor
    "block_size": (256, "context length: the most characters the model looks back over"),
    "n_embed": (384, "embedding size: the length of the vector for each token"),
    "n_head": (6, "attention heads per layer; n_embed must be divisible by it"),
    "n_layer": (6, "number of stacked Blocks"),
    "dropout": (0.2, "probability of zeroing an activation during training"),
}


# Tokenizer: one token per character
class CharTokenizer:
    """Maps each distinct character of the corpus to an integer id, and back."""

    def __init__(self, vocab):
        self.vocab = vocab  # a string holding every known character once, sorted
        self.stoi = {ch: i for i, ch in enumerate(vocab)}
        self.vocab_size = len(vocab)

    def encode(self, text):
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return [self.stoi[ch] for ch in text]

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids)


# Batching and the loss estimate
def get_batch(data, batch_size, block_size):
    """batch_size random windows of the data: inputs x and targets y, y being x shifted by one."""
    starts = torch.randint(len(data) - block_size, (batch_size,), device=data.device)
    offsets = torch.arange(block_size + 1, device=data.device)
    windows = data[starts[:, None] + offsets]  # (B, block_size + 1), gathered without a Python loop
    return windows[:, :-1], windows[:, 1:]  # x: (B, T), y: (B, T)


@torch.no_grad()
def estimate_loss(model, splits, eval_iters, batch_size, block_size):
    """Mean loss over eval_iters random batches of each split, with dropout off."""
    was_training = model.training
    model.eval()
    losses = {}
    for name, data in splits.items():
        total = torch.zeros((), device=data.device)
        for _ in range(eval_iters):
            x, y = get_batch(data, batch_size, block_size)
            _, loss = model(x, y)
            total += loss
        losses[name] = total.item() / eval_iters  # one GPU sync per split, not per batch
    model.train(was_training)
    return losses


# The model
class Head(nn.Module):
    """One head of causal self-attention."""

    def __init__(self, n_embed, head_size, block_size, dropout):
        super().__init__()
        self.key = nn.Linear(n_embed, head_size, bias=False)
        self.query = nn.Linear(n_embed, head_size, bias=False)
        self.value = nn.Linear(n_embed, head_size, bias=False)
        # tril[i, j] is 1 where token i may look at token j, that is j <= i: no peeking ahead
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)  # (B, T, head_size)
        q = self.query(x)  # (B, T, head_size)
        # affinities between every pair of tokens, scaled by 1/sqrt(head_size) so softmax stays soft
        scores = q @ k.transpose(-2, -1) * k.size(-1) ** -0.5  # (B, T, hs) @ (B, hs, T) -> (B, T, T)
        scores = scores.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        weights = F.softmax(scores, dim=-1)  # (B, T, T), each row sums to 1
        weights = self.dropout(weights)
        v = self.value(x)  # (B, T, head_size)
        return weights @ v  # (B, T, T) @ (B, T, hs) -> (B, T, hs)


class MultiHeadAttention(nn.Module):
    """Several heads of attention in parallel, their outputs concatenated."""

    def __init__(self, n_embed, n_head, block_size, dropout):
        super().__init__()
        if n_embed % n_head != 0:
            raise ValueError(f"n_embed ({n_embed}) must be divisible by n_head ({n_head})")
        head_size = n_embed // n_head
        self.heads = nn.ModuleList([Head(n_embed, head_size, block_size, dropout) for _ in range(n_head)])
        self.proj = nn.Linear(n_embed, n_embed)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        out = torch.cat([head(x) for head in self.heads], dim=-1)  # (B, T, n_head * head_size) = (B, T, n_embed)
        return self.dropout(self.proj(out))  # (B, T, n_embed)


class FeedForward(nn.Module):
    """A small network applied to each position on its own: computation after communication."""

    def __init__(self, n_embed, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_embed, 4 * n_embed),
            nn.ReLU(),
            nn.Linear(4 * n_embed, n_embed),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)  # (B, T, n_embed)


class Block(nn.Module):
    """One transformer block: tokens communicate (attention), then compute (feed-forward)."""

    def __init__(self, n_embed, n_head, block_size, dropout):
        super().__init__()
        self.attention = MultiHeadAttention(n_embed, n_head, block_size, dropout)
        self.feed_forward = FeedForward(n_embed, dropout)
        self.ln1 = nn.LayerNorm(n_embed)
        self.ln2 = nn.LayerNorm(n_embed)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))  # (B, T, n_embed)
        x = x + self.feed_forward(self.ln2(x))
        return x


class BabyGPT(nn.Module):
    """The language model: token ids (B, T) in, next-token logits (B, T, vocab_size) out."""

    def __init__(self, vocab_size, block_size, n_embed, n_head, n_layer, dropout):
        super().__init__()
        self.block_size = block_size
        self.token_embedding_table = nn.Embedding(vocab_size, n_embed)
        self.position_embedding_table = nn.Embedding(block_size, n_embed)
        self.blocks = nn.Sequential(*[Block(n_embed, n_head, block_size, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embed)  # final layer norm
        self.lm_head = nn.Linear(n_embed, vocab_size)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # small random weights (GPT-2's N(0, 0.02)), so that a fresh model guesses every character about
        # equally and its first loss is close to ln(vocab_size); the output head keeps PyTorch's default
        # (uniform within 1/sqrt(n_embed)), which trains these small models better (bench/measure/init.py)
        if module is self.lm_head:
            return
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size {self.block_size}")
        positions = torch.arange(T, device=idx.device)  # (T,)
        x = self.token_embedding_table(idx) + self.position_embedding_table(positions)  # (B, T, n_embed)
        x = self.blocks(x)  # (B, T, n_embed)
        x = self.ln_f(x)  # (B, T, n_embed)
        logits = self.lm_head(x)  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())  # (B*T, vocab_size) vs (B*T,)
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Append max_new_tokens sampled tokens to idx (B, T); temperature 0 always takes the likeliest.
        generator: a torch.Generator to draw from (None: torch's global one, seeded by torch.manual_seed)."""
        was_training = self.training
        self.eval()  # sampling never uses dropout
        for _ in range(max_new_tokens):
            context = idx[:, -self.block_size :]  # the model sees at most block_size tokens
            logits, _ = self(context)
            next_id = pick_next_token(logits[:, -1, :], temperature, top_k, generator)  # the last position's scores
            idx = torch.cat((idx, next_id), dim=1)  # (B, T + 1)
        self.train(was_training)
        return idx


# Training
def train(model, train_data, val_data, hp, report):
    """AdamW on random batches. Every eval_interval steps, and at the last step, estimate the losses and call
    report(metrics) (TrainingMeter.metrics, below the banner, says what each one means); report may return True
    to stop training there, as a sweep's pruner does. Returns the last metrics reported."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=hp.learning_rate)
    splits = {"train": train_data, "val": val_data}
    with TrainingMeter(hp, train_data.device) as meter:  # the clock and the progress bar, below the banner
        for step in range(hp.max_iters + 1):
            if step % hp.eval_interval == 0 or step == hp.max_iters:
                with meter.evaluating():  # timed apart: tokens/s counts training alone
                    losses = estimate_loss(model, splits, hp.eval_iters, hp.batch_size, hp.block_size)
                    check_losses(losses, step, hp.learning_rate)
                    metrics = meter.metrics(step, losses)
                    if report(metrics) or step == hp.max_iters:
                        return metrics
            x, y = get_batch(train_data, hp.batch_size, hp.block_size)  # x, y: (B, T)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            meter.step()


def check_losses(losses, step, learning_rate):
    """Stop a run whose loss has become NaN: nothing it learns from then on means anything."""
    if any(math.isnan(loss) for loss in losses.values()):
        raise ValueError(
            f"the loss became NaN by step {step}: training diverged;"
            f" try a lower --learning_rate (this run: {learning_rate:g})"
        )


# Sampling
def pick_next_token(logits, temperature=1.0, top_k=None, generator=None):
    """Choose the next token (B, 1) from scores (B, vocab_size): temperature 0 takes the likeliest,
    otherwise draw from softmax(logits / temperature), only among the top_k likeliest if given. generator: a
    torch.Generator on the logits' device, whose seed alone decides the draws whatever else runs (None: the global
    one, which torch.manual_seed seeds)."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    # below 1 sharpens the distribution, above 1 flattens it; the best score is subtracted first, so the
    # division cannot overflow to inf (and softmax to NaN) however small the temperature
    logits = (logits - logits.max(dim=-1, keepdim=True).values) / temperature
    if top_k is not None:
        kth_best = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]  # (B, 1)
        logits = logits.masked_fill(logits < kth_best, float("-inf"))
    probs = F.softmax(logits, dim=-1)  # (B, vocab_size)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)


def sample(model, tokenizer, prompts, max_new_tokens):
    """Continue each prompt by max_new_tokens characters and print it as it comes; return the (prompt, text)
    pairs. Prompts are sampled one at a time, so their lengths may differ."""
    device = next(model.parameters()).device
    samples = []
    for prompt in prompts:
        idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)  # (1, T)
        samples.append((prompt, tokenizer.decode(model.generate(idx, max_new_tokens)[0].tolist())))
        print(f"\n--- {prompt} ---\n{samples[-1][1]}")
    return samples


# Experiment tracking (new in v12): wandb, and a run folder that babygpt_sample.py can load
CHECKPOINT_FORMAT = "babygpt-checkpoint-v1"  # the tag of every checkpoint.pt; the tools refuse a file without it


class RunRecorder:
    """Records a run in wandb (offline by default) and in out_dir: metrics.csv, loss_curve.png, samples.txt and
    checkpoint.pt, rewritten at each evaluation; stage: the file whose BabyGPT it holds (a sweep records v1-v11)."""

    def __init__(self, args, model, tokenizer, model_config, stage="babygpt_v12_wandb.py"):
        wandb = prepare_run_folder(args)  # refuses to replace a trained model; None with --wandb_mode disabled
        self.out_dir, self.stage, self.history = args.out_dir, stage, []
        self.model, self.tokenizer, self.model_config, self.hyperparameters = model, tokenizer, model_config, vars(args)
        self.run = None  # the wandb run, if any
        try:
            if wandb is not None:
                self.run = wandb.init(
                    project=args.wandb_project, config=vars(args), mode=args.wandb_mode, dir=self.out_dir
                )
        except Exception as e:  # e.g. --wandb_mode online without `wandb login`
            raise ValueError(f"wandb could not start ({e}); try --wandb_mode offline") from None

    def report(self, metrics):
        print_report(metrics)
        self.history.append(metrics)
        if self.run is not None:
            self.run.log({k: v for k, v in metrics.items() if k != "step" and v is not None}, step=metrics["step"])
        write_atomically(os.path.join(self.out_dir, "metrics.csv"), csv_table(self.history))
        self.save_checkpoint(os.path.join(self.out_dir, "checkpoint.pt"), metrics)

    def checkpoint(self, metrics):
        """What checkpoint.pt holds: enough to rebuild the model and its tokenizer without the corpus."""
        return {
            "format": CHECKPOINT_FORMAT,
            "stage": self.stage,  # absent from older checkpoints, all of them v12's
            "model_config": {"vocab_size": self.tokenizer.vocab_size, **self.model_config},
            "vocab": self.tokenizer.vocab,
            "model_state": self.model.state_dict(),
            "hyperparameters": self.hyperparameters,
            "step": metrics["step"],
            "val_loss": metrics["val_loss"],
        }

    def save_checkpoint(self, path, metrics):
        buffer = io.BytesIO()
        torch.save(self.checkpoint(metrics), buffer)
        write_atomically(path, buffer.getvalue())

    def finish(self, samples):
        write_atomically(os.path.join(self.out_dir, "loss_curve.png"), loss_curve_png(self.history, self.out_dir))
        text = "".join(f"--- {prompt} ---\n{completion}\n\n" for prompt, completion in samples)
        write_atomically(os.path.join(self.out_dir, "samples.txt"), text.encode("utf-8"))
        if self.run is not None:
            self.run.summary["samples"] = text
            self.run.finish()
        print(f"\nrun folder: {self.out_dir} (metrics.csv, loss_curve.png, samples.txt, checkpoint.pt)")


# ============================================================================
# Everything below is the same in every stage and holds nothing about GPT: reading the corpus, the device,
# the console, the command line and its checks, setup, and run(), the one entry point (v12 adds its run
# folder's options). Read it once; the lesson of each stage is above.

HYPERPARAMETERS = {**TRAINING_HYPERPARAMETERS, **MODEL_HYPERPARAMETERS}  # each one a command-line option


def load_corpus(path):
    """Read a UTF-8 text file, refusing a missing, unreadable or empty one."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:  # the corpora data/prepare.py builds: how to build them
        build = {"ci.txt": "", "shakespeare.txt": " shakespeare"}.get(os.path.basename(path))
        hint = "check the path" if build is None else f"build it with: python data/prepare.py{build}"
        raise ValueError(f"corpus {path} not found; {hint}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"corpus {path} is not UTF-8 text (bad byte at offset {e.start})") from None
    except OSError as e:
        raise ValueError(f"cannot read corpus {path}: {e.strerror}") from None
    if not text:
        raise ValueError(f"corpus {path} is empty")
    return text


def find_corpus(path):
    """path itself, or, when a relative path is missing from the current folder, the same path beside
    this script: the default data/ci.txt is found whatever folder the script is started from."""
    if os.path.exists(path) or os.path.isabs(path):
        return path
    beside_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), path)
    return beside_script if os.path.exists(beside_script) else path


def split_data(data, block_size, train_fraction=0.9):
    """First 90% for training, last 10% for validation; each must hold a whole batch row."""
    n_train = int(train_fraction * len(data))
    train_data, val_data = data[:n_train], data[n_train:]
    shortest = min(len(train_data), len(val_data))
    if shortest <= block_size:
        raise ValueError(
            f"corpus too short: {len(data)} characters split into {len(train_data)} train and "
            f"{len(val_data)} val, and each split needs more than block_size = {block_size}"
        )
    return train_data, val_data


def pick_device(name):
    """'auto' means CUDA, else Apple MPS, else CPU; a named device must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        raise ValueError(f"device {name!r} is not available: PyTorch finds no such CUDA GPU here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} is not available: PyTorch finds no Apple MPS here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return device


def synchronize(device):
    """Wait for queued GPU work, so that wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def progress_bar(max_iters):
    """A bar of the training steps done, with the recent speed and the time left at that speed. Only on a terminal:
    in a log file or a test it draws nothing, and the output is the evaluation lines alone."""
    return tqdm(
        total=max_iters,
        unit="step",
        leave=False,
        file=sys.stdout,
        disable=not sys.stdout.isatty(),
        dynamic_ncols=True,
        bar_format="{percentage:3.0f}%|{bar}| step {n}/{total} [{rate_fmt}, {remaining} left]",
    )


class TrainingMeter:
    """train()'s bookkeeping: its clock, the metrics it reports and its progress bar. Evaluating and reporting are
    timed apart (evaluating()), so that tokens/s counts training alone; tokens/s and the time left come from the
    last interval between evaluations alone, since on a busy machine the speed changes. A context manager: the
    bar is closed at the end."""

    def __init__(self, hp, device):
        self.hp, self.device = hp, device
        self.bar = progress_bar(hp.max_iters)
        self.start = time.perf_counter()
        self.eval_seconds = 0.0  # time spent evaluating and reporting, kept out of tokens/s
        self.eval_start = self.start
        self.last = (0, 0.0, 0.0)  # step, elapsed and training seconds at the previous evaluation

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()

    @contextlib.contextmanager
    def evaluating(self):
        """Count the time of the block as evaluating, the GPU's queued training steps finished first."""
        synchronize(self.device)
        self.eval_start = time.perf_counter()
        try:
            yield
        finally:
            self.eval_seconds += time.perf_counter() - self.eval_start
            self.bar.unpause()  # the bar's speed leaves the evaluation out

    def metrics(self, step, losses):
        """What report() gets at an evaluation (call it inside evaluating()): step, train_loss, val_loss,
        val_perplexity (inf once exp overflows), learning_rate, tokens_per_second and remaining_seconds (at the pace
        of the interval since the previous evaluation, evaluating left out of tokens/s; None at the first),
        elapsed_seconds (since training began) and eval_fraction (the part of them spent evaluating and reporting)."""
        now = time.perf_counter()
        elapsed = now - self.start
        evaluating = self.eval_seconds + (now - self.eval_start)
        trained = elapsed - evaluating  # seconds spent training so far
        last_step, last_elapsed, last_trained = self.last
        steps = step - last_step  # since the previous evaluation
        tokens = steps * self.hp.batch_size * self.hp.block_size
        self.last = (step, elapsed, trained)
        self.bar.clear()  # the report's line goes above the bar
        return {
            "step": step,
            "train_loss": losses["train"],
            "val_loss": losses["val"],
            "val_perplexity": math.exp(losses["val"]) if losses["val"] < 700 else math.inf,
            "learning_rate": self.hp.learning_rate,
            "tokens_per_second": tokens / (trained - last_trained) if steps else None,
            "elapsed_seconds": elapsed,
            "remaining_seconds": (elapsed - last_elapsed) / steps * (self.hp.max_iters - step) if steps else None,
            "eval_fraction": evaluating / elapsed,
        }

    def step(self):
        """One training step done."""
        self.bar.update()


def format_seconds(seconds):
    """H:MM:SS, with as many hour digits as needed: v11's defaults run for many hours on a CPU."""
    if seconds is None:
        return "-:--:--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def print_report(metrics):
    speed, perplexity = metrics["tokens_per_second"], metrics["val_perplexity"]
    print(
        f"step {metrics['step']:>5} | train loss {metrics['train_loss']:.4f} | val loss {metrics['val_loss']:.4f}"
        f" | val perplexity {perplexity:{'8.2f' if perplexity < 1e6 else '8.2e'}}"  # (a diverged run: 1.23e+41)
        f" | {'-' if speed is None else f'{speed:,.0f}':>7} tokens/s"
        f" | {format_seconds(metrics['elapsed_seconds'])} elapsed, {format_seconds(metrics['remaining_seconds'])} left",
        flush=True,
    )


def write_atomically(path, data):
    """Write bytes to a temporary file beside path, then rename it: a crash never leaves half a file, and two
    processes writing the same file (a sweep's workers) never share a temporary one."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def prepare_run_folder(args):
    """Make out_dir (one holding a trained model only with --overwrite); return wandb, or None if disabled."""
    if os.path.exists(os.path.join(args.out_dir, "checkpoint.pt")) and not args.overwrite:
        raise ValueError(
            f"{args.out_dir} already holds a trained model (checkpoint.pt): pass --overwrite to replace it,"
            " or --out_dir to keep both"
        )
    if args.wandb_mode != "disabled":
        try:
            import wandb  # here, so that importing this file starts no tracker
        except ImportError:
            raise ValueError("wandb is not installed: pip install wandb, or --wandb_mode disabled") from None
    os.makedirs(args.out_dir, exist_ok=True)
    return None if args.wandb_mode == "disabled" else wandb


def csv_table(rows):
    """The rows (dicts with the same keys) as CSV bytes, a header line first; None becomes an empty cell."""
    lines = [list(rows[0])] + [["" if value is None else value for value in row.values()] for row in rows]
    return "".join(",".join(map(str, line)) + "\r\n" for line in lines).encode("utf-8")


def loss_curve_png(history, out_dir):
    """Train and val loss against step, as PNG bytes."""
    from matplotlib.figure import Figure  # a Figure on its own: no pyplot, no window, no global state

    fig = Figure(figsize=(7, 4), layout="tight")
    ax = fig.subplots(subplot_kw={"xlabel": "step", "ylabel": "cross-entropy loss"})
    steps = [m["step"] for m in history]
    ax.plot(steps, [m["train_loss"] for m in history], marker="o", label="train")
    ax.plot(steps, [m["val_loss"] for m in history], marker="o", label="val")
    ax.set_title(f"BabyGPT: {out_dir}", parse_math=False)  # a folder name, never math: its $ signs stay
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def console_safe_output():
    """Print what the console can show and replace the rest with '?': a GBK console (Chinese Windows)
    lacks a few characters of the corpus, and a run must never die while printing its sample."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a console, a pipe or a file (not a test's stand-in)
            stream.reconfigure(errors="replace")


# The names other code uses for these options (nanoGPT's n_embd, the usual lr and bs), for the hint of a mistyped
# option: --lr gets "did you mean --learning_rate?"; a name a later stage or another tool has is named as absent
OPTION_ALIASES = {
    **dict.fromkeys(["lr", "learningrate", "lrate"], "learning_rate"),
    **dict.fromkeys(["bs", "batch", "batchsize"], "batch_size"),
    **dict.fromkeys(["iters", "steps", "max_steps", "num_steps", "iterations"], "max_iters"),
    **dict.fromkeys(["embed", "n_embd", "d_model", "n_embedding", "hidden_size", "emb"], "n_embed"),
    **dict.fromkeys(["heads", "n_heads", "num_heads"], "n_head"),
    **dict.fromkeys(["layers", "n_layers", "num_layers", "depth"], "n_layer"),
    **dict.fromkeys(["context", "context_length", "seq_len", "ctx", "max_seq_len"], "block_size"),
    **dict.fromkeys(["drop", "dropout_rate", "p_dropout"], "dropout"),
    **dict.fromkeys(["eval_every", "eval_freq"], "eval_interval"),
    **dict.fromkeys(["out", "output_dir", "outdir"], "out_dir"),
    **dict.fromkeys(["temp", "t"], "temperature"),
    **dict.fromkeys(["topk"], "top_k"),
    **dict.fromkeys(["tokens", "n_tokens", "max_tokens", "length"], "max_new_tokens"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message):
        """One line; a mistyped option also gets the real one a learner could have meant: --max_iter: did you mean
        --max_iters? --lr: did you mean --learning_rate? (OPTION_ALIASES)."""
        if message.startswith("unrecognized arguments:"):
            words = message.split()[2:]
            for i, word in enumerate(words):
                if word.startswith("--"):  # given a value (--lr 0.01, --lr=0.01): only options that take one
                    given_a_value = "=" in word or (i + 1 < len(words) and not words[i + 1].startswith("--"))
                    message += self.hint(word.split("=")[0], given_a_value)
        sys.exit(f"{self.prog}: error: {message} (see --help)")

    def hint(self, name, given_a_value):
        """'; --lr: did you mean --learning_rate?', '; --n_heads: babygpt_v1.py has no --n_head', or ''."""
        options = [o for a in self._actions for o in a.option_strings if a.nargs != 0 or not given_a_value]
        key = name[2:].lower().replace("-", "_")
        known = {f"--{o}" for o in OPTION_ALIASES.values()} - set(options)  # elsewhere: a later stage, a tool
        meant = f"--{OPTION_ALIASES.get(key, key)}"
        close = [meant] if meant in options or meant in known else difflib.get_close_matches(meant, options, n=1)
        if not close:
            return ""
        if close[0] in known:
            return f"; {name}: {self.prog} has no {close[0]}"
        return f"; {name}: did you mean {close[0]}?"


DEFAULT_PROMPTS = ["春江", "往事"]


def make_parser():
    parser = OneLineErrorParser(
        description=__doc__.splitlines()[0],
        allow_abbrev=False,  # a mistyped option is an error, never a guess
    )
    for name, (default, meaning) in HYPERPARAMETERS.items():
        parser.add_argument(f"--{name}", type=type(default), default=default, help=f"{meaning} (default: %(default)s)")
    parser.add_argument("--data", default="data/ci.txt", help="training text, any UTF-8 file (default: %(default)s)")
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps (default: %(default)s)",
    )
    parser.add_argument(
        "--prompt",
        action="append",
        help="text to continue after training; repeat for more (default: 春江 and 往事, or the corpus's first word"
        " if it lacks their characters)",
    )
    parser.add_argument(
        "--max_new_tokens", type=int, default=100, help="characters to generate per prompt (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=1337, help="random seed: same seed, same losses on CPU (default: %(default)s)"
    )
    parser.add_argument("--out_dir", default="out/v12", help="run folder for the records (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace the model in an out_dir that holds one")
    parser.add_argument(
        "--wandb_mode",
        default="offline",
        choices=["offline", "online", "disabled"],
        help="offline records locally (upload later with wandb sync); online needs an account (default: %(default)s)",
    )
    parser.add_argument("--wandb_project", default="babygpt", help="wandb project name (default: %(default)s)")
    return parser


def parse_args(argv=None):
    return make_parser().parse_args(argv)  # args.prompt stays None unless --prompt is given


def check_args(args):
    """Refuse values that cannot work, before any time is spent on them."""
    for name in HYPERPARAMETERS:
        value = getattr(args, name)
        if name == "dropout":  # a probability (from v10 on): 0 is allowed, 1 would drop everything
            if not 0 <= value < 1:
                raise ValueError(f"--dropout must be at least 0 and less than 1, got {value}")
        elif not (value > 0 and math.isfinite(value)):
            raise ValueError(f"--{name} must be a positive number, got {value}")
    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be between 0 and 2**63 - 1, got {args.seed}")
    if args.max_new_tokens <= 0:
        raise ValueError(f"--max_new_tokens must be positive, got {args.max_new_tokens}")
    if args.prompt is not None and any(prompt == "" for prompt in args.prompt):
        raise ValueError("--prompt must not be empty: the model needs at least one character to continue")


def choose_prompts(prompts, text, tokenizer, corpus):
    """The prompts to continue after training. A given prompt must use only characters of the corpus
    (refused now, not after training); the default ones give way to the corpus's first word if it lacks them."""
    if prompts is not None:
        for prompt in prompts:
            try:
                tokenizer.encode(prompt)
            except ValueError as e:
                raise ValueError(f"--prompt {prompt!r}: {e} (the vocabulary is the characters of {corpus})") from None
        return prompts
    if all(set(prompt) <= set(tokenizer.vocab) for prompt in DEFAULT_PROMPTS):
        return DEFAULT_PROMPTS
    first_word = text.split(maxsplit=1)[0][:8] if text.strip() else text[0]
    print(f"{corpus} lacks the characters of the default prompts {' '.join(DEFAULT_PROMPTS)}: using {first_word!r}")
    return [first_word]


def setup(args):
    """Everything training needs, from the command-line arguments: device, corpus, tokenizer, train and val
    data, a fresh model. Every problem with the input raises ValueError (one line) before training starts."""
    check_args(args)
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    corpus = find_corpus(args.data)
    text = load_corpus(corpus)
    tokenizer = CharTokenizer("".join(sorted(set(text))))  # every character of the corpus
    args.prompt = choose_prompts(args.prompt, text, tokenizer, corpus)
    data = torch.tensor(tokenizer.encode(text), dtype=torch.long, device=device)
    train_data, val_data = split_data(data, args.block_size)
    model_config = {name: getattr(args, name) for name in MODEL_HYPERPARAMETERS}
    model = BabyGPT(tokenizer.vocab_size, **model_config).to(device)
    return types.SimpleNamespace(
        device=device,
        corpus=corpus,
        text=text,
        tokenizer=tokenizer,
        train_data=train_data,
        val_data=val_data,
        model=model,
        model_config=model_config,
    )


GPU_SIZED_NOTE = (
    "note: a GPU-sized run: hours on a CPU; the CPU command of docs/index.md trains a smaller model in minutes"
)


def too_large_for_a_cpu(n_params, tokens_per_step, max_iters, device):
    """Whether a run on device is one for a GPU: over 1e15 FLOPs to train, about 6 per weight and token (forward
    and backward; Kaplan et al. 2020), on a CPU. The CPU command of docs/index.md is 2e13 and takes minutes."""
    return device.type == "cpu" and 6 * n_params * tokens_per_step * max_iters > 1e15


def run(args, make_recorder=RunRecorder):
    """Run this stage from parsed arguments: set up, train, sample. main() and the tools (babygpt_sweep.py) call it.

    make_recorder(args, model, tokenizer, model_config), if given, is called once, right after setup, and returns
    the run's recorder (babygpt_v12_wandb.RunRecorder is one, and v12's default): recorder.report(metrics) is
    called at every evaluation in place of print_report (returning True stops training there, as a sweep's
    pruner does), and recorder.finish(samples) after sampling. Returns a SimpleNamespace: setup (what setup()
    returned), final (the last metrics reported), samples ([(prompt, text)]) and recorder. Raises ValueError for
    bad input (before training) or a NaN loss, and OSError when the recorder cannot write its files."""
    ready = setup(args)
    recorder = make_recorder(args, ready.model, ready.tokenizer, ready.model_config) if make_recorder else None
    model, tokenizer = ready.model, ready.tokenizer
    n_params = sum(p.numel() for p in model.parameters())
    print(f"corpus {ready.corpus}: {len(ready.text):,} characters, vocabulary size {tokenizer.vocab_size:,}")
    tokens_per_step = args.batch_size * args.block_size
    print(f"model: {n_params:,} parameters | {tokens_per_step:,} tokens per iteration | device {ready.device}")
    if too_large_for_a_cpu(n_params, tokens_per_step, args.max_iters, ready.device):
        print(GPU_SIZED_NOTE)
    final = train(model, ready.train_data, ready.val_data, args, recorder.report if recorder else print_report)
    elapsed, evaluating = format_seconds(final["elapsed_seconds"]), f"{final['eval_fraction']:.0%}"
    print(f"trained {final['step']} steps in {elapsed}, {evaluating} of that time evaluating")

    samples = sample(model, tokenizer, args.prompt, args.max_new_tokens)
    if recorder:
        recorder.finish(samples)
    return types.SimpleNamespace(setup=ready, final=final, samples=samples, recorder=recorder)


def main(argv=None):
    console_safe_output()
    args = parse_args(argv)
    try:  # bad input (found before training starts) and a loss that became NaN: one line each
        run(args)
    except ValueError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:  # Ctrl-C: training stops, with one line instead of a traceback
        print("\ninterrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
    except OSError as e:
        sys.exit(f"error: cannot write the run folder {args.out_dir}: {e.strerror}")


if __name__ == "__main__":
    main()
