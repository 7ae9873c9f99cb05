// Strict Handlebars rendering for everything Slipway generates from templates: Dockerfiles here,
// Marathon app JSON in plan.ts. Templates render data, not markup, so nothing is HTML-escaped, and
// a variable the template names but the caller did not supply is an error (never an empty string
// that would surface later as a broken image or app). Failures are non-retryable TemplateErrors
// that name the template, and the variable or the line.
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

export interface RenderInput {
  /** Shown in errors: a file path or a logical name such as "dockerfile/node". */
  name: string;
  source: string;
  vars: Record<string, unknown>;
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

export function renderTemplate({ name, source, vars }: RenderInput): string {
  try {
    return handlebars.compile(source, { strict: true, noEscape: true })(vars);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(describe(name, source, err as HandlebarsError), NonRetryable.TemplateError);
  }
}
