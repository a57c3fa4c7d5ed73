/*{
    "DESCRIPTION": "Kaleidoscope filter: folds the image into mirrored wedges around a center. The figure can turn one wedge per bar (locked to bar_phase), the bass zooms into it and `angle` sets a fixed rotation. Sampling mirrors at the image edges, so there are no seams or black corners.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Filter", "Geometry", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "segments", "TYPE": "long", "DEFAULT": 6, "VALUES": [2, 3, 4, 5, 6, 8, 12], "LABELS": ["2", "3", "4", "5", "6", "8", "12"], "LABEL": "Segments"},
        {"NAME": "angle", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Rotation (turns)"},
        {"NAME": "spin", "TYPE": "bool", "DEFAULT": true, "LABEL": "Turn one segment per bar"},
        {"NAME": "zoom", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.25, "MAX": 4.0, "LABEL": "Zoom"},
        {"NAME": "bass_zoom", "TYPE": "float", "DEFAULT": 0.3, "MIN": 0.0, "MAX": 1.0, "LABEL": "Bass zoom"},
        {"NAME": "center", "TYPE": "point2D", "DEFAULT": [0.5, 0.5], "MIN": [0.0, 0.0], "MAX": [1.0, 1.0], "LABEL": "Center"}
    ]
}*/

// Music uniforms: bar_phase (turn; one wedge per bar wraps seamlessly), bass (zoom).

const float TAU = 6.28318530718;

void main() {
    vec2 uv = isf_FragNormCoord;
    float aspect = RENDERSIZE.x / max(RENDERSIZE.y, 1.0);
    vec2 p = (uv - center) * vec2(aspect, 1.0);
    float n = float(max(segments, 1));
    float wedge = TAU / n;

    float r = length(p);
    float a = atan(p.y, p.x) + TAU * angle + (spin ? wedge * bar_phase : 0.0);
    a = mod(a, wedge);
    a = abs(a - 0.5 * wedge);
    vec2 q = r * vec2(cos(a), sin(a)) / (zoom * (1.0 + bass_zoom * bass));

    vec2 src = q / vec2(aspect, 1.0) + center;
    src = 1.0 - abs(1.0 - mod(src, 2.0));  // mirror at the edges
    gl_FragColor = vec4(IMG_NORM_PIXEL(inputImage, src).rgb, 1.0);
}
