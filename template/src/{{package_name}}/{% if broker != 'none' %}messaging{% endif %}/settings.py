"""What every broker's settings share: how long to wait for it, and how consumers behave."""

from pydantic import BaseModel, Field


class BrokerSettings(BaseModel):
    connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds the broker has to answer the startup check."
    )
    publish_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a publish waits for the broker's confirmation before it fails.",
    )
    concurrency: int = Field(
        default=10, ge=1, description="Messages each subscription handles at once, per process."
    )
    max_attempts: int = Field(
        default=5,
        ge=1,
        description="Deliveries of a message whose handler fails before it is dead-lettered.",
    )
    retry_delay: float = Field(
        default=1.0,
        ge=0,
        description="Seconds before a failed message is delivered again; doubles each attempt.",
    )
    drain_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds handlers in progress get to finish at shutdown before their "
        "messages are handed back.",
    )
