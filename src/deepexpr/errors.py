"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class DeepExprError(Exception):
    """An error the user can fix; the message says which file, what is wrong, what to do."""


class InputError(DeepExprError):
    """Bad input file or argument."""
