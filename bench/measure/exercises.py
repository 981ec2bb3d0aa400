"""The "Write it yourself" block of every lesson page (docs/learn/vN.md and vN.zh.md), measured with the exercise tool.

    python -m bench exercises             # measure what is missing from bench/results/exercises.json, fill the pages
    python -m bench exercises --remeasure # measure every stage again (after a stage or the tool's training changed)
    python -m bench exercises --stages v3 # one stage

For each stage it does what a learner does, with babygpt_exercise.py's own code: writes the exercise file (as
`start` does), checks it as it is (it fails: it is the previous stage), then checks the stage file itself (a
learner who wrote exactly our code), with the training comparison (in this process: `check` runs the same code
in a process of its own). It keeps how many checks each passed and the train loss ours reaches, and writes into
each lesson, between `<!-- measured: write-it-yourself -->` and its end line, the commands, the TODOs (the tool's own
sentences) and those figures. A page without the block gets it, under a "Write it yourself" heading, before
"Check yourself". tests/test_exercise.py checks that the pages hold what this script writes from the results.
"""

import argparse
import json
import os
import tempfile

import babygpt_exercise as exercise
from babygpt import checks
from bench.runs import ROOT, fill_measured, in_chinese, machine_description

RESULTS = os.path.join(ROOT, "bench", "results", "exercises.json")
LESSONS = os.path.join(ROOT, "docs", "learn")
BLOCK = "write-it-yourself"
HEADING = {"en": ("## Write it yourself", "## Check yourself"), "zh": ("## 自己写一遍", "## 自测")}


def measure(stage):
    """Check the start file and the stage file with the tool's own checking code (in this process: both files are
    stages, whose import has no side effects); return the figures the page shows."""
    import importlib.util

    import torch

    torch.set_num_threads(1)  # as the tool's worker does
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{stage}.py")
        text, answers = exercise.exercise(stage, "en", f"exercises/{stage}.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        figures = {"checks": len(checks.checks_for(int(stage[1:]))), "todos": len(answers)}
        figures["machine"] = machine_description("en")
        for name, file in (("start", path), ("solution", os.path.join(ROOT, exercise.stage_file(stage)))):
            spec = importlib.util.spec_from_file_location(f"exercise_{name}_{stage}", file)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            records = []
            exercise.check_module(module, int(stage[1:]), file, lambda records=records, **r: records.append(r))
            rows, training, _ = exercise.summarise(file, stage, records, None, "en")
            figures[f"{name}_passed"] = sum(1 for r in rows.values() if r["passed"])
            result = training.get("training") if training else None
            figures[f"{name}_loss"] = result["yours"] if result else None
            if name == "solution":
                figures["ours_loss"] = result["ours"]
    return figures


def block(stage, figures, lang):
    """The generated block of one lesson page."""
    n = int(stage[1:])
    start, check = f"python babygpt_exercise.py start {stage}", f"python babygpt_exercise.py check exercises/{stage}.py"
    colon = ": " if lang == "en" else "："
    todos = [f"`{place}`{colon}{exercise.todo_words(stage, place, lang)}" for place in exercise.todo_places(stage)]
    todo_list = "\n".join(f"{k}. {words}" for k, words in enumerate(todos, 1))
    c, loss = figures["checks"], figures["ours_loss"]
    machine = in_chinese(figures["machine"]) if lang == "zh" else figures["machine"]
    solution = exercise.stage_file(stage)
    steps, ci = exercise.TRAINING["max_iters"], "four Song ci kept in babygpt/checks.py"
    if lang == "en":
        until = (
            "the file stops at the first TODO it reaches, with one line that names it"
            if n == 1
            else f"the file runs and trains as v{n - 1}"
        )
        return (
            f"```bash\n{start}               # writes exercises/{stage}.py\n"
            f"{check}  # once you have written it\n```\n\n"
            f"`exercises/{stage}.py` is this stage with its new code taken out: {len(todos)} TODO"
            f" block{'s' if len(todos) > 1 else ''}, each a"
            f" comment that says what goes there (`--lang zh` writes them in Chinese). Until you write them, {until},"
            " and its check passes"
            f" {figures['start_passed']} of {c}.\n\n{todo_list}\n\n"
            f'The check runs the {c} checks that define {stage}, the tests under "Check yourself" among them, each'
            f" failure saying what was expected and what was found; then it trains your model and ours for {steps}"
            f" steps on the same text ({ci}), with the same seed. Written right, it passes {figures['solution_passed']}"
            f" of {c} and reaches a train loss of {loss:.3f}, as ours does. The solution is `{solution}` itself:"
            f" `{check} --diff` shows it, only when you ask. Measured by `python -m bench exercises` on {machine}"
            " (a shared machine, busy that day)."
        )
    until = (
        "文件运行到第一个还没写的 TODO 时会停下，用一行话说出是哪一个"
        if n == 1
        else f"这个文件照 v{n - 1} 的样子运行和训练"
    )
    return (
        f"```bash\n{start}               # 写出 exercises/{stage}.py\n"
        f"{check}  # 写好之后\n```\n\n"
        f"`exercises/{stage}.py` 就是这一阶段，只是把新代码拿掉了：一共 {len(todos)} 个 TODO 块，每块有一句注释说明"
        f"这里该写什么（加上 `--lang zh`，说明就用中文写）。写好之前，{until}，"
        f"检查能通过 {c} 项中的 {figures['start_passed']} 项。\n\n{todo_list}\n\n"
        f"检查会运行定义 {stage} 的 {c} 项检查（下面“自测”里的测试也在其中），没通过的会说明应该是什么、实际是什么；"
        f"然后用同一段文本（babygpt/checks.py 里的四首宋词）、同一个随机种子，把你的模型和我们的各训练 {steps} 步。"
        f"写对了，{c} 项全部通过，训练损失降到 {loss:.3f}，和我们的一样。答案就是 `{solution}` 本身：只有你要求时，"
        f"`{check} --diff` 才会显示它。由 `python -m bench exercises` 在 {machine} 上测得"
        "（一台多人共用的机器，当天负载较高）。"
    )


def page_paths(stage):
    return {lang: os.path.join(LESSONS, f"{stage}{'.zh' if lang == 'zh' else ''}.md") for lang in ("en", "zh")}


def fill(stage, figures):
    for lang, path in page_paths(stage).items():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        marker = f"<!-- measured: {BLOCK} -->"
        if marker not in text:
            heading, before = HEADING[lang]
            if f"\n{before}\n" not in text:
                raise SystemExit(f"error: {path} has no {before!r} heading to put the block before")
            text = text.replace(f"\n{before}\n", f"\n{heading}\n\n{marker}\n\n{before}\n", 1)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        fill_measured(path, {BLOCK: f"{marker}\n{block(stage, figures, lang)}\n<!-- end measured -->"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--stages", nargs="+", default=exercise.stage_ids(), help="stages (default: all)")
    parser.add_argument("--remeasure", action="store_true", help="measure again what the results file holds")
    args = parser.parse_args(argv)
    unknown = [stage for stage in args.stages if stage not in exercise.stage_ids()]
    if unknown:
        parser.error(f"unknown stages {unknown}")
    results = load()
    if results.get("training") != exercise.TRAINING:
        results = {"training": exercise.TRAINING, "stages": {}}  # another training: every figure is stale
    for stage in args.stages:
        if args.remeasure or stage not in results["stages"]:
            print(f"measuring {stage}", flush=True)
            results["stages"][stage] = measure(stage)
            os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
            with open(RESULTS, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=1, ensure_ascii=False)
                f.write("\n")
        fill(stage, results["stages"][stage])


def load():
    if not os.path.exists(RESULTS):
        return {}
    with open(RESULTS, encoding="utf-8") as f:
        return json.load(f)


if __name__ == "__main__":
    main()
