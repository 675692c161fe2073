"""Old path of :mod:`archcalc.zoo` (the bundled specs), kept importable for one release."""

from archcalc.zoo import SPEC_DIR, bundled_specs, spec_path

__all__ = ["SPEC_DIR", "bundled_specs", "spec_path"]
