"""Small fixes to the HTML that jupyter-book 1.x writes.

jupyter-book's default extensions register some inline scripts twice (sphinx-thebe's
``const THEBE_JS_URL = ...``), and a second ``const`` declaration is an uncaught SyntaxError on
every page. Dropping exact duplicate script entries removes it without changing anything else.
"""

from __future__ import annotations


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


def setup(app):
    # After the other handlers (default priority 500) have added their scripts.
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
