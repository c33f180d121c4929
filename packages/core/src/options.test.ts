import { describe, expect, it } from 'vitest';
import { CnnXaiError } from './errors.js';
import { coerceOption, opt, resolveOptions } from './options.js';
import { errorOf } from '../../testing/src/index.js';

const schema = {
  steps: opt.integer({ default: 32, min: 1, max: 1024, description: 'Path points.' }),
  noise: opt.number({ default: 0.15, min: 0, max: 1, description: 'Noise level.' }),
  relu: opt.boolean({ default: true, description: 'Rectify.' }),
  rule: opt.choice({ default: 'riemann-trapezoid', choices: ['riemann-left', 'riemann-trapezoid', 'gauss-legendre'], description: 'Rule.' }),
  baseline: opt.choiceOrValue({ default: 'zeros', choices: ['zeros', 'blur'], description: 'Baseline.' }),
  layer: opt.layer({ default: undefined, description: 'Layer.' }),
  layers: opt.layer({ default: undefined, multiple: true, description: 'Layers.' }),
  composite: opt.string({ default: 'epsilon', description: 'Name.' }),
};

describe('resolveOptions', () => {
  it('fills every default', () => {
    expect(resolveOptions('x', schema, {})).toEqual({
      steps: 32,
      noise: 0.15,
      relu: true,
      rule: 'riemann-trapezoid',
      baseline: 'zeros',
      layer: undefined,
      layers: undefined,
      composite: 'epsilon',
    });
    expect(resolveOptions('x', schema)).toHaveProperty('steps', 32);
  });

  it('keeps given values and treats undefined as "use the default"', () => {
    const r = resolveOptions('x', schema, { steps: 8, relu: false, rule: 'gauss-legendre', noise: undefined });
    expect(r).toMatchObject({ steps: 8, relu: false, rule: 'gauss-legendre', noise: 0.15 });
  });

  it('an unknown option is UNKNOWN_OPTION naming the allowed ones', () => {
    const e = errorOf(() => resolveOptions('integrated-gradients', schema, { stepz: 3 }));
    expect(e.code).toBe('UNKNOWN_OPTION');
    expect(e.message).toContain('integrated-gradients has no option "stepz"');
    expect(e.hint).toContain('steps, noise, relu, rule, baseline, layer, layers, composite');
    expect(errorOf(() => resolveOptions('plain', {}, { a: 1 })).hint).toBe('It takes no options.');
  });

  it.each([
    ['steps', 0],
    ['steps', 1025],
    ['steps', 2.5],
    ['steps', 'many'],
    ['steps', Number.NaN],
    ['steps', Infinity],
    ['noise', -0.01],
    ['noise', 1.01],
    ['relu', 'yes'],
    ['relu', 1],
    ['rule', 'simpson'],
    ['rule', 3],
    ['baseline', 'gray'],
    ['baseline', true],
    ['layer', 3],
    ['layer', ['a', 'b']],
    ['layers', []],
    ['layers', [1]],
    ['composite', 4],
  ])('%s = %j is BAD_OPTION_VALUE', (name, value) => {
    const e = errorOf(() => resolveOptions('m', schema, { [name]: value }));
    expect(e.code).toBe('BAD_OPTION_VALUE');
    expect(e.message).toContain(`"${name}"`);
    expect(e.hint).toMatch(/^Allowed: /);
  });

  it('describes what is allowed', () => {
    expect(errorOf(() => resolveOptions('m', schema, { steps: 0 })).hint).toBe('Allowed: an integer >= 1 and <= 1024.');
    expect(errorOf(() => resolveOptions('m', schema, { rule: 'x' })).hint).toContain('riemann-left, riemann-trapezoid, gauss-legendre');
  });

  it('accepts the bounds themselves', () => {
    expect(resolveOptions('m', schema, { steps: 1, noise: 0 })).toMatchObject({ steps: 1, noise: 0 });
    expect(resolveOptions('m', schema, { steps: 1024, noise: 1 })).toMatchObject({ steps: 1024, noise: 1 });
  });
});

describe('coerceOption (CLI and URL strings)', () => {
  it('parses numbers and booleans from strings', () => {
    expect(coerceOption('m', 'steps', schema.steps, '16')).toBe(16);
    expect(coerceOption('m', 'noise', schema.noise, ' 0.5 ')).toBe(0.5);
    expect(coerceOption('m', 'relu', schema.relu, 'false')).toBe(false);
    expect(coerceOption('m', 'relu', schema.relu, '1')).toBe(true);
    expect(() => coerceOption('m', 'steps', schema.steps, '')).toThrow(CnnXaiError);
    expect(() => coerceOption('m', 'steps', schema.steps, '1e9')).toThrow(/steps/);
  });

  it('splits comma lists for multi-layer options only', () => {
    expect(coerceOption('m', 'layers', schema.layers, 'conv1, conv2,')).toEqual(['conv1', 'conv2']);
    expect(coerceOption('m', 'layer', schema.layer, 'conv1,conv2')).toBe('conv1,conv2');
    expect(coerceOption('m', 'layers', schema.layers, ['a'])).toEqual(['a']);
  });

  it('choice-or-value accepts arrays, typed arrays and numbers from the API', () => {
    const arr = [0, 1];
    expect(coerceOption('m', 'baseline', schema.baseline, arr)).toBe(arr);
    const typed = new Float32Array(2);
    expect(coerceOption('m', 'baseline', schema.baseline, typed)).toBe(typed);
    expect(coerceOption('m', 'baseline', schema.baseline, 0.5)).toBe(0.5);
    expect(() => coerceOption('m', 'baseline', schema.baseline, null)).toThrow(CnnXaiError);
  });
});
