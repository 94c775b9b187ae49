// The UI library the widget is written with: Preact components as htm templates (static/vendor/README.md).
import { h, render } from "../vendor/preact.js";
import { useEffect, useLayoutEffect, useRef, useState } from "../vendor/preact-hooks.js";
import htm from "../vendor/htm.js";

export { render, useEffect, useLayoutEffect, useRef, useState };
// Values interpolated into these templates are always text or attributes, never parsed as HTML.
export const html = htm.bind(h);

const loaded = new Map(); // load function -> its component, once fetched

/** A component fetched the first time it is shown: tabs and forms a first visit may never open are
 * not part of what it downloads. `load` is a module-level `() => import(...).then(m => m.Name)`. */
export function Later({ load, ...props }) {
  const [Component, setComponent] = useState(() => loaded.get(load));
  useEffect(() => {
    if (Component) return undefined;
    let shown = true;
    load().then(
      (component) => {
        loaded.set(load, component);
        if (shown) setComponent(() => component);
      },
      () => {}, // offline: fetched again the next time it is shown
    );
    return () => {
      shown = false;
    };
  }, [load]);
  return Component ? h(Component, props) : null;
}
