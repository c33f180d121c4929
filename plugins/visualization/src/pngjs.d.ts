// The part of pngjs (7.x) the tests use (a copy of fixtures/src/pngjs.d.ts; pngjs is a devDependency):
// synchronous decoding to 8-bit RGBA and encoding.
declare module 'pngjs' {
  interface DecodedPng {
    width: number;
    height: number;
    /** RGBA, 8 bits per channel (16-bit images are scaled down). */
    data: Buffer;
  }
  interface PngImage {
    width: number;
    height: number;
    data: Buffer;
  }
  interface PngSync {
    read(buffer: Buffer | Uint8Array, options?: { skipRescale?: boolean }): DecodedPng;
    write(png: PngImage, options?: { colorType?: 0 | 2 | 4 | 6; inputColorType?: 0 | 2 | 4 | 6; inputHasAlpha?: boolean }): Buffer;
  }
  interface PngConstructor {
    new (options: { width: number; height: number; colorType?: 0 | 2 | 4 | 6; inputColorType?: 0 | 2 | 4 | 6; inputHasAlpha?: boolean; bitDepth?: 8 | 16 }): PngImage;
    sync: PngSync;
  }
  export const PNG: PngConstructor;
  const pngjs: { PNG: PngConstructor };
  export default pngjs;
}
