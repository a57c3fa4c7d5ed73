/*{
    "DESCRIPTION": "Blur: a separable Gaussian blur, horizontal then vertical, in buffers of half (or full) size, scaled back up and mixed with the sharp image. The radius is a fraction of the frame height, so it looks the same on an LED wall and at 1080p; `beat_pump` widens it on every beat (decaying over beat_phase) and `amount` mixes with the sharp image.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Filter", "Blur", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "radius", "TYPE": "float", "DEFAULT": 0.04, "MIN": 0.0, "MAX": 0.2, "LABEL": "Radius (of the height)"},
        {"NAME": "amount", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Amount"},
        {"NAME": "beat_pump", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 2.0, "LABEL": "Wider on the beat"},
        {"NAME": "downsample", "TYPE": "long", "DEFAULT": 0, "VALUES": [0, 1, 2, 4], "LABELS": ["Auto", "Full size", "Half size", "Quarter size"], "LABEL": "Blur buffer"}
    ],
    "PASSES": [
        {"TARGET": "hblur", "WIDTH": "ceil($WIDTH / max($downsample, (1 - min($downsample, 1)) * max(1, min(4, floor($HEIGHT / 270)))))", "HEIGHT": "ceil($HEIGHT / max($downsample, (1 - min($downsample, 1)) * max(1, min(4, floor($HEIGHT / 270)))))"},
        {"TARGET": "vblur", "WIDTH": "ceil($WIDTH / max($downsample, (1 - min($downsample, 1)) * max(1, min(4, floor($HEIGHT / 270)))))", "HEIGHT": "ceil($HEIGHT / max($downsample, (1 - min($downsample, 1)) * max(1, min(4, floor($HEIGHT / 270)))))"},
        {}
    ]
}*/

// 9 taps per pass (Gaussian weights, sigma = 2 taps), spaced radius/4 apart; linear filtering
// fills in between the taps. Pass 0 reads inputImage and blurs along x into `hblur`, pass 1
// blurs `hblur` along y into `vblur` (both at 1/`downsample` size, where the taps are cheap),
// pass 2 scales `vblur` up and mixes it with the sharp image. `downsample` Auto (0) picks the
// buffer from the frame height once: full size below 540 lines (LED walls keep every pixel),
// half at 540, quarter from 1080. Music uniforms: beat_phase (pump).

const float W[5] = float[5](0.2042, 0.1802, 0.1238, 0.0663, 0.0276);  // sum over -4..4 = 1

// Each pass runs one loop whose length depends only on PASSINDEX: the other passes' loops run
// zero times. (llvmpipe executes both sides of an if/else on PASSINDEX with a lane mask, so
// taps inside plain branches would be paid for in every pass, at full size in the last one.)
// Taps are clamped to the image: edges extend, never wrap, whatever the texture's repeat mode.
void main() {
    vec2 uv = isf_FragNormCoord;
    vec2 in_size = IMG_SIZE(inputImage);
    float aspect = in_size.x / max(in_size.y, 1.0);
    float r = radius * (1.0 + beat_pump * exp(-beat_phase * 5.0));
    float tap = r / 4.0;  // in units of the frame height

    vec3 sum = vec3(0.0);
    int n_h = PASSINDEX == 0 ? 9 : 0;
    for (int i = 0; i < n_h; i++) {
        vec2 o = vec2(tap / aspect * float(i - 4), 0.0);
        sum += textureLod(inputImage, clamp(uv + o, 0.0, 1.0), 0.0).rgb * W[abs(i - 4)];
    }
    int n_v = PASSINDEX == 1 ? 9 : 0;
    for (int i = 0; i < n_v; i++) {
        vec2 o = vec2(0.0, tap * float(i - 4));
        sum += textureLod(hblur, clamp(uv + o, 0.0, 1.0), 0.0).rgb * W[abs(i - 4)];
    }
    if (PASSINDEX >= 2) {
        vec3 blurred = IMG_THIS_NORM_PIXEL(vblur).rgb;
        vec3 sharp = amount < 1.0 ? IMG_THIS_NORM_PIXEL(inputImage).rgb : blurred;
        sum = mix(sharp, blurred, amount);
    }
    gl_FragColor = vec4(sum, 1.0);
}
