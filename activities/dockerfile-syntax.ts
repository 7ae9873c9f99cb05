// A small structural check of a Dockerfile, run on every rendered Dockerfile before it is sent to
// the daemon, and the only check the .NET template gets on machines that cannot pull its
// mcr.microsoft.com base images. It catches what template mistakes produce: unknown or empty
// instructions, an instruction before the first FROM, a COPY --from naming a stage that does not
// exist (yet), malformed JSON in exec form, and leftover Handlebars braces. It is not a full
// parser: the daemon remains the authority.

// prettier-ignore
const instructions = new Set([
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT',
  'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
]);

export interface DockerfileInstruction {
  line: number;
  keyword: string;
  args: string;
}

/** Joins continuation lines and drops comments and blank lines, keeping the first line number. */
export function parseDockerfile(text: string): DockerfileInstruction[] {
  const out: DockerfileInstruction[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comments (and parser directives) only count at the start of a line, also inside a continuation.
    if (trimmed.startsWith('#') || (trimmed === '' && !pending)) return;
    const continued = /\\$/.test(trimmed);
    const piece = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending ? { line: pending.line, text: `${pending.text} ${piece}` } : { line: index + 1, text: piece };
    if (continued) return;
    const match = pending.text.match(/^(\S+)\s*(.*)$/);
    if (match) out.push({ line: pending.line, keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
    pending = undefined;
  });
  if (pending) out.push({ line: pending.line, keyword: pending.text.split(/\s+/)[0]!.toUpperCase(), args: '' });
  return out;
}

function checkExecForm(instr: DockerfileInstruction): string | undefined {
  if (!instr.args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(instr.args);
    if (!Array.isArray(parsed) || parsed.some((p) => typeof p !== 'string'))
      return 'exec form must be a JSON array of strings';
  } catch {
    return 'exec form is not valid JSON';
  }
  return undefined;
}

/** Problems found, each naming the line; empty when the Dockerfile looks sound. */
export function checkDockerfileSyntax(text: string): string[] {
  const problems: string[] = [];
  const at = (i: DockerfileInstruction, message: string) => problems.push(`line ${i.line}: ${message}`);
  const stages: string[] = [];
  let sawFrom = false;
  const parsed = parseDockerfile(text);
  if (!parsed.some((i) => i.keyword === 'FROM')) problems.push('no FROM instruction');
  for (const instr of parsed) {
    if (/{{|}}/.test(instr.args)) at(instr, `unrendered template braces in ${instr.keyword}`);
    if (!instructions.has(instr.keyword)) {
      at(instr, `unknown instruction "${instr.keyword}"`);
      continue;
    }
    if (instr.args === '') at(instr, `${instr.keyword} needs arguments`);
    if (!sawFrom && instr.keyword !== 'FROM' && instr.keyword !== 'ARG')
      at(instr, `${instr.keyword} before the first FROM`);
    if (instr.keyword === 'FROM') {
      sawFrom = true;
      const m = instr.args.match(/^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/i);
      if (!m) at(instr, `FROM expects "image [AS name]", got "${instr.args}"`);
      stages.push(m?.[2]?.toLowerCase() ?? String(stages.length));
    }
    if (instr.keyword === 'COPY' || instr.keyword === 'ADD') {
      const from = instr.args.match(/--from=(\S+)/)?.[1];
      // A --from that is neither an earlier stage name nor index must look like an image reference.
      if (from !== undefined) {
        const known = stages.slice(0, -1);
        const isStage = known.includes(from.toLowerCase()) || (/^\d+$/.test(from) && Number(from) < known.length);
        if (!isStage && !/[:/@]/.test(from))
          at(instr, `${instr.keyword} --from=${from} names no earlier stage (stages: ${known.join(', ') || 'none'})`);
      }
      const paths = instr.args.replace(/--\S+/g, '').trim();
      if (!paths.startsWith('[') && paths.split(/\s+/).length < 2)
        at(instr, `${instr.keyword} needs a source and a destination`);
    }
    if (['CMD', 'ENTRYPOINT', 'RUN', 'SHELL'].includes(instr.keyword)) {
      const problem = checkExecForm(instr);
      if (problem) at(instr, `${instr.keyword}: ${problem}`);
    }
  }
  return problems;
}
