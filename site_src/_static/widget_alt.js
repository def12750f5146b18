// Saved widgets show their figures through ipywidgets' html-manager, which draws each one as an
// <img> without alt text. The notebook stored every figure's alt text in its output's metadata,
// {"image/png": {"alt": ...}} (utils/viz/figure.py): copy it onto the image that shows that data.
(function () {
  function altTexts() {
    const texts = new Map();
    document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]').forEach((script) => {
      const models = (JSON.parse(script.textContent) || {}).state || {};
      Object.values(models).forEach((model) => {
        ((model.state || {}).outputs || []).forEach((output) => {
          const png = (output.data || {})["image/png"];
          const alt = ((output.metadata || {})["image/png"] || {}).alt;
          if (png && alt) texts.set(png.replace(/\s/g, ""), alt);
        });
      });
    });
    return texts;
  }
  function label(texts) {
    document.querySelectorAll('img:not([alt]), img[alt=""]').forEach((img) => {
      const src = (img.getAttribute("src") || "").replace(/\s/g, "");
      const prefix = "data:image/png;base64,";
      if (src.startsWith(prefix) && texts.has(src.slice(prefix.length))) {
        img.setAttribute("alt", texts.get(src.slice(prefix.length)));
      }
    });
  }
  document.addEventListener("DOMContentLoaded", () => {
    const texts = altTexts();
    if (!texts.size) return;
    label(texts);
    new MutationObserver(() => label(texts)).observe(document.body, { childList: true, subtree: true });
  });
})();
