/*{
    "DESCRIPTION": "Starfield: flying through layers of stars over a faint nebula. Stars streak radially with the energy and surge into warp streaks on every beat (decaying over beat_phase), the treble makes them twinkle and the bass brightens the nebula. Stars are hashed per grid cell in six depth layers, so the cost is fixed.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Particles", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0, "LABEL": "Flight speed"},
        {"NAME": "density", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.5, "MAX": 3.0, "LABEL": "Density"},
        {"NAME": "warp", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Beat warp"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "nebula", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Nebula"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: energy (streak length, star brightness), beat_phase (warp surge), treble
// (twinkle), bass (nebula), bar_phase (slow roll).
//
// Layer j sits at depth z = j/N - s (s grows with TIME), so each layer keeps its identity (its
// hash seed is j) while it approaches; a star's screen position is its world position / z.
// A pixel looks only at its own cell: stars stay inside the middle of their cell.

const float TAU = 6.28318530718;
const int LAYERS = 6;

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


void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - 0.5) * vec2(aspect, 1.0);
    float px = 1.0 / max(RENDERSIZE.y, 1.0);
    float r = length(p);

    // A slow roll, periodic over the bar.
    float roll = 0.05 * sin(TAU * bar_phase);
    p = mat2(cos(roll), sin(roll), -sin(roll), cos(roll)) * p;

    float surge = warp * exp(-beat_phase * 3.5);
    float streak = 1.0 + 2.0 * energy + 10.0 * surge;

    // Nebula: two broad, slowly turning color clouds.
    float t = TIME * speed;
    float neb = 0.5 + 0.5 * sin(p.x * 2.3 + sin(p.y * 1.7 + t * 0.05) * 1.5 + t * 0.04);
    float neb2 = 0.5 + 0.5 * sin(p.y * 2.9 - p.x * 1.1 + t * 0.03);
    vec3 color = (hue_rgb(hue) * neb * neb + hue_rgb(hue + 0.2) * neb2 * 0.6) * nebula * (0.05 + 0.07 * bass);

    float s = t * 0.25;
    float sn = s * float(LAYERS);
    float first = floor(sn) + 1.0;
    vec3 stars = vec3(0.0);
    for (int i = 0; i < LAYERS; i++) {
        float j = first + float(i);
        float z = (j - sn) / float(LAYERS);  // (0, 1]: 1 far, 0 at the viewer
        float cells = 7.0 * density;           // cells per unit of world space
        vec2 w = p * z * cells;               // world position of the pixel at depth z
        vec2 cell = floor(w);
        // One hash per cell and layer, split into 8-bit random values (a second for the rest).
        uvec2 uc = uvec2(ivec2(cell));
        uint h = mix32((uc.x * 0x9e3779b9U + uc.y * 0x85ebca6bU) ^ (uint(int(j)) * 0x68e31da4U));
        float present = step(float(h & 255U) / 255.0, 0.55);  // a weight, not a divergent branch
        uint h2 = mix32(h);
        vec2 c = cell + 0.3 + 0.4 * vec2(float((h >> 8) & 255U), float((h >> 16) & 255U)) / 255.0;
        vec2 d = w - c;
        // Streak: squash the distance along the radial direction (stars fly outward).
        vec2 dir = normalize(c + 1e-4);
        float along = dot(d, dir);
        float across = dot(d, vec2(-dir.y, dir.x));
        // Radius in world units: star grows as it approaches; at least ~1 pixel on screen.
        float radius = 0.06 + 0.04 * float(h >> 24) / 255.0;
        float min_radius = 1.0 * px * z * cells;
        float fade = clamp(radius / max(min_radius, 1e-6), 0.0, 1.0);
        radius = max(radius, min_radius);
        // The streak must end inside the cell (the star is at 0.3..0.7 of it).
        float stretch = min(1.0 + (streak - 1.0) * (1.0 - z), 0.29 / radius);
        along /= stretch;
        float dd = length(vec2(along, across)) / radius;
        // A profile that reaches zero at dd = 1, so nothing is cut off at the cell edge.
        float prof = max(1.0 - dd * dd, 0.0);
        float b = present * prof * prof * smoothstep(1.0, 0.75, z) * (1.0 - 0.6 * z) * fade;
        b *= 1.0 - treble * 0.5 * (0.5 + 0.5 * sin(t * 11.0 + float(h2 & 255U) * 0.25));
        float tint = float((h2 >> 8) & 255U) / 255.0;
        stars += mix(vec3(1.0), hue_rgb(hue + 0.15 * (tint - 0.5)), 0.35 * tint) * b;
    }
    color += stars * (0.75 + 0.4 * energy + 0.5 * surge);
    // A dark core keeps the vanishing point from looking like a hole of noise.
    color *= smoothstep(0.0, 0.08, r) * 0.7 + 0.3;

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
