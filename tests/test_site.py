"""Every page, loaded in headless Chromium as a reader would, works with no network."""

import re

import pytest
import yaml
from conftest import ROOT, notebook_pages, open_page, toc_files

PAGES = toc_files()


def check_loads_offline_without_errors(page, server, doc) -> None:
    open_page(page, server, doc)
    log = page.mlbook_log
    assert log.requests, "the page made no requests at all: is the server up?"
    assert not log.off_origin(), f"requests left the site: {log.off_origin()}"
    assert not log.failed, f"failed requests: {log.failed}"
    assert not log.errors, f"uncaught page errors: {log.errors}"
    assert not log.console_errors, f"errors in the browser console: {log.console_errors}"


def check_maths_is_typeset(page, server, doc) -> None:
    open_page(page, server, doc)
    math_nodes = page.locator("div.math, span.math").count()
    if math_nodes == 0:
        return
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    rendered = page.locator("main mjx-container").count()
    assert rendered >= math_nodes, f"{rendered} of {math_nodes} formulas rendered"
    assert not page.locator("mjx-merror").count(), "MathJax reported a TeX error"


def check_widgets_render(page, server, doc) -> list[str]:
    """Every widget view saved in the page is drawn; returns their model names, in order."""
    open_page(page, server, doc)
    views = page.evaluate("""() => [...document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]')].map(
        s => JSON.parse(s.textContent).model_id)""")
    if not views:
        return []
    # A book widget (anywidget) marks its first draw.
    page.wait_for_function("n => document.querySelectorAll("
                           "'.mlbook-widget[data-renders]').length >= n", arg=len(views))
    text = page.locator("article").inner_text()
    assert "Error displaying widget" not in text and "Could not create" not in text
    return page.evaluate("""() => {
        const state = JSON.parse(document.querySelector(
            'script[type="application/vnd.jupyter.widget-state+json"]').textContent).state;
        return [...document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-view+json"]')].map(
            s => state[JSON.parse(s.textContent).model_id].model_name);
    }""")


@pytest.mark.parametrize("doc", PAGES)
def test_page_loads_offline_without_errors(page, server, doc):
    check_loads_offline_without_errors(page, server, doc)


@pytest.mark.parametrize("doc", PAGES)
def test_maths_is_typeset(page, server, doc):
    check_maths_is_typeset(page, server, doc)


@pytest.mark.parametrize("doc", PAGES)
def test_widgets_render(page, server, doc):
    check_widgets_render(page, server, doc)


@pytest.mark.parametrize("doc", PAGES)
def test_every_image_has_meaningful_alt_text(page, server, doc):
    open_page(page, server, doc)
    images = page.evaluate("""() => [...document.querySelectorAll('article img')].map(
        img => ({src: img.src.slice(0, 60), alt: (img.getAttribute('alt') || '').trim()}))""")
    bad = [img for img in images if len(img["alt"]) < 10 or img["alt"].startswith("<Figure")]
    assert not bad, f"images without meaningful alt text: {bad}"
    graphics = page.evaluate("""() => [...document.querySelectorAll(
        'article svg[role=img]:not(.svg-inline--fa)')].map(
        svg => (svg.getAttribute('aria-label') || '').trim())""")
    assert all(len(label) >= 10 for label in graphics), "an SVG figure lacks an aria-label"


@pytest.mark.parametrize("doc", PAGES)
def test_no_memory_address_is_shown(page, server, doc):
    open_page(page, server, doc)
    text = page.locator("article").inner_text()
    shown = re.findall(r".{0,40}\bat 0x[0-9a-fA-F]+.{0,10}", text)
    assert not shown, f"object reprs with memory addresses on the page: {shown}"


@pytest.mark.parametrize("doc", notebook_pages())
def test_chapter_ends_with_its_references(page, server, doc):
    open_page(page, server, doc)
    headings = page.locator("article h2").all_inner_texts()
    # numbered chapters number their sections too: "3.15. References"
    assert any(re.sub(r"^[\d.]+\s+", "", h.strip("#¶ \n")).startswith("References")
               for h in headings), \
        f"no References section in {doc}: {headings}"
    cited = page.locator("section#references .citation, section#references dt, "
                         "section#references .bibtex").count()
    assert cited, f"the References section of {doc} lists no works"


def _repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    org_repo = config["url"].removeprefix("https://github.com/").strip("/")
    return org_repo, config.get("branch", "main")


@pytest.mark.parametrize("doc", notebook_pages())
def test_launch_buttons_open_this_notebook(page, server, doc):
    open_page(page, server, doc)
    org_repo, branch = _repository()
    links = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
    binder = f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{doc}.ipynb"
    colab = f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{doc}.ipynb"
    assert binder in links, f"no Binder link to {doc}.ipynb: {[x for x in links if 'binder' in x]}"
    assert colab in links, f"no Colab link to {doc}.ipynb: {[x for x in links if 'colab' in x]}"
