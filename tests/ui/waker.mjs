// Drives the waker's "starting" page in Debian's headless Chromium as a person would: it renders with its title,
// its state in a live region and its steps, has no console error beyond the 503 it is served with, refreshes itself
// (the server moves the service on after the first request, so the second load says "Starting"), and a program
// asking for JSON gets 503 with Retry-After.
//
// Usage: node tests/ui/waker.mjs URL
// Chromium: $FSCHED_CHROMIUM, else /usr/bin/chromium (scripts/lib/browser installs it).
import { chromium } from 'playwright-core';

const [url] = process.argv.slice(2);
if (!url) {
  console.error('usage: waker.mjs URL');
  process.exit(2);
}
const problems = [];
const fail = (what) => problems.push(what);

const browser = await chromium.launch({
  executablePath: process.env.FSCHED_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('status of 503')) fail(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  page.on('request', (r) => { if (!r.url().startsWith(url)) fail(`asked the network: ${r.url()}`); });

  const first = await page.goto(url);
  if (first.status() !== 503) fail(`first load: status ${first.status()}, not 503`);
  if ((await first.allHeaders())['retry-after'] !== '5') fail('first load: no Retry-After: 5');
  const title = await page.title();
  if (!/^Starting staging-api…$/.test(title)) fail(`title: ${title}`);
  if ((await page.getAttribute('html', 'lang')) !== 'en') fail('no lang on <html>');
  const status = (await page.textContent('[role=status]')) || '';
  if (!status.includes('waking up')) fail(`first state: ${status}`);
  const current = async () => (await page.textContent('ol.steps li[aria-current=step]')) || '';
  if (!(await current()).includes('Waking up')) fail(`first step: ${await current()}`);
  if ((await page.locator('ol.steps li').count()) !== 3) fail('not three steps');

  // It refreshes by itself: wait for the next load, which the server answers with the next state.
  const again = await page.waitForResponse((r) => r.url() === url, { timeout: 30000 });
  await page.waitForLoadState('load');
  if (again.status() !== 503) fail(`refresh: status ${again.status()}`);
  await page.waitForSelector('ol.steps li[aria-current=step]');
  if (!(await current()).includes('Starting')) fail(`after the refresh: ${await current()}`);

  // A program: JSON, 503, Retry-After.
  const api = await fetch(url, { headers: { Accept: 'application/json' } });
  if (api.status !== 503) fail(`API: status ${api.status}`);
  if (api.headers.get('retry-after') !== '5') fail('API: no Retry-After: 5');
  const body = await api.json();
  if (body.service !== 'staging-api' || body.retry_after_seconds !== 5) fail(`API body: ${JSON.stringify(body)}`);
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('waker page: ok');
