// The registry's word on a promotion's image, asked on a build worker (it holds the registry
// credentials). The repository comes from the worker's config (the pipeline's plan); the digest
// from the build pipeline's status. Either way the manifest must be in the registry under that
// service's repository, or there is nothing to promote.
import { ApplicationFailure } from '@temporalio/activity';
import type { VerifiedImage } from '../common/contract';
import { NonRetryable } from '../common/errors';
import { parseImageReference, RegistryClient } from './registry';

const notPromotable = (message: string) => ApplicationFailure.nonRetryable(message, NonRetryable.NotPromotable);

export async function verifyPromotionImage(input: {
  /** registry/service from the worker's config. */
  imageRepository: string;
  /** The tag the build pushes: the commit's first 12 characters. */
  tag: string;
  /** The digest the build pipeline reports, when it is known. */
  digestRef?: string;
}): Promise<VerifiedImage> {
  const repo = parseImageReference(input.imageRepository);
  const registry = new RegistryClient(repo.registry);
  let reference = input.tag;
  if (input.digestRef) {
    const claimed = parseImageReference(input.digestRef);
    if (claimed.registry !== repo.registry || claimed.name !== repo.name || !claimed.digest)
      throw notPromotable(`image ${input.digestRef} is not in ${input.imageRepository}, this service's repository`);
    reference = claimed.digest;
  }
  const manifest = await registry.getManifest(repo.name, reference);
  if (!manifest)
    throw notPromotable(
      input.digestRef
        ? `${input.digestRef} is no longer in the registry`
        : `no build of this commit: no pipeline found and no ${input.imageRepository}:${input.tag} in the registry`,
    );
  const digestRef = `${repo.registry}/${repo.name}@${manifest.digest}`;
  return { digestRef, ...(await createdAt(registry, repo.name, manifest.body)) };
}

/** The image config's "created" (docker build sets it); absent for an index or an unreadable config. */
async function createdAt(registry: RegistryClient, name: string, body: Buffer): Promise<{ createdAt?: string }> {
  try {
    const config = (JSON.parse(body.toString()) as { config?: { digest?: string } }).config?.digest;
    if (!config) return {};
    const res = await registry.request('GET', `/v2/${name}/blobs/${config}`);
    if (res.status !== 200) return {};
    const created = (JSON.parse(res.body.toString()) as { created?: unknown }).created;
    return typeof created === 'string' && !Number.isNaN(Date.parse(created)) ? { createdAt: created } : {};
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    return {};
  }
}
