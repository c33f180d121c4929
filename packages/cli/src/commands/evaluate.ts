import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CnnXaiError, ModelTap, resolveOptions, type AnyExplainer, type Registry, type Target } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures } from '@cnn-xai/fixtures';
import {
  applicableMetrics,
  evaluate,
  getMetric,
  METRICS,
  reportMarkdown,
  type AnyMetric,
  type EvaluationReport,
  type GroundTruth,
} from '@cnn-xai/metrics';
import { UsageError } from '../errors.js';
import { EVALUATE_HELP } from '../help.js';
import { loadInputs } from '../inputs.js';
import { createLogger, type Logger } from '../log.js';
import { writeBytes } from '../outputs.js';
import { optionsPerMethod, parseInteger, parseSet, parseTarget, type Setting } from '../settings.js';
import { applyWorkers, buildRegistry, checkModelPath, COMMON_OPTIONS, parseBackend, parseWorkers, startBackend, type CommandContext } from '../shared.js';
import { loadGroundTruth, resolveEvalInputs, type EvalInput } from './eval-inputs.js';

/** The metrics `evaluate` runs without --metric: the cheap faithfulness ones, plus localisation with ground truth. */
export const DEFAULT_METRICS = ['deletion', 'insertion', 'average-drop', 'increase-in-confidence'] as const;

/** The fixtures' paths (read defensively: an older build of @cnn-xai/fixtures may lack the shapes entries). */
export function fixturePaths(): { fashionModel: string; fashionImages: string; shapesModel: string; shapesImages: string } {
  const f = fixtures as unknown as Record<string, string>;
  return {
    fashionModel: fixtures.fashionCnn,
    fashionImages: fixtures.fashionImages,
    shapesModel: f['shapesNet'] ?? join(fixtures.root, 'models', 'shapes-net'),
    shapesImages: f['shapesImages'] ?? join(fixtures.root, 'images', 'shapes'),
  };
}

/** True when the shapes fixture (model and samples.json) is present. */
export function shapesFixtureExists(): boolean {
  const p = fixturePaths();
  return existsSync(join(p.shapesModel, 'model.json')) && existsSync(join(p.shapesImages, 'samples.json'));
}

/** A path for the report: relative to the repository's fixtures when it is one of them, else as given. */
function displayPath(p: string): string {
  const rel = relative(resolve(fixtures.root, '..'), resolve(p));
  return rel.startsWith('fixtures') ? rel : p;
}

export type ReportOut = { kind: 'json'; path: string } | { kind: 'md'; path: string } | { kind: 'stdout-json' } | { kind: 'stdout-md' } | { kind: 'both'; json: string; md: string };

/** `--out`: FILE.json, FILE.md, `-` (JSON on stdout) or nothing (a Markdown table on stdout). */
export function planEvaluateOut(out: string | undefined): ReportOut {
  if (out === undefined) return { kind: 'stdout-md' };
  if (out === '-') return { kind: 'stdout-json' };
  const ext = extname(out).toLowerCase();
  if (ext === '.json') return { kind: 'json', path: out };
  if (ext === '.md' || ext === '.markdown') return { kind: 'md', path: out };
  throw new UsageError(`--out expects a .json or .md file, or - for JSON on stdout; got "${out}".`);
}

export interface EvaluationPlan {
  registry: Registry;
  explainers: AnyExplainer[];
  /** Metric ids asked for, or null for the defaults. */
  metricIds: string[] | null;
  /** `all`: every metric that applies. */
  allMetrics: boolean;
  sets: Setting[];
  target: Target | 'label';
  seed: number;
  modelPath: string;
  inputs: EvalInput[];
  maskArgs: string[];
  boxArgs: string[];
  images: number | undefined;
  /** Metric options set by the command itself (report's fast presets), under the user's --set. */
  presets?: Record<string, Record<string, unknown>>;
  meta?: Record<string, unknown>;
  details: boolean;
  /** Metrics left out of "every metric that applies" (the fast report's full-only ones). */
  excludeMetrics?: readonly string[];
  /** At most this many images for these metrics (the fast report's re-running metrics). */
  imageLimits?: Record<string, number>;
}

/** `--metric` values: ids, aliases, comma lists, or `all`. */
export function parseMetricIds(values: readonly string[] | undefined): { ids: string[] | null; all: boolean } {
  if (!values?.length) return { ids: null, all: false };
  const list = values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  if (list.includes('all')) return { ids: null, all: true };
  return { ids: [...new Set(list.map((id) => getMetric(id).id))], all: false };
}

/** The metric id a --set scope names (an id or an alias), or null. */
function metricIdOf(scope: string): string | null {
  try {
    return getMetric(scope).id;
  } catch {
    return null;
  }
}

/**
 * Splits --set values between methods and metrics: `ID.KEY=VALUE` goes to that method or metric;
 * a plain key to every method and metric that has such an option (an error when none has).
 */
export function splitSettings(
  sets: readonly Setting[],
  explainers: readonly AnyExplainer[],
  metrics: readonly AnyMetric[],
): { methods: Setting[]; metrics: Map<string, Record<string, unknown>> } {
  const methodSets: Setting[] = [];
  const metricSets = new Map<string, Record<string, unknown>>(metrics.map((m) => [m.id, {}]));
  for (const s of sets) {
    if (s.scope !== undefined) {
      if (explainers.some((e) => e.id === s.scope)) {
        methodSets.push(s);
        continue;
      }
      const scopeId = metricIdOf(s.scope);
      const m = metrics.find((x) => x.id === scopeId);
      if (!m) {
        throw new UsageError(
          `--set ${s.scope}.${s.key}: "${s.scope}" is neither a method nor a metric of this run (methods: ${explainers.map((e) => e.id).join(', ')}; metrics: ${metrics.map((x) => x.id).join(', ')}).`,
        );
      }
      (metricSets.get(m.id) as Record<string, unknown>)[s.key] = s.value;
      continue;
    }
    const methodTakers = explainers.filter((e) => s.key in e.options);
    const metricTakers = metrics.filter((m) => s.key in m.options);
    if (methodTakers.length === 0 && metricTakers.length === 0) {
      const lists = [
        ...explainers.map((e) => `${e.id}: ${Object.keys(e.options).join(', ') || '(none)'}`),
        ...metrics.map((m) => `${m.id}: ${Object.keys(m.options).join(', ') || '(none)'}`),
      ].join('; ');
      throw new CnnXaiError('UNKNOWN_OPTION', `No method or metric of this run has an option "${s.key}".`, `Their options are ${lists}.`);
    }
    for (const e of methodTakers) methodSets.push({ ...s, scope: e.id });
    for (const m of metricTakers) (metricSets.get(m.id) as Record<string, unknown>)[s.key] = s.value;
  }
  return { methods: methodSets, metrics: metricSets };
}

/** Runs the evaluation a plan describes and returns the report. */
export async function runEvaluation(
  plan: EvaluationPlan,
  backendPref: ReturnType<typeof parseBackend>,
  log: Logger,
  workers?: ReturnType<typeof parseWorkers>,
): Promise<EvaluationReport> {
  const t0 = performance.now();
  let inputs = plan.inputs;
  if (plan.images !== undefined) inputs = inputs.slice(0, plan.images);
  if (inputs.length === 0) throw new UsageError('No input images to evaluate.');
  if (plan.target === 'label' && inputs.some((i) => i.classIndex === undefined)) {
    throw new UsageError('--target label needs a class for every image (samples.json "label" or labels.json "label"); use top or a class index.');
  }
  const backend = await startBackend(backendPref, log);
  await applyWorkers(workers, log);
  const model = await loadModel(plan.modelPath);
  const tap = new ModelTap(model);
  const batch = await loadInputs(inputs, tap.inputShape, log);
  const [, h, w] = batch.tensor.shape;
  let gt: GroundTruth | undefined;
  try {
    const files = await loadGroundTruth(inputs, plan.maskArgs, plan.boxArgs, h, w);
    if (files.masks || files.boxes) {
      gt = {
        ...(files.masks ? { masks: files.masks } : {}),
        ...(files.boxes ? { boxes: files.boxes } : {}),
      };
      log.info(`ground truth: ${files.masks ? 'masks' : ''}${files.masks && files.boxes ? ' and ' : ''}${files.boxes ? 'boxes' : ''} for ${inputs.length} images`);
    }
    const candidates = plan.allMetrics || plan.metricIds === null ? applicableMetrics({ groundTruth: gt, model }) : plan.metricIds.map(getMetric);
    let metrics: AnyMetric[];
    if (plan.allMetrics) metrics = candidates.filter((m) => !plan.excludeMetrics?.includes(m.id));
    else if (plan.metricIds === null) metrics = candidates.filter((m) => (DEFAULT_METRICS as readonly string[]).includes(m.id) || m.kind === 'localisation');
    else {
      metrics = candidates;
      const needGt = metrics.filter((m) => m.needs.groundTruth);
      if (needGt.length && !gt) {
        throw new UsageError(`${needGt.map((m) => m.id).join(', ')} need${needGt.length === 1 ? 's' : ''} ground truth: give --masks or --boxes (or inputs from a directory with a samples.json).`);
      }
    }
    const split = splitSettings(plan.sets, plan.explainers, metrics);
    const methodOptions = optionsPerMethod(plan.explainers, split.methods);
    const metricOptions: Record<string, Record<string, unknown>> = {};
    for (const m of metrics) {
      const given = { ...(plan.presets?.[m.id] ?? {}), ...(split.metrics.get(m.id) ?? {}) };
      resolveOptions(m.id, m.options, given);
      metricOptions[m.id] = given;
    }
    const target: Target = plan.target === 'label' ? inputs.map((i) => i.classIndex as number) : plan.target;
    let current = '';
    let progress: ((f: number) => void) | null = null;
    const report = await evaluate({
      model: tap,
      input: batch.tensor,
      methods: plan.explainers,
      metrics: metrics.map((m) => m.id),
      target,
      ...(gt ? { groundTruth: gt } : {}),
      explainerOptions: Object.fromEntries(methodOptions),
      metricOptions,
      seed: plan.seed,
      registry: plan.registry,
      details: plan.details,
      ...(plan.imageLimits ? { imageLimits: plan.imageLimits } : {}),
      onProgress: ({ method, metric, fraction }) => {
        const label = `${method}${metric ? ` ${metric}` : ''}`;
        if (label !== current) {
          current = label;
          log.endProgress();
          progress = log.progress(label);
        }
        progress?.(fraction);
      },
      meta: {
        ...(plan.meta ?? {}),
        model: displayPath(plan.modelPath),
        inputs: inputs.map((i) => ({ file: displayPath(i.file), ...(i.label ? { label: i.label } : {}), ...(i.classIndex !== undefined ? { classIndex: i.classIndex } : {}) })),
        target: plan.target === 'label' ? 'label' : typeof plan.target === 'string' ? plan.target : 'given',
        backend,
        ...(gt ? { groundTruth: { masks: !!gt.masks, boxes: !!gt.boxes } } : {}),
      },
    });
    log.endProgress();
    report.meta['totalMs'] = Math.round(performance.now() - t0);
    for (const m of report.methods) {
      if (m.error) log.warn(`${m.id}: ${m.error}`);
      for (const [id, e] of Object.entries(m.metrics)) if (e.error) log.warn(`${m.id} / ${id}: ${e.error}`);
    }
    return report;
  } finally {
    batch.tensor.dispose();
    tap.dispose();
    model.dispose();
  }
}

/** Writes a report: JSON and/or a Markdown table, to files or stdout. */
export async function writeReport(report: EvaluationReport, out: ReportOut, ctx: CommandContext, log: Logger, title?: string): Promise<void> {
  const json = `${JSON.stringify(report, null, 1)}\n`;
  const md = reportMarkdown(report, title ? { title } : {});
  const write = async (path: string, text: string): Promise<void> => {
    await writeBytes(path, text);
    log.info(`wrote ${path}`);
  };
  if (out.kind === 'stdout-json') ctx.io.stdout.write(json);
  else if (out.kind === 'stdout-md') ctx.io.stdout.write(md);
  else if (out.kind === 'json' || out.kind === 'md') await write(out.path, out.kind === 'json' ? json : md);
  else {
    await write(out.json, json);
    await write(out.md, md);
  }
}

export const EVALUATE_OPTIONS = {
  ...COMMON_OPTIONS,
  model: { type: 'string' },
  input: { type: 'string', short: 'i', multiple: true },
  method: { type: 'string', short: 'm', multiple: true },
  metric: { type: 'string', multiple: true },
  masks: { type: 'string', multiple: true },
  boxes: { type: 'string', multiple: true },
  target: { type: 'string' },
  set: { type: 'string', multiple: true },
  seed: { type: 'string' },
  backend: { type: 'string' },
  workers: { type: 'string' },
  images: { type: 'string' },
  out: { type: 'string', short: 'o' },
  summary: { type: 'boolean' },
  all: { type: 'boolean' },
  full: { type: 'boolean' },
  fixture: { type: 'string' },
} as const;

export function parseEvalTarget(text: string | undefined): Target | 'label' {
  return text === 'label' ? 'label' : parseTarget(text);
}

export async function evaluateCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args, options: EVALUATE_OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    ctx.io.stdout.write(EVALUATE_HELP);
    return 0;
  }
  if (values.all) {
    // `evaluate --all` is `report` on the given model and inputs (or the fixture).
    const { reportCommand } = await import('./report.js');
    return reportCommand(args.filter((a) => a !== '--all'), ctx);
  }
  if (values.full !== undefined || values.fixture !== undefined) throw new UsageError('--full and --fixture belong to `cnn-xai report` (or `evaluate --all`).');
  const log = createLogger(ctx.io, { quiet: values.quiet, verbose: values.verbose });
  const out = planEvaluateOut(values.out);
  const target = parseEvalTarget(values.target);
  const seed = parseInteger('--seed', values.seed, 0) ?? 0;
  const images = parseInteger('--images', values.images, 1);
  const backendPref = parseBackend(values.backend);
  const workers = parseWorkers(values.workers);
  const sets = (values.set ?? []).map(parseSet);
  const { ids, all } = parseMetricIds(values.metric);
  const registry = await buildRegistry(values.plugin, log);
  const methodIds = [...new Set(values.method?.length ? values.method : ['grad-cam'])];
  const explainers = methodIds.map((id) => registry.get(id));
  const paths = fixturePaths();
  const modelPath = values.model ?? paths.fashionModel;
  await checkModelPath(modelPath);
  const inputs = await resolveEvalInputs(values.input?.length ? values.input : [paths.fashionImages]);
  for (const f of [...(values.masks ?? []), ...(values.boxes ?? [])]) {
    await stat(f).catch(() => {
      throw new UsageError(`Ground-truth file not found: ${f}.`);
    });
  }
  const report = await runEvaluation(
    {
      registry,
      explainers,
      metricIds: ids,
      allMetrics: all,
      sets,
      target,
      seed,
      modelPath,
      inputs,
      maskArgs: values.masks ?? [],
      boxArgs: values.boxes ?? [],
      images,
      details: !values.summary,
    },
    backendPref,
    log,
    workers,
  );
  await writeReport(report, out, ctx, log);
  return 0;
}

/** Every metric id with its one-line description, for help texts. */
export function metricList(): string {
  return METRICS.map((m) => `  ${m.id.padEnd(24)}${m.better === 'higher' ? '↑' : '↓'} ${m.name}`).join('\n');
}
