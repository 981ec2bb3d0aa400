"""Why a GPU step of babygpt_train.py takes as long as it does: the same step with v12's model and with nanoGPT's.

    python -m bench gpu_step --nanogpt /tmp/nanogpt    # on a CUDA GPU, about a minute
    python -m bench gpu_step --tiny                    # on a CPU at a tiny size, in seconds: checks the script

The model at v12's full size (6 layers, 6 heads, n_embed 384, block 256, batch 64, dropout 0.2), bfloat16,
one process. Every step is babygpt_train.train_step, the trainer's own (AdamW fused, clipping at 1.0), on
batches of the corpus; only the model changes: v12's with the fused attention path (174 parameter tensors:
every head its own query, key and value, a bias in every linear layer), or, with --nanogpt PATH, nanoGPT's
GPT class from that checkout at the same sizes (39 tensors: one q/k/v matrix per layer, no biases). Each,
eager and under torch.compile, runs 20 warm-up steps and then --steps timed ones, and prints:

    ms/step and tokens/s       wall time of the timed steps, the GPU synchronised before and after them
    CPU issued in              the time the Python process took to issue those steps, without waiting for
                               the GPU at the end: when it equals ms/step, the step waits for the CPU to
                               launch its kernels, not for the GPU to run them
    tensors                    the model's parameter tensors

One more row times the compiled v12 model without the optimizer and clipping (forward and backward only).
For two rows (three with --nanogpt) torch.profiler records 10 more steps and writes its tables to --out
(prof_NAME.txt); their footer "Self CUDA time total" is the GPU's own kernel time for those 10 steps.
"""

import os
import sys
import time
import types

from bench.runs import ROOT, TINY_SHAKESPEARE, bench_parser, corpus_path, machine_description


def parse_args(argv=None):
    parser = bench_parser(__doc__, "data/shakespeare.txt", epilog=True)
    parser.add_argument("--nanogpt", metavar="PATH", help="a nanoGPT checkout: its model, side by side")
    parser.add_argument("--steps", type=int, default=150, help="timed steps per row (default: %(default)s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "bench_gpu_step"), help="profile tables' folder")
    parser.add_argument("--tiny", action="store_true", help="a tiny size on the CPU, float32 math, no compile")
    args = parser.parse_args(argv)
    if args.steps <= 0:
        parser.error("--steps must be positive")
    if args.nanogpt is not None and not os.path.isfile(os.path.join(args.nanogpt, "model.py")):
        parser.error(f"--nanogpt {args.nanogpt}: no model.py there; give the folder of a nanoGPT checkout")
    args.data = corpus_path(args.data, TINY_SHAKESPEARE)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        parser.error(f"--out {args.out}: {e.strerror}")
    return args


class Bench:
    """The corpus on the device, the optimizer's settings and one measure() per row."""

    def __init__(self, args):
        import torch

        import babygpt_train as trainer
        import babygpt_v12_wandb as v12

        self.torch, self.trainer, self.v12, self.args = torch, trainer, v12, args
        if not args.tiny and not torch.cuda.is_available():
            sys.exit("error: no CUDA GPU here; python -m bench gpu_step --tiny checks the script on a CPU")
        self.device = torch.device("cpu" if args.tiny else "cuda")
        with open(args.data, encoding="utf-8") as f:
            text = f.read()
        self.chars = sorted(set(text))
        stoi = {c: i for i, c in enumerate(self.chars)}
        self.data = torch.tensor([stoi[c] for c in text], dtype=torch.long, device=self.device)
        self.hp = types.SimpleNamespace(weight_decay=0.1, learning_rate=1e-3, beta1=0.9, beta2=0.99)
        self.amp = trainer.autocast(self.device, "float32" if args.tiny else "bfloat16")
        self.batch, self.block, self.n_embed = (4, 32, 48) if args.tiny else (64, 256, 384)

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def babygpt(self):
        import babygpt.fused

        self.torch.manual_seed(0)
        model = self.v12.BabyGPT(len(self.chars), self.block, self.n_embed, 6, 6, 0.2).to(self.device)
        babygpt.fused.set_attention(model, "fused")
        return model

    def nanogpt(self):
        sys.path.insert(0, self.args.nanogpt)
        from model import GPT, GPTConfig

        self.torch.manual_seed(0)
        config = GPTConfig(self.block, len(self.chars), 6, 6, self.n_embed, dropout=0.2, bias=False)
        return GPT(config).to(self.device)

    def batches(self):
        # contiguous, as nanoGPT's model views its targets; the trainer passes views of one gathered window
        return [tuple(t.contiguous() for t in self.v12.get_batch(self.data, self.batch, self.block))]

    def full_step(self, model, optimizer):
        return self.trainer.train_step(model, optimizer, None, self.batches(), 1.0, self.amp)

    def forward_backward(self, model, optimizer):
        (x, y) = self.batches()[0]
        with self.amp:
            _, loss = model(x, y)
        loss.backward()
        optimizer.zero_grad(set_to_none=True)

    def measure(self, name, make, compiled=False, step=None, profile=False):
        torch = self.torch
        step = step or self.full_step
        model = make()
        optimizer = self.trainer.make_optimizer(model, self.hp, self.device)
        run = torch.compile(model) if compiled else model
        start = time.perf_counter()
        for _ in range(20):
            step(run, optimizer)
        self.sync()
        warm = time.perf_counter() - start
        n = self.args.steps
        start = time.perf_counter()
        for _ in range(n):
            step(run, optimizer)
        issued = time.perf_counter() - start
        self.sync()
        wall = time.perf_counter() - start
        tensors = sum(1 for _ in model.parameters())
        tokens = self.batch * self.block * n / wall
        print(
            f"{name:36s} {wall / n * 1e3:6.2f} ms/step {tokens:12,.0f} tokens/s"
            f"  (CPU issued in {issued / n * 1e3:.2f} ms/step; warm-up {warm:.0f} s; {tensors} tensors)",
            flush=True,
        )
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as profiler

            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.device.type == "cuda" else [])
            with profiler(activities=activities) as recorded:
                for _ in range(10):
                    step(run, optimizer)
                self.sync()
            averages = recorded.key_averages()
            sort = "self_device_time_total" if self.device.type == "cuda" else "self_cpu_time_total"
            path = os.path.join(self.args.out, f"prof_{name.replace(' ', '_').replace(',', '')}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(averages.table(sort_by=sort, row_limit=25) + "\n\n")
                f.write(averages.table(sort_by="self_cpu_time_total", row_limit=25) + "\n")


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    print(f"machine: {machine_description()}", flush=True)
    bench.measure("babygpt fused eager", bench.babygpt, profile=True)
    if args.nanogpt:
        bench.measure("nanogpt eager", bench.nanogpt)
    if args.tiny:  # no compiling on the CPU: it needs a C++ compiler and minutes
        return
    bench.measure("babygpt fused compile", bench.babygpt, compiled=True, profile=True)
    bench.measure("babygpt fused compile fwd+bwd only", bench.babygpt, compiled=True, step=bench.forward_backward)
    if args.nanogpt:
        bench.measure("nanogpt compile", bench.nanogpt, compiled=True, profile=True)


if __name__ == "__main__":
    main()
