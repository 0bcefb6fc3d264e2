"""The exceptions that the command line turns into a single line and a non-zero exit, and the two pieces that
do it for every command: a parser whose usage errors are one line, and the runner that prints an error's line."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn


class MsganError(Exception):
    """A problem the user can fix; its message names the problem and the fix."""

    exit_code = 2

    def line(self) -> str:
        return f"error: {self}"


class StoppedBySignal(MsganError):
    """Training stopped on Ctrl-C or SIGTERM after saving the run; the message says how to resume it."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM

    def line(self) -> str:
        return f"msgan: {self}"


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like msgan's own, instead of the usage and a line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}: see {self.prog} --help\n")


def run_reporting_errors(task: Callable[[], object]) -> int:
    """Run `task`; an MsganError is printed as one line on stderr, with its exit status (2 for an error)."""
    try:
        task()
    except MsganError as err:
        print(err.line(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
