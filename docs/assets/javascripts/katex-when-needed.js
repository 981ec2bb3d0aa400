// KaTeX 0.19.1 is served with the site (docs/assets/katex/: katex.min.js, katex.min.css, its woff2 fonts, MIT
// license), so that formulas draw offline. pymdownx.arithmatex (generic) leaves each formula of the Markdown,
// $...$ or $$...$$, as its TeX in an element of class "arithmatex": \(...\) inline, \[...\] on a line of its own.
// This loads KaTeX only on pages that have a formula, and draws each one; a formula KaTeX cannot read stays on
// the page as its source, in red (class katex-error), and the rest of the page keeps working.
(function () {
  const formulas = document.querySelectorAll(".arithmatex");
  if (formulas.length === 0) {
    return;
  }
  const folder = new URL("../katex/", document.currentScript.src);
  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = new URL("katex.min.css", folder).href;
  document.head.appendChild(style);
  const script = document.createElement("script");
  script.src = new URL("katex.min.js", folder).href;
  script.onload = function () {
    for (const element of formulas) {
      const source = element.textContent.trim();
      const display = source.startsWith("\\[");
      try {
        katex.render(source.slice(2, -2), element, { displayMode: display, throwOnError: true });
      } catch (error) {
        element.textContent = source; // the TeX as it was, in red, with KaTeX's reason on hover
        element.classList.add("katex-error");
        element.title = String(error.message);
        element.style.color = "#cc0000";
      }
    }
  };
  document.head.appendChild(script);
})();
