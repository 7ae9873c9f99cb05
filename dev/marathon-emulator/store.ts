// Apps and their stored versions. Marathon keeps every version of a definition (capped by
// zk_max_versions) so `PUT {"version": v}` can return to it; the emulator keeps them the same way.
// In memory unless a state file is given: then every change is written through, and a restarted
// emulator finds its apps (not their tasks: those are relaunched, as after a Marathon failover
// they would be reconciled).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AppDef } from './app-spec';

export interface StoredApp {
  id: string;
  /** Current definition including `version` and `versionInfo`. */
  def: AppDef;
  /** version -> definition, insertion order = oldest first. */
  versions: Map<string, AppDef>;
  /** Tasks launched under another runKey are replaced by the next deployment (config change or restart). */
  runKey: string;
}

interface StateFile {
  apps: { id: string; runKey: string; versions: [string, AppDef][] }[];
  nextServicePort: number;
}

export class AppStore {
  private readonly apps = new Map<string, StoredApp>();
  private lastVersion = '';
  private servicePort = 10000;

  constructor(
    private readonly stateFile?: string,
    private readonly maxVersions = 25,
  ) {
    if (stateFile && existsSync(stateFile)) this.load(stateFile);
  }

  /** A new version timestamp, strictly increasing (two changes in one millisecond still differ). */
  newVersion(): string {
    let t = Date.now();
    if (this.lastVersion && t <= Date.parse(this.lastVersion)) t = Date.parse(this.lastVersion) + 1;
    this.lastVersion = new Date(t).toISOString();
    return this.lastVersion;
  }

  nextServicePort = (): number => (this.servicePort >= 20000 ? (this.servicePort = 10000) : this.servicePort++);

  get(id: string): StoredApp | undefined {
    return this.apps.get(id);
  }

  all(): StoredApp[] {
    return [...this.apps.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Stores `def` (already carrying version/versionInfo) as the app's current definition. */
  put(def: AppDef, opts: { restart: boolean }): StoredApp {
    const id = String(def.id);
    const version = String(def.version);
    let app = this.apps.get(id);
    if (!app) {
      app = { id, def, versions: new Map(), runKey: version };
      this.apps.set(id, app);
    }
    app.def = def;
    if (opts.restart) app.runKey = version;
    app.versions.set(version, def);
    while (app.versions.size > this.maxVersions) app.versions.delete(app.versions.keys().next().value as string);
    this.save();
    return app;
  }

  delete(id: string): void {
    this.apps.delete(id);
    this.save();
  }

  clear(): void {
    this.apps.clear();
    this.save();
  }

  private load(file: string): void {
    const state = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
    this.servicePort = state.nextServicePort ?? 10000;
    for (const a of state.apps) {
      const versions = new Map(a.versions);
      const def = [...versions.values()].pop();
      if (def) this.apps.set(a.id, { id: a.id, def, versions, runKey: a.runKey });
    }
  }

  private save(): void {
    if (!this.stateFile) return;
    const state: StateFile = {
      apps: this.all().map((a) => ({ id: a.id, runKey: a.runKey, versions: [...a.versions.entries()] })),
      nextServicePort: this.servicePort,
    };
    // Write-then-rename: a crash mid-write never leaves half a file.
    writeFileSync(this.stateFile + '.tmp', JSON.stringify(state));
    renameSync(this.stateFile + '.tmp', this.stateFile);
  }
}
