// Drives `fsched ui` in Debian's headless Chromium as a person would: opens every page, follows the navigation and a
// run's link, and fails on any console error, failed request, bad status or a count that differs from the records.
//
// Usage: node tests/ui/check.mjs URL EXPECT.json [SCREENSHOT_DIR]
// EXPECT.json: {"jobs": [names], "runs_24h": n, "services": [names], "run": "an id with a page"}
// Chromium: $FSCHED_CHROMIUM, else /usr/bin/chromium (scripts/lib/browser installs it).
import { readFileSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, expectFile, shots] = process.argv.slice(2);
if (!base || !expectFile) {
  console.error('usage: check.mjs URL EXPECT.json [SCREENSHOT_DIR]');
  process.exit(2);
}
const expect = JSON.parse(readFileSync(expectFile, 'utf8'));
const problems = [];
const fail = (what) => problems.push(what);

const browser = await chromium.launch({
  executablePath: process.env.FSCHED_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
let where = '';
let expected = 200;
page.on('console', (m) => {
  // A page served with the error status it should have makes Chromium log that status; nothing else may.
  if (m.type() !== 'error') return;
  if (expected !== 200 && m.text().includes(`status of ${expected}`)) return;
  fail(`${where}: console error: ${m.text()}`);
});
page.on('pageerror', (e) => fail(`${where}: page error: ${e.message}`));
page.on('requestfailed', (r) => {
  // Leaving a page cancels what it still loads (its icon, say): that is the browser's doing, not the server's.
  const why = r.failure()?.errorText;
  if (why !== 'net::ERR_ABORTED') fail(`${where}: request failed: ${r.url()} (${why})`);
});
page.on('request', (r) => { if (!r.url().startsWith(base)) fail(`${where}: asked the network: ${r.url()}`); });

async function visit(path, status = 200) {
  where = path;
  expected = status;
  const response = await page.goto(new URL(path, base).href);
  if (response.status() !== status) fail(`${path}: status ${response.status()}, expected ${status}`);
  return response;
}

async function shot(name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

// Jobs: one row per stored job.
await visit('/');
const jobs = await page.locator('tr[data-job]').evaluateAll((rows) => rows.map((r) => r.dataset.job));
if (JSON.stringify(jobs) !== JSON.stringify([...expect.jobs].sort())) fail(`jobs page lists ${jobs}, expected ${expect.jobs}`);
await shot('jobs');

// The navigation reaches every page, and says which one is current.
for (const [name, path] of [['Timeline', '/timeline'], ['Services', '/services'], ['Cost', '/cost'], ['Jobs', '/']]) {
  where = `nav ${name}`;
  await page.getByRole('link', { name, exact: true }).first().click();
  await page.waitForLoadState();
  const url = new URL(page.url());
  if (url.pathname !== path) fail(`nav ${name}: at ${url.pathname}, expected ${path}`);
  const current = await page.locator('nav a[aria-current=page]').textContent();
  if (current !== name) fail(`nav ${name}: current page says ${current}`);
}

// Timeline: one bar or mark per recorded run in the last 24 hours.
await visit('/timeline');
const bars = await page.locator('svg.timeline .run').count();
if (bars !== expect.runs_24h) fail(`timeline shows ${bars} runs, the records have ${expect.runs_24h}`);
const said = Number(await page.locator('[data-runs]').getAttribute('data-runs'));
if (said !== expect.runs_24h) fail(`timeline says ${said} runs, the records have ${expect.runs_24h}`);
await shot('timeline');
await visit('/timeline?range=7d');
if ((await page.locator('svg.timeline .run').count()) < expect.runs_24h) fail('the 7-day timeline shows fewer runs than the last 24 hours');

// A bar leads to its run's page.
await visit('/timeline');
where = 'timeline bar';
const target = expect.run;
await page.locator(`svg.timeline [data-run="${target}"]`).first().click();
await page.waitForLoadState();
const runUrl = new URL(page.url());
if (runUrl.pathname !== '/run' || runUrl.searchParams.get('id') !== target) fail(`the bar of ${target} led to ${page.url()}`);
const heading = await page.locator('h1').first().textContent();
if (!heading.includes(target)) fail(`run page heading is ${heading}`);
await shot('run');

// Services: one row per declared service, and their bands.
await visit('/services');
const services = await page.locator('tr[data-service]').evaluateAll((rows) => rows.map((r) => r.dataset.service));
if (JSON.stringify(services) !== JSON.stringify([...expect.services].sort())) fail(`services page lists ${services}, expected ${expect.services}`);
if (expect.services.length > 0 && (await page.locator('svg.bands .band').count()) < expect.services.length) fail('services page draws no bands');
await shot('services');

await visit('/cost');
if ((await page.locator('svg.bars rect.day').count()) !== 30) fail('cost page does not draw 30 days');
await shot('cost');

// Unknown pages and runs say so, with a way back.
await visit('/nowhere', 404);
await visit('/run?id=nope', 404);
await visit('/run?id=etl/20200101T000000Z', 404);
where = 'after';

await browser.close();
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`ui check: ${jobs.length} jobs, ${bars} runs on the timeline, ${services.length} services, every page clean`);
