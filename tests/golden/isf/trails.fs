/*{
	"DESCRIPTION": "A dot walking one pixel per frame, leaving a fading trail in a persistent buffer (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Generator", "Feedback"
	],
	"INPUTS": [
		{
			"NAME": "decay",
			"TYPE": "float",
			"DEFAULT": 0.5,
			"MIN": 0.0,
			"MAX": 1.0
		}
	],
	"PASSES": [
		{
			"TARGET": "trailBuffer",
			"PERSISTENT": true,
			"FLOAT": true
		},
		{
		}
	]
}*/

void main()	{
	if (PASSINDEX == 0)	{
		vec4 previous = IMG_THIS_PIXEL(trailBuffer);
		float dotHere = (floor(gl_FragCoord.x) == float(FRAMEINDEX)) ? 1.0 : 0.0;
		gl_FragColor = vec4(max(previous.rgb * decay, vec3(dotHere)), 1.0);
	}
	else	{
		gl_FragColor = IMG_THIS_PIXEL(trailBuffer);
	}
}
