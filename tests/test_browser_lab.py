"""Acceptance: a student in a real JupyterLab (headless Debian chromium) runs the fixture notebook.

The blank stub's check fails with the hint and "not implemented yet"; after the answer is typed into
the stub cell, its check passes. The lab is started by infra/lab/start.sh (what `make lab` runs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from coursekit_student.submit import running_session_warnings
from tests.browser import ARTIFACTS, CHROMIUM, chromium_page

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "student" / "release"
ANSWER = '''def scale(v, c):
    """Multiply the vector v by the number c."""
    return c * np.asarray(v, dtype=float)'''

pytest.importorskip("playwright.sync_api", reason="pip install playwright (never `playwright install`)")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, token: str, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if json.load(response).get("started"):
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path, monkeypatch):
    release = tmp_path / "release"
    shutil.copytree(FIXTURE, release)
    port, token = free_port(), "coursekit-test-token"
    jupyter = {name: str(tmp_path / "jupyter" / name) for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}
    for name, value in jupyter.items():
        monkeypatch.setenv(name, value)  # running_session_warnings() must find this server's runtime file
    env = {**os.environ, **jupyter, "COURSE_RELEASE": str(release), "LAB_PORT": str(port), "LAB_TOKEN": token,
           "LAB_ARGS": "--LabApp.expose_app_in_browser=True --LabApp.news_url=None --LabApp.check_for_updates_class="
                       "jupyterlab.NeverCheckForUpdate"}
    for name in ("COURSEKIT_GRADING", "COURSEKIT_MILESTONE", "COURSEKIT_NO_RECORD"):
        env.pop(name, None)
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(REPO / "infra" / "lab" / "start.sh")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, token, proc, log)
        yield {"url": url, "token": token, "release": release, "log": log}
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End our own server's process group (the server and its kernels), by id."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def test_lab_serves_no_nbgrader_pages(lab):
    request = urllib.request.Request(f"{lab['url']}/formgrader", headers={"Authorization": f"token {lab['token']}"})
    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(request, timeout=10)
    assert failure.value.code == 404


def check_output(page, index: int):
    """The rendered check() summary of the cell at ``index`` (waits until it appears)."""
    locator = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".coursekit-check")
    locator.wait_for(timeout=120_000)
    return locator


def test_student_runs_checks_in_jupyterlab(lab):
    with chromium_page(1280, 1600) as page:
        page.set_default_timeout(120_000)
        page.goto(f"{lab['url']}/lab/tree/m00-check/m00-check.ipynb?token={lab['token']}")
        page.locator(".jp-Notebook .jp-Cell").nth(4).wait_for()
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session")
        # students get the course's checks, not nbgrader's menus or Validate button
        nbgrader = page.evaluate("() => window.jupyterapp.listPlugins().filter(p => p.includes('nbgrader'))"
                                 ".filter(p => window.jupyterapp.isPluginActivated(p))")
        assert nbgrader == [], nbgrader
        assert page.locator("text=Validate").count() == 0
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

        blank = check_output(page, 4)  # cell 4: check("scale") under the blank stub
        text = blank.inner_text()
        assert "check('scale') 0/1 passed" in text
        assert "not implemented yet" in text
        assert "Multiply every entry by c: NumPy broadcasts a scalar over an array." in text
        assert "Hidden tests also count" in text
        page.screenshot(path=str(ARTIFACTS / "browser-lab-blank.png"), full_page=True)

        # the student types the answer into the stub cell and runs it and its check cell
        editor = page.locator(".jp-Notebook .jp-Cell").nth(3).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(ANSWER)
        page.keyboard.press("Shift+Enter")  # runs the stub cell, selects the check cell
        page.keyboard.press("Shift+Enter")  # runs check("scale")
        passed = page.locator(".jp-Notebook .jp-Cell").nth(4).locator(".coursekit-check",
                                                                      has_text="all passed")
        passed.wait_for(timeout=120_000)
        assert "check('scale') all passed · 2/2 public points if graded now" in passed.inner_text()
        assert passed.locator(".ck-test.ck-passed").count() == 1
        page.screenshot(path=str(ARTIFACTS / "browser-lab-check.png"), full_page=True)

    # the kernel ran code after the file was last saved: `course submit` must say so
    notebook = lab["release"] / "m00-check" / "m00-check.ipynb"
    os.utime(notebook, (time.time() - 60, time.time() - 60))
    [warning] = running_session_warnings(notebook)
    assert warning.startswith("m00-check.ipynb is open in a running Jupyter and its kernel ran code")
    progress = json.loads((notebook.parent / ".course" / "checks.json").read_text())
    assert progress["parts"]["scale"]["points"] == 2.0
