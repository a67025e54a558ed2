"""The one exception type users see: printed as a single line, exit code 2."""


class BrainencodeError(ValueError):
    """Bad input or configuration; the message names the file, the field and what was expected.

    Whitespace is collapsed so that messages quoting other libraries (which may span several
    lines) still print as one line.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
