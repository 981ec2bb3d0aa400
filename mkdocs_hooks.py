"""MkDocs hooks for the site (mkdocs.yml names this file).

The site works under a sub-path (`mkdocs gh-deploy` publishes a project site at https://OWNER.github.io/REPO/):
its address is mkdocs.yml's site_url, or BABYGPT_SITE_URL, or else the one GitHub Pages gives the git remote
that gh-deploy pushes to; the language switch is a link relative to the page; each language has its own 404
page (404.html in English, zh/404.html in Chinese), whose links start from the site's path.

Each page opens with a link to its twin in the other language ("[中文](x.zh.md)", "[English](x.md)"), for
readers on GitHub. On the site the language switch in the header does that, and the English build holds no
Chinese file to link to, so the line is taken out before the page is rendered."""

import copy
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.plugins import event_priority

TWIN_LINK = re.compile(r"\A(\s*)\[(?:中文版?|English)\]\([^)\s]+\)[ \t]*\n")


def on_page_markdown(markdown, page, config, files):
    return TWIN_LINK.sub(r"\1", markdown, count=1)


ALTERNATE_LINK = re.compile(r'<link rel="alternate"[^>]*hreflang="[^"]*"[^>]*>\s*')


def on_post_page(output, page, config):
    """The i18n plugin puts a <link rel="alternate" hreflang=...> to each page's twin in its head, and Material
    fetches a sitemap.xml beside every such link (a 404 in the console for each page). The language switch in
    the header is a plain link to the twin and needs none of them, so they are taken out."""
    return ALTERNATE_LINK.sub("", output)


GITHUB_REMOTE = re.compile(r"github\.com[:/]([^/\s]+)/([^/\s]+?)(?:\.git)?/?$")


def pages_url(remote_url):
    """The address GitHub Pages gives the repository at remote_url ("git@github.com:ada/BabyGPT.git" ->
    "https://ada.github.io/BabyGPT/"; a user site "ada/ada.github.io" -> "https://ada.github.io/"), or None
    for a remote elsewhere."""
    match = GITHUB_REMOTE.search(remote_url.strip())
    if not match:
        return None
    owner, repo = match.groups()
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if repo.lower() == host else f"https://{host}/{repo}/"


def git_remote_url(folder, remote):
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", remote], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout if result.returncode == 0 else ""


@event_priority(100)  # before the i18n plugin, which builds the language switch from site_url
def on_config(config):
    """Without its address the site works only at a domain's root: the 404 page (served for any missing path)
    loads its stylesheets and links from "/". `mkdocs serve` sets its own address before this runs."""
    if not config.site_url:
        url = os.environ.get("BABYGPT_SITE_URL") or pages_url(
            git_remote_url(Path(config.config_file_path or ".").parent, config.remote_name)
        )
        if url:
            config.site_url = url if url.endswith("/") else url + "/"
    return config


def base_path(config):
    return urlsplit(config.site_url or "/").path or "/"


def current_language(config):
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "current_language", None) or config.theme.get("language") or "en"


def switch_links(config):
    """The language switch's links as the templates read them (config.extra.alternate): the i18n plugin sets
    them as an attribute of config.extra for each page, which Jinja reads before the mapping's item."""
    extra = config.extra
    return vars(extra)["alternate"] if "alternate" in vars(extra) else extra.get("alternate") or []


@event_priority(-50)  # after the i18n plugin, which sets the switch's links for each page
def on_page_context(context, page, config, nav):
    """The switch on the front pages links "/" and "/zh/" from the domain's root (or from site_url's path):
    made relative to the site, the url filter then makes them relative to the page, right under any path."""
    base = base_path(config)
    for alternate in switch_links(config):
        link = alternate.get("link", "")
        if link.startswith(base):
            alternate["link"] = link[len(base) :] or "."
    return context


def on_template_context(context, template_name, config):
    """The 404 page's switch leads to the other language's front page (the missing page has no twin)."""
    if template_name == "404.html":
        base = base_path(config)
        links = copy.deepcopy(switch_links(config))
        for alternate in links:
            lang = alternate.get("lang", "")
            alternate["link"] = base if lang == default_language(config) else f"{base}{lang}/"
        SWITCH_BEFORE_404[:] = [vars(config.extra).get("alternate", None)]
        config.extra.alternate = links
    return context


SWITCH_BEFORE_404 = []  # the attribute config.extra.alternate as it was before the 404 page set it


def default_language(config):
    i18n = config.plugins.get("i18n")
    return getattr(i18n, "default_language", None) or "en"


def on_post_template(output, template_name, config):
    """The i18n plugin builds each language into the same site folder, and each build writes 404.html there:
    the Chinese one, written last, would be the only 404. It goes to zh/404.html instead."""
    if template_name != "404.html":
        return output
    before = SWITCH_BEFORE_404.pop() if SWITCH_BEFORE_404 else None
    if before is None:
        vars(config.extra).pop("alternate", None)
    else:
        config.extra.alternate = before
    language = current_language(config)
    if language == default_language(config):
        ENGLISH_404[config.site_dir] = output
        return output
    target = Path(config.site_dir) / language / "404.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(output, encoding="utf-8")
    return ENGLISH_404.get(config.site_dir, output)


ENGLISH_404 = {}  # site_dir -> the English build's 404 page, put back after the Chinese build writes its own
