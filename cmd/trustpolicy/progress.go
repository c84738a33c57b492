package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/notation-pkcs11/notation-pkcs11/internal/textsafe"
)

// writeJSONLine writes v as one line of JSON Lines: compact, and with
// every rune textsafe.Unsafe names written as a \u escape.
func writeJSONLine(w io.Writer, v any) error {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return err
	}
	_, err := w.Write(textsafe.EscapeJSON(b.Bytes()))
	return err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a progress bar on stderr when stderr is a terminal, through
// progressbar/v3; otherwise every method does nothing.
type progress struct {
	bar *progressbar.ProgressBar
	// shared: stdout is the same terminal, so the bar is cleared before a
	// line is printed there.
	shared bool
}

func newProgress(stderr, stdout io.Writer, total int, what string) *progress {
	if total < 2 || !isTerminal(stderr) {
		return &progress{}
	}
	return &progress{
		bar: progressbar.NewOptions(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		),
		shared: isTerminal(stdout),
	}
}

func (p *progress) set(done, _ int) {
	if p.bar != nil {
		_ = p.bar.Set(done)
	}
}

func (p *progress) clear() {
	if p.bar != nil && p.shared {
		_ = p.bar.Clear()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
