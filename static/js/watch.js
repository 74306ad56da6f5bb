// Watch along (films/watch.py): a clock that follows the film and moves the
// guide on at each scene's start, asking only for what the clock has reached.
(() => {
  "use strict";
  const panel = document.getElementById("watch-clock");
  if (!panel || !window.fetch || !window.DOMParser) return;
  panel.hidden = false;
  const current = () => document.getElementById("watch-now");
  const end = Number(current().dataset.end);
  const display = document.getElementById("watch-clock-time");
  const button = (name) => panel.querySelector(`[data-watch="${name}"]`);
  const pauseButton = button("pause");
  let at = 0; // film seconds when the clock last started or moved
  let since = null; // Date.now() then, or null while paused
  let timer = null;
  let loading = false;
  let loads = 0; // only the latest request's answer counts

  const pad = (n) => String(n).padStart(2, "0");
  const format = (s) => {
    s = Math.floor(s);
    return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
  };
  const parse = (text) => {
    const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec((text || "").trim());
    return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] || 0) : null;
  };
  const position = () =>
    Math.min(end, since === null ? at : at + (Date.now() - since) / 1000);
  const nextStart = () => {
    const next = current().dataset.next;
    return next === "" ? Infinity : Number(next);
  };

  // The guide at `seconds` (the clock's own time, never later): the same page,
  // whose "now" part replaces ours. The server remembers it as the horizon.
  async function load(seconds) {
    const ticket = ++loads;
    loading = true;
    const url = new URL(window.location.pathname, window.location.origin);
    url.searchParams.set("seen", format(seconds));
    let moved = false;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok && ticket === loads) {
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("watch-now");
        if (fresh) {
          current().replaceWith(fresh);
          moved = true;
        }
        window.history.replaceState(null, "", url);
      }
    } finally {
      if (ticket === loads) loading = false;
    }
    // While the answer was on its way the clock went on, and ticks do not ask
    // twice at once: if it has passed the next scene's start, ask again now.
    // A paused clock gives no further tick, so waiting for one could leave the
    // guide a scene behind for good.
    if (moved && !loading && position() >= nextStart()) load(position());
  }

  function tick() {
    const now = position();
    display.textContent = format(now);
    if (!loading && now >= nextStart()) load(now);
    if (now >= end) pause();
  }

  function start(seconds) {
    at = Math.max(0, Math.min(end, seconds));
    since = Date.now();
    window.clearInterval(timer);
    timer = window.setInterval(tick, 1000);
    pauseButton.disabled = false;
    pauseButton.textContent = "Pause";
    pauseButton.focus(); // so that space pauses, as it does anywhere else
    display.textContent = format(at);
    load(at);
  }

  function pause() {
    at = position();
    since = null;
    window.clearInterval(timer);
    pauseButton.textContent = "Resume";
  }

  function toggle() {
    if (pauseButton.disabled) return;
    if (since === null) {
      since = Date.now();
      timer = window.setInterval(tick, 1000);
      pauseButton.textContent = "Pause";
    } else {
      pause();
    }
  }

  function move(seconds) {
    at = Math.max(0, Math.min(end, position() + seconds));
    if (since !== null) since = Date.now();
    tick();
  }

  function whereIAm() {
    const typed = parse(document.getElementById("watch-at").value);
    if (typed !== null) return typed;
    const query = new URLSearchParams(window.location.search);
    const picked = document.querySelector("#seen-picker option:checked");
    for (const value of [query.get("seen"), query.get("to"), picked && picked.value]) {
      if (value === "all") return end;
      const seconds = parse(value);
      if (seconds !== null) return seconds;
    }
    return 0;
  }

  button("start").addEventListener("click", () => start(0));
  button("here").addEventListener("click", () => start(whereIAm()));
  pauseButton.addEventListener("click", toggle);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea, button, a")) return;
    if (event.key === " ") {
      event.preventDefault();
      toggle();
    } else if (event.key === "ArrowRight") {
      move(10);
    } else if (event.key === "ArrowLeft") {
      move(-10);
    }
  });
})();
