/*{
	"DESCRIPTION": "Horizontal gradient magnitude from neighbor coordinates computed in the vertex shader (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Stylize"
	],
	"INPUTS": [
		{
			"NAME": "inputImage",
			"TYPE": "image"
		},
		{
			"NAME": "gain",
			"TYPE": "float",
			"DEFAULT": 1.0,
			"MIN": 0.0,
			"MAX": 10.0
		}
	]
}*/

varying vec2 leftCoord;
varying vec2 rightCoord;

void main()	{
	vec4 left = IMG_NORM_PIXEL(inputImage, leftCoord);
	vec4 right = IMG_NORM_PIXEL(inputImage, rightCoord);
	gl_FragColor = vec4(abs(right.rgb - left.rgb) * gain, 1.0);
}
