import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as viz from './index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module reachable from `entry` through relative imports, with the specifiers each imports. */
function moduleGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]/g)].map(
      (m) => (m[1] ?? m[2])!,
    );
    seen.set(file, specifiers);
    for (const s of specifiers) {
      if (s.startsWith('.')) visit(resolve(dirname(file), s.replace(/\.js$/, '.ts')));
    }
  };
  visit(entry);
  return seen;
}

describe('main entry', () => {
  it('imports nothing but its own modules (no TensorFlow.js, Node or DOM packages)', () => {
    const graph = moduleGraph(join(here, 'index.ts'));
    expect(graph.size).toBeGreaterThanOrEqual(5);
    for (const [file, specifiers] of graph) {
      for (const s of specifiers) expect(s.startsWith('./'), `${file} imports ${s}`).toBe(true);
      const source = readFileSync(file, 'utf8');
      expect(source, file).not.toMatch(/\b(document|window|navigator)\./);
    }
    expect([...graph.keys()].some((f) => f.endsWith('node.ts'))).toBe(false);
  });

  it('declares no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      exports: Record<string, Record<string, string>>;
    };
    expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);
    expect(pkg.exports['./node']).toEqual({
      '@cnn-xai/source': './src/node.ts',
      types: './dist/node.d.ts',
      default: './dist/node.js',
    });
  });

  it('exports the documented API', () => {
    for (const name of [
      'COLORMAPS',
      'DIVERGING',
      'colormap',
      'colormapLut',
      'normalizeForDisplay',
      'percentile',
      'renderHeatmap',
      'overlay',
      'colorbar',
      'tile',
      'toGrayscale8',
      'toImageData',
    ]) {
      expect(viz, name).toHaveProperty(name);
    }
    expect(typeof viz.overlay).toBe('function');
    expect(viz.COLORMAPS).toContain('viridis');
  });
});
