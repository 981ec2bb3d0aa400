"""MkDocs hook: each page opens with a link to its twin in the other language ("[中文](x.zh.md)",
"[English](x.md)"), for readers on GitHub. On the site the language switch in the header does that, and the
English build holds no Chinese file to link to, so the line is taken out before the page is rendered."""

import re

TWIN_LINK = re.compile(r"\A(\s*)\[(?:中文版?|English)\]\([^)\s]+\)[ \t]*\n")


def on_page_markdown(markdown, page, config, files):
    return TWIN_LINK.sub(r"\1", markdown, count=1)
