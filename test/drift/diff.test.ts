// diffApps on real shapes: the default template rendered for Marathon 1.4 and 1.5 (the way the
// pipeline renders it) against Marathon's documented GET /v2/apps/{id} answers of both versions
// (test/fixtures/marathon). What Marathon fills in by itself is not drift; a hand edit of any
// rendered field is, named field by field; a secret's value never appears in the result.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadDeployConfig } from '../../common/config';
import { diffApps } from '../../activities/drift';
import { renderMarathonAppFromConfig } from '../../activities/plan';
import { parseMarathonVersion } from '../../activities/marathon-version';

type Json = Record<string, unknown>;
const fixture = (name: string) =>
  (JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'marathon', name), 'utf8')) as { app: Json }).app;
const image = (app: Json) => ((app.container as Json).docker as Json).image as string;

const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-drift-diff-'));
mkdirSync(path.join(dir, 'services'));
writeFileSync(
  path.join(dir, 'slipway.yaml'),
  'environments:\n  - name: test\n    marathon: http://127.0.0.1:1\n  - name: production\n    marathon: http://127.0.0.1:1\n',
);
const hc = '{ path: /health, intervalSeconds: 10, timeoutSeconds: 5 }';
writeFileSync(
  path.join(dir, 'services', 'hello-node.yaml'),
  `name: hello-node\ntype: node\nrepository: /nonexistent\napp: { instances: 2, healthCheck: ${hc}, env: { DB_PASSWORD: { secret: { env: DRIFT_TEST_DB_PASSWORD } } } }\n`,
);
writeFileSync(
  path.join(dir, 'services', 'legacy-web.yaml'),
  `name: legacy-web\ntype: node\nrepository: /nonexistent\napp: { instances: 2, cpus: 0.25, mem: 64, env: { LOG_LEVEL: info }, labels: { team: web }, healthCheck: ${hc} }\n`,
);
writeFileSync(
  path.join(dir, 'services', 'registry-client.yaml'),
  `name: registry-client\ntype: node\nrepository: /nonexistent\napp: { network: host, cpus: 0.5, mem: 256, healthCheck: null, constraints: [[hostname, UNIQUE]], upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0 } }\n`,
);
const config = loadDeployConfig(dir);

function render(service: string, environment: string, live: Json, version: string): Json {
  return renderMarathonAppFromConfig(config, {
    service,
    environment,
    image: image(live),
    commit: 'abc123',
    pipelineId: `pipeline/${service}/abc123`,
    target: parseMarathonVersion(version)!,
  });
}

/** The fixture as Marathon would hold it after Slipway's deploy: env and labels as sent. */
function deployed(live: Json, rendered: Json, secrets: Record<string, string> = {}): Json {
  return { ...live, env: { ...(rendered.env as Json), ...secrets }, labels: rendered.labels };
}

const secrets = { DB_PASSWORD: 'hunter2-value' };

test('what Marathon 1.5 fills in is not drift: servicePort, gpus, backoff, ignoreHttp1xx, tasks, deployments', () => {
  const live = fixture('app-1.5.json');
  const rendered = render('hello-node', 'test', live, '1.10.26');
  const diff = diffApps(rendered, { app: deployed(live, rendered, secrets) }, { resolvedSecrets: secrets });
  assert.deepEqual(diff, { fields: [], unchecked: [] });
});

test('what Marathon 1.4 fills in is not drift: top-level ports, docker.portMappings servicePort, volumes', () => {
  const live = fixture('app-1.4.json');
  const rendered = render('legacy-web', 'test', live, '1.4.12');
  assert.deepEqual(diffApps(rendered, deployed(live, rendered)).fields, []);
});

test('a 1.5-shaped definition equals the same app in 1.4 shape: portMappings and networks are normalised', () => {
  const live = fixture('app-1.4.json');
  const rendered = render('legacy-web', 'test', live, '1.5.0');
  assert.ok(Array.isArray(rendered.networks), 'rendered in the 1.5 shape');
  assert.deepEqual(diffApps(rendered, deployed(live, rendered)).fields, []);
});

test('host networking: port definitions rendered as 0 are the ports Marathon assigned', () => {
  const live = fixture('app-1.5-host.json');
  // The fixture has a second port ("admin") the default template does not render: that is drift.
  const rendered = render('registry-client', 'production', live, '1.6.0');
  const diff = diffApps(rendered, deployed(live, rendered));
  assert.deepEqual(
    diff.fields.map((f) => f.summary),
    ['ports (count): 1 rendered, 2 live'],
  );
  const onePort = { ...live, portDefinitions: [(live.portDefinitions as Json[])[0]] };
  assert.deepEqual(diffApps(rendered, deployed(onePort, rendered)).fields, []);
});

test('hand edits are reported field by field, in both shapes', () => {
  for (const [name, service, version] of [
    ['app-1.5.json', 'hello-node', '1.10.26'],
    ['app-1.4.json', 'legacy-web', '1.4.12'],
  ] as const) {
    const live = fixture(name);
    const rendered = render(service, 'test', live, version);
    const edited = deployed(live, rendered, service === 'hello-node' ? secrets : {});
    edited.instances = 5;
    edited.mem = 512;
    edited.env = { ...(edited.env as Json), SLIPWAY_COMMIT: 'fffff' };
    edited.labels = { ...(edited.labels as Json), owner: 'ops' };
    edited.healthChecks = [{ ...(edited.healthChecks as Json[])[0], path: '/ping', delaySeconds: 15 }];
    const other = image(live).replace(/sha256:[0-9a-f]+/, `sha256:${'9'.repeat(64)}`);
    edited.container = JSON.parse(JSON.stringify(edited.container).replace(image(live), other)) as Json;
    const diff = diffApps(rendered, edited, { resolvedSecrets: secrets });
    assert.deepEqual(
      diff.fields.map((f) => f.summary),
      [
        `instances: 2 rendered, 5 live`,
        `mem: ${rendered.mem} rendered, 512 live`,
        'healthChecks[0].path: /health rendered, /ping live',
        `image: ${image(live)} rendered, ${other} live`,
        'env.SLIPWAY_COMMIT: abc123 rendered, fffff live',
        'labels.owner: (none) rendered, ops live',
      ],
      name,
    );
  }
});

test('secrets: compared with the resolved value, reported without either value', () => {
  const live = fixture('app-1.5.json');
  const rendered = render('hello-node', 'test', live, '1.10.26');
  const changed = deployed(live, rendered, { DB_PASSWORD: 'typed-in-the-ui', EXTRA_TOKEN: 'added-by-hand' });
  const diff = diffApps(rendered, changed, { resolvedSecrets: secrets });
  assert.deepEqual(
    diff.fields.map((f) => f.summary),
    ['env.DB_PASSWORD differs (secret)', 'env.EXTRA_TOKEN is set in Marathon but not rendered (value not shown)'],
  );
  const text = JSON.stringify(diff);
  for (const value of ['hunter2-value', 'typed-in-the-ui', 'added-by-hand', 'DRIFT_TEST_DB_PASSWORD'])
    assert.ok(!text.includes(value), `${value} is not in the findings`);

  const unreadable = diffApps(rendered, changed, { resolvedSecrets: {} });
  assert.deepEqual(unreadable.unchecked, ['env.DB_PASSWORD: its secret cannot be read here']);
  const removed = { ...changed, env: { ...(changed.env as Json), DB_PASSWORD: undefined } };
  assert.deepEqual(
    diffApps(rendered, removed, { resolvedSecrets: secrets }).fields.map((f) => f.summary)[0],
    'env.DB_PASSWORD is rendered but missing in Marathon (secret)',
  );
});

test('a health check removed or a readiness check added by hand is drift', () => {
  const live = fixture('app-1.5.json');
  const rendered = render('hello-node', 'test', live, '1.10.26');
  const edited = {
    ...deployed(live, rendered, secrets),
    healthChecks: [],
    readinessChecks: [{ name: 'r', path: '/ready', portName: 'http' }],
  };
  assert.deepEqual(
    diffApps(rendered, edited, { resolvedSecrets: secrets }).fields.map((f) => f.summary),
    ['healthChecks (count): 1 rendered, 0 live', 'readinessChecks (count): 0 rendered, 1 live'],
  );
});
