"""The one exception type users see: printed as a single line, exit code 2."""


class BrainencodeError(ValueError):
    """Bad input or configuration; the message names the file, the field and what was expected."""
