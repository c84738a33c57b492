package difftest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy"
	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/truststore"
)

type ourResult struct {
	verdict string
	cfgErr  error
	res     *trustpolicy.Result
	panic   any
	calls   []revCall
}

// ourStores converts stores to the Set our engine takes. Every store the
// case defines is in it; a store the policy names but the case does not
// define is absent, which is how a store that does not exist looks.
func ourStores(s stores) (*truststore.Set, error) {
	setMu.Lock()
	defer setMu.Unlock()
	key := reflect.ValueOf(s).Pointer()
	if set, ok := setCache[key]; ok {
		return set, nil
	}
	set, err := newSet(s)
	if err == nil {
		setCache[key] = set
	}
	return set, err
}

// A Set is immutable and safe for concurrent use: one per stores map (one
// per key type).
var (
	setMu    sync.Mutex
	setCache = map[uintptr]*truststore.Set{}
)

func newSet(s stores) (*truststore.Set, error) {
	m := make(map[truststore.Ref][]*x509.Certificate, len(s))
	for k, certs := range s {
		typ, name, ok := strings.Cut(k, ":")
		if !ok {
			return nil, fmt.Errorf("bad store key %q", k)
		}
		m[truststore.Ref{Type: truststore.Type(typ), Name: name}] = certs
	}
	return truststore.NewSet(m), nil
}

// ourDocument converts notation's Document to ours by a JSON round trip:
// the two have the same JSON shape.
func ourDocument(in *input) (*trustpolicy.Document, error) {
	b, err := json.Marshal(in.doc)
	if err != nil {
		return nil, err
	}
	var d trustpolicy.Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// runOurs verifies with our engine.
func runOurs(ctx context.Context, in *input) (o ourResult) {
	rec := &recorder{}
	defer func() {
		if p := recover(); p != nil {
			o.panic = fmt.Sprintf("%v\n%s", p, debug.Stack())
		}
		o.calls = rec.calls
	}()
	doc, err := ourDocument(in)
	if err != nil {
		o.verdict, o.cfgErr = vConfigError, err
		return o
	}
	pol, err := trustpolicy.Compile(doc)
	if err != nil {
		o.verdict, o.cfgErr = vConfigError, err
		return o
	}
	set, err := ourStores(in.stores)
	if err != nil {
		o.verdict, o.cfgErr = vConfigError, err
		return o
	}
	eng, err := trustpolicy.New(trustpolicy.Config{Policy: pol, Stores: set, Revocation: ourChecker(in.rev, rec)})
	if err != nil {
		o.verdict, o.cfgErr = vConfigError, err
		return o
	}
	o.res = eng.Evaluate(ctx, trustpolicy.Input{
		Reference:    in.reference,
		Descriptor:   in.desc,
		Envelope:     in.envelope,
		MediaType:    in.mediaType,
		UserMetadata: in.userMetadata,
		Now:          time.Now(),
	})
	o.verdict = string(o.res.Verdict)
	return o
}
