/*{
    "DESCRIPTION": "lumen heavy: a deliberately expensive raymarched Mandelbulb (up to 96 march steps x 10 fractal iterations per pixel, plus a soft shadow march) for stress tests and benchmarks. Not meant for shows.",
    "CREDIT": "lumen",
    "ISFVSN": "2",
    "CATEGORIES": ["Generator", "Benchmark"],
    "INPUTS": [
        {"NAME": "power", "TYPE": "float", "DEFAULT": 8.0, "MIN": 2.0, "MAX": 12.0, "LABEL": "Fractal power"},
        {"NAME": "brightness", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 1.0, "LABEL": "Brightness"}
    ]
}*/

const int MARCH_STEPS = 96;
const int FRACTAL_ITERATIONS = 10;
const int SHADOW_STEPS = 24;

// Distance estimate to a Mandelbulb of the given power; `trap` returns an orbit trap for color.
float mandelbulb(vec3 pos, float pw, out float trap) {
    vec3 z = pos;
    float dr = 1.0;
    float r = 0.0;
    trap = 1e9;
    for (int i = 0; i < FRACTAL_ITERATIONS; i++) {
        r = length(z);
        if (r > 2.0) break;
        float theta = acos(clamp(z.z / r, -1.0, 1.0)) * pw;
        float phi = atan(z.y, z.x) * pw;
        dr = pow(r, pw - 1.0) * pw * dr + 1.0;
        z = pow(r, pw) * vec3(sin(theta) * cos(phi), sin(phi) * sin(theta), cos(theta)) + pos;
        trap = min(trap, dot(z, z));
    }
    return 0.5 * log(max(r, 1e-6)) * r / dr;
}

float scene(vec3 p, out float trap) {
    float pw = power + 0.5 * sin(TIME * 0.3) + 1.5 * bass;
    return mandelbulb(p, pw, trap);
}

vec3 normal_at(vec3 p) {
    float t;
    vec2 e = vec2(1e-3, 0.0);
    return normalize(vec3(
        scene(p + e.xyy, t) - scene(p - e.xyy, t),
        scene(p + e.yxy, t) - scene(p - e.yxy, t),
        scene(p + e.yyx, t) - scene(p - e.yyx, t)));
}

float soft_shadow(vec3 ro, vec3 rd) {
    float res = 1.0;
    float t = 0.02;
    float trap;
    for (int i = 0; i < SHADOW_STEPS; i++) {
        float h = scene(ro + rd * t, trap);
        res = min(res, 8.0 * h / t);
        t += clamp(h, 0.01, 0.2);
        if (res < 0.01 || t > 3.0) break;
    }
    return clamp(res, 0.0, 1.0);
}

void main() {
    vec2 uv = isf_FragNormCoord * 2.0 - 1.0;
    uv.x *= RENDERSIZE.x / max(RENDERSIZE.y, 1.0);

    float a = TIME * 0.2 + bar_phase * 6.28318530718 * 0.25;
    vec3 ro = vec3(2.6 * sin(a), 0.8 * sin(TIME * 0.13), 2.6 * cos(a));
    vec3 fw = normalize(-ro);
    vec3 rt = normalize(cross(vec3(0.0, 1.0, 0.0), fw));
    vec3 up = cross(fw, rt);
    vec3 rd = normalize(fw * 1.8 + uv.x * rt + uv.y * up);

    float t = 0.0;
    float trap = 0.0;
    bool hit = false;
    int steps = 0;
    for (int i = 0; i < MARCH_STEPS; i++) {
        float d = scene(ro + rd * t, trap);
        steps = i;
        if (d < 1e-3 * t) { hit = true; break; }
        t += d;
        if (t > 8.0) break;
    }

    vec3 color = vec3(0.02, 0.02, 0.05) + 0.05 * energy;
    if (hit) {
        vec3 p = ro + rd * t;
        vec3 n = normal_at(p);
        vec3 light = normalize(vec3(0.6, 0.8, -0.4));
        float diff = max(dot(n, light), 0.0) * soft_shadow(p + n * 2e-3, light);
        float ao = 1.0 - float(steps) / float(MARCH_STEPS);
        vec3 base = 0.5 + 0.5 * cos(vec3(0.0, 2.1, 4.2) + trap * 2.0 + bar_phase * 6.28318530718);
        color = base * (0.15 + 0.85 * diff) * ao;
    }
    gl_FragColor = vec4(color * brightness, 1.0);
}
