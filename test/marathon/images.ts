// Tiny task images for the containers-mode tests: busybox httpd serving /www, built from scratch
// in a second (no Docker Hub here), pushed to the test registry and named by digest when there is one.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import tar from 'tar-fs';

const docker = new Dockerode();

async function follow<T extends object>(stream: NodeJS.ReadableStream): Promise<T[]> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (err, out: T[]) => (err ? reject(err) : resolve(out))),
  );
}

/**
 * A 2 MB image: busybox httpd serving /www on 8080; `healthy: false` leaves out /health (404).
 * busybox is also /bin/sh, so COMMAND health checks (`/bin/sh -c ...`) can run in it.
 */
export async function buildImage(repository: string, tag: string, body: string, healthy: boolean): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-marathon-img-'));
  try {
    mkdirSync(path.join(dir, 'www'));
    copyFileSync('/bin/busybox', path.join(dir, 'busybox'));
    writeFileSync(path.join(dir, 'www', 'index.html'), body);
    if (healthy) writeFileSync(path.join(dir, 'www', 'health'), 'ok\n');
    writeFileSync(
      path.join(dir, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nCOPY busybox /bin/sh\nCOPY www /www\nEXPOSE 8080\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n',
    );
    const out = await follow<{ error?: string }>(
      await docker.buildImage(tar.pack(dir) as unknown as NodeJS.ReadableStream, { t: `${repository}:${tag}` }),
    );
    const failed = out.find((o) => o.error);
    if (failed) throw new Error(`building ${tag} failed: ${failed.error}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!process.env.SLIPWAY_REGISTRY) return `${repository}:${tag}`;
  // Build once, deploy the digest: push and hand Marathon repo@sha256:...
  const pushed = await follow<{ aux?: { Digest?: string }; error?: string }>(
    await docker.getImage(`${repository}:${tag}`).push({ tag }),
  );
  const digest = pushed.find((o) => o.aux?.Digest)?.aux?.Digest;
  if (!digest) throw new Error(`push of ${tag} reported no digest: ${JSON.stringify(pushed.find((o) => o.error))}`);
  return `${repository}@${digest}`;
}

/** Removes the local tags the tests built. */
export async function removeImages(repository: string, tags: string[]): Promise<void> {
  for (const tag of tags)
    await docker
      .getImage(`${repository}:${tag}`)
      .remove({ force: true })
      .catch(() => undefined);
}
