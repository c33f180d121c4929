/**
 * The evaluate and report commands, run in-process through `main` (no build needed: vitest
 * resolves the workspace packages to their sources).
 */
import { mkdtemp, readFile, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npyToFloat32, parseNpy } from '@cnn-xai/core';
import { fixtures } from '@cnn-xai/fixtures';
import type { EvaluationReport } from '@cnn-xai/metrics';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import { writeNpyFile } from '../npy.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s), isTTY: false } };
  const code = await main(args, io, { ...process.env, CNN_XAI_DEBUG: '' });
  return { code, stdout, stderr };
}

let dir: string;
/** Three fashion sample images as PNG, their masks (pixel > 0.3) as PNG, and boxes. */
let images: string[];
let masks: string[];

function png(width: number, height: number, grey: (p: number) => number): Buffer {
  const img = new pngjs.PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    const v = grey(p);
    img.data.set([v, v, v, 255], 4 * p);
  }
  return pngjs.PNG.sync.write(img);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnn-xai-evaluate-'));
  const arr = parseNpy(new Uint8Array(await readFile(join(fixtures.reference, 'images.npy'))));
  const data = npyToFloat32(arr);
  images = [];
  masks = [];
  const boxes: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const px = (p: number): number => data[i * 784 + p] as number;
    images.push(join(dir, `img-${i}.png`));
    masks.push(join(dir, `img-${i}-mask.png`));
    await writeFile(images[i] as string, png(28, 28, (p) => Math.round(px(p) * 255)));
    await writeFile(masks[i] as string, png(28, 28, (p) => (px(p) > 0.3 ? 255 : 0)));
    boxes.push([4 + i, 4, 20, 22]);
  }
  await writeFile(join(dir, 'boxes.json'), JSON.stringify(boxes));
  // The shapes fixture's layout: images, mask PNGs and samples.json in one directory.
  await mkdir(join(dir, 'set'));
  const samples = [];
  for (let i = 0; i < 2; i++) {
    await copyFile(images[i] as string, join(dir, 'set', `img-${i}.png`));
    await copyFile(masks[i] as string, join(dir, 'set', `img-${i}-mask.png`));
    samples.push({ file: `img-${i}.png`, mask: `img-${i}-mask.png`, label: i, className: `c${i}`, box: boxes[i] });
  }
  await writeFile(join(dir, 'set', 'samples.json'), JSON.stringify(samples));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (): string[] => ['--quiet', '--backend', 'wasm', ...images.flatMap((f) => ['--input', f])];

describe('cnn-xai evaluate', () => {
  it('on the fashion fixture (default model and images) writes valid JSON', async () => {
    const out = join(dir, 'eval.json');
    const r = await cli(['evaluate', '--quiet', '--backend', 'wasm', '--images', '3', '-m', 'gradient', '-m', 'grad-cam', '--set', 'step=49', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const report = JSON.parse(await readFile(out, 'utf8')) as EvaluationReport;
    expect(report.schema).toBe('cnn-xai/evaluation@1');
    expect(report.images).toBe(3);
    expect(report.inputShape).toEqual([3, 28, 28, 1]);
    expect(report.meta['model']).toBe('fixtures/models/fashion-cnn');
    expect(report.metrics.map((m) => m.id)).toEqual(['deletion', 'insertion', 'average-drop', 'increase-in-confidence']);
    expect(report.metrics[0]?.resolved?.['step']).toBe(49);
    expect(report.methods.map((m) => m.id)).toEqual(['gradient', 'grad-cam']);
    for (const m of report.methods) {
      expect(m.error).toBeUndefined();
      for (const e of Object.values(m.metrics)) {
        expect(e.error).toBeUndefined();
        expect(typeof e.value).toBe('number');
        expect(e.perImage).toHaveLength(3);
      }
      expect(m.metrics['deletion']?.value).toBeGreaterThanOrEqual(0);
      expect(m.metrics['deletion']?.value).toBeLessThanOrEqual(1);
    }
  });

  it('localisation metrics with --masks PNGs and --boxes JSON; a Markdown table on stdout', async () => {
    const r = await cli([
      'evaluate',
      ...base(),
      '-m',
      'grad-cam',
      '--metric',
      'pointing-game,ebpg',
      '--metric',
      'bbox',
      '--metric',
      'miou',
      ...masks.flatMap((m) => ['--masks', m]),
      '--boxes',
      join(dir, 'boxes.json'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| method \| Pointing game ↑ \| Energy-based pointing game ↑ \| Bbox ↑ \| mIoU ↑ \| explain ms \|/);
    expect(r.stdout).toMatch(/\| `grad-cam` \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| \d+ \|/);
  });

  it('masks from a .npy (N, H, W) array; a wrong count names the expected shape', async () => {
    const data = new Uint8Array(3 * 784);
    for (let i = 0; i < 3; i++) for (let p = 0; p < 784; p++) data[i * 784 + p] = p % 28 > 14 ? 1 : 0;
    await writeNpyFile(join(dir, 'masks.npy'), data, [3, 28, 28]);
    await writeNpyFile(join(dir, 'masks2.npy'), data.slice(0, 2 * 784), [2, 28, 28]);
    const ok = await cli(['evaluate', ...base(), '-m', 'gradient', '--metric', 'ebpg', '--masks', join(dir, 'masks.npy'), '--out', '-']);
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as EvaluationReport;
    expect(report.groundTruth).toEqual({ masks: true, boxes: false });
    expect(report.methods[0]?.metrics['energy-pointing-game']?.perImage).toHaveLength(3);
    const bad = await cli(['evaluate', ...base(), '-m', 'gradient', '--metric', 'ebpg', '--masks', join(dir, 'masks2.npy')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/holds 2 masks for 3 images; expected shape \(3, 28, 28\)/);
  });

  it('reads a directory with samples.json: its files are the inputs (not the masks), with masks, boxes and labels', async () => {
    const out = join(dir, 'set.json');
    const r = await cli(['evaluate', '--quiet', '--backend', 'wasm', '--input', join(dir, 'set'), '-m', 'gradient', '--metric', 'pointing-game', '--metric', 'bbox', '--target', 'label', '--summary', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(out, 'utf8')) as EvaluationReport;
    expect(report.images).toBe(2);
    expect(report.classes).toEqual([0, 1]);
    expect(report.groundTruth).toEqual({ masks: true, boxes: true });
    expect(report.methods[0]?.metrics['bbox']?.perImage).toBeUndefined(); // --summary
    expect(typeof report.methods[0]?.metrics['pointing-game']?.value).toBe('number');
  });

  it('one-line errors: ground-truth metrics without ground truth, mask size, unknown metric, bad --out, unknown --set key', async () => {
    const noGt = await cli(['evaluate', ...base(), '-m', 'gradient', '--metric', 'bbox']);
    expect(noGt.code).toBe(2);
    expect(noGt.stderr).toMatch(/^cnn-xai: bbox needs ground truth: give --masks or --boxes/);
    const big = join(dir, 'big-mask.png');
    await writeFile(big, png(32, 32, () => 255));
    const size = await cli(['evaluate', ...base(), '-m', 'gradient', '--metric', 'ebpg', '--masks', big, '--masks', masks[1] as string, '--masks', masks[2] as string]);
    expect(size.code).toBe(1);
    expect(size.stderr.trim().split('\n')).toHaveLength(1);
    expect(size.stderr).toMatch(/big-mask.png is 32x32; expected 28x28/);
    const unknown = await cli(['evaluate', ...base(), '--metric', 'auc']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No metric "auc".*deletion, insertion/);
    const badOut = await cli(['evaluate', ...base(), '--out', join(dir, 'x.txt')]);
    expect(badOut.code).toBe(2);
    expect(badOut.stderr).toMatch(/--out expects a \.json or \.md file/);
    const badSet = await cli(['evaluate', ...base(), '-m', 'gradient', '--set', 'nonsense=1']);
    expect(badSet.code).toBe(1);
    expect(badSet.stderr).toMatch(/No method or metric of this run has an option "nonsense"/);
    const badValue = await cli(['evaluate', ...base(), '-m', 'gradient', '--set', 'deletion.baseline=noise']);
    expect(badValue.code).toBe(1);
    expect(badValue.stderr).toMatch(/Option "baseline" of deletion got "noise"/);
  });

  it('help texts', async () => {
    const r = await cli(['evaluate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: cnn-xai evaluate/);
    expect(r.stdout).toMatch(/sanity-cascading/);
    const rr = await cli(['help', 'report']);
    expect(rr.stdout).toMatch(/Usage: cnn-xai report/);
  });
});

describe('cnn-xai report (and evaluate --all)', () => {
  it('writes report.json and report.md into a directory', async () => {
    const out = join(dir, 'report');
    const r = await cli(['report', '--quiet', '--backend', 'wasm', '--fixture', 'fashion', '-m', 'gradient', '-m', 'grad-cam', '--images', '2', '--metric', 'deletion,average-drop', '--set', 'step=98', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvaluationReport;
    expect(report.meta['fixture']).toBe('fashion');
    expect(report.meta['mode']).toBe('fast');
    expect(report.methods.map((m) => m.id)).toEqual(['gradient', 'grad-cam']);
    const md = await readFile(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/^## Evaluation of 2 methods on the fashion fixture/);
    expect(md).toMatch(/\| `grad-cam` \|/);
  });

  it('evaluate --all runs every registered method, every metric that applies (fast presets)', async () => {
    const out = join(dir, 'all.json');
    const r = await cli([
      'evaluate',
      '--all',
      '--quiet',
      '--backend',
      'wasm',
      '--fixture',
      'fashion',
      '--images',
      '1',
      '--metric',
      'deletion',
      '--set',
      'step=392',
      '--set',
      'steps=2',
      '--set',
      'samples=2',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(out, 'utf8')) as EvaluationReport;
    expect(report.methods.length).toBeGreaterThanOrEqual(10);
    expect(report.methods.map((m) => m.id)).toContain('score-cam');
    // A method that does not apply to this model (e.g. one that needs an attention gate) is recorded with its error.
    for (const id of ['grad-cam', 'score-cam', 'gradient', 'integrated-gradients']) {
      expect(report.methods.find((m) => m.id === id)?.error, id).toBeUndefined();
    }
    expect(report.methods.filter((m) => !m.error).length).toBeGreaterThanOrEqual(10);
    expect(existsSync(join(dir, 'all.md'))).toBe(true);
  });
});
