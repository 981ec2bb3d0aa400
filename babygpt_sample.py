"""Sample from a trained BabyGPT without retraining, fast: a key/value cache instead of recomputing.

babygpt_v12_wandb.py saves out_dir/checkpoint.pt (weights, model config and vocabulary). This script
loads it and continues prompts, printing each character as soon as it is chosen; it can also draw
what every attention head looks at. A sweep's trial of any stage writes such a checkpoint too: it names
its stage, whose own BabyGPT is built here. The cache needs the pre-norm blocks of v9 on; the earlier
stages are sampled step by step as their own generate() does.

Run:   python babygpt_sample.py --checkpoint out/v12/checkpoint.pt --prompt 春江 --temperature 0
                   (--checkpoint out/v12, the run folder, reads the same file)
       python babygpt_sample.py --checkpoint out/v12/checkpoint.pt --interactive
                   (a prompt per line; end with Ctrl-D, on Windows Ctrl-Z then Enter)
       python babygpt_sample.py --checkpoint out/v12/checkpoint.pt --prompt 春江花月夜 --attention attention.png
                   (one heatmap per layer and head: which earlier characters each character attends to)
       python babygpt_sample.py --help                                             (every option)

The key/value cache, and why the cached path gives the same characters as generate(), are explained in
babygpt/sampling.py; the checkpoint format in babygpt/checkpoint.py; the attention picture in babygpt/pictures.py.
"""

import math
import os
import sys
import time
import unicodedata

import torch

from babygpt.checkpoint import (
    ATTENTION_FROM,
    CHECKPOINT_STAGES,
    checkpoint_file,
    default_prompts,
    load_checkpoint,
    stage_of,
    uses_cache,
)
from babygpt.fused import add_attention_option, set_attention
from babygpt.pictures import draw_attention
from babygpt.sampling import CachedBabyGPT, CachedContext, FullRecomputeContext, generate_tokens
from babygpt_v12_wandb import OneLineErrorParser, console_safe_output, pick_device

# ----------------------------------------------------------------------------
# Command line


def make_parser():
    parser = OneLineErrorParser(
        description=__doc__.splitlines()[0],
        allow_abbrev=False,  # a mistyped option is an error, never a guess
    )
    parser.add_argument(
        "--checkpoint",
        default="out/v12/checkpoint.pt",
        help="checkpoint written by babygpt_v12_wandb.py or a sweep's trial of any stage, or the run folder holding"
        " it (out/v12 reads out/v12/checkpoint.pt) (default: %(default)s)",
    )
    parser.add_argument(
        "--prompt",
        action="append",
        help="text to continue; repeat for more (default: the prompts the checkpoint was trained with)",
    )
    parser.add_argument("--num_samples", type=int, default=1, help="samples per prompt (default: %(default)s)")
    parser.add_argument(
        "--max_new_tokens", type=int, default=200, help="characters to generate per sample (default: %(default)s)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="below 1 plays safe, above 1 takes risks; 0 always takes the likeliest (greedy) (default: %(default)s)",
    )
    parser.add_argument(
        "--top_k",
        type=int,
        default=None,
        help="draw only from the k likeliest characters; 0 means no limit, as leaving it out (default: all of them)",
    )
    parser.add_argument(
        "--seed", type=int, default=1337, help="random seed: same seed, same samples (default: %(default)s)"
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--interactive",
        action="store_true",
        help=f"then read prompts from standard input, one per line, until end of input ({end_of_input_key()})",
    )
    attention = (
        "also draw into this PNG file a heatmap per layer and head: how much each character of the one --prompt"
        " (its last block_size characters) attends to each earlier one; the continuation goes in the title"
    )
    parser.add_argument("--attention", metavar="PNG", help=attention)
    parser.add_argument(
        "--no_cache", action="store_true", help="recompute the whole context for every token, as generate() does"
    )
    add_attention_option(parser, "how attention is computed without the cache (the cache always stacks the heads)")
    return parser


def parse_args(argv=None):
    return make_parser().parse_args(argv)


def check_args(args):
    """Refuse values that cannot work, before the checkpoint is loaded."""
    for name in ("max_new_tokens", "num_samples"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be positive, got {getattr(args, name)}")
    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be between 0 and 2**63 - 1, got {args.seed}")
    if args.top_k is not None and args.top_k < 0:
        raise ValueError(f"--top_k must be 0 (all characters, as when it is left out) or positive, got {args.top_k}")
    args.top_k = args.top_k or None  # 0: no limit, as in the playground
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ValueError(f"--temperature must be 0 (greedy) or a finite positive number, got {args.temperature}")
    if args.prompt is not None and any(prompt == "" for prompt in args.prompt):
        raise ValueError("--prompt must not be empty: the model needs at least one character to continue")
    if args.attention is not None:
        if args.interactive:
            raise ValueError("--attention draws the one --prompt given on the command line, not --interactive ones")
        folder = os.path.dirname(os.path.abspath(args.attention))
        if os.path.isdir(args.attention) or not os.path.isdir(folder) or not args.attention.lower().endswith(".png"):
            raise ValueError(f"--attention {args.attention}: give a PNG file name (NAME.png) in an existing folder")


def end_of_input_key(platform=None):
    """The keys that end standard input at this platform's console."""
    return "Ctrl-Z then Enter" if (platform or sys.platform) == "win32" else "Ctrl-D"


END_OF_INPUT_CHARACTERS = "\x04\x1a"  # Ctrl-D and Ctrl-Z, as a console that does not act on them passes them on


def typed_prompts(lines, tokenizer):
    """The prompts among lines read from the console, until end of input or a line of only Ctrl-D or Ctrl-Z.

    Blank lines are skipped. A line with other control characters (an arrow key's escape sequence, say)
    is not text anyone meant to continue: it is skipped with one line on stderr saying so."""
    for line in lines:
        prompt = line.rstrip("\r\n")
        if not prompt.strip():
            continue
        if set(prompt.strip()) <= set(END_OF_INPUT_CHARACTERS):
            return
        controls = sorted({ch for ch in prompt if unicodedata.category(ch) == "Cc" and ch not in tokenizer.stoi})
        if controls:
            print(
                f"ignored a line with control characters {''.join(controls)!r} (typed by a shortcut key):"
                f" type plain text, and end with {end_of_input_key()}",
                file=sys.stderr,
            )
            continue
        yield prompt


def encode_prompt(tokenizer, prompt, device):
    try:
        ids = tokenizer.encode(prompt)
    except ValueError as e:  # names the characters the model has never seen
        raise ValueError(f"prompt {prompt!r}: {e}") from None
    return torch.tensor([ids], dtype=torch.long, device=device)  # (1, T)


def write_samples(new_context, tokenizer, prompt, idx, args, generator=None):
    """Print num_samples continuations of one prompt, a character at a time, and return them (without the
    prompt); their speed goes to stderr. generator: the torch.Generator the draws come from (None: the global one)."""
    start = time.perf_counter()
    continuations = []
    for n in range(args.num_samples):
        label = prompt.replace("\n", "\\n")
        print(f"--- {label} ---" if args.num_samples == 1 else f"--- {label} ({n + 1} of {args.num_samples}) ---")
        print(prompt, end="", flush=True)
        continuations.append("")
        tokens = generate_tokens(new_context(idx), args.max_new_tokens, args.temperature, args.top_k, generator)
        for next_id in tokens:
            continuations[-1] += tokenizer.decode([next_id.item()])
            print(continuations[-1][-1], end="", flush=True)
        print("\n")
    seconds = time.perf_counter() - start
    n_tokens = args.num_samples * args.max_new_tokens
    path = "no cache" if args.no_cache else "kv cache"
    print(f"[{n_tokens} tokens in {seconds:.2f} s: {n_tokens / seconds:,.0f} tokens/s, {path}]", file=sys.stderr)
    return continuations


def main(argv=None):
    console_safe_output()  # a console that cannot show a character (GBK lacks some) shows '?', and sampling goes on
    args = parse_args(argv)
    try:  # every problem with the input is reported in one line, before anything is generated
        check_args(args)
        device = pick_device(args.device)
        args.checkpoint = checkpoint_file(args.checkpoint)  # a run folder's checkpoint.pt, named so in the header
        model, tokenizer, checkpoint = load_checkpoint(args.checkpoint, device)
        prompts = args.prompt
        if prompts is None:
            prompts = [] if args.interactive else default_prompts(checkpoint, tokenizer)
        encoded = [encode_prompt(tokenizer, prompt, device) for prompt in prompts]
        if args.attention is not None and len(prompts) != 1:
            raise ValueError(
                f"--attention draws one prompt's attention: give exactly one --prompt (not {len(prompts)})"
            )
        stage = stage_of(checkpoint)[0]
        if args.attention is not None and CHECKPOINT_STAGES.index(stage) < ATTENTION_FROM:
            first = CHECKPOINT_STAGES[ATTENTION_FROM]
            raise ValueError(f"--attention draws the heads of {first} on; this model is {stage}'s")
    except ValueError as e:
        sys.exit(f"error: {e}")
    args.no_cache = args.no_cache or not uses_cache(checkpoint)  # before v9, the stage's generate() way

    generator = torch.Generator(device).manual_seed(args.seed)  # its own: the same seed, the same text, whatever
    # else in the process draws from torch's global generator (a notebook, a test, a tool that imports this)
    set_attention(model, args.attn_implementation)  # the same weights either way
    if args.no_cache:
        new_context = lambda idx: FullRecomputeContext(model, idx)
    else:
        cached_model = CachedBabyGPT(model)  # the heads are stacked once, not per sample
        new_context = lambda idx: CachedContext(cached_model, idx)
    n_params = sum(p.numel() for p in model.parameters())
    val_loss = checkpoint.get("val_loss")
    print(
        f"checkpoint {args.checkpoint}: step {checkpoint.get('step')}"
        f"{f', val loss {val_loss:.4f}' if isinstance(val_loss, float) else ''} | {n_params:,} parameters,"
        f" block_size {model.block_size}, vocabulary {tokenizer.vocab_size:,} | device {device}",
        file=sys.stderr,
    )
    try:
        for prompt, idx in zip(prompts, encoded, strict=True):
            continuations = write_samples(new_context, tokenizer, prompt, idx, args, generator)
        if args.attention is not None:
            try:
                draw_attention(model, tokenizer, prompts[0], continuations[0], args.attention)
            except OSError as e:
                sys.exit(f"error: cannot write --attention {args.attention}: {e.strerror or e}")
            n_layer, n_head = len(model.blocks), len(model.blocks[0].attention.heads)
            print(f"attention of {n_layer} layers x {n_head} heads drawn to {args.attention}", file=sys.stderr)
        if args.interactive:
            if sys.stdin.isatty():
                print(f"type a prompt and press Enter; {end_of_input_key()} ends", file=sys.stderr)
            for prompt in typed_prompts(sys.stdin, tokenizer):
                try:
                    idx = encode_prompt(tokenizer, prompt, device)
                except ValueError as e:  # one bad line must not end the session
                    print(f"error: {e}", file=sys.stderr)
                    continue
                write_samples(new_context, tokenizer, prompt, idx, args, generator)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # e.g. piped into head: stop quietly; point stdout elsewhere so exit doesn't complain
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
