/*{
    "DESCRIPTION": "Strobe: beat-synced flashes that decay over a fraction of the beat (not a free-running flicker). Flash once per bar, beat, half or quarter beat; flash the whole frame, alternate the halves, light random blocks or sweep a bar across. The flash is scaled by the energy (so quiet passages flash less) and the downbeat flash is the strongest. The default intensity is moderate; lumen's photosensitive flash limiter still applies downstream.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Strobe", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "rate", "TYPE": "long", "DEFAULT": 1, "VALUES": [0, 1, 2, 4], "LABELS": ["1 per bar", "1 per beat", "2 per beat", "4 per beat"], "LABEL": "Rate"},
        {"NAME": "mode", "TYPE": "long", "DEFAULT": 0, "VALUES": [0, 1, 2, 3], "LABELS": ["Full frame", "Alternate halves", "Random blocks", "Sweep"], "LABEL": "Pattern"},
        {"NAME": "decay", "TYPE": "float", "DEFAULT": 10.0, "MIN": 3.0, "MAX": 40.0, "LABEL": "Decay (per flash)"},
        {"NAME": "intensity", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Intensity"},
        {"NAME": "energy_gate", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Follow the energy"},
        {"NAME": "color", "TYPE": "color", "DEFAULT": [1.0, 0.96, 0.9, 1.0], "LABEL": "Flash color"},
        {"NAME": "hue_cycle", "TYPE": "bool", "DEFAULT": false, "LABEL": "Change hue every flash"},
        {"NAME": "ambient", "TYPE": "float", "DEFAULT": 0.01, "MIN": 0.0, "MAX": 0.2, "LABEL": "Ambient level"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: beat_phase / bar_phase (flash timing: phase within the flash period is
// fract(beat_phase * rate), or bar_phase for 1 per bar), energy (gate), treble (block
// shimmer). `color` is linear RGB, like lumen's frames.

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

float rand(vec2 cell, uint salt) {
    uvec2 c = uvec2(ivec2(cell));
    return float(mix32(mix32(c.x * 0x9e3779b9U ^ salt) + c.y) >> 8) * (1.0 / 16777216.0);
}

void main() {
    vec2 uv = isf_FragNormCoord;
    float per_beat = float(rate);
    float phase;   // 0..1 within the current flash period
    float index;   // which flash of the bar this is (0 = the downbeat)
    if (rate <= 0) {
        phase = bar_phase;
        index = 0.0;
    } else {
        float flashes = bar_phase * 4.0 * per_beat;
        phase = fract(beat_phase * per_beat);
        // flashes = index + phase when the two phases agree; rounding absorbs small jitter.
        index = mod(max(floor(flashes - phase + 0.5), 0.0), 4.0 * per_beat);
    }
    float flash = exp(-phase * decay);
    float downbeat_gain = index < 0.5 ? 1.0 : 0.8;

    float mask = 1.0;
    if (mode == 1) {
        // Alternate halves: left on even flashes, right on odd ones.
        float side = mod(index, 2.0);
        mask = side < 0.5 ? 1.0 - step(0.5, uv.x) : step(0.5, uv.x);
    } else if (mode == 2) {
        // Random blocks: a 4x2 grid, about half of the blocks lit, a new choice every flash.
        vec2 cell = floor(uv * vec2(4.0, 2.0));
        mask = step(rand(cell, uint(index) * 31U + 7U), 0.5 + 0.3 * treble);
    } else if (mode == 3) {
        // Sweep: a soft vertical bar crosses the frame during the flash.
        float x = mix(-0.15, 1.15, phase);
        mask = exp(-pow((uv.x - x) / 0.12, 2.0));
        flash = 1.0 - phase * 0.3;
    }

    vec3 rgb = color.rgb;
    if (hue_cycle) {
        rgb = mix(vec3(1.0), hue_rgb(index * 0.27 + 0.1), 0.7);
    }
    float gate = mix(1.0, clamp(energy * 1.4, 0.0, 1.0), energy_gate);
    float level = intensity * flash * mask * gate * downbeat_gain;

    vec3 out_rgb = rgb * (ambient + level);
    gl_FragColor = vec4(clamp(out_rgb, 0.0, 1.0) * brightness, 1.0);
}
