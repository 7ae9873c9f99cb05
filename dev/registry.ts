// A Docker registry on loopback (Debian's docker-registry), storage in the state folder. Loopback
// registries count as insecure by default in dockerd, so no TLS is needed for the local stack.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { logDir, stateDir } from '../common/paths';
import { httpOk, isPortOpen, startProcess, waitUntil, type ManagedProcess } from './process';

export interface Registry {
  address: string;
  /** undefined when a registry was already answering there and we only use it. */
  process?: ManagedProcess;
}

export async function registryAnswers(address: string): Promise<boolean> {
  return httpOk(`http://${address}/v2/`).catch(() => false);
}

export async function startRegistry(
  port = 5000,
  name = 'registry',
  onSpawn?: (pid: number) => void,
): Promise<Registry> {
  const address = `127.0.0.1:${port}`;
  if (await registryAnswers(address)) return { address };
  if (await isPortOpen(port)) {
    throw new Error(
      `port ${port} is in use by something that is not a Docker registry; free it or set SLIPWAY_REGISTRY`,
    );
  }
  const dir = path.join(stateDir, 'registry');
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, `config-${port}.yml`);
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: warn, fields: { service: registry } }',
      `storage: { filesystem: { rootdirectory: ${path.join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", headers: { X-Content-Type-Options: [nosniff] } }`,
      '',
    ].join('\n'),
  );
  const proc = startProcess({ name, command: 'docker-registry', args: ['serve', config], logDir, onSpawn });
  try {
    await waitUntil(`the registry on ${address}`, () => registryAnswers(address), { timeoutMs: 15_000, process: proc });
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message} (is Debian's docker-registry installed? run bash dev/setup.sh)`);
  }
  return { address, process: proc };
}
