// What a value must be before it lands in a Dockerfile. A Dockerfile is line-oriented: a newline
// (or a carriage return, which the parser also ends lines on) in a build command, a base image or
// a file name would add an instruction of its author's choosing, and a trailing backslash would
// swallow the next line. Build and start commands are shell commands on purpose (quoting them
// would break every `npm run build && ...`), so the rule is one line, no control character, no
// continuation. Names the repository chooses (dependency manifests, which also reach CMD for .NET)
// are held to a plain file name alphabet instead.
import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';

const controlCharacter = /[\x00-\x1f\x7f]/;

function describeControl(char: string): string {
  if (char === '\n') return 'a newline';
  if (char === '\r') return 'a carriage return';
  if (char === '\t') return 'a tab';
  return `the control character U+${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Problems of one value bound for a Dockerfile line, or undefined when it is fine. */
export function dockerfileValueProblem(value: string): string | undefined {
  const control = controlCharacter.exec(value);
  if (control) {
    return `contains ${describeControl(control[0])} (control character) at position ${control.index}: a Dockerfile value must be a single line`;
  }
  if (value.endsWith('\\')) return 'ends with "\\", which would continue the Dockerfile line into the next one';
  return undefined;
}

/**
 * Checks every string the template variables hold (nested ones too) and returns them unchanged;
 * the first bad one fails the build naming the variable, e.g. `buildCommand`.
 */
export function assertDockerfileValues<T extends Record<string, unknown>>(vars: T): T {
  const visit = (value: unknown, at: string): void => {
    if (typeof value === 'string') {
      const problem = dockerfileValueProblem(value);
      if (problem) {
        throw ApplicationFailure.nonRetryable(
          `Dockerfile variable "${at}" ${problem}; got ${JSON.stringify(value)}`,
          NonRetryable.BadConfig,
        );
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${at}.${i}`));
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) visit(v, at ? `${at}.${k}` : k);
  };
  visit(vars, '');
  return vars;
}

const plainFileName = /^[A-Za-z0-9._+@-]+$/;

/** Repository file names that go into COPY lines and, for .NET, the start command. */
export function assertPlainFileNames(names: string[]): void {
  for (const name of names) {
    if (!plainFileName.test(name)) {
      throw ApplicationFailure.nonRetryable(
        `file name ${JSON.stringify(name)} in the repository cannot go into a Dockerfile: expected letters, digits, ".", "_", "+", "@" and "-" only (rename it, or set build.dockerfile)`,
        NonRetryable.BadConfig,
      );
    }
  }
}
