"""The control-plane route table matches botocore's bedrock model (method, URI, status), and the
router sends percent-encoded identifiers to the right operation."""

from __future__ import annotations

import pytest
from botocore.loaders import Loader

from claude_bedrock.service.control import CONTROL_ROUTES
from claude_bedrock.service.routes import Router

EXPECTED_OPERATIONS = {
    "ListFoundationModels", "GetFoundationModel",
    "ListInferenceProfiles", "GetInferenceProfile", "CreateInferenceProfile", "DeleteInferenceProfile",
    "TagResource", "UntagResource", "ListTagsForResource",
    "ListFoundationModelAgreementOffers", "CreateFoundationModelAgreement", "DeleteFoundationModelAgreement",
    "GetFoundationModelAvailability", "PutUseCaseForModelAccess", "GetUseCaseForModelAccess",
    "PutModelInvocationLoggingConfiguration", "GetModelInvocationLoggingConfiguration",
    "DeleteModelInvocationLoggingConfiguration",
}


@pytest.fixture(scope="module")
def bedrock_model() -> dict:
    return Loader().load_service_model("bedrock", "service-2", "2023-04-20")


def test_control_routes_cover_the_issue_operations():
    assert {r.operation for r in CONTROL_ROUTES} == EXPECTED_OPERATIONS


@pytest.mark.parametrize("route", CONTROL_ROUTES, ids=lambda r: r.operation)
def test_control_routes_match_botocore(route, bedrock_model):
    http = bedrock_model["operations"][route.operation]["http"]
    assert route.method == http["method"]
    assert route.template == http["requestUri"]
    assert route.status == http.get("responseCode", 200)
    assert route.kind == "json" and route.service == "bedrock"


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("GET", "/foundation-models", "ListFoundationModels", {}),
        ("GET", "/foundation-models/anthropic.claude-3-haiku-20240307-v1%3A0", "GetFoundationModel",
         {"modelIdentifier": "anthropic.claude-3-haiku-20240307-v1:0"}),
        ("GET", "/inference-profiles/arn%3Aaws%3Abedrock%3Aus-west-2%3A111122223333%3Aapplication-inference-profile"
                "%2Fabcdefghij12", "GetInferenceProfile",
         {"inferenceProfileIdentifier": "arn:aws:bedrock:us-west-2:111122223333:application-inference-profile/"
                                        "abcdefghij12"}),
        ("DELETE", "/inference-profiles/abcdefghij12", "DeleteInferenceProfile",
         {"inferenceProfileIdentifier": "abcdefghij12"}),
        ("POST", "/inference-profiles", "CreateInferenceProfile", {}),
        ("PUT", "/logging/modelinvocations", "PutModelInvocationLoggingConfiguration", {}),
        ("GET", "/list-foundation-model-agreement-offers/anthropic.claude-3-haiku-20240307-v1%3A0",
         "ListFoundationModelAgreementOffers", {"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}),
    ],
)
def test_control_routes_route_encoded_identifiers(method, path, operation, params):
    match = Router(CONTROL_ROUTES).match(method, path)
    assert match is not None and match.route.operation == operation
    assert match.params == params


def test_control_routes_unknown_path_has_no_match():
    assert Router(CONTROL_ROUTES).match("GET", "/foundation-models/a/b") is None
    assert Router(CONTROL_ROUTES).match("PATCH", "/inference-profiles") is None


def test_control_routes_an_empty_or_differently_cased_segment_has_no_match():
    from claude_bedrock.service.routes import Route

    router = Router([*CONTROL_ROUTES, Route("POST", "/model/{modelId}/invoke", "InvokeModel", "runtime", print)])
    assert router.match("POST", "/model/m/invoke") is not None
    assert router.match("POST", "/model//invoke") is None  # a path parameter is never empty
    assert router.match("GET", "/Foundation-Models") is None  # literal segments are compared as sent


def test_router_remembers_answers_per_method():
    router = Router(CONTROL_ROUTES)
    assert router.match("GET", "/inference-profiles").route.operation == "ListInferenceProfiles"
    created = router.match("POST", "/inference-profiles")
    assert created is not None and created.route.operation == "CreateInferenceProfile"
    assert router.match("PATCH", "/inference-profiles") is None


def test_router_remembers_its_answers_within_a_bound():
    from claude_bedrock.service import routes

    router = Router(CONTROL_ROUTES)
    first = router.match("GET", "/foundation-models/anthropic.claude-3-haiku-20240307-v1%3A0")
    assert first is not None and first.params == {"modelIdentifier": "anthropic.claude-3-haiku-20240307-v1:0"}
    assert router.match("GET", "/foundation-models/anthropic.claude-3-haiku-20240307-v1%3A0") is first
    assert router.match("GET", "/nowhere") is None and router.match("GET", "/nowhere") is None
    for n in range(routes.MATCH_MEMO_SIZE + 10):  # clients choose paths: the memo stays bounded
        assert router.match("GET", f"/foundation-models/m{n}").params == {"modelIdentifier": f"m{n}"}
    assert len(router._memo) == routes.MATCH_MEMO_SIZE


def test_the_match_memo_does_not_keep_long_paths():
    """Security audit: an anonymous client sending 1,100 requests with 60 KB paths (each refused
    403) grew a strict server by 57 MB, kept: the memo held each path and its captured model
    ID. A path longer than any AWS one is matched, not remembered."""
    import tracemalloc

    from claude_bedrock.service import routes
    from claude_bedrock.service.app import RUNTIME_ROUTES

    router = Router(RUNTIME_ROUTES + CONTROL_ROUTES)
    long_path = "/model/" + "a" * (routes.MATCH_MEMO_PATH_CHARS + 1) + "/invoke"
    tracemalloc.start()
    try:
        for n in range(routes.MATCH_MEMO_SIZE):
            found = router.match("POST", f"/model/{n}{'a' * 60_000}/invoke")
            assert found is not None and found.route.operation == "InvokeModel"
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 2_000_000, kept  # 1,024 answers of 60 KB paths: about 120 MB when remembered
    assert router.match("POST", long_path).params == {"modelId": long_path[7:-7]}
    arn_path = "/model/" + "arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Aapplication-inference-profile%2F" + "x" * 200
    assert router.match("POST", arn_path + "/invoke") is router.match("POST", arn_path + "/invoke")


def test_adding_a_route_forgets_remembered_answers():
    from claude_bedrock.service.routes import Route

    router = Router(CONTROL_ROUTES)
    assert router.match("GET", "/extra/x") is None
    router.add(Route("GET", "/extra/{name}", "Extra", "json", lambda *a: None))
    found = router.match("GET", "/extra/x")
    assert found is not None and found.route.operation == "Extra" and found.params == {"name": "x"}


def test_every_lazy_handler_resolves_to_a_coroutine_function():
    """Handlers are imported on first use; a typo in a name must fail here, not in production."""
    import inspect

    from claude_bedrock.service.app import RUNTIME_ROUTES
    from claude_bedrock.service.routes import LazyHandler

    lazy = [r for r in CONTROL_ROUTES + RUNTIME_ROUTES if isinstance(r.handler, LazyHandler)]
    # + InvokeModelWithResponseStream, Converse, ConverseStream, CountTokens, STS (POST and GET)
    assert len(lazy) == len(CONTROL_ROUTES) + 6
    for route in lazy:
        function = route.handler.resolve()
        assert inspect.iscoroutinefunction(function), route.operation
        assert route.handler.resolve() is function  # imported once


def test_start_up_does_not_import_the_lazy_modules(tmp_path):
    """What only some requests need loads with the first of them: control-plane and STS handlers,
    Converse, streams (and the event-stream encoder), Bearer keys, the admin API, and the rule,
    fault and quota engines of the testing toolkit when the scenario has none."""
    import subprocess
    import sys

    lazy = ("_api", "converse", "converse_runtime", ".sts", "stream_runtime", "eventstream", "chunk_frames",
            "bearer", ".admin", ".scripting", ".quotas", ".faults")
    code = ("import sys\n"
            "from claude_bedrock.service.server import create_app\n"
            "from claude_bedrock.settings import Settings\n"
            f"create_app(Settings(data_dir={str(tmp_path)!r}))\n"
            f"print(sorted(m for m in sys.modules if m.endswith({lazy!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("target", ["no_colon", ":name", "module:", ""])
def test_lazy_handler_names_must_be_module_and_function(target):
    from claude_bedrock.service.routes import LazyHandler

    with pytest.raises(ValueError, match="module:function"):
        LazyHandler(target)
