"""The rendered tests fail when the protection they stand for is taken away.

Each case edits a copy of a rendered project the way a well-meaning change might, runs the one
test that guards against it, and expects that test to fail. On SQLite, every writing unit of
work holds the single write lock, so a read-then-write inside one unit of work is safe there;
the SQLite races below read in one transaction and write in another, the check-then-act mistake
that the atomic updates and version checks exist to prevent. Row locks, named locks and
SKIP LOCKED only matter where writers run side by side, so those cases run on PostgreSQL and
MariaDB.
"""

import re
import shutil
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import Rendered
from .helpers import run_rendered_suite

EXAMPLE = {"python_version": "3.11", "database": "sqlite", "include_example": True}
POSTGRESQL = EXAMPLE | {"database": "postgresql"}
MYSQL = EXAMPLE | {"database": "mysql"}
REDIS = {"python_version": "3.11", "database": "none", "cache": "redis"}
CACHE = "src/my_service/cache"
UPSTREAM = {"python_version": "3.12", "database": "none", "http_client": True}
UPSTREAM_CLIENT = "src/my_service/upstream/client.py"
S3 = {"python_version": "3.13", "database": "none", "object_storage": "s3"}
BROKER = {
    "python_version": "3.11",
    "database": "sqlite",
    "include_example": False,
    "broker": "redis",
}
CONSUMER = "src/my_service/messaging/consumer.py"
RABBITMQ = {"python_version": "3.11", "database": "none", "broker": "rabbitmq"}
RABBITMQ_MODULE = "src/my_service/resources/rabbitmq.py"
NATS_MODULE = "src/my_service/resources/nats.py"
KAFKA = {"python_version": "3.11", "database": "none", "broker": "kafka"}
KAFKA_MODULE = "src/my_service/resources/kafka.py"
API = "src/my_service/api/products.py"
SERVICES = "src/my_service/services/products.py"
ACCOUNTS = "src/my_service/services/accounts.py"
IDEMPOTENCY = "src/my_service/services/idempotency.py"
NAIVE_IMPORTS = """from sqlalchemy import update

from ..db.models import Product
"""


def read_then_write_in_another_transaction(decide: str, column: str, value: str) -> str:
    """A route body that reads the product, decides in Python, and writes in a second
    transaction: between the two, other requests read the same value."""
    return f"""    async with database.sessions() as session:
        product = await products.get_product(session, product_id)
{decide}    await database.transaction(
        lambda session: session.execute(
            update(Product).where(Product.id == product_id).values({column}={value})
        )
    )
"""


RESERVATION = """    reservation, remaining = await database.transaction(
        lambda session: products.reserve(session, product_id, body.quantity)
    )
"""
RESERVATION_IMPORTS = """from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Product, Reservation
"""


def reservation_read_then_written(guard: str = "") -> str:
    """A reservation route that reads the stock, checks it in Python, and writes the difference
    in a second transaction, optionally inside `async with guard:`."""
    body = """async with database.sessions() as session:
    product = await products.get_product(session, product_id)
if product.stock < body.quantity:
    raise products.InsufficientStock(product_id, body.quantity)
remaining = product.stock - body.quantity


async def write(session: AsyncSession) -> Reservation:
    await session.execute(
        update(Product).where(Product.id == product_id).values(stock=remaining)
    )
    reservation = Reservation(product_id=product_id, quantity=body.quantity)
    session.add(reservation)
    await session.flush()
    return reservation


reservation = await database.transaction(write)
"""
    if guard:
        body = f"async with {guard}:\n" + textwrap.indent(body, "    ")
    return textwrap.indent(body, "    ")


@dataclass(frozen=True)
class Removal:
    test: str
    file: str
    protected: str
    naive: str
    imports: str = ""
    answers: Mapping[str, Any] = field(default_factory=lambda: EXAMPLE)
    still_passes: str = ""
    """A test that passes without the protection: what makes the removal look harmless."""


REMOVALS = {
    "reservation-read-then-write": Removal(
        test="test_reservations_never_oversell",
        file=API,
        protected=RESERVATION,
        naive=reservation_read_then_written(),
        imports=RESERVATION_IMPORTS,
    ),
    "view-count-incremented-in-python": Removal(
        test="test_concurrent_views_are_all_counted",
        file=API,
        protected="""    view_count = await database.transaction(
        lambda session: products.record_view(session, product_id)
    )
""",
        naive=read_then_write_in_another_transaction(
            decide="    view_count = product.view_count + 1\n",
            column="view_count",
            value="view_count",
        ),
        imports=NAIVE_IMPORTS,
    ),
    "read-session-closed-after-the-response": Removal(
        test="test_the_read_session_is_closed_before_the_response_is_sent",
        file="src/my_service/db/dependencies.py",
        protected='Depends(get_session, scope="function")',
        naive="Depends(get_session)",
    ),
    "rename-without-version-check": Removal(
        test="test_only_one_of_many_renames_from_the_same_version_wins",
        file=SERVICES,
        protected="""    if product.version != expected_version:
        raise StaleVersion(product_id, expected_version, product.version)
""",
        naive="",
    ),
    "server-exits-0-when-a-worker-fails-to-start": Removal(
        test="test_the_server_exits_3_when_a_worker_cannot_open_the_database",
        file="src/my_service/server.py",
        protected=(
            "    return all(worker.exitcode != STARTUP_FAILURE"
            " for worker in supervisor.processes)\n"
        ),
        naive="""    return True  # as uvicorn.run does with several workers
""",
    ),
    "keep-alive-at-uvicorns-default": Removal(
        test="test_the_server_keeps_an_idle_connection_for_its_keep_alive_timeout",
        file="src/my_service/server.py",
        protected="""        "timeout_keep_alive": server.keep_alive_timeout,
""",
        naive="",
    ),
    "request-bodies-converted-laxly": Removal(
        test="test_invalid_accounts_are_refused",
        file="src/my_service/api/fields.py",
        protected="""    model_config = ConfigDict(strict=True)
""",
        naive="""    model_config = ConfigDict()
""",
    ),
    "connection-queue-unbounded": Removal(
        test="test_beyond_max_waiting_requests_are_refused_at_once",
        file="src/my_service/db/pool.py",
        protected=(
            "        if waiting >= max_waiting and (waiting or pool.checkedout() >= connections):\n"
        ),
        naive="        if False:  # every request waits its turn\n",
    ),
    **{
        f"{name}-{answers['database']}": Removal(answers=answers, **case)
        for answers in (POSTGRESQL, MYSQL)
        for name, case in {
            "transfer-without-row-locks": {
                "test": "test_transfers_both_ways_conserve_money",
                "file": ACCOUNTS,
                "protected": "        .with_for_update()\n",
                "naive": "",
            },
            "account-limit-without-named-lock": {
                "test": "test_an_owner_never_exceeds_three_accounts",
                "file": ACCOUNTS,
                "protected": '    await lock(session, f"accounts of {owner}")\n',
                "naive": "",
            },
            "fulfilment-without-skip-locked": {
                "test": "test_concurrent_workers_fulfil_each_reservation_once",
                "file": SERVICES,
                "protected": "            .with_for_update(skip_locked=True)\n",
                "naive": "",
            },
            "idempotency-key-remembered-after-the-work": {
                "test": "test_concurrent_retries_with_one_key_transfer_once",
                "file": IDEMPOTENCY,
                "protected": """    try:
        return await database.transaction(claim_then_work)
""",
                "naive": """    try:
        body = await database.transaction(work)

        async def remember(session: AsyncSession) -> None:
            session.add(IdempotentResponse(key=key, fingerprint=request_fingerprint, body=body))

        await database.transaction(remember)
        return body
""",
            },
        }.items()
    },
    "reservation-guarded-by-an-in-process-lock": Removal(
        test="test_two_worker_processes_never_oversell_nor_create_money",
        still_passes="test_reservations_never_oversell",
        answers=POSTGRESQL,
        file=API,
        protected=RESERVATION,
        naive=reservation_read_then_written(guard="IN_THIS_PROCESS.hold(product_id)"),
        imports=RESERVATION_IMPORTS
        + """from ..concurrency import KeyedLock

IN_THIS_PROCESS = KeyedLock()
""",
    ),
    "cache-loader-without-the-shared-lock": Removal(
        test="test_an_expired_key_is_loaded_by_one_caller_across_processes",
        file=f"{CACHE}/aside.py",
        protected="""            async with self.lock(f"load:{name}"):
                if (cached := await self.redis.get(self.key(name))) is not None:
                    return adapter.validate_json(cached)
                value = await load()
                data = adapter.dump_json(value)
                await self.redis.set(self.key(name), data, px=round(ttl * 1000))
                return value
""",
        naive="""            value = await load()
            data = adapter.dump_json(value)
            await self.redis.set(self.key(name), data, px=round(ttl * 1000))
            return value
""",
        answers=REDIS,
        still_passes="test_a_miss_loads_once_and_keeps_the_value_for_its_ttl",
    ),
    "lock-held-in-this-process-only": Removal(
        test="test_the_lock_serializes_a_read_modify_write_across_processes",
        file=f"{CACHE}/locks.py",
        protected="""    if not await lock.acquire():
        raise LockNotAcquired(name, wait)
    try:
        yield
    finally:
""",
        naive="""    async with IN_THIS_PROCESS.hold(name):
        yield
    if False:
""",
        imports="""from ..concurrency import KeyedLock

IN_THIS_PROCESS = KeyedLock()
""",
        answers=REDIS,
    ),
    "rate-limit-counted-in-this-process-only": Removal(
        test="test_the_rate_limit_holds_across_processes",
        file=f"{CACHE}/rate_limits.py",
        protected="""        storage = RedisStorage(
            f"async+{settings.url}",
            implementation="redispy",
            # Documented as accepted, but typed as if every option were a scalar.
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            key_prefix=f"{settings.key_prefix}limits",
        )
""",
        naive="""        storage = MemoryStorage()
""",
        imports="""from limits.aio.storage import MemoryStorage
""",
        answers=REDIS,
        still_passes="test_a_route_over_its_limit_answers_429_with_retry_after",
    ),
    "upstream-calls-unpaced": Removal(
        test="test_a_hundred_concurrent_callers_never_exceed_the_rate_limit",
        file=UPSTREAM_CLIENT,
        protected="""                    await self._pace.acquire()
""",
        naive="""                    pass
""",
        answers=UPSTREAM,
        still_passes="test_a_hundred_concurrent_callers_never_exceed_the_concurrency_limit",
    ),
    "upstream-waits-without-a-bound": Removal(
        test="test_a_request_that_gets_no_turn_answers_503",
        file=UPSTREAM_CLIENT,
        protected="""            async with asyncio.timeout(self.settings.queue_timeout):
                await self._in_flight.acquire()
""",
        naive="""            await self._in_flight.acquire()
""",
        answers=UPSTREAM,
    ),
    "upstream-retries-every-method": Removal(
        test="test_a_server_error_is_retried_for_idempotent_requests_only",
        file=UPSTREAM_CLIENT,
        protected=" if method.upper() in IDEMPOTENT_METHODS else 1\n",
        naive="\n",
        answers=UPSTREAM,
    ),
    "upstream-without-a-circuit-breaker": Removal(
        test="test_the_circuit_opens_after_repeated_failures_and_closes_after_a_good_trial",
        file=UPSTREAM_CLIENT,
        protected="""        if (retry_after := self.breaker.refusal()) is not None:
""",
        naive="""        if (retry_after := self.breaker.refusal()) is not None and False:
""",
        answers=UPSTREAM,
    ),
    "breaker-trial-ended-by-any-request": Removal(
        test="test_a_half_open_circuit_sends_one_trial_at_a_time",
        file="src/my_service/upstream/breaker.py",
        protected="""        if trial:
            self.trial_in_flight = False

    def failed(""",
        naive="""        self.trial_in_flight = False

    def failed(""",
        answers=UPSTREAM,
        still_passes="test_the_circuit_opens_after_repeated_failures_and_closes_after_a_good_trial",
    ),
    "upload-read-whole-before-storing": Removal(
        test="test_a_large_upload_streams_through_the_service_with_bounded_memory",
        file="src/my_service/api/files.py",
        protected="""    stored = await store.upload(key, request.stream(), content_type)
""",
        naive="""    body = await request.body()

    async def whole() -> AsyncIterator[bytes]:
        yield body

    stored = await store.upload(key, whole(), content_type)
""",
        imports="""from collections.abc import AsyncIterator
""",
        answers=S3,
        still_passes="test_a_file_round_trips_through_the_service",
    ),
    "failed-upload-not-aborted": Removal(
        test="test_an_upload_that_fails_midway_leaves_no_parts_behind",
        file="src/my_service/storage/objects.py",
        protected="""            await self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
""",
        naive="",
        answers=S3,
    ),
    "consumer-without-a-concurrency-bound": Removal(
        test="test_no_more_messages_are_in_hand_than_the_concurrency",
        file=CONSUMER,
        protected="""            while len(in_flight) >= self.settings.concurrency:
                await asyncio.wait({stopping, *in_flight}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    return None
            free = self.settings.concurrency - len(in_flight)
""",
        naive="""            free = self.settings.concurrency
""",
        answers=BROKER,
    ),
    "message-acknowledged-before-it-is-handled": Removal(
        test="test_a_failed_message_is_delivered_again_until_it_is_handled",
        file=CONSUMER,
        protected="""            try:
                with IN_PROGRESS.labels(name).track_inprogress():
                    await self.subscription.handle(message)
""",
        naive="""            await delivery.ack()
            try:
                with IN_PROGRESS.labels(name).track_inprogress():
                    await self.subscription.handle(message)
""",
        answers=BROKER,
        still_passes="test_each_message_is_handled_once_with_its_id_body_and_headers",
    ),
    "shutdown-abandons-the-handlers-in-progress": Removal(
        test="test_a_stopping_consumer_finishes_what_it_holds_and_hands_back_the_rest",
        file=CONSUMER,
        protected="await asyncio.wait(in_flight, timeout=self.settings.drain_timeout)",
        naive="(None, set(in_flight))",
        answers=BROKER,
    ),
    "message-recorded-apart-from-its-effect": Removal(
        test="test_a_message_delivered_again_is_applied_once",
        file="src/my_service/messaging/inbox.py",
        protected="""        try:
            await database.transaction(lambda session: claim_then_work(session, message))
        except IntegrityError:
""",
        naive="""        if await was_processed(database, consumer, message.id):
            return
        await database.transaction(lambda session: work(session, message))

        async def remember(session: AsyncSession) -> None:
            session.add(
                ProcessedMessage(
                    consumer=consumer, message_id=message.id, processed_at=datetime.now(UTC)
                )
            )

        try:
            await database.transaction(remember)
        except IntegrityError:
""",
        answers=BROKER,
    ),
    "rabbitmq-consumer-without-prefetch": Removal(
        test="test_a_consumer_takes_no_more_messages_than_it_has_room_for",
        file=RABBITMQ_MODULE,
        protected="""        await self._channel.set_qos(prefetch_count=prefetch)
""",
        naive="",
        answers=RABBITMQ,
        still_passes="test_no_more_messages_are_in_hand_than_the_concurrency",
    ),
    "rabbitmq-dead-letter-by-reject": Removal(
        test="test_a_message_that_keeps_failing_is_dead_lettered_while_the_rest_flow_on",
        file=RABBITMQ_MODULE,
        protected="""        try:
            await self.feed.broker.publish_dead_letter(self.message, self.feed.queue, reason)
        except PublishFailed:
            await self.incoming.reject(requeue=True)  # not stored: delivered, and tried, again
            raise
        await self.incoming.ack()
""",
        naive="""        await self.incoming.reject(requeue=False)  # RabbitMQ dead-letters it
""",
        answers=RABBITMQ,
    ),
    "nats-fetch-cancelled-with-its-receive": Removal(
        test="test_a_receive_cancelled_at_shutdown_hands_back_what_its_fetch_brings",
        file=NATS_MODULE,
        protected="""            self._held = await asyncio.shield(self._fetching)
""",
        naive="""            self._held = await self._fetching
""",
        answers=BROKER | {"broker": "nats"},
        still_passes="test_a_stopping_consumer_finishes_what_it_holds_and_hands_back_the_rest",
    ),
    "nats-no-word-while-a-handler-runs": Removal(
        test="test_a_handler_that_outlasts_the_ack_wait_keeps_its_message",
        file=NATS_MODULE,
        protected="""                try:
                    await msg.in_progress()
                except NATSError:
                    break  # not connected: the ack wait runs on, and JetStream redelivers
""",
        naive="""                pass
""",
        answers=BROKER | {"broker": "nats"},
        still_passes="test_the_messages_of_a_process_that_died_come_back_after_the_ack_wait",
    ),
    "kafka-new-subscription-starts-at-the-end": Removal(
        test="test_each_message_is_handled_once_with_its_id_body_and_headers",
        file=KAFKA_MODULE,
        protected="""            auto_offset_reset="earliest",
""",
        naive="""            auto_offset_reset="latest",
""",
        answers=KAFKA,
    ),
    "kafka-commit-past-messages-in-hand": Removal(
        test="test_a_partition_comes_in_order_and_its_commit_stops_at_the_oldest_message_in_hand",
        file=KAFKA_MODULE,
        protected="""        return min(self.unsettled) if self.unsettled else self.end
""",
        naive="""        return self.end
""",
        answers=KAFKA,
        still_passes="test_a_stopping_consumer_finishes_what_it_holds_and_hands_back_the_rest",
    ),
    "broker-in-readiness": Removal(
        test="test_while_the_broker_is_away_writes_succeed_and_their_messages_wait_in_the_outbox",
        file="src/my_service/resources/selected.py",
        protected="""    readiness_checks: dict[str, ReadinessCheck] = {
        "database": database.ping,
    }
""",
        naive="""    readiness_checks: dict[str, ReadinessCheck] = {
        "database": database.ping,
        "broker": broker.ping,
    }
""",
        answers=BROKER,
    ),
    "in-memory-inbox-without-its-lock": Removal(
        test="test_a_message_delivered_again_is_handled_once",
        file="src/my_service/messaging/inbox.py",
        protected="""        async with handling.hold(message.id):
""",
        naive="""        if handling is not None:
""",
        answers={"python_version": "3.11", "database": "none", "broker": "redis"},
        still_passes="test_a_failed_handling_is_not_remembered",
    ),
    "kafka-stop-waits-for-the-group-to-form": Removal(
        test="test_a_subscription_that_ends_while_its_group_forms_closes_at_once",
        file=KAFKA_MODULE,
        protected="""    if isinstance(coordination, asyncio.Task) and not coordination.done():
        coordination.cancel()
        await asyncio.wait([coordination])
""",
        naive="",
        answers=KAFKA,
    ),
    **{
        f"outbox-claimed-without-skip-locked-{database}": Removal(
            test="test_concurrent_relays_publish_each_message_once",
            file="src/my_service/messaging/outbox.py",
            protected="""            .with_for_update(skip_locked=True)
""",
            naive="",
            answers=BROKER | {"database": database},
            still_passes="test_the_relay_publishes_each_message_and_marks_it_sent",
        )
        for database in ("postgresql", "mysql")
    },
}


def defined_in(project: Path, test: str) -> str:
    """The test's node id: collecting only its module spares importing every other one."""
    [module] = [
        path
        for path in (project / "tests").glob("test_*.py")
        if re.search(rf"^(async )?def {test}\(", path.read_text(), re.M)
    ]
    return f"{module.relative_to(project)}::{test}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REMOVALS))
def test_the_concurrency_test_fails_without_its_protection(
    rendered: Rendered, python_for: Callable[[str], Path], tmp_path: Path, name: str
) -> None:
    removal = REMOVALS[name]
    project = shutil.copytree(rendered(removal.answers), tmp_path / "project")
    source = project / removal.file
    code = source.read_text()
    assert removal.protected in code, f"the protection moved; update this test: {removal}"
    if removal.imports:
        # Before the first relative import, or else at the end of the imports.
        at = code.find("\nfrom ..") + 1 or code.index("\n\n\n") + 2
        code = code[:at] + removal.imports + code[at:]
    source.write_text(code.replace(removal.protected, removal.naive))

    selected = [defined_in(project, name) for name in (removal.test, removal.still_passes) if name]
    output = run_rendered_suite(
        project, python_for(removal.answers["python_version"]), *selected, check=False
    )

    assert re.search(rf"^FAILED tests/test_\w+\.py::{removal.test}\b", output, re.M), output
    if removal.still_passes:
        assert not re.search(rf"^FAILED \S+::{removal.still_passes}\b", output, re.M), output
        assert "1 failed, 1 passed" in output, output
