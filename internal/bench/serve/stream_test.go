package main

import (
	"fmt"
	"slices"
	"testing"
)

// TestRequestKeys: 1 to 10 keys per request, every size; the cold stream
// uses every artifact exactly once; the warm one has n requests.
func TestRequestKeys(t *testing.T) {
	var artifacts []string
	for i := range 200 {
		artifacts = append(artifacts, fmt.Sprintf("a%d", i))
	}
	cold := requestKeys(artifacts, 0, true)
	var seen []string
	for _, keys := range cold {
		seen = append(seen, keys...)
	}
	if !slices.Equal(seen, artifacts) {
		t.Errorf("the cold stream does not use every artifact once, in order: %d keys", len(seen))
	}
	warm := requestKeys(artifacts, 1000, false)
	sizes := map[int]int{}
	for _, keys := range warm {
		sizes[len(keys)]++
	}
	if len(warm) != 1000 || len(sizes) != 10 || sizes[1] != 100 || sizes[10] != 100 {
		t.Errorf("warm: %d requests, sizes %v", len(warm), sizes)
	}
}

// TestAdmitted: both servers' answers are read.
func TestAdmitted(t *testing.T) {
	cases := []struct {
		body string
		ok   bool
	}{
		{`{"response":{"items":[{"key":"a","value":{"verdict":"verified"}}]}}`, true},
		{`{"response":{"items":[{"key":"a","value":{"isSuccess":true}}]}}`, true},
		{`{"response":{"items":[{"key":"a","value":{"isSuccess":false}}]}}`, false},
		{`{"response":{"items":[{"key":"a","value":{"verdict":"failed"},"error":"failed"}]}}`, false},
		{`{"response":{"items":[],"systemError":"overloaded"}}`, false},
		{`{"response":{"items":[]}}`, false},
	}
	for _, c := range cases {
		if err := admitted([]byte(c.body), 1); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.body, err)
		}
	}
}
