// The widget's words in English and German, and numbers, money and dates in the shopper's locale.
const STRINGS = {
  en: {
    open: "Open chat", close: "Close chat", title: "Chat with us", online: "We're online",
    offline: "We're away – leave a message", reconnecting: "Reconnecting…", unavailable: "Chat unavailable",
    greeting: "Hi! How can we help you today?", reply: "We usually reply within {n} minutes.",
    input: "Write a message…", send: "Send", chat: "Chat", updates: "Updates", orders: "Orders",
    threads: "History", newConv: "New conversation", email: "Your e-mail address", name: "Your name",
    away: "Nobody is online right now. Leave your e-mail address with your message and we'll answer there.",
    prechat: "Before we start:", transcript: "E-mail me a copy of this chat", badEmail: "Please enter a valid e-mail address.",
    badName: "Please enter your name.", today: "Today", yesterday: "Yesterday", newMessages: "New messages",
    seen: "Seen", edited: "edited", typing: "{name} is typing…", joined: "{name} joined the chat", anAgent: "Our team",
    closed: "This conversation is closed.", rate: "How was this chat?", star: "{n} out of 5",
    comment: "Anything to add? (optional)", thanks: "Thank you for your feedback!", copy: "Copy code",
    copied: "Copied", dismiss: "Dismiss", view: "View", openLink: "Open", noUpdates: "Nothing new for you yet.",
    noOrders: "No orders yet.", noThreads: "No conversations yet.", offers: "Send me offers and news",
    you: "You", failed: "Not sent", newMsgFrom: "New message from {name}: {text}", answer: "Send answers",
    answered: "Thanks for answering!", kind_order: "Order update", kind_offer: "Offer", kind_news: "News",
    kind_product: "New product", kind_promotion: "Promotion", kind_survey: "Survey", kind_reminder: "Reminder", kind_greeting: "Greeting",
    st_closed: "Closed", st_waiting: "Waiting for an agent", st_assigned: "Open", until: "Valid until {date}",
    order: "Order {id}", details: "Details", off: "{n} off", newCard: "New for you", chatLabel: "Chat messages",
    rateGroup: "Your rating", pickOne: "Choose one",
  },
  de: {
    open: "Chat öffnen", close: "Chat schließen", title: "Schreiben Sie uns", online: "Wir sind online",
    offline: "Gerade nicht besetzt – hinterlassen Sie eine Nachricht", reconnecting: "Verbinde neu…",
    unavailable: "Chat nicht verfügbar", greeting: "Hallo! Wie können wir helfen?",
    reply: "Wir antworten meist innerhalb von {n} Minuten.", input: "Nachricht schreiben…", send: "Senden",
    chat: "Chat", updates: "Neuigkeiten", orders: "Bestellungen", threads: "Verlauf", newConv: "Neues Gespräch",
    email: "Ihre E-Mail-Adresse", name: "Ihr Name",
    away: "Gerade ist niemand online. Hinterlassen Sie Ihre E-Mail-Adresse mit Ihrer Nachricht, wir antworten dorthin.",
    prechat: "Bevor wir beginnen:", transcript: "Eine Kopie dieses Chats per E-Mail", badEmail: "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
    badName: "Bitte geben Sie Ihren Namen ein.", today: "Heute", yesterday: "Gestern", newMessages: "Neue Nachrichten",
    seen: "Gelesen", edited: "bearbeitet", typing: "{name} schreibt…", joined: "{name} ist dem Chat beigetreten",
    anAgent: "Unser Team", closed: "Dieses Gespräch ist beendet.", rate: "Wie war dieser Chat?", star: "{n} von 5",
    comment: "Möchten Sie etwas ergänzen? (optional)", thanks: "Danke für Ihre Rückmeldung!", copy: "Code kopieren",
    copied: "Kopiert", dismiss: "Schließen", view: "Ansehen", openLink: "Öffnen", noUpdates: "Noch nichts Neues für Sie.",
    noOrders: "Noch keine Bestellungen.", noThreads: "Noch keine Gespräche.", offers: "Angebote und Neuigkeiten erhalten",
    you: "Sie", failed: "Nicht gesendet", newMsgFrom: "Neue Nachricht von {name}: {text}", answer: "Antworten senden",
    answered: "Danke für Ihre Antworten!", kind_order: "Bestellung", kind_offer: "Angebot", kind_news: "Neuigkeit",
    kind_product: "Neues Produkt", kind_promotion: "Aktion", kind_survey: "Umfrage", kind_reminder: "Erinnerung", kind_greeting: "Gruß",
    st_closed: "Beendet", st_waiting: "Wartet auf Antwort", st_assigned: "Offen", until: "Gültig bis {date}",
    order: "Bestellung {id}", details: "Details", off: "{n} Rabatt", newCard: "Neu für Sie", chatLabel: "Chatnachrichten",
    rateGroup: "Ihre Bewertung", pickOne: "Bitte wählen",
  },
};

export const LANGUAGES = Object.keys(STRINGS);

/** The widget's language: the page's setting, the server's, the page's lang, else English. */
export function pickLanguage(config, pageLang) {
  for (const wanted of [config.language, (pageLang || "").slice(0, 2).toLowerCase()]) {
    if (wanted && STRINGS[wanted]) return wanted;
  }
  return "en";
}

/** `t(key, {n: 3})`: the string in `lang`, its {placeholders} filled in. */
export function translator(lang) {
  const strings = STRINGS[lang] || STRINGS.en;
  return (key, vars = {}) =>
    (strings[key] ?? STRINGS.en[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Dates, times, amounts and percentages as the shopper reads them. */
export function formats(locale) {
  const time = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
  const date = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" });
  return {
    time: (ms) => time.format(ms),
    date: (ms) => date.format(ms),
    percent: (n) => new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 2 }).format(n / 100),
    money: (n, currency) =>
      currency
        ? new Intl.NumberFormat(locale, { style: "currency", currency }).format(n)
        : new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(n),
  };
}
