import * as tfl from '@tensorflow/tfjs-layers';

/**
 * For the tests: a random conv net with a GAP + dense head (CAM applies), conv-relu (6), pool,
 * conv-relu (8 channels, `c2`), GAP, dense (5), on 12x12x3 inputs; no skip connection around c2.
 * `biasOnes` sets the dense biases to 1 (default 0).
 */
export function gapModel(seed: number, opts: { biasOnes?: boolean } = {}): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: seed + s });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'c1' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2, name: 'p1' }));
  m.add(tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'c2' }));
  m.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tfl.layers.dense({ units: 5, kernelInitializer: init(3), ...(opts.biasOnes ? { biasInitializer: 'ones' } : {}), name: 'fc' }));
  return m;
}
