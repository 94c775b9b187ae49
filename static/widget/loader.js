// The snippet's script: reads window.RapportSettings, keeps calls made before load, loads the widget.
// Embed: see README.md. Calls made with Rapport(...) before this runs are queued in Rapport.q.
(function () {
  "use strict";
  if (window.__rapportLoaded) return;
  window.__rapportLoaded = true;

  var script = document.currentScript;
  var settings = window.RapportSettings || {};
  var server = (settings.server || (script ? new URL(script.src, location.href).origin : location.origin)).replace(
    /\/$/,
    ""
  );
  var queued = (window.Rapport && window.Rapport.q) || [];
  var widget = null;
  var pending = [];

  // Until the module is loaded, calls are kept; afterwards they go straight to the widget.
  window.Rapport = function () {
    var args = Array.prototype.slice.call(arguments);
    if (widget) widget.call(args);
    else pending.push(args);
  };
  for (var i = 0; i < queued.length; i++) pending.push(Array.prototype.slice.call(queued[i]));

  import(server + "/widget/widget.js")
    .then(function (module) {
      widget = module.mount({ server: server, settings: settings });
      // Calls made before load first (setUser above all), then connect once, as who we are.
      for (var j = 0; j < pending.length; j++) widget.call(pending[j]);
      pending = [];
      widget.start();
      window.dispatchEvent(new CustomEvent("rapport:ready"));
    })
    .catch(function (error) {
      window.dispatchEvent(new CustomEvent("rapport:error", { detail: String(error) }));
    });
})();
