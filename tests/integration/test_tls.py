"""TLS: a server given a certificate speaks TLS only. A real handshake against a CA generated here
(openssl): a plaintext client and a client trusting another CA fail, a client with ``--tls-ca``
works, and ``descent train`` runs end to end (its Ray workers push over TLS too)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from client.rpc.channel import open_channel
from proto import descent_pb2 as pb
from proto import descent_pb2_grpc
from proto.limits import GRPC_OPTIONS
from tests.server_process import ROOT

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN=descent test {name}", cwd=directory)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


@pytest.fixture(scope="module")
def server(pki, module_server_factory):
    tls = ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"), "--tls-ca", str(pki / "ca.pem")]
    proc = module_server_factory(num_cpus=2, extra_args=tls, tls_ca=(pki / "ca.pem").read_bytes())
    yield proc
    assert proc.stop() == 0


def test_a_plaintext_client_and_one_trusting_another_ca_fail(server, pki):
    for channel in (
        grpc.insecure_channel(server.address, options=GRPC_OPTIONS),
        open_channel(server.address, server.token, (pki / "other-ca.pem").read_bytes()),
    ):
        with channel:
            with pytest.raises(grpc.RpcError) as caught:
                descent_pb2_grpc.TrainerStub(channel).ListJobs(pb.ListJobsRequest(), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_with_the_ca_works_and_still_needs_the_token(server, pki):
    server.trainer.ListJobs(pb.ListJobsRequest(), timeout=10)
    with open_channel(server.address, None, (pki / "ca.pem").read_bytes()) as bare:
        with pytest.raises(grpc.RpcError) as caught:
            descent_pb2_grpc.TrainerStub(bare).ListJobs(pb.ListJobsRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    health = subprocess.run([sys.executable, "-m", "server.rpc.healthcheck", server.address], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "DESCENT_TLS_CA": str(pki / "ca.pem")}, timeout=60)
    assert health.returncode == 0 and "SERVING" in health.stdout, health.stderr


def test_descent_train_end_to_end_over_tls(server, pki):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESCENT_")}
    args = ["train", "--dataset", "digits", "--workers", "2", "--steps", "300", "--json", *server.cli_args]
    result = subprocess.run([sys.executable, "-m", "client.cli", *args, "--tls-ca", str(pki / "ca.pem")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["state"] == "SUCCEEDED" and job["steps"] == 300
    assert sum(w["steps"] for w in job["per_worker"]) == 300  # both workers pushed over TLS
    plain = subprocess.run([sys.executable, "-m", "client.cli", "jobs", *server.cli_args, "--connect-timeout", "3"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 1 and plain.stderr.startswith("error: UNAVAILABLE: "), plain.stderr
