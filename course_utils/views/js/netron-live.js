// course_utils.views.netron: finds a URL the browser can reach for the kernel's Netron server and swaps the live
// view in; the static picture stays otherwise. __CONFIG__ is replaced by the view's settings (JSON).
// Other pages of the same server (course_utils.views.web_classifier) use it too: cfg.src is then the page's path
// under the server token (instead of Netron's "?url=<model>"), cfg.label the bar's name, cfg.allow the iframe's
// permissions policy.
(function () {
  var cfg = __CONFIG__;
  var script = document.currentScript;
  function root() {
    var el = script;
    while (el && !(el.classList && el.classList.contains("course-netron"))) { el = el.parentElement; }
    return el || document.getElementById(cfg.id);
  }
  function jupyterBase() {
    try {
      var data = document.getElementById("jupyter-config-data");
      if (data) { var b = JSON.parse(data.textContent).baseUrl; if (b) { return b; } }
    } catch (e) {}
    if (document.body && document.body.dataset && document.body.dataset.baseUrl) { return document.body.dataset.baseUrl; }
    var m = window.location.pathname.match(/^(.*?\/)(lab|notebooks|tree|doc|edit|voila|retro)(\/|$)/);
    return m ? m[1] : null;
  }
  function candidates() {
    var list = [];
    var web = /^https?:$/.test(window.location.protocol);
    var base = web ? jupyterBase() : null;
    if (base) {
      if (base.charAt(base.length - 1) !== "/") { base += "/"; }
      list.push({ kind: "proxy", root: base + "proxy/" + cfg.port + "/" + cfg.token + "/" });
    }
    var host = window.location.hostname;
    if (!web || /^(localhost|127(\.\d+){3}|\[::1\]|::1)$/.test(host)) {
      list.push({ kind: "direct", root: "http://127.0.0.1:" + cfg.port + "/" + cfg.token + "/" });
    }
    return list;
  }
  function probe(c) {
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) { ctrl.abort(); } }, cfg.timeout);
    return fetch(c.root + "course-probe", { cache: "no-store", credentials: "same-origin", signal: ctrl ? ctrl.signal : undefined })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (t) { clearTimeout(timer); return t.indexOf(cfg.token) >= 0 ? c : null; })
      .catch(function () { clearTimeout(timer); return null; });
  }
  function show(el, c) {
    var src = c.root + (cfg.src || ("?url=" + cfg.model));
    var live = el.querySelector(".course-netron-live");
    var frame = document.createElement("iframe");
    frame.src = src;
    frame.title = (cfg.label || "Netron") + ": " + cfg.name;
    if (cfg.allow) { frame.allow = cfg.allow; }
    frame.setAttribute("data-course-netron", c.kind);
    frame.style.cssText = "width:100%;height:" + cfg.height + "px;border:1px solid #ddd;border-radius:4px;display:block";
    var bar = document.createElement("div");
    bar.style.cssText = "font:12px sans-serif;color:#666;margin:2px 0 4px 0";
    var link = document.createElement("a");
    link.href = src; link.target = "_blank"; link.rel = "noopener";
    link.textContent = "open in a new tab";
    bar.appendChild(document.createTextNode((cfg.label || "Netron") + " (" + c.kind + ") · " + cfg.name + " · "));
    bar.appendChild(link);
    live.appendChild(bar);
    live.appendChild(frame);
    live.style.display = "block";
    var fallback = el.querySelector(".course-netron-fallback");
    if (fallback) { fallback.style.display = "none"; }
    el.setAttribute("data-course-netron-url", src);
  }
  function start(tries) {
    var el = root();
    if (!el) { if (tries < 50) { setTimeout(function () { start(tries + 1); }, 100); } return; }
    if (el.getAttribute("data-course-netron-started")) { return; }
    el.setAttribute("data-course-netron-started", "1");
    var list = candidates();
    var pending = list.map(probe);
    var i = 0;
    (function next() {
      if (i >= pending.length) { el.setAttribute("data-course-netron-url", "none"); return; }
      pending[i++].then(function (found) { if (found) { show(el, found); } else { next(); } });
    })();
  }
  start(0);
})();
