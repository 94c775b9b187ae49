// A person's text as text, with its http(s) links made clickable and nothing else interpreted.
import { html } from "./ui.js";

// Only http and https: no javascript:, data: or other schemes can become a link.
const LINK = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/gi;

export function Linked({ text }) {
  const parts = [];
  let last = 0;
  for (const match of (text || "").matchAll(LINK)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(html`<a href=${match[0]} target="_blank" rel="noopener noreferrer">${match[0]}</a>`);
    last = match.index + match[0].length;
  }
  parts.push((text || "").slice(last));
  return parts;
}
