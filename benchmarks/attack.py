"""The long attack run of issue 15: hostile inputs of every class, each through the real CLI in a
forked child of one process that has imported archcalc, onnx and onnxruntime once.

    python benchmarks/attack.py [--seed 20261201] [--scale 1] [--timeout 10]

Classes: hostile spec values, hostile spec structure (repeats, skipped chains, cycles, YAML
bombs and depth), random ${} expressions, hostile ONNX models (the table of
tests/test_onnx_bounds.py) and byte mutations of the fixtures, special files as the input of every
command, hostile output targets, numeric extremes of every bounded option, absurd sweep grids.
Profiles of the hostile ONNX models run with ``--max-memory 2GiB`` (a small machine): a model
whose constant output is 3.6 GB must then be refused, not run.

The contract checked per case: the exit code is 0, 1, 2 or 130; exit 2 is exactly one stderr
line starting ``archcalc:`` and no traceback; nothing is killed by the per-case timeout (a hang);
a refused case (exit 2) peaks under 1 GiB of resident memory (VmHWM of the child, which starts
from the parent's resident size). Prints the counts, the slowest and largest cases, and every
violation; exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnxruntime  # noqa: E402, F401  (imported once, before forking)

from archcalc.cli import main as cli_main  # noqa: E402

Setup = Callable[[Path], None]
Case = tuple[str, tuple[str, ...], Setup | None]
GIB = 1024**3

LENET = (ROOT / "archcalc" / "zoo" / "lenet5.yaml").read_text()
RESNET = (ROOT / "archcalc" / "zoo" / "resnet18.yaml").read_text()
EXTREMES = ["0", "-1", "1e999", "9" * 30, "9" * 5000, "9223372036854775808", "true", "[]", "{}", "'x'", "null",
            ".nan", ".inf", "-.inf", '"${2*3}"', '"${nope}"', '"${' + "(" * 80 + "1" + ")" * 80 + '}"',
            '"${9999999999 * 9999999999}"', "[1, 2, 3, 4, 5, 6, 7]", "[[0, 9], [9, 0]]", '"' + "x" * 5000 + '"',
            '"\\u0000"', "-9223372036854775809", "1.5", "0x10", "{a: {b: {c: {d: 1}}}}"]
KEYS = ["filters", "kernel", "stride", "padding", "dilation", "groups", "units", "rounding", "bias", "inputs",
        "axis", "shape", "size", "scale", "fn", "repeat", "when", "connections", "name", "type"]


def _write(name: str, text: str | bytes) -> Setup:
    def setup(folder: Path) -> None:
        path = folder / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return setup


def spec_values(rng: random.Random, n: int) -> list[Case]:
    cases: list[Case] = []
    for i in range(n):
        base = rng.choice([LENET, RESNET])
        lines = base.splitlines()
        candidates = [k for k, line in enumerate(lines) if "{" in line and ":" in line and "name:" in line]
        k = rng.choice(candidates)
        key, value = rng.choice(KEYS), rng.choice(EXTREMES)
        line = lines[k].rstrip()
        lines[k] = line[:-1] + f", {key}: {value}}}" if line.endswith("}") else line
        cases.append((f"spec value {key}={value[:20]}", ("report", "s.yaml"), _write("s.yaml", "\n".join(lines))))
        if i % 4 == 0:
            cases.append((f"check spec value {key}", ("check", "s.yaml"), _write("s.yaml", "\n".join(lines))))
    return cases


def spec_structure() -> list[Case]:
    head = "input: [1, 8, 8]\n"
    texts = {
        "repeat 1e9": head + "blocks:\n  b: {layers: [relu]}\nlayers:\n  - {block: b, repeat: 1000000000}\n",
        "repeat 2^63": head + "blocks:\n  b: {layers: [relu]}\nlayers:\n  - {block: b, repeat: 9223372036854775808}\n",
        "repeat -1": head + "blocks:\n  b: {layers: [relu]}\nlayers:\n  - {block: b, repeat: -1}\n",
        "2^30 skipped": head + "blocks:\n  b: {layers: [{type: relu, when: false}]}\n  c: {layers: [{block: b, "
                        "repeat: 32768}]}\nlayers:\n  - {block: c, repeat: 32768}\n",
        "nested 40 deep": head + "blocks:\n"
                          + "".join(f"  b{i}: {{layers: [{{block: b{i + 1}}}]}}\n" for i in range(40))
                          + "  b40: {layers: [relu]}\nlayers:\n  - {block: b0}\n",
        "self use": head + "blocks:\n  b: {layers: [{block: b}]}\nlayers:\n  - {block: b}\n",
        "when chain 5000": head + "layers:\n  - relu\n" + "".join(f"  - {{name: s{i}, type: relu, when: false}}\n"
                                                          for i in range(5000)),
        "variable cycle": "variables: {a: '${b}', b: '${a}'}\n" + head + "layers: [relu]\n",
        "variable chain": "variables: {v0: 2, " + ", ".join(f"v{i}: '${{v{i - 1} * v{i - 1}}}'" for i in range(1, 40))
                          + "}\n" + head + "layers: [{type: conv, filters: '${v39}', kernel: 1}]\n",
        "alias bomb": "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
            f"{b}: &{b} [{', '.join('*' + a for _ in range(9))}]\n" for a, b in zip("abcde", "bcdef", strict=True))
            + "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n" + head + "layers: [relu]\n",
        "recursive alias": "x: &x [*x]\n" + head + "layers: [relu]\n",
        "depth 10000": "x: " + "[" * 10000 + "]" * 10000 + "\n" + head + "layers: [relu]\n",
        "depth 100 maps": "x: " + "{a: " * 100 + "1" + "}" * 100 + "\n" + head + "layers: [relu]\n",
        "2 MiB spec": head + "layers:\n" + "  - {type: relu}\n" * 130000,
        "100k layers": head + "blocks:\n  b: {layers: [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]}\n"
                       "layers:\n  - {block: b, repeat: 20000}\n",
        "duplicate keys": head + "layers:\n  - {type: conv, filters: 1, filters: 2, kernel: 1}\n",
        "python tag": "!!python/object/apply:os.system ['true']\n",
        "not utf-8": "input: [1, 8, 8]\nlayers: [relu]\n# \xff\xfe",
        "empty": "",
        "binary": "\x00\x01\x02" * 100,
        "extends itself": "extends: s.yaml\n" + head + "layers: [relu]\n",
        "extends missing": "extends: nowhere.yaml\n" + head + "layers: [relu]\n",
        "unknown variant": "variants: {a: {}}\n" + head + "layers: [relu]\n",
    }
    cases: list[Case] = []
    for name, text in texts.items():
        data: str | bytes = text.encode("latin-1") if name == "not utf-8" else text
        for command in (("report", "s.yaml"), ("check", "s.yaml"), ("sweep", "s.yaml", "--vary", "x=1,2"),
                        ("export", "s.yaml", "-o", "m.onnx"), ("plot", "layers", "s.yaml", "-o", "p.svg")):
            cases.append((f"structure {name} ({command[0]})", command, _write("s.yaml", data)))
    return cases


def expressions(rng: random.Random, n: int) -> list[Case]:
    tokens = ["w", "k", "1", "0", "9999999999", "(", ")", "+", "-", "*", "/", "//", "%", "==", "<", ">=", "and", "or",
              "not", "if", "else", "true", "false", "min(", "max(", ",", "in.channels", "**", "x", "'", "9" * 25]
    cases: list[Case] = []
    for _ in range(n):
        expr = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 14)))
        text = (f"variables: {{w: 4, k: 2}}\ninput: [3, 8, 8]\nlayers:\n  - {{name: c, type: conv, kernel: 1, "
                f"filters: \"${{{expr}}}\"}}\n")
        cases.append((f"expression {expr[:30]}", ("report", "s.yaml"), _write("s.yaml", text)))
    return cases


def onnx_models(rng: random.Random, n: int) -> list[Case]:
    from tests import test_onnx_bounds as bounds

    cases: list[Case] = []
    for name, build, _code, _words in bounds.CASES:
        def setup(folder: Path, build: Callable[[Path], str] = build) -> None:
            made = build(folder)
            target = folder / "model.onnx"
            if Path(made).resolve() != target.resolve():
                if target.exists() or target.is_symlink():
                    target.unlink()
                target.symlink_to(Path(made).resolve())
        for command in (("report", "model.onnx"), ("profile", "model.onnx", "--estimate", "off", "--repeat", "1",
                                                   "--warmup", "0", "--max-memory", "2GiB")):
            cases.append((f"onnx {name} ({command[0]})", command, setup))
    seeds = sorted((ROOT / "tests" / "fixtures" / "onnx").glob("*.onnx"))
    for _ in range(n):
        data = bytearray(rng.choice(seeds).read_bytes())
        for _ in range(rng.randint(1, 8)):
            how = rng.random()
            at = rng.randrange(len(data))
            if how < 0.5:
                data[at] = rng.randrange(256)
            elif how < 0.75:
                del data[at:at + rng.randint(1, 64)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        cases.append(("onnx bytes", ("report", "model.onnx"), _write("model.onnx", bytes(data))))
    return cases


def special_inputs() -> list[Case]:
    def fifo(folder: Path) -> None:
        os.mkfifo(folder / "in.yaml")

    def loop(folder: Path) -> None:
        (folder / "in.yaml").symlink_to(folder / "in.yaml")

    def to(target: str) -> Setup:
        def setup(folder: Path) -> None:
            (folder / "in.yaml").symlink_to(target)
        return setup

    def folder_input(folder: Path) -> None:
        (folder / "in.yaml").mkdir()

    kinds: dict[str, Setup | None] = {"fifo": fifo, "symlink loop": loop, "/dev/zero": to("/dev/zero"),
                                      "/dev/urandom": to("/dev/urandom"), "folder": folder_input, "missing": None}
    commands = [("report", "in.yaml"), ("check", "in.yaml"), ("tables", "in.yaml"),
                ("export", "in.yaml", "-o", "o.onnx"),
                ("sweep", "in.yaml", "--vary", "w=1,2"), ("plot", "layers", "in.yaml", "-o", "o.svg"),
                ("plot", "sweep", "in.yaml", "-o", "o.svg"), ("estimate", "in.yaml", "--device", "a100"),
                ("profile", "in.yaml", "--estimate", "off")]
    cases: list[Case] = []
    for kind, setup in kinds.items():
        for command in commands:
            cases.append((f"input {kind} ({' '.join(command[:2])})", command, setup))
            onnx_command = tuple(a.replace("in.yaml", "in.onnx") for a in command)
            def onnx_setup(folder: Path, setup: Setup | None = setup) -> None:
                if setup is not None:
                    setup(folder)
                    (folder / "in.yaml").rename(folder / "in.onnx")
            cases.append((f"input {kind} as .onnx ({command[0]})", onnx_command, onnx_setup))
    return cases


def outputs() -> list[Case]:
    def base(folder: Path) -> None:
        (folder / "s.yaml").write_text(LENET)

    def with_(extra: Callable[[Path], None]) -> Setup:
        def setup(folder: Path) -> None:
            base(folder)
            extra(folder)
        return setup

    targets: dict[str, tuple[str, Setup]] = {
        "/dev/null": ("/dev/null", base), "/dev/full": ("/dev/full", base), "/dev/stdout": ("/dev/stdout", base),
        "fifo no reader": ("f", with_(lambda d: os.mkfifo(d / "f"))),
        "folder": ("d", with_(lambda d: (d / "d").mkdir())),
        "the input": ("s.yaml", base), "./the input": ("./s.yaml", base),
        "link to the input": ("l.yaml", with_(lambda d: (d / "l.yaml").symlink_to(d / "s.yaml"))),
        "missing folder": ("no/such/o", base), "long name": ("x" * 300, base),
        "link to /dev/null": ("n", with_(lambda d: (d / "n").symlink_to("/dev/null"))),
        "dangling link": ("dl", with_(lambda d: (d / "dl").symlink_to(d / "nowhere" / "x"))),
    }
    cases: list[Case] = []
    for name, (target, setup) in targets.items():
        for command in (("report", "s.yaml", "-o", target), ("export", "s.yaml", "-o", target),
                        ("tables", "s.yaml", "-o", target), ("plot", "rf", "s.yaml", "-o", target + ".svg"),
                        ("sweep", "s.yaml", "--vary", "C1.filters=4,6", "--workers", "1", "-o", target)):
            cases.append((f"output {name} ({command[0]})", command, setup))
    return cases


def options() -> list[Case]:
    values = ["-1", "0", "9223372036854775808", "9" * 5000, "x", "1e999", "1.5", ""]
    flags = {
        ("report", "lenet5"): ["--batch", "--var", "--set"],
        ("profile", "lenet5", "--estimate", "off"): ["--warmup", "--repeat", "--threads", "--max-memory", "--batch"],
        ("export", "lenet5", "-o", "m.onnx"): ["--seed", "--opset", "--max-bytes", "--batch"],
        ("sweep", "lenet5", "--vary", "C1.filters=4,6"): ["--workers", "--max-variants"],
        ("calibrate",): ["--threads"],
        ("estimate", "lenet5", "--device", "a100"): ["--batch", "--dtype"],
    }
    cases: list[Case] = []
    for command, names in flags.items():
        for flag in names:
            for value in values:
                arg = f"w={value}" if flag == "--var" else f"batch={value}" if flag == "--set" else value
                cases.append((f"option {command[0]} {flag} {value[:20]}", (*command, flag, arg), None))
    return cases


def grids() -> list[Case]:
    varies = ["C1.filters=1:1000000000:1", "C1.filters=1:20000000:1", "C1.filters=4,6", "input.size=0:10",
              "C1.kernal=3,5", "nope=1,2", "C1.filters=" + ",".join(["9" * 30] * 3), "C1.filters=1:2:0",
              "C1.filters=-5:5", "C1.filters=" + "1," * 3000 + "1"]
    cases: list[Case] = []
    for vary in varies:
        for extra in ((), ("--vary", "C3.kernel=1:1000:1"), ("--mode", "zip")):
            cases.append((f"grid {vary[:30]} {' '.join(extra)[:20]}", ("sweep", "lenet5", "--vary", vary, *extra,
                                                                        "--workers", "1"), None))
    return cases


def run_case(argv: tuple[str, ...], setup: Setup | None, timeout: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="archcalc-attack-"))
    if setup is not None:
        setup(folder)
    out_r, out_w = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: run the command, report exit code and peak memory through the pipe
        os.close(out_r)
        os.chdir(folder)
        signal.alarm(int(timeout))
        err = os.open(folder / ".stderr", os.O_WRONLY | os.O_CREAT, 0o600)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(err, 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        try:
            code = cli_main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # a traceback escaping main() is what we look for
            import traceback

            traceback.print_exc()
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        hwm = _status("VmHWM")
        os.write(out_w, f"{code} {hwm}".encode())
        os._exit(0)
    os.close(out_w)
    _, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - start
    report = os.read(out_r, 100).decode()
    os.close(out_r)
    stderr = (folder / ".stderr").read_text(errors="replace") if (folder / ".stderr").exists() else ""
    if os.WIFSIGNALED(status) or not report:
        return {"code": None, "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "seconds": seconds, "rss_kib": 0, "stderr": stderr}
    code, hwm = report.split()
    return {"code": int(code), "seconds": seconds, "rss_kib": int(hwm), "stderr": stderr}


def _status(field: str) -> int:
    """A field of /proc/self/status in KiB (VmHWM: the peak resident size)."""
    with open("/proc/self/status") as status:
        return next((int(line.split()[1]) for line in status if line.startswith(field)), 0)


def _announcement(line: str) -> bool:
    return line.startswith(("archcalc: sweep: ", "archcalc: calibrating "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the random case counts")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a case counts as a hang")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = (spec_values(rng, int(600 * args.scale)) + spec_structure() + expressions(rng, int(500 * args.scale))
             + onnx_models(rng, int(400 * args.scale)) + special_inputs() + outputs() + options() + grids())
    counts: Counter[str] = Counter()
    violations: list[str] = []
    slowest: list[tuple[float, str]] = []
    largest: list[tuple[int, str]] = []
    refused_peaks: list[tuple[int, str]] = []
    start = time.perf_counter()
    for name, argv, setup in cases:
        r = run_case(argv, setup, args.timeout)
        code, stderr = r["code"], str(r["stderr"])
        seconds, rss = float(r["seconds"]), int(r["rss_kib"])  # type: ignore[arg-type]
        slowest.append((seconds, name))
        largest.append((rss, name))
        if code == 2:
            refused_peaks.append((rss, name))
        if code is None:
            counts["hang or killed"] += 1
            violations.append(f"{name}: killed by signal {r.get('signal')} after {seconds:.1f} s "
                              f"({' '.join(argv)[:80]})")
            continue
        counts[f"exit {code}"] += 1
        lines = [line for line in stderr.splitlines() if line.strip()]
        if code not in (0, 1, 2, 130):
            violations.append(f"{name}: exit {code}: {stderr.strip()[-300:]}")
        elif "Traceback" in stderr or "internal error" in stderr:
            violations.append(f"{name}: traceback or internal error: {stderr.strip()[-300:]}")
        elif code == 2 and (not lines or not all(line.startswith("archcalc:") for line in lines)
                            or sum(1 for line in lines if not _announcement(line)) != 1):
            # one error line; announcements before it ("archcalc: sweep: 2 variants") are not errors
            violations.append(f"{name}: exit 2 with {len(lines)} stderr lines: {stderr.strip()[:300]}")
        if code == 2 and rss * 1024 > GIB:
            violations.append(f"{name}: refused after a peak of {rss / 1024:,.0f} MiB")
    elapsed = time.perf_counter() - start
    print(f"{len(cases):,} cases in {elapsed:.0f} s (seed {args.seed}); load average {os.getloadavg()[0]:.2f}")
    for key, n in sorted(counts.items()):
        print(f"  {key}: {n:,}")
    top = max(refused_peaks, default=(0, "none"))
    print(f"peak resident memory of a refused case: {top[0] / 1024:,.0f} MiB ({top[1]}); of any case: "
          f"{max(largest)[0] / 1024:,.0f} MiB; the parent alone: {_status('VmRSS') / 1024:,.0f} MiB")
    print("slowest: " + "; ".join(f"{name} {s:.2f} s" for s, name in sorted(slowest, reverse=True)[:5]))
    print("largest: " + "; ".join(f"{name} {k / 1024:,.0f} MiB" for k, name in sorted(largest, reverse=True)[:5]))
    print(f"violations: {len(violations)}")
    for line in violations[:40]:
        print("  " + line)
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
