"""Both overlays render with kustomize and every manifest is valid Kubernetes, offline."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from .manifests import K8S, KUBERNETES_VERSIONS, OVERLAYS, RenderError, find, render, render_dir


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(overlay: str) -> None:
    docs = render(overlay)

    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "Service", "Ingress", "NetworkPolicy"} <= kinds
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {"coagent-dev" if overlay == "dev" else "coagent"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manifest_matches_the_kubernetes_schema(overlay: str, version: str) -> None:
    failures = []
    for doc in render(overlay):
        try:
            # strict: an unknown or misspelt field is an error, not silently dropped.
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")

    assert failures == []


def test_the_validator_rejects_a_misspelt_field() -> None:
    deployment = find(render("prod"), "Deployment", "chat")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_a_broken_kustomization_fails_to_render(tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    (copy / "base" / "services" / "chat" / "pdb.yaml").unlink()

    with pytest.raises(RenderError, match="pdb.yaml"):
        render_dir(copy / "overlays" / "dev")


def _data(docs: list[dict[str, Any]], prefix: str) -> dict[str, str]:
    (config,) = [
        d for d in find(docs, "ConfigMap") if d["metadata"]["name"].startswith(prefix + "-")
    ]
    data: dict[str, str] = config["data"]
    return data


def test_configuration_changes_roll_the_pods() -> None:
    # Generated ConfigMaps carry a content hash in their name and the Deployments refer to that
    # name, so changing a value creates a new ReplicaSet instead of leaving stale pods.
    docs = render("prod")
    chat = find(docs, "Deployment", "chat")[0]
    refs = [
        r["configMapRef"]["name"]
        for r in chat["spec"]["template"]["spec"]["containers"][0]["envFrom"]
        if "configMapRef" in r
    ]

    assert all(name.rsplit("-", 1)[0] in ("coagent-common", "chat") for name in refs)
    assert all(len(name.rsplit("-", 1)[1]) == 10 for name in refs)
    assert _data(docs, "coagent-common")["COAGENT_ENV"] == "prod"
