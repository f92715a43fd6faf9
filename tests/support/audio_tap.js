// Test-only tap on what a page sends to its speakers. Injected by the browser tests into every
// frame before the page's own scripts run (CDP Page.addScriptToEvaluateOnNewDocument), it knows
// nothing about the player: every AudioContext gets a pass-through AudioWorklet recorder in front
// of its destination, and every connect() to a destination is routed through it. The recorder
// stores channel 0 of each 128-frame render quantum with its context frame index (currentFrame),
// so the test reads exactly the samples the graph delivered to the output, frame by frame.
(() => {
  if (!window.AudioContext || window.__tap) return;
  const Native = window.AudioContext, NativeNode = window.AudioWorkletNode, nativeConnect = AudioNode.prototype.connect;
  const code = `registerProcessor("evalsuite-tap", class extends AudioWorkletProcessor {
    constructor() { super(); this.buf = new Float32Array(8192); this.n = 0; this.f0 = 0;
      this.port.onmessage = (e) => { if (e.data === "flush") { this.flush(); this.port.postMessage({ flushed: true }); } }; }
    flush() { if (this.n) { this.port.postMessage({ frame: this.f0, data: this.buf.slice(0, this.n) }); this.n = 0; } }
    process(inputs, outputs) {
      const inp = inputs[0], out = outputs[0], n = out[0].length;
      for (let c = 0; c < out.length; c++) if (inp.length) out[c].set(inp[Math.min(c, inp.length - 1)]);
      if (this.n === 0) this.f0 = currentFrame;
      if (inp.length) this.buf.set(inp[0], this.n); else this.buf.fill(0, this.n, this.n + n);
      this.n += n;
      if (this.n + n > this.buf.length) this.flush();
      return true;
    }
  });`;
  // ?no_worklet=1 on the page: this frame looks like a browser without AudioWorklet (as on plain
  // http to a LAN address, not a secure context), so the player's ScriptProcessor path runs
  try { if (window.top.location.search.includes("no_worklet=1")) delete window.AudioWorkletNode; } catch (e) { /* cross-origin */ }
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  const tap = { chunks: [], contexts: [] };
  window.__tap = tap;

  class TapContext extends Native {
    constructor(...a) {
      super(...a);
      const ctx = this;
      this.__tapIn = this.createGain();
      tap.contexts.push(this);
      this.__tapReady = this.audioWorklet.addModule(url).then(() => {
        const rec = new NativeNode(ctx, "evalsuite-tap", { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [2] });
        rec.port.onmessage = (e) => {
          if (e.data.flushed) { const r = ctx.__flushWaiters || []; ctx.__flushWaiters = []; r.forEach((f) => f()); }
          else tap.chunks.push(e.data);
        };
        ctx.__tapNode = rec;
        nativeConnect.call(ctx.__tapIn, rec);
        nativeConnect.call(rec, ctx.destination);
      });
    }
  }
  window.AudioContext = TapContext;
  window.webkitAudioContext = TapContext;
  AudioNode.prototype.connect = function (dest, ...rest) {
    if (dest instanceof AudioDestinationNode && dest.context.__tapIn && this !== dest.context.__tapNode) {
      nativeConnect.call(this, dest.context.__tapIn, ...rest);
      return dest;
    }
    return nativeConnect.call(this, dest, ...rest);
  };

  // -> Promise of {frame0, rate, n, b64 (float32 little-endian), gaps}: what was recorded since reset()
  tap.dump = async () => {
    const ctx = tap.contexts[tap.contexts.length - 1];
    if (!ctx || !ctx.__tapNode) return null;
    await new Promise((res) => { (ctx.__flushWaiters = ctx.__flushWaiters || []).push(res); ctx.__tapNode.port.postMessage("flush"); });
    const from = tap.from || 0;
    const chunks = tap.chunks.filter((c) => c.frame + c.data.length > from).sort((a, b) => a.frame - b.frame)
      .map((c) => (c.frame >= from ? c : { frame: from, data: c.data.subarray(from - c.frame) }));
    if (!chunks.length) return { frame0: 0, rate: ctx.sampleRate, n: 0, b64: "", gaps: 0 };
    let gaps = 0;
    for (let i = 1; i < chunks.length; i++) if (chunks[i].frame !== chunks[i - 1].frame + chunks[i - 1].data.length) gaps++;
    const n = chunks.reduce((a, c) => a + c.data.length, 0), all = new Float32Array(n);
    let o = 0;
    for (const c of chunks) { all.set(c.data, o); o += c.data.length; }
    const bytes = new Uint8Array(all.buffer);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return { frame0: chunks[0].frame, rate: ctx.sampleRate, n, b64: btoa(s), gaps };
  };
  // forget what was rendered so far (the first frames of a context can have a gap in currentFrame)
  tap.reset = () => {
    const ctx = tap.contexts[tap.contexts.length - 1];
    tap.from = ctx ? Math.round(ctx.currentTime * ctx.sampleRate) : 0;
    tap.chunks = tap.chunks.filter((c) => c.frame + c.data.length > tap.from);
  };
})();
