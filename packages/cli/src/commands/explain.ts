import { stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { explain, ModelTap, type AnyExplainer } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { FASHION_CLASSES, fixtures } from '@cnn-xai/fixtures';
import { UsageError } from '../errors.js';
import { EXPLAIN_HELP } from '../help.js';
import { loadInputs, resolveInputFiles, type InputItem } from '../inputs.js';
import { createLogger } from '../log.js';
import {
  attributionJson,
  attributionNpy,
  compositePng,
  FORMATS,
  imagePngs,
  writeBytes,
  type OutputFormat,
} from '../outputs.js';
import { optionsPerMethod, parseInteger, parseSet, parseTarget } from '../settings.js';
import { applyWorkers, buildRegistry, checkModelPath, COMMON_OPTIONS, parseBackend, parseWorkers, startBackend, type CommandContext } from '../shared.js';

export type OutPlan =
  | { kind: 'file'; path: string; format: OutputFormat }
  | { kind: 'dir'; path: string; formats: OutputFormat[] }
  | { kind: 'stdout' };

function parseFormats(text: string | undefined): OutputFormat[] | undefined {
  if (text === undefined) return undefined;
  const list = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const f of list) {
    if (!(FORMATS as readonly string[]).includes(f)) {
      throw new UsageError(`--format expects png, npy, json or a comma-separated list of them, got "${text}".`);
    }
  }
  if (list.length === 0) throw new UsageError('--format is empty.');
  return [...new Set(list)] as OutputFormat[];
}

/** Decides what --out means: a file (format from its extension), a directory, or stdout. */
export async function planOutput(out: string | undefined, formatText: string | undefined, methods: number): Promise<OutPlan> {
  if (out === undefined) throw new UsageError('explain needs --out FILE|DIR (a .png, .npy or .json file, a directory, or - for JSON on stdout).');
  const formats = parseFormats(formatText);
  if (out === '-') {
    if (methods > 1) throw new UsageError('--out - (JSON on stdout) takes one method; give a directory for several.');
    if (formats && (formats.length > 1 || formats[0] !== 'json')) throw new UsageError('--out - writes JSON; drop --format or use --format json.');
    return { kind: 'stdout' };
  }
  const isDir = await stat(out).then((s) => s.isDirectory(), () => false);
  const ext = extname(out).toLowerCase().slice(1);
  if (!isDir && !out.endsWith('/') && ext !== '') {
    if (!(FORMATS as readonly string[]).includes(ext)) {
      throw new UsageError(`Cannot tell the output format of "${out}": use a .png, .npy or .json file, or a directory.`);
    }
    if (methods > 1) {
      throw new UsageError(`With several methods, --out must be a directory (one file per method id), not "${out}".`);
    }
    if (formats && (formats.length > 1 || formats[0] !== ext)) {
      throw new UsageError(`--format ${formatText} does not match the extension of --out ${out}.`);
    }
    return { kind: 'file', path: out, format: ext as OutputFormat };
  }
  return { kind: 'dir', path: out, formats: formats ?? ['png'] };
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'image';

/** File names for per-image outputs, unique within the batch. */
function imageFileNames(items: readonly InputItem[]): string[] {
  const seen = new Map<string, number>();
  return items.map((it) => {
    const base = safeName(it.name);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  });
}

export async function explainCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      model: { type: 'string' },
      input: { type: 'string', short: 'i', multiple: true },
      method: { type: 'string', short: 'm', multiple: true },
      target: { type: 'string' },
      layer: { type: 'string' },
      set: { type: 'string', multiple: true },
      seed: { type: 'string' },
      backend: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    ctx.io.stdout.write(EXPLAIN_HELP);
    return 0;
  }
  const log = createLogger(ctx.io, { quiet: values.quiet, verbose: values.verbose });

  // Everything that can be checked without a model is checked first.
  const methodIds = [...new Set(values.method?.length ? values.method : ['grad-cam'])];
  const plan = await planOutput(values.out, values.format, methodIds.length);
  const target = parseTarget(values.target);
  const seed = parseInteger('--seed', values.seed, 0);
  const backendPref = parseBackend(values.backend);
  const workers = parseWorkers(values.workers);
  const sets = (values.set ?? []).map(parseSet);
  if (values.layer !== undefined) sets.push({ key: 'layer', value: values.layer });
  const registry = await buildRegistry(values.plugin, log);
  const explainers: AnyExplainer[] = methodIds.map((id) => registry.get(id));
  const options = optionsPerMethod(explainers, sets);
  const modelPath = values.model ?? fixtures.fashionCnn;
  await checkModelPath(modelPath);
  const inputFiles = await resolveInputFiles(values.input?.length ? values.input : [fixtures.fashionImages]);

  const backend = await startBackend(backendPref, log);
  await applyWorkers(workers, log);
  const model = await loadModel(modelPath);
  const tap = new ModelTap(model);
  const classNames = resolve(modelPath) === resolve(fixtures.fashionCnn) ? FASHION_CLASSES : undefined;
  const batch = await loadInputs(inputFiles, tap.inputShape, log);
  const n = batch.items.length;
  try {
    for (const ex of explainers) {
      const onProgress = log.progress(`${ex.id}`);
      const t0 = performance.now();
      const attr = await explain(ex, {
        model: tap,
        input: batch.tensor,
        target,
        options: options.get(ex.id) ?? {},
        ...(seed !== undefined ? { seed } : {}),
        onProgress,
        registry,
      });
      await attr.values.data();
      const timeMs = performance.now() - t0;
      log.endProgress();
      log.info(`${ex.id}: ${n} image${n === 1 ? '' : 's'} in ${timeMs.toFixed(0)} ms`);
      try {
        const meta = { backend, model: modelPath, timeMs, inputs: batch.items };
        const write = async (path: string, bytes: Uint8Array | string): Promise<void> => {
          await writeBytes(path, bytes);
          log.info(`wrote ${path}`);
        };
        const writeFormat = async (format: OutputFormat, path: string): Promise<void> => {
          if (format === 'npy') await write(path, attributionNpy(attr.values));
          else if (format === 'json') await write(path, attributionJson(attr, meta));
          else await write(path, compositePng(attr, batch.display, batch.items, classNames));
        };
        if (plan.kind === 'stdout') {
          ctx.io.stdout.write(attributionJson(attr, meta));
        } else if (plan.kind === 'file') {
          await writeFormat(plan.format, plan.path);
        } else {
          for (const format of plan.formats) {
            await writeFormat(format, join(plan.path, `${ex.id}.${format}`));
            if (format === 'png' && n > 1) {
              const names = imageFileNames(batch.items);
              const pngs = imagePngs(attr, batch.display);
              for (let i = 0; i < n; i++) {
                await writeBytes(join(plan.path, ex.id, `${names[i]}.png`), pngs[i] as Uint8Array);
              }
              log.info(`wrote ${n} images to ${join(plan.path, ex.id)}/`);
            }
          }
        }
      } finally {
        attr.dispose();
      }
    }
  } finally {
    batch.tensor.dispose();
    tap.dispose();
    model.dispose();
  }
  return 0;
}
