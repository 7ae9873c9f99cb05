// Which build tool a service's files ask for, read from the build context when a Dockerfile is
// rendered: Maven (pom.xml, with its modules), pip / PEP 517 / Poetry (requirements.txt,
// pyproject.toml, poetry.lock), npm / yarn classic / yarn berry / pnpm (their lock files). The
// answer becomes template variables: which files form the dependency layer, and the commands that
// install dependencies from those files alone, so that a source edit reuses that layer.
import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';
import { readCheckoutFile } from './checkout-fs';

function badConfig(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, NonRetryable.BadConfig);
}

/**
 * A file of the build context, read without following a link out of it (a repository may commit
 * links): undefined when absent or outside the context, a non-retryable error when it is a link.
 */
function readIfThere(file: string, contextDir: string): string | undefined {
  const rel = path.relative(contextDir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel) || !lexists(file)) return undefined;
  return readCheckoutFile(contextDir, rel, 'build file');
}

function lexists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Java: Maven

/** Pinned, so that `go-offline` and `copy-dependencies` run the same plugin, found offline. */
export const mavenDependencyPlugin = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export interface MavenVars {
  /** Every pom.xml of the build (root first, then modules), context-relative. */
  poms: string[];
  module: string | null;
  skipTests: boolean;
  options: string;
  dependencyPlugin: string;
}

/** The root pom.xml and, through `<module>` entries, every module's, as the dependency layer needs them. */
function mavenPoms(contextDir: string): string[] {
  const poms: string[] = [];
  const visit = (dir: string, depth: number) => {
    const pom = path.join(dir, 'pom.xml');
    const text = readIfThere(pom, contextDir);
    const rel = path.relative(contextDir, pom).split(path.sep).join('/');
    if (text === undefined || poms.includes(rel) || rel.startsWith('..')) return;
    poms.push(rel);
    if (depth >= 5) return;
    const withoutComments = text.replace(/<!--[\s\S]*?-->/g, '');
    for (const m of withoutComments.matchAll(/<module>\s*([^<]+?)\s*<\/module>/g)) {
      const target = path.resolve(dir, m[1]!);
      // A module may name its pom.xml or its directory.
      visit(target.endsWith('.xml') ? path.dirname(target) : target, depth + 1);
    }
  };
  visit(contextDir, 0);
  return poms;
}

export function mavenVars(
  contextDir: string | undefined,
  settings: { module?: string; skipTests?: boolean },
): MavenVars | null {
  if (!contextDir || !existsSync(path.join(contextDir, 'pom.xml'))) {
    if (settings.module) throw badConfig(`build.module "${settings.module}" needs a pom.xml at the build context root`);
    return null;
  }
  const poms = mavenPoms(contextDir);
  if (settings.module && !poms.includes(`${settings.module.replace(/\/+$/, '')}/pom.xml`)) {
    throw badConfig(
      `build.module "${settings.module}" is not a module of ${poms[0]}: expected one of ${
        poms
          .slice(1)
          .map((p) => p.replace(/\/pom\.xml$/, ''))
          .join(', ') || '(no modules)'
      }`,
    );
  }
  return {
    poms,
    module: settings.module?.replace(/\/+$/, '') ?? null,
    skipTests: settings.skipTests ?? false,
    // Batch mode, no download progress, errors and test failures only.
    options: '-B -q -ntp',
    dependencyPlugin: mavenDependencyPlugin,
  };
}

/** Gradle needs a Gradle distribution the build host cannot download; say so instead of failing in javac. */
export function refuseGradle(files: string[], hasBuildCommand: boolean): void {
  const gradle = files.find((f) => /^(build|settings)\.gradle(\.kts)?$/.test(f));
  if (gradle && !files.includes('pom.xml') && !hasBuildCommand) {
    throw badConfig(
      `${gradle}: Gradle builds are not built by the java template (see templates/dockerfile/README.md); set build.buildCommand (e.g. "./gradlew --offline installDist && cp -r build/install/*/. /out/") or bring a Dockerfile`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Python: requirements.txt, pyproject.toml (PEP 517), Poetry

export const poetryVersion = '2.1.4';

export type PythonInstaller = 'requirements' | 'pyproject' | 'poetry';

export function pythonInstaller(files: string[]): { installer: PythonInstaller | null; manifests: string[] } {
  if (files.includes('pyproject.toml') && files.includes('poetry.lock'))
    return { installer: 'poetry', manifests: ['pyproject.toml', 'poetry.lock'] };
  if (files.includes('requirements.txt')) return { installer: 'requirements', manifests: ['requirements.txt'] };
  if (files.includes('pyproject.toml')) return { installer: 'pyproject', manifests: ['pyproject.toml'] };
  return { installer: null, manifests: [] };
}

// ---------------------------------------------------------------------------------------------
// Node: npm, yarn classic, yarn berry, pnpm

export type NodePackageManager = 'npm' | 'yarn-classic' | 'yarn-berry' | 'pnpm';

export interface NodeVars {
  packageManager: NodePackageManager;
  /** Root files of the dependency layer, copied together. */
  manifests: string[];
  /** A yarn release the repository carries (.yarnrc.yml yarnPath), copied to its path. */
  yarnRelease: string | null;
  /** Installs the package manager itself (npm registry), or null (npm, a committed yarn release). */
  setupCommand: string | null;
  installCommand: string;
  /**
   * With a build command: the production dependencies alone, installed first and set aside for
   * the runtime stage (so a source edit neither prunes nor copies them again); null without a
   * build command (installCommand already omits dev dependencies) and for yarn berry (no such mode).
   */
  productionInstallCommand: string | null;
  yarnBerry: boolean;
  /** Yarn berry's Plug'n'Play: node must load .pnp.cjs. */
  pnp: boolean;
}

const defaults = { yarnClassic: '1.22.22', yarnBerry: '4', pnpmForLockfile6: '8', pnpm: '9' };

/** package.json "packageManager": "pnpm@9.1.0+sha512..." -> { name: 'pnpm', version: '9.1.0' }. */
function declaredManager(packageJson: string | undefined): { name: string; version: string } | undefined {
  if (!packageJson) return undefined;
  let field: unknown;
  try {
    field = (JSON.parse(packageJson) as { packageManager?: unknown }).packageManager;
  } catch {
    throw badConfig('package.json is not valid JSON');
  }
  if (typeof field !== 'string') return undefined;
  const m = /^(npm|yarn|pnpm)@(\d+\.\d+\.\d+[\w.-]*)(\+.*)?$/.exec(field);
  if (!m) throw badConfig(`package.json "packageManager" is "${field}": expected "<npm|yarn|pnpm>@<x.y.z>"`);
  return { name: m[1]!, version: m[2]! };
}

const npmGlobal = (pkg: string) => `npm install --global --no-audit --no-fund --fetch-retries=2 ${pkg}`;

export function nodeVars(contextDir: string | undefined, files: string[], hasBuildCommand: boolean): NodeVars {
  const has = (f: string) => files.includes(f);
  const read = (f: string) => (contextDir ? readIfThere(path.join(contextDir, f), contextDir) : undefined);
  const declared = declaredManager(read('package.json'));
  const extras = ['.npmrc'].filter(has);
  const base = { yarnRelease: null, setupCommand: null, productionInstallCommand: null, yarnBerry: false, pnp: false };
  const production = (command: string) => (hasBuildCommand ? command : null);

  if (has('pnpm-lock.yaml')) {
    const lockVersion = /^lockfileVersion:\s*'?(\d+)/m.exec(read('pnpm-lock.yaml') ?? '')?.[1];
    const version =
      declared?.name === 'pnpm' ? declared.version : lockVersion === '6' ? defaults.pnpmForLockfile6 : defaults.pnpm;
    return {
      ...base,
      packageManager: 'pnpm',
      manifests: ['package.json', 'pnpm-lock.yaml', ...extras, ...['pnpm-workspace.yaml', '.pnpmfile.cjs'].filter(has)],
      setupCommand: npmGlobal(`pnpm@${version}`),
      installCommand: `pnpm install --frozen-lockfile${hasBuildCommand ? '' : ' --prod'}`,
      productionInstallCommand: production('pnpm install --frozen-lockfile --prod'),
    };
  }

  if (has('yarn.lock')) {
    const berry = /^__metadata:/m.test(read('yarn.lock') ?? '') || has('.yarnrc.yml');
    if (!berry) {
      const version = declared?.name === 'yarn' ? declared.version : defaults.yarnClassic;
      const install = 'yarn install --frozen-lockfile --non-interactive';
      return {
        ...base,
        packageManager: 'yarn-classic',
        manifests: ['package.json', 'yarn.lock', ...extras, ...['.yarnrc'].filter(has)],
        setupCommand: npmGlobal(`yarn@${version}`),
        installCommand: `${install}${hasBuildCommand ? '' : ' --production'}`,
        productionInstallCommand: production(`${install} --production`),
      };
    }
    const rc = read('.yarnrc.yml') ?? '';
    const yarnPath = /^yarnPath:\s*["']?([^"'\s]+)/m.exec(rc)?.[1] ?? null;
    if (yarnPath && (path.isAbsolute(yarnPath) || yarnPath.split('/').includes('..') || !read(yarnPath)))
      throw badConfig(`.yarnrc.yml yarnPath "${yarnPath}": expected a yarn release committed inside the repository`);
    const version = declared?.name === 'yarn' ? declared.version : defaults.yarnBerry;
    return {
      ...base,
      packageManager: 'yarn-berry',
      yarnBerry: true,
      manifests: ['package.json', 'yarn.lock', ...extras, ...['.yarnrc.yml'].filter(has)],
      yarnRelease: yarnPath,
      setupCommand: yarnPath ? null : npmGlobal(`@yarnpkg/cli-dist@${version}`),
      installCommand: `${yarnPath ? `node ${yarnPath}` : 'yarn'} install --immutable`,
      pnp: !/^nodeLinker:\s*["']?(node-modules|pnpm)/m.test(rc),
    };
  }

  const lockfile = ['package-lock.json', 'npm-shrinkwrap.json'].filter(has);
  const npmInstall = lockfile.length ? 'npm ci' : 'npm install';
  return {
    ...base,
    packageManager: 'npm',
    manifests: has('package.json') ? ['package.json', ...lockfile, ...extras] : [],
    installCommand: `${npmInstall}${hasBuildCommand ? '' : ' --omit=dev'} --no-audit --no-fund --fetch-retries=2`,
    productionInstallCommand: production(`${npmInstall} --omit=dev --no-audit --no-fund --fetch-retries=2`),
  };
}
