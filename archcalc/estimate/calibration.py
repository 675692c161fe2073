"""The device-profile cache: where profiles live, when a cached one can be trusted, and the one
call that returns a trusted profile (cached, or calibrated now).

Profiles are cached as JSON under ``$XDG_CACHE_HOME/archcalc`` (or ``~/.cache/archcalc``); a cache
from another ORT version, CPU, device or thread setting, or that does not parse, is rebuilt rather
than trusted.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from archcalc.errors import CalibrationError
from archcalc.estimate.deviceprofile import SCHEMA_VERSION, SUITE_VERSION, DeviceProfile
from archcalc.estimate.profile_schema import parse_cache, read_cache_text
from archcalc.estimate.suite import calibrate
from archcalc.fileio import OutputKind
from archcalc.runtime.devices import Device, choose_device, cpu_name, device_named
from archcalc.runtime.timing import Progress


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archcalc"


def _device(device: Device | str) -> Device:
    return device_named(device) if isinstance(device, str) else device


def cache_path(device: Device | str, threads: int | None) -> Path:
    return cache_dir() / f"device-{_device(device).name}-threads-{threads or 'default'}.json"


def expected_key(device: Device | str, threads: int | None) -> dict[str, Any]:
    """What a cached profile must have been made with to be trusted here and now."""
    import onnxruntime as ort

    dev = _device(device)
    return {"device": dev.name, "ort_version": ort.__version__, "cpu": cpu_name(),
            "gpu": dev.gpu_name(), "threads": threads, "suite": SUITE_VERSION,
            "schema_version": SCHEMA_VERSION}


def load_cached(device: Device | str, threads: int | None) -> tuple[DeviceProfile | None, str]:
    """The cached profile for (device, threads) and "" if it can be trusted; else None and why
    (one line: absent, corrupt, or stale). Only a regular file is read, capped in size before
    reading, and checked against the profile's schema (see :mod:`~archcalc.estimate.profile_schema`)."""
    path = cache_path(device, threads)
    if not os.path.lexists(path):
        return None, f"no device profile cached at {path}"
    try:
        profile = DeviceProfile.from_dict(parse_cache(read_cache_text(path)))
    except CalibrationError as exc:
        return None, f"cached device profile {path} is corrupt ({exc}): recalibrating"
    want = expected_key(device, threads)
    have = profile.key()
    stale = [f"{k} {have.get(k)!r} (now {v!r})" for k, v in want.items() if have.get(k) != v]
    if stale:
        return None, f"cached device profile {path} is stale: {', '.join(stale)}: recalibrating"
    return profile, ""


def cache_problem(device: Device | str, threads: int | None) -> str | None:
    """Why the profile of (device, threads) could not be cached, checked before calibrating
    (``cannot write PATH: permission denied``), or None when it can."""
    from archcalc.errors import OutputError
    from archcalc.fileio import check_output

    path = cache_path(device, threads)
    folder = path.parent
    while not os.path.lexists(folder) and folder.parent != folder:
        folder = folder.parent  # the first folder that exists is where mkdir must succeed
    try:
        if folder != path.parent:
            if not folder.is_dir():
                return f"cannot write {path}: {folder} is not a folder"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"cannot write {path}: permission denied (in {folder})"
            return None
        target = check_output(path)
    except OutputError as exc:
        return str(exc)
    if target.kind is not OutputKind.REPLACE:
        return f"cannot write {path}: it is not a regular file"
    return None


def save_profile(profile: DeviceProfile) -> Path:
    """Cache ``profile``; raises OutputError (one line) when the cache cannot be written."""
    from archcalc.errors import OutputError
    from archcalc.fileio import write_atomic

    path = cache_path(profile.device, profile.threads)
    problem = cache_problem(profile.device, profile.threads)
    if problem:
        raise OutputError(problem)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {(exc.strerror or str(exc)).lower()}") from None
    write_atomic(path, json.dumps(profile.to_dict(), indent=1) + "\n")
    return path


def merged_with_cache(profile: DeviceProfile, threads: int | None) -> DeviceProfile:
    """A new calibration merged with the trusted cached one of the same device and mode (see
    :mod:`~archcalc.estimate.merge`), or itself when there is none."""
    from archcalc.estimate.merge import merge_profiles

    cached, _ = load_cached(profile.device, threads)
    return profile if cached is None else merge_profiles(cached, profile)


def device_profile(device: Device | str = "auto", threads: int | None = None, *, refresh: bool = False,
                   quick: bool = False, mode: str = "default", progress: Progress | None = None,
                   merge: bool = True) -> tuple[DeviceProfile, list[str]]:
    """The cached profile when it can be trusted; otherwise calibrate now and cache it (with
    ``refresh``, a new calibration is merged with the trusted cached one unless ``merge`` is
    false). Returns the profile and notes on what happened. A cache that cannot be written
    (checked before calibrating) is a note: the profile is used for this run only."""
    from archcalc.errors import OutputError

    choice = choose_device(device)
    notes: list[str] = []
    if not refresh:
        cached, why = load_cached(choice.device, threads)
        if cached is not None:
            return cached, [f"device profile from {cache_path(choice.device, threads)} "
                            f"(calibrated {time.strftime('%Y-%m-%d %H:%M', time.localtime(cached.created))})"]
        notes.append(why)
    problem = cache_problem(choice.device, threads)
    profile = calibrate(choice.device, threads, quick=quick, mode=mode, progress=progress)
    if merge and refresh:
        profile = merged_with_cache(profile, threads)
    if problem is None:
        try:
            path = save_profile(profile)
        except OutputError as exc:
            problem = str(exc)
    if problem is None:
        notes.append(f"calibrated in {profile.seconds:.0f} s; device profile cached at {path}")
    else:
        notes.append(f"calibrated in {profile.seconds:.0f} s, not cached ({problem}): used for this run only")
    return profile, notes


def check_profile_matches(profile: DeviceProfile, device: Device | str, threads: int | None) -> None:
    """Refuse a device profile made for another device or thread setting than the run's."""
    name = _device(device).name
    if profile.device != name:
        raise CalibrationError(f"the device profile is for {profile.device}, but the model runs on {name}")
    if profile.threads != threads:
        raise CalibrationError(f"the device profile was calibrated with threads={profile.threads}, "
                               f"the model runs with threads={threads}: calibrate with the same setting")
