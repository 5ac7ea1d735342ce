// Live updates over the WebSocket `api/events`, with reconnect and backoff. The connection state
// is shown to the user; after any gap (a reconnect, or the server closing a lagging client with
// 1013) the caller is told to reload, since frames may have been missed.

import { urls } from './api.js';

const CLOSE_LAGGED = 1013;
const MIN_DELAY = 500;
// Short enough that a restarted server is noticed within seconds, cheap enough for a local socket.
const MAX_DELAY = 5_000;

export class Live {
  /**
   * onFrame(frame) for every frame; onState(state, detail) with state one of
   * 'connecting' | 'live' | 'reconnecting' | 'offline'; onResync() after a gap.
   */
  constructor({ onFrame, onState, onResync }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.onResync = onResync;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.everOpen = false;
    this.retryAt = 0;
    window.addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !this.ws) this.reconnectNow();
    });
  }

  start() {
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.setState(this.everOpen ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(urls.events());
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const gap = this.everOpen;
      this.everOpen = true;
      this.attempt = 0;
      this.setState('live');
      if (gap) this.onResync('reconnected');
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame.Type === 'string') this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === CLOSE_LAGGED) {
        // We fell behind a burst: reconnect at once and reload what is shown.
        this.attempt = 0;
        this.connect();
        return;
      }
      this.schedule();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  schedule() {
    this.attempt += 1;
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.retryAt = Date.now() + delay;
    this.setState(this.attempt >= 4 ? 'offline' : 'reconnecting', { retryAt: this.retryAt });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Skips the backoff wait (the user clicked the status, or the network came back). */
  reconnectNow() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.attempt = 0;
    this.connect();
  }

  setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }
}
