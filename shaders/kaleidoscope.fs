/*{
    "DESCRIPTION": "Kaleidoscope: a drifting pattern of soft dots and lines folded into mirrored segments. The whole figure turns one segment per bar, the bass zooms it, each beat flashes a ring out from the center, and the high mids sharpen the lines.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Geometry", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "segments", "TYPE": "long", "DEFAULT": 6, "VALUES": [3, 4, 5, 6, 8, 12], "LABELS": ["3", "4", "5", "6", "8", "12"], "LABEL": "Segments"},
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Drift speed"},
        {"NAME": "zoom", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.4, "MAX": 3.0, "LABEL": "Zoom"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.85, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.2, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue spread"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: bar_phase (rotation), bass (zoom), beat_phase (ring and dot pulse),
// high_mid (line sharpness), energy (level).

const float TAU = 6.28318530718;
const float PI = 3.14159265359;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    float n = float(max(segments, 1));
    float wedge = TAU / n;

    // Fold the angle into one mirrored wedge; the turn of one wedge per bar wraps seamlessly.
    float r = length(p);
    float a = atan(p.y, p.x) + wedge * bar_phase;
    a = mod(a, wedge);
    a = abs(a - 0.5 * wedge);
    vec2 q = r * vec2(cos(a), sin(a));

    // Drifting pattern inside the wedge.
    float t = TIME * speed * 0.25;
    vec2 s = q * zoom * 3.0 / (1.0 + 0.3 * bass) + vec2(t, 0.37 * t);
    vec2 cell = fract(s) - 0.5;
    float dot_pulse = 1.0 + 0.5 * exp(-beat_phase * 4.0);
    float dots = smoothstep(0.32 * dot_pulse, 0.1, length(cell));
    float sharp = 6.0 + 14.0 * high_mid;
    float lines = pow(abs(sin(PI * (s.x + s.y) * 0.5)), sharp) + pow(abs(sin(PI * (s.x - s.y) * 0.5 + 0.8)), sharp);
    float field = 0.5 + 0.5 * sin(s.x * 1.3 - s.y * 0.9 + t * 2.0);

    // Ring from the center on each beat.
    float ring = exp(-pow((r - beat_phase * 0.75) / 0.06, 2.0)) * exp(-beat_phase * 2.5);

    float h = hue + hue_spread * (field + 0.5 * r - 0.75);  // centered on `hue`
    vec3 color = hue_rgb(h) * (0.08 + 0.27 * field);
    color += mix(vec3(1.0), hue_rgb(h - 0.15), 0.7) * dots * 0.75;
    color += hue_rgb(h + 0.08) * lines * 0.4;
    color *= 0.55 + 0.45 * energy;
    color += mix(vec3(1.0), hue_rgb(hue), 0.45) * ring * 0.8;
    color *= 1.0 - 0.35 * smoothstep(0.4, 1.0, r);

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
