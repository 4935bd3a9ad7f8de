"""Errors the domain raises, free of HTTP: `errors.py` decides what each one answers."""


class NotFound(LookupError):
    """The thing the request names does not exist."""


class Conflict(Exception):
    """The request is valid but clashes with the current state, e.g. too little stock left."""


class Unprocessable(ValueError):
    """The request is well-formed but cannot be carried out as asked, e.g. a reused key."""
