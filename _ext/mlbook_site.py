"""The book's Sphinx extension: what a plain ``jupyter-book build .`` needs to make the real site.

* **The book's build.** Sets ``MLBOOK_BUILD=static`` (and ``OMP_NUM_THREADS=1`` unless set)
  before any notebook runs; the kernels inherit it, so a chapter can tell the book's build from a
  reader's run (the MNIST chapter's full-data check fails the build, but only notes a reader's
  changed recipe).
* **Vendored JavaScript.** Fetches the pinned, checksummed npm packages (RequireJS, the widget
  manager, anywidget, MathJax) into ``_vendor/`` (see ``vendor_js.py``), which ``html_extra_path``
  copies to the site's root, so the site makes no request beyond its own origin.
* **The mlbook rule.** jupyter-cache re-executes a notebook when its code changes, but cannot see
  the ``mlbook`` package that notebooks import. When any file in ``mlbook/`` changes, the execution
  cache is dropped and every page is read again (the package's hash is a config value, so Sphinx
  sees the change), so no page shows outputs of an older package.
* **Notebooks side by side.** The notebooks the execution cache lacks run one per core at a
  time before Sphinx reads the pages (myst-nb would run them one after another); myst-nb then
  finds them all in the cache. Each page's executed copy (``jupyter_execute/``) is written from
  the cache, with its outputs, which myst-nb leaves out for a notebook it found cached.
* **A quiet console.** The theme's default colour mode is set (jupyter-book leaves it empty).
* **The book as a PDF.** After an HTML build, ``book_pdf.py`` prints every page, in the order of
  the table of contents, into ``book.pdf`` in the site (headless Chromium), and every page's
  sidebar links to it ("Download the book as PDF"). ``MLBOOK_PDF=0`` skips it, as does a machine
  without Chromium, Playwright or pypdf (an info message, not a warning); the site then has no
  link to a PDF.
* **One copy of each script.** jupyter-book's default extensions register some inline scripts
  twice (sphinx-thebe's ``const THEBE_JS_URL = ...``), and a second ``const`` declaration is an
  uncaught SyntaxError on every page; exact duplicates are dropped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import book_pdf
import nbformat
import vendor_js
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from sphinx.errors import ExtensionError
from sphinx.util import logging

BUILD_ENV = "MLBOOK_BUILD"
PACKAGE = Path(__file__).resolve().parent.parent / "mlbook"
HASH_FILE = "mlbook-package-hash"
logger = logging.getLogger(__name__)


def package_hash() -> str:
    """A digest of every file of the mlbook package (code, JavaScript, data)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in PACKAGE.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _vendor(app, config) -> None:
    try:
        vendor_js.vendor(log=logger.info)
    except vendor_js.VendorError as err:
        raise ExtensionError(f"vendor_js: {err}") from None


def _cache_path(app) -> Path:
    return Path(app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")


def _drop_stale_cache(app, config) -> None:
    """If mlbook changed since the cache was filled, empty the cache; the hash is a config value,
    so a change also makes Sphinx read every page again."""
    config.mlbook_package_hash = current = package_hash()
    cache = _cache_path(app)
    recorded = cache / HASH_FILE
    if recorded.is_file() and recorded.read_text().strip() == current:
        return
    if cache.is_dir():
        logger.info("mlbook changed: every notebook will be executed again.")
        shutil.rmtree(cache)
    # Recorded now, not after the build: a failed build must not make the next one start over.
    cache.mkdir(parents=True, exist_ok=True)
    recorded.write_text(current + "\n")


def _execute_side_by_side(app, env, docnames) -> None:
    """Run the notebooks that the cache lacks, one per core at a time, before Sphinx reads them.

    myst-nb runs them one after another as it reads each page; a chapter's kernel keeps about one
    core busy (its threads are one, see ``setup``), so on two cores two notebooks run in the
    time of one. The results go into the
    cache the way myst-nb puts them there, so it finds every notebook cached. A notebook that
    fails is left out: myst-nb runs it again as it reads the page and reports the error.
    The book's later chapters train larger models, so the last chapter starts first.
    """
    if app.config.nb_execution_mode != "cache":
        return
    cache = get_cache(str(_cache_path(app)))
    order = list(getattr(app.config, "external_site_map", None) or sorted(docnames))
    todo = []
    for docname in reversed([name for name in order if name in docnames]):
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb":
            continue
        notebook = nbformat.read(path, as_version=4)
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            todo.append((path, notebook))
    if len(todo) < 2:
        return  # nothing to gain: myst-nb runs it
    workers = min(len(todo), os.cpu_count() or 1)
    logger.info(f"Executing {len(todo)} notebooks, {workers} at a time")

    def execute(job):
        path, notebook = job
        return job, single_nb_execution(notebook, cwd=str(path.parent),
                                        timeout=app.config.nb_execution_timeout,
                                        allow_errors=app.config.nb_execution_allow_errors,
                                        meta_override=True)

    with ThreadPoolExecutor(workers) as pool:  # each thread only waits on its own kernel
        for (path, notebook), result in pool.map(execute, todo):
            if result.err is not None:
                logger.info(f"{path}: failed; it runs again as its page is read")
                continue
            record = cache.add_nb_to_project(str(path))
            cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri,
                                                      data={"execution_seconds": result.time}),
                                        check_validity=False, overwrite=True)
            # myst-nb's wording, which scripts/bench_build.py reads
            logger.info(f"{path}: Executed notebook in {result.time:.2f} seconds (side by side)")


def _executed_copy_with_outputs(app, doctree) -> None:
    """myst-nb (1.4) writes ``jupyter_execute/<page>.ipynb`` from the notebook as it read it, which
    holds outputs only when myst-nb executed it itself: a notebook taken from the cache (every one
    that ran side by side, and any page read again without a code change) is written without
    them. Write the cached, executed notebook there instead."""
    path = Path(app.env.doc2path(app.env.docname))
    if path.suffix != ".ipynb" or app.config.nb_execution_mode != "cache":
        return
    try:
        _, executed = get_cache(str(_cache_path(app))).merge_match_into_notebook(
            nbformat.read(path, as_version=4))
    except KeyError:
        return  # not executed (a failed run): myst-nb has reported it
    target = Path(app.env.mystnb_config.output_folder, *f"{app.env.docname}.ipynb".split("/"))
    target.write_text(nbformat.writes(executed), encoding="utf-8")


def _theme_defaults(app, config) -> None:
    # The theme's templates read the default colour mode from the page context; jupyter-book leaves
    # it empty, which the theme reports as an error in the browser console on a first visit.
    config.html_context.setdefault("default_mode", "auto")


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # Sphinx stores the same inline script with filename None or "" depending on who added it.
        key = (str(getattr(script, "filename", script) or ""), getattr(script, "priority", None),
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _pdf_switch(app, config) -> None:
    """Decide once whether this build makes book.pdf; the pages link to it only if it does."""
    reason = book_pdf.reason_to_skip()
    config.mlbook_pdf = reason is None
    if reason:
        logger.info(f"book.pdf will not be made: {reason}.")
    config.templates_path = [*config.templates_path, str(Path(__file__).parent / "templates")]


def _pdf_link(app, pagename, templatename, context, doctree):
    # Before the theme (priority 500) resolves the sidebar's templates.
    if app.config.mlbook_pdf and isinstance(context.get("sidebars"), list):
        context["sidebars"] = [*context["sidebars"], "mlbook-pdf-link.html"]


def _print_pdf(app, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    if not app.config.mlbook_pdf:
        book_pdf.remove_stale(app, log=logger.info)
        return
    try:
        book_pdf.build(app, log=logger.info)
    except book_pdf.PdfError as err:
        raise ExtensionError(f"book.pdf: {err}") from None


def setup(app):
    # Before any kernel starts: kernels inherit this process's environment.
    os.environ[BUILD_ENV] = "static"
    # One thread per kernel, unless set: two two-thread kernels on two cores wait on each other,
    # and a number printed to its last digit (a round-off) is the same whether its notebook ran
    # alone or beside another (tests/test_reproducible.py executes it the same way).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    app.add_config_value("mlbook_package_hash", "", "env")
    # Early, before Sphinx checks that the html_extra_path entries exist (priority 800).
    app.connect("config-inited", _vendor, priority=100)
    app.connect("config-inited", _drop_stale_cache, priority=100)
    app.connect("config-inited", _theme_defaults)
    app.connect("env-before-read-docs", _execute_side_by_side)
    app.connect("doctree-read", _executed_copy_with_outputs)
    # After the other handlers (default priority 500) have added their scripts.
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.add_config_value("mlbook_pdf", True, "html")
    app.connect("config-inited", _pdf_switch)
    app.connect("html-page-context", _pdf_link, priority=400)
    # Last: the theme rewrites pygments.css at build-finished, and the PDF uses the site's CSS.
    app.connect("build-finished", _print_pdf, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
