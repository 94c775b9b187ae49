// The UI library the widget is written with: Preact components as htm templates (static/vendor/README.md).
import { h, render } from "../vendor/preact.js";
import htm from "../vendor/htm.js";

export { render };
export { useEffect, useLayoutEffect, useRef, useState } from "../vendor/preact-hooks.js";
// Values interpolated into these templates are always text or attributes, never parsed as HTML.
export const html = htm.bind(h);
