"""Spark sessions for the Spark tests of this folder: one in local mode (`local[2]`), and one
through a Spark Connect server started for the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_START_SECONDS = 120


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """A session and the tables of its own warehouse; stopped after the tests."""
    pytest.importorskip("pyspark")
    from b2b_assets.engines.spark import SparkSettings, SparkTables, spark_session

    warehouse = tmp_path_factory.mktemp("spark") / "spark-warehouse"
    session = spark_session(SparkSettings(warehouse=warehouse, master="local[2]"))
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield SparkTables(session, warehouse)
    session.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + CONNECT_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Spark Connect server stopped:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"no Spark Connect server on port {port} after {CONNECT_START_SECONDS} s")


@pytest.fixture(scope="session")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sc://127.0.0.1:<port>` of a Spark Connect server (`local[2]`) run from PySpark's own
    `spark-submit`, stopped after the tests."""
    pyspark = pytest.importorskip("pyspark")
    home = Path(pyspark.__file__).parent
    port = free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    command = [
        str(home / "bin" / "spark-submit"),
        *("--class", CONNECT_SERVER, "--master", "local[2]", "--driver-memory", "1g"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", "spark.sql.session.timeZone=UTC"),
        *("--conf", "spark.sql.shuffle.partitions=2"),
        *("--conf", "spark.ui.enabled=false"),
    ]
    with log.open("w") as out:
        server = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SPARK_HOME": str(home)},
        )
    try:
        wait_for_port(port, server, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def connect(connect_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The tables of a warehouse read and written through the Spark Connect server."""
    from b2b_assets.engines.spark import SparkSettings, SparkTables, spark_session

    warehouse = tmp_path_factory.mktemp("connect-warehouse") / "spark-warehouse"
    session = spark_session(SparkSettings(warehouse=warehouse, remote=connect_url))
    yield SparkTables(session, warehouse)
    session.stop()
