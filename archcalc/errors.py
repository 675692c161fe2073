"""The exception tree.

Library code raises these; only the CLI prints them (one line, exit code 2).

::

    ArchcalcError                 base: file, line, layer, message -> one line
    +-- SpecError                 the YAML spec is malformed or uses an unknown key/type
    |   +-- YamlSyntaxError       the text is not YAML at all (a parser error, with its line)
    |   +-- VariableError         ${name} is undefined or an expression is invalid
    +-- GraphError                wiring: duplicate names, dangling inputs, cycles
    +-- ShapeError                a layer cannot take its input (stride does not fit,
    |                             channel mismatch at an add, concat of different sizes)
    +-- ConventionError           unknown preset or convention key, bad value
    +-- ExpectationError          an `expected:` block is malformed (not a mismatch)
    +-- OptionError               a bad option value (a column, a format, a count out of range)
    +-- OnnxFileError             the file is not a readable ONNX model
    +-- OnnxImportError           the ONNX graph cannot be turned into a layer graph
    |   +-- SymbolicDimsError     an input keeps symbolic dims that --input/--batch did not fix
    +-- ExportError               a layer has no faithful ONNX form, or the export cannot be written
    +-- DeviceError               the requested device cannot run the model here (says why)
    +-- MemoryLimitError          a run would need more memory than the limit
    +-- CalibrationError          a device profile cannot be made or used
    +-- OutputError               an output path cannot (or must not) be written

A mismatch between an `expected:` figure and the computed one is data (see
``archcalc.expected``), not an exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ArchcalcError(Exception):
    """An error about the user's input, rendered as one line.

    ``file:line: layer NAME: message`` (each prefix only when known).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        layer: str | None = None,
        trace: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.layer = layer
        self.trace = trace

    def located(
        self,
        *,
        file: str | None = None,
        line: int | None = None,
        layer: str | None = None,
        trace: tuple[str, ...] = (),
    ) -> ArchcalcError:
        """Fill in location fields that are still unknown (returns self)."""
        if self.file is None:
            self.file = file
        if self.line is None:
            self.line = line
        if self.layer is None:
            self.layer = layer
        if not self.trace:
            self.trace = trace
        return self

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        who = f"layer {self.layer}: " if self.layer else ""
        via = f" ({'; '.join(self.trace)})" if self.trace else ""
        return f"{where}{who}{self.message}{via}"


class SpecError(ArchcalcError):
    """The spec file is malformed, or names an unknown layer type or key."""


class YamlSyntaxError(SpecError):
    """The text is not valid YAML (the parser's error, with its line)."""


class VariableError(SpecError):
    """A ``${...}`` reference is undefined or its expression is invalid."""


class GraphError(ArchcalcError):
    """Wiring: duplicate names, dangling inputs, cycles."""


class ShapeError(ArchcalcError):
    """A layer cannot take the shape(s) it is given."""


class ConventionError(ArchcalcError):
    """Unknown preset or convention key, or a bad value for one."""


class ExpectationError(ArchcalcError):
    """An ``expected:`` block is malformed."""


class OptionError(ArchcalcError):
    """A bad option value: an unknown column or format, a count out of range."""


class OnnxFileError(ArchcalcError):
    """The file is not a readable ONNX model."""


class OnnxImportError(ArchcalcError):
    """The ONNX graph cannot be turned into a layer graph."""


class SymbolicDimsError(OnnxImportError):
    """An ONNX input keeps symbolic dims (``batch``, ``height``) that nothing fixed."""


class ExportError(ArchcalcError):
    """A layer has no faithful ONNX form (or the export cannot be written)."""


class DeviceError(ArchcalcError):
    """The requested device cannot run the model here; the message says why."""


class MemoryLimitError(ArchcalcError):
    """A run would need more memory than the limit."""


class CalibrationError(ArchcalcError):
    """A device profile cannot be made or used."""


class OutputError(ArchcalcError):
    """An output path cannot be written, or must not be (it is an input, or not a regular file)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""
