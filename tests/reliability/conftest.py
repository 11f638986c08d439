"""Fixtures shared by the reliability tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode, for the endpoint-URL path (AWS_ENDPOINT_URL_S3)."""
    from moto.server import ThreadedMotoServer

    # Its request log would land in the stderr the CLI tests capture (same process).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
