// Freeze windows: when they start and end in their timezone (daylight saving changes included),
// overlapping and back-to-back windows, which environments they hold, and config errors that name
// the field and what was expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDeployConfig } from '../../common/config';
import { ConfigError } from '../../common/errors';
import { activePeriod, addWallClock, freezeAt, nextPeriod, type FreezeWindowConfig } from '../../common/freeze-windows';

const weekend: FreezeWindowConfig = {
  cron: '0 17 * * FRI',
  duration: '63h',
  timezone: 'Europe/Berlin',
  environments: ['production'],
  reason: 'weekend',
};

test('a weekend window: Friday 17:00 to Monday 08:00 Berlin time, in winter and in summer', () => {
  // Winter (CET, UTC+1): Friday 2026-12-04 17:00 local = 16:00Z; Monday 08:00 local = 07:00Z.
  assert.deepEqual(freezeAt([weekend], 'production', new Date('2026-12-05T12:00:00Z')), {
    frozen: true,
    until: '2026-12-07T07:00:00.000Z',
    reasons: ['weekend'],
    timezone: 'Europe/Berlin',
    untilLocal: '2026-12-07 08:00 Europe/Berlin',
  });
  // Summer (CEST, UTC+2).
  const summer = activePeriod(weekend, new Date('2027-07-03T12:00:00Z'));
  assert.equal(summer?.start, '2027-07-02T15:00:00.000Z');
  assert.equal(summer?.end, '2027-07-05T06:00:00.000Z');
  assert.deepEqual(freezeAt([weekend], 'production', new Date('2026-12-04T15:59:00Z')), { frozen: false });
  assert.equal(
    freezeAt([weekend], 'production', new Date('2026-12-04T16:00:00Z')).frozen,
    true,
    'frozen from its start',
  );
  assert.deepEqual(
    freezeAt([weekend], 'production', new Date('2026-12-07T07:00:00Z')),
    { frozen: false },
    'over at its end',
  );
  assert.deepEqual(
    freezeAt([weekend], 'test', new Date('2026-12-05T12:00:00Z')),
    { frozen: false },
    'other environments go on',
  );
});

test('the wall clock decides the end on the weekends the clocks change', () => {
  // Spring forward (Sunday 2027-03-28 02:00 -> 03:00): 62 real hours, still Monday 08:00 CEST.
  const spring = activePeriod(weekend, new Date('2027-03-27T12:00:00Z'));
  assert.equal(spring?.start, '2027-03-26T16:00:00.000Z');
  assert.equal(spring?.end, '2027-03-29T06:00:00.000Z');
  // Fall back (Sunday 2026-10-25 03:00 -> 02:00): 64 real hours, Monday 08:00 CET.
  const autumn = activePeriod(weekend, new Date('2026-10-24T12:00:00Z'));
  assert.equal(autumn?.start, '2026-10-23T15:00:00.000Z');
  assert.equal(autumn?.end, '2026-10-26T07:00:00.000Z');
  // A wall-clock time the clocks skip moves on by the gap; one they pass twice is the first.
  assert.equal(
    addWallClock(new Date('2027-03-28T00:30:00Z'), 3600, 'Europe/Berlin').toISOString(),
    '2027-03-28T01:30:00.000Z',
  );
  assert.equal(
    addWallClock(new Date('2026-10-24T23:30:00Z'), 3600, 'Europe/Berlin').toISOString(),
    '2026-10-25T00:30:00.000Z',
  );
  // New York changes on other dates than Berlin: Friday 17:00 EST, Monday 08:00 EDT.
  const ny = { ...weekend, timezone: 'America/New_York' };
  assert.equal(nextPeriod(ny, new Date('2027-03-10T00:00:00Z'))?.start, '2027-03-12T22:00:00.000Z');
  assert.equal(nextPeriod(ny, new Date('2027-03-10T00:00:00Z'))?.end, '2027-03-15T12:00:00.000Z');
});

test('overlapping and back-to-back windows are one freeze, with every reason', () => {
  const windows: FreezeWindowConfig[] = [
    weekend,
    { cron: '0 6 7 12 *', duration: '2d', timezone: 'UTC', reason: 'year-end audit' },
    { cron: '0 6 9 12 *', duration: '1d', timezone: 'UTC', reason: 'audit follow-up' },
  ];
  const check = freezeAt(windows, 'production', new Date('2026-12-05T12:00:00Z'));
  assert.equal(check.frozen, true);
  assert.equal(check.frozen && check.until, '2026-12-10T06:00:00.000Z');
  assert.deepEqual(check.frozen && check.reasons, ['weekend', 'year-end audit', 'audit follow-up']);
  assert.equal(check.frozen && check.timezone, 'UTC');
  // A window without environments holds all of them.
  assert.equal(freezeAt(windows, 'test', new Date('2026-12-08T12:00:00Z')).frozen, true);
});

function configWith(freeze: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-freeze-'));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(
    path.join(dir, 'slipway.yaml'),
    `environments:\n  - name: test\n  - name: production\nfreeze:${freeze}\n`,
  );
  return dir;
}

function rejects(freeze: string, pattern: RegExp): void {
  assert.throws(
    () => loadDeployConfig(configWith(freeze), { env: { MARATHON_URL: 'http://m.test' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('freeze config: loads with defaults; bad cron, timezone, duration, environment and reason name the field', () => {
  const ok = loadDeployConfig(
    configWith(
      '\n  - { cron: "0 17 * * FRI", duration: 63h, timezone: Europe/Berlin, environments: [production], reason: weekend }\n  - { cron: "0 0 24 12 *", duration: 3d, reason: holidays }',
    ),
    { env: { MARATHON_URL: 'http://m.test' } },
  );
  assert.equal(ok.freeze?.length, 2);
  assert.equal(ok.freeze?.[1]?.timezone, 'UTC');
  assert.equal(ok.freeze?.[1]?.environments, undefined);
  const none = loadDeployConfig(configWith(' []'), { env: { MARATHON_URL: 'http://m.test' } });
  assert.deepEqual(none.freeze, [], '`freeze: []` turns the checks on with no window');

  const line = (fields: string) => `\n  - { ${fields} }`;
  rejects(
    line('cron: "0 17 * * FRX", duration: 63h, reason: weekend'),
    /field "freeze\.0\.cron" is "0 17 \* \* FRX": expected a cron expression like "0 17 \* \* FRI".*illegal characters/,
  );
  rejects(
    line('cron: "0 17 * *", duration: 63h, reason: weekend'),
    /field "freeze\.0\.cron" is "0 17 \* \*": expected five fields "minute hour day-of-month month day-of-week"/,
  );
  rejects(
    line('cron: "0 0 30 2 *", duration: 1h, reason: never'),
    /field "freeze\.0\.cron" .*expected a time that comes again/,
  );
  rejects(
    line('cron: "0 17 * * FRI", duration: 63h, timezone: Europe/Berln, reason: weekend'),
    /field "freeze\.0\.timezone" is "Europe\/Berln": expected an IANA timezone like "Europe\/Berlin"/,
  );
  rejects(
    line('cron: "0 17 * * FRI", duration: 2 days, reason: weekend'),
    /field "freeze\.0\.duration" is "2 days": expected a duration like/,
  );
  rejects(
    line('cron: "0 17 * * FRI", duration: 63h, environments: [prod], reason: weekend'),
    /field "freeze\.0\.environments\.0" is "prod": expected one of test, production/,
  );
  rejects(line('cron: "0 17 * * FRI", duration: 63h'), /field "freeze\.0\.reason" is missing/);
  rejects(line('cron: "0 17 * * FRI", duration: 63h, reason: weekend, until: monday'), /field "freeze\.0" .*until/);
});
