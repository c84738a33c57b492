package revocation

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// crlIndex is a validated CRL reduced to what a status lookup needs. It is
// immutable once built and shared between goroutines.
type crlIndex struct {
	key       string // cache key (issuer, scope, base or delta)
	issuer    string // issuer DN, for messages
	rawIssuer []byte
	spki      [32]byte // SHA-256 of the SubjectPublicKeyInfo that verified it
	der       [32]byte // SHA-256 of the CRL DER
	derLen    int64
	this      time.Time
	next      time.Time
	number    *big.Int // nil when absent
	deltaBase *big.Int // set for delta CRLs
	idp       *idpInfo
	idpRaw    []byte
	deltaURLs []string
	source    string // "network URL" or importPrefix+"FILE"
	url       string // where it was fetched from, if known
	entries   []crlEntry
	sample    []sampleKey // key of every sampleStep-th entry
}

// sampleKey is a serial key. A search first bisects the samples (small
// enough to stay in the CPU cache), then one block of sampleStep entries.
type sampleKey struct{ k0, k1, k2 uint64 }

const sampleStep = 64

// setEntries installs sorted entries and builds the samples.
func (idx *crlIndex) setEntries(entries []crlEntry) {
	idx.entries = entries
	idx.sample = make([]sampleKey, 0, len(entries)/sampleStep+1)
	for i := 0; i < len(entries); i += sampleStep {
		e := &entries[i]
		idx.sample = append(idx.sample, sampleKey{e.k0, e.k1, e.k2})
	}
}

// crlLimits bounds what parseCRL accepts.
type crlLimits struct {
	maxSize int64
}

// parseCRL parses and indexes a CRL without checking its signature.
func parseCRL(der []byte, lim crlLimits) (*crlHeader, []crlEntry, error) {
	if lim.maxSize > 0 && int64(len(der)) > lim.maxSize {
		return nil, nil, kindf(ErrTooLarge, "the CRL is %d bytes, larger than the %s limit", len(der), byteSize(lim.maxSize))
	}
	h, err := parseCRLHeader(der)
	if err != nil {
		return nil, nil, withKind(ErrMalformedCRL, err)
	}
	entries, err := parseEntries(h.revoked)
	if err != nil {
		return nil, nil, withKind(ErrMalformedCRL, err)
	}
	return h, entries, nil
}

// buildIndex validates a parsed CRL against its issuer at time now and
// returns the index. It is the only way a CRL enters a cache.
func buildIndex(der []byte, h *crlHeader, entries []crlEntry, issuer *x509.Certificate, now time.Time) (*crlIndex, error) {
	if err := h.checkSignature(issuer); err != nil {
		return nil, err
	}
	idx := indexFromHeader(h, issuer)
	idx.der = sha256.Sum256(der)
	idx.derLen = int64(len(der))
	idx.setEntries(entries)
	if err := idx.checkTime(now); err != nil {
		return nil, err
	}
	return idx, nil
}

func indexFromHeader(h *crlHeader, issuer *x509.Certificate) *crlIndex {
	idx := &crlIndex{
		issuer:    h.skel.Issuer.String(),
		rawIssuer: h.skel.RawIssuer,
		this:      h.skel.ThisUpdate,
		next:      h.skel.NextUpdate,
		number:    h.skel.Number,
		deltaBase: h.deltaBase,
		idp:       h.idp,
		idpRaw:    h.idpRaw,
		deltaURLs: h.deltaURLs,
	}
	if issuer != nil {
		idx.spki = sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	}
	idx.key = cacheKey(issuer, h.idpRaw, h.deltaBase != nil)
	return idx
}

// checkTime applies notation's freshness rule: NextUpdate must be present
// and not before now. A ThisUpdate in the future is accepted, as in
// notation-core-go.
func (idx *crlIndex) checkTime(now time.Time) error {
	if idx.next.IsZero() {
		return kindf(ErrCRLExpired, "the CRL has no nextUpdate")
	}
	if now.After(idx.next) {
		return &ExpiredError{NextUpdate: idx.next, Now: now}
	}
	return nil
}

// lookup returns the entries for a serial key, in CRL order.
func (idx *crlIndex) lookup(k0, k1, k2 uint64) []crlEntry {
	es, sm := idx.entries, idx.sample
	// The first sample at or after the key bounds the block that holds the
	// first matching entry: it lies in ((j-1)*sampleStep, j*sampleStep].
	j, n := 0, len(sm)
	for j < n {
		h := int(uint(j+n) >> 1)
		if compareKey(sm[h].k0, sm[h].k1, sm[h].k2, k0, k1, k2) < 0 {
			j = h + 1
		} else {
			n = h
		}
	}
	lo, hi := 0, len(es)
	if j > 0 {
		lo = (j-1)*sampleStep + 1
	}
	if j*sampleStep < len(es) {
		hi = j*sampleStep + 1
	}
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if compareKey(es[h].k0, es[h].k1, es[h].k2, k0, k1, k2) < 0 {
			lo = h + 1
		} else {
			hi = h
		}
	}
	end := lo
	for end < len(es) && es[end].k0 == k0 && es[end].k1 == k1 && es[end].k2 == k2 {
		end++
	}
	return es[lo:end]
}

// verdict is what a base CRL and an optional delta CRL say about a serial.
type verdict struct {
	revoked bool
	entry   crlEntry // the deciding entry when revoked
	excused *crlEntry
}

// evaluate applies notation-core-go's entry rules to every entry for the
// serial, base first then delta:
//   - an entry whose invalidityDate is after the signing time does not
//     revoke (only when a signing time is given);
//   - certificateHold revokes unless the latest (by revocation date)
//     certificateHold/removeFromCRL entry is removeFromCRL;
//   - any other reason revokes.
//
// Unlike notation-core-go, an excused entry does not end the search: a later
// unexcused entry (for example keyCompromise in the delta) still revokes.
func evaluate(cert *x509.Certificate, base, delta *crlIndex, signingTime time.Time) (verdict, error) {
	k0, k1, k2 := certSerialKey(cert.SerialNumber)
	var v verdict
	var latest *crlEntry // points into an index; no allocation
	for pass := 0; pass < 2; pass++ {
		idx := base
		if pass == 1 {
			idx = delta
		}
		if idx == nil {
			continue
		}
		matches := idx.lookup(k0, k1, k2)
		for i := range matches {
			e := &matches[i]
			if e.flags&flagBadInvalidity != 0 {
				return verdict{}, fmt.Errorf("the CRL entry for serial %x has a malformed invalidityDate", cert.SerialNumber)
			}
			if !signingTime.IsZero() && e.flags&flagInvalidity != 0 && signingTime.Unix() < e.invalidAt {
				v.excused = e
				continue
			}
			if e.flags&flagReason != 0 && (e.reason == reasonHold || e.reason == reasonRemove) {
				if latest == nil || e.revokedAt > latest.revokedAt {
					latest = e
				}
				continue
			}
			return verdict{revoked: true, entry: *e}, nil
		}
	}
	if latest != nil && latest.reason == reasonHold {
		return verdict{revoked: true, entry: *latest}, nil
	}
	return v, nil
}

// checkDelta checks that delta can be combined with base (RFC 5280 section
// 5.2.4, as notation-core-go: number greater than the base's, indicator not
// greater than the base's number; here also the same scope).
func checkDelta(base, delta *crlIndex) error {
	if delta.deltaBase == nil {
		return kindf(ErrCRLKind, "the delta CRL has no delta CRL indicator")
	}
	if base.number == nil || delta.number == nil {
		return kindf(ErrCRLKind, "the base or delta CRL has no CRL number")
	}
	if delta.number.Cmp(base.number) <= 0 {
		return kindf(ErrCRLKind, "the delta CRL number %s is not greater than the base CRL number %s", delta.number, base.number)
	}
	if delta.deltaBase.Cmp(base.number) > 0 {
		return kindf(ErrCRLKind, "the delta CRL applies to base CRL %s or later, but the base CRL is number %s", delta.deltaBase, base.number)
	}
	if string(delta.rawIssuer) != string(base.rawIssuer) || delta.spki != base.spki {
		return kindf(ErrCRLKind, "the delta CRL and the base CRL have different issuers")
	}
	if string(delta.idpRaw) != string(base.idpRaw) {
		return kindf(ErrCRLKind, "the delta CRL and the base CRL have different scopes (issuing distribution point)")
	}
	return nil
}

// memSize is the approximate memory an index holds.
func (idx *crlIndex) memSize() int64 {
	return int64(len(idx.entries))*48 + int64(len(idx.sample))*24 + 512
}

// reasonName names a CRL reason code.
func reasonName(code int) string {
	names := [...]string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "", "removeFromCRL",
		"privilegeWithdrawn", "aACompromise"}
	if code >= 0 && code < len(names) && names[code] != "" {
		return names[code]
	}
	return fmt.Sprintf("reason %d", code)
}

// byteSize formats a byte count for messages.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// importPrefix starts the source of every imported CRL (Import).
const importPrefix = "import "

// imported reports whether the CRL entered the cache through Import.
func (idx *crlIndex) imported() bool { return strings.HasPrefix(idx.source, importPrefix) }
