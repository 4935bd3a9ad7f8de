"""Accounts and money transfers: row locks taken in a fixed order, and a named lock.

Each function takes the session of the caller's unit of work and never commits.
"""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import NamedLock
from ..db.models import Account, Transfer
from ..exceptions import Conflict, NotFound

MAX_ACCOUNTS_PER_OWNER = 3


class AccountNotFound(NotFound):
    def __init__(self, account_id: int) -> None:
        super().__init__(f"account {account_id} does not exist")


class TooManyAccounts(Conflict):
    def __init__(self, owner: str) -> None:
        super().__init__(f"{owner!r} already has {MAX_ACCOUNTS_PER_OWNER} accounts")


class InsufficientFunds(Conflict):
    def __init__(self, account_id: int, amount: int) -> None:
        super().__init__(f"account {account_id} holds less than {amount}")


async def open_account(session: AsyncSession, lock: NamedLock, owner: str, balance: int) -> Account:
    """Open an account, unless its owner already has the most allowed.

    Counting and inserting is a check-then-act on rows that do not exist yet, so there is no
    row to lock: two requests could both count two accounts and both insert a third. A named
    lock per owner, shared by every process, makes them take turns.
    """
    await lock(session, f"accounts of {owner}")
    owned = await session.execute(select(func.count()).where(Account.owner == owner))
    if owned.scalar_one() >= MAX_ACCOUNTS_PER_OWNER:
        raise TooManyAccounts(owner)
    account = Account(owner=owner, balance=balance)
    session.add(account)
    await session.flush()
    return account


async def get_account(session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(account_id)
    return account


async def lock_accounts(session: AsyncSession, *account_ids: int) -> dict[int, Account]:
    """Lock the accounts' rows until the end of the transaction, always in order of id.

    Without the lock, two transfers could read the same balance and the second write would
    erase the first. Taking the locks in the order of the request instead (source, then
    target) makes opposite transfers between two accounts each hold one row and wait for the
    other: a deadlock that the database breaks by failing one of them.
    """
    accounts = await session.scalars(
        select(Account)
        .where(Account.id.in_(account_ids))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = {account.id: account for account in accounts}
    for account_id in account_ids:
        if account_id not in found:
            raise AccountNotFound(account_id)
    return found


async def transfer(session: AsyncSession, source_id: int, target_id: int, amount: int) -> Transfer:
    """Move `amount` from one account to another; the total held by all accounts never changes."""
    accounts = await lock_accounts(session, source_id, target_id)
    source, target = accounts[source_id], accounts[target_id]
    if source.balance < amount:
        raise InsufficientFunds(source_id, amount)
    source.balance -= amount
    target.balance += amount
    recorded = Transfer(source_id=source_id, target_id=target_id, amount=amount)
    session.add(recorded)
    await session.flush()
    return recorded
