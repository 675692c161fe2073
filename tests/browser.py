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
    with tempfile.TemporaryDirectory(prefix="archcalc-chromium-") as profile:
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
