// Attacks through the deploy config a service team owns (issue 12, findings 5, 7, 8 and 9): values
// that try to break out of the Marathon JSON or a Dockerfile, secrets that must not enter
// workflow history, registry answers that retrying cannot fix, and names and timeouts that
// validation let through. Marathon is the emulator; the registry is the real one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { renderMarathonAppFromConfig } from '../../activities/plan';
import { RegistryClient } from '../../activities/registry';
import { loadDeployConfig } from '../../common/config';
import { ConfigError } from '../../common/errors';
import { registryAddress } from '../helpers/env';

const env = { MARATHON_URL: 'http://127.0.0.1:1', SLIPWAY_REGISTRY: '127.0.0.1:5000' };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'slipway-attack-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const rootYaml = 'environments:\n  - name: test\n  - name: production\n';
let dirs = 0;
function configDir(service: string, root = rootYaml, extra: Record<string, string> = {}): string {
  const dir = path.join(scratch, `config-${++dirs}`);
  mkdirSync(path.join(dir, 'services'), { recursive: true });
  writeFileSync(path.join(dir, 'slipway.yaml'), root);
  writeFileSync(path.join(dir, 'services', 'svc.yaml'), service);
  for (const [file, text] of Object.entries(extra)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const render = (dir: string, environment = 'test') =>
  renderMarathonAppFromConfig(loadDeployConfig(dir, { env }), {
    service: 'svc',
    environment,
    image: '127.0.0.1:5000/svc@sha256:' + 'a'.repeat(64),
    pipelineId: 'pipeline/svc/abc',
    target: { version: '1.10.0', shape: '1.5' },
    commit: 'a'.repeat(40),
  });

function rejectsConfig(dir: string, pattern: RegExp): void {
  assert.throws(
    () => loadDeployConfig(dir, { env }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('finding 5: a health check path cannot rewrite the app id, the image or add privileged', () => {
  const injected =
    '/h", "portIndex": 0}], "id": "/production/other", "container": {"type": "DOCKER", "docker": {"image": "evil.test/image", "privileged": true}, "portMappings": [{"containerPort": 8080, "hostPort": 0}]}, "x": [{"path": "/';
  const dir = configDir(
    `name: svc\ntype: node\nrepository: /tmp/x\napp:\n  healthCheck: { path: ${JSON.stringify(injected)} }\n`,
  );
  const app = render(dir) as {
    id: string;
    container: { docker: { image: string; privileged?: boolean } };
    healthChecks: { path: string }[];
  };
  assert.equal(app.id, '/test/svc');
  assert.equal(app.container.docker.image, '127.0.0.1:5000/svc@sha256:' + 'a'.repeat(64));
  assert.equal(app.container.docker.privileged, undefined);
  assert.equal(app.healthChecks[0]?.path, injected, 'the path is kept as the string it was');
});

test('finding 5: control characters in values that land in a Dockerfile or the app are refused by name', () => {
  const cases: [string, RegExp][] = [
    ['build:\n  buildCommand: "npm test\\nRUN touch /pwned"\n', /build\.buildCommand.*control character/],
    ['build:\n  startCommand: "node .\\r"\n', /build\.startCommand.*control character/],
    ['app:\n  healthCheck: { path: "/h\\u0000" }\n', /healthCheck\.path.*control character/],
  ];
  for (const [yaml, pattern] of cases) rejectsConfig(configDir(`name: svc\ntype: node\n${yaml}`), pattern);
  rejectsConfig(
    configDir('name: svc\ntype: node\n', `${rootYaml}baseImages:\n  node: "local/node:18\\nRUN touch /pwned"\n`),
    /baseImages\.node.*image reference/,
  );
});

test('finding 5: a team template that renders another id, image or network is refused', () => {
  const template = (id: string, image: string, mode: string) =>
    `{ "id": "${id}", "instances": 1, "cpus": 0.1, "mem": 32, "container": { "type": "DOCKER", "docker": { "image": "${image}" }, ` +
    `"portMappings": [{ "containerPort": 8080, "hostPort": 0 }] }, "networks": [{ "mode": "${mode}" }] }`;
  const base = 'name: svc\ntype: node\nrepository: /tmp/x\n';
  const cases: [string, string, RegExp][] = [
    ['/production/other', '{{image}}', /id "\/production\/other".*expected "\/test\/svc"/],
    ['{{id}}', 'evil.test/image:latest', /image "evil\.test\/image:latest".*expected "127\.0\.0\.1:5000\/svc@sha256/],
    ['{{id}}', '{{image}}', /network.*expected bridge/],
  ];
  for (const [id, image, pattern] of cases) {
    const mode = pattern.source.includes('network') ? 'container/evil' : 'container/bridge';
    const dir = configDir(base, rootYaml, { 'environments/test/svc.json.hbs': template(id, image, mode) });
    assert.throws(
      () => render(dir),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, pattern);
        return true;
      },
    );
  }
});

test('finding 7: secret references in env are resolved on the worker, never in the rendered app', async () => {
  const secretFile = path.join(scratch, 'db-password');
  writeFileSync(secretFile, 'file-secret-value\n');
  const dir = configDir(
    `name: svc\ntype: node\nrepository: /tmp/x\napp:\n  env:\n    PLAIN: visible\n    API_KEY: { secret: { env: SVC_API_KEY } }\n    DB_PASSWORD: { secret: { file: ${secretFile} } }\n`,
  );
  process.env.SVC_API_KEY = 'env-secret-value';
  try {
    const app = render(dir);
    const text = JSON.stringify(app);
    assert.ok(!text.includes('env-secret-value') && !text.includes('file-secret-value'), 'no secret in the render');
    // Imported here so the other tests of this file ran before the module existed.
    const { resolveAppSecrets } = await import('../../activities/secrets');
    const resolved = resolveAppSecrets(app) as { env: Record<string, unknown> };
    assert.equal(resolved.env.API_KEY, 'env-secret-value');
    assert.equal(resolved.env.DB_PASSWORD, 'file-secret-value', 'one trailing newline of a file is dropped');
    assert.equal(resolved.env.PLAIN, 'visible');
    delete process.env.SVC_API_KEY;
    assert.throws(() => resolveAppSecrets(app), /env\.API_KEY.*SVC_API_KEY is not set/);
  } finally {
    delete process.env.SVC_API_KEY;
  }
});

test('finding 8: registry 4xx answers fail at once; 429 and 5xx stay retryable', async () => {
  // The real registry refuses a manifest that is not one: 400 MANIFEST_INVALID.
  const real = new RegistryClient(registryAddress());
  await assert.rejects(
    real.putManifest('attack/invalid', 'v1', 'application/vnd.docker.distribution.manifest.v2+json', Buffer.from('{}')),
    (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /answered 400/);
      return true;
    },
  );
  let status = 429;
  const server = http.createServer((_req, res) => res.writeHead(status).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    for (const s of [429, 500]) {
      status = s;
      await assert.rejects(fake.getManifest('a/b', 'v1'), (err: unknown) => {
        assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), `${s} stays retryable`);
        return true;
      });
    }
    status = 400;
    await assert.rejects(fake.getManifest('a/b', 'v1'), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable, '400 is final');
      return true;
    });
  } finally {
    server.close();
  }
});

test('finding 9: names like a..b and zero timeouts are refused', () => {
  rejectsConfig(configDir('name: a..b\ntype: node\n'), /field "name" is "a\.\.b"/);
  rejectsConfig(configDir('name: a.-b\ntype: node\n'), /field "name"/);
  rejectsConfig(configDir('name: svc\ntype: node\n', 'environments:\n  - name: x..y\n'), /environments\.0\.name/);
  rejectsConfig(
    configDir('name: svc\ntype: node\n', 'environments:\n  - name: test\n    healthTimeout: 0s\n'),
    /healthTimeout.*greater than zero/,
  );
  rejectsConfig(
    configDir(
      'name: svc\ntype: node\n',
      'environments:\n  - name: test\n    approval: { approvers: [alice], timeout: 0m }\n',
    ),
    /approval\.timeout.*greater than zero/,
  );
  rejectsConfig(configDir('name: svc\ntype: node\napp:\n  healthTimeout: 0h\n'), /healthTimeout.*greater than zero/);
});
