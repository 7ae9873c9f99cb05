// Repository path globs, for a service's `paths` in a monorepo ("services/payments/**"). The
// semantics are deliberately small and documented, so nobody has to guess:
//   `**`  a whole segment: any number of directories, none included ("a/**" matches "a/x/y.ts");
//   `*`   inside one segment: any run of characters except "/" ("*.md", "lib-*");
//   everything else is literal ("." and "?" too); paths are relative to the repository root,
//   "/"-separated, matched whole and case-sensitively, as git prints them.

function segmentPattern(segment: string): RegExp {
  const body = segment
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
  return new RegExp(`^${body}$`);
}

function matchSegments(pattern: string[], path: string[]): boolean {
  if (pattern.length === 0) return path.length === 0;
  const [head, ...rest] = pattern as [string, ...string[]];
  if (head === '**') {
    for (let skip = 0; skip <= path.length; skip++) if (matchSegments(rest, path.slice(skip))) return true;
    return false;
  }
  return path.length > 0 && segmentPattern(head).test(path[0] as string) && matchSegments(rest, path.slice(1));
}

/** Whether `file` (repository-relative, "/"-separated) matches `glob`. */
export function globMatches(glob: string, file: string): boolean {
  return matchSegments(glob.split('/'), file.replace(/^\/+/, '').split('/'));
}

/** The first of `files` any glob matches, or undefined. */
export function firstMatch(globs: readonly string[], files: readonly string[]): string | undefined {
  return files.find((f) => globs.some((g) => globMatches(g, f)));
}
