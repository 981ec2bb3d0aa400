"""What each attention head looks at, in numbers: the figures behind a reading of the attention map.

    python -m bench attention --checkpoint out/v12/checkpoint.pt                # 200 windows of data/ci.txt
    python -m bench attention --checkpoint out/v12/checkpoint.pt --windows 50   # quicker

`babygpt_sample.py --attention` draws one prompt, and one prompt can mislead. This runs the model over
many random windows of block_size characters from the validation split (the last 10% of the corpus,
which the model never trained on) and reports, per layer and head, the average share of attention a
character gives to itself, to the character just before it, and to punctuation and line breaks, and
how far back it looks on average; the last row is what a head spreading its attention evenly over the
past would give, so a head's specialty is where it departs from that row. The weights are the model's
own (babygpt.pictures.attention_weights). Paste the table into the README with the command above it.
"""

import argparse
import sys

import torch

from babygpt.checkpoint import load_checkpoint
from babygpt.pictures import attention_weights
from babygpt_v12_wandb import find_corpus, load_corpus, split_data

PUNCTUATION = "，。、？！；：,.!?;:\n"  # where a line or a phrase of a ci ends


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--checkpoint", default="out/v12/checkpoint.pt", help="(default: %(default)s)")
    parser.add_argument("--data", default="data/ci.txt", help="the corpus it was trained on (default: %(default)s)")
    parser.add_argument("--windows", type=int, default=200, help="random val windows averaged (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="which windows (default: %(default)s)")
    return parser.parse_args(argv)


def head_statistics(weights, is_punctuation):
    """Per-head averages over rows 1 .. T-1 of weights (n_layer, n_head, T, T): share on self, on the previous
    character, on punctuation, and the mean distance back. Row 0 is left out: it can only look at itself."""
    T = weights.size(-1)
    rows = torch.arange(1, T)
    distance = (torch.arange(T)[:, None] - torch.arange(T)[None, :]).clamp(min=0).float()  # (T, T): i - j
    return {
        "self": weights[..., rows, rows].mean(-1),
        "previous": weights[..., rows, rows - 1].mean(-1),
        "punctuation": (weights[..., 1:, :] * is_punctuation.float()).sum(-1).mean(-1),
        "distance": (weights[..., 1:, :] * distance[1:]).sum(-1).mean(-1),
    }


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.windows <= 0:
            raise ValueError(f"--windows must be positive, got {args.windows}")
        model, tokenizer, checkpoint = load_checkpoint(args.checkpoint, torch.device("cpu"))
        corpus = find_corpus(args.data)
        text = load_corpus(corpus)
        try:
            ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
        except ValueError as e:
            raise ValueError(f"{corpus} is not the corpus the checkpoint was trained on: {str(e)[:100]}") from None
        _, val_data = split_data(ids, model.block_size)
    except ValueError as e:
        sys.exit(f"error: {e}")
    T = model.block_size
    punctuation_ids = torch.tensor([tokenizer.stoi[ch] for ch in PUNCTUATION if ch in tokenizer.stoi])
    starts = torch.randint(len(val_data) - T, (args.windows,), generator=torch.Generator().manual_seed(args.seed))
    even = torch.ones(T, T).tril()
    even = even / even.sum(-1, keepdim=True)  # (T, T): every allowed character alike
    totals, baseline = None, None
    for start in starts.tolist():
        window = val_data[start : start + T]
        is_punctuation = torch.isin(window, punctuation_ids)  # (T,)
        stats = head_statistics(attention_weights(model, window[None]), is_punctuation)
        flat = head_statistics(even[None, None], is_punctuation)
        totals = stats if totals is None else {k: totals[k] + v for k, v in stats.items()}
        baseline = flat if baseline is None else {k: baseline[k] + v for k, v in flat.items()}

    val_loss = checkpoint.get("val_loss")
    val_loss = f"{val_loss:.4f}" if isinstance(val_loss, float) else "unknown"
    print(f"checkpoint {args.checkpoint}: step {checkpoint.get('step')}, val loss {val_loss}")
    print(f"{args.windows} random windows of {T} characters from the val split of {corpus} (seed {args.seed})\n")
    print("| head | on itself | on the previous character | on punctuation and line breaks | mean distance back |")
    print("|---|---|---|---|---|")

    def row(name, stats, index):
        values = [stats[k][index].item() / args.windows for k in ("self", "previous", "punctuation", "distance")]
        print(f"| {name} | {values[0]:.0%} | {values[1]:.0%} | {values[2]:.0%} | {values[3]:.1f} |")

    n_layer, n_head = totals["self"].shape
    for layer in range(n_layer):
        for head in range(n_head):
            row(f"layer {layer + 1}, head {head + 1}", totals, (layer, head))
    row("even spread", baseline, (0, 0))


if __name__ == "__main__":
    main()
