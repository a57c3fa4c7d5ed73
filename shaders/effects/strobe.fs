/*{
    "DESCRIPTION": "Strobe filter: beat-synced hits applied to the image. Flash it towards a color, invert it, or gate it (the image shows only on the hits and falls to black between them). Hits come once per bar, beat, half or quarter beat and decay over a fraction of the period; the energy can scale them. The default intensity is moderate; lumen's photosensitive flash limiter still applies downstream.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Filter", "Strobe", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "mode", "TYPE": "long", "DEFAULT": 0, "VALUES": [0, 1, 2], "LABELS": ["Flash", "Invert", "Gate"], "LABEL": "Mode"},
        {"NAME": "rate", "TYPE": "long", "DEFAULT": 1, "VALUES": [0, 1, 2, 4], "LABELS": ["1 per bar", "1 per beat", "2 per beat", "4 per beat"], "LABEL": "Rate"},
        {"NAME": "decay", "TYPE": "float", "DEFAULT": 10.0, "MIN": 3.0, "MAX": 40.0, "LABEL": "Decay (per hit)"},
        {"NAME": "intensity", "TYPE": "float", "DEFAULT": 0.4, "MIN": 0.0, "MAX": 1.0, "LABEL": "Intensity"},
        {"NAME": "energy_gate", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Follow the energy"},
        {"NAME": "color", "TYPE": "color", "DEFAULT": [1.0, 1.0, 1.0, 1.0], "LABEL": "Flash color"}
    ]
}*/

// Music uniforms: beat_phase / bar_phase (timing), energy (gate).

void main() {
    vec4 src = IMG_THIS_NORM_PIXEL(inputImage);
    float phase = rate <= 0 ? bar_phase : fract(beat_phase * float(rate));
    float hit = exp(-phase * decay);
    float gate = mix(1.0, clamp(energy * 1.4, 0.0, 1.0), energy_gate);
    float level = clamp(intensity * hit * gate, 0.0, 1.0);

    vec3 c = src.rgb;
    if (mode == 1) {
        c = mix(c, max(1.0 - c, 0.0), level);
    } else if (mode == 2) {
        // Between hits the image falls to (1 - intensity) of its level.
        c *= 1.0 - intensity * (1.0 - hit * gate);
    } else {
        c = mix(c, color.rgb, level);
    }
    gl_FragColor = vec4(c, src.a);
}
