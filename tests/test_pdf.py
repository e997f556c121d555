"""book.pdf: the whole book as one PDF (``_ext/book_pdf.py``), linked from every page of the site.

The PDF is read as a reader's viewer reads it: its text with poppler's ``pdftotext``, its
images with ``pdfimages``, its links and bookmarks with pypdf. What it must show is taken from
the built site, so a new chapter, equation, figure or widget is checked without editing this file.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, SITE, open_page, toc_files

from mlbook.widgets import FALLBACK_NOTE

sys.path.insert(0, str(ROOT / "_ext"))
import book_pdf  # noqa: E402

DOCS = toc_files()
LINK_TEXT = "Download the book as PDF"


def squash(text: str) -> str:
    """Text without any whitespace: immune to where the PDF wraps lines."""
    return re.sub(r"\s+", "", text)


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def poppler(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} not found: install poppler-utils (scripts/test.sh does)")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def pdf(site):
    path = site / "book.pdf"
    if not path.is_file():
        pytest.fail(f"No {path}: build without MLBOOK_PDF=0, with Chromium installed "
                    "(`bash scripts/build.sh`)")
    return path


@pytest.fixture(scope="module")
def pages(pdf) -> list[str]:
    """The text of each page, in reading order."""
    return poppler("pdftotext", str(pdf), "-").split("\f")[:-1]


@pytest.fixture(scope="module")
def text(pages) -> str:
    return "\n".join(pages)


@pytest.fixture(scope="module")
def reader(pdf):
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(pdf.read_bytes()))


def article(doc: str):
    """The printed part of a built page: its article without what the site folds away."""
    page = BeautifulSoup((SITE / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
    content = page.select_one("article.bd-article")
    for tag in content.select("a.headerlink, details.hide"):
        tag.decompose()
    return content


@pytest.fixture(scope="module")
def articles(site):
    return {doc: article(doc) for doc in DOCS}


def title(content) -> str:
    """A page's title without its chapter number."""
    heading = content.find("h1")
    number = heading.find(class_="section-number")
    text = words(heading.get_text(" "))
    return text[len(words(number.get_text(" "))):].strip() if number else text


@pytest.fixture(scope="module")
def titles(articles) -> list[str]:
    return [title(articles[doc]) for doc in DOCS]


def has_maths(tag) -> bool:
    return tag.select_one(".math") is not None


@pytest.fixture(scope="module")
def openers(titles, pages) -> list[tuple[str, int]]:
    """(chapter title, page number) for each page that opens with a chapter title, in order."""
    found = []
    for number, page in enumerate(pages, start=1):
        start = words(page)[:300]
        found += [(t, number) for t in titles if re.match(r"(\d+\.\s*)?" + re.escape(t), start)]
    return found


def test_every_chapter_opens_a_page_in_toc_order(openers, titles):
    assert [t for t, _ in openers] == titles, "chapters missing, repeated or out of order"


def test_contents_give_each_chapters_page(pdf, openers):
    """The printed contents (before the first chapter) give the page each chapter opens."""
    before = str(openers[0][1] - 1)
    lines = poppler("pdftotext", "-layout", "-l", before, str(pdf), "-").splitlines()
    assert any(line.strip() == "Contents" for line in lines), "no Contents page"
    for chapter, page in openers:
        row = next((i for i, line in enumerate(lines) if chapter[:40] in line), None)
        assert row is not None, f"the contents do not list {chapter!r}"
        # A long title may wrap: its page number ends the row or the next line.
        shown = re.search(r"\s(\d+)\s*$", lines[row]) or re.search(r"\s(\d+)\s*$", lines[row + 1])
        assert shown, f"no page number for {chapter!r} in the contents"
        assert int(shown.group(1)) == page, \
            f"the contents say {chapter!r} is on page {shown.group(1)}; it opens page {page}"


def test_pages_are_numbered_at_the_foot(pdf, pages, reader):
    """Every page but the title page and the part pages shows its number in the bottom margin
    (the lowest 20 mm of an A4 page, 57 of its 842 points)."""
    assert len(pages) == len(reader.pages)
    feet = poppler("pdftotext", "-x", "0", "-y", "785", "-W", "600", "-H", "60", str(pdf),
                   "-").split("\f")[:-1]
    unnumbered = []
    for number, (page, foot) in enumerate(zip(pages, feet), start=1):
        part_page = number > 2 and len(page.split()) <= 3
        if number > 1 and not part_page and foot.strip() != str(number):
            unnumbered.append((number, foot.strip()))
    assert not unnumbered, f"pages without their number at the foot: {unnumbered[:10]}"
    assert feet[0].strip() == "", "the title page shows a page number"


def test_the_pdf_is_tagged_for_screen_readers(reader):
    # A clean build's first print, read only for its page numbers, is untagged; the kept one not.
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog, "book.pdf has no structure tree: a screen reader " \
        "reads it as unordered text"
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert str(catalog["/Lang"]).startswith("en")


def test_page_count_is_plausible(reader):
    pages = len(reader.pages)
    assert 2 + len(DOCS) <= pages <= 80 * len(DOCS), pages


def test_bookmarks_list_every_chapter_in_order(reader, titles):
    marks = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                marks.append(words(item.title))

    walk(reader.outline)
    where = [next((i for i, mark in enumerate(marks) if mark.endswith(t)), None) for t in titles]
    assert None not in where, f"chapters without a bookmark: {marks}"
    assert where == sorted(where), f"bookmarks out of order: {marks}"


def test_numbered_equations_keep_their_numbers(articles, text):
    numbers = [words(eqno.get_text()) for content in articles.values()
               for eqno in content.select("span.eqno")]
    assert numbers, "no numbered equation in the book"
    assert "(1.1)" in numbers
    flat = squash(text)
    missing = [n for n in numbers if squash(n) not in flat]
    assert not missing, f"equation numbers missing from the PDF: {missing[:10]}"


def test_figures_are_images_in_the_pdf(pdf, articles):
    # Raster pictures only: an SVG prints as a drawing, which pdfimages does not list.
    figures = {img.get("src") for content in articles.values() for img in
               content.select("figure img, .cell_output img, noscript img")
               if "svg" not in img.get("src", "")[:30] and not img.get("src", "").endswith(".svg")}
    listed = [row for row in poppler("pdfimages", "-list", str(pdf)).splitlines()[2:]
              if row.split()[2] == "image"]  # not the alpha masks
    assert figures, "the site has no figures"
    assert len(listed) >= len(figures), \
        f"{len(listed)} images in the PDF for {len(figures)} distinct pictures on the site"


def test_figure_captions_are_printed(articles, text):
    captions = [words(c.get_text(" ")) for content in articles.values()
                for c in content.select("figcaption") if not has_maths(c)]
    assert captions, "no caption to look for"
    flat = squash(text)
    missing = [c for c in captions if squash(c)[:60] not in flat]
    assert not missing, f"captions missing: {missing[:5]}"


def test_each_widget_shows_its_fallback_note(articles, text):
    cells = set()
    for doc, content in articles.items():
        for view in content.select("script[type='application/vnd.jupyter.widget-view+json']"):
            cell = view.find_parent(class_="cell") or view.parent
            cells.add((doc, id(cell)))
    notes = squash(text).count(squash(FALLBACK_NOTE))
    assert notes >= len(cells), f"{notes} fallback notes for {len(cells)} cells with widgets"
    assert "Error displaying widget" not in text and "Loading widget" not in text


def test_hidden_code_stays_hidden_and_no_site_chrome_is_printed(site, text):
    flat = squash(text)
    visible, hidden = set(), set()
    for doc in DOCS:
        page = BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
        for details in page.select("article details.hide"):
            hidden |= {squash(line) for pre in details.select("pre")
                       for line in pre.get_text().splitlines() if len(line.strip()) > 30}
            details.decompose()
        visible |= {squash(line) for pre in page.select("article pre")
                    for line in pre.get_text().splitlines()}
    printed = [line for line in hidden - visible if line in flat]
    assert not printed, f"folded code printed: {printed[:3]}"
    for chrome in ("Skip to main content", "Show code cell source", LINK_TEXT, "Ctrl+K"):
        assert squash(chrome) not in flat, f"site chrome in the PDF: {chrome!r}"


def test_solutions_are_gathered_at_the_end_of_their_chapter(articles, text):
    flat = squash(text)
    for doc, content in articles.items():
        for solution in content.select("div.solution .admonition-title"):
            if has_maths(solution):
                continue
            assert squash(solution.get_text(" ")) in flat, f"{doc}: {solution.get_text()!r}"
    chapters_with_solutions = sum(bool(c.select("div.solution")) for c in articles.values())
    assert flat.count(squash("Solutions to the exercises")) == chapters_with_solutions


@pytest.fixture(scope="module")
def links(reader) -> list[tuple[int, str]]:
    """(page index, destination name) of every internal link annotation."""
    found = []
    for index, page in enumerate(reader.pages):
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") == "/Link" and "/Dest" in annotation:
                found.append((index, str(annotation["/Dest"]).lstrip("/")))
    return found


def test_internal_links_land_on_named_destinations(reader, links):
    names = {name.lstrip("/") for name in reader.named_destinations}
    assert len(links) > len(DOCS), f"only {len(links)} internal links"
    dangling = sorted({name for _, name in links if name not in names})
    assert not dangling, f"links to destinations that do not exist: {dangling[:5]}"


def test_links_between_chapters_stay_inside_the_pdf(links, openers, articles):
    """A link on a chapter's page to another chapter (``calculus.html#...`` on the site) lands
    on that chapter's destination in the PDF."""
    crossing_on_site = sum(
        1 for doc, content in articles.items() for a in content.select("a.reference.internal")
        if a.get("href", "").split("#")[0].endswith(".html")
        and not urljoin(f"x/{doc}.html", a["href"].split("#")[0]).endswith(f"{doc}.html"))
    starts = [page for _, page in openers]
    slugs = {book_pdf.slug(doc) for doc in DOCS}
    chapter_of_page = {}
    for index, doc in enumerate(DOCS):
        end = starts[index + 1] if index + 1 < len(starts) else 10**6
        chapter_of_page.update({p: book_pdf.slug(doc) for p in range(starts[index], end)})
    crossing = [(page, name) for page, name in links
                if (source := chapter_of_page.get(page + 1))
                and name.split("--")[0] in slugs and name.split("--")[0] != source]
    assert crossing_on_site, "no link between chapters on the site to check"
    assert len(crossing) >= crossing_on_site, \
        f"{len(crossing)} links between chapters in the PDF, {crossing_on_site} on the site"


def test_every_page_links_to_the_pdf(site):
    for doc in DOCS + ["search"]:
        page = BeautifulSoup((site / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
        link = next((a for a in page.find_all("a", href=True) if LINK_TEXT in a.get_text()), None)
        assert link is not None, f"{doc}.html has no link {LINK_TEXT!r}"
        target = (site / doc).parent / link["href"]
        assert target.resolve() == (site / "book.pdf").resolve(), link["href"]


def test_reader_finds_the_download_link(page, server, pdf):
    open_page(page, server, DOCS[0])
    link = page.get_by_role("link", name=LINK_TEXT)
    assert link.is_visible()
    response = page.request.get(urljoin(page.url, link.get_attribute("href")))
    assert response.ok and response.body()[:5] == b"%PDF-"
    assert len(response.body()) == pdf.stat().st_size


# --- The pieces, on a made-up site (no build needed) -------------------------------------------

PAGE = """<html><head></head><body><main><article class="bd-article">
<section id="{name}"><h1><span class="section-number">{n}. </span>Title {n}
<a class="headerlink" href="#{name}">#</a></h1>
<div class="math" id="equation-e{n}"><span class="eqno">({n}.1)</span>\\[x\\]</div>
<p>See <a class="reference internal" href="{other}.html#equation-e{m}">({m}.1)</a>
and <a class="reference internal" href="#equation-e{n}">({n}.1)</a>
and <a href="../genindex.html">the index</a>.</p>
<div class="cell tag_hide-input"><details class="hide above-input"><pre>secret_code()</pre>
</details><div class="cell_output"><div class="output text_html"><noscript class="mlbook-fallback">
<img src="../_images/w{n}.png" alt="a picture"><p class="mlbook-fallback-note">note</p></noscript>
</div><script type="application/vnd.jupyter.widget-view+json">{{}}</script></div></div>
<section id="exercises"><h2>Exercises</h2>
<div class="exercise admonition" id="ex-{n}"><p class="admonition-title">Exercise</p></div>
<div class="solution dropdown admonition" id="sol-{n}"><p class="admonition-title">Solution to
<a class="reference internal" href="#ex-{n}">Exercise {n}.1</a></p><p>Answer.</p></div>
</section><section id="references"><h2>References</h2></section></section>
</article></main></body></html>"""


def test_joining_makes_one_document_with_unique_ids_and_internal_links(tmp_path):
    (tmp_path / "chapters").mkdir()
    for n, (name, other) in enumerate([("a", "b"), ("b", "a")], start=1):
        (tmp_path / "chapters" / f"{name}.html").write_text(
            PAGE.format(name=name, other=other, n=n, m=3 - n))
    parts = [book_pdf.Part(None, ["chapters/a"]), book_pdf.Part("Part", ["chapters/b"])]
    book = book_pdf.join_pages(tmp_path, parts, {"title": "T — S", "author": "A"})
    joined = BeautifulSoup(book.html, "html.parser")
    ids = [tag["id"] for tag in joined.find_all(id=True)]
    assert len(ids) == len(set(ids)), "ids are not unique"
    hrefs = {a["href"] for a in joined.find_all("a", href=True)}
    assert "#chapters-b--equation-e2" in hrefs and "#chapters-a--equation-e2" not in hrefs
    assert all(h.startswith("#") or h.startswith("http") for h in hrefs), hrefs
    assert joined.find(id="chapters-b--equation-e2") is not None
    assert "secret_code" not in book.html and "headerlink" not in book.html
    assert not joined.find("noscript") and len(joined.select(".mlbook-fallback")) == 2
    assert not joined.select("script[type='application/vnd.jupyter.widget-view+json']")
    assert {img["src"] for img in joined.find_all("img")} == {"/_images/w1.png", "/_images/w2.png"}
    solutions = joined.select(".mlbook-solutions")
    assert len(solutions) == 2 and all(s.find_next_sibling("section") for s in solutions), \
        "solutions must come just before the references"
    assert joined.select_one("#chapters-a--ex-1 .mlbook-solution-pointer a")["href"] == \
        "#chapters-a--sol-1"
    entries = [(h.level, h.number) for h in book.headings]
    assert entries == [(1, "1"), (2, ""), (2, ""), (0, ""), (1, "2"), (2, ""), (2, "")]
    # Chapters inside a part sit one heading level below it (PDF bookmarks nest).
    assert joined.select_one("#chapters-b h2.mlbook-h1") is not None


def test_the_print_is_skipped_without_a_browser_or_when_switched_off(monkeypatch):
    monkeypatch.setenv("MLBOOK_PDF", "0")
    assert "MLBOOK_PDF=0" in book_pdf.reason_to_skip()
    monkeypatch.setenv("MLBOOK_PDF", "1")
    monkeypatch.setenv("MLBOOK_CHROMIUM", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "Chromium" in book_pdf.reason_to_skip()
