// Reading and writing paths inside a checkout without ever following the repository's symbolic
// links. A repository is the service team's to fill: a committed link named `.slipway-build`,
// `package.json` or the build context would otherwise make the build host read or overwrite its
// own files. Every path Slipway reads or writes in a checkout goes through here: each component is
// lstat'ed from the checkout root down (a link anywhere on the way is refused, naming it), reads
// open with O_NOFOLLOW, and writes go to a fresh temp file renamed into place, which replaces a
// link instead of writing through it. A refusal is non-retryable: the commit will not change.
import {
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';

function badConfig(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, NonRetryable.BadConfig);
}

function linkRefused(what: string, relative: string, link: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `${what} "${relative}": "${link}" is a symbolic link in the repository; Slipway reads and writes no path of a checkout through a link (it could point outside the checkout): commit a regular file or folder instead`,
    NonRetryable.UnsafeRepository,
  );
}

function lstatOrUndefined(file: string) {
  try {
    return lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface CheckoutPathOptions {
  /** A path Slipway is about to create: its missing components are allowed. */
  allowMissing?: boolean;
}

/**
 * The absolute path of a repository-relative path, after checking every component from the
 * checkout root down: no absolute path, no `..` out of the checkout, no symbolic link, and every
 * component but the last a real directory. Missing: an error, unless `allowMissing`.
 */
export function checkoutPath(workdir: string, relative: string, what: string, opts: CheckoutPathOptions = {}): string {
  const parts = path
    .normalize(relative)
    .split(path.sep)
    .filter((p) => p !== '' && p !== '.');
  if (path.isAbsolute(relative) || parts[0] === '..') {
    throw badConfig(`${what} "${relative}" must be a path inside the repository`);
  }
  // The checkout folder itself is Slipway's (under the builds root): its real path is the anchor.
  let current = realpathSync(workdir);
  for (const [i, part] of parts.entries()) {
    current = path.join(current, part);
    const stat = lstatOrUndefined(current);
    const shown = parts.slice(0, i + 1).join('/');
    if (!stat) {
      if (opts.allowMissing) return path.join(current, ...parts.slice(i + 1));
      throw badConfig(`${what} "${relative}" does not exist in the repository`);
    }
    if (stat.isSymbolicLink()) throw linkRefused(what, relative, shown);
    if (i < parts.length - 1 && !stat.isDirectory()) {
      throw badConfig(`${what} "${relative}": "${shown}" is not a folder in the repository`);
    }
  }
  return current;
}

/** A regular file of the checkout, read without following a link. */
export function readCheckoutFile(workdir: string, relative: string, what: string): string {
  const file = checkoutPath(workdir, relative, what);
  if (!lstatSync(file).isFile()) throw badConfig(`${what} "${relative}" is not a regular file in the repository`);
  // O_NOFOLLOW: should the file have become a link since the check, the open fails instead of following it.
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** A checkout folder Slipway writes into (creating it when missing); a link or a file there is refused. */
export function ensureCheckoutDir(workdir: string, relative: string, what: string): string {
  const dir = checkoutPath(workdir, relative, what, { allowMissing: true });
  const stat = lstatOrUndefined(dir);
  if (!stat) mkdirSync(dir, { recursive: true });
  else if (!stat.isDirectory()) throw badConfig(`${what} "${relative}" is not a folder in the repository`);
  // mkdir never follows a link it creates, but the parents were checked before: check the result.
  checkoutPath(workdir, relative, what);
  return dir;
}

/**
 * Writes `name` into a folder checked by ensureCheckoutDir: a fresh temp file (O_EXCL|O_NOFOLLOW,
 * so nothing that exists is opened) renamed over the name, which replaces whatever the repository
 * put there (a link included) instead of writing through it.
 */
export function writeCheckoutFile(dir: string, name: string, content: Buffer | string, shownAs: string): void {
  if (name.includes('/') || name === '..' || name === '.') throw new Error(`not a file name: ${name}`);
  // Replacing a committed link would be safe, but such a repository is refused like every other link.
  if (lstatOrUndefined(path.join(dir, name))?.isSymbolicLink()) throw linkRefused('generated file', shownAs, shownAs);
  const temp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path.join(dir, name));
}
