/*{"DESCRIPTION": "test filter: 1 - input", "INPUTS": [
  {"NAME": "inputImage", "TYPE": "image"},
  {"NAME": "amount", "TYPE": "float", "DEFAULT": 1.0}
]}*/
void main() {
    vec4 c = IMG_THIS_PIXEL(inputImage);
    gl_FragColor = vec4(mix(c.rgb, 1.0 - c.rgb, amount), 1.0);
}
