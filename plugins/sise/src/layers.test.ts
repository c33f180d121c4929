import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelTap, selectBackend, type CnnXaiError } from '@cnn-xai/core';
import { TEST_MODELS, type TestModelName } from '@cnn-xai/testing';
import { blockLayers, siseLayers } from './layers.js';

const sym = (t: unknown): SymbolicTensor => t as SymbolicTensor;

/**
 * pad0 -> c1 (stride 2: its feeder is the input through a ZeroPadding2D, so no block) -> c2 ->
 * pad2 -> c3 (stride 2: feeder c2, looking through pad2) -> p1 (max pool 3, stride 1: not a
 * down-sampling) -> c4 -> pool (max 2: feeder c4; also the last 4-D layer, not added twice) ->
 * flatten -> logits.
 */
function paddedNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 1], name: 'image' });
  let x = sym(tfl.layers.zeroPadding2d({ name: 'pad0', padding: 1 }).apply(input));
  x = sym(tfl.layers.conv2d({ name: 'c1', filters: 2, kernelSize: 3, strides: 2 }).apply(x));
  x = sym(tfl.layers.conv2d({ name: 'c2', filters: 2, kernelSize: 3, padding: 'same' }).apply(x));
  x = sym(tfl.layers.zeroPadding2d({ name: 'pad2', padding: 1 }).apply(x));
  x = sym(tfl.layers.conv2d({ name: 'c3', filters: 2, kernelSize: 3, strides: 2 }).apply(x));
  x = sym(tfl.layers.maxPooling2d({ name: 'p1', poolSize: 3, strides: 1, padding: 'same' }).apply(x));
  x = sym(tfl.layers.conv2d({ name: 'c4', filters: 2, kernelSize: 3, padding: 'same' }).apply(x));
  x = sym(tfl.layers.maxPooling2d({ name: 'pool', poolSize: 2 }).apply(x));
  x = sym(tfl.layers.flatten({ name: 'flatten' }).apply(x));
  const out = sym(tfl.layers.dense({ name: 'logits', units: 3 }).apply(x));
  return tfl.model({ inputs: input, outputs: out });
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as CnnXaiError).code;
  }
  return undefined;
}

describe('SISE block-wise layer selection', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each([
    ['tinyVgg', ['conv2', 'conv3']],
    ['tinyResnet', ['block1_out', 'block2_out']], // block2's strided conv and strided projection share their feeder
    ['tinyMobilenet', ['dw1_relu', 'sep1_relu']], // the depthwise conv with stride 2
    ['tinyBranchy', ['concat', 'conv_mid']], // average pooling; the last 4-D layer before Flatten
    ['tinyNested', ['features/conv_a', 'head_conv']], // a pooling inside a nested model
  ] as Array<[TestModelName, string[]]>)('%s: %j', (name, want) => {
    const model = TEST_MODELS[name]();
    const tap = ModelTap.from(model);
    expect(blockLayers(tap).map((l) => l.name)).toEqual(want);
    tap.dispose();
    model.dispose();
  });

  it('skips the input, looks through ZeroPadding2D, ignores stride-1 pooling, adds the last block once', () => {
    const model = paddedNet();
    const tap = ModelTap.from(model);
    expect(blockLayers(tap).map((l) => l.name)).toEqual(['c2', 'c4']);
    tap.dispose();
    model.dispose();
  });

  it('the layer option: names or a comma-separated string, in execution order; typed errors', () => {
    const model = TEST_MODELS.tinyVgg();
    const tap = ModelTap.from(model);
    expect(siseLayers(tap, 'conv3, conv1').map((l) => l.name)).toEqual(['conv1', 'conv3']);
    expect(siseLayers(tap, ['pool1']).map((l) => l.name)).toEqual(['pool1']);
    expect(codeOf(() => siseLayers(tap, 'nope'))).toBe('UNKNOWN_LAYER');
    expect(codeOf(() => siseLayers(tap, 'gap'))).toBe('NO_CONV_LAYER');
    expect(codeOf(() => siseLayers(tap, ['conv1', 'conv1']))).toBe('BAD_OPTION_VALUE');
    expect(codeOf(() => siseLayers(tap, ' , '))).toBe('BAD_OPTION_VALUE');
    tap.dispose();
    model.dispose();
    const flat = TEST_MODELS.tinyNoConv();
    const flatTap = ModelTap.from(flat);
    expect(codeOf(() => blockLayers(flatTap))).toBe('NO_CONV_LAYER');
    flatTap.dispose();
    flat.dispose();
  });
});
