// Template rendering and the Dockerfile templates, without Docker: strict variables, no escaping,
// syntax errors that name the line, every built-in template rendering to a sound Dockerfile (the
// only check .NET gets here), a service's own template or Dockerfile, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderTemplate } from '../../activities/render';
import { renderDockerfile, type DockerfileInput } from '../../activities/dockerfile';
import { failure } from '../helpers/failure';
import { checkDockerfileSyntax, parseDockerfile } from '../../activities/dockerfile-syntax';

const base: Omit<DockerfileInput, 'type'> = {
  service: 'hello',
  commit: 'a'.repeat(40),
  pipelineId: 'pipeline/hello/' + 'a'.repeat(40),
  baseImages: { build: 'local/build:1', runtime: 'local/runtime:1' },
  port: 8080,
};

function withDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-render-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

test('a missing variable is a non-retryable TemplateError naming the template and the variable', () => {
  const err = failure(() =>
    renderTemplate({
      name: 'marathon/app.json.hbs',
      source: '{\n  "path": "{{healthCheck.path}}"\n}',
      vars: { healthCheck: {} },
    }),
  );
  assert.equal(err.type, 'TemplateError');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /marathon\/app\.json\.hbs/);
  assert.match(err.message, /missing variable "healthCheck\.path"/);
  assert.match(err.message, /line 2/);

  const top = failure(() => renderTemplate({ name: 'x.hbs', source: 'FROM {{buildImage}}', vars: {} }));
  assert.match(top.message, /template x\.hbs: missing variable "buildImage"/);
});

test('nothing is HTML-escaped: quotes, ampersands and angle brackets arrive as written', () => {
  const value = `<a href="x">&'`;
  assert.equal(
    renderTemplate({ name: 't', source: 'v={{value}} j={{json obj}}', vars: { value, obj: { s: value } } }),
    `v=${value} j={"s":"<a href=\\"x\\">&'"}`,
  );
});

test('a syntax error names the template and the line', () => {
  const err = failure(() =>
    renderTemplate({ name: 'broken.hbs', source: 'FROM x\nRUN {{#if a}}\nRUN y\n{{/each}}\n', vars: { a: true } }),
  );
  assert.equal(err.type, 'TemplateError');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /template broken\.hbs: syntax error on line 2/);

  const parse = failure(() => renderTemplate({ name: 'unclosed.hbs', source: 'A\nB {{oops}\n', vars: {} }));
  assert.match(parse.message, /template unclosed\.hbs: syntax error on line 2/);
});

for (const type of ['node', 'python', 'java', 'dotnet'] as const) {
  test(`the ${type} template renders a sound multi-stage Dockerfile with the CA in the build stage only`, () => {
    const files: Record<string, Record<string, string>> = {
      node: { 'package.json': '{}', 'package-lock.json': '{}' },
      python: { 'requirements.txt': 'flask==3.0.0\n' },
      java: { 'src/main/java/hello/Main.java': 'class Main {}' },
      dotnet: { 'Hello.csproj': '<Project/>' },
    };
    const dir = withDir(files[type]!);
    try {
      const { text, kind, name } = renderDockerfile({
        ...base,
        type,
        workdir: dir,
        caFile: '.slipway-build/ca.crt',
        buildArgs: { NPM_FLAGS: 'x y' },
        buildCommand: type === 'java' ? undefined : 'echo built',
      });
      assert.equal(kind, 'builtin');
      assert.equal(name, `templates/dockerfile/${type}.Dockerfile.hbs`);
      assert.deepEqual(checkDockerfileSyntax(text), []);
      const instrs = parseDockerfile(text);
      assert.equal(instrs[0]?.keyword, 'FROM');
      assert.equal(instrs[0]?.args, 'local/build:1 AS build');
      const stages = instrs.filter((i) => i.keyword === 'FROM');
      assert.equal(stages.length, 2);
      assert.equal(stages[1]?.args, 'local/runtime:1');
      const runtimeStart = instrs.indexOf(stages[1]!);
      const runtime = instrs.slice(runtimeStart);
      // The CA goes into the build stage, never into the runtime stage.
      assert.ok(
        instrs.slice(0, runtimeStart).some((i) => i.keyword === 'COPY' && i.args.startsWith('.slipway-build/ca.crt')),
      );
      assert.ok(
        !runtime.some((i) => /ca\.crt|slipway\/ca-bundle|extra-ca/.test(i.args)),
        'runtime stage must not see the CA',
      );
      assert.ok(instrs.some((i) => i.keyword === 'ARG' && i.args === 'NPM_FLAGS'));
      assert.ok(!instrs.some((i) => i.keyword === 'HEALTHCHECK'), 'Marathon checks health; no HEALTHCHECK');
      assert.ok(
        runtime.some((i) => i.keyword === 'USER' && i.args === '10001:10001'),
        'runtime runs as a non-root user',
      );
      assert.ok(runtime.some((i) => i.keyword === 'EXPOSE' && i.args === '8080'));
      const label = runtime.find((i) => i.keyword === 'LABEL')?.args ?? '';
      assert.match(label, /slipway\.service="hello"/);
      assert.match(label, new RegExp(`slipway\\.commit="${'a'.repeat(40)}"`));
      assert.match(label, /slipway\.pipeline-id="pipeline\/hello\/a{40}"/);
      const cmd = runtime.find((i) => i.keyword === 'CMD');
      assert.ok(cmd && Array.isArray(JSON.parse(cmd.args)), 'CMD in exec form');
      // Dependency manifests are copied before the source (so source edits keep dependency layers).
      // The build stage copies the service's files only, not the context root with Slipway's folder.
      const copySource = instrs.findIndex((i) => i.keyword === 'COPY' && i.args === 'source/ ./');
      assert.ok(copySource > 0, 'source copied in the build stage');
      assert.ok(!instrs.some((i) => i.keyword === 'COPY' && /^\.\s/.test(i.args)), 'no COPY of the whole context');
      // A rebuild redoes only what changes with a commit: in the runtime stage, nothing before the
      // first COPY --from names the commit.
      const firstCopy = runtime.findIndex((i) => i.keyword === 'COPY');
      assert.ok(firstCopy > 0);
      assert.ok(!runtime.slice(0, firstCopy).some((i) => i.args.includes('a'.repeat(40))), 'commit-free prefix');
      assert.ok(
        runtime.slice(firstCopy).every((i) => i.keyword !== 'CMD' && i.keyword !== 'USER' && i.keyword !== 'EXPOSE'),
        'CMD, USER and EXPOSE come before the copy, so they stay cached',
      );
      const manifestCopy = instrs.findIndex(
        (i) => i.keyword === 'COPY' && /package\.json|requirements\.txt|\.csproj/.test(i.args),
      );
      if (type !== 'java')
        assert.ok(manifestCopy >= 0 && manifestCopy < copySource, 'manifests copied before the source');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('without an extra CA the templates copy no certificate at all', () => {
  const { text } = renderDockerfile({ ...base, type: 'node' });
  assert.doesNotMatch(text, /ca\.crt|NODE_EXTRA_CA_CERTS/);
  assert.deepEqual(checkDockerfileSyntax(text), []);
});

test('the .NET start command names the project assembly, and refuses to guess between several', () => {
  const one = withDir({ 'Shop.Api.csproj': '<Project/>' });
  const two = withDir({ 'A.csproj': '<Project/>', 'B.csproj': '<Project/>' });
  try {
    assert.match(renderDockerfile({ ...base, type: 'dotnet', workdir: one }).text, /dotnet Shop\.Api\.dll/);
    assert.match(
      renderDockerfile({ ...base, type: 'dotnet', workdir: two, startCommand: 'dotnet A.dll' }).text,
      /exec dotnet A\.dll/,
    );
    const err = failure(() => renderDockerfile({ ...base, type: 'dotnet', workdir: two }));
    assert.equal(err.type, 'BadConfig');
    assert.match(err.message, /set build\.startCommand/);
  } finally {
    rmSync(one, { recursive: true, force: true });
    rmSync(two, { recursive: true, force: true });
  }
});

test('an unknown service type is a clear non-retryable error', () => {
  const err = failure(() => renderDockerfile({ ...base, type: 'ruby' }));
  assert.equal(err.type, 'BadConfig');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /unknown service type "ruby": expected one of node, java, python, dotnet/);
});

test("a service's own template renders with the same variables; its own Dockerfile is used verbatim", () => {
  const dir = withDir({
    'build/Dockerfile.hbs':
      'FROM {{runtimeImage}}\nLABEL svc={{quote service}}\nEXPOSE {{port}}\nCMD {{exec startCommand}}\n',
    'docker/Dockerfile': 'FROM local/busybox:httpd\n# {{ not a template }}\n',
    'bad.hbs': 'FROM x\nRUN {{nope}}\n',
  });
  try {
    const own = renderDockerfile({ ...base, type: 'python', workdir: dir, template: 'build/Dockerfile.hbs' });
    assert.equal(own.kind, 'template');
    assert.equal(
      own.text,
      'FROM local/runtime:1\nLABEL svc="hello"\nEXPOSE 8080\nCMD ["/bin/sh","-c","exec python3 app.py"]\n',
    );
    const verbatim = renderDockerfile({ ...base, type: 'node', workdir: dir, dockerfile: 'docker/Dockerfile' });
    assert.equal(verbatim.kind, 'dockerfile');
    assert.equal(verbatim.text, 'FROM local/busybox:httpd\n# {{ not a template }}\n');

    const missing = failure(() => renderDockerfile({ ...base, type: 'node', workdir: dir, template: 'bad.hbs' }));
    assert.equal(missing.type, 'TemplateError');
    assert.match(missing.message, /template bad\.hbs: missing variable "nope" \(line 2\)/);
    const escape = failure(() =>
      renderDockerfile({ ...base, type: 'node', workdir: dir, dockerfile: '../../etc/passwd' }),
    );
    assert.match(escape.message, /must be a path inside the repository/);
    const absent = failure(() => renderDockerfile({ ...base, type: 'node', workdir: dir, template: 'nope.hbs' }));
    assert.match(absent.message, /template "nope\.hbs" does not exist in the repository/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Dockerfile syntax check catches what broken templates produce', () => {
  assert.deepEqual(
    checkDockerfileSyntax('# c\nARG V=1\nFROM a:${V} AS build\nRUN x \\\n  && y\nFROM b\nCOPY --from=build /x /y\n'),
    [],
  );
  const problems = checkDockerfileSyntax(
    [
      'RUN early',
      'FROM a AS build',
      'COPYY x y',
      'FROM b',
      'COPY --from=bulid /a /b',
      'CMD ["unterminated"',
      'ENV',
      'LABEL a={{b}}',
    ].join('\n'),
  );
  assert.deepEqual(problems, [
    'line 1: RUN before the first FROM',
    'line 3: unknown instruction "COPYY"',
    'line 5: COPY --from=bulid names no earlier stage (stages: build)',
    'line 6: CMD: exec form is not valid JSON',
    'line 7: ENV needs arguments',
    'line 8: unrendered template braces in LABEL',
  ]);
  assert.deepEqual(checkDockerfileSyntax('RUN x\n'), ['no FROM instruction', 'line 1: RUN before the first FROM']);
});
