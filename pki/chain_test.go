package pki_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notation-pkcs11/notation-pkcs11/internal/testpki"
	"github.com/notation-pkcs11/notation-pkcs11/pki"
)

// certFixtures returns every .pem and .crt file under testdata/pki.
func certFixtures(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(fixtureDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".pem") || strings.HasSuffix(p, ".crt")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 40 {
		t.Fatalf("only %d certificate fixtures found under %s", len(out), fixtureDir)
	}
	return out
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemOf(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func TestPublicKeyEqual(t *testing.T) {
	ec := loadSigner(t, "ec-256", "leaf.key").Public()
	ecAgain := loadCert(t, "ec-256", "leaf.crt").PublicKey
	ecOther := loadSigner(t, "ec-256", "root.key").Public()
	rsaKey := loadSigner(t, "rsa-2048", "leaf.key").Public()
	rsaAgain := loadCert(t, "rsa-2048", "leaf.crt").PublicKey
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		a, b crypto.PublicKey
		want bool
	}{
		{"EC key and its certificate", ec, ecAgain, true},
		{"RSA key and its certificate", rsaKey, rsaAgain, true},
		{"ed25519 with itself", edPub, edPub, true},
		{"two EC keys", ec, ecOther, false},
		{"EC and RSA", ec, rsaKey, false},
		{"RSA and EC", rsaKey, ec, false},
		{"EC and nil", ec, nil, false},
		{"nil and EC", nil, ec, false},
		{"nil and nil", nil, nil, false},
		{"not a key", "key", "key", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pki.PublicKeyEqual(tc.a, tc.b); got != tc.want {
				t.Errorf("PublicKeyEqual = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFindLeaf(t *testing.T) {
	for _, kt := range keyTypes {
		t.Run(kt, func(t *testing.T) {
			pub := loadSigner(t, kt, "leaf.key").Public()
			leaf := loadCert(t, kt, "leaf.crt")
			for i, perm := range permutations(loadCerts(t, kt, "chain.pem")) {
				got, err := pki.FindLeaf(pub, perm)
				if err != nil {
					t.Fatalf("order %d %v: %v", i, subjects(perm), err)
				}
				if !got.Equal(leaf) {
					t.Errorf("order %d %v: FindLeaf = %s, want %s", i, subjects(perm), got.Subject, leaf.Subject)
				}
			}
			// The intermediate's and root's keys find their own certificates.
			for _, role := range []string{"intermediate", "root"} {
				got, err := pki.FindLeaf(loadSigner(t, kt, role+".key").Public(), loadCerts(t, kt, "chain.pem"))
				if err != nil || !got.Equal(loadCert(t, kt, role+".crt")) {
					t.Errorf("FindLeaf(%s key) = %v, %v", role, got, err)
				}
			}
		})
	}

	badLeafKey := loadSigner(t, "bad", "leaf.key").Public()
	t.Run("wrong-order chain", func(t *testing.T) {
		got, err := pki.FindLeaf(badLeafKey, loadCerts(t, "bad", "wrong-order-chain.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(loadCert(t, "bad", "ok-leaf.crt")) {
			t.Errorf("FindLeaf = %s, want ok-leaf", got.Subject)
		}
	})
	t.Run("first match wins", func(t *testing.T) {
		a, b := loadCert(t, "bad", "ok-leaf.crt"), loadCert(t, "bad", "serverauth-eku.crt")
		got, err := pki.FindLeaf(badLeafKey, []*x509.Certificate{a, b})
		if err != nil || !got.Equal(a) {
			t.Errorf("FindLeaf = %v, %v; want ok-leaf", got, err)
		}
		got, err = pki.FindLeaf(badLeafKey, []*x509.Certificate{b, a})
		if err != nil || !got.Equal(b) {
			t.Errorf("FindLeaf = %v, %v; want serverauth-eku", got, err)
		}
	})

	for _, tc := range []struct {
		name  string
		pub   crypto.PublicKey
		certs []*x509.Certificate
		n     int
	}{
		{"other-key chain", badLeafKey, loadCerts(t, "bad", "other-key-chain.pem"), 3},
		{"key of another type", loadSigner(t, "rsa-2048", "leaf.key").Public(), loadCerts(t, "ec-256", "chain.pem"), 3},
		{"bad other.key against ok-leaf", loadSigner(t, "bad", "other.key").Public(), loadCerts(t, "bad", "ok-leaf.crt"), 1},
		{"no certificates", badLeafKey, nil, 0},
		{"nil key", nil, loadCerts(t, "ec-256", "chain.pem"), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pki.FindLeaf(tc.pub, tc.certs)
			if !errors.Is(err, pki.ErrCertificateMismatch) {
				t.Fatalf("FindLeaf = %v, %v; want ErrCertificateMismatch", got, err)
			}
			if got != nil {
				t.Errorf("certificate %s returned with an error", got.Subject)
			}
			if want := fmt.Sprintf("none of the %d certificates", tc.n); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestBuildChainGood(t *testing.T) {
	for _, kt := range keyTypes {
		t.Run(kt, func(t *testing.T) {
			want := []*x509.Certificate{loadCert(t, kt, "leaf.crt"), loadCert(t, kt, "intermediate.crt"), loadCert(t, kt, "root.crt")}
			pub := loadSigner(t, kt, "leaf.key").Public()
			for i, perm := range permutations(loadCerts(t, kt, "chain.pem")) {
				leaf, err := pki.FindLeaf(pub, perm)
				if err != nil {
					t.Fatal(err)
				}
				got, err := pki.BuildChain(leaf, pki.PoolFinder(perm))
				if err != nil {
					t.Fatalf("order %d %v: BuildChain: %v", i, subjects(perm), err)
				}
				if !sameChain(got, want) {
					t.Errorf("order %d %v: BuildChain = %v, want %v", i, subjects(perm), subjects(got), subjects(want))
				}
			}
			// Starting at the intermediate or the root gives the tail.
			for i := 1; i < 3; i++ {
				got, err := pki.BuildChain(want[i], pki.PoolFinder(want))
				if err != nil || !sameChain(got, want[i:]) {
					t.Errorf("BuildChain(%s) = %v, %v; want %v", want[i].Subject.CommonName, subjects(got), err, subjects(want[i:]))
				}
			}
		})
	}
	t.Run("pool with every fixture certificate", func(t *testing.T) {
		var pool []*x509.Certificate
		for _, p := range certFixtures(t) {
			c, err := testpki.LoadCertificates(p)
			if err != nil {
				t.Fatal(err)
			}
			pool = append(pool, c...)
		}
		for _, kt := range keyTypes {
			want := []*x509.Certificate{loadCert(t, kt, "leaf.crt"), loadCert(t, kt, "intermediate.crt"), loadCert(t, kt, "root.crt")}
			got, err := pki.BuildChain(want[0], pki.PoolFinder(pool))
			if err != nil || !sameChain(got, want) {
				t.Errorf("%s: BuildChain = %v, %v; want %v", kt, subjects(got), err, subjects(want))
			}
		}
	})
	t.Run("wrong-order-chain.pem", func(t *testing.T) {
		certs := loadCerts(t, "bad", "wrong-order-chain.pem")
		leaf, err := pki.FindLeaf(loadSigner(t, "bad", "leaf.key").Public(), certs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pki.BuildChain(leaf, pki.PoolFinder(certs))
		if err != nil {
			t.Fatalf("BuildChain: %v", err)
		}
		want := []*x509.Certificate{loadCert(t, "bad", "ok-leaf.crt"), loadCert(t, "ca", "intermediate.crt"), loadCert(t, "ca", "root.crt")}
		if !sameChain(got, want) {
			t.Errorf("BuildChain = %v, want %v", subjects(got), subjects(want))
		}
		if err := pki.CheckSigningChain(got, epoch); err != nil {
			t.Errorf("CheckSigningChain of the reordered chain: %v", err)
		}
	})
	// Every bad leaf issued by the dev CA still builds to ca/root.
	for _, name := range badLeafFixtures {
		if name == "self-signed-leaf" {
			continue
		}
		t.Run("bad/"+name, func(t *testing.T) {
			certs := loadCerts(t, "bad", name+"-chain.pem")
			got, err := pki.BuildChain(certs[0], pki.PoolFinder(certs))
			if err != nil || !sameChain(got, certs) {
				t.Errorf("BuildChain = %v, %v; want %v", subjects(got), err, subjects(certs))
			}
		})
	}
}

// TestBuildChainSelfSignedLeaf: a self-signed signing certificate (CA:FALSE,
// keyUsage digitalSignature only, as the Notary Project profile wants) is
// its own root, so its chain is the certificate alone. notation-core-go
// accepts such a one-certificate chain.
func TestBuildChainSelfSignedLeaf(t *testing.T) {
	leaf := loadCert(t, "bad", "self-signed-leaf.crt")
	for _, pool := range [][]*x509.Certificate{nil, {leaf}, loadCerts(t, "ca", "chain.pem")} {
		got, err := pki.BuildChain(leaf, pki.PoolFinder(pool))
		if err != nil {
			t.Errorf("pool %v: BuildChain: %v", subjects(pool), err)
			continue
		}
		if !sameChain(got, []*x509.Certificate{leaf}) {
			t.Errorf("pool %v: BuildChain = %v, want the leaf alone", subjects(pool), subjects(got))
		}
	}
	// A self-signed CA certificate is a chain of one too (this works today).
	root := loadCert(t, "ca", "root.crt")
	got, err := pki.BuildChain(root, pki.PoolFinder(nil))
	if err != nil || !sameChain(got, []*x509.Certificate{root}) {
		t.Errorf("BuildChain(root) = %v, %v; want the root alone", subjects(got), err)
	}
}

func TestBuildChainIncomplete(t *testing.T) {
	caInter := loadCert(t, "ca", "intermediate.crt")
	caRoot := loadCert(t, "ca", "root.crt")
	okLeaf := loadCert(t, "bad", "ok-leaf.crt")

	// A certificate with the intermediate's subject but another key: it must
	// be passed over, not accepted on the strength of its name.
	impostorKey := newP256(t)
	impostorTmpl := caTmpl("impostor")
	impostorTmpl.Subject = caInter.Subject
	impostor := issue(t, impostorTmpl, &impostorKey.PublicKey, nil, impostorKey)
	if !bytes.Equal(impostor.RawSubject, caInter.RawSubject) {
		t.Fatal("impostor subject does not match")
	}

	for _, tc := range []struct {
		name   string
		leaf   *x509.Certificate
		pool   []*x509.Certificate
		issuer string // subject named as the missing issuer
		of     string // subject whose issuer is missing
	}{
		{"missing-intermediate-chain.pem", okLeaf, loadCerts(t, "bad", "missing-intermediate-chain.pem"), caInter.Subject.String(), okLeaf.Subject.String()},
		{"empty pool", okLeaf, nil, caInter.Subject.String(), okLeaf.Subject.String()},
		{"only the leaf", okLeaf, []*x509.Certificate{okLeaf}, caInter.Subject.String(), okLeaf.Subject.String()},
		{"missing root", okLeaf, []*x509.Certificate{okLeaf, caInter}, caRoot.Subject.String(), caInter.Subject.String()},
		{"same-name impostor instead of the intermediate", okLeaf, []*x509.Certificate{impostor, caRoot}, caInter.Subject.String(), okLeaf.Subject.String()},
		{"intermediate of another key type", loadCert(t, "ec-256", "leaf.crt"), []*x509.Certificate{caInter, caRoot, loadCert(t, "ec-384", "intermediate.crt")}, loadCert(t, "ec-256", "intermediate.crt").Subject.String(), loadCert(t, "ec-256", "leaf.crt").Subject.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pki.BuildChain(tc.leaf, pki.PoolFinder(tc.pool))
			if !errors.Is(err, pki.ErrIncompleteChain) {
				t.Fatalf("BuildChain = %v, %v; want ErrIncompleteChain", subjects(got), err)
			}
			if got != nil {
				t.Errorf("chain %v returned with an error", subjects(got))
			}
			for _, w := range []string{tc.issuer, tc.of, "add the issuing CA certificate"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}

	t.Run("impostor listed first is skipped", func(t *testing.T) {
		got, err := pki.BuildChain(okLeaf, pki.PoolFinder([]*x509.Certificate{impostor, caRoot, caInter}))
		if err != nil || !sameChain(got, []*x509.Certificate{okLeaf, caInter, caRoot}) {
			t.Errorf("BuildChain = %v, %v; want ok-leaf, ca intermediate, ca root", subjects(got), err)
		}
	})
}

func TestBuildChainFinderError(t *testing.T) {
	sentinel := errors.New("token went away")
	okLeaf := loadCert(t, "bad", "ok-leaf.crt")
	calls := 0
	got, err := pki.BuildChain(okLeaf, func(rawIssuer []byte) ([]*x509.Certificate, error) {
		calls++
		if !bytes.Equal(rawIssuer, okLeaf.RawIssuer) {
			t.Errorf("finder asked for %x, want the leaf's issuer", rawIssuer)
		}
		return nil, sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("BuildChain = %v, %v; want the finder's error", subjects(got), err)
	}
	if errors.Is(err, pki.ErrIncompleteChain) {
		t.Errorf("finder failure reported as ErrIncompleteChain: %v", err)
	}
	if !strings.Contains(err.Error(), okLeaf.Subject.String()) || !strings.Contains(err.Error(), "look up the issuer") {
		t.Errorf("error %q does not name the certificate whose issuer was looked up", err)
	}
	if calls != 1 {
		t.Errorf("finder called %d times, want 1", calls)
	}
}

func TestPoolFinder(t *testing.T) {
	chain := loadCerts(t, "ec-256", "chain.pem")
	caChain := loadCerts(t, "ca", "chain.pem")
	find := pki.PoolFinder(append(append([]*x509.Certificate{}, chain...), caChain...))
	for _, c := range append(chain, caChain...) {
		got, err := find(c.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Equal(c) {
			t.Errorf("find(%s) = %v, want exactly it", c.Subject.CommonName, subjects(got))
		}
	}
	// Lookup is by issuer name, so it answers for the leaf's RawIssuer.
	got, _ := find(chain[0].RawIssuer)
	if len(got) != 1 || !got[0].Equal(chain[1]) {
		t.Errorf("find(leaf issuer) = %v, want the intermediate", subjects(got))
	}
	for _, name := range [][]byte{nil, {}, []byte("no such name")} {
		got, err := find(name)
		if err != nil || len(got) != 0 {
			t.Errorf("find(%q) = %v, %v; want nothing", name, subjects(got), err)
		}
	}
	// Several certificates with one subject are all returned, in order.
	a, b := loadCert(t, "bad", "ok-leaf.crt"), loadCert(t, "bad", "ok-leaf.crt")
	impostorTmpl := caTmpl("x")
	impostorTmpl.Subject = chain[1].Subject
	k := newP256(t)
	imp := issue(t, impostorTmpl, &k.PublicKey, nil, k)
	got, _ = pki.PoolFinder([]*x509.Certificate{imp, a, chain[1], b})(chain[1].RawSubject)
	if len(got) != 2 || !got[0].Equal(imp) || !got[1].Equal(chain[1]) {
		t.Errorf("find(shared subject) = %v, want impostor then intermediate", subjects(got))
	}
	if got, _ := pki.PoolFinder(nil)(chain[1].RawSubject); len(got) != 0 {
		t.Errorf("empty pool found %v", subjects(got))
	}
}

// crossSigned builds two CAs, A and B, that only certify each other
// (n certificates for each subject, with distinct serials), and a leaf
// under A. No certificate is self-signed.
func crossSigned(t *testing.T, n int) (leaf *x509.Certificate, pool []*x509.Certificate) {
	t.Helper()
	keyA, keyB := newP256(t), newP256(t)
	// Bootstrap: self-signed placeholders give the issuer names and keys.
	bootA := &testCA{issue(t, caTmpl("Cross CA A"), &keyA.PublicKey, nil, keyA), keyA}
	bootB := &testCA{issue(t, caTmpl("Cross CA B"), &keyB.PublicKey, nil, keyB), keyB}
	for i := 0; i < n; i++ {
		// Distinct serials: testkit derives one from the template, which
		// is the same for every copy.
		a, b := caTmpl("Cross CA A"), caTmpl("Cross CA B")
		a.SerialNumber, b.SerialNumber = big.NewInt(int64(2*i+1)), big.NewInt(int64(2*i+2))
		pool = append(pool, issue(t, a, &keyA.PublicKey, bootB, nil), issue(t, b, &keyB.PublicKey, bootA, nil))
	}
	leaf, _ = newLeaf(t, "Cross Leaf", bootA, nil)
	return leaf, pool
}

func TestBuildChainCycleTerminates(t *testing.T) {
	t.Run("A and B certify each other once", func(t *testing.T) {
		leaf, pool := crossSigned(t, 1)
		got, err := pki.BuildChain(leaf, pki.PoolFinder(pool))
		if !errors.Is(err, pki.ErrIncompleteChain) {
			t.Fatalf("BuildChain = %v, %v; want ErrIncompleteChain", subjects(got), err)
		}
		if !strings.Contains(err.Error(), "Cross CA") {
			t.Errorf("error %q does not name the CA whose issuer is missing", err)
		}
	})
	t.Run("many cross certificates hit the length bound", func(t *testing.T) {
		leaf, pool := crossSigned(t, 12)
		calls := 0
		find := pki.PoolFinder(pool)
		got, err := pki.BuildChain(leaf, func(raw []byte) ([]*x509.Certificate, error) {
			calls++
			return find(raw)
		})
		if !errors.Is(err, pki.ErrIncompleteChain) {
			t.Fatalf("BuildChain = %v, %v; want ErrIncompleteChain", subjects(got), err)
		}
		for _, w := range []string{"no self-signed root within 10 certificates", leaf.Subject.String()} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		if calls > 10 {
			t.Errorf("finder called %d times, want at most 10", calls)
		}
	})
	t.Run("a finder that always answers terminates", func(t *testing.T) {
		// A malicious or buggy finder hands out a fresh cross certificate on
		// every call; the bound, not inChain, must stop the walk.
		leaf, pool := crossSigned(t, 20)
		calls := 0
		find := pki.PoolFinder(pool)
		_, err := pki.BuildChain(leaf, func(raw []byte) ([]*x509.Certificate, error) {
			calls++
			if calls > 100 {
				t.Fatal("BuildChain does not terminate")
			}
			return find(raw)
		})
		if !errors.Is(err, pki.ErrIncompleteChain) {
			t.Fatalf("err = %v, want ErrIncompleteChain", err)
		}
	})
	t.Run("a chain of exactly 10 with a root builds", func(t *testing.T) {
		root := newRoot(t, "Long Root") // no path length constraint
		pool := []*x509.Certificate{root.cert}
		parent := root
		for i := 0; i < 8; i++ {
			parent = newSub(t, fmt.Sprintf("Long Intermediate %d", i), parent, nil)
			pool = append(pool, parent.cert)
		}
		leaf, _ := newLeaf(t, "Long Leaf", parent, nil)
		got, err := pki.BuildChain(leaf, pki.PoolFinder(pool))
		if err != nil {
			t.Fatalf("BuildChain of 10: %v", err)
		}
		if len(got) != 10 || !got[9].Equal(root.cert) {
			t.Errorf("BuildChain = %v, want 10 certificates ending in the root", subjects(got))
		}
		// One more intermediate makes it 11: refused by the bound.
		parent = newSub(t, "Long Intermediate 8", parent, nil)
		pool = append(pool, parent.cert)
		leaf, _ = newLeaf(t, "Longer Leaf", parent, nil)
		got, err = pki.BuildChain(leaf, pki.PoolFinder(pool))
		if !errors.Is(err, pki.ErrIncompleteChain) {
			t.Errorf("BuildChain of 11 = %v, %v; want ErrIncompleteChain", subjects(got), err)
		}
	})
}
