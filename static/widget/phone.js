// On a phone the open panel is the whole screen: the page behind it does not scroll, and the panel
// follows the visible viewport (the loader's --vv-* variables) so the soft keyboard never covers the composer.
/** The loader marks its host when the visible width is a phone's (even on a page laid out wider). */
export function isPhone(host) {
  return host.hasAttribute("data-phone");
}

const saved = [];

/** Lock the page's scroll while the panel covers it; returns the undo. */
export function lockPage(host) {
  for (const node of [document.documentElement, document.body]) {
    if (!node) continue;
    saved.push([node, node.style.getPropertyValue("overflow"), node.style.getPropertyPriority("overflow")]);
    node.style.setProperty("overflow", "hidden", "important");
  }
  // The loader keeps --vv-top, --vv-height (the visible part of the page, above a soft keyboard)
  // and the other sides on the host; the full-screen panel is laid out on them.
  host.dataset.locked = "yes";
  return () => {
    delete host.dataset.locked;
    for (const [node, value, priority] of saved.splice(0)) {
      if (value) node.style.setProperty("overflow", value, priority);
      else node.style.removeProperty("overflow");
    }
  };
}
