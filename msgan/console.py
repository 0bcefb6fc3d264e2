"""Progress on the console: a bar in terminals and notebooks, a line every few seconds in logs."""
from __future__ import annotations

import sys
import time


def _interactive() -> bool:
    return sys.stdout.isatty() or "ipykernel" in sys.modules


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Reports epoch, step, both losses, steps/s and ETA while training runs."""

    def __init__(self, total_steps: int, epochs: int, done: int = 0, every_s: float = 5.0):
        """`done` steps were taken before this process started (a resumed run)."""
        self.total_steps, self.epochs, self.done, self.every_s = total_steps, epochs, done, every_s
        self.start = self.last_print = time.perf_counter()
        self.bar = None
        if _interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=done, unit="step", dynamic_ncols=True, file=sys.stdout)

    def update(self, epoch: int, step: int, loss_d: float, loss_g: float) -> None:
        """Called after each step; `step` counts from 1 over the whole run."""
        if self.bar is not None:
            self.bar.update(1)
            if step % 10 == 0 or step == self.total_steps:
                self.bar.set_postfix_str(f"epoch {epoch + 1}/{self.epochs} D {loss_d:.3f} G {loss_g:.3f}", refresh=False)
            return
        now = time.perf_counter()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            rate = (step - self.done) / (now - self.start)
            eta = (self.total_steps - step) / rate
            print(f"epoch {epoch + 1}/{self.epochs}  step {step}/{self.total_steps}  "
                  f"loss_d {loss_d:.3f}  loss_g {loss_g:.3f}  {rate:.1f} steps/s  ETA {format_seconds(eta)}", flush=True)

    def epoch_done(self, epoch: int, means: dict[str, float], seconds: float) -> None:
        summary = "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in means.items())
        line = f"epoch {epoch + 1}/{self.epochs} done in {seconds:.1f} s: {summary}"
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        """Close the bar, also when training stops early, so that the last message starts on a line of its own."""
        if self.bar is not None:
            self.bar.close()
