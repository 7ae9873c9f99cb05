// The deploy config: the sample loads, per-environment settings merge in order, and every error
// names the file, the field, the bad value and what was expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDeployConfig, resolveAppSettings, getService, repositoryUrl } from '../../common/config';
import { cachedDeployConfig } from '../../common/config-cache';
import { ConfigError } from '../../common/errors';
import { defaultConfigDir } from '../../common/paths';

const env = { MARATHON_URL: 'http://marathon.test:8080', SLIPWAY_REGISTRY: 'reg.test:5000' };

function configDir(root: string, services: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-config-'));
  writeFileSync(path.join(dir, 'slipway.yaml'), root);
  mkdirSync(path.join(dir, 'services'));
  for (const [file, text] of Object.entries(services)) writeFileSync(path.join(dir, 'services', file), text);
  return dir;
}

function rejects(dir: string, pattern: RegExp): void {
  assert.throws(
    () => loadDeployConfig(dir, { env }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('the sample config loads with embedded defaults', () => {
  const config = loadDeployConfig(defaultConfigDir, { env });
  assert.deepEqual(
    config.environments.map((e) => e.name),
    ['test', 'integration', 'production'],
  );
  assert.equal(config.environments[0]?.marathon, 'http://marathon.test:8080');
  assert.equal(config.registry, 'reg.test:5000');
  assert.deepEqual(config.baseImages.node, { build: 'local/node:18', runtime: 'local/node:18-slim' });
  const node = getService(config, 'hello-node');
  const prod = resolveAppSettings(config, node, 'production');
  assert.equal(prod.instances, 2, 'production override');
  assert.equal(prod.mem, 256);
  assert.equal(prod.cpus, 0.1, 'root defaults');
  assert.equal(resolveAppSettings(config, node, 'test').instances, 1);
  assert.equal(prod.healthTimeoutSeconds, 300);
  assert.match(repositoryUrl(config, node), /^file:\/\/\/.*\/\.slipway\/demo\/hello-node$/);
  assert.deepEqual(
    config.environments.map((e) => e.imageTag),
    [undefined, undefined, 'production'],
    'the sample tags what runs in production',
  );
});

test('errors name the file, the field, the value and what was expected', () => {
  rejects(
    configDir('environments: []\n'),
    /slipway\.yaml: field "environments" is \[\]: expected at least one environment/,
  );
  rejects(
    configDir('environments:\n  - name: Prod\n'),
    /field "environments\.0\.name" is "Prod": expected lowercase letters/,
  );
  rejects(
    configDir('environments:\n  - name: test\n    healthTimeout: soon\n'),
    /field "environments\.0\.healthTimeout" is "soon": expected a duration like "90s"/,
  );
  rejects(
    configDir('environments:\n  - name: test\n', { 'a.yaml': 'name: a\ntype: java\nbuild: { module: ../up }\n' }),
    /services\/a\.yaml: field "build\.module" is "\.\.\/up": expected a path inside the repository/,
  );
  rejects(
    configDir('environments:\n  - name: test\n', { 'a.yaml': 'name: a\ntype: java\nbuild: { skipTests: "yes" }\n' }),
    /services\/a\.yaml: field "build\.skipTests" is "yes": /,
  );
  rejects(
    configDir('environments:\n  - name: test\n', { 'a.yaml': 'name: a\ntype: cobol\n' }),
    /services\/a\.yaml: field "type" is "cobol": .*node.*java.*python.*dotnet/,
  );
  rejects(
    configDir('environments:\n  - name: test\n', {
      'a.yaml': 'name: a\ntype: node\nenvironments:\n  prod: { mem: 64 }\n',
    }),
    /services\/a\.yaml: field "environments\.prod" names an unknown environment: expected one of test/,
  );
  rejects(
    configDir('environments:\n  - name: test\n', { 'a.yaml': 'name: a\ntype: node\napp: { mem: -1 }\n' }),
    /field "app\.mem" is -1/,
  );
  rejects(
    configDir('environments:\n  - name: test\n', { 'a.yaml': 'name: a\ntype: node\napp: { memory: 64 }\n' }),
    /field "app" .*memory/,
  );
  rejects(
    configDir('environments:\n  - name: test\n    imageTag: "prod tag"\n'),
    /field "environments\.0\.imageTag" is "prod tag": expected a Docker tag/,
  );
  rejects(configDir('environments:\n  - name: test\n  bad yaml: [\n'), /slipway\.yaml: not valid YAML/);
  assert.throws(
    () => loadDeployConfig(configDir('environments:\n  - name: test\n'), { env: {} }),
    /environments\.0\.marathon" is missing: expected a Marathon URL here or in MARATHON_URL/,
  );
});

test('the cached config is reused until a file changes, and an edit is seen by the next call', () => {
  const dir = configDir('environments:\n  - name: test\n', {
    'a.yaml': 'name: a\ntype: node\nrepository: /srv/a\n',
  });
  const first = cachedDeployConfig(dir, env);
  assert.equal(cachedDeployConfig(dir, env), first, 'unchanged files: the same parsed config');

  writeFileSync(path.join(dir, 'services', 'a.yaml'), 'name: a\ntype: python\nrepository: /srv/a\n');
  const edited = cachedDeployConfig(dir, env);
  assert.notEqual(edited, first);
  assert.equal(getService(edited, 'a').type, 'python');

  writeFileSync(path.join(dir, 'services', 'b.yaml'), 'name: b\ntype: java\nrepository: /srv/b\n');
  assert.deepEqual([...cachedDeployConfig(dir, env).services.keys()], ['a', 'b'], 'a new service file is seen');

  assert.equal(
    cachedDeployConfig(dir, { ...env, MARATHON_URL: 'http://other:8080' }).environments[0]?.marathon,
    'http://other:8080',
  );

  writeFileSync(path.join(dir, 'services', 'b.yaml'), 'name: b\ntype: cobol\n');
  assert.throws(() => cachedDeployConfig(dir, env), /b\.yaml.*type/s, 'a broken edit is an error, not the old config');
});
