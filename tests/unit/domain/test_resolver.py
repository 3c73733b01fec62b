"""Model-identifier resolution, proven against the seed table read from the seed text itself.

The expected availability of every (model, column) cell is parsed out of the seed document, and
region -> geography membership is restated here independently of the catalog file, so these tests
fail if the data file drifts from the spec.
"""

from __future__ import annotations

import json
import os
from datetime import date
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.catalog import (
    Catalog,
    Resolution,
    build_catalog,
    default_catalog,
    load_catalog,
)
from claude_bedrock.domain.errors import ResourceNotFoundException, ValidationException

INVALID = "The provided model identifier is invalid."
COLUMNS = ("global", "us", "eu", "jp", "apac")
ROUTING_ORDER = ("us", "eu", "jp", "apac")
#: Representative source regions and the geographies they belong to (catalog-facts, restated).
REGION_GEOS: dict[str, tuple[str, ...]] = {
    "us-east-1": ("us",),
    "us-west-2": ("us",),
    "eu-west-1": ("eu",),
    "eu-central-1": ("eu",),
    "ap-northeast-1": ("jp", "apac"),
    "ap-northeast-3": ("jp", "apac"),
    "ap-southeast-2": ("apac",),
    "ap-south-1": ("apac",),
}
#: Sonnet 4.5 and every later model pay the 10% regional premium (the seed).
PREMIUM_MODELS = {
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
}
ACCOUNT = "123456789012"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET4 = "anthropic.claude-sonnet-4-20250514-v1:0"
SONNET37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"


def parse_seed_table(seed_file: Path) -> dict[str, dict[str, bool]]:
    """base model ID -> {column: yes/no} from the seed's markdown table (Oui / Non)."""
    table: dict[str, dict[str, bool]] = {}
    for line in seed_file.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[1].startswith("anthropic."):
            assert all(c in ("Oui", "Non") for c in cells[2:]), line
            table[cells[1]] = {col: cell == "Oui" for col, cell in zip(COLUMNS, cells[2:])}
    return table


def _load_seed_table() -> dict[str, dict[str, bool]]:
    # Parametrisation happens at collection time, before fixtures exist, so this mirrors the
    # lookup of tests/conftest.py; test_resolver_seed_table_parse_is_complete re-reads the seed
    # through the shared_dir fixture and compares.
    env = os.environ.get("CLAUDE_BEDROCK_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"
    seed_file = shared / "seed" / "000_3a5ca855a212b51e.txt"
    return parse_seed_table(seed_file) if seed_file.is_file() else {}


SEED_TABLE = _load_seed_table()
CELLS = [
    (model_id, column, region)
    for model_id in SEED_TABLE
    for column in COLUMNS
    for region in REGION_GEOS
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def assert_invalid(exc_info: pytest.ExceptionInfo[ValidationException]) -> None:
    assert exc_info.value.message == INVALID
    assert exc_info.value.status == 400
    assert exc_info.value.body() == {"message": INVALID}


def test_resolver_seed_table_parse_is_complete(shared_dir: Path) -> None:
    table = parse_seed_table(shared_dir / "seed" / "000_3a5ca855a212b51e.txt")
    assert table == SEED_TABLE
    assert len(table) == 10 and len(CELLS) == 10 * 5 * len(REGION_GEOS)
    # Spot-check the parse against the spec text: "Oui" counts per column.
    yes = {col: sum(row[col] for row in table.values()) for col in COLUMNS}
    assert yes == {"global": 4, "us": 10, "eu": 6, "jp": 1, "apac": 3}


def test_resolver_catalog_availability_equals_seed(catalog: Catalog) -> None:
    assert {m.model_id: dict(m.availability) for m in catalog.models} == SEED_TABLE


def test_resolver_representative_regions_match_catalog(catalog: Catalog) -> None:
    for region, geos in REGION_GEOS.items():
        assert catalog.geographies_of(region) == geos


# -- the 50 cells, from every representative region ------------------------------------------


@pytest.mark.parametrize(("model_id", "column", "region"), CELLS)
def test_resolver_profile_cell(catalog: Catalog, model_id: str, column: str, region: str) -> None:
    profile_id = f"{column}.{model_id}"
    allowed = SEED_TABLE[model_id][column] and (column == "global" or column in REGION_GEOS[region])
    if not allowed:
        with pytest.raises(ValidationException) as info:
            catalog.resolve(profile_id, region)
        assert_invalid(info)
        return
    res = catalog.resolve(profile_id, region)
    assert res.model.model_id == model_id
    assert res.profile_id == profile_id
    assert res.identifier_kind == "profile"
    assert res.region == region
    assert region in res.destination_regions
    if column == "global":
        assert (res.endpoint_type, res.geography, res.price_multiplier) == ("global", None, 1.0)
    else:
        assert (res.endpoint_type, res.geography) == ("regional", column)
        assert res.price_multiplier == (1.1 if model_id in PREMIUM_MODELS else 1.0)


@pytest.mark.parametrize("region", list(REGION_GEOS))
@pytest.mark.parametrize("model_id", list(SEED_TABLE))
def test_resolver_bare_id_routes_to_first_allowed_geography(
    catalog: Catalog, model_id: str, region: str
) -> None:
    ordered = [g for g in ROUTING_ORDER if g in REGION_GEOS[region]]
    allowed = [g for g in ordered if SEED_TABLE[model_id][g]]
    if not allowed:
        with pytest.raises(ValidationException) as info:
            catalog.resolve(model_id, region)
        assert_invalid(info)
        return
    res = catalog.resolve(model_id, region)
    assert res.identifier_kind == "base"
    assert (res.endpoint_type, res.geography) == ("regional", allowed[0])
    assert res.profile_id == f"{allowed[0]}.{model_id}"
    assert res.price_multiplier == (1.1 if model_id in PREMIUM_MODELS else 1.0)


def test_resolver_bare_id_in_tokyo_prefers_jp_then_apac(catalog: Catalog) -> None:
    # Sonnet 4.5: jp yes -> jp. Sonnet 4: jp no, apac yes -> apac.
    assert catalog.resolve(SONNET45, "ap-northeast-1").geography == "jp"
    sonnet4 = catalog.resolve("anthropic.claude-sonnet-4-20250514-v1:0", "ap-northeast-1")
    assert sonnet4.geography == "apac"
    assert sonnet4.destination_regions == catalog.regions_of("apac")
    with pytest.raises(ValidationException):
        catalog.resolve(SONNET45, "ap-southeast-2")  # apac "no"


# -- ARNs ---------------------------------------------------------------------------------


def test_resolver_foundation_model_arn_is_like_a_bare_id(catalog: Catalog) -> None:
    arn = f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET45}"
    res = catalog.resolve(arn, "eu-west-1")
    assert res.identifier_kind == "foundation_model_arn"
    assert (res.geography, res.profile_id, res.identifier) == ("eu", f"eu.{SONNET45}", arn)
    assert res.price_multiplier == 1.1


def test_resolver_inference_profile_arn(catalog: Catalog) -> None:
    arn = f"arn:aws:bedrock:us-west-2:{ACCOUNT}:inference-profile/us.{SONNET45}"
    res = catalog.resolve(arn, "us-west-2", account_id=ACCOUNT)
    assert (res.identifier_kind, res.geography) == ("inference_profile_arn", "us")
    assert res.identifier == arn
    assert catalog.resolve(arn, "us-west-2").profile_id == f"us.{SONNET45}"  # no account known
    glob = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.{SONNET45}"
    assert catalog.resolve(glob, "eu-west-1", account_id=ACCOUNT).endpoint_type == "global"


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:foundation-model/{SONNET45}",  # account on FM ARN
        f"arn:aws:bedrock:mars-east-1::foundation-model/{SONNET45}",  # unknown ARN region
        f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET45}",  # another region's resource
        f"arn:aws:bedrock:us-west-2:{ACCOUNT}:inference-profile/us.{SONNET45}",  # likewise
        f"arn:aws-cn:bedrock:us-east-1::foundation-model/{SONNET45}",  # partition
        f"arn:aws:bedrock-runtime:us-east-1::foundation-model/{SONNET45}",  # service
        f"arn:aws:bedrock:us-east-1::foundation-model/us.{SONNET45}",  # profile inside FM ARN
        "arn:aws:bedrock:us-east-1::foundation-model/",
        f"arn:aws:bedrock:us-east-1:999999999999:inference-profile/us.{SONNET45}",  # other account
        f"arn:aws:bedrock:us-east-1:1234:inference-profile/us.{SONNET45}",  # malformed account
        f"arn:aws:bedrock:us-east-1::inference-profile/us.{SONNET45}",  # no account
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{SONNET45}",  # base ID as profile
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/eu.{SONNET45}",  # outside geo
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/global.{SONNET37}",  # "no" cell
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abc123",  # unsupported kind
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123",  # no store
        "arn:aws:bedrock:us-east-1",
        "arn:",
    ],
)
def test_resolver_bad_arns_are_invalid(catalog: Catalog, arn: str) -> None:
    with pytest.raises(ValidationException) as info:
        catalog.resolve(arn, "us-east-1", account_id=ACCOUNT)
    assert_invalid(info)


def test_resolver_application_profile_through_callback(catalog: Catalog) -> None:
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123def456"
    seen: list[str] = []

    def store(key: str) -> str | None:
        seen.append(key)
        return f"us.{SONNET45}" if key == arn else None

    res = catalog.resolve(arn, "us-east-1", account_id=ACCOUNT, app_profiles=store)
    assert res.identifier_kind == "application_profile_arn"
    assert (res.identifier, res.profile_id, res.geography) == (arn, f"us.{SONNET45}", "us")
    assert seen == [arn]
    # anthropic-py style encoding: ':' raw, '/' as %2F; the callback sees the decoded ARN.
    encoded = arn.replace("/", "%2F")
    assert catalog.resolve(encoded, "us-east-1", app_profiles=store).identifier == arn
    assert seen[-1] == arn
    with pytest.raises(ValidationException) as info:
        catalog.resolve(arn.replace("abc123def456", "nosuch"), "us-east-1", app_profiles=store)
    assert_invalid(info)


def test_resolver_application_profile_wrapping_foundation_model(catalog: Catalog) -> None:
    arn = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/zzz999yyy888"
    target = f"arn:aws:bedrock:eu-west-1::foundation-model/{HAIKU3}"
    res = catalog.resolve(arn, "eu-west-1", app_profiles=lambda _: target)
    assert (res.model.model_id, res.geography, res.identifier_kind) == (
        HAIKU3,
        "eu",
        "application_profile_arn",
    )


def test_resolver_application_profile_cannot_nest(catalog: Catalog) -> None:
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123def456"
    with pytest.raises(ValidationException) as info:
        catalog.resolve(arn, "us-east-1", app_profiles=lambda key: arn)
    assert_invalid(info)


def test_resolver_application_profile_target_checked_against_caller_region(
    catalog: Catalog,
) -> None:
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123def456"
    with pytest.raises(ValidationException):
        catalog.resolve(arn, "us-east-1", app_profiles=lambda _: f"eu.{SONNET45}")


# -- encodings, garbage, regions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "expected_profile"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1%3A0", f"us.{SONNET45}"),  # botocore
        ("global.anthropic.claude-sonnet-4-5-20250929-v1%3a0", f"global.{SONNET45}"),  # lower hex
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", f"us.{SONNET45}"),  # anthropic-py
        (
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus."
            "anthropic.claude-sonnet-4-5-20250929-v1%3A0",
            f"us.{SONNET45}",
        ),
        (f"arn:aws:bedrock:us-east-1::foundation-model%2F{SONNET45}", f"us.{SONNET45}"),
    ],
)
def test_resolver_percent_encoded_variants(
    catalog: Catalog, sent: str, expected_profile: str
) -> None:
    res = catalog.resolve(sent, "us-east-1", account_id=ACCOUNT)
    assert res.profile_id == expected_profile
    assert "%" not in res.identifier


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "gpt-4o",
        "anthropic.claude",
        "claude-sonnet-4-5",  # aliases are for clients, not the wire
        "claude-sonnet-4-5-20250929",
        "us.",
        "global.",
        "au.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "US.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        " anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
        "anthropic.claude-sonnet-4-5-20250929-v1%253A0",  # double-encoded: decoded once only
        "anthropic.claude-sonnet-4-5-20250929-v1%FF0",  # not UTF-8
        "x" * 3000,
    ],
)
def test_resolver_garbage_is_invalid(catalog: Catalog, sent: str) -> None:
    with pytest.raises(ValidationException) as info:
        catalog.resolve(sent, "us-east-1")
    assert_invalid(info)


@pytest.mark.parametrize("region", ["", "mars-east-1", "US-EAST-1", "sa-east-1"])
def test_resolver_unknown_region_is_invalid(catalog: Catalog, region: str) -> None:
    for identifier in (f"global.{SONNET45}", SONNET45, f"us.{SONNET45}"):
        with pytest.raises(ValidationException) as info:
            catalog.resolve(identifier, region)
        assert_invalid(info)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80), region=st.sampled_from(["us-east-1", "ap-northeast-1"]))
def test_resolver_any_text_resolves_or_raises_validation(text: str, region: str) -> None:
    catalog = default_catalog()
    try:
        res = catalog.resolve(text, region)
    except ValidationException:
        return
    assert isinstance(res, Resolution)


# -- strict AWS mode ------------------------------------------------------------------------


def test_resolver_strict_aws_refuses_bare_profile_only_models(catalog: Catalog) -> None:
    expected = (
        "Invocation of model ID anthropic.claude-3-7-sonnet-20250219-v1:0 with on-demand "
        "throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference "
        "profile that contains this model."
    )
    with pytest.raises(ValidationException) as info:
        catalog.resolve(SONNET37, "us-east-1", strict_aws=True)
    assert info.value.message == expected
    assert "\u2019" in info.value.message
    with pytest.raises(ValidationException) as info:
        arn = f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET37}"
        catalog.resolve(arn, "us-east-1", strict_aws=True)
    assert info.value.message == expected
    # Default (the seed): the same bare ID resolves.
    assert catalog.resolve(SONNET37, "us-east-1").profile_id == f"us.{SONNET37}"


def test_resolver_strict_aws_keeps_profiles_and_on_demand_models(catalog: Catalog) -> None:
    assert catalog.resolve(f"us.{SONNET37}", "us-east-1", strict_aws=True).geography == "us"
    assert catalog.resolve(HAIKU3, "eu-west-1", strict_aws=True).geography == "eu"


# -- lifecycle ------------------------------------------------------------------------------


def test_resolver_deprecated_models_resolve_and_are_flagged(catalog: Catalog) -> None:
    res = catalog.resolve(f"us.{SONNET37}", "us-west-2")
    assert res.model.is_deprecated
    assert res.model.deprecated_on == date(2025, 10, 28)
    assert not catalog.resolve(f"us.{SONNET45}", "us-west-2").model.is_deprecated
    haiku35 = catalog.resolve("anthropic.claude-3-5-haiku-20241022-v1:0", "us-east-1")
    assert haiku35.model.is_deprecated


def test_resolver_retired_model_is_refused_after_its_date() -> None:
    doc = json.loads(
        resources.files("claude_bedrock.domain").joinpath("data/catalog.json").read_text()
    )
    doc["models"][2]["lifecycle"]["retire_on"] = "2026-04-28"
    catalog = build_catalog(doc)
    assert catalog.resolve(f"us.{SONNET37}", "us-east-1", today=lambda: date(2026, 4, 27)).model
    assert catalog.resolve(f"us.{SONNET37}", "us-east-1").model  # no clock, no check
    unread = []  # a model without a retire_on date never reads the clock
    catalog.resolve(HAIKU3, "us-east-1", today=lambda: unread.append(1) or date(2099, 1, 1))
    assert unread == []
    with pytest.raises(ResourceNotFoundException) as info:
        catalog.resolve(f"us.{SONNET37}", "us-east-1", today=lambda: date(2026, 4, 28))
    assert info.value.status == 404
    assert "end of its life" in info.value.message


# -- aliases for clients --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "endpoint", "region", "expected"),
    [
        ("claude-sonnet-4-5", "global", "us-east-1", f"global.{SONNET45}"),
        ("claude-sonnet-4-5", "regional", "eu-west-1", f"eu.{SONNET45}"),
        ("claude-sonnet-4-5", "regional", "ap-northeast-1", f"jp.{SONNET45}"),
        ("claude-sonnet-4-0", "regional", "ap-northeast-1", f"apac.{SONNET4}"),
        ("claude-3-haiku-20240307", "regional", "us-west-2", f"us.{HAIKU3}"),
        (SONNET45, "global", "ap-southeast-2", f"global.{SONNET45}"),
    ],
)
def test_resolver_resolve_alias(
    catalog: Catalog, name: str, endpoint: str, region: str, expected: str
) -> None:
    assert catalog.resolve_alias(name, endpoint, region) == expected  # type: ignore[arg-type]
    assert catalog.resolve(expected, region).model.model_id in expected


@pytest.mark.parametrize(
    ("name", "endpoint", "region", "fragment"),
    [
        ("claude-opus-4-1", "global", "us-east-1", "no global endpoint"),
        ("claude-opus-4-1", "regional", "eu-west-1", "no regional endpoint for region eu-west-1"),
        ("claude-sonnet-4-5", "regional", "ap-southeast-2", "offered in: us, eu, jp"),
        ("claude-9", "global", "us-east-1", "Unknown model"),
        ("claude-sonnet-4-5", "global", "mars-east-1", "Unknown region"),
        ("claude-sonnet-4-5", "local", "us-east-1", "Unknown endpoint type"),
    ],
)
def test_resolver_resolve_alias_refusals(
    catalog: Catalog, name: str, endpoint: str, region: str, fragment: str
) -> None:
    with pytest.raises(ValidationException) as info:
        catalog.resolve_alias(name, endpoint, region)  # type: ignore[arg-type]
    assert fragment in info.value.message


def test_resolver_resolve_alias_global_refusal_suggests_regional_only_where_it_exists(
    catalog: Catalog,
) -> None:
    with pytest.raises(ValidationException) as from_us:
        catalog.resolve_alias("claude-opus-4-1", "global", "us-east-1")
    assert "use the regional endpoint instead" in from_us.value.message
    # from eu-west-1 Opus 4.1 has no regional endpoint either: say where it is offered
    with pytest.raises(ValidationException) as from_eu:
        catalog.resolve_alias("claude-opus-4-1", "global", "eu-west-1")
    assert from_eu.value.message == (
        "Claude Opus 4.1 has no global endpoint, and no regional endpoint for region eu-west-1 "
        "(geographies eu); it is offered in: us."
    )


def test_resolver_resolve_alias_regional_refusal_suggests_global_where_it_exists(catalog: Catalog) -> None:
    with pytest.raises(ValidationException) as sonnet:
        catalog.resolve_alias("claude-sonnet-4-5", "regional", "ap-southeast-2")
    assert sonnet.value.message.endswith("it is offered in: us, eu, jp; use the global endpoint instead.")
    with pytest.raises(ValidationException) as opus:  # no global endpoint: no such advice
        catalog.resolve_alias("claude-opus-4-1", "regional", "ap-southeast-2")
    assert opus.value.message.endswith("it is offered in: us.")
