package difftest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	notationsigner "github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Envelope media types.
const (
	mtJWS  = "application/jose+json"
	mtCOSE = "application/cose"
)

const payloadMediaType = "application/vnd.cncf.notary.payload.v1+json"

func formatName(mt string) string {
	if mt == mtCOSE {
		return "cose"
	}
	return "jws"
}

func schemeName(s signature.SigningScheme) string {
	if s == signature.SigningSchemeX509SigningAuthority {
		return "sa"
	}
	return "x509"
}

// The artifact every signature covers.
var (
	artifactDigest = digest.FromString("notation-pkcs11 difftest artifact manifest")
	artifactDesc   = ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    artifactDigest,
		Size:      1234,
	}
	// userMetadata is signed into the descriptor's annotations when a
	// signature carries metadata.
	userMetadata = map[string]string{"buildId": "101", "team": "blue"}
)

// chainKind is the certificate chain an envelope carries.
type chainKind string

const (
	chainFull        chainKind = "full"        // leaf, intermediate, root
	chainLeafRoot    chainKind = "leafRoot"    // leaf issued by the root, root
	chainSelf        chainKind = "selfSigned"  // one self-signed leaf
	chainShortLived  chainKind = "shortLived"  // leaf valid start-20d..start+2d, intermediate, root
	chainAnyEKU      chainKind = "anyEKU"      // leaf with anyExtendedKeyUsage (accepted)
	chainMultiOU     chainKind = "multiOU"     // leaf subject with two OUs
	chainNoState     chainKind = "noState"     // leaf subject without ST
	chainExpired     chainKind = "expiredLeaf" // leaf expired start-6h
	chainNotYetValid chainKind = "notYetValid" // leaf valid from start+6h
	chainOutOfOrder  chainKind = "outOfOrder"  // leaf, root, intermediate
	chainNoRoot      chainKind = "noRoot"      // leaf, intermediate
	chainWrongEKU    chainKind = "wrongEKU"    // leaf with serverAuth EKU
	chainCALeaf      chainKind = "caLeaf"      // leaf with CA:true
)

func (m *material) chain(k chainKind) []*x509.Certificate {
	switch k {
	case chainFull:
		return []*x509.Certificate{m.leaf, m.inter, m.root}
	case chainLeafRoot:
		return []*x509.Certificate{m.leafDirect, m.root}
	case chainSelf:
		return []*x509.Certificate{m.self}
	case chainShortLived:
		return []*x509.Certificate{m.shortLived, m.inter, m.root}
	case chainAnyEKU:
		return []*x509.Certificate{m.anyEKU, m.inter, m.root}
	case chainMultiOU:
		return []*x509.Certificate{m.multiOU, m.inter, m.root}
	case chainNoState:
		return []*x509.Certificate{m.noState, m.inter, m.root}
	case chainExpired:
		return []*x509.Certificate{m.expired, m.inter, m.root}
	case chainNotYetValid:
		return []*x509.Certificate{m.notYetValid, m.inter, m.root}
	case chainOutOfOrder:
		return []*x509.Certificate{m.leaf, m.root, m.inter}
	case chainNoRoot:
		return []*x509.Certificate{m.leaf, m.inter}
	case chainWrongEKU:
		return []*x509.Certificate{m.wrongEKU, m.inter, m.root}
	case chainCALeaf:
		return []*x509.Certificate{m.caLeaf, m.inter, m.root}
	}
	panic("unknown chain kind " + string(k))
}

// expiryKind is the signed expiry.
type expiryKind string

const (
	expiryNone    expiryKind = ""
	expiryFuture  expiryKind = "future"
	expiryExpired expiryKind = "expired"
)

// signAtKind is the signing time.
type signAtKind string

const (
	// signAtAuto: now, or inside the leaf's validity for an expired leaf,
	// or a day before expiry for an expired signature.
	signAtAuto signAtKind = ""
	// signAtPast: 2024-06-01, before every certificate here was valid.
	signAtPast signAtKind = "past"
	// signAtNow: now even when the leaf is expired or not yet valid.
	signAtNow signAtKind = "now"
)

// attrKind is an extended signed attribute.
type attrKind string

const (
	attrNone              attrKind = ""
	attrPluginCritical    attrKind = "pluginCritical"
	attrPluginNonCritical attrKind = "pluginNonCritical"
	attrPluginMinVersion  attrKind = "pluginMinVersion"
	attrPluginBadMin      attrKind = "pluginBadMinVersion"
	attrPluginEmpty       attrKind = "pluginEmptyName"
	attrPluginNonString   attrKind = "pluginNonString"
	attrMinVersionOnly    attrKind = "minVersionOnly"
	attrCustomCritical    attrKind = "customCritical"
	attrCustomNonCritical attrKind = "customNonCritical"
)

// payloadKind is the signed payload.
type payloadKind string

const (
	payloadNormal payloadKind = ""
	// payloadOtherType: a payload content type other than Notation's.
	payloadOtherType payloadKind = "otherContentType"
	// payloadBadTarget: targetArtifact is not an object.
	payloadBadTarget payloadKind = "targetNotObject"
	// payloadNoTarget: no targetArtifact at all.
	payloadNoTarget payloadKind = "noTarget"
	// payloadExtra: unknown members around and inside targetArtifact.
	payloadExtra payloadKind = "extraMembers"
)

func (a attrKind) attributes() []signature.Attribute {
	const plugin = "io.cncf.notary.verificationPlugin"
	const minVer = "io.cncf.notary.verificationPluginMinVersion"
	switch a {
	case attrPluginCritical:
		return []signature.Attribute{{Key: plugin, Critical: true, Value: "com.example.verifier"}}
	case attrPluginNonCritical:
		return []signature.Attribute{{Key: plugin, Critical: false, Value: "com.example.verifier"}}
	case attrPluginMinVersion:
		return []signature.Attribute{{Key: plugin, Critical: true, Value: "com.example.verifier"}, {Key: minVer, Critical: true, Value: "1.0.0"}}
	case attrPluginBadMin:
		return []signature.Attribute{{Key: plugin, Critical: true, Value: "com.example.verifier"}, {Key: minVer, Critical: true, Value: "v1.x"}}
	case attrPluginEmpty:
		return []signature.Attribute{{Key: plugin, Critical: true, Value: "  "}}
	case attrPluginNonString:
		return []signature.Attribute{{Key: plugin, Critical: true, Value: 7}}
	case attrMinVersionOnly:
		return []signature.Attribute{{Key: minVer, Critical: true, Value: "1.0.0"}}
	case attrCustomCritical:
		return []signature.Attribute{{Key: "io.example.custom", Critical: true, Value: "x"}}
	case attrCustomNonCritical:
		return []signature.Attribute{{Key: "io.example.custom", Critical: false, Value: "x"}}
	}
	return nil
}

// sigSpec is the recipe of one envelope. Envelopes are cached by recipe and
// verified under many policies.
type sigSpec struct {
	mt     string
	scheme signature.SigningScheme
	kt     string
	chain  chainKind
	expiry expiryKind
	signAt signAtKind
	ts     tsKind
	attr   attrKind
	meta   bool // sign userMetadata into the descriptor's annotations
	pl     payloadKind
}

func (s sigSpec) String() string {
	n := fmt.Sprintf("%s/%s/%s/%s", formatName(s.mt), schemeName(s.scheme), s.kt, s.chain)
	if s.expiry != "" {
		n += "/sigExp=" + string(s.expiry)
	}
	if s.signAt != "" {
		n += "/signAt=" + string(s.signAt)
	}
	if s.ts != "" {
		n += "/ts=" + string(s.ts)
	}
	if s.attr != "" {
		n += "/attr=" + string(s.attr)
	}
	if s.meta {
		n += "/meta"
	}
	if s.pl != "" {
		n += "/payload=" + string(s.pl)
	}
	return n
}

// signingTime returns the signing time of the recipe.
func (s sigSpec) signingTime(m *material) time.Time {
	t := start
	switch s.signAt {
	case signAtPast:
		t = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	case signAtNow:
	default:
		switch {
		case s.chain == chainExpired:
			t = start.Add(-10 * 24 * time.Hour)
		case s.expiry == expiryExpired:
			t = start.Add(-48 * time.Hour)
		}
	}
	return t.Truncate(time.Second)
}

// viaNotation reports whether notation-go's own signer can make the
// envelope: notary.x509, a chain valid now, no extended attribute, no
// expired signature, signing time now.
func (s sigSpec) viaNotation() bool {
	if s.scheme != signature.SigningSchemeX509 || s.attr != attrNone || s.expiry == expiryExpired || s.signAt != signAtAuto || s.pl != payloadNormal {
		return false
	}
	switch s.chain {
	case chainFull, chainLeafRoot, chainSelf, chainShortLived, chainAnyEKU, chainMultiOU, chainNoState:
	default:
		return false
	}
	switch s.ts {
	case tsNone, tsGood:
		return true
	}
	return false
}

type envelope struct {
	raw   []byte
	chain []*x509.Certificate
	how   string // "notation-go signer", "core-go", "core-go raw (bypassing sign-time checks)"
	st    time.Time
}

var (
	envMu    sync.Mutex
	envCache = map[sigSpec]*envEntry{}
)

type envEntry struct {
	once sync.Once
	env  *envelope
	err  error
}

// signed returns the envelope of a recipe, signing it once (also when
// parallel cases ask for it at the same time).
func signed(t testing.TB, s sigSpec) *envelope {
	envMu.Lock()
	e, ok := envCache[s]
	if !ok {
		e = &envEntry{}
		envCache[s] = e
	}
	envMu.Unlock()
	e.once.Do(func() { e.env, e.err = sign(t, s) })
	if e.err != nil {
		t.Fatalf("signing %s: %v", s, e.err)
	}
	return e.env
}

func (s sigSpec) descriptor() ocispec.Descriptor {
	d := artifactDesc
	if s.meta {
		d.Annotations = userMetadata
	}
	return d
}

func sign(t testing.TB, s sigSpec) (*envelope, error) {
	m := keyMaterial(t, s.kt)
	chain := m.chain(s.chain)
	ctx := context.Background()
	desc := s.descriptor()
	st := s.signingTime(m)
	tsr, roots, err := timestamper(t, s, m, st)
	if err != nil {
		return nil, err
	}
	if s.viaNotation() {
		gs, err := notationsigner.NewGenericSigner(m.leafKey, chain)
		if err != nil {
			return nil, err
		}
		opts := notation.SignerSignOptions{SignatureMediaType: s.mt, SigningAgent: "notation-pkcs11-difftest/1.0"}
		if s.expiry == expiryFuture {
			opts.ExpiryDuration = 30 * 24 * time.Hour
		}
		if tsr != nil {
			opts.Timestamper, opts.TSARootCAs = tsr, roots
		}
		raw, si, err := gs.Sign(ctx, desc, opts)
		if err != nil {
			return nil, err
		}
		return &envelope{raw: raw, chain: chain, how: "notation-go signer", st: si.SignedAttributes.SigningTime}, nil
	}

	target := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Annotations: desc.Annotations}
	var body any = map[string]any{"targetArtifact": target}
	contentType := payloadMediaType
	switch s.pl {
	case payloadOtherType:
		contentType = "application/vnd.example.payload+json"
	case payloadBadTarget:
		body = map[string]any{"targetArtifact": 42}
	case payloadNoTarget:
		body = map[string]any{"subject": target}
	case payloadExtra:
		target.URLs = []string{"https://registry.example/blob"}
		target.ArtifactType = "application/vnd.example.thing"
		body = map[string]any{"targetArtifact": target, "comment": "extra member"}
	}
	content, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ls, err := signature.NewLocalSigner(chain, m.leafKey)
	if err != nil {
		return nil, err
	}
	req := &signature.SignRequest{
		Payload:                  signature.Payload{ContentType: contentType, Content: content},
		Signer:                   ls,
		SigningTime:              st,
		SigningScheme:            s.scheme,
		SigningAgent:             "notation-pkcs11-difftest/1.0",
		ExtendedSignedAttributes: s.attr.attributes(),
	}
	switch s.expiry {
	case expiryFuture:
		req.Expiry = st.Add(30 * 24 * time.Hour)
	case expiryExpired:
		req.Expiry = st.Add(24 * time.Hour)
	}
	if tsr != nil {
		req.Timestamper, req.TSARootCAs = tsr, roots
	}
	env, err := signature.NewEnvelope(s.mt)
	if err != nil {
		return nil, err
	}
	how := "core-go"
	raw, err := env.Sign(req)
	if err != nil {
		// notation-core-go refuses to sign with a chain that breaks the
		// rules at the signing time. Its format-specific envelope, which
		// the common envelope wraps, does not check: sign with it to get
		// the bytes a broken or hostile signer would produce.
		inner := innerEnvelope(env)
		if inner == nil {
			return nil, fmt.Errorf("core-go sign: %w (and no inner envelope to bypass it)", err)
		}
		var err2 error
		if raw, err2 = inner.Sign(req); err2 != nil {
			return nil, fmt.Errorf("core-go sign: %v; raw sign: %w", err, err2)
		}
		how = "core-go raw"
	}
	if s.tsAttached() {
		if raw, err = attachTimestamp(t, s, m, st, raw); err != nil {
			return nil, fmt.Errorf("attach timestamp: %w", err)
		}
		how += " + attached timestamp"
	}
	return &envelope{raw: raw, chain: chain, how: how, st: st}, nil
}

// innerEnvelope returns the format envelope inside notation-core-go's common
// envelope (its exported embedded field Envelope).
func innerEnvelope(env signature.Envelope) signature.Envelope {
	v := reflect.ValueOf(env)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("Envelope")
	if !f.IsValid() || !f.CanInterface() {
		return nil
	}
	inner, _ := f.Interface().(signature.Envelope)
	return inner
}
