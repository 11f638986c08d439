"""The SparkSession: found, configured and started once per process.

pyspark and sqlglot are the optional extra `surveil[spark]`; Spark needs a Java runtime
(17 or newer for Spark 4). Both are checked before the JVM starts, each missing piece a
ConfigError (exit 2) that says what to install.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surveil.errors import ConfigError, UnavailableError
from surveil.settings import Settings
from surveil.spark.translate import SPARK_EXTRA

DEFAULT_MASTER = "local[*]"
MIN_JAVA = 17
# Always: rules compare timestamps as instants and render dates as UTC literals.
FIXED_CONF = {"spark.sql.session.timeZone": "UTC"}
# Defaults a setting may override: no web UI, and few shuffle partitions on one machine.
DEFAULT_CONF = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
LOCAL_CONF = {"spark.sql.shuffle.partitions": "8"}


@dataclass
class SparkStart:
    session: Any
    seconds: float  # 0.0 when the process already had a session


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"--engine spark needs pyspark and sqlglot ({exc.name} is missing): "
            f"pip install '{SPARK_EXTRA}'"
        ) from None


def find_java() -> Path:
    """The `java` Spark will start ($JAVA_HOME/bin/java, else the first on PATH), checked to
    be a runtime Spark 4 can use (17 or newer)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            raise ConfigError(
                f"JAVA_HOME={home}: no bin/java there; Spark needs a Java 17+ runtime"
            )
    else:
        found = shutil.which("java")
        if found is None:
            raise ConfigError(
                "--engine spark needs a Java runtime (17 or newer) and none was found: install "
                "one (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
            )
        java = Path(found)
    major = java_major_version(str(java))
    if major is not None and major < MIN_JAVA:
        raise ConfigError(f"{java} is Java {major}; Spark 4 needs Java {MIN_JAVA} or newer")
    return java


@functools.cache
def java_major_version(java: str) -> int | None:
    """17 for 'openjdk version "17.0.15"', 8 for '"1.8.0_402"'; None when it cannot tell."""
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2) or 0)
    return second if first == 1 else first


def spark_master(settings: Settings) -> str:
    return getattr(settings, "spark_master", None) or DEFAULT_MASTER


def spark_conf(settings: Settings) -> dict[str, str]:
    """Every Spark setting surveil passes: defaults, then SURVEIL_SPARK_CONF, then the fixed
    ones; an S3 lake with AWS_ENDPOINT_URL_S3 (MinIO, SeaweedFS) gets the S3A endpoint."""
    conf: dict[str, str] = {}
    if spark_master(settings).startswith("local"):
        conf.update(LOCAL_CONF)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if settings.lake_uri.startswith("s3://") and endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
    conf.update(getattr(settings, "spark_conf_pairs", None) or {})
    conf.update(FIXED_CONF)
    return conf


def get_session(settings: Settings) -> SparkStart:
    """The process's SparkSession, started on first use (the JVM start is timed apart)."""
    return start_session(spark_master(settings), spark_conf(settings))


def start_session(master: str, conf: dict[str, str]) -> SparkStart:
    require_pyspark()
    find_java()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in FIXED_CONF.items():
            active.conf.set(key, value)
        return SparkStart(active, 0.0)
    clock = time.perf_counter()
    builder = SparkSession.builder.appName("surveil").master(master)
    for key, value in {**DEFAULT_CONF, **conf, **FIXED_CONF}.items():
        builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():
            # pyspark warns about pandas versions it has not certified; surveil uses no pandas.
            warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
            session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: py4j and pyspark raise plain errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnavailableError(f"Spark did not start (master {master}): {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    return SparkStart(session, time.perf_counter() - clock)
