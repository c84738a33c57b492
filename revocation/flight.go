package revocation

import (
	"context"
	"sync"
)

// flightGroup runs one call per key at a time and hands its result to every
// caller that asked for the same key meanwhile (like
// golang.org/x/sync/singleflight). The call runs on its own goroutine with
// a context that the first caller's cancellation does not end, so a caller
// that gives up does not fail the others; each caller waits only as long
// as its own ctx allows.
type flightGroup[T any] struct {
	mu      sync.Mutex
	calls   map[string]*flightCall[T]
	running sync.WaitGroup
	// joined, when set (tests only), is called by every caller of do once
	// it waits for the call for key, first caller included.
	joined func(key string)
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// do runs fn for key unless a call for key is already running, and waits
// for the result or for ctx. fn receives ctx without its cancellation; fn
// must bound its own run time.
func (g *flightGroup[T]) do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*flightCall[T]{}
	}
	c, running := g.calls[key]
	if !running {
		c = &flightCall[T]{done: make(chan struct{})}
		g.calls[key] = c
		detached := context.WithoutCancel(ctx)
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			defer func() {
				g.mu.Lock()
				delete(g.calls, key)
				g.mu.Unlock()
				close(c.done)
			}()
			c.val, c.err = fn(detached)
		}()
	}
	joined := g.joined
	g.mu.Unlock()
	if joined != nil {
		joined(key)
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// wait blocks until no call is running (for tests and orderly shutdown).
func (g *flightGroup[T]) wait() { g.running.Wait() }
