"""Rules every rendered overlay must follow. Each check returns the problems it found (empty when
the manifests comply), so a test can show all of them at once and the checks themselves can be
tested on broken copies of the manifests."""

from __future__ import annotations

import re
from typing import Any

from .manifests import (
    LAG_METRIC,
    LAG_SCALED,
    LLM_CALLERS,
    SERVICE_NAMES,
    Doc,
    containers,
    find,
    main_container,
    pod_spec,
    service_facts,
    workloads,
)

#: Seconds a service needs after SIGTERM: FastStream's graceful broker stop (10 s) drains the
#: handlers in flight; the rest is for closing clients and the outbox relay.
DRAIN_S = 10
TAG = re.compile(r"^[^@]+:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def service_deployments(docs: list[Doc]) -> dict[str, Doc]:
    return {
        d["metadata"]["name"]: d
        for d in find(docs, "Deployment")
        if d["metadata"]["name"] in SERVICE_NAMES
    }


def _port_number(container: Doc, port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    return named.get(port)


def check_probes(docs: list[Doc]) -> list[str]:
    """Startup and liveness on /healthz, readiness on /readyz, all on the service's own port."""
    problems = []
    deployments = service_deployments(docs)
    for name in SERVICE_NAMES:
        if name not in deployments:
            problems.append(f"{name}: no Deployment")
            continue
        container = main_container(deployments[name])
        port = service_facts(name).port
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            get = container.get(probe, {}).get("httpGet")
            if get is None:
                problems.append(f"{name}: no {probe}")
                continue
            if get.get("path") != path:
                problems.append(f"{name}: {probe} asks {get.get('path')}, not {path}")
            if _port_number(container, get.get("port", "")) != port:
                problems.append(f"{name}: {probe} is not on the service port {port}")
    return problems


def check_resources(docs: list[Doc]) -> list[str]:
    """CPU and memory requests and limits on every container of every workload."""
    problems = []
    for workload in workloads(docs):
        for container in containers(workload):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(kind, {}))
                if missing:
                    where = f"{workload['metadata']['name']}/{container['name']}"
                    problems.append(f"{where}: no {kind} for {sorted(missing)}")
    return problems


def _matching(docs: list[Doc], kind: str, deployment: Doc) -> list[Doc]:
    labels = _pod_labels(deployment)
    found = []
    for doc in find(docs, kind):
        selector = doc["spec"].get("selector", doc["spec"].get("podSelector", {}))
        if _selects(selector.get("matchLabels", {}), labels):
            found.append(doc)
    return found


def check_disruption_and_network(docs: list[Doc]) -> list[str]:
    """A PodDisruptionBudget and a NetworkPolicy of its own for every service."""
    problems = []
    for name, deployment in service_deployments(docs).items():
        if len(_matching(docs, "PodDisruptionBudget", deployment)) != 1:
            problems.append(f"{name}: needs exactly one PodDisruptionBudget")
        if not _matching(docs, "NetworkPolicy", deployment):
            problems.append(f"{name}: no NetworkPolicy selects its pods")
    return problems


def _hpa_for(docs: list[Doc], name: str) -> Doc | None:
    for hpa in find(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] == "Deployment" and ref["name"] == name:
            return hpa
    return None


def check_autoscaling(docs: list[Doc], *, lag_metrics: bool) -> list[str]:
    """A CPU autoscaler per service (the HPA owns the replica count), and lag for the consumers."""
    problems = []
    for name, deployment in service_deployments(docs).items():
        hpa = _hpa_for(docs, name)
        if hpa is None:
            problems.append(f"{name}: no HorizontalPodAutoscaler")
            continue
        if "replicas" in deployment["spec"]:
            problems.append(f"{name}: sets replicas although its HPA owns the count")
        metrics = hpa["spec"].get("metrics", [])
        if not any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics):
            problems.append(f"{name}: its HPA does not scale on CPU")
        external = [m["external"] for m in metrics if m["type"] == "External"]
        wanted = lag_metrics and name in LAG_SCALED
        lag = [
            e
            for e in external
            if e["metric"]["name"] == LAG_METRIC
            and e["metric"].get("selector", {}).get("matchLabels") == {"service": name}
        ]
        if wanted and len(lag) != 1:
            problems.append(f"{name}: its HPA does not follow {LAG_METRIC}{{service={name}}}")
        if not wanted and external:
            problems.append(f"{name}: unexpected external metrics {external}")
    return problems


def check_ingress(docs: list[Doc]) -> list[str]:
    """Only the gateway's Service is reachable from outside the cluster."""
    problems = []
    for ingress in find(docs, "Ingress"):
        spec = ingress["spec"]
        backends = [spec["defaultBackend"]] if "defaultBackend" in spec else []
        for rule in spec.get("rules", []):
            backends += [p["backend"] for p in rule.get("http", {}).get("paths", [])]
        for backend in backends:
            target = backend.get("service", {}).get("name")
            if target != "gateway":
                problems.append(f"Ingress {ingress['metadata']['name']} exposes {target}")
    for service in find(docs, "Service"):
        if service["spec"].get("type", "ClusterIP") in ("LoadBalancer", "NodePort"):
            problems.append(f"Service {service['metadata']['name']} is exposed by its type")
    if not find(docs, "Ingress"):
        problems.append("no Ingress for the gateway")
    return problems


def _ingress_peers(policy: Doc) -> list[dict[str, Any]]:
    return [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]


#: The service-to-service reads that are asked of their owner over HTTP (callee, caller); every
#: other call to a service comes from the gateway.
OWNER_READS = frozenset({("chat", "trigger")})


def check_network_isolation(docs: list[Doc]) -> list[str]:
    """Default deny; from outside the namespace only the ingress controller (to the gateway) and
    metrics scrapers; inside it, only the gateway calls the services, besides ``OWNER_READS``."""
    problems = []
    policies = find(docs, "NetworkPolicy")
    if not any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ):
        problems.append("no default-deny NetworkPolicy")
    deployments = service_deployments(docs)
    for policy in policies:
        selected = [
            n
            for n, d in deployments.items()
            if _selects(policy["spec"]["podSelector"].get("matchLabels", {}), _pod_labels(d))
        ]
        for peer in _ingress_peers(policy):
            namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
            outside = namespace.get("kubernetes.io/metadata.name")
            if "ipBlock" in peer or (peer.get("namespaceSelector") is not None and not namespace):
                problems.append(f"{policy['metadata']['name']}: admits any address {peer}")
            elif outside not in (None, "monitoring") and selected != ["gateway"]:
                problems.append(f"{policy['metadata']['name']}: admits namespace {outside}")
            elif outside is None and selected and selected != ["gateway"]:
                caller = peer.get("podSelector", {}).get("matchLabels", {})
                name = caller.get("app.kubernetes.io/name")
                if name != "gateway" and (policy["metadata"]["name"], name) not in OWNER_READS:
                    problems.append(f"{policy['metadata']['name']}: admits {caller or 'any pod'}")
    return problems


def check_non_root(docs: list[Doc]) -> list[str]:
    """Every pod runs as a non-root user, without privilege escalation or capabilities."""
    problems = []
    for workload in workloads(docs):
        name = workload["metadata"]["name"]
        pod = pod_spec(workload).get("securityContext", {})
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: no RuntimeDefault seccomp profile")
        for container in containers(workload):
            context = {**pod, **container.get("securityContext", {})}
            where = f"{name}/{container['name']}"
            if context.get("runAsNonRoot") is not True or not context.get("runAsUser"):
                problems.append(f"{where}: may run as root")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allows privilege escalation")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: keeps Linux capabilities")
    return problems


def check_read_only_root(docs: list[Doc], names: list[str]) -> list[str]:
    problems = []
    for workload in workloads(docs):
        if workload["metadata"]["name"] in names:
            for container in containers(workload):
                if container.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
                    problems.append(
                        f"{workload['metadata']['name']}/{container['name']}: writable root"
                    )
    return problems


def check_images(docs: list[Doc]) -> list[str]:
    """Every image is pinned by an explicit tag other than `latest`."""
    problems = []
    for workload in workloads(docs):
        for container in containers(workload):
            image = container["image"]
            match = TAG.match(image.rsplit("/", 1)[-1])
            if match is None or match["tag"] == "latest":
                problems.append(f"{workload['metadata']['name']}/{container['name']}: {image}")
    return problems


def check_identity(docs: list[Doc]) -> list[str]:
    """Each service has a ServiceAccount of its own and no Kubernetes API token mounted."""
    problems = []
    accounts = {a["metadata"]["name"]: a for a in find(docs, "ServiceAccount")}
    for name, deployment in service_deployments(docs).items():
        spec = pod_spec(deployment)
        account = accounts.get(spec.get("serviceAccountName", ""))
        if spec.get("serviceAccountName") != name or account is None:
            problems.append(f"{name}: does not run as its own ServiceAccount")
        elif account.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: its ServiceAccount mounts an API token")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: its pods mount an API token")
    return problems


def check_migrations(docs: list[Doc]) -> list[str]:
    """A service with a database migrates in an init container of the same image, before it
    starts, and never migrates again from its replicas."""
    problems = []
    for name, deployment in service_deployments(docs).items():
        facts = service_facts(name)
        inits = pod_spec(deployment).get("initContainers", [])
        migrate = [c for c in inits if c.get("args") == ["migrate"]]
        if not facts.has_database:
            if migrate:
                problems.append(f"{name}: has no database but runs migrations")
            continue
        main = main_container(deployment)
        if len(migrate) != 1:
            problems.append(f"{name}: no `migrate` init container")
            continue
        if migrate[0]["image"] != main["image"] or migrate[0]["envFrom"] != main["envFrom"]:
            problems.append(f"{name}: migrates with another image or configuration")
    return problems


def check_graceful_shutdown(docs: list[Doc]) -> list[str]:
    """Endpoints are removed (preStop) before SIGTERM, and the grace period covers the drain."""
    problems = []
    for name, deployment in service_deployments(docs).items():
        sleep = main_container(deployment).get("lifecycle", {}).get("preStop", {}).get("sleep")
        if sleep is None:
            problems.append(f"{name}: no preStop pause before SIGTERM")
            continue
        grace = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
        if grace < sleep["seconds"] + DRAIN_S + 10:
            problems.append(f"{name}: {grace}s of grace cannot cover the drain")
    return problems


def check_internet_egress(docs: list[Doc]) -> list[str]:
    """Only the services that call LLM providers leave the cluster, on 443, never to private
    ranges (which would open every in-cluster address)."""
    problems = []
    for policy in find(docs, "NetworkPolicy"):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        for rule in policy["spec"].get("egress", []):
            blocks = [p["ipBlock"] for p in rule.get("to", []) if "ipBlock" in p]
            if not any(b["cidr"] == "0.0.0.0/0" for b in blocks):
                continue
            name = policy["metadata"]["name"]
            if selector.get("app.kubernetes.io/name") not in LLM_CALLERS:
                problems.append(f"{name}: lets {selector or 'every pod'} out to the internet")
            if [p.get("port") for p in rule.get("ports", [])] != [443]:
                problems.append(f"{name}: internet egress is not limited to 443")
            if not all(
                {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(b.get("except", []))
                for b in blocks
            ):
                problems.append(f"{name}: internet egress includes private ranges")
    return problems
