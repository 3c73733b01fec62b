// Drives the npm @anthropic-ai/bedrock-sdk against a claude-bedrock server.
// Usage: node scenarios.mjs <scenario> [argument]; reads ANTHROPIC_BEDROCK_BASE_URL, AWS_* from the env.
// Prints one JSON line with what the SDK returned (or the error it raised).
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';

const HELLO = [{ role: 'user', content: 'Hello, world' }];
const GLOBAL = 'global.anthropic.claude-sonnet-4-5-20250929-v1:0';
// The model of the fault scenarios, which no other scenario calls: their faults hit only them.
const FAULT_MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';

function client(extra = {}) {
  return new AnthropicBedrock({
    awsAccessKey: process.env.TEST_ACCESS_KEY,
    awsSecretKey: process.env.TEST_SECRET_KEY,
    awsRegion: 'us-west-2',
    maxRetries: 0,
    ...extra,
  });
}

const scenarios = {
  async create() {
    const m = await client().messages.create({ model: GLOBAL, max_tokens: 256, messages: HELLO });
    return { id: m.id, model: m.model, text: m.content[0].text, usage: m.usage, stop_reason: m.stop_reason };
  },
  async create_regional() {
    const m = await client().messages.create({
      model: 'anthropic.claude-sonnet-4-5-20250929-v1:0', max_tokens: 256, messages: HELLO });
    return { id: m.id, text: m.content[0].text };
  },
  async session_token() {
    const c = client({ awsAccessKey: 'ASIATEMPORARYKEY01', awsSessionToken: process.env.TEST_SESSION_TOKEN });
    const m = await c.messages.create({ model: GLOBAL, max_tokens: 64, messages: HELLO });
    return { text: m.content[0].text };
  },
  async api_key() {
    const c = new AnthropicBedrock({ apiKey: process.env.TEST_API_KEY, awsRegion: 'us-west-2', maxRetries: 0 });
    const m = await c.messages.create({ model: GLOBAL, max_tokens: 64, messages: HELLO });
    return { text: m.content[0].text };
  },
  async stream_true() {
    const stream = await client().messages.create({ model: GLOBAL, max_tokens: 256, messages: HELLO, stream: true });
    const types = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    return { types, text };
  },
  async stream_helper() {
    const final = await client().messages.stream({ model: GLOBAL, max_tokens: 256, messages: HELLO }).finalMessage();
    return { text: final.content[0].text, stop_reason: final.stop_reason };
  },
  async beta_1m() {
    const m = await client().beta.messages.create({
      model: GLOBAL, max_tokens: 64, messages: HELLO, betas: ['context-1m-2025-08-07'] });
    return { text: m.content[0].text };
  },
  async count_tokens() {
    const r = await client().messages.countTokens({ model: GLOBAL, messages: HELLO });
    return r;
  },
  async count_tokens_thinking() {
    // countTokens takes no max_tokens: a thinking budget must not be judged against one.
    const r = await client().messages.countTokens({
      model: GLOBAL, messages: HELLO, thinking: { type: 'enabled', budget_tokens: 2048 } });
    return r;
  },
  async tool_runner() {
    // The beta tool runner: the tool is called with the model's input, its result sent back.
    const weather = {
      name: 'get_weather', description: 'Weather of a city',
      input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      run: async ({ city }) => `18C in ${city}`,
    };
    const runner = client().beta.messages.toolRunner({
      model: GLOBAL, max_tokens: 1024, tools: [weather], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const turns = [];
    for await (const message of runner) turns.push(message.stop_reason);
    const final = await runner.runUntilDone();
    return { turns, text: final.content.at(-1).text };
  },
  async parse() {
    const m = await client().messages.parse({
      model: GLOBAL, max_tokens: 512, messages: [{ role: 'user', content: 'Two lamps to Lyon, please.' }],
      output_config: { format: { type: 'json_schema', schema: {
        type: 'object', properties: { city: { type: 'string' }, lamps: { type: 'integer' } },
        required: ['city', 'lamps'], additionalProperties: false } } } });
    return { parsed: m.parsed_output };
  },
  async cut_tool_call() {
    // A tool call cut by max_tokens, at every budget up to the whole call: the input the stream
    // helper assembles (the SDK's partial JSON parser) and the one messages.create returns.
    const tools = [{ name: 'book', description: 'Book a trip', input_schema: { type: 'object',
      properties: { city: { type: 'string' }, notes: { type: 'string' }, days: { type: 'integer' },
                    guests: { type: 'array', items: { type: 'string' } } },
      required: ['city', 'notes', 'days', 'guests'] } }];
    const cuts = [];
    for (let maxTokens = 1; maxTokens <= 40; maxTokens++) {
      const params = { model: GLOBAL, max_tokens: maxTokens, tools, tool_choice: { type: 'any' },
                       messages: [{ role: 'user', content: 'Book a trip to Paris' }] };
      const whole = await client().messages.create(params);
      const streamed = await client().messages.stream(params).finalMessage();
      const input = (m) => m.content.find((b) => b.type === 'tool_use')?.input ?? null;
      cuts.push({ max_tokens: maxTokens, stop_reason: whole.stop_reason, whole: input(whole), streamed: input(streamed) });
    }
    return { cuts };
  },
  async fault() {
    // One call to the model the test's fault targets (argv[3]: 'create' or 'stream'), with the
    // SDK's own retries (2, its default); what it raised and how many requests it sent.
    let attempts = 0;
    const counting = (url, init) => { attempts += 1; return fetch(url, init); };
    const c = client({ maxRetries: 2, fetch: counting });
    const params = { model: FAULT_MODEL, max_tokens: 64, messages: HELLO };
    try {
      if (process.argv[3] === 'stream') await c.messages.stream(params).finalMessage();
      else await c.messages.create(params);
      return { attempts, error: null };
    } catch (err) {
      return { attempts, error: err.constructor.name, status: err.status ?? null,
               type: err.error?.error?.type ?? null, message: String(err.message) };
    }
  },
  async invalid_model() {
    await client().messages.create({
      model: 'apac.anthropic.claude-sonnet-4-5-20250929-v1:0', max_tokens: 64, messages: HELLO });
    return { unexpected: 'no error' };
  },
};

const name = process.argv[2];
try {
  const result = await scenarios[name]();
  console.log(JSON.stringify({ ok: true, result }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: err.constructor.name, status: err.status ?? null,
                               message: String(err.message) }));
}
