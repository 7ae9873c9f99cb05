// Config `verify`: per environment in slipway.yaml, replaced (or turned off) by a service, turned
// into the plan the lane records (seconds, no Prometheus URL), and refused with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getService, loadDeployConfig, prometheusUrlOf, resolveAppSettings, verifyPlanOf } from '../../common/config';
import { ConfigError } from '../../common/errors';

const env = { MARATHON_URL: 'http://marathon.test:8080' };
const root = `
environments:
  - name: test
  - name: production
    verify:
      prometheus: http://prometheus.internal:9090
      soak: 10m
      smoke:
        - path: /health
        - { path: /version, status: 200, body: '"version":' }
      metrics:
        - { query: 'sum(rate(http_errors_total[5m]))', max: 0.05, for: 2m }
`;

function load(service: string, rootYaml = root) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-verify-'));
  writeFileSync(path.join(dir, 'slipway.yaml'), rootYaml);
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(path.join(dir, 'services', 'svc.yaml'), `name: svc\ntype: node\nrepository: /x\n${service}`);
  return loadDeployConfig(dir, { env });
}

const planOf = (service: string, environment: string) => {
  const config = load(service);
  return verifyPlanOf(resolveAppSettings(config, getService(config, 'svc'), environment).verify);
};

test("the environment's verify becomes the lane's plan, in seconds and without the Prometheus URL", () => {
  assert.equal(planOf('', 'test'), undefined, 'no verify config: no verification');
  assert.deepEqual(planOf('', 'production'), {
    soakSeconds: 600,
    intervalSeconds: 30,
    smoke: [
      { path: '/health', status: 200, timeoutSeconds: 5 },
      { path: '/version', status: 200, body: '"version":', timeoutSeconds: 5 },
    ],
    metrics: [{ query: 'sum(rate(http_errors_total[5m]))', max: 0.05, forSeconds: 120, noData: 'fail' }],
  });
  const config = load('');
  assert.equal(prometheusUrlOf(config, 'production', {}), 'http://prometheus.internal:9090');
  assert.equal(prometheusUrlOf(config, 'test', { SLIPWAY_PROMETHEUS_URL: 'http://p:9090' }), 'http://p:9090');
});

test('a service replaces the checks per environment, or turns them off with null', () => {
  const own = 'environments:\n  test:\n    verify: { soak: 90s, interval: 10s }\n  production:\n    verify: null\n';
  assert.deepEqual(planOf(own, 'test'), { soakSeconds: 90, intervalSeconds: 10, smoke: [], metrics: [] });
  assert.equal(planOf(own, 'production'), undefined);
});

test('bad verify config is refused naming the field and what was expected', () => {
  const refused = (service: string, pattern: RegExp, rootYaml = root) =>
    assert.throws(
      () => load(service, rootYaml),
      (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
    );
  refused('app:\n  verify: { soak: soon }\n', /field "app\.verify\.soak" is "soon": expected a duration like "90s"/);
  refused('app:\n  verify: { smoke: [{ path: health }] }\n', /field "app\.verify\.smoke\.0\.path" is "health": .*"\/"/);
  refused(
    'app:\n  verify: { smoke: [{ path: /h, body: "(" }] }\n',
    /field "app\.verify\.smoke\.0\.body" is "\(": expected a valid regular expression/,
  );
  refused(
    'app:\n  verify: { metrics: [{ query: up }] }\n',
    /field "app\.verify\.metrics\.0" .*expected "max", "min" or both/,
  );
  // Where queries go is the operator's: a service file cannot name a Prometheus.
  refused('app:\n  verify: { prometheus: "http://evil.example" }\n', /field "app\.verify" .*prometheus/);
  refused(
    '',
    /field "environments\.0\.verify\.prometheus" is "not a url"/,
    root.replace('- name: test', '- name: test\n    verify: { prometheus: not a url }'),
  );
});
