/*{
	"DESCRIPTION": "A soft spot at a movable point, optionally inverted (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Generator", "Utility"
	],
	"INPUTS": [
		{
			"NAME": "center",
			"TYPE": "point2D",
			"DEFAULT": [0.25, 0.75],
			"MIN": [0.0, 0.0],
			"MAX": [1.0, 1.0]
		},
		{
			"NAME": "radius",
			"TYPE": "float",
			"DEFAULT": 0.2,
			"MIN": 0.0,
			"MAX": 1.0
		},
		{
			"NAME": "invert",
			"TYPE": "bool",
			"DEFAULT": false
		}
	]
}*/

float spot(vec2 pt, vec2 c, float r)	{
	return 1.0 - smoothstep(r * 0.5, r, distance(pt, c));
}

void main()	{
	// pixel coordinates, as many ISF files compute them
	vec2 pt = gl_FragCoord.xy / RENDERSIZE.xy;
	float v = spot(pt, center, radius);
	if (invert)
		v = 1.0 - v;
	// flicker-free: TIME is read but only nudges the level a little
	v *= 0.95 + 0.05 * cos(TIME);
	gl_FragColor = vec4(v, v, v, 1.0);
}
