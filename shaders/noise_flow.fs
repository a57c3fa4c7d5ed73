/*{
    "DESCRIPTION": "Noise flow: domain-warped fractal noise that flows like ink or smoke. The bass deepens the warp, the energy speeds up the fine detail and lifts the level, every beat brightens the ridges (decaying over beat_phase) and the hues sway once per bar.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Texture", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Flow speed"},
        {"NAME": "scale", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 3.0, "LABEL": "Scale"},
        {"NAME": "warp", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Warp"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.58, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.2, "MIN": 0.0, "MAX": 0.6, "LABEL": "Hue spread"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: bass (warp depth), energy (detail speed and level), beat_phase (ridge flash),
// bar_phase (hue sway), low_mid (contrast). Cost: 3 fbm x 4 octaves = 12 value-noise lookups.

const float TAU = 6.28318530718;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

uint mix32(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

float lattice(vec2 cell) {
    uvec2 c = uvec2(ivec2(cell));
    return float(mix32(c.x * 0x9e3779b9U + c.y * 0x85ebca6bU) >> 8) * (1.0 / 16777216.0);
}

// Value noise with quintic interpolation, 0..1.
float noise(vec2 x) {
    vec2 i = floor(x);
    vec2 f = x - i;
    vec2 u = f * f * f * (f * (f * 6.0 - 15.0) + 10.0);
    float a = lattice(i);
    float b = lattice(i + vec2(1.0, 0.0));
    float c = lattice(i + vec2(0.0, 1.0));
    float d = lattice(i + vec2(1.0, 1.0));
    return mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

// Four octaves; each is rotated so the lattice axes never line up.
float fbm(vec2 x, float t) {
    const mat2 R = mat2(0.8, 0.6, -0.6, 0.8);
    float v = 0.0;
    float amp = 0.5;
    for (int i = 0; i < 4; i++) {
        v += amp * noise(x + t * float(i + 1) * 0.3);
        x = R * x * 2.03 + 17.0;
        amp *= 0.5;
    }
    return v / 0.9375;
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    vec2 q = p * scale * 1.6 + 40.0;  // offset away from the lattice origin
    float t = TIME * speed * 0.15;
    float detail_t = t * (1.0 + energy);

    // Two warp fields, then the warped noise itself.
    vec2 w = vec2(fbm(q + vec2(0.0, t), detail_t), fbm(q + vec2(5.2, 1.3) - vec2(t, 0.0), detail_t));
    float depth = warp * (0.8 + 1.0 * bass);
    float v = fbm(q + depth * (w - 0.5) * 2.0 + vec2(t * 0.5, -t * 0.3), detail_t);

    // Ridges: where the warped field crosses its middle value.
    float ridge = 1.0 - abs(v * 2.0 - 1.0);
    ridge = pow(ridge, 4.0);
    float flash = exp(-beat_phase * 4.0);

    float contrast = 1.2 + 0.8 * low_mid;
    float shade = clamp((v - 0.5) * contrast + 0.5, 0.0, 1.0);
    float h = hue + hue_spread * (w.x - 0.5) * 2.0 + 0.05 * sin(TAU * bar_phase);
    vec3 color = hue_rgb(h) * pow(shade, 1.5) * (0.7 + 0.3 * energy);
    color += mix(vec3(1.0), hue_rgb(h + 0.1), 0.5) * ridge * (0.12 + 0.45 * flash) * (0.5 + 0.5 * energy);
    color += hue_rgb(h - 0.15) * length(w - 0.5) * 0.25;

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
