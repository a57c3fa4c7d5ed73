/*{"DESCRIPTION": "test: horizontal ramp 0..1 in red, vertical in green, blue = level", "INPUTS": [
  {"NAME": "level", "TYPE": "float", "DEFAULT": 0.5}
]}*/
void main() { gl_FragColor = vec4(isf_FragNormCoord.x, isf_FragNormCoord.y, level, 1.0); }
