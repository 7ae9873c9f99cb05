// Strict Handlebars rendering for everything Slipway generates from templates: Dockerfiles here,
// Marathon app JSON in plan.ts. Templates render data, not markup, so nothing is HTML-escaped, and
// a variable the template names but the caller did not supply is an error (never an empty string
// that would surface later as a broken image or app). Failures are non-retryable TemplateErrors
// that name the template, and the variable or the line.
//
// Values are encoded for their target, the way HTML templates escape for HTML. In a JSON template
// every `{{value}}` is JSON-string-escaped (quotes, backslashes, control characters), so a value
// written between quotes stays one string whatever it holds: a health check path cannot close its
// string and add an `id` or `privileged: true`. `{{{value}}}` stays raw, for helpers that produce
// JSON themselves (`{{{json env}}}`). Dockerfile values are checked before rendering instead
// (dockerfile-values.ts): a Dockerfile has no escaping that a RUN line would not undo.
import { ApplicationFailure } from '@temporalio/activity';
import Handlebars from 'handlebars';
import { NonRetryable } from '../common/errors';

// A private Handlebars environment: helpers registered here never leak into other users of the
// library, and theirs never into our templates.
const handlebars = Handlebars.create();

/** `{{json value}}`: a JSON literal, for Marathon JSON templates. */
handlebars.registerHelper('json', (value: unknown) => JSON.stringify(value ?? null));
/** `{{quote value}}`: a double-quoted string safe inside Dockerfile LABEL/ENV values. */
handlebars.registerHelper('quote', (value: unknown) => JSON.stringify(String(value)));
/**
 * `{{exec command}}`: a shell command line as a Dockerfile exec-form array that `exec`s the
 * command, so the app (not a shell) is PID 1 and receives Marathon's SIGTERM.
 */
handlebars.registerHelper('exec', (command: unknown) => JSON.stringify(['/bin/sh', '-c', `exec ${String(command)}`]));

/** `{{value}}` in a JSON template: the inside of a JSON string literal for strings. */
function jsonText(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value).slice(1, -1);
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
handlebars.registerHelper('jsonText', jsonText);

type Node = hbs.AST.Node & Record<string, unknown>;

/**
 * Rewrites every escaped `{{expr}}` of a parsed template into `{{{jsonText expr}}}` (a helper call
 * with arguments becomes a sub-expression), keeping positions so errors still name the line.
 */
function encodeMustachesAsJson(node: Node): void {
  if (node.type === 'MustacheStatement' && node.escaped) {
    const m = node as unknown as hbs.AST.MustacheStatement;
    // A plain `{{a.b}}` keeps strict mode's "missing variable" error: Handlebars checks only paths
    // marked strict, which a helper argument is not unless marked here.
    const expr: hbs.AST.Expression =
      m.params.length === 0 && !m.hash
        ? Object.assign(m.path, { strict: true })
        : ({
            type: 'SubExpression',
            path: m.path,
            params: m.params,
            hash: m.hash,
            loc: m.loc,
          } as hbs.AST.SubExpression);
    const helper = {
      type: 'PathExpression',
      original: 'jsonText',
      parts: ['jsonText'],
      data: false,
      depth: 0,
      loc: m.loc,
    };
    Object.assign(m, { path: helper, params: [expr], hash: undefined, escaped: false });
    return;
  }
  for (const key of ['body', 'program', 'inverse'] as const) {
    const child = node[key];
    if (Array.isArray(child)) for (const c of child) encodeMustachesAsJson(c as Node);
    else if (child && typeof child === 'object') encodeMustachesAsJson(child as Node);
  }
}

export interface RenderInput {
  /** Shown in errors: a file path or a logical name such as "dockerfile/node". */
  name: string;
  source: string;
  vars: Record<string, unknown>;
  /** "json": `{{value}}` is JSON-string-escaped (Marathon app templates). Default "text". */
  target?: 'json' | 'text';
}

interface HandlebarsError extends Error {
  lineNumber?: number;
  column?: number;
}

/** The full path expression at the error position (`healthCheck.path`, not just `path`). */
function expressionAt(source: string, line: number, column: number): string | undefined {
  const text = source.split('\n')[line - 1];
  return text?.slice(column).match(/^[\w.@/[\]-]+/)?.[0];
}

function describe(name: string, source: string, err: HandlebarsError): string {
  const missing = err.message.match(/^"([^"]+)" not defined in/);
  if (missing && err.lineNumber !== undefined) {
    const variable = expressionAt(source, err.lineNumber, err.column ?? 0) ?? missing[1];
    return `template ${name}: missing variable "${variable}" (line ${err.lineNumber})`;
  }
  const parse = err.message.match(/^Parse error on line (\d+):/);
  if (parse) {
    const detail = err.message.split('\n').slice(1).join(' ').replace(/\s+/g, ' ').trim();
    return `template ${name}: syntax error on line ${parse[1]}: ${detail}`;
  }
  const where = err.lineNumber !== undefined ? ` on line ${err.lineNumber}` : '';
  return `template ${name}: syntax error${where}: ${err.message.replace(/ - \d+:\d+$/, '')}`;
}

export function renderTemplate({ name, source, vars, target = 'text' }: RenderInput): string {
  try {
    let template: string | hbs.AST.Program = source;
    if (target === 'json') {
      template = handlebars.parse(source);
      encodeMustachesAsJson(template as unknown as Node);
    }
    return handlebars.compile(template, { strict: true, noEscape: true })(vars);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(describe(name, source, err as HandlebarsError), NonRetryable.TemplateError);
  }
}
