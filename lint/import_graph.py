"""The import graph in numbers: import cycles, and the imports that break the layer order
written in pyproject.toml's import-linter contracts (the debt their `ignore_imports` lists
excuse). Run from the repository root:

    .venv/bin/python lint/import_graph.py [--list]

Counts are of direct imports between modules (every `import`, also those inside functions
and under TYPE_CHECKING, as import-linter sees them). A cycle group is a set of modules
that all reach each other (a strongly connected component of more than one module);
"between siblings" squashes each package's children first, as the `acyclic_siblings`
contract does, so two modules of one app importing each other through helpers count once.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grimp

REPO_ROOT = Path(__file__).resolve().parents[1]
Edge = tuple[str, str]


def within(module: str, packages: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def strongly_connected(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is deep enough for recursion limits)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [group for group in groups if len(group) > 1]


@dataclass
class Graph:
    modules: set[str]
    imports: set[Edge]

    @classmethod
    def build(cls, root_packages: list[str]) -> Graph:
        graph = grimp.build_graph(*root_packages, cache_dir=None)
        imports = {
            (importer, imported)
            for importer in graph.modules
            for imported in graph.find_modules_directly_imported_by(importer)
        }
        return cls(set(graph.modules), imports)

    def module_cycles(self) -> list[set[str]]:
        edges: dict[str, set[str]] = {}
        for importer, imported in self.imports:
            edges.setdefault(importer, set()).add(imported)
        return strongly_connected(sorted(self.modules), edges)

    def app_cycles(self) -> list[set[str]]:
        """Cycle groups among the root packages (the apps and harbor_py)."""
        edges: dict[str, set[str]] = {}
        for importer, imported in self.imports:
            a, b = importer.split(".")[0], imported.split(".")[0]
            if a != b:
                edges.setdefault(a, set()).add(b)
        return strongly_connected(sorted({m.split(".")[0] for m in self.modules}), edges)

    def sibling_cycles(self) -> list[set[str]]:
        """Cycle groups among the children of each package, each child standing for itself
        and its descendants."""
        found = []
        for package in sorted(self.modules):
            prefix = package + "."
            children = {
                m for m in self.modules if m.startswith(prefix) and "." not in m[len(prefix) :]
            }
            if len(children) < 2:
                continue

            def child_of(module: str, prefix: str = prefix) -> str | None:
                if not module.startswith(prefix):
                    return None
                return prefix + module[len(prefix) :].split(".")[0]

            edges: dict[str, set[str]] = {}
            for importer, imported in self.imports:
                a, b = child_of(importer), child_of(imported)
                if a and b and a != b:
                    edges.setdefault(a, set()).add(b)
            found += strongly_connected(sorted(children), edges)
        return found


def _layer_names(entry: str) -> list[str]:
    return [name.strip() for name in entry.replace(":", "|").split("|")]


def breaking_imports(contract: dict[str, Any], graph: Graph) -> set[Edge]:
    """The direct imports that break one contract, before its ignore_imports."""
    kind = contract["type"]
    if kind == "forbidden":
        return {
            (a, b)
            for a, b in graph.imports
            if within(a, contract["source_modules"]) and within(b, contract["forbidden_modules"])
        }
    if kind == "layers":
        containers = contract.get("containers", [""])
        broken: set[Edge] = set()
        for container in containers:
            prefix = container + "." if container else ""
            layers = [[prefix + n for n in _layer_names(e)] for e in contract["layers"]]
            for high, higher in enumerate(layers):
                for lower in layers[high + 1 :]:
                    broken |= {
                        (a, b) for a, b in graph.imports if within(a, lower) and within(b, higher)
                    }
                if len(higher) > 1 and "|" in contract["layers"][high]:
                    broken |= {
                        (a, b)
                        for a, b in graph.imports
                        for x in higher
                        for y in higher
                        if x != y and within(a, [x]) and within(b, [y])
                    }
        return broken
    if kind == "protected":
        allowed = contract.get("allowed_importers", [])
        return {
            (a, b)
            for a, b in graph.imports
            for protected in contract["protected_modules"]
            if within(b, [protected]) and not within(a, [protected]) and not within(a, allowed)
        }
    return set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="name every cycle and import")
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    args = parser.parse_args()
    sys.path.insert(1, str(REPO_ROOT))  # after lint/, the script's own folder (see pyproject)
    config = tomllib.loads(args.pyproject.read_text())["tool"]["importlinter"]
    graph = Graph.build(config["root_packages"])
    print(f"modules: {len(graph.modules)}, direct imports between them: {len(graph.imports)}")

    for title, groups, members in (
        ("cycle groups between modules", graph.module_cycles(), "modules"),
        ("cycle groups between siblings", graph.sibling_cycles(), "modules"),
        ("cycle groups between apps", graph.app_cycles(), "packages"),
    ):
        print(f"{title}: {len(groups)} ({sum(len(g) for g in groups)} {members})")
        if args.list:
            for group in sorted(groups, key=sorted):
                print("    " + " <-> ".join(sorted(group)))

    total: set[Edge] = set()
    for contract in config.get("contracts", []):
        broken = breaking_imports(contract, graph)
        if not broken and contract["type"] not in {"forbidden", "layers", "protected"}:
            continue
        total |= broken
        print(f"imports against contract {contract['id']!r} ({contract['type']}): {len(broken)}")
        if args.list:
            for a, b in sorted(broken):
                print(f"    {a} -> {b}")
    print(f"imports against the layer order, all contracts: {len(total)}")


if __name__ == "__main__":
    main()
