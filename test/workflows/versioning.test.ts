// The versioning policy (docs/versioning.md), checked: every patch the workflow code branches on
// is listed in workflows/patches.ts and documented with its stage, and the recorded histories
// prove both of its branches (one history with its marker, one of the same workflow type without).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../common/paths';
import { patches } from '../../workflows/patches';

interface SavedHistory {
  events: {
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
    markerRecordedEventAttributes?: {
      markerName?: string;
      details?: Record<string, { payloads?: { data?: string }[] }>;
    };
  }[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Workflow type and patch IDs recorded in each committed history. */
function recordedHistories(): { file: string; type: string; patchIds: string[] }[] {
  const dir = path.join(projectRoot, 'test', 'histories');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => {
      const { history } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { history: SavedHistory };
      const type = history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '';
      const patchIds = history.events
        .map((e) => e.markerRecordedEventAttributes)
        .filter((m) => m?.markerName === 'core_patch')
        .map((m) => {
          const data = m?.details?.['patch-data']?.payloads?.[0]?.data ?? '';
          return (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id;
        });
      return { file, type, patchIds };
    });
}

test('every patch call names an ID from workflows/patches.ts', () => {
  const calls = sourceFiles(path.join(projectRoot, 'workflows')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\b(patched|deprecatePatch)\(([^)]*)\)/g)].map((m) => ({
      file: path.relative(projectRoot, file),
      arg: m[2] ?? '',
    })),
  );
  assert.ok(calls.length >= Object.keys(patches).length, 'every listed patch is used');
  for (const { file, arg } of calls) {
    assert.match(arg, /^patches\.\w+$/, `${file}: patched(${arg}) must name an ID from workflows/patches.ts`);
    assert.ok(arg.slice('patches.'.length) in patches, `${file}: ${arg} is not in workflows/patches.ts`);
  }
});

test('every patch is documented in docs/versioning.md with its stage', () => {
  const doc = readFileSync(path.join(projectRoot, 'docs', 'versioning.md'), 'utf8');
  for (const id of Object.values(patches)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${id}\``));
    assert.ok(row, `docs/versioning.md has no table row for patch ${id}`);
    assert.match(row, /\| (patched|deprecated) \|/, `the row for ${id} names its stage`);
  }
});

test('recorded histories prove both branches of every patch', () => {
  const histories = recordedHistories();
  for (const id of Object.values(patches)) {
    const withMarker = histories.filter((h) => h.patchIds.includes(id));
    assert.ok(withMarker.length > 0, `no recorded history took the new branch of ${id}`);
    const types = new Set(withMarker.map((h) => h.type));
    const without = histories.filter((h) => types.has(h.type) && !h.patchIds.includes(id));
    assert.ok(without.length > 0, `no recorded ${[...types].join('/')} history without the ${id} marker`);
  }
});
