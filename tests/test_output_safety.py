"""Issue 15, first section: files archcalc writes never destroy anything.

Device nodes and FIFOs are written through, never replaced; an output that is an input is
refused; unwritable targets are one line, exit 2; modes follow the umask or are kept; temporary
files of killed runs are cleaned by the next write."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from archcalc.fileio import remove_stale_temps, write_atomic
from tests.conftest import ROOT, SPECS
from tests.test_cli import run

LENET = str(SPECS / "lenet5.yaml")
FIXTURE = ROOT / "tests" / "fixtures" / "onnx" / "lenet5_modern.onnx"


def _one_line_error(args: tuple[str, ...], expected: str) -> None:
    start = time.perf_counter()
    code, out, err = run(*args)
    assert time.perf_counter() - start < 1.0
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.strip() == f"archcalc: {expected}"
    assert out == ""


def test_dev_null_stays_a_device() -> None:
    before = os.stat("/dev/null")
    code, out, _ = run("report", LENET, "-o", "/dev/null")
    assert code == 0 and out == ""
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_symlink_to_a_device_stays_a_symlink(tmp_path: Path) -> None:
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    assert run("report", LENET, "-o", str(link))[0] == 0
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_symlink_to_a_file_keeps_the_link_and_replaces_the_file(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert run("report", LENET, "-o", str(link))[0] == 0
    assert link.is_symlink() and "340,908" in real.read_text()


def test_fifo_with_a_reader_gets_the_bytes(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            got.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 5
    code = 2
    while time.monotonic() < deadline:  # the reader may not have opened its end yet
        code, _, err = run("report", LENET, "-o", str(fifo))
        if code == 0 or "no process is reading" not in err:
            break
        time.sleep(0.02)
    reader.join(5)
    assert code == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert b"340,908" in got[0]


def test_fifo_without_a_reader_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _one_line_error(("report", LENET, "-o", str(fifo)), f"cannot write {fifo}: no process is reading this FIFO")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("command", ["report", "export"])
def test_output_that_is_the_input_is_refused(tmp_path: Path, command: str) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_bytes(Path(LENET).read_bytes())
    before = spec.read_bytes()
    link = tmp_path / "alias.yaml"
    link.symlink_to(spec)
    for output in (str(spec), str(tmp_path / "." / "net.yaml"), str(link)):
        _one_line_error((command, str(spec), "-o", output),
                        f"cannot write {output}: it is the input {spec}; choose another output")
    assert spec.read_bytes() == before


def test_onnx_input_is_not_overwritten(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(FIXTURE.read_bytes())
    _one_line_error(("report", str(model), "-o", str(model)),
                    f"cannot write {model}: it is the input {model}; choose another output")
    assert model.read_bytes() == FIXTURE.read_bytes()


def test_bundled_name_is_an_input_too() -> None:
    target = str(SPECS / "lenet5.yaml")
    _one_line_error(("report", "lenet5", "-o", target), f"cannot write {target}: it is the input "
                    f"{ROOT / 'archcalc' / 'zoo' / 'lenet5.yaml'}; choose another output")


def test_unwritable_targets_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "r.txt"
    _one_line_error(("report", LENET, "-o", str(missing)), f"cannot write {missing}: folder {missing.parent} does not exist")
    _one_line_error(("report", LENET, "-o", str(tmp_path)), f"cannot write {tmp_path}: it is a folder")
    long_name = tmp_path / ("a" * 256)
    _one_line_error(("report", LENET, "-o", str(long_name)), f"cannot write {long_name}: file name too long")
    longest = tmp_path / ("b" * 254)  # the temporary name must not be longer than the target's
    assert run("report", LENET, "-o", str(longest))[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b" * 254]


def test_read_only_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "r.txt"
    if os.geteuid() != 0:
        folder.chmod(0o555)
        reason = "permission denied"
    else:  # root ignores mode bits; an immutable folder refuses even root
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)], check=False).returncode:
            pytest.skip("running as root where chattr +i is not available: no folder refuses root here")
        reason = "permission denied"  # access(2) says so for an immutable folder
    try:
        _one_line_error(("report", LENET, "-o", str(target)), f"cannot write {target}: {reason}")
        _one_line_error(("export", LENET, "-o", str(folder / "m.onnx")), f"cannot write {folder / 'm.onnx'}: {reason}")
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_permission_denied_as_root_is_one_line() -> None:
    if not Path("/sys/kernel").is_dir() or os.geteuid() != 0:
        pytest.skip("needs root and sysfs, where creating a file is refused with EACCES")
    _one_line_error(("report", LENET, "-o", "/sys/kernel/archcalc-test.txt"),
                    "cannot write /sys/kernel/archcalc-test.txt: permission denied")


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.txt"
        write_atomic(new, "x")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        os.umask(0o077)
        write_atomic(tmp_path / "private.txt", "x")
        assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600
        new.chmod(0o640)
        write_atomic(new, "y")
        assert stat.S_IMODE(new.stat().st_mode) == 0o640 and new.read_text() == "y"
    finally:
        os.umask(old)


def test_temporary_files_of_killed_runs_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".archcalc.{dead.pid}.0123abcd.tmp"
    stale.write_bytes(b"half an export")
    alive = tmp_path / f".archcalc.{os.getppid()}.0123abcd.tmp"  # a run still going: left alone
    alive.write_bytes(b"")
    mine = tmp_path / ".archcalc.notapid.tmp"  # not a name archcalc makes: left alone
    mine.write_bytes(b"")
    write_atomic(tmp_path / "out.txt", "x")
    assert not stale.exists() and alive.exists() and mine.exists()
    assert remove_stale_temps(tmp_path) == []


def test_killed_export_leaves_only_a_temp_that_the_next_run_removes(tmp_path: Path) -> None:
    # a writer killed with SIGKILL between creating its temporary file and renaming it
    code = ("import os, signal, archcalc.fileio as f\n"
            "real = os.replace\n"
            "os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
            f"f.write_atomic({str(tmp_path / 'model.onnx')!r}, b'x' * 1000)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".archcalc.") and left[0].endswith(".tmp")
    write_atomic(tmp_path / "model.onnx", b"y")
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
