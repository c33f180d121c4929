import { createRegistry, defineExplainer, opt, type Registry } from '@cnn-xai/core';
import { describe, expect, it } from 'vitest';
import { discoverPlugins, isExplainerLike, pluginPackageNames, registerModule } from './plugins.js';

const make = (id: string) =>
  defineExplainer({
    id,
    name: id,
    family: 'test',
    kind: 'gradient',
    description: 'test explainer',
    requires: { gradients: false },
    options: { k: opt.integer({ default: 1, min: 0, description: 'k' }) },
    explain: () => Promise.reject(new Error('not for running')),
  });

describe('plugin discovery', () => {
  it('finds @cnn-xai/plugin-* dependencies only', () => {
    expect(
      pluginPackageNames({
        dependencies: { '@cnn-xai/plugin-cam': 'workspace:*', '@cnn-xai/core': 'workspace:*', pngjs: '^7' },
        optionalDependencies: { '@cnn-xai/plugin-lrp': '1', 'cnn-xai-plugin-x': '1' },
      }),
    ).toEqual(['@cnn-xai/plugin-cam', '@cnn-xai/plugin-lrp']);
  });

  it('registers through register(registry), or the explainer objects a module exports', async () => {
    const a = make('a-one');
    const b = make('b-two');
    const r = createRegistry();
    expect(await registerModule({ register: (reg: Registry) => reg.register(a) }, r, 'm1')).toEqual(['a-one']);
    expect(await registerModule({ b, more: [make('c-three')], note: 'x' }, r, 'm2')).toEqual(['b-two', 'c-three']);
    expect(await registerModule({ default: make('d-four') }, r, 'm3')).toEqual(['d-four']);
    expect(await registerModule({ b }, r, 'm4')).toEqual([]); // same object again: fine, nothing new
    await expect(registerModule({ nothing: 1 }, r, 'm5')).rejects.toThrow(/m5 exports neither/);
    expect(isExplainerLike(a)).toBe(true);
    expect(isExplainerLike({ id: 'x' })).toBe(false);
  });

  it('skips broken dependency plugins but fails on broken explicit ones', async () => {
    const r = createRegistry();
    const importModule = async (s: string): Promise<unknown> => {
      if (s === 'good') return { register: (reg: Registry) => reg.register(make('good-one')) };
      throw new Error(`Cannot find package '${s}'`);
    };
    const loads = await discoverPlugins(r, { packages: ['good', 'gone'], importModule });
    expect(loads.map((l) => [l.source, l.ids, l.error])).toEqual([
      ['good', ['good-one'], undefined],
      ['gone', [], "Cannot find package 'gone'"],
    ]);
    await expect(discoverPlugins(r, { extra: ['./missing.js'], importModule })).rejects.toThrow(/Cannot load plugin \.\/missing\.js/);
  });
});
