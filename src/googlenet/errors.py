"""User-facing errors. The CLI prints these as one clear line instead of a traceback."""


class UserError(Exception):
    """A mistake in what the user asked for (bad name, file, shape, option): print it, exit 2."""


class InputSizeError(UserError, ValueError):
    """The input is too small (or the wrong shape) for the network."""
