"""Old path of :mod:`archcalc.language.loader`, kept importable for one release."""

from archcalc.language.loader import MAX_SPEC_BYTES, build_from_document, load_spec

__all__ = ["MAX_SPEC_BYTES", "build_from_document", "load_spec"]
