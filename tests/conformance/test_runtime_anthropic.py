"""The anthropic SDK's AnthropicBedrock (sync, async, streaming, beta) against a real server:
every Python sample of the guide, with only base_url changed."""

from __future__ import annotations

import asyncio
import json

import anthropic
import pytest
from anthropic import AnthropicBedrock, AsyncAnthropicBedrock

from support.servers import ACCESS_KEY, API_KEY, REGION, SECRET_KEY, SESSION_TOKEN

GLOBAL_SONNET_45 = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
BARE_SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HELLO = [{"role": "user", "content": "Hello, world"}]

pytestmark = pytest.mark.conformance


@pytest.mark.parametrize("model", [GLOBAL_SONNET_45, BARE_SONNET_45])
def test_anthropic_messages_create_seed_sample(anthropic_client, model):
    message = anthropic_client.messages.create(model=model, max_tokens=256, messages=HELLO)
    assert message.id.startswith("msg_bdrk_")
    assert message.model == "claude-sonnet-4-5-20250929"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_anthropic_with_session_token(server):
    client = AnthropicBedrock(aws_access_key="ASIATEMPORARYKEY01", aws_secret_key=SECRET_KEY,
                              aws_session_token=SESSION_TOKEN, aws_region=REGION, base_url=server.url, max_retries=0)
    assert client.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO).content


def test_anthropic_with_api_key(server):
    client = AnthropicBedrock(api_key=API_KEY, aws_region=REGION, base_url=server.url, max_retries=0)
    assert client.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO).content


def test_anthropic_async_create(server):
    async def main() -> str:
        client = AsyncAnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                                       base_url=server.url, max_retries=0)
        message = await client.messages.create(model=GLOBAL_SONNET_45, max_tokens=256, messages=HELLO)
        return message.content[0].text

    assert asyncio.run(main())


def test_anthropic_messages_stream_helper(anthropic_client):
    with anthropic_client.messages.stream(model=GLOBAL_SONNET_45, max_tokens=256, messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text
    assert final.stop_reason in ("end_turn", "max_tokens")


def test_anthropic_create_stream_true_every_event(anthropic_client):
    events = list(anthropic_client.messages.create(model=GLOBAL_SONNET_45, max_tokens=256, messages=HELLO,
                                                   stream=True))
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    for needed in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        assert needed in types


def test_anthropic_beta_1m_context_on_sonnet_45(anthropic_client):
    message = anthropic_client.beta.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO,
                                                    betas=["context-1m-2025-08-07"])
    assert message.content


def test_anthropic_beta_1m_context_refused_on_haiku(anthropic_client):
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.beta.messages.create(model="global.anthropic.claude-haiku-4-5-20251001-v1:0",
                                              max_tokens=64, messages=HELLO, betas=["context-1m-2025-08-07"])


def test_anthropic_tool_use(anthropic_client):
    message = anthropic_client.messages.create(
        model=GLOBAL_SONNET_45, max_tokens=512, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[{"name": "get_weather", "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert message.stop_reason == "tool_use"
    use = next(b for b in message.content if b.type == "tool_use")
    assert use.name == "get_weather" and "city" in use.input


EVENT_TOOL = {"name": "create_event", "description": "Create a calendar event",
              "input_schema": {"type": "object", "required": ["title", "description", "attendees"],
                               "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                                              "attendees": {"type": "array", "items": {"type": "string"}}}}}


@pytest.mark.parametrize("max_tokens", [3, 13, 16, 22, 28, 64])
def test_anthropic_tool_call_cut_by_max_tokens_streamed_as_whole(anthropic_client, max_tokens):
    # The same request whole and streamed: the SDK's accumulated stream is the whole answer,
    # also when max_tokens cuts the tool call (its complete parameters, billed max_tokens).
    request = dict(model=GLOBAL_SONNET_45, max_tokens=max_tokens, tools=[EVENT_TOOL],
                   tool_choice={"type": "any"},
                   messages=[{"role": "user", "content": "Plan a meeting about budget reviews with Alice"}])
    whole = anthropic_client.messages.create(**request)
    with anthropic_client.messages.stream(**request) as stream:
        streamed = stream.get_final_message()
    assert streamed.model_dump(exclude={"id"}) == whole.model_dump(exclude={"id"})
    use = whole.content[-1]
    if whole.stop_reason == "max_tokens":
        assert whole.usage.output_tokens == max_tokens
        assert set(use.input) < {"title", "description", "attendees"}
    assert {"title"} <= set(use.input) or max_tokens == 3


def test_anthropic_redacted_thinking_test_string(anthropic_client):
    # Anthropic "Extended thinking": the documented test string yields a redacted_thinking block,
    # which the SDK's stream helper and the next turn must both accept.
    trigger = ("ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
               "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB")
    request = dict(model=GLOBAL_SONNET_45, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
                   messages=[{"role": "user", "content": trigger}])
    with anthropic_client.messages.stream(**request) as stream:
        final = stream.get_final_message()
    created = anthropic_client.messages.create(**request)
    assert [b.type for b in final.content] == [b.type for b in created.content] == ["redacted_thinking", "text"]
    assert final.content[0].data == created.content[0].data
    follow_up = request["messages"] + [{"role": "assistant", "content": [b.model_dump() for b in created.content]},
                                       {"role": "user", "content": "Thanks"}]
    assert anthropic_client.messages.create(**{**request, "messages": follow_up}).content


def test_anthropic_thinking_with_tool_use_round_trip_checks_signatures(anthropic_client):
    """Audit: thinking blocks sent back were not checked. Extended thinking with tool use passes
    the assistant turn back unmodified: accepted; with its thinking changed: the API's 400."""
    tools = [{"name": "get_weather", "description": "Weather of a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    request = dict(model=GLOBAL_SONNET_45, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
                   tools=tools, messages=[{"role": "user", "content": "What is the weather in Paris? Use get_weather."}])
    first = anthropic_client.messages.create(**request)
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    use = first.content[-1]

    def continued(content):
        return {**request, "messages": request["messages"] + [
            {"role": "assistant", "content": content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18 C"}]}]}

    assert anthropic_client.messages.create(**continued(first.content)).content
    changed = [b.model_dump() for b in first.content]
    changed[0]["thinking"] += " Paris is sunny."
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(**continued(changed))
    assert caught.value.body == {"message": "messages.1.content.0: Invalid `signature` in `thinking` block"}


@pytest.mark.parametrize(("model", "preserves"), [(GLOBAL_SONNET_45, False),
                                                 ("global.anthropic.claude-opus-4-5-20251101-v1:0", True)])
def test_anthropic_thinking_tool_use_agent_loop_counts_and_caches_thinking_per_model(
        anthropic_client, runtime_client, model, preserves):
    """Audit: thinking of earlier turns was counted only in the last assistant message and kept
    in the cache key when not counted. Anthropic "Extended thinking" ("Extended thinking with
    prompt caching", "Thinking block preservation in Claude Opus 4.5 and later"): within the
    tool-use loop thinking counts as input; once a user turn holds more than tool results, a
    model before Opus 4.5 strips every earlier thinking block (the request is processed as the
    one without them, so the prefix cached during the loop no longer matches); Opus 4.5 keeps
    them. A thinking + tool-use loop with a breakpoint on the last user turn, CountTokens (the
    invokeModel form) agreeing with usage at each turn."""
    tools = [{"name": "get_weather", "description": "Weather of a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    system = [{"type": "text", "text": "You forecast the weather for the thinking-loop audit. " * 600}]
    betas = ["interleaved-thinking-2025-05-14"]  # thinking after the tool result too
    base = dict(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048}, tools=tools, system=system)
    question = "What is the weather in Paris? Use get_weather."
    messages = [{"role": "user", "content": [{"type": "text", "text": question}]}]

    def marked(conversation):
        copy = [{**m, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in m["content"]]}
                for m in conversation]
        copy[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
        return copy

    def count(conversation):
        body = {**base, "anthropic_version": "bedrock-2023-05-31", "anthropic_beta": betas, "messages": conversation}
        return runtime_client.count_tokens(modelId=model.split(".", 1)[1],
                                           input={"invokeModel": {"body": json.dumps(body)}})["inputTokens"]

    def stripped(conversation):
        return [{**m, "content": [b for b in m["content"] if b["type"] != "thinking"]} for m in conversation]

    usages = []
    for turn in range(4):
        reply = anthropic_client.beta.messages.create(model=model, betas=betas, messages=marked(messages), **base)
        usage = reply.usage
        total = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        assert count(marked(messages)) == total, turn
        usages.append(usage)
        assert reply.content[0].type == "thinking"
        messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in reply.content]})
        uses = [b for b in reply.content if b.type == "tool_use"]
        assert bool(uses) == (turn == 0)
        if uses:  # turn 1 continues the loop; turns 2 and 3 start new user turns
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": "18 C, light rain"} for use in uses]})
        else:
            messages.append({"role": "user", "content": [{"type": "text", "text": f"And tomorrow, day {turn}?"}]})
    written = [u.cache_read_input_tokens + u.cache_creation_input_tokens for u in usages]
    if preserves:
        assert count(marked(messages)) > count(marked(stripped(messages)))
        assert usages[2].cache_read_input_tokens == written[1]  # the loop's prefix, thinking included
    else:
        assert count(marked(messages)) == count(marked(stripped(messages)))
        assert usages[2].cache_read_input_tokens == written[0] < written[1]  # the loop's prefix is gone
    assert usages[3].cache_read_input_tokens == written[2]


def test_anthropic_messages_parse_structured_output(anthropic_client):
    # Anthropic "Structured outputs": the SDK sends the model's JSON schema in
    # output_config.format and parses the answer's text into the model.
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str
        quantity: int

    class Order(BaseModel):
        city: str
        items: list[Item]

    request = dict(model=GLOBAL_SONNET_45, max_tokens=512,
                   messages=[{"role": "user", "content": "Two lamps and a desk to Lyon, please."}])
    parsed = anthropic_client.messages.parse(output_format=Order, **request)
    assert isinstance(parsed.parsed_output, Order) and parsed.parsed_output.items
    with anthropic_client.messages.stream(output_format=Order, **request) as stream:
        assert stream.get_final_message().parsed_output == parsed.parsed_output


@pytest.mark.parametrize("seed_text", ["Rate it.", "Rate the hotel.", "Score the talk, please.", "Grade this essay."])
def test_anthropic_messages_parse_honours_constraints_the_sdk_moves_into_descriptions(anthropic_client, seed_text):
    # The SDK's transform_schema sends ge/le, min_length... as "{minimum: 5, maximum: 7}" in the
    # field's description, then validates the answer against the model's own constraints.
    from pydantic import BaseModel, Field

    class Review(BaseModel):
        stars: int = Field(ge=5, le=7)
        weight: float = Field(gt=0.5, lt=0.75)
        step: int = Field(multiple_of=3, ge=10)
        code: str = Field(min_length=3, max_length=5)
        tags: list[str] = Field(min_length=2, max_length=4)

    parsed = anthropic_client.messages.parse(
        model=GLOBAL_SONNET_45, max_tokens=512, output_format=Review,
        messages=[{"role": "user", "content": seed_text}],
    )
    assert isinstance(parsed.parsed_output, Review)


def test_anthropic_messages_parse_reads_a_timedelta_field(anthropic_client):
    # "duration" is one of the string formats structured outputs support (the SDK's
    # SupportedStringFormats); a timedelta field got free text, and parse raised ValidationError.
    import datetime

    from pydantic import BaseModel

    class Trip(BaseModel):
        length: datetime.timedelta
        start: datetime.date

    parsed = anthropic_client.messages.parse(
        model=GLOBAL_SONNET_45, max_tokens=512, output_format=Trip,
        messages=[{"role": "user", "content": "Plan a trip to Rome."}],
    )
    assert parsed.parsed_output.length > datetime.timedelta(0)


@pytest.mark.parametrize("seed_text", ["Book a flight.", "Book two flights to Oslo.", "Ship the parcel."])
def test_anthropic_messages_parse_honours_a_pattern(anthropic_client, seed_text):
    # pydantic's Field(pattern=...) reaches the model as "{pattern: ...}" in the description
    # (transform_schema), and a tool's input_schema keeps it as a keyword; the answer is checked
    # against it. Free text used to come back, and parse raised ValidationError.
    from pydantic import BaseModel, Field

    class Booking(BaseModel):
        flight: str = Field(pattern=r"^[A-Z]{2}[0-9]{3,4}$")
        ref: str = Field(pattern=r"^[A-Z0-9]{6}$", min_length=6, max_length=6)
        postcode: str = Field(pattern=r"^\d{5}(-\d{4})?$")

    parsed = anthropic_client.messages.parse(
        model=GLOBAL_SONNET_45, max_tokens=512, output_format=Booking,
        messages=[{"role": "user", "content": seed_text}],
    )
    assert isinstance(parsed.parsed_output, Booking)
    tool = {"name": "book", "description": "Book it", "input_schema": Booking.model_json_schema()}
    message = anthropic_client.messages.create(
        model=GLOBAL_SONNET_45, max_tokens=512, tools=[tool], tool_choice={"type": "tool", "name": "book"},
        messages=[{"role": "user", "content": seed_text}],
    )
    Booking.model_validate(message.content[-1].input)


def test_anthropic_error_classes(anthropic_client, server):
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model="apac.anthropic.claude-sonnet-4-5-20250929-v1:0", max_tokens=64,
                                         messages=HELLO)
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model=GLOBAL_SONNET_45, max_tokens=64,
                                         messages=[{"role": "assistant", "content": "x"}])
    bad = AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key="wrong", aws_region=REGION,
                           base_url=server.url, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        bad.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO)


GLOBAL_OPUS_45 = "global.anthropic.claude-opus-4-5-20251101-v1:0"
TOOL_SEARCH_BETA = "tool-search-tool-2025-10-19"
SEARCH_TOOLS = [
    {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
    {"name": "get_weather", "description": "Get the weather at a specific location", "defer_loading": True,
     "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}},
    {"name": "search_files", "description": "Search through files in the workspace", "defer_loading": True,
     "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
]
WEATHER_QUESTION = [{"role": "user", "content": "What is the weather in San Francisco?"}]


EFFORT_BETA = "effort-2025-11-24"


def test_anthropic_effort_levels_are_judged_for_the_model(anthropic_client):
    """Audit: any ``output_config.effort`` was accepted on any model. Opus 4.5 takes low, medium
    and high (Bedrock's refusal of max quoted in coder/coder#25356); other models refuse it."""
    assert anthropic_client.beta.messages.create(model=GLOBAL_OPUS_45, max_tokens=64, messages=HELLO,
                                                 betas=[EFFORT_BETA], output_config={"effort": "low"}).content
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.beta.messages.create(model=GLOBAL_OPUS_45, max_tokens=64, messages=HELLO,
                                              betas=[EFFORT_BETA], output_config={"effort": "max"})
    assert caught.value.body["message"].endswith("output_config.effort: Input should be 'low', 'medium' or 'high'")
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO,
                                         output_config={"effort": "low"})
    assert caught.value.body["message"].endswith("This model does not support the effort parameter.")


def test_anthropic_lower_effort_answers_shorter(anthropic_client):
    """Audit: effort changed nothing observable. "high" is the answer without effort; lower
    levels write a prefix of it, streamed and whole alike."""
    question = [{"role": "user", "content": "Analyze the trade-offs between microservices and monoliths."}]

    def answer(**extra):
        return anthropic_client.beta.messages.create(model=GLOBAL_OPUS_45, max_tokens=2000, messages=question,
                                                     betas=[EFFORT_BETA], **extra)

    default, high, low = answer(), answer(output_config={"effort": "high"}), answer(output_config={"effort": "low"})
    assert high.content == default.content and high.usage.output_tokens == default.usage.output_tokens
    assert default.content[0].text.startswith(low.content[0].text)
    assert low.usage.output_tokens < default.usage.output_tokens
    with anthropic_client.beta.messages.stream(model=GLOBAL_OPUS_45, max_tokens=2000, messages=question,
                                               betas=[EFFORT_BETA], output_config={"effort": "low"}) as stream:
        assert stream.get_final_message().content[0].text == low.content[0].text


def test_anthropic_tool_search_agent_loop(anthropic_client):
    """Anthropic "Tool search tool" quick start: the answer searches, then calls the found tool;
    sending it back with the tool's result goes on (beta.messages, real socket)."""
    first = anthropic_client.beta.messages.create(model=GLOBAL_OPUS_45, max_tokens=1024, messages=WEATHER_QUESTION,
                                                  tools=SEARCH_TOOLS, betas=[TOOL_SEARCH_BETA])
    kinds = [block.type for block in first.content]
    assert kinds == ["text", "server_tool_use", "tool_search_tool_result", "text", "tool_use"]
    server, result, call = first.content[1], first.content[2], first.content[4]
    assert server.id.startswith("srvtoolu_") and server.name == "tool_search_tool_regex" and server.input == {"pattern": "weather"}
    assert result.tool_use_id == server.id
    assert [ref.tool_name for ref in result.content.tool_references] == ["get_weather"]
    assert call.name == "get_weather" and first.stop_reason == "tool_use"

    history = [*WEATHER_QUESTION, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "15C, foggy"}]}]
    second = anthropic_client.beta.messages.create(model=GLOBAL_OPUS_45, max_tokens=1024, messages=history,
                                                   tools=SEARCH_TOOLS, betas=[TOOL_SEARCH_BETA])
    assert second.stop_reason == "end_turn" and "15C, foggy" in second.content[0].text


def test_anthropic_tool_search_stream_accumulates(anthropic_client):
    tools = [{"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_bm25"}, *SEARCH_TOOLS[1:]]
    with anthropic_client.beta.messages.stream(model=GLOBAL_OPUS_45, max_tokens=1024, messages=WEATHER_QUESTION,
                                               tools=tools, betas=[TOOL_SEARCH_BETA]) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == [
        "text", "server_tool_use", "tool_search_tool_result", "text", "tool_use"]
    assert final.content[1].input == {"query": "weather"}
    assert final.content[2].content.tool_references[0].tool_name == "get_weather"
    assert final.content[4].input["location"]


def test_anthropic_beta_tool_runner_loop(anthropic_client):
    """The SDK's beta tool runner with a ``@beta_tool`` function: the server's tool call runs the
    function, and the result sent back ends the loop (streamed and whole alike)."""
    from anthropic import beta_tool

    cities = []

    @beta_tool
    def get_weather(city: str) -> str:
        """Weather of a city.

        Args:
            city: the city
        """
        cities.append(city)
        return f"18C in {city}"

    for stream in (False, True):
        runner = anthropic_client.beta.messages.tool_runner(
            model=GLOBAL_SONNET_45, max_tokens=1024, tools=[get_weather], stream=stream,
            messages=[{"role": "user", "content": "What is the weather in Paris?"}])
        turns = [(turn.get_final_message() if stream else turn).stop_reason for turn in runner]
        assert turns == ["tool_use", "end_turn"]
        assert "18C in Paris" in runner.until_done().content[-1].text
    assert cities == ["Paris", "Paris"]


# --------------------------------------------------------------------------- context editing


def _weather_conversation(rounds: int) -> list[dict]:
    """A conversation in which the assistant called get_weather ``rounds`` times."""
    messages: list[dict] = [{"role": "user", "content": "What is the weather in Madrid, checked several times?"}]
    for n in range(rounds):
        tool_id = f"toolu_bdrk_01weather{n:013d}"
        messages.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": {"location": "Madrid"}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id,
             "content": f"Reading {n}: sunny, 22 degrees Celsius, humidity 55 percent, light breeze."}]})
    return messages


WEATHER_TOOL = {"name": "get_weather", "description": "Get the weather in a city",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                                 "required": ["location"]}}
CLEAR_TOOL_USES = {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 50},
                   "keep": {"type": "tool_uses", "value": 1}}


def test_anthropic_beta_context_editing_clears_old_tool_results(anthropic_client):
    messages = _weather_conversation(4)
    plain = anthropic_client.beta.messages.create(model=GLOBAL_SONNET_45, max_tokens=256, messages=messages,
                                                  tools=[WEATHER_TOOL], betas=["context-management-2025-06-27"])
    edited = anthropic_client.beta.messages.create(
        model=GLOBAL_SONNET_45, max_tokens=256, messages=messages, tools=[WEATHER_TOOL],
        betas=["context-management-2025-06-27"], context_management={"edits": [CLEAR_TOOL_USES]})
    assert plain.context_management is None
    [applied] = edited.context_management.applied_edits
    assert applied.type == "clear_tool_uses_20250919" and applied.cleared_tool_uses == 3
    assert applied.cleared_input_tokens > 0
    # the model saw, and bills, the edited prompt
    assert edited.usage.input_tokens == plain.usage.input_tokens - applied.cleared_input_tokens
    with anthropic_client.beta.messages.stream(
            model=GLOBAL_SONNET_45, max_tokens=256, messages=messages, tools=[WEATHER_TOOL],
            betas=["context-management-2025-06-27"], context_management={"edits": [CLEAR_TOOL_USES]}) as stream:
        streamed = stream.get_final_message()
    assert streamed.context_management == edited.context_management


def test_anthropic_beta_context_editing_needs_its_beta(anthropic_client):
    with pytest.raises(anthropic.BadRequestError, match="context_management: Extra inputs are not permitted"):
        anthropic_client.beta.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO,
                                              context_management={"edits": [CLEAR_TOOL_USES]})


def test_count_tokens_counts_the_context_edited_prompt(anthropic_client, runtime_client, server):
    """CountTokens "will match the token count that would be charged if the same input were sent
    to the model" (AWS CountTokens reference), and the charged prompt is the edited one: both
    CountTokens forms and the first-party count_tokens route count it, the latter with the
    count before editing in context_management.original_input_tokens (SDK BetaMessageTokensCount)."""
    import httpx

    messages = _weather_conversation(4)
    betas = ["context-management-2025-06-27"]
    management = {"edits": [CLEAR_TOOL_USES]}
    edited = anthropic_client.beta.messages.create(model=GLOBAL_SONNET_45, max_tokens=256, messages=messages,
                                                   tools=[WEATHER_TOOL], betas=betas, context_management=management)
    [applied] = edited.context_management.applied_edits
    body = {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": betas, "max_tokens": 256,
            "messages": messages, "tools": [WEATHER_TOOL], "context_management": management}
    by_invoke = runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"invokeModel": {"body": json.dumps(body)}})
    assert by_invoke["inputTokens"] == edited.usage.input_tokens
    converse_messages = [{"role": "user", "content": [{"text": messages[0]["content"]}]}]
    for assistant, user in zip(messages[1::2], messages[2::2]):
        use, result = assistant["content"][0], user["content"][0]
        converse_messages.append({"role": "assistant", "content": [
            {"toolUse": {"toolUseId": use["id"], "name": use["name"], "input": use["input"]}}]})
        converse_messages.append({"role": "user", "content": [
            {"toolResult": {"toolUseId": result["tool_use_id"], "content": [{"text": result["content"]}]}}]})
    converse = {"messages": converse_messages,
                "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": WEATHER_TOOL["description"],
                                                       "inputSchema": {"json": WEATHER_TOOL["input_schema"]}}}]}}
    plain = runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"converse": converse})["inputTokens"]
    by_converse = runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"converse": {
        **converse, "additionalModelRequestFields": {"context_management": management, "anthropic_beta": betas}}})
    assert 0 < by_converse["inputTokens"] < plain
    first_party = httpx.post(f"{server.url}/v1/messages/count_tokens",
                             headers={"authorization": f"Bearer {API_KEY}", "anthropic-beta": betas[0]},
                             json={"model": GLOBAL_SONNET_45, "messages": messages, "tools": [WEATHER_TOOL],
                                   "context_management": management})
    assert first_party.status_code == 200, first_party.text
    assert first_party.json() == {"input_tokens": edited.usage.input_tokens, "context_management": {
        "original_input_tokens": edited.usage.input_tokens + applied.cleared_input_tokens}}


def test_count_tokens_refusals_of_the_model_keep_bedrock_s_prefix(runtime_client, server):
    """Review: CountTokens (both forms) and the first-party count_tokens route put "The model
    returned the following errors: " before the model's rejections, unlike InvokeModel (no
    capture says otherwise); dropping it on any of the three passed every test."""
    import httpx

    both = "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    prefixed = "The model returned the following errors: " + both
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "temperature": 0.5, "top_p": 0.9,
            "messages": HELLO}
    with pytest.raises(runtime_client.exceptions.ValidationException) as by_invoke:
        runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"invokeModel": {"body": json.dumps(body)}})
    assert by_invoke.value.response["Error"]["Message"] == prefixed
    with pytest.raises(runtime_client.exceptions.ValidationException) as by_converse:
        runtime_client.count_tokens(modelId=BARE_SONNET_45, input={"converse": {
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
            "additionalModelRequestFields": {"temperature": 0.5, "top_p": 0.9}}})
    assert by_converse.value.response["Error"]["Message"] == prefixed
    first_party = httpx.post(f"{server.url}/v1/messages/count_tokens", headers={"authorization": f"Bearer {API_KEY}"},
                             json={"model": GLOBAL_SONNET_45, "temperature": 0.5, "top_p": 0.9, "messages": HELLO})
    assert (first_party.status_code, first_party.json()["message"]) == (400, prefixed)


def test_anthropic_disabled_thinking_with_a_budget_is_refused(anthropic_client):
    """Audit: ``thinking={"type": "disabled", "budget_tokens": 0}`` was accepted; the API refuses
    a budget on disabled thinking (EuroEval #1107), which has no member but ``type``."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO,
                                         thinking={"type": "disabled", "budget_tokens": 0})
    assert caught.value.body == {"message": "thinking.disabled.budget_tokens: Extra inputs are not permitted"}
    assert anthropic_client.messages.create(model=GLOBAL_SONNET_45, max_tokens=64, messages=HELLO,
                                            thinking={"type": "disabled"}).content
