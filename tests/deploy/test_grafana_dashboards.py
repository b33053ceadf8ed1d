"""The Grafana dashboards under deploy/grafana query only metrics the fleet defines.

Every metric name in every panel's PromQL must be exported by the kit or a service (their
metrics modules, the broker's middlewares), so a renamed or removed metric breaks this test
instead of leaving an empty panel.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from coagent_kit.broker import create_broker

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
#: Every module that defines metrics; importing them registers their collectors.
METRIC_MODULES = (
    "coagent_kit.metrics",
    "coagent_kit.consumer_metrics",
    "coagent_kit.broker",
    "coagent_trigger.metrics",
    "coagent_workflow_engine.metrics",
    "coagent_chat.metrics",
    "coagent_gateway.metrics",
)
#: PromQL words that look like identifiers but are not metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}


def fleet_metric_names() -> set[str]:
    """Every series name the fleet's registries can export."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    create_broker("nats://127.0.0.1:1", "dashboards")  # registers FastStream's metrics
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)  # dashboard variables
    text = re.sub(r"\b\d+(?:\.\d+)?(?:ms|[smhdwy])?\b", "", text)  # numbers and durations
    found = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        follows = text[match.end() :].lstrip()[:1]
        if follows == "(" or name.lower() in KEYWORDS:
            continue  # a function or an aggregation
        found.add(name)
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows keep theirs inside
    return found


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query, the template variables' included."""
    exprs = [
        (panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable["type"] == "query":
            # Grafana's label_values(<series>, <label>): the series is the PromQL part.
            found = re.fullmatch(r"label_values\((.*),\s*\w+\)", query["query"].strip())
            assert found, f"unexpected variable query {query['query']!r}"
            exprs.append((f"${variable['name']}", found.group(1)))
    return exprs


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_is_a_fleet_dashboard() -> None:
    assert [p.name for p in DASHBOARDS] == ["coagent-fleet.json"]


def test_the_extractor_finds_metrics_and_skips_the_rest() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) "
        '(rate(a_seconds_bucket{x="y"}[$__rate_interval])))'
        " / on (service) group_left sum(b_total offset 5m) or vector(0)"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_queried_metric_exists_in_the_fleet(path: Path) -> None:
    known = fleet_metric_names()
    missing = {
        (title, name)
        for title, expr in expressions(load(path))
        for name in metric_names(expr)
        if name not in known
    }
    assert not missing, f"panels query metrics no service defines: {sorted(missing)}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_uses_the_datasource_variable(path: Path) -> None:
    dashboard = load(path)
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    uid = "${" + variable["name"] + "}"
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
            assert metric_names(target["expr"]), (panel["title"], target["expr"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_do_not_overlap_and_ids_are_unique(path: Path) -> None:
    found = panels(load(path))
    ids = [p["id"] for p in found]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in found:
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
