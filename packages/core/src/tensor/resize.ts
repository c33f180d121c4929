import * as tf from '@tensorflow/tfjs-core';

/**
 * Bilinear resize with half-pixel centres, i.e. PyTorch's `F.interpolate(mode='bilinear',
 * align_corners=False)` and OpenCV's INTER_LINEAR upscaling; with `alignCorners`, the corner
 * pixels of input and output coincide (PyTorch's `align_corners=True`, `UpsamplingBilinear2d`).
 * Accepts [N,H,W] or [N,H,W,C].
 */
export function resizeBilinear(x: tf.Tensor, size: readonly [number, number], opts: { alignCorners?: boolean } = {}): tf.Tensor {
  return tf.tidy(() => {
    const x4 = (x.rank === 3 ? tf.expandDims(x, -1) : x) as tf.Tensor4D;
    if (x4.shape[1] === size[0] && x4.shape[2] === size[1]) return x.clone();
    const align = opts.alignCorners === true;
    const y = tf.image.resizeBilinear(x4, [size[0], size[1]], align, !align);
    return x.rank === 3 ? tf.squeeze(y, [3]) : y;
  });
}

/** Nearest-neighbour resize (PyTorch `mode='nearest'`: source index floor(dst * in / out)). */
export function resizeNearest(x: tf.Tensor, size: readonly [number, number]): tf.Tensor {
  return tf.tidy(() => {
    const x4 = (x.rank === 3 ? tf.expandDims(x, -1) : x) as tf.Tensor4D;
    const y = tf.image.resizeNearestNeighbor(x4, [size[0], size[1]], false, false);
    return x.rank === 3 ? tf.squeeze(y, [3]) : y;
  });
}
