// Site-wide fixes that let widgets, icons and maths work with no network.
// (require.js is configured by _extra/require-config.js, which must run just before it.)
(function () {
  "use strict";
  // 1. The theme's FontAwesome 6 script replaces <i class="fa ..."> with <svg>, which breaks the
  //    Play widget's icon updates (and with them every browser-side link). Nesting keeps the <i>;
  //    mlbook.css hides the nested svg inside widgets, whose own icon font draws the glyph.
  window.FontAwesomeConfig = { autoReplaceSvg: "nest" };

  // 2. ipywidgets typesets labels through the MathJax 2 API; Sphinx loads MathJax 3.
  document.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || !mathjax.startup || mathjax.Hub) {
      return;
    }
    mathjax.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (command) {
          if (Array.isArray(command) && command[0] === "Typeset" && command[2]) {
            mathjax.startup.promise.then(function () {
              return mathjax.typesetPromise([command[2]]);
            });
          }
        });
      },
    };
  });
})();
