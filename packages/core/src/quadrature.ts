/**
 * Integration rules for path methods: the points `alphas` in [0, 1] and their weights.
 * The Riemann rules and the trapezoid match Captum's `approximation_methods`; Gauss-Legendre
 * uses the n-point Legendre nodes mapped from [-1, 1] to [0, 1].
 */
export const RULES = ['riemann-left', 'riemann-right', 'riemann-middle', 'riemann-trapezoid', 'gauss-legendre'] as const;
export type Rule = (typeof RULES)[number];

export interface Quadrature {
  alphas: number[];
  weights: number[];
}

export function quadrature(rule: Rule, n: number): Quadrature {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`steps must be a positive integer, got ${n}`);
  const lin = (a: number, b: number): number[] =>
    n === 1 ? [a] : Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
  switch (rule) {
    case 'riemann-left':
      return { alphas: lin(0, 1 - 1 / n), weights: new Array<number>(n).fill(1 / n) };
    case 'riemann-right':
      return { alphas: lin(1 / n, 1), weights: new Array<number>(n).fill(1 / n) };
    case 'riemann-middle':
      return { alphas: lin(1 / (2 * n), 1 - 1 / (2 * n)), weights: new Array<number>(n).fill(1 / n) };
    case 'riemann-trapezoid': {
      if (n < 2) throw new RangeError('the trapezoid rule needs at least 2 steps');
      const h = 1 / (n - 1);
      const weights = new Array<number>(n).fill(h);
      weights[0] = h / 2;
      weights[n - 1] = h / 2;
      return { alphas: lin(0, 1), weights };
    }
    case 'gauss-legendre': {
      const { nodes, weights } = gaussLegendre(n);
      return { alphas: nodes.map((x) => (x + 1) / 2), weights: weights.map((w) => w / 2) };
    }
  }
}

/** Nodes and weights of n-point Gauss-Legendre quadrature on [-1, 1], ascending. */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes = new Array<number>(n);
  const weights = new Array<number>(n);
  const half = Math.floor((n + 1) / 2);
  for (let i = 0; i < half; i++) {
    // Newton's method on P_n from the Chebyshev-like first guess of the i-th largest root.
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const pn = n === 1 ? x : p1;
      const pnm1 = n === 1 ? 1 : p0;
      dp = (n * (x * pn - pnm1)) / (x * x - 1);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    if (n === 1) {
      x = 0;
      dp = 1;
    }
    const w = 2 / ((1 - x * x) * dp * dp);
    nodes[n - 1 - i] = x;
    nodes[i] = -x;
    weights[n - 1 - i] = w;
    weights[i] = w;
  }
  if (n === 1) {
    nodes[0] = 0;
    weights[0] = 2;
  }
  return { nodes, weights };
}
