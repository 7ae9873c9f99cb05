// The Dockerfile of a build: Slipway's template for the service type (templates/dockerfile/), the
// service's own Handlebars template, or the service's own Dockerfile used as is. Rendering looks
// at the build context only to find the dependency manifests and build tool (build-tools.ts) that
// the templates copy and run before the source, so dependency layers survive source edits.
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { serviceTypes, type ConfigValue, type ServiceType } from '../common/config';
import { NonRetryable } from '../common/errors';
import { templatesDir } from '../common/paths';
import { mavenVars, nodeVars, pythonInstaller, poetryVersion, refuseGradle } from './build-tools';
import { checkoutPath, readCheckoutFile } from './checkout-fs';
import { checkDockerfileSyntax } from './dockerfile-syntax';
import { assertDockerfileValues, assertPlainFileNames } from './dockerfile-values';
import { renderTemplate } from './render';

/** Files Slipway adds to the build context (the rendered Dockerfile, the extra CA). */
export const generatedDir = '.slipway-build';
/**
 * Where a rendered Dockerfile finds the service's files in the context Slipway sends: beside
 * generatedDir, not around it, so `COPY source/ ./` takes the service's files and nothing of
 * Slipway's. Without that split the Dockerfile (different at every commit) and the CA would be
 * copied with the source and need a `RUN rm` afterwards: a container start in every rebuild.
 */
export const sourceDir = 'source';
/** Runtime user: numeric, so it needs no useradd in the runtime image; it owns nothing in /app. */
export const runtimeUser = '10001:10001';

export interface DockerfileInput {
  service: string;
  type: string;
  commit: string;
  pipelineId: string;
  baseImages: { build: string; runtime: string };
  port: number;
  buildCommand?: string;
  startCommand?: string;
  /** Only the names reach the Dockerfile (ARG lines); values, secret ones included, go to the daemon. */
  buildArgs?: Record<string, ConfigValue>;
  /** java (Maven): the module of a multi-module build to ship. */
  module?: string;
  /** java (Maven): package without running the tests. */
  skipTests?: boolean;
  /** Context-relative path of an extra CA bundle placed in the context; used by the build stage only. */
  caFile?: string;
  /** The checkout. Needed for a service's own template or Dockerfile and to find dependency manifests. */
  workdir?: string;
  /** Repository-relative build context; default ".". */
  context?: string;
  /** Repository-relative path of the service's own Dockerfile (used as is). */
  dockerfile?: string;
  /** Repository-relative path of the service's own Handlebars template (same variables as ours). */
  template?: string;
}

export interface RenderedDockerfile {
  /** Where the text came from: a template path or the service's Dockerfile path. */
  name: string;
  kind: 'builtin' | 'template' | 'dockerfile';
  text: string;
}

function badConfig(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, NonRetryable.BadConfig);
}

function assertServiceType(type: string): asserts type is ServiceType {
  if (!(serviceTypes as readonly string[]).includes(type)) {
    throw badConfig(`unknown service type "${type}": expected one of ${serviceTypes.join(', ')}`);
  }
}

/**
 * A repository-relative path inside the checkout that exists: refuses `..` escapes, absolute paths
 * and symbolic links on any component (checkout-fs.ts says why).
 */
export function insideCheckout(workdir: string, relative: string, what: string): string {
  return checkoutPath(workdir, relative, what);
}

/**
 * Regular files and links at the context root, by name (lstat: a link is never followed to ask
 * what it is). A link chosen as a manifest is refused when it is checked in dockerfileVars.
 */
function listFiles(dir: string | undefined): string[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => {
    const stat = lstatSync(path.join(dir, f));
    return stat.isFile() || stat.isSymbolicLink();
  });
}

/** .NET: the project files `dotnet restore` needs, at the context root. */
function dotnetManifests(files: string[]): string[] {
  const restoreFiles = [
    'nuget.config',
    'NuGet.Config',
    'Directory.Build.props',
    'Directory.Packages.props',
    'packages.lock.json',
  ];
  return files.filter((f) => /\.(csproj|fsproj|sln)$/.test(f) || restoreFiles.includes(f)).sort();
}

/** The per-type variables: dependency manifests in copy order, and how each build tool is driven. */
function buildToolVars(type: ServiceType, contextDir: string | undefined, files: string[], input: DockerfileInput) {
  const none = { manifests: [] as string[], maven: null, python: null, node: null };
  switch (type) {
    case 'node': {
      const node = nodeVars(contextDir, files, Boolean(input.buildCommand));
      return { ...none, manifests: node.manifests, node };
    }
    case 'python': {
      const { installer, manifests } = pythonInstaller(files);
      const python = installer && {
        requirements: installer === 'requirements',
        pyproject: installer === 'pyproject',
        poetry: installer === 'poetry',
        installsProject: installer === 'pyproject' || installer === 'poetry',
        poetryVersion,
      };
      return { ...none, manifests, python };
    }
    case 'java':
      refuseGradle(files, Boolean(input.buildCommand));
      return { ...none, maven: mavenVars(contextDir, input) };
    case 'dotnet':
      return { ...none, manifests: dotnetManifests(files) };
  }
}

function defaultStartCommand(type: ServiceType, files: string[], tools: ReturnType<typeof buildToolVars>): string {
  switch (type) {
    case 'node':
      // package.json "main", else index.js; yarn berry's Plug'n'Play resolves modules through .pnp.cjs.
      return tools.node?.pnp ? 'node --require ./.pnp.cjs .' : 'node .';
    case 'python':
      return 'python3 app.py';
    case 'java':
      // Maven builds write app.args: "-jar app.jar" or "-cp app.jar:lib/* <Main-Class>".
      return `java -XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError ${tools.maven ? '@app.args' : '-jar app.jar'}`;
    case 'dotnet': {
      const projects = files.filter((f) => /\.(csproj|fsproj)$/.test(f));
      if (projects.length !== 1) {
        throw badConfig(
          `dotnet: cannot tell the entry assembly (${projects.length} project files at the context root); set build.startCommand`,
        );
      }
      // Marathon host networking assigns PORT0; bridge mode keeps the image's PORT.
      return `env ASPNETCORE_URLS=http://+:\${PORT0:-\$PORT} dotnet ${projects[0]!.replace(/\.(csproj|fsproj)$/, '')}.dll`;
    }
  }
}

/** The variables every Dockerfile template (ours or a service's own) can use. */
export function dockerfileVars(input: DockerfileInput, type: ServiceType): Record<string, unknown> {
  const contextDir = input.workdir ? insideCheckout(input.workdir, input.context ?? '.', 'build context') : undefined;
  const files = listFiles(contextDir);
  const tools = buildToolVars(type, contextDir, files, input);
  const manifests = tools.manifests;
  // Manifests are copied by name and read by package managers: each must be a regular file of the
  // repository, and a name a Dockerfile line and a shell word can hold as it is.
  for (const name of manifests)
    checkoutPath(input.workdir!, path.join(input.context ?? '.', name), 'dependency manifest');
  assertPlainFileNames(manifests);
  const buildArgNames = Object.keys(input.buildArgs ?? {});
  for (const name of buildArgNames) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw badConfig(`build arg "${name}" is not a valid name: expected letters, digits and "_"`);
  }
  return assertDockerfileValues({
    service: input.service,
    type,
    commit: input.commit,
    pipelineId: input.pipelineId,
    buildImage: input.baseImages.build,
    runtimeImage: input.baseImages.runtime,
    port: input.port,
    buildCommand: input.buildCommand ?? null,
    startCommand: input.startCommand ?? defaultStartCommand(type, files, tools),
    buildArgNames,
    caFile: input.caFile ?? null,
    manifests,
    lockfile: manifests.includes('package-lock.json') || manifests.includes('npm-shrinkwrap.json'),
    maven: tools.maven,
    python: tools.python,
    node: tools.node,
    generatedDir,
    sourceDir,
    user: runtimeUser,
  });
}

function check(name: string, text: string): string {
  const problems = checkDockerfileSyntax(text);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `template ${name} rendered an invalid Dockerfile: ${problems.join('; ')}`,
      NonRetryable.TemplateError,
    );
  }
  return text;
}

function readRepoFile(workdir: string | undefined, relative: string, what: string): { file: string; text: string } {
  if (!workdir) throw badConfig(`${what} "${relative}" needs the checkout (workdir) to read it from`);
  return { file: insideCheckout(workdir, relative, what), text: readCheckoutFile(workdir, relative, what) };
}

export function renderDockerfile(input: DockerfileInput): RenderedDockerfile {
  assertServiceType(input.type);
  if (input.dockerfile && input.template)
    throw badConfig('a service may bring its own dockerfile or its own template, not both');
  if (input.dockerfile) {
    // The service's own Dockerfile is its author's responsibility: used verbatim, never rewritten.
    const { text } = readRepoFile(input.workdir, input.dockerfile, 'dockerfile');
    return { name: input.dockerfile, kind: 'dockerfile', text };
  }
  const vars = dockerfileVars(input, input.type);
  if (input.template) {
    const { text } = readRepoFile(input.workdir, input.template, 'template');
    return {
      name: input.template,
      kind: 'template',
      text: check(input.template, renderTemplate({ name: input.template, source: text, vars })),
    };
  }
  const file = path.join(templatesDir, 'dockerfile', `${input.type}.Dockerfile.hbs`);
  const name = path.relative(path.dirname(templatesDir), file);
  const text = renderTemplate({ name, source: readFileSync(file, 'utf8'), vars });
  return { name, kind: 'builtin', text: check(name, text) };
}
