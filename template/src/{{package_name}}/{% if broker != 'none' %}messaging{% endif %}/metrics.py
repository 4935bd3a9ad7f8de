"""The messaging metrics: messages in hand and how their handling ended, per subscription, and
with a database, the outbox's backlog."""

from prometheus_client import Counter, Gauge

IN_PROGRESS = Gauge(
    "messaging_messages_in_progress",
    "Messages a subscription's handler is working on.",
    ["subscription"],
    multiprocess_mode="livesum",
)
SETTLED = Counter(
    "messaging_messages_total",
    "Messages settled, by outcome: handled (acknowledged), failed (to be delivered again) or "
    "dead_lettered (given up).",
    ["subscription", "outcome"],
)
OUTBOX_PENDING = Gauge(
    "messaging_outbox_pending_messages",
    "Outbox rows not yet published, as a relay last counted them.",
    multiprocess_mode="mostrecent",
)
