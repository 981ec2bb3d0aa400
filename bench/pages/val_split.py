"""What the val split holds: the last tenth of data/ci.txt, poem by poem, written into docs/corpus.md (both).

    python -m bench val_split           # count, then rewrite the val-split block of docs/corpus.md and .zh.md
    python -m bench val_split --check   # write nothing; exit 1 if a page's block differs from the count

Every stage splits the characters of the corpus at int(0.9 × length): the first nine tenths train, the rest
is the val split (split_data in each stage). data/prepare.py writes the Song ci first, in the collection's
file order, then the Southern Tang ci (南唐词), so the val split is the end of the Song collection followed
by the Southern Tang poems. This script counts the poems (a poem is a block between blank lines whose first
line is "词牌 作者") that end after the cut, by poet. Standard library only; reads data/ci.txt (--data).
"""

import argparse
import os
import re
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

PAGES = {"en": os.path.join(ROOT, "docs", "corpus.md"), "zh": os.path.join(ROOT, "docs", "corpus.zh.md")}
SOUTHERN_TANG = ("李璟", "李煜")  # the poets of the Southern Tang file, the last poems data/prepare.py writes
ANONYMOUS = "无名氏"
NAME = "val-split"


def count(text, train_fraction=0.9):
    """The val split of a corpus text, poem by poem: a dict of figures (characters, poems, poets, shares)."""
    cut = int(train_fraction * len(text))
    poems, trained, at = [], set(), 0  # trained: the poets with a whole poem in the training text
    for block in text.split("\n\n"):
        if block.strip() and at + len(block) > cut:
            poems.append((max(0, cut - at), block))  # (characters of it that are still training text, poem)
        elif block.strip():
            trained.add(block.split("\n")[0].split(" ")[-1])
        at += len(block) + 2
    poets = [block.split("\n")[0].split(" ")[-1] for _, block in poems]
    tang = len(poets)
    while tang and poets[tang - 1] in SOUTHERN_TANG:
        tang -= 1
    in_val = [len(block) - before for before, block in poems]
    anonymous = [n for n, poet in zip(in_val, poets[:tang], strict=False) if poet == ANONYMOUS]
    val_chars = len(text) - cut
    return {
        "characters": val_chars,
        "poems": len(poems),
        "first_cut": poems[0][0] > 0 if poems else False,
        "song": tang,
        "song_poets": len(set(poets[:tang])),
        "poets": len(set(poets)),
        "new_poets": len(set(poets) - trained),
        "anonymous": len(anonymous),
        "anonymous_share": sum(anonymous) / val_chars,
        "tang": Counter(poets[tang:]),
        "tang_share": sum(in_val[tang:]) / val_chars,
        "first": poems[0][1].split("\n")[0] if poems else "",
    }


def block(figures, language):
    f = figures
    tang = f["tang"]
    if language == "en":
        text = (
            f"The val split is the last tenth of the text: {f['characters']:,} characters of "
            f"{f['poems']:,} poems (the first, `{f['first']}`, begins in the training text). "
            f"{f['song']:,} of them are the last Song ci of the collection, by {f['song_poets']} poets, and "
            f"{f['anonymous']:,} of those are by 无名氏 (anonymous): {f['anonymous_share']:.0%} of the val "
            f"characters. The last {sum(tang.values())} are the Southern Tang ci, {tang['李璟']} by 李璟 and "
            f"{tang['李煜']} by 李煜, earlier than the Song ({f['tang_share']:.1%} of the val characters). "
            f"{f['new_poets']} of the {f['poets']} poets of the val split have no poem in the training text. "
            "Counted with `python -m bench val_split`."
        )
    else:
        text = (
            f"验证集是文本的最后十分之一：{f['characters']:,} 个字符，是 {f['poems']:,} 首词的全部或末尾"
            f"（第一首 `{f['first']}` 从训练文本里开始）。其中 {f['song']:,} 首是合集里排在最后的宋词，"
            f"出自 {f['song_poets']} 位作者，而这些词里有 {f['anonymous']:,} 首署名“无名氏”，"
            f"占验证集字符的 {f['anonymous_share']:.0%}。最后 {sum(tang.values())} 首是南唐词："
            f"李璟 {tang['李璟']} 首，李煜 {tang['李煜']} 首，年代比宋词还早（占验证集字符的 {f['tang_share']:.1%}）。"
            f"验证集的 {f['poets']} 位作者中，有 {f['new_poets']} 位在训练文本里一首词也没有。"
            "以上由 `python -m bench val_split` 统计。"
        )
    return f"<!-- measured: {NAME} -->\n{text}\n<!-- end measured -->"


BLOCK = re.compile(rf"<!-- measured: {NAME} -->.*?<!-- end measured -->", re.S)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "ci.txt"), help="the corpus (data/ci.txt)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page would change")
    args = parser.parse_args(argv)
    try:
        with open(args.data, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        sys.exit(f"error: cannot read {args.data} ({error.strerror}); build it with: python data/prepare.py")
    figures = count(text)
    stale = []
    for language, path in PAGES.items():
        with open(path, encoding="utf-8") as f:
            page = f.read()
        if not BLOCK.search(page):
            sys.exit(f"error: {os.path.relpath(path, ROOT)} has no <!-- measured: {NAME} --> block")
        new = BLOCK.sub(lambda _, language=language: block(figures, language), page)
        if new != page:
            stale.append(os.path.relpath(path, ROOT))
            if not args.check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    if args.check and stale:
        sys.exit("stale: " + ", ".join(stale) + " (run: python -m bench val_split)")
    print("written: " + ", ".join(stale) if stale else "up to date")


if __name__ == "__main__":
    main()
