"""Object storage: uploads and downloads streamed with bounded memory, and presigned URLs.
Importing it does not import FastAPI; only `dependencies.py` and `errors.py` do."""

from .objects import Download, ObjectNotFound, ObjectStore, StoredObject

__all__ = ["Download", "ObjectNotFound", "ObjectStore", "StoredObject"]
