"""MkDocs hooks for the site (mkdocs.yml names this file).

Each page opens with a link to its twin in the other language ("[中文](x.zh.md)", "[English](x.md)"), for
readers on GitHub. On the site the language switch in the header does that, and the English build holds no
Chinese file to link to, so the line is taken out before the page is rendered."""

import re

TWIN_LINK = re.compile(r"\A(\s*)\[(?:中文版?|English)\]\([^)\s]+\)[ \t]*\n")


def on_page_markdown(markdown, page, config, files):
    return TWIN_LINK.sub(r"\1", markdown, count=1)


ALTERNATE_LINK = re.compile(r'<link rel="alternate"[^>]*hreflang="[^"]*"[^>]*>\s*')


def on_post_page(output, page, config):
    """The i18n plugin puts a <link rel="alternate" hreflang=...> to each page's twin in its head, and Material
    fetches a sitemap.xml beside every such link (a 404 in the console for each page). The language switch in
    the header is a plain link to the twin and needs none of them, so they are taken out."""
    return ALTERNATE_LINK.sub("", output)
