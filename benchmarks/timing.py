"""The one way every benchmark here times a step: untimed warm-up calls, then the rate of the timed ones."""
from __future__ import annotations

import time
from typing import Callable


def rate(step: Callable[[int], object], steps: int, warmup: int) -> float:
    """Calls per second of step(i) for i in 0..steps-1, after `warmup` untimed calls."""
    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps / (time.perf_counter() - start)
