"""The Chinese pages speak one language: the glossary's terms, sentences a beginner can hold, “” quotes.

docs/glossary.zh.md fixes one Chinese term per concept, and its last table (不用的说法) names the variants it
refuses ("运行文件夹" where the term is 运行目录). These tests read the prose of every Chinese page (the site's
pages and README.zh-CN.md) and fail on

- a refused variant of a glossary term;
- an English term in Chinese prose where the glossary has a Chinese one ("key" where it says 键): the English
  may stand only in parentheses right after its Chinese term, as a first mention does (键（key）), or right
  before it, as a label of an interface does (checkpoint（检查点）);
- a sentence of 150 characters or more, counted as the reader sees it (inline code as its text, at most 20
  characters a span; link targets and markup left out): a beginner loses the thread of it (split it);
- straight quotation marks "…" around Chinese text: Chinese prose quotes with “”.

Prose is what a reader reads as sentences: code blocks, inline code, formulas, tables, link targets, HTML comments
and the blocks that scripts write (between `<!-- measured: NAME -->` and `<!-- end measured -->`, or `<!-- generated`)
are left out; generated text is checked where it is generated. The glossary's own page is read for its table,
not checked against itself. The last tests break a text on purpose and see each check fail.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.zh.md"
LONGEST_SENTENCE = 149  # characters; 150 or more fails

CJK = r"\u3400-\u9fff"
GENERATED = re.compile(
    r"<!-- (?:measured: [\w-]+|generated[^>]*) -->.*?<!-- end (?:measured|generated)[^>]*-->|<!--.*?-->", re.S
)
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def chinese_pages():
    pages = [ROOT / "README.zh-CN.md"] + sorted((ROOT / "docs").rglob("*.zh.md"))
    return [p for p in pages if p.exists() and "docs/hyperparameters/" not in p.as_posix()]


def prose_lines(text, keep_code=False):
    """(line number, prose text) of each line a reader reads as sentences (see the module docstring). Inline
    code becomes ‹code›, or with keep_code its text, as the reader sees it (it counts in a sentence's length)."""
    # generated blocks and comments out, keeping the line count so that numbers still point into the file
    text = GENERATED.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    found, fence = [], None
    for number, line in enumerate(text.split("\n"), start=1):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        stripped = line.strip()
        if stripped.startswith("|") or not stripped:
            continue
        # inline code: ‹code›, or its text as the reader sees it, a long command counting as 20 characters
        stripped = re.sub(r"`([^`]*)`", lambda m: m.group(1)[:20] if keep_code else "‹code›", stripped)
        stripped = re.sub(r"\]\([^)]*\)", "]", stripped)  # link targets
        stripped = re.sub(r"\$\$?[^$]+\$\$?", "‹math›", stripped)  # formulas, $…$ and $$…$$: math, not prose
        stripped = re.sub(r"<[^>]+>", "", stripped)  # HTML tags
        stripped = re.sub(r'^(?:[-*+] |\d+\. |#+ |> |(?:\?\?\?\+?|!!!) \w+(?: "[^"]*")?)', "", stripped)
        found.append((number, stripped.replace("**", "").replace("[", "").replace("]", "")))
    return found


# ----------------------------------------------------------------------------
# sentences

SENTENCE_END = re.compile(r"(?<=[。！？])")


def long_sentences(text, limit=LONGEST_SENTENCE):
    """(line number, length, the sentence's start) of each Chinese sentence longer than limit characters."""
    found = []
    for number, line in prose_lines(text, keep_code=True):
        for sentence in SENTENCE_END.split(line):
            sentence = sentence.strip()
            if len(sentence) > limit and re.search(f"[{CJK}]", sentence):
                found.append((number, len(sentence), sentence[:30]))
    return found


@pytest.mark.parametrize("path", chinese_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chinese_sentences_are_short_enough_to_follow(path):
    found = long_sentences(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: sentences of 150 characters or more (split them):\n" + "\n".join(
        f"  line {number}: {length} characters: {start}…" for number, length, start in found
    )


# ----------------------------------------------------------------------------
# quotation marks

STRAIGHT_QUOTED_CHINESE = re.compile(r'"[^"\n]*[\u3000-\u303f\u3400-\u9fff\uff00-\uffef][^"\n]*"')  # 。 counts


def straight_quotes(text):
    return [(number, m.group(0)) for number, line in prose_lines(text) for m in STRAIGHT_QUOTED_CHINESE.finditer(line)]


@pytest.mark.parametrize("path", chinese_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chinese_prose_quotes_with_chinese_quotation_marks(path):
    found = straight_quotes(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: straight quotes around Chinese text, write “” instead:\n" + "\n".join(
        f"  line {number}: {quoted}" for number, quoted in found
    )


# ----------------------------------------------------------------------------
# the glossary's terms

ROW = re.compile(r"^\|(.+)\|\s*$")


def glossary_tables(text):
    """(rows of the term tables as (中文, English), the refused variants as {variant: term}) of glossary.zh.md."""
    terms, refused, header = [], {}, None
    for line in text.split("\n"):
        row = ROW.match(line.strip())
        if not row:
            header = None
            continue
        cells = [cell.strip() for cell in row.group(1).split("|")]
        if header is None:
            header = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        if header[:2] == ["中文", "English"]:
            terms.append((cells[0], cells[1]))
        elif header[-1] == "不用":
            for variant in re.split("[、，]", cells[2]):
                refused[variant.strip()] = cells[1]
    return terms, refused


def english_terms(terms):
    """English term -> the Chinese words of its entry, for each entry whose Chinese term is Chinese (an entry
    like "softmax | softmax" or "dropout（随机丢弃）" keeps its English name in Chinese prose too)."""
    found = {}
    for chinese, english in terms:
        parts = [p.strip() for p in re.split(r"[、，/]|（.*?）", chinese) if p.strip()]
        for name in re.split(r", | / ", re.sub(r"\s*\(.*?\)", "", english)):
            name = name.strip()
            if re.fullmatch(r"[A-Za-z][A-Za-z -]*[A-Za-z]", name) and name.lower() not in chinese.lower():
                found[name] = parts
    return found


QUOTED_ENGLISH = re.compile(rf'"[^"\n{CJK}]*"|“[^”\n{CJK}]*”|(?<!\*)\*[^*\n{CJK}]+\*(?!\*)')  # and *File → Open*


def english_term_uses(text, english):
    """(line number, term, context) of each English glossary term in Chinese prose that is not the parenthesised
    English right after its Chinese term."""
    found = []
    for number, line in prose_lines(text):
        if not re.search(f"[{CJK}]", line):
            continue  # an English line (a quoted message, a list of options) is not Chinese prose
        line = QUOTED_ENGLISH.sub("‹quote›", line)  # a program's output, quoted
        for name, chinese in english.items():
            pattern = rf"(?<![\w./\-]){re.escape(name)}(?:s|es)?(?![\w/\-]|\.\w)"
            for match in re.finditer(pattern, line):  # case matters: Generate N is a button, CI is not ci
                opening = line.rfind("（", 0, match.start())
                inside = opening >= 0 and "）" not in line[opening : match.start()]
                before = line[max(0, opening - 12) : opening].replace("*", "") if inside else ""
                after = line[match.end() :].lstrip("*")
                if inside and any(part in before for part in chinese):
                    continue  # 键（key）: the first mention
                if after.startswith("（") and any(after[1:].startswith(part) for part in chinese):
                    continue  # a label of the interface, explained: checkpoint（检查点）
                found.append((number, name, line[max(0, match.start() - 12) : match.end() + 6]))
    return found


def variant_uses(text, refused):
    return [
        (number, variant, refused[variant])
        for number, line in prose_lines(text)
        for variant in refused
        if variant in line
    ]


GLOSSARY_TERMS, REFUSED = glossary_tables(GLOSSARY.read_text(encoding="utf-8"))
ENGLISH_TERMS = english_terms(GLOSSARY_TERMS)
TERM_PAGES = [p for p in chinese_pages() if p != GLOSSARY]


def test_the_glossary_defines_the_terms_a_beginner_meets():
    chinese = {part for term, _ in GLOSSARY_TERMS for part in re.split(r"[、，/]|（.*?）", term) if part.strip()}
    chinese = {part.strip() for part in chinese}
    wanted = ["梯度下降", "反向传播", "线性层", "点积", "矩阵乘法", "张量", "欠拟合", "消融实验", "缓冲区", "头维度"]
    wanted += ["查询", "键", "值", "运行目录", "差异块", "注意力头", "形状", "广播", "奈特", "困惑度"]
    assert not [term for term in wanted if term not in chinese]
    assert REFUSED["运行文件夹"] == "运行目录" and ENGLISH_TERMS["key"] == ["查询", "键", "值"]


FIRST_MENTION = re.compile(rf"([{CJK}]{{1,10}})\**（([A-Za-z][A-Za-z '-]{{1,40}})）")  # 术语（term）


def undefined_terms(text):
    """(line number, Chinese, English) of each term a page introduces, 术语（term）, that the glossary lacks: neither
    its English nor the end of its Chinese ("这叫广播（broadcasting）": 广播) is a glossary term."""
    chinese = {
        part.strip() for term, _ in GLOSSARY_TERMS for part in re.split(r"[、，/]|（.*?）", term) if part.strip()
    }
    english = {name.lower().removesuffix("s") for name in ENGLISH_TERMS}
    english |= {term.lower().removesuffix("s") for _, term in GLOSSARY_TERMS}
    return [
        (number, match.group(1), match.group(2))
        for number, line in prose_lines(text)
        for match in FIRST_MENTION.finditer(line)
        if match.group(2).strip().lower().removesuffix("s") not in english
        and not any(match.group(1).endswith(term) for term in chinese)
    ]


LESSONS = sorted((ROOT / "docs" / "learn").glob("*.zh.md"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_term_a_lesson_introduces_is_in_the_glossary(path):
    found = undefined_terms(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)}: terms the glossary (docs/glossary.md, .zh.md) lacks:\n" + "\n".join(
        f"  line {number}: …{chinese}（{english}）" for number, chinese, english in found
    )


@pytest.mark.parametrize("path", TERM_PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chinese_pages_use_the_glossary_terms(path):
    text = path.read_text(encoding="utf-8")
    uses = variant_uses(text, REFUSED)
    problems = [f"  line {n}: {variant}, where the glossary says {term}" for n, variant, term in uses]
    problems += [
        f"  line {n}: English {name!r} in Chinese prose (…{context}…): write {'、'.join(ENGLISH_TERMS[name])}, "
        f"with the English in parentheses after it if this is its first mention"
        for n, name, context in english_term_uses(text, ENGLISH_TERMS)
    ]
    assert not problems, f"{path.relative_to(ROOT)} (terms as in docs/glossary.zh.md):\n" + "\n".join(problems)


# ----------------------------------------------------------------------------
# each check fails on the text it is meant to catch


def test_each_check_finds_what_it_is_meant_to_catch():
    long = "这是" + "很长" * 80 + "的一句话。"
    assert long_sentences(long) and not long_sentences("短句。" * 80)
    assert not long_sentences(f"```text\n{long}\n```") and not long_sentences(f"| {long} |")
    assert not long_sentences(f"<!-- measured: x -->\n{long}\n<!-- end measured -->")
    assert straight_quotes('它以"。"结尾') and not straight_quotes("它以“。”结尾") and not straight_quotes('`"春"`')
    assert variant_uses("写进运行文件夹。", REFUSED) == [(1, "运行文件夹", "运行目录")]
    assert not variant_uses("写进运行目录（`运行文件夹`）。", REFUSED)
    assert [name for _, name, _ in english_term_uses("它的 key 和 value 存下来。", ENGLISH_TERMS)] == ["key", "value"]
    allowed = "键（key）、**残差流**（residual stream）、`key`、checkpoint（检查点）、“did you mean key?”。"
    assert english_term_uses(allowed, ENGLISH_TERMS) == []
    assert english_term_uses("An English line with a key.", ENGLISH_TERMS) == []
    assert english_term_uses("公式 $e^{\\text{loss}}$，菜单 *File → Open notebook*。", ENGLISH_TERMS) == []
    assert [name for _, name, _ in english_term_uses("各步的 loss 相差。", ENGLISH_TERMS)] == ["loss"]
    assert undefined_terms("这叫广播（broadcasting），那叫魔法（magic）。") == [(1, "那叫魔法", "magic")]


def test_the_lessons_generated_chinese_is_short_enough_to_follow():
    """The text bench/pages/lessons.py writes into the Chinese lessons is held to the same limit, where it is made."""
    from bench.pages import lessons

    found = []
    for stage in lessons.STAGES:
        for name, block in lessons.blocks_for(stage, "zh").items():
            inner = block.split("\n", 1)[1].rsplit("\n", 1)[0]  # the text between the marker lines
            found += [f"{stage} {name}: {length} characters: {start}…" for _, length, start in long_sentences(inner)]
    assert not found, "\n".join(found)
