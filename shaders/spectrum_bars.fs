/*{
    "DESCRIPTION": "Spectrum bars: an analyzer display of lumen's 32-bin spectrum texture, low frequencies on the left (or in the middle when mirrored). Bars are shaded from the base hue at the bottom to a second hue at the top with a bright cap; on large screens they split into LED segments. Every beat lifts a glow behind the bars (decaying over beat_phase) and the energy sets its level.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Audio Visualizer", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "bars", "TYPE": "long", "DEFAULT": 16, "VALUES": [8, 16, 32], "LABELS": ["8", "16", "32"], "LABEL": "Bars"},
        {"NAME": "gain", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.25, "MAX": 4.0, "LABEL": "Gain"},
        {"NAME": "mirror", "TYPE": "bool", "DEFAULT": false, "LABEL": "Mirror (bass in the middle)"},
        {"NAME": "gap", "TYPE": "float", "DEFAULT": 0.25, "MIN": 0.0, "MAX": 0.6, "LABEL": "Gap between bars"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue (bottom)"},
        {"NAME": "hue_range", "TYPE": "float", "DEFAULT": 0.35, "MIN": -1.0, "MAX": 1.0, "LABEL": "Hue change to the top"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// lumen inputs: `spectrum` (sampler2D, SPECTRUM_BINS x 1, 0..1, low to high), beat_phase (glow
// pulse), energy (glow level), bar_phase (hue sway). Each bar averages the bins it covers
// (read with texelFetch, so the result does not depend on the texture's filtering).

const float TAU = 6.28318530718;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

// Mean of the spectrum bins between x0 and x1 (0..1); at most 8 bins per bar.
float band_level(float x0, float x1) {
    int n_bins = textureSize(spectrum, 0).x;
    int b0 = int(floor(x0 * float(n_bins)));
    int b1 = max(int(ceil(x1 * float(n_bins))) - 1, b0);
    float sum = 0.0;
    float count = 0.0;
    for (int i = 0; i < 8; i++) {
        int b = b0 + i;
        if (b > b1) break;
        sum += texelFetch(spectrum, ivec2(clamp(b, 0, n_bins - 1), 0), 0).r;
        count += 1.0;
    }
    return sum / max(count, 1.0);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float x = mirror ? abs(uv.x * 2.0 - 1.0) : uv.x;
    float n = float(max(bars, 1));
    float i = min(floor(x * n), n - 1.0);
    float fx = x * n - i;

    // Bar width in pixels decides whether gaps and segments can be drawn at all.
    float bar_px = RENDERSIZE.x / n / (mirror ? 2.0 : 1.0);
    // The gap is a whole number of pixels (at least one) on the left of each bar, or none
    // when bars are narrower than 3 pixels.
    float gap_px = bar_px >= 3.0 ? max(1.0, floor(gap * bar_px + 0.5)) : 0.0;
    float in_bar = step(gap_px, fx * bar_px + 0.01);

    float level = clamp(band_level(i / n, (i + 1.0) / n) * gain, 0.0, 1.0);
    float y = uv.y;
    float px_y = 1.0 / max(RENDERSIZE.y, 1.0);

    // Filled part, with a cap at least one pixel thick at the top.
    float fill = 1.0 - smoothstep(level - px_y, level, y);
    float cap_h = max(0.04, 1.5 * px_y);
    float cap = smoothstep(level - cap_h - px_y, level - cap_h, y) * fill;

    // LED segments, only when a segment is at least 4 pixels tall.
    float seg_n = 16.0;
    float seg_px = RENDERSIZE.y / seg_n;
    float seg = fract(y * seg_n);
    float segment = mix(1.0, smoothstep(0.0, 0.12, seg) * (1.0 - smoothstep(0.8, 0.92, seg)), smoothstep(4.0, 7.0, seg_px));

    float h = hue + hue_range * y + 0.04 * sin(TAU * bar_phase);
    vec3 bar_rgb = hue_rgb(h) * (0.45 + 0.55 * y);
    vec3 cap_rgb = mix(hue_rgb(h + 0.05), vec3(1.0), 0.55);
    vec3 color = (bar_rgb * (1.0 - cap) + cap_rgb * cap) * fill * in_bar * segment;

    // Glow behind the bars: follows the bar heights, pulses on the beat.
    float pulse = exp(-beat_phase * 4.0);
    float glow = (0.04 + 0.08 * energy + 0.1 * pulse) * exp(-max(y - level, 0.0) * 6.0) * (1.0 - fill * in_bar);
    color += hue_rgb(h) * glow;

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
