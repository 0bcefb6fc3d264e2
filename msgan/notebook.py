"""Helpers for msgan's notebooks: run an entry script from a cell as a terminal would, and pick a fresh path.

The notebooks import them after moving to the repository root (their first code cell does that)."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def run(*command) -> None:
    """Run a command from the repository root, streaming its output into the cell; raise if it fails.

    Interrupting the kernel passes one Ctrl-C on to the command (train.py then saves the run and stops). A
    `!command` line would not stop the notebook on a failure.
    """
    command = [str(part) for part in command]
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # the kernel's interrupt reaches it only through here
    interrupted = False
    while True:
        try:
            for line in proc.stdout:
                print(line, end="", flush=True)
            break
        except KeyboardInterrupt:
            interrupted = True
            proc.send_signal(signal.SIGINT)
    proc.wait()
    if interrupted:
        raise KeyboardInterrupt
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, command)


def fresh(path) -> Path:
    """`path` if nothing is there yet, else the first free path-2, path-3, ... (a file keeps its suffix)."""
    path = candidate = Path(path)
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
