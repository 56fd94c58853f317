"""The import graph in numbers (issue #21): import cycles between modules and imports that
break the layer order (the `ignore_imports` debt of the contracts in pyproject.toml).

    .venv/bin/python lint/import_graph.py [tree]     # default: this checkout
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child) & modules
                    work.append((child, iter(sorted(imported))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def main(tree: Path) -> None:
    config = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["importlinter"]
    sys.path[:0] = [str(tree / "lint"), str(tree)]
    graph = grimp.build_graph(*config["root_packages"], cache_dir=None)
    modules = set(graph.modules)
    cycles = _cycles(graph, modules)
    print(f"modules: {len(modules)}, imports: {graph.count_imports()}")
    print(f"import cycles: {len(cycles)} ({sum(map(len, cycles))} modules in them)")
    for component in cycles:
        print("  " + " <-> ".join(sorted(component)))
    for contract in config["contracts"]:
        print(f"{contract['id']}: {len(contract.get('ignore_imports', []))} ignored imports")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
