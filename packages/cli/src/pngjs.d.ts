// The part of pngjs (7.x) the CLI and its tests use: synchronous decoding to 8-bit RGBA and
// encoding of RGBA images.
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
    write(png: PngImage, options?: { colorType?: 0 | 2 | 4 | 6; inputHasAlpha?: boolean }): Buffer;
  }
  interface PngConstructor {
    new (options: { width: number; height: number }): PngImage;
    sync: PngSync;
  }
  const pngjs: { PNG: PngConstructor };
  export default pngjs;
}
