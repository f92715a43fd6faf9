// MUSHRA player: a Streamlit component (v1 postMessage protocol, no build step).
// All signals of a trial are decoded into AudioBuffers and, while playing, run in sync from one
// start time, each through its own GainNode; switching ramps the gains (a short linear cross-fade)
// so playback continues at the same position, as in webMUSHRA. The loop region applies to all.
"use strict";
(function () {
  const send = (type, data) => window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, data || {}), "*");
  const $ = (id) => document.getElementById(id);
  let ctx = null, buffers = {}, order = [], trialKey = null, duration = 0;
  let playing = false, active = null, sources = {}, gains = {}, t0 = 0, offset = 0;
  let loopStart = 0, loopEnd = 0, fadeS = 0.008, loadToken = 0;

  function setHeight() { send("streamlit:setFrameHeight", { height: document.body.scrollHeight + 6 }); }
  function status(state, text) { const s = $("status"); s.dataset.state = state; s.textContent = text; }

  function position() {
    if (!playing) return offset;
    let p = offset + (ctx.currentTime - t0);
    const len = loopEnd - loopStart;
    if (p >= loopEnd && len > 0) p = loopStart + ((p - loopStart) % len);
    return p;
  }

  function stopSources() {
    for (const k of Object.keys(sources)) { try { sources[k].stop(); } catch (e) { /* already stopped */ } sources[k].disconnect(); }
    sources = {}; gains = {};
  }

  function startAll(from) {
    // one start time for every source keeps them sample-synchronous
    stopSources();
    const when = ctx.currentTime + 0.03;
    for (const k of order) {
      const src = ctx.createBufferSource();
      src.buffer = buffers[k]; src.loop = true; src.loopStart = loopStart; src.loopEnd = loopEnd;
      const g = ctx.createGain(); g.gain.value = k === active ? 1 : 0;
      src.connect(g).connect(ctx.destination);
      src.start(when, from);
      sources[k] = src; gains[k] = g;
    }
    t0 = when; offset = from; playing = true;
  }

  function crossfade(to) {
    const t = ctx.currentTime;
    for (const k of order) {
      const g = gains[k].gain;
      g.cancelScheduledValues(t); g.setValueAtTime(g.value, t);
      g.linearRampToValueAtTime(k === to ? 1 : 0, t + fadeS);
    }
    active = to;
  }

  async function play(key) {
    if (!ctx || !buffers[key]) return;
    if (ctx.state !== "running") await ctx.resume();
    if (playing) { if (key !== active) crossfade(key); }
    else { active = key; startAll(Math.min(Math.max(offset, loopStart), loopEnd - 0.01)); }
    render();
  }

  function stop() { if (playing) { stopSources(); playing = false; } offset = loopStart; active = null; render(); }

  function seek(p) {
    p = Math.min(Math.max(p, loopStart), loopEnd - 0.01);
    if (playing) startAll(p); else offset = p;
    render();
  }

  function setLoop(s, e) {
    const p = position();
    loopStart = Math.max(0, Math.min(s, duration - 0.1));
    loopEnd = Math.min(duration, Math.max(e, loopStart + 0.1));
    $("ls").value = loopStart; $("le").value = loopEnd;
    $("lsv").textContent = loopStart.toFixed(1) + " s"; $("lev").textContent = loopEnd.toFixed(1) + " s";
    if (playing) {
      if (p < loopStart || p >= loopEnd) startAll(loopStart);
      else for (const k of order) { sources[k].loopStart = loopStart; sources[k].loopEnd = loopEnd; }
    } else if (offset < loopStart || offset >= loopEnd) offset = loopStart;
    render();
  }

  function render() {
    for (const b of $("buttons").querySelectorAll("button[data-key]")) {
      b.classList.toggle("active", playing && b.dataset.key === active);
      b.disabled = !ctx || !buffers[b.dataset.key];
    }
    if (duration > 0) {
      $("loop").style.left = (100 * loopStart / duration) + "%";
      $("loop").style.width = (100 * (loopEnd - loopStart) / duration) + "%";
      $("head").style.left = (100 * position() / duration) + "%";
    }
    const s = $("status");
    if (s.dataset.state !== "loading" && s.dataset.state !== "error") {
      const label = active ? (order.length && labels[active]) : "";
      status(playing ? "playing" : "stopped",
        (playing ? "▶ " + label + "  " : "■ ") + position().toFixed(2) + " / " + duration.toFixed(2) + " s");
      s.dataset.active = playing ? label : "";
      s.dataset.position = position().toFixed(3);
    }
  }
  let labels = {};

  function tick() { if (playing) render(); requestAnimationFrame(tick); }

  async function load(args) {
    const token = ++loadToken;
    stop();
    buffers = {}; order = args.signals.map((s) => s.key); labels = {};
    for (const s of args.signals) labels[s.key] = s.label;
    fadeS = (args.crossfade_ms || 8) / 1000;
    const box = $("buttons"); box.innerHTML = "";
    for (const s of args.signals) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = s.label; b.dataset.key = s.key; b.disabled = true;
      if (s.key === "ref") b.classList.add("ref");
      b.addEventListener("click", () => play(s.key));
      box.appendChild(b);
    }
    const st = document.createElement("button");
    st.type = "button"; st.textContent = "■ Stop"; st.className = "stop"; st.id = "stop";
    st.addEventListener("click", stop); box.appendChild(st);
    setHeight();
    status("loading", "loading " + args.signals.length + " signals…");
    if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
    try {
      const decoded = await Promise.all(args.signals.map(async (s) => {
        const r = await fetch(new URL(s.url, window.location.href));
        if (!r.ok) throw new Error(s.label + ": HTTP " + r.status);
        return ctx.decodeAudioData(await r.arrayBuffer());
      }));
      if (token !== loadToken) return; // a newer trial arrived meanwhile
      args.signals.forEach((s, i) => { buffers[s.key] = decoded[i]; });
      duration = decoded[0].duration;
      for (const id of ["ls", "le"]) $(id).max = duration;
      status("stopped", "");
      setLoop(0, duration);
      setHeight();
    } catch (e) {
      status("error", "could not load audio: " + e.message);
    }
  }

  $("bar").addEventListener("click", (ev) => {
    const r = $("bar").getBoundingClientRect();
    if (duration > 0) seek(duration * (ev.clientX - r.left) / r.width);
  });
  $("ls").addEventListener("input", () => setLoop(parseFloat($("ls").value), loopEnd));
  $("le").addEventListener("input", () => setLoop(loopStart, parseFloat($("le").value)));
  $("lreset").addEventListener("click", () => setLoop(0, duration));

  window.addEventListener("message", (ev) => {
    if (!ev.data || ev.data.type !== "streamlit:render") return;
    const args = ev.data.args || {};
    if (args.trial_key !== trialKey) { trialKey = args.trial_key; load(args); }
  });
  window.addEventListener("resize", setHeight);
  send("streamlit:componentReady", { apiVersion: 1 });
  setHeight();
  requestAnimationFrame(tick);
})();
