"""``estimate``: latency on a named device without running the model (this CPU, calibrated; or a
GPU from its datasheet roofline, labelled ``datasheet, not calibrated``).

    archcalc estimate SPEC|MODEL.onnx --device cpu|h100|h200|a100|l4|t4|v100|rtx4090|...
                      [--batch N] [--dtype fp32|tf32|fp16|bf16] [--threads N] [--format ...] [-o OUT]
"""

from __future__ import annotations

import argparse

from archcalc.cli.base import Command, assignments, file_input, output_options, variable_option
from archcalc.cli.output import emit, output_format
from archcalc.cli.progress import ProgressBar
from archcalc.errors import OptionError

FORMATS = ("table", "markdown", "json", "csv")


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a spec (YAML or bundled name) or an ONNX model")
    p.add_argument("--device", required=True,
                   help="cpu (this machine, calibrated) or a datasheet GPU: h100, h100-pcie, h200, a100, a100-40gb, "
                        "a10, l4, l40s, t4, v100, v100-pcie, rtx4090, rtx3090")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--dtype", default="fp32", help="precision: fp32, tf32, fp16, bf16 (default fp32)")
    p.add_argument("--threads", type=int, default=None, help="cpu: the calibration's intra-op threads")
    output_options(p, FORMATS)
    variable_option(p)


def _run(args: argparse.Namespace) -> int:
    from archcalc.estimate.datasheets import check_precision, datasheet_named
    from archcalc.estimate.ondevice import estimate_on
    from archcalc.render.device_estimate import render_device_estimate
    from archcalc.sources import SourceKind, what_is

    fmt = output_format(args.format, args.output, FORMATS)
    if args.batch < 1:
        raise OptionError(f"--batch must be at least 1, got {args.batch}")
    if args.threads is not None and args.threads < 1:
        raise OptionError("--threads must be at least 1")
    check_precision(args.dtype)
    if args.device.strip().lower() != "cpu":
        datasheet_named(args.device)  # an unknown name is refused before any work
    variables = None
    if args.vars:
        if what_is(args.file) is SourceKind.ONNX:
            raise OptionError("--var sets spec variables; an ONNX model has none")
        variables = assignments(args.vars, "--var")
    bar = ProgressBar()
    try:
        est = estimate_on(args.file, args.device, batch=args.batch, precision=args.dtype, variables=variables,
                          threads=args.threads, progress=bar)
    finally:
        bar.close()
    emit(render_device_estimate(est, fmt), args.output, inputs=[args.file])
    return 0


COMMANDS = (
    Command("estimate", "latency on a device without running: this CPU (calibrated) or a GPU's datasheet roofline",
            _arguments, _run, file_input, reads_source=True),
)
