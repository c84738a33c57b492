package containerdverifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// keysOf returns the keys of the configuration object at path ("" for the
// document), or nil for a value that is not one of its objects.
func keysOf(path string) []string {
	switch path {
	case "":
		return []string{"trustPolicy", "trustStore", "timeout", "revocation", "registry"}
	case "revocation":
		return []string{"cacheDir", "offline", "ocspTimeout", "crlTimeout"}
	case "registry":
		return []string{"dockerConfig", "plainHTTP"}
	}
	return nil
}

// checkKeys walks the document's keys: each object must use exactly the
// documented keys, each at most once. encoding/json matches keys case
// insensitively and keeps the last of duplicates; a configuration that
// gates every pull must not be read differently from how it looks.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object; the file holds one object such as {\"trustPolicy\": ..., \"trustStore\": ..., \"revocation\": {...}}")
	}
	return walkObject(dec, "", keysOf(""))
}

func walkObject(dec *json.Decoder, path string, known []string) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
		key, _ := tok.(string)
		full := key
		if path != "" {
			full = path + "." + key
		}
		if !slices.Contains(known, key) {
			hint := ""
			for _, k := range known {
				if strings.EqualFold(k, key) {
					hint = fmt.Sprintf(" (did you mean %q? keys are case-sensitive)", k)
				}
			}
			where := "the document"
			if path != "" {
				where = path
			}
			return fmt.Errorf("unknown key %q%s; %s takes %s", full, hint, where, strings.Join(known, ", "))
		}
		if seen[key] {
			return fmt.Errorf("key %q is given twice", full)
		}
		seen[key] = true
		if sub := keysOf(full); sub != nil {
			tok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("not JSON: %v", err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return fmt.Errorf("%s must be a JSON object", full)
			}
			if err := walkObject(dec, full, sub); err != nil {
				return err
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("not JSON: %v", err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("not JSON: %v", err)
	}
	return nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("800ms", "8s").
type Duration time.Duration

// UnmarshalJSON reads "800ms" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"800ms\" or \"8s\", got %s", textsafe.Escape(string(b)))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"800ms\" or \"8s\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d Duration) String() string { return time.Duration(d).String() }
