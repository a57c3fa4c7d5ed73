/*{
    "DESCRIPTION": "Feedback trails: keeps a persistent copy of the image and lays each new frame over it, so moving shapes leave trails that fade with `decay`. The trails can zoom (bigger with the bass) and rotate as they fade, and `beat_cut` shortens them on every beat (for trails that restart with the music).",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Filter", "Feedback", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "decay", "TYPE": "float", "DEFAULT": 0.88, "MIN": 0.0, "MAX": 0.99, "LABEL": "Trail kept per frame (at 60 fps)"},
        {"NAME": "zoom", "TYPE": "float", "DEFAULT": 0.005, "MIN": -0.03, "MAX": 0.03, "LABEL": "Zoom per frame"},
        {"NAME": "rotate", "TYPE": "float", "DEFAULT": 0.0, "MIN": -0.05, "MAX": 0.05, "LABEL": "Rotation per frame (rad)"},
        {"NAME": "bass_zoom", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 2.0, "LABEL": "Bass adds zoom"},
        {"NAME": "beat_cut", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Cut trails on the beat"}
    ],
    "PASSES": [
        {"TARGET": "trails", "PERSISTENT": true, "FLOAT": true},
        {}
    ]
}*/

// Pass 0 writes `trails` = max(input, previous trails x decay), sampling the previous trails
// slightly zoomed and rotated about the center. Pass 1 shows `trails`. `decay` is per frame at
// 60 fps and is rescaled with TIMEDELTA, so trails last as long at 30 or 120 fps.
// Music uniforms: bass (zoom), beat_phase (beat cut).

void main() {
    vec2 uv = isf_FragNormCoord;
    if (PASSINDEX == 0) {
        float frames = TIMEDELTA > 0.0 ? clamp(TIMEDELTA * 60.0, 0.25, 8.0) : 1.0;
        float keep = pow(clamp(decay, 0.0, 0.999), frames);
        keep *= 1.0 - beat_cut * 0.6 * exp(-beat_phase * 12.0);

        float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
        vec2 p = (uv - 0.5) * vec2(aspect, 1.0);
        float s = 1.0 + (zoom * (1.0 + bass_zoom * bass)) * frames;
        float a = rotate * frames;
        p = mat2(cos(a), -sin(a), sin(a), cos(a)) * p / s;  // sample closer to the center: trails grow
        vec2 src = p / vec2(aspect, 1.0) + 0.5;

        vec4 prev = IMG_NORM_PIXEL(trails, src);
        // Outside the frame there is nothing to bring in.
        float inside = step(0.0, src.x) * step(src.x, 1.0) * step(0.0, src.y) * step(src.y, 1.0);
        vec4 cur = IMG_THIS_NORM_PIXEL(inputImage);
        vec3 rgb = max(cur.rgb, prev.rgb * keep * inside);
        gl_FragColor = vec4(rgb, 1.0);
    } else {
        gl_FragColor = vec4(IMG_THIS_NORM_PIXEL(trails).rgb, 1.0);
    }
}
