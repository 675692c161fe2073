"""The progress bar long commands draw on stderr (sweep, profile, calibrate)."""

from __future__ import annotations

import sys
import time
from typing import Any

#: the progress bar appears once a command has run this long
PROGRESS_AFTER_S = 2.0


class ProgressBar:
    """A progress callback that draws nothing for the first seconds, then a bar on stderr
    (tqdm when installed, else one line rewritten in place), on a terminal only. A call with
    ``done == 0`` announces long work: its text is written at once, and the bar follows."""

    def __init__(self, stream: Any = None, after: float = PROGRESS_AFTER_S) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.after = after
        self.start = time.monotonic()
        self.bar: Any = None
        self.last_draw = 0.0
        self.drawn = False
        try:
            import tqdm  # noqa: F401

            self.has_tqdm = True
        except ImportError:
            self.has_tqdm = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0 and total > 0:
            # an announcement before long work (``calibrating this CPU, about 25 s; ...``): say
            # it now, and draw the bar from the first step on
            self.stream.write(f"archcalc: {stage}\n")
            self.stream.flush()
            self.start = now - self.after
            return
        if now - self.start < self.after or not getattr(self.stream, "isatty", lambda: False)():
            return  # a bar only on a terminal: logs and pipes get the announcements alone
        if self.has_tqdm:
            from tqdm import tqdm

            if self.bar is None or self.bar.total != total:
                if self.bar is not None:
                    self.bar.close()
                self.bar = tqdm(total=total, file=self.stream, unit="run", leave=False, dynamic_ncols=True)
            self.bar.set_description(stage, refresh=False)
            self.bar.update(done - self.bar.n)
            return
        if now - self.last_draw < 0.2:
            return
        self.last_draw = now
        width = 30
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r{stage[:50]:50s} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
            self.drawn = False
