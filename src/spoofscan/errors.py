"""The one exception type that the CLI turns into a one-line error message."""


class SpoofscanError(Exception):
    """A problem the user can fix: the message names the file (or setting) and the fix."""
