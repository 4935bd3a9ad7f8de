"""Logs, request ids and metrics: what the service tells its operators about itself.

`context.py` holds the current request id and imports nothing beyond the standard library, so
that every part of the service can read it; `http.py` wires the rest into the app.
"""
