/*{"DESCRIPTION": "test: a flat color", "INPUTS": [
  {"NAME": "color", "TYPE": "color", "DEFAULT": [1.0, 0.0, 0.0, 1.0]},
  {"NAME": "level", "TYPE": "float", "DEFAULT": 1.0}
]}*/
void main() { gl_FragColor = vec4(color.rgb * level, 1.0); }
