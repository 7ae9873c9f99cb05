// Webhook abuse: a bounded, seeded fuzz run against the real webhook server (the one `slipway
// webhook` and `slipway up` run) on loopback, with the real Temporal dev server behind it. Every
// request carries one known defect — wrong or missing token, oversized or malformed body, wrong
// content type, wrong event, wrong shape, wrong method or path, bytes that are not HTTP — and the
// exact status it must get is decided when it is generated, never read back from the server.
// Where a defect rides on an otherwise valid, start-able delivery, a server that let it through
// would start a pipeline: the run counts pipelines in Temporal visibility before and after.
//
// Reproduce a failure with the seed it prints: SLIPWAY_FUZZ_SEED=<seed> npm test -- webhook-fuzz
// (SLIPWAY_FUZZ_REQUESTS changes the number of requests, default 3000).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomInt, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { temporalAddress } from '../helpers/env';
import { listedOnceVisible } from '../helpers/visibility';
import { fixture, writeTestConfig, type TestConfig } from '../webhook/helpers';

const seed = Number(process.env.SLIPWAY_FUZZ_SEED ?? randomInt(2 ** 31));
const total = Number(process.env.SLIPWAY_FUZZ_REQUESTS ?? 3000);
const concurrency = 8;
const bodyLimit = 16 * 1024;
/** http.ts stops reading a body declared above 32 × the limit. */
const hardCap = 32 * bodyLimit;
const token = `hook-${randomUUID()}`;

let connection: Connection;
let client: Client;
let server: WebhookServer;
let config: TestConfig;
let port: number;
const started = new Set<string>();

before(async () => {
  config = writeTestConfig();
  connection = await Connection.connect({ address: temporalAddress() });
  client = new Client({ connection });
  // The limit comes from the environment variable, as in `slipway webhook`.
  server = await startWebhookServer({
    port: 0,
    client,
    token,
    configDir: config.dir,
    env: { ...process.env, SLIPWAY_WEBHOOK_TOKEN: undefined, SLIPWAY_WEBHOOK_BODY_LIMIT: String(bodyLimit) },
  });
  port = Number(new URL(server.url).port);
});

after(async () => {
  for (const id of started)
    await client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  await server?.close();
  await connection?.close();
});

// --- a seeded PRNG (mulberry32): the same seed gives the same requests ---------------------------

function prng(seedValue: number) {
  let a = seedValue >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const between = (lo: number, hi: number) => lo + int(hi - lo + 1);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const printable = (n: number) => String.fromCharCode(...Array.from({ length: n }, () => between(0x21, 0x7e)));
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  return { next, int, between, pick, bytes, printable, hex, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// --- cases --------------------------------------------------------------------------------------

interface FuzzCase {
  /** Category, for the breakdown. */
  kind: string;
  /** What exactly is wrong, for failure messages. */
  what: string;
  expect: number;
  /** Expected Allow header of a 405. */
  allow?: string;
  /** The answer comes from our handlers (a JSON `{error}` body), not from Node's HTTP parser. */
  jsonError?: boolean;
  /** An HTTP request ... */
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** ... sent with chunked transfer encoding, in pieces. */
  chunked?: boolean;
  /** ... or bytes written on a fresh socket (half-closed afterwards if asked). */
  raw?: Buffer;
  halfClose?: boolean;
}

const pushFixture = fixture('push-hook.json');
const tagFixture = fixture('tag-push-hook.json');
type Json = Record<string, unknown>;

/** A delivery the server would accept and start a pipeline for (fresh commit each time). */
function startablePush(rng: Rng): Json {
  const sha = rng.hex(40);
  return { ...structuredClone(pushFixture), after: sha, checkout_sha: sha };
}
function startableTag(rng: Rng): Json {
  const sha = rng.hex(40);
  return { ...structuredClone(tagFixture), after: sha, checkout_sha: sha };
}
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const good = (extra: Record<string, string> = {}) => ({
  'Content-Type': 'application/json',
  'X-Gitlab-Token': token,
  'X-Gitlab-Event': 'Push Hook',
  ...extra,
});

function isJsonObject(body: Buffer): boolean {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** A value of any JSON type except the ones listed. */
function wrongValue(rng: Rng, ...not: ('string' | 'number' | 'boolean' | 'null' | 'array' | 'object')[]): unknown {
  const all = {
    string: () => rng.printable(rng.between(0, 20)),
    number: () => rng.pick([0, -1, 1.5, 1e308, rng.int(1e9)]),
    boolean: () => rng.chance(0.5),
    null: () => null,
    array: () => rng.pick([[], [1], ['refs/heads/master'], [{}]]),
    object: () => rng.pick([{}, { a: 1 }, { path_with_namespace: 'mike/diaspora' }]),
  };
  const kinds = (Object.keys(all) as (keyof typeof all)[]).filter((k) => !not.includes(k));
  return all[rng.pick(kinds)]();
}

const badTokens = (rng: Rng): [string, Record<string, string>][] => [
  ['missing X-Gitlab-Token', {}],
  ['empty X-Gitlab-Token', { 'X-Gitlab-Token': '' }],
  ['random X-Gitlab-Token', { 'X-Gitlab-Token': rng.printable(rng.between(1, 64)) }],
  ['token with one character changed', { 'X-Gitlab-Token': `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}` }],
  ['token prefix', { 'X-Gitlab-Token': token.slice(0, rng.between(1, token.length - 1)) }],
  ['token plus a character', { 'X-Gitlab-Token': `${token}${rng.printable(1)}` }],
  ['token in upper case', { 'X-Gitlab-Token': token.toUpperCase() }],
  ['token as a bearer token', { Authorization: `Bearer ${token}` }],
  ['token in another header', { 'X-Gitlab-Secret': token }],
];

const wrongContentTypes = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'text/json',
  'application/jsonp',
  'application/json-patch+json',
  'application/vnd.gitlab+json',
  'json',
  '*/*',
  'application/octet-stream',
];

const ignoredEvents = [
  'Merge Request Hook',
  'Pipeline Hook',
  'Job Hook',
  'Note Hook',
  'Issue Hook',
  'Wiki Page Hook',
  'Deployment Hook',
  'Release Hook',
  'System Hook',
  'Emoji Hook',
  'push hook',
  'PUSH HOOK',
  'Push',
  'Push  Hook',
  'Tag Push',
];

/** One field of a push payload made wrong: each of these fails validation (400), none is ignorable. */
const shapeMutations: [string, (p: Json, rng: Rng) => void][] = [
  ['object_kind removed', (p) => delete p.object_kind],
  ['object_kind of another event', (p, rng) => (p.object_kind = rng.pick(['tag_push', 'merge_request', 'PUSH', '']))],
  ['object_kind not a string', (p, rng) => (p.object_kind = wrongValue(rng, 'string'))],
  ['ref removed', (p) => delete p.ref],
  ['ref not a string', (p, rng) => (p.ref = wrongValue(rng, 'string'))],
  [
    'ref not refs/heads/<branch>',
    (p, rng) => (p.ref = rng.pick(['master', 'refs/heads/', 'refs/remotes/origin/master', rng.printable(12)])),
  ],
  ['tag ref in a push', (p) => (p.ref = 'refs/tags/v1.0.0')],
  ['after removed', (p) => delete p.after],
  ['after not a string', (p, rng) => (p.after = wrongValue(rng, 'string'))],
  ['checkout_sha removed', (p) => delete p.checkout_sha],
  ['checkout_sha not a string', (p, rng) => (p.checkout_sha = wrongValue(rng, 'string', 'null'))],
  [
    'checkout_sha not a SHA',
    (p, rng) =>
      (p.checkout_sha = rng.pick([
        'HEAD',
        'master',
        rng.hex(rng.pick([7, 39, 41, 63, 65])),
        rng
          .hex(40)
          .toUpperCase()
          .replace(/^[0-9]/, 'A'),
        `${rng.hex(39)}g`,
      ])),
  ],
  ['project removed', (p) => delete p.project],
  ['project not an object', (p, rng) => (p.project = wrongValue(rng, 'object'))],
  ['project without path_with_namespace', (p) => (p.project = { id: 15, name: 'Diaspora' })],
  ['project.path_with_namespace empty', (p) => (p.project = { path_with_namespace: '' })],
  [
    'project.path_with_namespace not a string',
    (p, rng) => (p.project = { path_with_namespace: wrongValue(rng, 'string') }),
  ],
  ['commits not an array', (p, rng) => (p.commits = wrongValue(rng, 'array'))],
  ['commits of non-objects', (p, rng) => (p.commits = [rng.pick([1, 'x', null, true, []])])],
  ['commit without id', (p) => (p.commits = [{ message: 'no id' }])],
  ['commit id not a string', (p, rng) => (p.commits = [{ id: wrongValue(rng, 'string') }])],
  ['commit timestamp not a string', (p, rng) => (p.commits = [{ id: 'x', timestamp: wrongValue(rng, 'string') }])],
  ['commit author not an object', (p, rng) => (p.commits = [{ id: 'x', author: wrongValue(rng, 'object', 'null') }])],
  [
    'commit author email not a string',
    (p, rng) => (p.commits = [{ id: 'x', author: { name: 'x', email: wrongValue(rng, 'string', 'null') } }]),
  ],
  ['before not a string', (p, rng) => (p.before = wrongValue(rng, 'string'))],
  ['user_username not a string', (p, rng) => (p.user_username = wrongValue(rng, 'string', 'null'))],
  ['user_email not a string', (p, rng) => (p.user_email = wrongValue(rng, 'string', 'null'))],
  // The body gets `"__proto__":{"object_kind":"push"}` written in by hand (see generate()).
  ['object_kind only in __proto__', (p) => delete p.object_kind],
];

function generate(rng: Rng): FuzzCase {
  const roll = rng.next();
  // --- 401: every defect of the token; the rest of the delivery is valid (or not: auth comes first)
  if (roll < 0.15) {
    const [what, headers] = rng.pick(badTokens(rng));
    const body = rng.pick([
      () => json(startablePush(rng)),
      () => rng.bytes(rng.between(0, 500)),
      () => Buffer.alloc(bodyLimit + rng.between(1, bodyLimit), 'x'),
    ])();
    const contentType = rng.chance(0.8) ? 'application/json' : rng.pick(wrongContentTypes);
    return {
      kind: 'token',
      what: `${what}, ${body.length}-byte body, ${contentType}`,
      expect: 401,
      jsonError: true,
      method: 'POST',
      path: '/webhooks/gitlab',
      headers: { 'Content-Type': contentType, 'X-Gitlab-Event': 'Push Hook', ...headers },
      body,
    };
  }
  // --- 413: over SLIPWAY_WEBHOOK_BODY_LIMIT, declared or streamed
  if (roll < 0.27) {
    const size = rng.between(bodyLimit + 1, 4 * bodyLimit);
    const variant = rng.pick(['padded valid delivery', 'random bytes', 'JSON array']);
    let body: Buffer;
    if (variant === 'padded valid delivery') {
      const p = startablePush(rng);
      const base = json({ ...p, padding: '' }).length;
      body = json({ ...p, padding: 'x'.repeat(Math.max(size - base, 1)) });
    } else if (variant === 'random bytes') body = rng.bytes(size);
    else body = Buffer.from(`[${'1,'.repeat(Math.floor(size / 2))}1]`);
    const chunked = rng.chance(0.3);
    return {
      kind: 'oversized',
      what: `${variant}, ${body.length} bytes${chunked ? ', chunked' : ''}`,
      expect: 413,
      jsonError: true,
      method: 'POST',
      path: '/webhooks/gitlab',
      headers: good(),
      body,
      chunked,
    };
  }
  // --- 415: a valid delivery with the wrong (or no) Content-Type
  if (roll < 0.37) {
    const contentType = rng.chance(0.15) ? undefined : rng.pick(wrongContentTypes);
    const headers: Record<string, string> = good();
    if (contentType) headers['Content-Type'] = contentType;
    else delete headers['Content-Type'];
    return {
      kind: 'content-type',
      what: `valid delivery as ${contentType ?? 'no Content-Type'}`,
      expect: 415,
      jsonError: true,
      method: 'POST',
      path: '/webhooks/gitlab',
      headers,
      body: json(startablePush(rng)),
    };
  }
  // --- 400: not JSON, or JSON but not an object
  if (roll < 0.52) {
    const valid = JSON.stringify(startablePush(rng));
    const variants: [string, () => Buffer][] = [
      ['truncated delivery', () => Buffer.from(valid.slice(0, rng.int(valid.length)))],
      ['random bytes', () => rng.bytes(rng.between(1, 2000))],
      ['random text', () => Buffer.from(rng.printable(rng.between(1, 500)))],
      [
        'one character dropped',
        () => {
          const at = rng.int(valid.length);
          return Buffer.from(valid.slice(0, at) + valid.slice(at + 1));
        },
      ],
      [
        'one character inserted',
        () => {
          const at = rng.int(valid.length);
          return Buffer.from(valid.slice(0, at) + rng.pick(['{', '}', '"', ',', ':', ']', 'x']) + valid.slice(at));
        },
      ],
      ['empty body', () => Buffer.alloc(0)],
      ['whitespace only', () => Buffer.from(' \n\t '.repeat(rng.between(1, 10)))],
      ['byte order mark before the delivery', () => Buffer.from(`\ufeff${valid}`)],
      ['trailing garbage', () => Buffer.from(`${valid}${rng.pick(['x', '}', ',{}', ' {}'])}`)],
      ['single quotes', () => Buffer.from(valid.replace(/"/g, "'"))],
      ['trailing comma', () => Buffer.from(valid.replace(/}$/, ',}'))],
      ['NaN literal', () => Buffer.from(valid.replace(/"user_id":4/, '"user_id":NaN'))],
      ['comment', () => Buffer.from(`/* hook */${valid}`)],
      ['UTF-16 encoded', () => Buffer.from(valid, 'utf16le')],
      ['JSON array', () => Buffer.from(`[${valid}]`)],
      ['JSON scalar', () => Buffer.from(rng.pick(['null', 'true', '0', '"push"', '1e400']))],
      ['deeply nested arrays', () => Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`)],
    ];
    for (;;) {
      const [what, make] = rng.pick(variants);
      const body = make();
      if (isJsonObject(body)) continue; // the mutation happened to leave valid JSON: draw again
      return {
        kind: 'malformed',
        what: `${what} (${body.length} bytes)`,
        expect: 400,
        jsonError: true,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: good(),
        body,
      };
    }
  }
  // --- 400: valid JSON, wrong shape or types
  if (roll < 0.72) {
    const variant = rng.int(10);
    if (variant === 0) {
      // Event header and payload disagree.
      const tagHeader = rng.chance(0.5);
      return {
        kind: 'shape',
        what: tagHeader ? 'push payload as Tag Push Hook' : 'tag payload as Push Hook',
        expect: 400,
        jsonError: true,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: good({ 'X-Gitlab-Event': tagHeader ? 'Tag Push Hook' : 'Push Hook' }),
        body: json(tagHeader ? startablePush(rng) : startableTag(rng)),
      };
    }
    if (variant === 1) {
      const p = startableTag(rng);
      p.ref = 'refs/heads/master';
      return {
        kind: 'shape',
        what: 'branch ref in a tag push',
        expect: 400,
        jsonError: true,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: good({ 'X-Gitlab-Event': 'Tag Push Hook' }),
        body: json(p),
      };
    }
    if (variant === 2) {
      // The last of duplicate keys wins in JSON.parse: a valid value followed by a bad one.
      const valid = JSON.stringify(startablePush(rng));
      return {
        kind: 'shape',
        what: 'duplicate checkout_sha key, the last one invalid',
        expect: 400,
        jsonError: true,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: good(),
        body: Buffer.from(valid.replace(/}$/, ',"checkout_sha":"HEAD"}')),
      };
    }
    const p = startablePush(rng);
    const count = rng.chance(0.7) ? 1 : 2;
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const [name, mutate] = rng.pick(shapeMutations);
      mutate(p, rng);
      names.push(name);
    }
    let body = json(p);
    if (names.includes('object_kind only in __proto__')) {
      // An own "__proto__" key cannot be made by assignment: write it into the text.
      body = Buffer.from(JSON.stringify(p).replace(/^\{/, '{"__proto__":{"object_kind":"push"},'));
    }
    return {
      kind: 'shape',
      what: names.join(' + '),
      expect: 400,
      jsonError: true,
      method: 'POST',
      path: '/webhooks/gitlab',
      headers: good(),
      body,
    };
  }
  // --- 200 "ignored": events that do not start deliveries, with a valid push or tag payload
  if (roll < 0.8) {
    if (rng.chance(0.25)) {
      const p = startablePush(rng);
      const kind = rng.pick(['merge_request', 'pipeline', 'build', 'note', 'Push', undefined, 5]);
      if (kind === undefined) delete p.object_kind;
      else p.object_kind = kind;
      const headers: Record<string, string> = good();
      delete headers['X-Gitlab-Event'];
      return {
        kind: 'event',
        what: `no X-Gitlab-Event, object_kind ${JSON.stringify(kind ?? null)}`,
        expect: 200,
        method: 'POST',
        path: '/webhooks/gitlab',
        headers,
        body: json(p),
      };
    }
    const event = rng.chance(0.8)
      ? rng.pick(ignoredEvents)
      : `${rng.printable(1)} ${rng.printable(rng.between(1, 30))}`;
    return {
      kind: 'event',
      what: `X-Gitlab-Event ${JSON.stringify(event)}`,
      expect: 200,
      method: 'POST',
      path: '/webhooks/gitlab',
      headers: good({ 'X-Gitlab-Event': event }),
      body: json(rng.chance(0.5) ? startablePush(rng) : startableTag(rng)),
    };
  }
  // --- 404 / 405 / 400: wrong methods, paths and query parameters
  if (roll < 0.94) return generateRoute(rng);
  // --- bytes the HTTP parser refuses (400/431), a truncated upload, a declared body over the cap
  return generateRaw(rng);
}

const routes = [
  '/webhooks/gitlab',
  '/healthz',
  '/pipelines',
  '/environments',
  '/board',
  '/audit',
  '/promotions',
  '/rollbacks',
];
/** Served exactly (the root redirects to the board), not as a prefix. */
const exactRoutes = ['/'];

function randomPath(rng: Rng): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@';
  for (;;) {
    const segments = Array.from({ length: rng.between(1, 4) }, () =>
      Array.from({ length: rng.between(0, 12) }, () => rng.pick([...alphabet])).join(''),
    );
    const path = `/${segments.join('/')}${rng.chance(0.2) ? `?${rng.pick(['a=1', 'token=x', ''])}` : ''}`;
    const bare = path.split('?')[0] as string;
    if (!exactRoutes.includes(bare) && !routes.some((r) => bare === r || bare.startsWith(`${r}/`))) return path;
  }
}

function generateRoute(rng: Rng): FuzzCase {
  const pipelineId = () =>
    encodeURIComponent(`pipeline/${rng.pick([config.pushService, 'unknown'])}/${rng.hex(40)}`).replace(
      rng.chance(0.5) ? /%2F/g : /$^/,
      '/',
    );
  const variants: (() => FuzzCase)[] = [
    () => {
      const method = rng.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'MKCOL', 'LOCK']);
      return {
        kind: 'method',
        what: `${method} /webhooks/gitlab with a valid delivery`,
        expect: 405,
        allow: 'POST',
        jsonError: method !== 'HEAD',
        method,
        path: '/webhooks/gitlab',
        headers: good(),
        body: method === 'GET' || method === 'HEAD' ? undefined : json(startablePush(rng)),
      };
    },
    () => {
      const method = rng.pick(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
      return {
        kind: 'method',
        what: `${method} /healthz`,
        expect: 405,
        allow: 'GET, HEAD',
        jsonError: true,
        method,
        path: '/healthz',
      };
    },
    () => {
      const method = rng.pick(['POST', 'PUT', 'DELETE', 'PATCH']);
      return {
        kind: 'method',
        what: `${method} /pipelines`,
        expect: 405,
        allow: 'GET',
        jsonError: true,
        method,
        path: '/pipelines',
      };
    },
    () => {
      const method = rng.pick(['POST', 'PUT', 'DELETE', 'PATCH']);
      const path = `/pipelines/${pipelineId()}`;
      return { kind: 'method', what: `${method} ${path}`, expect: 405, allow: 'GET', jsonError: true, method, path };
    },
    () => {
      const method = rng.pick(['GET', 'PUT', 'DELETE', 'PATCH']);
      const path = `/pipelines/${pipelineId()}/${rng.pick(['approvals', 'rejections'])}`;
      return { kind: 'method', what: `${method} ${path}`, expect: 405, allow: 'POST', jsonError: true, method, path };
    },
    () => {
      const method = rng.pick(['BREW', 'FOO', 'GETT', 'XPOST']);
      return {
        kind: 'method',
        what: `unknown method ${method}`,
        expect: 400,
        method,
        path: '/webhooks/gitlab',
        headers: good(),
        body: json(startablePush(rng)),
      };
    },
    () => {
      const path = `/pipelines/${rng.pick(['%E0%A4%A', '%', '%zz', 'pipeline%2', '%C0%AF'])}`;
      return {
        kind: 'path',
        what: `GET ${path} (bad URL encoding)`,
        expect: 400,
        jsonError: true,
        method: 'GET',
        path,
      };
    },
    () => {
      const limit = rng.pick(['0', '-1', 'abc', '1001', '1.5', '', '1e9']);
      return {
        kind: 'path',
        what: `GET /pipelines?limit=${limit}`,
        expect: 400,
        jsonError: true,
        method: 'GET',
        path: `/pipelines?limit=${encodeURIComponent(limit)}`,
      };
    },
    () => {
      const path = rng.pick([
        '/webhooks/gitlab/',
        '/webhooks/GitLab',
        '/Webhooks/gitlab',
        '/webhook/gitlab',
        '/webhooks',
        '/webhooks/gitlab/x',
        '/webhooks/github',
        '/api/webhooks/gitlab',
        '//webhooks/gitlab',
        '/webhooks//gitlab',
        '/%77ebhooks/gitlab',
        '/webhooks/gitlab%2F',
        '/webhooks/gitlab/..',
        '/healthz/',
        '/healthz/x',
        '//@',
        '//:/webhooks/gitlab',
      ]);
      return {
        kind: 'path',
        what: `POST ${path} with a valid delivery`,
        expect: 404,
        jsonError: true,
        method: 'POST',
        path,
        headers: good(),
        body: json(startablePush(rng)),
      };
    },
    () => {
      const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
      const path = randomPath(rng);
      return {
        kind: 'path',
        what: `${method} ${path}`,
        expect: 404,
        jsonError: true,
        method,
        path,
        headers: rng.chance(0.5) ? good() : {},
        body: method === 'GET' ? undefined : json(startablePush(rng)),
      };
    },
  ];
  return rng.pick(variants)();
}

function generateRaw(rng: Rng): FuzzCase {
  const delivery = JSON.stringify(startablePush(rng));
  const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
  const auth = [
    `Host: 127.0.0.1`,
    `X-Gitlab-Token: ${token}`,
    'X-Gitlab-Event: Push Hook',
    'Content-Type: application/json',
  ];
  const variants: [string, number, () => Buffer | string, boolean?][] = [
    [
      'random bytes instead of HTTP',
      400,
      // The first byte can start no method, so the parser refuses at once instead of waiting for more.
      () =>
        Buffer.concat([
          Buffer.from([rng.pick([0x00, 0x7b, 0x3c, 0x30, 0x23, 0xff, 0x20])]),
          rng.bytes(rng.between(0, 1000)),
        ]),
    ],
    [
      'Content-Length and Transfer-Encoding together',
      400,
      () =>
        head([
          'POST /webhooks/gitlab HTTP/1.1',
          ...auth,
          `Content-Length: ${delivery.length}`,
          'Transfer-Encoding: chunked',
        ]) + `${delivery.length.toString(16)}\r\n${delivery}\r\n0\r\n\r\n`,
    ],
    [
      'Content-Length not a number',
      400,
      () =>
        head([
          'POST /webhooks/gitlab HTTP/1.1',
          ...auth,
          `Content-Length: ${rng.pick(['abc', '-1', '1.5', '1 2', '0x10'])}`,
        ]) + delivery,
    ],
    [
      'two different Content-Length headers',
      400,
      () =>
        head([
          'POST /webhooks/gitlab HTTP/1.1',
          ...auth,
          `Content-Length: ${delivery.length}`,
          `Content-Length: ${delivery.length - 1}`,
        ]) + delivery,
    ],
    [
      'bad chunk size',
      400,
      () =>
        head(['POST /webhooks/gitlab HTTP/1.1', ...auth, 'Transfer-Encoding: chunked']) +
        `zz\r\n${delivery}\r\n0\r\n\r\n`,
    ],
    [
      'headers over 16 KiB',
      431,
      () => head(['POST /webhooks/gitlab HTTP/1.1', ...auth, `X-Padding: ${'a'.repeat(rng.between(17_000, 40_000))}`]),
    ],
    [
      'control character in a header',
      400,
      () =>
        head([
          'GET /healthz HTTP/1.1',
          'Host: 127.0.0.1',
          `X-Gitlab-Token: ${token.slice(0, 5)}${String.fromCharCode(rng.pick([1, 2, 8, 0x0b, 0x0c, 0x1b, 0x1f]))}${token.slice(5)}`,
        ]),
    ],
    ['space in the request target', 400, () => head(['POST /webhooks/ gitlab HTTP/1.1', ...auth])],
    ['bare LF line endings', 400, () => 'GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n'],
    ['folded header line', 400, () => head(['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', 'X-Gitlab-Token: a', ' b'])],
    ['HTTP/1.1 without Host', 400, () => head(['GET /healthz HTTP/1.1'])],
    [
      'invalid absolute-form target',
      400,
      // An unclosed "[" is an invalid IPv6 host, unless an "@" turns it into user info
      // (http://[@F;/ is a valid URL for host "F;"), so neither "]" nor "@" may appear.
      () => head([`GET http://[${rng.printable(3).replace(/[\]\s@]/g, 'x')}/ HTTP/1.1`, 'Host: x']),
    ],
    [
      'body shorter than Content-Length, then the client closes',
      400,
      () =>
        head(['POST /webhooks/gitlab HTTP/1.1', ...auth, `Content-Length: ${delivery.length}`]) +
        delivery.slice(0, rng.int(delivery.length)),
      true,
    ],
    [
      'body declared over the hard cap',
      413,
      () =>
        head([
          'POST /webhooks/gitlab HTTP/1.1',
          ...auth,
          `Content-Length: ${rng.between(hardCap + 1, 100 * hardCap)}`,
        ]) + delivery.slice(0, 100),
    ],
  ];
  const [what, expect, make, halfClose] = rng.pick(variants);
  const raw = make();
  return {
    kind: 'raw',
    what,
    expect,
    jsonError: expect === 413,
    raw: Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1'),
    halfClose,
  };
}

// --- sending ------------------------------------------------------------------------------------

interface Answer {
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body: string;
  error?: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function sendHttp(c: FuzzCase): Promise<Answer> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { ...c.headers };
    if (c.body && !c.chunked) headers['Content-Length'] = String(c.body.length);
    const req = http.request({ host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => resolve({ status: res.statusCode, body: '', error: err.message }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (err) => resolve({ body: '', error: err.message }));
    if (c.body && c.chunked) {
      for (let i = 0; i < c.body.length; i += 4096) req.write(c.body.subarray(i, i + 4096));
      req.end();
    } else req.end(c.body);
  });
}

/** Writes the bytes and reads until the response head is complete (or the server closes). */
function sendRaw(c: FuzzCase): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(c.raw as Buffer);
      if (c.halfClose) socket.end();
    });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(text)?.[1];
      const bodyStart = text.indexOf('\r\n\r\n');
      resolve({
        status: status ? Number(status) : undefined,
        body: bodyStart >= 0 ? text.slice(bodyStart + 4) : '',
        error,
      });
      socket.destroy();
    };
    const timer = setTimeout(() => finish('no answer within 20 s'), 20_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1];
      if (!length || text.length >= end + 4 + Number(length)) finish();
    });
    socket.on('close', () => finish());
    socket.on('error', (err) => finish(err.message));
  });
}

function check(c: FuzzCase, a: Answer): string | undefined {
  if (a.status !== c.expect) return `expected ${c.expect}, got ${a.status ?? `no answer (${a.error ?? 'closed'})`}`;
  if (c.allow !== undefined && a.headers?.allow !== c.allow)
    return `405 without "Allow: ${c.allow}" (got ${JSON.stringify(a.headers?.allow)})`;
  if (a.body.includes(token)) return 'the answer contains the webhook token';
  if (c.jsonError) {
    let parsed: { error?: unknown };
    try {
      parsed = JSON.parse(a.body) as { error?: unknown };
    } catch {
      return `expected a JSON {"error"} body, got ${JSON.stringify(a.body.slice(0, 100))}`;
    }
    if (typeof parsed.error !== 'string' || !parsed.error) return `no error message in ${a.body.slice(0, 100)}`;
    if (c.expect === 413 && !parsed.error.includes(`${bodyLimit} bytes`))
      return `413 does not name the limit: ${a.body}`;
  }
  if (c.expect === 200) {
    const parsed = JSON.parse(a.body) as { ignored?: unknown };
    if (typeof parsed.ignored !== 'string') return `a 200 that is not "ignored": ${a.body.slice(0, 200)}`;
  }
  return undefined;
}

const pipelinesQuery = () => `SlipwayService = '${config.pushService}' OR SlipwayService = '${config.tagService}'`;

async function pipelineCount(): Promise<number> {
  let n = 0;
  for await (const _ of client.workflow.list({ query: pipelinesQuery() })) n++;
  return n;
}

// --- the run ------------------------------------------------------------------------------------

test(`${total} abusive requests get exactly the expected answers and start no pipeline (seed ${seed})`, async () => {
  console.log(`[fuzz] seed ${seed}: reproduce with SLIPWAY_FUZZ_SEED=${seed} npm test -- webhook-fuzz`);
  const rng = prng(seed);
  const cases = Array.from({ length: total }, () => generate(rng));
  const before = await pipelineCount();

  const startedAt = performance.now();
  const answers: Answer[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < cases.length; i = next++) {
        const c = cases[i] as FuzzCase;
        answers[i] = await (c.raw ? sendRaw(c) : sendHttp(c));
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  agent.destroy();

  const breakdown = new Map<string, number>();
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const a = answers[i] as Answer;
    const key = `${c.kind} ${a.status ?? 'none'}`;
    breakdown.set(key, (breakdown.get(key) ?? 0) + 1);
    const problem = check(c, a);
    if (problem) failures.push(`#${i} [${c.kind}] ${c.what}: ${problem} — ${a.body.slice(0, 160)}`);
  });
  const byStatus = new Map<number | string, number>();
  for (const a of answers) byStatus.set(a.status ?? 'none', (byStatus.get(a.status ?? 'none') ?? 0) + 1);
  console.log(
    `[figure] webhook fuzz: ${cases.length} requests in ${seconds.toFixed(1)} s (${(cases.length / seconds).toFixed(0)}/s); ` +
      `by status ${[...byStatus]
        .sort()
        .map(([s, n]) => `${s}:${n}`)
        .join(' ')}`,
  );
  console.log(
    `[fuzz] by category and status: ${[...breakdown]
      .sort()
      .map(([k, n]) => `${k}:${n}`)
      .join(', ')}`,
  );
  assert.deepEqual(
    failures.slice(0, 15),
    [],
    `${failures.length} of ${cases.length} answers were wrong (seed ${seed})`,
  );
  assert.equal(({} as Record<string, unknown>).object_kind, undefined, 'no prototype was polluted');

  // Still serving: health, then one valid delivery, which starts exactly one pipeline.
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  const sha = (randomUUID() + randomUUID()).replace(/-/g, '').slice(0, 40);
  const res = await fetch(`${server.url}/webhooks/gitlab`, {
    method: 'POST',
    headers: good(),
    body: JSON.stringify({ ...pushFixture, after: sha, checkout_sha: sha }),
  });
  const answer = (await res.json()) as { workflowId?: string; deduplicated?: boolean };
  assert.equal(res.status, 202, JSON.stringify(answer));
  const workflowId = `pipeline/${config.pushService}/${sha}`;
  assert.deepEqual(answer, { workflowId, deduplicated: false });
  started.add(workflowId);

  // Every abusive request was answered before this valid one was sent, so anything they started
  // was started before it: once it shows in visibility, they show too.
  const ids = (await listedOnceVisible(client, pipelinesQuery(), { workflowId })).map((e) => e.workflowId);
  assert.equal(ids.length, before + 1, `pipelines before ${before}, after ${ids.length}: ${ids.join(', ')}`);
  assert.deepEqual(ids, [workflowId]);
});

test('an invalid SLIPWAY_WEBHOOK_BODY_LIMIT stops the server from starting instead of lifting the limit', async () => {
  for (const value of ['abc', '0', '-5', '1.5']) {
    await assert.rejects(
      startWebhookServer({
        port: 0,
        client,
        token,
        configDir: config.dir,
        env: { SLIPWAY_WEBHOOK_BODY_LIMIT: value },
      }),
      new RegExp(`SLIPWAY_WEBHOOK_BODY_LIMIT: expected a positive whole number of bytes, got "${value}"`),
    );
  }
});
