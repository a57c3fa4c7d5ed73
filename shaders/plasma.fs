/*{
    "DESCRIPTION": "Plasma: interfering sine fields mapped through a soft cosine palette. The bass zooms the field in, the low mids bend it, every beat sends a ripple out from the center (decaying over beat_phase) and the hues sway once per bar.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Pattern", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Speed"},
        {"NAME": "scale", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 3.0, "LABEL": "Scale"},
        {"NAME": "warp", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 2.0, "LABEL": "Warp"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.62, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "ripple", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Beat ripple"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: bass (zoom), low_mid (warp), beat_phase (ripple), bar_phase (hue sway),
// energy (level). At scale 1 the field has about 2 cycles across the height.

const float TAU = 6.28318530718;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    vec2 q = p * scale * 3.0 / (1.0 + 0.35 * bass);
    float t = TIME * speed;

    float bend = warp * (0.6 + 0.8 * low_mid);
    float v = sin(q.x * 2.1 + t * 0.7)
            + sin(q.y * 2.7 - t * 0.55 + bend * sin(q.x * 1.4 + t * 0.4))
            + sin(length(q - vec2(1.1 * sin(t * 0.21), 0.6 * cos(t * 0.27))) * 3.2 - t * 0.9)
            + sin((q.x - q.y) * 1.7 + bend * cos(q.y * 1.3 - t * 0.33) + t * 0.5);
    v *= 0.25;  // -1..1

    // Beat ripple: a ring leaves the center at the beat and fades by the next one.
    float r = length(p);
    float ring = (r - beat_phase * 0.9) / 0.15;
    float rip = ripple * exp(-beat_phase * 3.0) * exp(-ring * ring);
    v += 0.6 * rip;

    // Hue follows the field across a quarter of the wheel and sways once per bar (periodic in
    // bar_phase, so the bar wrap is seamless); troughs are darker, crests whiter.
    float h = hue + 0.22 * v + 0.06 * sin(TAU * bar_phase);
    float crest = smoothstep(-0.7, 0.9, v);
    vec3 color = mix(vec3(1.0), hue_rgb(h), 0.85 - 0.25 * crest * crest);
    float lift = 0.2 * ripple * exp(-beat_phase * 4.0);  // the whole field breathes with the beat
    float level = (0.5 + 0.4 * energy + lift) * (0.25 + 0.75 * crest) + 0.3 * rip;
    color *= level;

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
