"""docs/playground.png and docs/playground.zh.png: the playground over the CPU command's model, in headless Chromium,
in English and in Chinese.

    python -m bench playground_picture          # trains, serves, clicks, writes docs/playground.png and .zh.png
    python -m bench playground_picture --out /tmp/p.png --out_zh /tmp/p.zh.png   # elsewhere, to compare first

What it does, as a learner would: trains v12 with the CPU command (runs.CPU_COMMAND) in a temporary folder and
stops it with Ctrl-C once step --steps is evaluated (its checkpoint is written there; about half a minute on a
2-core CPU for 250 steps), starts babygpt_playground.py there, opens the page in headless Chromium (Selenium,
Debian's chromium and chromium-driver), sets top_k to 10 and N characters to 30, presses Generate N from the
prompt the checkpoint offers (春江), points at character --point of the attention map, and saves the page down to
the bottom of the attention map; then the same in a browser whose language is Chinese (zh-CN: the page in
Chinese), into --out_zh. The text depends on the processor (the trained weights differ in the last
digits), so the picture's alt text in docs/playground.md and .zh.md names what to check: the step, the val loss,
the character pointed at. Look at the picture before committing it.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

from bench.runs import CPU_COMMAND, ROOT, bench_parser, corpus_path


def train_until(folder, data, steps):
    """v12 with the CPU command in folder, stopped with SIGINT after step `steps` is evaluated; its log line."""
    command = [sys.executable, os.path.join(ROOT, "babygpt_v12_wandb.py"), "--data", data, "--wandb_mode", "disabled"]
    command += shlex.split(CPU_COMMAND["v12"])
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL, "text": True, "encoding": "utf-8"}
    process = subprocess.Popen(command, cwd=folder, **pipes)  # (its stderr: the "interrupted" line)
    reached = None
    for line in process.stdout:
        if line.startswith(f"step {steps:5d} |"):
            reached = line.strip()
            break
    time.sleep(3)  # the checkpoint is written after the line
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    if reached is None:
        sys.exit(f"error: training ended before step {steps}; --steps must be a multiple of 250 up to 1500")
    return reached


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(port, server, seconds=120):
    """Return once the playground answers on port; exit with one line if it stopped or never did."""
    deadline = time.time() + seconds
    while time.time() < deadline and server.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    sys.exit(f"error: the playground did not start on port {port}")


def take_picture(url, out, point, language="en-US"):
    """Drive the page as described above and save the picture to out; returns the character pointed at."""
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1950"):
        options.add_argument(argument)
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 120)
    try:
        driver.get(url)
        prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#prompt textarea"))
        wait.until(lambda d: prompt.get_attribute("value") == "春江")
        time.sleep(2)
        top_k = driver.find_element(By.CSS_SELECTOR, "#top_k input[type=number]")
        top_k.send_keys(Keys.CONTROL, "a")
        top_k.send_keys("10", Keys.ENTER)
        time.sleep(2)
        count = [
            e for e in driver.find_elements(By.CSS_SELECTOR, "input[type=number]") if e.get_attribute("value") == "100"
        ]
        count[0].send_keys(Keys.CONTROL, "a")
        count[0].send_keys("30", Keys.TAB)
        time.sleep(1)
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: len(prompt.get_attribute("value")) >= len("春江") + 30)
        time.sleep(3)
        ready = "#attention .bg-attn[data-ready] .pointer span"  # the map of the whole text, unpacked and drawn
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ready)) >= len("春江") + 30)
        target = driver.find_elements(By.CSS_SELECTOR, "#attention .pointer span")[point - 1]
        ActionChains(driver).move_to_element(target).perform()
        pointed = f"第 {point} 个字" if language.startswith("zh") else f"character {point} "
        wait.until(lambda d: pointed in d.find_element(By.CSS_SELECTOR, "#attention .caption").text)
        driver.execute_script("window.scrollTo(0, 0)")
        full = out + ".full.png"
        driver.save_screenshot(full)
        bottom = driver.execute_script(
            "return document.querySelector('#attention table').getBoundingClientRect().bottom"
        )
        ratio = driver.execute_script("return window.devicePixelRatio")
        with Image.open(full) as image:
            image.crop((0, 0, image.size[0], int((bottom + 12) * ratio))).save(out, optimize=True)
        os.remove(full)
        return target.text
    finally:
        driver.quit()


def main():
    parser = bench_parser(__doc__, "data/ci.txt", epilog=True)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "playground.png"), help="(default: %(default)s)")
    parser.add_argument(
        "--out_zh",
        default=os.path.join(ROOT, "docs", "playground.zh.png"),
        help="the Chinese page (default: %(default)s)",
    )
    parser.add_argument("--steps", type=int, default=250, help="the checkpoint's step (default: %(default)s)")
    parser.add_argument("--point", type=int, default=22, help="the character pointed at (default: %(default)s)")
    args = parser.parse_args()
    if args.steps <= 0 or args.steps % 250 or args.steps > 1500 or not 1 <= args.point <= 32:
        parser.error("--steps must be 250, 500, ... 1500 and --point between 1 and 32")
    data = corpus_path(args.data)
    with tempfile.TemporaryDirectory() as folder:
        print(train_until(folder, data, args.steps))
        port = free_port()
        command = [sys.executable, os.path.join(ROOT, "babygpt_playground.py"), "--port", str(port)]
        server = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_server(port, server)
            pointed = take_picture(f"http://127.0.0.1:{port}", os.path.abspath(args.out), args.point)
            take_picture(f"http://127.0.0.1:{port}", os.path.abspath(args.out_zh), args.point, "zh-CN")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {args.out} and {args.out_zh}: character {args.point} is {pointed}; look at them before committing")


if __name__ == "__main__":
    main()
