"""Products with stock: the operations that stay correct when many requests race.

Each function takes the session of the caller's unit of work and never commits: the caller's
`Database.transaction` commits once the whole unit of work has succeeded.
"""

from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Product, Reservation
from ..exceptions import Conflict, NotFound


class ProductNotFound(NotFound):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"product {product_id} does not exist")


class InsufficientStock(Conflict):
    def __init__(self, product_id: int, requested: int) -> None:
        super().__init__(f"product {product_id} has fewer than {requested} units in stock")


class StaleVersion(Conflict):
    def __init__(self, product_id: int, expected: int, current: int) -> None:
        super().__init__(
            f"product {product_id} is at version {current}, not {expected}; reload and retry"
        )


async def create_product(session: AsyncSession, name: str, stock: int) -> Product:
    product = Product(name=name, stock=stock)
    session.add(product)
    await session.flush()
    return product


async def get_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise ProductNotFound(product_id)
    return product


class Reserved(NamedTuple):
    reservation: Reservation
    remaining_stock: int


async def reserve(session: AsyncSession, product_id: int, quantity: int) -> Reserved:
    """Take `quantity` units out of stock for a new reservation, and say what is left.

    Checking and decrementing happen in one conditional UPDATE, so two requests can never both
    see the last unit: the database applies them one after the other and the second finds the
    condition false. Reading the stock first and writing `stock - quantity` afterwards would
    let both pass the check and oversell.
    """
    decremented = await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock >= quantity)
        .values(stock=Product.stock - quantity)
    )
    if decremented.rowcount == 0:
        await get_product(session, product_id)
        raise InsufficientStock(product_id, quantity)
    remaining = await session.scalar(select(Product.stock).where(Product.id == product_id))
    reservation = Reservation(product_id=product_id, quantity=quantity)
    session.add(reservation)
    await session.flush()
    return Reserved(reservation, remaining)


async def fulfil_reservations(session: AsyncSession, limit: int) -> list[Reservation]:
    """Claim up to `limit` unfulfilled reservations, oldest first, and mark them fulfilled.

    Reservations are a work queue that several workers drain at once. `FOR UPDATE SKIP LOCKED`
    has each worker lock the rows it claims and pass over rows that another worker has locked,
    so no reservation is fulfilled twice and no worker waits for another. Without the lock, two
    workers would read the same rows and both fulfil them.
    """
    claimed = (
        await session.scalars(
            select(Reservation)
            .where(Reservation.fulfilled_at.is_(None))
            .order_by(Reservation.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    now = datetime.now(UTC)
    for reservation in claimed:
        reservation.fulfilled_at = now
    await session.flush()
    return list(claimed)


async def record_view(session: AsyncSession, product_id: int) -> int:
    """Count one view and return the new total; concurrent views are never lost.

    The increment happens in the database (`view_count = view_count + 1`), not as a read in
    Python followed by a write of the sum, which would let concurrent requests overwrite each
    other's increments.
    """
    incremented = await session.execute(
        update(Product).where(Product.id == product_id).values(view_count=Product.view_count + 1)
    )
    if incremented.rowcount == 0:
        raise ProductNotFound(product_id)
    view_count = await session.execute(select(Product.view_count).where(Product.id == product_id))
    return view_count.scalar_one()


async def rename(
    session: AsyncSession, product_id: int, name: str, expected_version: int
) -> Product:
    """Rename a product, if it is still at the version the client last saw.

    The version check is optimistic locking: no lock is held while the client decides, and a
    change made in between is refused with a conflict instead of being overwritten.
    """
    product = await get_product(session, product_id)
    if product.version != expected_version:
        raise StaleVersion(product_id, expected_version, product.version)
    product.name = name
    await session.flush()
    return product
