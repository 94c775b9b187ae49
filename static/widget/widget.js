// The shopper's widget, mounted by the loader into its shadow root: the chat, pushes, orders and
// history (panel.js), the page's JavaScript API, and what the page's network and visibility say.
import { alertHidden, allowSound } from "./alerts.js";
import { formats, pickLanguage, translator } from "./i18n.js";
import { App } from "./panel.js";
import { isPhone, lockPage } from "./phone.js";
import { ShopperChat } from "./state.js";
import { STYLE } from "./styles.js";
import { html, render } from "./ui.js";

function pageStorage() {
  try {
    const probe = "rapport.probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    // Blocked storage (private modes, policies): the chat works, it forgets on reload.
    const kept = new Map();
    return { getItem: (k) => kept.get(k) ?? null, setItem: (k, v) => kept.set(k, String(v)), removeItem: (k) => kept.delete(k) };
  }
}

export function mount({ server, config, host, root, launcher }) {
  const pageLang = document.documentElement.lang || "";
  const lang = pickLanguage(config, pageLang);
  const t = translator(lang);
  const f = formats(pageLang.toLowerCase().startsWith(lang) ? pageLang : lang);
  const side = config.position === "left" ? "left" : "right";
  host.style.setProperty("--accent", /^#[0-9a-fA-F]{6}$/.test(config.color || "") ? config.color : "#4f46e5");
  const style = document.createElement("style");
  style.textContent = STYLE;
  const container = document.createElement("div");
  root.append(style, container);

  const chat = new ShopperChat({ server, storage: pageStorage() });
  chat.root = root;
  let unlock = null;

  const controls = {
    toggle(open = !chat.open) {
      if (open === chat.open) return;
      chat.open = open;
      launcher.setAttribute("aria-expanded", String(open));
      launcher.setAttribute("aria-label", open ? t("close") : config.launcherTitle || t("open"));
      if (open) {
        allowSound();
        if (!chat.started) chat.start();
        chat.markerFrom = { id: chat.current, seq: chat.readUpTo(chat.current) };
        chat.markRead();
        if (isPhone(host)) {
          unlock = lockPage(host);
          launcher.hidden = true;
        }
      } else {
        unlock?.();
        unlock = null;
        launcher.hidden = false;
        launcher.focus();
      }
      chat.emit(open ? "open" : "close", {});
      chat.changed();
    },
    openAt(seq) {
      chat.seen(seq);
      chat.view = "updates";
      chat.focusSeq = seq;
      controls.toggle(true);
    },
  };

  render(html`<${App} chat=${chat} t=${t} f=${f} config=${config} side=${side} controls=${controls} />`, container);
  launcher.addEventListener("click", () => controls.toggle());
  const badge = launcher.querySelector(".badge");
  chat.subscribe(() => {
    const count = chat.open ? 0 : chat.unread + chat.cards.length;
    badge.textContent = count ? String(count) : "";
    launcher.setAttribute("aria-label", `${chat.open ? t("close") : config.launcherTitle || t("open")}${count ? ` (${count})` : ""}`);
  });
  chat.on("alert", (e) => alertHidden(t("newMsgFrom", { name: e.author_name || t("anAgent"), text: "" }).replace(/:\s*$/, "")));

  // A socket may not notice a lost network for a long time; the page does.
  window.addEventListener("offline", () => chat.client.drop());
  window.addEventListener("online", () => chat.client.reconnectNow());
  document.addEventListener("visibilitychange", () => chat.markRead());

  let lastUrl = null;
  const pageView = () => {
    if (location.href === lastUrl || !chat.connected) return;
    lastUrl = location.href;
    chat.client.send({ type: "page.view", url: location.href.slice(0, 2000), title: document.title.slice(0, 300) });
  };
  chat.client.on("welcome", () => {
    lastUrl = null;
    pageView();
  });
  window.addEventListener("popstate", pageView);

  return {
    start() {
      chat.start();
    },
    // Rapport('open' | 'close' | 'toggle' | 'setUser' | 'logout' | 'track' | 'on', ...)
    call([method, ...args]) {
      if (method === "open") controls.toggle(true);
      else if (method === "close") controls.toggle(false);
      else if (method === "toggle") controls.toggle();
      else if (method === "setUser" && args[0] && args[0].user_id) chat.setUser(args[0]);
      else if (method === "logout") chat.logout();
      else if (method === "track" && typeof args[0] === "string") {
        chat.client.send({ type: "track", name: args[0], props: args[1] || {} });
      } else if (method === "on" && typeof args[0] === "string" && typeof args[1] === "function") chat.on(args[0], args[1]);
      else if (method === "shutdown") {
        chat.logout();
        chat.client.stop();
        host.remove();
      }
    },
  };
}
