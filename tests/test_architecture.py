"""House rules that code review alone would let slip (docs/style-anchors.md, rules 1 and 8):
``wire/`` and ``domain/`` do no I/O and read no ambient state, and layers only import leftwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "claude_bedrock"
FORBIDDEN_IN_PURE_LAYERS = {"asyncio", "socket", "random", "time", "os", "subprocess", "threading",
                            "sqlite3", "httpx", "uvicorn"}
#: ``uuid`` may be imported for its type (event-stream UUID headers), never to make IDs.
FORBIDDEN_CALLS = {("uuid", "uuid1"), ("uuid", "uuid4"), ("datetime", "now"), ("datetime", "utcnow"),
                   ("date", "today")}
LAYER_ORDER = ["wire", "domain", "service"]
#: The AWS error vocabulary is a leaf every layer may raise from (wire validates Converse too).
SHARED_LEAF = "claude_bedrock.domain.errors"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("wire") + _modules("domain"), ids=lambda p: p.name)
def test_architecture_pure_layers_do_no_io(path):
    bad = {name for name in _imports(path) if name.split(".")[0] in FORBIDDEN_IN_PURE_LAYERS}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{path.relative_to(PACKAGE)} calls {node.value.id}.{node.attr}: pass a clock or id factory in"
            )


@pytest.mark.parametrize("layer", LAYER_ORDER)
def test_architecture_layers_import_leftwards_only(layer):
    later = LAYER_ORDER[LAYER_ORDER.index(layer) + 1:] + ["adapters", "client", "cli", "testing"]
    for path in _modules(layer):
        if path.name == "app.py" and layer == "service":
            continue  # create_app is the composition root: it builds the default adapters
        for name in _imports(path):
            parts = name.split(".")
            if name == SHARED_LEAF:
                continue
            if parts[0] == "claude_bedrock" and len(parts) > 1 and parts[1] in later:
                pytest.fail(f"{path.relative_to(PACKAGE)} ({layer}) imports {name}")


def test_architecture_no_utils_module():
    assert not [p for p in PACKAGE.rglob("*.py") if p.stem in ("utils", "helpers", "misc")]


def test_architecture_error_vocabulary_is_a_leaf():
    imported = _imports(PACKAGE / "domain" / "errors.py")
    assert not [name for name in imported if name.startswith("claude_bedrock")]
