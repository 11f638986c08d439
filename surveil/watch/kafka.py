"""A Kafka topic carrying one FIX message per record, as a watch source (surveil[kafka]).

Offsets are not the consumer group's: the next offset of every partition is part of the
position the watcher commits in PostgreSQL with the rows (exactly once), and the consumer
is assigned its partitions at those offsets. The group's offsets are committed to the
broker too, after each PostgreSQL commit, only so that lag monitors see where watch is.

Records are read in the order the consumer returns them (each partition in order; a
topic with one partition keeps the drop copy's order, which the day's state needs: use
one partition, or key the records by ClOrdID's order chain). A record's value is scanned
by import-fix's reader like a piece of log: a record holding no message, a bad CheckSum or
BodyLength, or more bytes than SURVEIL_FIX_MAX_MESSAGE_BYTES is a reject with the reason,
located as topic[partition]@offset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from surveil.errors import ConfigError, UnavailableError
from surveil.settings import Settings
from surveil.watch.fixsource import BadMessage, FixMessage, Scanner
from surveil.watch.store import Position
from surveil.watch.tail import SourceSpec

Item = FixMessage | BadMessage
POLL_S = 0.2  # longest wait for records in one read
MAX_RECORDS = 5000  # records per consume call


def consumer_config(settings: Settings) -> dict[str, Any]:
    """librdkafka settings from SURVEIL_KAFKA_*; the password only here, never shown."""
    if not settings.kafka_bootstrap_servers:
        raise ConfigError("watch --kafka: set SURVEIL_KAFKA_BOOTSTRAP_SERVERS")
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "group.id": settings.kafka_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    return config


def _kafka() -> Any:
    try:
        import confluent_kafka
    except ImportError:
        raise ConfigError(
            "watch --kafka needs confluent-kafka: pip install 'surveil[kafka]'"
        ) from None
    return confluent_kafka


class KafkaSource:
    """The topic's partitions, assigned at the committed offsets."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        offsets: dict[str, int] | None,
        log: Callable[[str], None],
    ) -> None:
        kafka = _kafka()
        self._kafka = kafka
        self.topic = topic
        self.max_message = settings.fix_max_message_bytes
        self.log = log
        self._consumer = kafka.Consumer(consumer_config(settings))
        try:
            metadata = self._consumer.list_topics(topic, timeout=10)
        except kafka.KafkaException as exc:
            self._consumer.close()
            raise UnavailableError(
                f"kafka at {settings.kafka_bootstrap_servers}: {exc.args[0].str()}"
            ) from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            self._consumer.close()
            raise ConfigError(f"kafka topic {topic}: not found on the brokers")
        self.offsets = {str(p): kafka.OFFSET_BEGINNING for p in sorted(found.partitions)}
        self.offsets.update(offsets or {})
        self._consumer.assign(
            [kafka.TopicPartition(topic, int(p), int(o)) for p, o in self.offsets.items()]
        )
        self._errors: set[str] = set()

    def position(self, messages: int) -> Position:
        done = {p: o for p, o in self.offsets.items() if o >= 0}
        return Position(0, 0, 1, self.topic, messages, done)

    def read(self, limit: int | None = None) -> tuple[list[Item], bool, int]:
        """Records from the assigned partitions (at most `limit` bytes' worth, roughly):
        their messages and rejects, whether more are waiting, and the bytes taken."""
        count = MAX_RECORDS if limit is None else max(1, min(MAX_RECORDS, limit // 200))
        records = self._consumer.consume(num_messages=count, timeout=POLL_S)
        items: list[Item] = []
        used = 0
        for record in records:
            error = record.error()
            if error is not None:
                self._transient(error)
                continue
            partition, offset = str(record.partition()), record.offset()
            value = record.value() or b""
            used += len(value)
            items.extend(self._scan(partition, offset, value))
            self.offsets[partition] = offset + 1
        return items, bool(records) or not self._caught_up(), used

    def _caught_up(self) -> bool:
        """Whether every partition has been read to its end (its high watermark now). A
        broker that cannot say (away, restarting) is a transient error: logged once, and
        taken as caught up, so the watcher idles and asks again."""
        kafka = self._kafka
        for partition, offset in self.offsets.items():
            try:
                low, high = self._consumer.get_watermark_offsets(
                    kafka.TopicPartition(self.topic, int(partition)), timeout=10
                )
            except kafka.KafkaException as exc:
                self._transient(exc.args[0])
                return True
            if (offset if offset >= 0 else low) < high:
                return False
        return True

    def _scan(self, partition: str, offset: int, value: bytes) -> list[Item]:
        name = f"{self.topic}[{partition}]@{offset}"
        if len(value) > self.max_message:
            reason = (
                f"longer than {self.max_message:,} bytes (SURVEIL_FIX_MAX_MESSAGE_BYTES): a "
                f"record of {len(value):,} bytes"
            )
            return [BadMessage(name, 1, reason, value[: 1 << 16])]
        scanner = Scanner(name, self.max_message)
        found = scanner.feed(value) + scanner.finish()
        if not found:
            return [BadMessage(name, 1, "no FIX message in the record", value[: 1 << 16])]
        return found

    def _transient(self, error: Any) -> None:
        """A broker error: fatal ones stop watch; others are logged once per kind (the
        client reconnects and retries by itself, with backoff)."""
        if error.fatal():
            raise ConfigError(f"kafka: {error.str()}")
        kind = error.name()
        if kind not in self._errors:
            self._errors.add(kind)
            self.log(f"kafka: {error.str()} (retrying)")

    def committed(self, done: dict[str, int] | None = None) -> None:
        """Tell the group where watch is (after the PostgreSQL commit; monitoring only):
        `done`, the offsets of the batch just committed (the reader may be further)."""
        kafka = self._kafka
        at = self.offsets if done is None else done
        offsets = [kafka.TopicPartition(self.topic, int(p), o) for p, o in at.items() if o >= 0]
        if offsets:
            try:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            except kafka.KafkaException as exc:
                self.log(f"kafka: group offsets not committed ({exc}); watch's own are")

    def close(self) -> None:
        self._consumer.close()


def kafka_source(settings: Settings, topic: str | None = None) -> SourceSpec:
    """The SourceSpec of the topic (SURVEIL_KAFKA_TOPIC unless given)."""
    name = topic or settings.kafka_topic
    if not name:
        raise ConfigError("watch --kafka: set SURVEIL_KAFKA_TOPIC or give --topic")

    def open_at(position: Position | None, log: Callable[[str], None]) -> KafkaSource:
        offsets = position.offsets if position is not None else None
        return KafkaSource(settings, name, offsets, log)

    return SourceSpec(f"kafka:{name}", f"kafka topic {name}", open_at)
