import { describe, expect, it } from 'vitest';
import { gaussLegendre, quadrature, RULES } from './quadrature.js';

describe('integration rules', () => {
  it('Gauss-Legendre nodes and weights match the closed forms for n = 2 and 3', () => {
    const two = gaussLegendre(2);
    expect(two.nodes[0]).toBeCloseTo(-1 / Math.sqrt(3), 12);
    expect(two.nodes[1]).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(two.weights).toEqual([expect.closeTo(1, 12), expect.closeTo(1, 12)]);
    const three = gaussLegendre(3);
    expect(three.nodes[0]).toBeCloseTo(-Math.sqrt(3 / 5), 12);
    expect(three.nodes[1]).toBeCloseTo(0, 12);
    expect(three.weights[0]).toBeCloseTo(5 / 9, 12);
    expect(three.weights[1]).toBeCloseTo(8 / 9, 12);
  });

  it('n-point Gauss-Legendre integrates polynomials of degree 2n-1 exactly on [0, 1]', () => {
    for (const n of [1, 4, 10, 50]) {
      const { alphas, weights } = quadrature('gauss-legendre', n);
      const deg = 2 * n - 1;
      const approx = alphas.reduce((s, a, i) => s + (weights[i] as number) * a ** deg, 0);
      expect(approx).toBeCloseTo(1 / (deg + 1), 10);
    }
  });

  it('every rule has weights summing to 1 and points inside [0, 1]', () => {
    for (const rule of RULES) {
      const { alphas, weights } = quadrature(rule, 7);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(alphas.every((a) => a >= 0 && a <= 1)).toBe(true);
      expect(alphas).toHaveLength(7);
    }
  });

  it('Riemann points are Captum\'s: left, right, middle and trapezoid grids for n = 4', () => {
    expect(quadrature('riemann-left', 4).alphas).toEqual([0, 0.25, 0.5, 0.75]);
    expect(quadrature('riemann-right', 4).alphas).toEqual([0.25, 0.5, 0.75, 1]);
    expect(quadrature('riemann-middle', 4).alphas).toEqual([0.125, 0.375, 0.625, 0.875]);
    const trap = quadrature('riemann-trapezoid', 4);
    expect(trap.alphas).toEqual([0, 1 / 3, 2 / 3, 1]);
    expect(trap.weights).toEqual([1 / 6, 1 / 3, 1 / 3, 1 / 6]);
  });

  it('the trapezoid is exact for linear integrands and midpoint converges as O(1/n^2)', () => {
    const f = (a: number): number => 3 * a + 1;
    const { alphas, weights } = quadrature('riemann-trapezoid', 3);
    expect(alphas.reduce((s, a, i) => s + (weights[i] as number) * f(a), 0)).toBeCloseTo(2.5, 12);
    const err = (n: number): number => {
      const q = quadrature('riemann-middle', n);
      return Math.abs(q.alphas.reduce((s, a, i) => s + (q.weights[i] as number) * Math.exp(a), 0) - (Math.E - 1));
    };
    expect(err(10) / err(20)).toBeCloseTo(4, 1);
  });

  it('rejects a trapezoid with one step', () => {
    expect(() => quadrature('riemann-trapezoid', 1)).toThrow(/at least 2/);
  });
});
