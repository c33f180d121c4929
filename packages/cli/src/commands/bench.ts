import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { explain, ModelTap, ParallelTap, resolveOptions, resolveTarget, type AnyExplainer, type LayerInfo } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures } from '@cnn-xai/fixtures';
import { floorOfCalls, floorRatio, gridPoints, interpolateCost, median, perImage, plannedRuns, skipBatch } from '../bench/floor.js';
import { BENCH_HELP } from '../bench/help.js';
import { benchSetting } from '../bench/settings.js';
import { benchTable } from '../bench/table.js';
import { findTorchPython, runTorchBench, type TorchReport } from '../bench/torch.js';
import { countingTap, emptyCallLog, type CallLog, type PassCounts, type PassKind } from '../counting.js';
import { UsageError } from '../errors.js';
import { loadInputs, resolveInputFiles } from '../inputs.js';
import { createLogger } from '../log.js';
import { writeNpyFile } from '../npy.js';
import { optionsPerMethod, parseInteger, parseSet } from '../settings.js';
import { applyWorkers, buildRegistry, checkModelPath, COMMON_OPTIONS, parseBackend, parseWorkers, startBackend, type CommandContext } from '../shared.js';

export { benchTable } from '../bench/table.js';

/** Per batch size (the keys are batch sizes). */
type PerBatch<T> = Record<number, T>;

export interface BenchMethod {
  /** The options the method ran with (bench settings, then --set). */
  options: Record<string, unknown>;
  /** The reference library call the settings match. */
  reference: string;
  /** ms per image by the chosen statistic: the median wall-clock time of the timed runs (--stat min: their minimum; --stat cpu: the median process CPU time). */
  msPerImage: PerBatch<number>;
  medianMsPerImage: PerBatch<number>;
  minMsPerImage: PerBatch<number>;
  /** Process CPU ms (user + system) per image, same statistic: steadier than wall time on a loaded machine. */
  cpuMsPerImage: PerBatch<number>;
  /** Timed runs after the warm-up (fewer than --repeat for slow methods; 0: the warm-up run is the measurement). */
  runs: PerBatch<number>;
  /** Batches not timed, with the reason. */
  skipped: PerBatch<string>;
  /** Passes per image at the smallest batch (see `passes` for every batch). */
  forwardPasses: number;
  backwardPasses: number;
  layerBackwardPasses: number;
  headPasses: number;
  /** Passes per image counted at each batch (during the warm-up run). */
  passes: PerBatch<PassCounts>;
  /** The model calls made at each batch: kind -> { rows per call: number of calls }. */
  calls: PerBatch<Record<PassKind, Record<number, number>>>;
  /**
   * The raw cost floor, ms per image: each logged model call priced at the raw per-image cost of
   * its own batch size (measured in this run), summed over the calls.
   */
  floorMsPerImage: PerBatch<number>;
  /** msPerImage / floorMsPerImage (null when the floor is 0). */
  ratioToFloor: PerBatch<number | null>;
  /** msPerImage / the raw forward+backward ms per image. */
  ratioToForwardBackward: PerBatch<number>;
  /** With --torch: the PyTorch equivalent's ms per image and tf.js / PyTorch. */
  torch?: { what: string; msPerImage: PerBatch<number>; ratio: PerBatch<number | null>; skipped: PerBatch<string> };
  error?: string;
}

export interface BenchReport {
  schema: 'cnn-xai/bench@2';
  backend: string;
  /**
   * Worker threads the timed runs used (--workers; 0: one thread). Passes are counted, and the
   * raw floor is measured, on one thread, so with workers a ratio below 1 is the threads' gain.
   */
  workers: number;
  model: string;
  inputs: string[];
  images: number;
  batchSizes: number[];
  repeat: number;
  /** The statistic of the timed runs in msPerImage and the floors. */
  stat: BenchStat;
  /** Seconds of timed runs per measurement (0: no limit) and the skip cap (0: none). */
  budgetSeconds: number;
  capSeconds: number;
  machine: { cpus: number; cpuModel: string; node: string; tfjs: string; loadavg: { start: number[]; end: number[] } };
  raw: {
    /** The layer of the layer-gradient and head costs (the last spatial layer), or null. */
    layer: string | null;
    forwardMsPerImage: PerBatch<number>;
    forwardBackwardMsPerImage: PerBatch<number>;
    forwardBackwardToLayerMsPerImage: PerBatch<number>;
    headMsPerImage: PerBatch<number>;
    cpu: { forwardMsPerImage: PerBatch<number>; forwardBackwardMsPerImage: PerBatch<number> };
    /** Every raw cost measured, ms per image by batch size (the floor interpolates between them). */
    curve: Record<PassKind, PerBatch<number>>;
  };
  methods: Record<string, BenchMethod>;
  /** Registered visualizers not timed (no --method given). */
  leftOut: string[];
  /** With --torch: the comparison script's report, or why it was skipped. */
  torch?: { available: false; reason: string } | ({ available: true; interpreter: string } & TorchReport);
  totalSeconds: number;
}

const round = (x: number, digits = 4): number => (Number.isFinite(x) ? Number(x.toPrecision(digits)) : x);
const roundLoad = (xs: number[]): number[] => xs.map((x) => Math.round(x * 100) / 100);

/**
 * The statistic of the timed runs: the median or the minimum of the wall-clock times, or the
 * median process CPU time (user + system), which on a busy machine is the closest to what the
 * single-threaded wasm backend takes alone.
 */
export type BenchStat = 'median' | 'min' | 'cpu';

interface Timing {
  /** ms by the chosen statistic (what msPerImage and the floors use). */
  ms: number;
  /** Wall-clock ms of the run (the median for several), for planning runs. */
  wallMs: number;
  cpuMs: number;
  medianMs: number;
  minMs: number;
}

/** Wall and process CPU time of one call of `run` (which must wait for its results). */
async function timeOnce(run: () => Promise<void>, stat: BenchStat): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  return { ms: stat === 'cpu' ? cpuMs : wallMs, wallMs, cpuMs, medianMs: wallMs, minMs: wallMs };
}

/** The chosen statistic of `runs` timed calls. */
async function timeRuns(run: () => Promise<void>, runs: number, stat: BenchStat, after?: () => void): Promise<Timing> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = await timeOnce(run, stat);
    wall.push(t.wallMs);
    cpu.push(t.cpuMs);
    after?.();
  }
  const ms = stat === 'cpu' ? median(cpu) : stat === 'min' ? Math.min(...wall) : median(wall);
  return { ms, wallMs: median(wall), cpuMs: median(cpu), medianMs: median(wall), minMs: Math.min(...wall) };
}

/** A batch of `size` images, the given ones repeated in order. */
function fill(images: tf.Tensor4D, size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const n = images.shape[0];
    const idx = Array.from({ length: size }, (_, i) => i % n);
    return tf.gather(images, tf.tensor1d(idx, 'int32')) as tf.Tensor4D;
  });
}

/** The reference network and its images when present (the Captum maps were made on them), else the bundled CNN. */
function defaultModelAndInputs(): { model: string; inputs: string[] } {
  const refModel = join(fixtures.reference, 'model');
  const refImages = join(fixtures.reference, 'images.npy');
  if (existsSync(join(refModel, 'model.json')) && existsSync(refImages)) return { model: refModel, inputs: [refImages] };
  return { model: fixtures.fashionCnn, inputs: [fixtures.fashionImages] };
}

export async function benchCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      model: { type: 'string' },
      input: { type: 'string', short: 'i', multiple: true },
      method: { type: 'string', short: 'm', multiple: true },
      batch: { type: 'string', short: 'b', multiple: true },
      repeat: { type: 'string' },
      budget: { type: 'string' },
      cap: { type: 'string' },
      full: { type: 'boolean' },
      set: { type: 'string', multiple: true },
      backend: { type: 'string' },
      workers: { type: 'string' },
      torch: { type: 'boolean' },
      threads: { type: 'string' },
      stat: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    ctx.io.stdout.write(BENCH_HELP);
    return 0;
  }
  const started = performance.now();
  const loadStart = roundLoad(loadavg());
  const log = createLogger(ctx.io, { quiet: values.quiet, verbose: values.verbose });
  const batchSizes = [...new Set((values.batch?.length ? values.batch : ['1', '32']).map((b) => parseInteger('--batch', b, 1) as number))].sort(
    (a, b) => a - b,
  );
  const repeat = parseInteger('--repeat', values.repeat, 1) ?? 5;
  const budgetSeconds = values.full ? 0 : (parseInteger('--budget', values.budget, 0) ?? 5);
  const capSeconds = values.full ? 0 : (parseInteger('--cap', values.cap, 0) ?? 30);
  const threads = parseInteger('--threads', values.threads, 1) ?? 2;
  const stat = (values.stat ?? 'median') as BenchStat;
  if (stat !== 'median' && stat !== 'min' && stat !== 'cpu') throw new UsageError(`--stat expects median, min or cpu, got "${values.stat}".`);
  const backendPref = parseBackend(values.backend);
  const workersOpt = parseWorkers(values.workers);
  const sets = (values.set ?? []).map(parseSet);
  const registry = await buildRegistry(values.plugin, log);
  // Visualizers (feature visualization, activation maps, attention maps of gated models) have no
  // library counterpart, and some need a special model: left out unless asked for by --method.
  const all = registry.list();
  const isVisualizer = (e: AnyExplainer): boolean => e.kind === 'visualization' || e.family === 'visualization';
  const explainers: AnyExplainer[] = values.method?.length
    ? [...new Set(values.method)].map((id) => registry.get(id))
    : all.filter((e) => !isVisualizer(e));
  const leftOut = values.method?.length ? [] : all.filter(isVisualizer).map((e) => e.id);
  if (explainers.length === 0) throw new UsageError('No explainers are registered to benchmark.');
  // The bench settings of each method, then --set on top; checked before anything is loaded.
  const fromSets = optionsPerMethod(explainers, sets);
  const options = new Map(explainers.map((e) => [e.id, { ...benchSetting(e.id).options, ...(fromSets.get(e.id) ?? {}) }]));
  for (const e of explainers) resolveOptions(e.id, e.options, options.get(e.id));
  const defaults = defaultModelAndInputs();
  const modelPath = values.model ?? defaults.model;
  await checkModelPath(modelPath);
  const inputFiles = await resolveInputFiles(values.input?.length ? values.input : defaults.inputs);

  const backend = await startBackend(backendPref, log);
  const workers = await applyWorkers(workersOpt, log);
  const model = await loadModel(modelPath);
  const tap = new ModelTap(model);
  const inputs = await loadInputs(inputFiles, tap.inputShape, createLogger(ctx.io, { quiet: true }));
  const images = inputs.tensor.shape[0];
  let layer: LayerInfo | null = null;
  try {
    layer = tap.lastSpatialLayer();
  } catch {
    layer = null;
  }
  const report: BenchReport = {
    schema: 'cnn-xai/bench@2',
    backend,
    workers,
    model: modelPath,
    inputs: inputFiles.map((f) => f.file),
    images,
    batchSizes,
    repeat,
    stat,
    budgetSeconds,
    capSeconds,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      tfjs: tf.version_core,
      loadavg: { start: loadStart, end: [] },
    },
    raw: {
      layer: layer?.name ?? null,
      forwardMsPerImage: {},
      forwardBackwardMsPerImage: {},
      forwardBackwardToLayerMsPerImage: {},
      headMsPerImage: {},
      cpu: { forwardMsPerImage: {}, forwardBackwardMsPerImage: {} },
      curve: { forward: {}, gradient: {}, layerGradient: {}, head: {} },
    },
    methods: {},
    leftOut,
    totalSeconds: 0,
  };
  const tmp = values.torch ? await mkdtemp(join(tmpdir(), 'cnn-xai-bench-')) : null;
  const counter = countingTap(tap);
  let rawCurve: BenchReport['raw']['curve'] = { forward: {}, gradient: {}, layerGradient: {}, head: {} };
  try {
    // PyTorch first (its two threads would disturb the tf.js timings if they overlapped).
    if (values.torch && tmp) report.torch = await torchComparison(tap, inputs.tensor, modelPath, tmp, explainers, batchSizes, repeat, budgetSeconds, capSeconds, threads, stat, log);

    const budgetMs = budgetSeconds > 0 ? budgetSeconds * 1000 : Infinity;
    const raw = new RawCostTable(tap, inputs.tensor, layer?.name ?? null, repeat, stat, batchSizes, log);
    log.detail('warming up (JIT)');
    await raw.warmUp(workers);
    for (const b of batchSizes) {
      const x = fill(inputs.tensor, b);
      const target = resolveTarget('top', tap, x);
      const classes = target.classes as number[];
      try {
        log.detail(`batch ${b}: raw costs`);
        for (const kind of PASS_KINDS) await raw.measure(kind, b);
        const at = (kind: PassKind): number => raw.cost(kind, b);
        report.raw.forwardMsPerImage[b] = round(at('forward'));
        report.raw.forwardBackwardMsPerImage[b] = round(at('gradient'));
        report.raw.forwardBackwardToLayerMsPerImage[b] = round(at('layerGradient'));
        report.raw.headMsPerImage[b] = round(at('head'));
        report.raw.cpu.forwardMsPerImage[b] = round(raw.cpu('forward', b));
        report.raw.cpu.forwardBackwardMsPerImage[b] = round(raw.cpu('gradient', b));

        for (const ex of explainers) {
          const setting = benchSetting(ex.id);
          const entry = (report.methods[ex.id] ??= {
            options: options.get(ex.id) ?? {},
            reference: setting.reference,
            msPerImage: {},
            cpuMsPerImage: {},
            medianMsPerImage: {},
            minMsPerImage: {},
            runs: {},
            skipped: {},
            forwardPasses: 0,
            backwardPasses: 0,
            layerBackwardPasses: 0,
            headPasses: 0,
            passes: {},
            calls: {},
            floorMsPerImage: {},
            ratioToFloor: {},
            ratioToForwardBackward: {},
          });
          if (entry.error) continue;
          // Estimated from the wall-clock time at the smallest batch that ran.
          const smallest = batchSizes.find((s) => entry.medianMsPerImage[s] !== undefined);
          if (smallest !== undefined && skipBatch(entry.medianMsPerImage[smallest], b, capSeconds * 1000)) {
            const est = ((entry.medianMsPerImage[smallest] as number) * b) / 1000;
            entry.skipped[b] = `estimated ${est.toFixed(0)} s per run > --cap ${capSeconds} s`;
            log.detail(`  ${ex.id}: batch ${b} skipped (${entry.skipped[b]})`);
            continue;
          }
          const onProgress = log.progress(`${ex.id} (batch ${b})`);
          const run = async (m: ModelTap, threads = workers): Promise<void> => {
            const attr = await explain(ex, { model: m, input: x, target: classes, options: options.get(ex.id) ?? {}, registry, workers: threads });
            await attr.values.data();
            attr.dispose();
          };
          try {
            // The warm-up run is the counted one.
            // On one thread, so that every pass goes through the counting proxy.
            counter.reset();
            let warm = await timeOnce(() => run(counter.tap, 0), stat);
            const passes = perImage(counter.counts, b);
            entry.passes[b] = mapCounts(passes, (v) => round(v, 6));
            if (b === batchSizes[0]) {
              entry.forwardPasses = round(passes.forward, 6);
              entry.backwardPasses = round(passes.backward, 6);
              entry.layerBackwardPasses = round(passes.layerBackward, 6);
              entry.headPasses = round(passes.head, 6);
            }
            const calls = copyCalls(counter.calls);
            entry.calls[b] = callsJson(calls);
            // With workers, a second warm-up run lets the workers' JIT see this method's batches.
            if (workers > 0) warm = await timeOnce(() => run(tap), stat);
            // A slow method's warm-up run is its measurement (runs = 0); the others get up to --repeat runs.
            const runs = plannedRuns(warm.wallMs, repeat, budgetMs);
            let done = 0;
            onProgress(1 / (runs + 1));
            const t = runs > 0 ? await timeRuns(() => run(tap), runs, stat, () => onProgress(++done / (runs + 1))) : warm;
            log.endProgress();
            const ms = t.ms / b;
            await raw.ensure(calls);
            const floor = floorOfCalls(calls, b, (kind, rows) => raw.cost(kind, rows));
            entry.msPerImage[b] = round(ms);
            entry.cpuMsPerImage[b] = round(t.cpuMs / b);
            entry.medianMsPerImage[b] = round(t.medianMs / b);
            entry.minMsPerImage[b] = round(t.minMs / b);
            entry.runs[b] = runs;
            entry.floorMsPerImage[b] = round(floor);
            const r = floorRatio(ms, floor);
            entry.ratioToFloor[b] = r === null ? null : round(r, 3);
            entry.ratioToForwardBackward[b] = round(ms / raw.cost('gradient', b), 3);
            log.detail(`  ${ex.id}: ${ms.toFixed(3)} ms/image, floor ${floor.toFixed(3)}, ${runs} run(s)`);
          } catch (e) {
            log.endProgress();
            entry.error = (e as Error).message;
            log.warn(`${ex.id} failed at batch ${b}: ${entry.error}`);
          }
        }
      } finally {
        x.dispose();
      }
    }
    rawCurve = raw.curve();
  } finally {
    inputs.tensor.dispose();
    tap.dispose();
    model.dispose();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
  report.raw.curve = rawCurve;
  if (report.torch?.available) mergeTorch(report, report.torch);
  report.machine.loadavg.end = roundLoad(loadavg());
  report.totalSeconds = round((performance.now() - started) / 1000, 3);
  ctx.io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : benchTable(report));
  return 0;
}

const PASS_KINDS: readonly PassKind[] = ['forward', 'gradient', 'layerGradient', 'head'];

function copyCalls(calls: CallLog): CallLog {
  const out = emptyCallLog();
  for (const k of PASS_KINDS) calls[k].forEach((n, rows) => out[k].set(rows, n));
  return out;
}

function callsJson(calls: CallLog): Record<PassKind, Record<number, number>> {
  const out = {} as Record<PassKind, Record<number, number>>;
  for (const k of PASS_KINDS) out[k] = Object.fromEntries([...calls[k]].sort((a, b) => a[0] - b[0]));
  return out;
}

/**
 * The model's raw costs on this backend, ms per image, measured when first needed at batch sizes
 * on a grid (powers of two up to 256 and the bench's batch sizes), on the bench images repeated
 * to fill the batch, targets their predicted classes.
 */
class RawCostTable {
  private readonly wall: Record<PassKind, Map<number, number>> = { forward: new Map(), gradient: new Map(), layerGradient: new Map(), head: new Map() };
  private readonly cpuMs: Record<PassKind, Map<number, number>> = { forward: new Map(), gradient: new Map(), layerGradient: new Map(), head: new Map() };

  constructor(
    private readonly tap: ModelTap,
    private readonly images: tf.Tensor4D,
    private readonly layer: string | null,
    private readonly repeat: number,
    private readonly stat: BenchStat,
    private readonly extra: readonly number[],
    private readonly log: ReturnType<typeof createLogger>,
  ) {}

  /** Measures every grid point the logged calls need. */
  async ensure(calls: CallLog): Promise<void> {
    for (const kind of PASS_KINDS) {
      for (const rows of calls[kind].keys()) for (const b of gridPoints(rows, this.extra)) await this.measure(kind, b);
    }
  }

  /** Per-image wall-clock cost at `rows` (interpolated between measured batch sizes). */
  cost(kind: PassKind, rows: number): number {
    return interpolateCost(rows, this.wall[kind], this.extra);
  }

  cpu(kind: PassKind, rows: number): number {
    return interpolateCost(rows, this.cpuMs[kind], this.extra);
  }

  curve(): Record<PassKind, PerBatch<number>> {
    const out = {} as Record<PassKind, PerBatch<number>>;
    for (const k of PASS_KINDS) out[k] = Object.fromEntries([...this.wall[k]].sort((a, b) => a[0] - b[0]).map(([b, v]) => [b, round(v)]));
    return out;
  }

  /**
   * Runs every raw pass at batch 1 about 40 times (at most ~2 s each) before anything is timed:
   * V8 needs a few dozen calls to optimise tf.js's JavaScript, which at batch 1 is a good part of
   * a pass (the first calls of a gradient take 2-10x longer than the 40th).
   */
  async warmUp(workers = 0): Promise<void> {
    if (workers > 0) {
      // The worker threads' JIT too: split passes, one row per thread.
      const par = new ParallelTap(this.tap, workers);
      const x = fill(this.images, workers + 1);
      const classes = resolveTarget('top', this.tap, x).classes as number[];
      try {
        const t0 = performance.now();
        for (let i = 0; i < 40 && performance.now() - t0 < 4000; i++) {
          tf.dispose([await par.predict(x), await par.inputGradient(x, classes)]);
        }
      } finally {
        x.dispose();
      }
    }
    for (const kind of PASS_KINDS) {
      const { run, cleanup } = this.pass(kind, 1);
      try {
        const t0 = performance.now();
        for (let i = 0; i < 40 && performance.now() - t0 < 2000; i++) await run();
      } finally {
        cleanup();
      }
    }
  }

  private pass(kind: PassKind, batch: number): { run: () => Promise<void>; cleanup: () => void } {
    const tap = this.tap;
    const x = fill(this.images, batch);
    const target = resolveTarget('top', tap, x);
    const layer = this.layer;
    let run: () => Promise<void>;
    let cleanup = (): void => {};
    const gradient = (opts: { layer?: string }) => async (): Promise<void> => {
      const g = tap.gradient(x, (out) => target.score(out), opts);
      await g.gradient.data();
      g.gradient.dispose();
      g.output.dispose();
      g.scores.dispose();
      g.activation?.dispose();
    };
    const forward = async (): Promise<void> => {
      const y = tap.predict(x);
      await y.data();
      y.dispose();
    };
    if (kind === 'forward') run = forward;
    else if (kind === 'gradient') run = gradient({});
    else if (kind === 'layerGradient') run = layer ? gradient({ layer }) : gradient({});
    else if (layer) {
      const act = tap.activations(x, [layer])[layer] as tf.Tensor;
      const h = tap.head(layer, x);
      run = async () => {
        const y = h.run(act);
        await y.data();
        y.dispose();
      };
      cleanup = () => {
        h.dispose();
        act.dispose();
      };
    } else run = forward;
    return {
      run,
      cleanup: () => {
        cleanup();
        x.dispose();
      },
    };
  }

  async measure(kind: PassKind, batch: number): Promise<void> {
    if (this.wall[kind].has(batch)) return;
    const { run, cleanup } = this.pass(kind, batch);
    try {
      const warm = await timeOnce(run, this.stat);
      // The denominators of every floor: twice the explainers' runs (at least 10), within about 2 s.
      const runs = plannedRuns(warm.wallMs, Math.max(2 * this.repeat, 10), 2000) || 1;
      const t = await timeRuns(run, runs, this.stat);
      this.wall[kind].set(batch, t.ms / batch);
      this.cpuMs[kind].set(batch, t.cpuMs / batch);
      this.log.detail(`  raw ${kind} at batch ${batch}: ${(t.ms / batch).toFixed(3)} ms/image (${runs} runs)`);
    } finally {
      cleanup();
    }
  }
}

function mapCounts(c: PassCounts, f: (v: number) => number): PassCounts {
  return { forward: f(c.forward), backward: f(c.backward), layerBackward: f(c.layerBackward), head: f(c.head) };
}

/** Adds the PyTorch ms per image and the tf.js / PyTorch ratio to each method that has an equivalent. */
export function mergeTorch(report: BenchReport, torch: TorchReport): void {
  for (const [id, m] of Object.entries(report.methods)) {
    const key = benchSetting(id).torch;
    const t = key ? torch.methods[key] : undefined;
    if (!t) continue;
    const ratio: PerBatch<number | null> = {};
    const ms: PerBatch<number> = {};
    for (const b of report.batchSizes) {
      const tms = t.msPerImage[String(b)];
      if (tms === undefined) continue;
      ms[b] = tms;
      const ours = m.msPerImage[b];
      ratio[b] = ours !== undefined && tms > 0 ? round(ours / tms, 3) : null;
    }
    const skipped: PerBatch<string> = {};
    for (const [b, why] of Object.entries(t.skipped ?? {})) skipped[Number(b)] = why;
    m.torch = { what: t.what, msPerImage: ms, ratio, skipped };
  }
}

async function torchComparison(
  tap: ModelTap,
  images: tf.Tensor4D,
  modelPath: string,
  tmp: string,
  explainers: readonly AnyExplainer[],
  batchSizes: readonly number[],
  repeat: number,
  budgetSeconds: number,
  capSeconds: number,
  threads: number,
  stat: BenchStat,
  log: ReturnType<typeof createLogger>,
): Promise<NonNullable<BenchReport['torch']>> {
  const found = findTorchPython();
  if (!found.python) {
    const reason = `no Python with torch and numpy (${found.reason}); apt-get install python3-torch python3-numpy, or set CNN_XAI_PYTHON to one`;
    log.warn(`PyTorch comparison skipped: ${reason}`);
    return { available: false, reason };
  }
  const ids = explainers.map((e) => benchSetting(e.id).torch).filter((k): k is string => k !== null);
  // The same images and the tf.js logits of the first few, for the script's equality check.
  const imagesFile = join(tmp, 'images.npy');
  const logitsFile = join(tmp, 'tfjs-logits.npy');
  const n = Math.min(4, images.shape[0]);
  const first = tf.slice(images, [0, 0, 0, 0], [n, -1, -1, -1]);
  const logits = tap.predict(first);
  try {
    await writeNpyFile(imagesFile, (await images.data()) as Float32Array, images.shape);
    await writeNpyFile(logitsFile, (await logits.data()) as Float32Array, logits.shape);
  } finally {
    first.dispose();
    logits.dispose();
  }
  const script = join(fixtures.root, 'scripts', 'bench_torch.py');
  const args = [
    '--model',
    modelPath,
    '--images',
    imagesFile,
    '--tfjs-logits',
    logitsFile,
    '--repeat',
    String(repeat),
    '--budget',
    String(budgetSeconds),
    '--cap',
    String(capSeconds),
    '--threads',
    String(threads),
    '--stat',
    stat,
    ...batchSizes.flatMap((b) => ['--batch', String(b)]),
    ...(ids.length ? ['--methods', [...new Set(ids)].join(',')] : ['--methods', 'none']),
  ];
  log.info(`PyTorch comparison: ${found.python} ${script}`);
  try {
    const rep = await runTorchBench(found.python, script, args, (line) => log.detail(`  [torch] ${line}`));
    if (!rep.check.ok) log.warn(`PyTorch logits differ from tf.js by ${rep.check.maxAbsDiff} (> ${rep.check.tolerance})`);
    return { ...rep, available: true, interpreter: found.python };
  } catch (e) {
    const reason = (e as Error).message;
    log.warn(`PyTorch comparison failed: ${reason}`);
    return { available: false, reason };
  }
}
