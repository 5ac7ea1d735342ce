// The chaos settings: Mailpit's three triggers (each SMTP stage fails with an error code at a
// probability) and MailHog's Jim (on or off, and its chances). Both views drive one engine in the
// server; what the server refuses is said under the form that sent it, in the server's words.

import { api } from './api.js';
import { h, replace } from './dom.js';

const TRIGGERS = [
  { key: 'Sender', label: 'Sender', stage: 'MAIL FROM' },
  { key: 'Recipient', label: 'Recipient', stage: 'RCPT TO' },
  { key: 'Authentication', label: 'Authentication', stage: 'AUTH' },
];

// MailHog's defaults (the server only shows Jim's settings while it is on).
const JIM_DEFAULTS = {
  AcceptChance: 0.99,
  DisconnectChance: 0.005,
  RejectSenderChance: 0.05,
  RejectRecipientChance: 0.05,
  RejectAuthChance: 0.05,
  LinkSpeedAffect: 0.1,
  LinkSpeedMin: 1024,
  LinkSpeedMax: 10240,
};

const JIM_FIELDS = [
  { key: 'AcceptChance', label: 'Accept chance', hint: '0–1: the connection is accepted' },
  { key: 'DisconnectChance', label: 'Disconnect chance', hint: '0–1: per command' },
  { key: 'RejectSenderChance', label: 'Reject sender chance', hint: '0–1: MAIL FROM refused' },
  { key: 'RejectRecipientChance', label: 'Reject recipient chance', hint: '0–1: RCPT TO refused' },
  { key: 'RejectAuthChance', label: 'Reject auth chance', hint: '0–1: AUTH refused' },
  { key: 'LinkSpeedAffect', label: 'Link speed affect', hint: '0–1: the session is slowed' },
  { key: 'LinkSpeedMin', label: 'Link speed min', hint: 'bytes per second', step: '1' },
  { key: 'LinkSpeedMax', label: 'Link speed max', hint: 'bytes per second', step: '1' },
];

/** A number from an input; an empty or unreadable one is sent as null, for the server to refuse. */
const num = (input) => (input.value.trim() === '' || !Number.isFinite(input.valueAsNumber) ? null : input.valueAsNumber);

function field(id, label, hint, attrs) {
  return h('div', { class: 'chaos-field' },
    h('label', { for: id, text: label }),
    h('input', { class: 'input input-sm', type: 'number', id, 'aria-describedby': `${id}-hint`, ...attrs }),
    h('span', { class: 'muted chaos-hint', id: `${id}-hint`, text: hint }));
}

function status(id) {
  return h('p', { class: 'form-status', id, role: 'status' });
}

function errorLine(id) {
  return h('p', { class: 'form-error', id, role: 'alert', hidden: true });
}

export class ChaosPanel {
  constructor(root) {
    this.root = root;
    this.built = false;
  }

  build() {
    this.built = true;
    const triggerRows = TRIGGERS.map((t) => {
      const id = t.key.toLowerCase();
      return h('fieldset', { class: 'chaos-trigger', id: `chaos-${id}` },
        h('legend', {}, h('span', { text: t.label }), h('span', { class: 'muted', text: ` · ${t.stage}` })),
        field(`chaos-${id}-code`, 'Error code', '4xx or 5xx reply', { min: '400', max: '599', step: '1', dataset: { trigger: t.key, part: 'ErrorCode' } }),
        field(`chaos-${id}-prob`, 'Probability (%)', '0 is off, 100 always', { min: '0', max: '100', step: '1', dataset: { trigger: t.key, part: 'Probability' } }));
    });
    this.triggerForm = h('form', { class: 'chaos-form', id: 'chaos-form', novalidate: true, 'aria-labelledby': 'chaos-title' },
      h('h3', { class: 'settings-h', id: 'chaos-title', text: 'Mailpit chaos triggers' }),
      h('p', { class: 'muted setting-note', text: 'Each SMTP stage fails with its error code at the given probability. Every trigger at 0 % means no chaos.' }),
      h('div', { class: 'chaos-triggers' }, triggerRows),
      errorLine('chaos-error'),
      h('div', { class: 'form-buttons' },
        status('chaos-status'),
        h('button', { type: 'button', class: 'btn btn-sm', id: 'chaos-off', text: 'All off', onclick: () => this.allOff() }),
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'chaos-save', text: 'Save triggers' })));
    this.triggerForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.saveTriggers();
    });

    this.jimSwitch = h('input', { type: 'checkbox', id: 'jim-enabled', role: 'switch', 'aria-describedby': 'jim-state' });
    this.jimSwitch.addEventListener('change', () => this.toggleJim());
    this.jimForm = h('form', { class: 'chaos-form', id: 'jim-form', novalidate: true, 'aria-labelledby': 'jim-title' },
      h('h3', { class: 'settings-h', id: 'jim-title', text: 'MailHog’s Jim' }),
      h('div', { class: 'jim-head' },
        h('label', { class: 'switch' }, this.jimSwitch, h('span', { class: 'switch-track', 'aria-hidden': 'true' }), h('span', { text: 'Jim is on' })),
        h('span', { class: 'muted', id: 'jim-state' })),
      h('div', { class: 'jim-fields' }, JIM_FIELDS.map((f) => field(`jim-${f.key}`, f.label, f.hint, {
        min: '0', max: f.step ? undefined : '1', step: f.step || 'any', dataset: { jim: f.key },
      }))),
      errorLine('jim-error'),
      h('div', { class: 'form-buttons' },
        status('jim-status'),
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'jim-save', text: 'Save Jim' })));
    this.jimForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.saveJim();
    });
    this.loadError = errorLine('chaos-load-error');
    replace(this.root, this.loadError, this.triggerForm, this.jimForm);
  }

  $(id) {
    return this.root.querySelector(`#${id}`);
  }

  /** Shows what the server has now (every time the panel is shown: another client may have changed it). */
  async load() {
    if (!this.built) this.build();
    this.show('chaos-load-error', null);
    const [triggers, jim] = await Promise.all([
      api.chaos().catch((e) => ({ error: e })),
      api.jim().catch((e) => (e.status === 404 ? null : { error: e })),
    ]);
    const problems = [triggers?.error, jim?.error].filter(Boolean).map((e) => e.message);
    if (problems.length) this.show('chaos-load-error', `The chaos settings could not be loaded: ${problems.join('; ')}`);
    if (!triggers?.error) this.fillTriggers(triggers);
    if (!jim?.error) this.fillJim(jim);
  }

  fillTriggers(triggers) {
    for (const input of this.triggerForm.querySelectorAll('input[data-trigger]')) {
      const v = triggers?.[input.dataset.trigger]?.[input.dataset.part];
      input.value = v === undefined ? '' : String(v);
      input.removeAttribute('aria-invalid');
    }
  }

  fillJim(jim) {
    this.jimOn = !!jim;
    this.jimSwitch.checked = this.jimOn;
    this.$('jim-state').textContent = this.jimOn ? 'Failing SMTP sessions at random' : 'Off: the settings below apply when it is turned on';
    this.$('jim-save').disabled = !this.jimOn;
    const values = jim || JIM_DEFAULTS;
    for (const input of this.jimForm.querySelectorAll('input[data-jim]')) {
      const v = values[input.dataset.jim];
      input.value = v === undefined ? '' : String(v);
      input.removeAttribute('aria-invalid');
    }
  }

  triggers() {
    const out = {};
    for (const t of TRIGGERS) out[t.key] = {};
    for (const input of this.triggerForm.querySelectorAll('input[data-trigger]')) out[input.dataset.trigger][input.dataset.part] = num(input);
    return out;
  }

  jimSettings() {
    const out = {};
    for (const input of this.jimForm.querySelectorAll('input[data-jim]')) out[input.dataset.jim] = num(input);
    return out;
  }

  async saveTriggers() {
    this.show('chaos-error', null);
    this.say('chaos-status', '');
    try {
      this.fillTriggers(await api.setChaos(this.triggers()));
    } catch (e) {
      this.fail('chaos-error', this.triggerForm, 'trigger', e);
      return;
    }
    this.say('chaos-status', 'Saved');
  }

  async allOff() {
    for (const input of this.triggerForm.querySelectorAll('input[data-part="Probability"]')) input.value = '0';
    await this.saveTriggers();
  }

  async toggleJim() {
    const on = this.jimSwitch.checked;
    this.show('jim-error', null);
    this.say('jim-status', '');
    try {
      if (on) this.fillJim(await api.jimOn(this.jimSettings()));
      else {
        await api.jimOff();
        this.fillJim(null);
      }
    } catch (e) {
      this.jimSwitch.checked = !on;
      // A bare 404 or 400 (MailHog's way): another client turned it off or on already; show what is.
      if (/^\d{3} /.test(e.message)) await this.load();
      this.fail('jim-error', this.jimForm, 'jim', e);
      return;
    }
    this.say('jim-status', on ? 'Jim is on' : 'Jim is off');
  }

  async saveJim() {
    this.show('jim-error', null);
    this.say('jim-status', '');
    try {
      this.fillJim(await api.jimSet(this.jimSettings()));
    } catch (e) {
      this.fail('jim-error', this.jimForm, 'jim', e);
      return;
    }
    this.say('jim-status', 'Saved');
  }

  /** The server's reason under the form, and the fields it names marked invalid. */
  fail(id, form, kind, e) {
    this.show(id, `Not saved: ${e.message}`);
    const text = e.message;
    for (const input of form.querySelectorAll(`input[data-${kind}]`)) {
      const name = kind === 'trigger' ? `${input.dataset.trigger}.${input.dataset.part}` : input.dataset.jim;
      const named = text.includes(name) || (kind === 'jim' && /chances/.test(text) && /Chance|Affect/.test(name))
        || (kind === 'jim' && /link speed/i.test(text) && /LinkSpeedM/.test(name));
      if (named) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    const first = form.querySelector('input[aria-invalid="true"]');
    first?.setAttribute('aria-errormessage', id);
  }

  show(id, text) {
    const el = this.$(id);
    el.hidden = !text;
    el.textContent = text || '';
  }

  say(id, text) {
    this.$(id).textContent = text;
  }
}
