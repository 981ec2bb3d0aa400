"""How fast the playground answers: a new character and a slider move, at the v12 CPU command's size.

    python -m bench playground                                      # untrained model of the CPU command's size
    python -m bench playground --checkpoint out/v12/checkpoint.pt   # a trained one (same speed: same size)
    python -m bench playground --no_client                          # the page's functions only, no server
    python -m bench playground --report     # the last result's table into docs/playground.md and .zh.md
    python -m bench playground --attention  # the attention map in Chromium, at v12's default size

--attention serves the page over an untrained model of v12's default size (block_size 256, 6 layers x 6 heads: the
map holds 1.2 million weights) and drives it in headless Chromium (Selenium, Debian's chromium and
chromium-driver): a text of 300 characters (so the model sees its last 256, and every keystroke moves them all),
then --keystrokes characters typed one at a time, each measured as the bytes the page received until its attention
map was redrawn (Chrome's network events); then --moves pointer moves over the text, each timed in the page from
the mouseover event to the reshaded strips laid out (a forced layout; painting not included). The result goes to
bench/results/playground_attention.jsonl with the commit of babygpt_playground.py measured.

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

from bench.runs import ROOT, append_result, fill_measured_twins, in_chinese, machine_description

RESULTS = os.path.join(ROOT, "bench", "results", "playground.jsonl")

import babygpt_playground as pg  # noqa: E402
from babygpt_v12_wandb import BabyGPT  # noqa: E402

CPU_COMMAND_SIZE = {"vocab_size": 6103, "block_size": 64, "n_embed": 128, "n_head": 4, "n_layer": 4, "dropout": 0.1}
V12_DEFAULT_SIZE = {"vocab_size": 6103, "block_size": 256, "n_embed": 384, "n_head": 6, "n_layer": 6, "dropout": 0.2}
ATTENTION_RESULTS = os.path.join(ROOT, "bench", "results", "playground_attention.jsonl")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--checkpoint", help="time this checkpoint (default: an untrained model of the CPU size)")
    parser.add_argument("--prompt_length", type=int, default=63, help="characters of text (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=20, help="timings of each action (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--no_client", action="store_true", help="skip the timings through the served page")
    parser.add_argument("--results", default=RESULTS, help="JSONL to append to")
    parser.add_argument("--report", action="store_true", help="only write the last result's table into the docs")
    parser.add_argument("--attention", action="store_true", help="measure the attention map in Chromium instead")
    parser.add_argument("--keystrokes", type=int, default=5, help="--attention: keystrokes (default: %(default)s)")
    parser.add_argument("--moves", type=int, default=40, help="--attention: pointer moves (default: %(default)s)")
    return parser.parse_args(argv)


def untrained_checkpoint(folder, size=CPU_COMMAND_SIZE):
    """An untrained checkpoint of this size (default: the CPU command's), written to folder (a temporary one)."""
    torch.manual_seed(0)
    vocab = "".join(chr(0x4E00 + i) for i in range(size["vocab_size"]))  # CJK characters
    model = BabyGPT(**size)
    path = os.path.join(folder, "checkpoint.pt")
    torch.save(
        {
            "format": "babygpt-checkpoint-v1",
            "model_config": size,
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
        fill_measured_twins("playground-attention", attention_report, DOCS)
        return
    if args.attention:
        return measure_attention(args)
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
    page, address = served_page(playground)
    try:
        from gradio_client import Client

        client = Client(address, verbose=False)

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


# ----------------------------------------------------------------------------
# The attention map in Chromium


POINTER_MOVES_JS = """
const spans = [...document.querySelectorAll('#attention .pointer span')], times = [];
for (let k = 0; k < arguments[0]; k++) {
  const target = spans[(37 * k + 11) % spans.length], start = performance.now();
  target.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  document.body.offsetHeight;  // the reshaded strips' styles and layout, computed now
  times.push(performance.now() - start);
}
return times;
"""


def served_page(playground):
    """Serve playground's page on a free local port; (page, its address)."""
    gr = pg.import_gradio()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = pg.build_page(playground)
    page.launch(**pg.launch_options("127.0.0.1", port, gr), prevent_thread_lock=True, quiet=True)
    return page, f"http://127.0.0.1:{port}/"


def received_bytes(driver):
    """The bytes of response bodies Chromium received since the last call (its network events)."""
    total = 0
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.dataReceived":
            total += message["params"]["dataLength"]
    return total


def bytes_until_quiet(driver, seconds=2.0):
    """The bytes Chromium receives from now until nothing more arrives for `seconds` (the page's answers to what was
    just done, whenever they come)."""
    total, quiet_since = 0, time.monotonic()
    while time.monotonic() - quiet_since < seconds:
        time.sleep(0.25)
        received = received_bytes(driver)
        total += received
        if received:
            quiet_since = time.monotonic()
    return total


def measure_attention(args):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory() as folder:
        path = untrained_checkpoint(folder, V12_DEFAULT_SIZE)
        playground = pg.Playground([path])
        vocab = playground.models.get(path).tokenizer.vocab
        text = "".join(vocab[(7 * j + 13) % len(vocab)] for j in range(300 + args.keystrokes))
        map_bytes = len(playground.attention(path, text[:300]).encode())
        page, url = served_page(playground)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2000"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
        wait = WebDriverWait(driver, 300)

        def shown(tail):  # the attention map of a text ending with tail is on the page, unpacked where it is packed
            pointer = driver.execute_script(
                "return [...document.querySelectorAll('#attention .pointer')].map(e => e.textContent).join('')"
            )
            if not pointer.endswith(tail):
                return False
            marked = driver.find_elements(By.CSS_SELECTOR, "#attention .bg-attn[data-ready]")
            return bool(marked) or not driver.find_elements(By.CSS_SELECTOR, "#attention .bg-attn[data-shape]")

        try:
            driver.get(url)
            print(f"serving {url}; opening it in Chromium", file=sys.stderr, flush=True)
            prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#prompt textarea"))
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#attention .bg-attn"))
            prompt.send_keys(Keys.CONTROL, "a")
            prompt.send_keys(text[:300])  # typed: the page answers the last keystroke (Gradio: always_last)
            wait.until(lambda d: shown(text[290:300]))
            print("the text is on the page; typing", file=sys.stderr, flush=True)
            bytes_until_quiet(driver, 3)  # the answers to the typing before, whenever they come
            keystrokes = []
            for i in range(300, 300 + args.keystrokes):
                prompt.send_keys(text[i])
                tail = text[i - 9 : i + 1]
                wait.until(lambda d, tail=tail: shown(tail))
                keystrokes.append(bytes_until_quiet(driver))
            moves = driver.execute_script(POINTER_MOVES_JS, args.moves)
        finally:
            driver.quit()
            page.close()
    record = {
        "code": code_version(),
        "size": "v12 default (block_size 256, n_layer 6, n_head 6, n_embed 384), untrained",
        "map_bytes": map_bytes,
        "keystroke_bytes": {"median": statistics.median(keystrokes), "max": max(keystrokes)},
        "pointer_move_ms": {"median": round(statistics.median(moves), 1), "max": round(max(moves), 1)},
        "keystrokes": args.keystrokes,
        "moves": args.moves,
        "browser": driver.capabilities.get("browserVersion", "?"),
        "machine": machine_description(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    append_result(ATTENTION_RESULTS, record)
    print(json.dumps(record, ensure_ascii=False, indent=1))


def code_version():
    """The commit babygpt_playground.py was last changed in here, with '+' if it has changed since."""
    import subprocess

    def git(*command):
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("log", "-1", "--format=%h", "--", "babygpt_playground.py")
    return commit + ("+" if git("status", "--porcelain", "--", "babygpt_playground.py") else "")


def attention_report(zh=False):
    """The docs' table of the attention results: one row per commit measured (its last result), the oldest first."""
    if not os.path.exists(ATTENTION_RESULTS):
        return None
    rows = {}
    with open(ATTENTION_RESULTS, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                rows[record["code"]] = record
    header = (
        "| 代码（提交） | 每次按键收到 | 注意力图 HTML | 每次移动鼠标：中位数 | 最长 | 按键、移动次数"
        " | 1 分钟平均负载 |"
        if zh
        else "| code (commit) | received per keystroke | attention map's HTML | per pointer move: median | max"
        " | keystrokes, moves | 1-minute load average |"
    )
    lines = [header, "|---|--:|--:|--:|--:|--:|--:|"]
    for record in rows.values():
        ms = "毫秒" if zh else "ms"
        lines.append(
            f"| {record['code']} | {record['keystroke_bytes']['median'] / 1e6:.2f} MB | {record['map_bytes'] / 1e6:.2f}"
            f" MB | {record['pointer_move_ms']['median']} {ms} | {record['pointer_move_ms']['max']} {ms} |"
            f" {record['keystrokes']}, {record['moves']} | {record['load_average_1min']} |"
        )
    machine = in_chinese(record["machine"]) if zh else record["machine"]
    lines.append(
        f"\nChromium {record['browser']}; {machine}" if not zh else f"\nChromium {record['browser']}；{machine}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
