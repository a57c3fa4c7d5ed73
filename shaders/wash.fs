/*{
    "DESCRIPTION": "Color wash: three soft pools of neighbouring hues drift slowly and blend across the whole frame. Brightness follows the energy and lifts on every beat (an exponential pulse on beat_phase), the pools swell with the bass, the palette sways once per bar and warms with the valence. Quiet enough to sit under other layers; reads on a 64x32 wall.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Color", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Drift speed"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.55, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.16, "MIN": 0.0, "MAX": 0.5, "LABEL": "Hue spread"},
        {"NAME": "saturation", "TYPE": "float", "DEFAULT": 0.8, "MIN": 0.0, "MAX": 1.0, "LABEL": "Saturation"},
        {"NAME": "pulse", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Beat pulse"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: beat_phase (pulse), bar_phase (palette sway), energy (level), bass (pool
// size), valence (warm/cool). Everything is broad and smooth: no detail finer than ~1/3 of the
// frame height, so it looks the same on a 64x32 wall and at 1080p.

const float TAU = 6.28318530718;

// A smooth hue wheel (smoothstep on the RGB ramps avoids hard corners at the primaries).
vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

vec3 hsv(float h, float s, float v) {
    return v * mix(vec3(1.0), hue_rgb(h), s);
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    float t = TIME * speed * 0.12;

    // Three pools on slow Lissajous paths; sharper falloff when the bass is low, wider when it hits.
    float k = 3.2 / (1.0 + 0.8 * bass);
    vec3 sum = vec3(0.0);
    float wsum = 0.0;
    float wmax = 0.0;
    for (int i = 0; i < 3; i++) {
        float fi = float(i);
        vec2 c = vec2(0.45 * aspect * sin(t * (1.0 + 0.31 * fi) + fi * 2.1),
                      0.32 * cos(t * (0.83 + 0.17 * fi) + fi * 1.3));
        vec2 d = p - c;
        float w = exp(-dot(d, d) * k);
        // Neighbouring hues: the middle pool sits on `hue`, the others either side of it.
        float h = hue + hue_spread * (fi - 1.0);
        sum += w * hsv(h, 1.0, 1.0);
        wsum += w;
        wmax = max(wmax, w);
    }
    vec3 rgb = sum / max(wsum, 1e-4);

    // Palette sway (periodic in bar_phase, so the bar wrap is seamless) and a warm/cool bias.
    float sway = 0.035 * sin(TAU * bar_phase) - 0.08 * (valence - 0.5);
    rgb = mix(rgb, hue_rgb(hue + hue_spread + sway), 0.25);
    float lum = dot(rgb, vec3(0.299, 0.587, 0.114));
    rgb = mix(vec3(lum), rgb, saturation);

    // Level: energy sets the base, the beat pulse decays over the beat, pools are a bit brighter.
    float beat_lift = pulse * exp(-beat_phase * 5.0);
    float level = (0.5 + 0.4 * energy) * (0.75 + 0.25 * wmax) + 0.3 * beat_lift;
    vec3 color = rgb * level;

    // Values above are perceptual; lumen's pipeline is linear until the output stage.
    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
