"""L3: FastAPI over a raw asyncpg pool, with the service's endpoints, schemas and JSON.

What a hand-written service on the same stack would do: validated bodies and typed responses,
a pool opened in the lifespan, but no ORM, no sessions, no middleware. The statements are the
service's own (bench.sql via bench.servers.work).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import FastAPI, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..scenarios import OVERLOAD_SLEEP, POOL_SIZE
from . import work

RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Liveness(BaseModel):
    status: str = "ok"


class ProductRead(BaseModel):
    id: int
    name: str
    stock: int
    view_count: int
    version: int


class ReservationCreate(BaseModel):
    quantity: int = Field(ge=1, le=2**31 - 1)


class ReservationRead(BaseModel):
    id: int
    product_id: int
    quantity: int
    remaining_stock: int


class TransferCreate(BaseModel):
    source_id: int = Field(ge=1, le=2**31 - 1)
    target_id: int = Field(ge=1, le=2**31 - 1)
    amount: int = Field(ge=1, le=2**31 - 1)


class TransferRead(BaseModel):
    id: int
    source_id: int
    target_id: int
    amount: int


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


def create_app() -> FastAPI:
    pool_size = int(os.environ.get("BENCH_POOL_SIZE", POOL_SIZE))
    pool_timeout = float(os.environ.get("BENCH_POOL_TIMEOUT", "3"))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, asyncpg.Pool]]:
        pool = await work.create_pool(pool_size)
        try:
            yield {"pool": pool}
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @asynccontextmanager
    async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
        async with request.state.pool.acquire(timeout=pool_timeout) as held:
            yield held

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(TimeoutError)
    async def pool_exhausted(_request: Request, _error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": "the service is at capacity; retry shortly"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.get("/health/live")
    async def live() -> Liveness:
        return Liveness()

    @app.get("/products/{product_id}")
    async def read_product(product_id: RowId, request: Request) -> ProductRead:
        async with connection(request) as held:
            row = await work.read_product(held, product_id)
        if row is None:
            raise NotFound(f"product {product_id} does not exist")
        return ProductRead(**row)

    @app.post("/products/{product_id}/reservations", status_code=status.HTTP_201_CREATED)
    async def reserve(
        product_id: RowId, body: ReservationCreate, request: Request
    ) -> ReservationRead:
        async with connection(request) as held:
            made = await work.reserve(held, product_id, body.quantity)
        if made is None:
            raise Conflict(f"product {product_id} has fewer than {body.quantity} units in stock")
        reservation_id, remaining = made
        return ReservationRead(
            id=reservation_id,
            product_id=product_id,
            quantity=body.quantity,
            remaining_stock=remaining,
        )

    @app.post("/transfers", status_code=status.HTTP_201_CREATED)
    async def transfer(body: TransferCreate, request: Request) -> TransferRead:
        async with connection(request) as held:
            transfer_id = await work.transfer(held, body.source_id, body.target_id, body.amount)
        if transfer_id is None:
            raise Conflict(f"account {body.source_id} holds less than {body.amount}")
        return TransferRead(id=transfer_id, **body.model_dump())

    @app.get("/bench/slow")
    async def slow(request: Request) -> Liveness:
        async with connection(request) as held:
            await work.slow(held, OVERLOAD_SLEEP)
        return Liveness()

    @app.get("/bench/pool")
    async def pool(request: Request) -> dict[str, int]:
        return {"checked_out": work.checked_out(request.state.pool)}

    return app
