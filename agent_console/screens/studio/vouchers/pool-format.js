// What the vouchers tab shows of a pool and how it reads a refusal: shared by its list and its page.
import { date } from "../../../lib/time.js";

export function poolValue(pool) {
  const amount = Number.isInteger(pool.amount) ? pool.amount : pool.amount.toFixed(2);
  return pool.kind === "percent" ? `${amount}% off` : `${amount} ${pool.currency} off`;
}

export function poolExpiry(pool) {
  if (!pool.expires_at) return "no expiry";
  return `${pool.expires_at <= Date.now() ? "expired" : "until"} ${date(pool.expires_at)}`;
}

// The REST API names the field it refuses the way msgspec does ("… - at `$.currency`"): the
// form shows the message beside that field, in the API's own words.
const AT_FIELD = / - at `\$\.(\w+)[^`]*`$/;

export function fieldOf(error) {
  const match = AT_FIELD.exec(error.message || "");
  return match ? { field: match[1], message: error.message.replace(AT_FIELD, "") } : { field: "", message: error.message };
}

export function when(ms) {
  return ms ? date(ms) : "";
}

// The tab's addresses (the studio's #/studio/<tab>[/<id>]).
export function poolPath(id = null) {
  return id ? `#/studio/vouchers/${encodeURIComponent(id)}` : "#/studio/vouchers";
}
