package truststore

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/notaryproject/notation-go/dir"
	ntruststore "github.com/notaryproject/notation-go/verifier/truststore"
)

// diffCase is one trust store layout. refs are queried ("type:name", split on
// the first ':' without validation); nil means ca:s, signingAuthority:s and
// tsa:s. ok lists the refs expected to load; every other ref must fail. want,
// if set, gives the expected certificates of a ref that loads.
type diffCase struct {
	name  string
	build func(l *layout, f *fixtures)
	refs  []string
	ok    []string
	want  map[string][]*x509.Certificate
	unix  bool // needs symlinks
}

const (
	caS  = "x509/ca/s/"
	saS  = "x509/signingAuthority/s/"
	tsaS = "x509/tsa/s/"
)

func diffCases(f *fixtures) []diffCase {
	junkPEM := []byte("-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n")
	keyPEM := []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n")
	bagAttrs := []byte("Bag Attributes\n    friendlyName: root\nsubject=/CN=Root CA\nissuer=/CN=Root CA\n")
	crlf := bytes.ReplaceAll(pemOf(f.root), []byte("\n"), []byte("\r\n"))
	withHeaders := bytes.Replace(pemOf(f.root), []byte("-----\n"), []byte("-----\nComment: hello\n\n"), 1)
	trusted := bytes.ReplaceAll(pemOf(f.root), []byte("CERTIFICATE"), []byte("TRUSTED CERTIFICATE"))
	wrongType := bytes.ReplaceAll(pemOf(f.root), []byte("CERTIFICATE"), []byte("X509 CRL"))
	all3 := []string{"ca:s", "signingAuthority:s", "tsa:s"}
	return []diffCase{
		// Valid stores.
		{name: "ca single PEM root", build: func(l *layout, f *fixtures) { l.file(caS+"root.pem", pemOf(f.root)) },
			ok: []string{"ca:s"}, want: map[string][]*x509.Certificate{"ca:s": {f.root}}},
		{name: "ca single DER root", build: func(l *layout, f *fixtures) { l.file(caS+"root.der", derOf(f.root)) },
			ok: []string{"ca:s"}},
		{name: "ca mixed PEM and DER files", build: func(l *layout, f *fixtures) {
			l.file(caS+"a.pem", pemOf(f.root))
			l.file(caS+"b.der", derOf(f.root2))
		}, ok: []string{"ca:s"}, want: map[string][]*x509.Certificate{"ca:s": {f.root, f.root2}}},
		{name: "ca PEM with several blocks", build: func(l *layout, f *fixtures) { l.file(caS+"bundle.pem", pemOf(f.root, f.inter, f.root2)) },
			ok: []string{"ca:s"}, want: map[string][]*x509.Certificate{"ca:s": {f.root, f.inter, f.root2}}},
		{name: "ca concatenated DER", build: func(l *layout, f *fixtures) { l.file(caS+"bundle.der", derOf(f.root2, f.root)) },
			ok: []string{"ca:s"}, want: map[string][]*x509.Certificate{"ca:s": {f.root2, f.root}}},
		{name: "ca any extension and none", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.txt", pemOf(f.root))
			l.file(caS+"ROOT", derOf(f.root2))
			l.file(caS+".hidden", pemOf(f.inter))
		}, ok: []string{"ca:s"}, want: map[string][]*x509.Certificate{"ca:s": {f.inter, f.root2, f.root}}},
		{name: "files in name order", build: func(l *layout, f *fixtures) {
			l.file(caS+"b.pem", pemOf(f.root))
			l.file(caS+"a.pem", pemOf(f.root2))
			l.file(caS+"B.pem", pemOf(f.inter))
			l.file(caS+"10.pem", pemOf(f.expiredRoot))
			l.file(caS+"9.pem", pemOf(f.selfLeaf))
		}, ok: []string{"ca:s"}, want: map[string][]*x509.Certificate{"ca:s": {f.expiredRoot, f.selfLeaf, f.inter, f.root2, f.root}}},
		{name: "ca intermediate only (pinning)", build: func(l *layout, f *fixtures) { l.file(caS+"inter.pem", pemOf(f.inter)) },
			ok: []string{"ca:s"}},
		{name: "ca self-signed leaf", build: func(l *layout, f *fixtures) { l.file(caS+"self.pem", pemOf(f.selfLeaf)) },
			ok: []string{"ca:s"}},
		{name: "ca self-signed leaf whose issuer name differs", build: func(l *layout, f *fixtures) { l.file(caS+"self.pem", pemOf(f.selfLeafOtherIssuer)) },
			ok: []string{"ca:s"}},
		{name: "ca expired root", build: func(l *layout, f *fixtures) { l.file(caS+"old.pem", pemOf(f.expiredRoot)) },
			ok: []string{"ca:s"}},
		{name: "ca v1 self-signed", build: func(l *layout, f *fixtures) { l.file(caS+"v1.pem", pemOf(f.v1Root)) },
			ok: []string{"ca:s"}},
		{name: "ca SHA-1 self-signed leaf", build: func(l *layout, f *fixtures) { l.file(caS+"sha1.pem", pemOf(f.sha1Leaf)) },
			ok: []string{"ca:s"}},
		{name: "ca SHA-1 CA", build: func(l *layout, f *fixtures) { l.file(caS+"sha1.pem", pemOf(f.sha1CA)) },
			ok: []string{"ca:s"}},
		{name: "ca CA without certSign", build: func(l *layout, f *fixtures) { l.file(caS+"c.pem", pemOf(f.caNoCertSign)) },
			ok: []string{"ca:s"}},
		{name: "ca self-issued CA signed by another key", build: func(l *layout, f *fixtures) { l.file(caS+"c.pem", pemOf(f.selfIssuedCA)) },
			ok: []string{"ca:s"}},
		{name: "ca self-signed without basicConstraints", build: func(l *layout, f *fixtures) { l.file(caS+"c.pem", pemOf(f.caNoBasicConstraints)) },
			ok: []string{"ca:s"}},
		{name: "PEM with text before and after", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", append(append(append([]byte{}, bagAttrs...), pemOf(f.root)...), "trailing words\n"...))
		}, ok: []string{"ca:s"}},
		{name: "PEM with CRLF", build: func(l *layout, f *fixtures) { l.file(caS+"root.pem", crlf) }, ok: []string{"ca:s"}},
		{name: "PEM block with headers", build: func(l *layout, f *fixtures) { l.file(caS+"root.pem", withHeaders) }, ok: []string{"ca:s"}},
		{name: "malformed PEM block then a good one", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", append(append([]byte{}, junkPEM...), pemOf(f.root)...))
		}, ok: []string{"ca:s"}},
		{name: "good PEM block then a malformed one", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", append(pemOf(f.root), junkPEM...))
		}, ok: []string{"ca:s"}},
		{name: "PEM block of another type holding a certificate", build: func(l *layout, f *fixtures) { l.file(caS+"root.pem", wrongType) },
			ok: []string{"ca:s"}},
		{name: "signingAuthority root", build: func(l *layout, f *fixtures) { l.file(saS+"root.pem", pemOf(f.root)) },
			ok: []string{"signingAuthority:s"}},
		{name: "TSA root under signingAuthority (case 22: the store loads)", build: func(l *layout, f *fixtures) { l.file(saS+"tsa.pem", pemOf(f.tsaRoot)) },
			ok: []string{"signingAuthority:s"}},
		{name: "tsa root", build: func(l *layout, f *fixtures) { l.file(tsaS+"tsa.pem", pemOf(f.tsaRoot)) },
			ok: []string{"tsa:s"}},
		{name: "tsa two roots in one PEM and a DER", build: func(l *layout, f *fixtures) {
			l.file(tsaS+"a.pem", pemOf(f.tsaRoot, f.root))
			l.file(tsaS+"b.cer", derOf(f.root2))
		}, ok: []string{"tsa:s"}, want: map[string][]*x509.Certificate{"tsa:s": {f.tsaRoot, f.root, f.root2}}},
		{name: "tsa v1 self-signed", build: func(l *layout, f *fixtures) { l.file(tsaS+"v1.pem", pemOf(f.v1Root)) },
			ok: []string{"tsa:s"}},
		{name: "tsa expired root", build: func(l *layout, f *fixtures) { l.file(tsaS+"old.pem", pemOf(f.expiredRoot)) },
			ok: []string{"tsa:s"}},
		{name: "same name under all three types", build: func(l *layout, f *fixtures) {
			l.file(caS+"r.pem", pemOf(f.root))
			l.file(saS+"r.pem", pemOf(f.root2))
			l.file(tsaS+"r.pem", pemOf(f.tsaRoot))
		}, ok: all3},
		{name: "store name with dots, dashes and underscores", build: func(l *layout, f *fixtures) { l.file("x509/ca/my-store_1.0/r.pem", pemOf(f.root)) },
			refs: []string{"ca:my-store_1.0", "ca:my-store_1", "signingAuthority:my-store_1.0"}, ok: []string{"ca:my-store_1.0"}},
		{name: "unicode and space file names", build: func(l *layout, f *fixtures) {
			l.file(caS+"racine é.pem", pemOf(f.root))
			l.file(caS+"with space.crt", derOf(f.root2))
		}, ok: []string{"ca:s"}},
		{name: "type folder is a symlink (only the last component is checked)", unix: true, build: func(l *layout, f *fixtures) {
			l.file("elsewhere/s/r.pem", pemOf(f.root))
			l.dir("x509")
			l.symlink(l.path("elsewhere"), "x509/ca")
		}, ok: []string{"ca:s"}},
		{name: "name '.' reads the type folder", build: func(l *layout, f *fixtures) { l.file("x509/ca/r.pem", pemOf(f.root)) },
			refs: []string{"ca:.", "ca:s", "tsa:."}, ok: []string{"ca:."}},
		{name: "name '..' reads x509 itself", build: func(l *layout, f *fixtures) { l.file("x509/r.pem", pemOf(f.root)) },
			refs: []string{"ca:..", "tsa:..", "signingAuthority:..", "ca:."}, ok: []string{"ca:..", "tsa:..", "signingAuthority:.."}},
		{name: "name '...' is an ordinary name", build: func(l *layout, f *fixtures) { l.file("x509/ca/.../r.pem", pemOf(f.root)) },
			refs: []string{"ca:...", "ca:.."}, ok: []string{"ca:..."}},

		// Invalid stores.
		{name: "no x509 folder", build: func(l *layout, f *fixtures) { l.dir("") }},
		{name: "no type folder", build: func(l *layout, f *fixtures) { l.dir("x509") }},
		{name: "missing store next to another", build: func(l *layout, f *fixtures) { l.file("x509/ca/other/r.pem", pemOf(f.root)) },
			refs: []string{"ca:s", "ca:other", "signingAuthority:other"}, ok: []string{"ca:other"}},
		{name: "store is a symlink to a valid store", unix: true, build: func(l *layout, f *fixtures) {
			l.file("x509/ca/real/r.pem", pemOf(f.root))
			l.symlink("real", "x509/ca/s")
		}, refs: []string{"ca:s", "ca:real"}, ok: []string{"ca:real"}},
		{name: "store is a symlink to a folder outside", unix: true, build: func(l *layout, f *fixtures) {
			l.file("outside/r.pem", pemOf(f.root))
			l.symlink(l.path("outside"), "x509/ca/s")
		}},
		{name: "store is a dangling symlink", unix: true, build: func(l *layout, f *fixtures) { l.dir("x509/ca"); l.symlink("nowhere", "x509/ca/s") }},
		{name: "store is a file", build: func(l *layout, f *fixtures) { l.file("x509/ca/s", pemOf(f.root)) }},
		{name: "type folder is a file", build: func(l *layout, f *fixtures) { l.file("x509/ca", pemOf(f.root)) }},
		{name: "empty store", build: func(l *layout, f *fixtures) { l.dir(caS); l.dir(saS); l.dir(tsaS) }},
		{name: "only .gitkeep", build: func(l *layout, f *fixtures) { l.file(caS+".gitkeep", nil) }},
		{name: "root and .gitkeep", build: func(l *layout, f *fixtures) {
			l.file(caS+".gitkeep", nil)
			l.file(caS+"root.pem", pemOf(f.root))
		}},
		{name: "root and a junk text file", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.file(caS+"README.md", []byte("# my roots\n"))
		}},
		{name: "root and a whitespace file", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.file(caS+"z", []byte("\n \n"))
		}},
		{name: "root and an empty sub-folder", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.dir(caS + "sub")
		}},
		{name: "sub-folder holding certificates", build: func(l *layout, f *fixtures) { l.file(caS+"sub/root.pem", pemOf(f.root)) }},
		{name: "root and a symlink to it", unix: true, build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.symlink("root.pem", caS+"link.pem")
		}},
		{name: "only a symlink to a certificate outside", unix: true, build: func(l *layout, f *fixtures) {
			l.file("outside.pem", pemOf(f.root))
			l.dir(caS)
			l.symlink(l.path("outside.pem"), caS+"root.pem")
		}},
		{name: "dangling symlink in store", unix: true, build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.symlink("gone.pem", caS+"gone.pem")
		}},
		{name: "symlink to a folder in store", unix: true, build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.dir("d")
			l.symlink(l.path("d"), caS+"d")
		}},
		{name: "CA-issued leaf in ca", build: func(l *layout, f *fixtures) { l.file(caS+"leaf.pem", pemOf(f.leaf)) }},
		{name: "CA-issued leaf in its own file next to its root", build: func(l *layout, f *fixtures) {
			l.file(caS+"root.pem", pemOf(f.root))
			l.file(caS+"leaf.pem", pemOf(f.leaf2))
		}},
		{name: "root and leaf bundled in one PEM", build: func(l *layout, f *fixtures) { l.file(caS+"chain.pem", pemOf(f.root, f.leaf2)) }},
		{name: "root and leaf concatenated DER", build: func(l *layout, f *fixtures) { l.file(caS+"chain.der", derOf(f.root, f.leaf2)) }},
		{name: "leaf in signingAuthority", build: func(l *layout, f *fixtures) { l.file(saS+"leaf.pem", pemOf(f.leaf)) }},
		{name: "self-issued leaf signed by another key in ca", build: func(l *layout, f *fixtures) { l.file(caS+"l.pem", pemOf(f.selfIssuedLeaf)) }},
		{name: "v1 leaf issued by root in ca", build: func(l *layout, f *fixtures) { l.file(caS+"l.pem", pemOf(f.v1Leaf)) }},
		{name: "tsa intermediate", build: func(l *layout, f *fixtures) { l.file(tsaS+"i.pem", pemOf(f.tsaInter)) }},
		{name: "tsa root plus intermediate", build: func(l *layout, f *fixtures) { l.file(tsaS+"chain.pem", pemOf(f.tsaRoot, f.tsaInter)) }},
		{name: "tsa self-signed non-CA leaf", build: func(l *layout, f *fixtures) { l.file(tsaS+"l.pem", pemOf(f.selfLeaf)) }},
		{name: "tsa CA-issued leaf", build: func(l *layout, f *fixtures) { l.file(tsaS+"l.pem", pemOf(f.leaf)) }},
		{name: "tsa CA without certSign", build: func(l *layout, f *fixtures) { l.file(tsaS+"c.pem", pemOf(f.caNoCertSign)) }},
		{name: "tsa self-issued CA signed by another key", build: func(l *layout, f *fixtures) { l.file(tsaS+"c.pem", pemOf(f.selfIssuedCA)) }},
		{name: "tsa self-signed leaf whose issuer name differs", build: func(l *layout, f *fixtures) { l.file(tsaS+"c.pem", pemOf(f.selfLeafOtherIssuer)) }},
		{name: "tsa CA signed by its own key, issuer name differs", build: func(l *layout, f *fixtures) { l.file(tsaS+"c.pem", pemOf(f.caOtherIssuer)) }},
		{name: "ca CA signed by its own key, issuer name differs", build: func(l *layout, f *fixtures) { l.file(caS+"c.pem", pemOf(f.caOtherIssuer)) },
			ok: []string{"ca:s"}},
		{name: "tsa SHA-1 self-signed CA", build: func(l *layout, f *fixtures) { l.file(tsaS+"c.pem", pemOf(f.sha1CA)) }},
		{name: "tsa self-signed without basicConstraints", build: func(l *layout, f *fixtures) { l.file(tsaS+"c.pem", pemOf(f.caNoBasicConstraints)) }},
		{name: "tsa good root then a bad file", build: func(l *layout, f *fixtures) {
			l.file(tsaS+"a.pem", pemOf(f.tsaRoot))
			l.file(tsaS+"b.pem", pemOf(f.tsaInter))
		}},
		{name: "PEM private key only", build: func(l *layout, f *fixtures) { l.file(caS+"k.pem", keyPEM) }},
		{name: "PEM certificate then private key", build: func(l *layout, f *fixtures) {
			l.file(caS+"both.pem", append(pemOf(f.root), keyPEM...))
		}},
		{name: "TRUSTED CERTIFICATE block with aux data", build: func(l *layout, f *fixtures) {
			l.file(caS+"t.pem", bytes.Replace(trusted, []byte("-----END"), []byte("AAAA\n-----END"), 1))
		}},
		{name: "only a malformed PEM block", build: func(l *layout, f *fixtures) { l.file(caS+"bad.pem", junkPEM) }},
		{name: "DER with trailing garbage", build: func(l *layout, f *fixtures) { l.file(caS+"r.der", append(derOf(f.root), 0, 1, 2)) }},
		{name: "truncated DER", build: func(l *layout, f *fixtures) { l.file(caS+"r.der", derOf(f.root)[:100]) }},
		{name: "DER then PEM in one file", build: func(l *layout, f *fixtures) {
			l.file(caS+"mixed", append(derOf(f.root2), pemOf(f.root)...))
		}},
		{name: "base64 without PEM armour", build: func(l *layout, f *fixtures) {
			p := pemOf(f.root)
			l.file(caS+"b64", bytes.Join(bytes.Split(p, []byte("\n"))[1:len(bytes.Split(p, []byte("\n")))-2], []byte("\n")))
		}},
		{name: "invalid refs", build: func(l *layout, f *fixtures) {
			l.file(caS+"r.pem", pemOf(f.root))
			l.file("x509/CA/s/r.pem", pemOf(f.root))
			l.file("x509/ca/a b/r.pem", pemOf(f.root))
		}, refs: []string{"ca:s", "CA:s", "ca:a b", "ca:", "x509:s", ":s", "ca:a/b", "ca:s/"}, ok: []string{"ca:s"}},
		{name: "certificate under the wrong type", build: func(l *layout, f *fixtures) { l.file(caS+"r.pem", pemOf(f.root)) },
			refs: []string{"signingAuthority:s", "tsa:s"}},
		{name: "name '..' with type folders below", build: func(l *layout, f *fixtures) { l.file(caS+"r.pem", pemOf(f.root)) },
			refs: []string{"ca:..", "tsa:..", "ca:."}},
		{name: "name '.' with an empty type folder", build: func(l *layout, f *fixtures) { l.dir("x509/ca") },
			refs: []string{"ca:.", "signingAuthority:."}},
	}
}

func splitRef(s string) Ref {
	t, n, _ := strings.Cut(s, ":")
	return Ref{Type: Type(t), Name: n}
}

// TestDifferential checks that Load accepts exactly the stores notation-go
// v1.3.2 accepts, with the same certificates in the same order, on every
// layout of diffCases; that LoadFS over os.DirFS agrees; and that Lint
// reports a problem for a store exactly when it does not load.
func TestDifferential(t *testing.T) {
	f := newFixtures(t)
	cases := diffCases(f)
	if len(cases) < 60 {
		t.Fatalf("only %d layouts, want at least 60", len(cases))
	}
	var compared, loaded int
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.unix && runtime.GOOS == "windows" {
				t.Skip("symlinks need privileges on Windows")
			}
			l := newLayout(t)
			c.build(l, f)
			refStrs := c.refs
			if refStrs == nil {
				refStrs = []string{"ca:s", "signingAuthority:s", "tsa:s"}
			}
			var refs []Ref
			for _, s := range refStrs {
				refs = append(refs, splitRef(s))
			}
			set := Load(l.root, refs)
			fsSet := LoadFS(os.DirFS(l.root), refs)
			lint := Lint(l.root, refs)
			ns := ntruststore.NewX509TrustStore(dir.NewSysFS(l.base))
			for i, ref := range refs {
				want, nerr := ns.GetCertificates(context.Background(), ntruststore.Type(ref.Type), ref.Name)
				got, err := set.Certificates(ref)
				compared++
				if (err == nil) != (nerr == nil) {
					t.Errorf("%s: ours err = %v, notation err = %v", refStrs[i], err, nerr)
					continue
				}
				expectOK := contains(c.ok, refStrs[i])
				if (err == nil) != expectOK {
					t.Errorf("%s: loaded = %v, want %v (ours: %v; notation: %v)", refStrs[i], err == nil, expectOK, err, nerr)
				}
				if err != nil {
					var se *StoreError
					if !errors.As(err, &se) || se.Ref != ref {
						t.Errorf("%s: error %v is not a *StoreError for this ref", refStrs[i], err)
					}
					t.Logf("%s: ours: %v\n\tnotation: %v", refStrs[i], err, nerr)
				} else {
					loaded++
					if !sameDER(got, want) {
						t.Errorf("%s: certificates differ from notation's:\n ours %s\n them %s", refStrs[i], subjects(got), subjects(want))
					}
					if exp, ok := c.want[refStrs[i]]; ok && !sameDER(got, exp) {
						t.Errorf("%s: got %s, want %s", refStrs[i], subjects(got), subjects(exp))
					}
				}
				fsGot, fsErr := fsSet.Certificates(ref)
				if (fsErr == nil) != (err == nil) || !sameDER(fsGot, got) {
					t.Errorf("%s: LoadFS disagrees with Load: %v vs %v", refStrs[i], fsErr, err)
				}
				if ref.Valid() == nil && ref.Name != "." && ref.Name != ".." {
					var problems []string
					for _, p := range lint {
						if p.Ref == ref {
							problems = append(problems, p.Error())
						}
					}
					if (len(problems) == 0) != (err == nil) {
						t.Errorf("%s: Lint problems %q but Load error %v", refStrs[i], problems, err)
					}
				}
			}
		})
	}
	t.Logf("%d layouts, %d (layout, ref) comparisons, %d loaded", len(cases), compared, loaded)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameDER(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

func subjects(certs []*x509.Certificate) string {
	var s []string
	for _, c := range certs {
		s = append(s, c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", s)
}
