/*{"DESCRIPTION": "test filter: feedback trail (max of input and the faded last frame)",
  "INPUTS": [
    {"NAME": "inputImage", "TYPE": "image"},
    {"NAME": "decay", "TYPE": "float", "DEFAULT": 0.5}
  ],
  "PASSES": [{"TARGET": "trail", "PERSISTENT": true, "FLOAT": true}, {}]
}*/
void main() {
    vec4 c = IMG_THIS_PIXEL(inputImage);
    if (PASSINDEX == 0) {
        vec4 old = IMG_THIS_PIXEL(trail);
        gl_FragColor = vec4(max(c.rgb, old.rgb * decay), 1.0);
    } else {
        gl_FragColor = IMG_THIS_PIXEL(trail);
    }
}
