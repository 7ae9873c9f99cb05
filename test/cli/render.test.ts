// `slipway render`: the Dockerfile and Marathon app JSON a service would get, and the errors that
// name what was wrong. Runs the real CLI against the example deploy config.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../common/paths';

const run = promisify(execFile);
const env = { ...process.env, SLIPWAY_CONFIG_DIR: path.join(projectRoot, 'examples', 'deploy-config') };
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), 'render', ...args], {
    env,
    cwd: projectRoot,
  });

function appSection(stdout: string, environment: string, version = '1.5'): Record<string, unknown> {
  const marker = `# ---- Marathon app for ${environment} (Marathon ${version})\n`;
  const start = stdout.indexOf(marker);
  assert.ok(start >= 0, `no app section for ${environment} in:\n${stdout}`);
  const rest = stdout.slice(start + marker.length);
  const end = rest.indexOf('\n# ---- ');
  return JSON.parse(end >= 0 ? rest.slice(0, end) : rest) as Record<string, unknown>;
}

test('render prints the service Dockerfile and one app per environment', async () => {
  const { stdout } = await cli(
    'hello-python',
    '--commit',
    'abcdef1234567890abcdef1234567890abcdef12',
    '--marathon-version',
    '1.5',
  );
  assert.match(stdout, /^# ---- Dockerfile \(builtin: .*python\.Dockerfile\.hbs\)/);
  assert.match(stdout, /slipway\.commit="abcdef1234567890abcdef1234567890abcdef12"/);
  assert.doesNotMatch(stdout, /HEALTHCHECK/);
  for (const environment of ['test', 'integration', 'production']) {
    const app = appSection(stdout, environment);
    assert.equal(app.id, `/${environment}/hello-python`);
    assert.equal((app.env as Record<string, string>).SLIPWAY_ENVIRONMENT, environment);
  }
});

test('render --env and --no-dockerfile narrow the output', async () => {
  const { stdout } = await cli('hello-node', '--env', 'production', '--no-dockerfile', '--marathon-version', '1.5');
  assert.doesNotMatch(stdout, /Dockerfile/);
  assert.doesNotMatch(stdout, /Marathon app for test/);
  assert.equal(appSection(stdout, 'production').instances, 2);
});

test('render --marathon-version 1.4 prints the legacy networking shape; without it the Marathon is asked', async () => {
  const { stdout } = await cli('hello-node', '--env', 'test', '--no-dockerfile', '--marathon-version', '1.4.12');
  const app = appSection(stdout, 'test', '1.4.12');
  assert.equal(app.networks, undefined);
  assert.deepEqual((app.container as { docker: { network: string } }).docker.network, 'BRIDGE');

  await assert.rejects(
    run(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), 'render', 'hello-node', '--no-dockerfile'],
      {
        env: { ...env, MARATHON_URL: 'http://127.0.0.1:1' },
        cwd: projectRoot,
      },
    ),
    (err: { stderr: string }) => {
      assert.match(
        err.stderr,
        /cannot ask http:\/\/127\.0\.0\.1:1 \(environment test\) for its version: .*ECONNREFUSED.*pass --marathon-version/,
      );
      return true;
    },
  );
  await assert.rejects(
    cli('hello-node', '--marathon-version', 'newest'),
    /expected a Marathon version like 1\.4, 1\.5 or 1\.10\.26, got "newest"/,
  );
});

test('render names an unknown service or environment and what was expected', async () => {
  await assert.rejects(cli('nope'), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(
      err.stderr,
      /unknown service "nope": expected one of hello-java, hello-maven, hello-node, hello-pnpm, hello-pyproject, hello-python/,
    );
    return true;
  });
  await assert.rejects(cli('hello-node', '--env', 'staging'), (err: { stderr: string }) => {
    assert.match(err.stderr, /unknown environment "staging": expected one of test, integration, production/);
    return true;
  });
});

test("deploy/, Slipway's own deploy config, renders its three roles as Marathon apps on Node 20", async () => {
  const deployEnv = {
    ...env,
    SLIPWAY_CONFIG_DIR: path.join(projectRoot, 'deploy'),
    MARATHON_URL: 'http://marathon.invalid',
  };
  const render = (service: string) =>
    run(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'client', 'cli.ts'), 'render', service, '--marathon-version', '1.5'],
      {
        env: deployEnv,
        cwd: projectRoot,
      },
    );
  const roles = {
    'slipway-deploy-worker': /worker --queues deploy --metrics-host 0\.0\.0\.0 --metrics-port/,
    'slipway-build-worker': /worker --queues build --metrics-host 0\.0\.0\.0 --metrics-port/,
    'slipway-webhook': /webhook --host 0\.0\.0\.0 --port/,
  };
  for (const [service, command] of Object.entries(roles)) {
    const { stdout } = await render(service);
    assert.match(stdout, /^FROM local\/node:20 AS build$/m);
    assert.match(stdout, /^RUN npm run build/m);
    assert.match(stdout, command);
    const app = appSection(stdout, 'production') as {
      healthChecks: { path: string }[];
      networks: { mode: string }[];
      container: { volumes?: { hostPath: string }[] };
    };
    assert.equal(app.healthChecks[0]?.path, '/healthz', service);
    assert.equal(app.networks[0]?.mode, 'host', service);
    const socket = app.container.volumes?.some((v) => v.hostPath === '/var/run/docker.sock') ?? false;
    assert.equal(socket, service === 'slipway-build-worker', `${service}: the Docker socket only for build workers`);
  }
});
