"""Safety layer: flash limiter, grand master, blackout, audio-lost looks."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from lumen.patch.safety import FlashDetector, Safety

FPS = 60.0


def count_transitions(lum: list[float], delta: float = 0.1, dark: float = 0.8) -> list[int]:
    """Frame indices where a luminance transition completes (independent of lumen's detector).

    Written from the guideline's wording: a transition is a change of at least ``delta`` from
    the last extreme, opposite to the previous one, whose darker state is below ``dark``.
    Extremes: the running max while rising, the running min while falling.
    """
    out: list[int] = []
    peak = trough = lum[0]
    going: str | None = None
    for i, y in enumerate(lum[1:], start=1):
        if going != "down" and peak - y >= delta and y < dark:
            out.append(i)
            going, trough = "down", y
        elif going != "up" and y - trough >= delta and trough < dark:
            out.append(i)
            going, peak = "up", y
        if going == "up" or going is None:
            peak = max(peak, y)
        if going == "down" or going is None:
            trough = min(trough, y)
    return out


def max_flashes_per_window(frames: list[int], fps: float = FPS) -> int:
    """Most flashes (pairs of transitions) in any 1 s window of frames."""
    win = int(round(fps))
    best = 0
    for start in range(0, max(1, (frames[-1] if frames else 0) + 1)):
        n = sum(1 for f in frames if start <= f < start + win)
        best = max(best, n // 2)
    return best


def mean_luminance(frame: np.ndarray) -> float:
    r, g, b = (float(frame[..., i].mean()) for i in range(3))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def run(safety: Safety, make: Callable[[int], np.ndarray], n: int, audio: Callable[[int], bool] = lambda i: True) -> tuple[list[np.ndarray], list[np.ndarray]]:
    ins, outs = [], []
    for i in range(n):
        f = make(i)
        ins.append(f.copy())
        safety.process(f, i / FPS, audio(i))
        outs.append(f.copy())
    return ins, outs


def strobe(hz: float, shape: tuple[int, int] = (8, 16)) -> Callable[[int], np.ndarray]:
    half = FPS / hz / 2.0

    def make(i: int) -> np.ndarray:
        on = int(i // half) % 2 == 0
        return np.full((*shape, 3), 1.0 if on else 0.0, np.float32)

    return make


def test_the_test_counter_counts_a_10_hz_strobe_as_10_flashes_a_second() -> None:
    lum = [mean_luminance(strobe(10.0)(i)) for i in range(int(FPS * 3))]
    assert max_flashes_per_window(count_transitions(lum)) == 10


@pytest.mark.parametrize("hz", [4.0, 10.0, 15.0])
def test_a_fast_full_field_strobe_comes_out_at_most_3_flashes_a_second(hz: float) -> None:
    s = Safety(FPS)
    _, outs = run(s, strobe(hz), int(FPS * 6))
    flashes = count_transitions([mean_luminance(f) for f in outs])
    assert max_flashes_per_window(flashes) <= 3
    assert len(flashes) >= 2 * 3 * 5 - 2  # still flashing at about the limit, not frozen
    st = s.stats()
    assert st.flashes_detected >= hz * 6 - 1 and st.frames_limited > 0
    assert st.flashes_out <= 3 * 6


def test_a_colored_strobe_is_limited_too() -> None:
    def make(i: int) -> np.ndarray:
        f = np.zeros((4, 4, 3), np.float32)
        f[..., 1] = 1.0 if (i // 3) % 2 == 0 else 0.0  # green: most of the luminance
        f[..., 0] = 1.0  # steady red
        return f

    _, outs = run(Safety(FPS), make, int(FPS * 4))
    assert max_flashes_per_window(count_transitions([mean_luminance(f) for f in outs])) <= 3
    assert all(np.all(f[..., 2] == 0.0) for f in outs)  # no blue appears: a blend, not a wash


def test_a_slow_fade_passes_unchanged() -> None:
    def make(i: int) -> np.ndarray:
        t = i / FPS
        v = t / 2.0 if t < 2.0 else max(0.0, 1.0 - (t - 2.0) / 2.0)
        return np.full((8, 8, 3), v, np.float32) * np.array([1.0, 0.7, 0.4], np.float32)

    s = Safety(FPS)
    ins, outs = run(s, make, int(FPS * 5))
    for a, b in zip(ins, outs):
        np.testing.assert_array_equal(a, b)
    assert s.stats().frames_limited == 0


def test_a_3_hz_strobe_is_within_the_limit_and_passes_unchanged() -> None:
    s = Safety(FPS)
    ins, outs = run(s, strobe(3.0), int(FPS * 4))
    assert all(np.array_equal(a, b) for a, b in zip(ins, outs))
    assert s.stats().frames_limited == 0


def test_single_cuts_and_beat_pulses_within_the_limit_pass() -> None:
    def make(i: int) -> np.ndarray:  # a bright pulse twice a second (120 bpm)
        return np.full((4, 4, 3), 1.0 if i % 30 < 4 else 0.1, np.float32)

    s = Safety(FPS)
    ins, outs = run(s, make, int(FPS * 4))
    assert all(np.array_equal(a, b) for a, b in zip(ins, outs))


def test_with_the_limiter_disabled_the_strobe_passes_through() -> None:
    s = Safety(FPS, enabled=False)
    ins, outs = run(s, strobe(10.0), int(FPS * 3))
    assert all(np.array_equal(a, b) for a, b in zip(ins, outs))
    assert max_flashes_per_window(count_transitions([mean_luminance(f) for f in outs])) == 10
    assert s.stats().frames_limited == 0 and s.stats().flashes_detected >= 29


def test_a_lower_flash_limit_is_respected() -> None:
    _, outs = run(Safety(FPS, max_flashes_per_s=1.0), strobe(10.0), int(FPS * 5))
    assert max_flashes_per_window(count_transitions([mean_luminance(f) for f in outs])) <= 1


def test_grand_master_scales_and_blackout_zeroes() -> None:
    s = Safety(FPS)
    f = np.full((2, 2, 3), 0.8, np.float32)
    s.grand_master = 0.5
    s.process(f, 0.0, True)
    np.testing.assert_allclose(f, 0.4)
    s.blackout = True
    f[:] = 0.8
    s.process(f, 1 / FPS, True)
    assert not f.any()


def test_blackout_acts_at_once_even_when_the_limiter_is_holding() -> None:
    s = Safety(FPS)
    run(s, strobe(10.0), 40)  # the window is full now
    f = np.ones((8, 16, 3), np.float32)
    s.blackout = True
    s.process(f, 1.0, True)
    assert not f.any()


def test_values_are_clipped_and_nan_becomes_black() -> None:
    s = Safety(FPS)
    f = np.array([[[2.0, -1.0, np.nan]]], np.float32)
    s.process(f, 0.0, True)
    assert f.tolist() == [[[1.0, 0.0, 0.0]]]


def live(i: int) -> np.ndarray:
    """A live frame that changes every frame (so a held look is recognisable)."""
    f = np.zeros((4, 4, 3), np.float32)
    f[..., 0] = 0.6
    f[..., 1] = 0.2 + 0.001 * i
    return f


def test_audio_lost_fades_to_the_safe_look_and_recovers() -> None:
    s = Safety(FPS)
    safe = (0.05, 0.02, 0.0)
    s.on_audio_lost("fade", fade_s=2.0, safe_look=safe, recover_s=0.5)
    lost_from, back_at = 60, 60 + 240  # lose audio at 1 s, get it back at 5 s

    def audio(i: int) -> bool:
        return not lost_from <= i < back_at

    _, outs = run(s, live, 360 + 60, audio)
    last_look = live(lost_from - 1)
    np.testing.assert_allclose(outs[lost_from], last_look, atol=1e-6)  # k = 0 at the loss
    half = lost_from + 60  # 1 s into a 2 s fade
    np.testing.assert_allclose(outs[half], 0.5 * last_look + 0.5 * np.array(safe, np.float32), atol=1e-5)
    for i in range(lost_from + 120, back_at):
        np.testing.assert_allclose(outs[i], np.broadcast_to(np.array(safe, np.float32), (4, 4, 3)), atol=1e-6)
    mid = back_at + 15  # 0.25 s into a 0.5 s recovery
    np.testing.assert_allclose(outs[mid], 0.5 * live(mid) + 0.5 * np.array(safe, np.float32), atol=1e-5)
    for i in range(back_at + 31, len(outs)):
        np.testing.assert_allclose(outs[i], live(i), atol=1e-6)
    st = s.stats()
    assert st.frames_audio_lost == back_at - lost_from and not st.audio_lost


def test_audio_lost_hold_keeps_the_last_look() -> None:
    s = Safety(FPS)
    s.on_audio_lost("hold")
    _, outs = run(s, live, 200, lambda i: i < 50)
    for i in range(50, 200):
        np.testing.assert_array_equal(outs[i], outs[49])
    assert s.stats().audio_lost


def test_audio_lost_from_the_start_shows_the_safe_look() -> None:
    s = Safety(FPS)
    s.on_audio_lost("hold", safe_look=(0.1, 0.1, 0.1))
    _, outs = run(s, live, 5, lambda i: False)
    np.testing.assert_allclose(outs[-1], 0.1)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError):
        Safety(0.0)
    with pytest.raises(ValueError):
        Safety(FPS, max_flashes_per_s=0.0)
    s = Safety(FPS)
    with pytest.raises(ValueError):
        s.on_audio_lost("dim")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        s.on_audio_lost("fade", safe_look=(2.0, 0.0, 0.0))


def test_reset_clears_the_history() -> None:
    s = Safety(FPS)
    run(s, strobe(10.0), 120)
    s.reset()
    st = s.stats()
    assert (st.flashes_detected, st.frames_limited, st.frames_audio_lost) == (0, 0, 0)
    ins, outs = run(s, strobe(3.0), 60)
    assert all(np.array_equal(a, b) for a, b in zip(ins, outs))


def test_process_does_not_allocate_frame_sized_arrays() -> None:
    s = Safety(FPS)
    s.on_audio_lost("fade", fade_s=0.5)
    frames = [strobe(10.0, (64, 64))(i) for i in range(6)]
    f = np.zeros((64, 64, 3), np.float32)
    for i in range(20):  # warm up: buffers exist
        np.copyto(f, frames[i % 6])
        s.process(f, i / FPS, i % 10 < 5)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(20, 320):
        np.copyto(f, frames[i % 6])
        s.process(f, i / FPS, i % 40 < 20)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak - base < f.nbytes // 4  # no frame-sized temporary
    assert current - base < 4096


def test_the_detector_ignores_bright_swings_and_small_wobbles() -> None:
    d = FlashDetector()
    assert [d.update(y) for y in (0.85, 1.0, 0.85, 1.0)] == [0, 0, 0, 0]  # darker state >= 0.8
    assert [d.update(y) for y in (0.5, 0.45, 0.52, 0.44)] == [-1, 0, 0, 0]  # wobbles < 0.1
