"""The lessons (docs/learn/vN.md and vN.zh.md) show the code, the figures and the samples as they are now.

Each lesson's diff, measured row, sample, diagram and measured answers are blocks that bench/pages/lessons.py
writes from the stage files and bench/results; these tests fail when a page's blocks differ from what it
would write now (a stage changed, a result was added), and tell you to run it. The two languages of a
lesson must also agree: same headings, pictures, commands and code (the Mermaid diagrams excepted: their
labels are in the page's language), same table figures and prose figures (tests/test_docs.py's checks).
No torch, no corpus: they read text files only.
"""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import test_docs  # noqa: E402

from bench.pages import lessons  # noqa: E402

pytestmark = pytest.mark.docs  # the pages (python -m pytest -m "not docs" checks the code alone)

WRITTEN = [
    stage for stage in lessons.STAGES if any(Path(lessons.page_path(stage, lang)).exists() for lang in ("en", "zh"))
]


@pytest.mark.parametrize("stage", WRITTEN)
def test_generated_blocks_are_what_bench_lessons_writes_now(stage):
    problems = []
    for language in ("en", "zh"):
        path = Path(lessons.page_path(stage, language))
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)} is missing: each lesson needs both languages")
            continue
        problems += lessons.problems(str(path), lessons.blocks_for(stage, language))
    assert not problems, "\n".join(problems) + "\nrun: python -m bench lessons"


def comparable(doc):
    """The Mermaid blocks differ on purpose (labels in the page's language): compare only how many there are.
    A picture's Chinese variant NAME.zh.png stands for NAME.png (the same picture, Chinese labels)."""
    diagrams = [block for block in doc.code_blocks if block[1] == "mermaid"]
    doc.code_blocks = [block for block in doc.code_blocks if block[1] != "mermaid"]
    doc.images = [(line, target.replace(".zh.png", ".png")) for line, target in doc.images]
    return doc, len(diagrams)


@pytest.mark.parametrize("stage", WRITTEN)
def test_both_languages_agree(stage):
    paths = [Path(lessons.page_path(stage, language)) for language in ("en", "zh")]
    missing = [p.relative_to(ROOT).as_posix() for p in paths if not p.exists()]
    assert not missing, f"{missing[0]} is missing: each lesson needs both languages"
    en, zh = (test_docs.parse(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix()) for p in paths)
    (en, en_diagrams), (zh, zh_diagrams) = comparable(en), comparable(zh)
    problems = [f"{en_diagrams} diagrams in English, {zh_diagrams} in Chinese"] if en_diagrams != zh_diagrams else []
    for check in test_docs.CHECKS.values():
        problems += check(en, zh)
    problems += test_docs.check_links(en, paths[0], zh, paths[1])
    assert not problems, "\n".join(problems)


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The stage files and results that bench/pages/lessons.py reads, in a scratch folder, with no lessons yet."""
    for stage in lessons.STAGES:
        shutil.copy(ROOT / lessons.stage_file(stage), tmp_path)
    shutil.copytree(ROOT / "bench" / "results", tmp_path / "bench" / "results")
    (tmp_path / "docs" / "learn").mkdir(parents=True)
    monkeypatch.setattr(lessons, "ROOT", str(tmp_path))
    monkeypatch.setattr(lessons, "LESSONS", str(tmp_path / "docs" / "learn"))
    return tmp_path


NEW_PAGE = """# v2

<!-- measured: lesson-map -->

## The diff

<!-- measured: lesson-diff -->

<!-- measured: lesson-hunk-1 -->

A note on hunk 1.

## What it bought

<!-- measured: lesson-measured -->

<!-- measured: lesson-diagram -->

<!-- measured: lesson-sample -->
"""
NOTE_MISSING = "docs/learn/v2.md: a hunk still has no note (NOTE NEEDED)"


def test_hunks_get_blocks_and_ask_for_notes_and_an_edited_stage_makes_its_lesson_stale(scratch):
    page, source = scratch / "docs" / "learn" / "v2.md", scratch / lessons.stage_file("v2")
    page.write_text(NEW_PAGE, encoding="utf-8")
    blocks = lessons.blocks_for("v2", "en")
    n = sum(name.startswith("lesson-hunk-") for name in blocks)
    assert n > 1
    # a new page with bare start lines and one hunk: it gets every block, and a line asking for each new note
    lessons.write_page(str(page), blocks)
    assert lessons.problems(str(page), blocks) == [NOTE_MISSING]
    assert page.read_text(encoding="utf-8").count(lessons.NOTE_NEEDED) == n - 1
    page.write_text(page.read_text(encoding="utf-8").replace(lessons.NOTE_NEEDED, "A note."), encoding="utf-8")
    assert lessons.problems(str(page), blocks) == []
    # a changed line in the model: the lesson no longer matches
    text = source.read_text(encoding="utf-8")
    edited = text.replace("logits = self.lm_head(x)", "logits = self.lm_head(x)  # edited", 1)
    assert edited != text
    source.write_text(edited, encoding="utf-8")
    assert any("differs" in p for p in lessons.problems(str(page), lessons.blocks_for("v2", "en")))
    # one more hunk at the end of the file: one more block, and a note asked for
    source.write_text(edited + "\n\n\nEXTRA = 1\n", encoding="utf-8")
    blocks = lessons.blocks_for("v2", "en")
    lessons.write_page(str(page), blocks)
    assert lessons.problems(str(page), blocks) == [NOTE_MISSING]
    assert f"lesson-hunk-{n + 1} -->" in page.read_text(encoding="utf-8")
    # the hunk gone again: its block goes too, and only the line asking for its note is left to delete
    source.write_text(text, encoding="utf-8")
    blocks = lessons.blocks_for("v2", "en")
    lessons.write_page(str(page), blocks)
    assert lessons.problems(str(page), blocks) == [NOTE_MISSING]
    assert f"lesson-hunk-{n + 1} -->" not in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("stage", WRITTEN)
def test_each_lesson_ends_with_links_to_the_previous_and_next_that_work_on_github(stage):
    """The lesson-nav block is the page's last block, and its relative links name files that exist (GitHub
    follows them as they are; the site turns them into its pages), as does the one "How this was measured"."""
    for language in ("en", "zh"):
        path = Path(lessons.page_path(stage, language))
        text = path.read_text(encoding="utf-8")
        nav = lessons.page_blocks(text).get("lesson-nav", "")
        targets = test_docs.LINK.findall(nav)
        assert len(targets) == 2, f"{path.name}: the links to the previous and next lesson are missing"
        assert all((path.parent / target).exists() for target in targets), f"{path.name}: {targets}"
        title = lessons.WORDS[language]["how_title"]
        assert text.count(f'??? note "{title}"') == 1, f"{path.name}: one note '{title}' per lesson"
