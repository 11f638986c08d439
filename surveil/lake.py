"""The data lake: a local folder or an S3 (or S3-compatible) bucket, behind one small interface.

Keys are relative paths such as `trade_date=2026-11-27/orders.csv`. Objects are written whole
(temp file + rename locally, a single PUT on S3) and carry their sha256, so a re-upload can tell
"already there" from "different". `upload_day` writes the manifest last: a day is in the lake
exactly when its manifest is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from surveil.errors import BadInputError, ConflictError, UnavailableError
from surveil.manifest import (
    MANIFEST_NAME,
    Manifest,
    day_dir_name,
    parse_day_dir_name,
    read_local_manifest,
    sha256_file,
)
from surveil.settings import Settings


class Lake(Protocol):
    uri: str

    def sha256_of(self, key: str) -> str | None:
        """The stored object's sha256, or None when there is no object under `key`."""

    def put_file(self, key: str, path: Path, sha256: str, *, overwrite: bool) -> None:
        """Store `path` under `key`; with overwrite=False never replace an existing object."""

    def delete(self, key: str) -> None:
        """Remove the object under `key`; nothing when there is none."""

    def open(self, key: str) -> AbstractContextManager[IO[bytes]]:
        """A binary stream of the object, as a context manager."""

    def read_bytes(self, key: str) -> bytes | None:
        """The whole object, or None when absent."""

    def days(self) -> list[dt.date]:
        """Trading dates whose manifest is in the lake."""

    def manifest_sha256s(self) -> dict[dt.date, str]:
        """The sha256 of each day's manifest object in the lake, by trading date."""

    def day_files(self) -> dict[dt.date, set[str]]:
        """The names of the objects in each day's folder of the lake, by trading date."""


class LocalLake:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BadInputError(f"lake key {key!r} escapes the lake folder")
        return path

    def sha256_of(self, key: str) -> str | None:
        path = self._path(key)
        return sha256_file(path) if path.exists() else None

    def put_file(self, key: str, path: Path, sha256: str, *, overwrite: bool) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                    while block := src.read(1 << 20):
                        out.write(block)
                    out.flush()
                    os.fsync(out.fileno())
                if overwrite:
                    os.replace(tmp, target)
                else:
                    # link() fails if the target exists: the local form of a conditional write.
                    os.link(tmp, target)
                    os.unlink(tmp)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except FileExistsError:
            raise ConflictError(f"{target}: already exists in the lake") from None
        except PermissionError as exc:
            raise UnavailableError(f"lake folder {self.root}: {exc.strerror}") from None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except PermissionError as exc:
            raise UnavailableError(f"lake folder {self.root}: {exc.strerror}") from None

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        path = self._path(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise BadInputError(f"{path}: not in the lake") from None
        with fh:
            yield fh

    def read_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None

    def days(self) -> list[dt.date]:
        if not self.root.exists():
            return []
        found = []
        for child in self.root.iterdir():
            day = parse_day_dir_name(child.name)
            if day and (child / MANIFEST_NAME).exists():
                found.append(day)
        return sorted(found)

    def manifest_sha256s(self) -> dict[dt.date, str]:
        return {
            day: sha256_file(self.root / day_dir_name(day) / MANIFEST_NAME) for day in self.days()
        }

    def day_files(self) -> dict[dt.date, set[str]]:
        found: dict[dt.date, set[str]] = {}
        if self.root.exists():
            for child in self.root.iterdir():
                day = parse_day_dir_name(child.name)
                if day and child.is_dir():
                    found[day] = {f.name for f in child.iterdir() if f.is_file()}
        return found


class S3Lake:
    """An S3 prefix. boto3 reads its usual configuration (AWS_* variables, profiles,
    AWS_ENDPOINT_URL_S3 for MinIO or moto's server); retries are on in standard mode."""

    def __init__(self, uri: str) -> None:
        import boto3
        from botocore.config import Config

        rest = uri.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise BadInputError(f"SURVEIL_LAKE={uri!r}: no bucket named")
        self.uri = uri
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        config = Config(
            retries={"mode": "standard", "total_max_attempts": 5},  # 5 attempts in all
            connect_timeout=5,
            read_timeout=60,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client = boto3.client("s3", config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            yield
        except NoCredentialsError:
            raise UnavailableError(f"{self._where(key)}: no AWS credentials found") from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            if code in ("NoSuchBucket", "AccessDenied", "403", "InvalidAccessKeyId"):
                raise UnavailableError(f"{self._where(key)}: {code}") from None
            raise UnavailableError(f"{self._where(key)}: S3 error {code}") from None
        except BotoCoreError as exc:
            raise UnavailableError(f"{self._where(key)}: {exc}") from None

    def sha256_of(self, key: str) -> str | None:
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        meta: dict[str, str] = head.get("Metadata", {})
        return meta.get("sha256")

    def put_file(self, key: str, path: Path, sha256: str, *, overwrite: bool) -> None:
        from botocore.exceptions import ClientError

        extra: dict[str, Any] = {} if overwrite else {"IfNoneMatch": "*"}
        with self._errors(key), path.open("rb") as body:
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    Body=body,
                    Metadata={"sha256": sha256},
                    **extra,
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                    raise ConflictError(f"{self._where(key)}: already exists in the lake") from None
                raise

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    raise BadInputError(f"{self._where(key)}: not in the lake") from None
                raise
            body = obj["Body"]
            try:
                yield body
            finally:
                body.close()

    def read_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors(key):
            try:
                obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return None
                raise
            data: bytes = obj["Body"].read()
            return data

    def days(self) -> list[dt.date]:
        return sorted(self.manifest_sha256s())

    def manifest_sha256s(self) -> dict[dt.date, str]:
        prefix = f"{self.prefix}/" if self.prefix else ""
        found = {}
        with self._errors(""):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(prefix) :].rstrip("/")
                    day = parse_day_dir_name(name)
                    sha = self._manifest_sha256(f"{name}/{MANIFEST_NAME}") if day else None
                    if day and sha is not None:
                        found[day] = sha
        return found

    def day_files(self) -> dict[dt.date, set[str]]:
        """One listing of the whole prefix (a thousand keys a request), not one per day."""
        prefix = f"{self.prefix}/" if self.prefix else ""
        found: dict[dt.date, set[str]] = {}
        with self._errors(""):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    folder, _, name = item["Key"][len(prefix) :].partition("/")
                    day = parse_day_dir_name(folder)
                    if day and name and "/" not in name:
                        found.setdefault(day, set()).add(name)
        return found

    def _manifest_sha256(self, key: str) -> str | None:
        """The manifest's sha256: from the metadata upload writes, else (an object another
        tool put there) from its bytes; None when there is no manifest."""
        sha = self.sha256_of(key)
        if sha is None and (raw := self.read_bytes(key)) is not None:
            sha = hashlib.sha256(raw).hexdigest()
        return sha


def open_lake(settings: Settings) -> Lake:
    uri = settings.lake_uri
    if uri.startswith("s3://"):
        return S3Lake(uri)
    if "://" in uri:
        raise BadInputError(
            f"SURVEIL_LAKE={uri!r}: only a folder or s3://bucket/prefix is supported"
        )
    return LocalLake(Path(uri).expanduser())


def manifest_key(day: dt.date) -> str:
    return f"{day_dir_name(day)}/{MANIFEST_NAME}"


def read_manifest(lake: Lake, day: dt.date) -> Manifest:
    raw = lake.read_bytes(manifest_key(day))
    if raw is None:
        raise BadInputError(f"{lake.uri}/{manifest_key(day)}: no manifest for {day} in the lake")
    return Manifest.from_bytes(raw, f"{lake.uri}/{manifest_key(day)}")


@dataclass
class UploadResult:
    trade_date: dt.date
    lake: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "uploaded" if self.uploaded else "skipped"


def upload_day(settings: Settings, day: dt.date, *, force: bool = False) -> UploadResult:
    """Copy the day folder into the lake: data files first, the manifest last.

    An object already in the lake with the same sha256 is skipped; a different one is a
    ConflictError unless `force`. A forced replacement takes the lake's old manifest away
    before the first data file is replaced: an upload stopped half way (the bucket failing,
    a kill) then leaves a day without a manifest, which status and catch-up see as not
    uploaded, never the old manifest over new files, which they would take for done. Data
    files of a day with no manifest in the lake are such an unfinished upload's, of no
    day: they are replaced without `force`.
    """
    day_dir = settings.data_path / day_dir_name(day)
    manifest = read_local_manifest(day_dir)
    if manifest is None:
        raise BadInputError(f"{day_dir / MANIFEST_NAME}: no generated day to upload (run generate)")
    lake = open_lake(settings)
    result = UploadResult(day, lake.uri)
    manifest_path = day_dir / MANIFEST_NAME
    files = [(e.name, e.sha256) for e in manifest.files.values()]
    files.append((MANIFEST_NAME, sha256_file(manifest_path)))
    old_manifest_taken = False
    for name, sha in files:
        path = day_dir / name
        if not path.exists():
            raise BadInputError(f"{path}: listed in the manifest but missing")
        if name != MANIFEST_NAME and sha256_file(path) != sha:
            raise BadInputError(f"{path}: sha256 differs from its manifest")
        key = f"{day_dir_name(day)}/{name}"
        existing = lake.sha256_of(key)
        if existing == sha:
            result.skipped.append(name)
            continue
        if existing is not None and not force and lake.sha256_of(manifest_key(day)) is not None:
            raise ConflictError(
                f"{lake.uri}/{key}: the lake holds a different file for {day}; "
                f"`surveil upload --date {day} --force` replaces it, then "
                f"`surveil load --date {day}` loads the new day"
            )
        if existing is not None and name != MANIFEST_NAME and not old_manifest_taken:
            lake.delete(manifest_key(day))  # forced: the old manifest first (docstring)
            old_manifest_taken = True
        try:
            lake.put_file(key, path, sha, overwrite=existing is not None)
        except ConflictError:
            # Another writer got there between our check and our write: fine if it is ours.
            if lake.sha256_of(key) != sha:
                raise
            result.skipped.append(name)
            continue
        result.uploaded.append(name)
    return result
