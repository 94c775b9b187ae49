// Telling the agent something happened: a chime, a desktop notification while the tab is hidden
// (with the browser's permission), a toast in the console, and the unread count in the tab title.
import { customerLabel } from "./inbox.js";

export class Notifier {
  constructor({ onToast, onOpen }) {
    this.onToast = onToast; // (text, conversation id, options) -> shows it in the console
    this.onOpen = onOpen; // (conversation id) -> selects it
    this.audio = null;
    this.muted = false;
  }

  visible() {
    return document.visibilityState === "visible";
  }

  get permission() {
    return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
  }

  async askPermission() {
    if (this.permission === "default") await Notification.requestPermission();
    return this.permission;
  }

  // The browser lets a page make sound only after the person interacted with it: the context is
  // made (or resumed) on the first key or click.
  unlockSound() {
    if (this.audio || typeof AudioContext === "undefined") return;
    this.audio = new AudioContext();
  }

  chime(high = false) {
    if (this.muted || !this.audio) return;
    const ctx = this.audio;
    if (ctx.state === "suspended") ctx.resume();
    const now = ctx.currentTime;
    // Two short notes, drawn with an oscillator: no audio file to fetch or to allow in the CSP.
    for (const [offset, pitch] of [[0, high ? 880 : 660], [0.14, high ? 1320 : 880]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = pitch;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + offset);
      osc.stop(now + offset + 0.3);
    }
  }

  desktop(title, body, conversationId) {
    if (this.visible() || this.permission !== "granted") return;
    // Tagged by conversation: a burst of messages in one chat is one notification, replaced.
    const notification = new Notification(title, { body, tag: `rapport:${conversationId}` });
    notification.onclick = () => {
      window.focus();
      this.onOpen(conversationId);
      notification.close();
    };
  }

  newChat(summary) {
    const who = customerLabel(summary);
    this.chime(true);
    this.desktop("New chat", `${who}: ${summary.preview || ""}`, summary.id);
    this.onToast(`New chat from ${who}`, summary.id, { whileWaiting: true });
  }

  assigned(summary) {
    const who = customerLabel(summary);
    this.chime(true);
    this.desktop("A chat for you", `${who}: ${summary.preview || ""}`, summary.id);
    this.onToast(`${who} is now yours`, summary.id);
  }

  message(summary, event) {
    if (this.visible()) return; // on screen: the row's unread count says it
    this.chime(false);
    this.desktop(customerLabel(summary), event.text || "", summary.id);
  }
}

export function titleFor(unread, base = "Rapport console") {
  return unread > 0 ? `(${unread}) ${base}` : base;
}
