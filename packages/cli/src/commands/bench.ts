import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { explain, ModelTap, resolveTarget, type AnyExplainer } from '@cnn-xai/core';
import { loadModel } from '@cnn-xai/core/node';
import { fixtures } from '@cnn-xai/fixtures';
import { countingTap } from '../counting.js';
import { UsageError } from '../errors.js';
import { BENCH_HELP } from '../help.js';
import { loadInputs, resolveInputFiles } from '../inputs.js';
import { createLogger } from '../log.js';
import { optionsPerMethod, parseInteger, parseSet } from '../settings.js';
import { buildRegistry, checkModelPath, COMMON_OPTIONS, parseBackend, startBackend, type CommandContext } from '../shared.js';

export interface BenchReport {
  backend: string;
  model: string;
  batchSizes: number[];
  repeat: number;
  raw: { forwardMsPerImage: Record<number, number>; forwardBackwardMsPerImage: Record<number, number> };
  methods: Record<
    string,
    {
      msPerImage: Record<number, number>;
      forwardPasses: number;
      backwardPasses: number;
      headPasses: number;
      ratioToForwardBackward: Record<number, number>;
    }
  >;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));

/** Median wall time of `run` (which must wait for its results) over `repeat` runs, after a warm-up. */
async function time(run: () => Promise<void>, repeat: number): Promise<number> {
  await run();
  const ts: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    await run();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** A batch of `size` images, the given ones repeated in order. */
function fill(images: tf.Tensor4D, size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const n = images.shape[0];
    const idx = Array.from({ length: size }, (_, i) => i % n);
    return tf.gather(images, tf.tensor1d(idx, 'int32')) as tf.Tensor4D;
  });
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
      set: { type: 'string', multiple: true },
      backend: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    ctx.io.stdout.write(BENCH_HELP);
    return 0;
  }
  const log = createLogger(ctx.io, { quiet: values.quiet, verbose: values.verbose });
  const batchSizes = [...new Set((values.batch?.length ? values.batch : ['1', '32']).map((b) => parseInteger('--batch', b, 1) as number))];
  const repeat = parseInteger('--repeat', values.repeat, 1) ?? 3;
  const backendPref = parseBackend(values.backend);
  const sets = (values.set ?? []).map(parseSet);
  const registry = await buildRegistry(values.plugin, log);
  const explainers: AnyExplainer[] = values.method?.length ? [...new Set(values.method)].map((id) => registry.get(id)) : registry.list();
  if (explainers.length === 0) throw new UsageError('No explainers are registered to benchmark.');
  const options = optionsPerMethod(explainers, sets);
  const modelPath = values.model ?? fixtures.fashionCnn;
  await checkModelPath(modelPath);
  const inputFiles = await resolveInputFiles(values.input?.length ? values.input : [fixtures.fashionImages]);

  const backend = await startBackend(backendPref, log);
  const model = await loadModel(modelPath);
  const tap = new ModelTap(model);
  const inputs = await loadInputs(inputFiles, tap.inputShape, createLogger(ctx.io, { quiet: true }));
  const report: BenchReport = {
    backend,
    model: modelPath,
    batchSizes,
    repeat,
    raw: { forwardMsPerImage: {}, forwardBackwardMsPerImage: {} },
    methods: {},
  };
  const counter = countingTap(tap);
  try {
    for (const b of batchSizes) {
      const x = fill(inputs.tensor, b);
      const target = resolveTarget('top', tap, x);
      const classes = target.classes as number[];
      try {
        log.detail(`batch ${b}: raw costs`);
        const fwd = await time(async () => {
          const y = tap.predict(x);
          await y.data();
          y.dispose();
        }, repeat);
        const fb = await time(async () => {
          const g = tap.gradient(x, (out) => target.score(out));
          await g.gradient.data();
          g.gradient.dispose();
          g.output.dispose();
          g.scores.dispose();
          g.activation?.dispose();
        }, repeat);
        report.raw.forwardMsPerImage[b] = round(fwd / b);
        report.raw.forwardBackwardMsPerImage[b] = round(fb / b);
        for (const ex of explainers) {
          const onProgress = log.progress(`${ex.id} (batch ${b})`);
          const run = async (model: ModelTap): Promise<void> => {
            const attr = await explain(ex, { model, input: x, target: classes, options: options.get(ex.id) ?? {}, registry });
            await attr.values.data();
            attr.dispose();
          };
          // Passes are counted once, on the smallest batch, in a run of its own (not timed).
          const entry = (report.methods[ex.id] ??= {
            msPerImage: {},
            forwardPasses: 0,
            backwardPasses: 0,
            headPasses: 0,
            ratioToForwardBackward: {},
          });
          if (b === Math.min(...batchSizes)) {
            counter.reset();
            await run(counter.tap);
            entry.forwardPasses = round(counter.counts.forward / b);
            entry.backwardPasses = round(counter.counts.backward / b);
            entry.headPasses = round(counter.counts.head / b);
          }
          let done = 0;
          const ms = await time(async () => {
            await run(tap);
            onProgress(++done / (repeat + 1));
          }, repeat);
          log.endProgress();
          entry.msPerImage[b] = round(ms / b);
          entry.ratioToForwardBackward[b] = round(ms / b / (fb / b), 3);
          log.detail(`  ${ex.id}: ${(ms / b).toFixed(3)} ms/image`);
        }
      } finally {
        x.dispose();
      }
    }
  } finally {
    inputs.tensor.dispose();
    tap.dispose();
    model.dispose();
  }
  ctx.io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : benchTable(report));
  return 0;
}

/** The report as a table for people. */
export function benchTable(r: BenchReport): string {
  const bs = r.batchSizes;
  const num = (x: number | undefined): string => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const rows: string[][] = [
    ['', ...bs.map((b) => `ms/img b=${b}`), ...bs.map((b) => `x fwd+bwd b=${b}`), 'fwd/img', 'bwd/img', 'head/img'],
    ['forward (raw)', ...bs.map((b) => num(r.raw.forwardMsPerImage[b])), ...bs.map(() => ''), '1', '0', '0'],
    ['forward+backward (raw)', ...bs.map((b) => num(r.raw.forwardBackwardMsPerImage[b])), ...bs.map(() => '1'), '1', '1', '0'],
  ];
  for (const [id, m] of Object.entries(r.methods)) {
    rows.push([
      id,
      ...bs.map((b) => num(m.msPerImage[b])),
      ...bs.map((b) => num(m.ratioToForwardBackward[b])),
      String(m.forwardPasses),
      String(m.backwardPasses),
      String(m.headPasses),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  return `backend: ${r.backend}  model: ${r.model}  repeats: ${r.repeat} (median)\n\n${lines.join('\n')}\n`;
}
