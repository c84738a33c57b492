// Package textsafe escapes text that came from outside (certificate names,
// annotations, registry strings, module output) before it reaches a
// terminal, so a crafted value cannot move the cursor, repaint a line or
// reorder what a person reads.
//
// Every text output of the commands goes through [Escape] (one-line
// fields) or [EscapeLines] (multi-line blocks). The escaping is visible
// and unambiguous: ESC becomes \x1b, U+202E becomes \u202e, and a
// backslash that starts such a sequence stays readable.
package textsafe
