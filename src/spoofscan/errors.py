"""The exception types that the CLI turns into a one-line error message (and `serve` into a 4xx answer)."""


class SpoofscanError(Exception):
    """A problem the user can fix: the message names the file (or setting) and the fix."""


class UnsupportedAudio(SpoofscanError):
    """A file that cannot be decoded at all (corrupt, not audio, or no audio stream), as opposed to audio that
    decodes but cannot be scored (empty, silent, too short, NaN)."""
