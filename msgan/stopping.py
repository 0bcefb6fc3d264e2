"""Stopping a run on request: the first Ctrl-C or SIGTERM lets training save, a second one stops at once."""
from __future__ import annotations

import signal
import threading
from typing import Any, Optional

from msgan.errors import StoppedBySignal
from msgan.runs import Position


class StopRequests:
    """The first Ctrl-C or SIGTERM asks training to stop after the current compiled call, so that it can save;
    a second one stops at once (the files on disk stay whole: every write is atomic).

    The two are one request: once a compiled graph has run, MindSpore 2.10's runtime answers SIGINT
    by raising SIGTERM (measured on CPU), so the handler cannot tell which one the user sent.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, resume_with: str):
        self.resume_with = resume_with  # the command that continues the run
        self.signum: Optional[int] = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
            self.previous = {s: signal.signal(s, self._request) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _request(self, signum: int, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print("\nmsgan: stop requested: finishing the current steps and saving the run "
              "(press Ctrl-C again to stop at once)", flush=True)

    def requested(self) -> bool:
        return self.signum is not None

    def stopped(self, at: Position) -> StoppedBySignal:
        """The exception that ends a stopped run, with the command that resumes it."""
        epoch = at.epoch + 1 if at.batch else at.epoch  # counted from 1: the epoch of the last step taken
        return StoppedBySignal(f"stopped on request (Ctrl-C or SIGTERM) after step {at.step}, in epoch {epoch}; "
                               f"the run is saved. Resume it with: {self.resume_with}", self.signum)
