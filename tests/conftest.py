"""Shared fixtures: the built site, a local web server for it, and headless Chromium.

The tests read what a reader sees, so they run against ``_build/html`` as built by
``scripts/build.sh`` (``scripts/test.sh`` builds it first).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# scripts/build.sh builds into $MLBOOK_OUT/_build (default: the repository root).
BUILD = Path(os.environ.get("MLBOOK_OUT") or ROOT).resolve() / "_build"
SITE = BUILD / "html"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def toc_files() -> list[str]:
    """Every document in ``_toc.yml``, as a path without suffix (e.g. ``chapters/calculus``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def notebook_pages() -> list[str]:
    return [f for f in toc_files() if (ROOT / f"{f}.ipynb").is_file()]


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"No built site at {SITE}: run `bash scripts/build.sh` first "
                    "(`bash scripts/test.sh` does both).")
    return SITE


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output for test results
        pass


@pytest.fixture(scope="session")
def server(site) -> str:
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def chromium_path() -> str | None:
    return os.environ.get("MLBOOK_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        # A missing browser fails, never skips: browser tests check most of what a reader sees.
        pytest.fail("Chromium not found. Install Debian's chromium (`apt-get install chromium`) "
                    "or set MLBOOK_CHROMIUM to a Chromium binary; scripts/test.sh installs it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """What a page did while loading: requests, failures, uncaught errors and console errors."""

    def __init__(self, page, origin: str):
        self.origin = origin
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("requestfailed", lambda request: self.failed.append(
            f"{request.url} ({request.failure})"))
        page.on("response", lambda response: response.status >= 400 and self.failed.append(
            f"{response.url} (HTTP {response.status})"))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(
            message.text))

    def off_origin(self) -> list[str]:
        # blob: URLs of this origin are in-page objects (anywidget loads each widget's module so)
        return [url for url in self.requests
                if not url.startswith((self.origin, f"blob:{self.origin}", "data:"))]


@contextlib.contextmanager
def logged_page(browser, origin: str):
    """A fresh browser page whose ``mlbook_log`` records requests against ``origin``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.mlbook_log = PageLog(page, origin)
    # Generous: a loaded 2-core machine can take a while to parse the 3.6 MB widget manager.
    page.set_default_timeout(90_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, server):
    with logged_page(browser, server) as page:
        yield page


@pytest.fixture
def page_without_javascript(browser, server):
    """Opens a book page (``doc``, e.g. "chapters/calculus") as a reader with JavaScript turned
    off sees it."""
    contexts = []

    def open_doc(doc: str):
        contexts.append(browser.new_context(java_script_enabled=False))
        page = contexts[-1].new_page()
        page.goto(f"{server}/{doc}.html")
        return page

    yield open_doc
    for context in contexts:
        context.close()


def open_page(page, server: str, doc: str, query: str = "") -> None:
    """Load a book page and wait until every widget on it has drawn.

    A book widget marks each finished draw on its root (``data-renders``, set by ``rendered`` in
    mlbook/js/common.js); the widget manager writes "Error displaying widget" where it cannot
    show one, and then the page fails here.
    """
    page.goto(f"{server}/{doc}.html{query}", wait_until="load")
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        page.wait_for_function(
            "n => document.querySelectorAll('.mlbook-widget[data-renders]').length >= n || "
            "document.body.textContent.includes('Error displaying widget')",
            arg=views, polling=200)
        drawn = page.locator(".mlbook-widget[data-renders]").count()
        assert drawn >= views, f"{doc}: {drawn} of {views} widgets drew (Error displaying widget)"
    page.wait_for_load_state("networkidle")


# --- The book's widgets (mlbook.widgets.BookWidget) outside the book: a sandbox page ------------

def serve_sandbox(folder: Path):
    """Serve ``folder`` as a local site holding the vendored widget manager only (no book build
    needed); returns the server and its URL."""
    sys.path.insert(0, str(ROOT / "_ext"))
    import vendor_js

    vendor_js.vendor()
    for name in ("requirejs", "html-manager", "anywidget"):
        (folder / name).symlink_to(ROOT / "_vendor" / name)
    (folder / "require-config.js").symlink_to(ROOT / "_extra" / "require-config.js")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A sandbox site for widgets that Python sets up in a test. Yields its folder and URL."""
    folder = tmp_path_factory.mktemp("sandbox")
    httpd, url = serve_sandbox(folder)
    yield folder, url
    httpd.shutdown()


@pytest.fixture
def sandbox_page(browser, sandbox):
    with logged_page(browser, sandbox[1]) as page:
        yield page


_SANDBOX_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="require-config.js"></script><script src="requirejs/require.js"></script>
<script src="html-manager/dist/embed-amd.js"></script>
<script type="application/vnd.jupyter.widget-state+json">{state}</script></head>
<body style="max-width:800px">{views}</body></html>"""


def show_widgets(page, sandbox, *widgets):
    """Render ``widgets`` (as set up in Python) in a page with no kernel, as the book's static page
    does; return a locator of their roots (``.mlbook-widget``), once every one has drawn."""
    import json

    from ipywidgets.embed import embed_data

    data = embed_data(views=list(widgets), drop_defaults=False)  # _esm is a default
    views = "".join('<script type="application/vnd.jupyter.widget-view+json">'
                    f"{json.dumps(spec)}</script>" for spec in data["view_specs"])
    folder, url = sandbox
    name = f"widgets-{id(widgets)}-{len(list(folder.iterdir()))}.html"
    (folder / name).write_text(_SANDBOX_PAGE.format(state=json.dumps(data["manager_state"]),
                                                    views=views))
    page.goto(f"{url}/{name}")
    roots = page.locator(".mlbook-widget")
    page.wait_for_function(
        "n => [...document.querySelectorAll('.mlbook-widget')].filter("
        "el => Number(el.dataset.renders) > 0).length >= n", arg=len(widgets))
    return roots


def load_module(page, name: str) -> None:
    """Import the widget module ``name`` (common.js + js/<name>.js) into the page as
    ``window.mlbookModule``, to call its exported functions with :func:`call_js`."""
    from mlbook.widgets import bundle

    page.evaluate("""async source => {
        const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
        window.mlbookModule = await import(url);
    }""", bundle(name))


def call_js(page, function: str, *args):
    """Call an exported function of the module :func:`load_module` loaded; JSON in and out."""
    return page.evaluate("([name, args]) => window.mlbookModule[name](...args)",
                         [function, list(args)])


def wait_rendered(root, after: int) -> None:
    """Wait until the widget ``root`` has finished a redraw after its ``after``-th."""
    root.page.wait_for_function("([el, n]) => Number(el.dataset.renders) > n",
                                arg=[root.element_handle(), after], timeout=10_000)


def renders(root) -> int:
    return int(root.get_attribute("data-renders") or 0)
