// The users' walk through the dashboard (berth ui), end to end: search,
// pull with progress, details, run on a random port, the app, a terminal,
// delete refused while in use, In use, delete the container, the image.
// BERTH_UI_URL is the address berth ui printed (with its token).
import { run, check, textOf, narrow } from './lib.mjs';

const url = process.env.BERTH_UI_URL;
check(url, 'BERTH_UI_URL is set');

await run('dashboard', async ({ page, context, shot }) => {
  page.on('dialog', (d) => d.accept());

  await page.goto(url);
  check(!page.url().includes('token='), `the token leaves the address bar, at ${page.url()}`);
  await page.getByRole('heading', { name: 'Images', exact: true }).waitFor();
  await shot('images');

  await page.getByRole('searchbox', { name: 'Search images to run' }).fill('welcome');
  await page.keyboard.press('Enter');
  const result = page.locator('li.result[data-name="welcome"]');
  await result.waitFor();
  check(await result.locator('.badge.official').innerText() === 'Official Image', 'the Official Image badge');
  check((await textOf(result.locator('.stars'))).includes('42'), 'its 42 stars');
  check((await textOf(result.locator('.description'))).startsWith('Welcome to berth'), 'its description');
  await shot('search');

  await result.getByRole('button', { name: 'Pull welcome' }).click();
  await result.locator('li.layer').first().waitFor();
  await result.getByText('Pulled welcome').waitFor();
  const layers = await result.locator('li.layer').count();
  check(layers >= 3, `a progress line per layer, got ${layers}`);
  check(await result.locator('li.layer', { hasText: 'Pull complete' }).count() === layers, 'every layer says Pull complete');
  check(await result.locator('li.layer progress').count() === layers, 'a progress bar per layer');
  check((await textOf(result.locator('.messages'))).includes('Status: Downloaded newer image for welcome:latest'), 'Docker\'s status line');
  await shot('pulled');

  await page.getByRole('link', { name: 'Show in Images' }).click();
  const row = page.locator('tr[data-ref="welcome:latest"]');
  await row.waitFor();
  check((await textOf(row.locator('td').nth(1))) === 'latest', 'tag latest');
  check(/^[0-9a-f]{12}$/.test(await textOf(row.locator('td').nth(2))), 'a 12-digit image ID');
  await shot('listed');
  await narrow(page, shot, 'listed');

  await row.getByRole('link', { name: 'welcome' }).click();
  await page.getByRole('heading', { name: /^Layers \(\d+\)$/ }).waitFor();
  const steps = page.locator('tr.layer');
  check(await steps.count() >= 5, `the image's history as layers, got ${await steps.count()}`);
  check((await textOf(steps.first())).includes('COPY busybox /bin/'), 'the first layer is busybox');
  await page.getByText(/packages and libraries|No packages or libraries found/).waitFor();
  await page.getByText(/No vulnerability database yet|known vulnerabilit/).waitFor();
  await shot('details');

  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Run welcome:latest' });
  await dialog.getByLabel('Container name').fill('web');
  await dialog.getByLabel('Host port for 80/tcp').fill('0');
  await shot('run-settings');
  await page.keyboard.press('Enter'); // from the port field, as a keyboard user sends it
  await page.getByRole('heading', { name: /^web/ }).waitFor();
  const portLink = page.locator('dd.ports a.port').first();
  await portLink.waitFor();
  const href = await portLink.getAttribute('href');
  check(/^http:\/\/127\.0\.0\.1:\d+\/$/.test(href) && !href.endsWith(':0/'), `a link to the published port, got ${href}`);
  await shot('running');

  const [app] = await Promise.all([context.waitForEvent('page'), portLink.click()]);
  await app.waitForLoadState();
  await app.getByRole('heading', { name: 'Welcome to berth' }).waitFor();
  await shot('welcome-page', app);
  await app.close();

  await page.getByRole('tab', { name: 'Exec' }).click();
  await page.getByText('Connected: a shell in the container.').waitFor();
  // Type once the shell prompts, as a person would.
  await page.waitForFunction(() => /[#$] ?$/.test(document.querySelector('.terminal .xterm-rows')?.textContent.trim() || ''));
  await page.locator('.terminal .xterm').click();
  await page.keyboard.type('echo hi');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('.terminal .xterm-rows > div')].some((r) => r.textContent.trim() === 'hi'));
  await shot('exec');

  await page.getByRole('link', { name: 'Images', exact: true }).click();
  await row.getByRole('button', { name: 'Delete welcome:latest' }).click();
  const refusal = page.getByRole('alert');
  await refusal.waitFor();
  const reason = await textOf(refusal);
  check(/conflict: unable to (remove repository reference|delete) .*container [0-9a-f]{12} is using its referenced image/.test(reason), `Docker's reason, got: ${reason}`);
  await shot('delete-refused');

  await refusal.getByRole('link', { name: 'In use' }).click();
  const ctr = page.locator('tr[data-name="web"]');
  await ctr.waitFor();
  await shot('in-use');
  await ctr.getByRole('button', { name: 'Delete web' }).click();
  await page.getByText('No container uses this image now.').waitFor();
  await shot('container-deleted');

  await page.getByRole('link', { name: 'Images', exact: true }).click();
  await row.getByRole('button', { name: 'Delete welcome:latest' }).click();
  const done = page.getByRole('status').filter({ hasText: 'Untagged: welcome:latest' });
  await done.waitFor();
  check((await textOf(done)).includes('Deleted: sha256:'), 'the image is deleted, not only untagged');
  await page.getByText('No images yet.').waitFor();
  await shot('image-deleted');
});
