"""Deployment files: compose.yaml, Dockerfile, .dockerignore, the cron line, the systemd units.

No Docker engine or systemd instance runs here, so the files are checked statically and
against the code they configure: every SURVEIL_* variable must be a Settings field, every
AWS_* variable one that boto3 reads, every scheduled command must parse with surveil's own
CLI. The cron line and the bucket one-shot are executed for real (with stand-ins for the
installed paths), and where the machine has systemd-analyze, systemd itself verifies the
units, rates their sandbox and computes the timer's firings.
"""

from __future__ import annotations

import configparser
import datetime as dt
import fcntl
import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore
import pytest
import yaml
from croniter import croniter
from moto.server import ThreadedMotoServer
from pydantic import AliasChoices
from typer.testing import CliRunner

from surveil.cli import app
from surveil.settings import Settings

ROOT = Path(__file__).resolve().parents[1]  # conftest chdirs into tmp_path: never rely on cwd
DEPLOY = ROOT / "deploy"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
FIXED_START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday afternoon


# ---- readers ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg")
        value = env.get(name)
        if op in (":-", ":?"):
            present = bool(value)
        else:
            present = value is not None
        if op and op.endswith("?") and not present:
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        if op and op.endswith("-") and not present:
            return arg
        return value or ""

    return _VAR.sub(sub, text)


def strings(node: Any) -> list[str]:
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def env_example() -> dict[str, str]:
    return dotenv(ROOT / ".env.example")


def service_env(name: str) -> dict[str, str]:
    """A compose service's environment as its container gets it, with .env.example as .env."""
    environment = compose()["services"][name].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: interpolate(str(v), env_example()) for k, v in environment.items()}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for kw, rest in final_stage():
        if kw == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def unit(name: str) -> configparser.ConfigParser:
    """A systemd unit file as INI. strict=False: systemd allows a key more than once."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
    return parser


def unit_environment(parser: configparser.ConfigParser) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(parser["Service"]["Environment"]))


def cron_file() -> tuple[dict[str, str], list[list[str]]]:
    """(environment lines, jobs as [min, hour, dom, month, dow, user, command])."""
    env, jobs = {}, []
    for raw in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assignment = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if assignment:
            env[assignment[1]] = assignment[2]
        else:
            jobs.append(line.split(None, 6))
    return env, jobs


def cron_job() -> list[str]:
    _, jobs = cron_file()
    assert len(jobs) == 1, jobs
    assert len(jobs[0]) == 7, "an /etc/cron.d line: 5 time fields, a user, a command"
    return jobs[0]


def timespan_seconds(value: str) -> float:
    """A systemd time span ("5min", "2h", "1h 30min", "300") in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60}
    units |= {"minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600}
    units |= {"hours": 3600, "d": 86400, "day": 86400, "days": 86400, "ms": 1e-3, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value.strip())
    assert parts and "".join(n + u for n, u in parts) == value.replace(" ", ""), value
    return sum(float(n) * units[u] for n, u in parts)


def surveil_binary() -> str:
    """An existing executable to stand in for /usr/local/bin/surveil: the installed surveil
    when it is there (it is in the dev virtualenv), else this Python."""
    beside = Path(sys.executable).with_name("surveil")
    return str(beside) if beside.exists() else shutil.which("surveil") or sys.executable


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- what the code accepts ----------------------------------------------------------------


def known_surveil_variables() -> set[str]:
    """Environment names Settings reads: SURVEIL_<FIELD>, or a field's validation aliases."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(f"{prefix}{field_name}".upper())
        else:
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            names.update(c.upper() for c in choices if isinstance(c, str))
    return names


def boto3_variables() -> set[str]:
    """Every AWS_* name that botocore or boto3 reads: the literals in their source, plus the
    per-service endpoint variable that botocore builds from the service id."""
    from botocore.configprovider import ConfiguredEndpointProvider

    names = set()
    for package in (botocore, boto3):
        for source in Path(package.__file__).parent.rglob("*.py"):
            text = source.read_text(encoding="utf-8", errors="replace")
            names.update(re.findall(r"""['"](AWS_[A-Z0-9_]+)['"]""", text))
    names.add(ConfiguredEndpointProvider({}, {}, "s3")._get_service_env_var_name())
    return names


def test_the_known_names_are_derived_from_the_code() -> None:
    surveil_names = known_surveil_variables()
    assert {"SURVEIL_HOME", "SURVEIL_LAKE", "SURVEIL_DATABASE_URL"} <= surveil_names
    assert {"DATA_DIR", "S3_BUCKET"} <= surveil_names  # the seed's aliases
    aws = boto3_variables()
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= aws
    assert {"AWS_ENDPOINT_URL_S3", "AWS_EC2_METADATA_DISABLED"} <= aws
    assert "AWS_BOGUS_SETTING" not in aws


def all_passed_variables() -> dict[str, set[str]]:
    """Every variable name each deployment file hands to surveil, by file."""
    found: dict[str, set[str]] = {}
    for name, service in compose()["services"].items():
        environment = service.get("environment", {})
        keys = (
            [e.split("=", 1)[0] for e in environment]
            if isinstance(environment, list)
            else environment
        )
        found[f"compose.yaml:{name}"] = set(keys)
    found["Dockerfile"] = set(dockerfile_env())
    found["surveil.service"] = set(unit_environment(unit("surveil.service")))
    found["crontab"] = set(cron_file()[0])
    example = (DEPLOY / "surveil.env.example").read_text(encoding="utf-8")
    found["surveil.env.example"] = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, re.M))
    return found


def test_every_surveil_variable_passed_is_a_setting() -> None:
    known = known_surveil_variables()
    for where, names in all_passed_variables().items():
        ours = {n for n in names if n.startswith("SURVEIL_") or n in ("DATA_DIR", "S3_BUCKET")}
        assert ours <= known, f"{where}: {sorted(ours - known)} are not settings"


def test_every_aws_variable_passed_is_read_by_boto3() -> None:
    known = boto3_variables()
    for where, names in all_passed_variables().items():
        aws = {n for n in names if n.startswith("AWS_")}
        assert aws <= known, f"{where}: boto3 never reads {sorted(aws - known)}"


# ---- compose.yaml -------------------------------------------------------------------------


def lake_endpoint() -> tuple[str, int]:
    """(service name, port) of the object store, from the endpoint surveil is given."""
    endpoint = urlsplit(service_env("surveil")["AWS_ENDPOINT_URL_S3"])
    assert endpoint.hostname and endpoint.port
    return endpoint.hostname, endpoint.port


def test_compose_services() -> None:
    services = compose()["services"]
    store, _ = lake_endpoint()
    assert {"postgres", store, "create-bucket", "surveil"} <= set(services)
    assert services["surveil"]["command"] == ["run-day", "--catch-up"]
    for name, service in services.items():
        restart = service.get("restart", "no")
        # YAML 1.1 reads a bare `no` as False, which compose rejects: it must be a string.
        assert isinstance(restart, str), f'{name}: quote restart: "no"'


def test_surveil_settings_from_the_compose_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = service_env("surveil")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    lake = urlsplit(settings.lake_uri)
    assert lake.scheme == "s3" and lake.netloc == env_example()["LAKE_BUCKET"]
    assert settings.database_url is not None
    url = urlsplit(settings.database_url.get_secret_value())
    postgres = compose()["services"]["postgres"]["environment"]
    assert url.hostname == "postgres" and url.port == 5432
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path == f"/{postgres['POSTGRES_DB']}"
    assert url.password == env_example()["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("service", ["surveil", "create-bucket"])
def test_boto3_reaches_the_store_with_the_compose_environment(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = service_env(service)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    session = boto3.session.Session()
    client = session.client("s3")
    store, port = lake_endpoint()
    assert client.meta.endpoint_url == f"http://{store}:{port}"
    assert client.meta.region_name == env["AWS_DEFAULT_REGION"]
    credentials = session.get_credentials()
    assert credentials is not None
    assert credentials.access_key == env_example()["LAKE_ACCESS_KEY_ID"]
    assert credentials.secret_key == env_example()["LAKE_SECRET_ACCESS_KEY"]


def test_compose_variables_come_from_env_example_and_no_secret_is_literal() -> None:
    raw = "\n".join(strings(compose()))  # values only: comments may show ${VAR} syntax
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", raw))
    example = env_example()
    assert used == set(example), "compose.yaml and .env.example must name the same variables"
    for name in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):\?", raw):
        assert example[name].startswith("change-me"), f".env.example: {name} is not a placeholder"

    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY|TOKEN", key):
                assert value.startswith("${"), f"{name}: {key} is hard-coded"
            password = re.search(r"://[^:/@]+:([^@]*)@", value)
            if password:
                assert password[1].startswith("${"), f"{name}: {key} has a literal password"


def test_compose_dependencies_wait_for_health_or_completion() -> None:
    services = compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on")
        if depends is None:
            continue
        assert isinstance(depends, dict), f"{name}: a depends_on list does not wait for anything"
        for target, spec in depends.items():
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} is no one-shot"
            else:
                raise AssertionError(f"{name} -> {target}: condition {condition!r}")
    store, _ = lake_endpoint()
    assert services["surveil"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        store: {"condition": "service_healthy"},
        "create-bucket": {"condition": "service_completed_successfully"},
    }
    assert services["create-bucket"]["depends_on"] == {store: {"condition": "service_healthy"}}


def healthcheck(service: str) -> tuple[dict[str, Any], list[str]]:
    check = compose()["services"][service]["healthcheck"]
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), test
    for key in ("interval", "timeout", "retries", "start_period"):
        assert key in check, f"{service}: healthcheck without {key}"
    return check, test


def test_postgres_healthcheck_asks_the_real_server_over_tcp() -> None:
    _, test = healthcheck("postgres")
    assert test[0] == "CMD"
    args = test[1:]
    environment = compose()["services"]["postgres"]["environment"]
    assert args[0] == "pg_isready"
    assert args[args.index("-h") + 1] == "127.0.0.1"  # not the socket the init server uses
    assert args[args.index("-U") + 1] == environment["POSTGRES_USER"] == "surveil"
    assert args[args.index("-d") + 1] == environment["POSTGRES_DB"] == "surveil"


def test_store_healthcheck_probes_the_s3_port_and_fails_on_errors() -> None:
    store, port = lake_endpoint()
    _, test = healthcheck(store)
    assert test[0] == "CMD-SHELL"
    assert f"http://127.0.0.1:{port}/healthz" in test[1]
    assert test[1].rstrip().endswith("|| exit 1"), "a healthcheck must exit 1 on failure"
    command = compose()["services"][store]["command"]
    assert command[:2] == ["server", "-s3"]
    assert f"-s3.port={port}" in command
    # The default bind address is -ip's (the container's address): not 127.0.0.1.
    assert "-ip.bind=0.0.0.0" in command


def image_tag(reference: str) -> str:
    name = reference.split("@", 1)[0]
    return name.rsplit("/", 1)[-1].partition(":")[2]


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        image = service.get("image")
        assert image or "build" in service, f"{name}: neither image nor build"
        if image:
            tag = image_tag(image)
            assert tag and tag != "latest", f"{name}: {image} is not pinned"
    for kw, rest in dockerfile():
        if kw == "FROM":
            image = rest.split()[0]
            tag = image_tag(image)
            assert tag and "latest" not in tag, f"FROM {image} is not pinned"


def test_compose_volumes_are_named_and_surveil_keeps_its_home() -> None:
    config = compose()
    declared = set(config.get("volumes") or {})
    for name, service in config["services"].items():
        for volume in service.get("volumes", []):
            source, _, target = volume.partition(":")
            assert source in declared, f"{name}: {source} is not a named volume"
    assert (
        f"surveil-home:{dockerfile_env()['SURVEIL_HOME']}"
        in config["services"]["surveil"]["volumes"]
    )


def test_create_bucket_one_shot_is_idempotent_and_fails_loudly(tmp_path: Path) -> None:
    service = compose()["services"]["create-bucket"]
    assert service["entrypoint"] == ["python", "-c"]
    # Compose interpolates the command too: the script must come through it unchanged.
    script = interpolate(service["command"][0], env_example())
    assert script == service["command"][0]
    bucket = urlsplit(service_env("create-bucket")["SURVEIL_LAKE"]).netloc

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {**os.environ, **service_env("create-bucket")}
        env["AWS_ENDPOINT_URL_S3"] = f"http://{host}:{port}"

        def run(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", script],
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        first = run(env)
        assert first.returncode == 0, first.stderr
        assert f"bucket {bucket} created" in first.stdout
        again = run(env)
        assert again.returncode == 0, again.stderr
        assert f"bucket {bucket} already exists" in again.stdout
        client = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL_S3"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]

        down = {**env, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{closed_port()}"}
        down["AWS_MAX_ATTEMPTS"] = "1"
        failed = run(down)
        assert failed.returncode != 0
        assert "Could not connect" in failed.stderr
    finally:
        server.stop()


# ---- Dockerfile and .dockerignore ---------------------------------------------------------


def test_dockerfile_runs_surveil_as_a_non_root_user() -> None:
    stage = final_stage()
    base = stage[0][1].split()[0]
    assert base.startswith("python:3.12-") and "slim" in image_tag(base), base
    keywords = [kw for kw, _ in stage]
    users = [(i, rest) for i, (kw, rest) in enumerate(stage) if kw == "USER"]
    assert users, "no USER: the container would run as root"
    entrypoint = keywords.index("ENTRYPOINT")
    last_user = [rest for i, rest in users if i < entrypoint][-1]
    assert last_user.split(":")[0] not in ("root", "0"), last_user
    assert all(i < entrypoint for i, _ in users)

    assert json.loads(dict(stage)["ENTRYPOINT"]) == ["surveil"]  # exec form: signals reach it
    assert json.loads(dict(stage)["CMD"]) == ["run-day"]
    smoke = [i for i, (kw, rest) in enumerate(stage) if kw == "RUN" and rest == "surveil --help"]
    assert smoke, "no RUN surveil --help smoke test"

    env = dockerfile_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    home = env["SURVEIL_HOME"]
    assert home == "/var/lib/surveil"
    volumes = [json.loads(rest) for kw, rest in stage if kw == "VOLUME"]
    assert [home] in volumes
    assert dict(stage).get("STOPSIGNAL") == "SIGINT"


def context_sources() -> set[str]:
    """What the Dockerfile COPYs from the build context (not from another stage)."""
    sources = set()
    for kw, rest in dockerfile():
        if kw == "COPY" and "--from" not in rest:
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            sources.update(a.rstrip("/") for a in args[:-1])
    return sources


def test_dockerfile_copies_everything_the_wheel_is_built_from() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"], *wheel["packages"]}
    needed |= set(wheel.get("force-include", {}))  # sql/ -> surveil/sql
    assert needed <= context_sources()
    for source in needed:
        assert (ROOT / source).exists(), source


def dockerignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins, `!` re-includes, and a pattern that
    matches a parent folder matches everything below it."""
    excluded = False
    parts = path.split("/")
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        prefixes = ("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_sends_the_sources_and_never_the_secrets() -> None:
    for secret in (".env", ".git/config", "deploy/surveil.env.example", ".venv/bin/python"):
        assert dockerignored(secret), secret
    assert dockerignored("surveil/__pycache__/cli.cpython-312.pyc")
    for source in context_sources():
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative:
                assert not dockerignored(relative), f"{relative} is left out of the image"


# ---- commands run by the schedulers -------------------------------------------------------


def scheduled_commands() -> dict[str, list[str]]:
    """surveil's arguments in each scheduler's command line."""
    script = shlex.split(cron_job()[6])
    inner = script[script.index("-c") + 1]
    cron_args = shlex.split(inner.split("exec ", 1)[1])
    exec_start = shlex.split(unit("surveil.service")["Service"]["ExecStart"])
    assert cron_args[0] == exec_start[0] == "/usr/local/bin/surveil"
    return {
        "crontab": cron_args[1:],
        "surveil.service": exec_start[1:],
        "compose.yaml": compose()["services"]["surveil"]["command"],
        "Dockerfile CMD": json.loads(dict(final_stage())["CMD"]),
    }


def test_scheduled_commands_parse_with_the_cli() -> None:
    commands = scheduled_commands()
    for where in ("crontab", "surveil.service", "compose.yaml"):
        assert commands[where] == ["run-day", "--catch-up"], where
    # The README's backfill and catch-up examples too.
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"surveil ((?:backfill|run-day) [^'`\n]*)", readme)
    assert any(e.startswith("backfill --start") for e in examples)
    for i, example in enumerate(examples):
        commands[f"deploy/README.md #{i}"] = shlex.split(example)
    runner = CliRunner()
    for where, args in commands.items():
        # --help after the arguments: click rejects an unknown option or command first.
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"{where}: surveil {' '.join(args)}: {result.output}"


# ---- cron ---------------------------------------------------------------------------------


def test_crontab_fires_monday_to_friday_at_0600() -> None:
    env, _ = cron_file()
    assert "CRON_TZ" not in env and "TZ" not in env  # the host clock is UTC, by design
    job = cron_job()
    assert job[5] == "surveil", "runs as the surveil user, never root"
    schedule = croniter(" ".join(job[:5]), FIXED_START.replace(tzinfo=None))
    firings = [schedule.get_next(dt.datetime) for _ in range(20)]
    assert_weekdays_at_six(firings)
    assert (
        (DEPLOY / "crontab").read_text(encoding="utf-8").endswith("\n")
    )  # cron drops the last line otherwise


def assert_weekdays_at_six(firings: list[dt.datetime]) -> None:
    assert len(firings) == 20
    for t in firings:
        assert t.weekday() < 5, f"{t:%a %F} is a weekend"
        assert (t.hour, t.minute, t.second) == (6, 0, 0), t
    assert firings == sorted(set(firings))
    # Four weeks: every weekday four times, none skipped.
    assert sorted(t.weekday() for t in firings) == sorted(list(range(5)) * 4)


def test_crontab_line_locks_loads_the_env_file_and_appends_to_a_log() -> None:
    command = cron_job()[6]
    assert "%" not in command, "cron turns % into a newline"
    args = shlex.split(command)
    assert args[0] == "/usr/bin/flock" and "-n" in args
    assert args[args.index("-E") + 1] == "75"
    assert args[-2:] == [">>/var/log/surveil/surveil.log", "2>&1"]
    inner = args[args.index("-c") + 1]
    assert "set -a; . /etc/surveil/surveil.env; set +a;" in inner
    syntax = subprocess.run(["sh", "-n", "-c", inner], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_crontab_line_runs_for_real_with_stand_in_paths(tmp_path: Path) -> None:
    """The exact line under sh, with the installed paths swapped for temporary ones and a
    stand-in surveil that prints what it was given."""
    stub = tmp_path / "surveil"
    stub.write_text('#!/bin/sh\necho "args=$*"\necho "orders=$SURVEIL_ORDERS"\n')
    stub.chmod(0o755)
    env_file, log, lock = tmp_path / "surveil.env", tmp_path / "surveil.log", tmp_path / "lock"
    env_file.write_text("SURVEIL_ORDERS=7\n")
    command = cron_job()[6]
    for installed, stand_in in {
        "/usr/local/bin/surveil": stub,
        "/etc/surveil/surveil.env": env_file,
        "/var/log/surveil/surveil.log": log,
        "/run/lock/surveil.lock": lock,
    }.items():
        assert installed in command
        command = command.replace(installed, str(stand_in))

    def run() -> int:
        return subprocess.run(["/bin/sh", "-c", command], timeout=60).returncode

    assert run() == 0
    text = log.read_text()
    assert re.search(r"^== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 ", text, re.M), text
    assert "args=run-day --catch-up" in text and "orders=7" in text  # exported by set -a

    with open(lock, "w") as held:  # a run still going
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run() == 75
    assert log.read_text().count("args=") == 1 and "failed to get lock" in log.read_text()

    env_file.unlink()
    assert run() != 0  # no settings file: fail, never run on defaults
    assert log.read_text().count("args=") == 1


# ---- systemd ------------------------------------------------------------------------------


def test_service_unit() -> None:
    service = unit("surveil.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["ExecStart"] == "/usr/local/bin/surveil run-day --catch-up"
    assert service["EnvironmentFile"] == "-/etc/surveil/surveil.env"
    assert timespan_seconds(service["TimeoutStartSec"]) >= 3600
    assert service["DynamicUser"] == "yes"
    assert service["StateDirectory"] == "surveil"
    assert service["RuntimeDirectory"] == "surveil"
    # platformdirs accepts XDG_RUNTIME_DIR only when it is the user's own and mode 0700.
    assert service["RuntimeDirectoryMode"] == "0700"
    environment = unit_environment(unit("surveil.service"))
    assert environment["SURVEIL_HOME"] == "%S/surveil"
    assert environment["XDG_RUNTIME_DIR"] == "%t/surveil"


def test_service_unit_is_sandboxed(tmp_path: Path) -> None:
    service = unit("surveil.service")["Service"]
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service.get(key) == value, f"{key}={service.get(key)}"
    assert set(service["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # PostgreSQL's JIT needs writable executable memory.
    assert service.get("MemoryDenyWriteExecute", "no") == "no"
    if SYSTEMD_ANALYZE and systemd_version() >= 250:  # --offline appeared in systemd 250
        copy = units_for_systemd_analyze(tmp_path)
        result = subprocess.run(
            [SYSTEMD_ANALYZE, "security", "--offline=true", "--threshold=20", str(copy[0])],
            capture_output=True,
            text=True,
        )
        # Exposure on systemd's 0-10 scale, at most 2.0 ("OK"); --threshold is in tenths.
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_timer_unit() -> None:
    timer = unit("surveil.timer")
    assert timer["Timer"]["OnCalendar"] == "Mon..Fri *-*-* 06:00:00 UTC"
    assert timer["Timer"]["Persistent"] == "true"
    assert 0 < timespan_seconds(timer["Timer"]["RandomizedDelaySec"]) <= 300
    assert timer["Timer"].get("Unit", "surveil.service") == "surveil.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def calendar_firings(expression: str, after: dt.datetime, count: int) -> list[dt.datetime]:
    """The subset of systemd.time(7) calendar events this project uses, evaluated here:
    `DOW[..DOW][,...] *-*-* HH:MM:SS UTC`."""
    day_range = r"[A-Z][a-z]{2}(?:\.\.[A-Z][a-z]{2})?"
    pattern = (
        rf"(?P<dow>{day_range}(?:,{day_range})*) \*-\*-\* (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d) UTC"
    )
    m = re.fullmatch(pattern, expression)
    assert m, f"OnCalendar={expression!r} is outside the subset this test can evaluate"
    days: set[int] = set()
    for part in m["dow"].split(","):
        first, _, last = part.partition("..")
        days.update(range(WEEKDAYS.index(first), WEEKDAYS.index(last or first) + 1))
    at = dt.time(int(m["h"]), int(m["m"]), int(m["s"]))
    firings, day = [], after.date()
    while len(firings) < count:
        t = dt.datetime.combine(day, at, dt.UTC)
        if t > after and t.weekday() in days:
            firings.append(t)
        day += dt.timedelta(days=1)
    return firings


def systemd_version() -> int:
    assert SYSTEMD_ANALYZE
    out = subprocess.run([SYSTEMD_ANALYZE, "--version"], capture_output=True, text=True).stdout
    return int(re.match(r"systemd (\d+)", out)[1])  # type: ignore[index]


def systemd_calendar(expression: str, count: int) -> list[dt.datetime]:
    assert SYSTEMD_ANALYZE
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "calendar", f"--iterations={count}", expression],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC", "LC_ALL": "C"},
        check=True,
    )
    stamps = re.findall(
        r"(?:Next elapse|Iter\. #\d+|\(in UTC\)): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)",
        result.stdout,
    )
    utc = [s for s, zone in stamps if zone == "UTC"]
    return [dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC) for s in utc]


def test_timer_fires_monday_to_friday_at_0600_utc() -> None:
    expression = unit("surveil.timer")["Timer"]["OnCalendar"]
    assert_weekdays_at_six(calendar_firings(expression, FIXED_START, 20))
    if SYSTEMD_ANALYZE:
        # systemd's own evaluation (from now), and the evaluator above agreeing with it.
        firings = systemd_calendar(expression, 20)
        assert_weekdays_at_six(firings)
        start = firings[0] - dt.timedelta(seconds=1)
        assert calendar_firings(expression, start, 20) == firings


def units_for_systemd_analyze(directory: Path) -> list[Path]:
    """Copies of the units with ExecStart pointing at an existing executable: verify fails on
    a missing binary, and /usr/local/bin/surveil exists only on an installed host."""
    directory.mkdir(parents=True, exist_ok=True)
    copies = []
    for name in ("surveil.service", "surveil.timer"):
        text = (DEPLOY / name).read_text(encoding="utf-8")
        copy = directory / name
        copy.write_text(text.replace("/usr/local/bin/surveil", surveil_binary()))
        copies.append(copy)
    return copies


def test_units_verify(tmp_path: Path) -> None:
    service, timer = unit("surveil.service"), unit("surveil.timer")
    assert set(service) == {"DEFAULT", "Unit", "Service"}  # started by the timer only
    assert set(timer) == {"DEFAULT", "Unit", "Timer", "Install"}
    assert Path(shlex.split(service["Service"]["ExecStart"])[0]).is_absolute()
    if SYSTEMD_ANALYZE:
        copies = units_for_systemd_analyze(tmp_path / "units")
        result = subprocess.run(
            [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, copies)],
            capture_output=True,
            text=True,
            cwd=tmp_path / "units",
        )
        ours = [line for line in result.stderr.splitlines() if "surveil" in line]
        assert result.returncode == 0 and not ours, result.stderr
