from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
REFERENCE = Path(__file__).resolve().parent / "reference" / "published.yaml"


def spec_files() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))


@pytest.fixture(scope="session")
def published() -> dict[str, Any]:
    """The published figures (a copy of ../shared/reference/published.yaml)."""
    return yaml.safe_load(REFERENCE.read_text())
