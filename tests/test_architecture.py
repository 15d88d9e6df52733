"""The architecture, checked from the source (docs/architecture.md draws it).

Packages sit in layers; a package imports only packages of lower layers (function-level and
type-checking imports included), so the package graph has no cycles. The composition modules
at the top (app, worker, wiring, cli, demo, ...) may import anything below them. Every package
must be placed here: a new one fails this test until someone decides its layer.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PRODUCT = SRC / "socialcrm"
SANDBOX = SRC / "socialcrm_sandbox"

# Lower number = lower layer. Same number = siblings, which must not import each other.
LAYERS: dict[str, int] = {
    "core": 0,
    "tenancy": 1,
    "providers": 1,
    "crm": 2,
    "connections": 2,
    "audit": 2,
    "identity": 3,
    "discovery": 3,
    "signatures": 3,
    "enrichment": 4,
    "listening": 4,
    "publishing": 5,
    "engage": 6,
    # The composition root and the HTTP edge: they put the domains together.
    "web": 7,
    "wiring": 7,
    "all_models": 7,
    "app": 8,
    "worker": 8,
    "demo": 8,
    "cli": 9,
    "migrations": 8,
}


def _modules(root: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, parts


def _is_module(path: Path) -> bool:
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path, parts: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """Every module name ``path`` imports (absolute), with the line."""
    package = parts if path.name == "__init__.py" else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join((*base, node.module) if node.module else base)
            else:
                name = node.module or ""
            yield name, node.lineno
            for alias in node.names:  # ``from socialcrm import crm`` (not ``__version__``)
                if name == "socialcrm" and _is_module(PRODUCT / alias.name):
                    yield f"{name}.{alias.name}", node.lineno


def _package_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path, parts in _modules(PRODUCT):
        if len(parts) < 2:
            continue
        source = parts[1]
        for name, line in _imports(path, parts):
            bits = name.split(".")
            if bits[0] == "socialcrm" and len(bits) > 1 and bits[1] != source:
                edges[(source, bits[1])].append(f"{path.relative_to(SRC)}:{line}")
            elif bits[0] == "socialcrm_sandbox":
                edges[(source, "socialcrm_sandbox")].append(f"{path.relative_to(SRC)}:{line}")
    return edges


def test_every_package_has_a_layer() -> None:
    names = {
        p.stem if p.is_file() else p.name
        for p in PRODUCT.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert sorted(names - LAYERS.keys()) == [], "place each new package in LAYERS"


def test_packages_import_only_lower_layers() -> None:
    wrong = [
        f"{src} (layer {LAYERS.get(src)}) imports {dst} (layer {LAYERS.get(dst)}): {where[0]}"
        for (src, dst), where in sorted(_package_edges().items())
        if dst != "socialcrm_sandbox" and LAYERS.get(dst, 99) >= LAYERS.get(src, 99)
    ]
    assert wrong == [], "\n".join(wrong)


def test_package_graph_has_no_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in _package_edges():
        graph[src].add(dst)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
                return True
            if nxt not in state and visit(nxt, [*trail, nxt]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if node not in state and visit(node, [node]):
            break
    assert cycle == []


def test_core_imports_nothing_above_it() -> None:
    edges = _package_edges()
    assert [k for k in edges if k[0] == "core"] == []


def test_the_sandbox_stands_beside_the_product() -> None:
    """The sandbox imitates the networks; it knows nothing of the product. Only the
    composition (demo, cli) starts it."""
    if not SANDBOX.exists():
        pytest.fail("the sandbox is its own package: src/socialcrm_sandbox")
    for path, parts in _modules(SANDBOX):
        for name, line in _imports(path, parts):
            assert not name.startswith("socialcrm.") and name != "socialcrm", (
                f"{path.relative_to(SRC)}:{line} imports {name}"
            )
    users = {src for (src, dst) in _package_edges() if dst == "socialcrm_sandbox"}
    assert users <= {"cli", "demo", "app"}, users


def test_no_session_listeners_outside_core() -> None:
    """Cross-domain side effects are explicit events (core/events.py, wired in wiring.py),
    not SQLAlchemy listeners a module registers by being imported."""
    found = []
    for path, parts in _modules(PRODUCT):
        if len(parts) > 1 and parts[1] == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"listens_for", "listen"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "event"
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []


def test_no_private_names_across_packages() -> None:
    """A package uses another's public names only (``_check_csrf`` was imported by seven)."""
    found = []
    for path, parts in _modules(PRODUCT):
        if len(parts) < 2:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                bits = node.module.split(".")
                if bits[0] != "socialcrm" or len(bits) < 2 or bits[1] == parts[1]:
                    continue
                found += [
                    f"{path.relative_to(SRC)}:{node.lineno} {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert found == []


def test_long_modules_say_why() -> None:
    """No module over ~500 lines without the reason stated in its docstring."""
    long = []
    for path, _parts in _modules(PRODUCT):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        if text.count("\n") > 550:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "one module" not in doc.lower():
                long.append(f"{path.relative_to(SRC)} ({text.count(chr(10))} lines)")
    assert long == [], "\n".join(long)
