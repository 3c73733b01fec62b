"""ListInferenceProfiles pages application profiles by (created_at, profile_id): profiles created
at the same instant (a coarse clock) are each listed once, in ID order, on pages of one."""

from __future__ import annotations

import boto3
from botocore.config import Config

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings

from support.inprocess import serve_in_thread

HAIKU_3 = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"


def test_profiles_created_at_the_same_instant_are_each_listed_once(tmp_path):
    """Review: the page token held created_at alone in a mutant and every test passed; with
    ties, a page of one then skipped the profiles sharing the last one's created_at."""
    app = create_app(Settings(data_dir=str(tmp_path)))
    app.state.store._clock = lambda: 1_700_000_000.0  # every profile created at the same instant
    with serve_in_thread(app) as url:
        bedrock = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="secret",
                                region_name="us-east-1").client(
            "bedrock", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
        ids = [bedrock.create_inference_profile(inferenceProfileName=f"tie-{n}", modelSource={"copyFrom": HAIKU_3})
               ["inferenceProfileArn"].rsplit("/", 1)[1] for n in range(4)]
        pages = bedrock.get_paginator("list_inference_profiles").paginate(
            typeEquals="APPLICATION", PaginationConfig={"PageSize": 1})
        listed = [s["inferenceProfileId"] for page in pages for s in page["inferenceProfileSummaries"]]
    assert listed == sorted(ids)
