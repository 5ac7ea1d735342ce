// Tags in the UI: chips on rows and on the open message, adding (Enter) and removing (×), the tag
// filter (tag: searches, the active one shown, rename and delete), live updates from other pages
// and the API, and the whole of it by keyboard.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, apiJson, shot } from './helpers.mjs';

const browser = await launch();

function mail(subject, tags) {
  return {
    from: 'app@example.com', to: ['user@example.com'],
    data: buildMessage({ subject, text: `${subject} body`, headers: tags ? { 'X-Tags': tags } : {} }),
  };
}

const put = (server, path, body) => apiJson(server, path, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/** The chips shown on the row of the message with `subject`. */
const rowTags = (page, subject) => page.$$eval('.row:not(.is-loading)', (rows, s) => {
  const row = rows.find((r) => r.querySelector('.row-subject').textContent === s);
  return row ? [...row.querySelectorAll('.row-tags .chip-tag')].map((c) => c.textContent) : null;
}, subject);

const messageTags = (page) => page.$$eval('#msg-tags .chip-edit .chip-text', (cs) => cs.map((c) => c.textContent));

const waitRowTags = (page, subject, want) => page.waitForFunction(([s, w]) => {
  const row = [...document.querySelectorAll('.row:not(.is-loading)')].find((r) => r.querySelector('.row-subject').textContent === s);
  return row && JSON.stringify([...row.querySelectorAll('.row-tags .chip-tag')].map((c) => c.textContent)) === JSON.stringify(w);
}, [subject, want]);

const waitMessageTags = (page, want) => page.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('#msg-tags .chip-edit .chip-text')].map((c) => c.textContent)) === JSON.stringify(w), want);

const rowSubjects = (page) => page.$$eval('.row:not(.is-loading) .row-subject', (s) => s.map((x) => x.textContent).sort());

const focusVisible = (page) => page.evaluate(() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  // An outline, or (text fields, as the search box) a focus ring drawn with a shadow.
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
  return el.matches(':focus-visible') && ring;
});

test('tags: chips on rows and on the open message; Enter adds a tag, the labelled × removes one', async () => {
  const server = await startServer();
  const [taggedId] = await sendAll(server, [mail('Tagged', 'alpha, two words'), mail('Plain')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await waitRowTags(page, 'Tagged', ['alpha', 'two words']);
  assert.deepEqual(await rowTags(page, 'Plain'), []);
  // Screen readers hear the tags as part of the row.
  assert.match(await page.textContent(`.row-link[href="#m=${taggedId}"]`), /Tags: alpha, two words/);

  await page.click(`.row-link[href="#m=${taggedId}"]`);
  await waitMessageTags(page, ['alpha', 'two words']);
  await page.fill('#tag-add', 'beta');
  await page.press('#tag-add', 'Enter');
  await page.waitForSelector('#msg-tags .chip-edit[data-tag="beta"]');
  assert.equal(await page.inputValue('#tag-add'), '');
  await page.waitForFunction(async (id) => {
    const m = await (await fetch(`api/v1/message/${id}`)).json();
    return JSON.stringify(m.Tags) === JSON.stringify(['alpha', 'beta', 'two words']);
  }, taggedId);
  // The server's answer (as an update event) puts them in its order, on the row too.
  await waitMessageTags(page, ['alpha', 'beta', 'two words']);
  await waitRowTags(page, 'Tagged', ['alpha', 'beta', 'two words']);
  await shot(page, 'tags-message');

  // × has a name saying what it removes; the focus goes on to the next chip.
  await page.getByRole('button', { name: 'Remove tag alpha' }).click();
  await waitMessageTags(page, ['beta', 'two words']);
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove tag beta');
  assert.deepEqual((await apiJson(server, `/api/v1/message/${taggedId}`)).Tags, ['beta', 'two words']);
  await waitRowTags(page, 'Tagged', ['beta', 'two words']);
  // The row was read when opened, and the tag updates leave it read.
  assert.equal(await page.locator(`.row.is-unread .row-link[href="#m=${taggedId}"]`).count(), 0);

  // A refusal is said beside the input, and what was typed stays.
  await page.route('**/api/v1/tags', (route) => (route.request().method() === 'PUT'
    ? route.fulfill({ status: 500, contentType: 'application/json', body: '{"Error":"store unavailable"}' })
    : route.continue()));
  await page.fill('#tag-add', 'gamma');
  await page.press('#tag-add', 'Enter');
  await page.waitForSelector('#tag-error:not([hidden])');
  assert.match(await page.textContent('#tag-error'), /store unavailable/);
  assert.equal(await page.getAttribute('#tag-add', 'aria-invalid'), 'true');
  assert.equal(await page.inputValue('#tag-add'), 'gamma');
  await waitMessageTags(page, ['beta', 'two words']);
  assert.deepEqual(problems.filter((p) => !/status of 500/.test(p)), []);
  await page.context().close();
});

test('tags: the tag filter lists the tags in use, filters with tag: (quoted for spaces) and shows the active one', async () => {
  const server = await startServer();
  await sendAll(server, [mail('Alpha mail', 'alpha'), mail('Spaced mail', 'two words'), mail('Untagged')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForSelector('#tag-filter:not([hidden])');
  assert.equal(await page.getAttribute('#tag-filter', 'aria-expanded'), 'false');
  await page.click('#tag-filter');
  await page.waitForSelector('#tag-menu:not([hidden])');
  assert.equal(await page.getAttribute('#tag-filter', 'aria-expanded'), 'true');
  assert.deepEqual(await page.$$eval('#tag-menu .tag-pick', (b) => b.map((x) => x.textContent)), ['alpha', 'two words']);
  await shot(page, 'tags-filter-menu');

  await page.getByRole('button', { name: 'two words', exact: true }).click();
  await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('q') === 'tag:"two words"');
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not(.is-loading)')].length === 1);
  assert.deepEqual(await rowSubjects(page), ['Spaced mail']);
  assert.equal(await page.inputValue('#search'), 'tag:"two words"');
  assert.equal(await page.textContent('#tag-filter .tag-filter-label'), 'two words');
  assert.equal(await page.getAttribute('#tag-filter', 'aria-label'), 'Tags: filtered by two words');
  assert.ok(await page.$eval('#tag-filter', (b) => b.classList.contains('is-active')));
  assert.equal(await page.locator('#tag-menu').isHidden(), true);

  // In the menu the active tag is pressed; the other one switches the filter.
  await page.click('#tag-filter');
  assert.equal(await page.getAttribute('#tag-menu li[data-tag="two words"] .tag-pick', 'aria-pressed'), 'true');
  assert.equal(await page.getAttribute('#tag-menu li[data-tag="alpha"] .tag-pick', 'aria-pressed'), 'false');
  await page.click('#tag-menu li[data-tag="alpha"] .tag-pick');
  await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('q') === 'tag:alpha');
  await page.waitForFunction(() => document.querySelector('.row:not(.is-loading) .row-subject')?.textContent === 'Alpha mail');
  assert.equal(await page.textContent('#tag-filter .tag-filter-label'), 'alpha');

  // Typing the same search by hand shows it as active too; "Show all mail" ends the filter.
  await page.fill('#search', 'tag:"two words"');
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => document.querySelector('#tag-filter .tag-filter-label').textContent === 'two words');
  await page.click('#tag-filter');
  await page.click('#tag-menu-all');
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not(.is-loading)')].length === 3);
  assert.equal(await page.inputValue('#search'), '');
  assert.equal(await page.textContent('#tag-filter .tag-filter-label'), 'Tags');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('tags: rename and delete a tag from the tag filter; a refused name is said inline', async () => {
  const server = await startServer();
  const [aId, bId] = await sendAll(server, [mail('First', 'alpha, beta'), mail('Second', 'alpha')]);
  const { page, problems } = await openPage(browser, `${server.base}/#q=tag%3Aalpha`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not(.is-loading)')].length === 2);
  await page.click('#tag-filter');
  await page.getByRole('button', { name: 'Rename tag alpha' }).click();
  const input = page.getByRole('textbox', { name: 'New name for tag alpha' });
  assert.equal(await input.inputValue(), 'alpha');
  await input.fill('beta');
  await input.press('Enter');
  await page.waitForSelector('#tag-menu-error:not([hidden])');
  assert.match(await page.textContent('#tag-menu-error'), /Not renamed: .*beta/i);
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.deepEqual(await apiJson(server, '/api/v1/tags'), ['alpha', 'beta']);

  await input.fill('gamma');
  await input.press('Enter');
  await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('q') === 'tag:gamma');
  assert.deepEqual(await apiJson(server, '/api/v1/tags'), ['beta', 'gamma']);
  // The filter follows the new name, and the chips change from the update events.
  await page.waitForFunction(() => document.querySelector('#tag-filter .tag-filter-label').textContent === 'gamma');
  await waitRowTags(page, 'First', ['beta', 'gamma']);
  await waitRowTags(page, 'Second', ['gamma']);
  await page.waitForFunction(() => [...document.querySelectorAll('#tag-menu .tag-pick')].map((b) => b.textContent).join() === 'beta,gamma');
  assert.equal(await page.locator('#tag-menu').isVisible(), true, 'the menu stays open after a rename');

  // Delete asks first; Cancel keeps the tag.
  await page.getByRole('button', { name: 'Delete tag beta' }).click();
  await page.waitForSelector('#confirm-dialog[open]');
  assert.match(await page.textContent('#confirm-title'), /beta/);
  await page.click('#confirm-cancel');
  assert.deepEqual(await apiJson(server, '/api/v1/tags'), ['beta', 'gamma']);
  await page.getByRole('button', { name: 'Delete tag beta' }).click();
  await page.click('#confirm-ok');
  await page.waitForFunction(() => [...document.querySelectorAll('#tag-menu .tag-pick')].map((b) => b.textContent).join() === 'gamma');
  assert.deepEqual(await apiJson(server, '/api/v1/tags'), ['gamma']);
  await waitRowTags(page, 'First', ['gamma']);
  assert.deepEqual((await apiJson(server, `/api/v1/message/${aId}`)).Tags, ['gamma']);

  // Deleting the tag being filtered by shows all mail again.
  await page.getByRole('button', { name: 'Delete tag gamma' }).click();
  await page.click('#confirm-ok');
  await page.waitForFunction(() => !location.hash.includes('q='));
  assert.deepEqual(await apiJson(server, '/api/v1/tags'), []);
  assert.deepEqual((await apiJson(server, `/api/v1/message/${bId}`)).Tags, []);
  await page.waitForSelector('#tag-filter', { state: 'hidden' });
  assert.deepEqual(problems.filter((p) => !/status of 400 \(Bad Request\).*\/api\/v1\/tags\/alpha/.test(p)), []);
  await page.context().close();
});

test('tags: chips follow update events from another page and from the API, without a reload', async () => {
  const server = await startServer();
  const [id] = await sendAll(server, [mail('Shared')]);
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForSelector('#tag-add');
  await page.waitForSelector('.row:not(.is-loading)');
  // No tags in use: no filter button.
  assert.equal(await page.locator('#tag-filter').isHidden(), true);
  const navigations = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });

  const other = await openPage(browser, `${server.base}/#m=${id}`);
  await other.page.waitForSelector('#tag-add');
  await other.page.fill('#tag-add', 'from-page-2');
  await other.page.press('#tag-add', 'Enter');
  await waitMessageTags(page, ['from-page-2']);
  await waitRowTags(page, 'Shared', ['from-page-2']);
  await page.waitForSelector('#tag-filter:not([hidden])');

  await put(server, '/api/v1/tags', { Tags: ['api one', 'api-two'], IDs: [id] });
  await waitMessageTags(page, ['api one', 'api-two']);
  await waitRowTags(page, 'Shared', ['api one', 'api-two']);
  await waitMessageTags(other.page, ['api one', 'api-two']);
  await page.click('#tag-filter');
  await page.waitForFunction(() => [...document.querySelectorAll('#tag-menu .tag-pick')].map((b) => b.textContent).join() === 'api one,api-two');
  await page.keyboard.press('Escape');

  // Removing everything through the API empties the chips and hides the filter.
  await put(server, '/api/v1/tags', { Tags: [], IDs: [id] });
  await waitMessageTags(page, []);
  await waitRowTags(page, 'Shared', []);
  await page.waitForSelector('#tag-filter', { state: 'hidden' });
  // The read flag is untouched by tag updates.
  assert.equal(await page.locator('.row.is-unread').count(), 0);
  assert.equal(await page.textContent('#msg-toggle-read'), 'Mark unread');
  assert.deepEqual(navigations, []);
  assert.deepEqual(problems, []);
  assert.deepEqual(other.problems, []);
  await other.context.close();
  await page.context().close();
});

test('tags: by keyboard alone, with visible focus and named controls: the filter, rename, and the message’s tags', async () => {
  const server = await startServer();
  const [, id] = await sendAll(server, [mail('Older', 'work'), mail('Keyboard', 'alpha, beta')]);
  const { page, problems } = await openPage(browser, `${server.base}/`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.waitForSelector('#tag-filter:not([hidden])');

  // From the search box, Tab reaches the filter; Enter opens it on the first tag.
  await page.keyboard.press('/');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tag-filter');
  assert.ok(await focusVisible(page), 'the tag filter shows its focus');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#tag-menu:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement.closest('li')?.dataset.tag), 'alpha');
  assert.ok(await focusVisible(page), 'the first tag shows its focus');
  // Up and down go through the tags (j and k do not leave the menu).
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.closest('li')?.dataset.tag), 'beta');
  await page.keyboard.press('j');
  assert.equal(await page.evaluate(() => document.activeElement.closest('li')?.dataset.tag), 'beta');
  // Tab goes to its rename button; Enter edits, Escape cancels, Enter saves.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Rename tag beta');
  assert.ok(await focusVisible(page), 'the rename button shows its focus');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'New name for tag beta');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Rename tag beta');
  assert.equal(await page.locator('#tag-menu').isVisible(), true);
  await page.keyboard.press('Enter');
  await page.keyboard.type('bravo');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement.getAttribute('aria-label') === 'Rename tag bravo');
  assert.deepEqual(await apiJson(server, '/api/v1/tags'), ['alpha', 'bravo', 'work']);
  // Back to the tag, Enter filters by it, and the focus is back on the filter button.
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('q') === 'tag:bravo');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tag-filter');
  await page.waitForFunction(() => [...document.querySelectorAll('.row:not(.is-loading)')].length === 1);
  // Escape closes an open menu and gives the focus back.
  await page.keyboard.press('Enter');
  await page.waitForSelector('#tag-menu:not([hidden])');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#tag-menu').isHidden(), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tag-filter');

  // The open message: Tab from the toolbar reaches each chip's × and then the input.
  await page.keyboard.press('/');
  await page.keyboard.press('Enter');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#tag-add');
  await page.focus('#msg-delete');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove tag alpha');
  assert.ok(await focusVisible(page), 'a chip’s × shows its focus');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove tag bravo');
  await page.keyboard.press('Enter');
  await waitMessageTags(page, ['alpha']);
  // The chip that had the focus is gone, and it was the last: the one before has it now.
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove tag alpha');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tag-add');
  assert.ok(await focusVisible(page), 'the tag input shows its focus');
  assert.equal(await page.getByRole('combobox', { name: 'Add a tag' }).count(), 1);
  await page.keyboard.type('kb, second');
  await page.keyboard.press('Enter');
  await waitMessageTags(page, ['alpha', 'kb', 'second']);
  assert.deepEqual((await apiJson(server, `/api/v1/message/${id}`)).Tags, ['alpha', 'kb', 'second']);
  // Escape leaves the input; the shortcuts work again.
  await page.keyboard.press('Escape');
  assert.notEqual(await page.evaluate(() => document.activeElement.id), 'tag-add');
  assert.deepEqual(problems, []);
  await page.context().close();
});
