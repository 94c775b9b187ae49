// Preact with htm: components are tagged templates (no compiler, no build step), and Preact
// patches only the DOM that changed. Every console module takes them from here, so the vendored
// versions are named once (static/vendor/README.md).
import { Component, Fragment, h, render } from "/static/vendor/preact.js";
import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useReducer,
  useRef,
  useState,
} from "/static/vendor/preact-hooks.js";
import htm from "/static/vendor/htm.js";

// Text in a template (`${value}`) is always a text node: what a person typed is never HTML.
export const html = htm.bind(h);

export { Component, Fragment, h, render, useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState };

// A component that renders again only when one of its props changed (shallow, by identity): the
// rows of long lists and the messages of a transcript, which most events leave alone.
export class Pure extends Component {
  shouldComponentUpdate(next) {
    for (const key in next) if (next[key] !== this.props[key]) return true;
    for (const key in this.props) if (!(key in next)) return true;
    return false;
  }
}
