"""What every rendered overlay guarantees for each service: probes, limits, a PDB, an HPA and a
NetworkPolicy; only the gateway exposed; nothing as root; pinned images; migrations first."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from . import checks
from .manifests import LLM_CALLERS, OVERLAYS, SERVICE_NAMES, Doc, find, main_container, render

Check = Callable[[list[Doc]], list[str]]

ALWAYS: dict[str, Check] = {
    "probes": checks.check_probes,
    "resources": checks.check_resources,
    "disruption and network": checks.check_disruption_and_network,
    "ingress": checks.check_ingress,
    "network isolation": checks.check_network_isolation,
    "non-root": checks.check_non_root,
    "images": checks.check_images,
    "identity": checks.check_identity,
    "migrations": checks.check_migrations,
    "graceful shutdown": checks.check_graceful_shutdown,
    "internet egress": checks.check_internet_egress,
}


def test_the_fleet_is_every_service_of_the_repository() -> None:
    assert len(SERVICE_NAMES) == 6
    for overlay in OVERLAYS:
        names = set(checks.service_deployments(render(overlay)))
        assert names == set(SERVICE_NAMES)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("rule", sorted(ALWAYS))
def test_overlay_follows_the_rule(overlay: str, rule: str) -> None:
    assert ALWAYS[rule](render(overlay)) == []


def test_prod_scales_the_consumers_on_lag_and_every_service_on_cpu() -> None:
    assert checks.check_autoscaling(render("prod"), lag_metrics=True) == []


def test_dev_scales_on_cpu_only() -> None:
    assert checks.check_autoscaling(render("dev"), lag_metrics=False) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_fleet_and_its_broker_have_read_only_root_file_systems(overlay: str) -> None:
    names = [*SERVICE_NAMES, "nats", "otel-collector"]

    assert checks.check_read_only_root(render(overlay), names) == []


# ------------------------------------------------------------ the checks catch what they guard


def _deployment(docs: list[Doc], name: str) -> Doc:
    return find(docs, "Deployment", name)[0]


def _drop_readiness(docs: list[Doc]) -> None:
    del main_container(_deployment(docs, "chat"))["readinessProbe"]


def _liveness_on_readyz(docs: list[Doc]) -> None:
    main_container(_deployment(docs, "trigger"))["livenessProbe"]["httpGet"]["path"] = "/readyz"


def _no_limits(docs: list[Doc]) -> None:
    del main_container(_deployment(docs, "graphrag-query"))["resources"]["limits"]


def _no_pdb(docs: list[Doc]) -> None:
    docs.remove(find(docs, "PodDisruptionBudget", "workflow-engine")[0])


def _expose_chat(docs: list[Doc]) -> None:
    rule = find(docs, "Ingress", "gateway")[0]["spec"]["rules"][0]
    backend = {"service": {"name": "chat", "port": {"name": "http"}}}
    rule["http"]["paths"].append({"path": "/chat", "pathType": "Prefix", "backend": backend})


def _root_user(docs: list[Doc]) -> None:
    main_container(_deployment(docs, "gateway"))["securityContext"]["runAsUser"] = 0


def _latest_image(docs: list[Doc]) -> None:
    container = main_container(_deployment(docs, "chat"))
    container["image"] = container["image"].rsplit(":", 1)[0] + ":latest"


def _untagged_image(docs: list[Doc]) -> None:
    container = main_container(_deployment(docs, "trigger"))
    container["image"] = container["image"].rsplit(":", 1)[0]


def _chat_open_to_all(docs: list[Doc]) -> None:
    policy = find(docs, "NetworkPolicy", "chat")[0]
    policy["spec"]["ingress"].append({"from": [{"podSelector": {}}]})


def _chat_open_to_the_engine(docs: list[Doc]) -> None:
    engine = {"app.kubernetes.io/name": "workflow-engine", "app.kubernetes.io/component": "service"}
    policy = find(docs, "NetworkPolicy", "chat")[0]
    policy["spec"]["ingress"].append({"from": [{"podSelector": {"matchLabels": engine}}]})


def _no_migration(docs: list[Doc]) -> None:
    del _deployment(docs, "gateway")["spec"]["template"]["spec"]["initContainers"]


def _short_grace(docs: list[Doc]) -> None:
    _deployment(docs, "workflow-engine")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 5


def _chat_on_the_internet(docs: list[Doc]) -> None:
    egress = find(docs, "NetworkPolicy", "workflow-engine")[0]["spec"]["egress"][-1]
    find(docs, "NetworkPolicy", "chat")[0]["spec"]["egress"].append(copy.deepcopy(egress))


def _token_mounted(docs: list[Doc]) -> None:
    _deployment(docs, "graphrag-ingest")["spec"]["template"]["spec"][
        "automountServiceAccountToken"
    ] = True


@pytest.mark.parametrize(
    ("breakage", "rule", "culprit"),
    [
        (_drop_readiness, "probes", "chat: no readinessProbe"),
        (_liveness_on_readyz, "probes", "trigger: livenessProbe asks /readyz"),
        (_no_limits, "resources", "graphrag-query/graphrag-query: no limits"),
        (_no_pdb, "disruption and network", "workflow-engine: needs exactly one"),
        (_expose_chat, "ingress", "exposes chat"),
        (_root_user, "non-root", "gateway/gateway: may run as root"),
        (_latest_image, "images", ":latest"),
        (_untagged_image, "images", "trigger/trigger"),
        (_chat_open_to_all, "network isolation", "chat: admits any pod"),
        (_chat_open_to_the_engine, "network isolation", "chat: admits {'app.kubernetes.io/name'"),
        (_no_migration, "migrations", "gateway: no `migrate` init container"),
        (_short_grace, "graceful shutdown", "workflow-engine: 5s of grace"),
        (_token_mounted, "identity", "graphrag-ingest: its pods mount an API token"),
        (_chat_on_the_internet, "internet egress", "chat: lets"),
    ],
)
def test_a_check_reports_what_breaks_its_rule(
    breakage: Callable[[list[Doc]], None], rule: str, culprit: str
) -> None:
    docs = copy.deepcopy(render("prod"))
    breakage(docs)

    problems = ALWAYS[rule](docs)

    assert any(culprit in problem for problem in problems), problems


def test_the_autoscaling_check_notices_a_missing_lag_metric() -> None:
    docs = render("prod")
    hpa = find(docs, "HorizontalPodAutoscaler", "graphrag-ingest")[0]
    hpa["spec"]["metrics"] = [m for m in hpa["spec"]["metrics"] if m["type"] != "External"]

    problems = checks.check_autoscaling(docs, lag_metrics=True)

    assert problems == [
        "graphrag-ingest: its HPA does not follow "
        "coagent_jetstream_consumer_pending{service=graphrag-ingest}"
    ]


def test_llm_callers_can_reach_providers_over_https() -> None:
    docs = render("prod")
    for name in SERVICE_NAMES:
        egress = find(docs, "NetworkPolicy", name)[0]["spec"]["egress"]
        public = [r for r in egress if any("ipBlock" in p for p in r.get("to", []))]
        assert bool(public) is (name in LLM_CALLERS), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_keeps_websockets_open(overlay: str) -> None:
    (ingress,) = find(render(overlay), "Ingress")
    notes = ingress["metadata"]["annotations"]

    for direction in ("read", "send"):
        assert int(notes[f"nginx.ingress.kubernetes.io/proxy-{direction}-timeout"]) >= 3600
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
