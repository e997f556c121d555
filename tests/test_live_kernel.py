"""The book's widgets in a live kernel: JupyterLab in Chromium, as a reader on Binder or at home.

A JupyterLab server runs on a temporary folder; each test writes a notebook, opens it, runs every
cell, and checks the widget the way a reader sees it: it renders, a value set from Python shows in
the page, and a value the reader enters reaches Python.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

TOKEN = "mlbook-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / ".config"),
           "JUPYTER_RUNTIME_DIR": str(folder / ".runtime")}
    env.pop("MLBOOK_BUILD", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True",
         "--ServerApp.allow_root=True",
         f"--ServerApp.root_dir={folder}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("JupyterLab did not start within 90 s")
            time.sleep(0.5)
    yield folder, url
    process.terminate()
    process.wait(timeout=30)


def open_notebook(page, lab, name: str, cells: list[str]):
    """Write a notebook of ``cells``, open it in JupyterLab and run them all; return the page."""
    folder, url = lab
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, folder / name)
    # reset: JupyterLab would otherwise restore the last test's notebook, maybe as the current one
    page.goto(f"{url}/lab/tree/{name}?token={TOKEN}&reset")
    page.wait_for_function("""name => window.jupyterapp && window.jupyterapp.shell.currentWidget
        && window.jupyterapp.shell.currentWidget.context
        && window.jupyterapp.shell.currentWidget.context.path === name""", arg=name)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # Wait for the kernel, then run every cell.
    page.wait_for_function("""() => {
        const panel = window.jupyterapp.shell.currentWidget;
        return panel && panel.sessionContext && panel.sessionContext.session &&
               panel.sessionContext.session.kernel &&
               panel.sessionContext.session.kernel.connectionStatus === 'connected';
    }""", timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def run_in_kernel(page, code: str) -> str:
    """Execute ``code`` in the open notebook's kernel and return what it printed."""
    return page.evaluate("""async code => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        let text = '';
        const future = kernel.requestExecute({code});
        future.onIOPub = msg => {
            if (msg.header.msg_type === 'stream') text += msg.content.text;
            if (msg.header.msg_type === 'error') {
                text += msg.content.ename + ': ' + msg.content.evalue;
            }
        };
        await future.done;
        return text;
    }""", code)


@pytest.fixture
def lab_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.mlbook_errors = errors
    yield page
    context.close()


QUIZ = """from mlbook.quiz import Choice, Quiz
quiz = Quiz([Choice("Which way does the gradient point?", ["uphill", "downhill"], answer=0,
                    explain="It is the direction of steepest ascent.")], title="Live quiz")
quiz"""


def test_a_widget_renders_and_follows_python_in_jupyterlab(lab_page, lab):
    page = open_notebook(lab_page, lab, "quiz.ipynb", [QUIZ])
    title = page.locator(".jp-OutputArea .mlbook-widget .mlbook-quiz-title")
    title.wait_for(timeout=90_000)
    assert title.inner_text() == "Live quiz"
    run_in_kernel(page, "quiz.title = 'Changed from Python'")
    page.wait_for_function("""() => document.querySelector('.mlbook-quiz-title').textContent
                              === 'Changed from Python'""")
    page.locator(".mlbook-widget").get_by_label("uphill").check()
    feedback = page.locator(".mlbook-widget .mlbook-feedback")
    assert feedback.get_attribute("data-right") == "true"
    # The fallback for readers without JavaScript is in the output, and hidden.
    assert page.locator(".jp-OutputArea noscript.mlbook-fallback").count() == 1
    assert not page.mlbook_errors, page.mlbook_errors
    assert json.loads(run_in_kernel(page, "import json; print(json.dumps(quiz.title))")) == \
        "Changed from Python"


DESCENT = """from mlbook.calculus import DescentExplorer
explorer = DescentExplorer()
explorer"""


def kernel_value(page, expression: str):
    """The value of ``expression`` in the open notebook's kernel, through JSON."""
    printed = run_in_kernel(page, f"import json; print(json.dumps({expression}))")
    return json.loads(printed)


def test_a_chapter_widget_follows_python_and_the_reader_in_jupyterlab(lab_page, lab):
    """The calculus chapter's descent explorer: η set in Python moves the box and redraws the run
    (the browser's run ends where Python's does); η typed by the reader reaches the trait."""
    page = open_notebook(lab_page, lab, "descent.ipynb", [DESCENT])
    widget = page.locator(".jp-OutputArea .mlbook-widget.mlbook-descent")
    widget.locator(".mlbook-readout[data-theta1]").wait_for(state="attached", timeout=90_000)
    rate_box = widget.get_by_label("learning rate η", exact=True)
    readout = widget.locator(".mlbook-readout[data-theta1]")

    run_in_kernel(page, "explorer.learning_rate = 0.05")
    page.wait_for_function("el => el.value === '0.05'", arg=rate_box.element_handle())
    end = kernel_value(page, "explorer.run().path[-1].tolist()")
    page.wait_for_function("""([el, end]) => [el.dataset.theta1, el.dataset.theta2].every(
        (v, i) => Math.abs(Number(v) - end[i]) <= 1e-9 * (1 + Math.abs(end[i])))""",
                           arg=[readout.element_handle(), end])

    rate_box.fill("0.02")
    rate_box.press("Enter")
    deadline = time.monotonic() + 30
    while kernel_value(page, "explorer.learning_rate") != 0.02:
        assert time.monotonic() < deadline, "the η the reader typed did not reach Python"
        time.sleep(0.2)
    assert kernel_value(page, "explorer.step") == kernel_value(page, "explorer.steps")
    assert widget.locator(".mlbook-status.mlbook-error").count() == 0
    assert not page.mlbook_errors, page.mlbook_errors
