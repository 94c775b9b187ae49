// The snippet's script: draws the launcher at once, keeps calls made before the widget loads, and
// fetches the widget only when it is needed: on first open, for a logged-in customer (offers and
// order updates may arrive), or for a shopper with a conversation on this device (a reply may).
// A visitor who does none of these costs one small script: no socket, no cookie, nothing stored.
(function () {
  "use strict";
  if (window.__rapportLoaded) return;
  window.__rapportLoaded = true;

  // Written by the server (server/api/static_files.py): the bundle's version and its settings.
  var BUILD = /*build*/{"version":"","config":{}}/*build*/;
  var script = document.currentScript;
  var page = window.RapportSettings || {};
  var config = {};
  var key;
  for (key in BUILD.config) config[key] = BUILD.config[key];
  for (key in page) if (page[key] !== undefined && page[key] !== null) config[key] = page[key];
  var server = (config.server || (script ? new URL(script.src, location.href).origin : location.origin)).replace(/\/$/, "");
  var base = server + (BUILD.version ? "/static/v/" + BUILD.version : "/static") + "/";
  var bundle = base + "widget/widget.js";
  var queued = (window.Rapport && window.Rapport.q) || [];
  var pending = [];
  var widget = null;
  var loading = null;

  // The host is an element of our own, under <html> rather than <body>: a page's transform,
  // filter or overflow on body (which would capture position: fixed) does not reach it; inline
  // !important beats the page's own !important rules on the host. The highest z-index there is:
  // a page may give its own elements that too, and then the later in the document (ours) is on top.
  var host = document.createElement("rapport-widget");
  var hostStyle = "all:initial;position:fixed;z-index:2147483647;top:0;left:0;width:0;height:0;display:block;" +
    "visibility:visible;opacity:1;transform:none;filter:none;pointer-events:auto;contain:none;zoom:1;";
  host.setAttribute("style", hostStyle.replace(/;/g, " !important;"));
  var root = host.attachShadow({ mode: "open" });
  var side = config.position === "left" ? "left" : "right";
  var color = /^#[0-9a-fA-F]{6}$/.test(config.color || "") ? config.color : "#4f46e5";
  var style = document.createElement("style");
  style.textContent =
    ":host{all:initial}" +
    ".launcher{all:initial;box-sizing:border-box;position:fixed;bottom:calc(20px + var(--vv-bottom,0px) + env(safe-area-inset-bottom));" + side +
    ":calc(20px + var(--vv-" + side + ",0px) + env(safe-area-inset-" + side + "));width:56px;height:56px;border-radius:50%;background:" + color +
    ";color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;" +
    "box-shadow:0 6px 20px rgba(0,0,0,.25);z-index:2;touch-action:manipulation;-webkit-tap-highlight-color:transparent}" +
    ".launcher:focus-visible{outline:3px solid #111;outline-offset:3px}" +
    ".launcher[hidden]{display:none}" +
    ".badge{all:initial;position:absolute;top:-4px;" + (side === "left" ? "left" : "right") + ":-4px;min-width:20px;height:20px;" +
    "border-radius:10px;background:#c2272d;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center;padding:0 5px;box-sizing:border-box}" +
    ".badge:empty{display:none}" +
    ".edge{position:fixed;right:0;bottom:0;width:0;height:0;visibility:hidden}";
  var launcher = document.createElement("button");
  launcher.className = "launcher";
  launcher.type = "button";
  launcher.setAttribute("data-testid", "rapport-launcher");
  launcher.setAttribute("aria-label", config.launcherTitle || (/^de\b/i.test(config.language || document.documentElement.lang) ? "Chat öffnen" : "Open chat"));
  launcher.setAttribute("aria-expanded", "false");
  // Drawn, not an emoji: headless and minimal systems often lack an emoji font.
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "26");
  svg.setAttribute("height", "26");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(ns, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  svg.appendChild(path);
  var badge = document.createElement("span");
  badge.className = "badge";
  badge.setAttribute("data-testid", "rapport-badge");
  launcher.append(svg, badge);
  // The bottom right corner of the box position: fixed is laid out in, measured, not assumed: on a
  // phone, a page wider than its layout viewport widens that box beyond documentElement.clientWidth.
  var edge = document.createElement("i");
  edge.className = "edge";
  root.append(style, launcher, edge);
  document.documentElement.appendChild(host);
  // Loaded from the head, before the body exists: after it, once it does, to stay the last painted.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      if (host.nextSibling) document.documentElement.appendChild(host);
    });
  }

  // position: fixed is laid out on the layout viewport; a page wider than the phone (content that
  // overflows) or a pinch zoom shows only part of it. Everything we draw keeps to the part shown.
  // A page without a `width=device-width` viewport tag is laid out about 980 px wide and shown
  // zoomed out on a phone: the widget is zoomed in by as much, so it keeps its size on the screen
  // (a pinch zoom in is left alone: the shopper asked for everything bigger). Lengths inside the
  // host are zoomed, so the visible area's sides are given in the widget's own pixels.
  var viewport = window.visualViewport;
  function fit() {
    var zoom = viewport.scale < 1 ? 1 / viewport.scale : 1;
    var corner = edge.getBoundingClientRect();
    var sides = {
      left: viewport.offsetLeft,
      right: corner.left - viewport.offsetLeft - viewport.width,
      top: viewport.offsetTop,
      bottom: corner.top - viewport.offsetTop - viewport.height,
      width: viewport.width,
      height: viewport.height,
    };
    for (var name in sides) host.style.setProperty("--vv-" + name, Math.round(sides[name] / zoom) + "px");
    host.style.setProperty("zoom", String(zoom), "important");
    // A phone's screen, whatever the page's viewport: the open panel covers it.
    host.toggleAttribute("data-phone", viewport.width / zoom <= 480);
  }
  if (viewport) {
    fit();
    viewport.addEventListener("resize", fit);
    viewport.addEventListener("scroll", fit);
    window.addEventListener("resize", fit);
  } else {
    host.toggleAttribute("data-phone", window.matchMedia("(max-width: 480px)").matches);
  }

  function load() {
    if (!loading) {
      // Every module at once, not one import level after the other.
      (BUILD.files || []).forEach(function (file) {
        var link = document.createElement("link");
        link.rel = "modulepreload";
        link.href = base + file;
        link.crossOrigin = "anonymous";
        document.head.appendChild(link);
      });
      loading = import(bundle)
        .then(function (module) {
          widget = module.mount({ server: server, config: config, host: host, root: root, launcher: launcher });
          // Calls made before load first (setUser above all), then connect once, as who we are.
          for (var i = 0; i < pending.length; i++) widget.call(pending[i]);
          pending = [];
          widget.start();
          window.dispatchEvent(new CustomEvent("rapport:ready"));
          return widget;
        })
        .catch(function (error) {
          loading = null;
          window.dispatchEvent(new CustomEvent("rapport:error", { detail: String(error) }));
          throw error;
        });
    }
    return loading;
  }

  launcher.addEventListener("click", function () {
    if (!widget) load().then(function (w) { w.call(["open"]); });
  });

  window.Rapport = function () {
    var args = Array.prototype.slice.call(arguments);
    if (widget) return widget.call(args);
    pending.push(args);
    if (args[0] === "open" || args[0] === "setUser") load();
  };
  for (var i = 0; i < queued.length; i++) window.Rapport.apply(null, queued[i]);
  // A link from one of our e-mails (`#rapport-chat=<conversation>`) opens the chat again.
  if (/^#rapport-chat=[\w-]{1,64}$/.test(location.hash)) window.Rapport("open");

  // Someone the server may have news for: load when the page is idle, not before its own work.
  var known = false;
  try {
    known = !!localStorage.getItem("rapport.active");
  } catch (e) {
    // Storage blocked: this visitor is new to us every time.
  }
  if (known && !loading) (window.requestIdleCallback || setTimeout)(function () { load(); });
})();
