/*{
	"DESCRIPTION": "Two-pass box blur: horizontal into a half-size buffer, then vertical (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Blur"
	],
	"INPUTS": [
		{
			"NAME": "inputImage",
			"TYPE": "image"
		},
		{
			"NAME": "radius",
			"TYPE": "float",
			"DEFAULT": 2.0,
			"MIN": 0.0,
			"MAX": 8.0
		}
	],
	"PASSES": [
		{
			"TARGET": "halfBlur",
			"WIDTH": "floor($WIDTH/2)",
			"HEIGHT": "$HEIGHT/2"
		},
		{
		}
	]
}*/

// 9 taps spread over +-radius pixels of the texture being read
vec4 boxBlur(sampler2D img, vec2 uv, vec2 dir)	{
	vec2 texel = dir / IMG_SIZE(img);
	vec4 sum = vec4(0.0);
	for (int i = -4; i <= 4; ++i)	{
		sum += IMG_NORM_PIXEL(img, uv + texel * radius * float(i) / 4.0);
	}
	return sum / 9.0;
}

void main()	{
	if (PASSINDEX == 0)	{
		gl_FragColor = boxBlur(inputImage, isf_FragNormCoord, vec2(1.0, 0.0));
	}
	else	{
		gl_FragColor = boxBlur(halfBlur, isf_FragNormCoord, vec2(0.0, 1.0));
	}
}
