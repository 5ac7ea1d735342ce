// Realistic sample mail for the tests and the screenshots: what an app under test sends.

import { buildMessage, PNG_RED } from './helpers.mjs';

const LOGO = PNG_RED;
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n').toString('base64');

export const WELCOME_HTML = `<!doctype html><html><head><meta name="viewport" content="width=device-width">
<style>body{margin:0;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#222}
.wrap{max-width:560px;margin:0 auto;padding:32px 16px}.card{background:#fff;border-radius:10px;padding:32px}
h1{font-size:24px;margin:16px 0 8px}.btn{display:inline-block;background:#0f766e;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none}
.foot{color:#888;font-size:12px;text-align:center;margin-top:16px}</style></head>
<body><div class="wrap"><div class="card"><img id="logo" src="cid:logo@acme" width="48" height="48" alt="Acme">
<h1 id="greeting">Welcome to Acme, Dana!</h1><p>Thanks for signing up. Confirm your address to get started.</p>
<p><a class="btn" href="https://acme.example/confirm?t=abc123">Confirm my email</a></p>
<p>Or paste this link: https://acme.example/confirm?t=abc123</p></div>
<p class="foot">Acme Inc. · 1 Market St · <a href="https://acme.example/unsubscribe">Unsubscribe</a></p></div></body></html>`;

export function welcome() {
  return {
    from: 'noreply@acme.example',
    to: ['dana@example.com', 'audit@acme.example'],
    data: buildMessage({
      from: 'Acme <noreply@acme.example>',
      to: ['Dana Scully <dana@example.com>'],
      subject: 'Welcome to Acme, Dana! Please confirm your email',
      text: 'Welcome to Acme, Dana!\n\nThanks for signing up. Confirm your address:\nhttps://acme.example/confirm?t=abc123\n\nAcme Inc.',
      html: WELCOME_HTML,
      inline: [{ cid: 'logo@acme', type: 'image/png', base64: LOGO }],
      headers: { 'X-Mailer': 'acme-mailer 3.2', 'List-Unsubscribe': '<https://acme.example/unsubscribe>' },
    }),
  };
}

export function samples() {
  const minutes = (n) => new Date(Date.now() - n * 60_000);
  return [
    {
      from: 'billing@shop.example',
      to: ['fox@example.com', 'accounts@shop.example'],
      data: buildMessage({
        from: 'Shop Billing <billing@shop.example>', to: ['Fox Mulder <fox@example.com>'],
        cc: ['Walter Skinner <skinner@example.com>'],
        subject: 'Your invoice #2024-0117 is ready', date: minutes(180),
        text: 'Hi Fox,\n\nYour invoice #2024-0117 for $1,249.00 is attached.\n\nThanks for your business!',
        html: '<p>Hi Fox,</p><p>Your invoice <b>#2024-0117</b> for <b>$1,249.00</b> is attached.</p><p>Thanks for your business!</p>',
        attachments: [{ name: 'invoice-2024-0117.pdf', type: 'application/pdf', base64: PDF }],
      }),
    },
    {
      from: 'alerts@monitor.example',
      to: ['oncall@example.com'],
      data: buildMessage({
        from: 'Monitor <alerts@monitor.example>', to: ['oncall@example.com'],
        subject: '[RESOLVED] api-gateway p99 latency above 800 ms', date: minutes(95),
        text: 'Alert resolved at 14:02 UTC.\nDuration: 12 minutes\nDashboard: https://monitor.example/d/api',
      }),
    },
    {
      from: 'news@weekly.example',
      to: ['subscriber@example.com'],
      data: buildMessage({
        from: 'The Weekly <news@weekly.example>', to: ['subscriber@example.com'],
        subject: 'This week: 12 things we shipped', date: minutes(40),
        text: 'This week: 12 things we shipped. Read online: https://weekly.example/42',
        html: '<div style="font-family:Georgia,serif;max-width:600px;margin:auto;padding:24px"><img src="https://weekly.example/banner.png" width="600" alt="The Weekly"><h2>12 things we shipped</h2><p>Dark mode, faster search, and more.</p><img src="https://weekly.example/pixel.gif" width="1" height="1" alt=""></div>',
      }),
    },
    {
      from: 'security@acme.example',
      to: ['dana@example.com'],
      data: buildMessage({
        from: 'Acme Security <security@acme.example>', to: ['Dana Scully <dana@example.com>'],
        subject: 'Reset your password', date: minutes(12),
        text: 'Someone asked to reset the password of your Acme account.\n\nReset it here (valid for 30 minutes):\nhttps://acme.example/reset?t=9f8e7d\n\nIf this was not you, ignore this mail.',
        html: '<p>Someone asked to reset the password of your Acme account.</p><p><a href="https://acme.example/reset?t=9f8e7d">Reset my password</a> (valid for 30 minutes)</p><p>If this was not you, ignore this mail.</p>',
      }),
    },
    {
      from: 'team@acme.example',
      to: ['dana@example.com', 'fox@example.com', 'walter@example.com', 'monica@example.com'],
      data: buildMessage({
        from: 'Acme Team <team@acme.example>',
        to: ['Dana Scully <dana@example.com>', 'Fox Mulder <fox@example.com>', 'Walter Skinner <walter@example.com>'],
        subject: 'Quarterly planning: agenda and pre-reads', date: minutes(3),
        text: 'Hi all,\n\nAgenda for Thursday attached. Please read the two pre-reads before the meeting.\n\n— Team',
        attachments: [
          { name: 'agenda.pdf', type: 'application/pdf', base64: PDF },
          { name: 'chart.png', type: 'image/png', base64: LOGO },
        ],
      }),
    },
    welcome(),
  ];
}
