package admission

import (
	"context"
	"errors"
	"fmt"
)

// ErrOverloaded is returned when every worker is busy and the queue is
// full: the request is refused at once rather than left to hang.
var ErrOverloaded = errors.New("overloaded")

// limiter bounds the requests being verified (slots) and the requests
// waiting for a slot (queue). A request that finds the queue full is
// refused at once; a queued request waits at most until its deadline.
type limiter struct {
	slots chan struct{}
	queue chan struct{}
}

func newLimiter(slots, queue int) *limiter {
	return &limiter{slots: make(chan struct{}, slots), queue: make(chan struct{}, queue)}
}

// acquire takes a slot, waiting in the queue if it must. queued reports
// whether it waited. The error wraps ErrOverloaded (queue full) or ctx's
// error (the deadline passed in the queue).
func (l *limiter) acquire(ctx context.Context, queued func(delta int)) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case l.queue <- struct{}{}:
	default:
		return fmt.Errorf("%w: %d requests are being verified and %d are queued; retry later", ErrOverloaded, cap(l.slots), cap(l.queue))
	}
	queued(1)
	defer func() {
		<-l.queue
		queued(-1)
	}()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no worker became free before the deadline: %w", ctx.Err())
	}
}

// release frees the slot acquire took.
func (l *limiter) release() { <-l.slots }

// inFlight is the number of slots taken.
func (l *limiter) inFlight() int { return len(l.slots) }
