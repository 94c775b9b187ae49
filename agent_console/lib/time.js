// Times as an agent reads them: the hour today, the weekday this week, the date before that.
// The formatters are made once: building an Intl.DateTimeFormat per message cost more than
// rendering the message (bench/console.py).

const DAY = 86_400_000;
const CLOCK = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
const WEEKDAY = new Intl.DateTimeFormat([], { weekday: "short" });
const DAY_MONTH = new Intl.DateTimeFormat([], { day: "numeric", month: "short" });
const DATE = new Intl.DateTimeFormat([], { day: "numeric", month: "short", year: "numeric" });
const LONG_DAY = new Intl.DateTimeFormat([], { weekday: "long", day: "numeric", month: "long" });
const LONG_DAY_YEAR = new Intl.DateTimeFormat([], { weekday: "long", day: "numeric", month: "long", year: "numeric" });

function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function clock(ms) {
  return CLOCK.format(ms);
}

export function date(ms) {
  return DATE.format(ms);
}

export function shortWhen(ms, now = Date.now()) {
  if (!ms) return "";
  const today = startOfDay(now);
  if (ms >= today) return CLOCK.format(ms);
  if (ms >= today - 6 * DAY) return WEEKDAY.format(ms);
  return DAY_MONTH.format(ms);
}

export function dayKey(ms) {
  return startOfDay(ms);
}

export function dayLabel(ms, now = Date.now()) {
  const day = startOfDay(ms);
  const today = startOfDay(now);
  if (day === today) return "Today";
  if (day === today - DAY) return "Yesterday";
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return (sameYear ? LONG_DAY : LONG_DAY_YEAR).format(ms);
}

export function ago(ms, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < DAY / 1000) return `${Math.floor(seconds / 3600)} h ago`;
  return shortWhen(ms, now);
}
