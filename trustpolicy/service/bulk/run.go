package bulk

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/notation-pkcs11/notation-pkcs11/trustpolicy/registry"
)

// Func verifies one input. It must be safe for concurrent use and never
// panic; whatever goes wrong belongs in the Record.
type Func func(ctx context.Context, in Input) Record

// Options configure Run. The zero value is the default.
type Options struct {
	// Jobs is how many inputs are verified at once (default
	// runtime.NumCPU()).
	Jobs int
	// PerHost is how many inputs of one registry host are verified at
	// once (default Jobs). Inputs from OCI layouts have no limit but Jobs.
	PerHost int
	// Progress, when set, is called on Run's goroutine after each record
	// is handed to emit, with how many are done and the total.
	Progress func(done, total int)
}

// Run verifies inputs with verify on a pool of Options.Jobs workers and
// hands each record to emit, on Run's goroutine, in input order. A
// reference given more than once is verified once; its later
// occurrences get the same record with their own Source. At most a
// window of 4×Jobs (at least 16) records wait for an earlier one, so
// memory does not grow with the number of inputs. Each record's Duration
// is set.
//
// Run returns emit's first error (it stops verifying then), or ctx's error
// when ctx ends before every input was emitted (the inputs in flight are
// emitted with what verify made of the cancelled context), else nil.
func Run(ctx context.Context, inputs []Input, verify Func, opts Options, emit func(Record) error) error {
	timed := func(ctx context.Context, in Input) Record {
		start := time.Now()
		r := verify(ctx, in)
		r.Duration = time.Since(start)
		return r
	}
	again := func(r Record, in Input) Record {
		r.Source = in.Source
		return r
	}
	return Each(ctx, inputs, timed, opts, again, emit)
}

// Each is Run for results of any type, such as the pair of records of a
// rollout simulation: f runs on the pool, emit gets the results in input
// order, and again (nil: the same value) makes the result of a repeated
// reference from its first occurrence's.
func Each[T any](ctx context.Context, inputs []Input, f func(context.Context, Input) T, opts Options, again func(T, Input) T, emit func(T) error) error {
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	perHost := opts.PerHost
	if perHost <= 0 || perHost > jobs {
		perHost = jobs
	}
	window := max(4*jobs, 16)

	// first[i] is the index of the first input with inputs[i]'s reference;
	// later[j] counts the later occurrences of the first input j.
	first := make([]int, len(inputs))
	later := map[int]int{}
	seen := make(map[string]int, len(inputs))
	for i, in := range inputs {
		if j, ok := seen[in.Reference]; ok {
			first[i] = j
			later[j]++
			continue
		}
		seen[in.Reference] = i
		first[i] = i
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i int
		r T
	}
	// At most window results are outstanding (admitted, not yet emitted):
	// a send never blocks.
	results := make(chan result, window)
	s := &scheduler{inputs: inputs, first: first, window: window, perHost: perHost, running: map[string]int{}}
	s.cond = sync.NewCond(&s.mu)
	stopWatch := context.AfterFunc(ctx, s.stop)
	defer stopWatch()

	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := s.next()
				if !ok {
					return
				}
				r := f(ctx, inputs[i])
				s.finished(i)
				results <- result{i, r}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	pending := map[int]T{}
	kept := map[int]T{} // results whose reference comes again
	next := 0
	var emitErr error
	for res := range results {
		pending[res.i] = res.r
		for next < len(inputs) {
			j := first[next]
			var r T
			if j == next {
				var ok bool
				if r, ok = pending[next]; !ok {
					break
				}
				delete(pending, next)
				s.emitted()
				if later[next] > 0 {
					kept[next] = r
				}
			} else {
				r = kept[j]
				if later[j]--; later[j] == 0 {
					delete(kept, j)
				}
				if again != nil {
					r = again(r, inputs[next])
				}
			}
			next++
			if emitErr == nil {
				if err := emit(r); err != nil {
					emitErr = err
					cancel()
				} else if opts.Progress != nil {
					opts.Progress(next, len(inputs))
				}
			}
		}
	}
	switch {
	case emitErr != nil:
		return emitErr
	case next < len(inputs):
		return context.Cause(ctx)
	}
	return nil
}

// scheduler hands inputs to workers: the earliest admitted input whose
// registry host is under its limit, so that one busy host does not hold
// the others up. Inputs are admitted in order while fewer than window are
// admitted and not yet emitted.
type scheduler struct {
	inputs  []Input
	first   []int
	window  int
	perHost int

	mu       sync.Mutex
	cond     *sync.Cond
	admitted int   // inputs[:admitted] were considered for the queue
	open     int   // admitted first occurrences not yet emitted
	queue    []int // admitted, not started
	running  map[string]int
	stopped  bool
}

// next returns the next input to verify, waiting for one; false when
// there is none left or the run stopped.
func (s *scheduler) next() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.stopped {
			return 0, false
		}
		for s.open < s.window && s.admitted < len(s.inputs) {
			if i := s.admitted; s.first[i] == i {
				s.queue = append(s.queue, i)
				s.open++
			}
			s.admitted++
		}
		for k, i := range s.queue {
			h := hostOf(s.inputs[i].Reference)
			if h == "" || s.running[h] < s.perHost {
				s.queue = append(s.queue[:k], s.queue[k+1:]...)
				if h != "" {
					s.running[h]++
				}
				return i, true
			}
		}
		if len(s.queue) == 0 && s.admitted == len(s.inputs) {
			return 0, false
		}
		s.cond.Wait()
	}
}

// finished frees input i's host slot.
func (s *scheduler) finished(i int) {
	s.mu.Lock()
	if h := hostOf(s.inputs[i].Reference); h != "" {
		s.running[h]--
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

// emitted frees a window slot.
func (s *scheduler) emitted() {
	s.mu.Lock()
	s.open--
	s.cond.Broadcast()
	s.mu.Unlock()
}

// stop ends the run: nothing more is started.
func (s *scheduler) stop() {
	s.mu.Lock()
	s.stopped = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// hostOf is the registry host of ref, "" for an OCI layout.
func hostOf(ref string) string {
	if registry.IsLayoutReference(ref) {
		return ""
	}
	host, _, _ := strings.Cut(ref, "/")
	return host
}
