"""Generation speed: babygpt_sample.py's KV cache against full recompute (--no_cache), in one run.

    python -m bench sample                                   # untrained model of v12's default size, CPU
    python -m bench sample --checkpoint out/v12/checkpoint.pt
    python -m bench sample --rounds 1 --max_new_tokens 200   # quicker

Greedy decoding of max_new_tokens tokens from a short prompt, the two paths alternated round by
round (so a busy machine slows both alike), and the median of the rounds reported. Speed does not
depend on the weights, so an untrained model is fine. The table splits the run where the text
outgrows block_size: before, the cache runs one token per step; after, the window slides, every
position changes, and the cache is rebuilt over the window at every step (as costly as a full
forward). The bench also checks that both paths chose the same tokens. Paste the table into the
README with the machine line printed above it.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import torch

from babygpt.checkpoint import load_checkpoint
from babygpt.sampling import CachedBabyGPT, CachedContext, FullRecomputeContext, generate_tokens
from babygpt_v12_wandb import MODEL_HYPERPARAMETERS, BabyGPT, pick_device, synchronize


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--checkpoint", help="time this checkpoint's model (default: an untrained v12-default model)")
    parser.add_argument(
        "--vocab_size", type=int, default=6000, help="vocabulary of the untrained model (default: %(default)s)"
    )
    parser.add_argument("--max_new_tokens", type=int, default=500, help="tokens per run (default: %(default)s)")
    parser.add_argument("--prompt_length", type=int, default=2, help="tokens in the prompt (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path, alternated (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default: %(default)s)")
    return parser.parse_args(argv)


def timed_run(context_for, prompt, max_new_tokens, device):
    """Greedy tokens (1, max_new_tokens) and the seconds elapsed when each of them was chosen."""
    synchronize(device)
    start = time.perf_counter()
    tokens, seconds = [], []
    for next_id in generate_tokens(context_for(prompt), max_new_tokens, temperature=0):
        tokens.append(next_id.item())  # .item() waits for the device, so the time is honest
        seconds.append(time.perf_counter() - start)
    return tokens, seconds


def main(argv=None):
    args = parse_args(argv)
    device = pick_device(args.device)
    if args.checkpoint:
        model, _, _ = load_checkpoint(args.checkpoint, device)
        what = args.checkpoint
    else:
        torch.manual_seed(0)
        config = {name: default for name, (default, _) in MODEL_HYPERPARAMETERS.items()}
        model = BabyGPT(args.vocab_size, **config).to(device).eval()
        what = "untrained, v12 defaults"
    block_size = model.block_size
    vocab_size = model.lm_head.out_features
    prompt = torch.randint(vocab_size, (1, args.prompt_length), generator=torch.Generator().manual_seed(1)).to(device)
    cached_model = CachedBabyGPT(model)
    paths = {
        "full recompute (--no_cache)": lambda idx: FullRecomputeContext(model, idx),
        "KV cache (default)": lambda idx: CachedContext(cached_model, idx),
    }
    # token k (1-based) is chosen from a context of prompt_length + k - 1 tokens: it fits block_size up to here
    n_fit = min(args.max_new_tokens, block_size - args.prompt_length + 1)

    blocks, n_params = model.blocks, sum(p.numel() for p in model.parameters())
    heads = len(blocks[0].attention.heads)
    print(
        f"machine: {platform.machine()} {platform.processor() or platform.platform()}, {os.cpu_count()} CPUs,"
        f" torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
    )
    print(
        f"model: {what}: {len(blocks)} layers, n_embed {model.lm_head.in_features}, {heads} heads,"
        f" block_size {block_size}, vocabulary {vocab_size:,}, {n_params / 1e6:.1f}M parameters"
    )
    print(
        f"run: {args.max_new_tokens} new tokens from a {args.prompt_length}-token prompt, greedy,"
        f" {args.rounds} rounds alternated, median reported",
        flush=True,
    )
    for context_for in paths.values():  # warm-up: first calls allocate and pick kernels
        timed_run(context_for, prompt, min(8, args.max_new_tokens), device)

    rates = {name: {"fit": [], "slide": [], "all": []} for name in paths}
    outputs = {name: [] for name in paths}
    for round_number in range(args.rounds):
        order = list(paths) if round_number % 2 == 0 else list(reversed(paths))
        for name in order:
            tokens, seconds = timed_run(paths[name], prompt, args.max_new_tokens, device)
            outputs[name].append(tokens)
            rates[name]["fit"].append(n_fit / seconds[n_fit - 1])
            if args.max_new_tokens > n_fit:
                rates[name]["slide"].append((args.max_new_tokens - n_fit) / (seconds[-1] - seconds[n_fit - 1]))
            rates[name]["all"].append(args.max_new_tokens / seconds[-1])
            print(f"  round {round_number + 1}, {name}: {seconds[-1]:.1f} s", file=sys.stderr)

    same = all(tokens == outputs["KV cache (default)"][0] for runs in outputs.values() for tokens in runs)
    columns = {"fit": f"tokens 1-{n_fit} (context fits)", "all": f"all {args.max_new_tokens} tokens"}
    if args.max_new_tokens > n_fit:
        columns = {
            "fit": columns["fit"],
            "slide": f"tokens {n_fit + 1}-{args.max_new_tokens} (window slides)",
            "all": columns["all"],
        }
    median = {name: {key: statistics.median(rates[name][key]) for key in columns} for name in paths}
    print()
    print("| tokens/s | " + " | ".join(columns.values()) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in paths:
        print(f"| {name} | " + " | ".join(f"{median[name][key]:,.1f}" for key in columns) + " |")
    uncached, cached = (median[name] for name in paths)
    print("| speed-up | " + " | ".join(f"{cached[key] / uncached[key]:.1f}x" for key in columns) + " |")
    print(f"\nsame greedy tokens on both paths, every round: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
