// A repository description holding markup stays text: on the hub's
// repository and search pages, and in the dashboard's search results.
// BERTH_HUB_URL is a hub with the repository "evil" whose short and full
// descriptions hold script; BERTH_UI_URL a dashboard over that hub.
import { run, check, textOf } from './lib.mjs';

const hub = process.env.BERTH_HUB_URL;
const ui = process.env.BERTH_UI_URL;
const evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
check(hub && ui, 'BERTH_HUB_URL and BERTH_UI_URL are set');

await run('inert', async ({ page, shot }) => {
  const pwned = () => page.evaluate(() => window.pwned);

  await page.goto(`${hub}/r/evil`);
  check((await textOf(page.locator('.lead'))) === evil, 'the hub shows the short description as text');
  check(await page.locator('#overview script, #overview img[onerror], #overview iframe').count() === 0, 'the markdown kept no script, handler or frame');
  check((await textOf(page.locator('#overview'))).includes('still text'), 'the markdown around it is rendered');
  check(await pwned() === undefined, 'no script ran on the repository page');
  await shot('hub-repository');

  await page.goto(`${hub}/?q=evil`);
  check((await textOf(page.locator('li.result[data-name="evil"] .description'))) === evil, 'the hub search shows it as text');
  check(await pwned() === undefined, 'no script ran on the hub search page');
  await shot('hub-search');

  await page.goto(ui);
  await page.getByRole('searchbox', { name: 'Search images to run' }).fill('evil');
  await page.keyboard.press('Enter');
  const desc = page.locator('li.result[data-name="evil"] .description');
  await desc.waitFor();
  check((await textOf(desc)) === evil, 'the dashboard shows it as text');
  check(await page.locator('li.result script, li.result img').count() === 0, 'no element was made from it');
  await page.waitForTimeout(300);
  check(await pwned() === undefined, 'no script ran in the dashboard');
  await shot('dashboard-search');
});
