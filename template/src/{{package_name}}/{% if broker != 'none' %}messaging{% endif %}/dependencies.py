"""The broker's dependency provider: publish straight from a route.

A route that also changes the database should not publish here but write to the outbox in the
same transaction (see `outbox.py`, present when the service has a database): a publish after
the commit is lost if the process dies in between, and a publish before it announces a change
that may still roll back.
"""

from typing import Annotated

from fastapi import Depends, Request

from .broker import Broker


async def get_broker(request: Request) -> Broker:
    broker: Broker = request.state.broker
    return broker


BrokerDep = Annotated[Broker, Depends(get_broker)]
