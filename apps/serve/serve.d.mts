export interface Served {
  server: import('node:http').Server;
  url: string;
  close(): Promise<void>;
}
export function serveDir(dir: string, options?: { port?: number; host?: string; name?: string }): Promise<Served>;
export const SITE_DIST: string;
export const SLIDES_DIST: string;
