// Drift: what differs between the app definition Slipway renders for the image running in an
// environment and the app Marathon runs there now. Pure: both definitions come in, the differences
// go out, so every rule is unit-tested on Marathon's real 1.4 and 1.5 answers.
//
// Only what Slipway renders is compared. Whatever Marathon fills in by itself (version,
// versionInfo, tasks*, deployments, and the defaults it adds: backoffSeconds, killSelection,
// ignoreHttp1xx, delaySeconds, ...) is not part of a rendered definition, so it is never read.
// Both API shapes are read through one view (marathon-app.ts): `container.docker.portMappings` and
// `container.docker.network` (1.4) compare equal to `container.portMappings` and `networks` (1.5+).
// A port Marathon assigns (servicePort, a host port definition rendered as 0) is not drift.
//
// Secrets: an env value rendered from a secret reference is compared with the value the worker
// resolves it to, and reported as "differs (secret)" with no value on either side. A variable only
// the live app has is reported by name alone: nobody declared it, so it may hold anything.
import type { DriftFieldReport } from '../common/contract';
import { imageOf, networkModeOf, portsOf, type PortView } from './marathon-app';

export type DriftField = DriftFieldReport;

export interface DiffOptions {
  /**
   * Values of the rendered env's secret references, resolved on the worker; a secret missing here
   * is reported in `unchecked` instead of compared. Never returned or printed.
   */
  resolvedSecrets?: Record<string, string>;
}

export interface AppDiff {
  fields: DriftField[];
  /** What could not be compared, and why (a secret this process cannot read). */
  unchecked: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObject = (v: unknown): Json => (isObject(v) ? v : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** One stable text for any JSON value (object keys sorted), for comparing and printing. */
function text(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, (_k, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
const same = (a: unknown, b: unknown) => text(a) === text(b);

/** A Slipway secret reference ({secret: {env}} or {secret: {file}}), resolved on the worker. */
export function isSlipwaySecretRef(value: unknown): boolean {
  return isObject(value) && isObject(value.secret);
}

/** Strips a GET answer's `{app: ...}` envelope. */
export function appOf(raw: unknown): Json {
  const body = asObject(raw);
  return isObject(body.app) ? body.app : body;
}

class Differ {
  readonly fields: DriftField[] = [];
  readonly unchecked: string[] = [];

  value(field: string, rendered: unknown, live: unknown): void {
    if (same(rendered, live)) return;
    this.fields.push({
      field,
      rendered: text(rendered),
      live: text(live),
      summary: `${field}: ${text(rendered)} rendered, ${text(live)} live`,
    });
  }

  secret(field: string, summary: string): void {
    this.fields.push({ field, secret: true, summary: `${field} ${summary} (secret)` });
  }

  /** The keys of `rendered` only (what Marathon adds to an object is its own). */
  subset(prefix: string, rendered: unknown, live: unknown): void {
    if (!isObject(rendered)) return this.value(prefix, rendered, live);
    const liveObject = asObject(live);
    for (const [key, value] of Object.entries(rendered)) this.subset(`${prefix}.${key}`, value, liveObject[key]);
  }

  /** Lists of objects (health checks): the count, then each rendered entry's own fields. */
  list(field: string, rendered: unknown, live: unknown): void {
    const r = asArray(rendered);
    const l = asArray(live);
    if (r.length !== l.length) this.value(`${field} (count)`, r.length, l.length);
    r.forEach((entry, i) => {
      if (i < l.length) this.subset(`${field}[${i}]`, entry, l[i]);
    });
  }

  /** Labels: every key on either side, both values shown (labels are not secret). */
  labels(rendered: unknown, live: unknown): void {
    const r = asObject(rendered);
    const l = asObject(live);
    for (const key of [...new Set([...Object.keys(r), ...Object.keys(l)])].sort())
      this.value(`labels.${key}`, r[key], l[key]);
  }

  env(rendered: unknown, live: unknown, resolvedSecrets: Record<string, string> | undefined): void {
    const r = asObject(rendered);
    const l = asObject(live);
    for (const key of [...new Set([...Object.keys(r), ...Object.keys(l)])].sort()) {
      const field = `env.${key}`;
      const want = r[key];
      const have = l[key];
      if (want === undefined) {
        this.fields.push({ field, summary: `${field} is set in Marathon but not rendered (value not shown)` });
      } else if (isSlipwaySecretRef(want)) {
        const value = resolvedSecrets?.[key];
        if (have === undefined) this.secret(field, 'is rendered but missing in Marathon');
        else if (value === undefined) this.unchecked.push(`${field}: its secret cannot be read here`);
        else if (typeof have !== 'string' || have !== value) this.secret(field, 'differs');
      } else if (have === undefined) {
        this.fields.push({
          field,
          rendered: text(want),
          summary: `${field} is rendered (${text(want)}) but missing in Marathon`,
        });
      } else if (typeof want === 'string' && !same(want, have)) {
        // A literal from the config: its value is no secret, and a hand edit of it is shown.
        this.value(field, want, have);
      } else if (!same(want, have)) {
        // Marathon's own {secret: "<name>"}: names only, never a value, on both sides.
        this.value(field, want, have);
      }
    }
  }

  ports(rendered: Json, live: Json): void {
    const r = portsOf(rendered);
    const l = portsOf(live);
    if (r.length !== l.length) return this.value('ports (count)', r.length, l.length);
    r.forEach((want, i) => {
      const have = l[i] as PortView;
      for (const key of ['containerPort', 'hostPort', 'servicePort', 'name', 'protocol'] as const) {
        // 0 or nothing rendered: Marathon picks the port, and whatever it picked is not drift.
        if ((key === 'servicePort' || key === 'hostPort') && !want[key]) continue;
        if (key === 'containerPort' && want[key] === null) continue;
        this.value(`ports[${i}].${key}`, want[key], have[key]);
      }
    });
  }
}

/** Fields of a rendered app compared as they are (a value, or an object's rendered keys). */
const plainFields = ['instances', 'cpus', 'mem', 'disk', 'gpus', 'cmd', 'upgradeStrategy', 'user'];
/** Lists Marathon keeps in the rendered order, absent = empty. */
const orderedLists = ['args', 'constraints'];
/** Lists of objects whose rendered entries are compared field by field, absent = empty. */
const objectLists = ['healthChecks', 'readinessChecks'];

/**
 * The differences between `rendered` (the definition Slipway would send for the running image,
 * in either API shape) and `liveRaw` (GET /v2/apps/{id} of Marathon 1.4 or 1.5+, with or without
 * the `{app: ...}` envelope), field by field.
 */
export function diffApps(rendered: Json, liveRaw: unknown, opts: DiffOptions = {}): AppDiff {
  const live = appOf(liveRaw);
  const d = new Differ();
  for (const field of plainFields) if (rendered[field] !== undefined) d.subset(field, rendered[field], live[field]);
  for (const field of orderedLists) {
    const r = asArray(rendered[field]);
    const l = asArray(live[field]);
    if (field === 'constraints' || r.length > 0 || l.length > 0) d.value(field, r, l);
  }
  for (const field of objectLists) d.list(field, rendered[field], live[field]);
  d.value('image', imageOf(rendered), imageOf(live));
  const forcePull = asObject(asObject(rendered.container).docker).forcePullImage;
  if (forcePull !== undefined)
    d.value('forcePullImage', forcePull, asObject(asObject(live.container).docker).forcePullImage ?? false);
  d.value('network', networkModeOf(rendered), networkModeOf(live));
  d.ports(rendered, live);
  d.env(rendered.env, live.env, opts.resolvedSecrets);
  d.labels(rendered.labels, live.labels);
  return { fields: d.fields, unchecked: d.unchecked };
}
