// Light and dark themes: follow prefers-color-scheme until the user picks one with the toggle.
// The choice is remembered; picking the scheme the system already uses goes back to following it.

import { $, prefs } from './dom.js';

const media = window.matchMedia('(prefers-color-scheme: dark)');

export function effectiveTheme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === 'light' || chosen === 'dark') return chosen;
  return media.matches ? 'dark' : 'light';
}

function apply(theme) {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  updateButton();
}

function updateButton() {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  const label = `Switch to ${next} theme`;
  $('theme-label').textContent = label;
  $('theme-toggle').title = `${label} (t)`;
  document.documentElement.dataset.effectiveTheme = effectiveTheme();
}

export function toggleTheme() {
  const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
  const system = media.matches ? 'dark' : 'light';
  const stored = next === system ? null : next;
  prefs.set('theme', stored);
  apply(stored);
}

export function initTheme() {
  apply(prefs.get('theme'));
  $('theme-toggle').addEventListener('click', toggleTheme);
  media.addEventListener('change', updateButton);
  // Another tab changed the theme.
  window.addEventListener('storage', (ev) => {
    if (ev.key === 'mailsnare.theme') apply(ev.newValue);
  });
}
