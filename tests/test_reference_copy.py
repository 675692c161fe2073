"""The project carries its own copy of the shared reference figures; keep it identical."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REFERENCE, ROOT

SHARED = ROOT.parent / "shared" / "reference" / "published.yaml"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside this checkout (a fresh clone)")
def test_copy_equals_shared() -> None:
    assert yaml.safe_load(REFERENCE.read_text()) == yaml.safe_load(SHARED.read_text())


def test_copy_has_the_sections_the_tests_use() -> None:
    data = yaml.safe_load(REFERENCE.read_text())
    for key in ("course_lenet_table", "lenet5_1998", "lenet_1989", "exercises", "alexnet_2012",
                "vgg_table2", "resnet_table1"):
        assert key in data
