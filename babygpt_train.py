r"""BabyGPT trainer: the v12 model trained with nanoGPT's recipe, resumable, and data-parallel with torchrun.

The twelve stages train with the plainest loop there is: AdamW at one learning rate on one batch per step.
This script trains the same model (imported from babygpt_v12_wandb.py, never copied) the way nanoGPT's
train.py does, each ingredient an option that can be switched off, so that bench/measure/recipe.py can measure
what each one buys:

    --warmup_iters, --lr_decay, --min_lr     the learning rate rises linearly, then follows a cosine down to min_lr
    --weight_decay, --beta1, --beta2         AdamW; weight decay on matrices and embeddings, never biases or LayerNorm
    --grad_clip                              rescale a gradient whose norm is larger (0 = off); the norm is logged
    --gradient_accumulation_steps            several micro-batches per update: a larger batch in the same memory
    --dtype, --tf32                          mixed precision (autocast; a gradient scaler for float16), TF32 on CUDA
    --compile, --compile_mode                torch.compile; its compile time is reported apart from the speed;
                                             reduce-overhead replays each step as CUDA graphs (small models on a GPU)
    --attn_implementation                    fused (default: all heads in one matmul and one attention call,
                                             babygpt/fused.py) or stage (v12's own per-head modules)
    --resume RUN_DIR                         continue a run from its checkpoint, to the same losses: its own
                                             settings, device and dtype too, on the same corpus (sha256 checked)

It takes every option of babygpt_v12_wandb.py with the same defaults and writes the same run folder
(metrics.csv, loss_curve.png, samples.txt, checkpoint.pt for babygpt_sample.py, wandb offline), plus
best.pt, the checkpoint with the lowest val loss. Ctrl-C saves a checkpoint before it stops.

Run:   python babygpt_train.py --help                                     (every option)
CPU:   python babygpt_train.py --max_iters 1500 --eval_interval 250 --eval_iters 20 --batch_size 16 \
           --block_size 64 --n_embed 128 --n_head 4 --n_layer 4 --learning_rate 3e-3 --dropout 0.1
       (3x v12's rate: warmup, clipping and the decay make it safe; bench/measure/recipe.py measured it)
GPU:   python babygpt_train.py --compile --compile_mode reduce-overhead
       (v11's full size; bfloat16 and TF32 are the defaults on a GPU; CUDA graphs: docs/speed.md)
Resume:  python babygpt_train.py --resume out/train    (after Ctrl-C or a crash; with a larger --max_iters, to go on)
Several GPUs, one machine:  torchrun --standalone --nproc_per_node=4 babygpt_train.py --compile
Several machines (on each):  torchrun --nnodes=2 --node_rank=R --nproc_per_node=8 \
                                 --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 babygpt_train.py --compile
From Python:  babygpt_train.run(babygpt_train.parse_args(ARGV))  does what the command does (see run(): the sweep's
              trials go through it, watching every evaluation)
"""

import argparse
import contextlib
import dataclasses
import glob
import hashlib
import math
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time
import uuid

import torch
import torch.distributed as dist

import babygpt.fused
import babygpt_v12_wandb as v12
from babygpt.checkpoint import load_checkpoint
from babygpt.errors import first_line
from babygpt_v12_wandb import sample  # noqa: F401  (part of the API the sweep and the tests use)

# ----------------------------------------------------------------------------
# The recipe's options. Defaults: nanoGPT's for a small character model (its shakespeare_char config),
# kept after the ablation in bench/measure/recipe.py.

RECIPE_HYPERPARAMETERS = {
    "warmup_iters": (100, "steps over which the learning rate rises linearly from ~0 to --learning_rate"),
    "weight_decay": (0.1, "AdamW weight decay, on weight matrices and embeddings only (0 = off)"),
    "beta1": (0.9, "AdamW beta1: how much of the previous gradient direction each update keeps"),
    "beta2": (0.99, "AdamW beta2: memory of the squared gradients (v12 uses PyTorch's 0.999)"),
    "grad_clip": (1.0, "rescale the gradient to this norm when it is larger (0 = off)"),
    "gradient_accumulation_steps": (1, "micro-batches per update: the update of one batch this many times larger"),
}
MODEL_HYPERPARAMETERS = v12.MODEL_HYPERPARAMETERS
TRAINING_HYPERPARAMETERS = {**v12.TRAINING_HYPERPARAMETERS, **RECIPE_HYPERPARAMETERS}
HYPERPARAMETERS = {**TRAINING_HYPERPARAMETERS, **MODEL_HYPERPARAMETERS}

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")  # torch.compile's
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# A resumed run keeps all its own settings, read from its checkpoint, the machine options included (as the run
# resolved them: dtype auto -> bfloat16...); these few may be given anew (--max_iters, to train a run further;
# a machine option, to go on elsewhere, said in one line as its losses then differ).
MACHINE_OPTIONS = ("device", "dtype", "compile", "compile_mode", "tf32", "attn_implementation")
CHANGEABLE_ON_RESUME = (
    "max_iters",
    *MACHINE_OPTIONS,
    "data",  # the same text at another path (its sha256 is checked)
    "wandb_mode",
    "wandb_project",
    "prompt",
    "max_new_tokens",
)


RESUME_OPTIONS = ("resume", "overwrite", "allow_corpus_change")  # how to resume, not what the run is

# ----------------------------------------------------------------------------
# Learning-rate schedule: a function of the step, so saving the step saves the schedule


def learning_rate_at(step, hp):
    """Linear warmup over warmup_iters steps, then a cosine from learning_rate down to min_lr at max_iters
    (or learning_rate throughout with --lr_decay none)."""
    if step < hp.warmup_iters:
        return hp.learning_rate * (step + 1) / hp.warmup_iters
    if hp.lr_decay == "none":
        return hp.learning_rate
    min_lr = minimum_learning_rate(hp)
    progress = min(1.0, (step - hp.warmup_iters) / max(1, hp.max_iters - hp.warmup_iters))  # 0 -> 1 after warmup
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (hp.learning_rate - min_lr)


def minimum_learning_rate(hp):
    return hp.learning_rate / 10 if hp.min_lr is None else hp.min_lr


# ----------------------------------------------------------------------------
# Optimizer: weight decay on the 2-D tensors only


def parameter_groups(model, weight_decay):
    """Two AdamW groups. Weight matrices and embeddings (2-D) are decayed: pulling them towards zero keeps
    the model from leaning on a few large weights. Biases and LayerNorm gains (1-D) are not: they shift and
    scale, and decaying them only fights the normalisation."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in parameters if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in parameters if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(model, hp, device):
    """AdamW over parameter_groups(), fused: one kernel updates every tensor, where a plain AdamW runs about
    ten small operations per tensor, and v12 has 22 tensors per layer (each head has its own three matrices);
    bench/measure/train_step.py measures what it buys. Fused AdamW runs on CUDA, and on the CPU from PyTorch 2.4;
    elsewhere the plain one. The same update to float32 rounding."""
    groups = parameter_groups(model, hp.weight_decay)
    options = {"lr": hp.learning_rate, "betas": (hp.beta1, hp.beta2)}
    try:
        return torch.optim.AdamW(groups, **options, fused=True)
    except RuntimeError:  # this device or this PyTorch has no fused AdamW
        return torch.optim.AdamW(groups, **options)


# ----------------------------------------------------------------------------
# Mixed precision


def resolve_dtype(name, device):
    """auto: bfloat16 on a CUDA GPU that has it, float16 on an older one, float32 on CPU and MPS."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def check_dtype(name, device):
    """Refuse a dtype this device cannot train in, by trying it on a tiny layer."""
    if name == "float32":
        return
    if device.type == "cuda" and name == "bfloat16" and not torch.cuda.is_bf16_supported():
        gpu = torch.cuda.get_device_name(device)
        raise ValueError(f"--dtype bfloat16: {gpu} cannot run bfloat16; use --dtype float16 or float32")
    try:  # ones, not a torch.nn.Linear: its random initialisation would change the run's batches and masks
        weight = torch.ones(4, 4, device=device, requires_grad=True)
        with torch.autocast(device.type, dtype=DTYPES[name]):
            torch.nn.functional.linear(torch.ones(2, 4, device=device), weight).float().sum().backward()
    except (RuntimeError, TypeError, AssertionError) as e:
        reason = first_line(e)[:120]
        raise ValueError(f"--dtype {name}: the {device.type} device cannot train in {name} ({reason})") from None


def autocast(device, dtype_name):
    """Matmuls in 16 bits under bfloat16/float16; a context that does nothing under float32."""
    if dtype_name == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[dtype_name])


# ----------------------------------------------------------------------------
# Memory: what training should need, and what it took


def expected_memory(model, batch_size, data_tokens=0, world_size=1, device_type="cpu"):
    """Bytes training should hold at its peak, item by item (the arithmetic of nanoGPT's configuration
    discussion, counted for this model). Weights, gradients and AdamW's two moments are float32: 4 + 4 + 8
    = 16 bytes per parameter. Activations are the tensors the forward pass keeps for the backward pass,
    for one micro-batch, in float32 (autocast keeps many of them in 16 bits: expect less)."""
    n_params = sum(p.numel() for p in model.parameters())
    B, T = batch_size, model.block_size
    C = model.token_embedding_table.embedding_dim
    V = model.lm_head.out_features
    n_layer = len(model.blocks)
    n_head = len(model.blocks[0].attention.heads)
    dropout = model.blocks[0].attention.dropout.p > 0
    mask_bytes = 1 if device_type == "cuda" else 4  # a dropout mask: bool on CUDA, a float32 noise tensor on CPU
    fused = babygpt.fused.attention_implementation(model) == "fused"
    # fused attention keeps no (T, T) weights, only a log-sum-exp per head and token (flash attention), except
    # on the CPU with dropout, where scaled_dot_product_attention computes the weights as the stage does
    flash = fused and (device_type == "cuda" or not dropout)
    # per Block, float32 values kept for each token: ln1's input and output, q, k, v, the heads' concatenation,
    # ln2's input and output (C each), the feed-forward's hidden ReLU output (4C), and each LayerNorm's mean and
    # 1/std; per head, the softmax weights (T values), again after dropout, and dropout's masks
    per_layer = 4 * B * T * (12 * C + 4 + (n_head if flash else n_head * T * (2 if dropout else 1)))
    if dropout:
        per_layer += mask_bytes * B * T * ((0 if flash else n_head * T) + 2 * C)
    if fused:
        per_layer += 4 * 3 * C * C  # the stacked (3C, C) query/key/value matrix, kept for the backward pass
    # ln_f's input, output, mean and 1/std, the logits and their log-softmax (vocab_size values each); token ids
    head = 4 * B * T * (2 * C + 2 + 2 * V) + 16 * B * T
    memory = {
        "weights": 4 * n_params,
        "gradients": 4 * n_params,
        "AdamW moments": 8 * n_params,
        "activations": n_layer * per_layer + head,
    }
    if data_tokens:
        memory["corpus tensor"] = 8 * data_tokens  # int64 token ids
    if world_size > 1:
        memory["DDP gradient buckets"] = 4 * n_params
    return memory


def format_bytes(size):
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:,.1f} {unit}" if unit != "B" else f"{size:,.0f} B"
        size /= 1024
    return f"{size:,.2f} GiB"


def describe_memory(memory):
    items = ", ".join(f"{name} {format_bytes(size)}" for name, size in memory.items())
    return f"{format_bytes(sum(memory.values()))} ({items})"


def measured_peak_memory(device):
    """(bytes, what was measured): the CUDA allocator's peak on a GPU, else the process's peak resident size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "CUDA max_memory_allocated"
    try:
        import resource
    except ImportError:  # Windows
        return None, "not measured on this system"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return peak, "peak resident size of the whole process, PyTorch itself included"


# ----------------------------------------------------------------------------
# Data parallel (torchrun sets RANK, LOCAL_RANK, WORLD_SIZE)


def start_distributed(args):
    """Under torchrun, join the process group (NCCL on CUDA, Gloo on CPU) and give this process its own GPU;
    returns (rank, world_size), (0, 1) without torchrun."""
    if "RANK" not in os.environ:
        return 0, 1
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    use_cuda = torch.cuda.is_available() if args.device == "auto" else args.device.startswith("cuda")
    if args.device.startswith("mps"):
        raise ValueError("torchrun: data-parallel training runs on CUDA GPUs or on the CPU, not on MPS")
    if use_cuda:
        n_gpus = torch.cuda.device_count()
        if local_world_size > n_gpus:
            raise ValueError(
                f"torchrun started {local_world_size} processes on this machine but it has {n_gpus} CUDA GPU(s):"
                f" use --nproc_per_node={n_gpus} or fewer (or --device cpu)"
            )
        args.device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    else:
        args.device = "cpu"
    if not dist.is_initialized():  # (a caller may have joined it already)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return rank, world_size


def distributed():
    return dist.is_available() and dist.is_initialized()


# After a collective on a CPU (gloo), PyTorch's worker thread frees the collective's tensors, and that needs the
# GIL. A process that leaves the group and exits at once can reach the interpreter's shutdown while that thread is
# still waiting for the GIL: the thread is then stopped mid-way and the process aborts ("terminate called without
# an active exception"), after its work is done but with a failed exit status. destroy_process_group() does not
# wait for the thread (PyTorch 2.13). python -m bench torchrun_exit runs the tests' two-process torchrun both ways:
# on a 2-core Intel Xeon VM, 9 of 100 aborted without the pause, none of 100 with it.
GLOO_EXIT_PAUSE = 0.2  # seconds with the GIL released; the waiting thread needs microseconds of it


def leave_process_group():
    """dist.destroy_process_group(), then, on gloo, a pause that lets its worker threads finish (see above)."""
    gloo = dist.get_backend() == "gloo"
    dist.destroy_process_group()
    if gloo:
        time.sleep(GLOO_EXIT_PAUSE)


def rng_state(device):
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def set_rng_state(state, device):
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


# ----------------------------------------------------------------------------
# Training


class TrainingState:
    """What a resumed run needs besides the weights. train() keeps it current; every checkpoint saves it."""

    def __init__(self, checkpoint=None):
        checkpoint = checkpoint or {}
        self.step = checkpoint.get("step", 0)  # optimizer updates done
        self.best_val_loss = checkpoint.get("best_val_loss", math.inf)
        self.improved = False  # the last evaluation gave the best val loss so far
        self.rng_states = checkpoint.get("rng_states")  # one per process
        self.saved_optimizer_state = checkpoint.get("optimizer_state")
        self.saved_scaler_state = checkpoint.get("scaler_state")
        self.history = checkpoint.get("history", [])  # the metrics reported so far
        self.elapsed_seconds = checkpoint.get("elapsed_seconds", 0.0)  # the run's time so far, earlier sittings too
        self.earlier_seconds = self.elapsed_seconds  # the time of the earlier sittings
        self.sittings = checkpoint.get("sittings", 1) + 1 if checkpoint else 1  # this one included
        self.run_id = checkpoint.get("run_id") or uuid.uuid4().hex  # names the run in checkpoint.pt and best.pt
        self.wandb_run_id = checkpoint.get("wandb_run_id")  # so that a resumed run goes on in the same wandb run
        self.corpus_sha256 = checkpoint.get("corpus_sha256")  # what the run trained on (set by setup())
        self.optimizer = self.scaler = None  # set by train()
        self.world_size = 1
        self.compile_seconds = None
        self.stop_requested = False  # set by Ctrl-C; train() stops at the end of the step and saves
        self.saved_on_stop = False

    @property
    def resumed(self):
        return self.saved_optimizer_state is not None

    def checkpoint_fields(self):
        return {
            "trainer": "babygpt_train",
            "optimizer_state": self.optimizer.state_dict(),
            "scaler_state": self.scaler.state_dict() if self.scaler is not None else None,
            "rng_states": self.rng_states,
            "best_val_loss": self.best_val_loss,
            "history": self.history,
            "elapsed_seconds": self.elapsed_seconds,
            "world_size": self.world_size,
            "sittings": self.sittings,
            "run_id": self.run_id,
            "wandb_run_id": self.wandb_run_id,
            "corpus_sha256": self.corpus_sha256,
        }


def train_step(model, optimizer, scaler, micro_batches, grad_clip, autocast_context):
    """One optimizer update from a list of micro-batches (x, y): the same update as one batch made of all of
    them, because each micro-batch's loss is divided by their number and gradients add up. Under DDP the
    gradients are averaged across processes once, on the last micro-batch. Returns (mean loss, gradient norm
    before clipping), as tensors."""
    n_micro = len(micro_batches)
    total_loss = 0.0
    for i, (x, y) in enumerate(micro_batches):
        last = i == n_micro - 1
        sync = contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()
        with sync:
            with autocast_context:
                _, loss = model(x, y)
            loss = loss / n_micro
            (scaler.scale(loss) if scaler is not None else loss).backward()
        total_loss += loss.detach()
    if scaler is not None:
        scaler.unscale_(optimizer)  # true gradients, so that the norm and the clipping mean what they say
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    grad_norm = torch.nn.utils.clip_grad_norm_(parameters, grad_clip if grad_clip > 0 else math.inf)
    if scaler is not None:
        scaler.step(optimizer)  # skipped when float16 overflowed to inf; the scale then shrinks
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total_loss, grad_norm


def compile_model(model, hp, train_data, autocast_context):
    """torch.compile(model), compiled now for training and evaluation, so that the time it takes is counted
    apart from the training speed. The warm-up batch changes neither the weights nor the random state."""
    device = train_data.device
    compiled = torch.compile(model, mode=hp.compile_mode)
    saved_rng = rng_state(device)
    start = time.perf_counter()
    x, y = v12.get_batch(train_data, hp.batch_size, hp.block_size)
    with autocast_context:
        _, loss = compiled(x, y)
    loss.backward()
    model.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad(), autocast_context:
        compiled(x, y)
    model.train()
    v12.synchronize(device)
    set_rng_state(saved_rng, device)
    return compiled, time.perf_counter() - start


def evaluate(model, splits, hp, autocast_context):
    """v12's loss estimate; under DDP every process estimates on its own batches and the means are averaged."""
    with autocast_context:
        losses = v12.estimate_loss(model, splits, hp.eval_iters, hp.batch_size, hp.block_size)
    if distributed():
        both = torch.tensor([losses["train"], losses["val"]], device=splits["train"].device)
        dist.all_reduce(both)
        losses = dict(zip(["train", "val"], (both / dist.get_world_size()).tolist(), strict=True))
    return losses


def gather_rng_states(device):
    """Every process's random state (they differ: each draws its own batches), for the checkpoint."""
    mine = rng_state(device)
    if not distributed():
        return [mine]
    states = [None] * dist.get_world_size()
    dist.all_gather_object(states, {name: t.cpu() if t is not None else None for name, t in mine.items()})
    return states


# Under torchrun, Ctrl-C reaches every process, but not always during the same step: they agree on stopping with an
# all-reduce, which also makes the CPU wait for the GPU. That is done every STOP_CHECK_EVERY steps only, not at every
# step (what that saves: bench/measure/ddp_stop_flag.py), so a Ctrl-C takes effect up to that many steps later.
STOP_CHECK_EVERY = 10


def stop_everywhere(state, device, step):
    """Whether any process was asked to stop: all of them must stop at the same step. Without torchrun, at once;
    under torchrun, every STOP_CHECK_EVERY steps, at the same steps in every process."""
    if not distributed():
        return state.stop_requested
    if step % STOP_CHECK_EVERY:
        return False
    flag = torch.tensor([1.0 if state.stop_requested else 0.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def train(model, train_data, val_data, hp, report, state=None, save=None):
    """nanoGPT's loop for the v12 model. Every eval_interval steps, and at the first and last step, estimate the
    losses and pass them to report(metrics): the stages' metrics with the same meanings (tokens/s and the time
    left at the pace of the interval since the previous evaluation, evaluating left out of tokens/s), the
    learning rate of that step and the gradient norm of the last update. report may return True to stop
    training there, as in the stages (a sweep's pruner does); under torchrun rank 0's answer holds for every
    process. Returns the last metrics reported.

    state: a TrainingState, from a checkpoint to resume a run (default: a fresh run). When state.stop_requested
    becomes true (Ctrl-C), the loop finishes its step, calls save(state) and raises KeyboardInterrupt.
    Under torchrun (torch.distributed initialised) the model is trained with DistributedDataParallel."""
    state = state if state is not None else TrainingState()
    device = train_data.device
    dtype = resolve_dtype(hp.dtype, device)
    amp = autocast(device, dtype)
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if distributed() else (0, 1)
    state.world_size = world_size
    state.optimizer = optimizer = make_optimizer(model, hp, device)
    state.scaler = scaler = torch.amp.GradScaler(device.type) if dtype == "float16" else None
    if state.resumed:
        optimizer.load_state_dict(state.saved_optimizer_state)
        if scaler is not None and state.saved_scaler_state is not None:
            scaler.load_state_dict(state.saved_scaler_state)
    if state.rng_states is not None and len(state.rng_states) == world_size:
        set_rng_state(state.rng_states[rank], device)
    elif state.rng_states is not None:
        print(f"note: checkpoint from {len(state.rng_states)} processes, resumed on {world_size}: other batches")

    training_model = model
    if hp.compile:
        training_model, state.compile_seconds = compile_model(model, hp, train_data, amp)
    if world_size > 1:
        ids = [device.index] if device.type == "cuda" else None
        training_model = torch.nn.parallel.DistributedDataParallel(training_model, device_ids=ids)

    splits = {"train": train_data, "val": val_data}
    tokens_per_step = hp.batch_size * hp.block_size * hp.gradient_accumulation_steps * world_size
    start_step = state.step
    earlier_seconds = state.elapsed_seconds  # a resumed run's clock goes on from where it stopped
    metrics = None
    grad_norm = None  # of the last update
    start = time.perf_counter()
    eval_seconds = 0.0  # time spent evaluating and reporting, kept out of tokens/s
    last = (start_step, 0.0, 0.0)  # step, elapsed and training seconds (this sitting) at the previous evaluation
    for step in range(start_step, hp.max_iters + 1):
        learning_rate = learning_rate_at(step, hp)
        due = step % hp.eval_interval == 0 or step == hp.max_iters
        if due and not (state.resumed and step == start_step):  # a checkpoint is written after its step's estimate
            v12.synchronize(device)
            eval_start = time.perf_counter()
            losses = evaluate(training_model, splits, hp, amp)
            v12.check_losses(losses, step, hp.learning_rate)
            now = time.perf_counter()
            eval_seconds += now - eval_start
            elapsed = now - start
            trained = elapsed - eval_seconds
            (last_step, last_elapsed, last_trained), last = last, (step, elapsed, trained)
            steps = step - last_step  # since the previous evaluation: its pace, on a machine whose load changes
            metrics = {
                "step": step,
                "train_loss": losses["train"],
                "val_loss": losses["val"],
                "val_perplexity": math.exp(losses["val"]) if losses["val"] < 700 else math.inf,
                "learning_rate": learning_rate,
                "tokens_per_second": steps * tokens_per_step / (trained - last_trained) if steps else None,
                "elapsed_seconds": earlier_seconds + elapsed,
                "remaining_seconds": (elapsed - last_elapsed) / steps * (hp.max_iters - step) if steps else None,
                "eval_fraction": eval_seconds / elapsed,
                "grad_norm": grad_norm.item() if grad_norm is not None else None,
            }
            state.step = step
            state.elapsed_seconds = earlier_seconds + elapsed
            state.improved = losses["val"] < state.best_val_loss
            state.best_val_loss = min(state.best_val_loss, losses["val"])
            state.rng_states = gather_rng_states(device)
            stop = report(metrics)
            eval_seconds += time.perf_counter() - now
            if stop:
                return metrics
        if step == hp.max_iters:
            return metrics
        if stop_everywhere(state, device, step):
            state.step = step
            state.elapsed_seconds = earlier_seconds + time.perf_counter() - start
            state.rng_states = gather_rng_states(device)
            if save is not None:
                save(state)
                state.saved_on_stop = True
            raise KeyboardInterrupt
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        micro_batches = [
            v12.get_batch(train_data, hp.batch_size, hp.block_size) for _ in range(hp.gradient_accumulation_steps)
        ]
        _, grad_norm = train_step(training_model, optimizer, scaler, micro_batches, hp.grad_clip, amp)


# ----------------------------------------------------------------------------
# The run folder: v12's, with the training state in every checkpoint and best.pt beside it


def import_wandb(mode):
    """The wandb module, or None with --wandb_mode disabled (imported here: importing this file starts no tracker)."""
    if mode == "disabled":
        return None
    try:
        import wandb
    except ImportError:
        raise ValueError("wandb is not installed: pip install wandb, or --wandb_mode disabled") from None
    return wandb


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colour and cursor codes: ESC [ ... letter


class WithoutColour:
    """A text stream that drops ANSI colour codes on their way to it (wandb colours its lines)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(ANSI_ESCAPE.sub("", text))

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextlib.contextmanager
def plain_text_output():
    """stdout and stderr without colour codes, unless they are a terminal (a log file, a pipe, a test)."""
    with contextlib.ExitStack() as stack:
        for name, redirect in (("stdout", contextlib.redirect_stdout), ("stderr", contextlib.redirect_stderr)):
            stream = getattr(sys, name)
            if not (hasattr(stream, "isatty") and stream.isatty()):
                stack.enter_context(redirect(WithoutColour(stream)))
        yield


class TrainingRecorder(v12.RunRecorder):
    """v12's RunRecorder (metrics.csv, loss_curve.png, samples.txt, checkpoint.pt, wandb). Its checkpoints
    also hold the TrainingState, so that --resume continues the run; best.pt keeps the lowest val loss."""

    def __init__(self, args, model, tokenizer, model_config, state, stage="babygpt_v12_wandb.py"):
        wandb = import_wandb(args.wandb_mode)
        new_folder = not os.path.exists(args.out_dir)
        # v12's recorder, but wandb started here: a resumed run goes on in the run's own wandb run
        no_wandb = argparse.Namespace(**{**vars(args), "wandb_mode": "disabled"})
        super().__init__(no_wandb, model, tokenizer, model_config, stage=stage)
        self.hyperparameters = vars(args).copy()
        self.state = state
        if wandb is not None:
            try:
                with plain_text_output():
                    self.run = wandb.init(
                        project=args.wandb_project,
                        config=self.hyperparameters,
                        mode=args.wandb_mode,
                        dir=args.out_dir,
                        id=state.wandb_run_id,
                        resume="allow" if state.wandb_run_id else None,
                    )
            except Exception as e:  # e.g. --wandb_mode online without `wandb login`
                if new_folder:  # leave nothing behind
                    shutil.rmtree(args.out_dir, ignore_errors=True)
                raise ValueError(f"wandb could not start ({e}); try --wandb_mode offline") from None
            state.wandb_run_id = self.run.id
        self.history = state.history  # a resumed run's metrics.csv goes on from its earlier rows
        if not state.resumed and os.path.exists(self.best_path):  # a best.pt left by a run this one replaces
            os.remove(self.best_path)

    @property
    def best_path(self):
        return os.path.join(self.out_dir, "best.pt")

    def report(self, metrics):
        with naming(os.path.join(self.out_dir, "metrics.csv")):  # checkpoint.pt's own failure is named inside
            super().report(metrics)
        norm = metrics["grad_norm"]
        print(
            f"{'':12}learning rate {metrics['learning_rate']:.2e} | grad norm {'-' if norm is None else f'{norm:.3f}'}"
        )
        if self.state.improved:
            with naming(self.best_path), open(os.path.join(self.out_dir, "checkpoint.pt"), "rb") as f:
                v12.write_atomically(self.best_path, f.read())

    def save_checkpoint(self, path, metrics):
        with naming(path):
            super().save_checkpoint(path, metrics)

    def checkpoint(self, metrics):
        # v12's babygpt-checkpoint-v1 fields, which babygpt_sample.py reads, and the training state
        return {**super().checkpoint(metrics), **self.state.checkpoint_fields()}

    def finish(self, samples):
        curve = os.path.join(self.out_dir, "loss_curve.png")
        before = os.stat(curve).st_mtime_ns if os.path.exists(curve) else None
        try:
            with plain_text_output():  # wandb's closing lines, without colour codes in a log file
                super().finish(samples)
        except OSError as e:  # v12 writes loss_curve.png, then samples.txt: the one still as it was failed
            written = os.path.exists(curve) and os.stat(curve).st_mtime_ns != before
            name_the_file(e, os.path.join(self.out_dir, "samples.txt") if written else curve)
            raise
        if self.run is not None and self.hyperparameters.get("wandb_mode") == "offline":
            print(offline_sync_note(self.out_dir, self.run.id))

    def save_stopped(self, state):
        """Ctrl-C: a checkpoint of the step reached, whatever the last evaluation was."""
        last = state.history[-1] if state.history else {"val_loss": math.nan}
        self.save_checkpoint(os.path.join(self.out_dir, "checkpoint.pt"), {**last, "step": state.step})


RunRecorder = TrainingRecorder  # the name a stage gives its recorder: what a sweep's trial records a run with


def name_the_file(error, path):
    """Put path on an OSError that names no file, or only write_atomically's temporary one: a write() that fails
    (a full disk) names none."""
    if not error.filename or str(error.filename).endswith(".tmp"):
        error.filename = path


@contextlib.contextmanager
def naming(path):
    """An OSError of the block names path (name_the_file)."""
    try:
        yield
    except OSError as e:
        name_the_file(e, path)
        raise


def cannot_write(error, out_dir):
    """The one line a run ends with when a file of its run folder cannot be written (a full disk, as v12 says for
    its own folder): which file, why, and that the last good checkpoint is kept (written atomically: a failed
    write leaves the one before it whole), with the command that goes on from it."""
    where = error.filename or out_dir
    checkpoint = os.path.join(out_dir, "checkpoint.pt")
    kept = (
        f"the last good checkpoint {checkpoint} is kept: free some space, then continue with --resume {out_dir}"
        if os.path.exists(checkpoint)
        else "no checkpoint was written yet: free some space, then run the same command again"
    )
    return f"error: cannot write {where}: {error.strerror or first_line(error)}; {kept}"


def offline_sync_note(out_dir, run_id):
    """How to upload an offline run, every sitting of it, as one wandb run. Offline, wandb cannot resume: each
    sitting (the first, and each --resume) writes its own folder OUT_DIR/wandb/offline-run-DATE-ID, all with the
    run's id and the steps following on; wandb's closing line names only this sitting's folder. `wandb sync --id
    ID` with all of them uploads them one after another, in order of start time, into the one run ID."""
    pattern = f"{shlex.quote(os.path.join(out_dir, 'wandb'))}/offline-run-*-{run_id}"
    sittings = len(glob.glob(os.path.join(glob.escape(os.path.join(out_dir, "wandb")), f"offline-run-*-{run_id}")))
    command = f"wandb sync --id {run_id} {pattern}"
    if sittings > 1:
        return (
            f"wandb (offline): this run's {sittings} sittings are {sittings} folders with the run id {run_id};"
            f" upload them together, as one run, with: {command}"
        )
    return f"wandb (offline): upload with: {command} (after a --resume it uploads every sitting as one run)"


# ----------------------------------------------------------------------------
# Command line


def make_parser():
    """v12's parser (every option, v12's defaults) plus the recipe."""
    parser = v12.make_parser()
    parser.description = __doc__.splitlines()[0]
    parser.set_defaults(out_dir="out/train")
    recipe = parser.add_argument_group("the nanoGPT recipe (each ingredient can be switched off)")
    for name, (default, meaning) in RECIPE_HYPERPARAMETERS.items():
        recipe.add_argument(f"--{name}", type=type(default), default=default, help=f"{meaning} (default: %(default)s)")
    recipe.add_argument(
        "--lr_decay",
        choices=["cosine", "none"],
        default="cosine",
        help="after warmup: cosine down to --min_lr at max_iters, or none (constant) (default: %(default)s)",
    )
    recipe.add_argument(
        "--min_lr",
        type=float,
        default=None,
        help="the learning rate at the end of the cosine (default: learning_rate/10)",
    )
    recipe.add_argument(
        "--dtype",
        choices=["auto", *DTYPES],
        default="auto",
        help="precision of the forward pass: bfloat16/float16 under autocast (float16 with a gradient scaler);"
        " auto = bfloat16 on a CUDA GPU that has it, float16 on an older one, float32 elsewhere (default: %(default)s)",
    )
    recipe.add_argument(
        "--tf32",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="on CUDA, float32 matmuls in TensorFloat-32 (10-bit mantissa, much faster on Ampere and later)"
        " (default: on)",
    )
    recipe.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="torch.compile the model (needs a C++ compiler on CPU); the compile time is reported apart (default: off)",
    )
    recipe.add_argument(
        "--compile_mode",
        choices=COMPILE_MODES,
        default="default",
        help="torch.compile's mode, with --compile. default: fused kernels; reduce-overhead: the same, and each"
        " step's kernels replayed as CUDA graphs, launched by the CPU in one call instead of hundreds (a small"
        " model on a fast GPU waits for the CPU to launch its kernels: bench/measure/gpu.py measures what this buys);"
        " max-autotune: what reduce-overhead does, and more kernel variants timed, compiling for minutes;"
        " max-autotune-no-cudagraphs: the same without CUDA graphs (default: %(default)s)",
    )
    babygpt.fused.add_attention_option(recipe)
    recipe.add_argument(
        "--allow_corpus_change",
        action="store_true",
        help="with --resume: go on although the corpus is not the text the run trained on (its sha256 differs);"
        " it must have the same characters, and the train/val split, so the losses, then differ",
    )
    recipe.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its checkpoint.pt: its settings (device and dtype too), weights,"
        " optimizer, step and random state; only "
        + ", ".join(f"--{name}" for name in CHANGEABLE_ON_RESUME)
        + " may be given anew",
    )
    return parser


def parse_args(argv=None):
    return make_parser().parse_args(argv)  # args.prompt stays None unless --prompt is given


def check_recipe_args(args):
    """Refuse recipe values that cannot work, before any time is spent on them."""
    if args.gradient_accumulation_steps <= 0:
        raise ValueError(f"--gradient_accumulation_steps must be at least 1, got {args.gradient_accumulation_steps}")
    if args.warmup_iters < 0:
        raise ValueError(f"--warmup_iters must be 0 or more, got {args.warmup_iters}")
    for name in ("weight_decay", "grad_clip"):
        value = getattr(args, name)
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"--{name} must be 0 (off) or a positive number, got {value}")
    for name in ("beta1", "beta2"):
        value = getattr(args, name)
        if not 0 <= value < 1:
            raise ValueError(f"--{name} must be at least 0 and less than 1, got {value}")
    if args.min_lr is not None and not (args.min_lr >= 0 and math.isfinite(args.min_lr)):
        raise ValueError(f"--min_lr must be 0 or a positive number, got {args.min_lr}")


def schedule_notes(hp):
    """One line for each way the learning-rate schedule is not what its options suggest, said at the start."""
    notes = []
    if hp.warmup_iters >= hp.max_iters:
        notes.append(
            f"note: the run is all warmup (--warmup_iters {hp.warmup_iters}, --max_iters {hp.max_iters}): the learning"
            f" rate only rises, to {learning_rate_at(hp.max_iters - 1, hp):.2e} at the last step, and never decays;"
            f" a smaller --warmup_iters (e.g. {max(1, hp.max_iters // 10)}) gives warmup then decay"
        )
    if hp.lr_decay == "cosine" and minimum_learning_rate(hp) > hp.learning_rate:
        notes.append(
            f"note: --min_lr {hp.min_lr:g} is above --learning_rate {hp.learning_rate:g}: after warmup the rate"
            " rises to it instead of decaying"
        )
    return notes


def compile_notes(hp):
    """A line when --compile_mode cannot do what it says: without --compile, or CUDA graphs off a CUDA GPU."""
    if hp.compile_mode != "default" and not hp.compile:
        return [f"note: --compile_mode {hp.compile_mode} does nothing without --compile"]
    if hp.compile and hp.compile_mode in ("reduce-overhead", "max-autotune") and not hp.device.startswith("cuda"):
        device = "the CPU" if hp.device.startswith("cpu") else hp.device
        return [
            f"note: CUDA graphs need a CUDA GPU: on {device}, --compile_mode {hp.compile_mode} compiles without them"
        ]
    return []


def read_resume_checkpoint(run_dir):
    """The checkpoint of a babygpt_train.py run folder, checked; ValueError (one line) otherwise."""
    path = os.path.join(run_dir, "checkpoint.pt")
    if not os.path.isdir(run_dir):
        raise ValueError(f"--resume {run_dir}: no such run folder")
    if not os.path.exists(path):
        raise ValueError(f"--resume {run_dir}: it holds no checkpoint.pt, so there is nothing to resume")
    _, _, checkpoint = load_checkpoint(path, "cpu")  # refuses a truncated, damaged or foreign file
    missing = [key for key in ("optimizer_state", "rng_states", "history") if key not in checkpoint]
    if missing:
        raise ValueError(
            f"--resume {run_dir}: its checkpoint has no {', '.join(missing)} (written by babygpt_v12_wandb.py?);"
            " only a run of babygpt_train.py can be resumed"
        )
    return checkpoint


def given_options(argv):
    """The names of the options that argv names (the others take their defaults)."""
    parser = make_parser()
    # parse over a namespace that already holds every option as None, so that argparse fills in no default:
    # what is not None afterwards was named
    blank = argparse.Namespace(**dict.fromkeys(vars(parser.parse_args([]))))
    return {name for name, value in vars(parser.parse_args(argv, blank)).items() if value is not None}


def resume_arguments(args, given):
    """The arguments of the run being resumed: its own, from its checkpoint, with the few that may change
    (CHANGEABLE_ON_RESUME) taken from args when they are in given (the names the command line named). Any
    other option given anew with another value is refused."""
    checkpoint = read_resume_checkpoint(args.resume)
    saved = checkpoint["hyperparameters"]
    given = {name: getattr(args, name) for name in given}
    for name, value in given.items():
        if name not in (*CHANGEABLE_ON_RESUME, *RESUME_OPTIONS) and name in saved and saved[name] != value:
            what = "model size" if name in MODEL_HYPERPARAMETERS else "setting"
            raise ValueError(
                f"--{name} {value}: the run in {args.resume} has {name} = {saved[name]}; a resumed run keeps its"
                f" {what} (start a new run with another --out_dir to change it)"
            )
    kept = {name: value for name, value in saved.items() if name in vars(args)}  # the machine options too
    resumed = argparse.Namespace(**{**vars(args), **kept, **given})
    if "device" not in given and "RANK" not in os.environ:  # (under torchrun each process takes its own)
        try:
            v12.pick_device(resumed.device)
        except ValueError as e:
            raise ValueError(f"{e} (the run's device; pass --device to continue it on another)") from None
    resumed.out_dir, resumed.overwrite = args.resume, True
    if checkpoint["step"] >= resumed.max_iters:
        raise ValueError(
            f"--resume {args.resume}: the run already reached step {checkpoint['step']} of --max_iters"
            f" {resumed.max_iters}; pass a larger --max_iters to train it further"
        )
    return resumed, checkpoint


def setup(args, checkpoint=None):
    """v12's setup (device, corpus, tokenizer, data, model) after the recipe's own checks; with the checkpoint
    of a run to resume, its weights, after checking that its vocabulary is this corpus's."""
    v12.check_args(args)
    check_recipe_args(args)
    run = v12.setup(args)
    check_dtype(resolve_dtype(args.dtype, run.device), run.device)
    if run.device.type == "cuda" and args.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True  # float32 matmuls on tensor cores
        torch.backends.cudnn.allow_tf32 = True
    run.corpus_sha256 = hashlib.sha256(run.text.encode("utf-8")).hexdigest()  # what the model reads, hashed
    if checkpoint is not None:
        if checkpoint["vocab"] != run.tokenizer.vocab:
            raise ValueError(
                f"the checkpoint's vocabulary ({len(checkpoint['vocab']):,} characters) is not that of {run.corpus}"
                f" ({run.tokenizer.vocab_size:,}): the corpus changed since the run started"
            )
        trained_on = checkpoint.get("corpus_sha256")  # (None in a checkpoint older than this check)
        if trained_on not in (None, run.corpus_sha256) and not args.allow_corpus_change:
            raise ValueError(
                f"{run.corpus} is not the corpus the run trained on (sha256 {run.corpus_sha256[:12]}..., the run's"
                f" {trained_on[:12]}...): its train/val split would differ; pass --allow_corpus_change to go on"
                " with it all the same"
            )
        run.model.load_state_dict(checkpoint["model_state"])
    babygpt.fused.set_attention(run.model, args.attn_implementation)  # the same parameters either way
    return run


def resolve_machine_options(args, device, world_size, checkpoint=None, given=()):
    """Write into args the machine options this run really uses, so that its checkpoint records them and a
    resumed run keeps them: the dtype "auto" stands for, the device (its type only under torchrun, where each
    process has its own). Returns, for a resumed run, the options given anew that differ from the run's own,
    as "--name value (the run: value)"."""
    args.dtype = resolve_dtype(args.dtype, device)
    if world_size > 1:
        args.device = device.type
    elif device.type == "cuda" and device.index is None:
        args.device = f"cuda:{torch.cuda.current_device()}"
    else:
        args.device = str(device)
    saved = checkpoint["hyperparameters"] if checkpoint is not None else {}
    compiled = args.compile or saved.get("compile")  # (--compile_mode changes nothing where neither sitting compiles)
    return [
        f"--{name} {getattr(args, name)} (the run: {saved[name]})"
        for name in MACHINE_OPTIONS
        if name in given and saved.get(name, "auto") != "auto" and saved[name] != getattr(args, name)
        if name != "compile_mode" or compiled
    ]


def stop_on_signal(state):
    """Ctrl-C (or SIGTERM) asks the loop to stop after its step and save; a second Ctrl-C stops at once."""

    def handler(signum, frame):
        if state.stop_requested:
            raise KeyboardInterrupt
        state.stop_requested = True
        when = f"within {STOP_CHECK_EVERY} steps" if distributed() else "after this step"
        print(f"\nstopping {when} to save a checkpoint (Ctrl-C again to quit without saving)", flush=True)

    if threading.current_thread() is not threading.main_thread():  # (signals reach the main thread only)
        return lambda: None
    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(signum, old) for signum, old in previous.items()]


@dataclasses.dataclass
class TrainingResult:
    """What run() gives back: the run folder, the last evaluation's metrics, every evaluation's metrics
    (earlier sittings too), the samples [(prompt, prompt + completion)] (on rank 0; [] on the others),
    the number of parameters and the best val loss."""

    out_dir: str
    final: dict
    history: list
    samples: list
    parameters: int
    best_val_loss: float


def agree(problem):
    """Under torchrun, every process learns whether any of them met a problem, and all stop with the first
    one (by rank): a process that went on alone would wait forever in the first collective. Without
    torchrun, the problem (if any) is simply raised."""
    if not distributed():
        if problem is not None:
            raise problem
        return
    problems = [None] * dist.get_world_size()
    dist.all_gather_object(problems, None if problem is None else first_line(problem))
    if problem is not None:
        raise problem  # this process's own, with its traceback if it is not a ValueError
    first = next((p for p in problems if p is not None), None)
    if first is not None:
        raise ValueError(first)


def run(args, given=None, make_recorder=None):
    """Run the trainer from parsed arguments: everything `python babygpt_train.py ARGS` does after parsing
    (join torchrun's process group, resume, set up, train, sample, record), callable in-process.
    babygpt_sweep.py runs each trial of a sweep over babygpt_train.py through it.

    args: from parse_args(argv); left as they are (run() works on a copy).
    given: the names of the options the command line named (given_options(argv)). It matters with
        --resume only: a named option replaces the run's own value. Default: the options whose value differs
        from the parser's default.
    make_recorder(args, model, tokenizer, model_config, state): the run's recorder, as a stage's run() takes one
        (default: TrainingRecorder, i.e. RunRecorder; a sweep's trial passes a subclass). On rank 0 its
        report(metrics) is called at every evaluation, once the run folder holds it (metrics.csv, checkpoint.pt,
        best.pt when it improved): metrics are the stages' (step, train_loss, val_loss, val_perplexity,
        learning_rate, tokens_per_second, elapsed_seconds, remaining_seconds, eval_fraction) and grad_norm.
        Returning True stops training at that step, as in the stages (Optuna's pruning): the run folder is
        finished as after a whole run (loss_curve.png, samples.txt from the model of that step), and its
        checkpoint.pt can be continued with --resume.

    The run folder is args.out_dir (args.resume when resuming): metrics.csv, loss_curve.png, samples.txt,
    checkpoint.pt (the training state too) and best.pt (the lowest val loss), as the command line writes it.

    Returns a TrainingResult. Raises ValueError, one line, for input it refuses (before anything is written;
    under torchrun every process raises it), and when the loss becomes NaN; KeyboardInterrupt after Ctrl-C
    (with the checkpoint saved when it could be). Under torchrun it joins the process group and leaves it.
    """
    args = argparse.Namespace(**vars(args))
    if given is None:
        defaults = vars(parse_args([]))
        given = {name for name, value in vars(args).items() if value != defaults.get(name)}
    checkpoint = problem = None
    if args.resume:  # first, as the run's own options (its device) decide how to start
        try:
            args, checkpoint = resume_arguments(args, given)
        except ValueError as e:
            problem = e  # raised once every process knows (agree())
    joined_here = not distributed()
    rank, world_size = start_distributed(args)  # a ValueError here is the same in every process of a machine
    try:
        with contextlib.ExitStack() as stack:
            if rank != 0:  # only rank 0 prints
                stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
            return train_and_record(
                args, checkpoint, problem, given, make_recorder or TrainingRecorder, rank, world_size
            )
    finally:
        if joined_here and distributed():
            leave_process_group()


def train_and_record(args, checkpoint, problem, given, make_recorder, rank, world_size):
    """run()'s work once the process group is joined."""
    try:  # every problem with the input is found before training starts, in every process
        if problem is not None:
            raise problem
        job = setup(args, checkpoint)
        changed = resolve_machine_options(args, job.device, world_size, checkpoint, given)
        if world_size > 1:
            torch.manual_seed(args.seed + rank)  # each process draws its own batches
        state = TrainingState(checkpoint)
        state.corpus_sha256 = job.corpus_sha256
    except Exception as e:
        problem = e
    agree(problem)
    recorder = None
    try:  # then rank 0 makes the run folder and starts wandb, which may fail too
        if rank == 0:
            recorder = make_recorder(args, job.model, job.tokenizer, job.model_config, state)
    except OSError as e:
        problem = ValueError(f"cannot write the run folder {args.out_dir}: {e.strerror}")
    except Exception as e:
        problem = e
    agree(problem)
    for note in [*schedule_notes(args), *compile_notes(args)]:
        print(note)
    if checkpoint is not None and checkpoint.get("corpus_sha256") not in (None, job.corpus_sha256):
        print(f"note: resuming on another corpus than the run's (--allow_corpus_change): {job.corpus}")
    if changed:
        print(
            f"note: this sitting runs with {', '.join(changed)}: its losses will not be exactly those of the run"
            " going on as it was"
        )

    model, tokenizer, device = job.model, job.tokenizer, job.device
    dtype = resolve_dtype(args.dtype, device)
    n_params = sum(p.numel() for p in model.parameters())
    decayed, not_decayed = (group["params"] for group in parameter_groups(model, args.weight_decay))
    print(f"corpus {job.corpus}: {len(job.text):,} characters, vocabulary size {tokenizer.vocab_size:,}")
    print(
        f"model: {n_params:,} parameters | weight decay {args.weight_decay:g} on {len(decayed)} matrices and"
        f" embeddings ({sum(p.numel() for p in decayed):,}), none on {len(not_decayed)} biases and LayerNorm"
        f" tensors ({sum(p.numel() for p in not_decayed):,})"
    )
    tokens = args.batch_size * args.block_size * args.gradient_accumulation_steps * world_size
    print(
        f"tokens per iteration: {tokens:,} = batch {args.batch_size} x block {args.block_size} x accumulation"
        f" {args.gradient_accumulation_steps} x processes {world_size} | device {device} | dtype {dtype}"
        f" | attention {args.attn_implementation}" + (" | TF32 on" if device.type == "cuda" and args.tf32 else "")
    )
    data_tokens = len(job.train_data) + len(job.val_data)
    memory = expected_memory(model, args.batch_size, data_tokens, world_size, device.type)
    print(f"expected memory: {describe_memory(memory)}")
    if v12.too_large_for_a_cpu(n_params, tokens, args.max_iters - state.step, device):
        print(v12.GPU_SIZED_NOTE)
    if state.resumed:
        print(f"resuming {args.out_dir} at step {state.step} (best val loss so far {state.best_val_loss:.4f})")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    peak_before, _ = measured_peak_memory(device)  # on CPU: the process so far, PyTorch itself and the corpus

    def report(metrics):
        """The recorder's answer (True: stop here), rank 0's in every process under torchrun."""
        stop = bool(recorder.report(metrics)) if recorder is not None else False
        if distributed():
            answer = [stop]
            dist.broadcast_object_list(answer, src=0)
            stop = answer[0]
        return stop

    def result(samples):
        final = state.history[-1] if state.history else {}
        return TrainingResult(args.out_dir, final, state.history, samples, n_params, state.best_val_loss)

    def finish():
        samples = v12.sample(model, tokenizer, args.prompt, args.max_new_tokens) if rank == 0 else []
        if recorder is not None:
            recorder.finish(samples)
        return result(samples)

    save = recorder.save_stopped if recorder is not None else None
    restore_signals = stop_on_signal(state)
    try:
        final = train(model, job.train_data, job.val_data, args, report, state, save)
    except KeyboardInterrupt:
        if state.saved_on_stop:
            print(f"stopped at step {state.step}; checkpoint saved: continue with --resume {args.out_dir}")
        else:
            print(
                f"stopped; the last checkpoint in {args.out_dir} is from step {state.history[-1]['step']}"
                if state.history
                else "stopped before the first checkpoint"
            )
        raise
    finally:
        restore_signals()

    print(sittings_summary(state, checkpoint["step"] if checkpoint else 0, final))
    if state.compile_seconds is not None:
        print(f"torch.compile took {state.compile_seconds:.1f} s before training (not counted in tokens/s)")
    peak, what = measured_peak_memory(device)
    if peak is None:
        print(f"measured peak memory: {what}")
    else:
        grown = f"; {format_bytes(peak - peak_before)} more than before training" if device.type != "cuda" else ""
        print(f"measured peak memory: {format_bytes(peak)} ({what}{grown})")
    outcome = finish()
    if recorder is not None:
        print(f"best val loss {state.best_val_loss:.4f}: {recorder.best_path}")
    return outcome


def sittings_summary(state, first_step, final):
    """What this sitting trained, and for a resumed run what the whole run did, in one line."""
    evaluating = f"{final['eval_fraction']:.0%}"  # of this sitting's time
    this_sitting = final["elapsed_seconds"] - state.earlier_seconds
    if state.sittings == 1:
        return (
            f"trained {final['step']} steps in {v12.format_seconds(this_sitting)}, {evaluating} of that time evaluating"
        )
    return (
        f"trained steps {first_step} to {final['step']} in {v12.format_seconds(this_sitting)} in this sitting,"
        f" {evaluating} of it evaluating; the whole run: {final['step']} steps in"
        f" {v12.format_seconds(final['elapsed_seconds'])} over {state.sittings} sittings"
    )


def main(argv=None):
    """python babygpt_train.py ARGS: parse, run(), and any refusal in one line."""
    v12.console_safe_output()
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        run(args, given_options(argv))
    except ValueError as e:  # under torchrun: one line per machine, from its first process
        sys.exit(f"error: {e}" if int(os.environ.get("LOCAL_RANK", 0)) == 0 else 1)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as e:  # a full disk, a run folder taken away: rank 0 writes the run folder
        sys.exit(cannot_write(e, args.resume or args.out_dir))


if __name__ == "__main__":
    main()
