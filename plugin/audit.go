package plugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrAudit: the audit log could not be written; the signature is withheld.
var ErrAudit = errors.New("audit log not written")

// maxAuditMessage caps the error text in one audit line.
const maxAuditMessage = 2048

// AuditRecord is one line of the audit log (pluginConfig audit_log): one
// per generate-signature request that got as far as a parsed pluginConfig,
// whether it succeeded or not. It never holds a PIN: the key URI is the
// parsed one, and pin-value is refused before a record exists.
type AuditRecord struct {
	Time string `json:"time"` // UTC, RFC 3339 with nanoseconds
	// KeyID is the key URI in canonical form; empty when the key id did
	// not parse (it is then not echoed, as it might be a PIN).
	KeyID   string `json:"keyId"`
	KeySpec string `json:"keySpec,omitempty"`
	// CertificateSHA256 is the hex SHA-256 fingerprint of the signing
	// certificate, once it was found.
	CertificateSHA256 string `json:"certificateSha256,omitempty"`
	// PayloadSHA256 is the hex SHA-256 of the payload notation sent (the
	// JWS signing input or the COSE Sig_structure).
	PayloadSHA256 string `json:"payloadSha256"`
	// TargetArtifact is read from the payload when it parses: the artifact
	// being signed.
	TargetArtifact *AuditTarget `json:"targetArtifact,omitempty"`
	Outcome        string       `json:"outcome"` // "success" or "failure"
	ErrorCode      string       `json:"errorCode,omitempty"`
	Error          string       `json:"error,omitempty"`
}

// AuditTarget is the Notary Project payload's targetArtifact descriptor.
type AuditTarget struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size,omitempty"`
}

func newAuditRecord(now time.Time, payload []byte) *AuditRecord {
	sum := sha256.Sum256(payload)
	return &AuditRecord{
		Time:           now.UTC().Format(time.RFC3339Nano),
		PayloadSHA256:  hex.EncodeToString(sum[:]),
		TargetArtifact: targetOf(payload),
	}
}

// appendAudit appends rec as one JSON line to path with a single write on
// a file opened O_APPEND (and held under an exclusive flock), so lines of
// concurrent signers never interleave. The file is created 0600; an
// existing file must be a regular file that group and others cannot write.
func appendAudit(path string, rec *AuditRecord) error {
	if len(rec.Error) > maxAuditMessage {
		rec.Error = rec.Error[:maxAuditMessage] + "..."
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	line = append(line, '\n')
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %s: %w; fix the audit_log path or its folder's permissions", ErrAudit, path, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAudit, path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrAudit, path)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o), so its lines could be forged; run: chmod 600 %s", ErrAudit, path, st.Mode().Perm(), path)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("%w: locking %s: %w", ErrAudit, path, err)
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAudit, path, err)
	}
	return nil
}

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
