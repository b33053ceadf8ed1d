"""Plain directed-graph algorithms on adjacency maps, shared by validation and the query index.

Iterative on purpose: a stored graph may hold hundreds of nodes and recursion depth must not
depend on user input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

Adjacency = Mapping[str, Sequence[str]]


def reachable(roots: Iterable[str], adjacency: Adjacency) -> list[str]:
    """Nodes reachable from ``roots`` (roots included), in breadth-first order."""
    order: list[str] = []
    seen: set[str] = set()
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        queue.extend(n for n in adjacency.get(node, ()) if n not in seen)
    return order


def reverse(adjacency: Adjacency) -> dict[str, list[str]]:
    """The same graph with every edge turned around."""
    result: dict[str, list[str]] = {}
    for source, targets in adjacency.items():
        for target in targets:
            result.setdefault(target, []).append(source)
    return result


def strongly_connected(nodes: Sequence[str], adjacency: Adjacency) -> list[list[str]]:
    """Tarjan's strongly connected components, each listed in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = adjacency.get(node, ())
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if work:  # propagate low-link to the parent once all children are done
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component[::-1])
    return components


def is_cycle(component: Sequence[str], adjacency: Adjacency) -> bool:
    """A component is a cycle if it has several nodes or one node with an edge to itself."""
    return len(component) > 1 or component[0] in adjacency.get(component[0], ())
