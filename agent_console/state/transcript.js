// One conversation's events as the console holds them: the shown ones in seq order, the latest
// edit of each message, how far the customer has read, and messages sent but not yet stored.
// Events arrive live (in order), from a replay (overlapping), or from history pages (older, in
// any order): each seq is applied once, wherever it came from.

const SHOWN = new Set(["message", "note", "assigned", "status"]);

export class Transcript {
  constructor(id) {
    this.id = id;
    this.items = []; // shown events, seq ascending
    this.seqs = new Set(); // every seq held, shown or not
    this.edits = new Map(); // message seq -> its latest edit event
    this.customerRead = 0; // highest seq the customer has read
    this.lowest = null;
    this.highest = 0;
    this.complete = false; // the first event is held: nothing older to load
    this.loading = false;
    this.pending = new Map(); // client_id -> { text, private, failed }
    this.version = 0;
  }

  add(event) {
    if (this.seqs.has(event.seq)) return false;
    this.seqs.add(event.seq);
    if (this.lowest === null || event.seq < this.lowest) this.lowest = event.seq;
    if (event.seq > this.highest) this.highest = event.seq;
    if (event.seq === 1) this.complete = true;
    if (event.kind === "edit") {
      const known = this.edits.get(event.target_seq);
      if (!known || known.seq < event.seq) this.edits.set(event.target_seq, event);
    } else if (event.kind === "read") {
      if (event.author_type === "customer") this.customerRead = Math.max(this.customerRead, event.target_seq || 0);
    } else if (SHOWN.has(event.kind)) {
      this._insert(event);
    }
    if (event.client_id) this.pending.delete(event.client_id);
    this.version += 1;
    return true;
  }

  reset(events) {
    this.items = [];
    this.seqs.clear();
    this.edits.clear();
    this.customerRead = 0;
    this.lowest = null;
    this.highest = 0;
    this.complete = false;
    for (const event of events) this.add(event);
    this.version += 1;
  }

  // The last message or note of this author that may still be edited (their latest).
  lastOwn(authorId) {
    for (let i = this.items.length - 1; i >= 0; i -= 1) {
      const item = this.items[i];
      if ((item.kind === "message" || item.kind === "note") && item.author_type === "agent" && item.author_id === authorId) {
        return item;
      }
    }
    return null;
  }

  lastCustomerMessage() {
    for (let i = this.items.length - 1; i >= 0; i -= 1) {
      const item = this.items[i];
      if (item.kind === "message" && item.author_type === "customer") return item;
    }
    return null;
  }

  indexOf(seq) {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.items[mid].seq < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  _insert(event) {
    const items = this.items;
    if (items.length === 0 || items[items.length - 1].seq < event.seq) {
      items.push(event);
      return;
    }
    items.splice(this.indexOf(event.seq), 0, event);
  }
}
