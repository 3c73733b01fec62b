"""The control plane's answer bodies built from stored or catalog records: members with no value
are left out, as AWS leaves them out (not sent as null)."""

from __future__ import annotations

import dataclasses
from datetime import date

from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.service.control_state import ApplicationProfileRecord
from claude_bedrock.service.models_api import model_summary
from claude_bedrock.service.profiles_api import application_profile_body

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def _profile(description: str | None) -> ApplicationProfileRecord:
    return ApplicationProfileRecord(
        account_id="111122223333", region="us-west-2", profile_id="abcdefghij12", name="plain",
        description=description, source_arn=f"arn:aws:bedrock:us-west-2::foundation-model/{SONNET_45}",
        models=(f"arn:aws:bedrock:us-west-2::foundation-model/{SONNET_45}",), client_token=None,
        created_at=1_700_000_000.0, updated_at=1_700_000_000.0,
    )


def test_an_application_profile_without_description_has_no_description_member():
    assert "description" not in application_profile_body(_profile(None))
    assert application_profile_body(_profile("For team A"))["description"] == "For team A"


def test_a_model_summary_gives_the_retirement_date_as_end_of_life_time():
    model = default_catalog().get(SONNET_45)
    assert model is not None and model.retire_on is None
    assert "endOfLifeTime" not in model_summary(model, "us-west-2")["modelLifecycle"]
    retiring = dataclasses.replace(model, deprecated_on=date(2030, 1, 1), retire_on=date(2030, 7, 1))
    lifecycle = model_summary(retiring, "us-west-2")["modelLifecycle"]
    assert lifecycle["legacyTime"].startswith("2030-01-01T")
    assert lifecycle["endOfLifeTime"].startswith("2030-07-01T")
