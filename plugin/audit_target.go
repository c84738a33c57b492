package plugin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
)

// targetOf reads the targetArtifact from a Notary Project payload as
// notation sends it to be signed: a JWS signing input
// (BASE64URL(header).BASE64URL(payload)) or a COSE Sig_structure
// (["Signature1", protected, external_aad, payload]). It returns nil when
// the payload is neither.
func targetOf(payload []byte) *AuditTarget {
	var body []byte
	if len(payload) > 0 && payload[0] == 0x84 { // CBOR array of 4
		body = coseSigStructurePayload(payload)
	} else if i := bytes.IndexByte(payload, '.'); i > 0 {
		body, _ = base64.RawURLEncoding.DecodeString(string(payload[i+1:]))
	}
	if body == nil {
		return nil
	}
	var p struct {
		TargetArtifact *AuditTarget `json:"targetArtifact"`
	}
	if json.Unmarshal(body, &p) != nil || p.TargetArtifact == nil || p.TargetArtifact.Digest == "" {
		return nil
	}
	return p.TargetArtifact
}

// coseSigStructurePayload returns the fourth element of a CBOR
// Sig_structure, or nil if b is not ["Signature1", bstr, bstr, bstr].
func coseSigStructurePayload(b []byte) []byte {
	b = b[1:]
	ctx, rest, ok := cborItem(b, 3) // text string
	if !ok || string(ctx) != "Signature1" {
		return nil
	}
	var item []byte
	for i := 0; i < 3; i++ {
		if item, rest, ok = cborItem(rest, 2); !ok { // byte strings
			return nil
		}
	}
	if len(rest) != 0 {
		return nil
	}
	return item
}

// cborItem reads one definite-length CBOR string of the given major type.
func cborItem(b []byte, major byte) (val, rest []byte, ok bool) {
	if len(b) == 0 || b[0]>>5 != major {
		return nil, nil, false
	}
	info := b[0] & 0x1f
	b = b[1:]
	var n uint64
	switch {
	case info < 24:
		n = uint64(info)
	case info >= 24 && info <= 27:
		size := 1 << (info - 24)
		if len(b) < size {
			return nil, nil, false
		}
		for _, c := range b[:size] {
			n = n<<8 | uint64(c)
		}
		b = b[size:]
	default:
		return nil, nil, false
	}
	if n > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}
