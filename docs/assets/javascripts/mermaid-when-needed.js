// Mermaid 11.17.2 is served with the site (mermaid-11.17.2.min.js beside this file, MIT license), so that
// diagrams draw offline; Material draws them with the `mermaid` it finds on the page. This loads it only on
// pages that have a diagram, before Material looks for it: 3.5 MB of script the other pages never parse.
if (document.querySelector("pre.mermaid") && typeof mermaid === "undefined") {
  const source = new URL("mermaid-11.17.2.min.js", document.currentScript.src);
  document.write(`<script src="${source}"><\/script>`);
}
