import { describe, expect, it } from 'vitest';
import type { BenchReport } from '../commands/bench.js';
import { benchTable } from './table.js';
import { findTorchPython } from './torch.js';

// The PyTorch comparison is optional: these tests need neither torch nor a Python.

describe('bench --torch without torch', () => {
  it('finds no Python when the one asked for does not exist, and says why', () => {
    const r = findTorchPython({ CNN_XAI_PYTHON: '/nonexistent/bin/python3' });
    expect(r.python).toBeNull();
    expect(r.reason).toMatch(/\/nonexistent\/bin\/python3: not found/);
  });

  it('prints the table with a note that the comparison was skipped', () => {
    const report: BenchReport = {
      schema: 'cnn-xai/bench@2',
      backend: 'wasm',
      workers: 0,
      model: 'm',
      inputs: ['i.npy'],
      images: 1,
      batchSizes: [1],
      repeat: 5,
      stat: 'median',
      budgetSeconds: 5,
      capSeconds: 30,
      machine: { cpus: 2, cpuModel: 'cpu', node: 'v20', tfjs: '4.22.0', loadavg: { start: [1, 1, 1], end: [1, 1, 1] } },
      raw: {
        layer: 'conv5',
        forwardMsPerImage: { 1: 1.5 },
        forwardBackwardMsPerImage: { 1: 5 },
        forwardBackwardToLayerMsPerImage: { 1: 2 },
        headMsPerImage: { 1: 0.03 },
        cpu: { forwardMsPerImage: { 1: 1.5 }, forwardBackwardMsPerImage: { 1: 5 } },
        curve: { forward: { 1: 1.5 }, gradient: { 1: 5 }, layerGradient: { 1: 2 }, head: { 1: 0.03 } },
      },
      methods: {
        'integrated-gradients': {
          options: { steps: 50 },
          reference: 'Captum IntegratedGradients',
          msPerImage: { 1: 260 },
          medianMsPerImage: { 1: 260 },
          minMsPerImage: { 1: 255 },
          cpuMsPerImage: { 1: 259 },
          runs: { 1: 2 },
          skipped: {},
          forwardPasses: 52,
          backwardPasses: 50,
          layerBackwardPasses: 0,
          headPasses: 0,
          passes: { 1: { forward: 52, backward: 50, layerBackward: 0, head: 0 } },
          calls: { 1: { forward: { 2: 1 }, gradient: { 50: 1 }, layerGradient: {}, head: {} } },
          floorMsPerImage: { 1: 253 },
          ratioToFloor: { 1: 1.03 },
          ratioToForwardBackward: { 1: 52 },
        },
      },
      leftOut: ['feature-visualization'],
      torch: { available: false, reason: 'no Python with torch and numpy' },
      totalSeconds: 12,
    };
    const text = benchTable(report);
    expect(text).toMatch(/PyTorch comparison skipped: no Python with torch and numpy/);
    expect(text).not.toMatch(/x torch/);
    expect(text).toMatch(/integrated-gradients\s+260\s+52\s+50\s+0\s+253\s+1\.03/);
    expect(text).toMatch(/integrated-gradients b=1: 2 runs/);
    expect(text).toMatch(/steps=50\s+Captum IntegratedGradients/);
    expect(text).toMatch(/Visualizers not timed .*feature-visualization/);
  });
});
