varying vec2 leftCoord;
varying vec2 rightCoord;

void main()	{
	isf_vertShaderInit();
	vec2 texel = vec2(1.0 / RENDERSIZE.x, 0.0);
	leftCoord = isf_FragNormCoord - texel;
	rightCoord = isf_FragNormCoord + texel;
}
