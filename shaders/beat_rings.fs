/*{
    "DESCRIPTION": "Beat rings: every beat fires a ring from the center that keeps expanding and fading over the next beats. Each ring takes the color of the beat of the bar that fired it, the downbeat ring is thicker and brighter, the bass thickens the rings and the energy sets their brightness. Motion eases out after each beat, so the rings kick on the beat.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Geometry", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "count", "TYPE": "float", "DEFAULT": 5.0, "MIN": 1.0, "MAX": 8.0, "LABEL": "Rings visible"},
        {"NAME": "spacing", "TYPE": "float", "DEFAULT": 0.22, "MIN": 0.05, "MAX": 0.6, "LABEL": "Ring spacing"},
        {"NAME": "thickness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.2, "MAX": 3.0, "LABEL": "Thickness"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.55, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.35, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue per beat"},
        {"NAME": "center", "TYPE": "point2D", "DEFAULT": [0.5, 0.5], "MIN": [0.0, 0.0], "MAX": [1.0, 1.0], "LABEL": "Center"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: beat_phase (ring travel, center flash), bar_phase (which beat of the bar
// fired each ring), bass (thickness), energy (level), treble (fine shimmer on the rings).
//
// Ring k was fired k beats ago; its radius is (k + ease(beat_phase)) * spacing. At the beat
// wrap ring k becomes ring k+1 at the same radius, so the motion is continuous. A pixel
// evaluates only the three rings nearest to its radius.

const float TAU = 6.28318530718;
const int MAX_RINGS = 8;

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

void main() {
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (isf_FragNormCoord - center) * vec2(aspect, 1.0);
    float r = length(p);
    float px = 1.0 / max(RENDERSIZE.y, 1.0);

    float e = 1.0 - pow(1.0 - beat_phase, 3.0);  // ease out: fast at the beat, slowing after
    float beat_in_bar = floor(bar_phase * 4.0 + 1e-3);
    float width = max(0.018 * thickness * (1.0 + 0.8 * bass), 1.2 * px);

    // Only the rings nearest to this radius can light the pixel: the one whose radius is
    // closest, and one either side (rings are `spacing` apart and much thinner than that).
    vec3 color = vec3(0.0);
    float nearest = floor(r / spacing - e + 0.5);
    for (int j = -1; j <= 1; j++) {
        float fk = nearest + float(j);
        float visible = clamp(count - fk, 0.0, 1.0) * step(0.0, fk) * step(fk, float(MAX_RINGS - 1));
        float age = fk + beat_phase;                  // beats since the ring was fired
        float radius = (fk + e) * spacing;
        float fired = mod(beat_in_bar - fk, 4.0);      // beat of the bar that fired it (0 = downbeat)
        float down = 1.0 - step(0.5, fired);
        float w = width * (1.0 + 0.8 * down) * (1.0 + 0.25 * age);
        float x = (r - radius) / w;
        float ring = exp(-x * x * 1.5);
        float fade = exp(-age * 0.55) * visible;
        vec3 c = mix(vec3(1.0), hue_rgb(hue + hue_spread * fired / 4.0), 0.8 - 0.25 * exp(-age * 3.0));
        color += c * ring * fade * (0.8 + 0.5 * down);
    }
    color *= 0.55 + 0.45 * energy;
    color *= 1.0 + 0.15 * treble * sin(atan(p.y, p.x) * 6.0 + TIME * 3.0);

    // Center flash and a faint halo tinted with the current beat's hue.
    float flash = exp(-beat_phase * 6.0);
    vec3 now = hue_rgb(hue + hue_spread * beat_in_bar / 4.0);
    color += mix(vec3(1.0), now, 0.5) * flash * exp(-r * r / 0.01) * 0.8;
    color += now * 0.05 * (0.5 + energy) * exp(-r * 1.5);

    // Soft clip (rings can overlap near the center).
    color = 1.0 - exp(-color * 1.8);
    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
