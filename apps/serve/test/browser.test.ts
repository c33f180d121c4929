/**
 * The built site and deck in headless Chromium (playwright-core driving Debian's chromium).
 * Runs inside the root `test` command after `turbo run build`. Screenshots, the deck's PDF and the
 * measured timings go to test-artefacts/ (gitignored).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDir, SITE_DIST, SLIDES_DIST } from '../serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ARTEFACTS = resolve(here, '../../../test-artefacts');
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const CANDIDATES = [
  process.env['CHROMIUM_PATH'],
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
].filter((p): p is string => !!p);

function findChromium(): string | null {
  for (const p of CANDIDATES) if (existsSync(p)) return p;
  try {
    const bundled = chromium.executablePath();
    if (bundled && existsSync(bundled)) return bundled;
  } catch {
    /* no bundled browser */
  }
  return null;
}

const skip = process.env['CNN_XAI_SKIP_BROWSER_TESTS'] === '1';
type Server = Awaited<ReturnType<typeof serveDir>>;

let browser: Browser;
let context: BrowserContext;
let site: Server;
let slides: Server;
const measured: Record<string, unknown> = {};

/** A page that records console errors and uncaught exceptions. */
async function open(ctx: BrowserContext = context): Promise<{ page: Page; errors: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  return { page, errors };
}

const shot = (page: Page, name: string, fullPage = false): Promise<Buffer> => page.screenshot({ path: join(ARTEFACTS, `${name}.png`), fullPage });
/** A screenshot of one element (the demo island), wherever it is on the page. */
const shotOf = (page: Page, selector: string, name: string): Promise<Buffer> => page.locator(selector).first().screenshot({ path: join(ARTEFACTS, `${name}.png`) });

/** RGBA bytes of a canvas, read in the page (sent back as base64: a JSON array of 300k numbers is slow). */
async function pixels(page: Page, selector: string): Promise<Uint8Array> {
  const b64 = await page.$eval(selector, (c) => {
    const canvas = c as HTMLCanvasElement;
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let s = '';
    for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(s);
  });
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/** Pixels that differ by more than 8 levels in some channel. */
function differing(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i += 4) {
    if (Math.abs(a[i]! - b[i]!) > 8 || Math.abs(a[i + 1]! - b[i + 1]!) > 8 || Math.abs(a[i + 2]! - b[i + 2]!) > 8) n++;
  }
  return n + Math.abs(a.length - b.length) / 4;
}

/** Number of distinct colours (a blank canvas has one). */
function colours(a: Uint8Array): number {
  const seen = new Set<number>();
  for (let i = 0; i < a.length; i += 4) seen.add((a[i]! << 16) | (a[i + 1]! << 8) | a[i + 2]!);
  return seen.size;
}

/** Waits for the demo's run `runs` (or later) to end, and returns its dataset. */
async function demoDone(page: Page, after = 0): Promise<Record<string, string>> {
  await page.waitForFunction(
    (n) => {
      const d = document.querySelector<HTMLElement>('.xai-demo');
      return !!d && ['done', 'error'].includes(d.dataset['state'] ?? '') && Number(d.dataset['runs'] ?? 0) > n;
    },
    after,
    { timeout: 90_000 },
  );
  const ds = await page.$eval('.xai-demo', (d) => ({ ...(d as HTMLElement).dataset }) as Record<string, string>);
  if (ds['state'] === 'error') throw new Error(`demo failed: ${await page.textContent('.xai-demo .xai-status')}`);
  return ds;
}

/** Chooses a class in the demo and waits for its map. */
async function explainClass(page: Page, cls: number): Promise<Uint8Array> {
  const before = Number((await page.$eval('.xai-demo', (d) => (d as HTMLElement).dataset['runs'])) ?? 0);
  await page.selectOption('.xai-demo .xai-target', String(cls));
  const ds = await demoDone(page, before);
  expect(ds['target']).toBe(String(cls));
  return pixels(page, '.xai-demo canvas.xai-heatmap');
}

// Generous per-test limits: the suite shares two cores with the rest of `pnpm test`.
describe.skipIf(skip)('site and slides in headless Chromium', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    rmSync(ARTEFACTS, { recursive: true, force: true }); // only this run's screenshots
    mkdirSync(ARTEFACTS, { recursive: true });
    const executablePath = findChromium();
    if (!executablePath) {
      throw new Error(
        'No Chromium found for the browser tests. Install it (Debian/Ubuntu: apt-get install -y chromium), set CHROMIUM_PATH, or set CNN_XAI_SKIP_BROWSER_TESTS=1 to skip them.',
      );
    }
    site = await serveDir(SITE_DIST, { name: 'site' });
    slides = await serveDir(SLIDES_DIST, { name: 'slides' });
    browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    measured['chromium'] = browser.version();
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await slides?.close();
    if (Object.keys(measured).length) {
      writeFileSync(join(ARTEFACTS, 'measurements.json'), `${JSON.stringify(measured, null, 2)}\n`);
      console.log(`browser measurements: ${JSON.stringify(measured)}`);
    }
  });

  it('Grad-CAM chapter: first heatmap (cold), not blank, differs between two classes', async () => {
    const { page, errors } = await open();
    const t0 = Date.now();
    await page.goto(`${site.url}chapters/grad-cam/`);
    const ds = await demoDone(page);
    measured['gradCamFirstHeatmapMs'] = Number(ds['firstHeatmapMs']);
    measured['gradCamFirstHeatmapWallMs'] = Date.now() - t0;
    measured['backend'] = ds['backend'];
    measured['backendChoiceMs'] = Number(ds['backendMs']);
    measured['backendStatus'] = await page.textContent('.xai-demo .xai-status');
    const input = await pixels(page, '.xai-demo canvas.xai-input');
    const first = await pixels(page, '.xai-demo canvas.xai-heatmap');
    expect(colours(first)).toBeGreaterThan(20);
    expect(differing(first, input)).toBeGreaterThan(500); // heat drawn over the image
    const boot = await explainClass(page, 9);
    const sneaker = await explainClass(page, 7);
    expect(differing(boot, sneaker)).toBeGreaterThan(200);
    measured['gradCamMs'] = Number(await page.$eval('.xai-demo', (d) => (d as HTMLElement).dataset['ms']));
    await shotOf(page, '.xai-demo', 'site-grad-cam-demo');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Grad-CAM chapter again (backend remembered): time to first heatmap', async () => {
    const { page, errors } = await open();
    await page.goto(`${site.url}chapters/grad-cam/`);
    const ds = await demoDone(page);
    measured['gradCamFirstHeatmapWarmMs'] = Number(ds['firstHeatmapMs']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Integrated Gradients chapter: heatmap not blank and differs between two classes', async () => {
    const { page, errors } = await open();
    await page.goto(`${site.url}chapters/integrated-gradients/`);
    let ds = await demoDone(page);
    expect(ds['method']).toBe('integrated-gradients');
    // The controls come from the option schema: fewer integration steps keep the test quick.
    await page.fill('.xai-demo input[name=steps]', '16');
    await page.dispatchEvent('.xai-demo input[name=steps]', 'change');
    ds = await demoDone(page, Number(ds['runs']));
    measured['integratedGradients16StepsMs'] = Number(ds['ms']);
    const input = await pixels(page, '.xai-demo canvas.xai-input');
    const a = await explainClass(page, 9);
    expect(differing(a, input)).toBeGreaterThan(100);
    const b = await explainClass(page, 5);
    expect(differing(a, b)).toBeGreaterThan(100);
    await shotOf(page, '.xai-demo', 'site-integrated-gradients-demo');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('uploading a PNG explains it', async () => {
    const { page, errors } = await open();
    await page.goto(`${site.url}chapters/grad-cam/`);
    const ds = await demoDone(page);
    // A 120x90 PNG with a bright trouser-like shape, made by the browser's own encoder.
    const b64 = await page.evaluate(async () => {
      const c = document.createElement('canvas');
      c.width = 120;
      c.height = 90;
      const g = c.getContext('2d') as CanvasRenderingContext2D;
      g.fillStyle = '#000';
      g.fillRect(0, 0, 120, 90);
      g.fillStyle = '#ddd';
      g.fillRect(45, 8, 30, 20);
      g.fillRect(45, 20, 12, 66);
      g.fillRect(63, 20, 12, 66);
      const blob = await new Promise<Blob>((r) => c.toBlob((b) => r(b as Blob), 'image/png'));
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (const x of bytes) s += String.fromCharCode(x);
      return btoa(s);
    });
    await page.setInputFiles('.xai-demo input.xai-upload', { name: 'drawn-trousers.png', mimeType: 'image/png', buffer: Buffer.from(b64, 'base64') });
    await demoDone(page, Number(ds['runs']));
    expect(await page.textContent('.xai-demo .xai-status')).toContain('upload: drawn-trousers.png (120x90');
    const heat = await pixels(page, '.xai-demo canvas.xai-heatmap');
    expect(colours(heat)).toBeGreaterThan(5);
    await shotOf(page, '.xai-demo', 'site-upload-demo');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the comparison page runs every registered explainer to the end', async () => {
    const { page, errors } = await open();
    const t0 = Date.now();
    await page.goto(`${site.url}compare/`);
    await page.waitForSelector('.xai-compare[data-state=done]', { timeout: 150_000 });
    measured['compareWallMs'] = Date.now() - t0;
    const registered = await page.evaluate(() => (globalThis as unknown as { cnnXai: { registry: { list(): unknown[] } } }).cnnXai.registry.list().length);
    const ds = await page.$eval('.xai-compare', (d) => ({ ...(d as HTMLElement).dataset }));
    const failures = await page.$$eval('.xai-cell[data-state=error]', (cells) => cells.map((c) => `${(c as HTMLElement).dataset['id']}: ${c.querySelector('.xai-cell-info')?.textContent}`));
    measured['compareExplainers'] = registered;
    measured['compareMs'] = Number(ds['ms']);
    measured['comparePerMethodMs'] = Object.fromEntries(
      await page.$$eval('.xai-cell', (cells) => cells.map((c) => [(c as HTMLElement).dataset['id'], Number((c as HTMLElement).dataset['ms'] ?? NaN)])),
    );
    await shot(page, 'site-compare', true);
    measured['compareNotApplicable'] = await page.$$eval('.xai-cell[data-state=unsupported]', (cells) => cells.map((c) => (c as HTMLElement).dataset['id']));
    expect(failures).toEqual([]);
    expect(Number(ds['count']) + Number(ds['unsupported'])).toBe(registered);
    expect(Number(ds['count'])).toBeGreaterThan(registered / 2);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('bring your own model: loads a LayersModel from a URL and lists its layers', async () => {
    const { page, errors } = await open();
    await page.goto(`${site.url}bring-your-own-model/`);
    await page.click('button.xai-load-url');
    await page.waitForSelector('.xai-byom[data-state=loaded]', { timeout: 60_000 });
    const names = await page.$$eval('table.xai-layers tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    expect(names).toEqual(['input', 'conv1', 'conv2', 'pool1', 'conv3', 'conv4', 'pool2', 'conv5', 'gap', 'logits']);
    await shot(page, 'site-byom', true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('every site page loads without console errors', async () => {
    const pages = await (async () => {
      const { page } = await open();
      await page.goto(site.url);
      const links = await page.$$eval('a[href]', (as) =>
        as.filter((a) => (a as HTMLAnchorElement).origin === location.origin).map((a) => (a as HTMLAnchorElement).pathname),
      );
      await page.close();
      return [...new Set(['/', ...links.filter((p) => !p.includes('.'))])];
    })();
    expect(pages.length).toBeGreaterThanOrEqual(14);
    const failures: string[] = [];
    for (const path of pages) {
      const { page, errors } = await open();
      const res = await page.goto(`${site.url.replace(/\/$/, '')}${path}`);
      if (!res?.ok()) failures.push(`${path}: HTTP ${res?.status()}`);
      // Demos on the page settle (a map drawn, or the "not available" note).
      await page.waitForFunction(
        () => Array.from(document.querySelectorAll<HTMLElement>('.xai-demo')).every((d) => ['done', 'unavailable', 'unsupported', 'error'].includes(d.dataset['state'] ?? '')),
        undefined,
        { timeout: 90_000 },
      );
      const broken = await page.$$eval('.xai-demo[data-state=error] .xai-status', (s) => s.map((x) => x.textContent));
      for (const b of broken) failures.push(`${path}: demo error: ${b}`);
      for (const e of errors) failures.push(`${path}: ${e}`);
      const name = path === '/' ? 'home' : path.replace(/^\/|\/$/g, '').replace(/\//g, '-');
      await shot(page, `site-page-${name}`, true);
      await page.close();
    }
    expect(failures).toEqual([]);
  });

  it('deck: keyboard to a live Grad-CAM slide, heatmap drawn, tensors released on leaving, per-frame cost', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const { page, errors } = await open(ctx);
    await page.goto(slides.url);
    await page.waitForFunction(() => (globalThis as unknown as { deck?: { isReady(): boolean } }).deck?.isReady());
    const current = (): Promise<string> => page.evaluate(() => (globalThis as unknown as { deck: { getCurrentSlide(): HTMLElement } }).deck.getCurrentSlide().id);
    // Right through the talk until the Grad-CAM stack, then down (through its fragments) to the live slide.
    for (let k = 0; k < 60 && (await current()) !== 'grad-cam'; k++) await page.keyboard.press('ArrowRight');
    expect(await current()).toBe('grad-cam');
    for (let k = 0; k < 10 && (await current()) !== 'grad-cam-live'; k++) await page.keyboard.press('ArrowDown');
    expect(await current()).toBe('grad-cam-live');
    await page.waitForSelector('#grad-cam-live[data-live-state=done]', { timeout: 60_000 });
    const heat = await pixels(page, '#grad-cam-live canvas.live-heatmap');
    const input = await pixels(page, '#grad-cam-live canvas.live-input');
    expect(differing(heat, input)).toBeGreaterThan(500);
    await page.waitForTimeout(800); // let the slide transition finish before the screenshot
    await shot(page, 'deck-grad-cam-live');

    type Stats = { frames: number; frameMs: number[]; tensorsAtEnter: number | null; backend: string | null };
    const stats = (): Promise<Stats> => page.evaluate(() => (globalThis as unknown as { deck: { getPlugin(id: string): { stats(): Stats } } }).deck.getPlugin('live').stats());
    const tensors = (): Promise<number> => page.evaluate(() => (globalThis as unknown as { cnnXai: { memory(): { numTensors: number } } }).cnnXai.memory().numTensors);
    const atEnter = (await stats()).tensorsAtEnter as number;

    // The drawing slide: one Grad-CAM per animation frame while the pointer draws.
    await page.keyboard.press('ArrowDown'); // the per-class cycle slide
    await page.keyboard.press('ArrowDown'); // the drawing slide
    expect(await current()).toBe('grad-cam-draw');
    await page.waitForSelector('#grad-cam-draw[data-live-state=ready]', { timeout: 30_000 });
    await page.waitForTimeout(800);
    const before = (await stats()).frames;
    const box = (await page.$eval('#grad-cam-draw canvas.live-input', (c) => {
      const r = c.getBoundingClientRect();
      return { x: r.x, y: r.y, w: r.width, h: r.height };
    })) as { x: number; y: number; w: number; h: number };
    await page.mouse.move(box.x + box.w * 0.3, box.y + box.h * 0.15);
    await page.mouse.down();
    for (let i = 0; i <= 40; i++) await page.mouse.move(box.x + box.w * (0.3 + 0.1 * Math.sin(i / 6)), box.y + box.h * (0.15 + 0.7 * (i / 40)));
    await page.mouse.up();
    await page.waitForTimeout(1000);
    const s = await stats();
    const frames = s.frameMs.slice(-(s.frames - before));
    expect(frames.length).toBeGreaterThan(2);
    const sorted = [...frames].sort((a, b) => a - b);
    measured['deckBackend'] = s.backend;
    measured['deckDrawFrames'] = frames.length;
    measured['deckFrameMsMedian'] = Number(sorted[Math.floor(sorted.length / 2)]!.toFixed(1));
    measured['deckFrameMsMean'] = Number((frames.reduce((a, b) => a + b, 0) / frames.length).toFixed(1));
    await shot(page, 'deck-grad-cam-draw');

    // Leave the live slides for a plain one: their tensors are released.
    await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(500);
    expect(await tensors()).toBe(atEnter);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('deck: ?print-pdf lays out every slide, with the live maps, and prints to PDF', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const { page, errors } = await open(ctx);
    const t0 = Date.now();
    await page.goto(`${slides.url}?print-pdf`);
    await page.waitForSelector('html[data-live-printed=all]', { timeout: 120_000 });
    measured['printRenderMs'] = Date.now() - t0;
    const { pages, slidesCount, live, drawn, livePaged } = await page.evaluate(() => ({
      pages: document.querySelectorAll('.pdf-page').length,
      slidesCount: (globalThis as unknown as { deck: { getTotalSlides(): number } }).deck.getTotalSlides(),
      live: document.querySelectorAll('section[data-live-method]').length,
      livePaged: document.querySelectorAll('.pdf-page section[data-live-method]').length,
      drawn: document.querySelectorAll('section[data-live-state=done]').length,
    }));
    expect(slidesCount).toBeGreaterThan(20);
    expect(pages).toBe(slidesCount);
    expect(livePaged).toBe(live);
    expect(drawn).toBeGreaterThan(0);
    measured['deckSlides'] = slidesCount;
    measured['deckLiveSlides'] = live;
    measured['deckLiveSlidesDrawnInPrint'] = drawn;
    await page.evaluate(() => document.getElementById('grad-cam-live')?.scrollIntoView());
    await shot(page, 'deck-print-pdf-grad-cam');
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, 'deck-print-pdf-first');
    const pdf = await page.pdf({ path: join(ARTEFACTS, 'deck.pdf'), printBackground: true, preferCSSPageSize: true });
    const pdfPages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    measured['deckPdfPages'] = pdfPages;
    expect(pdfPages).toBe(slidesCount);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
