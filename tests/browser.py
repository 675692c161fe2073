"""A headless Chromium for the page tests: ``--dump-dom`` after the page's script ran (the page's
URL fragment drives clicks, sorting and filtering) and ``--screenshot``. Tests skip when Chromium
is absent, except in CI (``CI`` or ``ARCHCALC_CI`` set), where ``.ci/run`` installs it and its absence is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars")


def chromium() -> str:
    """The browser's path, or skip (outside CI) / fail (in CI)."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") or os.environ.get("ARCHCALC_CI"):
        pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); the page tests need a real browser")


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory(prefix="archcalc-chromium-", ignore_cleanup_errors=True) as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              timeout=timeout, check=False)


def dump_dom(page: Path, fragment: str = "") -> str:
    """The DOM after the page's script ran, with ``#fragment`` on the file:// URL."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    res = _run(["--dump-dom", url])
    assert res.returncode == 0 and res.stdout, res.stderr.decode(errors="replace")[-2000:]
    return res.stdout.decode()


def screenshot(page: Path, png: Path, size: tuple[int, int], fragment: str = "") -> None:
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    res = _run([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", url])
    assert res.returncode == 0 and png.exists(), res.stderr.decode(errors="replace")[-2000:]


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.text_parts: list[str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(self.text_parts) + "".join(c.text() for c in self.children)

    def walk(self) -> list[Element]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.walk() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, ident: str) -> Element:
        found = [e for e in self.walk() if e.attrs.get("id") == ident]
        assert len(found) == 1, ident
        return found[0]


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.at = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, self.at)
        self.at.children.append(el)
        if tag not in _VOID:
            self.at = el

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.at.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.at))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data: str) -> None:
        self.at.text_parts.append(data)


def parse(html: str) -> Element:
    tree = _Tree()
    tree.feed(html)
    return tree.root


class DevTools:
    """Chromium driven over its DevTools protocol on a pipe (``--remote-debugging-pipe``: commands
    on fd 3, replies on fd 4, NUL-terminated JSON; no package needed). ``click(x, y)`` is a real
    mouse press and release at a point of the page, hit-tested by the browser."""

    def __init__(self, url: str, size: tuple[int, int] = (1400, 1000)) -> None:
        import json

        self._json = json
        # Chromium's helper processes may still be writing the profile as it goes: never an error
        self._profile = tempfile.TemporaryDirectory(prefix="archcalc-chromium-", ignore_cleanup_errors=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        def onto_3_and_4() -> None:  # in the child: the pipe ends become fds 3 and 4
            import fcntl

            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self._proc = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe",
             f"--window-size={size[0]},{size[1]}", "about:blank"],
            close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=onto_3_and_4, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        target = self.send("Target.createTarget", url=url)["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method: str, session: bool = False, **params: object) -> dict:  # type: ignore[type-arg]
        self._next += 1
        message: dict[str, object] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, self._json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 1 << 16)
                assert chunk, "chromium closed the DevTools pipe"
                self._buffer += chunk
            raw, _, self._buffer = self._buffer.partition(b"\0")
            reply = self._json.loads(raw)
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                return reply.get("result", {})  # type: ignore[no-any-return]

    def evaluate(self, expression: str) -> object:
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> None:
        import time

        end = time.monotonic() + timeout
        while not self.evaluate(expression):
            assert time.monotonic() < end, f"timed out waiting for {expression}"
            time.sleep(0.05)

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, button="left", clickCount=1)

    def close(self) -> None:
        """Ask the browser to quit (its helper processes end with it), then end its whole process
        group if it has not within 10 s."""
        import contextlib
        import signal

        self._next += 1
        message = self._json.dumps({"id": self._next, "method": "Browser.close"}).encode() + b"\0"
        with contextlib.suppress(OSError):  # not ``send``: no reply is awaited from a browser that is quitting
            os.write(self._to_browser, message)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
