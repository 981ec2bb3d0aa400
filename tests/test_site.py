"""The docs site in a real browser: headless Chromium, driven by Selenium, over the site served on 127.0.0.1.

- every page, in English and in Chinese, is read as HTML: each picture and each local link it names exists;
- in the browser, a sample of pages of every kind (front page, lessons with pictures and diagrams, glossary,
  a long guide with many pictures, both languages) loads with no error in the browser's console, its images
  load (naturalWidth > 0) and its Mermaid diagrams are drawn; BABYGPT_SITE_ALL=1 visits every page instead
  (a minute more here);
- the language switch of a page (a link in its HTML) leads to its twin in the other language;
- the search finds the v7 lesson for "residual" and for 残差 (Chinese search: jieba cuts the words).

The site is built with `mkdocs build --strict` into a temporary folder, or taken from BABYGPT_SITE_DIR when
that names a folder already built (`.ci/run` builds it first). Without mkdocs, selenium, chromium or
chromedriver the tests are skipped, since a learner needs none of them to train; under CI they fail instead.
Install: pip install -r requirements-docs.txt; apt-get install chromium chromium-driver.
"""

import functools
import html.parser
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60  # seconds a page may take to load, draw its diagrams or answer a search (a busy machine is slow)


def missing_tools():
    missing = [name for name in ("mkdocs", "selenium", "jieba") if importlib.util.find_spec(name) is None]
    missing += [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return missing


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    missing = missing_tools()
    if missing:
        message = f"the site's browser test needs {', '.join(missing)} (see requirements-docs.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    built = os.environ.get("BABYGPT_SITE_DIR")
    if built and (Path(built) / "index.html").exists():
        return Path(built)
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def server(site_dir):
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def browser(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(5 * WAIT)
    yield driver
    driver.quit()


def pages(site_dir):
    """Every page of the site as a URL path: English at /NAME/, Chinese at /zh/NAME/."""
    return sorted(
        "/" + path.parent.relative_to(site_dir).as_posix() + "/"
        for path in site_dir.rglob("index.html")
        if path.parent != site_dir
    ) + ["/"]


def wait_until(driver, script, what):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(script))
    except Exception as error:  # a TimeoutException, with the page's URL for the reader
        raise AssertionError(f"{driver.current_url}: {what} within {WAIT} s") from error


ALL_IMAGES_LOADED = "return [...document.images].every(i => i.complete)"
BROKEN_IMAGES = "return [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
# Material draws each diagram into a closed shadow root of a <div class="mermaid">, which replaces the <pre> that
# held its source: a diagram is drawn when no such <pre> is left and its <div> has a height
ALL_DIAGRAMS_DRAWN = (
    "return [...document.querySelectorAll('.mermaid')].every(d => d.tagName === 'DIV' && d.offsetHeight > 20)"
)


# one page of each kind, both languages among them: the front page (its map is a diagram), lessons with a
# picture and a diagram, the glossary (a long table), the longest guide (many pictures), the playground's
SAMPLE = ["/", "/zh/learn/v3/", "/learn/v10/", "/zh/glossary/", "/hyperparameters/", "/zh/playground/"]


def test_every_page_names_only_pictures_and_local_pages_that_exist(site_dir):
    """Every page of both languages, read as HTML (no browser): a missing picture or a link to a page or file
    the site lacks is listed. (mkdocs --strict checks the Markdown's links; this checks what it wrote.)"""
    problems = []
    for url in pages(site_dir):
        folder = site_dir / url.strip("/")
        links = LinkParser()
        links.feed((folder / "index.html").read_text(encoding="utf-8"))
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue
            base = site_dir if parts.path.startswith("/") else folder  # "/zh/": from the site's root
            path = (base / unquote(parts.path).lstrip("/")).resolve()
            if not (path.is_file() or (path / "index.html").is_file()):
                problems.append(f"{url}: {target}")
    assert not problems, "\n".join(problems)


class LinkParser(html.parser.HTMLParser):
    """The src of every <img> and the href of every <a> of a page, and the links of its language selector."""

    def __init__(self):
        super().__init__()
        self.targets = []
        self.languages = {}  # the language selector's links: hreflang -> href

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "md-select__link" in (attrs.get("class") or "") and attrs.get("hreflang"):
            self.languages[attrs["hreflang"]] = attrs.get("href", "")
        if tag == "img" and attrs.get("src"):
            self.targets.append(attrs["src"])
        if tag == "a" and attrs.get("href"):
            self.targets.append(attrs["href"])


def test_pages_load_with_their_images_and_diagrams(site_dir, server, browser):
    urls = pages(site_dir)
    if not os.environ.get("BABYGPT_SITE_ALL"):
        assert set(SAMPLE) <= set(urls), set(SAMPLE) - set(urls)
        urls = SAMPLE
    browser.get(server + "/")
    browser.get_log("browser")  # start with an empty log
    problems = []
    for url in urls:
        browser.get(server + url)
        wait_until(browser, ALL_IMAGES_LOADED, "the images did not finish loading")
        wait_until(browser, ALL_DIAGRAMS_DRAWN, "a Mermaid diagram was not drawn")
        broken = browser.execute_script(BROKEN_IMAGES)
        if broken:
            problems.append(f"{url}: images that did not load: {broken}")
        errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        if errors:
            problems.append(f"{url}: console errors: {errors}")
    assert not problems, "\n".join(problems)


DIAGRAMS_DRAWN = "return [...document.querySelectorAll('.mermaid')].filter(d => d.offsetHeight > 20)"


def test_front_page_draws_its_diagram(server, browser):
    """The map of the twelve stages on the front page is a Mermaid diagram: it must come out as a picture."""
    for url in ("/", "/zh/"):
        browser.get(server + url)
        wait_until(browser, ALL_DIAGRAMS_DRAWN, "the map of the stages was not drawn")
        assert len(browser.execute_script(DIAGRAMS_DRAWN)) >= 1, url


@pytest.mark.parametrize(("page", "twin"), [("/learn/v7/", "/zh/learn/v7/"), ("/zh/glossary/", "/glossary/")])
def test_language_switch_leads_to_the_twin(site_dir, page, twin):
    """The switch is a link in the page's HTML (Material's language selector): no browser needed to follow it."""
    language = "zh" if twin.startswith("/zh/") else "en"
    links = LinkParser()
    links.feed((site_dir / page.strip("/") / "index.html").read_text(encoding="utf-8"))
    assert language in links.languages, f"{page} has no language switch to {language}"
    target = urlsplit(links.languages[language]).path
    base = site_dir if target.startswith("/") else site_dir / page.strip("/")
    assert (base / target.lstrip("/")).resolve() == (site_dir / twin.strip("/")).resolve()


@pytest.mark.parametrize(("page", "query"), [("/", "residual"), ("/zh/", "残差")])
def test_search_finds_the_residual_lesson(server, browser, page, query):
    """Material's search opens with the query of the page's ?q=, as when a learner types it in the search box."""
    from urllib.parse import quote

    browser.get(f"{server}{page}?q={quote(query)}")
    wait_until(
        browser,
        "return [...document.querySelectorAll('.md-search-result__link')].some(a => a.href.includes('/learn/v7/'))",
        f"searching {query!r} did not list the v7 lesson",
    )
