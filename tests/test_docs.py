"""The English and the Chinese documents say the same thing: same commands, same figures, each linking to the other.

Most learners read README.zh-CN.md first; a command or a loss changed in one language and not in the other
would send half of them astray. For each pair (English, Chinese) these tests check:

- code blocks: the fenced blocks (``` or ~~~) are the same, info string included, in the same order, once
  comments are taken out (a "#" at the start of a line or after a space, to the end of the line; a line that
  was only a comment is dropped): so a Chinese page may comment its commands in Chinese, while every command,
  option and printed output stays the same. A Mermaid diagram's labels are words, so only its place counts.
- links: each file links to the other in its top part, before its first "##" heading.
- sections and pictures: the same heading levels in the same order, and the same images in the same order
  (a Chinese page may show NAME.zh.png, the same picture with Chinese labels, where the English shows NAME.png).
- table figures: the two files have the same tables with the same rows, and each row holds the same numbers
  in both. A number is a run of ASCII digits, with "." or "," between digit groups (5.413, 2,368,471; "1e-3"
  gives 1 and 3, "3:15" gives 3 and 15). The numbers of a row are compared as a multiset, since a translated
  cell may put its words in another order; every cell counts, prose cells included, so a Chinese cell writes
  its figures in digits ("第 1 层", not "第一层"). Per row rather than per file: a figure that moved to the
  wrong row is caught too, and the message names the row.
- prose figures: outside code blocks and tables, every number with a decimal point or a thousands comma (a
  loss, a time, a count such as 2,062,696) appears in both files. Compared as sets, since a translation may
  say a figure once where the English says it twice; plain integers are left out, because Chinese prose
  writes some of them in words (十二个阶段).

A pair whose two files are both missing is skipped (a document not written yet); a pair with one file only fails.
The checks are plain functions of the text, so the last test breaks a pair on purpose and sees each one fail.
"""

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.docs  # the pages (python -m pytest -m "not docs" checks the code alone)

ROOT = Path(__file__).resolve().parent.parent

GENERATED = ("docs/hyperparameters/",)  # sweep summaries written by babygpt_sweep.py: data, not pages


def find_pairs(root):
    """test id -> (English, Chinese), relative to root: the READMEs, and every page of the site, docs/NAME.md
    with its twin docs/NAME.zh.md (a Chinese page without its English one counts too)."""
    pairs = {"README": ("README.md", "README.zh-CN.md")}
    for path in sorted((root / "docs").rglob("*.md")):
        name = path.relative_to(root).as_posix()
        if name.startswith(GENERATED):
            continue
        english = name[: -len(".zh.md")] + ".md" if name.endswith(".zh.md") else name
        pairs[english[len("docs/") : -len(".md")]] = (english, english[: -len(".md")] + ".zh.md")
    return pairs


PAIRS = find_pairs(ROOT)

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
FIGURE = re.compile(r"\d+(?:[.,]\d+)+")  # 5.26, 2,062,696, 3.10: not a plain integer
TABLE_SEPARATOR = re.compile(r"^:?-+:?$")
LOCALISED_PICTURE = re.compile(r"\.zh\.(png|svg|jpg)$")  # NAME.zh.png: the Chinese labels of NAME.png


@dataclass
class Document:
    """What the checks compare, taken from one Markdown file."""

    name: str
    code_blocks: list = field(default_factory=list)  # (line number, info string, text)
    headings: list = field(default_factory=list)  # (line number, level, title)
    images: list = field(default_factory=list)  # (line number, target)
    links_at_top: list = field(default_factory=list)  # targets of the links before the first "##" heading
    tables: list = field(default_factory=list)  # one list per table of (line number, numbers of the row)
    prose_figures: set = field(default_factory=set)
    problems: list = field(default_factory=list)  # what could not be parsed, such as an unclosed fence


def parse(text, name):
    """Split a Markdown text into the parts the checks compare."""
    doc = Document(name)
    lines = text.split("\n")
    fence = None  # (marker, line number, info, lines) while inside a code block
    in_top_part = True
    table = None
    for number, line in enumerate(lines, start=1):
        if fence is not None:
            marker, start, info, block = fence
            closing = FENCE.match(line)
            if closing and closing.group(1)[0] == marker[0] and len(closing.group(1)) >= len(marker):
                if not closing.group(2).strip():
                    doc.code_blocks.append((start, info, "\n".join(block)))
                    fence = None
                    continue
            block.append(line)
            continue
        opening = FENCE.match(line)
        if opening:
            fence = (opening.group(1), number, opening.group(2).strip(), [])
            table = None
            continue
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            doc.headings.append((number, level, heading.group(2).strip()))
            in_top_part = in_top_part and level < 2
        if in_top_part:
            doc.links_at_top += LINK.findall(line)
        doc.images += [(number, target) for target in IMAGE.findall(line)]
        if line.lstrip().startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if table is None:
                table = []
                doc.tables.append(table)
            if not all(TABLE_SEPARATOR.match(cell) for cell in cells):
                table.append((number, sorted(NUMBER.findall(line))))
            continue
        table = None
        doc.prose_figures.update(FIGURE.findall(line))
    if fence is not None:
        doc.problems.append(f"{name}: the code block opened at line {fence[1]} is never closed")
    return doc


COMMENT = re.compile(r"(?:^|\s)#.*$")


def without_comments(info, text):
    """The part of a code block the two languages must share: the code without its comments (see above)."""
    if info == "mermaid":
        return ""
    lines = [(line, COMMENT.sub("", line).rstrip()) for line in text.split("\n")]
    return "\n".join(code for line, code in lines if code or not line.strip())


def first_difference(english, chinese):
    """The first line where two code block texts differ, as one readable sentence."""
    english_lines, chinese_lines = english.split("\n"), chinese.split("\n")
    for index, (a, b) in enumerate(zip(english_lines, chinese_lines, strict=False), start=1):
        if a != b:
            return f"line {index} of the block differs:\n    English: {a!r}\n    Chinese: {b!r}"
    return f"the English block has {len(english_lines)} lines, the Chinese one {len(chinese_lines)}"


def check_code_blocks(en, zh):
    problems = en.problems + zh.problems
    if len(en.code_blocks) != len(zh.code_blocks):
        problems.append(
            f"{en.name} has {len(en.code_blocks)} code blocks, {zh.name} has {len(zh.code_blocks)} "
            "(blocks compared in order below)"
        )
    for index, (a, b) in enumerate(zip(en.code_blocks, zh.code_blocks, strict=False), start=1):
        where = f"code block {index} ({en.name} line {a[0]}, {zh.name} line {b[0]})"
        if a[1] != b[1]:
            problems.append(f"{where}: info string {a[1]!r} against {b[1]!r}")
        elif without_comments(a[1], a[2]) != without_comments(b[1], b[2]):
            problems.append(f"{where}: {first_difference(without_comments(a[1], a[2]), without_comments(b[1], b[2]))}")
    return problems


def check_links(en, en_path, zh, zh_path):
    problems = []
    for doc, path, other in ((en, en_path, zh_path), (zh, zh_path, en_path)):
        targets = {(path.parent / target.split("#")[0]).resolve() for target in doc.links_at_top}
        if other.resolve() not in targets:
            relative = Path(os.path.relpath(other, path.parent)).as_posix()
            problems.append(f"{doc.name} does not link to {relative} before its first '##' heading")
    return problems


def check_structure(en, zh):
    problems = []
    en_levels = [level for _, level, _ in en.headings]
    zh_levels = [level for _, level, _ in zh.headings]
    if en_levels != zh_levels:
        for index, (a, b) in enumerate(zip(en.headings, zh.headings, strict=False), start=1):
            if a[1] != b[1]:
                problems.append(
                    f"heading {index}: {en.name} line {a[0]} {'#' * a[1]} {a[2]!r}, "
                    f"{zh.name} line {b[0]} {'#' * b[1]} {b[2]!r}"
                )
                break
        else:
            problems.append(f"{en.name} has {len(en_levels)} headings, {zh.name} has {len(zh_levels)}")
    en_images = [target for _, target in en.images]
    zh_images = [LOCALISED_PICTURE.sub(r".\1", target) for _, target in zh.images]
    if en_images != zh_images:
        problems.append(f"images: {en.name} shows {en_images}, {zh.name} shows {zh_images}")
    return problems


def check_table_numbers(en, zh):
    problems = []
    if len(en.tables) != len(zh.tables):
        problems.append(f"{en.name} has {len(en.tables)} tables, {zh.name} has {len(zh.tables)}")
    for index, (a, b) in enumerate(zip(en.tables, zh.tables, strict=False), start=1):
        where = f"table {index} ({en.name} line {a[0][0]}, {zh.name} line {b[0][0]})"
        if len(a) != len(b):
            problems.append(f"{where}: {len(a)} rows against {len(b)}")
            continue
        for row, ((en_line, en_numbers), (zh_line, zh_numbers)) in enumerate(zip(a, b, strict=True)):
            if en_numbers != zh_numbers:
                problems.append(
                    f"{where}, row {row} (0 is the header; lines {en_line} and {zh_line}): "
                    f"numbers {en_numbers} against {zh_numbers}"
                )
    return problems


def check_prose_figures(en, zh):
    problems = []
    for doc, other in ((en, zh), (zh, en)):
        missing = doc.prose_figures - other.prose_figures
        if missing:
            problems.append(f"figures in the prose of {doc.name} but not of {other.name}: {sorted(missing)}")
    return problems


CHECKS = {
    "code_blocks": check_code_blocks,
    "structure": check_structure,
    "table_numbers": check_table_numbers,
    "prose_figures": check_prose_figures,
}


def load_pair(pair_id):
    """(English path, English Document, Chinese path, Chinese Document); skips when neither file exists."""
    paths = [ROOT / name for name in PAIRS[pair_id]]
    missing = [path.relative_to(ROOT).as_posix() for path in paths if not path.exists()]
    if len(missing) == 2:
        pytest.skip(f"neither {missing[0]} nor {missing[1]} exists yet")
    if missing:
        pytest.fail(f"{missing[0]} is missing: each document of a pair needs the other language too")
    en_path, zh_path = paths
    return (
        en_path,
        parse(en_path.read_text(encoding="utf-8"), en_path.relative_to(ROOT).as_posix()),
        zh_path,
        parse(zh_path.read_text(encoding="utf-8"), zh_path.relative_to(ROOT).as_posix()),
    )


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("pair_id", list(PAIRS))
def test_pair_agrees(pair_id, check):
    _, en, _, zh = load_pair(pair_id)
    problems = CHECKS[check](en, zh)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pair_id", list(PAIRS))
def test_pair_links_both_ways(pair_id):
    en_path, en, zh_path, zh = load_pair(pair_id)
    problems = check_links(en, en_path, zh, zh_path)
    assert not problems, "\n".join(problems)


ENGLISH = """\
[中文版](doc.zh-CN.md)

# Title

## Run

```bash
python run.py --steps 100   # a comment
```

| run | loss | time |
|---|--:|--:|
| small | 5.26 | 2:10 |

It reaches 5.26 on 2,062,696 characters.

![curve](pictures/curve.png)
"""

CHINESE = """\
[English](doc.md)

# 标题

## 运行

```bash
python run.py --steps 100   # 一条注释
```

| 运行 | 损失 | 用时 |
|---|--:|--:|
| 小模型 | 5.26 | 2:10 |

在 2,062,696 个字符上达到 5.26。

![曲线](pictures/curve.png)
"""

BREAKAGES = {  # check -> (text in CHINESE, its replacement, words the failure message must hold)
    "code_blocks": ("--steps 100   # 一条注释", "--steps 200   # 一条注释", ["code block 1", "line 1"]),
    "structure": ("## 运行", "### 运行", ["heading 2"]),
    "table_numbers": ("| 5.26 | 2:10 |", "| 5.62 | 2:10 |", ["table 1", "row 1", "5.62"]),
    "prose_figures": ("达到 5.26", "达到 5.62", ["5.62"]),
    "links": ("[English](doc.md)", "[English](other.md)", ["doc.zh-CN.md does not link to doc.md"]),
}


@pytest.mark.parametrize("check", list(BREAKAGES))
def test_each_check_can_fail(tmp_path, check):
    """A pair that agrees passes every check; one change in the Chinese file fails the check meant to catch it."""
    old, new, words = BREAKAGES[check]
    assert old in CHINESE
    en_path, zh_path = tmp_path / "doc.md", tmp_path / "doc.zh-CN.md"

    def problems(chinese):
        en, zh = parse(ENGLISH, "doc.md"), parse(chinese, "doc.zh-CN.md")
        if check == "links":
            return check_links(en, en_path, zh, zh_path)
        return CHECKS[check](en, zh)

    assert problems(CHINESE) == []
    message = "\n".join(problems(CHINESE.replace(old, new)))
    for word in words:
        assert word in message


def test_a_chinese_page_may_show_the_chinese_labelled_picture():
    """NAME.zh.png stands for NAME.png on a Chinese page; any other picture is a difference."""
    en = parse(ENGLISH, "doc.md")
    assert check_structure(en, parse(CHINESE.replace("curve.png", "curve.zh.png"), "doc.zh.md")) == []
    assert "images" in "\n".join(check_structure(en, parse(CHINESE.replace("curve.png", "other.png"), "doc.zh.md")))


def test_a_pair_with_one_file_fails_and_without_both_skips(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(pytest.skip.Exception, match="neither README.md nor README.zh-CN.md exists yet"):
        load_pair("README")
    (tmp_path / "README.md").write_text(ENGLISH.replace("doc.zh-CN.md", "README.zh-CN.md"), encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match="README.zh-CN.md is missing"):
        load_pair("README")
    (tmp_path / "README.zh-CN.md").write_text(CHINESE.replace("doc.md", "README.md"), encoding="utf-8")
    en_path, en, zh_path, zh = load_pair("README")
    assert check_links(en, en_path, zh, zh_path) == []


def test_stage_tables_are_what_the_bench_writes():
    """The measured stage and lecture tables of docs/progression.md and docs/lecture.md (both languages) are
    bench/measure/progression.py's output for the committed results, so no loss in them was typed by hand and none is
    left behind when the results change."""
    from bench.measure import progression

    results = progression.load_results(progression.RESULTS)
    for language, pages in progression.PAGES.items():
        for name, block in progression.page_blocks(results, progression.SEEDS, language).items():
            path = Path(pages[name])
            text = path.read_text(encoding="utf-8")
            found = re.search(rf"<!-- measured: {name} -->.*?<!-- end measured -->", text, re.S)
            rerun = "run: python -m bench progression --report"
            assert found, f"{path.name} has no `<!-- measured: {name} -->` block: {rerun}"
            assert found.group(0) == block, f"{path.name}'s {name} block is stale: {rerun}"


def test_stage_tables_name_the_machine_that_measured_them_not_the_one_writing_the_page():
    from bench.measure import progression

    recorded = {"k": {"machine": "Some CPU, 2 cores, Python 3.12.0, torch 2.14.0"}}
    assert progression.results_machine(recorded, "en") == "Some CPU, 2 cores, Python 3.12.0, torch 2.14.0"
    assert progression.results_machine(recorded, "zh") == "Some CPU（2 核），Python 3.12.0，torch 2.14.0"
    assert progression.results_machine({"k": {}}, "en") == progression.EARLIER_MACHINE  # older results


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="argparse lays out --help differently in each Python")
def test_options_page_is_what_the_scripts_print():
    """docs/options.md and its twin hold every script's --help as the script prints it now (Python 3.11, as CI)."""
    sys.path.insert(0, str(ROOT / "docs"))
    import gen_options

    generated = gen_options.block()
    for path in gen_options.PAGES:
        text = Path(path).read_text(encoding="utf-8")
        assert gen_options.filled(text, generated) == text, (
            f"{Path(path).name} is stale: run python docs/gen_options.py"
        )


# ----------------------------------------------------------------------------
# Chinese text: no line break inside a paragraph between two Chinese characters

CJK = r"[\u2018-\u201d\u2026\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"  # characters and full-width punctuation
NEW_BLOCK = re.compile(r"\s*([-*+] |\d+\. |#|\||>|!!!|\?\?\?|<!--|```|~~~|$)")


def broken_chinese_lines(text):
    """Line numbers where a paragraph breaks between two Chinese characters: a browser shows that line break as
    a space, a gap in the middle of a Chinese sentence (Markdown keeps an English paragraph's line breaks as
    spaces between words, which is right there). Code blocks are left alone."""
    lines, found, fence = text.split("\n"), [], False
    for number, (line, following) in enumerate(zip(lines, lines[1:] + [""], strict=True), 1):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence and re.search(CJK + r"\**$", line) and re.match(r"\s*\**" + CJK, following):  # bold too
            found += [number] if not NEW_BLOCK.match(following) else []
    return found


def test_finding_a_break_inside_a_chinese_sentence():
    assert broken_chinese_lines("第一行写到一半\n接着写完。") == [1]
    assert broken_chinese_lines("- 列表\n- 列表") == [] and broken_chinese_lines("```\n代码\n代码\n```") == []
    assert broken_chinese_lines("an English line\n接着") == [] and broken_chinese_lines("中文\n`code`") == []
    assert broken_chinese_lines("- 写到**一半**\n  接着") == [1] and broken_chinese_lines("写到\n  **加粗**") == [1]


@pytest.mark.parametrize("name", [zh for _, zh in PAIRS.values()])
def test_chinese_pages_do_not_break_lines_inside_a_sentence(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert broken_chinese_lines(text) == [], f"{name}: join these lines to the next (they show as a space)"


@pytest.mark.parametrize("name", ["sweeps.md", "sweeps.zh.md"])
def test_the_sweep_picture_comes_from_the_command_the_page_shows(name):
    """docs/sweep_curves.png is drawn by `python -m bench sweep_curves`, which runs the sweep the page shows:
    the page's command and the bench's are the same words, and the page names the bench."""
    from bench.pages import sweep_curves

    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    shown = re.search(r"^(python babygpt_sweep\.py .*?)\n```", text, re.S | re.M).group(1)
    assert shown.replace("\\\n", " ").split() == sweep_curves.COMMAND.split()
    assert "sweep_curves.png" in text and "python -m bench sweep_curves" in text
