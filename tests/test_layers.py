"""Layers import downward only: protocol < client < ops < connect < {cli, tui}; the broker builds on
the protocol alone; kctl starts the broker from one command and nowhere else.

Every import is read from the source with `ast`, function-level ones included (the CLI imports
lazily), relative ones resolved against their package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {"kctl.protocol": 0, "kctl.client": 1, "kctl.ops": 2, "kctl.connect": 3, "kctl.cli": 4, "kctl.tui": 4}

# The one place each front end may reach sideways or into the broker: the command that runs it.
ALLOWED = {
    ("kctl.cli.app", "kctl.tui.app"),  # `kctl tui` starts the console
    ("kctl.cli.cmd_config", "broker.__main__"),  # `kctl broker start` runs the broker in the foreground
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in the file, at any depth."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            if target in ("kctl", "broker"):  # `from kctl import cli` imports a package too
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def layer_of(module: str) -> int | None:
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def top(module: str) -> str:
    return ".".join(module.split(".")[:2])


def violations(package_dir: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package_dir).rglob("*.py")):
        importer = module_name(path)
        for line, imported in imports(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {imported}"
            if (importer, imported) in ALLOWED:
                continue
            if importer.startswith("broker"):
                if imported.startswith("kctl") and not (imported == "kctl" or imported.startswith("kctl.protocol")):
                    out.append(f"{where}: the broker builds on kctl.protocol only")
                continue
            if imported == "broker" or imported.startswith("broker."):
                out.append(f"{where}: kctl starts the broker only from `kctl broker start`")
                continue
            mine, theirs = layer_of(importer), layer_of(imported)
            if mine is None or theirs is None or top(importer) == top(imported):
                continue
            if theirs > mine:
                out.append(f"{where}: {top(importer)} is below {top(imported)}")
            elif theirs == mine:
                out.append(f"{where}: {top(importer)} and {top(imported)} are front ends side by side")
    return out


@pytest.mark.parametrize("package_dir", ["kctl", "broker"])
def test_imports_go_downward_only(package_dir: str) -> None:
    assert violations(package_dir) == []


def test_the_check_finds_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk is not vacuous: an upward import, a lazy one included, is reported."""
    fake = tmp_path / "kctl" / "ops"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from ..cli.output import render\n    import broker.app\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    found = violations("kctl")
    assert len(found) == 2
    assert "kctl/ops/bad.py:2 imports kctl.cli.output: kctl.ops is below kctl.cli" in found[0]
    assert "kctl starts the broker only" in found[1]


def import_cycles(package_dir: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a circle (type-only and lazy
    imports included: a circle of them still makes one module's seam reach into all the others)."""
    paths = {module_name(p): p for p in (ROOT / package_dir).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found = {imported for _, imported in imports(path)}
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):  # `from . import x`, `from .a import b`: x and a.b may be modules
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                found |= {f"{target}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in paths and m != name}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in graph[v]:
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return cycles


def test_the_connection_and_framing_seams_are_not_import_circles() -> None:
    """The broker's handlers and server are in no import circle: they see the connection through
    `context.ClientConnection`. The protocol's framing and SASL meet in `events`."""
    for cycle in import_cycles("broker"):
        assert not any(m == "broker.server" or m.startswith("broker.handlers") for m in cycle), cycle
        assert len(cycle) <= 4, cycle
    for cycle in import_cycles("kctl/protocol"):
        assert "kctl.protocol.framing" not in cycle, cycle


def test_console_screens_reach_the_app_only_through_its_services() -> None:
    """The screens see the app as `console.Console` and ask it to open things with messages: no
    console module imports the app, and none imports another round a circle."""
    assert import_cycles("kctl/tui") == []
    for path in (ROOT / "kctl" / "tui").glob("*.py"):
        if path.name != "app.py":
            assert "kctl.tui.app" not in {imported for _, imported in imports(path)}, path


def test_the_cli_stands_on_clicks_public_api_alone() -> None:
    """kctl builds its commands with click's public API (`kctl/cli/declare.py`): no module imports
    typer (0.29 converts every value through pydantic and keeps its click private) or a private
    module of click, or reaches for a private name of click's."""
    found = []
    for path in sorted((ROOT / "kctl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}" for name in names  # type: ignore[attr-defined]
                      if name.split(".")[0] == "typer"
                      or (name.split(".")[0] == "click" and any(p.startswith("_") for p in name.split(".")))]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) and node.value.id == "click":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: click.{node.attr}")
    assert not found, "\n".join(found)
