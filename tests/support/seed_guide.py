"""The seed guide (the product spec) read by tests: its model table and its code samples.

Tests compare the server with the guide itself rather than with the packaged catalog, so a
catalog that drifts from the guide makes them fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SEED_NAME = "000_3a5ca855a212b51e.txt"
COLUMNS = ("global", "us", "eu", "jp", "apac")
DEPRECATED_MARK = "Déprécié"


@dataclass(frozen=True)
class SeedModel:
    name: str
    model_id: str
    availability: dict[str, bool]
    deprecated: bool


def seed_text(shared_dir: Path) -> str:
    return (shared_dir / "seed" / SEED_NAME).read_text(encoding="utf-8")


def seed_models(shared_dir: Path) -> list[SeedModel]:
    """The rows of the guide's "ID de modèle API" table, in order."""
    models = []
    for line in seed_text(shared_dir).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].startswith("anthropic."):
            availability = {col: cell == "Oui" for col, cell in zip(COLUMNS, cells[2:])}
            name = re.sub(r"\s*<Tooltip.*", "", cells[0])
            models.append(SeedModel(name, cells[1], availability, DEPRECATED_MARK in cells[0]))
    if len(models) != 10:
        raise AssertionError(f"expected the seed table's 10 models, parsed {len(models)}")
    return models


def code_blocks(shared_dir: Path, label: str) -> list[str]:
    """The guide's fenced code blocks whose info string is ``label`` (e.g. "python Boto3 (Python)")."""
    pattern = re.compile(r"^[ \t]*```" + re.escape(label) + r"[ \t]*\n(.*?)^[ \t]*```", re.S | re.M)
    blocks = []
    for match in pattern.finditer(seed_text(shared_dir)):
        lines = match.group(1).splitlines()
        indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
        blocks.append("\n".join(l[indent:] for l in lines) + "\n")
    return blocks
