"""The package's import structure: one-way layers, no cycles (docs/ARCHITECTURE.md).

Every module under src/deepexpr is parsed with `ast`; every `import` / `from ... import`
counts, at module level and inside functions (a lazy import is still a dependency and can
still close a cycle at run time). Each module belongs to an *area* (its top-level name under
`deepexpr`), each area to a *layer*. A new area is one line in `LAYERS`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "deepexpr"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

# Layers from the most basic (imported by everyone) to the front ends. A module may import
# its own layer and the layers before it; within one layer, areas must not form a cycle.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("leaf helpers", frozenset({"expressions", "landmarks", "landmarks83", "errors", "io",
                                "inputs", "progress", "sheet", "version"})),
    ("inputs", frozenset({"data", "characters", "faces"})),
    ("models", frozenset({"models"})),
    ("train", frozenset({"train"})),
    ("evaluation", frozenset({"evaluation"})),
    ("applications", frozenset({"recognition", "retrieval", "translate", "animation",
                                "retarget", "video", "video_draw", "stylized"})),
    # `deepexpr` is the package's own __init__ (the `predict_emotion` facade).
    ("front ends", frozenset({"cli", "studio", PACKAGE})),
)
# Inference: these areas must not reach `train` at all, not even through another module.
INFERENCE_AREAS = frozenset({"recognition", "retrieval", "translate", "animation", "retarget",
                             "video", "video_draw", "stylized"})
TRAINING_AREAS = frozenset({"train"})


def module_name(path: Path) -> str:
    """`src/deepexpr/data/ferg.py` -> `deepexpr.data.ferg`; a package's __init__ -> the package."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a (possibly relative) `from X import ...` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules `module` imports anywhere in its file (the most specific ones)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            # `from pkg import sub` imports the module pkg.sub when there is one.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                     for a in node.names]
        else:
            continue
        for name in names:
            target = _known_prefix(name, modules)
            if target is not None and target != module:
                targets.add(target)
    return targets


def _known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    """The longest package module that `name` is or lies in (None outside the package)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def area_of(module: str) -> str:
    """`deepexpr.data.ferg` -> `data`; `deepexpr.io` -> `io`; `deepexpr` -> `deepexpr`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_index() -> dict[str, int]:
    return {area: i for i, (_, areas) in enumerate(LAYERS) for area in areas}


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    modules = find_modules()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None (iterative DFS, deterministic)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in sorted(graph):
        if root in state:
            continue
        stack = [(root, iter(sorted(graph.get(root, ()))))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def _edges_between(graph, a_members: set[str], b_members: set[str]) -> list[str]:
    return sorted(f"{m} -> {t}" for m in a_members for t in graph[m] if t in b_members)


# ---------------------------------------------------------------------------- the checks


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_every_area_has_a_layer(graph):
    layers = layer_index()
    unknown = sorted({area_of(m) for m in graph} - set(layers))
    assert not unknown, f"areas without a layer: {unknown}; add them to LAYERS in {__file__}"


def test_no_cycle_between_modules(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between modules: " + " -> ".join(cycle)


def test_no_cycle_between_areas(graph):
    area_graph: dict[str, set[str]] = {}
    for m, targets in graph.items():
        area_graph.setdefault(area_of(m), set()).update(
            area_of(t) for t in targets if area_of(t) != area_of(m))
    cycle = find_cycle(area_graph)
    if cycle is None:
        return
    members = {a: {m for m in graph if area_of(m) == a} for a in cycle}
    edges = [e for a, b in zip(cycle, cycle[1:]) for e in _edges_between(graph, members[a], members[b])]
    pytest.fail("import cycle between areas " + " -> ".join(cycle) + ":\n  " + "\n  ".join(edges))


def test_imports_follow_the_layer_order(graph):
    layers = layer_index()
    wrong = [
        f"{m} -> {t}  ({LAYERS[layers[area_of(m)]][0]} imports {LAYERS[layers[area_of(t)]][0]})"
        for m, targets in sorted(graph.items()) for t in sorted(targets)
        if layers.get(area_of(t), -1) > layers.get(area_of(m), len(LAYERS))
    ]
    assert not wrong, "imports against the layer order:\n  " + "\n  ".join(wrong)


def test_inference_never_reaches_train(graph):
    """No chain of imports leads from an application module to `train/`."""
    wrong = []
    for start in sorted(m for m in graph if area_of(m) in INFERENCE_AREAS):
        seen, frontier = {start: None}, [start]
        while frontier:
            node = frontier.pop()
            for t in sorted(graph[node]):
                if t not in seen:
                    seen[t] = node
                    frontier.append(t)
        reached = sorted(t for t in seen if area_of(t) in TRAINING_AREAS)
        if reached:
            chain, node = [], reached[0]
            while node is not None:
                chain.append(node)
                node = seen[node]
            wrong.append(" -> ".join(reversed(chain)))
    assert not wrong, "inference reaches train/:\n  " + "\n  ".join(wrong)


# ------------------------------------------------------------ the checker checks itself


def test_checker_reads_lazy_and_relative_imports(tmp_path, monkeypatch):
    pkg = tmp_path / PACKAGE
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "io.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("from . import ferg\n")
    (pkg / "data" / "ferg.py").write_text(
        "def f():\n    from ..io import x\n    import deepexpr.data.folders as fo\n")
    (pkg / "data" / "folders.py").write_text("from deepexpr.data import ferg\n")
    monkeypatch.setattr(f"{__name__}.SRC", pkg)
    g = import_graph()
    assert g["deepexpr.data.ferg"] == {"deepexpr.io", "deepexpr.data.folders"}
    assert g["deepexpr.data"] == {"deepexpr.data.ferg"}
    assert find_cycle(g) == ["deepexpr.data.ferg", "deepexpr.data.folders", "deepexpr.data.ferg"]


def test_find_cycle_none_on_a_dag():
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
