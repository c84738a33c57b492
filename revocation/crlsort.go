package revocation

import (
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// countElements counts the DER elements in s (reading headers only), or
// returns 0 when s is malformed.
func countElements(s cryptobyte.String) int {
	n := 0
	var el cryptobyte.String
	var tag cbasn1.Tag
	for !s.Empty() {
		if !s.ReadAnyASN1(&el, &tag) {
			return 0
		}
		n++
	}
	return n
}

// sortEntries orders entries by serial key, keeping CRL order among equal
// serials. It radix-sorts compact (first key word, position) pairs, which
// is stable, settles the rare ties on the first key word with a comparison
// sort, then gathers the entries.
func sortEntries(es []crlEntry) []crlEntry {
	if slices.IsSortedFunc(es, compareEntries) {
		return es
	}
	items := make([]sortItem, len(es))
	for i := range es {
		items[i] = sortItem{es[i].k0, uint32(i)}
	}
	items = radixSort(items)
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].k0 == items[i].k0 {
			j++
		}
		if j-i > 1 {
			slices.SortStableFunc(items[i:j], func(a, b sortItem) int {
				x, y := &es[a.pos], &es[b.pos]
				return compareKey(x.k0, x.k1, x.k2, y.k0, y.k1, y.k2)
			})
		}
		i = j
	}
	out := make([]crlEntry, len(es))
	for i, it := range items {
		out[i] = es[it.pos]
	}
	return out
}

type sortItem struct {
	k0  uint64
	pos uint32
}

// radixSort is a stable least-significant-digit radix sort on k0, one byte
// per pass, skipping bytes that are the same in every item.
func radixSort(a []sortItem) []sortItem {
	var counts [8][256]int
	for i := range a {
		k := a[i].k0
		for d := 0; d < 8; d++ {
			counts[d][byte(k>>(8*d))]++
		}
	}
	b := make([]sortItem, len(a))
	for d := 0; d < 8; d++ {
		c := &counts[d]
		if c[byte(a[0].k0>>(8*d))] == len(a) {
			continue // every item has this byte
		}
		sum := 0
		for v := range c {
			c[v], sum = sum, sum+c[v]
		}
		shift := 8 * d
		for _, it := range a {
			v := byte(it.k0 >> shift)
			b[c[v]] = it
			c[v]++
		}
		a, b = b, a
	}
	return a
}

func compareEntries(a, b crlEntry) int {
	if c := compareKey(a.k0, a.k1, a.k2, b.k0, b.k1, b.k2); c != 0 {
		return c
	}
	return cmpU64(uint64(a.ord), uint64(b.ord))
}

func compareKey(a0, a1, a2, b0, b1, b2 uint64) int {
	switch {
	case a0 != b0:
		return cmpU64(a0, b0)
	case a1 != b1:
		return cmpU64(a1, b1)
	}
	return cmpU64(a2, b2)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
