"""ViSQOL (visqol-python 3.8.0) split at the reference: what depends on the reference alone is
computed once per item (``visqol_reference``), the rest per condition (``visqol_moslqo_from``),
with the values of ``VisqolApi.measure_from_arrays`` (the tests compare them with ==).

What depends on the reference alone in visqol-python's ``VisqolManager.run_from_signals`` /
``VisqolCore.calculate_similarity``:

* its upper envelope (the global alignment cross-correlates envelopes) and its sound pressure
  level (the degraded signal is scaled to it);
* its gammatone spectrogram. The dB conversion and noise floors that follow use both
  spectrograms (a per-frame floor from the louder one, one global minimum), so they stay on the
  degraded side;
* the reference patch indices (audio mode: evenly spaced; speech mode: the RMS VAD over the
  reference samples, the slowest reference step there);
* per patch, for the fine realignment: the reference slice, its envelope and its gammatone
  spectrogram. The realigned reference is a prefix of that slice, or starts ``lag`` samples into
  it; each spectrogram column depends only on its own frame (the filter state is reset per
  frame), so its spectrogram is a column range of the slice's when it starts a whole number of
  hops in, and is built as the library builds it otherwise.

Alignment of the degraded signal, DP patch matching, NSIM and the MOS mapping run per condition
through visqol-python's own functions. The orchestration around them is a port of
visqol-python 3.8.0 (visqol_manager.py, visqol_core.py, alignment.py, patch_selector.py);
``split_supported()`` is False for any other installed version, and the metric then scores each
pair with the library's own call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .checks import frozen, package_version

#: the visqol-python release whose pipeline this module splits (pyproject pins it)
SPLIT_VERSION = "3.8.0"


def split_supported() -> bool:
    return package_version("visqol-python") == SPLIT_VERSION


@dataclass(frozen=True)
class RefPatch:
    """One reference patch as the fine realignment slices it (times as the library computes them)."""

    start_time: float
    end_time: float
    signal: np.ndarray  # slice_signal(reference, start_time, end_time).data
    envelope: np.ndarray  # upper_envelope(signal)
    spectrogram: np.ndarray | None  # gammatone spectrogram of signal; None if too short for one


@dataclass(frozen=True)
class VisqolReference:
    """ViSQOL's reference side. ``rate``/``length``: the input the reference was given at;
    ``sample_rate``: ViSQOL's rate, at which ``signal`` (float64) and the rest are computed.
    Arrays are read-only: the object is reused for every condition of an item."""

    rate: int
    length: int
    sample_rate: int
    signal: np.ndarray
    spl: float
    envelope: np.ndarray | None  # None when the manager skips global alignment
    spectrogram: np.ndarray
    patch_indices: tuple[int, ...]
    patches: tuple[RefPatch, ...]  # empty when the manager skips fine realignment


def _window(sample_rate: int) -> Any:
    from visqol.analysis_window import AnalysisWindow
    from visqol.visqol_manager import OVERLAP

    return AnalysisWindow(sample_rate, OVERLAP)


def _hop(window: Any) -> int:
    return int(window.size * window.overlap)  # as GammatoneSpectrogramBuilder.build


def _ref_patch(ref_signal: Any, start: float, end: float, builder: Any, window: Any) -> RefPatch:
    from visqol.patch_selector import slice_signal
    from visqol.signal_utils import upper_envelope

    sliced = slice_signal(ref_signal, start, end)
    spec = builder.build(sliced, window).data if len(sliced.data) > window.size else None
    return RefPatch(start_time=start, end_time=end, signal=frozen(sliced.data),
                    envelope=frozen(upper_envelope(sliced.data)),
                    spectrogram=None if spec is None else frozen(spec))


def visqol_reference(manager: Any, ref: np.ndarray, sample_rate: int, *, rate: int, length: int) -> VisqolReference:
    """The reference side for an initialised ``visqol.visqol_manager.VisqolManager``; ``ref`` is
    mono at ViSQOL's ``sample_rate``."""
    from visqol.audio_utils import AudioSignal, calc_sound_pressure_level
    from visqol.signal_utils import upper_envelope
    from visqol.visqol_core import calc_frame_duration

    ref_signal = AudioSignal(np.asarray(ref, np.float64), sample_rate)
    window = _window(sample_rate)
    spectrogram = manager.spect_builder.build(ref_signal, window).data
    # both patch creators read only the spectrogram's frame count (the same raw or in dB)
    indices = tuple(manager.patch_creator.create_ref_patch_indices(spectrogram, ref_signal, window))
    patches: tuple[RefPatch, ...] = ()
    if indices and not manager.disable_realignment:
        # the patch times find_most_optimal_deg_patches gives each result, same arithmetic
        frame_duration = calc_frame_duration(_hop(window), sample_rate)
        frames = manager.patch_creator.create_patches_from_indices(spectrogram, [indices[0]])[0].shape[1]
        patch_duration = frame_duration * frames
        patches = tuple(_ref_patch(ref_signal, i * frame_duration, i * frame_duration + patch_duration,
                                   manager.spect_builder, window) for i in indices)
    return VisqolReference(
        rate=int(rate), length=int(length), sample_rate=int(sample_rate), signal=frozen(ref_signal.data),
        spl=calc_sound_pressure_level(ref_signal),
        envelope=None if manager.disable_global_alignment else frozen(upper_envelope(ref_signal.data)),
        spectrogram=frozen(spectrogram), patch_indices=indices, patches=patches)


def _globally_align(ref_envelope: np.ndarray, ref_len: int, degraded: Any) -> tuple[Any, float]:
    """visqol.alignment.globally_align with the reference envelope given."""
    from visqol.audio_utils import AudioSignal
    from visqol.signal_utils import find_best_lag, upper_envelope

    best_lag = find_best_lag(ref_envelope, upper_envelope(degraded.data))
    if best_lag == 0 or abs(best_lag) > ref_len / 2.0:
        return degraded, 0.0
    if best_lag < 0:
        new_data = degraded.data[abs(best_lag):]
    else:
        new_data = np.concatenate([np.zeros(best_lag), degraded.data])
    return AudioSignal(new_data, degraded.sample_rate), best_lag / float(degraded.sample_rate)


def _align_and_truncate(patch: RefPatch, degraded: Any) -> tuple[int, np.ndarray, Any, float]:
    """visqol.alignment.align_and_truncate with the reference slice prepared; also returns where
    the truncated reference starts inside the slice (0, or the lag)."""
    from visqol.audio_utils import AudioSignal

    aligned_deg, lag_seconds = _globally_align(patch.envelope, len(patch.signal), degraded)
    ref_data, deg_data, offset = patch.signal, aligned_deg.data, 0
    if len(ref_data) > len(deg_data):
        ref_data = ref_data[: len(deg_data)]
    elif len(ref_data) < len(deg_data):
        lag_samples = int(lag_seconds * degraded.sample_rate)
        if lag_samples > 0:
            ref_data, offset = ref_data[lag_samples:], lag_samples
            deg_data = deg_data[lag_samples: lag_samples + len(ref_data)]
        else:
            deg_data = deg_data[: len(ref_data)]
    n = min(len(ref_data), len(deg_data))
    return offset, ref_data[:n], AudioSignal(deg_data[:n], degraded.sample_rate), lag_seconds


def _aligned_ref_spectrogram(patch: RefPatch, offset: int, ref_data: np.ndarray, sample_rate: int,
                             builder: Any, window: Any) -> np.ndarray:
    """The gammatone spectrogram of ``ref_data`` = ``patch.signal[offset:offset + len]``."""
    from visqol.audio_utils import AudioSignal

    hop = _hop(window)
    cols = 1 + int(np.floor((len(ref_data) - window.size) / hop))
    if patch.spectrogram is not None and offset % hop == 0 and offset // hop + cols <= patch.spectrogram.shape[1]:
        c0 = offset // hop
        return np.ascontiguousarray(patch.spectrogram[:, c0:c0 + cols])
    # a copy: the library builds from writable arrays (numba compiles read-only ones separately)
    return builder.build(AudioSignal(np.array(ref_data), sample_rate), window).data


def _finely_align(sim_results: list, ref: VisqolReference, ref_signal: Any, deg_signal: Any,
                  builder: Any, window: Any) -> list:
    """visqol.patch_selector.finely_align_and_recreate_patches with the reference side prepared."""
    from visqol.gammatone import Spectrogram, prepare_spectrograms_for_comparison
    from visqol.nsim import measure_patch_similarity
    from visqol.patch_selector import slice_signal

    realigned = list(sim_results)
    for i, sim in enumerate(sim_results):
        if sim.deg_patch_start_time == sim.deg_patch_end_time and sim.deg_patch_start_time == 0.0:
            continue  # packet loss
        patch = ref.patches[i] if i < len(ref.patches) else None
        if patch is None or (patch.start_time, patch.end_time) != (sim.ref_patch_start_time, sim.ref_patch_end_time):
            # not the patch prepared for this result (never seen): prepare it now, same values
            patch = _ref_patch(ref_signal, sim.ref_patch_start_time, sim.ref_patch_end_time, builder, window)
        deg_audio = slice_signal(deg_signal, sim.deg_patch_start_time, sim.deg_patch_end_time)
        try:
            offset, ref_data, deg_aligned, lag = _align_and_truncate(patch, deg_audio)
        except Exception:  # noqa: BLE001, S112 - the library skips a patch whose alignment fails, whatever the error
            continue
        if len(ref_data) <= window.size or len(deg_aligned.data) <= window.size:
            continue
        try:
            ref_spec = _aligned_ref_spectrogram(patch, offset, ref_data, ref.sample_rate, builder, window)
            deg_spec = builder.build(deg_aligned, window)
        except Exception:  # noqa: BLE001, S112 - as the library: a patch it cannot rebuild keeps its first match
            continue
        ref_db, deg_db = prepare_spectrograms_for_comparison(Spectrogram(ref_spec), deg_spec)
        new_sim = measure_patch_similarity(ref_db, deg_db)
        if new_sim.similarity < sim.similarity:
            realigned[i] = sim
            continue
        ref_duration = len(ref_data) / float(ref.sample_rate)  # AudioSignal.duration
        if lag > 0:
            new_sim.ref_patch_start_time = sim.ref_patch_start_time + lag
            new_sim.deg_patch_start_time = sim.deg_patch_start_time
        else:
            new_sim.ref_patch_start_time = sim.ref_patch_start_time
            new_sim.deg_patch_start_time = sim.deg_patch_start_time - lag
        new_sim.ref_patch_end_time = new_sim.ref_patch_start_time + ref_duration
        new_sim.deg_patch_end_time = new_sim.deg_patch_start_time + deg_aligned.duration
        realigned[i] = new_sim
    return realigned


def visqol_moslqo_from(manager: Any, ref: VisqolReference, deg: np.ndarray) -> float:
    """MOS-LQO of ``deg`` (mono, at ``ref.sample_rate``) against the prepared reference: the
    steps of ``VisqolManager.run_from_signals`` and ``VisqolCore.calculate_similarity``."""
    from visqol.audio_utils import AudioSignal, calc_sound_pressure_level
    from visqol.gammatone import Spectrogram, prepare_spectrograms_for_comparison
    from visqol.patch_selector import find_most_optimal_deg_patches
    from visqol.visqol_core import (
        alter_for_similarity_extremes,
        calc_frame_duration,
        calc_per_patch_freq_band_quantile,
        calc_per_patch_mean_freq_band_deg_energy,
        calc_per_patch_mean_freq_band_means,
        calc_per_patch_mean_freq_band_stddevs,
    )

    ref_signal = AudioSignal(ref.signal, ref.sample_rate)
    deg_signal = AudioSignal(np.asarray(deg, np.float64), ref.sample_rate)
    manager._validate_input(ref_signal, deg_signal)  # its warnings, as the library call logs them
    if not manager.disable_global_alignment:
        deg_signal, _ = _globally_align(ref.envelope, len(ref.signal), deg_signal)
    window = _window(ref.sample_rate)
    # scale_to_match_sound_pressure_level with the reference's level given
    scale = 10.0 ** ((ref.spl - calc_sound_pressure_level(deg_signal)) / 20.0)
    deg_signal = AudioSignal(deg_signal.data * scale, deg_signal.sample_rate)
    deg_spectrogram = manager.spect_builder.build(deg_signal, window)
    ref_db, deg_db = prepare_spectrograms_for_comparison(Spectrogram(ref.spectrogram), deg_spectrogram)
    indices = list(ref.patch_indices)
    frame_duration = calc_frame_duration(_hop(window), ref.sample_rate)
    ref_patches = manager.patch_creator.create_patches_from_indices(ref_db, indices)
    sims = find_most_optimal_deg_patches(ref_patches, indices, deg_db, frame_duration, manager.search_window)
    if not manager.disable_realignment:
        sims = _finely_align(sims, ref, ref_signal, deg_signal, manager.spect_builder, window)
    fvnsim = calc_per_patch_mean_freq_band_means(sims)
    fvnsim10 = calc_per_patch_freq_band_quantile(sims, 0.10)
    fstdnsim = calc_per_patch_mean_freq_band_stddevs(sims, frame_duration)
    fvdegenergy = calc_per_patch_mean_freq_band_deg_energy(sims)
    moslqo = manager.quality_mapper.predict_quality(fvnsim, fvnsim10, fstdnsim, fvdegenergy)
    return alter_for_similarity_extremes(float(np.mean(fvnsim)), moslqo)
