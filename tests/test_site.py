"""The docs site in a real browser: headless Chromium, driven by Selenium, over the site served on 127.0.0.1.

- every page, in English and in Chinese, is read as HTML: each picture and each local link it names exists;
- in the browser, a sample of pages of every kind (front page, lessons with pictures and diagrams, glossary,
  a long guide with many pictures, both languages) loads with no error in the browser's console, its images
  load (naturalWidth > 0) and its Mermaid diagrams are drawn; BABYGPT_SITE_ALL=1 visits every page instead
  (a minute more here);
- the site is served as GitHub Pages serves a project site (`mkdocs gh-deploy`): under a sub-path, /BabyGPT/,
  with the top 404.html for any missing address; the language switch is clicked both ways from the front page,
  a lesson and the 404 page, and each language's 404 page comes in that language, with its stylesheets;
- the search finds the v7 lesson for "residual" and for 残差 (Chinese search: jieba cuts the words).

The site is built with `mkdocs build --strict` into a temporary folder, for the address SITE_URL (the hooks
read BABYGPT_SITE_URL), or taken from BABYGPT_SITE_DIR when that names a folder already built (`.ci/run` builds
it first, for the same address). Without mkdocs, selenium, chromium or
chromedriver the tests are skipped, since a learner needs none of them to train; under CI they fail instead.
Install: pip install -r requirements-docs.txt; apt-get install chromium chromium-driver.
"""

import functools
import html.parser
import http.server
import importlib.util
import os
import posixpath
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.docs  # the pages (python -m pytest -m "not docs" checks the code alone)

ROOT = Path(__file__).resolve().parent.parent
SITE_URL = "http://127.0.0.1/BabyGPT/"  # the address the site is built for: a project site's sub-path
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
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "BABYGPT_SITE_URL": SITE_URL}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def base(site_dir):
    """The sub-path the site was built for ("/BabyGPT/"), read from the front page's canonical link."""
    found = re.search(r'<link rel="canonical" href="([^"]+)"', (site_dir / "index.html").read_text("utf-8"))
    assert found and urlsplit(found.group(1)).path.strip("/"), (
        f"{site_dir} was built for a domain's root: build it with BABYGPT_SITE_URL={SITE_URL} (as .ci/run does)"
    )
    return urlsplit(found.group(1)).path


@pytest.fixture(scope="module")
def server(site_dir, base):
    """The site as GitHub Pages serves a project site: under base, and the top 404.html (status 404) for any
    other address. Yields the address of the site's root without its final slash: server + "/zh/"."""
    handler = functools.partial(SubPathHandler, base, directory=str(site_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}{base.rstrip('/')}"
    httpd.shutdown()
    httpd.server_close()


class SubPathHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, base, *args, **kwargs):
        self.base = base
        super().__init__(*args, **kwargs)

    def translate_path(self, path):
        path = urlsplit(path).path
        if not path.startswith(self.base):
            return os.path.join(self.directory, "outside the site's path")
        return super().translate_path("/" + path[len(self.base) :])

    def send_error(self, code, message=None, explain=None):
        if code != 404:
            return super().send_error(code, message, explain)
        body = (Path(self.directory) / "404.html").read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
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
SAMPLE += ["/learn/v0/"]  # formulas (KaTeX) on every other section


ERROR_PAGES = ["404.html", "zh/404.html"]


def test_every_page_names_only_pictures_and_local_pages_that_exist(site_dir, base):
    """Every page of both languages and both 404 pages, read as HTML (no browser): a missing picture, a link to
    a page or file the site lacks, or a link from the domain's root that leaves the site's sub-path is listed.
    (mkdocs --strict checks the Markdown's links; this checks what it wrote.)"""
    problems = []
    files = [url.strip("/") + "/index.html" for url in pages(site_dir)] + ERROR_PAGES
    for name in files:
        page = site_dir / name.lstrip("/")
        links = LinkParser()
        links.feed(page.read_text(encoding="utf-8"))
        for target in links.targets + links.resources:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:
                continue
            if parts.path.startswith("/") and not parts.path.startswith(base):
                problems.append(f"{name}: {target} (from the domain's root, outside {base})")
                continue
            # "/BabyGPT/zh/": from the site's root
            start, path = (
                (site_dir, parts.path[len(base) :]) if parts.path.startswith("/") else (page.parent, parts.path)
            )
            path = (start / unquote(path)).resolve()
            if not (path.is_file() or (path / "index.html").is_file()):
                problems.append(f"{name}: {target}")
    assert not problems, "\n".join(problems)


class LinkParser(html.parser.HTMLParser):
    """The src of every <img> and the href of every <a> of a page, and the links of its language selector."""

    def __init__(self):
        super().__init__()
        self.targets = []
        self.resources = []  # stylesheets and scripts: the href of each <link>, the src of each <script>
        self.languages = {}  # the language selector's links: hreflang -> href

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "md-select__link" in (attrs.get("class") or "") and attrs.get("hreflang"):
            self.languages[attrs["hreflang"]] = attrs.get("href", "")
        if tag == "img" and attrs.get("src"):
            self.targets.append(attrs["src"])
        if tag == "a" and attrs.get("href"):
            self.targets.append(attrs["href"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") in ("stylesheet", "icon"):
            self.resources.append(attrs["href"])
        if tag == "script" and attrs.get("src"):
            self.resources.append(attrs["src"])


# KaTeX draws each formula (an element of class arithmatex) into a span of class katex; one it cannot read stays
# as its source, marked katex-error (docs/assets/javascripts/katex-when-needed.js)
ALL_FORMULAS_DRAWN = (
    "return [...document.querySelectorAll('.arithmatex')]"
    ".every(f => f.querySelector('.katex') || f.classList.contains('katex-error'))"
)
FORMULA_ERRORS = "return [...document.querySelectorAll('.katex-error')].map(e => e.textContent)"


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
        wait_until(browser, ALL_FORMULAS_DRAWN, "a formula was not drawn")
        unread = browser.execute_script(FORMULA_ERRORS)
        if unread:
            problems.append(f"{url}: formulas KaTeX could not read: {unread}")
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


SWITCHES = [  # (page, language clicked, where it must lead)
    ("/", "zh", "/zh/"),
    ("/zh/", "en", "/"),
    ("/learn/v7/", "zh", "/zh/learn/v7/"),
    ("/zh/glossary/", "en", "/glossary/"),
    ("/no-such-page/", "zh", "/zh/"),  # the 404 page: its switch leads to the other language's front page
    ("/zh/learn/v13/", "en", "/"),
]


@pytest.mark.parametrize(("page", "language", "twin"), SWITCHES)
def test_language_switch_leads_to_the_twin(site_dir, base, page, language, twin):
    """The switch is a link in the page's HTML (Material's language selector), read here without a browser;
    a missing page is the top 404.html, or zh/404.html for a Chinese address (its script sends it there)."""
    if (site_dir / page.strip("/") / "index.html").is_file():
        html, folder = (site_dir / page.strip("/") / "index.html").read_text(encoding="utf-8"), page
    else:
        chinese = page.startswith("/zh/")
        html, folder = (site_dir / ERROR_PAGES[chinese]).read_text(encoding="utf-8"), None
    links = LinkParser()
    links.feed(html)
    assert language in links.languages, f"{page} has no language switch to {language}"
    target = urlsplit(links.languages[language]).path
    if folder is None:
        assert target.startswith(base), f"the 404 page's switch {target} leaves {base}: it is served at any depth"
    resolved = posixpath.normpath(posixpath.join(base + (folder or "").lstrip("/"), target))
    assert resolved.rstrip("/") == (base + twin.lstrip("/")).rstrip("/")


@pytest.mark.parametrize(("page", "language", "twin"), SWITCHES)
def test_language_switch_clicked_under_the_sub_path(server, browser, page, language, twin):
    """In Chromium, the site served under its sub-path: open the switch's menu, click the other language."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(server + page)
    wait_until(browser, "return document.readyState === 'complete'", "the page did not load")
    wait_until(
        browser,
        f"return !location.pathname.startsWith('{urlsplit(server).path}/zh/') || "
        "document.documentElement.lang === 'zh'",
        "a missing Chinese page did not get the Chinese 404",
    )
    menu = browser.find_element(By.CSS_SELECTOR, ".md-header .md-select")
    link = browser.find_element(By.CSS_SELECTOR, f".md-header a.md-select__link[hreflang='{language}']")
    ActionChains(browser).move_to_element(menu).pause(0.3).move_to_element(link).click().perform()
    wanted = server + twin
    wait_until(
        browser,
        f"return location.href === {wanted!r} && document.readyState === 'complete'",
        f"clicking {language} on {page} did not lead to {twin}",
    )
    assert browser.execute_script("return document.documentElement.lang") == language
    assert "404" not in browser.find_element(By.CSS_SELECTOR, "h1").text, f"{twin} is a 404 page"


STYLED = (
    "return [...document.querySelectorAll('link[rel=stylesheet]')].every(l => l.sheet && l.sheet.cssRules.length)"
    " && getComputedStyle(document.querySelector('.md-header')).position === 'sticky'"
)


@pytest.mark.parametrize(
    ("missing", "language", "heading"),
    [
        ("/no-such-page/", "en", "404: no page here"),
        ("/learn/v13/", "en", "404: no page here"),
        ("/zh/no-such-page/", "zh", "404：没有这一页"),
        ("/zh/learn/v13/", "zh", "404：没有这一页"),
    ],
)
def test_missing_page_gets_a_styled_404_in_its_language(server, browser, missing, language, heading):
    """Any missing address under the sub-path gets the 404 page of its language, with its stylesheets
    loaded from the sub-path (Material's header is sticky only when they are)."""
    from selenium.webdriver.common.by import By

    browser.get(server + missing)
    wait_until(browser, f"return document.documentElement.lang === {language!r}", f"{missing}: no 404 in {language}")
    wait_until(browser, "return document.readyState === 'complete'", "the 404 page did not load")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == heading
    wait_until(browser, STYLED, f"{missing}: the 404 page's stylesheets did not load")


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


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:ada/BabyGPT.git", "https://ada.github.io/BabyGPT/"),
        ("https://github.com/Ada/BabyGPT\n", "https://ada.github.io/BabyGPT/"),
        ("https://github.com/ada/ada.github.io.git", "https://ada.github.io/"),
        ("/srv/git/BabyGPT.git", None),
        ("", None),
    ],
)
def test_site_address_from_the_git_remote(remote, url):
    """`mkdocs gh-deploy` pushes to the git remote: without site_url, the site takes the address GitHub Pages
    gives that repository, so its 404 page loads its stylesheets from /REPO/."""
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    assert hooks.pages_url(remote) == url
