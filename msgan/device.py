"""Choosing the device and the execution mode."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator, Optional

import mindspore as ms

from msgan.errors import MsganError

DEVICES = ("Ascend", "GPU", "CPU")  # the order `auto` tries them in
INSTALL_HINT = {
    "Ascend": "install the Ascend CANN toolkit and the matching `mindspore` wheel (see README, Devices)",
    "GPU": "install CUDA and a MindSpore GPU build (see README, Devices)",
    "CPU": "reinstall MindSpore with `pip install -r requirements.txt`",
}


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Silence the C++ library's own prints (probing a missing backend prints 'Load dynamic library … failed')."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def is_available(device: str) -> bool:
    """Whether this MindSpore build and this machine can run on `device`."""
    import mindspore.device_context as device_context

    probe = getattr(device_context, device.lower())
    try:
        with quiet_native_output():
            return bool(probe.is_available())
    except Exception:  # a probe of an absent backend may raise instead of answering False
        return False


def select_device(requested: str, pynative: bool = False) -> str:
    """Set the device (auto: Ascend, then GPU, then CPU) and the execution mode; return the device used."""
    names = {d.lower(): d for d in DEVICES}
    if requested.lower() == "auto":
        device = next(d for d in DEVICES if d == "CPU" or is_available(d))
    elif requested.lower() in names:
        device = names[requested.lower()]
        if not is_available(device):
            raise MsganError(f"device {device} is not available with MindSpore {ms.__version__} on this machine: "
                             f"{INSTALL_HINT[device]}, or pass --device auto")
    else:
        raise MsganError(f"unknown device '{requested}': choose auto, CPU, GPU or Ascend")
    # Compiled graphs are the default: on a 2-core CPU the tutorial's step runs several times
    # faster in GRAPH_MODE than op by op. PyNative stays available for debugging.
    ms.set_context(mode=ms.PYNATIVE_MODE if pynative else ms.GRAPH_MODE)
    ms.set_device(device)
    return device


def available_memory() -> Optional[int]:
    """Bytes of memory the machine can still give a process: Linux's MemAvailable, else the physical total;
    None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
