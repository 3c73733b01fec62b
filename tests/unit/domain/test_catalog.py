"""The packaged catalog file: it loads, it matches the seed table, and bad files fail loudly."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import pytest

from claude_bedrock.domain.catalog import (
    Catalog,
    CatalogError,
    build_catalog,
    default_catalog,
    load_catalog,
    parse_catalog,
)

SEED_NAME = "seed/000_3a5ca855a212b51e.txt"
FRENCH_MONTHS = {
    "janvier": 1, "février": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "août": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12,
}  # fmt: skip


def seed_models(shared_dir: Path) -> dict[str, dict[str, Any]]:
    """The seed's model table rows: base ID -> {name, deprecated_on}, read from the seed text."""
    rows: dict[str, dict[str, Any]] = {}
    for line in (shared_dir / SEED_NAME).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[1].startswith("anthropic."):
            continue
        deprecated_on = None
        tip = re.search(r"Déprécié depuis le (\d+) (\w+) (\d{4})", cells[0])
        if tip:
            deprecated_on = date(int(tip[3]), FRENCH_MONTHS[tip[2]], int(tip[1]))
        name = re.sub(r"<Tooltip.*?</Tooltip>", "", cells[0]).strip()
        rows[cells[1]] = {"name": name, "deprecated_on": deprecated_on}
    return rows


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture()
def document() -> dict[str, Any]:
    text = resources.files("claude_bedrock.domain").joinpath("data/catalog.json").read_text()
    return json.loads(text)


# -- the packaged file ------------------------------------------------------------------------


def test_catalog_packaged_file_loads(catalog: Catalog) -> None:
    assert len(catalog.models) == 10
    assert catalog.default_region == "us-east-1"


def test_catalog_default_catalog_is_loaded_once() -> None:
    assert default_catalog() is default_catalog()
    assert [m.model_id for m in default_catalog().models] == [
        m.model_id for m in load_catalog().models
    ]


def test_catalog_holds_exactly_the_seed_models(catalog: Catalog, shared_dir: Path) -> None:
    seed = seed_models(shared_dir)
    assert len(seed) == 10, "seed table parse went wrong"
    assert [m.model_id for m in catalog.models] == list(seed)
    for model in catalog.models:
        assert model.name == seed[model.model_id]["name"]


def test_catalog_lifecycle_matches_seed_tooltips(catalog: Catalog, shared_dir: Path) -> None:
    seed = seed_models(shared_dir)
    assert sum(1 for row in seed.values() if row["deprecated_on"]) == 3
    for model in catalog.models:
        expected = seed[model.model_id]["deprecated_on"]
        assert model.deprecated_on == expected
        assert model.is_deprecated is (expected is not None)
        assert model.lifecycle_status == ("LEGACY" if expected else "ACTIVE")
        assert model.retire_on is None


def test_catalog_model_facts(catalog: Catalog) -> None:
    sonnet45 = catalog.get("anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert sonnet45 is not None
    assert sonnet45.anthropic_name == "claude-sonnet-4-5-20250929"
    assert sonnet45.alias == "claude-sonnet-4-5"
    assert sonnet45.provider == "Anthropic"
    assert sonnet45.input_modalities == ("TEXT", "IMAGE")
    assert sonnet45.output_modalities == ("TEXT",)
    assert (sonnet45.context_window, sonnet45.max_output_tokens) == (200_000, 64_000)
    assert sonnet45.supports_thinking and sonnet45.supports_1m_context
    assert sonnet45.regional_premium
    assert sonnet45.foundation_model_arn("us-east-1") == (
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    haiku3 = catalog.by_anthropic_name("claude-3-haiku-20240307")
    assert haiku3 is not None
    assert (haiku3.max_output_tokens, haiku3.supports_thinking) == (4096, False)
    haiku35 = catalog.by_alias("claude-3-5-haiku")
    assert haiku35 is not None and haiku35.max_output_tokens == 8192
    assert {m.name for m in catalog.models if m.supports_1m_context} == {
        "Claude Sonnet 4.5",
        "Claude Sonnet 4",
    }
    assert {m.name for m in catalog.models if m.regional_premium} == {
        "Claude Sonnet 4.5",
        "Claude Haiku 4.5",
        "Claude Opus 4.5",
    }
    assert catalog.context_1m_beta_flag == "context-1m-2025-08-07"
    # Anthropic "Effort": Opus 4.5 alone takes the parameter, at these levels
    assert {m.name: m.effort_levels for m in catalog.models if m.effort_levels} == {
        "Claude Opus 4.5": ("low", "medium", "high"),
    }


def test_catalog_only_opus_45_preserves_the_thinking_of_earlier_turns(catalog: Catalog) -> None:
    """Anthropic "Extended thinking", "Thinking block preservation in Claude Opus 4.5 and later":
    Opus 4.5 keeps earlier turns' thinking; Sonnet 4.5, Opus 4.1, Haiku 4.5... strip it."""
    assert {m.name for m in catalog.models if m.preserves_thinking} == {"Claude Opus 4.5"}


def test_catalog_prices_are_exact_decimals(catalog: Catalog) -> None:
    sonnet4 = catalog.by_alias("claude-sonnet-4")
    assert sonnet4 is not None
    assert sonnet4.prices.input == Decimal("3.00") and isinstance(sonnet4.prices.input, Decimal)
    assert sonnet4.prices.long_context_output == Decimal("22.50")
    haiku35 = catalog.by_alias("claude-3-5-haiku")
    assert haiku35 is not None and haiku35.prices.input == Decimal("0.80")
    assert haiku35.prices.long_context_input is None
    rules = catalog.pricing_rules
    assert rules.regional_premium_multiplier == Decimal("1.1")
    assert (rules.cache_write_5m_multiplier, rules.cache_write_1h_multiplier) == (
        Decimal("1.25"),
        Decimal("2"),
    )
    assert rules.cache_read_multiplier == Decimal("0.1")
    assert rules.long_context_threshold_tokens == 200_000


def test_catalog_find_accepts_id_anthropic_name_and_alias(catalog: Catalog) -> None:
    model = catalog.get("anthropic.claude-opus-4-20250514-v1:0")
    assert model is not None
    for name in (model.model_id, "claude-opus-4-20250514", "claude-opus-4-0"):
        assert catalog.find(name) is model
    assert catalog.find("claude-opus-9") is None
    assert catalog.get("claude-opus-4-0") is None  # get() takes base IDs only
    assert hash(model) == hash(model.model_id)


def test_catalog_geographies(catalog: Catalog) -> None:
    assert catalog.geographies_of("ap-northeast-1") == ("jp", "apac")
    assert catalog.geographies_of("ap-southeast-2") == ("apac",)
    assert catalog.geographies_of("eu-west-3") == ("eu",)
    assert catalog.geographies_of("mars-east-1") == ()
    assert catalog.regions_of("jp") == ("ap-northeast-1", "ap-northeast-3")
    assert set(catalog.regions_of("global")) == set(catalog.known_regions)
    assert len(catalog.known_regions) == 20
    with pytest.raises(KeyError):
        catalog.regions_of("au")


def test_catalog_system_profiles_follow_the_table(catalog: Catalog) -> None:
    tokyo = {p.profile_id: p for p in catalog.system_profiles("ap-northeast-1")}
    assert "jp.anthropic.claude-sonnet-4-5-20250929-v1:0" in tokyo
    assert "apac.anthropic.claude-sonnet-4-20250514-v1:0" in tokyo
    assert "global.anthropic.claude-haiku-4-5-20251001-v1:0" in tokyo
    assert "apac.anthropic.claude-sonnet-4-5-20250929-v1:0" not in tokyo  # a "no" cell
    assert "us.anthropic.claude-3-haiku-20240307-v1:0" not in tokyo  # outside geography
    jp = tokyo["jp.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    assert (jp.geography, jp.destination_regions) == ("jp", ("ap-northeast-1", "ap-northeast-3"))
    # us-east-1: 10 us profiles plus the 4 global ones.
    assert len(catalog.system_profiles("us-east-1")) == 14
    assert catalog.system_profiles("mars-east-1") == ()
    opus45 = "anthropic.claude-opus-4-5-20251101-v1:0"
    assert catalog.get_system_profile(f"eu.{opus45}", "eu-west-1") is not None
    assert catalog.get_system_profile(f"eu.{opus45}", "us-east-1") is None  # outside geography
    assert catalog.get_system_profile(opus45, "us-east-1") is None  # a base ID, not a profile


# -- bad files --------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _duplicate_id(doc: dict[str, Any]) -> None:
    doc["models"][5]["id"] = doc["models"][0]["id"]


def _duplicate_alias(doc: dict[str, Any]) -> None:
    doc["models"][2]["aliases"] = ["claude-sonnet-4-5"]


BAD_FILES: list[tuple[str, Mutation, str, str]] = [
    ("missing field", _delete(["models", 3, "prices", "input"]), "models[3].prices.input", "missing"),
    ("missing model key", _delete(["models", 0, "lifecycle"]), "models[0].lifecycle", "missing"),
    ("wrong type number", _set(["models", 3, "prices", "input"], "5"), "models[3].prices.input", "expected a number"),
    ("bool is not int", _set(["models", 1, "context_window"], True), "models[1].context_window", "expected an integer"),
    ("wrong type bool", _set(["models", 4, "availability", "eu"], "no"), "models[4].availability.eu", "expected a boolean"),
    ("unknown geography", _set(["geographies", "au"], ["ap-southeast-2"]), "geographies.au", "unknown geography"),
    ("missing geography", _delete(["geographies", "jp"]), "geographies.jp", "missing"),
    ("unknown endpoint column", _set(["models", 0, "availability", "au"], True), "models[0].availability.au", "unknown endpoint type"),
    ("unknown model field", _set(["models", 7, "colour"], "blue"), "models[7].colour", "unknown field"),
    ("duplicate model id", _duplicate_id, "models[5].id", "duplicate"),
    ("duplicate alias", _duplicate_alias, "models[2].aliases[0]", "duplicate"),
    ("bad region", _set(["geographies", "eu", 2], "Europe"), "geographies.eu[2]", "does not match"),
    ("duplicate region", _set(["geographies", "us", 1], "us-east-1"), "geographies.us[1]", "duplicate"),
    ("bad default region", _set(["default_region"], "sa-east-1"), "default_region", "no geography"),
    ("bad status", _set(["models", 0, "lifecycle", "status"], "RETIRED"), "models[0].lifecycle.status", "not one of"),
    ("legacy needs date", _set(["models", 2, "lifecycle", "deprecated_on"], None), "models[2].lifecycle.deprecated_on", "LEGACY"),
    ("bad date", _set(["models", 2, "lifecycle", "deprecated_on"], "28/10/2025"), "models[2].lifecycle.deprecated_on", "ISO date"),
    ("long-context pair", _delete(["models", 0, "prices", "long_context_output"]), "models[0].prices.long_context_output", "pairs"),
    ("negative price", _set(["models", 9, "prices", "output"], -1), "models[9].prices.output", "positive"),
    ("profile-prefixed id", _set(["models", 0, "id"], "us.anthropic.x-v1:0"), "models[0].id", "prefix"),
    ("unknown modality", _set(["models", 0, "input_modalities", 1], "VIDEO"), "models[0].input_modalities[1]", "not one of"),
    ("unknown effort level", _set(["models", 0, "effort_levels"], ["low", "extreme"]), "models[0].effort_levels[1]", "not one of"),
    ("empty models", _set(["models"], []), "models", "non-empty array"),
    ("output over window", _set(["models", 0, "max_output_tokens"], 300_000), "models[0].max_output_tokens", "context window"),
    ("constant type", _set(["constants", "cache_read_multiplier"], None), "constants.cache_read_multiplier", "expected a number"),
    ("schema version", _set(["schema_version"], 2), "schema_version", "unsupported"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_catalog_bad_file_names_the_bad_field(
    document: dict[str, Any], tmp_path: Path, mutate: Mutation, path: str, fragment: str
) -> None:
    mutate(document)
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(bad)
    assert info.value.path == path
    assert fragment in info.value.message
    assert str(info.value).startswith(f"{bad}: {path}: ")


def test_catalog_invalid_json_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog('{"models": [', source="broken.json")
    assert info.value.path == "(root)"
    assert "invalid JSON" in str(info.value) and "broken.json" in str(info.value)


def test_catalog_root_must_be_an_object() -> None:
    with pytest.raises(CatalogError, match=r"\(root\): expected an object, got an array"):
        build_catalog([])


def test_catalog_build_from_document_accepts_float_prices(document: dict[str, Any]) -> None:
    document["models"][0]["prices"]["input"] = 3.3
    catalog = build_catalog(copy.deepcopy(document))
    assert catalog.models[0].prices.input == Decimal("3.3")


def test_catalog_packaged_models_declare_their_cache_minimum_and_burndown() -> None:
    """Optional in a custom catalog (defaults apply), but never left to a default here."""
    doc = json.loads(resources.files("claude_bedrock.domain").joinpath("data/catalog.json").read_text())
    for model in doc["models"]:
        assert {"prompt_cache_min_tokens", "quota_output_burndown"} <= set(model), model["id"]
    del doc["models"][0]["prompt_cache_min_tokens"], doc["models"][0]["quota_output_burndown"]
    older = build_catalog(doc).get(doc["models"][0]["id"])
    assert (older.prompt_cache_min_tokens, older.quota_output_burndown) == (1024, 1)
