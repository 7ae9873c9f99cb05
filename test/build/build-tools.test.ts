// The build tool a service's files ask for, as the rendered Dockerfile drives it, without Docker:
// Maven (modules, skipTests, the CA in Java's trust store of the build stage only), pip /
// pyproject / Poetry, npm / yarn classic / yarn berry / pnpm. In every case the dependencies are
// installed from the manifests alone, before the source is copied. Real builds of the examples
// are in docker.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { renderDockerfile, type DockerfileInput } from '../../activities/dockerfile';
import { failure } from '../helpers/failure';
import { checkDockerfileSyntax, parseDockerfile, type DockerfileInstruction } from '../../activities/dockerfile-syntax';

const base = {
  service: 'svc',
  commit: 'b'.repeat(40),
  pipelineId: 'pipeline/svc/' + 'b'.repeat(40),
  baseImages: { build: 'local/build:1', runtime: 'local/runtime:1' },
  port: 8080,
  caFile: '.slipway-build/ca.crt',
};

function render(
  type: 'node' | 'python' | 'java',
  files: Record<string, string>,
  extra: Partial<DockerfileInput> = {},
): { text: string; instrs: DockerfileInstruction[]; runtime: DockerfileInstruction[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-tools-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    const { text } = renderDockerfile({ ...base, type, workdir: dir, ...extra });
    assert.deepEqual(checkDockerfileSyntax(text), []);
    const instrs = parseDockerfile(text);
    const runtimeStart = instrs.findIndex((i, n) => n > 0 && i.keyword === 'FROM');
    return { text, instrs, runtime: instrs.slice(runtimeStart) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Index of the first instruction whose text matches. */
function at(instrs: DockerfileInstruction[], pattern: RegExp): number {
  const i = instrs.findIndex((x) => pattern.test(`${x.keyword} ${x.args}`));
  assert.ok(i >= 0, `no instruction matches ${pattern}`);
  return i;
}

/** `first` (the dependency install) comes before the source copy, `then` after it. */
function installedBeforeSource(instrs: DockerfileInstruction[], first: RegExp, then?: RegExp): void {
  const source = at(instrs, /^COPY source\/ \.\/$/);
  assert.ok(at(instrs, first) < source, `${first} runs before the source is copied`);
  if (then) assert.ok(at(instrs, then) > source, `${then} runs after the source is copied`);
}

const pom = (modules: string[] = []) =>
  `<project><modelVersion>4.0.0</modelVersion>${modules.length ? `<modules>${modules.map((m) => `<module>${m}</module>`).join('')}</modules>` : ''}</project>`;

test('maven: the POM alone fills the local repository, then an offline package; app.args tells java how to run it', () => {
  const { instrs, runtime, text } = render('java', { 'pom.xml': pom(), 'src/main/java/A.java': 'class A {}' });
  assert.ok(at(instrs, /^COPY source\/pom\.xml \.\/pom\.xml$/) < at(instrs, /^COPY source\/ \.\/$/));
  installedBeforeSource(instrs, /maven-dependency-plugin:[\d.]+:go-offline/, /mvn -B -q -ntp -o package/);
  assert.doesNotMatch(text, /-DskipTests/);
  // Java's own trust store gets the CA in the build stage; the runtime stage never sees it.
  assert.match(text, /update-ca-certificates/);
  assert.ok(!runtime.some((i) => /ca-certificates|extra-ca|ca-bundle/.test(i.args)));
  assert.match(runtime.find((i) => i.keyword === 'CMD')!.args, /java .*@app\.args/);
});

test('maven: skipTests and a module of a multi-module build; an unknown module names the modules', () => {
  const files = {
    'pom.xml': pom(['common', 'server']),
    'common/pom.xml': pom(),
    'server/pom.xml': pom(),
    'src/test/resources/pom.xml': pom(), // not a module: not part of the dependency layer
  };
  const { instrs, text } = render('java', files, { module: 'server', skipTests: true });
  for (const p of ['pom.xml', 'common/pom.xml', 'server/pom.xml'])
    assert.ok(
      instrs.some((i) => i.keyword === 'COPY' && i.args === `source/${p} ./${p}`),
      `${p} copied`,
    );
  assert.doesNotMatch(text, /src\/test\/resources\/pom\.xml/);
  assert.match(text, /-o -DskipTests -pl "server" -am package/);
  assert.match(text, /ls -S "server"\/target\/\*\.jar/);

  const err = failure(() => render('java', files, { module: 'client' }));
  assert.equal(err.type, 'BadConfig');
  assert.match(err.message, /build\.module "client" is not a module of pom\.xml: expected one of common, server/);
});

test('java without a pom.xml keeps the plain JDK build; Gradle alone is refused with what to do', () => {
  const { text } = render('java', { 'src/main/java/A.java': 'class A { public static void main(String[] a) {} }' });
  assert.match(text, /javac \$JVM_FAST -encoding UTF-8/);
  assert.doesNotMatch(text, /mvn|update-ca-certificates/);
  assert.match(text, /-jar app\.jar/);
  const err = failure(() => render('java', { 'build.gradle.kts': '', 'src/main/java/A.java': '' }));
  assert.equal(err.type, 'BadConfig');
  assert.match(
    err.message,
    /build\.gradle\.kts: Gradle builds are not built by the java template.*build\.buildCommand/,
  );
  assert.match(render('java', { 'build.gradle': '' }, { buildCommand: 'gradle build' }).text, /gradle build/);
});

test('python: requirements.txt, pyproject.toml (PEP 517) and Poetry each install dependencies before the source', () => {
  installedBeforeSource(render('python', { 'requirements.txt': 'flask\n' }).instrs, /pip install -r requirements\.txt/);

  const pyproject = render('python', { 'pyproject.toml': '[project]\nname = "x"\n' });
  installedBeforeSource(
    pyproject.instrs,
    /tomllib.*pip install -r \/tmp\/dependencies\.txt/,
    /pip install --no-deps --no-build-isolation --prefix \/opt\/project \.$/,
  );
  assert.doesNotMatch(pyproject.text, /poetry/);

  const poetry = render('python', { 'pyproject.toml': '[tool.poetry]\n', 'poetry.lock': '' });
  assert.match(poetry.text, /COPY source\/pyproject\.toml source\/poetry\.lock \.\//);
  installedBeforeSource(poetry.instrs, /poetry install --no-root --only main/, /poetry build --format wheel/);
  assert.ok(at(poetry.instrs, /pip install "poetry==/) < at(poetry.instrs, /COPY source\/pyproject/));
});

test('node: npm, yarn classic, yarn berry and pnpm lock files each get their own install before the source', () => {
  const pkg = (extra: object = {}) => JSON.stringify({ name: 'x', ...extra });
  const cases: { files: Record<string, string>; setup?: RegExp; install: RegExp; start?: RegExp }[] = [
    { files: { 'package.json': pkg(), 'package-lock.json': '{}' }, install: /^RUN npm ci --omit=dev/ },
    {
      files: { 'package.json': pkg(), 'yarn.lock': '# yarn lockfile v1\n' },
      setup: /npm install --global .* yarn@1\.22\.22$/,
      install: /yarn install --frozen-lockfile --non-interactive --production$/,
    },
    {
      files: { 'package.json': pkg({ packageManager: 'yarn@4.5.0+sha512.abc' }), 'yarn.lock': '__metadata:\n' },
      setup: /npm install --global .* @yarnpkg\/cli-dist@4\.5\.0$/,
      install: /^RUN yarn install --immutable$/,
      start: /node --require \.\/\.pnp\.cjs \./,
    },
    {
      files: {
        'package.json': pkg(),
        'yarn.lock': '__metadata:\n',
        '.yarnrc.yml': 'nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-3.8.7.cjs\n',
        '.yarn/releases/yarn-3.8.7.cjs': '// yarn',
      },
      install: /^RUN node \.yarn\/releases\/yarn-3\.8\.7\.cjs install --immutable$/,
      start: /exec node \."/,
    },
    {
      files: { 'package.json': pkg(), 'pnpm-lock.yaml': "lockfileVersion: '6.0'\n" },
      setup: /pnpm@8$/,
      install: /pnpm install --frozen-lockfile --prod$/,
    },
    {
      files: { 'package.json': pkg({ packageManager: 'pnpm@9.15.4' }), 'pnpm-lock.yaml': "lockfileVersion: '9.0'\n" },
      setup: /pnpm@9\.15\.4$/,
      install: /pnpm install --frozen-lockfile --prod$/,
    },
  ];
  for (const c of cases) {
    const { instrs, runtime, text } = render('node', c.files);
    installedBeforeSource(instrs, c.install);
    if (c.setup) assert.ok(at(instrs, c.setup) < at(instrs, c.install), `${c.setup} before the install`);
    else assert.doesNotMatch(text, /npm install --global/);
    if (c.start) assert.match(runtime.find((i) => i.keyword === 'CMD')!.args, c.start);
  }
  assert.match(
    render('node', cases[3]!.files).text,
    /COPY source\/\.yarn\/releases\/yarn-3\.8\.7\.cjs \.\/\.yarn\/releases\/yarn-3\.8\.7\.cjs/,
  );
});

test('node: a build command (TypeScript) gets all dependencies; the runtime gets the production ones, installed apart', () => {
  const { text } = render(
    'node',
    { 'package.json': '{}', 'pnpm-lock.yaml': "lockfileVersion: '9.0'\n" },
    { buildCommand: 'pnpm run build' },
  );
  const { instrs, runtime } = render(
    'node',
    { 'package.json': '{}', 'pnpm-lock.yaml': "lockfileVersion: '9.0'\n" },
    { buildCommand: 'pnpm run build' },
  );
  // Production dependencies first, set aside; then all of them for the build, dropped after it.
  assert.ok(
    at(instrs, /pnpm install --frozen-lockfile --prod && mkdir -p \/opt\/production && mv node_modules/) <
      at(instrs, /^RUN pnpm install --frozen-lockfile$/),
  );
  assert.match(text, /^RUN pnpm run build && rm -rf node_modules$/m);
  assert.ok(
    at(runtime, /^COPY --from=build \/opt\/production\/node_modules \/app\/node_modules$/) <
      at(runtime, /^COPY --from=build \/app \/app$/),
  );

  const bad = failure(() => render('node', { 'package.json': '{"packageManager":"bun@1"}', 'package-lock.json': '' }));
  assert.equal(bad.type, 'BadConfig');
  assert.match(bad.message, /"packageManager" is "bun@1": expected "<npm\|yarn\|pnpm>@<x\.y\.z>"/);
  const release = failure(() =>
    render('node', { 'package.json': '{}', 'yarn.lock': '', '.yarnrc.yml': 'yarnPath: ../yarn.cjs\n' }),
  );
  assert.match(release.message, /yarnPath "\.\.\/yarn\.cjs": expected a yarn release committed inside the repository/);
});
