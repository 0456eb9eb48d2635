"""The package's folders follow the flow of an event, and imports only go down that flow.

From the top: the Lambda entry points, the two HTTP routes (with the pipeline they share), the redrive,
the configuration, inbound parsing, mapping, delivery, the shared model, and the platform (errors,
HTTP edge, secrets, observability, plain value readers). A module may import its own folder or a folder
below it, never one above, and no two modules may import each other, directly or in a ring.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "tiktok_connector"
LAYERS = (
    "entrypoints",
    "routes",
    "redrive",
    "config",
    "inbound",
    "mapping",
    "delivery",
    "model",
    "platform",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> Iterator[str]:
    """The package's own modules that one file imports, at any depth of the file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tiktok_connector"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield candidate if candidate in known else node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("tiktok_connector"))


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "package"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(path, known)) - {name} for name, path in modules.items()}


def test_every_module_sits_in_a_known_layer() -> None:
    strays = [name for name in _modules() if _layer(name) not in (*LAYERS, "package")]
    assert strays == []


@pytest.mark.parametrize("module", sorted(_modules()))
def test_a_module_imports_only_its_own_layer_or_those_below(module: str) -> None:
    rank = LAYERS.index(_layer(module)) if _layer(module) in LAYERS else -1
    upward = [
        imported
        for imported in _graph()[module]
        if _layer(imported) in LAYERS and LAYERS.index(_layer(imported)) < rank
    ]
    assert upward == [], f"{module} imports modules above it in the flow"


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in visiting:
            cycle = [*visiting[visiting.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        visiting.append(name)
        for imported in sorted(graph.get(name, ())):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
