"""A reader's plain ``jupyter-book build .``, on a clean copy of the checkout, makes the real site.

The copy holds what git tracks (and untracked files it does not ignore): no ``_vendor/``, no
``_build/``, no execution cache. It is built with exactly ``jupyter-book build .`` in the book's
environment, with no ``MLBOOK_*`` switches, and its pages must pass the site checks: offline,
without errors, with typeset maths and drawn widgets, and with the same widgets as the book's own
build (the static switch reached the kernels).
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, SITE, _QuietHandler, logged_page, toc_files
from test_site import (
    check_loads_offline_without_errors,
    check_maths_is_typeset,
    check_widgets_render,
)

sys.path.insert(0, str(ROOT / "scripts"))
from bench_build import make_copy  # noqa: E402

PAGES = toc_files()


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory):
    copy = tmp_path_factory.mktemp("plain") / "book"
    make_copy(copy, from_head=False)
    assert not (copy / "_vendor").exists() and not (copy / "_build").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBOOK_")}
    if os.environ.get("MLBOOK_DATA"):  # a reader has the internet; this machine has a mirror
        env["MLBOOK_DATA"] = os.environ["MLBOOK_DATA"]
    result = subprocess.run(["jupyter-book", "build", "."], cwd=copy, env=env,
                            capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "build succeeded" in log, log[-3000:]
    assert "WARNING:" not in log, [line for line in log.splitlines() if "WARNING:" in line]
    return copy / "_build" / "html"


@pytest.fixture(scope="module")
def plain_server(plain_site):
    handler = functools.partial(_QuietHandler, directory=str(plain_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def plain_page(browser, plain_server):
    with logged_page(browser, plain_server) as page:
        yield page


@pytest.mark.parametrize("doc", PAGES)
def test_plain_build_page_works_offline(plain_page, plain_server, doc):
    check_loads_offline_without_errors(plain_page, plain_server, doc)
    check_maths_is_typeset(plain_page, plain_server, doc)


@pytest.mark.parametrize("doc", PAGES)
def test_plain_build_has_the_books_widgets(plain_page, plain_server, page, server, doc):
    assert check_widgets_render(plain_page, plain_server, doc) == \
        check_widgets_render(page, server, doc)


def test_plain_build_vendored_the_javascript(plain_site):
    for path in ("requirejs/require.js", "html-manager/dist/embed-amd.js",
                 "anywidget/dist/index.js", "mathjax/tex-mml-chtml.js"):
        assert (plain_site / path).is_file(), f"{path} missing from the plain build's site"
    assert SITE != plain_site
