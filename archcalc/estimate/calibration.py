"""The device-profile cache: where profiles live, when a cached one can be trusted, and the one
call that returns a trusted profile (cached, or calibrated now).

Profiles are cached as JSON under ``$XDG_CACHE_HOME/archcalc`` (or ``~/.cache/archcalc``); a cache
from another ORT version, CPU, device or thread setting, or that does not parse, is rebuilt rather
than trusted.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from archcalc.errors import CalibrationError
from archcalc.estimate.deviceprofile import SCHEMA_VERSION, SUITE_VERSION, DeviceProfile
from archcalc.estimate.suite import calibrate
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
    """The cached profile for (device, threads) and "" if it can be trusted; else None and why."""
    path = cache_path(device, threads)
    if not path.exists():
        return None, f"no device profile cached at {path}"
    try:
        data = json.loads(path.read_text())
        profile = DeviceProfile.from_dict(data)
    except (OSError, ValueError, CalibrationError) as exc:
        return None, f"cached device profile {path} is unreadable ({exc}): rebuilt"
    want = expected_key(device, threads)
    have = profile.key()
    stale = [f"{k} {have.get(k)!r} (now {v!r})" for k, v in want.items() if have.get(k) != v]
    if stale:
        return None, f"cached device profile {path} is stale: {', '.join(stale)}: rebuilt"
    return profile, ""


def save_profile(profile: DeviceProfile) -> Path:
    from archcalc.fileio import write_atomic

    path = cache_path(profile.device, profile.threads)
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(profile.to_dict(), indent=1) + "\n")
    return path


def device_profile(device: Device | str = "auto", threads: int | None = None, *, refresh: bool = False,
                   quick: bool = False, progress: Progress | None = None) -> tuple[DeviceProfile, list[str]]:
    """The cached profile when it can be trusted; otherwise calibrate now and cache it.
    Returns the profile and notes on what happened."""
    choice = choose_device(device)
    notes: list[str] = []
    if not refresh:
        cached, why = load_cached(choice.device, threads)
        if cached is not None:
            return cached, [f"device profile from {cache_path(choice.device, threads)} "
                            f"(calibrated {time.strftime('%Y-%m-%d %H:%M', time.localtime(cached.created))})"]
        notes.append(why)
    profile = calibrate(choice.device, threads, quick=quick, progress=progress)
    path = save_profile(profile)
    notes.append(f"calibrated in {profile.seconds:.0f} s; device profile cached at {path}")
    return profile, notes


def check_profile_matches(profile: DeviceProfile, device: Device | str, threads: int | None) -> None:
    """Refuse a device profile made for another device or thread setting than the run's."""
    name = _device(device).name
    if profile.device != name:
        raise CalibrationError(f"the device profile is for {profile.device}, but the model runs on {name}")
    if profile.threads != threads:
        raise CalibrationError(f"the device profile was calibrated with threads={profile.threads}, "
                               f"the model runs with threads={threads}: calibrate with the same setting")
