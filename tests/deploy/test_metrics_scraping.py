"""How Prometheus finds the fleet's /metrics: pod annotations, or the Prometheus Operator's
PodMonitors (components/prometheus-operator), which must select every service and NATS pod."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .manifests import K8S, OVERLAYS, SERVICE_NAMES, Doc, find, render, render_dir

COMPONENT = "../../components/prometheus-operator"


def _pods(docs: list[Doc]) -> dict[str, Doc]:
    """The pod template of every Deployment and StatefulSet, by workload name."""
    return {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in [*find(docs, "Deployment"), *find(docs, "StatefulSet")]
    }


def _port(pod: Doc, name: str) -> int | None:
    for container in pod["spec"]["containers"]:
        for port in container.get("ports", []):
            if port.get("name") == name:
                return int(port["containerPort"])
    return None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_pod_is_annotated_for_scraping_on_its_http_port(overlay: str) -> None:
    docs = render(overlay)
    pods = _pods(docs)
    for name in SERVICE_NAMES:
        annotations = pods[name]["metadata"].get("annotations", {})
        http = _port(pods[name], "http")
        assert annotations.get("prometheus.io/scrape") == "true", name
        assert annotations.get("prometheus.io/path") == "/metrics", name
        assert http is not None, name
        assert annotations.get("prometheus.io/port") == str(http), name
    nats = pods["nats"]["metadata"]["annotations"]
    assert nats["prometheus.io/port"] == str(_port(pods["nats"], "metrics"))


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    """The prod overlay with the Prometheus Operator component added, as the docs say."""
    root = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, root)
    kustomization = root / "overlays" / "prod" / "kustomization.yaml"
    config = yaml.safe_load(kustomization.read_text())
    config["components"] = [*config.get("components", []), COMPONENT]
    kustomization.write_text(yaml.safe_dump(config))
    return render_dir(Path(kustomization.parent))


def test_the_pod_monitors_select_every_service_and_nats_pod(monitored: list[Doc]) -> None:
    monitors = {m["metadata"]["name"]: m for m in find(monitored, "PodMonitor")}
    assert set(monitors) == {"coagent-services", "coagent-nats"}
    pods = _pods(monitored)
    selected: dict[str, set[str]] = {}
    for name, monitor in monitors.items():
        assert monitor["metadata"]["namespace"] == "coagent"
        wanted = monitor["spec"]["selector"]["matchLabels"]
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["path"] == "/metrics"
        for workload, pod in pods.items():
            labels = pod["metadata"]["labels"]
            if all(labels.get(k) == v for k, v in wanted.items()):
                assert _port(pod, endpoint["port"]) is not None, (name, workload)
                selected.setdefault(name, set()).add(workload)
    assert selected["coagent-services"] == set(SERVICE_NAMES)
    assert selected["coagent-nats"] == {"nats"}
