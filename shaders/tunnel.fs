/*{
    "DESCRIPTION": "Tunnel: a striped, segmented tube flying towards the viewer. It rotates by one segment per bar, every beat sends a bright ring down the tube (decaying over beat_phase), the bass widens the mouth and the treble lights the segment seams.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Geometry", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Flight speed"},
        {"NAME": "segments", "TYPE": "long", "DEFAULT": 8, "VALUES": [4, 6, 8, 12, 16], "LABELS": ["4", "6", "8", "12", "16"], "LABEL": "Segments"},
        {"NAME": "twist", "TYPE": "float", "DEFAULT": 0.25, "MIN": -1.0, "MAX": 1.0, "LABEL": "Twist"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.75, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.2, "MIN": 0.0, "MAX": 0.5, "LABEL": "Hue spread"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: bar_phase (rotation), beat_phase (ring), bass (mouth), treble (seams),
// energy (level). Stripes fade out where they get finer than a pixel (fwidth), so the center
// never aliases on a small wall.

const float TAU = 6.28318530718;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    float r = max(length(p), 1e-3);
    float n = float(max(segments, 1));

    // Depth along the tube (1/r) and position around it, in segments; rotating by one segment
    // per bar is invisible at the bar wrap.
    float mouth = 0.28 * (1.0 + 0.4 * bass);
    float z = mouth / r + TIME * speed * 0.8;
    float u = (atan(p.y, p.x) / TAU) * n + twist * z + bar_phase;

    // Soft stripes along the depth and soft seams between segments, faded by their pixel size.
    float fz = 2.0 * fwidth(z);
    float fu = fwidth(u);
    float stripe = smoothstep(0.25, 0.75, 0.5 + 0.5 * cos(TAU * 2.0 * z));
    stripe = mix(0.5, stripe, clamp(1.0 - fz * 1.5, 0.0, 1.0));
    float seam = 1.0 - abs(fract(u) - 0.5) * 2.0;  // 1 on a seam, 0 mid-segment
    seam = smoothstep(0.75, 1.0, seam) * clamp(1.0 - fu * 2.0, 0.0, 1.0);
    float checker = 0.5 + 0.5 * cos(TAU * u) * cos(TAU * z * 0.5);
    checker = mix(0.5, checker, clamp(1.0 - max(fu, fz) * 1.5, 0.0, 1.0));

    // The beat ring travels from the mouth (outside) to the vanishing point over one beat.
    float ring_z = mouth / r;
    float ring_pos = mix(0.25, 3.5, beat_phase);
    float ring = exp(-pow((ring_z - ring_pos) / (0.15 + 0.2 * beat_phase), 2.0)) * exp(-beat_phase * 2.0);

    float h = hue + hue_spread * (0.5 + 0.5 * sin(TAU * z * 0.125)) + 0.1 * checker;
    vec3 base = mix(vec3(1.0), hue_rgb(h), 0.8);
    float level = (0.12 + 0.6 * stripe + 0.28 * checker) * (0.5 + 0.5 * energy);
    vec3 color = base * level;
    color += mix(vec3(1.0), hue_rgb(h + 0.08), 0.5) * seam * (0.1 + 0.4 * treble);
    color += mix(vec3(1.0), hue_rgb(h + 0.1), 0.4) * ring * 0.8;

    // Fog towards the vanishing point and a dim vignette at the mouth.
    color *= smoothstep(0.0, 0.22, r) * (1.0 - 0.25 * smoothstep(0.5, 1.0, r));

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
