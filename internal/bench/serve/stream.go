package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// requestKeys is the Gatekeeper request stream both servers get: request i
// carries 1 + (7i mod 10) keys (1 to 10, every size equally often), taken
// in turn from artifacts. In the cold regime (once) each artifact is used
// exactly once and the stream ends when they run out; in the warm regime it
// wraps around, for n requests.
func requestKeys(artifacts []string, n int, once bool) [][]string {
	var out [][]string
	next := 0
	for i := 0; once || i < n; i++ {
		size := 1 + (7*i)%10
		if once {
			if next >= len(artifacts) {
				break
			}
			size = min(size, len(artifacts)-next)
		}
		keys := make([]string, size)
		for j := range keys {
			keys[j] = artifacts[(next+j)%len(artifacts)]
		}
		next += size
		if !once {
			next %= len(artifacts)
		}
		out = append(out, keys)
	}
	return out
}

// providerRequest is Gatekeeper's request body for keys.
func providerRequest(keys []string) []byte {
	b, _ := json.Marshal(map[string]any{"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": map[string]any{"keys": keys}})
	return b
}

// admitted reports whether a ProviderResponse admits every key: no system
// error, one item per key, each without an error and, for Ratify, with
// isSuccess.
func admitted(body []byte, keys int) error {
	var resp struct {
		Response struct {
			Items []struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
				Error string          `json:"error"`
			} `json:"items"`
			SystemError string `json:"systemError"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("not a ProviderResponse: %v", err)
	}
	r := resp.Response
	if r.SystemError != "" {
		return fmt.Errorf("systemError: %s", r.SystemError)
	}
	if len(r.Items) != keys {
		return fmt.Errorf("%d items for %d keys", len(r.Items), keys)
	}
	for _, it := range r.Items {
		var v struct {
			IsSuccess *bool  `json:"isSuccess"` // Ratify
			Verdict   string `json:"verdict"`   // trustpolicy
		}
		_ = json.Unmarshal(it.Value, &v)
		if it.Error != "" || (v.IsSuccess == nil && v.Verdict != "verified") || (v.IsSuccess != nil && !*v.IsSuccess) {
			return fmt.Errorf("%s not admitted: %s %s", it.Key, it.Error, it.Value)
		}
	}
	return nil
}

// result is one measured run.
type result struct {
	requests, errors int
	firstErr         string
	elapsed          time.Duration
	latencies        []time.Duration
	bytes            int64 // response bodies
}

func (r result) throughput() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// percentile is the p-th percentile latency (nearest rank).
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// load sends stream to url with clients concurrent clients, each taking
// the next request of the stream, and stops when the stream is done or
// limit has passed, whichever is first. Every response must be HTTP 200;
// every check-th one (and every one when check is 1) is decoded and must
// admit every key, so that decoding large answers on the load generator's
// side (it shares the CPUs) weighs little on the measurement.
func load(client *http.Client, url string, stream [][]string, clients int, limit time.Duration, check int) result {
	var (
		mu  sync.Mutex
		res result
		wg  sync.WaitGroup
	)
	type job struct {
		keys  []string
		check bool
	}
	next := make(chan job)
	start := time.Now()
	deadline := start.Add(limit)
	go func() {
		defer close(next)
		for i, keys := range stream {
			if time.Now().After(deadline) {
				return
			}
			next <- job{keys, i%check == 0}
		}
	}()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				keys := j.keys
				t0 := time.Now()
				n, err := post(client, url, keys, j.check)
				d := time.Since(t0)
				mu.Lock()
				res.requests++
				res.bytes += int64(n)
				res.latencies = append(res.latencies, d)
				if err != nil {
					res.errors++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// post sends one request and, with check, checks that every key was
// admitted; it returns the size of the response body.
func post(client *http.Client, url string, keys []string, check bool) (int, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(providerRequest(keys)))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return len(body), err
	}
	if resp.StatusCode != http.StatusOK {
		return len(body), fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	if !check {
		return len(body), nil
	}
	return len(body), admitted(body, len(keys))
}
