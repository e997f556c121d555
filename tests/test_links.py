"""Site integrity: every internal link and cross-reference in the built site reaches its target.

Sphinx already fails the build on unresolved references (nitpicky, warnings are errors); this
crawls what the reader clicks: every ``<a href>`` (and ``<img src>``) of every built page that stays
on the site must name an existing file and, with ``#anchor``, an element with that id there.
External links are listed by ``scripts/list_external_links.py`` for checking where a network exists.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from conftest import ROOT, SITE, toc_files

SKIP_DIRS = {"_static", "_sources", "mathjax", "html-manager", "requirejs"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.links.append(attrs["src"])


@functools.cache
def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(errors="replace"))
    return page


def site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in SKIP_DIRS)


def broken_links(site: Path, page: Path) -> list[str]:
    """Internal links of ``page`` whose file or ``#anchor`` does not exist, with the reason."""
    problems = []
    for href in parse(page).links:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:", "data:")):
            continue
        if parts.path:
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{href}: no file {target}")
                continue
            if not target.is_relative_to(site.resolve()):
                problems.append(f"{href}: leaves the site")
                continue
        else:
            target = page
        anchor = unquote(parts.fragment)
        if anchor and target.suffix == ".html" and anchor not in parse(target).ids:
            problems.append(f"{href}: no element with id {anchor!r} in {target.name}")
    return problems


def _pages_or_empty():
    return site_pages(SITE) if SITE.is_dir() else []


@pytest.mark.parametrize("page_path", _pages_or_empty(),
                         ids=lambda p: str(p.relative_to(SITE)))
def test_internal_links_reach_their_targets(site, page_path):
    problems = broken_links(site, page_path)
    assert not problems, "broken internal links:\n" + "\n".join(problems)


def test_every_toc_page_was_crawled(site):
    crawled = {str(p.relative_to(site)) for p in site_pages(site)}
    missing = [doc for doc in toc_files() if f"{doc}.html" not in crawled]
    assert not missing and len(crawled) >= len(toc_files()), missing


def test_no_page_outside_the_table_of_contents_is_published(site):
    """A stray Markdown file (e.g. .pytest_cache/README.md) must not become a page of the book."""
    expected = {f"{doc}.html" for doc in toc_files()} | {"index.html", "genindex.html",
                                                         "search.html"}
    pages = {str(p.relative_to(site)) for p in site.rglob("*.html")
             if p.relative_to(site).parts[0] not in SKIP_DIRS}
    stray = sorted(pages - expected)
    assert not stray, (f"pages not in _toc.yml were published: {stray}; add their folders to "
                       "exclude_patterns in _config.yml")


def test_cross_references_between_chapters_are_crawled(site):
    """The crawl sees the book's own cross-references (next/previous links at the least)."""
    docs = toc_files()
    first = site / f"{docs[0]}.html"
    links = [urlsplit(h).path for h in parse(first).links]
    assert any(path.endswith(f"{Path(docs[1]).name}.html") for path in links), links


def test_a_broken_link_and_a_missing_anchor_are_reported(site, tmp_path):
    """The checker itself: plant a dead link and a dead anchor in a copy of a page."""
    page = tmp_path / "chapters" / "planted.html"
    page.parent.mkdir()
    (tmp_path / "chapters" / "other.html").write_text('<h1 id="here">x</h1>')
    page.write_text('<a href="other.html#here">ok</a> <a href="other.html#gone">bad anchor</a>'
                    ' <a href="missing.html">bad file</a> <a href="#top">bad self</a>'
                    ' <a href="https://example.org/x">external</a>')
    problems = broken_links(tmp_path, page)
    assert len(problems) == 3, problems
    assert any("gone" in p for p in problems) and any("missing.html" in p for p in problems)


def test_external_link_list_names_the_repository_and_licence(site):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "list_external_links.py"),
                             str(site), "--json"], capture_output=True, text=True, check=True)

    urls = {entry["url"] for entry in json.loads(result.stdout)}
    assert config["repository"]["url"] in urls
    assert "https://creativecommons.org/licenses/by/4.0/" in urls
    assert not [u for u in urls if not u.startswith(("http://", "https://"))]
