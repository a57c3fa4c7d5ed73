/*{
	"DESCRIPTION": "Concentric waves between two colors, written the way community ISF generators are (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Generator"
	],
	"INPUTS": [
		{
			"NAME": "speed",
			"TYPE": "float",
			"DEFAULT": 1.0,
			"MIN": 0.0,
			"MAX": 4.0
		},
		{
			"NAME": "color1",
			"TYPE": "color",
			"DEFAULT": [1.0, 0.2, 0.1, 1.0]
		},
		{
			"NAME": "color2",
			"TYPE": "color",
			"DEFAULT": [0.1, 0.3, 1.0, 1.0]
		},
		{
			"NAME": "rings",
			"TYPE": "long",
			"VALUES": [2, 4, 8],
			"LABELS": ["Few", "Some", "Many"],
			"DEFAULT": 4
		}
	]
}*/

void main()	{
	vec2 loc = isf_FragNormCoord - vec2(0.5);
	loc.x *= RENDERSIZE.x / RENDERSIZE.y;
	float d = length(loc);
	float wave = 0.5 + 0.5 * sin(d * float(rings) * 6.2831853 - TIME * speed * 3.0);
	gl_FragColor = mix(color1, color2, wave);
}
