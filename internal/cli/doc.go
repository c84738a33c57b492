// Package cli is the contract every command of this project keeps, on top
// of github.com/spf13/cobra (as notation, oras and Ratify use):
//
//   - -h/--help on every command and subcommand lists its flags and
//     examples; "completion bash|zsh|fish" works;
//   - a usage mistake (unknown flag or command, wrong arguments) is one line
//     on stderr that ends with "run 'CMD -h' for usage", exit code 2;
//   - any other error is one line on stderr, "PROG: error: MESSAGE", plus a
//     "PROG: fix: ..." line when the error carries a fix ([Fixer]);
//   - with --output json, standard output is always one JSON document, an
//     error included ([ErrorDocument]), and every document carries "schema";
//   - control characters in error text are escaped (internal/textsafe).
//
// Commands return errors; [Execute] prints them and maps them to exit
// codes. [UsageError] is exit 2, [ExitError] an exit code for a result the
// command has already printed, and an error with an ExitCode method chooses
// its own.
package cli
