/**
 * Read-ahead of file probes. A no-change run is mostly file probes, and what a host pays for them
 * is processes (about 1.2 ms of its CPU per exec on the lab), not bytes. So when a task probes,
 * the same round trip also reads what the host's next tasks will ask (Module.fileQueries); one
 * stat and one sha256sum then answer them all (facts/files.ts).
 *
 * What was read stays good only while nothing else runs on the host: every command, upload or
 * download on its connection, by any task of any host (delegate_to), drops it, as does age. How
 * far it reads grows with the tasks in a row that changed nothing here, so a first apply, where
 * every task changes something, reads nothing it does not use.
 */
import type { Connection, ExecOptions, GetOptions, PutOptions, PutSource } from '../connections/types.js';
import { probeFiles, queryKey, type FileInfo, type FileQuery } from '../facts/files.js';
import type { WrittenRecords } from '../facts/written.js';

/** Reads older than this are read again, even when nothing ran on the host since. */
const MAX_AGE_MS = 2000;
/** Most tasks whose queries one probe reads ahead. */
const MAX_TASKS_AHEAD = 32;

/** One host's file reads and what invalidates them: one per host per run. */
export class HostReads {
  /** Commands, uploads and downloads sent to the host so far. */
  private operations = 0;
  /** `operations` right after the probe that read `entries`. */
  private stamp = -1;
  private readAt = 0;
  private entries = new Map<string, FileInfo>();
  /** What a module's shared probe read ahead, by become and key (probeShared). */
  private shared = new Map<string, unknown>();
  /** Tasks in a row on this host that changed nothing: how many the next probe reads ahead for. */
  quiet = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** The host's connection, counting everything sent over it. */
  track(conn: Connection): Connection {
    const counted =
      <A extends unknown[], R>(send: (...args: A) => R) =>
      (...args: A): R => {
        this.operations++;
        return send(...args);
      };
    return {
      spec: conn.spec,
      open: () => conn.open(),
      close: () => conn.close(),
      exec: counted((command: string, opts?: ExecOptions) => conn.exec(command, opts)),
      put: counted((dest: string, source: PutSource, opts?: PutOptions) => conn.put(dest, source, opts)),
      get: counted((src: string, localPath: string, opts?: GetOptions) => conn.get(src, localPath, opts)),
      tunnel: counted((address: string, port: number) => conn.tunnel(address, port)),
    };
  }

  /** A task ran on the host: one that changed something (its changed_when decides) ends the quiet stretch. */
  settled(changed: boolean): void {
    this.quiet = changed ? 0 : this.quiet + 1;
  }

  /**
   * Forget what was read (a retried task must see the host anew; a new probe replaces both kinds,
   * as they share one stamp).
   */
  drop(): void {
    this.entries.clear();
    this.shared.clear();
  }

  /**
   * A module's own probe (ModuleContext.probeShared): answers `own` from what an earlier item's
   * probe read, or reads `own` now together with the keys of as many items ahead as the host has
   * been quiet for (up to 32). Kept by the same rules as the file reads.
   */
  async probeShared<T>(
    become: string,
    own: string[],
    ahead: (items: number) => Promise<string[]>,
    read: (keys: string[]) => Promise<Map<string, T>>,
  ): Promise<Map<string, T>> {
    const fresh = this.stamp === this.operations && this.now() - this.readAt <= MAX_AGE_MS;
    if (fresh && own.every((k) => this.shared.has(`${become} ${k}`))) {
      return new Map(own.map((k) => [k, this.shared.get(`${become} ${k}`) as T]));
    }
    const more = this.quiet > 0 ? await ahead(Math.min(this.quiet, MAX_TASKS_AHEAD)) : [];
    const keys = [...new Set([...own, ...more])];
    const before = this.operations;
    const found = await read(keys);
    this.drop();
    if (keys.length > own.length && this.operations === before + 1) {
      for (const [k, v] of found) this.shared.set(`${become} ${k}`, v);
      this.stamp = this.operations;
      this.readAt = this.now();
    }
    return found;
  }

  /**
   * Answers `queries` (probed with `become`) from what was read ahead, or probes them now
   * together with `ahead()`'s queries, which are asked only when the host has been quiet.
   * `records`: what Furrow wrote, trusted instead of hashing (absent with --verify).
   */
  async probe(
    conn: Connection,
    become: string,
    queries: FileQuery[],
    ahead: (tasks: number) => Promise<FileQuery[]>,
    records?: WrittenRecords,
  ): Promise<FileInfo[]> {
    const known = this.answer(become, queries);
    if (known) return known;
    const more = this.quiet > 0 ? await ahead(Math.min(this.quiet, MAX_TASKS_AHEAD)) : [];
    const all = [...queries, ...more];
    const before = this.operations;
    const infos = await probeFiles(conn, all, records);
    this.drop();
    // Kept only if nothing else reached the host while the probe ran.
    if (more.length && this.operations === before + 1) {
      for (const [i, q] of all.entries()) this.entries.set(`${become} ${queryKey(q)}`, infos[i]!);
      this.stamp = this.operations;
      this.readAt = this.now();
    }
    return infos.slice(0, queries.length);
  }

  private answer(become: string, queries: FileQuery[]): FileInfo[] | undefined {
    if (this.entries.size === 0) return undefined;
    if (this.stamp !== this.operations || this.now() - this.readAt > MAX_AGE_MS) {
      this.entries.clear();
      return undefined;
    }
    const infos = queries.map((q) => this.entries.get(`${become} ${queryKey(q)}`));
    return infos.every((i): i is FileInfo => i !== undefined) ? infos : undefined;
  }
}
