"""Reading comfort and accessibility of every page, in Chromium.

* Headings nest: one ``h1`` opens the article, and no level is skipped going down (h1 → h3).
* Every figure has a caption: each ``<figure>`` has a non-empty ``<figcaption>``, and no image in
  the article stands outside a figure. Exempt: the stepping widgets' frames and backdrops (they live
  in ``.jupyter-widgets`` and carry their own ``alt``/``aria-label``, checked in test_site.py), and
  theme chrome (logos, launch buttons).
* Dark mode: with the browser asking for a dark colour scheme and the theme switched to dark,
  figures keep a light background (judged from a screenshot of each visible image, as a reader sees
  it) and widget text (labels, read-outs, drop-downs, messages) keeps a WCAG contrast of at least
  4.5:1 against what is behind it. A full-page screenshot is saved in the test's tmp folder.
"""

from __future__ import annotations

import io

import pytest
from conftest import open_page, toc_files

PAGES = toc_files()
MIN_CONTRAST = 4.5
LIGHT = 0.5  # relative luminance of a figure's paper in dark mode (the dark page: about 0.01)

HEADINGS_JS = """() => [...document.querySelectorAll(
    'article.bd-article h1, article.bd-article h2, article.bd-article h3, '
    + 'article.bd-article h4, article.bd-article h5, article.bd-article h6')]
    .map(h => ({level: +h.tagName[1], text: h.textContent.replace('#', '').trim()}))"""

FIGURES_JS = """() => {
  const article = document.querySelector('article.bd-article');
  const widget = el => el.closest('.jupyter-widgets, .widget-subarea, noscript, .cell_output '
                                  + 'script');
  const figures = [...article.querySelectorAll('figure')].map(f => ({
    id: f.id || (f.querySelector('img') || {}).alt || '(figure)',
    caption: ((f.querySelector('figcaption') || {}).textContent || '').trim()}));
  const loose = [...article.querySelectorAll('img, svg[role=img]')]
    .filter(el => !widget(el) && !el.closest('figure') && !el.closest('.headerlink'))
    .filter(el => !el.matches('.svg-inline--fa') && !el.closest('button, a.btn, .sd-btn'))
    .map(el => (el.getAttribute('alt') || el.getAttribute('aria-label') || el.outerHTML)
                .slice(0, 80));
  return {figures, loose};
}"""

# The colour behind an element: its own and its ancestors' backgrounds, composited, over the page.
CONTRAST_JS = """(selectors) => {
  const parse = c => { const m = c.match(/[\\d.]+/g) || [0, 0, 0, 0];
    return {r: +m[0], g: +m[1], b: +m[2], a: m.length > 3 ? +m[3] : 1}; };
  const over = (top, below) => ({r: top.r * top.a + below.r * (1 - top.a),
    g: top.g * top.a + below.g * (1 - top.a), b: top.b * top.a + below.b * (1 - top.a), a: 1});
  const lum = c => { const f = v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const behind = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg.a > 0) layers.push(bg);
      if (bg.a >= 1) break; }
    let color = {r: 255, g: 255, b: 255, a: 1};  // the canvas, if nothing is opaque
    for (const layer of layers.reverse()) color = over(layer, color);
    return color; };
  const out = [];
  for (const el of document.querySelectorAll(selectors)) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || !el.textContent.trim()) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const bg = behind(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({text: el.textContent.trim().slice(0, 40), cls: el.className,
              ratio: (hi + 0.05) / (lo + 0.05), color: style.color,
              background: `rgb(${bg.r | 0}, ${bg.g | 0}, ${bg.b | 0})`});
  }
  return out;
}"""

WIDGET_TEXT = ", ".join([
    ".jupyter-widgets .widget-label", ".jupyter-widgets label", ".jupyter-widgets select",
    ".jupyter-widgets input", ".mlbook-readout", ".mlbook-message",
    ".jupyter-widgets .widget-readout",
])


@pytest.mark.parametrize("doc", PAGES)
def test_headings_nest_without_skipping_levels(page, server, doc):
    open_page(page, server, doc)
    headings = page.evaluate(HEADINGS_JS)
    assert headings, "the article has no headings"
    assert headings[0]["level"] == 1, f"the article opens with {headings[0]}, not an h1"
    titles = [h for h in headings if h["level"] == 1]
    assert len(titles) == 1, f"one h1 per page, found {titles}"
    skips = [f"h{a['level']} '{a['text']}' → h{b['level']} '{b['text']}'"
             for a, b in zip(headings, headings[1:]) if b["level"] > a["level"] + 1]
    assert not skips, f"heading levels skipped: {skips}"


@pytest.mark.parametrize("doc", PAGES)
def test_every_figure_has_a_caption(page, server, doc):
    open_page(page, server, doc)
    found = page.evaluate(FIGURES_JS)
    uncaptioned = [f["id"] for f in found["figures"] if len(f["caption"]) < 10]
    assert not uncaptioned, f"figures without a caption: {uncaptioned}"
    assert not found["loose"], (
        "images outside a captioned figure (give the cell mystnb.figure.caption metadata, or use "
        f"a figure directive): {found['loose']}")


@pytest.fixture
def dark_page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    context.add_init_script("localStorage.setItem('mode', 'dark');"
                            "localStorage.setItem('theme', 'dark');")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def _luminance(rgb) -> float:
    def channel(v):
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(float(v)) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def paper_luminance(png: bytes) -> float:
    """The luminance of a screenshot's paper: the 80th percentile over its pixels.

    A figure is mostly background, so this is the background a reader sees (the theme dims images
    in dark mode, to about 0.6 for white; a transparent figure shows the dark page, near 0).
    """
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(io.BytesIO(png), format="png")[..., :3].reshape(-1, 3)
    return float(np.percentile([_luminance(p) for p in pixels[:: max(1, len(pixels) // 20000)]],
                               80))


@pytest.mark.parametrize("doc", PAGES)
def test_dark_mode_keeps_figures_light_and_widget_text_readable(dark_page, server, doc, tmp_path):
    open_page(dark_page, server, doc)
    theme = dark_page.evaluate("() => document.documentElement.dataset.theme")
    assert theme == "dark", f"the theme did not switch to dark mode (data-theme={theme!r})"
    page_bg = dark_page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    dark_page.screenshot(path=str(tmp_path / f"{doc.replace('/', '_')}-dark.png"),
                         full_page=True)

    images = dark_page.locator("article.bd-article img:visible")
    dark = []
    for i in range(images.count()):
        image = images.nth(i)
        if image.evaluate("el => el.closest('button, a.btn, .headerlink') !== null"):
            continue
        image.scroll_into_view_if_needed()
        value = paper_luminance(image.screenshot())
        if value < LIGHT:
            dark.append(f"{(image.get_attribute('alt') or '')[:60]!r}: {value:.2f}")
    assert not dark, (f"figures that turn dark on the dark page (background {page_bg}); give "
                      f"them a white background (paper luminance < {LIGHT}): {dark}")

    texts = dark_page.evaluate(CONTRAST_JS, WIDGET_TEXT)
    faint = [t for t in texts if t["ratio"] < MIN_CONTRAST]
    assert not faint, (f"widget text below {MIN_CONTRAST}:1 contrast in dark mode: "
                       + "; ".join(f"{t['text']!r} {t['color']} on {t['background']} "
                                   f"({t['ratio']:.1f}:1)" for t in faint))


def test_dark_mode_check_can_fail(dark_page, server, tmp_path):
    """The two measures themselves: a dark figure (a chapter that used a dark plot style) and
    faint widget text both fail."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    open_page(dark_page, server, PAGES[0])
    with plt.style.context("dark_background"):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, 1])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    plt.close(fig)
    import base64

    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    dark_page.evaluate("""uri => {
        const img = document.createElement('img'); img.src = uri; img.id = 'planted-img';
        const p = document.createElement('div'); p.className = 'mlbook-readout';
        p.id = 'planted-text'; p.textContent = 'step 3 · loss 0.5'; p.style.color = '#333';
        document.querySelector('article.bd-article').prepend(img, p); }""", uri)
    dark_page.wait_for_function("() => document.getElementById('planted-img').complete")
    assert paper_luminance(dark_page.locator("#planted-img").screenshot()) < LIGHT
    planted = [t for t in dark_page.evaluate(CONTRAST_JS, "#planted-text")]
    assert planted and planted[0]["ratio"] < MIN_CONTRAST, planted
