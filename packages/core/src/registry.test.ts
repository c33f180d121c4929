import { describe, expect, it } from 'vitest';
import { defineExplainer } from './define-explainer.js';
import { CnnXaiError } from './errors.js';
import { opt } from './options.js';
import { createRegistry, defaultRegistry } from './registry.js';
import type { AnyExplainer } from './types.js';
import { errorOf } from '../../testing/src/index.js';

function fake(id: string, kind: AnyExplainer['kind'] = 'gradient', family = 'gradient'): AnyExplainer {
  return defineExplainer({
    id,
    name: id,
    family,
    kind,
    description: 'test',
    requires: { gradients: kind !== 'perturbation' },
    options: { steps: opt.integer({ default: 4, min: 1, description: 'steps' }) },
    explain: async () => {
      throw new Error('not run');
    },
  });
}

describe('registry', () => {
  it('registers, gets, has and lists in registration order with filters', () => {
    const a = fake('saliency');
    const b = fake('grad-cam', 'cam', 'grad-cam');
    const c = fake('occlusion', 'perturbation', 'occlusion');
    const r = createRegistry().register(a, b).register(c);
    expect(r.get('grad-cam')).toBe(b);
    expect(r.has('saliency')).toBe(true);
    expect(r.has('lime')).toBe(false);
    expect(r.list().map((e) => e.id)).toEqual(['saliency', 'grad-cam', 'occlusion']);
    expect(r.list({ kind: 'cam' })).toEqual([b]);
    expect(r.list({ family: 'occlusion' })).toEqual([c]);
    expect(r.list({ kind: 'cam', family: 'occlusion' })).toEqual([]);
  });

  it('registering the same object twice is fine; another object under a taken id is DUPLICATE_EXPLAINER', () => {
    const a = fake('saliency');
    const r = createRegistry().register(a).register(a);
    expect(r.list()).toHaveLength(1);
    const e = errorOf(() => r.register(fake('saliency')));
    expect(e.code).toBe('DUPLICATE_EXPLAINER');
    expect(e.message).toContain('"saliency"');
    expect(r.get('saliency')).toBe(a);
  });

  it('an unknown id is UNKNOWN_EXPLAINER listing the registered ids', () => {
    const r = createRegistry().register(fake('saliency'), fake('grad-cam'));
    const e = errorOf(() => r.get('gradcam'));
    expect(e.code).toBe('UNKNOWN_EXPLAINER');
    expect(e.message).toContain('"gradcam"');
    expect(e.hint).toBe('Registered: saliency, grad-cam.');
    expect(errorOf(() => createRegistry().get('x')).hint).toMatch(/No explainers are registered/);
  });

  it('registries are independent of each other and of the default one', () => {
    const r1 = createRegistry().register(fake('one'));
    const r2 = createRegistry();
    expect(r2.has('one')).toBe(false);
    expect(r1.has('one')).toBe(true);
    expect(defaultRegistry.has('one')).toBe(false);
  });
});

describe('defineExplainer', () => {
  it('rejects ids that are not kebab-case and defaults outside their spec', () => {
    expect(() => fake('GradCam')).toThrow(/kebab-case/);
    expect(() => fake('grad_cam')).toThrow(CnnXaiError);
    expect(() =>
      defineExplainer({ ...fake('ok'), options: { rule: opt.choice({ default: 'x' as 'a', choices: ['a', 'b'], description: 'r' }) } }),
    ).toThrow(/not among its choices/);
    expect(() => defineExplainer({ ...fake('ok'), options: { n: opt.number({ default: 5, max: 4, description: 'n' }) } })).toThrow(/out of range/);
  });

  it('freezes the explainer and its options', () => {
    const e = fake('frozen');
    expect(Object.isFrozen(e)).toBe(true);
    expect(Object.isFrozen(e.options)).toBe(true);
  });
});
