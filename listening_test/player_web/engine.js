// MUSHRA playback engine: pure sample-by-sample DSP, no DOM. The same file is loaded twice:
// as a classic <script> in the page (for the ScriptProcessor fallback) and as an AudioWorklet
// module (registerProcessor at the bottom), so both paths render identical samples.
//
// Model: every signal of a trial is a set of Float32Arrays of one length; one integer playhead
// `pos` indexes all of them, so signals are sample-synchronous by construction. Exactly one
// signal (`cur`) is audible, scaled by a raised-cosine gain g = (1 - cos(pi * fc / F)) / 2 with
// the integer fade counter fc in [0, F]. Anything discontinuous (another signal, a seek, the loop
// wrap, pause, stop) first ramps fc down to 0, is applied while the output is silent, and then fc
// ramps up again: one signal heard at a time, and the output never steps by more than the
// signal's own sample-to-sample change plus the fade's (A * pi / 2F per sample).
"use strict";

class MushraEngine {
  constructor(rate) {
    this.rate = rate;
    this.signals = [];
    this.length = 0;
    this.channels = 1;
    this.setFade(240);
    this.reset();
  }

  setFade(fadeLen) {
    this.F = Math.max(1, Math.round(fadeLen));
    this.gain = new Float32Array(this.F + 1);
    for (let k = 0; k <= this.F; k++) this.gain[k] = 0.5 * (1 - Math.cos(Math.PI * k / this.F));
  }

  reset() {
    this.pos = 0; this.cur = 0; this.fc = 0; this.running = false;
    this.tSignal = 0; this.tPlaying = false; this.tJump = -1; // -1: none, -2: loop start, else a sample
    this.ls = 0; this.le = this.length;
    this.heard = new Float64Array(this.signals.length);
    this.changed = true;
  }

  // signals: one array of channel Float32Arrays per signal (all the same length); fadeLen: samples
  load(signals, fadeLen) {
    this.setFade(fadeLen);
    this.signals = signals;
    this.channels = signals.length ? signals[0].length : 1;
    this.length = signals.length ? Math.min(...signals.map((s) => s[0].length)) : 0;
    this.reset();
  }

  command(m) {
    switch (m.type) {
      case "play": this.tSignal = m.signal; this.tPlaying = true; break;
      case "select": this.tSignal = m.signal; break;
      case "pause": this.tPlaying = false; break;
      case "stop": this.tPlaying = false; this.tJump = -2; break;
      case "seek": this.tJump = Math.max(0, Math.round(m.pos)); break;
      case "loop":
        this.ls = Math.max(0, Math.min(Math.round(m.start), this.length));
        this.le = Math.max(this.ls, Math.min(Math.round(m.end), this.length));
        break;
      default: return;
    }
    if (!this.running) this.applyPending();
    this.changed = true;
  }

  // Called only while silent (fc == 0): take the requested signal and position.
  applyPending() {
    this.cur = this.tSignal;
    if (this.tJump === -2) this.pos = this.ls;
    else if (this.tJump >= 0) this.pos = Math.min(Math.max(this.tJump, this.ls), Math.max(this.ls, this.le - this.F - 1));
    else if (this.pos < this.ls || this.pos >= this.le) this.pos = this.ls; // loop wrap
    this.tJump = -1;
  }

  // Fill out[c][0..n) for output frames frame..frame+n.
  render(out, n) {
    const F = this.F, gain = this.gain, nOut = out.length;
    for (let i = 0; i < n; i++) {
      if (!this.running) {
        if (!this.tPlaying) { for (let c = 0; c < nOut; c++) out[c][i] = 0; continue; }
        this.running = true;
        this.applyPending();
        if (this.pos + F >= this.le) this.pos = this.ls; // too close to the loop end to fade in
        this.changed = true;
      }
      let fadeOut = !this.tPlaying || this.cur !== this.tSignal || this.tJump !== -1
        || this.pos < this.ls || this.pos + this.fc >= this.le;
      if (fadeOut && this.fc === 0) {
        this.applyPending();
        this.changed = true;
        if (!this.tPlaying) { this.running = false; for (let c = 0; c < nOut; c++) out[c][i] = 0; continue; }
        fadeOut = this.pos >= this.le;
      }
      this.fc = fadeOut ? Math.max(0, this.fc - 1) : Math.min(F, this.fc + 1);
      const g = gain[this.fc], sig = this.signals[this.cur], p = this.pos;
      for (let c = 0; c < nOut; c++) {
        const x = sig[Math.min(c, sig.length - 1)];
        out[c][i] = p < x.length ? g * x[p] : 0;
      }
      if (this.fc > 0) {
        if (this.heard[this.cur] === 0) this.changed = true; // first time heard: report at once
        this.heard[this.cur] += 1;
      }
      this.pos++;
    }
  }

  // The state after the last rendered sample: `pos` is the sample heard at output frame `frame`.
  status(frame) {
    return {
      type: "status", frame, pos: this.pos, running: this.running, playing: this.tPlaying,
      cur: this.cur, target: this.tSignal, fc: this.fc, ls: this.ls, le: this.le,
      heard: Array.from(this.heard),
    };
  }
}

if (typeof registerProcessor === "function") {
  // AudioWorklet: commands arrive on the port between render quanta; status goes back on
  // every change and at least every 16 quanta (~43 ms at 48 kHz).
  registerProcessor("mushra-engine", class extends AudioWorkletProcessor {
    constructor() {
      super();
      this.engine = new MushraEngine(sampleRate);
      this.quanta = 0;
      this.port.onmessage = (ev) => {
        const m = ev.data;
        if (m.type === "load") this.engine.load(m.signals, m.fadeLen);
        else this.engine.command(m);
      };
    }

    process(inputs, outputs) {
      const out = outputs[0], n = out[0].length, e = this.engine;
      e.render(out, n);
      if (e.changed || ++this.quanta >= 16) {
        this.port.postMessage(e.status(currentFrame + n));
        e.changed = false; this.quanta = 0;
      }
      return true;
    }
  });
}
