// A real Docker build through dockerode, pushed to the local registry, and its digest read back
// from the registry's own HTTP API: the same digest the push reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import tar from 'tar-fs';
import { registryAddress } from '../helpers/env';

const manifestTypes = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

test('dockerode builds a tiny image, pushes it, and the registry reports the same digest', async () => {
  const docker = new Dockerode();
  const registry = registryAddress();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-foundation-'));
  const marker = randomUUID();
  writeFileSync(path.join(dir, 'Dockerfile'), `FROM local/busybox:httpd\nCOPY marker /www/marker\n`);
  writeFileSync(path.join(dir, 'marker'), marker);
  const repository = `${registry}/foundation/tiny`;
  const tag = marker.slice(0, 8);
  try {
    const buildStream = await docker.buildImage(tar.pack(dir) as unknown as NodeJS.ReadableStream, {
      t: `${repository}:${tag}`,
    });
    const buildOutput = await new Promise<object[]>((resolve, reject) =>
      docker.modem.followProgress(buildStream, (err, out) => (err ? reject(err) : resolve(out))),
    );
    const buildError = buildOutput.find((o) => 'error' in o);
    assert.equal(buildError, undefined, `build failed: ${JSON.stringify(buildError)}`);

    const pushStream = await docker.getImage(`${repository}:${tag}`).push({ tag });
    const pushOutput = await new Promise<{ aux?: { Digest?: string }; error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(pushStream, (err, out) => (err ? reject(err) : resolve(out))),
    );
    assert.equal(pushOutput.find((o) => o.error)?.error, undefined);
    const pushedDigest = pushOutput.find((o) => o.aux?.Digest)?.aux?.Digest;
    assert.match(pushedDigest ?? '', /^sha256:[0-9a-f]{64}$/);

    const res = await fetch(`http://${registry}/v2/foundation/tiny/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: manifestTypes },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), pushedDigest);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await docker
      .getImage(`${repository}:${tag}`)
      .remove()
      .catch(() => undefined);
  }
});
