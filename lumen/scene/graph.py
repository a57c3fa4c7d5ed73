"""The scene: what to draw now, as uniform values for the renderer.

Layer: scene (knows no GL and no sockets). Threads: the frame thread.

For now a scene is one shader node whose parameters are bound to features by expressions.
The scene also *predicts*: features describe the audio up to the last hop, but the frame
will reach the wire a little later, so beat and bar phase are extrapolated from the tracker's
``next_beat_t`` and tempo to the moment the light is expected to land.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lumen.features import Features
from lumen.scene.expr import FEATURE_NAMES, Expr, compile_expr


@dataclass(frozen=True, slots=True)
class SceneState:
    """What the renderer needs for one frame.

    Attributes
    ----------
    t_audio : float, s
        Audio time of the features this frame is built from (perf_counter clock).
    t_target : float, s
        When the frame is expected to reach the wire / the eye.
    uniforms : Mapping[str, float]
        Shader uniform values: music features (with extrapolated phases) and node parameters.
    """

    t_audio: float
    t_target: float
    uniforms: Mapping[str, float]


def predict_phases(f: Features, t: float) -> tuple[float, float, bool, bool]:
    """Beat phase, bar phase and whether a beat/downbeat falls between the hop and ``t``.

    Parameters
    ----------
    f : Features
        The latest features.
    t : float, s
        Target time on the perf_counter clock.

    Returns
    -------
    beat_phase, bar_phase : float, 0..1
    beat, downbeat : bool
        A beat (downbeat) lies in ``(f.t, t]`` or was reported by the hop itself.

    Examples
    --------
    >>> f = Features(t=10.0, bpm=120.0, beat_phase=0.8, bar_phase=0.95, next_beat_t=10.1)
    >>> bp, barp, beat, down = predict_phases(f, 10.15)
    >>> round(bp, 3), round(barp, 3), beat, down
    (0.1, 0.025, True, True)
    """
    if f.bpm <= 0.0 or f.next_beat_t <= 0.0 or t <= f.t:
        return f.beat_phase, f.bar_phase, f.beat, f.downbeat
    period = 60.0 / f.bpm
    ahead = (t - f.next_beat_t) / period  # beats past the predicted next beat
    if ahead < 0.0:
        beat_phase = 1.0 + ahead
        crossed = 0
    else:
        crossed = int(ahead) + 1
        beat_phase = ahead - int(ahead)
    beat_in_bar = int(f.bar_phase * 4.0 + 1e-9)
    new_beat_in_bar = (beat_in_bar + crossed) % 4
    bar_phase = (new_beat_in_bar + beat_phase) / 4.0
    beat = f.beat or crossed > 0
    downbeat = f.downbeat or (crossed > 0 and any((beat_in_bar + k) % 4 == 0 for k in range(1, crossed + 1)))
    return beat_phase, bar_phase, beat, downbeat


class Scene:
    """One shader node with bound parameters.

    Parameters
    ----------
    shader : str
        Shader file name (resolved by the engine; the scene never opens files).
    params : mapping of str to (str or float)
        Parameter bindings: numbers or expressions over feature names.
    """

    def __init__(self, shader: str, params: Mapping[str, str | float]) -> None:
        self.shader = shader
        self.bindings: dict[str, Expr] = {k: compile_expr(v, FEATURE_NAMES) for k, v in params.items()}
        self._env: dict[str, float] = {}

    def evaluate(self, f: Features, *, t_now: float, t_target: float, time_s: float, frame: int) -> SceneState:
        """Uniform values for a frame rendered at ``t_now`` that will be seen at ``t_target``.

        Parameters
        ----------
        f : Features
            Latest features from the listen process.
        t_now, t_target : float, s
            perf_counter times of rendering and of the light's expected arrival.
        time_s : float, s
            Seconds since the show started (``TIME`` in shaders).
        frame : int
            Frame counter.
        """
        env = self._env
        env.update(f.scalars())
        bp, barp, beat, down = predict_phases(f, t_target)
        env["beat_phase"] = bp
        env["bar_phase"] = barp
        env["beat"] = 1.0 if beat else 0.0
        env["downbeat"] = 1.0 if down else 0.0
        env["time"] = time_s
        env["frame"] = float(frame)
        uniforms = dict(env)
        for name, expr in self.bindings.items():
            uniforms[name] = expr(env)
        uniforms["TIME"] = time_s
        uniforms["FRAMEINDEX"] = float(frame)
        return SceneState(t_audio=f.t, t_target=t_target, uniforms=uniforms)
