"""Configuration from the environment and `.env`, prefix `SURVEIL_`.

Every field is documented in the README's configuration table; `surveil config` prints the
effective values with secrets masked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from surveil.errors import ConfigError

# Spark settings whose values are secrets (S3A keys, tokens): masked by `surveil config`.
SECRET_WORDS = ("secret", "password", "token", "credential")
# libpq's sslmode values; anything else fails only at connect time, as if the server were down.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def parse_spark_conf(text: str | None) -> dict[str, str]:
    """SURVEIL_SPARK_CONF: a JSON object, or k=v pairs separated by commas or whitespace
    (`spark.executor.memory=8g,spark.sql.shuffle.partitions=400`)."""
    import json

    if text is None or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON object ({exc.msg})") from None
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object of Spark settings")
        pairs = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}
    else:
        pairs = {}
        for item in text.replace(",", " ").split():
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{item!r}: expected key=value")
            pairs[key.strip()] = value.strip()
    for key in pairs:
        if not key.startswith("spark."):
            raise ValueError(f"{key!r}: Spark settings start with 'spark.'")
    return pairs


def default_home() -> Path:
    """The per-user folder for surveil's local state (XDG data home on Linux)."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "surveil"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SURVEIL_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    home: Path = Field(default_factory=default_home, description="Root folder for local state.")
    data_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("SURVEIL_DATA_DIR", "DATA_DIR", "data_dir"),
        description="Local folder where generated days are written (default $SURVEIL_HOME/data).",
    )
    lake: str | None = Field(
        default=None,
        description="Data lake: a folder or s3://bucket/prefix (default $SURVEIL_HOME/lake).",
    )
    s3_bucket: str | None = Field(
        default=None,
        validation_alias=AliasChoices("S3_BUCKET", "SURVEIL_S3_BUCKET", "s3_bucket"),
        description="The seed's name for the lake bucket; same as SURVEIL_LAKE=s3://BUCKET.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL; unset starts an embedded server in $SURVEIL_HOME/pg.",
    )
    orders: int = Field(default=1000, ge=1, description="Orders generated per day.")
    seed: int = Field(default=42, ge=0, description="Generator seed.")
    rules_file: Path | None = Field(
        default=None, description="TOML file overriding detection rule parameters."
    )
    connect_retries: int = Field(
        default=2, ge=0, le=20, description="Extra attempts to reach the database, with backoff."
    )
    lock_timeout_s: float = Field(
        default=600.0, ge=0, description="Seconds to wait for another run holding the same day."
    )
    fix_max_message_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Longest FIX message import-fix reads, in bytes (a longer one is rejected).",
    )
    watch_window: int = Field(
        default=100_000,
        ge=1,
        description=(
            "Entries of each kind (orders, fills, order ids) per day `watch` holds in memory; "
            "older ones spill to a file (docs/streaming.md, memory)."
        ),
    )
    spark_master: str = Field(
        default="local[*]",
        description="Spark master for --engine spark: local[*], spark://host:7077, yarn, k8s://….",
    )
    spark_conf: str | None = Field(
        default=None,
        description="Extra Spark settings: a JSON object or k=v pairs (commas or spaces).",
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka brokers for `watch --kafka`: host:port[,host:port…].",
    )
    kafka_topic: str | None = Field(
        default=None, description="Kafka topic carrying one FIX message per record."
    )
    kafka_group: str = Field(
        default="surveil-watch",
        description="Kafka consumer group watch reports its offsets under (for lag monitors).",
    )
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: str | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)."
    )
    kafka_sasl_username: str | None = Field(default=None, description="Kafka SASL user.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="Kafka SASL password (never shown)."
    )

    user: str = Field(
        default_factory=lambda: _os_user(),
        description="Who acts in `surveil review` (--as overrides it; default the OS user).",
    )
    firm_name: str | None = Field(
        default=None, description="Reporting entity's name, for STOR drafts."
    )
    firm_lei: str | None = Field(
        default=None, description="Reporting entity's LEI (20 characters), for STOR drafts."
    )
    firm_contact: str | None = Field(
        default=None, description="Who the authority contacts about a STOR (name, phone, e-mail)."
    )

    @field_validator("user")
    @classmethod
    def _check_user(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (it is who the review trail names)")
        return value.strip()

    @field_validator("firm_lei")
    @classmethod
    def _check_lei(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().upper()
        if len(value) != 20 or not value.isalnum():
            raise ValueError("an LEI is 20 letters and digits (ISO 17442)")
        return value

    @field_validator("lake", "s3_bucket")
    @classmethod
    def _strip_empty(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("spark_conf")
    @classmethod
    def _check_spark_conf(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_spark_conf(value)
        return value.strip()

    @field_validator("spark_master")
    @classmethod
    def _check_spark_master(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (local[*] runs Spark in this process)")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        import psycopg.conninfo

        try:
            params = psycopg.conninfo.conninfo_to_dict(value.get_secret_value())
        except psycopg.ProgrammingError:
            raise ValueError("not a valid PostgreSQL connection URL") from None
        port = str(params.get("port") or "5432")
        if not all(p.isdigit() for p in port.split(",")):
            raise ValueError("the port in the URL is not a number")
        sslmode = params.get("sslmode")
        if sslmode is not None and sslmode not in SSL_MODES:
            raise ValueError(f"sslmode={sslmode!r} is not one of {', '.join(SSL_MODES)}")
        return value

    @property
    def data_path(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.home / "data"

    @property
    def lake_uri(self) -> str:
        if self.lake:
            return self.lake
        if self.s3_bucket:
            return f"s3://{self.s3_bucket}"
        return str(self.home / "lake")

    @property
    def spark_conf_pairs(self) -> dict[str, str]:
        return parse_spark_conf(self.spark_conf)

    @property
    def embedded_pgdata(self) -> Path:
        return self.home / "pg"

    def masked(self) -> dict[str, Any]:
        """The effective settings for display, with every secret replaced by '***'."""
        return {
            "SURVEIL_HOME": str(self.home),
            "SURVEIL_DATA_DIR": str(self.data_path),
            "SURVEIL_LAKE": self.lake_uri,
            "SURVEIL_DATABASE_URL": mask_url(self.database_url)
            if self.database_url
            else f"(embedded PostgreSQL in {self.embedded_pgdata})",
            "SURVEIL_ORDERS": self.orders,
            "SURVEIL_SEED": self.seed,
            "SURVEIL_RULES_FILE": str(self.rules_file) if self.rules_file else "(rule defaults)",
            "SURVEIL_CONNECT_RETRIES": self.connect_retries,
            "SURVEIL_LOCK_TIMEOUT_S": self.lock_timeout_s,
            "SURVEIL_SPARK_MASTER": self.spark_master,
            "SURVEIL_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers or "(unset)",
            "SURVEIL_KAFKA_TOPIC": self.kafka_topic or "(unset)",
            "SURVEIL_KAFKA_GROUP": self.kafka_group,
            "SURVEIL_KAFKA_SECURITY_PROTOCOL": self.kafka_security_protocol,
            "SURVEIL_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism or "(unset)",
            "SURVEIL_KAFKA_SASL_USERNAME": self.kafka_sasl_username or "(unset)",
            "SURVEIL_KAFKA_SASL_PASSWORD": "***" if self.kafka_sasl_password else "(unset)",
            "SURVEIL_USER": self.user,
            "SURVEIL_FIRM_NAME": self.firm_name or "(unset)",
            "SURVEIL_FIRM_LEI": self.firm_lei or "(unset)",
            "SURVEIL_FIRM_CONTACT": self.firm_contact or "(unset)",
            "SURVEIL_SPARK_CONF": {
                k: "***" if any(w in k.lower() for w in SECRET_WORDS) else v
                for k, v in self.spark_conf_pairs.items()
            },
        }


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return f"uid-{os.getuid()}"


def mask_url(url: SecretStr) -> str:
    """The URL with its password replaced by '***', for display."""
    import psycopg.conninfo

    params = psycopg.conninfo.conninfo_to_dict(url.get_secret_value())
    if params.get("password"):
        params["password"] = "***"
    user = params.get("user", "")
    host = params.get("host", "")
    port = params.get("port", "")
    dbname = params.get("dbname", "")
    auth = f"{user}{':***' if params.get('password') else ''}@" if user else ""
    return f"postgresql://{auth}{host}{':' + str(port) if port else ''}/{dbname}"


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one line naming the variable."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigError(f"SURVEIL_{field.upper()}: {_message(first['msg'])}") from None


def _message(msg: str) -> str:
    """pydantic's message without its 'Value error, ' prefix."""
    return msg.removeprefix("Value error, ")


def inspect_settings() -> tuple[dict[str, Any], dict[str, str]]:
    """The settings for display even when some are invalid (for `surveil config`).

    Returns the masked settings, every invalid one shown as given (its password masked) in
    place of its value, and the problems by variable name. The valid settings are shown as
    they take effect, the invalid ones replaced by their defaults only to compute the rest.
    """
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for _ in range(len(Settings.model_fields) + 1):
        defaults = {
            f: Settings.model_fields[f].get_default(call_default_factory=True) for f in problems
        }
        try:
            values = Settings(**defaults).masked()
            break
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                if error["loc"]:
                    problems.setdefault(str(error["loc"][0]), _message(error["msg"]))
    named: dict[str, str] = {}
    for field, message in problems.items():
        name = f"SURVEIL_{field.upper()}"
        raw = os.environ.get(name)
        values[name] = mask_text(raw) if raw is not None else "(from .env)"
        named[name] = message
    return values, named


def mask_text(text: str) -> str:
    """A setting's raw text with anything that could be a password replaced by '***'."""
    import re

    text = re.sub(r"(://[^/@:]*:)[^@/]*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", text, flags=re.IGNORECASE)
