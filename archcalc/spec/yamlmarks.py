"""Old path of :mod:`archcalc.language.yamlmarks`, kept importable for one release."""

from archcalc.language.yamlmarks import MAX_EXPANDED_NODES, MarkedList, MarkedMap, load_yaml

__all__ = ["MAX_EXPANDED_NODES", "MarkedList", "MarkedMap", "load_yaml"]
