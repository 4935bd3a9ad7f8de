"""What the app's HTTP side gets: a request id on every request, response and log line,
metrics of every request, and `GET /metrics`.

Both middlewares are plain ASGI: they wrap `send` to read or add response headers, and leave
the request and the response body alone, streaming included.
"""

import time

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import REQUEST_ID_HEADER, accepted, new_request_id, request_id
from .metrics import REQUEST_DURATION, REQUESTS_IN_PROGRESS, exposition

UNMATCHED = "unmatched"
"""The route label of requests that matched no route: raw paths would make a label per URL."""

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """The metrics in Prometheus' text format; a plain function, run in the thread pool, as
    multiprocess mode reads files."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class RequestIdMiddleware:
    """Takes the request's `X-Request-ID` if it is sane, or makes one; makes it the current
    request id, and returns it in the response's `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = accepted(Headers(scope=scope).get(REQUEST_ID_HEADER))
        current = given or new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = current
            await send(message)

        token = request_id.set(current)
        await self.app(scope, receive, send_with_id)
        # Not reset when the app raises: the handler of unexpected errors runs outside every
        # middleware and logs with the id still set. The request's task ends right after.
        request_id.reset(token)


class MetricsMiddleware:
    """Times every request and counts it by method, route template and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An error that escapes before the response starts is answered 500 further out.
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            with REQUESTS_IN_PROGRESS.track_inprogress():
                await self.app(scope, receive, send_recording)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            REQUEST_DURATION.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


def install_observability(app: FastAPI) -> None:
    """Request ids and metrics on every request, and the `/metrics` route."""
    app.add_middleware(MetricsMiddleware)
    # Added last, so it runs first: the metrics middleware's work already has the id.
    app.add_middleware(RequestIdMiddleware)
    app.include_router(router)
