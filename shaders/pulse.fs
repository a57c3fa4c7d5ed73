/*{
    "DESCRIPTION": "lumen pulse: a scrolling color wash that breathes with the bass, rings that expand from the center on every beat, and a white flash. Designed for LED walls from 64x32 up to 1920x1080; outputs linear RGB.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue offset"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"},
        {"NAME": "flash", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "White flash"},
        {"NAME": "bass_boost", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Bass pump"}
    ]
}*/

// Music uniforms used: bar_phase, beat_phase, energy, bass, treble (all 0..1).
// Spatial frequencies stay low (at most ~3 cycles across the width) so the image reads on a
// 64x32 wall; ring widths never drop below ~1.5 pixels so they do not alias there.

const float TAU = 6.28318530718;

vec3 hsv2rgb(vec3 c) {
    vec3 k = clamp(abs(mod(c.x * 6.0 + vec3(0.0, 4.0, 2.0), 6.0) - 3.0) - 1.0, 0.0, 1.0);
    return c.z * mix(vec3(1.0), k, c.y);
}

// One expanding ring: radius grows with `phase` (0..1), intensity fades as it grows.
float ring(float d, float phase, float width) {
    float r = phase * 1.1;
    float x = (d - r) / width;
    return exp(-x * x) * pow(1.0 - phase, 1.5);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    // Centered, height-normalized coordinates: y in -0.5..0.5, x scaled by the aspect ratio.
    vec2 p = (uv - 0.5) * vec2(aspect, 1.0);

    // Bass pumps the scale: the pattern zooms in on every kick.
    float pump = 1.0 + 0.35 * bass_boost * bass;
    vec2 q = p / pump;
    float t = TIME;

    // Plasma: a few slow, broad sine fields scrolling in different directions.
    float v = sin(q.x * 3.1 + t * 0.61)
            + sin((q.y * 3.7 - t * 0.43) + sin(q.x * 1.9 + t * 0.37))
            + sin(length(q - vec2(0.35 * sin(t * 0.23), 0.2 * cos(t * 0.31))) * 5.5 - t * 0.9)
            + sin((q.x + q.y) * 2.3 + t * 0.29);
    v *= 0.25;  // -1..1

    // Hue turns with the `hue` input and once per bar; the plasma spreads it locally.
    float h = fract(hue + bar_phase + 0.3 * v);
    float sat = 0.75 + 0.2 * energy;
    float val = (0.4 + 0.45 * energy) * (0.65 + 0.35 * v);
    vec3 wash = hsv2rgb(vec3(h, sat, val));

    // Treble adds a gentle shimmer (about 2 cycles across the height, fast in time).
    wash *= 1.0 + 0.12 * treble * sin(q.x * 9.0 - q.y * 7.0 + t * 9.0);

    // Beat rings from the center: one per beat, and a fainter one from the offbeat (second half
    // of the beat). The first beat of the bar (bar_phase < 0.25) rings brighter.
    float d = length(p);
    float width = max(0.045, 1.5 / max(RENDERSIZE.y, 1.0));
    float downbeat_gain = 1.0 + 0.6 * (1.0 - step(0.25, bar_phase));
    float rings = ring(d, beat_phase, width) + 0.45 * ring(d, fract(beat_phase + 0.5), width * 1.6) * step(0.5, beat_phase);
    vec3 ring_color = hsv2rgb(vec3(fract(h + 0.5), 0.35, 1.0));
    vec3 color = wash + ring_color * rings * downbeat_gain * (0.5 + 0.5 * energy);

    // Design values above are perceptual; the pipeline is linear until the output stage.
    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    color = mix(color, vec3(1.0), clamp(flash, 0.0, 1.0));
    gl_FragColor = vec4(color * brightness, 1.0);
}
