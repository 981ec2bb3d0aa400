"""How fast the playground answers: a new character and a slider move, at the v12 CPU command's size.

    python bench/playground.py                                      # untrained model of the CPU command's size
    python bench/playground.py --checkpoint out/v12/checkpoint.pt   # a trained one (same speed: same size)
    python bench/playground.py --no_client                          # the page's functions only, no server
    python bench/playground.py --report     # the last result's table into docs/playground.md and .zh.md

What is timed (median of --repeats, milliseconds), each as the page runs it:
- next character: Next's own work (draw from the logits of the chart the page already shows: no model run; that
  chart is drawn first, untimed), then the redraw that follows it on the page, in one event: the chart for the
  new text (a model run) and the attention map (a model run and its HTML);
- slider move: the chart for a new temperature, the logits remembered (no model run);
- the same two through the served page with gradio_client (HTTP and Gradio's queue included, the browser's drawing
  not), unless --no_client.
The prompt is --prompt_length characters (default 63: the context nearly full, the slowest case below block_size).
Speed does not depend on the weights, so an untrained model of the CPU command's size (vocab 6,103, block_size 64,
n_embed 128, n_head 4, n_layer 4: 2.4 M parameters) is the default. The result is appended to
bench/results/playground.jsonl with the machine and its load average: on a shared machine the absolute times are
only an upper bound.
"""

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runs import ROOT, append_result, fill_measured_twins, in_chinese, machine_description  # noqa: E402

sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "bench", "results", "playground.jsonl")

import babygpt_playground as pg  # noqa: E402
from babygpt_v12_wandb import BabyGPT  # noqa: E402

CPU_COMMAND_SIZE = {"vocab_size": 6103, "block_size": 64, "n_embed": 128, "n_head": 4, "n_layer": 4, "dropout": 0.1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--checkpoint", help="time this checkpoint (default: an untrained model of the CPU size)")
    parser.add_argument("--prompt_length", type=int, default=63, help="characters of text (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=20, help="timings of each action (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--no_client", action="store_true", help="skip the timings through the served page")
    parser.add_argument("--results", default=RESULTS, help="JSONL to append to")
    parser.add_argument("--report", action="store_true", help="only write the last result's table into the docs")
    return parser.parse_args(argv)


def untrained_checkpoint(folder):
    """An untrained checkpoint of the CPU command's size, written to folder (a temporary one)."""
    torch.manual_seed(0)
    vocab = "".join(chr(0x4E00 + i) for i in range(CPU_COMMAND_SIZE["vocab_size"]))  # CJK characters
    model = BabyGPT(**CPU_COMMAND_SIZE)
    path = os.path.join(folder, "checkpoint.pt")
    torch.save(
        {
            "format": "babygpt-checkpoint-v1",
            "model_config": CPU_COMMAND_SIZE,
            "vocab": vocab,
            "model_state": model.state_dict(),
            "step": 0,
        },
        path,
    )
    return path


def milliseconds(action, repeats, before=None):
    """Median and max of repeats runs of action(i), in ms, after one warm-up run; before(i), if given, runs
    first each time, untimed (what the page has done before the user acts)."""
    action(-1)
    times = []
    for i in range(repeats):
        if before is not None:
            before(i)
        start = time.perf_counter()
        action(i)
        times.append(1000 * (time.perf_counter() - start))
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


DOCS = [os.path.join(ROOT, "docs", name) for name in ("playground.md", "playground.zh.md")]
HEADERS = {
    False: ("| | median ms | max ms | served: median ms | served: max ms |", "next character", "slider move"),
    True: (
        "| | 中位数（毫秒） | 最长（毫秒） | 经网页：中位数（毫秒） | 经网页：最长（毫秒） |",
        "下一个字",
        "拖动滑块",
    ),
}


def latency_table(record, zh=False):
    """The docs' table of one record: each action's median and max, in ms, in English or (zh) Chinese."""
    header, *names = HEADERS[zh]
    lines = [header, "|---|--:|--:|--:|--:|"]
    for name, key in zip(names, ("next_character", "slider_move"), strict=True):
        served = record.get(f"{key}_served", {})
        lines.append(
            f"| {name} | {record[key]['median_ms']} | {record[key]['max_ms']} |"
            f" {served.get('median_ms', '-')} | {served.get('max_ms', '-')} |"
        )
    if zh:
        lines.append(
            f"\n{record['parameters']:,} 个参数，文本 {record['prompt_length']} 个字，每个动作计时 {record['repeats']}"
            f" 次，{record['threads']} 个 torch 线程；{in_chinese(record['machine'])}；"
            f"测量时 1 分钟平均负载 {record['load_average_1min']}"
        )
    else:
        lines.append(
            f"\n{record['parameters']:,} parameters, {record['prompt_length']} characters of text, {record['repeats']}"
            f" repeats, {record['threads']} torch thread(s); {record['machine']}; 1-minute load average"
            f" {record['load_average_1min']}"
        )
    return "\n".join(lines)


def report_text(zh=False, results_path=RESULTS):
    """The table docs/playground.md (zh: .zh.md) holds: the last result's; None before any."""
    if not os.path.exists(results_path):
        return None
    with open(results_path, encoding="utf-8") as f:
        lines = f.read().strip().splitlines()
    return latency_table(json.loads(lines[-1]), zh) if lines else None


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        fill_measured_twins("playground", lambda zh: report_text(zh, args.results), DOCS)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        path = args.checkpoint or untrained_checkpoint(folder)
        playground = pg.Playground([path])
        loaded = playground.models.get(path)
        vocab = loaded.tokenizer.vocab
        texts = ["".join(vocab[(7 * i + 13 * j) % len(vocab)] for j in range(args.prompt_length)) for i in range(999)]

        def next_character(i):  # Next, then the chart and the attention map for the new text
            text, message = playground.step(path, texts[i], 1.0, 0)
            assert not message, message
            playground.show(path, text, 1.0, 0)
            playground.attention(path, text)

        def chart_shown(i):  # before Next is pressed, the page already shows the chart of the text
            playground.show(path, texts[i], 1.0, 0)

        def slider_move(i):
            rows, message = playground.show(path, texts[0], 0.5 + (i % 15) / 10, 0)
            assert rows, message

        results = {
            "next_character": milliseconds(next_character, args.repeats, before=chart_shown),
            "slider_move": milliseconds(slider_move, args.repeats),
        }
        if not args.no_client:
            results.update(through_client(playground, path, texts, args.repeats))
    record = {
        "checkpoint": args.checkpoint or "untrained, CPU command size",
        "parameters": loaded.n_params,
        "prompt_length": args.prompt_length,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        **results,
        "machine": machine_description(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    append_result(args.results, record)
    print(json.dumps(record, ensure_ascii=False, indent=1))


def through_client(playground, path, texts, repeats):
    """The same two actions through the served page (gradio_client: HTTP and Gradio's queue, no browser)."""
    gr = pg.import_gradio()
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = pg.build_page(playground)
    page.launch(**pg.launch_options("127.0.0.1", port, gr), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)

        def next_character(i):  # as the page chains them: Next, then one redraw of the chart and the attention map
            text, _ = client.predict(path, texts[i], 1.0, 0, 1337, api_name="/step")
            client.predict(path, text, 1.0, 0, api_name="/redraw")

        def chart_shown(i):
            client.predict(path, texts[i], 1.0, 0, api_name="/show")

        def slider_move(i):
            client.predict(path, texts[0], 0.5 + (i % 15) / 10, 0, api_name="/show")

        return {
            "next_character_served": milliseconds(next_character, repeats, before=chart_shown),
            "slider_move_served": milliseconds(slider_move, repeats),
        }
    finally:
        page.close()


if __name__ == "__main__":
    main()
