"""``book.pdf``: the whole book as one PDF, printed by headless Chromium from the built site.

At the end of an HTML build the articles of all pages are joined, in the order of the table of
contents, into one HTML document, which Chromium (through Playwright) prints once MathJax has
typeset it. Joining them first is what keeps links between chapters working in the PDF: every id
gets its page's prefix (``chapters-calculus--equation-calc-derivative``) and every link to a page
of the book becomes a link inside the document, so the PDF has named destinations, not URLs.

What the PDF shows, and how it differs from the site:

* a title page, a table of contents with page numbers (chapters and their sections; the page
  numbers come from a first print, whose named destinations pypdf reads), part pages, chapters on
  new pages, page numbers at the foot of every page, and PDF bookmarks (parts, chapters,
  sections, added with pypdf: Chromium's own outline drops the spaces where a heading wraps);
* the site's chrome (navigation, sidebars, launch buttons, search, "#" heading links) is left out,
  and so are cells whose input or output the site folds away (``hide-input``, ``hide-output``,
  ``hide-cell``): folded on the site means not printed;
* each widget shows its fallback, the ``<noscript class="mlbook-fallback">`` that BookWidget
  writes (a picture or text of its default state, with the note that it is interactive online);
  any other ``<noscript>`` gets the same note;
* solutions to exercises (sphinx-exercise's dropdowns) move to a "Solutions" section at the end of
  their chapter, before its references, as in a printed book; each exercise says on which page its
  solution is, and each solution links back to its exercise; other dropdowns print open;
* code wraps instead of being cut off; display equations too wide for the page are scaled down.

The print is skipped, with a message and without a warning, when ``MLBOOK_PDF=0`` or when Chromium,
Playwright or pypdf is missing; the site then has no PDF and no link to it. When the pages, the
site's stylesheets, this module, its stylesheet and Chromium are unchanged since the last print,
the PDF is kept (a fingerprint in ``_build/book-pdf.json``): a rebuild that changed nothing stays
fast. A rebuild that changed something starts from the last build's page numbers, and usually
prints once instead of twice.
"""

from __future__ import annotations

import copy
import hashlib
import html
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

SWITCH = "MLBOOK_PDF"
PDF_NAME = "book.pdf"
RECORD = "book-pdf.json"  # in _build/: the fingerprint of the last print and its page numbers
HERE = Path(__file__).resolve().parent
STYLESHEET = HERE / "book_pdf.css"
# An origin that never reaches a network: Playwright answers every request from the site folder.
ORIGIN = "http://book.invalid"
DOCUMENT = "/__book__.html"
# As tests/conftest.py launches it.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
FALLBACK_MARK = "\u2197"  # before each widget's note
TEXT_WIDTH_PX = 635  # A4 less the margins in book_pdf.css: 168 mm at 96 px per inch
CONTENTS_PAGE = 3  # after the title page and its back, one page each (book_pdf.css)
# Page numbers of the first print: as wide as the real ones, so the second print lays out alike.
PAGE_PLACEHOLDER = "000"


class PdfError(RuntimeError):
    """The PDF could not be made although everything it needs is installed."""


@dataclass
class Part:
    caption: str | None
    docs: list[str] = field(default_factory=list)


@dataclass
class Heading:
    """An entry of the printed table of contents."""

    target: str
    number: str
    title: str
    level: int  # 0 part, 1 chapter, 2 section


def chromium_path() -> str | None:
    return os.environ.get("MLBOOK_CHROMIUM") or shutil.which("chromium")


def reason_to_skip() -> str | None:
    """Why this build makes no PDF (None: it makes one)."""
    if os.environ.get(SWITCH, "1").strip().lower() in {"0", "no", "false", "off"}:
        return f"{SWITCH}=0"
    for module in ("playwright", "pypdf"):
        if importlib.util.find_spec(module) is None:
            return (f"the Python package {module} is missing "
                    "(pip install -r requirements.txt installs it)")
    if chromium_path() is None:
        return ("Chromium is missing (apt-get install chromium, or set MLBOOK_CHROMIUM to a "
                "Chromium binary)")
    return None


# --- Joining the pages -------------------------------------------------------------------------

def slug(doc: str) -> str:
    return re.sub(r"[^\w-]", "-", doc)


class _Ids:
    """Document-wide unique ids: ``<page slug>--<id on the page>``."""

    def __init__(self):
        self.used: set[str] = set()

    @staticmethod
    def of(doc: str, anchor: str) -> str:
        return slug(doc) + "--" + re.sub(r"[^\w.:-]", "-", anchor)

    def claim(self, wanted: str) -> str:
        unique, n = wanted, 1
        while unique in self.used:
            n += 1
            unique = f"{wanted}-{n}"
        self.used.add(unique)
        return unique


def _site_path(doc: str, url: str) -> tuple[str, str] | None:
    """The site-relative path and fragment of ``url`` as written on page ``doc``; None if the URL
    leaves the site."""
    base = f"{ORIGIN}/{doc}.html"
    absolute = urljoin(base, url)
    if not absolute.startswith(ORIGIN + "/"):
        return None
    parts = urlsplit(absolute)
    return unquote(parts.path).lstrip("/"), unquote(parts.fragment)


def _unwrap_link(tag) -> None:
    tag.name = "span"
    for attr in ("href", "target", "rel", "download"):
        tag.attrs.pop(attr, None)


def _chapter(soup_of, doc: str, docs: set[str], ids: _Ids, demote: int, book):
    """The article of page ``doc``, ready to join; returns (section tag, its TOC headings)."""
    page = soup_of(doc)
    article = page.select_one("article.bd-article") or page.select_one("main") or page.body
    if article is None:
        raise PdfError(f"{doc}.html has no article to print")
    # Site chrome and what the site folds away.
    for tag in article.select("a.headerlink, .d-print-none, details.hide, "
                              "script:not([type='application/vnd.jupyter.widget-view+json'])"):
        tag.decompose()
    _fallbacks(article, page)
    for tag in article.select("script"):
        tag.decompose()
    for details in article.find_all("details"):
        details["open"] = ""

    # Ids, links and image sources, for one document at the site's root.
    for tag in article.find_all(id=True):
        tag["id"] = ids.claim(ids.of(doc, tag["id"]))
    for tag in article.find_all(["a", "area"], href=True):
        href = tag["href"]
        if href.startswith(("mailto:", "data:")):
            continue
        target = _site_path(doc, href)
        if target is None:
            continue  # outside the site: stays a web link
        path, fragment = target
        page_doc = path[:-5] if path.endswith(".html") else None
        if page_doc in docs:
            tag["href"] = "#" + (ids.of(page_doc, fragment) if fragment else slug(page_doc))
            tag.attrs.pop("target", None)
        else:
            _unwrap_link(tag)  # genindex, sources, downloads: nothing to go to in a PDF
    for tag in article.find_all(["img", "source"], src=True):
        target = _site_path(doc, tag["src"]) if not tag["src"].startswith("data:") else None
        if target is not None:
            tag["src"] = "/" + target[0]
        tag.attrs.pop("srcset", None)
        tag.attrs.pop("loading", None)

    _move_solutions(article, book)

    headings: list[Heading] = []
    for level in range(1, 7):
        for tag in article.find_all(f"h{level}"):
            tag["class"] = tag.get("class", []) + [f"mlbook-h{level}"]
    chapter = book.new_tag("section", attrs={"class": "mlbook-chapter", "id": slug(doc),
                                             "data-doc": doc})
    title = article.find("h1")
    if title is not None:
        headings.append(_heading(slug(doc), title, level=1))
    for tag in article.find_all("h2", class_="mlbook-h2"):
        section = tag.find_parent("section")
        if section is not None and section.get("id"):
            headings.append(_heading(section["id"], tag, level=2))
    if demote:
        for tag in article.find_all(re.compile(r"^h[1-6]$")):
            tag.name = f"h{min(6, int(tag.name[1]) + demote)}"
    for child in list(article.children):
        chapter.append(child.extract())
    return chapter, headings


def _heading(target: str, tag, level: int) -> Heading:
    """A TOC entry for the heading ``tag``; its title keeps its markup (maths), not its links."""
    tag = copy.copy(tag)
    number_tag = tag.find(class_="section-number")
    number = number_tag.get_text().strip().rstrip(".") if number_tag else ""
    if number_tag:
        number_tag.decompose()
    for link in tag.find_all("a"):
        link.unwrap()
    for element in tag.find_all(id=True):
        del element["id"]
    return Heading(target=target, number=number, title=tag.decode_contents().strip(),
                   level=level)


def _fallbacks(article, page) -> None:
    """Turn every widget's ``<noscript>`` fallback into visible content with its note (marked
    with an arrow, which the title page's back explains); give a widget without a fallback the
    note alone."""
    from mlbook.widgets import FALLBACK_NOTE

    def note():
        tag = page.new_tag("p", attrs={"class": "mlbook-fallback-note"})
        tag.string = FALLBACK_NOTE
        return tag

    for noscript in article.find_all("noscript"):
        noscript.name = "div"
        classes = noscript.get("class", [])
        if "mlbook-fallback" not in classes:
            noscript["class"] = classes + ["mlbook-fallback"]
        if noscript.find(class_="mlbook-fallback-note") is None:
            noscript.append(note())
    for view in article.select("script[type='application/vnd.jupyter.widget-view+json']"):
        cell = view.find_parent(class_="cell") or view.parent
        if cell.find(class_="mlbook-fallback") is None:
            fallback = page.new_tag("div", attrs={"class": "mlbook-fallback"})
            fallback.append(note())
            view.replace_with(fallback)
    for tag in article.select(".mlbook-fallback-note"):
        tag.insert(0, f"{FALLBACK_MARK}\u00a0")
    for fallback in article.select(".mlbook-fallback"):
        # The chapters' text is typeset where Sphinx marked maths; a fallback's text (a quiz's
        # questions) has only its $...$: MathJax looks inside it too.
        fallback["class"] = fallback.get("class", []) + ["tex2jax_process"]


def _move_solutions(article, book) -> None:
    """Collect sphinx-exercise solutions in a section at the end of the chapter (before its
    References), each linked with its exercise both ways."""
    solutions = article.select("div.solution")
    if not solutions:
        return
    section = book.new_tag("section", attrs={"class": "mlbook-solutions"})
    heading = book.new_tag("h2")
    heading.string = "Solutions to the exercises"
    section.append(heading)
    for solution in solutions:
        solution.extract()
        solution["class"] = [c for c in solution.get("class", []) if c != "dropdown"]
        section.append(solution)
        link = solution.select_one(".admonition-title a[href^='#']")
        exercise = (article.find(id=link["href"][1:]) if link else None)
        if exercise is None or not solution.get("id"):
            continue
        pointer = book.new_tag("p", attrs={"class": "mlbook-solution-pointer"})
        anchor = book.new_tag("a", href="#" + solution["id"])
        anchor.string = "Solution"
        pointer.append(anchor)
        pointer.append(", page ")
        page_number = book.new_tag("span", attrs={"class": "mlbook-page-of",
                                                  "data-target": solution["id"]})
        page_number.string = PAGE_PLACEHOLDER
        pointer.append(page_number)
        pointer.append(".")
        exercise.append(pointer)
    references = [s for s in article.find_all("section", recursive=True)
                  if (h := s.find("h2", recursive=False))
                  and h.get_text(strip=True).lstrip("0123456789. ").startswith("References")]
    if references:
        references[-1].insert_before(section)
    else:
        (article.find("section") or article).append(section)


def _title_page(meta: dict) -> str:
    title, author = meta["title"], meta.get("author") or ""
    subtitle = ""
    if author and title.startswith(author) and " — " in title:
        title = title.split(" — ", 1)[1]
    elif " — " in title:
        title, subtitle = title.split(" — ", 1)
    lines = [f'<h1 class="mlbook-book-title">{html.escape(title)}</h1>',
             '<hr class="mlbook-title-rule">']
    if subtitle:
        lines.append(f'<p class="mlbook-book-subtitle">{html.escape(subtitle)}</p>')
    if author:
        lines.append(f'<p class="mlbook-book-author">{html.escape(author)}</p>')
    back = [f"<p>Figures marked {FALLBACK_MARK} are interactive in the online book and in a "
            "live notebook; this PDF shows their default state.</p>"]
    if meta.get("url"):
        url = html.escape(meta["url"])
        back.append(f'<p>The source of the book, every chapter a notebook you can run: '
                    f'<a href="{url}">{url}</a></p>')
    if meta.get("copyright"):
        back.append(f'<p>© {html.escape(meta["copyright"])} {html.escape(author)}</p>')
    if meta.get("licence"):
        back.append(f"<p>{meta['licence']}</p>")
    return (f'<div class="mlbook-title-page">{"".join(lines)}</div>'
            f'<div class="mlbook-title-back">{"".join(back)}</div>')


def _toc(headings: list[Heading]) -> str:
    rows = ['<nav class="mlbook-toc" id="mlbook-contents" aria-label="Contents">',
            '<h1 class="mlbook-toc-title">Contents</h1>']
    for entry in headings:
        kind = ("part", "chapter", "section")[entry.level]
        number = f'<span class="mlbook-toc-number">{html.escape(entry.number)}</span>' \
            if entry.number else ""
        rows.append(
            f'<a class="mlbook-toc-{kind}" href="#{entry.target}">{number}'
            f'<span class="mlbook-toc-text">{entry.title}</span><span class="mlbook-toc-leader">'
            "</span>"
            f'<span class="mlbook-page-of" data-target="{entry.target}">{PAGE_PLACEHOLDER}'
            "</span></a>")
    rows.append("</nav>")
    return "\n".join(rows)


@dataclass
class Book:
    html: str  # one document, for the site's root folder
    headings: list[Heading]  # parts, chapters and sections, in order
    meta: dict


def join_pages(site: Path, parts: list[Part], meta: dict) -> Book:
    """One HTML document with every page of ``parts``, in order, for the site's root folder."""
    from bs4 import BeautifulSoup

    site = Path(site)
    docs = {doc for part in parts for doc in part.docs}
    cache: dict[str, BeautifulSoup] = {}

    def soup_of(doc: str) -> BeautifulSoup:
        if doc not in cache:
            path = site / f"{doc}.html"
            if not path.is_file():
                raise PdfError(f"no page {path} to print")
            cache[doc] = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        return cache[doc]

    book = BeautifulSoup("", "html.parser")
    ids = _Ids()
    body, headings = [], []
    for number, part in enumerate(parts):
        demote = 0
        if part.caption:
            target = ids.claim(f"mlbook-part-{number}")
            headings.append(Heading(target=target, number="", title=html.escape(part.caption),
                                    level=0))
            body.append(f'<section class="mlbook-part" id="{target}"><h1 class="mlbook-part-title">'
                        f"{html.escape(part.caption)}</h1></section>")
            demote = 1
        for doc in part.docs:
            ids.used.add(slug(doc))
            chapter, entries = _chapter(soup_of, doc, docs, ids, demote, book)
            headings += entries
            body.append(str(chapter))

    first = soup_of(parts[0].docs[0]) if parts and parts[0].docs else None
    head = [f"<title>{html.escape(meta['title'])}</title>"]
    if first is not None:
        doc = parts[0].docs[0]
        for link in first.select("head link[rel~=stylesheet]"):
            target = _site_path(doc, link.get("href", ""))
            if target is not None:
                head.append(f'<link rel="stylesheet" href="/{target[0]}">')
        for script in first.select("head script"):
            source = script.get("src")
            if source and "mathjax" in source:
                target = _site_path(doc, source)
                if target is not None:
                    head.append(f'<script defer src="/{target[0]}"></script>')
            elif not source and "window.MathJax" in (script.string or ""):
                head.append(f"<script>{script.string}</script>")
    head.append(f"<style>{STYLESHEET.read_text(encoding='utf-8')}</style>")
    document = ("<!DOCTYPE html>\n"
                '<html lang="en" data-theme="light" data-mode="light" class="mlbook-print">\n'
                f'<head><meta charset="utf-8">{"".join(head)}</head>\n'
                f'<body>{_title_page(meta)}{_toc(headings)}\n' + "\n".join(body)
                + "\n</body></html>\n")
    return Book(document, headings, meta)


# --- Printing ----------------------------------------------------------------------------------

_READY = """async () => {
    await new Promise(resolve => document.readyState === 'complete' ? resolve()
        : window.addEventListener('load', resolve));
    if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
    // Every declared font (MathJax's, the theme's), loaded now: a face first needed while
    // printing would otherwise print in a fallback font.
    document.body.getBoundingClientRect();
    await Promise.all([...document.fonts].map(face => face.load().catch(() => null)));
    await document.fonts.ready;
    await Promise.all([...document.images].map(img => img.complete ? null
        : new Promise(resolve => { img.onload = img.onerror = resolve; })));
    const broken = [...document.images].filter(img => !img.naturalWidth).map(img => img.src);
    // The window is as wide as the printed text. A display equation wider than that (with its
    // number) is scaled down to fit, to 60 % at most.
    let scaled = 0;
    for (const box of document.querySelectorAll('mjx-container[display="true"]')) {
        const number = box.parentElement.querySelector('.eqno');
        const room = box.parentElement.clientWidth - (number ? number.offsetWidth + 8 : 0);
        const need = (box.querySelector('mjx-math') || box).getBoundingClientRect().width;
        if (need > room && room > 0) {
            const scale = parseFloat(box.style.fontSize) || 100;  // MathJax sets its own
            box.style.fontSize = scale * Math.max(0.6, room / need) + '%';
            scaled += 1;
        }
    }
    const right = document.body.getBoundingClientRect().right + 2;
    const wide = [...document.querySelectorAll('img, svg, table, pre, mjx-container')]
        .filter(el => el.getBoundingClientRect().right > right)
        .map(el => el.tagName.toLowerCase() + ' in '
             + (el.closest('.mlbook-chapter') || {dataset: {}}).dataset.doc);
    return {broken: broken.map(src => src.slice(0, 80)), scaled, wide,
            texErrors: document.querySelectorAll('mjx-merror').length};
}"""

_FILL_PAGES = """pages => {
    for (const el of document.querySelectorAll('.mlbook-page-of')) {
        const page = pages[el.dataset.target];
        el.textContent = page === undefined ? '' : String(page);
    }
}"""


def _destination_pages(reader) -> dict[str, int]:
    """Named destination -> page number (from 1)."""
    return {name.lstrip("/"): reader.get_destination_page_number(dest) + 1
            for name, dest in reader.named_destinations.items()}


def _plain(markup: str) -> str:
    from bs4 import BeautifulSoup

    text = BeautifulSoup(markup, "html.parser").get_text(" ", strip=True)
    return re.sub(r"\s+", " ", re.sub(r"\\[()\[\]]|\$", "", text)).strip()


def _finish(reader, book: Book, pages: dict[str, int]) -> bytes:
    """The printed PDF with bookmarks (parts, chapters, sections, as in the contents) and the
    book's metadata. Chromium's own outline loses the spaces where a heading wraps, so the
    bookmarks are made here, from the same headings as the printed contents."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=reader)
    meta = book.meta
    writer.add_metadata({"/Title": meta["title"], "/Author": meta.get("author") or "",
                         "/Creator": "Jupyter Book, Chromium (_ext/book_pdf.py)"})
    writer.add_outline_item(title="Contents", page_number=CONTENTS_PAGE - 1)
    parents: dict[int, object] = {}
    for entry in book.headings:
        if entry.target not in pages:
            continue
        title = _plain(entry.title)
        if entry.number:
            title = f"{entry.number} {title}"
        parent = next((parents[level] for level in range(entry.level - 1, -1, -1)
                       if level in parents), None)
        item = writer.add_outline_item(title=title, page_number=pages[entry.target] - 1,
                                       parent=parent)
        parents[entry.level] = item
        for deeper in [level for level in parents if level > entry.level]:
            del parents[deeper]
    writer.page_mode = "/UseOutlines"
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def print_pdf(site: Path, book: Book, out: Path, guess: dict[str, int] | None = None,
              log=print) -> dict:
    """Print ``book`` (its HTML is for the site's root folder) to ``out`` with Chromium; returns
    statistics and the page of each target of the contents. The contents and the exercises'
    pointers to their solutions show the pages in ``guess`` (the last build's); a print whose
    pages differ from them is printed again with the pages it found: one print after a small
    edit, two after a clean build (three at most)."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    site = Path(site).resolve()
    errors: list[str] = []
    # pypdf reports harmless quirks of Chromium's PDF (its trailer's object count) as warnings.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    def answer(route):
        if not route.request.url.startswith(ORIGIN):
            return route.abort()
        path = unquote(urlsplit(route.request.url).path)
        if path == DOCUMENT:
            return route.fulfill(body=book.html, content_type="text/html; charset=utf-8")
        target = (site / path.lstrip("/")).resolve()
        if target.is_relative_to(site) and target.is_file():
            return route.fulfill(path=target)
        errors.append(f"missing file {path}")
        return route.fulfill(status=404, body="")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": TEXT_WIDTH_PX, "height": 1000})
            page.set_default_timeout(600_000)
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.route("**/*", answer)
            started = time.perf_counter()
            page.goto(ORIGIN + DOCUMENT, wait_until="load")
            state = page.evaluate(_READY)
            typeset = time.perf_counter() - started
            if state["broken"]:
                errors.append(f"images that did not load: {state['broken'][:5]}")
            if state["texErrors"]:
                errors.append(f"{state['texErrors']} formulas MathJax could not typeset")
            if errors:
                raise PdfError("; ".join(errors))
            if state["scaled"]:
                log(f"book.pdf: {state['scaled']} display equations scaled down to fit the page")
            if state["wide"]:
                log(f"book.pdf: {len(state['wide'])} elements wider than the page, cut at its "
                    f"edge: {', '.join(state['wide'][:5])}")
            wanted = page.evaluate("() => [...document.querySelectorAll('.mlbook-page-of')]"
                                   ".map(el => el.dataset.target)")
            pages = {name: guess[name] for name in wanted if name in (guess or {})}
            prints, shown = 0, None
            while pages != shown:
                if prints == 3:
                    log("book.pdf: page numbers did not settle after three prints; "
                        "the contents may be a page off")
                    break
                page.evaluate(_FILL_PAGES, pages)
                # A print with no page numbers to show yet (a clean build) is only read for
                # them, never kept: it skips the structure tree that screen readers use.
                reader = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True,
                                                       print_background=True,
                                                       tagged=bool(pages))))
                prints += 1
                found = _destination_pages(reader)
                shown, pages = pages, {name: found[name] for name in wanted if name in found}
        finally:
            browser.close()
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise PdfError(f"no page found for {missing[:5]} in the printed PDF")
    pdf = _finish(reader, book, found)
    partial = out.with_suffix(".pdf.part")
    partial.write_bytes(pdf)
    partial.replace(out)
    return {"pages": len(reader.pages), "bytes": len(pdf), "prints": prints,
            "typeset_s": typeset, "print_s": time.perf_counter() - started - typeset,
            "targets": pages}


# --- In the Sphinx build -----------------------------------------------------------------------

def book_parts(app) -> list[Part]:
    """The pages in the order of the table of contents, grouped by part (the captions of the
    root page's toctrees)."""
    from sphinx import addnodes

    env = app.env
    root = app.config.root_doc
    seen: set[str] = set()

    def walk(doc: str) -> list[str]:
        if doc in seen or doc not in env.found_docs:
            return []
        seen.add(doc)
        order = [doc]
        for child in env.toctree_includes.get(doc, []):
            order += walk(child)
        return order

    parts = [Part(None, [root])]
    seen.add(root)
    for toctree in env.get_doctree(root).findall(addnodes.toctree):
        docs = [d for entry in toctree["entries"] for d in walk(entry[1])]
        if docs:
            parts.append(Part(toctree.get("caption"), docs))
    return parts


def _meta(app) -> dict:
    config = app.config
    options = config.html_theme_options or {}
    # jupyter-book's title is Sphinx's html_title (project stays Sphinx's placeholder).
    return {"title": config.html_title or config.project,
            "author": config.author, "copyright": config.copyright,
            "url": options.get("repository_url"), "licence": options.get("extra_footer")}


def _chromium_version() -> str:
    try:
        return subprocess.run([chromium_path(), "--version"], capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def fingerprint(site: Path, parts: list[Part], meta: dict) -> str:
    """A digest of everything the PDF is made from: the pages in order, the site's stylesheets,
    this module and its stylesheet, and Chromium's version. Cheap: nothing is parsed."""
    digest = hashlib.sha256()
    for text in (repr(parts), repr(sorted(meta.items())), Path(__file__).read_text(),
                 STYLESHEET.read_text(), _chromium_version()):
        digest.update(text.encode() + b"\0")
    for doc in [doc for part in parts for doc in part.docs]:
        digest.update((site / f"{doc}.html").read_bytes())
    for sheet in sorted((site / "_static").rglob("*.css")):
        digest.update(sheet.read_bytes())
    return digest.hexdigest()


def build(app, log) -> None:
    """Print ``book.pdf`` into the HTML output folder (Sphinx's build-finished), unless it was
    printed from the same pages before."""
    site = Path(app.outdir)
    out = site / PDF_NAME
    started = time.perf_counter()
    parts, meta = book_parts(app), _meta(app)
    current = fingerprint(site, parts, meta)
    record = site.parent / RECORD
    try:
        last = json.loads(record.read_text())
    except (OSError, ValueError):
        last = {}
    if out.is_file() and last.get("fingerprint") == current:
        log(f"book.pdf is up to date ({out})")
        return
    record.unlink(missing_ok=True)
    stats = print_pdf(site, join_pages(site, parts, meta), out, guess=last.get("targets"),
                      log=log)
    record.write_text(json.dumps({"fingerprint": current, "targets": stats["targets"]}))
    log(f"book.pdf: {stats['pages']} pages, {stats['bytes'] / 1e6:.1f} MB in "
        f"{time.perf_counter() - started:.0f} s (typesetting {stats['typeset_s']:.0f} s, "
        f"{stats['prints']} print{'s' * (stats['prints'] > 1)} {stats['print_s']:.0f} s) "
        f"({out})")


def remove_stale(app, log) -> None:
    """A build that makes no PDF leaves none from an earlier build (the pages do not link to it)."""
    out = Path(app.outdir) / PDF_NAME
    if out.exists():
        out.unlink()
        log(f"removed the earlier {out}")
