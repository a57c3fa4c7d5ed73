/*{
    "DESCRIPTION": "Text logo: a message (LUMEN by default) drawn in a built-in 5x7 pixel font, one LED-style dot per font pixel. Letters hop in a wave across the word on every beat (shaped by beat_phase), flash brighter on the beat and whiter on the downbeat, glow with the energy and take hues spread along the word. Snaps to whole pixels, so the text stays crisp on a 64x32 wall; `scroll` runs longer messages across the screen.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Text", "Audio Reactive"],
    "INPUTS": [
        {"NAME": "message", "TYPE": "long", "DEFAULT": 0, "VALUES": [0, 1, 2, 3, 4, 5], "LABELS": ["LUMEN", "DROP", "HANDS UP!", "LOUDER", "PARTY", "WELCOME"], "LABEL": "Message"},
        {"NAME": "bounce", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Beat bounce"},
        {"NAME": "hue", "TYPE": "float", "DEFAULT": 0.52, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue"},
        {"NAME": "hue_spread", "TYPE": "float", "DEFAULT": 0.3, "MIN": 0.0, "MAX": 1.0, "LABEL": "Hue along the word"},
        {"NAME": "glow", "TYPE": "float", "DEFAULT": 0.6, "MIN": 0.0, "MAX": 1.0, "LABEL": "Glow"},
        {"NAME": "background", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0, "LABEL": "Background"},
        {"NAME": "scroll", "TYPE": "bool", "DEFAULT": false, "LABEL": "Scroll"},
        {"NAME": "scroll_speed", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.1, "MAX": 4.0, "LABEL": "Scroll speed"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

// Music uniforms: beat_phase (letter hop wave, flash), bar_phase (downbeat whitening, hue
// sway), energy (text, glow and background level), bass (background pump).
//
// Layout in "cells" (one cell = one font pixel = `s` screen pixels, `s` a whole number): a
// glyph is 5x7 cells plus one cell of spacing. The text is centered, or scrolls when `scroll`.

const float TAU = 6.28318530718;
const float PI = 3.14159265359;

// The font: 7 rows per glyph, top row first; bit 4 is the leftmost column. Glyph order:
// A-Z (0-25), 0-9 (26-35), space (36), '!' (37), '.' (38), '-' (39).
const int FONT[280] = int[280](
    14, 17, 17, 31, 17, 17, 17,  // 'A'
    30, 17, 17, 30, 17, 17, 30,  // 'B'
    14, 17, 16, 16, 16, 17, 14,  // 'C'
    30, 17, 17, 17, 17, 17, 30,  // 'D'
    31, 16, 16, 30, 16, 16, 31,  // 'E'
    31, 16, 16, 30, 16, 16, 16,  // 'F'
    14, 17, 16, 23, 17, 17, 15,  // 'G'
    17, 17, 17, 31, 17, 17, 17,  // 'H'
    14,  4,  4,  4,  4,  4, 14,  // 'I'
     7,  2,  2,  2,  2, 18, 12,  // 'J'
    17, 18, 20, 24, 20, 18, 17,  // 'K'
    16, 16, 16, 16, 16, 16, 31,  // 'L'
    17, 27, 21, 21, 17, 17, 17,  // 'M'
    17, 25, 21, 19, 17, 17, 17,  // 'N'
    14, 17, 17, 17, 17, 17, 14,  // 'O'
    30, 17, 17, 30, 16, 16, 16,  // 'P'
    14, 17, 17, 17, 21, 18, 13,  // 'Q'
    30, 17, 17, 30, 20, 18, 17,  // 'R'
    15, 16, 16, 14,  1,  1, 30,  // 'S'
    31,  4,  4,  4,  4,  4,  4,  // 'T'
    17, 17, 17, 17, 17, 17, 14,  // 'U'
    17, 17, 17, 17, 17, 10,  4,  // 'V'
    17, 17, 17, 21, 21, 21, 10,  // 'W'
    17, 17, 10,  4, 10, 17, 17,  // 'X'
    17, 17, 10,  4,  4,  4,  4,  // 'Y'
    31,  1,  2,  4,  8, 16, 31,  // 'Z'
    14, 17, 19, 21, 25, 17, 14,  // '0'
     4, 12,  4,  4,  4,  4, 14,  // '1'
    14, 17,  1,  2,  4,  8, 31,  // '2'
    31,  2,  4,  2,  1, 17, 14,  // '3'
     2,  6, 10, 18, 31,  2,  2,  // '4'
    31, 16, 30,  1,  1, 17, 14,  // '5'
     6,  8, 16, 30, 17, 17, 14,  // '6'
    31,  1,  2,  4,  8,  8,  8,  // '7'
    14, 17, 17, 14, 17, 17, 14,  // '8'
    14, 17, 17, 15,  1,  2, 12,  // '9'
     0,  0,  0,  0,  0,  0,  0,  // ' '
     4,  4,  4,  4,  4,  0,  4,  // '!'
     0,  0,  0,  0,  0,  0,  4,  // '.'
     0,  0,  0, 31,  0,  0,  0   // '-'
);

// The messages, as glyph indices, with their start and length.
const int N_MESSAGES = 6;
const int MSG[36] = int[36](
    11, 20, 12, 4, 13,                  // LUMEN
    3, 17, 14, 15,                      // DROP
    7, 0, 13, 3, 18, 36, 20, 15, 37,    // HANDS UP!
    11, 14, 20, 3, 4, 17,               // LOUDER
    15, 0, 17, 19, 24,                  // PARTY
    22, 4, 11, 2, 14, 12, 4             // WELCOME
);
const int MSG_START[6] = int[6](0, 5, 9, 18, 24, 29);
const int MSG_LEN[6] = int[6](5, 4, 9, 6, 5, 7);

vec3 hue_rgb(float h) {
    vec3 k = clamp(abs(fract(h + vec3(0.0, 2.0 / 3.0, 1.0 / 3.0)) * 6.0 - 3.0) - 1.0, 0.0, 1.0);
    return k * k * (3.0 - 2.0 * k);
}

// Whether font pixel (x, row) of glyph `glyph` is lit; row 0 is the top row.
bool glyph_pixel(int glyph, int x, int row) {
    if (x < 0 || x > 4 || row < 0 || row > 6) return false;
    return ((FONT[glyph * 7 + row] >> (4 - x)) & 1) != 0;
}

// Hop of letter `ch` in cells: a rise-and-fall in the first third of its beat window; the
// windows are staggered along the word, so a wave runs through it on every beat.
float hop(int ch, float s) {
    float ph = fract(beat_phase - float(ch) * 0.06);
    float h = bounce * 1.5 * sin(PI * min(ph * 3.0, 1.0));
    return floor(h * s + 0.5) / s;  // whole screen pixels keep the edges crisp
}

void main() {
    int msg = clamp(message, 0, N_MESSAGES - 1);
    int len = MSG_LEN[msg];
    float text_w = float(len * 6 - 1);  // in cells
    vec2 size = RENDERSIZE;

    // Cell size in whole pixels: fit the word (or, when scrolling, the height) with a margin.
    float s = scroll ? floor(size.y * 0.6 / 7.0) : floor(min(size.x * 0.92 / text_w, size.y * 0.62 / 7.0));
    s = max(s, 1.0);
    vec2 origin = floor((size - vec2(text_w, 7.0) * s) * 0.5);
    vec2 cpos = (gl_FragCoord.xy - origin) / s;  // position in cells, y up
    if (scroll) {
        float period = max(text_w + 6.0, size.x / s + 1.0);
        float x0 = size.x / s;  // the text enters from the right edge
        cpos.x = mod(gl_FragCoord.x / s - x0 + TIME * scroll_speed * 8.0, period);
    }

    float flash = exp(-beat_phase * 4.0);
    float accent = exp(-bar_phase * 12.0);  // the downbeat: first part of the bar
    float gap = s >= 4.0 ? 0.08 : 0.0;       // LED-dot look only when dots are big enough

    // Each pixel looks at the 2x2 cells nearest to it in every column it may touch: the dot of
    // its own cell and the halo of those around, which reaches exactly one cell (so no lit
    // cell further away could contribute). Pixels far from the text skip the lookups.
    vec3 text = vec3(0.0);
    float halo = 0.0;
    vec3 halo_rgb = vec3(0.0);
    bool near_text = cpos.x > -1.0 && cpos.x < text_w + 1.0 && cpos.y > -1.0 && cpos.y < 8.0 + 1.5 * bounce;
    if (near_text) {
        int col0 = int(floor(cpos.x - 0.5));
        for (int dx = 0; dx <= 1; dx++) {
            int col = col0 + dx;
            if (col < 0) continue;
            int ch = col / 6;
            if (ch >= len) continue;
            float cy = cpos.y - hop(ch, s);
            int row0 = int(floor(cy - 0.5));
            int glyph = MSG[MSG_START[msg] + ch];
            vec3 c = hue_rgb(hue + hue_spread * (float(ch) + 0.5) / float(len) + 0.05 * sin(TAU * bar_phase));
            for (int dy = 0; dy <= 1; dy++) {
                int row_up = row0 + dy;  // 0 = bottom row of the glyph
                if (!glyph_pixel(glyph, col - ch * 6, 6 - row_up)) continue;
                vec2 d = vec2(cpos.x - (float(col) + 0.5), cy - (float(row_up) + 0.5));
                if (abs(d.x) <= 0.5 && abs(d.y) <= 0.5) {
                    // The dot itself: a rounded square filling the cell minus a small gap.
                    vec2 e = max(abs(d) - (0.5 - gap - 0.15), 0.0);
                    float inside = 1.0 - smoothstep(0.15 - 0.5 / s, 0.15 + 0.5 / s, length(e));
                    inside = gap > 0.0 ? inside : 1.0;
                    text = mix(c, vec3(1.0), 0.2 + 0.5 * accent) * inside * (0.6 + 0.25 * energy + 0.15 * flash);
                }
                float g = max(1.0 - dot(d, d), 0.0);
                g *= g;
                halo += g;
                halo_rgb += c * g;
            }
        }
    }
    halo_rgb /= max(halo, 1e-4);
    halo = min(halo, 1.5) / 1.5;

    vec2 uv = isf_FragNormCoord;
    vec3 bg = hue_rgb(hue + 0.5 + 0.15 * uv.x) * background * (0.05 + 0.08 * energy + 0.05 * bass) * (1.2 - 0.6 * uv.y);
    vec3 color = bg + halo_rgb * halo * glow * (0.25 + 0.35 * energy + 0.3 * flash);
    color = max(color, text);

    color = pow(clamp(color, 0.0, 1.0), vec3(2.2));
    gl_FragColor = vec4(color * brightness, 1.0);
}
