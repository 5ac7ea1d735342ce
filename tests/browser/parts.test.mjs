// The Parts tab: at 390 px every name and button stays on screen; images open in a lightbox
// (thumbnails are clickable), PDFs open in a new tab, calendar invitations show as an event card.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, sendOne, buildMessage, outsideViewport, shot, PNG_RED } from './helpers.mjs';

const browser = await launch();

const PDF = Buffer.from(`%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] >> endobj
trailer << /Root 1 0 R >>
%%EOF
`).toString('base64');

const ICS = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Acme//Planner//EN', 'METHOD:REQUEST', 'BEGIN:VEVENT',
  'UID:q3-planning@acme.example', 'DTSTAMP:20250301T090000Z', 'DTSTART:20250312T140000Z', 'DTEND:20250312T153000Z',
  'SUMMARY:Quarterly planning\\, Q3', 'LOCATION:Room 4.01 / https://meet.acme.example/q3',
  'ORGANIZER;CN="Walter Skinner":mailto:walter@acme.example',
  'ATTENDEE;CN=Dana Scully;PARTSTAT=ACCEPTED:mailto:dana@example.com',
  'ATTENDEE;CN=Fox Mulder;PARTSTAT=NEEDS-ACTION:mailto:fox@example.com',
  'DESCRIPTION:Agenda:\\n1. Review\\n2. Plan', 'BEGIN:VALARM', 'TRIGGER:-PT15M', 'ACTION:DISPLAY', 'DESCRIPTION:Reminder', 'END:VALARM',
  'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

function withParts() {
  return {
    from: 'team@acme.example', to: ['dana@example.com'],
    data: buildMessage({
      from: 'Acme Team <team@acme.example>', to: ['Dana Scully <dana@example.com>'],
      subject: 'Quarterly planning: agenda, invite and pre-reads',
      text: 'See the attachments.',
      attachments: [
        { name: 'Quarterly-planning-agenda-and-pre-reads-for-the-Q3-offsite-FINAL-v7-with-appendix.pdf', type: 'application/pdf', base64: PDF },
        { name: 'revenue-by-region-and-segment-2025-q2-chart-highres.png', type: 'image/png', base64: PNG_RED },
        { name: 'second-chart.png', type: 'image/png', base64: PNG_RED },
        { name: 'invite.ics', type: 'text/calendar; method=REQUEST; charset=utf-8', base64: Buffer.from(ICS).toString('base64') },
      ],
    }),
  };
}

for (const scheme of ['light', 'dark']) {
  test(`at 390 px (${scheme}) the Parts tab fits the screen and its thumbnails open a lightbox`, async () => {
    const server = await startServer();
    const id = await sendOne(server, withParts());
    const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`, { viewport: { width: 390, height: 844 }, colorScheme: scheme });
    await page.waitForSelector('#msg-subject');
    await page.click('#tab-parts');
    await page.waitForSelector('.part');
    // Every name, thumbnail and button of every part is inside the 390 px (before and after the
    // event card comes in above them).
    assert.deepEqual(await outsideViewport(page, '*', '#panel-parts'), []);
    await page.waitForSelector('.ics-card');
    await shot(page, `phone390-${scheme}-parts`);
    assert.deepEqual(await outsideViewport(page, '*', '#panel-parts'), []);
    const downloads = await page.$$eval('.part a[download]', (as) => as.map((a) => {
      const r = a.getBoundingClientRect();
      return r.right <= document.documentElement.clientWidth && r.width > 20;
    }));
    assert.equal(downloads.length, 4);
    assert.ok(downloads.every(Boolean), 'every download button is on screen');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), 'no sideways scroll');

    // The image thumbnail is a button; it opens the image large, with the others a step away.
    await page.click('.part-thumb.is-action img');
    await page.waitForSelector('#lightbox[open]');
    await page.waitForFunction(() => document.getElementById('lightbox-img').complete && document.getElementById('lightbox-img').naturalWidth > 0);
    assert.equal(await page.textContent('#lightbox-name'), 'revenue-by-region-and-segment-2025-q2-chart-highres.png');
    await shot(page, `phone390-${scheme}-lightbox`);
    assert.deepEqual(await outsideViewport(page, '*', '#lightbox'), []);
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.textContent('#lightbox-name'), 'second-chart.png');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#lightbox:not([open])', { state: 'attached' });
    assert.deepEqual(problems, []);
    await page.context().close();
  });
}

test('a calendar invitation shows as an event card: what, when, where, who', async () => {
  const server = await startServer();
  const id = await sendOne(server, withParts());
  const { page, problems } = await openPage(browser, `${server.base}/#m=${id}`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-parts');
  const card = page.locator('.ics-card');
  await card.waitFor();
  assert.equal(await card.locator('.ics-title').textContent(), 'Quarterly planning, Q3');
  const text = await card.textContent();
  assert.match(text, /Invitation/);
  assert.match(text, /Mar 12, 2025/);
  assert.match(text, /Room 4\.01/);
  assert.match(text, /Walter Skinner <walter@acme\.example>/);
  assert.match(text, /Attendees \(2\)/);
  assert.match(text, /Dana Scully <dana@example\.com> · accepted/);
  assert.match(text, /Fox Mulder <fox@example\.com> · needs action/);
  assert.doesNotMatch(text, /Reminder/, 'the alarm is not the event');
  await shot(page, 'wide1440-light-ics');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a PDF attachment opens in a new tab, as a PDF, not as a download', async () => {
  const server = await startServer();
  const id = await sendOne(server, withParts());
  const { page, context, problems } = await openPage(browser, `${server.base}/#m=${id}`, { viewport: { width: 1440, height: 900 } });
  await page.waitForSelector('#msg-subject');
  await page.click('#tab-parts');
  const downloads = [];
  context.on('page', (p) => p.on('download', (d) => downloads.push(d.suggestedFilename())));
  page.on('download', (d) => downloads.push(d.suggestedFilename()));
  const opened = context.waitForEvent('page');
  await page.click('.part button[aria-label^="Open Quarterly"]');
  const tab = await opened;
  await tab.waitForFunction(() => document.contentType === 'application/pdf', null, { timeout: 10_000 });
  assert.deepEqual(downloads, []);
  assert.equal(await tab.evaluate(() => window.opener), null, 'no opener');
  await tab.close();
  assert.deepEqual(problems, []);
  await context.close();
});
