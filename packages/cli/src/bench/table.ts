import type { BenchReport } from '../commands/bench.js';
import { formatOptions } from './settings.js';

const num = (x: number | null | undefined): string =>
  x === undefined || x === null || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toFixed(3);

const passes = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(3));

/** Backward passes, with those that stop at a layer marked L. */
function backward(total: number, layer: number): string {
  if (layer === 0) return passes(total);
  if (layer === total) return `${passes(total)}L`;
  return `${passes(total)} (${passes(layer)}L)`;
}

function align(rows: string[][], left = 1): string[] {
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, c) => (c < left ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number)))
      .join('  ')
      .trimEnd(),
  );
}

/** The report as tables for people: timings, passes, floor and PyTorch ratios; then runs, settings and notes. */
export function benchTable(r: BenchReport): string {
  const bs = r.batchSizes;
  const torch = r.torch?.available ? r.torch : null;
  const head = [
    'method',
    ...bs.map((b) => `ms/img b=${b}`),
    'fwd',
    'bwd',
    'head',
    ...bs.map((b) => `floor b=${b}`),
    ...bs.map((b) => `x floor b=${b}`),
    ...(torch ? [...bs.map((b) => `torch b=${b}`), ...bs.map((b) => `x torch b=${b}`)] : []),
  ];
  const rows: string[][] = [head];
  const raw = r.raw;
  const rawRow = (label: string, ms: Record<number, number>, f: string, bw: string, h: string, torchMs?: Record<string, number>): string[] => [
    label,
    ...bs.map((b) => num(ms[b])),
    f,
    bw,
    h,
    ...bs.map((b) => num(ms[b])),
    ...bs.map((b) => (ms[b] !== undefined ? '1' : '-')),
    ...(torch
      ? [...bs.map((b) => num(torchMs?.[String(b)])), ...bs.map((b) => (torchMs?.[String(b)] ? num((ms[b] as number) / (torchMs[String(b)] as number)) : '-'))]
      : []),
  ];
  rows.push(rawRow('forward (raw)', raw.forwardMsPerImage, '1', '0', '0', torch?.raw.forwardMsPerImage));
  rows.push(rawRow('forward+backward (raw)', raw.forwardBackwardMsPerImage, '1', '1', '0', torch?.raw.forwardBackwardMsPerImage));
  if (raw.layer) {
    rows.push(rawRow(`fwd+bwd to ${raw.layer} (raw)`, raw.forwardBackwardToLayerMsPerImage, '1', '1L', '0', torch?.raw.forwardBackwardToLayerMsPerImage));
    rows.push(rawRow(`head from ${raw.layer} (raw)`, raw.headMsPerImage, '0', '0', '1'));
  }
  for (const [id, m] of Object.entries(r.methods)) {
    rows.push([
      id,
      ...bs.map((b) => (m.skipped[b] ? 'skip' : m.error && m.msPerImage[b] === undefined ? 'failed' : num(m.msPerImage[b]))),
      passes(m.forwardPasses),
      backward(m.backwardPasses, m.layerBackwardPasses),
      passes(m.headPasses),
      ...bs.map((b) => num(m.floorMsPerImage[b])),
      ...bs.map((b) => num(m.ratioToFloor[b])),
      ...(torch ? [...bs.map((b) => num(m.torch?.msPerImage[b])), ...bs.map((b) => num(m.torch?.ratio[b]))] : []),
    ]);
  }
  const load = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const out: string[] = [
    `backend: ${r.backend}  workers: ${r.workers ?? 0}  tf.js ${r.machine.tfjs}  node ${r.machine.node}  ${r.machine.cpus} CPUs (${r.machine.cpuModel})`,
    `model: ${r.model}  inputs: ${r.inputs.length > 3 ? `${r.inputs.slice(0, 2).join(', ')}, ... (${r.inputs.length} files)` : r.inputs.join(', ')} (${r.images} images, repeated to fill a batch)`,
    `load average (1/5/15 min): ${load(r.machine.loadavg.start)} at start, ${load(r.machine.loadavg.end)} at end; ${r.totalSeconds.toFixed(0)} s in all`,
    '',
    ...align(rows),
    '',
    `ms/img: ${r.stat === 'cpu' ? 'median process CPU' : `${r.stat} wall-clock`} ms per image of explain() on a batch of b. fwd, bwd, head: model passes per image`,
    '(counted; fwd includes the forward part of each gradient; L = backward stopped at a layer; head = runs from a',
    'layer to the output). floor: the raw cost of those passes on this backend, measured in this run: forward ms x',
    'forward-only passes + forward+backward ms x gradients + fwd+bwd-to-layer ms x L + head ms x head, each call priced',
    'at the per-image cost of its own batch size (the raw rows above are batch b). x floor = ms/img / floor.',
  ];
  if (torch) out.push('torch: ms/img of the PyTorch equivalent (same weights and images, measured in this run); x torch = tf.js / PyTorch.');
  const cut: string[] = [];
  for (const [id, m] of Object.entries(r.methods)) {
    for (const b of bs) {
      if (m.skipped[b]) cut.push(`${id} b=${b}: skipped, ${m.skipped[b]}`);
      else if (m.runs[b] === 0) cut.push(`${id} b=${b}: the warm-up run only`);
      else if (m.runs[b] !== undefined && m.runs[b] < r.repeat) cut.push(`${id} b=${b}: ${m.runs[b]} run${m.runs[b] === 1 ? '' : 's'}`);
    }
  }
  out.push(
    '',
    `Timed runs: the ${r.stat === 'cpu' ? 'median CPU time' : r.stat} of ${r.repeat} after one counted warm-up run${r.budgetSeconds ? `; slow methods get fewer (about ${r.budgetSeconds} s of runs per measurement; a warm-up longer than that is the measurement)` : ''}${r.capSeconds ? `, and a batch whose run would exceed ${r.capSeconds} s is skipped (--full runs all)` : ''}:`,
  );
  out.push(...(cut.length ? cut.map((c) => `  ${c}`) : ['  (every measurement got all its runs)']));
  if (r.leftOut?.length) out.push(`Visualizers not timed (no library counterpart; --method ID times one): ${r.leftOut.join(', ')}.`);
  const errors = Object.entries(r.methods).filter(([, m]) => m.error);
  if (errors.length) out.push('', 'Failed:', ...errors.map(([id, m]) => `  ${id}: ${m.error}`));
  if (r.torch) {
    out.push('');
    if (!r.torch.available) out.push(`PyTorch comparison skipped: ${r.torch.reason}`);
    else {
      const t = r.torch;
      out.push(
        `PyTorch ${t.torch} (numpy ${t.numpy}, python ${t.python}), ${t.threads} threads, OMP_WAIT_POLICY ${t.ompWaitPolicy ?? 'default'}, malloc ${Object.values(t.malloc ?? {}).some((v) => v) ? 'tuned' : 'default'}, logits ${t.check.ok ? 'equal' : 'DIFFER FROM'} tf.js's on ${t.check.images} images (max |diff| ${t.check.maxAbsDiff.toExponential(1)}, ${t.check.against}); load average ${load(t.loadavg.start)} .. ${load(t.loadavg.end)}.`,
        'PyTorch equivalents (minimal re-implementations; Captum, pytorch-grad-cam and Zennit are not installed):',
        ...align(
          Object.entries(r.methods)
            .filter(([, m]) => m.torch)
            .map(([id, m]) => [`  ${id}`, (m.torch as { what: string }).what]),
          2,
        ),
      );
      const tcut = Object.entries(r.methods).flatMap(([id, m]) => Object.entries(m.torch?.skipped ?? {}).map(([b, why]) => `  ${id} b=${b}: PyTorch skipped, ${why}`));
      out.push(...tcut);
    }
  }
  out.push('', 'Settings (bench defaults matching the reference calls; --set overrides):');
  out.push(...align([['  method', 'options', 'reference'], ...Object.entries(r.methods).map(([id, m]) => [`  ${id}`, formatOptions(m.options), m.reference])], 3));
  return `${out.join('\n')}\n`;
}
