// Drives the npm @anthropic-ai/bedrock-sdk against a claude-bedrock server.
// Usage: node scenarios.mjs <scenario> [argument]; reads ANTHROPIC_BEDROCK_BASE_URL, AWS_* from the env.
// Prints one JSON line with what the SDK returned (or the error it raised).
import AnthropicBedrock from '@anthropic-ai/bedrock-sdk';

const HELLO = [{ role: 'user', content: 'Hello, world' }];
const GLOBAL = 'global.anthropic.claude-sonnet-4-5-20250929-v1:0';
// The model of the fault scenarios, which no other scenario calls: their faults hit only them.
const FAULT_MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';

const WEATHER = { name: 'get_weather', description: 'Weather of a city',
                  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

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
  async stream_thinking_tools() {
    // stream: true with a tool and thinking: each delta type, the helper's events in order, and
    // its finalMessage the same message as the raw stream and messages.create.
    const params = { model: GLOBAL, max_tokens: 4096, tools: [WEATHER], thinking: { type: 'enabled', budget_tokens: 2048 },
                     messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const deltas = new Set();
    let json = '';
    for await (const event of await client().messages.create({ ...params, stream: true })) {
      if (event.type !== 'content_block_delta') continue;
      deltas.add(event.delta.type);
      if (event.delta.type === 'input_json_delta') json += event.delta.partial_json;
    }
    const helper = client().messages.stream(params);
    const events = [];
    for (const name of ['connect', 'thinking', 'signature', 'inputJson', 'text', 'contentBlock', 'message', 'finalMessage', 'end']) {
      helper.on(name, () => { if (events.at(-1) !== name) events.push(name); });
    }
    const streamed = await helper.finalMessage();
    const whole = await client().messages.create(params);
    const shape = (m) => m.content.map((b) => b.type === 'thinking' ? [b.type, b.thinking, b.signature !== '']
                                         : b.type === 'tool_use' ? [b.type, b.name, b.input] : [b.type, b.text]);
    return { deltas: [...deltas].sort(), json: JSON.parse(json), events, streamed: shape(streamed), whole: shape(whole),
             stop_reason: streamed.stop_reason, usage: [streamed.usage.output_tokens, whole.usage.output_tokens] };
  },
  async non_ascii() {
    // Emoji, CJK and accents through SigV4 (the body's hash) and the stream's chunks; a place
    // with accents is the tool's input whole, streamed (input_json_delta) as created.
    const text = 'Bonjour 🌍🎉 你好世界 こんにちは — Zoë ' + '🦄'.repeat(40) + ' 漢字'.repeat(60);
    const params = { model: GLOBAL, max_tokens: 1024, system: 'Système 🚀 中文', messages: [{ role: 'user', content: text }] };
    const whole = await client().messages.create(params);
    let streamed = '';
    for await (const event of await client().messages.create({ ...params, stream: true })) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') streamed += event.delta.text;
    }
    const tool = { model: GLOBAL, max_tokens: 1024, tools: [WEATHER],
                   messages: [{ role: 'user', content: "What's the weather in Zürich? 🌦" }] };
    const input = (m) => m.content.find((b) => b.type === 'tool_use')?.input ?? null;
    return { text: whole.content[0].text, streamed, input_tokens: whole.usage.input_tokens,
             tool_whole: input(await client().messages.create(tool)),
             tool_streamed: input(await client().messages.stream(tool).finalMessage()) };
  },
  async model_ids() {
    // ARN model IDs ('/' sent as %2F, signed over the escaped path), created, streamed and
    // counted; and which IDs the client's awsRegion may call.
    const arns = ['arn:aws:bedrock:us-west-2:111122223333:inference-profile/' + GLOBAL,
                  'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0'];
    const arn = [];
    for (const model of arns) {
      const params = { model, max_tokens: 32, messages: HELLO };
      arn.push([(await client().messages.create(params)).model, (await client().messages.stream(params).finalMessage()).model,
                (await client().messages.countTokens({ model, messages: HELLO })).input_tokens]);
    }
    const fromEu = {};
    for (const model of ['eu.anthropic.claude-sonnet-4-5-20250929-v1:0', GLOBAL,
                         'anthropic.claude-sonnet-4-5-20250929-v1:0', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0']) {
      try {
        await client({ awsRegion: 'eu-west-1' }).messages.create({ model, max_tokens: 16, messages: HELLO });
        fromEu[model] = 'ok';
      } catch (err) {
        fromEu[model] = `${err.constructor.name} ${err.status}`;
      }
    }
    return { arn, fromEu };
  },
  async documents() {
    // A base64 PDF and a base64 image: answered, and counted as messages.create bills them.
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n'
      + '2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n'
      + 'trailer<</Root 1 0 R>>\n%%EOF').toString('base64');
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const blocks = { pdf: { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
                     image: { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } } };
    const out = {};
    for (const [name, block] of Object.entries(blocks)) {
      const messages = [{ role: 'user', content: [block, { type: 'text', text: 'Describe this' }] }];
      const created = await client().messages.create({ model: GLOBAL, max_tokens: 64, messages });
      const counted = await client().messages.countTokens({ model: GLOBAL, messages });
      out[name] = { billed: created.usage.input_tokens, counted: counted.input_tokens, text: created.content[0].text !== '' };
    }
    return out;
  },
  async abort() {
    // An AbortController aborting a stream while the answer is still to come (a latency fault):
    // the SDK's APIUserAbortError; the server's record is the test's to read.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    try {
      const stream = await client().messages.create({ model: FAULT_MODEL, max_tokens: 64, messages: HELLO, stream: true },
                                                   { signal: controller.signal });
      for await (const event of stream) void event;
      return { error: null };
    } catch (err) {
      return { error: err.constructor.name };
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
