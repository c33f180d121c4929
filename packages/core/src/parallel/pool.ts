import type { Worker as NodeWorker } from 'node:worker_threads';
import { isNode } from '../backend.js';
import type { FromWorker, ModelPayload, Op, Part, ToWorker, WorkerError, WorkerStart } from './protocol.js';
import type { TapOptions } from '../tap/tap.js';

/**
 * A Node built-in, through `process.getBuiltinModule` (Node >= 20.16): browser bundlers see no
 * import, and it works inside test runners' module sandboxes where `import()` of a computed
 * name does not.
 */
async function importNode<T>(name: string): Promise<T> {
  const proc = (globalThis as { process?: { getBuiltinModule?: (n: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule === 'function') return proc.getBuiltinModule(name) as T;
  const load = new Function('n', 'return import(n)') as (n: string) => Promise<T>;
  return load(name);
}

/**
 * Where the worker entry is. Built, `dist/parallel/pool.js` sits next to `worker.js`; run from
 * the TypeScript sources (the repository's tests), the entry is the built one in `dist`, which
 * the root `test` script builds first.
 */
export function workerEntry(): URL {
  const here = import.meta.url;
  const file = /\.ts$/.test(here) ? '../../dist/parallel/worker.js' : './worker.js';
  return new URL(file, here);
}

/** Idle workers are stopped after this long without work (they are started again on demand). */
const IDLE_MS = 60_000;

export class WorkerFailure extends Error {
  readonly detail: WorkerError;
  constructor(detail: WorkerError) {
    super(detail.message);
    this.name = detail.name;
    this.detail = detail;
  }
}

interface Pending {
  resolve(parts: Part[]): void;
  reject(e: unknown): void;
}

/** One worker thread: its start, the requests in flight and the models it holds. */
class Handle {
  readonly ready: Promise<void>;
  readonly models = new Set<number>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;

  constructor(readonly worker: NodeWorker) {
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'failed') reject(new WorkerFailure(msg.error));
        else this.settle(msg);
      });
      worker.on('error', (e) => {
        this.fail(e);
        reject(e);
      });
      worker.on('exit', (code) => {
        const e = new Error(`a cnn-xai worker thread exited (code ${code})`);
        this.fail(e);
        reject(e);
      });
    });
    // Held while starting and while requests are in flight; otherwise it does not keep Node alive.
    this.ready.then(
      () => this.pending.size === 0 && worker.unref(),
      () => undefined,
    );
  }

  private settle(msg: Extract<FromWorker, { type: 'result' | 'error' }>): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker.unref();
    if (msg.type === 'result') p.resolve(msg.parts);
    else p.reject(new WorkerFailure(msg.error));
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  get alive(): boolean {
    return this.dead === null;
  }

  send(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  load(key: number, artifacts: ModelPayload, tap: Required<TapOptions>): void {
    if (this.models.has(key)) return;
    this.models.add(key);
    // The worker keeps 4 models; forget the oldest keys here as it does.
    while (this.models.size > 4) this.models.delete(this.models.values().next().value as number);
    this.send({ type: 'load', key, artifacts, tap });
  }

  run(
    key: number,
    op: Op,
    shape: number[],
    data: Float32Array,
    classes: Int32Array | null,
    layer: string | null = null,
    rule: string | null = null,
  ): Promise<Part[]> {
    if (this.dead) return Promise.reject(this.dead);
    stats.calls += 1;
    stats.rows += shape[0] ?? 0;
    const id = this.nextId++;
    const done = new Promise<Part[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.ref();
    const transfer = [data.buffer as ArrayBuffer];
    if (classes) transfer.push(classes.buffer as ArrayBuffer);
    this.send({ type: 'run', id, key, op, layer, rule, shape, data, classes }, transfer);
    return done;
  }

  terminate(): void {
    this.fail(new Error('the cnn-xai worker threads were closed'));
    void this.worker.terminate();
  }
}

/** The process-wide pool of worker threads, all on one backend; grown on demand. */
class Pool {
  readonly handles: Handle[] = [];
  private idle: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly backend: WorkerStart['backend']) {}

  async take(count: number): Promise<Handle[]> {
    this.touch();
    for (let i = 0; i < this.handles.length; i++) {
      if (!(this.handles[i] as Handle).alive) this.handles.splice(i--, 1);
    }
    if (this.handles.length < count) {
      const { Worker } = await importNode<typeof import('node:worker_threads')>('node:worker_threads');
      while (this.handles.length < count) {
        const workerData: WorkerStart = { backend: this.backend };
        this.handles.push(new Handle(new Worker(workerEntry(), { workerData })));
      }
    }
    const taken = this.handles.slice(0, count);
    await Promise.all(taken.map((h) => h.ready));
    return taken;
  }

  /** Restarts the idle countdown. */
  touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => closeWorkers(), IDLE_MS);
    (this.idle as { unref?: () => void }).unref?.();
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.handles.forEach((h) => h.terminate());
    this.handles.length = 0;
  }
}

let pool: Pool | null = null;
const stats = { calls: 0, rows: 0 };

/** Work sent to worker threads since the process started: calls, and batch rows in them. */
export function workerStats(): { calls: number; rows: number } {
  return { ...stats };
}

/** Worker threads on `backend`, started if needed (Node only). */
export async function takeWorkers(backend: WorkerStart['backend'], count: number): Promise<Handle[]> {
  if (!isNode()) throw new Error('worker threads are only used in Node');
  if (pool && pool.backend !== backend) closeWorkers();
  pool ??= new Pool(backend);
  try {
    return await pool.take(count);
  } catch (e) {
    closeWorkers();
    throw e;
  }
}

/** Stops cnn-xai's worker threads now (they also stop after a minute without work). */
export function closeWorkers(): void {
  pool?.close();
  pool = null;
}

/** The number of worker threads running now. */
export function runningWorkers(): number {
  return pool?.handles.filter((h) => h.alive).length ?? 0;
}

/** Logical CPUs of this machine (Node), or 1. */
export async function cpuCount(): Promise<number> {
  if (!isNode()) return 1;
  const os = await importNode<typeof import('node:os')>('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export type WorkerHandle = Handle;
