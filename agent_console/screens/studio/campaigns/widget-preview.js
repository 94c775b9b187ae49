// A notification exactly as the widget shows it: the widget's own card component (its Notice, from
// static/widget/) and its own stylesheet, in a shadow root of their own, as on the shop's page.
// The preview's clicks count nothing: its `chat` records no tracking.
import { formats, translator } from "/static/widget/i18n.js";
import { Notice } from "/static/widget/notice.js";
import { STYLE } from "/static/widget/styles.js";
import { html as widgetHtml, render } from "/static/widget/ui.js";
import { html, useEffect, useRef } from "../../../lib/html.js";

// The card sits over the launcher on a page; here it is laid out in the flow of the preview box.
const IN_PLACE = ".card{position:relative;right:auto;left:auto;bottom:auto;animation:none;margin:0;max-width:100%}";
const NO_TRACKING = { track() {}, dismiss() {} };
let sheet = null;

function widgetSheet() {
  // A constructed stylesheet: the console's CSP allows no inline <style>, and the shadow root
  // keeps the widget's rules from the console's and the console's from them, as on a shop's page.
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE + IN_PLACE);
  }
  return sheet;
}

export function WidgetPreview({ notification, lang = "en" }) {
  const host = useRef(null);
  useEffect(() => {
    const box = host.current;
    const root = box.shadowRoot || box.attachShadow({ mode: "open" });
    root.adoptedStyleSheets = [widgetSheet()];
    const t = translator(lang);
    const f = formats(lang);
    render(
      widgetHtml`<aside class="card right" data-testid="rapport-card" data-kind=${notification.kind} aria-label=${t("newCard")}>
        <button class="x" type="button" aria-label=${t("dismiss")} tabindex="-1">×</button>
        <${Notice} chat=${NO_TRACKING} n=${notification} t=${t} f=${f} />
        <div class="actions"><button class="ghost" type="button" tabindex="-1">${t("view")}</button></div>
      </aside>`,
      root,
    );
  }, [notification, lang]);
  useEffect(() => () => host.current && host.current.shadowRoot && render(null, host.current.shadowRoot), []);
  // The shadow host's own box is reset by the widget's `:host{all:initial}`: the frame is outside it.
  return html`<div class="widget-preview-box"><div class="widget-preview" ref=${host} data-testid="widget-preview"></div></div>`;
}
