/*{
	"DESCRIPTION": "FFT bars: one column per frequency bin, lit up to the bin's level (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Generator", "Audio Reactive"
	],
	"INPUTS": [
		{
			"NAME": "fftImage",
			"TYPE": "audioFFT"
		},
		{
			"NAME": "barColor",
			"TYPE": "color",
			"DEFAULT": [0.0, 1.0, 0.5, 1.0]
		}
	]
}*/

void main()	{
	vec2 size = IMG_SIZE(fftImage);
	float bin = floor(isf_FragNormCoord.x * size.x);
	float level = IMG_PIXEL(fftImage, vec2(bin + 0.5, 0.5)).r;
	float lit = isf_FragNormCoord.y < level ? 1.0 : 0.0;
	gl_FragColor = vec4(barColor.rgb * lit, 1.0);
}
