"""The GPU figures in one script: speed, MFU and memory of babygpt_train.py at full size, and the lecture's run.

    python bench/gpu.py                      # on a CUDA GPU with bfloat16: under ten minutes on a recent one
    python bench/gpu.py --tiny               # on a CPU at a tiny size, in seconds: checks the script
    python bench/gpu.py --peak_tflops 312    # a GPU missing from PEAK_TFLOPS: give its dense bfloat16 peak
    python bench/gpu.py --report             # then write the table into docs/speed.md and docs/speed.zh.md

Speed. v12 at its full size (babygpt_v12_wandb.py's defaults: 6 layers, 6 heads, n_embed 384, block 256,
batch 64, dropout 0.2) through babygpt_train.py itself, --steps steps in each of four variants, one after
another in this process: v12's per-head modules (--attn_implementation stage) and the fused path, each in
bfloat16, without and with --compile. For each: the training tokens/s babygpt_train.py measures
(evaluation and compile time left out), the compile time, the model FLOPs utilisation (MFU: the FLOPs the
model needs per token, 6 per parameter for the forward and backward passes plus 12 * n_layer * block_size *
n_embed for attention, PaLM's appendix B as nanoGPT counts them, times tokens/s, over the GPU's dense
bfloat16 peak), and the CUDA allocator's peak memory against babygpt_train.expected_memory().

Lecture. Karpathy's lecture trains this model (v11's defaults) on tiny shakespeare for 5,000 steps and
reports val loss 1.48. The same run through babygpt_train.py with its fused path, bfloat16 and --compile,
and the lecture's optimizer (constant learning rate 3e-4, no warmup, no clipping, AdamW's default betas and
weight decay 0.01, the last on matrices and embeddings only), its final val loss and wall time.

Each result is appended to bench/results/gpu.jsonl as it ends (a stopped run resumes; --tiny writes to
--results elsewhere only when asked). Until a GPU has run it, docs/speed.md says the figures wait for one.
"""

import contextlib
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import (  # noqa: E402
    ROOT,
    TINY_SHAKESPEARE,
    append_result,
    bench_parser,
    corpus_path,
    fill_measured_twins,
    in_chinese,
    load_results,
    machine_description,
)

RESULTS = os.path.join(ROOT, "bench", "results", "gpu.jsonl")
DOCS = [os.path.join(ROOT, "docs", "speed.md"), os.path.join(ROOT, "docs", "speed.zh.md")]

# Dense bfloat16 tensor-core peaks, TFLOP/s, from NVIDIA's data sheets (without sparsity). The first name
# that occurs in torch.cuda.get_device_name() wins: longer names first.
PEAK_TFLOPS = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,  # SXM
    "GH200": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "RTX 6000 Ada": 364.2,
}

# name -> (extra options of babygpt_train.py); every variant runs bfloat16 (float32 on the CPU with --tiny)
VARIANTS = {
    "stage": ["--attn_implementation", "stage"],
    "fused": ["--attn_implementation", "fused"],
    "stage + compile": ["--attn_implementation", "stage", "--compile"],
    "fused + compile": ["--attn_implementation", "fused", "--compile"],
}
TINY = ["--block_size", "16", "--n_embed", "32", "--n_head", "2", "--n_layer", "2", "--batch_size", "4"]
LECTURE = ["--warmup_iters", "0", "--lr_decay", "none", "--grad_clip", "0", "--beta2", "0.999"]
LECTURE += ["--weight_decay", "0.01", "--learning_rate", "3e-4"]


def peak_flops(device_name, given_tflops=None):
    """The device's dense bfloat16 peak in FLOP/s: given, else from PEAK_TFLOPS, else None."""
    if given_tflops:
        return given_tflops * 1e12
    for name, tflops in PEAK_TFLOPS.items():
        if name in device_name:
            return tflops * 1e12
    return None


def flops_per_token(model):
    """Training FLOPs per token: 6 N (forward 2, backward 4, per weight; position embeddings left out, as a
    lookup does no multiply) + 12 * n_layer * T * C for the attention scores and their weighted sums."""
    n = sum(p.numel() for p in model.parameters()) - model.position_embedding_table.weight.numel()
    n_layer, T, C = len(model.blocks), model.block_size, model.token_embedding_table.embedding_dim
    return 6 * n + 12 * n_layer * T * C


def train_once(argv):
    """babygpt_train.main(argv) in this process; returns (final metrics, TrainingState, model, its output)."""
    import torch

    import babygpt_train as trainer

    captured = {}
    real_train = trainer.train

    def train_and_keep(model, train_data, val_data, hp, report, state=None, save=None):
        captured.update(model=model, state=state, hp=hp, data_tokens=len(train_data) + len(val_data))
        captured["final"] = real_train(model, train_data, val_data, hp, report, state, save)
        return captured["final"]

    trainer.train = train_and_keep
    output = io.StringIO()
    try:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        with contextlib.redirect_stdout(output):
            trainer.main(argv)
    finally:
        trainer.train = real_train
    return captured, output.getvalue()


def run_variant(name, options, args, common):
    import torch

    import babygpt_train as trainer

    argv = [*common, *options, "--max_iters", str(args.steps), "--eval_interval", str(args.steps)]
    argv += ["--eval_iters", "2", "--warmup_iters", "0", "--out_dir", os.path.join(args.out, name.replace(" ", ""))]
    start = time.perf_counter()
    captured, _ = train_once(argv)
    model, hp, final = captured["model"], captured["hp"], captured["final"]
    device = next(model.parameters()).device
    tokens_per_second = final["tokens_per_second"]
    peak = peak_flops(torch.cuda.get_device_name(device) if device.type == "cuda" else "", args.peak_tflops)
    expected = sum(trainer.expected_memory(model, hp.batch_size, captured["data_tokens"], 1, device.type).values())
    measured = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "variant": name,
        "tokens_per_second": tokens_per_second,
        "mfu": tokens_per_second * flops_per_token(model) / peak if peak else None,
        "compile_seconds": captured["state"].compile_seconds,
        "peak_memory": measured,
        "expected_memory": expected,
        "wall_seconds": time.perf_counter() - start,
    }


def run_lecture(args, common):
    argv = [*common, *LECTURE, "--attn_implementation", "fused", "--max_iters", str(args.lecture_steps)]
    argv += ["--eval_interval", str(max(1, args.lecture_steps // 10)), "--out_dir", os.path.join(args.out, "lecture")]
    argv += ["--eval_iters", "2"] if args.tiny else ["--compile"]
    start = time.perf_counter()
    captured, _ = train_once(argv)
    final = captured["final"]
    return {
        "variant": "lecture",
        "val_loss": final["val_loss"],
        "train_loss": final["train_loss"],
        "tokens_per_second": final["tokens_per_second"],
        "wall_seconds": time.perf_counter() - start,
    }


def gib(size):
    return "-" if size is None else f"{size / 2**30:.2f} GiB"


def table(results, zh=False):
    """The Markdown the docs hold for a list of results (the speed variants, then the lecture run), in English
    or (zh) Chinese; None when there are none."""
    if not results:
        return None
    lines = []
    speed = [r for r in results if r["variant"] != "lecture"]
    if speed:
        if zh:
            lines += ["| 变体 | 每秒词元数 | 与 stage 之比 | MFU | 编译用时 | 显存峰值 | 训练器的估算 |"]
        else:
            lines += ["| variant | tokens/s | vs stage | MFU | compile | peak memory | expected |"]
        lines += ["|---|--:|--:|--:|--:|--:|--:|"]
        base = speed[0]["tokens_per_second"]
        for r in speed:
            mfu = "-" if r["mfu"] is None else f"{r['mfu']:.1%}"
            compiled = "" if r["compile_seconds"] is None else f"{r['compile_seconds']:.0f} s"
            lines.append(
                f"| {r['variant']} | {r['tokens_per_second']:,.0f} | {r['tokens_per_second'] / base:.2f}x | {mfu}"
                f" | {compiled} | {gib(r['peak_memory'])} | {gib(r['expected_memory'])} |"
            )
    for r in results:
        if r["variant"] == "lecture":
            minutes = r["wall_seconds"] / 60
            if zh:
                lines.append(
                    f"\n讲座的那次训练：验证损失 {r['val_loss']:.4f}（讲座报告 1.48），训练损失 {r['train_loss']:.4f}，"
                    f"每秒 {r['tokens_per_second']:,.0f} 个词元，用时 {minutes:.1f} 分钟"
                )
            else:
                lines.append(
                    f"\nlecture run: val loss {r['val_loss']:.4f} (the lecture: 1.48), train loss"
                    f" {r['train_loss']:.4f}, {r['tokens_per_second']:,.0f} tokens/s, {minutes:.1f} min"
                )
    lines.append("\n" + (in_chinese(results[0]["machine"]) if zh else results[0]["machine"]))
    return "\n".join(lines)


def report_text(zh=False, results_path=RESULTS):
    """The table docs/speed.md (zh: .zh.md) holds: bench/gpu.jsonl's results; None before a GPU ran them."""
    return table(list(load_results(results_path).values()), zh)


def main(argv=None):
    parser = bench_parser(__doc__, "data/shakespeare.txt")
    parser.add_argument("--steps", type=int, default=300, help="steps per speed variant (default: %(default)s)")
    parser.add_argument("--lecture_steps", type=int, default=5000, help="the lecture run's steps (default: 5000)")
    parser.add_argument("--peak_tflops", type=float, help="the device's dense bfloat16 peak, TFLOP/s (default: table)")
    parser.add_argument("--tiny", action="store_true", help="a tiny size on the CPU, float32, no compile")
    parser.add_argument("--skip_lecture", action="store_true", help="only the speed variants")
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "bench_gpu"), help="run folders (default: out/)")
    parser.add_argument("--results", help="JSONL file of results (default: bench/results/gpu.jsonl; none with --tiny)")
    parser.add_argument("--report", action="store_true", help="then write the table into docs/speed.md and .zh.md")
    args = parser.parse_args(argv)
    if min(args.steps, args.lecture_steps) <= 0:
        sys.exit("error: --steps and --lecture_steps must be positive")
    if args.report and args.tiny and not args.results:
        sys.exit("error: --report with --tiny needs --results: a tiny run never writes the docs' results")
    corpus_path(args.data, TINY_SHAKESPEARE)
    import torch

    sys.path.insert(0, ROOT)
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("error: no CUDA GPU here; bench/gpu.py --tiny checks the script on a CPU at a tiny size")
    results_path = args.results or (None if args.tiny else RESULTS)
    common = ["--data", args.data, "--wandb_mode", "disabled", "--overwrite", "--max_new_tokens", "20"]
    if args.tiny:
        common += ["--device", "cpu", "--dtype", "float32", *TINY]
        variants = {name: options for name, options in VARIANTS.items() if "--compile" not in options}
    else:
        common += ["--device", "cuda", "--dtype", "bfloat16"]
        variants = VARIANTS
    machine = machine_description()
    if torch.cuda.is_available() and not args.tiny:
        machine += f", {torch.cuda.get_device_name()}"
    print(f"machine: {machine}", flush=True)
    done = load_results(results_path) if results_path else {}
    prefix = "tiny/" if args.tiny else ""
    jobs = [(f"{prefix}speed/{name}/{args.steps}", (name,)) for name in variants]
    if not args.skip_lecture:
        jobs.append((f"{prefix}lecture/{args.lecture_steps}", None))
    results = []
    for key, job in jobs:
        if key in done:
            results.append(done[key])
            continue
        print(f"{key} ...", flush=True)
        try:
            result = run_variant(job[0], variants[job[0]], args, common) if job else run_lecture(args, common)
        except SystemExit as e:  # babygpt_train.py refused something: its one line
            sys.exit(f"error: {key}: {e.code}")
        result.update(key=key, machine=machine)
        results.append(result)
        if results_path:
            append_result(results_path, result)
    print(f"\n{table(results)}")
    if args.report:
        fill_measured_twins("gpu", lambda zh: report_text(zh, results_path), DOCS)


if __name__ == "__main__":
    main()
