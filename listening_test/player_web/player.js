// MUSHRA rating panel: a Streamlit component (v1 postMessage protocol, no build step).
// Audio: every signal of a trial is decoded once and handed to one MushraEngine (engine.js) in an
// AudioWorklet (ScriptProcessor fallback where AudioWorklet is missing, e.g. plain http on a
// LAN address), which plays exactly one signal at a time with raised-cosine fades around every
// discontinuity. UI: reference + one column per signal (play button, vertical 0-100 slider with
// the BS.1534 bands, value), shared transport with a loop region, submit. The submission goes
// back to Python as the component value.
"use strict";
(function () {
  const BANDS = ["Bad", "Poor", "Fair", "Good", "Excellent"];
  const send = (type, data) => window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, data || {}), "*");
  const $ = (id) => document.getElementById(id);

  // prefetched audio bytes live in the parent page, so they survive this iframe being replaced
  // by the next trial's; fetched with the parent's fetch for the same reason
  const host = (() => { try { return window.parent.document ? window.parent : window; } catch (e) { return window; } })();
  const prefetched = host.__mushraPrefetch || (host.__mushraPrefetch = new Map());

  const S = {
    trialKey: null, mode: "rate", keys: [], labels: [], options: {}, ready: false, submitting: false,
    rate: 48000, length: 0, ratings: {}, intent: { signal: 0, playing: false }, status: null,
    heard: [], hist: [], loop: { s: 0, e: 0 }, noteTimer: 0, sliderH: 220,
  };
  let ctx = null, node = null, fallback = null, backend = "", loadToken = 0;

  // -- audio ---------------------------------------------------------------------------------------
  async function ensureAudio(rate) {
    if (ctx && ctx.__wanted === rate) return;
    if (ctx) { try { ctx.close(); } catch (e) { /* already closed */ } ctx = null; node = null; fallback = null; }
    const AC = window.AudioContext || window.webkitAudioContext;
    try { ctx = new AC({ sampleRate: rate, latencyHint: "interactive" }); } catch (e) { ctx = new AC(); }
    ctx.__wanted = rate;
    if (window.AudioWorkletNode && ctx.audioWorklet) {
      await ctx.audioWorklet.addModule(new URL("engine.js", window.location.href).href);
      node = new AudioWorkletNode(ctx, "mushra-engine", { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [2] });
      node.port.onmessage = (ev) => onStatus(ev.data);
      backend = "worklet";
    } else {
      fallback = new MushraEngine(ctx.sampleRate);
      node = ctx.createScriptProcessor(4096, 0, 2); // 85 ms: main-thread JS must not miss a deadline
      node.onaudioprocess = (ev) => {
        const b = ev.outputBuffer;
        fallback.render([b.getChannelData(0), b.getChannelData(1)], b.length);
        onStatus(fallback.status(Math.round(ev.playbackTime * ctx.sampleRate) + b.length));
        fallback.changed = false;
      };
      backend = "script";
      console.warn("MUSHRA panel: no AudioWorklet (page not in a secure context, e.g. plain http to a LAN address); " +
        "playback runs on the main thread and can glitch when the computer is busy. Serve the test over HTTPS.");
    }
    node.connect(ctx.destination);
  }

  function post(m, transfer) {
    if (!node) return;
    if (backend === "worklet") node.port.postMessage(m, transfer || []);
    else if (m.type === "load") fallback.load(m.signals, m.fadeLen);
    else fallback.command(m);
  }

  function resume() { if (ctx && ctx.state !== "running") ctx.resume(); }

  async function bytes(url) {
    const abs = new URL(url, window.location.href).href;
    const hit = prefetched.get(abs);
    if (hit) {
      prefetched.delete(abs);
      try { return await hit; } catch (e) { /* fall through to a normal fetch */ }
    }
    const r = await fetch(abs);
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.arrayBuffer();
  }

  function prefetch(urls) {
    const want = new Set(urls.map((u) => new URL(u, window.location.href).href));
    for (const k of Array.from(prefetched.keys())) if (!want.has(k)) prefetched.delete(k);
    for (const u of want) {
      if (prefetched.has(u)) continue;
      const p = host.fetch(u).then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error("HTTP " + r.status))));
      p.catch(() => prefetched.delete(u));
      prefetched.set(u, p);
    }
  }

  // -- playhead ------------------------------------------------------------------------------------
  // The engine reports (frame, pos, loop, ...) after every quantum in which anything but the plain
  // advance happened (a switch, jump, wrap, start, pause) and at least every 16 quanta, so between
  // two reports the playhead advances one sample per frame. The display shows the playhead at the
  // frame being output now (output latency, at least 2048 frames: by then its report has arrived),
  // taken from the newest report at or before that frame: exact to within one render quantum.
  function onStatus(st) {
    const firstHeard = st.heard.some((h, i) => h > 0 && !(S.heard[i] > 0));
    S.status = st; S.heard = st.heard;
    S.hist.push(st);
    if (S.hist.length > 64) S.hist.shift();
    if (firstHeard) refreshRatings();
  }

  function playhead() {
    if (!S.hist.length || !ctx) return { frame: 0, pos: 0 };
    const lag = Math.max(2048, Math.round(((ctx.baseLatency || 0) + (ctx.outputLatency || 0)) * ctx.sampleRate));
    const frame = Math.round(ctx.currentTime * ctx.sampleRate) - lag;
    let k = S.hist.length - 1;
    while (k > 0 && S.hist[k].frame > frame) k--;
    const st = S.hist[k];
    let p = st.pos;
    if (st.running) { // past the newest report only: the engine's own loop rule
      p += frame - st.frame;
      if (p >= st.le && st.le > st.ls && k === S.hist.length - 1) p = st.ls + ((p - st.le) % (st.le - st.ls));
    }
    return { frame, pos: Math.max(0, Math.min(p, S.length)) };
  }

  // -- transport -----------------------------------------------------------------------------------
  function play(i, toggle) {
    if (!S.ready) return;
    resume();
    if (toggle && S.intent.playing && S.intent.signal === i) { pause(); return; }
    S.intent = { signal: i, playing: true };
    post({ type: "play", signal: i });
    refresh();
  }
  function togglePlay() { if (S.intent.playing) pause(); else play(S.intent.signal, false); }
  function pause() { S.intent.playing = false; post({ type: "pause" }); refresh(); }
  function stop() { S.intent.playing = false; post({ type: "stop" }); refresh(); }

  function fadeLen() { return Math.round((S.options.fade_ms || 5) * S.rate / 1000); }
  function minLoop() { return Math.round((S.options.min_loop_s || 0.5) * S.rate); }

  function seek(p) {
    const { s, e } = S.loop;
    post({ type: "seek", pos: Math.max(s, Math.min(Math.round(p), e - fadeLen() - 1)) });
  }

  // Move the loop region; a region shorter than min_loop_s is refused (the handle stops) and said so.
  function setLoop(s, e, moving) {
    const len = S.length, m = Math.min(minLoop(), len);
    s = Math.max(0, Math.min(Math.round(s), len)); e = Math.max(0, Math.min(Math.round(e), len));
    let refused = false;
    if (e - s < m) {
      refused = true;
      if (moving === "start") { s = e - m; if (s < 0) { s = 0; e = m; } } else { e = s + m; if (e > len) { e = len; s = len - m; } }
    }
    S.loop = { s, e };
    post({ type: "loop", start: s, end: e });
    if (refused) warnLoop();
    drawLoop();
  }

  function warnLoop() {
    const n = $("loopnote");
    n.classList.add("warn");
    n.textContent = "A loop must be at least " + (S.options.min_loop_s || 0.5) + " s long.";
    clearTimeout(S.noteTimer);
    S.noteTimer = setTimeout(() => { n.classList.remove("warn"); n.textContent = loopNote(); }, 2500);
  }
  function loopNote() { return "(loop ≥ " + (S.options.min_loop_s || 0.5) + " s)"; }

  function xToSample(clientX) {
    const r = $("bar").getBoundingClientRect();
    return S.length * Math.max(0, Math.min(1, (clientX - r.left) / r.width));
  }

  function drawLoop() {
    if (!S.length) return;
    const { s, e } = S.loop, L = S.length;
    $("loop").style.left = (100 * s / L) + "%"; $("loop").style.width = (100 * (e - s) / L) + "%";
    $("hs").style.left = (100 * s / L) + "%"; $("he").style.left = (100 * e / L) + "%";
    for (const [id, v] of [["hs", s], ["he", e]]) {
      $(id).setAttribute("aria-valuenow", (v / S.rate).toFixed(2));
      $(id).setAttribute("aria-valuetext", (v / S.rate).toFixed(2) + " s");
    }
    $("loopinfo").textContent = "Loop " + (s / S.rate).toFixed(2) + "–" + (e / S.rate).toFixed(2) + " s";
    const st = $("status");
    st.dataset.loopStart = s; st.dataset.loopEnd = e;
  }

  function drawHead() {
    const st = $("status");
    if (st.dataset.state !== "ready") return;
    const { frame, pos } = playhead();
    $("head").style.left = (100 * pos / S.length) + "%";
    const label = S.labels[S.intent.signal] || "";
    st.textContent = (S.intent.playing ? "▶ " + label + "  " : "❚❚ ") + (pos / S.rate).toFixed(2) + " / " + (S.length / S.rate).toFixed(2) + " s";
    st.dataset.pos = pos; st.dataset.frame = frame;
    st.dataset.playing = S.intent.playing ? "1" : "0";
    st.dataset.active = S.intent.playing ? S.keys[S.intent.signal] : "";
    if (S.status) st.dataset.engineLoop = S.status.ls + "," + S.status.le;
  }

  function tick() { drawHead(); requestAnimationFrame(tick); }

  // -- ratings -------------------------------------------------------------------------------------
  function played(i) { return S.heard[i] > 0; }

  // why slider i cannot be moved now, or "" when it can
  function lockReason(i) {
    if (!S.ready) return "loading";
    if (S.options.require_play && !played(i)) return "Play " + S.labels[i] + " before rating it";
    if (S.options.lock_to_playing && S.intent.signal !== i) return "Only the signal being played can be rated: play " + S.labels[i] + " first";
    return "";
  }

  function setRating(i, v) {
    S.ratings[S.keys[i]] = Math.max(0, Math.min(100, Math.round(v)));
    refreshRatings();
  }

  function refreshRatings() {
    if (S.mode !== "rate") return;
    for (let i = 1; i < S.keys.length; i++) {
      const k = S.keys[i], v = S.ratings[k], el = document.querySelector('.slider[data-key="' + k + '"]');
      if (!el) continue;
      const rated = v !== undefined && v !== null, why = lockReason(i);
      el.classList.toggle("unrated", !rated);
      el.classList.toggle("disabled", why !== "");
      el.classList.toggle("current", S.intent.signal === i);
      el.setAttribute("aria-disabled", why ? "true" : "false");
      el.title = why || (rated ? k + ": " + v + " (" + band(v) + ")" : k + ": not rated yet");
      if (rated) { el.setAttribute("aria-valuenow", v); el.setAttribute("aria-valuetext", v + " " + band(v)); }
      else { el.removeAttribute("aria-valuenow"); el.setAttribute("aria-valuetext", "not rated"); }
      el.dataset.rated = rated ? "1" : "0";
      const f = (rated ? v : 0) / 100;
      el.querySelector(".fill").style.height = "calc((100% - 16px) * " + f + ")";
      el.querySelector(".thumb").style.bottom = "calc(8px + (100% - 16px) * " + f + ")";
      const val = document.querySelector('.value[data-key="' + k + '"]');
      val.textContent = rated ? String(v) : "–";
      val.classList.toggle("unrated", !rated);
    }
    const missing = S.keys.slice(1).filter((k) => S.ratings[k] === undefined || S.ratings[k] === null);
    const unplayed = S.options.require_play ? S.keys.slice(1).filter((k, j) => !played(j + 1)) : [];
    let hint = "";
    if (!S.ready) hint = "";
    else if (S.submitting) hint = "Submitting…";
    else if (unplayed.length) hint = "Not played yet: " + unplayed.join(", ");
    else if (missing.length) hint = "Not rated yet: " + missing.join(", ");
    $("hint").textContent = hint;
    $("submit").disabled = !S.ready || S.submitting || missing.length > 0;
  }

  function band(v) { return BANDS[Math.min(4, Math.floor(v / 20))]; }

  function submit() {
    if ($("submit").disabled) return;
    stop();
    S.submitting = true;
    const ratings = {}, playedOut = {}, seconds = {};
    for (let i = 1; i < S.keys.length; i++) {
      const k = S.keys[i];
      ratings[k] = S.ratings[k];
      playedOut[k] = played(i);
      seconds[k] = Math.round(1000 * (S.heard[i] || 0) / S.rate) / 1000;
    }
    const rnd = new Uint8Array(16);
    crypto.getRandomValues(rnd);
    const nonce = Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("");
    send("streamlit:setComponentValue", {
      value: { trial_key: S.trialKey, nonce, ratings, played: playedOut, seconds_listened: seconds }, dataType: "json",
    });
    refreshRatings();
  }

  // -- keyboard ------------------------------------------------------------------------------------
  function onKey(ev) {
    if (!S.ready || ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName || ""))) return;
    const k = ev.key;
    if (k === " " || k === "Spacebar") togglePlay();
    else if (k === "ArrowLeft" || k === "ArrowRight") {
      const n = S.keys.length;
      choose((S.intent.signal + (k === "ArrowRight" ? 1 : n - 1)) % n);
    } else if (k.length === 1 && /[a-z]/i.test(k)) {
      const up = k.toUpperCase(), i = up === "R" ? 0 : S.keys.indexOf(up);
      if (i < 0) return;
      choose(i);
    } else return;
    ev.preventDefault();
  }

  // play signal i from the keyboard and put the focus on its slider (arrows up/down then rate it)
  function choose(i) {
    play(i, false);
    const el = i > 0 && document.querySelector('.slider[data-key="' + S.keys[i] + '"]');
    if (el) el.focus({ preventScroll: true });
    else if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }

  function sliderKey(ev, i) {
    const steps = { ArrowUp: 1, ArrowDown: -1, PageUp: 10, PageDown: -10 };
    const k = ev.key;
    if (!(k in steps) && k !== "Home" && k !== "End") return;
    ev.preventDefault(); ev.stopPropagation();
    if (lockReason(i)) return;
    const cur = S.ratings[S.keys[i]];
    const base = cur === undefined || cur === null ? 0 : cur;
    setRating(i, k === "Home" ? 0 : k === "End" ? 100 : base + steps[k] * (ev.shiftKey && Math.abs(steps[k]) === 1 ? 10 : 1));
  }

  // -- building the panel --------------------------------------------------------------------------
  function el(tag, cls, attrs) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  function build() {
    const grid = $("grid"), rate = S.mode === "rate";
    grid.innerHTML = "";
    $("panel").dataset.mode = S.mode;
    const n = S.keys.length - 1;
    grid.style.gridTemplateColumns = rate ? "var(--scale-w) repeat(" + n + ", minmax(30px, 84px))" : "";
    S.keys.forEach((k, i) => {
      const b = el("button", "play" + (i === 0 ? " ref" : ""), { type: "button", "data-key": k, disabled: "" });
      b.textContent = i === 0 ? S.labels[0] : "▶ " + S.labels[i];
      b.title = (i === 0 ? "Play the reference (R)" : "Play " + S.labels[i] + " (" + k + ")");
      b.addEventListener("click", () => { play(i, true); b.blur(); });
      grid.appendChild(b);
    });
    if (rate) {
      const scale = el("div", "scale");
      BANDS.slice().reverse().forEach((name, j) => {
        const d = el("div", "band");
        d.style.top = (20 * j) + "%"; d.style.height = "20%";
        d.textContent = name;
        scale.appendChild(d);
      });
      grid.appendChild(scale);
      for (let i = 1; i <= n; i++) {
        const k = S.keys[i];
        const s = el("div", "slider unrated", { role: "slider", tabindex: "0", "data-key": k, "aria-label": "Rating of " + S.labels[i],
          "aria-valuemin": "0", "aria-valuemax": "100", "aria-orientation": "vertical" });
        s.append(el("div", "track"), el("div", "fill"), el("div", "thumb"));
        const fromY = (y) => { const r = s.querySelector(".track").getBoundingClientRect(); return 100 * (r.bottom - y) / r.height; }; // clamped by setRating
        s.addEventListener("pointerdown", (ev) => {
          if (ev.button !== 0) return;
          ev.preventDefault();
          s.focus({ preventScroll: true });
          const why = lockReason(i);
          if (why) { $("hint").textContent = why; return; }
          s.setPointerCapture(ev.pointerId);
          setRating(i, fromY(ev.clientY));
        });
        s.addEventListener("pointermove", (ev) => { if (s.hasPointerCapture(ev.pointerId)) setRating(i, fromY(ev.clientY)); });
        s.addEventListener("keydown", (ev) => sliderKey(ev, i));
        grid.appendChild(s);
      }
      grid.appendChild(el("div", "vhead"));
      for (let i = 1; i <= n; i++) grid.appendChild(el("div", "value unrated", { "data-key": S.keys[i] }));
      $("keys").textContent = "Keys: Space play/pause · R reference · " + (n > 1 ? S.keys[1] + "–" + S.keys[n] : S.keys[1]) +
        " signal · ←/→ previous/next · ↑/↓ rate";
    } else {
      $("keys").textContent = "";
    }
    $("submit").textContent = S.options.submit_label || "Submit and continue";
    $("loopnote").textContent = loopNote();
    fit();
  }

  // Size the sliders so the whole panel fits the browser window below the iframe's top (140-300 px).
  function fit() {
    const content = () => $("panel").getBoundingClientRect().height + 6; // not scrollHeight: >= the frame's height
    let h = 220;
    try {
      const fe = window.frameElement, pw = window.parent;
      if (fe && pw && pw !== window) {
        const top = fe.getBoundingClientRect().top + pw.scrollY;
        const rest = content() - (S.mode === "rate" ? S.sliderH : 0);
        h = Math.floor(pw.innerHeight - top - rest - 12);
      }
    } catch (e) { /* cross-origin parent: keep the default */ }
    S.sliderH = Math.max(140, Math.min(300, h));
    document.documentElement.style.setProperty("--slider-h", S.sliderH + "px");
    send("streamlit:setFrameHeight", { height: Math.ceil(content()) });
  }

  function refresh() {
    for (const b of document.querySelectorAll("button.play")) {
      const i = S.keys.indexOf(b.dataset.key);
      b.disabled = !S.ready;
      b.classList.toggle("active", S.intent.playing && S.intent.signal === i);
    }
    for (const id of ["playpause", "stop", "whole"]) $(id).disabled = !S.ready;
    $("playpause").innerHTML = S.intent.playing ? "&#10074;&#10074;" : "&#9654;";
    refreshRatings();
    drawHead();
  }

  function setState(state, text) {
    const s = $("status");
    s.dataset.state = state;
    if (text !== undefined) s.textContent = text;
  }

  async function load(args) {
    const token = ++loadToken;
    if (S.ready) stop();
    S.ready = false; S.submitting = false; S.status = null; S.hist = [];
    S.trialKey = args.trial_key; S.mode = args.mode || "rate";
    S.options = args.options || {};
    S.keys = args.signals.map((s) => s.key); S.labels = args.signals.map((s) => s.label);
    S.heard = S.keys.map(() => 0); S.intent = { signal: 0, playing: false };
    S.ratings = {};
    for (const [k, v] of Object.entries(args.initial || {})) {
      if (S.keys.indexOf(k) > 0 && Number.isFinite(v)) S.ratings[k] = Math.max(0, Math.min(100, v));
    }
    build();
    refresh();
    setState("loading", "loading " + args.signals.length + " signals…");
    try {
      await ensureAudio(args.rate || 48000);
      const decoded = await Promise.all(args.signals.map(async (s) => {
        try { return await ctx.decodeAudioData(await bytes(s.url)); } catch (e) { throw new Error(s.label + ": " + (e.message || e)); }
      }));
      if (token !== loadToken) return; // a newer trial arrived meanwhile
      S.rate = ctx.sampleRate;
      const signals = decoded.map((b) => Array.from({ length: b.numberOfChannels }, (_, c) => new Float32Array(b.getChannelData(c))));
      const transfer = [];
      for (const sig of signals) for (const ch of sig) transfer.push(ch.buffer);
      S.length = Math.min(...decoded.map((b) => b.length));
      post({ type: "load", signals, fadeLen: fadeLen() }, transfer);
      S.loop = { s: 0, e: S.length };
      post({ type: "loop", start: 0, end: S.length });
      S.ready = true;
      setState("ready");
      $("status").dataset.rate = S.rate;
      $("status").dataset.trial = S.trialKey;
      $("status").dataset.backend = backend;
      drawLoop();
      refresh();
      fit();
      prefetch(args.prefetch || []);
    } catch (e) {
      if (token === loadToken) setState("error", "Could not load the audio (" + (e.message || e) + "). Reload the page; if it persists, tell the test administrator.");
    }
  }

  // -- events --------------------------------------------------------------------------------------
  $("playpause").addEventListener("click", () => { togglePlay(); $("playpause").blur(); });
  $("stop").addEventListener("click", () => { stop(); $("stop").blur(); });
  $("whole").addEventListener("click", () => { setLoop(0, S.length, null); $("whole").blur(); });
  $("submit").addEventListener("click", submit);

  let dragging = null;
  for (const [id, which] of [["hs", "start"], ["he", "end"]]) {
    const h = $(id);
    h.addEventListener("pointerdown", (ev) => {
      if (!S.ready) return;
      ev.stopPropagation(); ev.preventDefault();
      h.setPointerCapture(ev.pointerId); dragging = which; h.focus({ preventScroll: true });
    });
    h.addEventListener("pointermove", (ev) => {
      if (dragging !== which || !h.hasPointerCapture(ev.pointerId)) return;
      const x = xToSample(ev.clientX);
      if (which === "start") setLoop(x, S.loop.e, "start"); else setLoop(S.loop.s, x, "end");
    });
    h.addEventListener("pointerup", () => { dragging = null; });
    h.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      ev.preventDefault(); ev.stopPropagation();
      const d = (ev.key === "ArrowRight" ? 1 : -1) * S.rate * (ev.shiftKey ? 1 : 0.1);
      if (which === "start") setLoop(S.loop.s + d, S.loop.e, "start"); else setLoop(S.loop.s, S.loop.e + d, "end");
    });
  }
  $("bar").addEventListener("pointerdown", (ev) => { if (S.ready && ev.button === 0) { resume(); seek(xToSample(ev.clientX)); } });

  document.addEventListener("keydown", onKey);
  // Space on a focused button would also "click" it on keyup: the keydown handler already acted
  document.addEventListener("keyup", (ev) => { if (ev.key === " " && ev.target && ev.target.tagName === "BUTTON") ev.preventDefault(); });
  try { // keys typed while the focus is on the page around the panel (not in one of its inputs)
    const pdoc = window.parent.document;
    if (pdoc && pdoc !== document) {
      // only keys aimed at no control of the page (a focused Streamlit button keeps its Space)
      const interactive = "button, a[href], input, textarea, select, [contenteditable], [role=button], [role=slider], [role=checkbox], [role=radio], [role=textbox], [role=combobox]";
      const fwd = (ev) => {
        try { if (!(ev.target && ev.target.closest && ev.target.closest(interactive))) onKey(ev); } catch (e) { /* this frame is going away */ }
      };
      pdoc.addEventListener("keydown", fwd);
      window.addEventListener("pagehide", () => pdoc.removeEventListener("keydown", fwd));
    }
  } catch (e) { /* cross-origin parent: keys work once the panel has the focus */ }

  window.addEventListener("message", (ev) => {
    if (!ev.data || ev.data.type !== "streamlit:render") return;
    const args = ev.data.args || {};
    if (args.trial_key !== S.trialKey) load(args);
    else { // a rerun of the same trial (e.g. the app refused the submission): allow another submit
      S.submitting = false; S.options = args.options || S.options;
      refresh(); fit();
    }
  });
  window.addEventListener("resize", fit);
  try { window.parent.addEventListener("resize", fit); window.addEventListener("pagehide", () => window.parent.removeEventListener("resize", fit)); } catch (e) { /* cross-origin */ }
  send("streamlit:componentReady", { apiVersion: 1 });
  requestAnimationFrame(tick);
})();
