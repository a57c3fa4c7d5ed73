/*{
    "DESCRIPTION": "Waveform: an oscilloscope trace of lumen's 64-sample waveform texture, as a glowing line across the screen or as a ring around the center. The trace thickens on every beat (decaying over beat_phase), its hue runs along the line and turns once per bar, the glow grows with the energy, and a dim mirrored echo sits behind it.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Audio Visualizer", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "shape", "TYPE": "long", "DEFAULT": 0, "VALUES": [0, 1], "LABELS": ["Line", "Ring"], "LABEL": "Shape"},
        {"NAME": "gain", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.25, "MAX": 4.0, "LABEL": "Gain"},
        {"NAME": "thickness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 4.0, "LABEL": "Thickness"},
        {"NAME": "glow", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Glow"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.45, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.3, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue along the trace"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// lumen inputs: `waveform` (sampler2D, WAVE_SAMPLES x 1, -1..1, oldest first), beat_phase
// (thickness pulse), bar_phase (hue turn), energy (glow). Distances are measured in pixels
// (value difference over the slope's length), so the trace is equally thick everywhere and
// never thinner than ~1.5 pixels.

const float TAU = 6.28318530718;
const float PI = 3.14159265359;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

// The waveform at x (0..1), linearly interpolated between samples, times the gain.
float wave_at(float x) {
    int n = textureSize(waveform, 0).x;
    float fx = clamp(x, 0.0, 1.0) * float(n - 1);
    int i = int(floor(fx));
    float a = texelFetch(waveform, ivec2(clamp(i, 0, n - 1), 0), 0).r;
    float b = texelFetch(waveform, ivec2(clamp(i + 1, 0, n - 1), 0), 0).r;
    return clamp(mix(a, b, fx - float(i)) * gain, -1.0, 1.0);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    vec2 size = RENDERSIZE;
    float pulse = exp(-beat_phase * 5.0);
    float half_w = max(1.5, 0.012 * size.y * thickness * (1.0 + 0.8 * pulse));  // pixels
    float glow_px = max(3.0, 0.08 * size.y) * (0.5 + energy);

    // One code path for both shapes (selected values, no branch: llvmpipe would run both
    // sides of an if on `shape`). Line: x -> sample position, y is the coordinate. Ring:
    // angle -> sample position, mirrored (0..1..0) so the seam on the left is closed, radius
    // is the coordinate.
    bool ring = shape == 1;
    vec2 pc = (uv - 0.5) * size;
    float along = ring ? abs(atan(pc.y, pc.x)) / PI : uv.x;
    float coord = ring ? length(pc) : pc.y;
    float base = ring ? 0.3 * size.y : 0.0;
    float amp = (ring ? 0.13 : 0.38) * size.y;
    float e = ring ? 1.0 / 64.0 : 1.0 / size.x;
    float w = wave_at(along);
    float dw = (wave_at(along + e) - wave_at(along - e)) / (2.0 * e);  // per unit of `along`
    // Slope of the trace in pixels per pixel along it (the ring's circumference is PI * base
    // per unit of `along`).
    float slope = dw * amp / (ring ? PI * base : size.x);
    // The slope correction is capped: on near-vertical stretches it would widen the glow sideways.
    float d = abs(coord - (base + amp * w)) / sqrt(1.0 + min(slope * slope, 9.0));  // pixels
    float d_echo = abs(coord - (base - amp * w * 0.6));
    // The glow uses a milder correction: far from the trace, the first-order distance above
    // underestimates and would draw rays along steep stretches.
    float d_glow = abs(coord - (base + amp * w)) / sqrt(1.0 + min(slope * slope, 1.0));

    float h = hue + hue_spread * along + 0.05 * sin(TAU * bar_phase);
    vec3 line_rgb = mix(hue_rgb(h), vec3(1.0), 0.25 + 0.3 * pulse);
    float core = 1.0 - smoothstep(half_w - 0.75, half_w + 0.75, d);
    float halo = exp(-d_glow / glow_px) * glow * (0.35 + 0.4 * energy);
    float echo = (1.0 - smoothstep(half_w * 0.6 - 0.75, half_w * 0.6 + 0.75, d_echo)) * 0.18;

    vec3 color = hue_rgb(h + 0.5) * 0.03 * (0.5 + energy);
    color += hue_rgb(h + 0.1) * echo;
    color += hue_rgb(h) * halo;
    color = mix(color, line_rgb, core);

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
