"""The SQL the rendered service sends, statement for statement, shared by every rung.

Captured from PostgreSQL's statement log (`log_statement = all`) while the rendered service
answered each endpoint once. L1 (pgbench), L2 (the raw driver) and L3 (FastAPI over the raw
driver) all read their statements from here, so the rungs below the service do the same work
on the wire and cannot drift apart from it or from each other.

Placeholders are asyncpg's `$n`; `Statement.params` names the value bound to each, which is how
the pgbench scripts are written from the same text.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Statement:
    text: str
    params: tuple[str, ...] = ()


BEGIN = Statement("BEGIN ISOLATION LEVEL READ COMMITTED;")
COMMIT = Statement("COMMIT;")
ROLLBACK = Statement("ROLLBACK;")

PING_BEGIN = Statement("BEGIN;")
PING_QUERY = Statement(";")
PING_ROLLBACK = Statement("ROLLBACK;")
CHECKOUT_PING = (PING_BEGIN, PING_QUERY, PING_ROLLBACK)
"""What SQLAlchemy's asyncpg dialect sends for `pool_pre_ping=True` (the rendered default) each
time a connection leaves the pool: an empty statement inside a transaction, three round trips
(`_async_ping` in sqlalchemy/dialects/postgresql/asyncpg.py; the log shows only BEGIN and
ROLLBACK, as PostgreSQL does not log an empty statement). The empty statement goes through
the extended protocol (`fetchrow`), the other two as simple queries."""

SELECT_PRODUCT = Statement(
    "SELECT products.id, products.name, products.stock, products.view_count, products.version"
    " FROM products WHERE products.id = $1::INTEGER",
    ("id",),
)
RESERVE_STOCK = Statement(
    "UPDATE products SET stock=(products.stock - $1::INTEGER)"
    " WHERE products.id = $2::INTEGER AND products.stock >= $3::INTEGER",
    ("quantity", "id", "quantity"),
)
SELECT_STOCK = Statement(
    "SELECT products.stock FROM products WHERE products.id = $1::INTEGER", ("id",)
)
INSERT_RESERVATION = Statement(
    "INSERT INTO reservations (product_id, quantity, fulfilled_at)"
    " VALUES ($1::INTEGER, $2::INTEGER, $3::TIMESTAMP WITH TIME ZONE) RETURNING reservations.id",
    ("id", "quantity", "fulfilled_at"),
)
LOCK_ACCOUNTS = Statement(
    "SELECT accounts.id, accounts.owner, accounts.balance FROM accounts"
    " WHERE accounts.id IN ($1::INTEGER, $2::INTEGER) ORDER BY accounts.id FOR UPDATE",
    ("source", "target"),
)
SET_BALANCE = Statement(
    "UPDATE accounts SET balance=$1::BIGINT WHERE accounts.id = $2::INTEGER", ("balance", "id")
)
INSERT_TRANSFER = Statement(
    "INSERT INTO transfers (source_id, target_id, amount)"
    " VALUES ($1::INTEGER, $2::INTEGER, $3::BIGINT) RETURNING transfers.id",
    ("source", "target", "amount"),
)
SLOW_QUERY = Statement("SELECT pg_sleep($1)", ("seconds",))
"""The overload scenario's query; the service's session runs it in a transaction like a read."""

READ = (BEGIN, SELECT_PRODUCT, ROLLBACK)
"""GET /products/{id}: a read session, rolled back when it closes."""
RESERVE = (BEGIN, RESERVE_STOCK, SELECT_STOCK, INSERT_RESERVATION, COMMIT)
"""POST /products/{id}/reservations with quantity 1."""
TRANSFER = (BEGIN, LOCK_ACCOUNTS, SET_BALANCE, SET_BALANCE, INSERT_TRANSFER, COMMIT)
"""POST /transfers: lock both rows in id order, write both balances computed in Python."""

# pgbench keeps one value per variable and `\gset` takes a single row, so it cannot carry the
# two balances that LOCK_ACCOUNTS returns into SET_BALANCE. Its script computes them in the
# UPDATE instead: the same rows locked and written, in the same order, one statement each.
PGBENCH_SET_BALANCE = {
    "source": "UPDATE accounts SET balance=balance - :amount::BIGINT"
    " WHERE accounts.id = :source::INTEGER",
    "target": "UPDATE accounts SET balance=balance + :amount::BIGINT"
    " WHERE accounts.id = :target::INTEGER",
}


def pgbench_text(statement: Statement, literals: dict[str, str] | None = None) -> str:
    """The statement with `$n` replaced by pgbench's `:name` (or a literal given for that name)."""
    text = statement.text
    # Highest numbers first, so that $1 does not match the start of $10.
    for number in range(len(statement.params), 0, -1):
        name = statement.params[number - 1]
        value = (literals or {}).get(name, f":{name}")
        text = text.replace(f"${number}", value)
    return text if text.endswith(";") else text + ";"


def pgbench_script(scenario: str, products: int, hot_product: int, accounts: int) -> str:
    """The pgbench script for one scenario: random ids drawn with `\\set`, then the service's
    statements, the checkout ping first as the rendered pool sends it."""
    ping = [statement.text for statement in CHECKOUT_PING]
    literals = {"quantity": "1", "fulfilled_at": "NULL", "amount": "1"}
    if scenario == "read":
        lines = [f"\\set id random(1, {products})", *ping]
        lines += [pgbench_text(statement, literals) for statement in READ]
    elif scenario in ("reserve_spread", "reserve_hot"):
        draw = f"random(1, {products})" if scenario == "reserve_spread" else str(hot_product)
        lines = [f"\\set id {draw}", *ping]
        lines += [pgbench_text(statement, literals) for statement in RESERVE]
    elif scenario == "transfer":
        # Two distinct accounts; LOCK_ACCOUNTS orders them by id whichever is the source.
        lines = [
            f"\\set source random(1, {accounts})",
            f"\\set target 1 + (:source + random(0, {accounts - 2})) % {accounts}",
            "\\set amount 1",
            *ping,
            pgbench_text(BEGIN),
            pgbench_text(LOCK_ACCOUNTS),
            PGBENCH_SET_BALANCE["source"] + ";",
            PGBENCH_SET_BALANCE["target"] + ";",
            pgbench_text(INSERT_TRANSFER),
            pgbench_text(COMMIT),
        ]
    else:
        raise ValueError(f"no pgbench script for {scenario!r}")
    return "\n".join(lines) + "\n"
