// Mermaid 11.17.2 is served with the site (mermaid-11.17.2.min.js beside this file, MIT license), so that
// diagrams draw offline; Material draws them with the `mermaid` it finds on the page. This loads it only on
// pages that have a diagram, before Material looks for it: 3.5 MB of script the other pages never parse.
//
// Material calls mermaid.initialize with its own settings; ours are added to them (readers found the labels
// small): a diagram wider than the page is scaled down to fit, labels and all, so nodes sit closer together
// (a narrower diagram, scaled less) and labels are drawn at 17 px, a little larger than Mermaid's 16.
if (document.querySelector("pre.mermaid") && typeof mermaid === "undefined") {
  const source = new URL("mermaid-11.17.2.min.js", document.currentScript.src);
  document.write(`<script src="${source}"><\/script>`);
  document.write(`<script>
    (function () {
      const initialize = mermaid.initialize.bind(mermaid);
      mermaid.initialize = function (config) {
        config = config || {};
        initialize(Object.assign({}, config, {
          flowchart: Object.assign({ nodeSpacing: 24, rankSpacing: 36, padding: 10 }, config.flowchart),
          themeVariables: Object.assign({ fontSize: "17px" }, config.themeVariables),
        }));
      };
    })();
  <\/script>`);
}
