package difftest

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/notaryproject/notation-core-go/signature"
	ntrustpolicy "github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	repo      = "registry.example/app/img"
	otherRepo = "registry.example/other/img"
)

var (
	x509Scheme = signature.SigningSchemeX509
	saScheme   = signature.SigningSchemeX509SigningAuthority
	// mainKeyTypes rotate through most cases; every key type is in the
	// baseline matrix.
	mainKeyTypes = []string{"ec-256", "ec-384", "rsa-3072"}
)

// Symbolic trusted identities, resolved against the signing leaf.
const (
	idAny        = "*"
	idExact      = "exact"       // x509.subject: the leaf's whole subject
	idSubset     = "subset"      // C, ST, O only
	idWithCN     = "subsetCN"    // C, ST, O, CN
	idNonMatch   = "nonMatch"    // another O
	idNonX509    = "nonX509"     // a plugin identity only
	idUpper      = "upperPrefix" // X509.SUBJECT: (not notation's prefix)
	idLowerAttrs = "lowerAttrs"  // c=, st=, o= (attribute types are case-sensitive)
	idSemicolon  = "semicolons"  // ; as separator
	idSAlias     = "sAlias"      // S= for ST=
	idEqHash     = "eqHash"      // a value with =# (rejected by notation)
)

func resolveIdentity(id string, leaf *x509.Certificate) string {
	const org = "Notation PKCS11 Test"
	switch id {
	case idAny:
		return "*"
	case idExact:
		return "x509.subject:" + leaf.Subject.String()
	case idSubset:
		return "x509.subject:C=US,ST=WA,O=" + org
	case idWithCN:
		return "x509.subject:C=US, ST=WA, O=" + org + ", CN=" + leaf.Subject.CommonName
	case idNonMatch:
		return "x509.subject:C=US,ST=WA,O=Someone Else"
	case idNonX509:
		return "kms.example:key-1"
	case idUpper:
		return "X509.SUBJECT:C=US,ST=WA,O=" + org
	case idLowerAttrs:
		return "x509.subject:c=US,st=WA,o=" + org
	case idSemicolon:
		return "x509.subject:C=US;ST=WA;O=" + org
	case idSAlias:
		return "x509.subject:C=US,S=WA,O=" + org
	case idEqHash:
		return "x509.subject:C=US,ST=WA,O=#4142"
	}
	panic("unknown identity " + id)
}

// stmtSpec is one trust policy statement.
type stmtSpec struct {
	name     string
	scopes   []string
	level    string
	override map[string]string
	vts      string
	// stores nil means the scheme's default store (ca:roots or
	// signingAuthority:sa); ids nil means "*". Both are left empty for
	// level skip.
	stores []string
	ids    []string
}

func (s stmtSpec) summary() string {
	var b strings.Builder
	b.WriteString(s.level)
	for _, k := range slices.Sorted(maps.Keys(s.override)) {
		fmt.Fprintf(&b, "+%s:%s", k, s.override[k])
	}
	if s.vts != "" {
		b.WriteString(",vts=" + s.vts)
	}
	if s.stores != nil {
		b.WriteString(",stores=" + strings.Join(s.stores, "|"))
	}
	if s.ids != nil {
		b.WriteString(",ids=" + strings.Join(s.ids, "|"))
	}
	return b.String()
}

// corruptKind damages the envelope bytes or their media type.
type corruptKind string

const (
	corruptNone      corruptKind = ""
	corruptTruncate  corruptKind = "truncated"
	corruptGarbage   corruptKind = "garbage"
	corruptEmpty     corruptKind = "empty"
	corruptSignature corruptKind = "signatureByte"
	corruptPayload   corruptKind = "payloadByte"
	corruptSwapMT    corruptKind = "otherFormatMediaType" // verified as the other format
	corruptUnknownMT corruptKind = "unknownMediaType"
)

// descKind is the descriptor verification is asked about.
type descKind string

const (
	descSame      descKind = ""
	descDigest    descKind = "digest"
	descSize      descKind = "size"
	descMediaType descKind = "mediaType"
	descAnnot     descKind = "annotationsOnly" // same digest, size, type; other annotations
)

// metaKind is the user metadata verification requires.
type metaKind string

const (
	metaNone     metaKind = ""
	metaEmpty    metaKind = "emptyMap"
	metaMatch    metaKind = "match"
	metaSubset   metaKind = "matchOne"
	metaWrongVal metaKind = "wrongValue"
	metaMissing  metaKind = "missingKey"
)

// refKind is the artifact reference.
type refKind string

const (
	refRepo      refKind = ""          // repo@digest
	refOther     refKind = "otherRepo" // otherRepo@digest
	refTag       refKind = "tagOnly"   // repo:v1 (no digest)
	refUpperRepo refKind = "upperCaseRepo"
)

type tcase struct {
	group   string
	sig     sigSpec
	corrupt corruptKind
	stmts   []stmtSpec
	ref     refKind
	desc    descKind
	meta    metaKind
	rev     revSpec
	name    string
}

func (c *tcase) computeName() string {
	parts := []string{c.group, c.sig.String()}
	for i, s := range c.stmts {
		scope := "repo"
		switch {
		case slices.Equal(s.scopes, []string{"*"}):
			scope = "*"
		case len(s.scopes) == 1 && s.scopes[0] != repo:
			scope = s.scopes[0]
		}
		parts = append(parts, fmt.Sprintf("p%d[%s:%s]", i, scope, s.summary()))
	}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("corrupt", string(c.corrupt))
	add("ref", string(c.ref))
	add("desc", string(c.desc))
	add("meta", string(c.meta))
	add("rev", string(c.rev.sign))
	add("tsaRev", string(c.rev.tsa))
	return strings.ReplaceAll(strings.Join(parts, ","), "/", ".")
}

// dims lists the case's values along every dimension, for the counts the
// suite logs.
func (c *tcase) dims() [][2]string {
	d := [][2]string{
		{"group", c.group},
		{"format", formatName(c.sig.mt)},
		{"scheme", schemeName(c.sig.scheme)},
		{"keyType", c.sig.kt},
		{"chain", string(c.sig.chain)},
		{"sigExpiry", or(string(c.sig.expiry), "none")},
		{"signingTime", or(string(c.sig.signAt), "auto")},
		{"timestamp", or(string(c.sig.ts), "none")},
		{"extendedAttr", or(string(c.sig.attr), "none")},
		{"payload", or(string(c.sig.pl), "normal")},
		{"corrupt", or(string(c.corrupt), "none")},
		{"reference", or(string(c.ref), "repo@digest")},
		{"descriptor", or(string(c.desc), "same")},
		{"userMetadata", or(string(c.meta), "none")},
		{"revocation", or(string(c.rev.sign), "ok")},
		{"tsaRevocation", or(string(c.rev.tsa), "ok")},
		{"statements", fmt.Sprint(len(c.stmts))},
	}
	if c.sig.meta {
		d = append(d, [2]string{"signedMetadata", "yes"})
	}
	for _, s := range c.stmts {
		d = append(d, [2]string{"level", s.level})
		if len(s.override) == 0 {
			d = append(d, [2]string{"override", "none"})
		}
		for k, v := range s.override {
			d = append(d, [2]string{"override", k + "=" + v})
		}
		d = append(d, [2]string{"verifyTimestamp", or(s.vts, "unset")})
		for _, st := range s.stores {
			d = append(d, [2]string{"trustStore", st})
		}
		if s.stores == nil && s.level != "skip" {
			d = append(d, [2]string{"trustStore", "default"})
		}
		for _, id := range s.ids {
			d = append(d, [2]string{"identity", id})
		}
		if s.ids == nil && s.level != "skip" {
			d = append(d, [2]string{"identity", "*"})
		}
		if slices.Contains(s.scopes, "*") {
			d = append(d, [2]string{"scope", "*"})
		} else {
			d = append(d, [2]string{"scope", "exact"})
		}
	}
	return d
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// standardStores are the trust stores every case has, for its key type. A
// policy chooses among them by name; "*:missing" names none.
func standardStores(t testing.TB, m *material) stores {
	storesMu.Lock()
	defer storesMu.Unlock()
	if s, ok := storesCache[m.kt]; ok {
		return s
	}
	tsaGood, _ := tsaRoots(t)
	other := otherRoot(t)
	s := stores{
		"ca:roots":               {m.root},
		"ca:inter":               {m.inter},
		"ca:other":               {other},
		"ca:both":                {other, m.root},
		"ca:self":                {m.self},
		"ca:empty":               {},
		"signingAuthority:sa":    {m.root},
		"signingAuthority:inter": {m.inter},
		"signingAuthority:other": {other},
		"signingAuthority:self":  {m.self},
		"tsa:tsa":                {tsaGood},
		"tsa:wrong":              {other},
		"tsa:empty":              {},
	}
	storesCache[m.kt] = s
	return s
}

// The stores of a key type are built once and never modified.
var (
	storesMu    sync.Mutex
	storesCache = map[string]stores{}
)

// build turns a case into the verifiers' input.
func (c *tcase) build(t testing.TB) *input {
	m := keyMaterial(t, c.sig.kt)
	env := signed(t, c.sig)
	in := &input{
		stores:    standardStores(t, m),
		rev:       c.rev,
		envelope:  corrupt(t, c.corrupt, c.sig.mt, env.raw),
		mediaType: c.sig.mt,
		reference: repo + "@" + artifactDigest.String(),
		desc:      artifactDesc,
	}
	switch c.corrupt {
	case corruptSwapMT:
		in.mediaType = mtCOSE
		if c.sig.mt == mtCOSE {
			in.mediaType = mtJWS
		}
	case corruptUnknownMT:
		in.mediaType = "application/vnd.example.signature+json"
	}
	switch c.ref {
	case refOther:
		in.reference = otherRepo + "@" + artifactDigest.String()
	case refTag:
		in.reference = repo + ":v1"
	case refUpperRepo:
		in.reference = "registry.example/App/img@" + artifactDigest.String()
	}
	switch c.desc {
	case descDigest:
		in.desc.Digest = digest.FromString("another manifest")
	case descSize:
		in.desc.Size++
	case descMediaType:
		in.desc.MediaType = ocispec.MediaTypeImageIndex
	case descAnnot:
		in.desc.Annotations = map[string]string{"unsigned": "annotation"}
	}
	switch c.meta {
	case metaEmpty:
		in.userMetadata = map[string]string{}
	case metaMatch:
		in.userMetadata = maps.Clone(userMetadata)
	case metaSubset:
		in.userMetadata = map[string]string{"team": "blue"}
	case metaWrongVal:
		in.userMetadata = map[string]string{"team": "red"}
	case metaMissing:
		in.userMetadata = map[string]string{"approvedBy": "alice"}
	}
	doc := &ntrustpolicy.Document{Version: "1.0"}
	for _, s := range c.stmts {
		tp := ntrustpolicy.TrustPolicy{
			Name:           s.name,
			RegistryScopes: s.scopes,
			SignatureVerification: ntrustpolicy.SignatureVerification{
				VerificationLevel: s.level,
				VerifyTimestamp:   ntrustpolicy.TimestampOption(s.vts),
			},
		}
		if len(s.override) > 0 {
			tp.SignatureVerification.Override = map[ntrustpolicy.ValidationType]ntrustpolicy.ValidationAction{}
			for k, v := range s.override {
				tp.SignatureVerification.Override[ntrustpolicy.ValidationType(k)] = ntrustpolicy.ValidationAction(v)
			}
		}
		if s.level != "skip" {
			tp.TrustStores = s.stores
			if tp.TrustStores == nil {
				tp.TrustStores = []string{"ca:roots"}
				if c.sig.scheme == saScheme {
					tp.TrustStores = []string{"signingAuthority:sa"}
				}
			}
			ids := s.ids
			if ids == nil {
				ids = []string{idAny}
			}
			for _, id := range ids {
				tp.TrustedIdentities = append(tp.TrustedIdentities, resolveIdentity(id, env.chain[0]))
			}
		}
		doc.TrustPolicies = append(doc.TrustPolicies, tp)
	}
	// A deep copy through JSON, so nothing the oracle does to its document
	// can reach ours.
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	in.doc = &ntrustpolicy.Document{}
	if err := json.Unmarshal(b, in.doc); err != nil {
		t.Fatal(err)
	}
	return in
}

// corrupt damages envelope bytes.
func corrupt(t testing.TB, k corruptKind, mt string, raw []byte) []byte {
	out := slices.Clone(raw)
	switch k {
	case corruptTruncate:
		return out[:len(out)/2]
	case corruptGarbage:
		return []byte("this is not a signature envelope")
	case corruptEmpty:
		return []byte{}
	case corruptSignature:
		if mt == mtJWS {
			return jwsEdit(t, out, "signature")
		}
		// The COSE signature is the last byte string of the message.
		out[len(out)-1] ^= 0x01
		return out
	case corruptPayload:
		if mt == mtJWS {
			return jwsEdit(t, out, "payload")
		}
		// The payload is the JSON text: change a digit of the size.
		i := strings.Index(string(out), `"size":`)
		if i < 0 {
			t.Fatal("no size in the COSE payload")
		}
		out[i+len(`"size":`)] ^= 0x01
		return out
	}
	return out
}

// jwsEdit changes one base64url character of a JWS member.
func jwsEdit(t testing.TB, raw []byte, member string) []byte {
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	s, _ := env[member].(string)
	if len(s) < 8 {
		t.Fatalf("JWS member %s is too short", member)
	}
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	env[member] = string(b)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// generator builds the case list, deduplicated by name.
type generator struct {
	cases []*tcase
	seen  map[string]bool
	n     int
}

func (g *generator) add(c *tcase) {
	if c.sig.kt == "" {
		c.sig.kt = g.kt()
	}
	if c.sig.mt == "" {
		c.sig.mt = mtJWS
	}
	if c.sig.scheme == "" {
		c.sig.scheme = x509Scheme
	}
	if c.sig.chain == "" {
		c.sig.chain = chainFull
	}
	if c.stmts == nil {
		c.stmts = []stmtSpec{main("strict")}
	}
	for i := range c.stmts {
		if c.stmts[i].name == "" {
			c.stmts[i].name = fmt.Sprintf("policy-%d", i)
		}
		if c.stmts[i].scopes == nil {
			c.stmts[i].scopes = []string{repo}
		}
	}
	c.name = c.computeName()
	if g.seen[c.name] {
		return
	}
	g.seen[c.name] = true
	g.cases = append(g.cases, c)
}

// kt rotates through the main key types.
func (g *generator) kt() string {
	g.n++
	return mainKeyTypes[g.n%len(mainKeyTypes)]
}

func main(level string) stmtSpec { return stmtSpec{name: "main", scopes: []string{repo}, level: level} }

func withOverride(s stmtSpec, kv ...string) stmtSpec {
	s.override = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		s.override[kv[i]] = kv[i+1]
	}
	return s
}

func withStores(s stmtSpec, stores ...string) stmtSpec { s.stores = stores; return s }
func withIDs(s stmtSpec, ids ...string) stmtSpec       { s.ids = ids; return s }
func withVTS(s stmtSpec, vts string) stmtSpec          { s.vts = vts; return s }

var (
	formats  = []string{mtJWS, mtCOSE}
	schemes  = []signature.SigningScheme{x509Scheme, saScheme}
	levels4  = []string{"strict", "permissive", "audit", "skip"}
	levelsSA = []string{"strict", "audit"}
)

// generateCases is the whole case space.
func generateCases() []*tcase {
	g := &generator{seen: map[string]bool{}}

	// 1. Baseline: every format, scheme, key type and level, good signature.
	// strict for every key type, format and scheme; every other level for
	// every format and scheme, with rotating key types.
	for _, kt := range []string{"ec-256", "ec-384", "ec-521", "rsa-2048", "rsa-3072", "rsa-4096"} {
		for _, mt := range formats {
			for _, sc := range schemes {
				g.add(&tcase{group: "baseline", sig: sigSpec{mt: mt, scheme: sc, kt: kt}, stmts: []stmtSpec{main("strict")}})
			}
		}
	}
	for _, lv := range levels4[1:] {
		for _, mt := range formats {
			for _, sc := range schemes {
				g.add(&tcase{group: "baseline", sig: sigSpec{mt: mt, scheme: sc}, stmts: []stmtSpec{main(lv)}})
			}
		}
	}
	// Signed expiry in the future, signed user metadata: still verified.
	for _, mt := range formats {
		for _, sc := range schemes {
			g.add(&tcase{group: "baseline", sig: sigSpec{mt: mt, scheme: sc, expiry: expiryFuture}})
			g.add(&tcase{group: "baseline", sig: sigSpec{mt: mt, scheme: sc, meta: true}})
		}
	}

	// 2. Chains and trust stores.
	type chainStore struct {
		chain  chainKind
		stores []string
	}
	x509Chains := []chainStore{
		{chainFull, []string{"ca:roots"}},
		{chainFull, []string{"ca:inter"}}, // pinning the intermediate
		{chainFull, []string{"ca:other"}}, // untrusted root
		{chainFull, []string{"ca:both"}},
		{chainFull, []string{"ca:other", "ca:inter"}},
		{chainFull, []string{"ca:roots", "ca:roots"}}, // duplicate entry
		{chainLeafRoot, []string{"ca:roots"}},
		{chainLeafRoot, []string{"ca:inter"}}, // intermediate not in the chain
		{chainSelf, []string{"ca:self"}},
		{chainSelf, []string{"ca:roots"}},
		{chainShortLived, []string{"ca:roots"}},
		{chainAnyEKU, []string{"ca:roots"}},
		{chainOutOfOrder, []string{"ca:roots"}},
		{chainNoRoot, []string{"ca:roots"}},
		{chainNoRoot, []string{"ca:inter"}},
		{chainWrongEKU, []string{"ca:roots"}},
		{chainCALeaf, []string{"ca:roots"}},
	}
	for i, cs := range x509Chains {
		for _, mt := range formats {
			g.add(&tcase{group: "chain", sig: sigSpec{mt: mt, chain: cs.chain}, stmts: []stmtSpec{withStores(main("strict"), cs.stores...)}})
		}
		// audit logs authenticity failures; integrity stays enforced.
		if i%2 == 1 {
			continue
		}
		g.add(&tcase{group: "chain", sig: sigSpec{mt: formats[i%2], chain: cs.chain}, stmts: []stmtSpec{withStores(main("audit"), cs.stores...)}})
	}
	saChains := []chainStore{
		{chainFull, []string{"signingAuthority:inter"}},
		{chainFull, []string{"signingAuthority:other"}},
		{chainSelf, []string{"signingAuthority:self"}},
		{chainLeafRoot, []string{"signingAuthority:sa"}},
		{chainOutOfOrder, []string{"signingAuthority:sa"}},
		{chainWrongEKU, []string{"signingAuthority:sa"}},
	}
	for _, cs := range saChains {
		for _, mt := range formats {
			g.add(&tcase{group: "chain", sig: sigSpec{mt: mt, scheme: saScheme, chain: cs.chain}, stmts: []stmtSpec{withStores(main("strict"), cs.stores...)}})
		}
	}
	// Authenticity overrides with an untrusted root.
	for _, mt := range formats {
		for _, s := range []stmtSpec{
			withOverride(main("strict"), "authenticity", "log"),
			withOverride(main("audit"), "authenticity", "enforce"),
			withOverride(main("permissive"), "authenticity", "log"),
		} {
			g.add(&tcase{group: "chain", sig: sigSpec{mt: mt}, stmts: []stmtSpec{withStores(s, "ca:other")}})
			g.add(&tcase{group: "chain", sig: sigSpec{mt: mt, scheme: saScheme}, stmts: []stmtSpec{withStores(s, "signingAuthority:other")}})
		}
	}

	// 3. Trusted identities.
	for _, mt := range formats {
		for _, ids := range [][]string{
			{idAny}, {idExact}, {idSubset}, {idWithCN}, {idNonMatch}, {idNonX509},
			{idUpper}, {idLowerAttrs}, {idSemicolon}, {idSAlias}, {idEqHash},
			{idNonMatch, idSubset}, {idNonX509, idExact}, {idNonX509, idNonMatch},
		} {
			if mt == mtCOSE && len(ids) == 1 && (ids[0] == idUpper || ids[0] == idLowerAttrs || ids[0] == idSemicolon || ids[0] == idSAlias || ids[0] == idEqHash) {
				continue
			}
			g.add(&tcase{group: "identity", sig: sigSpec{mt: mt}, stmts: []stmtSpec{withIDs(main("strict"), ids...)}})
		}
		for _, ids := range [][]string{{idExact}, {idNonMatch}, {idNonX509}} {
			g.add(&tcase{group: "identity", sig: sigSpec{mt: mt}, stmts: []stmtSpec{withIDs(main("audit"), ids...)}})
			g.add(&tcase{group: "identity", sig: sigSpec{mt: mt}, stmts: []stmtSpec{withIDs(withOverride(main("strict"), "authenticity", "log"), ids...)}})
		}
		for _, ch := range []chainKind{chainMultiOU, chainNoState, chainSelf} {
			for _, ids := range [][]string{{idAny}, {idSubset}, {idExact}} {
				if formatName(mt) == "cose" && ids[0] == idAny {
					continue
				}
				st := withIDs(main("strict"), ids...)
				if ch == chainSelf {
					st = withStores(st, "ca:self")
				}
				g.add(&tcase{group: "identity", sig: sigSpec{mt: mt, chain: ch}, stmts: []stmtSpec{st}})
			}
		}
		for _, ids := range [][]string{{idSubset}, {idNonMatch}, {idNonX509}} {
			g.add(&tcase{group: "identity", sig: sigSpec{mt: mt, scheme: saScheme}, stmts: []stmtSpec{withIDs(main("strict"), ids...)}})
		}
		// Identity failure after an authenticity failure that was only logged.
		g.add(&tcase{group: "identity", sig: sigSpec{mt: mt}, stmts: []stmtSpec{withIDs(withStores(main("audit"), "ca:other"), idNonMatch)}})
	}

	// 4. Signature expiry.
	for _, sc := range schemes {
		for j, exp := range []expiryKind{expiryNone, expiryFuture, expiryExpired} {
			for k, s := range []stmtSpec{
				main("strict"), main("permissive"), main("audit"),
				withOverride(main("strict"), "expiry", "log"),
				withOverride(main("audit"), "expiry", "enforce"),
			} {
				g.add(&tcase{group: "expiry", sig: sigSpec{mt: formats[(j+k)%2], scheme: sc, expiry: exp}, stmts: []stmtSpec{s}})
			}
		}
	}

	// 5. Certificate validity, with and without timestamps.
	type tsPolicy struct {
		stores []string
		vts    string
	}
	tsPolicies := []tsPolicy{
		{nil, ""},
		{[]string{"ca:roots", "tsa:tsa"}, ""},
		{[]string{"ca:roots", "tsa:tsa"}, "always"},
		{[]string{"ca:roots", "tsa:tsa"}, "afterCertExpiry"},
	}
	for _, ch := range []chainKind{chainFull, chainExpired, chainNotYetValid, chainShortLived} {
		for _, ts := range []tsKind{tsNone, tsGood} {
			if ch == chainShortLived && ts == tsGood {
				continue
			}
			for j, tp := range tsPolicies {
				for i, lv := range []string{"strict", "permissive"} {
					if lv == "permissive" && j%2 == 1 {
						continue
					}
					mt := formats[(len(g.cases)+i)%2]
					st := withVTS(main(lv), tp.vts)
					st.stores = tp.stores
					g.add(&tcase{group: "validity", sig: sigSpec{mt: mt, chain: ch, ts: ts}, stmts: []stmtSpec{st}})
				}
			}
		}
	}
	for _, mt := range formats {
		// authenticTimestamp overrides on an expired leaf without a TSA.
		g.add(&tcase{group: "validity", sig: sigSpec{mt: mt, chain: chainExpired}, stmts: []stmtSpec{withOverride(main("strict"), "authenticTimestamp", "log")}})
		g.add(&tcase{group: "validity", sig: sigSpec{mt: mt, chain: chainExpired}, stmts: []stmtSpec{withOverride(main("permissive"), "authenticTimestamp", "enforce")}})
		g.add(&tcase{group: "validity", sig: sigSpec{mt: mt, chain: chainNotYetValid}, stmts: []stmtSpec{withOverride(main("audit"), "authenticTimestamp", "enforce")}})
		// Signing time long before every certificate: irrelevant to notary.x509.
		g.add(&tcase{group: "validity", sig: sigSpec{mt: mt, signAt: signAtPast}})
		// The signing time inside an expired leaf's validity does not help notary.x509.
		g.add(&tcase{group: "validity", sig: sigSpec{mt: mt, chain: chainNotYetValid, signAt: signAtNow}})
	}

	// 6. Timestamp defects, under a policy that requires a timestamp.
	tsStmt := func(lv string, stores ...string) stmtSpec {
		if len(stores) == 0 {
			stores = []string{"ca:roots", "tsa:tsa"}
		}
		return withStores(main(lv), stores...)
	}
	for _, mt := range formats {
		for _, ts := range []tsKind{tsBeforeCert, tsAccuracyCrossing, tsOtherTSA, tsWrongImprint, tsNonCriticalEKU, tsNoSigningCert, tsWrongContentType, tsGarbage} {
			for _, lv := range []string{"strict", "permissive"} {
				if lv == "permissive" && mt == mtCOSE {
					continue
				}
				g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, ts: ts}, stmts: []stmtSpec{tsStmt(lv)}})
			}
		}
		g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, chain: chainExpired, ts: tsAfterCert}, stmts: []stmtSpec{tsStmt("strict")}})
		g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, chain: chainExpired, ts: tsBeforeCert}, stmts: []stmtSpec{tsStmt("strict")}})
		g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, chain: chainExpired, ts: tsOtherTSA}, stmts: []stmtSpec{withVTS(tsStmt("strict"), "afterCertExpiry")}})
	}
	for i, mt := range formats {
		// TSA store problems, for a valid and an expired leaf.
		for _, ch := range []chainKind{[]chainKind{chainFull, chainExpired}[i]} {
			for _, stores := range [][]string{
				{"ca:roots", "tsa:wrong"},
				{"ca:roots", "tsa:missing"},
				{"ca:roots", "tsa:empty"},
				{"ca:roots", "tsa:wrong", "tsa:tsa"},
				{"ca:roots", "tsa:missing", "tsa:tsa"},
				{"ca:roots", "tsa:tsa", "tsa:missing"},
				{"tsa:tsa"}, // no ca store at all
			} {
				g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, chain: ch, ts: tsGood}, stmts: []stmtSpec{tsStmt("strict", stores...)}})
			}
		}
		// TSA chain revocation: always checked, even with revocation skip.
		for j, p := range []revPattern{revLeafRevoked, revLeafUnknown, revRootRevoked, revAllOK, revError} {
			for k, s := range []stmtSpec{tsStmt("strict"), withOverride(tsStmt("strict"), "revocation", "skip"), tsStmt("audit")} {
				if (i+j+k)%2 == 0 {
					g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, ts: tsGood}, stmts: []stmtSpec{s}, rev: revSpec{tsa: p}})
				}
			}
		}
		// Both chains answered, with different answers.
		g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, ts: tsGood}, stmts: []stmtSpec{withOverride(tsStmt("strict"), "revocation", "log")}, rev: revSpec{sign: revLeafRevoked, tsa: revAllOK}})
		g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, ts: tsGood}, stmts: []stmtSpec{tsStmt("permissive")}, rev: revSpec{sign: revLeafUnknown, tsa: revLeafRevoked}})
		// A timestamp on a notary.x509.signingAuthority signature is ignored.
		for _, ts := range []tsKind{tsGood, tsGarbage} {
			g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, scheme: saScheme, ts: ts}, stmts: []stmtSpec{tsStmt("strict", "signingAuthority:sa", "tsa:tsa")}})
		}
		// TSA store listed under signingAuthority only.
		g.add(&tcase{group: "timestamp", sig: sigSpec{mt: mt, scheme: saScheme}, stmts: []stmtSpec{tsStmt("strict", "signingAuthority:sa", "tsa:missing")}})
	}

	// 7. Revocation of the signing chain.
	revPolicies := []stmtSpec{
		main("strict"), main("audit"),
		withOverride(main("strict"), "revocation", "skip"),
		withOverride(main("strict"), "revocation", "log"),
		withOverride(main("audit"), "revocation", "enforce"),
	}
	i := 0
	for _, p := range []revPattern{revOK, revAllOK, revLeafRevoked, revInterRevoked, revRootRevoked, revLeafUnknown, revLeafUnknownInterRevk, revLeafRevkInterUnknown, revAllUnknown, revError} {
		for _, s := range revPolicies {
			i++
			g.add(&tcase{group: "revocation", sig: sigSpec{mt: formats[i%2], scheme: schemes[(i/2)%2]}, stmts: []stmtSpec{s}, rev: revSpec{sign: p}})
		}
	}
	for _, mt := range formats {
		for _, p := range []revPattern{revLeafRevoked, revLeafUnknown, revInterRevoked} {
			g.add(&tcase{group: "revocation", sig: sigSpec{mt: mt, chain: chainLeafRoot}, rev: revSpec{sign: p}})
			g.add(&tcase{group: "revocation", sig: sigSpec{mt: mt, chain: chainSelf}, stmts: []stmtSpec{withStores(main("strict"), "ca:self")}, rev: revSpec{sign: p}})
		}
		// Revocation of an authentic signing time in the past.
		g.add(&tcase{group: "revocation", sig: sigSpec{mt: mt, scheme: saScheme, chain: chainExpired}, rev: revSpec{sign: revLeafRevoked}})
	}

	// 8. Descriptor and user metadata: enforced at every level.
	for _, mt := range formats {
		for _, d := range []descKind{descDigest, descSize, descMediaType, descAnnot} {
			for _, lv := range []string{"strict", "audit"} {
				g.add(&tcase{group: "descriptor", sig: sigSpec{mt: mt}, stmts: []stmtSpec{main(lv)}, desc: d})
			}
		}
		for _, mk := range []metaKind{metaEmpty, metaMatch, metaSubset, metaWrongVal, metaMissing} {
			for _, lv := range []string{"strict", "audit"} {
				g.add(&tcase{group: "metadata", sig: sigSpec{mt: mt, meta: true}, stmts: []stmtSpec{main(lv)}, meta: mk})
			}
			if mk != metaSubset && mk != metaWrongVal {
				g.add(&tcase{group: "metadata", sig: sigSpec{mt: mt}, meta: mk})
			}
		}
		// Both wrong: which error wins.
		g.add(&tcase{group: "metadata", sig: sigSpec{mt: mt, meta: true}, desc: descDigest, meta: metaWrongVal})
		// Metadata checked only after every enforced check passed.
		g.add(&tcase{group: "metadata", sig: sigSpec{mt: mt, meta: true, expiry: expiryExpired}, meta: metaWrongVal})
		g.add(&tcase{group: "metadata", sig: sigSpec{mt: mt, meta: true, expiry: expiryExpired}, stmts: []stmtSpec{main("permissive")}, meta: metaWrongVal})
	}

	// 9. Trust store problems.
	for i, mt := range formats {
		for _, lv := range []string{"strict", "audit"}[:2-i] {
			for _, stores := range [][]string{
				{"ca:missing"},
				{"ca:missing", "ca:roots"},
				{"ca:roots", "ca:missing"},
				{"ca:empty"},
				{"signingAuthority:sa"}, // only a store of the other type
				{"signingAuthority:missing"},
				{"tsa:tsa"},
				{"tsa:missing"},
			} {
				g.add(&tcase{group: "stores", sig: sigSpec{mt: mt}, stmts: []stmtSpec{withStores(main(lv), stores...)}})
			}
			for _, stores := range [][]string{{"ca:roots"}, {"signingAuthority:missing"}, {"signingAuthority:missing", "signingAuthority:sa"}, {"ca:missing", "signingAuthority:sa"}} {
				if lv == "audit" && len(stores) == 2 {
					continue
				}
				g.add(&tcase{group: "stores", sig: sigSpec{mt: mt, scheme: saScheme}, stmts: []stmtSpec{withStores(main(lv), stores...)}})
			}
		}
	}

	// 10. Extended attributes.
	for _, mt := range formats {
		for j, a := range []attrKind{attrPluginCritical, attrPluginNonCritical, attrPluginMinVersion, attrPluginBadMin, attrPluginEmpty, attrPluginNonString, attrMinVersionOnly, attrCustomCritical, attrCustomNonCritical} {
			g.add(&tcase{group: "attributes", sig: sigSpec{mt: mt, scheme: schemes[j%2], attr: a}})
			if a == attrPluginCritical || a == attrCustomCritical {
				g.add(&tcase{group: "attributes", sig: sigSpec{mt: mt, scheme: schemes[(j+1)%2], attr: a}})
			}
		}
		g.add(&tcase{group: "attributes", sig: sigSpec{mt: mt, attr: attrPluginCritical}, stmts: []stmtSpec{main("audit")}})
		g.add(&tcase{group: "attributes", sig: sigSpec{mt: mt, attr: attrPluginCritical}, stmts: []stmtSpec{withStores(main("strict"), "ca:other")}})
	}

	// Payloads.
	for i, pl := range []payloadKind{payloadOtherType, payloadBadTarget, payloadNoTarget, payloadExtra} {
		for j, mt := range formats {
			g.add(&tcase{group: "payload", sig: sigSpec{mt: mt, scheme: schemes[(i+j)%2], pl: pl}})
		}
		g.add(&tcase{group: "payload", sig: sigSpec{mt: formats[i%2], pl: pl}, stmts: []stmtSpec{main("audit")}})
	}

	// 11. Corrupt envelopes and media types.
	for _, mt := range formats {
		for j, k := range []corruptKind{corruptTruncate, corruptGarbage, corruptEmpty, corruptSignature, corruptPayload, corruptSwapMT, corruptUnknownMT} {
			g.add(&tcase{group: "corrupt", sig: sigSpec{mt: mt}, corrupt: k, stmts: []stmtSpec{main("strict")}})
			g.add(&tcase{group: "corrupt", sig: sigSpec{mt: mt}, corrupt: k, stmts: []stmtSpec{main([]string{"audit", "permissive"}[j%2])}})
		}
		g.add(&tcase{group: "corrupt", sig: sigSpec{mt: mt}, corrupt: corruptGarbage, stmts: []stmtSpec{main("skip")}})
	}

	// 12. Policy selection.
	exact := func(lv string, stores ...string) stmtSpec {
		s := withStores(main(lv), stores...)
		s.name = "exact"
		return s
	}
	wild := func(lv string, stores ...string) stmtSpec {
		s := main(lv)
		if lv != "skip" {
			s = withStores(s, stores...)
		}
		s.name, s.scopes = "wildcard", []string{"*"}
		return s
	}
	other := func(lv string) stmtSpec {
		s := main(lv)
		s.name, s.scopes = "other", []string{otherRepo}
		return s
	}
	for i, mt := range formats {
		for _, ref := range []refKind{refRepo, refOther, refTag, refUpperRepo}[:4-2*i] {
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{exact("strict", "ca:other"), wild("strict", "ca:roots")}})
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{wild("strict", "ca:other"), exact("strict", "ca:roots")}})
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{exact("strict", "ca:roots")}})
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{exact("strict", "ca:roots"), other("skip")}})
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{exact("skip"), wild("strict", "ca:roots")}})
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{wild("skip"), exact("strict", "ca:other")}})
			g.add(&tcase{group: "selection", sig: sigSpec{mt: mt}, ref: ref, stmts: []stmtSpec{wild("strict", "ca:roots")}})
		}
	}

	// 13. notary.x509.signingAuthority signing time.
	for _, mt := range formats {
		for _, lv := range levelsSA {
			for _, sig := range []sigSpec{
				{mt: mt, scheme: saScheme, signAt: signAtPast},                         // before every certificate
				{mt: mt, scheme: saScheme, chain: chainExpired},                        // expired now, valid when signed
				{mt: mt, scheme: saScheme, chain: chainExpired, signAt: signAtNow},     // signed after the leaf expired
				{mt: mt, scheme: saScheme, chain: chainNotYetValid, signAt: signAtNow}, // signed before the leaf was valid
				{mt: mt, scheme: saScheme, chain: chainShortLived},
			} {
				g.add(&tcase{group: "signingAuthority", sig: sig, stmts: []stmtSpec{main(lv)}})
			}
		}
		g.add(&tcase{group: "signingAuthority", sig: sigSpec{mt: mt, scheme: saScheme, signAt: signAtPast}, stmts: []stmtSpec{withOverride(main("strict"), "authenticTimestamp", "log")}})
		g.add(&tcase{group: "signingAuthority", sig: sigSpec{mt: mt, scheme: saScheme, chain: chainExpired, expiry: expiryExpired}, stmts: []stmtSpec{main("strict")}})
	}
	return g.cases
}
