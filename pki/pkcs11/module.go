package pkcs11

import (
	"errors"
	"fmt"
	"os"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// module is one loaded PKCS#11 library: one handle (one C_GetFunctionList),
// initialised once and finalised once, that every use of the library in a
// Token shares. Modules that keep per-process state behind their function
// list (p11-kit-client.so keeps a connection to its server per list) break
// when a second handle initialises the library and the first finalises it,
// so there is never a second handle.
type module struct {
	path string
	ctx  *p11.Ctx
	// owned: this handle initialised the library. A library that
	// something else in the process had initialised already is not
	// finalised on close.
	owned bool
}

func loadModule(path string) (*module, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModule, path, errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrModule, path)
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s could not be loaded (not a shared library for this architecture, or a dependency is missing: check with ldd)", ErrModule, path)
	}
	m := &module{path: path, ctx: ctx, owned: true}
	if err := ctx.Initialize(); err != nil {
		if !isCode(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			ctx.Destroy()
			return nil, fmt.Errorf("%w: %s: C_Initialize: %w", ErrModule, path, err)
		}
		m.owned = false
	}
	return m, nil
}

// close finalises the library (if this handle initialised it) and unloads it.
func (m *module) close() {
	if m.owned {
		_ = m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

// TokenInfo describes one initialised token.
type TokenInfo struct {
	Slot         uint   `json:"slot"`
	Label        string `json:"label"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Serial       string `json:"serial"`
	// LoginRequired is CKF_LOGIN_REQUIRED; UserPINLocked is CKF_USER_PIN_LOCKED.
	LoginRequired bool `json:"loginRequired"`
	UserPINLocked bool `json:"userPinLocked"`
	Initialized   bool `json:"initialized"`
}

func (m *module) tokens() ([]TokenInfo, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("failed to list slots of %s: %w", m.path, err)
	}
	out := make([]TokenInfo, 0, len(slots))
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil {
			return nil, fmt.Errorf("failed to read the token in slot %d: %w", s, err)
		}
		out = append(out, TokenInfo{
			Slot:          s,
			Label:         trimPadded(ti.Label),
			Manufacturer:  trimPadded(ti.ManufacturerID),
			Model:         trimPadded(ti.Model),
			Serial:        trimPadded(ti.SerialNumber),
			LoginRequired: ti.Flags&p11.CKF_LOGIN_REQUIRED != 0,
			UserPINLocked: ti.Flags&p11.CKF_USER_PIN_LOCKED != 0,
			Initialized:   ti.Flags&p11.CKF_TOKEN_INITIALIZED != 0,
		})
	}
	return out, nil
}

func trimPadded(s string) string { return strings.TrimRight(s, " \x00") }

// selectToken picks the one initialised token that matches every token
// attribute of u. No match and several matches are both errors that say
// which tokens exist.
func selectToken(tokens []TokenInfo, u *URI) (TokenInfo, error) {
	var matches []TokenInfo
	for _, t := range tokens {
		if !t.Initialized {
			continue
		}
		if (u.Token == "" || t.Label == u.Token) &&
			(u.Serial == "" || t.Serial == u.Serial) &&
			(u.SlotID == nil || t.Slot == *u.SlotID) &&
			(u.Manufacturer == "" || t.Manufacturer == u.Manufacturer) &&
			(u.Model == "" || t.Model == u.Model) {
			matches = append(matches, t)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return TokenInfo{}, fmt.Errorf("%w: no initialised token matches %s; tokens present: %s", ErrTokenNotFound, tokenSelector(u), describeTokens(tokens))
	}
	return TokenInfo{}, fmt.Errorf("%w: %d tokens match %s (%s); add serial= or slot-id= to the URI to pick one", ErrAmbiguous, len(matches), tokenSelector(u), describeTokens(matches))
}

func tokenSelector(u *URI) string {
	var parts []string
	if u.Token != "" {
		parts = append(parts, fmt.Sprintf("token=%q", u.Token))
	}
	if u.Serial != "" {
		parts = append(parts, fmt.Sprintf("serial=%q", u.Serial))
	}
	if u.SlotID != nil {
		parts = append(parts, fmt.Sprintf("slot-id=%d", *u.SlotID))
	}
	if u.Manufacturer != "" {
		parts = append(parts, fmt.Sprintf("manufacturer=%q", u.Manufacturer))
	}
	if u.Model != "" {
		parts = append(parts, fmt.Sprintf("model=%q", u.Model))
	}
	if len(parts) == 0 {
		return "the URI (no token attribute given)"
	}
	return strings.Join(parts, " ")
}

func describeTokens(ts []TokenInfo) string {
	var parts []string
	for _, t := range ts {
		if t.Initialized {
			parts = append(parts, fmt.Sprintf("slot-id=%d token=%q serial=%q", t.Slot, t.Label, t.Serial))
		}
	}
	if len(parts) == 0 {
		return "none (initialise one, e.g. softhsm2-util --init-token; for a network HSM, check that it or its server is reachable)"
	}
	return strings.Join(parts, ", ")
}

func isCode(err error, code uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == code
}
