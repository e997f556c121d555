// Loaded just before require.js on pages with widgets (see nb_ipywidgets_js in _config.yml).
// require.js reads a global `require` object as its configuration. The widget manager's bundled
// modules compute their font URLs from their module ids, so map those ids to the vendored copy,
// which makes every module's folder the one that holds the fonts. The book's own widgets are
// anywidget widgets: their model module `anywidget` is the vendored AMD build.
(function () {
  "use strict";
  var manager = new URL("html-manager/dist", document.currentScript.src).href;
  var anywidget = new URL("anywidget/dist/index", document.currentScript.src).href;
  window.require = {
    paths: {
      "@jupyter-widgets/html-manager/dist": manager,
      "@jupyter-widgets": manager,
      anywidget: anywidget,
    },
  };
})();
