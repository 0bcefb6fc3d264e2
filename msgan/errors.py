"""The exceptions that the command line turns into a single line and a non-zero exit."""


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
