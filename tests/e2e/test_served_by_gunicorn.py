"""The service as `make run` starts it: gunicorn serving wsgi:app over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_PATHS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "CPQ_DATABASE_URL": f"sqlite:///{tmp_path / 'cpq.db'}",
           "CPQ_RULES_DIR": SAMPLE_PATHS[0], "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1]}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {proc.stdout.read().decode()}")
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("gunicorn did not answer within 30 s")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_gunicorn_serves_the_sample_catalog(server):
    with urllib.request.urlopen(f"{server}/api/v1/catalog", timeout=5) as response:
        assert response.status == 200
        body = json.load(response)
    assert "SRV-2U" in {p["id"] for p in body["products"]}


def test_gunicorn_answers_bad_urls_with_a_problem_body(server):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server}/api/v1/catalog/products/NOPE", timeout=5)
    assert info.value.code == 404
    assert json.load(info.value)["code"] == "unknown_product"
