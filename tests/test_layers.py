"""corral's packages stack in layers: no import cycle between them, each imports only the
layers below it, and the values everything shares (money, the clock) import nothing of corral.

The graph is read from the source with `ast`, not by importing it. Every import statement
counts, wherever it stands: at module level, under `if TYPE_CHECKING`, or inside a function.
A type-only or deferred import is still a dependency on the other package; deferring it hides
a cycle from the interpreter but not from the reader, and the first refactoring that moves it
to the top of the module brings the cycle back as an ImportError.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src"
ROOT = SRC / "corral"

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "storage observability",
        "privacy backends",
        "catalog metering files jobs",
        "accounts routing",
        "pipeline",
        "responses tasks evals finetune",
        "api",
        "server",
        "cli",
    )
)
"""corral's subpackages from the bottom up: each may import its own layer's packages only if
that makes no cycle, and any package of a lower layer."""

BASE_MODULES = ("corral.errors", "corral.money", "corral.clock")
"""Below every package: they import nothing of corral but `corral.errors`."""


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    """The importing module, e.g. `corral.accounts.access`."""
    imported: str
    """The corral module (or package) it names, e.g. `corral.catalog.licences`."""
    line: int

    def __str__(self) -> str:
        return f"{self.importer} imports {self.imported} (line {self.line})"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = frozenset(module_name(path) for path in ROOT.rglob("*.py"))


def resolve(name: str) -> str:
    """The module a dotted name lives in: `corral.accounts.admin.UNSET` -> its module."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def imports_of(path: Path) -> Iterator[Import]:
    """Every corral module `path` imports, wherever the statement stands."""
    importer = module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from corral.catalog import added_models` names a module, not just a package.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in sorted({resolve(name) for name in names}):
            if name.startswith("corral.") and name != importer:
                yield Import(importer, name, node.lineno)


def all_imports() -> list[Import]:
    return [found for path in sorted(ROOT.rglob("*.py")) for found in imports_of(path)]


def package_of(module: str) -> str | None:
    """The first-level subpackage `module` belongs to; None for corral's own modules
    (`corral.settings`, `corral.money`, ...)."""
    parts = module.split(".")
    if len(parts) < 2 or not (ROOT / parts[1]).is_dir():
        return None
    return parts[1]


def package_graph(imports: list[Import]) -> dict[str, dict[str, list[Import]]]:
    """package -> the packages it imports -> the imports that make the edge."""
    graph: dict[str, dict[str, list[Import]]] = {}
    for found in imports:
        source, target = package_of(found.importer), package_of(found.imported)
        if source is None or target is None or source == target:
            continue
        graph.setdefault(source, {}).setdefault(target, []).append(found)
    return graph


def find_cycle(graph: dict[str, dict[str, list[Import]]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, {})):
            cycle = visit(target, [*path, node])
            if cycle is not None:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle is not None:
            return cycle
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, list[Import]]]) -> str:
    steps = [
        f"  {source} -> {target}: {graph[source][target][0]}" for source, target in pairwise(cycle)
    ]
    return "import cycle between packages " + " -> ".join(cycle) + "\n" + "\n".join(steps)


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph(all_imports())

    cycle = find_cycle(graph)

    assert cycle is None, describe(cycle, graph)


def test_a_cycle_is_reported_with_the_imports_that_make_it() -> None:
    there = Import("corral.accounts.access", "corral.catalog.licences", 18)
    back = Import("corral.catalog.prices", "corral.accounts.admin", 17)

    graph = package_graph([there, back])
    cycle = find_cycle(graph)

    assert cycle == ["accounts", "catalog", "accounts"]
    message = describe(cycle, graph)
    assert "accounts -> catalog -> accounts" in message
    assert str(back) in message


def test_every_package_has_a_layer() -> None:
    packages = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    placed = set().union(*LAYERS)

    assert packages == placed, "place each package in LAYERS (tests/test_layers.py)"


@pytest.mark.parametrize("source", sorted(set().union(*LAYERS)))
def test_a_package_imports_only_the_layers_below_it(source: str) -> None:
    level = {package: n for n, layer in enumerate(LAYERS) for package in layer}
    graph = package_graph(all_imports())

    upward = [
        str(found)
        for target, found_list in graph.get(source, {}).items()
        if level[target] > level[source]
        for found in found_list[:1]
    ]

    assert upward == [], f"{source} imports packages of a higher layer: {upward}"


@pytest.mark.parametrize("module", BASE_MODULES)
def test_the_base_modules_import_nothing_of_corral(module: str) -> None:
    path = SRC / (module.replace(".", "/") + ".py")

    imported = [str(found) for found in imports_of(path) if found.imported != "corral.errors"]

    assert imported == []


CLI_MAY_IMPORT_FROM_API = frozenset({"corral.api.errors", "corral.api.tasks.serving"})
"""Besides the API's wire schemas (`corral.api.*.protocol`), which `--json` prints: the
translation of a task's input errors into the API's wording, and the tasks' serving, run in
process by `corral summarize | explain | tips`."""


def test_the_composition_root_and_the_cli_stay_clear_of_the_http_app() -> None:
    """`corral.services` builds what the server, the CLI and job workers share, so it knows
    nothing of HTTP; the CLI builds its services there, never through the HTTP app."""
    root = [str(found) for found in imports_of(ROOT / "services.py")]
    assert [found for found in root if "corral.api" in found or "corral.cli" in found] == []

    http_app = [
        str(found)
        for found in all_imports()
        if package_of(found.importer) == "cli"
        and package_of(found.imported) == "api"
        and not found.imported.endswith(".protocol")
        and found.imported not in CLI_MAY_IMPORT_FROM_API
    ]
    assert http_app == []
