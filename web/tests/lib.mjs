// Shared by the browser tests: Debian's chromium driven by playwright-core,
// a screenshot per step, and small assertions that say what they expected.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(Number(process.env.STEP_TIMEOUT_MS || 30000));
  return { browser, context };
}

// steps numbers the screenshots, one per step, under $BERTH_TEST_OUT.
export function steps(page, name) {
  const dir = path.join(process.env.BERTH_TEST_OUT || 'out', name);
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (label, p = page) => {
    n++;
    const file = path.join(dir, `${String(n).padStart(2, '0')}-${label}.png`);
    await p.screenshot({ path: file, fullPage: true });
    console.log(`step ${n}: ${label} (${file})`);
  };
}

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

export async function textOf(locator) {
  return (await locator.innerText()).trim();
}

// run runs a test body, closing the browser and failing the process on
// an error, with a last screenshot of where it stopped.
export async function run(name, body) {
  const { browser, context } = await launch();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await body({ page, context, shot: steps(page, name), errors });
    check(errors.length === 0, `no script errors in the page, got: ${errors.join('; ')}`);
    console.log(`${name}: ok`);
  } catch (err) {
    try {
      const dir = path.join(process.env.BERTH_TEST_OUT || 'out', name);
      fs.mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, 'failure.png'), fullPage: true });
    } catch { /* the page may be gone */ }
    console.error(`${name}: FAILED: ${err.stack || err}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

// narrow looks at the page as a phone shows it: nothing may stick out of
// the window sideways (wide tables scroll inside their own box).
export async function narrow(page, shot, label) {
  const was = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(over <= 0, `${label}: the page fits a 390-pixel window, it is ${over}px wider`);
  await shot(`${label}-narrow`);
  await page.setViewportSize(was);
}
