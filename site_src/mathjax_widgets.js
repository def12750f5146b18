// ipywidgets' html-manager typesets the labels of saved widgets with MathJax 2's
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); MathJax 3 has no Hub. This gives it one,
// before MathJax has started (the calls wait) and after, that typesets the element.
(function () {
  const pending = [];
  const hub = {
    Queue: function (job) {
      const element = job && job[2];
      const run = () => window.MathJax.typesetPromise(element ? [element] : undefined);
      const started = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
      if (started) return started.then(run);
      pending.push(run);
    },
  };
  const config = (window.MathJax = window.MathJax || {});
  config.Hub = hub;
  config.startup = Object.assign({}, config.startup, {
    ready() {
      window.MathJax.startup.defaultReady();
      window.MathJax.Hub = hub;
      window.MathJax.startup.promise.then(() => pending.splice(0).forEach((run) => run()));
    },
  });
})();
