"""The one exception type that the command line turns into a single error line."""


class MsganError(Exception):
    """A problem the user can fix; its message names the problem and the fix."""
