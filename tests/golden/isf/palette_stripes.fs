/*{
	"DESCRIPTION": "Vertical stripes colored from an imported palette image (test fixture for lumen's ISF loader)",
	"CREDIT": "lumen test suite",
	"ISFVSN": "2",
	"CATEGORIES": [
		"Generator"
	],
	"INPUTS": [
	],
	"IMPORTED": {
		"palette": {
			"PATH": "palette_4x2.png"
		}
	}
}*/

void main()	{
	vec2 size = IMG_SIZE(palette);
	// one stripe per palette column; the top half of the frame reads the palette's top row
	vec2 px = vec2(floor(isf_FragNormCoord.x * size.x) + 0.5, isf_FragNormCoord.y < 0.5 ? 0.5 : 1.5);
	gl_FragColor = IMG_PIXEL(palette, px);
}
