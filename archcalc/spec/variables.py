"""Old path of :mod:`archcalc.language.variables`, kept importable for one release."""

from archcalc.language.variables import evaluate, evaluate_all, has_refs, names_in, substitute

__all__ = ["evaluate", "evaluate_all", "has_refs", "names_in", "substitute"]
