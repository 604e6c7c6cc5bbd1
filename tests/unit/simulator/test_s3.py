"""The simulator writes to ``s3://`` lakes unchanged (a local moto S3 server, no AWS)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from idgraph.simulator import simulate


@pytest.fixture()
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    yield endpoint
    server.stop()


def test_simulate_to_s3(s3_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="lake")
    summary = simulate(
        "s3://lake/sim", dt.date(2026, 3, 6), days=1, people=80, seed=2, bad_rate=0.05
    )
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}
    raw = sorted(k for k in keys if k.startswith("sim/raw/pixel/dt=2026-03-06/part-"))
    assert len(raw) >= 3
    assert {
        "sim/truth/cookies/part-00000.parquet",
        "sim/truth/people/part-00000.parquet",
        "sim/truth/injected/dt=2026-03-06/counts.json",
    } <= keys
    assert not any(k.endswith("/") for k in keys)  # no directory marker objects
    lines = sum(
        gzip.decompress(s3.get_object(Bucket="lake", Key=k)["Body"].read()).count(b"\n")
        for k in raw
    )
    counts = json.loads(
        s3.get_object(Bucket="lake", Key="sim/truth/injected/dt=2026-03-06/counts.json")[
            "Body"
        ].read()
    )
    assert lines == summary.lines == counts["lines"]
