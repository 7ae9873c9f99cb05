// The test harness behind `npm test`: starts the real parts every test file shares (a Temporal dev
// server, the local registry), then runs the test files with node's test runner and tears the
// services down again. `npm test -- marathon` runs only files whose path contains "marathon".
// SLIPWAY_TEST_TEMPORAL=postgres runs them on the production Temporal server on PostgreSQL
// instead (built once, see dev/temporal-cluster.ts; `npm run test:cluster`). Exits non-zero when
// any test fails or a service cannot start.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../common/paths';
import { freePort } from '../dev/process';
import { findTemporalCli, findTemporalTestServer } from '../dev/temporal';
import { parseTemporalKind, startTemporal, type RunningTemporal } from '../dev/temporal-kind';
import { startRegistry, type Registry } from '../dev/registry';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return entry === 'fixtures' || entry === 'node_modules' ? [] : findTests(full);
    return entry.endsWith('.test.ts') ? [full] : [];
  });
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const files = findTests(path.join(projectRoot, 'test'))
    .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
    .sort();
  if (files.length === 0) throw new Error(`no test files match ${filters.join(' ')}`);

  const kind = parseTemporalKind(process.env.SLIPWAY_TEST_TEMPORAL, 'SLIPWAY_TEST_TEMPORAL');
  let temporal: RunningTemporal | undefined;
  let registry: Registry | undefined;
  // Workers started by tests audit into a folder of this run, not the checkout's .slipway.
  const auditDir = process.env.SLIPWAY_AUDIT_DIR
    ? undefined
    : mkdtempSync(path.join(os.tmpdir(), 'slipway-test-audit-'));
  const stop = async () => {
    await temporal?.stop();
    await registry?.process?.stop();
    if (auditDir) rmSync(auditDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    const registryAddress = process.env.SLIPWAY_REGISTRY;
    if (!registryAddress) registry = await startRegistry(5000);
    temporal = await startTemporal(kind, {
      port: await freePort(),
      uiPort: kind === 'dev' ? await freePort() : undefined,
      name: 'temporal-test',
    });
    console.log(
      `[test] Temporal ${kind === 'dev' ? 'dev server' : 'server on PostgreSQL'} ${temporal.address} (UI ${temporal.uiUrl ?? 'none'}), registry ${registryAddress ?? registry?.address}`,
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      SLIPWAY_TEST_TEMPORAL: kind,
      SLIPWAY_TEST_TEMPORAL_UI: temporal.uiUrl,
      SLIPWAY_REGISTRY: registryAddress ?? registry?.address,
      TEMPORAL_CLI_PATH: findTemporalCli(),
      TEMPORAL_TEST_SERVER_PATH: findTemporalTestServer(),
      SLIPWAY_LOG_LEVEL: process.env.SLIPWAY_LOG_LEVEL ?? 'warn',
      SLIPWAY_AUDIT_DIR: process.env.SLIPWAY_AUDIT_DIR ?? auditDir,
    };
    const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files];
    const child = spawn(process.execPath, args, { env, stdio: 'inherit', cwd: projectRoot });
    return await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[test] ${(err as Error).message}`);
    process.exit(1);
  },
);
