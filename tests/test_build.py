"""The build succeeded cleanly: no Sphinx warnings, no cell errors, a page for every TOC entry."""

import re

from conftest import BUILD, toc_files


def test_build_log_has_no_warnings_or_errors(site):
    log = (BUILD / "build.log").read_text()
    # Sphinx writes "path: WARNING: message"; kernels' own log lines ("[IPKernelApp] WARNING |")
    # are not the book's.
    problems = [line for line in log.splitlines()
                if re.search(r"(WARNING|ERROR|CRITICAL):", line)]
    assert not problems, "\n".join(problems)
    assert "build succeeded" in log or "Finished generating HTML" in log


def test_no_notebook_failed_to_execute(site):
    reports = site / "reports"
    failed = sorted(p.name for p in reports.glob("*.err.log")) if reports.is_dir() else []
    assert not failed, f"notebooks with cell errors: {failed}"


def test_every_toc_entry_has_a_page(site):
    missing = [doc for doc in toc_files() if not (site / f"{doc}.html").is_file()]
    assert not missing, f"TOC entries without a page: {missing}"
    assert (site / "index.html").is_file()
