/*{
	"DESCRIPTION": "Brightness gain written in the old GLSL 1.x ISF style (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "1",
	"CATEGORIES": [
		"Color Effect"
	],
	"INPUTS": [
		{
			"NAME": "inputImage",
			"TYPE": "image"
		},
		{
			"NAME": "gain",
			"TYPE": "float",
			"DEFAULT": 0.5,
			"MIN": 0.0,
			"MAX": 2.0
		}
	]
}*/
#version 120

varying vec2 vv_FragNormCoord;
varying vec2 leftCoord;
uniform float gain;

void main()
{
	vec4 color = texture2D(inputImage, vv_FragNormCoord);
	gl_FragColor = vec4(color.rgb * gain, 1.0) + vec4(leftCoord * 0.0, 0.0, 0.0);
}
