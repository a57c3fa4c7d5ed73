/*{
    "DESCRIPTION": "Particles: soft glowing motes rising in three parallax layers over a dim gradient. Louder music (energy) brings out more of them, every beat swells them (decaying over beat_phase), the treble makes them twinkle and the bass pushes them sideways. One hashed particle per grid cell, so the cost does not grow with the count.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Particles", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "density", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.5, "MAX": 3.0, "LABEL": "Density"},
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Rise speed"},
        {"NAME": "size", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.3, "MAX": 2.5, "LABEL": "Size"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.03, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.06, "MIN": 0.0, "MAX": 0.5, "LABEL": "Hue spread"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: energy (how many cells hold a particle), beat_phase (swell), treble
// (twinkle), bass (sideways push), bar_phase (hue sway). Each layer is a grid of cells with at
// most one particle; a pixel looks at the 2x2 cells nearest to it (3 layers x 4 = 12 lookups).
// Particles never get smaller than ~1.2 pixels, so they survive a 64x32 wall.

const float TAU = 6.28318530718;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

// Integer hash (a 32-bit avalanche mix).
uint mix32(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    float px = 1.0 / max(RENDERSIZE.y, 1.0);  // one pixel in p units
    float t = TIME * speed;
    float beat_pulse = exp(-beat_phase * 4.0);
    float swell = 1.0 + 0.8 * beat_pulse;
    float occupancy = 0.25 + 0.65 * energy;

    // Background: a dim vertical gradient, brighter at the bottom where the motes come from.
    vec3 color = hue_rgb(hue + 0.55) * (0.03 + 0.06 * energy) * (1.2 - isf_FragNormCoord.y);
    vec3 glow = vec3(0.0);

    for (int layer = 0; layer < 3; layer++) {
        float fl = float(layer);
        float cells = (3.0 + 2.5 * fl) * density;  // cells per frame height; far layers are denser
        float depth = 1.0 / (1.0 + 0.6 * fl);      // near layer 1, far layers smaller and slower
        // Far layers fade out where their cells get smaller than ~5 pixels (small walls), so
        // the motes stay distinct instead of turning into noise.
        float layer_gain = (0.5 + 0.5 * depth) * smoothstep(3.0, 6.0, RENDERSIZE.y / cells);
        vec2 q = p * cells;
        q.y -= t * 0.35 * cells * depth;           // rise: the grid scrolls up
        q.x += 0.6 * sin(t * 0.3 + fl) + bass * 0.4 * depth * sin(t * 1.7 + fl * 2.0);
        // The 2x2 cells nearest to the pixel: particles stay within 0.2..0.8 of their cell and
        // their glow ends at 2 radii <= 0.7 cells, so no other cell can reach this pixel.
        vec2 base = floor(q - 0.5);
        uint salt = uint(layer) * 0x68e31da4U;
        // The layer's two end colors; each particle sits somewhere between them.
        float sway = 0.04 * sin(TAU * bar_phase);
        float sat = 0.75 + 0.2 * fl / 2.0;
        vec3 cool = mix(vec3(1.0), hue_rgb(hue - hue_spread + sway), sat);
        vec3 warm = mix(vec3(1.0), hue_rgb(hue + hue_spread + sway), sat);
        for (int j = 0; j <= 1; j++) {
            for (int i = 0; i <= 1; i++) {
                vec2 cell = base + vec2(float(i), float(j));
                // One hash per cell, split into four 8-bit random values.
                uvec2 c = uvec2(ivec2(cell));
                uint h = mix32((c.x * 0x9e3779b9U + c.y * 0x85ebca6bU) ^ salt);
                // Empty cells are weighted out rather than skipped: no divergent branch.
                float present = step(float(h & 255U) / 255.0, occupancy);
                float rx = float((h >> 8) & 255U) / 255.0;
                float ry = float((h >> 16) & 255U) / 255.0;
                float rp = float(h >> 24) / 255.0;
                // Position inside the cell with a little wobble of its own.
                vec2 pos = cell + 0.5 + 0.2 * vec2(rx - 0.5, ry - 0.5) * 2.0;
                pos.x += 0.1 * sin(t * (0.7 + rx) + rp * TAU);
                float radius = min((0.1 + 0.1 * rp) * size * swell, 0.35);
                // In pixels: never below ~1.2 pixels, fading instead of shrinking further.
                float radius_px = radius / cells / px;
                float fade = clamp(radius_px / 1.2, 0.0, 1.0);
                radius = max(radius, 1.2 * px * cells);
                float d = length(q - pos) / radius;
                float twinkle = 1.0 - treble * 0.6 * abs(fract(t * 1.5 + rp * 7.0) * 2.0 - 1.0);
                // A soft disc and a halo that ends at 2 radii (cheap: no exp).
                float b = (0.8 * smoothstep(1.0, 0.45, d) + 0.35 / (1.0 + 8.0 * d * d)) * (1.0 - smoothstep(1.2, 2.0, d));
                b *= present * twinkle * fade * layer_gain;
                glow += mix(cool, warm, rx) * b;
            }
        }
    }
    // Soft-clip the additive glow on its largest channel, so crowded spots keep their hue
    // instead of running to yellow and white.
    float peak = max(max(glow.r, glow.g), max(glow.b, 1e-4));
    float gain = 0.7 + 0.5 * energy + 0.5 * beat_pulse;
    color += glow * ((1.0 - exp(-peak * gain)) * 0.95 / peak);

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
