"""Messages between services through a broker: publishing with confirmation, consumers that the
lifespan runs and drains, and, with a database, the transactional outbox and the inbox.

Importing it does not import FastAPI; only `dependencies.py` and `errors.py` do.
"""

from .broker import Broker, Delivery, Feed, PublishFailed
from .messages import Handler, Message, Subscription

__all__ = ["Broker", "Delivery", "Feed", "Handler", "Message", "PublishFailed", "Subscription"]
