// basehttp live reload (`basehttp --reload`): the page follows every save.
//
// One event stream per browser: this same script runs as a SharedWorker that holds the
// stream for every tab of the origin (a browser keeps at most six HTTP/1.1 connections per
// origin, so a stream per tab would stall the seventh tab's page load); a browser without
// SharedWorker opens a stream per tab. Events: `css` (the URL path of a stylesheet that
// changed: swapped in place, the new one loaded before the old one goes, so the page never
// shows unstyled) and `reload` (anything else: the tab reloads). A stream that comes back
// after the server went away reloads the tab, once the new server answers.
(() => {
  const EVENTS = "/__basehttp/events";

  // Calls `on(kind, data)` for each event, and ("reload") when the stream comes back.
  function listen(on) {
    let lost = false;
    const source = new EventSource(EVENTS);
    source.addEventListener("reload", (e) => on("reload", e.data));
    source.addEventListener("css", (e) => on("css", e.data));
    source.onerror = () => { lost = true; };
    source.onopen = () => {
      if (lost) {
        lost = false;
        on("reload", "the server is back");
      }
    };
  }

  if (typeof window === "undefined") {
    // The SharedWorker: one stream, every tab's port.
    const ports = [];
    let listening = false;
    self.onconnect = (e) => {
      const port = e.ports[0];
      ports.push(port);
      port.start();
      if (!listening) {
        listening = true;
        listen((kind, data) => ports.forEach((p) => p.postMessage([kind, data])));
      }
    };
    return;
  }

  if (window.__basehttpReload) return; // injected twice, or included by hand as well
  window.__basehttpReload = true;

  // Swaps every stylesheet of this origin at `path`; false if the page links none (the
  // change may be in an @import: then the tab reloads).
  function swapCss(path) {
    const links = [...document.querySelectorAll('link[rel~="stylesheet"]')].filter((l) => {
      const url = new URL(l.href, location.href);
      return url.origin === location.origin && url.pathname === path;
    });
    for (const old of links) {
      const url = new URL(old.href, location.href);
      url.searchParams.set("basehttp-reload", Date.now().toString(36));
      const next = old.cloneNode();
      next.href = url.href;
      next.addEventListener("load", () => old.remove(), { once: true });
      next.addEventListener("error", () => next.remove(), { once: true });
      old.after(next);
    }
    return links.length > 0;
  }

  function on(kind, data) {
    if (kind === "css" && swapCss(data)) return;
    location.reload();
  }

  if (window.SharedWorker) {
    try {
      const worker = new SharedWorker(document.currentScript.src, { name: "basehttp-reload" });
      worker.port.onmessage = (e) => on(e.data[0], e.data[1]);
      worker.port.start();
      return;
    } catch (e) {
      // A sandboxed page, say: a stream of its own.
    }
  }
  listen(on);
})();
