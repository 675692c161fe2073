"""Command-line parts of the runtime features (profile, calibrate): registered into the main parser.

Heavy modules (onnxruntime, numpy) are imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the runtime subcommands to the main parser's subparsers."""


def dispatch(args: argparse.Namespace) -> int | None:
    """Run a runtime subcommand; None when the command is not one of them."""
    return None
