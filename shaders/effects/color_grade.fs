/*{
    "DESCRIPTION": "Color grade: hue shift, saturation, contrast, gain and a color tint, plus two music moves: `hue_swing` sways the hue once per bar and `beat_pump` lifts the gain on every beat (decaying over beat_phase). With the defaults it leaves the image unchanged.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Filter", "Color Adjustment", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "hue_shift", "TYPE": "float", "DEFAULT": 0.0, "MIN": -0.5, "MAX": 0.5, "LABEL": "Hue shift (turns)"},
        {"NAME": "saturation", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Saturation"},
        {"NAME": "contrast", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Contrast"},
        {"NAME": "gain", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Gain"},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [1.0, 0.6, 0.3, 1.0], "LABEL": "Tint color"},
        {"NAME": "tint_amount", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Tint amount"},
        {"NAME": "hue_swing", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 0.5, "LABEL": "Hue swing per bar (turns)"},
        {"NAME": "beat_pump", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Gain pump on the beat"}
    ]
}*/

// Works on lumen's linear RGB. Hue turns about the grey axis (a rotation, exactly the identity
// at 0); saturation mixes with Rec. 709 luminance; contrast pivots about mid grey in a
// gamma-2.2 (perceptual) space; the tint multiplies. Music uniforms: bar_phase (hue swing),
// beat_phase (gain pump).

const float TAU = 6.28318530718;

// Rotation by `angle` (radians) about the axis (1, 1, 1) / sqrt(3) (Rodrigues).
mat3 hue_rotation(float angle) {
    float c = cos(angle);
    float s = sin(angle);
    float k = (1.0 - c) / 3.0;
    float r = sqrt(1.0 / 3.0) * s;
    return mat3(c + k, k + r, k - r,
                k - r, c + k, k + r,
                k + r, k - r, c + k);
}

void main() {
    vec4 src = IMG_THIS_NORM_PIXEL(inputImage);
    vec3 c = src.rgb;

    float turns = hue_shift + hue_swing * sin(TAU * bar_phase);
    c = hue_rotation(TAU * turns) * c;

    float luma = dot(c, vec3(0.2126, 0.7152, 0.0722));
    c = mix(vec3(luma), c, saturation);

    vec3 pc = pow(max(c, 0.0), vec3(1.0 / 2.2));
    pc = (pc - 0.5) * contrast + 0.5;
    c = pow(max(pc, 0.0), vec3(2.2));

    c *= mix(vec3(1.0), tint.rgb, tint_amount);
    c *= gain * (1.0 + beat_pump * exp(-beat_phase * 5.0));

    gl_FragColor = vec4(max(c, 0.0), src.a);
}
