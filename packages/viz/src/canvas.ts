/**
 * Browser adapter: RGBA bytes -> ImageData for CanvasRenderingContext2D.putImageData.
 * Nothing here touches the DOM until toImageData is called, so the module loads anywhere (Node included).
 */

/**
 * Wraps RGBA bytes (width * height * 4) in a new ImageData. The bytes are shared when possible (a
 * Uint8ClampedArray over an ordinary ArrayBuffer) and copied otherwise. Throws where ImageData does not
 * exist (Node, workers without OffscreenCanvas support).
 */
export function toImageData(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): ImageData {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`toImageData: width and height must be positive integers, got ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`toImageData: got ${rgba.length} bytes, expected RGBA ${width}x${height}x4 = ${width * height * 4}`);
  }
  const ImageDataCtor = (globalThis as { ImageData?: typeof ImageData }).ImageData;
  if (typeof ImageDataCtor !== 'function') {
    throw new Error('toImageData: ImageData is not available here (it needs a browser or another DOM environment)');
  }
  let pixels: Uint8ClampedArray<ArrayBuffer>;
  if (rgba.buffer instanceof ArrayBuffer) {
    pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length);
  } else {
    pixels = new Uint8ClampedArray(rgba.length); // e.g. a SharedArrayBuffer view: ImageData needs its own
    pixels.set(rgba);
  }
  return new ImageDataCtor(pixels, width, height);
}
