package pki

// CheckSigningChainWith exposes checkSigningChain to the external tests:
// CheckSigningChain with notation's check replaced.
var CheckSigningChainWith = checkSigningChain
