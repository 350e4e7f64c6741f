"""The one error the running of apps ends in, in a module of its own (no Faust to import for it)."""


class HostError(Exception):
    """The app could not be started; the message is one line, fit for the terminal."""
