import { beforeAll, describe, expect, it } from 'vitest';
// @cnn-xai/testing depends on core, so core's tests import it by path (no dependency cycle).
import { tinyNested, tinyResnet } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { CnnXaiError } from '../errors.js';
import { ModelTap } from './tap.js';

describe('ModelTap.source', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('gives the tf.js layer object behind a tap name (nested layers too), null for the input and a nested model', () => {
    const resnet = tinyResnet();
    const tap = new ModelTap(resnet);
    expect(tap.source('block1_conv_a')).toBe(resnet.getLayer('block1_conv_a'));
    expect(tap.source('stem_bn')?.getClassName()).toBe('BatchNormalization');
    expect(tap.source('image')).toBeNull();
    expect(() => tap.source('nope')).toThrow(CnnXaiError);
    tap.dispose();
    resnet.dispose();

    const nested = tinyNested();
    const ntap = new ModelTap(nested);
    const features = nested.getLayer('features') as unknown as { getLayer(n: string): unknown };
    expect(ntap.source('features/conv_b')).toBe(features.getLayer('conv_b'));
    expect(ntap.source('features')).toBeNull();
    ntap.dispose();
    nested.dispose();
  });
});
