"""The command line's own error: a leaf module that every command imports."""


class DataError(ValueError):
    """A problem with the user's data or setup, reported as one line."""
