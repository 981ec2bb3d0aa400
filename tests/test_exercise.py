"""Tests for babygpt_exercise.py: every exercise starts and is checked, each common mistake gets its hint, a teacher's
folder becomes a table, bad input gets one line.

Most of it runs in this process (the exercise files are stages: importing one has no side effects); one test runs
the real command over a folder of five files, each checked in a process of its own.
"""

import csv
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from conftest import ROOT, STAGE_IDS

import babygpt_exercise as exercise
from babygpt import checks

MISTAKES = sorted((ROOT / "tests" / "mistakes").glob("*.diff"))


def import_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_in_process(path, stage, trains=False):
    """The worker's records for a file, in this process (tiny models: quick); None if importing it stopped."""
    records = []
    try:
        module = import_file(path, f"exercise_{stage}_{abs(hash(str(path)))}")
    except SystemExit as e:
        return None, str(e.code)
    exercise.check_module(module, int(stage[1:]), str(path), lambda **record: records.append(record), trains=trains)
    return records, None


def failed(records):
    return {r["check"]: r for r in records if "check" in r and not r["passed"]}


def fill_todos(text, answers):
    """Put the answers into the TODO blocks: what a learner who writes exactly our code ends with."""
    lines = text.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if re.match(r"\s*# TODO \d+ of \d+ \(v\d+\): ", line)]
    assert len(begins) == len(answers)
    for k, begin in reversed(list(enumerate(begins, 1))):
        end = next(i for i in range(begin, len(lines)) if lines[i].strip() == f"# END OF TODO {k}")
        lines[begin : end + 1] = answers[k - 1]
    return "".join(lines)


@pytest.mark.parametrize("stage", STAGE_IDS)
def test_each_exercise_starts_fails_as_it_is_and_gives_the_stage_back_when_written(stage, tmp_path):
    text, answers = exercise.exercise(stage, "en", f"exercises/{stage}.py")
    path = tmp_path / f"{stage}.py"
    path.write_text(text, encoding="utf-8")
    # written exactly as the stage has it, the exercise is the stage file, line for line (but its first lines)
    solution = (ROOT / exercise.stage_file(stage)).read_text(encoding="utf-8")
    filled = fill_todos(text, answers)
    assert filled.split('"""', 1)[1] == solution.split('"""', 1)[1]
    assert filled.startswith(f"# BabyGPT exercise {stage} ")
    # every TODO says what goes there in a sentence of its own, not the general one
    general = exercise.GENERAL_TODO["en"].format(stage=stage)
    assert general not in text, f"a TODO of {stage} lacks its sentence in TODO_WORDS"
    # as it is, it imports (v1: stops at its first TODO with one line) and fails its check
    records, stopped = check_in_process(path, stage)
    if stage == "v1":
        records = [{"check": "shapes", "passed": False, "found": stopped}] if records is None else records
    assert failed(records), f"the unchanged start file of {stage} passes its check"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_v3s_todo_says_the_mask_is_not_saved_as_a_check_requires(lang):
    """The lecture's register_buffer("tril", ...) without persistent=False fails mask_not_saved: the TODO says so."""
    text, _ = exercise.exercise("v3", lang, "exercises/v3.py")
    assert "register_buffer(..., persistent=False)" in text


def test_v1_stops_at_its_first_todo_with_one_line(tmp_path):
    text, _ = exercise.exercise("v1", "zh", "exercises/v1.py")
    path = tmp_path / "v1.py"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        import_file(path, "exercise_v1_zh").BabyGPT(10, 8, 16)
    assert stopped.value.code.startswith("exercises/v1.py 的 TODO 1/2 还没写：建好词元嵌入表")
    assert "\n" not in stopped.value.code
    assert "# 在下面每个 TODO 块里写代码" in text  # the learner's language


def apply_mistake(stage_text, diff):
    """Apply a mistake (tests/mistakes/*.diff: a description, `check:` and `hint:` lines, then hunks whose - and
    context lines must be found once in the stage file)."""
    for hunk in diff.split("@@\n")[1:]:
        old = "".join(line[1:] for line in hunk.splitlines(keepends=True) if line[:1] in " -")
        new = "".join(line[1:] for line in hunk.splitlines(keepends=True) if line[:1] in " +")
        assert stage_text.count(old) == 1, f"the mistake's lines are not in the stage file once:\n{old}"
        stage_text = stage_text.replace(old, new)
    return stage_text


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.stem for m in MISTAKES])
def test_each_common_mistake_fails_its_check_with_its_hint(mistake, tmp_path, capsys):
    stage = mistake.stem.split("-")[0]
    diff = mistake.read_text(encoding="utf-8")
    check = re.search(r"^check: (.+)$", diff, re.M).group(1)
    hint = re.search(r"^hint: (.+)$", diff, re.M).group(1)
    path = tmp_path / f"{stage}.py"
    path.write_text(apply_mistake((ROOT / exercise.stage_file(stage)).read_text(encoding="utf-8"), diff), "utf-8")
    records, _ = check_in_process(path, stage)
    assert check in failed(records), f"{mistake.name}: {check} passed"
    exercise.print_report(str(path), stage, {r["check"]: r for r in records if "check" in r}, None, None, "en")
    out = capsys.readouterr().out
    title = checks.title(checks.BY_NAME[check], int(stage[1:]))["en"]
    assert re.search(
        rf"^  FAILED  {re.escape(title)}: .*\n +hint: .*{re.escape(hint)}",
        out,
        re.M,
    ), out
    # a hint is given only where its mistake is the likely cause: no other check blames a mistake not made
    for wrong in re.findall(r"^wrong hint: (.+)$", diff, re.M):
        assert not re.search(rf"^ +hint: .*{re.escape(wrong)}", out, re.M), out


def test_a_leak_of_the_future_is_reported_as_a_large_change(tmp_path):
    """The causality check perturbs a sharpened model: a mask after the softmax leaks by ~0.1 or more, not by
    1e-9 that a beginner would read as rounding noise."""
    diff = (ROOT / "tests" / "mistakes" / "v3-mask-after-softmax.diff").read_text(encoding="utf-8")
    path = tmp_path / "v3.py"
    path.write_text(apply_mistake((ROOT / exercise.stage_file("v3")).read_text(encoding="utf-8"), diff), "utf-8")
    found = failed(check_in_process(path, "v3")[0])["causal"]["found"]["en"]
    assert float(re.search(r"changed by up to (\S+) ", found).group(1)) > 0.01, found
    assert "above 1e-6 means the future leaks in" in found


def test_the_listed_mistakes_are_all_kept():
    kept = {m.stem for m in MISTAKES}
    assert f"`tests/mistakes/` ({len(MISTAKES)} of them)" in (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    for name in [
        "v2-positions-from-token-ids",
        "v2-position-never-added",
        "v3-no-causal-mask",
        "v3-mask-after-softmax",
        "v3-no-scale",
        "v3-softmax-wrong-dimension",
        "v4-heads-concatenated-along-time",
        "v4-head-size-not-divided",
        "v5-no-relu",
        "v7-residual-around-the-block",
        "v9-post-norm",
        "v9-final-norm-missing",
        "v10-dropout-on-in-evaluation",
    ]:
        assert name in kept


def test_every_check_is_a_test_of_the_stages():
    source = (ROOT / "tests" / "test_stages.py").read_text(encoding="utf-8")
    for check in checks.CHECKS:
        assert f"def {check.test}(" in source and f"checks.{check.run.__name__}(" in source, check.name


def run_main(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        exercise.main(argv)
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["start", "v13"], "unknown stage 'v13': the stages are v1, v2"),
        (["check", "nowhere/v3.py"], "nowhere/v3.py not found"),
        (["check", "README.md"], "README.md is not a Python file (.py)"),
        (["check", "tests/conftest.py"], "which stage is it?"),
        (["check", "tests/conftest.py", "--stage", "v0"], "unknown stage 'v0'"),
    ],
    ids=["unknown_stage", "missing_file", "not_python", "no_stage", "unknown_given_stage"],
)
def test_bad_input_is_one_line_and_status_2(argv, words, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    code, out, err = run_main(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and words in err, err


def test_a_syntax_error_is_one_line_and_nothing_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    path = tmp_path / "v3.py"
    path.write_text("import os\nos.mkdir('ran')\ndef broken(:\n", encoding="utf-8")
    code, out, err = run_main(["check", str(path)], capsys)
    assert code == 2 and err == f"error: {path}, line 3: invalid syntax\n" and not (tmp_path / "ran").exists()


def test_start_never_overwrites_and_starts_over_on_request(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")  # the language of a learner who does not say
    folder = tmp_path / "exercises"
    exercise.main(["start", "v7", "--dir", str(folder)])
    out = capsys.readouterr().out
    assert (
        f"wrote {folder / 'v7.py'}: babygpt_v7_residual_connection.py with its new code taken out, 1 TODO block" in out
    )
    (folder / "v7.py").write_text("# BabyGPT exercise v7\nmy work\n", encoding="utf-8")
    code, out, err = run_main(["start", "v7", "--dir", str(folder)], capsys)
    assert code == 2 and "already exists (your work is kept)" in err and "--overwrite" in err
    assert (folder / "v7.py").read_text(encoding="utf-8").endswith("my work\n")
    exercise.main(["start", "v7", "--dir", str(folder), "--overwrite"])
    backups = list(folder.glob("v7.py.*.bak"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8").endswith("my work\n")
    assert "# TODO 1 of 1 (v7)" in (folder / "v7.py").read_text(encoding="utf-8")


def test_starting_over_keeps_the_language_of_the_first_start(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    folder = tmp_path / "exercises"
    exercise.main(["start", "v7", "--dir", str(folder), "--lang", "zh"])
    exercise.main(["start", "v7", "--dir", str(folder), "--overwrite"])
    assert "# 在下面每个 TODO 块里写代码" in (folder / "v7.py").read_text(encoding="utf-8")
    assert "已写出" in capsys.readouterr().out
    exercise.main(["start", "v7", "--dir", str(folder), "--overwrite", "--lang", "en"])  # unless told
    assert "# 在下面每个 TODO 块里写代码" not in (folder / "v7.py").read_text(encoding="utf-8")


def test_the_diff_to_the_solution_only_on_request(tmp_path, capsys):
    path = tmp_path / "v7.py"
    text, _ = exercise.exercise("v7", "en", str(path))
    path.write_text(text, encoding="utf-8")
    exercise.show_diff(str(path), "v7", "en")
    out = capsys.readouterr().out
    assert "+        x = x + self.attention(x)  # (B, T, n_embed)" in out
    exercise.print_report(str(path), "v7", {}, None, None, "en")
    assert "x = x + self.attention" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "passed, yours, ours, warned",
    [(True, 3.2, 3.2, False), (True, 3.5, 3.2, False), (True, 2.8, 3.2, True), (False, 3.5, 3.2, True)],
    ids=["same", "higher", "lower", "a-check-failed"],
)
def test_the_training_comparison_says_it_cannot_judge_when_a_check_failed_or_the_loss_is_lower(
    passed, yours, ours, warned, capsys
):
    """A missing 1/sqrt(head_size) ends 0.38 below ours: lower must not read as better."""
    rows = {c.name: {"passed": True} for c in checks.checks_for(3)}
    if not passed:
        rows["head_is_attention"] = {"passed": False, "found": checks.Words("x", "x")}
    training = {"training": {"yours": yours, "ours": ours, "steps": 100}}
    exercise.print_report("v3.py", "v3", rows, training, None, "en")
    out = capsys.readouterr().out
    assert ("cannot judge a model: the checks above decide; lower is not better here" in out) == warned, out


STUDENTS = {
    "ada.py": None,  # v3 written right: the stage file
    "bob.py": (  # a forward pass that never ends (sleeping: it costs no CPU)
        "        B, T, C = x.shape\n",
        "        B, T, C = x.shape\n        while True:\n            time.sleep(1)\n",
    ),
    "cyd.py": ("class Head(nn.Module):", "class Head(nn.Module)"),  # a syntax error
    "dan.py": ("import types\n", "import types\nimport torch\nHUGE = torch.ones(2**38)\n"),  # a huge allocation
    "eve.py": ("import types\n", "import types\nraise RuntimeError('my bug')\n"),  # raises on import
}
# Seconds a step of the check may take (importing the file, one check, the training). The loop gets a folder of
# its own with a short limit, the others one so long that no machine, however busy, stops an honest step.
LIMITS = {"loop": 10, "others": 600}


def test_a_teacher_marks_a_folder_and_gets_a_table_whatever_the_files_do(tmp_path):
    import subprocess

    stage_text = (ROOT / exercise.stage_file("v3")).read_text(encoding="utf-8")
    started = {}
    for folder_name, limit in LIMITS.items():
        folder = tmp_path / folder_name
        folder.mkdir()
        for name, change in STUDENTS.items():
            if (name == "bob.py") == (folder_name == "loop"):
                text = stage_text if change is None else stage_text.replace(*change, 1)
                (folder / name).write_text(text, encoding="utf-8")
        command = [sys.executable, str(ROOT / "babygpt_exercise.py"), "check", str(folder), "--stage", "v3"]
        command += ["--time_limit", str(limit), "--memory_limit", "2048", "--out", folder_name]
        env = {**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}  # the table's notes in English
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "encoding": "utf-8"}
        started[folder_name] = subprocess.Popen(command, env=env, cwd=tmp_path, **pipes)  # the two folders at once
    rows = {}
    for folder_name, process in started.items():
        out, err = process.communicate(timeout=900)
        assert process.returncode == 0 and "Traceback" not in out + err, err
        # the table is where --out says, relative to the current folder, and the last line names it in full
        assert f"{tmp_path / folder_name}.md and {tmp_path / folder_name}.csv" in out, out
        with open(tmp_path / f"{folder_name}.csv", encoding="utf-8", newline="") as f:
            rows.update({row["file"]: row for row in csv.DictReader(f)})
    assert sorted(rows) == sorted(STUDENTS)
    total = len(checks.checks_for(3))
    assert rows["ada.py"]["passed"] == f"{total}/{total}"
    assert rows["ada.py"]["loss_yours"] == rows["ada.py"]["loss_ours"] != ""
    assert rows["bob.py"]["hyperparameters"] == "pass" and rows["bob.py"]["shapes"] == ""  # stopped in forward
    assert (
        rows["bob.py"]["note"] == f"the check of bob.py stopped after {LIMITS['loop']} s in the check 'logits"
        " (B, T, vocab_size) and a scalar loss': a loop that never ends?"
    )
    line = stage_text[: stage_text.index("class Head(nn.Module):")].count("\n") + 1
    assert rows["cyd.py"]["note"] == f"cyd.py, line {line}: expected ':'" and rows["cyd.py"]["passed"] == f"0/{total}"
    assert rows["dan.py"]["note"] == "importing dan.py ran out of memory (over --memory_limit): a huge tensor?"
    assert "dropout" not in rows["ada.py"]  # a check of a later stage is no column of a v3 class
    line = (
        (tmp_path / "others" / "eve.py").read_text(encoding="utf-8").splitlines().index("raise RuntimeError('my bug')")
    )
    assert rows["eve.py"]["note"] == f"importing eve.py raised RuntimeError: my bug (line {line + 1})"
    markdown = (tmp_path / "others.md").read_text(encoding="utf-8")
    assert markdown.count("\n") == 2 + len(STUDENTS) - 1 and f"| ada.py | v3 | {total}/{total} |" in markdown


def test_each_lesson_shows_what_bench_exercises_writes():
    from bench.measure import exercises as bench

    results = bench.load()
    assert results["training"] == exercise.TRAINING, "the tool trains otherwise now: run: python -m bench exercises"
    for stage in STAGE_IDS:
        figures = results["stages"][stage]
        assert figures["solution_passed"] == figures["checks"] and figures["solution_loss"] == figures["ours_loss"]
        assert figures["start_passed"] < figures["checks"]
        for lang, path in bench.page_paths(stage).items():
            text = Path(path).read_text(encoding="utf-8")
            block = f"<!-- measured: {bench.BLOCK} -->\n{bench.block(stage, figures, lang)}\n<!-- end measured -->"
            assert block in text, f"{path}: run: python -m bench exercises"
            heading, check_yourself = bench.HEADING[lang]
            assert text.index(heading) < text.index(block) < text.index(f"\n{check_yourself}\n")


def test_the_chinese_the_exercises_write_follows_the_glossary():
    """The Chinese of the lessons' blocks, the TODOs and the check's lines: the glossary's terms, short sentences."""
    import test_glossary as glossary

    from bench.measure import exercises as bench

    texts = {f"{stage} block": bench.block(stage, bench.load()["stages"][stage], "zh") for stage in STAGE_IDS}
    texts.update({f"TODO {key}": words["zh"] for key, words in exercise.TODO_WORDS.items()})
    texts.update({f"check {c.name}": c.words["zh"] for c in checks.CHECKS})
    texts.update({f"message {key}": text for key, text in exercise.MESSAGES["zh"].items()})
    found = []
    for name, text in texts.items():
        text = re.sub(r"\{[^{}]*\}", "3", text)  # a message's {placeholders}: filled in later, with numbers and ids
        found += [f"{name}: {length} characters: {start}" for _, length, start in glossary.long_sentences(text)]
        found += [
            f"{name}: {variant} (write {term})" for _, variant, term in glossary.variant_uses(text, glossary.REFUSED)
        ]
        found += [f"{name}: English {term}" for _, term, _ in glossary.english_term_uses(text, glossary.ENGLISH_TERMS)]
    assert not found, "\n".join(found)


def test_a_chinese_locale_gets_the_exercise_in_chinese(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LC_MESSAGES", "")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    exercise.main(["start", "v7", "--dir", str(tmp_path)])
    assert capsys.readouterr().out.startswith(f"已写出 {tmp_path / 'v7.py'}：")
    assert "# TODO 1/1（v7）：把每个子层的输出加到它的输入上" in (tmp_path / "v7.py").read_text(encoding="utf-8")
    code, out, err = run_main(["check", str(tmp_path / "missing.py")], capsys)
    assert err == f"error: 找不到 {tmp_path / 'missing.py'}\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here (not Linux)")
def test_a_full_disk_is_one_line_naming_the_file_and_keeps_the_learners_work(tmp_path, capsys, monkeypatch):
    """/dev/full answers a write with ENOSPC, as a full disk does: the line named no file ("error: None: ...")
    and --overwrite had already moved the learner's work to a .bak."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "v7.py").write_text("# BabyGPT exercise v7\nmy work\n", encoding="utf-8")

    real_open = open

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):  # the exercise's temporary file on a full disk
        return real_open("/dev/full" if str(path).endswith(".tmp") else path, mode, *args, **kwargs)

    monkeypatch.setattr(exercise, "open", open_on_a_full_disk, raising=False)
    code, out, err = run_main(["start", "v7", "--dir", str(folder), "--overwrite"], capsys)
    assert code == 2 and err == f"error: {folder / 'v7.py'}: No space left on device\n"
    assert (folder / "v7.py").read_text(encoding="utf-8").endswith("my work\n") and not list(folder.glob("*.bak"))
