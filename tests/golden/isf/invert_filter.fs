/*{
	"DESCRIPTION": "Inverts the image below, by an amount (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Color Effect"
	],
	"INPUTS": [
		{
			"NAME": "inputImage",
			"TYPE": "image"
		},
		{
			"NAME": "amount",
			"TYPE": "float",
			"DEFAULT": 1.0,
			"MIN": 0.0,
			"MAX": 1.0
		}
	]
}*/

void main()	{
	vec4 src = IMG_THIS_PIXEL(inputImage);
	gl_FragColor = vec4(mix(src.rgb, 1.0 - src.rgb, amount), src.a);
}
