import { mkdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AnyExplainer, OptionsSchema } from '@cnn-xai/core';
import { UsageError } from '../errors.js';
import { REPORT_HELP } from '../help.js';
import { createLogger } from '../log.js';
import { parseInteger, parseSet, type Setting } from '../settings.js';
import { buildRegistry, checkModelPath, parseBackend, parseWorkers, type CommandContext } from '../shared.js';
import { resolveEvalInputs, type EvalInput } from './eval-inputs.js';
import {
  EVALUATE_OPTIONS,
  fixturePaths,
  parseEvalTarget,
  parseMetricIds,
  runEvaluation,
  shapesFixtureExists,
  writeReport,
  type ReportOut,
} from './evaluate.js';

/**
 * Settings of the default (fast) report; `--full` drops them. Per metric, under the user's --set:
 * fewer perturbation samples for max-sensitivity, and the cascading sanity check in at most 6 steps
 * (blocks of layers); the independent sanity check only with --full.
 */
export const FAST_PRESETS: Record<string, Record<string, unknown>> = {
  'max-sensitivity': { samples: 3 },
  'sanity-cascading': { blocks: 6 },
};

/** The fast report runs the metrics that re-run each method on the first 3 images only. */
export const FAST_IMAGE_LIMITS: Record<string, number> = { 'max-sensitivity': 3, 'sanity-cascading': 3, 'sanity-independent': 3 };

/**
 * The fast report caps the `samples` option of explainers whose default is larger (RISE's 4000
 * masks, KernelSHAP's 2048 coalitions) at this; the options used are in the report.
 */
export const FAST_EXPLAINER_SAMPLES = 1000;

/** Metrics the fast report leaves out (unless asked for with --metric). */
export const FULL_ONLY_METRICS = ['sanity-independent'];

/** The first image of each class, in input order (all images when classes are unknown). */
export function onePerClass(inputs: readonly EvalInput[]): EvalInput[] {
  if (inputs.some((i) => i.classIndex === undefined)) return [...inputs];
  const seen = new Set<number>();
  return inputs.filter((i) => {
    if (seen.has(i.classIndex as number)) return false;
    seen.add(i.classIndex as number);
    return true;
  });
}

/** `--out` for a report: FILE.json or FILE.md (both are written, side by side), a directory, `-` (JSON on stdout), or nothing (Markdown on stdout). */
export async function planReportOut(out: string | undefined): Promise<ReportOut> {
  if (out === undefined) return { kind: 'stdout-md' };
  if (out === '-') return { kind: 'stdout-json' };
  const ext = extname(out).toLowerCase();
  const isDir = await stat(out).then((s) => s.isDirectory(), () => false);
  if (!isDir && (ext === '.json' || ext === '.md')) {
    const stem = out.slice(0, out.length - ext.length);
    return { kind: 'both', json: `${stem}.json`, md: `${stem}.md` };
  }
  if (!isDir && ext !== '') throw new UsageError(`--out expects a .json or .md file, a directory, or - for JSON on stdout; got "${out}".`);
  await mkdir(out, { recursive: true });
  return { kind: 'both', json: join(out, 'report.json'), md: join(out, 'report.md') };
}

export async function reportCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args, options: EVALUATE_OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    ctx.io.stdout.write(REPORT_HELP);
    return 0;
  }
  const log = createLogger(ctx.io, { quiet: values.quiet, verbose: values.verbose });
  const out = await planReportOut(values.out);
  const seed = parseInteger('--seed', values.seed, 0) ?? 0;
  const images = parseInteger('--images', values.images, 1);
  const backendPref = parseBackend(values.backend);
  const workers = parseWorkers(values.workers);
  const sets = (values.set ?? []).map(parseSet);
  const { ids, all } = parseMetricIds(values.metric);
  const full = !!values.full;
  const paths = fixturePaths();
  const custom = values.model !== undefined || values.input !== undefined;
  const fixture = values.fixture ?? (custom ? 'custom' : shapesFixtureExists() ? 'shapes' : 'fashion');
  if (!['shapes', 'fashion', 'custom'].includes(fixture)) throw new UsageError(`--fixture expects shapes or fashion, got "${fixture}".`);
  if (fixture === 'shapes' && !shapesFixtureExists()) {
    throw new UsageError(`The shapes fixture is not there (${paths.shapesModel}, ${paths.shapesImages}/samples.json); use --fixture fashion.`);
  }
  const modelPath = values.model ?? (fixture === 'shapes' ? paths.shapesModel : paths.fashionModel);
  await checkModelPath(modelPath);
  let inputs = await resolveEvalInputs(values.input?.length ? values.input : [fixture === 'shapes' ? paths.shapesImages : paths.fashionImages]);
  if (!full && images === undefined) inputs = onePerClass(inputs);
  const registry = await buildRegistry(values.plugin, log);
  const explainers: AnyExplainer[] = values.method?.length
    ? [...new Set(values.method)].map((id) => registry.get(id))
    : registry.list().filter((e) => e.kind !== 'visualization');
  if (explainers.length === 0) throw new UsageError('No explainers are registered to evaluate.');
  if (!full) {
    // Presets first: the user's --set (later in the list) wins.
    const caps: Setting[] = [];
    for (const e of explainers) {
      const spec = (e.options as OptionsSchema)['samples'];
      if (spec?.type === 'number' && spec.default > FAST_EXPLAINER_SAMPLES) caps.push({ scope: e.id, key: 'samples', value: String(FAST_EXPLAINER_SAMPLES) });
    }
    sets.unshift(...caps);
  }
  const hasGt = inputs.every((i) => i.mask !== undefined || i.box !== undefined) || !!values.masks?.length || !!values.boxes?.length;
  const target = values.target !== undefined ? parseEvalTarget(values.target) : hasGt && inputs.every((i) => i.classIndex !== undefined) ? 'label' : 'top';
  log.info(`report on ${fixture === 'custom' ? modelPath : `the ${fixture} fixture`}: ${explainers.length} methods, ${images ?? inputs.length} images${full ? ' (full)' : ' (fast; --full for all images and samples)'}`);
  const report = await runEvaluation(
    {
      registry,
      explainers,
      metricIds: ids,
      allMetrics: ids === null,
      sets,
      target,
      seed,
      modelPath,
      inputs,
      maskArgs: values.masks ?? [],
      boxArgs: values.boxes ?? [],
      images,
      details: !values.summary,
      ...(full ? {} : { presets: FAST_PRESETS, imageLimits: FAST_IMAGE_LIMITS }),
      ...(full || all ? {} : { excludeMetrics: FULL_ONLY_METRICS }),
      meta: { fixture, mode: full ? 'full' : 'fast' },
    },
    backendPref,
    log,
    workers,
  );
  await writeReport(report, out, ctx, log, `Evaluation of ${explainers.length} methods on ${fixture === 'custom' ? 'a custom model' : `the ${fixture} fixture`}`);
  return 0;
}
