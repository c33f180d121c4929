/**
 * End-to-end tests of the built `cnn-xai` binary (build first: `npx tsc -p tsconfig.build.json`
 * in packages/cli; the root `pnpm test` builds everything before vitest runs).
 * Each spawn loads tf.js (about a second), so runs are few and combine several checks.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { npyToFloat32, parseNpy } from '@cnn-xai/core';
import { fixtures } from '@cnn-xai/fixtures';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const defaultModelExists = existsSync(join(fixtures.fashionCnn, 'model.json'));
const defaultImagesExist = existsSync(fixtures.fashionImages);
/** The bundled model, or the reference model of the same architecture until it exists. */
const MODEL = defaultModelExists ? fixtures.fashionCnn : join(fixtures.reference, 'model');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, CNN_XAI_DEBUG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Asserts a failed run: the exit code and exactly one `cnn-xai: ...` line on stderr, no stack. */
function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  expect(r.code, r.stderr).toBe(code);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cnn-xai: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Two 28x28 grey PNGs cut from the reference images (the same data as the fixture images). */
async function writeSampleImages(): Promise<string[]> {
  const arr = parseNpy(new Uint8Array(await readFile(join(fixtures.reference, 'images.npy'))));
  const data = npyToFloat32(arr);
  const files: string[] = [];
  for (let i = 0; i < 2; i++) {
    const png = new pngjs.PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) {
      const v = Math.round((data[i * 784 + p] as number) * 255);
      png.data.set([v, v, v, 255], 4 * p);
    }
    const file = join(dir, `sample-${i}.png`);
    await writeFile(file, pngjs.PNG.sync.write(png));
    files.push(file);
  }
  return files;
}

const readPng = async (path: string): Promise<{ width: number; height: number }> => pngjs.PNG.sync.read(await readFile(path));
const readNpy = async (path: string) => parseNpy(new Uint8Array(await readFile(path)));

let inputs: string[];
const base = (): string[] => ['--model', MODEL, '--backend', 'wasm', ...inputs.flatMap((f) => ['--input', f])];

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (cd packages/cli && npx tsc -p tsconfig.build.json).`);
  dir = await mkdtemp(join(tmpdir(), 'cnn-xai-cli-'));
  inputs = await writeSampleImages();
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cnn-xai', () => {
  it('prints help and version, and exits 2 on usage errors', async () => {
    const help = await cli(['explain', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: cnn-xai explain/);
    const version = await cli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expectOneLineError(await cli(['explain', '--bogus']), 2, /Unknown option '--bogus'.*cnn-xai explain --help/);
  });

  it('list --json lists the registered explainers with full option specs, plus --plugin modules', async () => {
    await writeFile(
      join(dir, 'my-plugin.mjs'),
      `export const mine = { id: 'my-method', name: 'Mine', family: 'test', kind: 'perturbation', description: 'a test',
         requires: { gradients: false }, options: { size: { type: 'number', default: 2, min: 1, description: 'size' } },
         explain: async () => { throw new Error('unused'); } };\n`,
    );
    const r = await cli(['list', '--json', '--plugin', './my-plugin.mjs']);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(r.stdout) as Array<{ id: string; kind: string; family: string; options: Record<string, { type: string; default: unknown }> }>;
    const ids = list.map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining(['grad-cam', 'gradient', 'gradient-x-input', 'integrated-gradients', 'my-method']));
    const ig = list.find((e) => e.id === 'integrated-gradients');
    expect(ig?.kind).toBe('gradient');
    expect(ig?.options['steps']).toMatchObject({ type: 'number', default: 50, integer: true });
    expect(ig?.options['rule']).toMatchObject({ type: 'choice', choices: expect.arrayContaining(['gauss-legendre']) });
    expect(list.find((e) => e.id === 'grad-cam')?.options['layer']).toMatchObject({ type: 'layer', default: null });
    expect(list.find((e) => e.id === 'my-method')?.options['size']).toMatchObject({ default: 2, min: 1 });
  });

  it('explain writes a .png overlay of the batch', async () => {
    const out = join(dir, 'gc.png');
    const r = await cli(['explain', ...base(), '--method', 'grad-cam', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/backend: wasm/);
    const png = await readPng(out);
    expect(png.width).toBeGreaterThanOrEqual(2 * 28 * 8); // two tiles side by side, upscaled x8
    expect(png.height).toBeGreaterThanOrEqual(28 * 8);
  });

  it('explain on the shapes fixture directory reads the images of samples.json, not the masks next to them', async () => {
    const out = join(dir, 'shapes.npy');
    const r = await cli(['explain', '--model', fixtures.shapesNet, '--input', fixtures.shapesImages, '--method', 'grad-cam', '--quiet', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const arr = parseNpy(new Uint8Array(await readFile(out)));
    expect(arr.shape).toEqual([24, 64, 64]);
  });

  it('explain writes float32 .npy attributions in the shape of the map', async () => {
    const out = join(dir, 'gc.npy');
    const r = await cli(['explain', ...base(), '-m', 'grad-cam', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const a = await readNpy(out);
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 28, 28]);
    expect(Array.from(a.data as Float32Array).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  });

  it('explain writes .json with maps and metadata', async () => {
    const out = join(dir, 'ig.json');
    const r = await cli(['explain', ...base(), '-m', 'integrated-gradients', '--set', 'steps=8', '--target', '3', '--seed', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    expect(doc).toMatchObject({ explainer: 'integrated-gradients', backend: 'wasm', model: MODEL, target: [3, 3], signed: true, shape: [2, 28, 28, 1] });
    expect(typeof doc['timeMs']).toBe('number');
    expect(doc['extras']).toBeTypeOf('object');
    const values = doc['values'] as number[][][][];
    expect(values).toHaveLength(2);
    expect(values[0]?.[27]?.[27]).toHaveLength(1);
  });

  it('explain with several methods writes one file per method id into a directory', async () => {
    const out = join(dir, 'maps');
    const r = await cli(['explain', ...base(), '-m', 'gradient', '-m', 'grad-cam', '--set', 'grad-cam.layer=conv4', '--format', 'png,npy', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const files = (await readdir(out)).sort();
    expect(files).toEqual(['grad-cam', 'grad-cam.npy', 'grad-cam.png', 'gradient', 'gradient.npy', 'gradient.png']);
    expect((await readNpy(join(out, 'gradient.npy'))).shape).toEqual([2, 28, 28, 1]);
    expect((await readNpy(join(out, 'grad-cam.npy'))).shape).toEqual([2, 28, 28]);
    expect((await readdir(join(out, 'gradient'))).sort()).toEqual(['sample-0.png', 'sample-1.png']);
  });

  it('fails with one line: unknown method (listing the registered ids) and bad option values (listing the allowed ones)', async () => {
    expectOneLineError(await cli(['explain', ...base(), '-m', 'no-such-method', '--out', 'x.png']), 1, /No explainer "no-such-method".*grad-cam.*integrated-gradients/);
    expectOneLineError(
      await cli(['explain', ...base(), '-m', 'integrated-gradients', '--set', 'rule=simpson', '--out', 'x.png']),
      1,
      /"rule".*"simpson".*riemann-left.*gauss-legendre/,
    );
  });

  it('fails with one line on a wrong-shaped .npy and on a missing file', async () => {
    const bad = join(dir, 'bad.npy');
    const { encodeNpy } = await import('@cnn-xai/core');
    await writeFile(bad, encodeNpy(new Float32Array(2 * 20 * 20), [2, 20, 20, 1]));
    expectOneLineError(
      await cli(['explain', '--model', MODEL, '--backend', 'wasm', '--input', bad, '--out', 'x.png', '--quiet']),
      1,
      /bad\.npy holds an array of shape \(2, 20, 20, 1\) but the model takes \(N, 28, 28, 1\)/,
    );
    expectOneLineError(await cli(['explain', '--model', MODEL, '--input', 'nowhere.png', '--out', 'x.png']), 1, /Input not found: nowhere\.png/);
  });

  it('bench --json reports the backend, ms per image, raw costs and passes', async () => {
    const r = await cli(['bench', ...base(), '--batch', '1', '--method', 'gradient', '--repeat', '1', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as {
      backend: string;
      batchSizes: number[];
      raw: { forwardMsPerImage: Record<string, number>; forwardBackwardMsPerImage: Record<string, number> };
      methods: Record<string, { msPerImage: Record<string, number>; forwardPasses: number; backwardPasses: number; ratioToForwardBackward: Record<string, number> }>;
    };
    expect(rep.backend).toBe('wasm');
    expect(rep.batchSizes).toEqual([1]);
    expect(rep.methods['gradient']?.msPerImage['1']).toBeGreaterThan(0);
    expect(rep.raw.forwardMsPerImage['1']).toBeGreaterThan(0);
    expect(rep.raw.forwardBackwardMsPerImage['1']).toBeGreaterThan(0);
    expect(rep.methods['gradient']).toMatchObject({ forwardPasses: 1, backwardPasses: 1 });
    expect(rep.methods['gradient']?.ratioToForwardBackward['1']).toBeGreaterThan(0);
  });

  it('bench --workers 1 times with a worker thread and still counts every pass on one thread; a bad --workers is a usage error', async () => {
    const r = await cli(['bench', ...base(), '--batch', '2', '--method', 'integrated-gradients', '--set', 'steps=4', '--repeat', '1', '--workers', '1', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { workers: number; methods: Record<string, { msPerImage: Record<string, number>; backwardPasses: number }> };
    expect(rep.workers).toBe(1);
    expect(rep.methods['integrated-gradients']?.backwardPasses).toBe(4);
    expect(rep.methods['integrated-gradients']?.msPerImage['2']).toBeGreaterThan(0);
    const bad = await cli(['explain', ...base(), '--workers', 'two', '--out', 'x.png']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers expects auto or a whole number from 0 to 64, got "two"/);
  });

  it.skipIf(!defaultModelExists || !defaultImagesExist)(
    `explain works with no --model and no --input (the bundled fixtures)${defaultModelExists && defaultImagesExist ? '' : ' [skipped: fixtures/models/fashion-cnn or fixtures/images/fashion missing]'}`,
    async () => {
      const r = await cli(['explain', '--method', 'grad-cam', '--backend', 'wasm', '--out', 'out.png']);
      expect(r.code, r.stderr).toBe(0);
      const png = await readPng(join(dir, 'out.png'));
      expect(png.width).toBeGreaterThan(28 * 8);
    },
  );
});
