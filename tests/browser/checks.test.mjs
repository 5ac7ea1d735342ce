// The message's check tabs: HTML check (scores from caniemail data, recomputed for the platforms
// ticked), Links (run only on request, with or without following redirects) and Spam (only when
// the server has SpamAssassin). Most tests answer the three check routes with Mailpit-shaped JSON
// written here, so every number shown can be asserted exactly (and spamd is not needed); the HTML
// check and the link check also run once each against the real routes. Everything else is the
// real server and real mail. Mailpit's shapes: internal/htmlcheck/structs.go,
// internal/linkcheck/structs.go and internal/spamassassin (Result, Rule) in axllent/mailpit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendAll, buildMessage, outsideViewport, shot, apiJson } from './helpers.mjs';
import { welcome } from './samples.mjs';

const browser = await launch();
const server = await startServer();
const [htmlId, textId] = await sendAll(server, [
  welcome(),
  { from: 'cron@ops.example', to: ['dev@example.com'], data: buildMessage({ subject: 'Nightly backup done', text: 'All 14 volumes backed up.\nhttps://ops.example/backups' }) },
]);

// ---- answers, as Mailpit's API gives them ----------------------------------------------------------

const r = (Name, Platform, Family, Version, Support, NoteNumber = '') => ({ Name, Platform, Family, Version, Support, NoteNumber });

/**
 * 40 nodes; four warnings. With every platform: border-radius weighs 10/40 (2 of 7 results "no",
 * 1 partial), display:flex 4/40 (5 of 11 no, 3 partial), <script> 1/40 (100 % no), :hover 5 %
 * (an at-rule/pseudo-class: 2 of 4 no). The worst weighted shares: unsupported 2/7·25 = 7.14,
 * partial 1/7·25 = 3.57, so 89.29 % supported.
 */
const HTML_CHECK = {
  Warnings: [
    {
      Slug: 'css-display-flex', Title: 'display:flex', Description: '', URL: 'https://www.caniemail.com/features/css-display-flex/',
      Category: 'css', Tags: [], Keywords: 'flexbox',
      Results: [
        r('Outlook Windows (2007)', 'windows', 'outlook', '2007', 'no'),
        r('Outlook Windows (2010)', 'windows', 'outlook', '2010', 'no'),
        r('Outlook Windows (2013)', 'windows', 'outlook', '2013', 'no'),
        r('Outlook Windows (2016)', 'windows', 'outlook', '2016', 'no'),
        r('Outlook Windows Mail (2019-02)', 'windows-mail', 'outlook', '2019-02', 'no'),
        r('Outlook macOS (2019-02)', 'macos', 'outlook', '2019-02', 'yes'),
        r('Apple Mail macOS (12.4)', 'macos', 'apple-mail', '12.4', 'yes'),
        r('Gmail iOS (2020-11)', 'ios', 'gmail', '2020-11', 'partial', '1'),
        r('Gmail Android (2020-11)', 'android', 'gmail', '2020-11', 'partial', '1'),
        r('Gmail Desktop Webmail (2019-02)', 'desktop-webmail', 'gmail', '2019-02', 'yes'),
        r('Yahoo! Mail Desktop Webmail (2020-11)', 'desktop-webmail', 'yahoo', '2020-11', 'partial', '2'),
      ],
      NotesByNumber: { 1: 'Not supported with non Google accounts.', 2: '<code>display:inline-flex</code> is not supported.' },
      Score: { Found: 4, Supported: 27.272728, Partial: 27.272728, Unsupported: 45.454544 },
    },
    {
      Slug: 'html-script', Title: '<script> element', Description: 'JavaScript is not supported in any email client.', URL: '',
      Category: 'html', Tags: [], Keywords: '', Results: [], NotesByNumber: {},
      Score: { Found: 1, Supported: 0, Partial: 0, Unsupported: 100 },
    },
    {
      Slug: 'css-pseudo-class-hover', Title: ':hover',
      Description: 'Styles an element the pointer is over. See <a href="https://developer.mozilla.org/docs/Web/CSS/:hover" target="_blank">MDN</a>; <a href="javascript:alert(1)">not a link</a><img src="x" onerror="alert(1)">',
      URL: 'https://www.caniemail.com/features/css-pseudo-class-hover/', Category: 'css', Tags: [], Keywords: '',
      Results: [
        r('Outlook Windows (2016)', 'windows', 'outlook', '2016', 'no'),
        r('Gmail Desktop Webmail (2019-02)', 'desktop-webmail', 'gmail', '2019-02', 'yes'),
        r('Apple Mail iOS (12.1)', 'ios', 'apple-mail', '12.1', 'yes'),
        r('Gmail Android (2020-11)', 'android', 'gmail', '2020-11', 'no'),
      ],
      NotesByNumber: {},
      Score: { Found: 2, Supported: 50, Partial: 0, Unsupported: 50 },
    },
    {
      Slug: 'css-border-radius', Title: 'border-radius', Description: 'Rounded corners.', URL: 'https://www.caniemail.com/features/css-border-radius/',
      Category: 'css', Tags: [], Keywords: 'rounded',
      Results: [
        r('Outlook Windows (2016)', 'windows', 'outlook', '2016', 'no'),
        r('Outlook Windows (2019)', 'windows', 'outlook', '2019', 'no'),
        r('Apple Mail macOS (12.4)', 'macos', 'apple-mail', '12.4', 'yes'),
        r('Gmail Android (2019-02)', 'android', 'gmail', '2019-02', 'yes'),
        r('Gmail iOS (2019-02)', 'ios', 'gmail', '2019-02', 'yes'),
        r('Outlook Outlook.com (2019-02)', 'outlook-com', 'outlook', '2019-02', 'yes'),
        r('Samsung Email Android (5.0.10.2)', 'android', 'samsung-email', '5.0.10.2', 'partial', '1'),
      ],
      NotesByNumber: { 1: 'Only on <code>&lt;table&gt;</code> elements.' },
      Score: { Found: 10, Supported: 57.142857, Partial: 14.285714, Unsupported: 28.571428 },
    },
  ],
  Platforms: {
    android: ['AOL', 'Gmail', 'Outlook', 'Samsung Email', 'Yahoo! Mail'],
    'desktop-webmail': ['AOL', 'Fastmail', 'Gmail', 'Yahoo! Mail'],
    ios: ['Apple Mail', 'Gmail', 'Outlook'],
    macos: ['Apple Mail', 'Mozilla Thunderbird', 'Outlook'],
    'mobile-webmail': ['Gmail'],
    'outlook-com': ['Outlook'],
    windows: ['Mozilla Thunderbird', 'Outlook'],
    'windows-mail': ['Outlook'],
  },
  Total: { Tests: 173, Nodes: 40, Supported: 92.857, Partial: 3.5714285, Unsupported: 3.5714285 },
};

const LINKS = {
  Errors: 2,
  Links: [
    { URL: 'https://acme.example/confirm?t=abc123', StatusCode: 200, Status: 'OK' },
    { URL: 'https://acme.example/unsubscribe', StatusCode: 404, Status: 'Not Found' },
    { URL: 'http://click.acme.example/c/8f2e1a', StatusCode: 301, Status: 'Moved Permanently' },
    { URL: 'https://cdn.acme.invalid/logo.png', StatusCode: 0, Status: 'no such host' },
    { URL: 'https://acme.example/styles/mail.css', StatusCode: 200, Status: 'OK' },
  ],
};
const LINKS_FOLLOWED = {
  Errors: 2,
  Links: LINKS.Links.map((l) => (l.StatusCode === 301 ? { ...l, StatusCode: 200, Status: 'OK' } : l)),
};

const SPAM = {
  IsSpam: false, Error: '', Score: 3.4,
  Rules: [
    { Score: -0.1, Name: 'DKIM_VALID', Description: 'Message has at least one valid DKIM or DK signature' },
    { Score: 0, Name: 'HTML_MESSAGE', Description: 'BODY: HTML included in message' },
    { Score: 2.5, Name: 'HTML_IMAGE_ONLY_16', Description: 'BODY: HTML: images with 1200-1600 bytes of words' },
    { Score: 1, Name: 'MIME_HTML_ONLY', Description: 'BODY: Message only has text/html MIME parts' },
  ],
};

const json = (body, status = 200) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

/**
 * Answers the three check routes and api/v1/webui (the real server's, with SpamAssassin set) for
 * every page of `context` (context.route: page.route for the context, in place before openPage
 * navigates). `answers` may replace any, `real` names those the server answers itself; every
 * request is recorded in `calls` by kind.
 */
async function routeChecks(context, { spam = true, answers = {}, real = [] } = {}) {
  const calls = { html: [], links: [], spam: [], webui: [] };
  const on = (suffix, kind, answer) => context.route((url) => url.pathname.endsWith(suffix), async (route) => {
    const url = new URL(route.request().url());
    calls[kind].push(url);
    if (real.includes(kind)) await route.continue();
    else await route.fulfill(await answer(url));
  });
  await on('/html-check', 'html', answers.html || (() => json(HTML_CHECK)));
  await on('/link-check', 'links', answers.links || ((url) => json(url.searchParams.get('follow') === 'true' ? LINKS_FOLLOWED : LINKS)));
  await on('/sa-check', 'spam', answers.spam || (() => json(SPAM)));
  await context.route((url) => url.pathname.endsWith('/api/v1/webui'), async (route) => {
    calls.webui.push(new URL(route.request().url()));
    const res = await route.fetch();
    const ui = await res.json();
    assert.equal(ui.SpamAssassin, false, 'the real server has no SpamAssassin');
    await route.fulfill({ response: res, json: { ...ui, SpamAssassin: spam } });
  });
  return calls;
}

/** A fresh context with the check routes answered, its page open at `hash`. */
async function open(hash, { viewport = { width: 1440, height: 900 }, colorScheme = 'light', ...routes } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const calls = await routeChecks(context, routes);
  const opened = await openPage(browser, `${server.base}/${hash}`, { context });
  return { ...opened, calls };
}

/** Console errors other than the failed statuses an error case answers on purpose. */
const unexpected = (problems) => problems.filter((p) => !/status of (4|5)\d\d .*\/(html-check|link-check|sa-check)/.test(p));

const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));

// ---- HTML check ----------------------------------------------------------------------------------

test('HTML check: asked when first opened, once; the score, platforms, warnings (worst first) with clients, notes and reference', async () => {
  const { page, problems, calls, context } = await open(`#m=${htmlId}`);
  await page.waitForSelector('#msg-subject');
  assert.equal(await page.isVisible('#tab-html-check'), true);
  assert.equal(calls.html.length, 0, 'nothing asked before the tab is opened');
  await page.click('#tab-html-check');
  await page.waitForSelector('#html-check-score');
  assert.equal(calls.html.length, 1);
  assert.equal(calls.html[0].pathname, `/api/v1/message/${htmlId}/html-check`);

  assert.equal(await page.textContent('#html-check-score'), '89.3%');
  assert.deepEqual(await texts(page, '.hc-legend li'), ['89.3% supported', '3.6% partially supported', '7.1% not supported']);
  assert.match(await page.textContent('.hc-facts'), /173 tests of 40 HTML nodes, for 8 of 8 platforms/);
  assert.equal(await page.getAttribute('.hc-summary > .meter', 'aria-label'), '89.3% supported, 3.6% partial, 7.1% not supported');
  assert.equal(await page.textContent('#tab-html-check .tab-count'), '89%');

  // Each platform alone, in Mailpit's order, with its clients.
  const platforms = await page.$$eval('.hc-platform', (els) => els.map((el) => [
    el.dataset.platform, el.querySelector('.hc-platform-name').textContent, el.querySelector('.hc-platform-pct').textContent,
  ]));
  assert.deepEqual(platforms.map((p) => p[0]), ['windows', 'windows-mail', 'outlook-com', 'macos', 'ios', 'android', 'desktop-webmail', 'mobile-webmail']);
  // Windows alone: border-radius 100 % no × 10/40 = 25 → 75 %; macOS alone: only <script> (2.5) remains.
  assert.deepEqual(platforms.find((p) => p[0] === 'windows'), ['windows', 'Windows', '75%']);
  assert.deepEqual(platforms.find((p) => p[0] === 'macos'), ['macos', 'macOS', '97.5%']);
  assert.equal(await page.textContent('.hc-platform[data-platform="macos"] .hc-platform-clients'), 'Apple Mail, Mozilla Thunderbird, Outlook');

  // Worst first: border-radius (10.7), display:flex (7.3), then <script> and :hover (2.5 each; more unsupported first).
  assert.equal(await page.textContent('#html-check-count'), '4 warnings');
  assert.deepEqual(await texts(page, '.hc-warn-title'), ['border-radius', 'display:flex', '<script> element', ':hover']);
  const flex = page.locator('.hc-warning[data-slug="css-display-flex"]');
  assert.equal(await flex.locator('.hc-warn-verdict').textContent(), '45.5% not supported · 27.3% partial');
  assert.deepEqual(await flex.locator('.hc-warn-chips .chip').allTextContents(), ['CSS', '×4']);
  await flex.locator('summary').click();
  assert.deepEqual(await flex.locator('.hc-clients.is-no li').allTextContents(), ['Outlook Windows 2007, 2010, 2013, 2016', 'Outlook Windows Mail 2019-02']);
  assert.deepEqual(await flex.locator('.hc-clients.is-partial li').allTextContents(), ['Gmail Android 2020-111', 'Gmail iOS 2020-111', 'Yahoo! Mail Desktop Webmail 2020-112']);
  assert.equal(await flex.locator('.hc-clients.is-no .hc-h').textContent(), 'Not supported (5)');
  assert.deepEqual(await flex.locator('.hc-note-list li').allTextContents(), ['1Not supported with non Google accounts.', '2display:inline-flex is not supported.']);
  assert.equal(await flex.locator('.hc-note-list li[data-note="2"] code').textContent(), 'display:inline-flex');
  const ref = flex.locator('.hc-ref a');
  assert.equal(await ref.getAttribute('href'), 'https://www.caniemail.com/features/css-display-flex/');
  assert.equal(await ref.getAttribute('target'), '_blank');
  assert.equal(await ref.getAttribute('rel'), 'noopener noreferrer');

  // caniemail's HTML is rebuilt: its http(s) link stays a link (ours, new tab), the rest is text.
  const hover = page.locator('.hc-warning[data-slug="css-pseudo-class-hover"]');
  await hover.locator('summary').click();
  assert.match(await hover.locator('.hc-at-rule').textContent(), /Found 2 times in style blocks/);
  assert.deepEqual(await hover.locator('.hc-desc a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href'), a.rel])),
    [['MDN', 'https://developer.mozilla.org/docs/Web/CSS/:hover', 'noopener noreferrer']]);
  assert.equal(await hover.locator('.hc-desc img').count(), 0);
  assert.match(await hover.locator('.hc-desc').textContent(), /not a link$/);

  // Cached while the message is open: back and forth asks nothing again.
  await page.click('#tab-text');
  await page.click('#tab-html-check');
  assert.equal(await page.isVisible('#html-check-score'), true);
  assert.equal(calls.html.length, 1);
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('HTML check: leaving platforms out recomputes the score, and the choice is remembered', async () => {
  const { page, problems, calls, context } = await open(`#m=${htmlId}`);
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-html-check');
  await page.waitForSelector('#html-check-score');
  assert.equal(await page.textContent('#html-check-score'), '89.3%');
  await page.uncheck('#hc-platform-windows');
  await page.uncheck('#hc-platform-windows-mail');
  // Without Windows: border-radius and flex are only partial (20 % × 0.25 and 50 % × 0.1 → 5);
  // <script> stays 2.5 unsupported; so 92.5 %.
  await page.waitForFunction(() => document.getElementById('html-check-score').textContent === '92.5%');
  assert.deepEqual(await texts(page, '.hc-legend li'), ['92.5% supported', '5% partially supported', '2.5% not supported']);
  assert.match(await page.textContent('.hc-facts'), /for 6 of 8 platforms/);
  assert.equal(await page.textContent('#tab-html-check .tab-count'), '93%');
  assert.deepEqual(await texts(page, '.hc-warn-title'), ['border-radius', 'display:flex', '<script> element', ':hover']);
  const flex = page.locator('.hc-warning[data-slug="css-display-flex"]');
  assert.equal(await flex.locator('.hc-warn-verdict').textContent(), '50% partial');
  await flex.locator('summary').click();
  assert.equal(await flex.locator('.hc-clients.is-no').count(), 0, 'Windows clients are no longer listed');
  assert.equal(await page.evaluate(() => localStorage.getItem('mailsnare.html-check-off')), '["windows","windows-mail"]');

  // Remembered: a new page starts with the same platforms and score.
  await page.reload();
  await page.waitForSelector('html[data-ready="1"]');
  await page.waitForSelector('#html-check-score');
  assert.equal(await page.getAttribute('#tab-html-check', 'aria-selected'), 'true', 'the tab is remembered too');
  assert.equal(await page.textContent('#html-check-score'), '92.5%');
  assert.equal(await page.isChecked('#hc-platform-windows'), false);
  assert.equal(await page.isChecked('#hc-platform-macos'), true);

  // None: nothing to score; "Tick all" brings every platform back.
  for (const id of ['outlook-com', 'macos', 'ios', 'android', 'desktop-webmail', 'mobile-webmail']) await page.uncheck(`#hc-platform-${id}`);
  await page.waitForSelector('.hc-summary .notice');
  assert.match(await page.textContent('.hc-summary'), /Pick at least one platform/);
  assert.equal(await page.locator('#tab-html-check .tab-count').count(), 0);
  await page.click('#html-check-all');
  await page.waitForFunction(() => document.getElementById('html-check-score')?.textContent === '89.3%');
  assert.equal(await page.evaluate(() => localStorage.getItem('mailsnare.html-check-off')), null);
  assert.equal(calls.html.length, 2, 'once per page: the toggles ask nothing');
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('HTML check: shown only for HTML mail; keyboard reaches the new tabs with the arrow keys', async () => {
  const { page, problems, calls, context } = await open(`#m=${textId}`, { spam: true });
  await page.waitForSelector('#msg-subject');
  await page.waitForSelector('#tab-spam:not([hidden])');
  assert.equal(await page.isHidden('#tab-html-check'), true, 'a text-only message has no HTML check');
  await page.focus('#tab-envelope');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-links', 'the hidden tab is skipped');
  assert.equal(await page.isVisible('#link-check-run'), true);
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-spam');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-html');
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-spam');
  await page.waitForSelector('#spam-score');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-links');
  assert.equal(await page.getAttribute('#tab-links', 'aria-selected'), 'true');
  assert.equal(calls.html.length, 0);
  assert.equal(calls.links.length, 0, 'going through the Links tab runs nothing');

  // An HTML message: the tab is back, between Envelope and Links.
  await page.evaluate((id) => { location.hash = `#m=${id}`; }, htmlId);
  await page.waitForFunction(() => !document.getElementById('tab-html-check')?.hidden);
  await page.focus('#tab-envelope');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-html-check');
  await page.waitForSelector('#html-check-score');
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('HTML check: an error answer is said inline, and Try again asks again', async () => {
  let fail = true;
  let release;
  const held = new Promise((r) => { release = r; });
  const { page, problems, calls, context } = await open(`#m=${htmlId}`, {
    answers: {
      html: async () => {
        if (fail) return json({ Error: 'HTML check failed: unable to parse the message' }, 500);
        await held;
        return json(HTML_CHECK);
      },
    },
  });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-html-check');
  await page.waitForSelector('#panel-html-check .check-error');
  assert.equal(await page.textContent('#panel-html-check .check-error-title'), 'The HTML check could not be run.');
  assert.equal(await page.textContent('#panel-html-check .check-error-text'), 'HTML check failed: unable to parse the message');
  assert.equal(await page.getAttribute('#panel-html-check .check-error', 'role'), 'alert');
  fail = false;
  await page.click('#panel-html-check .check-error button');
  // While the server works, the panel says so.
  await page.waitForSelector('#panel-html-check .check-loading');
  assert.equal(await page.getAttribute('#panel-html-check', 'aria-busy'), 'true');
  release();
  await page.waitForSelector('#html-check-score');
  assert.equal(await page.textContent('#html-check-score'), '89.3%');
  assert.equal(calls.html.length, 2);

  // A 200 that only carries an Error is an error too.
  const { page: p2, problems: problems2, context: c2 } = await open(`#m=${htmlId}`, { answers: { html: () => json({ Error: 'message has no HTML' }) } });
  await p2.waitForSelector('#msg-subject');
  await p2.click('#tab-html-check');
  await p2.waitForSelector('#panel-html-check .check-error');
  assert.equal(await p2.textContent('#panel-html-check .check-error-text'), 'message has no HTML');
  assert.deepEqual(unexpected(problems), []);
  assert.deepEqual(unexpected(problems2), []);
  await context.close();
  await c2.close();
});

// ---- Links -----------------------------------------------------------------------------------------

test('Links: nothing is requested until "Check links"; the result lists every link, errors first and marked; follow=true when ticked', async () => {
  const { page, problems, calls, context } = await open(`#m=${htmlId}`);
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-links');
  await page.waitForSelector('#link-check-run');
  assert.equal(await page.isChecked('#link-check-follow'), false);
  assert.equal(await page.textContent('#link-check-result'), '');
  // Other tabs do not start it either.
  await page.click('#tab-html-check');
  await page.waitForSelector('#html-check-score');
  await page.click('#tab-links');
  assert.equal(calls.links.length, 0, 'no link check before the click');

  await page.click('#link-check-run');
  await page.waitForSelector('#link-check-list');
  assert.equal(calls.links.length, 1);
  assert.equal(calls.links[0].pathname, `/api/v1/message/${htmlId}/link-check`);
  assert.equal(calls.links[0].search, '', 'redirects are not followed unless ticked');
  assert.match(await page.textContent('#link-check-summary'), /^5 links checked · 2 errors · redirects not followed$/);
  const rows = await page.$$eval('.lc-row', (els) => els.map((el) => [
    el.classList.contains('is-error'), el.querySelector('.lc-code').textContent, el.querySelector('.lc-url').textContent, el.querySelector('.lc-status').textContent,
  ]));
  assert.deepEqual(rows, [
    [true, '404', 'https://acme.example/unsubscribe', 'Not Found'],
    [true, 'Failed', 'https://cdn.acme.invalid/logo.png', 'no such host'],
    [false, '301', 'http://click.acme.example/c/8f2e1a', 'Moved Permanently'],
    [false, '200', 'https://acme.example/confirm?t=abc123', 'OK'],
    [false, '200', 'https://acme.example/styles/mail.css', 'OK'],
  ]);
  assert.deepEqual(await page.$$eval('.lc-row a', (as) => [...new Set(as.map((a) => `${a.target} ${a.rel}`))]), ['_blank noopener noreferrer']);
  assert.notEqual(await page.$eval('.lc-row.is-error', (el) => getComputedStyle(el).backgroundColor),
    await page.$eval('.lc-row:not(.is-error)', (el) => getComputedStyle(el).backgroundColor), 'errors are highlighted');
  assert.equal(await page.textContent('#tab-links .tab-count'), '2');
  assert.equal(await page.textContent('#link-check-run'), 'Check again');

  // Ticking "Follow redirects" runs nothing by itself; the button then sends follow=true.
  await page.check('#link-check-follow');
  assert.equal(await page.textContent('#link-check-result'), '');
  assert.equal(calls.links.length, 1);
  await page.click('#link-check-run');
  await page.waitForSelector('#link-check-list');
  assert.equal(calls.links.length, 2);
  assert.equal(calls.links[1].searchParams.get('follow'), 'true');
  assert.match(await page.textContent('#link-check-summary'), /redirects followed/);
  assert.deepEqual(await texts(page, '.lc-row:not(.is-error) .lc-code'), ['200', '200', '200']);
  // Each setting keeps its result while the message is open.
  await page.uncheck('#link-check-follow');
  await page.waitForFunction(() => document.querySelectorAll('.lc-row .lc-code')[2]?.textContent === '301');
  await page.click('#tab-source');
  await page.click('#tab-links');
  assert.equal(await page.isVisible('#link-check-list'), true);
  assert.equal(calls.links.length, 2);
  assert.equal(await page.evaluate(() => localStorage.getItem('mailsnare.link-check-follow')), null);
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('Links: the button works by keyboard, the loading state shows, and an error answer is said inline', async () => {
  let release;
  const held = new Promise((r) => { release = r; });
  const { page, problems, calls, context } = await open(`#m=${htmlId}`, {
    answers: {
      links: async () => {
        await held;
        return json({ Error: 'link check is not available: no outbound HTTP allowed' }, 503);
      },
    },
  });
  await page.waitForSelector('#msg-subject');
  await page.focus('#tab-html');
  // Tab → Links by the arrow keys (HTML, Text, Source, Headers, Parts, Envelope, HTML check, Links).
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-links');
  await page.waitForSelector('#link-check-run');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'panel-links');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'link-check-run');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#link-check-result .check-loading');
  assert.equal(await page.textContent('#link-check-run'), 'Checking…');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'link-check-run', 'the focus stays on the button');
  // A second press while it runs asks nothing more.
  await page.keyboard.press('Enter');
  release();
  await page.waitForSelector('#link-check-result .check-error');
  assert.equal(await page.textContent('#link-check-result .check-error-text'), 'link check is not available: no outbound HTTP allowed');
  assert.equal(await page.textContent('#link-check-run'), 'Check links');
  assert.equal(calls.links.length, 1);
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('Links against the real route: the server refuses loopback links, and the tab says so', async () => {
  const [id] = await sendAll(server, [{
    from: 'app@example.com', to: ['dev@example.com'],
    data: buildMessage({ subject: 'Internal links', text: 'See http://127.0.0.1:9/admin', html: '<p><a href="http://127.0.0.1:9/admin">admin</a> <a href="http://localhost:9/x">x</a></p>' }),
  }]);
  const { page, problems, calls, context } = await open(`#m=${id}`, { real: ['links'] });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-links');
  await page.click('#link-check-run');
  await page.waitForSelector('#link-check-list, #link-check-result .check-error');
  assert.equal(calls.links.length, 1);
  const rows = await page.$$eval('.lc-row', (els) => els.map((el) => [el.classList.contains('is-error'), el.querySelector('.lc-code').textContent, el.querySelector('.lc-status').textContent]));
  assert.ok(rows.length >= 1, 'the links are listed');
  for (const row of rows) assert.deepEqual(row, [true, '451', 'Blocked private/reserved address']);
  assert.match(await page.textContent('#link-check-summary'), new RegExp(`^${rows.length} links? checked · ${rows.length} errors?`));
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('HTML check against the real route: the tab lists the warnings the server found', async () => {
  const [id] = await sendAll(server, [{
    from: 'app@example.com', to: ['dev@example.com'],
    data: buildMessage({
      subject: 'Flex newsletter',
      text: 'A newsletter',
      html: '<html><head><style>.row{display:flex;border-radius:4px} a:hover{color:red}</style></head><body><div class="row"><p>Hi</p></div></body></html>',
    }),
  }]);
  const api = await apiJson(server, `/api/v1/message/${id}/html-check`);
  const { page, problems, calls, context } = await open(`#m=${id}`, { real: ['html'] });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-html-check');
  await page.waitForSelector('#html-check-score');
  assert.equal(calls.html.length, 1);
  const slugs = await page.$$eval('.hc-warning', (els) => els.map((el) => el.dataset.slug));
  assert.deepEqual([...slugs].sort(), api.Warnings.map((w) => w.Slug).sort());
  assert.ok(slugs.includes('css-display-flex'), `display:flex is flagged: ${slugs}`);
  const n = api.Warnings.length;
  assert.equal(await page.textContent('#html-check-count'), `${n} warning${n === 1 ? '' : 's'}`);
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

// ---- Spam ------------------------------------------------------------------------------------------

test('Spam: no tab when the server has no SpamAssassin; nothing asked', async () => {
  const { page, problems, calls, context } = await open(`#m=${htmlId}`, { spam: false });
  await page.waitForSelector('#msg-subject');
  await page.waitForFunction(() => document.getElementById('tab-links') !== null);
  assert.equal(calls.webui.length, 1);
  assert.equal(await page.isHidden('#tab-spam'), true);
  await page.focus('#tab-html');
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-links', 'the last tab is Links');
  // Another message: webui is not asked again.
  await page.evaluate((id) => { location.hash = `#m=${id}`; }, textId);
  await page.waitForFunction(() => document.getElementById('msg-subject')?.textContent === 'Nightly backup done');
  assert.equal(await page.isHidden('#tab-spam'), true);
  assert.equal(calls.webui.length, 1, 'asked once per page');
  assert.equal(calls.spam.length, 0);
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('Spam: the score, the verdict and the rules by score; a remembered Spam tab opens once the server says it has SpamAssassin', async () => {
  const { page, problems, calls, context } = await open(`#m=${htmlId}`);
  await page.waitForSelector('#tab-spam:not([hidden])');
  assert.equal(calls.spam.length, 0, 'asked only when the tab is opened');
  await page.click('#tab-spam');
  await page.waitForSelector('#spam-score');
  assert.equal(calls.spam[0].pathname, `/api/v1/message/${htmlId}/sa-check`);
  assert.equal(await page.textContent('#spam-score'), '3.4');
  assert.equal(await page.textContent('#spam-verdict'), 'Not spam');
  assert.equal(await page.textContent('#tab-spam .tab-count'), '3.4');
  const rows = await page.$$eval('#spam-rules tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rows, [
    ['+2.5', 'HTML_IMAGE_ONLY_16', 'BODY: HTML: images with 1200-1600 bytes of words'],
    ['+1', 'MIME_HTML_ONLY', 'BODY: Message only has text/html MIME parts'],
    ['0', 'HTML_MESSAGE', 'BODY: HTML included in message'],
    ['-0.1', 'DKIM_VALID', 'Message has at least one valid DKIM or DK signature'],
  ]);
  await page.click('#tab-text');
  await page.click('#tab-spam');
  assert.equal(calls.spam.length, 1, 'cached while the message is open');

  // Reloaded with Spam remembered: the tab shows as soon as webui has answered.
  await page.reload();
  await page.waitForSelector('html[data-ready="1"]');
  await page.waitForSelector('#spam-score');
  assert.equal(await page.getAttribute('#tab-spam', 'aria-selected'), 'true');
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

test('Spam: a spam verdict, and SpamAssassin’s Error said inline', async () => {
  const spammy = { IsSpam: true, Error: '', Score: 7.2, Rules: [{ Score: 4.2, Name: 'URIBL_BLACK', Description: 'Contains an URL listed in the URIBL blacklist' }, { Score: 3, Name: 'FREEMAIL_FORGED_REPLYTO', Description: 'Freemail in Reply-To, but not From' }] };
  const { page, problems, context } = await open(`#m=${htmlId}`, { answers: { spam: () => json(spammy) } });
  await page.click('#tab-spam');
  await page.waitForSelector('#spam-score');
  assert.equal(await page.textContent('#spam-score'), '7.2');
  assert.equal(await page.textContent('#spam-verdict'), 'Spam');
  assert.equal(await page.getAttribute('#spam-summary', 'class'), 'sa-summary tone-bad');
  assert.deepEqual(await texts(page, '#spam-rules .sa-rule-name'), ['URIBL_BLACK', 'FREEMAIL_FORGED_REPLYTO']);
  await context.close();

  const broken = { IsSpam: false, Error: 'dial tcp 127.0.0.1:783: connect: connection refused', Score: 0, Rules: [] };
  const { page: p2, problems: problems2, context: c2 } = await open(`#m=${htmlId}`, { answers: { spam: () => json(broken) } });
  await p2.click('#tab-spam');
  await p2.waitForSelector('#panel-spam .check-error');
  assert.equal(await p2.textContent('#panel-spam .check-error-title'), 'SpamAssassin could not check this message.');
  assert.equal(await p2.textContent('#panel-spam .check-error-text'), 'dial tcp 127.0.0.1:783: connect: connection refused');
  assert.equal(await p2.locator('#spam-score').count(), 0);
  assert.equal(await p2.textContent('#tab-spam .tab-count'), '!');

  // An HTTP error from the route: said inline too.
  const { page: p3, problems: problems3, context: c3 } = await open(`#m=${htmlId}`, { answers: { spam: () => json({ Error: 'SpamAssassin is not enabled' }, 400) } });
  await p3.click('#tab-spam');
  await p3.waitForSelector('#panel-spam .check-error');
  assert.equal(await p3.textContent('#panel-spam .check-error-text'), 'SpamAssassin is not enabled');
  for (const p of [problems, problems2, problems3]) assert.deepEqual(unexpected(p), []);
  await c2.close();
  await c3.close();
});

// ---- under a path prefix ----------------------------------------------------------------------------

test('under --webroot /mail the checks ask the prefixed routes', async () => {
  const prefixed = await startServer(['--webroot', '/mail']);
  const [id] = await sendAll(prefixed, [welcome()]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const calls = await routeChecks(context);
  const { page, problems } = await openPage(browser, `${prefixed.base}/mail/#m=${id}`, { context });
  await page.waitForSelector('#tab-spam:not([hidden])');
  assert.equal(calls.webui[0].pathname, '/mail/api/v1/webui');
  await page.click('#tab-html-check');
  await page.waitForSelector('#html-check-score');
  await page.click('#tab-links');
  await page.click('#link-check-run');
  await page.waitForSelector('#link-check-list');
  await page.click('#tab-spam');
  await page.waitForSelector('#spam-score');
  assert.deepEqual([calls.html[0].pathname, calls.links[0].pathname, calls.spam[0].pathname],
    ['html-check', 'link-check', 'sa-check'].map((c) => `/mail/api/v1/message/${id}/${c}`));
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});

// ---- phones ----------------------------------------------------------------------------------------

for (const scheme of ['dark', 'light']) {
  test(`at 375 px (${scheme}) the tabs and every check fit the screen`, async () => {
    const { page, problems, context } = await open(`#m=${htmlId}`, { viewport: { width: 375, height: 740 }, colorScheme: scheme });
    await page.waitForSelector('#tab-spam:not([hidden])');
    const fits = async (panel) => {
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), `no sideways scroll (${panel})`);
      assert.deepEqual(await outsideViewport(page, '*', `#panel-${panel}`), [], panel);
    };
    await page.click('#tab-html-check');
    await page.waitForSelector('#html-check-score');
    await fits('html-check');
    await shot(page, `phone375-${scheme}-html-check`);
    await page.locator('.hc-warning[data-slug="css-display-flex"] summary').click();
    await page.waitForSelector('.hc-warning[data-slug="css-display-flex"] .hc-note-list');
    await fits('html-check');
    await shot(page, `phone375-${scheme}-html-check-warning`);
    await page.click('#tab-links');
    await page.click('#link-check-run');
    await page.waitForSelector('#link-check-list');
    await fits('links');
    await shot(page, `phone375-${scheme}-links`);
    await page.click('#tab-spam');
    await page.waitForSelector('#spam-rules');
    await fits('spam');
    await shot(page, `phone375-${scheme}-spam`);
    assert.deepEqual(unexpected(problems), []);
    await context.close();
  });
}

test('wide (1440 px, light): the three checks, for the record', async () => {
  const { page, problems, context } = await open(`#m=${htmlId}`);
  await page.waitForSelector('#tab-spam:not([hidden])');
  await page.click('#tab-html-check');
  await page.waitForSelector('#html-check-score');
  await page.locator('.hc-warning[data-slug="css-display-flex"] summary').click();
  await shot(page, 'wide1440-light-html-check');
  await page.click('#tab-links');
  await page.click('#link-check-run');
  await page.waitForSelector('#link-check-list');
  await shot(page, 'wide1440-light-links');
  await page.click('#tab-spam');
  await page.waitForSelector('#spam-rules');
  await shot(page, 'wide1440-light-spam');
  assert.deepEqual(unexpected(problems), []);
  await context.close();
});
