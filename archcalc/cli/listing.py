"""``list``, ``types``, ``presets``, ``columns``: what archcalc knows, as lists."""

from __future__ import annotations

import argparse

from archcalc.cli.base import Command
from archcalc.cli.output import emit


def _no_arguments(_p: argparse.ArgumentParser) -> None:
    return None


def _list(_args: argparse.Namespace) -> int:
    from archcalc.language.reuse import read_variants
    from archcalc.render.lists import SpecEntry, spec_list
    from archcalc.sources import load_any
    from archcalc.zoo import bundled_specs

    entries = []
    for name, path in bundled_specs().items():
        graph = load_any(path)
        doc = graph.meta["document"]
        entries.append(SpecEntry(name, graph.description or graph.name, graph.source,
                                 dict(doc.get("variables") or {}), read_variants(doc, graph.file)))
    emit(spec_list(entries), None)
    return 0


def _types(_args: argparse.Namespace) -> int:
    from archcalc.render.lists import type_list

    emit(type_list(), None)
    return 0


def _presets(_args: argparse.Namespace) -> int:
    from archcalc.render.lists import preset_list

    emit(preset_list(), None)
    return 0


def _columns(_args: argparse.Namespace) -> int:
    from archcalc.render.lists import column_list

    emit(column_list(), None)
    return 0


COMMANDS = (
    Command("list", "list the bundled specs, their variables and variants (use their names as FILE)",
            _no_arguments, _list),
    Command("types", "list layer types, their aliases and keys", _no_arguments, _types),
    Command("presets", "list counting presets and what they reproduce", _no_arguments, _presets),
    Command("columns", "list report columns", _no_arguments, _columns),
)
