#!/usr/bin/env python3
"""List every external link in the built site, with the pages that use it.

The build machines have no network, so external links are not checked in CI. Run this where a
network exists, with ``--check`` to request each URL once (HEAD, then GET if HEAD is refused).

Usage::

    python scripts/list_external_links.py [SITE] [--json] [--check]

SITE defaults to ``$MLBOOK_OUT/_build/html`` (else ``_build/html``). Links into the site's own
sources (``_sources``) and vendored JavaScript are not pages and are skipped. Exit status: 0, or 1
if ``--check`` found a broken link.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"_static", "_sources", "mathjax", "html-manager", "requirejs"}
LINK_ATTRS = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src",
              "source": "src"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attr = LINK_ATTRS.get(tag)
        value = dict(attrs).get(attr) if attr else None
        if value and urlsplit(value).scheme in ("http", "https"):
            self.urls.append(value.strip())


def pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in SKIP_DIRS)


def external_links(site: Path) -> dict[str, list[str]]:
    """``{url: [pages that link to it]}`` for every http(s) link in the site's pages."""
    found: dict[str, set[str]] = defaultdict(set)
    for page in pages(site):
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for url in parser.urls:
            found[url].add(str(page.relative_to(site)))
    return {url: sorted(found[url]) for url in sorted(found)}


def check(url: str, timeout: float = 20) -> str:
    """'ok', or why the URL failed."""
    headers = {"User-Agent": "mlbook-linkcheck/1.0"}
    for method in ("HEAD", "GET"):
        try:
            request = urllib.request.Request(url, method=method, headers=headers)
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if response.status < 400:
                    return "ok"
        except urllib.error.HTTPError as err:
            if method == "HEAD" and err.code in (403, 405, 501):
                continue
            return f"HTTP {err.code}"
        except (OSError, ValueError) as err:
            return f"{type(err).__name__}: {err}"
    return "failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("MLBOOK_OUT") or ROOT) / "_build" / "html"
    parser.add_argument("site", nargs="?", type=Path, default=default)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--check", action="store_true", help="request every URL (needs network)")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"list_external_links: no built site at {args.site}", file=sys.stderr)
        return 2
    links = external_links(args.site)
    status = {url: check(url) for url in links} if args.check else {}
    if args.json:
        print(json.dumps([{"url": u, "pages": p, **({"status": status[u]} if status else {})}
                          for u, p in links.items()], indent=2))
    else:
        for url, where in links.items():
            mark = f"  [{status[url]}]" if status else ""
            print(f"{url}{mark}\n    " + ", ".join(where))
        print(f"{len(links)} external links in {len(pages(args.site))} pages", file=sys.stderr)
    return 1 if any(s != "ok" for s in status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
