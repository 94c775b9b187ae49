// What changed, by name: the inbox model emits a topic ("lists", "row:<id>", "conv:<id>", ...)
// and only the components subscribed to it render again. An incoming message touches its row,
// its transcript and the list order, not the whole console. Topics emitted together are told
// once, at the next frame: a replay of thousands of events after a reconnect renders a few
// times, not once per event (a hidden tab has no frames: it is told on a short timer instead,
// so its title still counts what is unread).
import { useLayoutEffect, useReducer } from "../lib/html.js";

const HIDDEN_FLUSH_MS = 100;

export class Topics {
  constructor() {
    this.subscribers = new Map();
    this.dirty = new Set();
    this.scheduled = false;
    this.flush = this.flush.bind(this);
  }

  subscribe(topic, fn) {
    let set = this.subscribers.get(topic);
    if (!set) this.subscribers.set(topic, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.subscribers.get(topic) === set) this.subscribers.delete(topic);
    };
  }

  emit(topic) {
    this.dirty.add(topic);
    if (this.scheduled) return;
    this.scheduled = true;
    if (document.visibilityState === "visible") requestAnimationFrame(this.flush);
    else setTimeout(this.flush, HIDDEN_FLUSH_MS);
  }

  flush() {
    this.scheduled = false;
    const topics = [...this.dirty];
    this.dirty.clear();
    for (const topic of topics) {
      const set = this.subscribers.get(topic);
      if (set) for (const fn of [...set]) fn();
    }
  }
}

// Render again whenever one of `names` is emitted (Preact batches the renders of one tick).
export function useTopics(topics, ...names) {
  const [, bump] = useReducer((n) => n + 1, 0);
  const key = names.join("\n");
  useLayoutEffect(() => {
    const offs = names.map((name) => topics.subscribe(name, bump));
    return () => offs.forEach((off) => off());
  }, [topics, key]);
}
