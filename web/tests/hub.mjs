// The hub's pages, as a visitor walks them: search with the Official
// filter, open a repository, sign in, star it, see the count change.
// BERTH_HUB_URL is the hub; HUB_USER and HUB_PASSWORD an account on it.
import { run, check, textOf, narrow } from './lib.mjs';

const hub = process.env.BERTH_HUB_URL;
check(hub && process.env.HUB_USER, 'BERTH_HUB_URL and HUB_USER are set');

await run('hub', async ({ page, shot }) => {
  await page.goto(`${hub}/`);
  await page.getByRole('heading', { name: 'Explore images' }).waitFor();
  await shot('explore');

  await page.getByRole('searchbox', { name: 'Search images' }).fill('welcome');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Results for “welcome”' }).waitFor();
  check(await page.locator('li.result[data-name="alice/welcome-notes"]').count() === 1, 'an unofficial result before filtering');
  await page.getByRole('navigation', { name: 'Trust badges' }).getByRole('link', { name: 'Official Image' }).click();
  await page.waitForURL(/badge=official/);
  const results = page.locator('li.result');
  check(await results.count() >= 1, 'an official result');
  for (const badge of await results.locator('.badge').allInnerTexts()) check(badge === 'Official Image', `only official results, got a ${badge}`);
  check(await page.locator('li.result[data-name="alice/welcome-notes"]').count() === 0, 'the unofficial repository is filtered out');
  await shot('official-filter');

  await page.locator('li.result[data-name="welcome"]').getByRole('link', { name: 'welcome' }).click();
  await page.locator('.repo-head h1', { hasText: 'welcome' }).waitFor();
  check((await textOf(page.locator('#cmd-docker'))).match(/^docker pull 127\.0\.0\.1:\d+\/welcome$/), 'a docker pull command');
  check(await page.locator('tr.tag[data-tag="latest"]').count() === 1, 'the latest tag is listed');
  check((await textOf(page.locator('tr.tag[data-tag="latest"]'))).includes('linux/amd64'), 'with its platform');
  await page.locator('details.layers summary').first().click();
  check(await page.locator('details.layers li.layer').count() >= 3, 'its layers');
  check(await page.locator('#overview h1', { hasText: 'welcome' }).count() === 1, 'the markdown description rendered');
  const before = Number((await textOf(page.locator('#star-count'))).replace(/\D/g, ''));
  await shot('repository');
  await narrow(page, shot, 'repository');

  await page.getByRole('link', { name: 'Sign in to star' }).click();
  // By keyboard: the form is ready to type into, Tab moves, Enter sends.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'username');
  await page.keyboard.type(process.env.HUB_USER);
  await page.keyboard.press('Tab');
  await page.keyboard.type(process.env.HUB_PASSWORD);
  await shot('sign-in');
  await page.keyboard.press('Enter');
  await page.locator('.repo-head h1', { hasText: 'welcome' }).waitFor();
  check(await page.getByRole('link', { name: process.env.HUB_USER }).count() === 1, 'signed in, the account is shown');

  await page.getByRole('button', { name: '☆ Star' }).click();
  await page.getByRole('button', { name: '★ Starred' }).waitFor();
  const after = Number((await textOf(page.locator('#star-count'))).replace(/\D/g, ''));
  check(after === before + 1, `the star count goes from ${before} to ${before + 1}, got ${after}`);
  await shot('starred');

  await page.getByRole('link', { name: process.env.HUB_USER }).click();
  await page.getByRole('heading', { name: process.env.HUB_USER }).waitFor();
  await shot('namespace');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
  await shot('signed-out');
});
