"""report.html in a real browser: headless Chromium loads it with no console error, every
plot is decoded (``naturalWidth > 0``), and a screenshot of it is not blank.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no Python client is needed.
The report has no script; the browser's own log (``Log.entryAdded``: failed loads, blocked
resources) and console/exception events are what is checked. A control page with a broken
image and a ``console.error`` shows that the harness does see such failures.

Debian's ``chromium`` is installed with apt-get when it is missing and the test runs as root;
otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from hacd_graph.eval.report import write_report
from tests.eval.report_fixtures import write_fake_run

pytestmark = pytest.mark.slow
TIMEOUT_S = 60.0


def _chromium() -> str:
    """The chromium executable, installed with apt-get if needed (else the test skips)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and apt-get cannot run here (not root)")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # the package lists may be missing or stale
        subprocess.run(["apt-get", "update"], capture_output=True, timeout=600)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not shutil.which("chromium"):
        pytest.skip(f"could not install chromium: {done.stderr.strip()[-300:]}")
    return shutil.which("chromium")


class _Browser:
    """Headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_pipes() -> None:  # in the child: Chromium reads fd 3 and writes fd 4
            # copied first: a pipe may already be fd 3 or 4, and dup2 onto itself would
            # leave it close-on-exec
            read, write = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
             "--window-size=1200,900", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes, close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._inbox: queue.Queue[dict] = queue.Queue()
        self.events: list[dict] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._from_chrome, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                buf += chunk
                *messages, buf = buf.split(b"\0")
                for m in messages:
                    self._inbox.put(json.loads(m))

    def _next(self) -> dict:
        try:
            return self._inbox.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise TimeoutError("chromium did not answer over the DevTools pipe") from None

    def call(self, method: str, session: bool = False, **params: object) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def load(self, url: str) -> None:
        """Navigate and wait for the load event (every data-URI image decoded by then)."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._next())

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors since the last load."""
        out = []
        for e in self.events:
            p, method = e.get("params", {}), e.get("method")
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value")) for a in p["args"]))
            elif method == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", ""))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}")
        return out

    def plots(self) -> list[tuple[str, bool, int]]:
        """``(data-plot, complete, naturalWidth)`` of every ``img[data-plot]``."""
        return json.loads(self.evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('img[data-plot]'),"
            " i => [i.dataset.plot, i.complete, i.naturalWidth]))"))

    def screenshot(self, max_height: int = 6000) -> bytes:
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"],
                "height": min(size["height"], max_height), "scale": 1}
        shot = self.call("Page.captureScreenshot", session=True, format="png", clip=clip,
                         captureBeyondViewport=True)
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = _Browser(_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def test_harness_sees_console_errors_and_broken_images(browser, tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><body><img data-plot="ok" alt="" src="data:image/png;'
                    'base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8'
                    'BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="><img data-plot="broken" alt="" '
                    'src="missing.png"><script>console.error("control error")</script>'
                    "</body></html>")
    browser.load(page.as_uri())
    assert any("control error" in e for e in browser.errors())
    assert any("missing.png" in e for e in browser.errors())
    assert browser.plots() == [["ok", True, 1], ["broken", True, 0]]


def test_report_renders_every_plot_without_errors(browser, tmp_path):
    run = write_fake_run(tmp_path, examples=4)
    _, html_path = write_report(run)
    written = sorted(p.stem for p in (run / "report_files").glob("*.png"))
    assert len(written) == 2 + 2 * 4 + 2 + 3

    browser.load(html_path.as_uri())
    assert browser.errors() == []
    plots = browser.plots()
    loaded = sorted(name for name, complete, width in plots if complete and width > 0)
    assert loaded == written
    assert browser.evaluate("document.scripts.length") == 0

    png = browser.screenshot()
    (tmp_path / "report.png").write_bytes(png)
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape[0] > 2000 and image.shape[1] >= 1000  # the whole page, not a viewport
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # not one colour: text and plots
