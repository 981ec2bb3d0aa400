"""MkDocs hook: each page opens with a link to its twin in the other language ("[中文](x.zh.md)",
"[English](x.md)"), for readers on GitHub. On the site the language switch in the header does that, and the
English build holds no Chinese file to link to, so the line is taken out before the page is rendered."""

import re

TWIN_LINK = re.compile(r"\A(\s*)\[(?:中文版?|English)\]\([^)\s]+\)[ \t]*\n")


def on_page_markdown(markdown, page, config, files):
    return TWIN_LINK.sub(r"\1", markdown, count=1)


def on_post_build(config):
    """Material's language switch reads each language's sitemap.xml; the i18n plugin writes only the default
    language's, which lists every language's pages. A language built into a folder of the site (site/zh)
    gets a copy of it, so the browser finds no missing file."""
    import shutil
    from pathlib import Path

    site = Path(config["site_dir"])
    languages = [path for path in site.iterdir() if re.fullmatch(r"[a-z]{2}", path.name) and path.is_dir()]
    for folder in languages:
        for name in ("sitemap.xml", "sitemap.xml.gz"):
            if (site / name).exists():
                shutil.copyfile(site / name, folder / name)
