// What changed, by name: the inbox model emits a topic ("lists", "row:<id>", "conv:<id>", ...)
// and only the components subscribed to it render again. An incoming message touches its row,
// its transcript and the list order, not the whole console.
import { useLayoutEffect, useReducer } from "../lib/html.js";

export class Topics {
  constructor() {
    this.subscribers = new Map();
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
    const set = this.subscribers.get(topic);
    if (set) for (const fn of [...set]) fn();
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
