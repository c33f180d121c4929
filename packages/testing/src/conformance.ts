import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  blackBox,
  BlackBoxModel,
  coerceOption,
  explain,
  isCnnXaiError,
  ModelTap,
  resolveOptions,
  selectBackend,
  type AnyExplainer,
  type Attribution,
  type BackendName,
  type ErrorCode,
  type ExplainRequest,
  type OptionSpec,
  type Registry,
} from '@cnn-xai/core';
import { expectNoLeakedTensors } from './leaks.js';
import { inputFor, TEST_MODELS, type TestModelName } from './models.js';

/**
 * The explainer conformance suite (DESIGN.md section 7). Every check is an exported async
 * function that throws (a vitest assertion error) when the explainer breaks the contract, so a
 * plugin can call one directly; `describeExplainer` registers all of them as separate tests.
 */

/** A model to run the suite on: a name from TEST_MODELS, or your own factory. */
export interface ModelCase {
  name: string;
  /** Builds the model; the suite disposes it afterwards. */
  create(): LayersModel;
  /** An input batch of n images (default: `inputFor(model, n, seed)`, values in [0, 1]). */
  input?(n: number, model: LayersModel): tf.Tensor4D;
}

export interface ConformanceOptions {
  /** Default: tinyVgg and tinyResnet. */
  models?: ReadonlyArray<TestModelName | ModelCase>;
  /** Options passed to every explain call, e.g. `{ steps: 8 }` to keep heavy methods small. */
  explainOptions?: Record<string, unknown>;
  /**
   * Backends to run on (default wasm then cpu). The first runs every check; the others run the
   * output (shape, dtype, finite) and leak checks.
   */
  backends?: readonly BackendName[];
  /** Skip the determinism check (and batch-equals-per-image); the reason is printed. */
  skipDeterminism?: string;
  /** Skip only batch-equals-per-image (e.g. a method that draws one noise batch); the reason is printed. */
  skipBatchEquality?: string;
  /** Relative tolerance of batch-equals-per-image (default 1e-4). */
  perImageTolerance?: number;
  /** Seed passed to explain (default 7). */
  seed?: number;
  /** Registry for explainers that compose others (guided Grad-CAM). */
  registry?: Registry;
  /**
   * Also run the checks on each model seen as a black box: `blackBox(async (x) => tap.predict(x),
   * { inputShape, numClasses, batchSize: 5 })`, so the explainer gets only scores, asynchronously
   * and in chunks (`true`: the model and the black box; `'only'`: the black box alone). An
   * explainer that needs gradients, layers or the graph is instead checked to refuse the black
   * box with UNSUPPORTED_MODEL and to leak nothing.
   */
  blackBox?: boolean | 'only';
}

/** What every check needs: an explainer, a model (or tap) and an input batch (N >= 2 for batch checks). */
export interface CheckSetup {
  explainer: AnyExplainer;
  model: LayersModel | ModelTap | BlackBoxModel;
  input: tf.Tensor4D;
  /** Explainer options for every call. */
  options?: Record<string, unknown>;
  seed?: number;
  registry?: Registry;
}

const DEFAULT_MODELS: readonly TestModelName[] = ['tinyVgg', 'tinyResnet'];
const DEFAULT_BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

function layersModelOf(model: LayersModel | ModelTap): LayersModel {
  return model instanceof ModelTap ? model.model : model;
}

/** Number of classes of the model's output (its last dimension; a black box's `numClasses`). */
export function classCount(model: LayersModel | ModelTap | BlackBoxModel): number {
  if (model instanceof BlackBoxModel) {
    if (model.numClasses === null) throw new Error('conformance: a black box needs numClasses (blackBox(fn, { numClasses }))');
    return model.numClasses;
  }
  const shape = layersModelOf(model).outputs[0]?.shape;
  const k = shape?.[shape.length - 1];
  if (typeof k !== 'number') throw new Error('conformance: the model output has no fixed class dimension');
  return k;
}

/** Distinct, non-trivial targets for n images: K-1, K-2, ... (mod K). */
export function requestedTargets(n: number, k: number): number[] {
  return Array.from({ length: n }, (_, i) => (((k - 1 - i) % k) + k) % k);
}

function request(s: CheckSetup, extra: Partial<ExplainRequest> = {}): ExplainRequest {
  return {
    model: s.model,
    input: s.input,
    target: requestedTargets(s.input.shape[0], classCount(s.model)),
    options: s.options ?? {},
    seed: s.seed ?? 7,
    ...(s.registry ? { registry: s.registry } : {}),
    ...extra,
  };
}

/** Runs explain, hands the result to `use`, and always disposes it. */
async function withResult<T>(s: CheckSetup, extra: Partial<ExplainRequest>, use: (r: Attribution) => T | Promise<T>): Promise<T> {
  const r = await explain(s.explainer, request(s, extra));
  try {
    return await use(r);
  } finally {
    r.dispose();
  }
}

async function valuesOf(r: Attribution): Promise<Float32Array> {
  return Float32Array.from(await r.values.data());
}

/** Rejects unless `p` rejects with a CnnXaiError of `code`; returns the error. */
async function expectCode(p: Promise<unknown>, code: ErrorCode, what: string): Promise<unknown> {
  let error: unknown;
  try {
    const r = await p;
    (r as Attribution | undefined)?.dispose?.();
  } catch (e) {
    error = e;
  }
  expect(error, `${what}: expected a CnnXaiError ${code}, but explain resolved`).toBeDefined();
  expect(isCnnXaiError(error), `${what}: expected a CnnXaiError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code, `${what}: wrong error code (${String((error as Error).message)})`).toBe(code);
  return error;
}

/**
 * Output contract: values are a float32 tensor `[N, H, W]` or `[N, H, W, C]` (C = 1 or the
 * input's channels) at the input's H and W; every value is finite; `signed` is a boolean and an
 * unsigned map has no negative value; the reported target equals the requested classes; the
 * explainer id is reported.
 */
export async function checkOutput(s: CheckSetup): Promise<void> {
  const [n, h, w, c] = s.input.shape;
  const targets = requestedTargets(n, classCount(s.model));
  await withResult(s, { target: targets }, async (r) => {
    const id = s.explainer.id;
    expect(r.values, `${id}: values is not a tensor`).toBeInstanceOf(tf.Tensor);
    expect(r.values.dtype, `${id}: values dtype`).toBe('float32');
    const shape = r.values.shape;
    expect([3, 4], `${id}: values rank ${shape.length} (shape [${shape.join(', ')}]); expected [N,H,W] or [N,H,W,C]`).toContain(shape.length);
    expect(shape.slice(0, 3), `${id}: values shape [${shape.join(', ')}] does not match the input [${n}, ${h}, ${w}, ...]`).toEqual([n, h, w]);
    if (shape.length === 4) {
      expect([1, c], `${id}: values have ${shape[3]} channels; expected 1 or the input's ${c}`).toContain(shape[3]);
    }
    const v = await valuesOf(r);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    expect(bad, `${id}: values[${bad}] = ${v[bad]} is not finite`).toBe(-1);
    expect(typeof r.signed, `${id}: signed must be a boolean`).toBe('boolean');
    if (!r.signed) {
      const neg = v.findIndex((x) => x < 0);
      expect(neg, `${id}: signed is false but values[${neg}] = ${v[neg]} is negative`).toBe(-1);
    }
    expect(r.target, `${id}: the reported target differs from the requested classes`).toEqual(targets);
    expect(r.explainer, `${id}: the result names another explainer`).toBe(id);
  });
}

/** Two runs with the same seed give bit-identical values. */
export async function checkDeterminism(s: CheckSetup): Promise<void> {
  const a = await withResult(s, {}, valuesOf);
  const b = await withResult(s, {}, valuesOf);
  expect(b.length, 'values size differs between runs').toBe(a.length);
  const i = a.findIndex((x, j) => !Object.is(x, b[j]));
  expect(i, `${s.explainer.id}: two runs with seed ${s.seed ?? 7} differ at ${i} (${a[i]} vs ${b[i]})`).toBe(-1);
}

/**
 * Explaining N images at once equals explaining each image alone (same seed, same targets),
 * within `tolerance` relative to each image's largest absolute value.
 */
export async function checkBatchEqualsPerImage(s: CheckSetup, tolerance = 1e-4): Promise<void> {
  const n = s.input.shape[0];
  expect(n, 'batch check needs an input batch of at least 2').toBeGreaterThanOrEqual(2);
  const targets = requestedTargets(n, classCount(s.model));
  const batch = await withResult(s, { target: targets }, valuesOf);
  const per = batch.length / n;
  for (let i = 0; i < n; i++) {
    const one = tf.slice(s.input, [i, 0, 0, 0], [1, -1, -1, -1]);
    let single: Float32Array;
    try {
      single = await withResult({ ...s, input: one }, { input: one, target: [targets[i] as number] }, valuesOf);
    } finally {
      one.dispose();
    }
    expect(single.length, `${s.explainer.id}: a single image's map has ${single.length} values, the batch's ${per} per image`).toBe(per);
    let scale = 0;
    let worst = 0;
    let at = -1;
    for (let j = 0; j < per; j++) {
      const x = batch[i * per + j] as number;
      const y = single[j] as number;
      scale = Math.max(scale, Math.abs(x), Math.abs(y));
      const d = Math.abs(x - y);
      if (!(d <= worst)) {
        worst = d;
        at = j;
      }
    }
    const bound = tolerance * scale + 1e-7;
    expect(
      worst <= bound,
      `${s.explainer.id}: image ${i} explained in a batch differs from alone by ${worst} at ${at} (bound ${bound.toExponential(2)}, map scale ${scale})`,
    ).toBe(true);
  }
}

/** An already-aborted signal makes explain reject with ABORTED and leak nothing. */
export async function checkAbort(s: CheckSetup): Promise<void> {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await expectNoLeakedTensors(() => expectCode(explain(s.explainer, request(s, { signal: controller.signal })), 'ABORTED', 'aborted signal'), {
    what: `${s.explainer.id} with an aborted signal`,
  });
}

/** onProgress gets values in [0, 1], non-decreasing, the last being 1. */
export async function checkProgress(s: CheckSetup): Promise<void> {
  const seen: number[] = [];
  await withResult(s, { onProgress: (f) => seen.push(f) }, () => undefined);
  const id = s.explainer.id;
  expect(seen.length, `${id}: onProgress was never called`).toBeGreaterThan(0);
  expect(seen[seen.length - 1], `${id}: the last progress report is not 1 (${seen.join(', ')})`).toBe(1);
  const out = seen.findIndex((f) => !(f >= 0 && f <= 1));
  expect(out, `${id}: progress ${seen[out]} is outside [0, 1]`).toBe(-1);
  const down = seen.findIndex((f, i) => i > 0 && f < (seen[i - 1] as number));
  expect(down, `${id}: progress went down: ${seen.join(', ')}`).toBe(-1);
}

/** explain + result.dispose() leaves tf.memory().numTensors unchanged (after one warm-up run). */
export async function checkNoLeaks(s: CheckSetup): Promise<void> {
  await withResult(s, {}, () => undefined);
  await expectNoLeakedTensors(() => withResult(s, {}, () => undefined), { what: `${s.explainer.id}: explain + dispose` });
}

/**
 * When explain throws, nothing leaks: an unknown option (UNKNOWN_OPTION), a number option out of
 * range (BAD_OPTION_VALUE), a layer that does not exist (UNKNOWN_LAYER, for explainers with a
 * `layer` option), a target outside the classes (BAD_TARGET) and an input of the wrong shape
 * (BAD_INPUT_SHAPE).
 */
export async function checkNoLeaksOnError(s: CheckSetup): Promise<void> {
  const id = s.explainer.id;
  const base = s.options ?? {};
  const cases: Array<{ what: string; code: ErrorCode; req: () => ExplainRequest }> = [
    { what: 'an unknown option', code: 'UNKNOWN_OPTION', req: () => request(s, { options: { ...base, notAnOption__: 1 } }) },
    { what: 'a target outside the classes', code: 'BAD_TARGET', req: () => request(s, { target: classCount(s.model) }) },
  ];
  const number = Object.entries(s.explainer.options as Record<string, OptionSpec>).find(
    ([, spec]) => spec.type === 'number' && (spec.min !== undefined || spec.max !== undefined),
  );
  if (number) {
    const [name, spec] = number as [string, Extract<OptionSpec, { type: 'number' }>];
    const value = spec.min !== undefined ? spec.min - 1 : (spec.max as number) + 1;
    cases.push({ what: `${name}=${value}`, code: 'BAD_OPTION_VALUE', req: () => request(s, { options: { ...base, [name]: value } }) });
  }
  const layer = Object.entries(s.explainer.options as Record<string, OptionSpec>).find(([, spec]) => spec.type === 'layer');
  if (layer) {
    cases.push({ what: `${layer[0]}=no_such_layer`, code: 'UNKNOWN_LAYER', req: () => request(s, { options: { ...base, [layer[0]]: 'no_such_layer' } }) });
  }
  const [n, h, w, c] = s.input.shape;
  const wrong = tf.zeros([n, h + 2, w, c]);
  cases.push({ what: 'an input of the wrong shape', code: 'BAD_INPUT_SHAPE', req: () => request(s, { input: wrong }) });
  try {
    for (const k of cases) {
      await expectNoLeakedTensors(() => expectCode(explain(s.explainer, k.req()), k.code, `${id} given ${k.what}`), {
        what: `${id} given ${k.what} (throws)`,
      });
    }
  } finally {
    wrong.dispose();
  }
}

/** True when an explainer needs more than scores (gradients, a layer's activations or the graph). */
export function needsWhiteBox(explainer: AnyExplainer): boolean {
  const { gradients, layer, graph } = explainer.requires;
  return Boolean(gradients || layer || graph);
}

/**
 * A model seen only through its scores: `blackBox(async (x) => tap.predict(x), ...)` with the
 * model's input shape and classes, and a small batchSize (default 5) so that larger batches reach
 * the explainer in chunks. Given a LayersModel, the caller disposes the returned (new) tap; given a
 * tap, that same tap is returned. The black box itself holds no tensors.
 */
export function asBlackBox(model: LayersModel | ModelTap, batchSize = 5): { box: BlackBoxModel; tap: ModelTap } {
  const tap = model instanceof ModelTap ? model : ModelTap.from(model);
  const inputShape = tap.inputShape.map((d) => {
    if (typeof d !== 'number') throw new Error('conformance: the model input has no fixed [H, W, C] shape');
    return d;
  });
  const box = blackBox(async (x) => tap.predict(x), { inputShape, numClasses: classCount(model), batchSize, name: `${tap.model.name} (black box)` });
  return { box, tap };
}

/**
 * An explainer that needs more than scores refuses a black box: explain rejects with
 * UNSUPPORTED_MODEL before running, and nothing leaks.
 */
export async function checkRefusesBlackBox(s: CheckSetup): Promise<void> {
  await expectNoLeakedTensors(() => expectCode(explain(s.explainer, request(s)), 'UNSUPPORTED_MODEL', `${s.explainer.id} on a black box`), {
    what: `${s.explainer.id} on a black box (refused)`,
  });
}

/** resolveOptions(schema, {}) gives every option its declared default, and each default is valid. */
export function checkOptionDefaults(explainer: AnyExplainer): void {
  const schema = explainer.options as Record<string, OptionSpec>;
  const resolved = resolveOptions(explainer.id, schema, {}) as Record<string, unknown>;
  expect(Object.keys(resolved).sort(), `${explainer.id}: resolved options`).toEqual(Object.keys(schema).sort());
  for (const [name, spec] of Object.entries(schema)) {
    expect(typeof spec.description === 'string' && spec.description.length > 0, `${explainer.id}: option "${name}" has no description`).toBe(true);
    expect(resolved[name], `${explainer.id}: default of "${name}"`).toBe(spec.default);
    if (spec.default !== undefined) {
      expect(() => coerceOption(explainer.id, name, spec, spec.default), `${explainer.id}: default of "${name}" fails its own spec`).not.toThrow();
    }
  }
}

function expectOptionError(explainer: AnyExplainer, given: Record<string, unknown>, code: ErrorCode): void {
  let error: unknown;
  try {
    resolveOptions(explainer.id, explainer.options, given);
  } catch (e) {
    error = e;
  }
  expect(isCnnXaiError(error, code), `${explainer.id}: ${JSON.stringify(given)} should be rejected with ${code}, got ${String(error)}`).toBe(true);
}

/**
 * Validation of every option: an unknown name is UNKNOWN_OPTION; a number below its min or above
 * its max (or a fraction for an integer), a choice not among the choices, and a non-boolean for a
 * boolean are BAD_OPTION_VALUE; the bounds themselves are accepted.
 */
export function checkOptionValidation(explainer: AnyExplainer): void {
  expectOptionError(explainer, { notAnOption__: 1 }, 'UNKNOWN_OPTION');
  for (const [name, spec] of Object.entries(explainer.options as Record<string, OptionSpec>)) {
    switch (spec.type) {
      case 'number':
        if (spec.min !== undefined) {
          expectOptionError(explainer, { [name]: spec.min - 1 }, 'BAD_OPTION_VALUE');
          expect(() => resolveOptions(explainer.id, explainer.options, { [name]: spec.min })).not.toThrow();
        }
        if (spec.max !== undefined) {
          expectOptionError(explainer, { [name]: spec.max + 1 }, 'BAD_OPTION_VALUE');
          expect(() => resolveOptions(explainer.id, explainer.options, { [name]: spec.max })).not.toThrow();
        }
        if (spec.integer) expectOptionError(explainer, { [name]: spec.default + 0.5 }, 'BAD_OPTION_VALUE');
        expectOptionError(explainer, { [name]: 'not a number' }, 'BAD_OPTION_VALUE');
        break;
      case 'choice':
      case 'choice-or-value':
        expectOptionError(explainer, { [name]: 'not-a-choice__' }, 'BAD_OPTION_VALUE');
        for (const c of spec.choices) expect(() => resolveOptions(explainer.id, explainer.options, { [name]: c })).not.toThrow();
        break;
      case 'boolean':
        expectOptionError(explainer, { [name]: 'maybe' }, 'BAD_OPTION_VALUE');
        break;
      default:
        break;
    }
  }
}

function toCase(m: TestModelName | ModelCase): ModelCase {
  if (typeof m !== 'string') return m;
  const create = TEST_MODELS[m];
  if (!create) throw new Error(`describeExplainer: no test model "${m}" (have ${Object.keys(TEST_MODELS).join(', ')})`);
  return { name: m, create };
}

function activeBackend(): string | null {
  return (tf.engine() as unknown as { backendName: string | null }).backendName ?? null;
}

/**
 * Registers the conformance suite for one explainer as a vitest `describe` block:
 *
 * ```ts
 * describeExplainer(integratedGradients, { explainOptions: { steps: 8 } });
 * ```
 *
 * On the first backend every check runs for every model (batch of 2); on the others the output
 * and leak checks. The previous backend is restored after each backend's block.
 */
export function describeExplainer(explainer: AnyExplainer, options: ConformanceOptions = {}): void {
  const models = (options.models ?? DEFAULT_MODELS).map(toCase);
  const backends = options.backends ?? DEFAULT_BACKENDS;
  const seed = options.seed ?? 7;
  const tolerance = options.perImageTolerance ?? 1e-4;
  const modes: ReadonlyArray<'model' | 'black box'> =
    options.blackBox === 'only' ? ['black box'] : options.blackBox ? ['model', 'black box'] : ['model'];
  describe(`${explainer.id} conformance`, () => {
    it('option defaults resolve', () => checkOptionDefaults(explainer));
    it('options are validated (unknown names, out-of-range numbers, bad choices)', () => checkOptionValidation(explainer));
    backends.forEach((backend, bi) => {
      const full = bi === 0;
      describe(`on ${backend}`, () => {
        const built = new Map<string, { model: LayersModel; input: tf.Tensor4D; box?: BlackBoxModel; tap?: ModelTap }>();
        let previous: string | null = null;
        beforeAll(async () => {
          previous = activeBackend();
          await selectBackend(backend);
          for (const m of models) {
            const model = m.create();
            const input = m.input ? m.input(2, model) : inputFor(model, 2, seed);
            built.set(m.name, { model, input, ...(modes.includes('black box') ? asBlackBox(model) : {}) });
          }
          if (full && options.skipDeterminism) console.info(`[${explainer.id}] determinism checks skipped: ${options.skipDeterminism}`);
          if (full && options.skipBatchEquality) console.info(`[${explainer.id}] batch-equals-per-image skipped: ${options.skipBatchEquality}`);
        });
        afterAll(async () => {
          for (const { model, input, tap } of built.values()) {
            input.dispose();
            tap?.dispose();
            model.dispose();
          }
          built.clear();
          if (previous && previous !== backend) await tf.setBackend(previous);
        });
        for (const m of models) {
          for (const mode of modes) {
            describe(mode === 'model' ? m.name : `${m.name} (black box)`, () => {
              const setup = (): CheckSetup => {
                const b = built.get(m.name);
                if (!b) throw new Error(`conformance: model ${m.name} was not built`);
                const model = mode === 'model' ? b.model : b.box;
                if (!model) throw new Error(`conformance: no black box for ${m.name}`);
                return {
                  explainer,
                  model,
                  input: b.input,
                  ...(options.explainOptions ? { options: options.explainOptions } : {}),
                  seed,
                  ...(options.registry ? { registry: options.registry } : {}),
                };
              };
              if (mode === 'black box' && needsWhiteBox(explainer)) {
                it('refuses a black box (UNSUPPORTED_MODEL) and leaks nothing', () => checkRefusesBlackBox(setup()));
                return;
              }
              it('values: float32, input H x W, finite, sign honoured, requested targets', () => checkOutput(setup()));
              it('leaks no tensors (explain + dispose)', () => checkNoLeaks(setup()));
              if (!full) return;
              it('leaks no tensors when explain throws (bad option, layer, target, input shape)', () => checkNoLeaksOnError(setup()));
              if (options.skipDeterminism) {
                it.skip(`deterministic under a seed (skipped: ${options.skipDeterminism})`, () => {});
              } else {
                it('deterministic under a seed', () => checkDeterminism(setup()));
              }
              const skipBatch = options.skipDeterminism ?? options.skipBatchEquality;
              if (skipBatch) {
                it.skip(`batch equals per-image (skipped: ${skipBatch})`, () => {});
              } else {
                it('batch equals per-image', () => checkBatchEqualsPerImage(setup(), tolerance));
              }
              it('an aborted signal rejects with ABORTED and leaks nothing', () => checkAbort(setup()));
              it('progress: in [0, 1], non-decreasing, ends at 1', () => checkProgress(setup()));
            });
          }
        }
      });
    });
  });
}
