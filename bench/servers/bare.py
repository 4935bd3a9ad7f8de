"""L0: a bare ASGI app, no framework, answering each endpoint with the service's JSON.

Nothing is read from a database: the product is made up from its id. It shows what uvicorn
and the loopback network cost on their own, the ceiling for every HTTP rung.
"""

import json
from typing import Any

from starlette.types import Receive, Scope, Send

from ..scenarios import INITIAL_STOCK

JSON_HEADERS = [(b"content-type", b"application/json")]


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    parts = path.strip("/").split("/")
    if method == "GET" and path == "/health/live":
        await _respond(send, 200, {"status": "ok"})
    elif method == "GET" and len(parts) == 2 and parts[0] == "products":
        product_id = int(parts[1])
        await _respond(
            send,
            200,
            {
                "id": product_id,
                "name": f"product {product_id}",
                "stock": INITIAL_STOCK,
                "view_count": 0,
                "version": 1,
            },
        )
    elif method == "POST" and len(parts) == 3 and parts[2] == "reservations":
        quantity = json.loads(await _body(receive))["quantity"]
        await _respond(
            send,
            201,
            {"id": 1, "product_id": int(parts[1]), "quantity": quantity, "remaining_stock": 0},
        )
    elif method == "POST" and path == "/transfers":
        body = json.loads(await _body(receive))
        await _respond(send, 201, {"id": 1, **body})
    else:
        await _respond(send, 404, {"detail": "Not Found"})


def create_app() -> Any:
    return app
