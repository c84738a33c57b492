package revocation

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"time"
)

// On disk, every cached CRL is one file named by its cache key, KEY.crlx,
// that holds the index and the CRL together, so one atomic rename replaces
// both (a reader sees the old file or the new one, never a mix):
//
//	"NPCRLIX2"                         magic and format version
//	uint32 n, n bytes                  JSON indexMeta (issuer, times, digests…)
//	uint64 count
//	count × 42 bytes                   entries sorted by serial, then CRL order:
//	    24  serial key (see serialKey)
//	     8  revocation date, Unix seconds, little-endian
//	     8  invalidityDate, Unix seconds, little-endian
//	     1  reason code
//	     1  flags (reason present, invalidityDate present, malformed)
//	uint64 derLen, derLen bytes        the CRL DER exactly as fetched or imported
//	uint32 CRC-32C of everything before it
//
// A URL a CRL is found under is mapped to its key by url-HASH.ref, a small
// text file holding the key and the URL. Files of the older two-file format
// (KEY.crl beside KEY.idx) are ignored.

const (
	indexMagic   = "NPCRLIX2"
	indexRecSize = 42
	// cacheExt is the extension of a cached CRL file.
	cacheExt = ".crlx"
)

// indexMeta is the JSON header of an index file.
type indexMeta struct {
	Key        string    `json:"key"`
	Issuer     string    `json:"issuer"`
	IssuerSPKI string    `json:"issuerSPKISHA256"`
	DERSHA256  string    `json:"derSHA256"`
	DERLen     int64     `json:"derLen"`
	ThisUpdate time.Time `json:"thisUpdate"`
	NextUpdate time.Time `json:"nextUpdate"`
	Number     string    `json:"number,omitempty"`
	DeltaBase  string    `json:"deltaBase,omitempty"`
	DeltaURLs  []string  `json:"deltaURLs,omitempty"`
	IDPURLs    []string  `json:"idpURLs,omitempty"`
	Entries    int       `json:"entries"`
	Source     string    `json:"source"`
	URL        string    `json:"url,omitempty"`
}

func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

func (idx *crlIndex) meta() indexMeta {
	m := indexMeta{
		Key:        idx.key,
		Issuer:     idx.issuer,
		IssuerSPKI: hex.EncodeToString(idx.spki[:]),
		DERSHA256:  hex.EncodeToString(idx.der[:]),
		DERLen:     idx.derLen,
		ThisUpdate: idx.this.UTC(),
		NextUpdate: idx.next.UTC(),
		DeltaURLs:  idx.deltaURLs,
		Entries:    len(idx.entries),
		Source:     idx.source,
		URL:        idx.url,
	}
	if idx.number != nil {
		m.Number = idx.number.String()
	}
	if idx.deltaBase != nil {
		m.DeltaBase = idx.deltaBase.String()
	}
	if idx.idp != nil {
		m.IDPURLs = idx.idp.uris
	}
	return m
}

// encodeIndex serialises an index and the CRL it was derived from.
func encodeIndex(idx *crlIndex, der []byte) ([]byte, error) {
	meta, err := json.Marshal(idx.meta())
	if err != nil {
		return nil, fmt.Errorf("failed to encode the CRL index header: %w", err)
	}
	n := len(idx.entries)
	buf := make([]byte, 0, len(indexMagic)+4+len(meta)+8+n*indexRecSize+8+len(der)+4)
	buf = append(buf, indexMagic...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(meta)))
	buf = append(buf, meta...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	for i := range idx.entries {
		e := &idx.entries[i]
		buf = binary.BigEndian.AppendUint64(buf, e.k0)
		buf = binary.BigEndian.AppendUint64(buf, e.k1)
		buf = binary.BigEndian.AppendUint64(buf, e.k2)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.revokedAt))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.invalidAt))
		buf = append(buf, e.reason, e.flags)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(der)))
	buf = append(buf, der...)
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable())), nil
}

// decodeIndexMeta reads the header of an index file.
func decodeIndexMeta(b []byte) (indexMeta, []byte, error) {
	var m indexMeta
	if len(b) < len(indexMagic)+4 || string(b[:len(indexMagic)]) != indexMagic {
		return m, nil, errors.New("not a CRL index file (bad magic)")
	}
	b = b[len(indexMagic):]
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(len(b)) < uint64(n) {
		return m, nil, errors.New("truncated CRL index header")
	}
	if err := json.Unmarshal(b[:n], &m); err != nil {
		return m, nil, fmt.Errorf("malformed CRL index header: %w", err)
	}
	return m, b[n:], nil
}

// decodeIndexEntries checks the CRC of a whole cache file and returns its
// header, entries and CRL.
func decodeIndexEntries(file []byte) (indexMeta, []crlEntry, []byte, error) {
	if len(file) < 4 {
		return indexMeta{}, nil, nil, errors.New("truncated CRL cache file")
	}
	body, sum := file[:len(file)-4], binary.BigEndian.Uint32(file[len(file)-4:])
	if crc32.Checksum(body, crcTable()) != sum {
		return indexMeta{}, nil, nil, errors.New("CRL cache file checksum mismatch")
	}
	m, rest, err := decodeIndexMeta(body)
	if err != nil {
		return m, nil, nil, err
	}
	if len(rest) < 8 {
		return m, nil, nil, errors.New("truncated CRL cache file")
	}
	count := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	if count != uint64(m.Entries) || uint64(len(rest)) < count*indexRecSize+8 {
		return m, nil, nil, errors.New("CRL cache file size does not match its entry count")
	}
	entries := make([]crlEntry, count)
	for i := range entries {
		r := rest[i*indexRecSize : (i+1)*indexRecSize]
		entries[i] = crlEntry{
			k0:        binary.BigEndian.Uint64(r[0:]),
			k1:        binary.BigEndian.Uint64(r[8:]),
			k2:        binary.BigEndian.Uint64(r[16:]),
			revokedAt: int64(binary.LittleEndian.Uint64(r[24:])),
			invalidAt: int64(binary.LittleEndian.Uint64(r[32:])),
			ord:       uint32(i),
			reason:    r[40],
			flags:     r[41],
		}
	}
	rest = rest[count*indexRecSize:]
	derLen := binary.BigEndian.Uint64(rest)
	der := rest[8:]
	if derLen != uint64(len(der)) || int64(derLen) != m.DERLen {
		return m, nil, nil, errors.New("CRL cache file size does not match its CRL length")
	}
	if sha := sha256.Sum256(der); hex.EncodeToString(sha[:]) != m.DERSHA256 {
		return m, nil, nil, errIndexMismatch
	}
	return m, entries, der, nil
}

// cacheFileLimit bounds a cache file for a CRL of at most maxSize bytes:
// the CRL, its index (a record of 42 bytes per entry, and an entry takes at
// least 14 bytes of DER) and the header.
func cacheFileLimit(maxSize int64) int64 { return 4*maxSize + 1<<20 }

// loadCached reads KEY.crlx and re-establishes trust in it: the file
// checksum, the SHA-256 of the CRL recorded in the header, the CRL
// signature against issuer, and the CRL header. It does not re-read the
// entries from the CRL: the index is trusted once its recorded digest
// matches (see doc.go, "Cache trust").
func loadCached(d *diskDir, key string, issuer *x509.Certificate, maxSize int64) (*crlIndex, error) {
	file, err := d.readFile(key+cacheExt, cacheFileLimit(maxSize))
	if err != nil {
		return nil, err
	}
	m, entries, der, err := decodeIndexEntries(file)
	if err != nil {
		return nil, err
	}
	if m.Key != key {
		return nil, fmt.Errorf("CRL cache file %s%s names key %q", key, cacheExt, m.Key)
	}
	h, err := parseCRLHeader(der)
	if err != nil {
		return nil, err
	}
	if err := h.checkSignature(issuer); err != nil {
		return nil, err
	}
	idx := indexFromHeader(h, issuer)
	if idx.key != key || !idx.this.Equal(m.ThisUpdate) || !idx.next.Equal(m.NextUpdate) {
		return nil, errors.New("CRL index header does not match the CRL")
	}
	idx.der, idx.derLen = sha256.Sum256(der), int64(len(der))
	idx.setEntries(entries)
	idx.source, idx.url = m.Source, m.URL
	return idx, nil
}

// cachedDER returns the CRL stored under key, after checking the file's
// checksum and the CRL's recorded digest.
func cachedDER(d *diskDir, key string, maxSize int64) ([]byte, error) {
	file, err := d.readFile(key+cacheExt, cacheFileLimit(maxSize))
	if err != nil {
		return nil, err
	}
	_, _, der, err := decodeIndexEntries(file)
	return der, err
}

// errIndexMismatch: the index was not derived from the CRL stored with it.
var errIndexMismatch = errors.New("the CRL index does not match the cached CRL (digest differs)")

// cacheKey names the cache slot of a CRL: its issuer (name and key), its
// scope (issuing distribution point) and whether it is a delta CRL. An
// imported CRL is found by issuer through this key even when no URL is
// known.
func cacheKey(issuer *x509.Certificate, idpRaw []byte, delta bool) string {
	scope := "full"
	if idpRaw != nil {
		s := sha256.Sum256(idpRaw)
		scope = hex.EncodeToString(s[:8])
	}
	kind := "base"
	if delta {
		kind = "delta"
	}
	return issuerID(issuer) + "-" + scope + "-" + kind
}

// issuerID identifies an issuing CA by name and public key.
func issuerID(issuer *x509.Certificate) string {
	if issuer == nil {
		return "unknown"
	}
	spki := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	h := sha256.New()
	h.Write(issuer.RawSubject)
	h.Write(spki[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// urlRefName is the file that maps a CRL URL to a cache key.
func urlRefName(url string) string {
	s := sha256.Sum256([]byte(url))
	return "url-" + hex.EncodeToString(s[:16]) + ".ref"
}

// bigString parses a decimal CRL number from an index header.
func bigString(s string) *big.Int {
	if s == "" {
		return nil
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil
	}
	return n
}
