// What the campaigns tab calls things: kinds, statuses, audiences, dates, as a marketer reads them.
import { html } from "../../../lib/html.js";

export const KIND_LABELS = {
  offer: "Offer with e-voucher",
  news: "News",
  product: "New product",
  promotion: "Price promotion",
  reminder: "Reminder",
  survey: "Survey",
  greeting: "Birthday or dated greeting",
};

const STATUS_LABELS = { draft: "Draft", scheduled: "Scheduled", active: "Running", paused: "Paused", stopped: "Stopped" };

export function StatusPill({ status }) {
  return html`<span class=${`pill status-${status}`} data-testid="campaign-status">${STATUS_LABELS[status] || status}</span>`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

export function shortDate(ms) {
  return ms ? dateFormat.format(ms) : "";
}

export function dateTime(ms) {
  return ms ? dateTimeFormat.format(ms) : "";
}

export function audienceText(audience, segments) {
  if (audience.type === "all") return "All customers";
  if (audience.type === "lapsed") return `No order for ${audience.days} days`;
  if (audience.type === "customers") return `${(audience.customer_ids || []).length} chosen customers`;
  const segment = (segments || []).find((s) => s.id === audience.segment_id);
  return `Segment: ${segment ? segment.name : audience.segment_id}`;
}
